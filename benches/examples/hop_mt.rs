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
//! runtime metrics (`worker_park_count`, `worker_park_unpark_count`).

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{noop_executor, runtime_mt, weft_plan, weft_run, Floor, Shape};
use serde_json::Value;

const WARM_UP: u32 = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let engine = args.first().map_or("weft", String::as_str);
    let shape_name = args.get(1).map_or("chain", String::as_str);
    let size: u32 = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let runs: u32 = args.get(3).map_or(Ok(20_000), |s| s.parse())?;
    let shape = Shape::by_name(shape_name, size)?;
    let rt = runtime_mt();
    let mut times = Vec::with_capacity(runs as usize);
    let parks = |rt: &tokio::runtime::Runtime| {
        let m = rt.metrics();
        (0..m.num_workers())
            .map(|w| (m.worker_park_count(w), m.worker_park_unpark_count(w)))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
    };
    let mut before = (0, 0);
    match engine {
        "weft" => {
            let executor = noop_executor();
            let plan = weft_plan(&shape, &executor);
            for i in 0..WARM_UP + runs {
                if i == WARM_UP {
                    before = parks(&rt);
                }
                let t = Instant::now();
                rt.block_on(weft_run(&executor, &plan, Value::Null));
                if i >= WARM_UP {
                    times.push(t.elapsed());
                }
            }
        }
        "floor" => {
            let floor = Floor::new(&shape);
            for i in 0..WARM_UP + runs {
                if i == WARM_UP {
                    before = parks(&rt);
                }
                let t = Instant::now();
                rt.block_on(floor.run());
                if i >= WARM_UP {
                    times.push(t.elapsed());
                }
            }
        }
        other => return Err(format!("unknown engine `{other}`: weft or floor").into()),
    }
    let after = parks(&rt);
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let per_run = |n: u64| n as f64 / f64::from(runs);
    println!(
        "{engine} {shape_name} ({} tasks), {runs} runs on multi_thread (2 workers): \
         median {:.1} µs, quartiles {:.1}–{:.1} µs, p90 {:.1} µs, p99 {:.1} µs, mean {:.1} µs; \
         per run: {:.2} worker parks, {:.2} park/unpark transitions",
        shape.len(),
        us(at(0.5)),
        us(at(0.25)),
        us(at(0.75)),
        us(at(0.9)),
        us(at(0.99)),
        us(times.iter().sum::<Duration>()) / times.len() as f64,
        per_run(after.0 - before.0),
        per_run(after.1 - before.1),
    );
    Ok(())
}
