//! The handlers of `/api/v1`: each parses its request, asks the store, the
//! snapshots or the executor, and answers JSON. Their `#[utoipa::path]`
//! attributes make the OpenAPI document. Reading runs is in [`runs`],
//! starting and steering them in [`commands`].

pub(crate) mod commands;
pub(crate) mod runs;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::Json;
use weft_runtime::RunId;

use crate::error::ApiError;

/// Results larger than this (as JSON text) are left out of pages.
pub(crate) const PAGE_RESULT_BYTES: usize = 16 * 1024;

/// Page sizes.
const MAX_PAGE: usize = 500;

pub(crate) fn run_id(text: &str) -> Result<RunId, ApiError> {
    text.parse()
        .map_err(|e: weft_runtime::ParseRunIdError| ApiError::bad_request(e.to_string()))
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("the query is not valid: {}", e.body_text())))
}

pub(crate) fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
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

pub(crate) fn page_size(limit: Option<usize>, default: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is out of range: give 1 to {MAX_PAGE}"
        ))),
    }
}

pub(crate) fn millis_of(seconds: f64, name: &str) -> Result<u64, ApiError> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok((seconds * 1000.0) as u64)
    } else {
        Err(ApiError::bad_request(format!(
            "`{name}` is seconds since 1970, such as 1767225600"
        )))
    }
}

pub(crate) fn read_only() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "read_only",
        "this server shows the store read-only (another process writes it): run commands \
         in the process that runs the runs, or serve the store from it",
    )
}
