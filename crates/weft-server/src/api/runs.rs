//! Reading runs: the server's capabilities and workflows, lists of runs,
//! one run, its instances, attempts, graph and live events.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::Value;
use weft_runtime::store::{AttemptOutcome, Record, RunFilter};
use weft_runtime::{RunId, RunStatus};

use super::{millis_of, page_size, query, run_id, PAGE_RESULT_BYTES};
use crate::config::Mode;
use crate::error::{ApiError, ErrorBody};
use crate::model::*;
use crate::snapshot::{Snapshot, MAX_GROUPS};
use crate::state::App;

/// What this server can do.
#[utoipa::path(get, path = "/api/v1", tag = "server",
    responses((status = 200, description = "The server's capabilities", body = Capabilities)))]
pub(crate) async fn capabilities(State(app): State<App>) -> Json<Capabilities> {
    let mode = app.mode;
    let writable = mode != Mode::ReadOnly;
    Json(Capabilities {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        store: app
            .config
            .executor
            .store()
            .map(|s| s.describe())
            .unwrap_or_else(|| "none".to_owned()),
        mode: mode.as_str().to_owned(),
        submit: writable && !app.config.workflows.is_empty(),
        submit_yaml: writable && app.config.allow_yaml,
        commands: writable,
        rerun: writable,
        purge: writable,
        inquiries: writable,
        workflows: app.config.workflows.keys().cloned().collect(),
    })
}

/// The workflows that can be submitted by name.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "server",
    responses((status = 200, description = "Registered workflows", body = Vec<WorkflowJson>)))]
pub(crate) async fn workflows(State(app): State<App>) -> Json<Vec<WorkflowJson>> {
    Json(
        app.config
            .workflows
            .iter()
            .map(|(name, plan)| WorkflowJson {
                name: name.clone(),
                description: plan.description().map(str::to_owned),
                inputs: plan
                    .inputs()
                    .iter()
                    .map(|i| InputJson {
                        name: i.name.clone(),
                        required: i.default.is_none(),
                        secret: i.secret,
                        default: i.default.as_ref().map(|d| {
                            if i.secret {
                                Value::String("********".to_owned())
                            } else {
                                d.clone()
                            }
                        }),
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// Lists runs, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(ListQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 400, description = "A parameter is not valid", body = ErrorBody),
    ))]
pub(crate) async fn list_runs(
    State(app): State<App>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RunPage>, ApiError> {
    let q = query(q)?;
    let limit = page_size(q.limit, 50)?;
    let mut filter = RunFilter::all();
    if let Some(s) = q.status.as_deref().filter(|s| !s.trim().is_empty()) {
        let statuses = s
            .split(',')
            .map(|one| one.parse::<RunStatus>().map_err(ApiError::bad_request))
            .collect::<Result<Vec<_>, _>>()?;
        filter = filter.statuses(statuses);
    }
    if let Some(w) = q.workflow.filter(|w| !w.is_empty()) {
        filter = filter.workflow(w);
    }
    if q.top_level.unwrap_or(false) {
        filter = filter.top_level();
    }
    let since = q.since.map(|s| millis_of(s, "since")).transpose()?;
    let until = q.until.map(|s| millis_of(s, "until")).transpose()?;
    filter = filter.started_between(since, until);
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        filter = filter.before(run_id(c)?);
    }
    // One more than a page says whether another page follows.
    filter = filter.limit(limit + 1);
    let mut runs = app.snapshots.store()?.list(&filter).await?;
    let more = runs.len() > limit;
    runs.truncate(limit);
    let next_cursor = if more {
        runs.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(Json(RunPage {
        runs: runs.iter().map(RunSummaryJson::from).collect(),
        next_cursor,
    }))
}

/// What can be done with a run now, here.
fn allowed(app: &App, s: &Snapshot, id: RunId) -> AllowedJson {
    let status = s.status();
    let live = app.config.executor.run(id).is_some();
    match app.mode {
        Mode::ReadOnly => AllowedJson {
            cancel: false,
            pause: false,
            resume: false,
            rerun: false,
        },
        mode => {
            let shared = mode == Mode::Shared;
            let going = !status.is_terminal();
            AllowedJson {
                cancel: going && (live || shared) && status != RunStatus::Canceling,
                pause: status == RunStatus::Running && (live || shared),
                resume: matches!(status, RunStatus::Paused | RunStatus::Pausing)
                    || (going && !live && !shared),
                rerun: status.is_terminal(),
            }
        }
    }
}

/// One run: inputs (secrets masked), output, errors, its tasks with their
/// instances taken together, its sub-workflow runs.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 404, description = "No such run", body = ErrorBody),
    ))]
pub(crate) async fn get_run(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let id = run_id(&id)?;
    let s = app.snapshots.get(id).await?;
    let (children, children_total) = s.children();
    let mut summary = RunSummaryJson::from(&s.summary);
    summary.status = s.status().as_str().to_owned();
    Ok(Json(RunDetail {
        summary,
        inputs: s.inputs.clone(),
        output: s.outcome.output.clone(),
        errors: s.errors(),
        stats: StatsJson {
            tasks_run: s.outcome.stats.tasks_run,
            actions_run: s.outcome.stats.actions_run,
            duration_ms: match s.summary.ended_at {
                Some(end) => end.saturating_sub(s.summary.started_at) as f64,
                None => s.outcome.stats.duration.as_secs_f64() * 1000.0,
            },
        },
        routes: s.outcome.routes.clone(),
        tasks: s.groups.iter().take(MAX_GROUPS).cloned().collect(),
        tasks_total: s.groups.len(),
        instances: s.outcome.tasks.len(),
        children,
        children_total,
        records: s.records,
        allowed: allowed(&app, &s, id),
    }))
}

fn secs(t: Option<SystemTime>) -> Option<f64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as f64 / 1000.0)
}

