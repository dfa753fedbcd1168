//! Where a write-behind run's end-to-end time goes: for each of many runs
//! (as `benches/durable.rs` makes them: a multi_thread runtime with 2
//! workers, a SQLite file in a temporary directory), the time from `start`
//! until the run's handle resolves (its last action handled) and until
//! `Executor::flush` returns (its records committed): their medians, and
//! the means of the latter two (which show what only some runs pay, such
//! as a commit that checkpoints SQLite's log).
//!
//! ```sh
//! cargo build --release -p weft-benches --example durable_tail
//! target/release/examples/durable_tail sqlite independent 10000 50
//! target/release/examples/durable_tail sqlite chain 100 2000
//! target/release/examples/durable_tail memory chain 100 2000
//! ```
//!
//! Arguments: store (`sqlite` or `memory`), shape (`independent`,
//! `chain`, or another of `profile_shape`'s), tasks, runs, and optionally `JournalConfig::batch_records`
//! (the default if not given). The first tenth of the runs is a warm-up,
//! not counted.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{runtime_mt, store_named, text_plan, Args, Shape};
use serde_json::{json, Value};
use weft::{ActionInput, Executor, JournalConfig};

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let store = args.text(0, "sqlite");
    let size: u32 = args.parse(2, 10_000)?;
    let runs: usize = args.parse(3, 50)?;
    let batch: Option<usize> = args.parse_opt(4)?;
    let shape = Shape::by_name(args.text(1, "independent"), size)?;
    let dir = tempfile::tempdir()?;
    let mut builder =
        Executor::builder().action("bench.noop", |_: ActionInput| async { Ok(Value::Null) });
    if let Some(n) = batch {
        builder = builder.journal_config(JournalConfig::new().batch_records(n));
    }
    if let Some(sqlite) = store_named(store, &dir.path().join("t.db"))? {
        builder = builder.store(sqlite);
    }
    let executor = builder.build();
    let plan = text_plan(&shape, &executor)?;
    let rt = runtime_mt();
    let warm = runs / 10;
    let (mut ended, mut flushed, mut tail) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs + warm {
        let (e, f) = rt.block_on(async {
            let t0 = Instant::now();
            let out = executor.start(&plan, json!({}))?.await?;
            let e = t0.elapsed();
            assert!(out.succeeded(), "{:?}", out.errors);
            executor.flush().await?;
            Ok::<_, Box<dyn std::error::Error>>((e, t0.elapsed()))
        })?;
        if i >= warm {
            ended.push(e);
            flushed.push(f);
            tail.push(f - e);
        }
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len().max(1) as u32;
    let (mean_flushed, mean_tail) = (mean(&flushed), mean(&tail));
    println!(
        "{store}: {runs} runs of {size} tasks ({}): medians: ended {:?}, flushed {:?}, \
         tail (flushed - ended) {:?}; means: flushed {mean_flushed:?}, tail {mean_tail:?}",
        shape.name,
        median(&mut ended),
        median(&mut flushed),
        median(&mut tail)
    );
    Ok(())
}
