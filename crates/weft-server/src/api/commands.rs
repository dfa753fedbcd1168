//! Starting and steering runs: submit, cancel, pause, resume, re-run,
//! respond to an inquiry, purge.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use weft_core::{Plan, Workflow};
use weft_runtime::store::Command;
use weft_runtime::{RespondError, RunId, RunStatus};

use super::{body, read_only, run_id};
use crate::config::Mode;
use crate::error::{ApiError, ErrorBody};
use crate::model::*;
use crate::state::App;

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
                status: "queued".to_owned(),
            }
        }
        _ => {
            let run = ex.start(&plan, inputs).map_err(|e| match e.workflow() {
                Some(w) => ApiError::workflow(w, &source),
                None => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
            })?;
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

/// Answers a task that waits for a response (`core.ask`, an inquiry):
/// the answer is checked against the task's JSON Schema; accepted, the
/// task succeeds with `{"response": ...}` and the run goes on. A run that
/// no process runs (on SQLite) keeps the answer in its journal, applied
/// when it is resumed.
#[utoipa::path(post, path = "/api/v1/runs/{id}/tasks/{task}/respond", tag = "commands",
    params(("id" = String, Path, description = "The run's id"),
           ("task" = String, Path, description = "The task that waits")),
    request_body = RespondRequest,
    responses(
        (status = 202, description = "Taken", body = CommandAccepted),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "No such task waits, or the server is read-only", body = ErrorBody),
        (status = 422, description = "The answer does not match the schema; the task keeps waiting", body = ErrorBody),
    ))]
pub(crate) async fn respond(
    State(app): State<App>,
    Path((id, task)): Path<(String, String)>,
    b: Result<Json<RespondRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    let id = run_id(&id)?;
    let req = body(b)?;
    if app.mode == Mode::ReadOnly {
        return Err(read_only());
    }
    let ex = &app.config.executor;
    let delivered = if ex.run(id).is_some() {
        "here"
    } else {
        "store"
    };
    ex.respond(id, &task, req.response)
        .await
        .map_err(|e| match e {
            RespondError::Rejected(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "answer_rejected", m)
            }
            RespondError::NotWaiting(m) => ApiError::conflict(m),
            RespondError::UnknownRun(id) => ApiError::no_run(id),
            RespondError::Store(e) => e.into(),
            other => ApiError::bad_request(other.to_string()),
        })?;
    Ok(accepted(id, "respond", delivered))
}

/// The tasks of a run that wait for an answer, with what they wait for
/// (the schema an answer must match).
#[utoipa::path(get, path = "/api/v1/runs/{id}/inquiries", tag = "runs",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "What waits", body = Vec<InquiryJson>),
        (status = 404, description = "No such run", body = ErrorBody),
    ))]
pub(crate) async fn run_inquiries(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Vec<InquiryJson>>, ApiError> {
    let id = run_id(&id)?;
    let waits = app.config.executor.inquiries_of(id).await?;
    Ok(Json(
        waits
            .into_iter()
            .map(|w| InquiryJson {
                run_id: w.run.to_string(),
                task: w.task,
                instance: w.instance,
                item: w.item,
                key: w.wait.key,
                schema: w.wait.schema,
                details: Value::Object(w.wait.details),
                since: w.since as f64 / 1000.0,
                deadline_at: w.deadline_at.map(|d| d as f64 / 1000.0),
            })
            .collect(),
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
    app.snapshots.clear();
    Ok(Json(PurgeResult { purged }))
}
