//! The JSON the API reads and writes. Times are seconds since 1970 (with
//! milliseconds), durations milliseconds, as `weft runs --json` and `weft
//! show --json` write them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use weft_runtime::store::{Millis, RunSummary};

/// Seconds since 1970, from milliseconds.
pub(crate) fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// A run as the list shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RunSummaryJson {
    /// The run's id.
    pub run_id: String,
    /// The workflow's name.
    pub workflow: String,
    /// `queued` (submitted, not yet claimed by a worker), `running`,
    /// `pausing`, `paused`, `canceling`, `succeeded`, `failed` or
    /// `canceled`, as the journal last recorded it.
    pub status: String,
    /// For a sub-workflow: the run whose task started it.
    pub parent: Option<String>,
    /// When it started.
    pub started_at: f64,
    /// When its journal was last written.
    pub updated_at: f64,
    /// When it ended, if it has.
    pub ended_at: Option<f64>,
}

impl From<&RunSummary> for RunSummaryJson {
    fn from(r: &RunSummary) -> Self {
        RunSummaryJson {
            run_id: r.id.to_string(),
            workflow: r.workflow.clone(),
            status: r.status.as_str().to_owned(),
            parent: r.parent.map(|p| p.to_string()),
            started_at: seconds(r.started_at),
            updated_at: seconds(r.updated_at),
            ended_at: r.ended_at.map(seconds),
        }
    }
}

/// The query of `GET /api/v1/runs`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only runs with these statuses, separated by commas
    /// (`running,paused`).
    pub status: Option<String>,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs started at or after this time (seconds since 1970).
    pub since: Option<f64>,
    /// Only runs started before this time (seconds since 1970).
    pub until: Option<f64>,
    /// Only top-level runs (no sub-workflows). Default false.
    pub top_level: Option<bool>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// Runs per page: 1 to 500, default 50.
    pub limit: Option<usize>,
}

/// A page of runs, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RunPage {
    /// The runs.
    pub runs: Vec<RunSummaryJson>,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// An error that contributed to a run's end.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RunErrorJson {
    /// The task it concerns, if any.
    pub task: Option<String>,
    /// What happened.
    pub message: String,
}

/// Counts and timing of a run.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsJson {
    /// Task instances created.
    pub tasks_run: usize,
    /// Action attempts made (items and retries included).
    pub actions_run: usize,
    /// From the start to the end (to now for a run going on).
    pub duration_ms: f64,
}

/// One instance's place on the timeline.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SpanJson {
    /// The instance.
    pub instance: u32,
    /// When its first attempt started.
    pub started_at: f64,
    /// When it ended (absent while it runs).
    pub ended_at: Option<f64>,
    /// Its status.
    pub status: String,
}

/// A task of the run: its instances taken together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskGroupJson {
    /// The task's name.
    pub name: String,
    /// One status for the task: `running` while an instance runs, else
    /// `pending` while one waits, else its latest instance's.
    pub status: String,
    /// Its instances.
    pub instances: usize,
    /// Instances by status.
    pub counts: BTreeMap<String, usize>,
    /// Items over all its instances, for a `with` task.
    pub items: Option<usize>,
    /// The most attempts one instance (or item) needed.
    pub attempts: u32,
    /// When its first instance started.
    pub started_at: Option<f64>,
    /// When its last instance ended, once none is going on.
    pub ended_at: Option<f64>,
    /// The error of its latest failed instance.
    pub error: Option<String>,
    /// The timeline of its first instances (at most 200; see
    /// `spans_total`).
    #[schema(value_type = Vec<SpanJson>)]
    pub spans: Vec<SpanTuple>,
    /// Instances it has on the timeline in all.
    pub spans_total: usize,
}

/// A span as `[instance, started_at, ended_at or null, status]`.
pub type SpanTuple = (u32, f64, Option<f64>, String);

/// A sub-workflow run a task started.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChildJson {
    /// The child run.
    pub run_id: String,
    /// The task that started it.
    pub task: String,
    /// The task's instance.
    pub instance: u32,
}

/// What can be done with a run now, here.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AllowedJson {
    /// Cancel: nothing new starts, running actions finish.
    pub cancel: bool,
    /// Pause: nothing new starts until resumed.
    pub pause: bool,
    /// Resume a paused or interrupted run.
    pub resume: bool,
    /// Run an ended run again from its failed tasks, or from named ones.
    pub rerun: bool,
}

