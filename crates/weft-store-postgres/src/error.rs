//! How Postgres's errors become [`StoreError`]s: each names the server and
//! says what the store was doing.

use weft_runtime::store::{driver, StoreError};
use weft_runtime::RunId;

/// `error` while `doing` something with the store at `at`; `error` is kept
/// as the source.
pub(crate) fn sql(at: &str, doing: &str, error: tokio_postgres::Error) -> StoreError {
    let detail = match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    };
    let hint = if error.is_closed() || error.as_db_error().is_none() {
        ": is the server up and reachable?"
    } else {
        ""
    };
    StoreError::unavailable_from(
        format!("postgres store {at}: {doing}: {detail}{hint}"),
        error,
    )
}

/// A connection could not be had from the pool; `error` is kept as the
/// source.
pub(crate) fn pool(at: &str, doing: &str, error: deadpool_postgres::PoolError) -> StoreError {
    StoreError::unavailable_from(
        format!(
            "postgres store {at}: {doing}: no connection ({error}): is the server up and reachable?"
        ),
        error,
    )
}

/// Anything else, at `at`.
pub(crate) fn other(at: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::unavailable(format!("postgres store {at}: {what}"))
}

/// What is stored cannot be read back.
pub(crate) fn damaged(at: &str, what: impl std::fmt::Display) -> StoreError {
    other(
        at,
        format!("a stored value cannot be read ({what}): was it written by another program?"),
    )
}

/// How errors name the store at `at`.
pub(crate) fn store_name(at: &str) -> String {
    format!("postgres store {at}")
}

pub(crate) fn out_of_sequence(at: &str, run: RunId, seq: u64, previous: i128) -> StoreError {
    driver::out_of_sequence(&store_name(at), run, seq, previous)
}

pub(crate) fn one_start(at: &str, run: RunId) -> StoreError {
    driver::second_start(&store_name(at), run)
}
