//! What a run is made from: [`RunEnv`], which the executor makes and the
//! scheduler only reads (it frees the actions at the end), and
//! [`RunHost`], what the scheduler tells and asks the one that made it.
//! The scheduler knows nothing else of the executor.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Notify, Semaphore};
use weft_core::Plan;

use crate::action::Action;
use crate::id::RunId;
use crate::limits::Limits;
use crate::run::children::Children;
use crate::telemetry::MetricsCache;

/// The part of a run that does not change while it runs.
pub(crate) struct RunEnv {
    pub(crate) plan: Plan,
    /// Per task, its action, resolved (`None`: the task has no action).
    pub(crate) actions: Vec<Option<Arc<dyn Action>>>,
    /// Per task, whether its action is a workflow (empty: none is).
    pub(crate) workflow_tasks: Vec<bool>,
    /// The sub-workflow runs started by this run's attempts, for commands
    /// to reach them; `None` when no task runs a workflow.
    pub(crate) children: Option<Arc<Children>>,
    pub(crate) limits: Limits,
    /// The executor's cap on actions in flight, shared by its runs.
    pub(crate) permits: Option<Arc<Semaphore>>,
    /// Told when the run becomes paused or stops being so.
    pub(crate) pauses: Arc<Notify>,
    /// Variables the run's context gets before its own `vars`.
    pub(crate) context: Vec<(Arc<str>, Value)>,
    /// Whom the run tells about itself, and asks for the actions a task
    /// names by an expression.
    pub(crate) host: Arc<dyn RunHost>,
    /// Whether the run runs, or is only inspected.
    pub(crate) mode: Actions,
    /// No attempt is polled by the run's task: each is spawned
    /// ([`ExecutorBuilder::spawn_every_attempt`](crate::ExecutorBuilder::spawn_every_attempt)).
    pub(crate) spawn_every_attempt: bool,
}

/// What a run's actions are when it is made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Actions {
    /// Its actions, all of which the executor must have.
    Run,
    /// It is only inspected (see `Executor::inspect`): actions the
    /// executor does not have are stand-ins that never run, and it takes
    /// no share of the executor's cap on actions in flight.
    Inspect,
}

/// What a run tells the one that made it (the executor): tokio's
/// `Schedule` trait in spirit, so that the scheduler never names the
/// executor.
pub(crate) trait RunHost: Send + Sync + 'static {
    /// The metrics handles of the workflows run so far, shared by runs.
    fn metrics(&self) -> &MetricsCache;

    /// The run ended: it is no longer going on here.
    fn run_ended(&self, id: RunId);

    /// The buffers of an ended run's scheduler, to run a new one with.
    fn run_buffers(&self) -> Option<Box<super::RunBuffers>>;

    /// A run ended and its scheduler's buffers are free (emptied), with
    /// its context's maps when they could be kept.
    fn keep_run_buffers(&self, buffers: Box<super::RunBuffers>);

    /// The action registered under `name`, for a task whose action is an
    /// expression (a name that is a workflow is not one).
    fn action(&self, name: &str) -> Option<Arc<dyn Action>>;

    /// Whether `name` is a workflow registered as an action.
    fn is_workflow(&self, name: &str) -> bool;
}
