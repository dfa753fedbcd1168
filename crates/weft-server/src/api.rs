//! The handlers of `/api/v1`: each parses its request, asks the store, the
//! snapshots or the executor, and answers JSON. Their `#[utoipa::path]`
//! attributes make the OpenAPI document.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::Value;
use weft_core::{Plan, Workflow};
use weft_runtime::store::{AttemptOutcome, Command, Record, RunFilter};
use weft_runtime::{RunId, RunStatus};

use crate::config::Mode;
use crate::error::{ApiError, ErrorBody};
use crate::model::*;
use crate::snapshot::{Snapshot, MAX_GROUPS};
use crate::state::App;

/// Results larger than this (as JSON text) are left out of pages.
const PAGE_RESULT_BYTES: usize = 16 * 1024;

/// Page sizes.
const MAX_PAGE: usize = 500;

fn run_id(text: &str) -> Result<RunId, ApiError> {
    text.parse()
        .map_err(|e: weft_runtime::ParseRunIdError| ApiError::bad_request(e.to_string()))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("the query is not valid: {}", e.body_text())))
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(b)| b).map_err(|e| match e {
        JsonRejection::BytesRejection(_) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is larger than this server takes (weft serve --max-body)",
            )
        }
        other => ApiError::new(
            other.status(),
            if other.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            },
            format!("the request body is not valid: {}", other.body_text()),
        ),
    })
}

fn page_size(limit: Option<usize>, default: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is out of range: give 1 to {MAX_PAGE}"
        ))),
    }
}

fn millis_of(seconds: f64, name: &str) -> Result<u64, ApiError> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok((seconds * 1000.0) as u64)
    } else {
        Err(ApiError::bad_request(format!(
            "`{name}` is seconds since 1970, such as 1767225600"
        )))
    }
}

fn read_only() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "read_only",
        "this server shows the store read-only (another process writes it): run commands \
         in the process that runs the runs, or serve the store from it",
    )
}

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
        inquiries: false,
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
    let entries = app
        .snapshots
        .store()?
        .load_from(id, q.cursor.unwrap_or(0))
        .await?;
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
                result.clone(),
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

/// Starts a run: a registered workflow by name, or YAML text when the
/// server allows it. On a shared store the run is submitted for a worker;
/// otherwise it runs in this process.
#[utoipa::path(post, path = "/api/v1/runs", tag = "commands", request_body = SubmitRequest,
    responses(
        (status = 202, description = "Started or submitted", body = Accepted),
        (status = 403, description = "YAML text is not allowed", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "The server is read-only", body = ErrorBody),
        (status = 422, description = "The workflow or the inputs are not valid", body = ErrorBody),
    ))]
pub(crate) async fn submit_run(
    State(app): State<App>,
    b: Result<Json<SubmitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let req = body(b)?;
    if app.mode == Mode::ReadOnly {
        return Err(read_only());
    }
    let ex = &app.config.executor;
    let (plan, source): (Plan, String) = match (&req.workflow, &req.yaml) {
        (Some(name), None) => match app.config.workflows.get(name) {
            Some(plan) => (plan.clone(), name.clone()),
            None => {
                let known: Vec<&str> = app.config.workflows.keys().map(String::as_str).collect();
                return Err(ApiError::not_found(if known.is_empty() {
                    format!("no workflow `{name}` is registered here (weft serve --workflows DIR registers them)")
                } else {
                    format!(
                        "no workflow `{name}` is registered here: one of {}",
                        known.join(", ")
                    )
                }));
            }
        },
        (None, Some(text)) => {
            if !app.config.allow_yaml {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "this server does not run workflow text it is sent: submit a registered \
                     workflow by name, or start weft serve with --allow-yaml",
                ));
            }
            let name = req.name.clone().unwrap_or_else(|| "workflow".to_owned());
            let plan = Workflow::from_yaml_str(text)
                .map(|w| w.with_name(name))
                .and_then(|w| w.compile(ex))
                .map_err(|e| ApiError::workflow(&e, "<request>"))?;
            (plan, "<request>".to_owned())
        }
        _ => {
            return Err(ApiError::bad_request(
                "give either `workflow` (a registered workflow's name) or `yaml` (its text)",
            ))
        }
    };
    let inputs = req
        .inputs
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let accepted = match app.mode {
        Mode::Shared => {
            let id = ex.submit(&plan, inputs).await.map_err(|e| match e {
                weft_runtime::SharedError::Workflow(w) => ApiError::workflow(&w, &source),
                other => other.into(),
            })?;
            Accepted {
                run_id: id.to_string(),
                status: "submitted".to_owned(),
            }
        }
        _ => {
            let run = ex
                .start(&plan, inputs)
                .map_err(|e| ApiError::workflow(&e, &source))?;
            // The run is in the store before its id is handed out, so that
            // a client can show it at once.
            ex.flush().await?;
            Accepted {
                run_id: run.id().to_string(),
                status: "running".to_owned(),
            }
        }
    };
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

