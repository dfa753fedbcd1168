//! Reading a journal back, a few times, for `valgrind --tool=callgrind`:
//! `Store::load` of a SQLite journal (read, check, decode) or
//! `Executor::inspect` of it (load and replay through the scheduler), on a
//! current_thread runtime. Instruction counts repeat exactly from run to
//! run where wall-clock times on a shared machine do not.
//!
//! ```sh
//! cargo build --release -p weft-benches --example profile_recover
//! valgrind --tool=callgrind --toggle-collect='profile_recover::measured*' \
//!     target/release/examples/profile_recover replay 10000 3
//! ```
//!
//! Arguments: what (`load` or `replay`), items (the journal of one
//! with-items task over that many items holds items + 2 records), runs.
//! `--toggle-collect` counts only the measured runs, not the run that
//! writes the journal. Instructions per record = total / ((items + 2) ×
//! runs).

#[path = "../common/mod.rs"]
mod common;

use weft::store::Store;
use weft::{Executor, RunId};
use weft_store_sqlite::SqliteStore;

/// The measured part: `runs` loads or replays of run `id`.
#[inline(never)]
fn measured(
    rt: &tokio::runtime::Runtime,
    executor: &Executor,
    store: &SqliteStore,
    id: RunId,
    replay: bool,
    runs: u32,
) -> usize {
    let mut seen = 0;
    for _ in 0..runs {
        seen += if replay {
            let out = rt.block_on(executor.inspect(id)).expect("inspect");
            out.tasks[0].items.unwrap_or(0)
        } else {
            rt.block_on(store.load(id)).expect("load").len()
        };
    }
    seen
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map_or("replay", String::as_str);
    let items: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let runs: u32 = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let replay = match what {
        "replay" => true,
        "load" => false,
        other => return Err(format!("`{other}`: expected `load` or `replay`").into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let (executor, store, id) =
        common::journaled_with_items(&rt, &dir.path().join("recover.db"), items)?;
    let seen = measured(&rt, &executor, &store, id, replay, runs);
    println!("{what}: {seen} over {runs} runs");
    Ok(())
}
