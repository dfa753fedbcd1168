//! Heap allocations and bytes per task on the engine path: weft and the
//! `floor` executor of `benches/peers.rs`, on the six peers shapes, on a
//! current_thread and a multi_thread (2 workers) runtime.
//!
//! ```sh
//! cargo run --release -p weft-benches --example alloc_per_task [RUNS]
//! ```
//!
//! The process's global allocator is `stats_alloc`'s counting wrapper of
//! the system allocator, so every allocation of every thread is counted
//! (tokio's workers included). Per shape, engine and runtime: the plan is
//! compiled (or the floor's graph prepared) and two runs are done first,
//! uncounted, so that one-off allocations (lazy statics, the runtime's and
//! the executor's first buffers) stay out; then `RUNS` runs (default 20)
//! are counted and the totals divided by runs × tasks. Each run is one
//! `block_on` of one whole run, as in `peers`:
//!
//! * `allocs`: allocations (`alloc` and `alloc_zeroed` calls) per task;
//! * `reallocs`: `realloc` calls per task (a growing `Vec` or map);
//! * `bytes`: bytes requested per task (new blocks, and what reallocations
//!   grew by).
//!
//! Then one more table: replaying a journal, per record. A run of one
//! with-items task over 10,000 items (a journal of 10,002 records) is
//! written to a SQLite file in a temporary directory; `load` is
//! `Store::load` of its journal (read, check, decode), `replay` is
//! `Executor::inspect` (load, then the scheduler re-handles every record),
//! as `recover/*` in `benches/durable.rs` times them; 5 counted after one
//! uncounted, on the multi_thread runtime. The store's threads are counted
//! too.
//!
//! The floor spawns one tokio task per task and sends its completion on a
//! flume channel: its figure is tokio's task cell plus what the channel
//! takes, the least an event-driven executor allocates. `weft − floor` is
//! what weft adds. The counts repeat exactly from run to run on
//! current_thread; on multi_thread they move a little with how the work
//! was stolen. They do not move with the machine's load, unlike times.

#[path = "../common/mod.rs"]
mod common;

use std::alloc::System;

use common::{noop_executor, runtime_ct, runtime_mt, weft_plan, weft_run, Floor, Shape};
use serde_json::Value;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tokio::runtime::Runtime;
use weft::store::Store;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Counted per task.
#[derive(Clone, Copy)]
struct PerTask {
    allocs: f64,
    reallocs: f64,
    bytes: f64,
}

/// Counts `runs` calls of `one` (after two uncounted ones), per task.
fn count(tasks: usize, runs: u32, mut one: impl FnMut()) -> PerTask {
    one();
    one();
    let region = Region::new(GLOBAL);
    for _ in 0..runs {
        one();
    }
    let change = region.change();
    let per = f64::from(runs) * tasks as f64;
    PerTask {
        allocs: change.allocations as f64 / per,
        reallocs: change.reallocations as f64 / per,
        bytes: change.bytes_allocated as f64 / per,
    }
}

fn weft(shape: &Shape, rt: &Runtime, runs: u32) -> PerTask {
    let executor = noop_executor();
    let plan = weft_plan(shape, &executor);
    count(shape.len(), runs, || {
        rt.block_on(weft_run(&executor, &plan, Value::Null))
    })
}

fn floor(shape: &Shape, rt: &Runtime, runs: u32) -> PerTask {
    let floor = Floor::new(shape);
    count(shape.len(), runs, || rt.block_on(floor.run()))
}

/// Allocations per record of loading and of replaying a journal of
/// `items + 2` records (see the module's docs).
fn replay(
    rt: &Runtime,
    items: usize,
) -> Result<(usize, PerTask, PerTask), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (executor, store, id) =
        common::journaled_with_items(rt, &dir.path().join("replay.db"), items)?;
    let records = rt.block_on(store.load(id))?.len();
    let load = count(records, 5, || {
        let journal = rt.block_on(store.load(id)).expect("load");
        assert_eq!(journal.len(), records);
    });
    let replay = count(records, 5, || {
        let seen = rt.block_on(executor.inspect(id)).expect("inspect");
        assert_eq!(seen.tasks[0].items, Some(items));
    });
    Ok((records, load, replay))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: u32 = std::env::args().nth(1).map_or(Ok(20), |s| s.parse())?;
    if runs == 0 {
        return Err("RUNS must be at least 1".into());
    }
    let ct = runtime_ct();
    let mt = runtime_mt();
    println!("heap allocations per task, {runs} runs counted per row (see the example's docs)");
    println!();
    println!(
        "| shape | runtime | weft allocs | weft reallocs | weft bytes \
         | floor allocs | floor reallocs | floor bytes | weft − floor allocs |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for shape in Shape::all() {
        for (flavour, rt) in [("current_thread", &ct), ("multi_thread", &mt)] {
            let w = weft(&shape, rt, runs);
            let f = floor(&shape, rt, runs);
            println!(
                "| {} | {flavour} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} |",
                shape.name,
                w.allocs,
                w.reallocs,
                w.bytes,
                f.allocs,
                f.reallocs,
                f.bytes,
                w.allocs - f.allocs,
            );
        }
    }
    let (records, load, replayed) = replay(&mt, 10_000)?;
    println!();
    println!("replaying a journal of {records} records from SQLite, per record");
    println!();
    println!("| step | allocs | reallocs | bytes |");
    println!("|---|---:|---:|---:|");
    for (step, c) in [("load", load), ("replay (load + scheduler)", replayed)] {
        println!(
            "| {step} | {:.2} | {:.2} | {:.0} |",
            c.allocs, c.reallocs, c.bytes
        );
    }
    Ok(())
}