fn instance_json(t: &weft_runtime::TaskRecord, max_result: usize) -> InstanceJson {
    let text = t
        .result
        .as_deref()
        .map(|r| serde_json::to_string(r).unwrap_or_default());
    let result_bytes = text.as_ref().map_or(0, String::len);
    let result_truncated = result_bytes > max_result;
    InstanceJson {
        instance: t.instance,
        task: t.name.to_string(),
        route: t.route,
        status: t.status.as_str().to_owned(),
        attempts: t.attempts,
        items: t.items,
        started_at: secs(t.started_at),
        ended_at: secs(t.ended_at),
        duration_ms: t.duration().map(|d| d.as_secs_f64() * 1000.0),
        error: t.error.clone(),
        result: if result_truncated {
            None
        } else {
            t.result.as_deref().cloned()
        },
        result_bytes,
        result_truncated,
        child_runs: t.child_runs.iter().map(ToString::to_string).collect(),
    }
}

/// A run's task instances, in creation order, a page at a time.
#[utoipa::path(get, path = "/api/v1/runs/{id}/instances", tag = "runs",
    params(("id" = String, Path, description = "The run's id"), InstancesQuery),
    responses(
        (status = 200, description = "A page of instances", body = InstancePage),
        (status = 404, description = "No such run", body = ErrorBody),
    ))]
pub(crate) async fn list_instances(
    State(app): State<App>,
    Path(id): Path<String>,
    q: Result<Query<InstancesQuery>, QueryRejection>,
) -> Result<Json<InstancePage>, ApiError> {
    let id = run_id(&id)?;
    let q = query(q)?;
    let limit = page_size(q.limit, 50)?;
    let s = app.snapshots.get(id).await?;
    let task = q.task.filter(|t| !t.is_empty());
    let status = q.status.filter(|t| !t.is_empty());
    let passes = |t: &&weft_runtime::TaskRecord| {
        task.as_deref().is_none_or(|n| *t.name == *n)
            && status.as_deref().is_none_or(|st| t.status.as_str() == st)
    };
    let total = s.outcome.tasks.iter().filter(passes).count();
    let from = q.cursor.map_or(0, |c| c as usize);
    let mut page: Vec<InstanceJson> = s
        .outcome
        .tasks
        .iter()
        .skip(from)
        .filter(passes)
        .take(limit + 1)
        .map(|t| instance_json(t, PAGE_RESULT_BYTES))
        .collect();
    let next_cursor = if page.len() > limit {
        page.pop();
        page.last().map(|i| i.instance + 1)
    } else {
        None
    };
    Ok(Json(InstancePage {
        instances: page,
        total,
        next_cursor,
    }))
}

/// One task instance, with its whole result.
#[utoipa::path(get, path = "/api/v1/runs/{id}/instances/{instance}", tag = "runs",
    params(("id" = String, Path, description = "The run's id"),
           ("instance" = u32, Path, description = "The instance's number")),
    responses(
        (status = 200, description = "The instance", body = InstanceJson),
        (status = 404, description = "No such run or instance", body = ErrorBody),
    ))]
pub(crate) async fn get_instance(
    State(app): State<App>,
    Path((id, instance)): Path<(String, u32)>,
) -> Result<Json<InstanceJson>, ApiError> {
    let id = run_id(&id)?;
    let s = app.snapshots.get(id).await?;
    let t = s
        .outcome
        .tasks
        .get(instance as usize)
        .ok_or_else(|| no_instance(id, instance, s.outcome.tasks.len()))?;
    Ok(Json(instance_json(t, usize::MAX)))
}

