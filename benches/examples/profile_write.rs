//! Write-behind runs of many independent tasks (or a chain), a few times,
//! for `valgrind --tool=callgrind` with every thread counted: the
//! scheduler's side and the SQLite store's writer thread. Instruction
//! counts repeat from run to run where wall-clock times on a shared
//! machine do not; the commits a run takes are counted and printed.
//!
//! ```sh
//! cargo build --release -p weft-benches --example profile_write
//! for n in 1 4; do valgrind --tool=callgrind --callgrind-out-file=/tmp/pw-$n.cg \
//!     target/release/examples/profile_write sqlite 10000 $n; done
//! target/release/examples/profile_write sqlite 100 10 chain   # commits of a short run
//! ```
//!
//! Arguments: store (`sqlite`, a write-behind SQLite journal in a temporary
//! file, `sqlite-normal`, the same without an fsync a commit, or `memory`,
//! no store), tasks, runs, shape (`independent`, the
//! default, `chain`, or another of `profile_shape`'s), and optionally
//! `JournalConfig::batch_records` (the default if not given). Each run ends when the run has ended and its
//! records are committed (`Executor::flush`), as `durable_independent_10k`
//! and `durable_chain_100` in `benches/durable.rs`. Without
//! `--toggle-collect` the count includes building the executor and the
//! plan: instructions per task = (total of `runs` = 4 − total of `runs` =
//! 1) / (3 × tasks).

#[path = "../common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{runtime_ct, store_named, text_plan, Args, Shape};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use weft::store::{Appended, Entry, Store, StoreError, Submitted};
use weft::{ActionInput, Executor, JournalConfig};
use weft_test_support::hooked::{AppendHook, Hooked};

/// Counts the commits it passes on: the writer's (appends) and a flush's,
/// which the store takes with a callback (`submit_parts`), as
/// `benches/durable.rs` has the SQLite store take them.
#[derive(Default)]
struct Counted {
    commits: AtomicUsize,
}

impl AppendHook for Counted {
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        inner.append(entries)
    }
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        inner.append_owned(entries)
    }
    fn append_parts<'a>(
        &'a self,
        inner: &'a dyn Store,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        inner.append_parts(parts)
    }
    fn submit_parts(
        &self,
        inner: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        let taken = inner.submit_parts(parts, done);
        // Not taken (the memory store): the writer commits them, counted
        // there.
        if taken.is_ok() {
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let store = args.text(0, "sqlite");
    let size: u32 = args.parse(1, 10_000)?;
    let runs: u32 = args.parse(2, 2)?;
    let shape = Shape::by_name(args.text(3, "independent"), size)?;
    let batch: Option<usize> = args.parse_opt(4)?;
    let dir = tempfile::tempdir()?;
    let mut builder =
        Executor::builder().action("bench.noop", |_: ActionInput| async { Ok(Value::Null) });
    if let Some(n) = batch {
        builder = builder.journal_config(JournalConfig::new().batch_records(n));
    }
    let counted = store_named(store, &dir.path().join("wb.db"))?
        .map(|sqlite| Arc::new(Hooked::new(sqlite, Counted::default())));
    if let Some(counted) = &counted {
        builder = builder.store(counted.clone());
    }
    let executor = builder.build();
    let plan = text_plan(&shape, &executor)?;
    let rt = runtime_ct();
    for _ in 0..runs {
        rt.block_on(async {
            let out = executor.start(&plan, json!({}))?.await?;
            assert!(out.succeeded(), "{:?}", out.errors);
            executor.flush().await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        })?;
    }
    print!("{store}: {runs} runs of {size} tasks ({})", shape.name);
    match counted {
        Some(c) => println!(", {} commits", c.hook.commits.load(Ordering::Relaxed)),
        None => println!(),
    }
    Ok(())
}