fn accepted(id: RunId, command: &str, delivered: &str) -> (StatusCode, Json<CommandAccepted>) {
    (
        StatusCode::ACCEPTED,
        Json(CommandAccepted {
            run_id: id.to_string(),
            command: command.to_owned(),
            delivered: delivered.to_owned(),
        }),
    )
}

/// Cancel or pause: to the run here, or through the shared store to the
/// process that holds it.
async fn stop(
    app: &App,
    id: RunId,
    command: Command,
    name: &str,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    if app.mode == Mode::ReadOnly {
        return Err(read_only());
    }
    let store = app.snapshots.store()?;
    let summary = store.get(id).await?.ok_or_else(|| ApiError::no_run(id))?;
    if summary.status.is_terminal() {
        return Err(ApiError::conflict(format!(
            "run {id} has ended ({}): there is nothing to {name}",
            summary.status
        )));
    }
    if command == Command::Pause && summary.status != RunStatus::Running {
        return Err(ApiError::conflict(format!(
            "run {id} is {}: only a running run can be paused",
            summary.status
        )));
    }
    let ex = &app.config.executor;
    if ex.run(id).is_some() || app.mode == Mode::Shared {
        let here = ex.run(id).is_some();
        ex.command(id, command).await?;
        return Ok(accepted(id, name, if here { "here" } else { "store" }));
    }
    Err(ApiError::conflict(format!(
        "run {id} is not going on in this process: it was interrupted when the process that \
         ran it stopped (or another process runs it); resume it first (POST \
         /api/v1/runs/{id}/resume), then {name} it"
    )))
}

/// Cancels a run: nothing new starts, running actions finish.
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "commands",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "Delivered", body = CommandAccepted),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Not possible now (ended, interrupted, read-only)", body = ErrorBody),
    ))]
pub(crate) async fn cancel_run(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    stop(&app, run_id(&id)?, Command::Cancel, "cancel").await
}

/// Pauses a running run: running actions finish, nothing new starts until
/// it is resumed.
#[utoipa::path(post, path = "/api/v1/runs/{id}/pause", tag = "commands",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "Delivered", body = CommandAccepted),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Not possible now (not running, interrupted, read-only)", body = ErrorBody),
    ))]
pub(crate) async fn pause_run(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    stop(&app, run_id(&id)?, Command::Pause, "pause").await
}

/// Resumes a paused run, or (with a store of its own) one that was
/// interrupted when the process that ran it stopped.
#[utoipa::path(post, path = "/api/v1/runs/{id}/resume", tag = "commands",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 202, description = "Delivered", body = CommandAccepted),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Not possible now (ended, running, read-only)", body = ErrorBody),
    ))]