fn no_instance(id: RunId, instance: u32, count: usize) -> ApiError {
    ApiError::not_found(format!(
        "run {id} has no task instance {instance}: its instances are 0 to {}",
        count as i64 - 1
    ))
}

/// The attempts of one task instance (each item's, for a `with` task), as
/// its journal recorded their ends, a page at a time.
#[utoipa::path(get, path = "/api/v1/runs/{id}/instances/{instance}/attempts", tag = "runs",
    params(("id" = String, Path, description = "The run's id"),
           ("instance" = u32, Path, description = "The instance's number"),
           AttemptsQuery),
    responses(
        (status = 200, description = "A page of attempts", body = AttemptPage),
        (status = 404, description = "No such run or instance", body = ErrorBody),
    ))]
pub(crate) async fn list_attempts(
    State(app): State<App>,
    Path((id, instance)): Path<(String, u32)>,
    q: Result<Query<AttemptsQuery>, QueryRejection>,
) -> Result<Json<AttemptPage>, ApiError> {
    let id = run_id(&id)?;
    let q = query(q)?;
    let limit = page_size(q.limit, 100)?;
    let s = app.snapshots.get(id).await?;
    if instance as usize >= s.outcome.tasks.len() {
        return Err(no_instance(id, instance, s.outcome.tasks.len()));
    }
    let mut entries = app
        .snapshots
        .store()?
        .load_from(id, q.cursor.unwrap_or(0))
        .await?;
    app.snapshots.open_secrets(&mut entries)?;
    let mut attempts = Vec::new();
    let mut next_cursor = None;
    for e in &entries {
        let Record::Attempt(a) = &e.record else {
            continue;
        };
        if a.instance != instance {
            continue;
        }
        if attempts.len() == limit {
            next_cursor = Some(e.seq);
            break;
        }
        let (outcome, error, result) = match &a.outcome {
            AttemptOutcome::Ok { result } => ("succeeded", None, Some((**result).clone())),
            AttemptOutcome::Err {
                message,
                result,
                canceled,
            } => (
                if *canceled { "canceled" } else { "failed" },
                Some(message.clone()),
                result.as_deref().cloned(),
            ),
            AttemptOutcome::TimedOut { seconds } => (
                "timed_out",
                Some(format!("timed out after {seconds} s")),
                None,
            ),
            AttemptOutcome::Panicked { message } => ("panicked", Some(message.clone()), None),
            AttemptOutcome::Dropped => ("dropped", None, None),
            _ => ("failed", None, None),
        };
        let result = result.map(|r| s.mask.value(&r));
        let too_big = result
            .as_ref()
            .is_some_and(|r| serde_json::to_string(r).map_or(0, |t| t.len()) > PAGE_RESULT_BYTES);
        attempts.push(AttemptJson {
            seq: e.seq,
            item: a.item,
            attempt: a.attempt,
            outcome: outcome.to_owned(),
            error: error.map(|m| s.mask.text(&m).into_owned()),
            result: if too_big { None } else { result },
            result_truncated: too_big,
            started_at: a.started_at.map(seconds),
            ended_at: seconds(a.ended_at),
            duration_ms: a.started_at.map(|st| a.ended_at.saturating_sub(st) as f64),
        });
    }
    Ok(Json(AttemptPage {
        attempts,
        next_cursor,
    }))
}

/// A run's task graph, laid out: the graph `weft graph` prints.
#[utoipa::path(get, path = "/api/v1/runs/{id}/graph", tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The laid-out graph", body = GraphJson),
        (status = 404, description = "No such run", body = ErrorBody),
    ))]
pub(crate) async fn get_graph(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<GraphJson>, ApiError> {
    let id = run_id(&id)?;
    let s = app.snapshots.get(id).await?;
    let compiled = s.compiled.clone();
    // Laying out 10,000 tasks takes a while: not on the async threads.
    let graph = tokio::task::spawn_blocking(move || {
        compiled
            .graph
            .get_or_init(|| crate::graph::graph(&compiled.plan))
            .clone()
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(Json(graph))
}

/// A run's events, live, from its journal (Server-Sent Events): `record`
/// per journal record (its sequence number is the event id), `state` with
/// the tasks that changed, `end` once the run has ended. Resumes after the
/// record named by `Last-Event-ID`.
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "The run's id"),
           ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this record")),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such run", body = ErrorBody),
    ))]
pub(crate) async fn events(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let id = run_id(&id)?;
    let after = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID is a journal record number, such as 41")
                })?,
        ),
    };
    app.hub.follow(id, after).await
}
