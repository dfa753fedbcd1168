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
//! Arguments: store (`sqlite`, `sqlite-normal`: the same without an fsync
//! a commit, or `memory`), shape (`independent`,
//! `chain`, or another of `profile_shape`'s), tasks, runs, and optionally `JournalConfig::batch_records`
//! (the default if not given). The first tenth of the runs is a warm-up,
//! not counted.
//!
//! With a store it also prints what the tail is made of, which varies far
//! less than its time on a shared machine: the medians of the commits
//! that ended after the run's handle resolved, and of the records they
//! held (the records encoded, inserted and synced after the run's last
//! action).

#[path = "../common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{runtime_mt, store_named, text_plan, Args, Shape};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use weft::store::{Appended, Entry, Store, StoreError, Submitted};
use weft::{ActionInput, Executor, JournalConfig};
use weft_test_support::hooked::{AppendHook, Hooked};

/// Notes when each commit ended, and how many records it held: the
/// writer's (`append_owned`, `append_parts`) and a flush's, which the
/// store takes with a callback (`submit_parts`, passed on as
/// `benches/durable.rs` has the SQLite store take it: ended when the
/// callback is called, on the store's thread).
#[derive(Default)]
struct Commits {
    ended: Arc<Mutex<Vec<(Instant, usize)>>>,
}

impl AppendHook for Commits {
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        let n = entries.len();
        Box::pin(async move {
            let out = inner.append_owned(entries).await;
            let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
            ended.push((Instant::now(), n));
            out
        })
    }
    fn append_parts<'a>(
        &'a self,
        inner: &'a dyn Store,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        let n = parts.iter().map(Vec::len).sum();
        Box::pin(async move {
            let out = inner.append_parts(parts).await;
            let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
            ended.push((Instant::now(), n));
            out
        })
    }
    fn submit_parts(
        &self,
        inner: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        let n = parts.iter().map(Vec::len).sum();
        let ended = self.ended.clone();
        inner.submit_parts(
            parts,
            Box::new(move |result| {
                ended
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((Instant::now(), n));
                done(result);
            }),
        )
    }
}

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
    let sqlite = store_named(store, &dir.path().join("t.db"))?;
    let commits = sqlite.map(|sqlite| Arc::new(Hooked::new(sqlite, Commits::default())));
    if let Some(commits) = &commits {
        builder = builder.store(commits.clone());
    }
    let executor = builder.build();
    let plan = text_plan(&shape, &executor)?;
    let rt = runtime_mt();
    let warm = runs / 10;
    let (mut ended, mut flushed, mut tail) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tail_commits, mut tail_records) = (Vec::new(), Vec::new());
    for i in 0..runs + warm {
        let (e, f, at_end) = rt.block_on(async {
            let t0 = Instant::now();
            let out = executor.start(&plan, json!({}))?.await?;
            let at_end = Instant::now();
            let e = at_end - t0;
            assert!(out.succeeded(), "{:?}", out.errors);
            executor.flush().await?;
            Ok::<_, Box<dyn std::error::Error>>((e, t0.elapsed(), at_end))
        })?;
        if let Some(c) = &commits {
            let mut all = c.hook.ended.lock().unwrap_or_else(|e| e.into_inner());
            if std::env::var_os("DURABLE_TAIL_TRACE").is_some() {
                let t0 = at_end - e;
                let trace: Vec<String> = all
                    .iter()
                    .map(|(at, n)| format!("{:?}:{n}", at.saturating_duration_since(t0)))
                    .collect();
                eprintln!(
                    "run {i}: ended {e:?}, flushed {f:?}, commits {}",
                    trace.join(" ")
                );
            }
            let after: Vec<usize> = all
                .iter()
                .filter(|(at, _)| *at > at_end)
                .map(|(_, n)| *n)
                .collect();
            all.clear();
            if i >= warm {
                tail_commits.push(after.len());
                tail_records.push(after.iter().sum::<usize>());
            }
        }
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
    if commits.is_some() {
        let mid = |v: &mut Vec<usize>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or_default()
        };
        println!(
            "  the tail: medians: {} commits ended after the run, of {} records",
            mid(&mut tail_commits),
            mid(&mut tail_records)
        );
    }
    Ok(())
}
