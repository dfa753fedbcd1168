//! Where the time of a short write-behind run's commit goes: timestamps of
//! each run's phases (start, end, flush sent, records handed to the store,
//! the store's answer, the flush's answer) and of each floor commit's, as
//! `benches/durable.rs` makes them (`durable_chain_100/sqlite_write_behind`
//! and `sqlite_commit_floor`, on the same 2-worker multi_thread runtime),
//! written to a file for `scripts/commit_phases.py`, which puts them beside
//! the SQLite writer thread's file calls (`scripts/io_stamps.c`, loaded
//! with `LD_PRELOAD`: when its transaction took its locks, wrote the log,
//! synced it).
//!
//! ```sh
//! cargo build --release -p weft-benches --example commit_phases
//! gcc -O2 -shared -fPIC -o /tmp/io_stamps.so scripts/io_stamps.c -ldl
//! IO_STAMPS=/tmp/io.txt LD_PRELOAD=/tmp/io_stamps.so \
//!     target/release/examples/commit_phases 10 100 /tmp/phases.txt
//! python3 scripts/commit_phases.py /tmp/phases.txt /tmp/io.txt
//! ```
//!
//! Arguments: rounds, and runs (or floor commits) a round: each round
//! times that many chains of 100 in memory (no store) back to back, as
//! many write-behind chains, then as many floor commits (one record appended to a stored run) back to back, on
//! two files as the bench's; then the file to write. 300 runs and as many
//! floor commits are made first, untimed, so that the b-trees have a level
//! below their roots and the log has been checkpointed once.
//!
//! With `COMMIT_PHASES_DROP=name,...` the runs' file is made, then the
//! indexes named are dropped (as `commit_pages`'s `COMMIT_PAGES_DROP`):
//! what a run's commit costs when it writes no page of them.
//!
//! Each line of the output: `memory`, `run` or `floor`, then nanoseconds
//! since the Unix epoch (the system's real-time clock, as the shim's):
//! `memory t0 ended`, `run t0 ended flush_sent handed stored answered`
//! (`handed`/`stored`: the store was handed the commit, by the journal
//! writer task or by the flush, and answered: its future heard it, or its
//! callback was called), or `floor t0 handed stored answered`.

#[path = "../common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use common::{runtime_mt, text_plan, Args, Shape};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use weft::store::{Appended, Command, Entry, Record, Store, StoreError, Submitted};
use weft::{ActionInput, Executor, RunId};
use weft_store_sqlite::SqliteStore;
use weft_test_support::hooked::{AppendHook, Hooked};

/// Nanoseconds since the Unix epoch.
fn now() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Notes when each append is called and when its store answers.
#[derive(Default)]
struct Stamped {
    appends: Arc<Mutex<Vec<(u128, u128)>>>,
}

/// Notes an append called at `called` and answered now.
fn note(appends: &Mutex<Vec<(u128, u128)>>, called: u128) {
    let done = now();
    appends
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((called, done));
}

impl Stamped {
    fn note(&self, called: u128) {
        note(&self.appends, called);
    }

    fn take(&self) -> Vec<(u128, u128)> {
        std::mem::take(&mut *self.appends.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Stamps the journal's commits (one batch, `append_owned`, goes as one
/// part, as the SQLite store takes it, so both are timed in one place; a
/// commit a flush hands to the store with a callback, `submit_parts`, is
/// answered when the callback is called, on the store's thread) and the
/// floor's (`append` of one record).
impl AppendHook for Stamped {
    /// The floor's commits: one record appended as the bench's floor does.
    fn append<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: &'a [Entry],
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        Box::pin(async move {
            let called = now();
            let out = inner.append(entries).await;
            self.note(called);
            out
        })
    }
    fn append_owned<'a>(
        &'a self,
        inner: &'a dyn Store,
        entries: Vec<Entry>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.append_parts(inner, vec![entries])
    }
    fn append_parts<'a>(
        &'a self,
        inner: &'a dyn Store,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'a, Result<Appended, (StoreError, Vec<Entry>)>> {
        Box::pin(async move {
            let called = now();
            let out = inner.append_parts(parts).await;
            self.note(called);
            out
        })
    }
    fn submit_parts(
        &self,
        inner: &dyn Store,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        let called = now();
        let appends = self.appends.clone();
        inner.submit_parts(
            parts,
            Box::new(move |result| {
                note(&appends, called);
                done(result);
            }),
        )
    }
}

fn stamped(path: &std::path::Path) -> Result<Arc<Hooked<Stamped>>, StoreError> {
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(path)?);
    Ok(Arc::new(Hooked::new(sqlite, Stamped::default())))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::from_env();
    let rounds: u32 = args.parse(0, 10)?;
    let each: u32 = args.parse(1, 100)?;
    let out_path = args.text(2, "commit_phases.txt").to_owned();
    let warm = 300;
    let dir = tempfile::tempdir()?;
    let rt = runtime_mt();

