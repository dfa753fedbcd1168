//! Durable runs: what a journal costs beside the in-memory run, and how
//! fast a journal is replayed.
//!
//! `cargo bench --bench durable` (filter with e.g. `-- durable_chain_100`).
//!
//! Groups `durable_independent_10k` and `durable_chain_100`, on a
//! multi_thread runtime with 2 workers, one whole run per iteration:
//!
//! * `memory`: the executor keeps nothing;
//! * `sqlite_write_behind`: a SQLite store (`weft-store-sqlite`, a file in a
//!   temporary directory, `synchronous=FULL`), default journal batching;
//!   the iteration ends when the run has ended *and* its records are
//!   committed (`Executor::flush`), so the figure is end to end;
//! * `sqlite_write_behind_4k`: the same on a file of 4 KB pages
//!   (`SqliteOptions::page_size(4096)`; new files have 16 KB pages): what
//!   the page size costs or saves a run;
//! * `sqlite_sync`: the same as `sqlite_write_behind` with `Durability::Sync`: no task starts before
//!   the records that caused it are committed;
//! * in `durable_chain_100` also `sqlite_commit_floor`: 100 appends of one
//!   record each, one after the other, on the same kind of file — the least
//!   a chain of 100 synchronous hops could cost;
//! * and `memory_then_commit`: issue 20's "memory + one commit" taken
//!   literally. Each iteration is `memory`'s run (the same executor, the
//!   plan compiled from the same text, in one `block_on` with its
//!   `Executor::flush`), then one `Store::append` of a write-behind
//!   `chain_100` run's whole journal (its 102 records: `Started`, 100
//!   attempts, `Ended`) on a SQLite store of its own, a file of the same
//!   kind as `sqlite_write_behind`'s (default options: 16 KB pages,
//!   `synchronous=FULL`). The journal is that of one real write-behind run,
//!   made and read back (`Store::load`) once before measuring; each
//!   iteration commits it under a fresh `RunId`, the re-keyed copy built in
//!   `iter_batched`'s setup (one iteration a batch), so neither the copy
//!   nor its drop is measured. `Store::append` encodes the records on the
//!   caller's thread, where a run's commit encodes them on the store's
//!   thread; either way, one commit. `sqlite_write_behind` −
//!   `memory_then_commit` is what a write-behind run costs beyond the run
//!   and one commit of its records;
//! * `memory_then_commit_4k`: the same committed to a file of 4 KB pages,
//!   beside `sqlite_write_behind_4k`.
//!
//! Group `recover`: `Executor::inspect` of a finished run of one with-items
//! task over 10,000 and 100,000 items (journals of 10,002 and 100,002
//! records): load from the SQLite file, decode, and replay through the
//! scheduler, nothing run (`replay_N`); and the load alone (`load_N`).
//! `Throughput::Elements` counts records.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use weft::store::{Entry, Record, Store};
use weft::{ActionInput, Durability, Executor, Plan, RunId};
use weft_store_sqlite::SqliteStore;

use common::{rekeyed, runtime_mt, Shape};

/// The shape as a workflow loaded from text (a durable run keeps its
/// workflow's text).
fn plan(shape: &Shape, ex: &Executor) -> Plan {
    common::text_plan(shape, ex).expect("benchmark workflow compiles")
}

fn builder() -> weft::ExecutorBuilder {
    Executor::builder().action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
}

fn sqlite(dir: &tempfile::TempDir, name: &str) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(dir.path().join(name)).expect("sqlite store"))
}

/// A store on a file of 4 KB pages.
fn sqlite_4k(dir: &tempfile::TempDir, name: &str) -> Arc<SqliteStore> {
    let options = weft_store_sqlite::SqliteOptions::new().page_size(4096);
    Arc::new(SqliteStore::open_with(dir.path().join(name), &options).expect("sqlite store"))
}

/// A run of `plan` to its end, then `Executor::flush`; its id.
async fn run_flushed(ex: &Executor, plan: &Plan) -> RunId {
    let out = ex
        .start(plan, json!({}))
        .expect("start")
        .await
        .expect("run");
    assert!(out.succeeded(), "{:?}", out.errors);
    ex.flush().await.expect("journal committed");
    out.run_id
}

fn one_run(rt: &Runtime, ex: &Executor, plan: &Plan) {
    rt.block_on(run_flushed(ex, plan));
}

