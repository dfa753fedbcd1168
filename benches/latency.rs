//! How fast a completion unblocks its dependent: event-driven weft and the
//! floor against a polling scheduler like the seed's.
//!
//! `cargo bench --bench latency`
//!
//! * `unblock_latency`: a 1000-task chain of no-ops, so the time per element
//!   is the time per hop (completion → dependent started → completed).
//!   `weft_*` and `floor_*` as in `benches/peers.rs` (plan compiled once).
//! * `polling_baseline`: a 10-task chain run by a minimal polling scheduler
//!   (the design the seed's engine had): a loop that scans every task for
//!   ones whose dependencies are done, spawns them, then sleeps one tick.
//!   `poll_1ms` and `poll_100ms` tick at 1 ms and 100 ms; current_thread.

#[path = "common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use serde_json::Value;

use common::{noop_executor, runtime_ct, runtime_mt, weft_plan, weft_run, Floor, Shape};

const CHAIN: usize = 1000;
const POLL_CHAIN: usize = 10;

fn unblock_latency(c: &mut Criterion) {
    let shape = Shape::chain("chain_1000", CHAIN);
    let executor = noop_executor();
    let plan = weft_plan(&shape, &executor);
    let floor = Floor::new(&shape);
    let mut group = c.benchmark_group("unblock_latency");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(CHAIN as u64));
    for (flavour, rt) in [("ct", runtime_ct()), ("mt", runtime_mt())] {
        group.bench_function(format!("weft_{flavour}"), |b| {
            b.iter(|| rt.block_on(weft_run(&executor, &plan, Value::Null)))
        });
        group.bench_function(format!("floor_{flavour}"), |b| {
            b.iter(|| rt.block_on(floor.run()))
        });
    }
    group.finish();
}

/// A minimal, honest polling scheduler: scan, spawn what is ready, sleep a
/// tick, repeat until everything is done. Tasks report by setting a flag.
async fn poll_run(shape: &Shape, tick: Duration) {
    let n = shape.len();
    let done: Arc<Vec<AtomicBool>> = Arc::new((0..n).map(|_| AtomicBool::new(false)).collect());
    let mut started = vec![false; n];
    loop {
        let mut all_done = true;
        for i in 0..n {
            if !started[i]
                && shape.parents[i]
                    .iter()
                    .all(|&p| done[p as usize].load(Ordering::Acquire))
            {
                started[i] = true;
                let done = done.clone();
                tokio::spawn(async move {
                    std::hint::black_box(i);
                    done[i].store(true, Ordering::Release);
                });
            }
            all_done &= done[i].load(Ordering::Acquire);
        }
        if all_done {
            return;
        }
        tokio::time::sleep(tick).await;
    }
}

fn polling_baseline(c: &mut Criterion) {
    let shape = Shape::chain("chain_10", POLL_CHAIN);
    let rt = runtime_ct();
    let mut group = c.benchmark_group("polling_baseline");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .throughput(Throughput::Elements(POLL_CHAIN as u64));
    for (name, tick, budget) in [
        ("poll_1ms", Duration::from_millis(1), Duration::from_secs(3)),
        (
            "poll_100ms",
            Duration::from_millis(100),
            Duration::from_secs(12),
        ),
    ] {
        group.measurement_time(budget);
        group.bench_function(name, |b| b.iter(|| rt.block_on(poll_run(&shape, tick))));
    }
    group.finish();
}

criterion_group!(benches, unblock_latency, polling_baseline);
criterion_main!(benches);
