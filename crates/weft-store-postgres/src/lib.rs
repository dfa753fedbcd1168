//! A Postgres [`Store`](weft_runtime::Store) for weft's durable runs, which
//! several executor processes share.
//!
//! [`PostgresStore`] keeps each run's journal and summary in a Postgres
//! schema. It is also a [`SharedStore`](weft_runtime::SharedStore): any
//! number of processes that embed weft (or run `weft worker`) can point at
//! the same schema; a run is owned by one of them at a time through a
//! lease, and a process that dies has its runs taken over by the others,
//! which replay their journals and go on. See `docs/scale-out.md` for the
//! topology, the guarantees under each failure, and how to operate it.
//!
//! # Examples
//!
//! ```no_run
//! use std::sync::Arc;
//! use serde_json::json;
//! use weft_core::Workflow;
//! use weft_runtime::{Executor, WorkerConfig};
//! use weft_store_postgres::PostgresStore;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresStore::connect("postgres://postgres@127.0.0.1:5432/test?schema=weft").await?;
//! let executor = Executor::builder().store(Arc::new(store)).build();
//!
//! // Any process: store a run for a worker to take.
//! let plan = Workflow::from_yaml_str("tasks:\n  hi: {action: core.echo, input: {message: hi}}\n")?
//!     .compile(&executor)?;
//! let id = executor.submit(&plan, json!({})).await?;
//! println!("submitted {id}");
//!
//! // Worker processes: claim runs and run them until told to stop, then
//! // hand them back.
//! executor
//!     .worker(WorkerConfig::new().max_runs(64))
//!     .run(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The tables
//!
//! In the database the URL names (it must name one) and the schema it names
//! (`?schema=NAME`, default `public`):
//! `runs`, a row per run (its summary, the sequence number its journal goes
//! on from, and its `owner`, `epoch` and `lease_until`); `journal`, a row
//! per run per append holding that append's records as a JSON array in a
//! `bytea` (`convert_from(records, 'UTF8')::jsonb` reads it; compressed
//! with LZ4 where the server has it, since schema version 3); `commands`,
//! commands sent to runs that another process owns; and `weft_schema`, the
//! schema's version. Opening a store applies the missing migrations in one
//! transaction under a transaction-scoped advisory lock, so processes that
//! open a new schema at once are safe; a schema written by a newer weft is
//! refused.
//!
//! # Appends
//!
//! An append is one transaction: the rows of the runs it continues are
//! locked (`SELECT … FOR UPDATE`, in id order) and checked (the sequence
//! follows on; this process holds the run's current epoch and its lease
//! has not run out on this process's clock), then the journal rows go in
//! (a row of 16 KB or more by an `INSERT … VALUES` of its own, the others
//! together by one `INSERT … SELECT unnest(…), …`), the summaries are
//! updated from arrays too, and a notice is sent for each run that ended.
//! `BEGIN` goes out with the lock, and these statements with `COMMIT`
//! (a statement that fails makes the server roll back instead). When no
//! record of the batch is a command or a wait (the summaries after it do
//! not depend on the stored ones), the lock, the checks and the summary
//! update are one statement made by the server (the function
//! `append_held`, since schema version 4), sent with the rest: one round
//! trip; and when the batch's rows come to 256 KB or less, the whole
//! append is one statement (`append_batch`, its own transaction: no
//! `BEGIN`, no `COMMIT`), as a sync step's is. Should it find a run fenced
//! or out of sequence, it rolls the
//! append back and the append is made again with the lock and the checks
//! here (two round trips, as a batch with a command or a wait takes at
//! once). A run whose epoch moved
//! on (another process took it over) is left out of the commit and
//! reported in [`Appended::fenced`](weft_runtime::store::Appended); its
//! run stops in this process.
//!
//! The executor's journal commits through `Store::append_owned`, handing
//! the entries over: a commit of 256 entries or more is grouped and
//! serialized on a thread of tokio's blocking pool, and its entries are
//! dropped there once committed, so that the runtime's threads only send
//! the rows; a smaller one is encoded where it is appended. A failed
//! append gives the entries back.
//!
//! Binary `COPY` was measured against these inserts
//! (`benches/examples/postgres.rs -- layouts`, the server's CPU time per
//! insert; figures in docs/performance.md): a big row costs the server
//! least alone (its records one parameter, no array to read and copy), and
//! `COPY` is cheapest only when a batch holds thousands of one-record
//! rows. The inserts are kept because they are ordinary statements that
//! pipeline with the summary update and the notices in the same round
//! trip, where `COPY` is a protocol exchange of its own.
//!
//! # The client
//!
//! `tokio-postgres` with a `deadpool-postgres` pool: it pipelines the
//! statements of an append into one round trip, speaks the binary protocol
//! (arrays of ids, sequence numbers and `bytea` rows go in without text
//! conversion), offers binary `COPY`, and delivers `LISTEN` notices on a
//! connection of its own. `sqlx` was not measured against it: its
//! migrations and its one API for SQLite and Postgres would not have
//! served here, where the SQLite store is `rusqlite` on a thread of its own
//! and the migrations are a few statements under an advisory lock.
//!
//! # Leases
//!
//! Times are the database's (`now()`), so the processes' clocks need not
//! agree. Each store renews the leases of its runs every
//! [`PostgresOptions::heartbeat`] with one `UPDATE`; a run whose epoch
//! moved on is reported lost ([`SharedStore::take_lost`](weft_runtime::SharedStore::take_lost)),
//! and so is every run whose renewal has not succeeded for `lease -
//! heartbeat / 2` (on this process's monotonic clock), which is before the
//! database lets anyone else claim it.
//!
//! # Notices
//!
//! `LISTEN`/`NOTIFY` on the channel `weft_<schema>`, on one connection of
//! its own (opened on first use, re-opened after a database restart):
//! `claim` when a run is submitted or handed back, `cmd:<run>` for a
//! command, `end:<run>` when a run ends.
#![forbid(unsafe_code)]

mod error;
mod inner;
mod kv;
mod lease;
mod listen;
mod options;
mod read;
mod schema;
mod store;
mod write;

pub use options::PostgresOptions;
pub use store::PostgresStore;

/// The schema version this build writes (recorded in `weft_schema`).
pub const SCHEMA_VERSION: i32 = schema::SCHEMA_VERSION;
