//! What a finished run reports.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};
use serde_json::Value;
use weft_core::TaskStatus;

use crate::id::RunId;

/// Where a run is: waiting for a worker (`Queued`), going (`Running`,
/// `Pausing`, `Paused`, `Canceling`), or how it ended (`Succeeded`,
/// `Failed`, `Canceled`).
///
/// A [`RunOutcome`] always holds one of the three ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RunStatus {
    /// Submitted to a shared store ([`Executor::submit`](crate::Executor::submit))
    /// and not yet claimed by a worker: nothing of it has run. A store lists
    /// it so; once a worker claims it, it is `Running`.
    Queued,
    /// Tasks are being started and finishing.
    Running,
    /// Paused: no new task starts; tasks already running are finishing.
    Pausing,
    /// Paused, and nothing is running; resume continues it.
    Paused,
    /// Canceled or failing: nothing new starts, running tasks finish.
    Canceling,
    /// Every failure was remediated and output was evaluated.
    Succeeded,
    /// An unremediated failure, a `fail` command, an unsatisfiable join, an
    /// expression error outside a task, or a limit.
    Failed,
    /// [`Run::cancel`](crate::Run::cancel) or [`Run::abort`](crate::Run::abort)
    /// stopped it.
    Canceled,
}

impl RunStatus {
    /// The status as lowercase text: `running`, `paused`, `succeeded`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Pausing => "pausing",
            RunStatus::Paused => "paused",
            RunStatus::Canceling => "canceling",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Canceled => "canceled",
        }
    }

    /// True for `succeeded`, `failed` and `canceled`: the run is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Canceled
        )
    }

    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 8] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Pausing,
        RunStatus::Paused,
        RunStatus::Canceling,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Canceled,
    ];

    pub(crate) fn to_u8(self) -> u8 {
        RunStatus::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }

    pub(crate) fn from_u8(n: u8) -> RunStatus {
        RunStatus::ALL
            .get(n as usize)
            .copied()
            .unwrap_or(RunStatus::Running)
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<RunStatus, String> {
        RunStatus::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| {
                let all: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown run status `{s}`: one of {}", all.join(", "))
            })
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One task instance, as it ended.
///
/// It serializes with its fields as they are named here, times as seconds
/// since 1970 (`started_at`, `ended_at`), and also `duration_ms`: the
/// milliseconds from its first attempt's start to its end (`null` when it
/// never started).
#[derive(Clone, Debug)]
pub struct TaskRecord {
    /// Task name.
    pub name: Arc<str>,
    /// Instance number within the run (creation order).
    pub instance: u32,
    /// The route it ran in: an index into [`RunOutcome::routes`]; 0 unless
    /// the workflow has split tasks.
    pub route: u32,
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
    /// For a task that runs a sub-workflow: the child runs its attempts
    /// started (one per item and attempt), in the order they started.
    pub child_runs: Vec<RunId>,
    /// When its first action attempt started.
    pub started_at: Option<SystemTime>,
    /// When it ended.
    pub ended_at: Option<SystemTime>,
}

impl TaskRecord {
    /// From its first attempt's start to its end; `None` when it never
    /// started an attempt.
    pub fn duration(&self) -> Option<Duration> {
        let (start, end) = (self.started_at?, self.ended_at?);
        Some(end.duration_since(start).unwrap_or_default())
    }
}

impl Serialize for TaskRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            name: &'a str,
            instance: u32,
            route: u32,
            status: TaskStatus,
            attempts: u32,
            items: Option<usize>,
            result: &'a Option<Arc<Value>>,
            error: &'a Option<String>,
            #[serde(skip_serializing_if = "<[RunId]>::is_empty")]
            child_runs: &'a [RunId],
            #[serde(serialize_with = "ser_time")]
            started_at: Option<SystemTime>,
            #[serde(serialize_with = "ser_time")]
            ended_at: Option<SystemTime>,
            duration_ms: Option<f64>,
        }
        Shown {
            name: &self.name,
            instance: self.instance,
            route: self.route,
            status: self.status,
            attempts: self.attempts,
            items: self.items,
            result: &self.result,
            error: &self.error,
            child_runs: &self.child_runs,
            started_at: self.started_at,
            ended_at: self.ended_at,
            duration_ms: self.duration().map(millis),
        }
        .serialize(s)
    }
}

/// Milliseconds, to the microsecond: how every duration is serialized.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn ser_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// An error that contributed to a run's end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    /// Wall time from start to end (`duration_ms` when serialized).
    #[serde(rename = "duration_ms", serialize_with = "ser_duration")]
    pub duration: Duration,
}

fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(millis(*d))
}

/// Everything a finished run reports.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    /// The run's id.
    pub run_id: RunId,
    /// For a sub-workflow: the run whose task started it.
    pub parent: Option<RunId>,
    /// The workflow's name.
    pub workflow: Arc<str>,
    /// How it ended.
    pub status: RunStatus,
    /// The workflow's `output`, evaluated in order (for a run that did not
    /// succeed: the entries that could be evaluated).
    pub output: Value,
    /// Every task instance, in creation order.
    pub tasks: Vec<TaskRecord>,
    /// The run's routes, by number: each is the list of split transitions
    /// it went through, written `task__tK` (transition `K` of `task`, as
    /// Orquesta names them). Route 0, the run's first, is `[]`; a task
    /// reached from several transitions (a split task) starts a new route
    /// at each arrival, and joins collect branches within one route.
    pub routes: Vec<Vec<String>>,
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
