//! What a finished run reports.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};
use serde_json::Value;
use weft_core::TaskStatus;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every failure was handled and output was evaluated.
    Succeeded,
    /// An unhandled failure, a `fail` command, an unsatisfiable join, an
    /// expression error outside a task, or an instance limit.
    Failed,
    /// [`Run::cancel`](crate::Run::cancel) or [`Run::abort`](crate::Run::abort)
    /// stopped it.
    Canceled,
}

impl RunStatus {
    /// `succeeded`, `failed` or `canceled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One task instance, as it ended.
#[derive(Clone, Debug, Serialize)]
pub struct TaskRecord {
    /// Task name.
    pub name: Arc<str>,
    /// Instance number within the run (creation order).
    pub instance: u32,
    /// Final status.
    pub status: TaskStatus,
    /// Attempts made (for `with` items: the most any item needed).
    pub attempts: u32,
    /// Number of items, for a `with` task.
    pub items: Option<usize>,
    /// The result (for `with`: the list of item results in item order).
    pub result: Option<Arc<Value>>,
    /// The error, for a failed instance.
    pub error: Option<String>,
    /// When its first action attempt started.
    #[serde(serialize_with = "ser_time")]
    pub started_at: Option<SystemTime>,
    /// When it ended.
    #[serde(serialize_with = "ser_time")]
    pub ended_at: Option<SystemTime>,
}

fn ser_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// An error that contributed to a run's end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunError {
    /// The task it concerns, if any.
    pub task: Option<String>,
    /// What happened.
    pub message: String,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.task {
            Some(t) => write!(f, "task `{t}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Counts and timing of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Task instances created.
    pub tasks_run: usize,
    /// Action attempts made (items and retries included).
    pub actions_run: usize,
    /// Wall time from start to end.
    #[serde(serialize_with = "ser_duration")]
    pub duration: Duration,
}

fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// Everything a finished run reports.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    /// The run's id.
    pub run_id: u64,
    /// The workflow's name.
    pub workflow: Arc<str>,
    /// How it ended.
    pub status: RunStatus,
    /// The workflow's `output`, evaluated in order (for a run that did not
    /// succeed: the entries that could be evaluated).
    pub output: Value,
    /// Every task instance, in creation order.
    pub tasks: Vec<TaskRecord>,
    /// What made the run fail or what went wrong on the way.
    pub errors: Vec<RunError>,
    /// Counts and timing.
    pub stats: RunStats,
}

impl RunOutcome {
    /// True when the run succeeded.
    pub fn succeeded(&self) -> bool {
        self.status == RunStatus::Succeeded
    }

    /// The instances of one task, in order.
    pub fn task(&self, name: &str) -> impl Iterator<Item = &TaskRecord> {
        let name = name.to_owned();
        self.tasks.iter().filter(move |t| *t.name == *name)
    }
}
