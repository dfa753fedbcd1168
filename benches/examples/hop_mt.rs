//! One benchmark shape, run many times on a multi_thread runtime (2
//! workers, as in `benches/peers.rs`) by weft or by the `floor` executor:
//! how long a run takes (median, quartiles, 90th and 99th percentiles and
//! the mean over the runs, each run timed on its own: criterion's figure
//! is a mean over batches of runs, so a heavy tail shows in it and not in
//! the median) and how often the runtime's workers parked, which is how
//! often one of them was woken again (a system call on the thread that
//! woke it, and usually a task moved from one worker to the other).
//!
//! ```sh
//! cargo build --release -p weft-benches --example hop_mt
//! target/release/examples/hop_mt weft chain 100 20000
//! target/release/examples/hop_mt floor chain 100 20000
//! perf stat -e task-clock,context-switches,cpu-migrations \
//!     target/release/examples/hop_mt weft chain 100 20000
//! ```
//!
//! Arguments: engine (`weft` or `floor`), shape (as `profile_shape`), size,
//! runs (after 200 runs not counted). Park counts come from tokio's stable
//! runtime metrics (`worker_park_count`), read just before each run and
//! just after it returns (a park at a run's very end may fall in the next
//! run's count); they are given for all runs, the fastest half and the
//! slowest 1 %, to tell whether the tail is the runs whose tasks moved
//! between the workers.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{noop_executor, runtime_mt, weft_plan, weft_run, Args, Floor, Shape};
use serde_json::Value;

const WARM_UP: u32 = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let engine = args.text(0, "weft");
    let shape_name = args.text(1, "chain");
    let size: u32 = args.parse(2, 100)?;
    let runs: u32 = args.parse(3, 20_000)?;
    let shape = Shape::by_name(shape_name, size)?;
    let rt = runtime_mt();
    let runs_of = |run: &mut dyn FnMut()| time_runs(&rt, runs, run);
    let mut samples = match engine {
        "weft" => {
            let executor = noop_executor();
            let plan = weft_plan(&shape, &executor);
            runs_of(&mut || rt.block_on(weft_run(&executor, &plan, Value::Null)))
        }
        "floor" => {
            let floor = Floor::new(&shape);
            runs_of(&mut || rt.block_on(floor.run()))
        }
        other => return Err(format!("unknown engine `{other}`: weft or floor").into()),
    };
    samples.sort_unstable_by_key(|s| s.time);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].time;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let n = samples.len();
    // Parks a run, over a slice of the runs sorted by time.
    let parks_in = |part: &[Sample]| {
        let sum: u64 = part.iter().map(|s| s.parks).sum();
        sum as f64 / part.len().max(1) as f64
    };
    let slowest = &samples[n - n.div_ceil(100)..];
    let mean = samples.iter().map(|s| s.time).sum::<Duration>() / n as u32;
    println!(
        "{engine} {shape_name} ({} tasks), {runs} runs on multi_thread (2 workers): \
         median {:.1} µs, quartiles {:.1}–{:.1} µs, p90 {:.1} µs, p99 {:.1} µs, mean {:.1} µs; \
         worker parks a run: {:.2} (the fastest half {:.2}, the slowest 1 % {:.2})",
        shape.len(),
        us(at(0.5)),
        us(at(0.25)),
        us(at(0.75)),
        us(at(0.9)),
        us(at(0.99)),
        us(mean),
        parks_in(&samples),
        parks_in(&samples[..n / 2]),
        parks_in(slowest),
    );
    Ok(())
}

/// One timed run: how long it took and how many times the runtime's
/// workers parked during it.
struct Sample {
    time: Duration,
    parks: u64,
}

/// Times `runs` calls of `run` after `WARM_UP` uncounted ones, each with
/// the workers' park count (tokio's stable `worker_park_count`) read
/// before and after it.
fn time_runs(rt: &tokio::runtime::Runtime, runs: u32, run: &mut dyn FnMut()) -> Vec<Sample> {
    let parks = || {
        let m = rt.metrics();
        (0..m.num_workers())
            .map(|w| m.worker_park_count(w))
            .sum::<u64>()
    };
    for _ in 0..WARM_UP {
        run();
    }
    (0..runs)
        .map(|_| {
            let before = parks();
            let t = Instant::now();
            run();
            let time = t.elapsed();
            Sample {
                time,
                parks: parks() - before,
            }
        })
        .collect()
}
