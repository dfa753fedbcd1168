//! Appending journal batches: records per second into each store, and
//! two ways to lay out the journal in SQLite, side by side.
//!
//! `cargo bench -p weft-store-sqlite --bench append`
//!
//! Every iteration appends one batch of 8192 small records (an attempt's
//! outcome with a result like `{"task": "fan", "n": 17}`, about 170 bytes
//! of JSON), 128 for each of 64 runs, interleaved as the journal writer
//! hands them over; the runs go on from batch to batch, so the file grows
//! during the benchmark. The batch is built outside the timing.
//!
//! * `append/8192_small_records`: through the `Store` trait: `memory`
//!   (`MemoryStore`, a new one each iteration, so its batches start their
//!   runs), `sqlite_full` and `sqlite_normal` (`SqliteStore` with
//!   `synchronous` FULL and NORMAL), on a file in the system's temp dir.
//! * `layout/8192_small_records`: SQLite alone, on one connection, FULL: a
//!   journal row per run per batch holding a JSON array (what the store
//!   does), against a row per record.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rusqlite::{params, Connection};
use weft_runtime::store::driver::conformance::{ok, started};
use weft_runtime::store::{Entry, Store};
use weft_runtime::{MemoryStore, RunId};
use weft_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};

const RUNS: usize = 64;
const PER_RUN: u64 = 128;
const BATCH: u64 = RUNS as u64 * PER_RUN;

/// Batches of the same 64 runs, each going on from the last.
struct Batches {
    runs: Vec<(RunId, u64)>,
}

impl Batches {
    fn new() -> Batches {
        Batches {
            runs: (0..RUNS).map(|_| (RunId::new(), 0)).collect(),
        }
    }

    fn next(&mut self) -> Vec<Entry> {
        let mut out = Vec::with_capacity(BATCH as usize);
        for _ in 0..PER_RUN {
            for (run, seq) in &mut self.runs {
                let record = if *seq == 0 {
                    started("bench", None, 1)
                } else {
                    ok(*seq)
                };
                out.push(Entry {
                    run: *run,
                    seq: *seq,
                    record,
                });
                *seq += 1;
            }
        }
        out
    }
}

/// Something that takes batches: a store, or SQLite driven directly.
trait Sink {
    fn append(&mut self, batch: &[Entry]);
}

struct ViaStore(Arc<dyn Store>);

impl Sink for ViaStore {
    fn append(&mut self, batch: &[Entry]) {
        futures::executor::block_on(self.0.append(batch)).expect("append");
    }
}

/// The raw layouts, on one connection in WAL mode with synchronous FULL.
struct Raw {
    conn: Connection,
    per_record: bool,
}

impl Raw {
    fn open(path: &std::path::Path, per_record: bool) -> Raw {
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE runs (id BLOB PRIMARY KEY, next_seq INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE batch_rows (run BLOB NOT NULL, first_seq INTEGER NOT NULL,
                 last_seq INTEGER NOT NULL, records TEXT NOT NULL, PRIMARY KEY (run, first_seq));
             CREATE TABLE record_rows (run BLOB NOT NULL, seq INTEGER NOT NULL,
                 record TEXT NOT NULL, PRIMARY KEY (run, seq));",
        )
        .expect("schema");
        Raw { conn, per_record }
    }
}

impl Sink for Raw {
    fn append(&mut self, batch: &[Entry]) {
        let tx = self.conn.transaction().expect("begin");
        {
            let mut runs = tx
                .prepare_cached(
                    "INSERT INTO runs (id, next_seq) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET next_seq = excluded.next_seq",
                )
                .expect("prepare");
            let mut last: HashMap<RunId, u64> = HashMap::new();
            if self.per_record {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO record_rows (run, seq, record) VALUES (?1, ?2, ?3)",
                    )
                    .expect("prepare");
                for e in batch {
                    let json = serde_json::to_string(&e.record).expect("json");
                    insert
                        .execute(params![&e.run.as_uuid().as_bytes()[..], e.seq as i64, json])
                        .expect("insert");
                    last.insert(e.run, e.seq);
                }
            } else {
                let mut groups: HashMap<RunId, (u64, u64, Vec<u8>)> = HashMap::new();
                for e in batch {
                    let g = groups
                        .entry(e.run)
                        .or_insert_with(|| (e.seq, e.seq, vec![b'[']));
                    if g.2.len() > 1 {
                        g.2.push(b',');
                    }
                    serde_json::to_writer(&mut g.2, &e.record).expect("json");
                    g.1 = e.seq;
                }
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO batch_rows (run, first_seq, last_seq, records)
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .expect("prepare");
                for (run, (first, end, mut json)) in groups {
                    json.push(b']');
                    let json = String::from_utf8(json).expect("utf-8");
                    insert
                        .execute(params![
                            &run.as_uuid().as_bytes()[..],
                            first as i64,
                            end as i64,
                            json
                        ])
                        .expect("insert");
                    last.insert(run, end);
                }
            }
            for (run, end) in last {
                runs.execute(params![&run.as_uuid().as_bytes()[..], end as i64 + 1])
                    .expect("runs");
            }
        }
        tx.commit().expect("commit");
    }
}

fn bench(c: &mut Criterion, group: &str, sinks: Vec<(&str, Box<dyn Sink>)>) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(BATCH))
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, mut sink) in sinks {
        let mut batches = Batches::new();
        g.bench_function(name, |b| {
            b.iter_batched(
                || batches.next(),
                |batch| sink.append(&batch),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// The in-memory store, for scale: a new store each iteration (one that
/// kept every batch would fill the memory), so each batch starts its runs.
fn memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("append/8192_small_records");
    g.throughput(Throughput::Elements(BATCH))
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    g.bench_function("memory", |b| {
        b.iter_batched(
            || (MemoryStore::new(), Batches::new().next()),
            |(store, batch)| {
                futures::executor::block_on(store.append(&batch)).expect("append");
                store
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    memory(c);
    let sqlite = |name: &str, sync: Synchronous| -> Box<dyn Sink> {
        let options = SqliteOptions::new().synchronous(sync);
        let store = SqliteStore::open_with(dir.path().join(name), &options).expect("open");
        Box::new(ViaStore(Arc::new(store)))
    };
    bench(
        c,
        "append/8192_small_records",
        vec![
            ("sqlite_full", sqlite("full.db", Synchronous::Full)),
            ("sqlite_normal", sqlite("normal.db", Synchronous::Normal)),
        ],
    );
    bench(
        c,
        "layout/8192_small_records",
        vec![
            (
                "row_per_run_and_batch",
                Box::new(Raw::open(&dir.path().join("batch.db"), false)),
            ),
            (
                "row_per_record",
                Box::new(Raw::open(&dir.path().join("record.db"), true)),
            ),
        ],
    );
}

criterion_group!(benches, append);
criterion_main!(benches);