/// The journal of one write-behind run of `shape` on a SQLite file at
/// `name` in `dir`, read back once it is committed.
fn recorded_journal(
    rt: &Runtime,
    dir: &tempfile::TempDir,
    name: &str,
    shape: &Shape,
) -> Vec<Entry> {
    let store = sqlite(dir, name);
    let ex = builder().store(store.clone()).build();
    let p = plan(shape, &ex);
    rt.block_on(async {
        let run = run_flushed(&ex, &p).await;
        store.load(run).await.expect("the run's journal")
    })
}

/// `memory`'s iteration, then one commit of `entries` to `store`; gives
/// the entries back, so that their drop is not measured.
fn run_then_commit(
    rt: &Runtime,
    ex: &Executor,
    plan: &Plan,
    store: &SqliteStore,
    entries: Vec<Entry>,
) -> Vec<Entry> {
    rt.block_on(async {
        run_flushed(ex, plan).await;
        store.append(&entries).await.expect("append");
    });
    entries
}

fn durable_shapes(c: &mut Criterion) {
    let rt = runtime_mt();
    let dir = tempfile::tempdir().expect("temporary directory");
    for shape in [
        Shape::independent("independent_10k", 10_000),
        Shape::chain("chain_100", 100),
    ] {
        let mut group = c.benchmark_group(format!("durable_{}", shape.name));
        group.throughput(Throughput::Elements(shape.len() as u64));
        group.sample_size(10);
        let memory = builder().build();
        let write_behind = builder()
            .store(sqlite(&dir, &format!("{}-wb.db", shape.name)))
            .build();
        let write_behind_4k = builder()
            .store(sqlite_4k(&dir, &format!("{}-wb4k.db", shape.name)))
            .build();
        let sync = builder()
            .store(sqlite(&dir, &format!("{}-sync.db", shape.name)))
            .durability(Durability::Sync)
            .build();
        for (name, ex) in [
            ("memory", &memory),
            ("sqlite_write_behind", &write_behind),
            ("sqlite_write_behind_4k", &write_behind_4k),
            ("sqlite_sync", &sync),
        ] {
            let p = plan(&shape, ex);
            group.bench_function(name, |b| b.iter(|| one_run(&rt, ex, &p)));
        }
        if shape.name == "chain_100" {
            let store = sqlite(&dir, "floor.db");
            let run = RunId::new();
            let mut seq = 0u64;
            let start = common::floor_start();
            group.bench_function("sqlite_commit_floor", |b| {
                b.iter(|| {
                    rt.block_on(async {
                        for _ in 0..100 {
                            let record = if seq == 0 {
                                start.clone()
                            } else {
                                Record::Command {
                                    step: seq,
                                    command: weft::store::Command::Resume,
                                }
                            };
                            let e = [Entry { run, seq, record }];
                            store.append(&e).await.expect("append");
                            seq += 1;
                        }
                    })
                })
            });
            // Issue 20's right-hand side, literally: the in-memory run and
            // one commit of what a write-behind run of the shape journals.
            let journal = recorded_journal(&rt, &dir, "chain_100-journal.db", &shape);
            assert_eq!(
                journal.len(),
                shape.len() + 2,
                "a chain's journal: Started, an attempt a task, Ended"
            );
            let p = plan(&shape, &memory);
            for (name, store) in [
                ("memory_then_commit", sqlite(&dir, "chain_100-then.db")),
                (
                    "memory_then_commit_4k",
                    sqlite_4k(&dir, "chain_100-then4k.db"),
                ),
            ] {
                group.bench_function(name, |b| {
                    b.iter_batched(
                        || rekeyed(&journal),
                        |entries| run_then_commit(&rt, &memory, &p, &store, entries),
                        BatchSize::PerIteration,
                    )
                });
            }
        }
        group.finish();
    }
}

fn recover(c: &mut Criterion) {
    let rt = runtime_mt();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("recover");
    group.sample_size(10);
    for n in [10_000usize, 100_000] {
        // One with-items task over `n` items: a journal of n + 2 records.
        let (ex, store, id) =
            common::journaled_with_items(&rt, &dir.path().join(format!("recover-{n}.db")), n)
                .expect("a journal to recover");
        let records = rt.block_on(store.load(id)).unwrap().len();
        group.throughput(Throughput::Elements(records as u64));
        group.bench_function(format!("replay_{n}"), |b| {
            b.iter(|| {
                let seen = rt.block_on(ex.inspect(id)).expect("inspect");
                assert_eq!(seen.tasks[0].items, Some(n));
            })
        });
        // The same journal, loaded only: what the store costs of the above.
        group.bench_function(format!("load_{n}"), |b| {
            b.iter(|| rt.block_on(store.load(id)).expect("load").len())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = durable_shapes, recover
}
criterion_main!(benches);
