//! Many runs at once: 64 runs of one shape started together on a
//! multi_thread runtime with 2 workers, every task a no-op, as a service
//! starting runs from requests has them.
//!
//! `cargo bench --bench crowd` (filter with e.g. `-- crowd_diamond`).
//!
//! One group per shape (`crowd_diamond`, `crowd_chain_10`,
//! `crowd_fanout_100`). One iteration is one `block_on` that starts the 64
//! runs, then awaits them all (`futures::future::join_all`); the runtime,
//! the executors and the plans are built once, outside the measured loop.
//! `Throughput::Elements` counts the tasks of the 64 runs.
//!
//! * `weft`: the default executor (`common::noop_executor`), the plan built
//!   with `WorkflowBuilder` and compiled once, 64 × `Executor::start`, then
//!   the 64 `Run`s awaited;
//! * `weft_spawn_every_attempt`: the same with an executor built with
//!   `ExecutorBuilder::spawn_every_attempt` (every attempt a tokio task of
//!   its own, none polled by its run's task);
//! * `floor`: 64 runs of the hand-written minimal executor of
//!   `benches/peers.rs` (`common::Floor`: a driver task per run, a tokio
//!   task per ready task, completions on a flume channel);
//! * in `crowd_diamond` and `crowd_chain_10` also
//!   `weft_sqlite_write_behind`: the same 64 runs on an executor with a
//!   SQLite store (a file in a temporary directory, `synchronous=FULL`,
//!   write-behind durability, the plan loaded from the workflow's text as
//!   a durable run needs), then one `Executor::flush` once all have ended:
//!   the iteration ends when every record is committed;
//! * and `weft_sqlite_write_behind_flush_each`: the same, each run calling
//!   `Executor::flush` as soon as it has ended (64 flushes waiting at
//!   once), as a request handler that answers only once its run is durable
//!   does.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use serde_json::Value;
use tokio::runtime::Runtime;
use weft::{ActionInput, Executor};

use common::{crowd, noop_executor, runtime_mt, weft_plan, Floor, Shape, CROWD_RUNS as RUNS};

/// `RUNS` floor runs at once.
async fn floor_crowd(floor: &Arc<Floor>) {
    join_all((0..RUNS).map(|_| floor.run())).await;
}

fn durable_executor(dir: &tempfile::TempDir, name: &str) -> Executor {
    let store = weft_store_sqlite::SqliteStore::open(dir.path().join(name)).expect("sqlite store");
    Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .store(Arc::new(store))
        .build()
}

fn crowds(c: &mut Criterion) {
    let rt: Runtime = runtime_mt();
    let dir = tempfile::tempdir().expect("temporary directory");
    for shape in [
        Shape::diamond(),
        Shape::chain("chain_10", 10),
        Shape::fanout("fanout_100", 100),
    ] {
        let mut group = c.benchmark_group(format!("crowd_{}", shape.name));
        group
            .throughput(Throughput::Elements((RUNS * shape.len()) as u64))
            .sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));

        let default = noop_executor();
        let spawning = Executor::builder()
            .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
            .spawn_every_attempt()
            .build();
        for (name, ex) in [("weft", &default), ("weft_spawn_every_attempt", &spawning)] {
            let plan = weft_plan(&shape, ex);
            group.bench_function(name, |b| b.iter(|| rt.block_on(crowd(ex, &plan, false))));
        }

        let floor = Floor::new(&shape);
        group.bench_function("floor", |b| b.iter(|| rt.block_on(floor_crowd(&floor))));

        if shape.len() <= 10 {
            let durable = durable_executor(&dir, &format!("{}.db", shape.name));
            let plan = common::text_plan(&shape, &durable).expect("benchmark workflow compiles");
            group.bench_function("weft_sqlite_write_behind", |b| {
                b.iter(|| {
                    rt.block_on(async {
                        crowd(&durable, &plan, false).await;
                        durable.flush().await.expect("journal committed");
                    })
                })
            });
            group.bench_function("weft_sqlite_write_behind_flush_each", |b| {
                b.iter(|| rt.block_on(crowd(&durable, &plan, true)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, crowds);
criterion_main!(benches);