pub(crate) async fn resume_run(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    let id = run_id(&id)?;
    if app.mode == Mode::ReadOnly {
        return Err(read_only());
    }
    let store = app.snapshots.store()?;
    let summary = store.get(id).await?.ok_or_else(|| ApiError::no_run(id))?;
    if summary.status.is_terminal() {
        return Err(ApiError::conflict(format!(
            "run {id} has ended ({}): re-run it to run it again",
            summary.status
        )));
    }
    let paused = matches!(summary.status, RunStatus::Paused | RunStatus::Pausing);
    let ex = &app.config.executor;
    if ex.run(id).is_some() {
        if !paused {
            return Err(ApiError::conflict(format!(
                "run {id} is {}: only a paused run can be resumed",
                summary.status
            )));
        }
        ex.command(id, Command::Resume).await?;
        return Ok(accepted(id, "resume", "here"));
    }
    if app.mode == Mode::Shared {
        if !paused {
            return Err(ApiError::conflict(format!(
                "run {id} is {} in the process that holds it (a worker takes it over if that \
                 process is gone): only a paused run can be resumed",
                summary.status
            )));
        }
        ex.command(id, Command::Resume).await?;
        return Ok(accepted(id, "resume", "store"));
    }
    // Interrupted or paused, and nobody runs it: it goes on here.
    let run = ex.resume_run(id).await?;
    drop(run);
    Ok(accepted(id, "resume", "here"))
}

/// Runs an ended run again, in this process: from the named tasks, or from
/// those that failed it or were canceled.
#[utoipa::path(post, path = "/api/v1/runs/{id}/rerun", tag = "commands",
    params(("id" = String, Path, description = "The run's id")),
    request_body(content = Option<RerunRequest>, description = "The tasks to re-run from (optional)"),
    responses(
        (status = 202, description = "Re-running here", body = CommandAccepted),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Not possible now (not ended, held elsewhere, read-only)", body = ErrorBody),
    ))]
pub(crate) async fn rerun_run(
    State(app): State<App>,
    Path(id): Path<String>,
    b: Result<Json<RerunRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    let id = run_id(&id)?;
    let req = match b {
        Err(JsonRejection::MissingJsonContentType(_)) => RerunRequest::default(),
        other => body(other)?,
    };
    if app.mode == Mode::ReadOnly {
        return Err(read_only());
    }
    let tasks: Vec<&str> = req.tasks.iter().map(String::as_str).collect();
    let run = app.config.executor.rerun(id, &tasks).await?;
    drop(run);
    Ok(accepted(id, "rerun", "here"))
}

/// Answers a task that waits for a response (an inquiry). Not available
/// yet: weft has no durable waits; this answers 501 until it does.
#[utoipa::path(post, path = "/api/v1/runs/{id}/tasks/{task}/respond", tag = "commands",
    params(("id" = String, Path, description = "The run's id"),
           ("task" = String, Path, description = "The task that waits")),
    request_body = RespondRequest,
    responses((status = 501, description = "Inquiries are not available yet", body = ErrorBody)))]
pub(crate) async fn respond(
    Path((id, _task)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    run_id(&id)?;
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not_implemented",
        "inquiries are not available yet: weft has no tasks that wait for a response \
         (GET /api/v1 says `inquiries: false`)",
    ))
}

/// Deletes the runs that ended longer ago than a time, with their
/// journals.
#[utoipa::path(post, path = "/api/v1/purge", tag = "commands", request_body = PurgeRequest,
    responses(
        (status = 200, description = "Purged", body = PurgeResult),
        (status = 409, description = "The server is read-only", body = ErrorBody),
    ))]
pub(crate) async fn purge(
    State(app): State<App>,
    b: Result<Json<PurgeRequest>, JsonRejection>,
) -> Result<Json<PurgeResult>, ApiError> {
    let req = body(b)?;
    if app.mode == Mode::ReadOnly {
        return Err(read_only());
    }
    let before = SystemTime::now()
        .checked_sub(Duration::from_secs(req.older_than_seconds))
        .unwrap_or(UNIX_EPOCH);
    let purged = app.snapshots.store()?.purge(before).await?;
    Ok(Json(PurgeResult { purged }))
}