/// One run: what it was given, what it did, what it gave.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RunDetail {
    /// The run as the list shows it.
    #[serde(flatten)]
    pub summary: RunSummaryJson,
    /// The inputs (defaults applied), secret ones masked.
    pub inputs: Value,
    /// The output (once it has ended), secrets masked.
    pub output: Value,
    /// What made it fail, or went wrong on the way.
    pub errors: Vec<RunErrorJson>,
    /// Counts and timing.
    pub stats: StatsJson,
    /// The routes, by number (see `weft show --json`).
    pub routes: Vec<Vec<String>>,
    /// Its tasks, each with its instances taken together, in the order
    /// they first ran: the first 2,000 (see `tasks_total`; the instances
    /// of every task are paged by `GET /api/v1/runs/{id}/instances`).
    pub tasks: Vec<TaskGroupJson>,
    /// Tasks that ran, in all.
    pub tasks_total: usize,
    /// Task instances in all (`GET /api/v1/runs/{id}/instances` pages
    /// through them).
    pub instances: usize,
    /// Its sub-workflow runs (at most 200; see `children_total`).
    pub children: Vec<ChildJson>,
    /// Sub-workflow runs in all.
    pub children_total: usize,
    /// Records in its journal: the event stream resumes after record
    /// `records - 1`.
    pub records: u64,
    /// What can be done with it now, here.
    pub allowed: AllowedJson,
}

/// The query of `GET /api/v1/runs/{id}/instances`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstancesQuery {
    /// Only the instances of this task.
    pub task: Option<String>,
    /// Only instances with this status.
    pub status: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<u32>,
    /// Instances per page: 1 to 500, default 50.
    pub limit: Option<usize>,
}

/// One task instance.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InstanceJson {
    /// Its number in the run (creation order).
    pub instance: u32,
    /// Its task.
    pub task: String,
    /// Its route.
    pub route: u32,
    /// Its status.
    pub status: String,
    /// Attempts (for `with`: the most any item needed).
    pub attempts: u32,
    /// Items, for a `with` task.
    pub items: Option<usize>,
    /// When its first attempt started.
    pub started_at: Option<f64>,
    /// When it ended.
    pub ended_at: Option<f64>,
    /// From its first attempt's start to its end.
    pub duration_ms: Option<f64>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// Its result (secrets masked); absent when larger than the page
    /// allows (`result_truncated`): the instance alone has it whole.
    pub result: Option<Value>,
    /// The size of the result as JSON text.
    pub result_bytes: usize,
    /// The result was left out for its size.
    pub result_truncated: bool,
    /// The sub-workflow runs its attempts started.
    pub child_runs: Vec<String>,
}

/// A page of instances, in creation order.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InstancePage {
    /// The instances.
    pub instances: Vec<InstanceJson>,
    /// Instances that pass the filter, in all.
    pub total: usize,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<u32>,
}

/// The query of `GET /api/v1/runs/{id}/instances/{instance}/attempts`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// The `next_cursor` of the page before.
    pub cursor: Option<u64>,
    /// Attempts per page: 1 to 500, default 100.
    pub limit: Option<usize>,
}

/// One attempt of an action, as the journal recorded its end.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptJson {
    /// The journal record.
    pub seq: u64,
    /// The item, for a `with` task.
    pub item: Option<u32>,
    /// The attempt, from 1.
    pub attempt: u32,
    /// `succeeded`, `failed`, `canceled`, `timed_out`, `panicked` or
    /// `dropped` (the run stopped before the attempt started).
    pub outcome: String,
    /// The error (secrets masked).
    pub error: Option<String>,
    /// The result (secrets masked), or the one an error attached; absent
    /// when too large for a page.
    pub result: Option<Value>,
    /// The result was left out for its size.
    pub result_truncated: bool,
    /// When its action started.
    pub started_at: Option<f64>,
    /// When it ended.
    pub ended_at: f64,
    /// How long it took.
    pub duration_ms: Option<f64>,
}

/// A page of an instance's attempts, in the order they ended.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptPage {
    /// The attempts.
    pub attempts: Vec<AttemptJson>,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<u64>,
}

/// A node of the task graph, placed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GraphNode {
    /// Its index (edges name nodes by it).
    pub index: usize,
    /// `start`, `task` or `command`.
    pub kind: String,
    /// The task's name (or `start`, or the command's).
    pub name: String,
    /// `join: all`, `join: 2`, `with items`.
    pub marks: Vec<String>,
    /// The action a task runs.
    pub action: Option<String>,
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// Its layer, from the top.
    pub layer: usize,
}

