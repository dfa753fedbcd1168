//! [`ApiError`]: every error the API answers with, as JSON.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use weft_runtime::store::StoreError;
use weft_runtime::{ResumeError, RunId, SharedError};

/// An error, as the API answers it: an HTTP status and
/// `{"error": {"code", "message", "details"}}`, where `message` is the
/// text the `weft` command prints for the same problem and each detail
/// one located error (a workflow's mistakes, each with its line, column,
/// task and field).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<ErrorDetail>,
}

/// The JSON body of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// A word a program can match on: `not_found`, `bad_request`,
    /// `unauthorized`, `invalid_workflow`, `invalid_inputs`, `conflict`,
    /// `read_only`, `forbidden`, `answer_rejected`, `too_large`,
    /// `store_unavailable`, `internal`.
    pub code: String,
    /// What went wrong and what to do, as the `weft` command says it.
    pub message: String,
    /// One entry per located error (a workflow with several mistakes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// One located error.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The whole line as the `weft` command prints it
    /// (`file:line:col: kind in task `t`, field `f`: message`).
    pub text: String,
    /// The message alone.
    pub message: String,
    /// The file (or the name of what was submitted).
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// The task it is about.
    pub task: Option<String>,
    /// The field it is about.
    pub field: Option<String>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: no such run (or page).
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 404 for a run the store does not have.
    pub fn no_run(id: RunId) -> ApiError {
        ApiError::not_found(StoreError::NotFound(id).to_string())
    }

    /// 409: the run is not in a state where this can be done.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A workflow that does not load or compile, or inputs that do not fit
    /// it (422), with every error located as the `weft` command prints it;
    /// `source` names the text (the registered workflow, or `<request>`
    /// for submitted text) where the error names no file.
    pub fn workflow(e: &weft_core::Error, source: &str) -> ApiError {
        let code = if e.kind() == weft_core::ErrorKind::Input {
            "invalid_inputs"
        } else {
            "invalid_workflow"
        };
        let details: Vec<ErrorDetail> = e.all().map(|one| detail(one, source)).collect();
        let mut message = details
            .first()
            .map(|d| d.text.clone())
            .unwrap_or_else(|| e.to_string());
        let more = details.len().saturating_sub(1) + e.omitted();
        if more > 0 {
            message.push_str(&format!(" (and {more} more)"));
        }
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message,
            details,
        }
    }
}

/// One error of a workflow, rebuilt alone (without "and N more") and with
/// the file filled in, as the `weft` command prints each line.
fn detail(e: &weft_core::Error, source: &str) -> ErrorDetail {
    let mut location = e.location().clone();
    if location.file.is_none() {
        location.file = Some(Arc::new(PathBuf::from(source)));
    }
    let mut one = weft_core::Error::new(e.kind(), e.message()).with_location(location.clone());
    if let Some(task) = e.task() {
        one = one.with_task(task);
    }
    if let Some(field) = e.field() {
        one = one.with_field(field);
    }
    ErrorDetail {
        text: one.to_string(),
        message: e.message().to_owned(),
        file: location.file.map(|f| f.display().to_string()),
        line: location.line,
        column: location.column,
        task: e.task().map(str::to_owned),
        field: e.field().map(str::to_owned),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(_) => ApiError::not_found(e.to_string()),
            StoreError::Fenced(_) | StoreError::Conflict(_) => ApiError::conflict(e.to_string()),
            _ => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                e.to_string(),
            ),
        }
    }
}

impl From<ResumeError> for ApiError {
    fn from(e: ResumeError) -> ApiError {
        match e {
            ResumeError::Store(s) => s.into(),
            ResumeError::NoStore => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                e.to_string(),
            ),
            ResumeError::Live(_) | ResumeError::Ended(..) | ResumeError::NotEnded(..) => {
                ApiError::conflict(e.to_string())
            }
            ResumeError::Unusable(..) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unusable", e.to_string())
            }
            ResumeError::SecretKey(..) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "secret_key",
                e.to_string(),
            ),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl From<SharedError> for ApiError {
    fn from(e: SharedError) -> ApiError {
        match e {
            SharedError::Store(s) => s.into(),
            SharedError::Workflow(w) => ApiError::workflow(&w, "workflow"),
            SharedError::Command(_) => ApiError::conflict(e.to_string()),
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorObject {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}
