//! How SQLite's errors become [`StoreError`]s: each names the file, says
//! what the store was doing, and what to do about it.

use rusqlite::ErrorCode;
use weft_runtime::store::StoreError;

/// `error` while `doing` something with the store at `path`; `error` is
/// kept as the source.
pub(crate) fn sql(path: &str, doing: &str, error: rusqlite::Error) -> StoreError {
    // SQLite reports a full disk as `SQLITE_FULL` only where it writes
    // pages; elsewhere (making the write-ahead log's index, say) it is a
    // plain i/o error or a file that cannot be opened, so the disk is
    // asked.
    let full = matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen)
    )
    .then(|| free_bytes(path))
    .flatten()
    .filter(|&free| free < NEARLY_FULL);
    let why = match full {
        Some(free) => format!(
            "the disk is full ({error}; {free} bytes are free where the file is): \
             free space, then try again"
        ),
        None => explain(&error),
    };
    StoreError::unavailable_from(format!("sqlite store {path}: {doing}: {why}"), error)
}

/// Free bytes below which a disk counts as full for SQLite: the index of
/// the write-ahead log alone takes 32 KiB, a page 4 KiB.
const NEARLY_FULL: u64 = 64 << 10;

/// The bytes free to this process on the disk that holds the file `path`
/// names (its directory, should the file not exist yet).
#[cfg(unix)]
fn free_bytes(path: &str) -> Option<u64> {
    let file = std::path::Path::new(path);
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let st = rustix::fs::statvfs(dir).ok()?;
    // `/proc` and its kind have no size and nothing free: not a full disk.
    if st.f_blocks == 0 {
        return None;
    }
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_path: &str) -> Option<u64> {
    None
}

/// A failure that is not SQLite's (a file, a thread), at `path`.
pub(crate) fn other(path: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::unavailable(format!("sqlite store {path}: {what}"))
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
