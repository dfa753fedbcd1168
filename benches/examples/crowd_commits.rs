//! The commits an iteration of `benches/crowd.rs`'s SQLite functions
//! makes: 64 runs of one shape started together on a multi_thread runtime
//! with 2 workers, write-behind on a SQLite file, then either one
//! `Executor::flush` once all have ended (`weft_sqlite_write_behind`) or a
//! flush by each run as soon as it has ended
//! (`weft_sqlite_write_behind_flush_each`). The store is wrapped in a hook
//! that counts the commits it passes on: the journal writer's
//! (`append_owned`, `append_parts`) and a flush's own, which the SQLite
//! store takes with a callback (`submit_parts`, passed on to it). Counts,
//! which vary far less than the times of a commit on a shared disk; the
//! bench itself is left without the hook.
//!
//! ```sh
//! cargo build --release -p weft-benches --example crowd_commits
//! target/release/examples/crowd_commits sqlite 200
//! ```
//!
//! Arguments: store (`sqlite`, or `sqlite-normal`: the same without an
//! `fsync` a commit, so that a commit takes less time than the runs), and
//! iterations counted (after a tenth as many more as a warm-up). For
//! `diamond` and `chain_10` (the shapes the bench runs on SQLite), the two
//! ways run one after the other on one executor and file, as the bench's
//! two functions do; each prints the commits an iteration (median, mean,
//! least and most; the writer's and the flushes' apart), the records a
//! commit, and the median time of an iteration (with the hook).

#[path = "../common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{crowd, runtime_mt, store_named, text_plan, Args, Shape, CROWD_RUNS as RUNS};
use futures::future::BoxFuture;
use serde_json::Value;
use weft::store::{Appended, Entry, Store, StoreError, Submitted};
use weft::{ActionInput, Executor, Plan};
use weft_test_support::hooked::{AppendHook, Hooked};

/// Counts the commits it passes on, and their records.
#[derive(Default)]
struct Counted {
    /// Commits of the journal writer (`append_owned`, `append_parts`).
    writer: AtomicUsize,
    /// Commits a flush handed to the store with a callback.
    flush: AtomicUsize,
    /// Records in all of them.
    records: AtomicUsize,
}

impl Counted {
    fn note(&self, on: &AtomicUsize, records: usize) {
        on.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
    }

    /// (writer's commits, flushes' commits, records) since the last take.
    fn take(&self) -> (usize, usize, usize) {
        (
            self.writer.swap(0, Ordering::Relaxed),
            self.flush.swap(0, Ordering::Relaxed),
            self.records.swap(0, Ordering::Relaxed),
        )
    }
}

impl AppendHook for Counted {
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        self.note(&self.writer, entries.len());
        inner.append(entries)
    }
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.note(&self.writer, entries.len());
        inner.append_owned(entries)
    }
    fn append_parts<'a>(
        &'a self,
        inner: &'a dyn Store,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.note(&self.writer, parts.iter().map(Vec::len).sum());
        inner.append_parts(parts)
    }
    fn submit_parts(
        &self,
        inner: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        let records = parts.iter().map(Vec::len).sum();
        let taken = inner.submit_parts(parts, done);
        // Not taken: the writer commits them, counted there.
        if taken.is_ok() {
            self.note(&self.flush, records);
        }
        taken
    }
}

/// `benches/crowd.rs`'s iteration: with `flush_each`, each run flushes as
/// soon as it has ended, else one flush once all have.
async fn iteration(executor: &Executor, plan: &Plan, flush_each: bool) {
    crowd(executor, plan, flush_each).await;
    if !flush_each {
        executor.flush().await.expect("journal committed");
    }
}

fn median<T: Ord + Copy + Default>(v: &mut [T]) -> T {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let store = args.text(0, "sqlite");
    let iterations: usize = args.parse(1, 200)?;
    if iterations == 0 {
        return Err("at least one iteration".into());
    }
    let rt = runtime_mt();
    let dir = tempfile::tempdir()?;
    for shape in [Shape::diamond(), Shape::chain("chain_10", 10)] {
        let Some(sqlite) = store_named(store, &dir.path().join(format!("{}.db", shape.name)))?
        else {
            return Err("a SQLite store: `sqlite` or `sqlite-normal`".into());
        };
        let counted = Arc::new(Hooked::new(sqlite, Counted::default()));
        let executor = Executor::builder()
            .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
            .store(counted.clone())
            .build();
        let plan = text_plan(&shape, &executor)?;
        for (name, flush_each) in [("one flush", false), ("flush each", true)] {
            let (mut commits, mut writer, mut flushes) = (Vec::new(), Vec::new(), Vec::new());
            let (mut records, mut times) = (0usize, Vec::<Duration>::new());
            for i in 0..iterations + iterations / 10 {
                counted.hook.take();
                let t0 = Instant::now();
                rt.block_on(iteration(&executor, &plan, flush_each));
                let took = t0.elapsed();
                let (w, f, r) = counted.hook.take();
                if i >= iterations / 10 {
                    commits.push(w + f);
                    writer.push(w);
                    flushes.push(f);
                    records += r;
                    times.push(took);
                }
            }
            let all: usize = commits.iter().sum();
            let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
            println!(
                "{store} {} ({} tasks a run, {RUNS} runs), {name}: commits an iteration: \
                 median {}, mean {:.2}, {}–{} (the writer's: median {}, mean {:.2}; \
                 flushes': median {}, mean {:.2}); {:.1} records a commit, {:.0} an \
                 iteration; median iteration {:?}",
                shape.name,
                shape.len(),
                median(&mut commits.clone()),
                mean(&commits),
                commits.iter().min().copied().unwrap_or_default(),
                commits.iter().max().copied().unwrap_or_default(),
                median(&mut writer.clone()),
                mean(&writer),
                median(&mut flushes.clone()),
                mean(&flushes),
                records as f64 / all.max(1) as f64,
                records as f64 / iterations as f64,
                median(&mut times),
            );
        }
    }
    Ok(())
}
