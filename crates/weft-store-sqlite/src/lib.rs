//! A SQLite [`Store`](weft_runtime::Store) for weft's durable runs: one
//! file, no server.
//!
//! [`SqliteStore`] keeps each run's journal and summary in one SQLite file
//! in write-ahead-log (WAL) mode. Give it to an executor and its runs
//! survive a crash of the process: after a restart,
//! [`Executor::recover`](weft_runtime::Executor::recover) resumes the runs
//! that were going on.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use serde_json::json;
//! use weft_core::Workflow;
//! use weft_runtime::{ActionInput, Executor, RunStatus};
//! use weft_store_sqlite::SqliteStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("runs.db");
//! let store = Arc::new(SqliteStore::open(&path)?);
//! let executor = Executor::builder()
//!     .store(store.clone())
//!     .action("greet", |input: ActionInput| async move {
//!         Ok(json!({ "hello": input.get("name").cloned() }))
//!     })
//!     .build();
//!
//! // Once, when the service starts: the runs a crash interrupted go on.
//! let recovered = executor.recover().await?;
//! assert!(recovered.runs.is_empty());
//!
//! let plan = Workflow::from_yaml_str("tasks:\n  hi: {action: greet, input: {name: world}}\n")?
//!     .compile(&executor)?;
//! let outcome = executor.start(&plan, json!({}))?.await?;
//! assert_eq!(outcome.status, RunStatus::Succeeded);
//!
//! // Before the process exits: commit what the runs recorded last.
//! executor.flush().await?;
//! let journal = weft_runtime::Store::load(&*store, outcome.run_id).await?;
//! assert!(journal.len() >= 3); // started, the attempt, ended
//! # Ok(())
//! # }
//! ```
//!
//! # The file
//!
//! Three tables: `runs`, a summary per run (workflow, status, parent, times,
//! the sequence number its journal goes on from, and the SHA-256 of its
//! workflow's text), `journal`, one row per run per append, holding the
//! records of that append, and `texts`, each workflow text once, keyed by
//! its SHA-256. A journal row holds its records in weft's binary form, as
//! a blob (schema version 5): the record of an attempt that returned a
//! result, nearly every record of a run, in about 6 bytes where its JSON
//! took 150, and every other record as its JSON. Rows written by earlier
//! versions (the JSON as text, or, from version 4, packed with LZ4) read
//! as they are, and no row is rewritten.
//! An append is one transaction: every run's sequence is checked against
//! its summary, and a conflict or a failure leaves nothing of the batch.
//!
//! A new run's summary goes into a fourth table, `runs_new` (schema
//! version 6): the same columns, keyed by id, without the indexes of
//! `runs`, so that the commit of a short run writes none of their pages.
//! Once 64 or more wait, the writer moves all that wait into `runs` in a
//! transaction of its own, after the commit it was answering; a purge
//! deletes the ended runs of both tables, then moves those still waiting
//! (so that a full file's purge frees pages before it needs any). Every
//! read reads both tables, so a run reads the same wherever its summary
//! is. A weft before version 6 refuses the file
//! (it would not see those runs).
//!
//! A run's `Started` record is stored with an empty `source`: its text is
//! the one `runs.text` names, shared by every run of that text, and
//! [`Store::load`](weft_runtime::Store::load) puts it back in the record.
//! (A run started by a weft of schema version 2 or before keeps its text
//! in the record, and names none.) A purge deletes the texts no run names
//! any more.
//!
//! The schema's version is recorded in the file (`PRAGMA user_version`)
//! and the file is marked as weft's (`PRAGMA application_id`); opening for
//! writing applies missing migrations in one transaction. A file written
//! by a newer weft, a file of another application, a damaged file and a
//! file that cannot be written are refused with an error naming the file.
//!
//! # One writer, many readers
//!
//! One process writes a file: [`SqliteStore::open`] holds an exclusive
//! lock on `<file>-lock` (released when the store is dropped or the
//! process ends, however it ends), and a second writer fails with "in use
//! by another process". Any number of [`SqliteStore::open_read_only`]
//! stores, in any process, read the file meanwhile (to list runs, say).
//! A writer needs the directory to be writable: SQLite keeps the
//! write-ahead log (`<file>-wal`, `<file>-shm`) beside the file. A reader
//! makes no file at all (it reads a file without a log as unchanging, and
//! one with a log through it), so it reads a read-only copy in a read-only
//! directory, and leaves nothing a later writer could not use.
//!
//! # Durability
//!
//! By default every commit is synced to the disk before `append` returns
//! (SQLite's `synchronous = FULL` in WAL mode, [`Synchronous::Full`]):
//! what the store acknowledged survives a crash of the process *or* of the
//! machine, which is what [`Durability::Sync`](weft_runtime::Durability::Sync)
//! promises. [`Synchronous::Normal`] syncs only at checkpoints: commits
//! survive a crash of the process (the write-ahead log is in the operating
//! system's hands) but a power loss may take the last ones.
//!
//! The journal writer commits in batches (of 1024 records or more while
//! records come faster than a commit, by default), so one sync serves
//! hundreds to thousands of records and the choice costs little: on the
//! 2-core machine the benchmark ran on (a sync there takes about 0.4 ms),
//! batches of 8192 small records went in at about 380,000 records/s with
//! either setting (`benches/append.rs`). On a disk whose sync takes 10 ms,
//! FULL adds about that per batch. So the default keeps the stronger
//! promise; choose NORMAL where syncs are slow and a power loss may cost
//! the last few milliseconds of progress (those attempts run again on
//! resume).
//!
//! The same benchmark compares layouts: one journal row per run per batch,
//! holding the records as a JSON array (what the store does), took about
//! half the time of one row per record (310,000 against 167,000 records/s
//! written through SQLite alone). In batched (write-behind) rows the file
//! holds about 32 bytes per small record of 170 bytes of JSON
//! (`examples/file_size.rs`; 192 bytes before rows were packed); a
//! `sync` run's rows of a record or two stay plain, at about 192.
//!
//! SQLite checks the structure of its pages, not their content, so each
//! journal row carries a CRC-32 of its records as stored (packed or not):
//! a record damaged in the file fails to load, naming the file, instead of
//! loading as another record. A full disk, or a file past
//! [`SqliteOptions::max_size`], fails the append as
//! [`StoreError::Unavailable`](weft_runtime::store::StoreError) with
//! nothing of the batch written; the runs whose records it held fail, and
//! can be resumed once there is room.
//!
//! # Threads
//!
//! A store runs two threads: one owns the connection that writes, one the
//! connection that reads. The async methods hand their work over a channel
//! and await the answer, so no async task waits on the disk, and reads
//! (`load`, `get`, `list`) do not queue behind commits. The journal's
//! commits (`Store::append_owned`, and `Store::append_parts`, whose
//! batches are read part by part, not joined) are serialized to JSON on
//! the writer thread; `Store::append` serializes in the caller's task, before the
//! hand-over. The writer thread also copies the write-ahead log back into
//! the file (a checkpoint) once the log holds 16 MB, after it has
//! answered the commit that filled it, so that no caller waits for it.
//! A new file's pages are 16 KB (SQLite's default is 4 KB): a journal's
//! rows are large, and each page costs a write into the log and another
//! into the file. A file keeps the page size it was made with.
#![forbid(unsafe_code)]

mod error;
mod kv;
mod options;
mod pack;
#[cfg(test)]
mod plans;
mod read;
mod schema;
mod store;
mod write;

pub use options::{SqliteOptions, Synchronous};
pub use store::SqliteStore;

/// The schema version this build writes (recorded in each file).
pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;
