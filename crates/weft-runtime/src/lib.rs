//! weft's runtime: the executor, the event-driven scheduler, actions, runs
//! and their events.
//!
//! A run is driven by one scheduler task that owns all of the run's state.
//! Each action attempt runs in its own tokio task — or, when nothing else of
//! its run is in flight (and on a current_thread runtime, always, unless it
//! has a delay, timeout or global cap), in the run's own task — and reports
//! back on a `flume` channel; the scheduler takes that message and starts
//! whatever became ready in the same turn. There is no polling loop. The library uses
//! the caller's tokio runtime and installs no tracing subscriber.
//!
//! # Features
//!
//! * `http` (off by default): the built-in `core.http` action, one HTTP
//!   request per call, on `reqwest` with rustls (no OpenSSL).
#![forbid(unsafe_code)]

mod action;
mod action_error;
mod ask;
mod attempt;
mod builtins;
mod durable;
mod event;
mod executor;
mod fields;
#[cfg(feature = "http")]
mod http;
mod id;
mod journal;
mod limits;

mod local;
mod outcome;
pub mod process;
mod run;
mod scheduler;
mod sealing;
mod secrets;
mod start_error;
pub mod store;
mod subworkflow;
pub mod telemetry;
mod typed;
mod wait;
mod worker;

pub use action::{Action, ActionError, ActionInput, ActionResult};
pub use builtins::{builtin_action, builtin_actions};
pub use durable::{Recovered, ResumeError};
pub use event::{Event, EventKind, EventStream, Rfc3339};
pub use executor::{Executor, ExecutorBuilder, StartingRun, UnknownRun};
pub use fields::{ActionInfo, FieldInfo};
/// The boxed future an [`Action`] returns.
pub use futures::future::BoxFuture;
pub use id::{ParseRunIdError, RunId};
pub use limits::{Limits, DEFAULT_EXTRA_INSTANCES};
pub use outcome::{RunError, RunOutcome, RunStats, RunStatus, TaskRecord};
pub use run::{NotRecorded, Run, RunHandle, RunLost, RunOptions};
pub use sealing::{KeyError, SecretKey};
pub use secrets::SecretMask;
pub use start_error::StartError;
pub use store::{Durability, JournalConfig, MemoryStore, SharedStore, Store};
pub use subworkflow::WorkflowAdapter;
pub use wait::pending::{pending_waits, PendingWait, RespondError};
pub use wait::Wait;
pub use worker::{SharedError, Worker, WorkerConfig, WorkerReport};
