//! How SQLite's errors become [`StoreError`]s: each names the file, says
//! what the store was doing, and what to do about it.

use rusqlite::ErrorCode;
use weft_runtime::store::StoreError;

/// `error` while `doing` something with the store at `path`.
pub(crate) fn sql(path: &str, doing: &str, error: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite store {path}: {doing}: {}", explain(error)))
}

/// A failure that is not SQLite's (a file, a thread), at `path`.
pub(crate) fn other(path: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("sqlite store {path}: {what}"))
}

/// The path names a directory, not a database file.
pub(crate) fn is_a_directory(path: &str) -> StoreError {
    other(
        path,
        "is a directory: give the path of a database file (it is made if missing), \
         such as runs.db inside it",
    )
}

/// A journal or summary that cannot be read back.
pub(crate) fn damaged(path: &str, what: impl std::fmt::Display) -> StoreError {
    other(
        path,
        format!(
            "the file is damaged: {what}; move it aside and restore a backup, \
             or start a new file"
        ),
    )
}

fn explain(error: &rusqlite::Error) -> String {
    match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => format!(
            "the disk or the database is full ({error}): free space (or raise \
             SqliteOptions::max_size)"
        ),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => format!(
            "the file is damaged or is not a database ({error}): move it aside and \
             restore a backup, or start a new file"
        ),
        Some(ErrorCode::ReadOnly) => format!(
            "the file or its directory is read-only ({error}): weft writes the file \
             and a write-ahead log beside it; fix the permissions, or open the store \
             read-only to list runs"
        ),
        Some(ErrorCode::CannotOpen) => format!(
            "cannot open the file or its write-ahead log ({error}): the directory must \
             exist and be writable, since SQLite keeps `-wal` and `-shm` files beside \
             the database"
        ),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "the database stayed locked by another connection ({error}): check for a \
             process that holds it open"
        ),
        Some(ErrorCode::SystemIoFailure) => {
            format!("an i/o error ({error}): check the disk and the file's permissions")
        }
        Some(ErrorCode::PermissionDenied) => {
            format!("permission denied ({error}): check the file's permissions")
        }
        Some(ErrorCode::TooBig) => format!(
            "a record is too large for SQLite ({error}): keep action results under \
             a gigabyte"
        ),
        _ => error.to_string(),
    }
}