    let runs_file = dir.path().join("chain_100-wb.db");
    if let Ok(list) = std::env::var("COMMIT_PHASES_DROP") {
        // The file made, then the indexes named dropped: what a commit
        // that writes none of them would cost.
        drop(SqliteStore::open(&runs_file)?);
        let conn = rusqlite::Connection::open(&runs_file)?;
        for index in list.split(',').filter(|s| !s.is_empty()) {
            conn.execute_batch(&format!("DROP INDEX {index}"))?;
        }
    }
    let runs_store = stamped(&runs_file)?;
    let ex = Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .store(runs_store.clone())
        .build();
    let plan = text_plan(&Shape::chain("chain_100", 100), &ex)?;
    let memory = Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .build();
    let memory_plan = text_plan(&Shape::chain("chain_100", 100), &memory)?;
    let memory_run = || {
        rt.block_on(async {
            let t0 = now();
            let out = memory.start(&memory_plan, json!({}))?.await?;
            assert!(out.succeeded(), "{:?}", out.errors);
            Ok::<_, Box<dyn std::error::Error>>([t0, now()])
        })
    };
    let floor_store = stamped(&dir.path().join("floor.db"))?;
    let run = RunId::new();
    let mut seq = 0u64;
    let mut floor_commit = || {
        let record = if seq == 0 {
            common::floor_start()
        } else {
            Record::Command {
                step: seq,
                command: Command::Resume,
            }
        };
        let e = [Entry { run, seq, record }];
        seq += 1;
        let t0 = now();
        rt.block_on(floor_store.append(&e))?;
        Ok::<_, StoreError>((t0, now()))
    };
    let one_run = || {
        rt.block_on(async {
            let t0 = now();
            let out = ex.start(&plan, json!({}))?.await?;
            let ended = now();
            assert!(out.succeeded(), "{:?}", out.errors);
            let flush_sent = now();
            ex.flush().await?;
            Ok::<_, Box<dyn std::error::Error>>([t0, ended, flush_sent, now()])
        })
    };
    for _ in 0..warm {
        memory_run()?;
        one_run()?;
        floor_commit()?;
    }
    runs_store.hook.take();
    floor_store.hook.take();

    let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path)?);
    for _ in 0..rounds {
        let mut memory_runs = Vec::new();
        for _ in 0..each {
            memory_runs.push(memory_run()?);
        }
        for [t0, ended] in memory_runs {
            writeln!(out, "memory {t0} {ended}")?;
        }
        let mut runs = Vec::new();
        for _ in 0..each {
            runs.push(one_run()?);
        }
        // One commit a run, at its flush.
        let appends = runs_store.hook.take();
        if appends.len() != runs.len() {
            return Err(format!("{} commits for {} runs", appends.len(), runs.len()).into());
        }
        for ([t0, ended, sent, answered], (handed, stored)) in runs.iter().zip(&appends) {
            writeln!(out, "run {t0} {ended} {sent} {handed} {stored} {answered}")?;
        }
        let mut floors = Vec::new();
        for _ in 0..each {
            floors.push(floor_commit()?);
        }
        for ((t0, answered), (handed, stored)) in floors.iter().zip(&floor_store.hook.take()) {
            writeln!(out, "floor {t0} {handed} {stored} {answered}")?;
        }
    }
    out.flush()?;
    println!("{rounds} rounds of {each} runs of each kind and {each} floor commits: {out_path}");
    Ok(())
}
