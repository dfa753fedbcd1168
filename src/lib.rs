//! weft: an embeddable, event-driven workflow executor.
//!
//! Workflows are graphs of tasks written in YAML (the Orquesta dialect, with
//! `{{ }}` Jinja expressions). This crate is a facade over `weft-core` (the
//! language: loading, validation, plans, context, expressions) and
//! `weft-runtime` (executor, scheduler, actions, runs, events).
//!
//! # Features
//!
//! * `http` (off by default): the built-in `core.http` action, one HTTP
//!   request per call, on `reqwest` with rustls. Without it, weft compiles
//!   no HTTP client.
//! * `sqlite` (off by default): `weft::sqlite`, the SQLite store for durable
//!   runs (`weft-store-sqlite`).
//! * `postgres` (off by default): `weft::postgres`, the Postgres store that
//!   several executor processes share (`weft-store-postgres`; see
//!   docs/scale-out.md).
//! * `stackstorm` (off by default): `weft::stackstorm`, StackStorm packs as
//!   a source of actions (`weft-stackstorm`; see docs/stackstorm.md):
//!   `Executor::builder().pack(dir)?` with `weft::stackstorm::PackExt` in
//!   scope.
//! * `server` (off by default): `weft::server`, the HTTP API and the live
//!   web dashboard over a store, as an `axum::Router` to serve or mount
//!   (`weft-server`; see docs/server.md).
//!
//! # The surface
//!
//! * **Workflows**: [`Workflow`] loads YAML or JSON text ([`Format`]) and
//!   compiles it into a [`Plan`] against an [`ActionCatalog`] (an
//!   [`Executor`] is one); [`WorkflowBuilder`] builds one in code. The text
//!   model is [`WorkflowDef`] and its parts, in [`def`].
//! * **Running**: an [`Executor`] (built with [`ExecutorBuilder`], actions
//!   registered as [`Action`]s) starts a [`Run`] from a plan and inputs
//!   ([`RunOptions`]); awaiting it gives a [`RunOutcome`], and its
//!   [`events`](Run::events) an [`EventStream`] of [`Event`]s.
//! * **Durable runs**: a [`Store`] ([`MemoryStore`], or `weft::sqlite` and
//!   `weft::postgres` with their features) keeps each run's journal; a
//!   [`Worker`] shares runs between processes. [`store`] has the records
//!   and commands, [`telemetry`] the metrics' names.
//! * **Expressions and errors**: [`Template`] and [`WorkflowContext`] for
//!   evaluating `{{ }}` outside a run, [`ExpressionLimits`], and
//!   [`functions`] for expression functions of one's own; every error of
//!   the language is an [`Error`] with an [`ErrorKind`] and a [`Location`].
//!
//! [`prelude`] has the names most programs need. The crates behind the
//! facade are [`core`] and [`runtime`]; `weft::core::engine` holds the
//! compiled plan's internals, for the runtime, outside semver.
#![forbid(unsafe_code)]

pub use weft_core as core;
// The language: loading, building in code, compiling, expressions, errors.
// The compiled plan's internals stay at `weft::core::engine` (not covered
// by semver).
pub use weft_core::def;
pub use weft_core::functions;
pub use weft_core::{
    json_from_str, ActionCatalog, ContextState, CurrentTask, Error, ErrorKind, ExpressionLimits,
    Format, InputField, InputSpec, Location, ObjectTemplate, Plan, Result, RetryBuilder,
    TaskBuilder, TaskId, TaskStatus, Template, TransitionBuilder, ValueTemplate, Workflow,
    WorkflowBuilder, WorkflowContext, WorkflowDef, AFTER_CONDITION,
};
pub use weft_runtime as runtime;
pub use weft_runtime::store;
pub use weft_runtime::telemetry;
pub use weft_runtime::{
    builtin_actions, Action, ActionError, ActionInfo, ActionInput, ActionResult, BoxFuture,
    Durability, Event, EventKind, EventStream, Executor, ExecutorBuilder, FieldInfo, JournalConfig,
    KeyError, Limits, MemoryStore, NotRecorded, ParseRunIdError, PendingWait, Recovered,
    RespondError, ResumeError, Run, RunError, RunHandle, RunId, RunLost, RunOptions, RunOutcome,
    RunStats, RunStatus, SecretKey, SecretMask, SharedError, SharedStore, StartError, Store,
    TaskRecord, UnknownRun, Wait, Worker, WorkerConfig, WorkerReport, DEFAULT_EXTRA_INSTANCES,
};
/// The SQLite store for durable runs (feature `sqlite`): one file, no
/// server. See `weft_store_sqlite`.
#[cfg(feature = "sqlite")]
pub use weft_store_sqlite as sqlite;

/// The Postgres store for durable runs that several processes share
/// (feature `postgres`). See `weft_store_postgres`.
#[cfg(feature = "postgres")]
pub use weft_store_postgres as postgres;

/// StackStorm packs as actions (feature `stackstorm`): load a pack and
/// register its actions as `PACK.NAME`. See `weft_stackstorm`.
#[cfg(feature = "stackstorm")]
pub use weft_stackstorm as stackstorm;

/// The HTTP API and the web dashboard over a store (feature `server`):
/// `weft::server::router(ServerConfig::new(executor))` is an
/// `axum::Router`. See `weft_server` and docs/server.md.
#[cfg(feature = "server")]
pub use weft_server as server;

/// The names most programs need.
pub mod prelude {
    pub use weft_core::{
        Error, ErrorKind, Plan, TaskStatus, Workflow, WorkflowBuilder, WorkflowContext,
    };
    pub use weft_runtime::{
        Action, ActionError, ActionInput, ActionResult, BoxFuture, EventKind, Executor, Limits,
        Run, RunHandle, RunId, RunOptions, RunOutcome, RunStatus,
    };
}

// The Rust blocks of these documents run as doctests, so they cannot rot;
// their YAML blocks are compiled by `tests/examples.rs`. Two of them use the
// stores: they run when the features are on, as in `cargo test --workspace`
// (the benchmarks package turns them on), not in `cargo test -p weft`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctests {}

#[cfg(all(doctest, feature = "sqlite", feature = "postgres"))]
#[doc = include_str!("../docs/embedding.md")]
mod embedding_doctests {}

#[cfg(all(doctest, feature = "sqlite", feature = "postgres"))]
#[doc = include_str!("../docs/durability.md")]
mod durability_doctests {}

#[cfg(doctest)]
#[doc = include_str!("../docs/observability.md")]
mod observability_doctests {}