/// An edge of the task graph, routed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GraphEdge {
    /// The node it leaves.
    pub from: usize,
    /// The node it reaches.
    pub to: usize,
    /// The transition's condition.
    pub when: Option<String>,
    /// The points it passes, `[x, y]`, from start to end.
    pub points: Vec<[f64; 2]>,
    /// It goes back up along a loop.
    pub back: bool,
    /// It leaves and reaches the same task.
    pub self_loop: bool,
}

/// A workflow's task graph, laid out top to bottom (the graph `weft graph`
/// prints).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GraphJson {
    /// The workflow's name.
    pub workflow: String,
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// The nodes.
    pub nodes: Vec<GraphNode>,
    /// The edges.
    pub edges: Vec<GraphEdge>,
}

/// What this server can do.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Capabilities {
    /// weft's version.
    pub version: String,
    /// The store, as `weft` names it in messages.
    pub store: String,
    /// `local` (runs go on in this process), `shared` (Postgres: workers
    /// run them) or `read_only`.
    pub mode: String,
    /// `POST /api/v1/runs` of a registered workflow.
    pub submit: bool,
    /// `POST /api/v1/runs` of YAML text.
    pub submit_yaml: bool,
    /// Cancel, pause and resume.
    pub commands: bool,
    /// Re-run.
    pub rerun: bool,
    /// Purge.
    pub purge: bool,
    /// Answering inquiries (`POST .../respond`).
    pub inquiries: bool,
    /// The workflows that can be submitted by name.
    pub workflows: Vec<String>,
}

/// An input of a registered workflow.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InputJson {
    /// Its name.
    pub name: String,
    /// It must be given.
    pub required: bool,
    /// Its value is masked wherever it is shown.
    pub secret: bool,
    /// Its default (masked for a secret).
    pub default: Option<Value>,
}

/// A workflow that can be submitted by name.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowJson {
    /// The name to submit it by.
    pub name: String,
    /// Its `description`.
    pub description: Option<String>,
    /// Its inputs.
    pub inputs: Vec<InputJson>,
}

/// The body of `POST /api/v1/runs`: a registered workflow by name, or
/// (when the server allows it) a workflow's YAML text.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// A registered workflow.
    pub workflow: Option<String>,
    /// A workflow's YAML text.
    pub yaml: Option<String>,
    /// The run's workflow name, for YAML text (default `workflow`).
    pub name: Option<String>,
    /// The inputs, by name.
    pub inputs: Option<Value>,
}

/// A run was started or submitted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// Its id.
    pub run_id: String,
    /// `running` (it runs in this process) or `queued` (submitted to the
    /// shared store: a worker will take it), as the run's own status says.
    pub status: String,
}

/// The body of `POST /api/v1/runs/{id}/rerun`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerunRequest {
    /// Re-run from these tasks; from those that failed the run or were
    /// canceled when empty.
    #[serde(default)]
    pub tasks: Vec<String>,
}

/// A command was delivered.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CommandAccepted {
    /// The run.
    pub run_id: String,
    /// `cancel`, `pause`, `resume`, `rerun` or `respond`.
    pub command: String,
    /// `here` (the run goes on in this process) or `store` (recorded for
    /// the process that holds the run, through the shared store).
    pub delivered: String,
}

/// The body of `POST /api/v1/purge`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Delete the runs that ended longer ago than this many seconds.
    pub older_than_seconds: u64,
}

/// What a purge deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PurgeResult {
    /// Runs deleted.
    pub purged: usize,
}

/// The body of `POST /api/v1/runs/{id}/tasks/{task}/respond`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RespondRequest {
    /// The answer.
    pub response: Value,
}

/// A task that waits for an answer (`GET /api/v1/runs/{id}/inquiries`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InquiryJson {
    /// The run.
    pub run_id: String,
    /// The waiting task: answer it at `POST /api/v1/runs/{id}/tasks/{task}/respond`.
    pub task: String,
    /// Its instance.
    pub instance: u32,
    /// Its item, for a task with `with` items.
    pub item: Option<u32>,
    /// The key a signal names it by.
    pub key: String,
    /// The JSON Schema an answer must match (any answer when null).
    pub schema: Option<Value>,
    /// What the task keeps beside the answer (for `core.ask`: schema,
    /// route, users, roles, ttl).
    pub details: Value,
    /// When it began to wait (seconds since the Unix epoch).
    pub since: f64,
    /// When it times out, if it does.
    pub deadline_at: Option<f64>,
}
