//! Opening the file: the single-writer lock, SQLite's settings, the schema
//! and its migrations.
//!
//! The schema's version is kept in the file's header (`PRAGMA
//! user_version`) from version 1 on, and the file is marked as weft's
//! (`PRAGMA application_id`). Opening for writing applies the migrations
//! the file lacks, in one transaction; a file written by a newer weft is
//! refused, never changed.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use weft_runtime::store::StoreError;

use crate::error;
use crate::options::SqliteOptions;

/// The schema this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 6;

/// The oldest schema this build reads as it is, without migrating: what
/// versions 4 and 5 changed is how new rows are written, and rows of
/// version 3 read as before; a file before version 6 has no `runs_new`,
/// and its reads leave that table out (`read.rs`).
const READS_FROM: i64 = 3;

/// `PRAGMA application_id` of a weft file: "weft" in ASCII.
const APPLICATION_ID: i64 = 0x7765_6674;

/// `MIGRATIONS[n]` takes a file from version `n` to `n + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 1: a run's summary (with the next sequence number its journal takes)
    // and its journal, one row per append that touched it: the records of
    // that append as a JSON array, numbered first_seq..=last_seq, with the
    // CRC-32 of that text (SQLite checks its pages' structure, not their
    // content: a damaged byte inside a record would otherwise be read back
    // as a different record).
    "CREATE TABLE runs (
        id BLOB PRIMARY KEY NOT NULL,
        workflow TEXT NOT NULL,
        status TEXT NOT NULL,
        parent BLOB,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        ended_at INTEGER,
        next_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX runs_by_status ON runs (status, id);
    CREATE INDEX runs_by_end ON runs (ended_at) WHERE ended_at IS NOT NULL;
    CREATE TABLE journal (
        run BLOB NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        records TEXT NOT NULL,
        checksum INTEGER NOT NULL,
        PRIMARY KEY (run, first_seq)
    );",
    // 2: lists that page through many runs (`RunFilter::before`, newest
    // first) by workflow, or through top-level runs only, read an index in
    // id order instead of sorting every matching run.
    "CREATE INDEX runs_by_workflow ON runs (workflow, id);
    CREATE INDEX runs_top_level ON runs (id) WHERE parent IS NULL;",
    // 3: a workflow's text kept once for all the runs of it, in `texts`,
    // keyed by its SHA-256, with the CRC-32 of the text (as a journal
    // row's). A run started from now on names its text (`runs.text`), and
    // its `Started` record holds an empty `source`; the runs before keep
    // their text in the record (`runs.text` is NULL). The index finds
    // whether any run still names a text, for the purge.
    "CREATE TABLE texts (
        sha256 BLOB PRIMARY KEY NOT NULL,
        source TEXT NOT NULL,
        checksum INTEGER NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN text BLOB;
    CREATE INDEX runs_by_text ON runs (text) WHERE text IS NOT NULL;",
    // 4: a journal row's records may be packed: stored as a blob, their
    // JSON compressed with LZ4 (`pack.rs`), the checksum that of the
    // blob. A row stored as text is the JSON, as before; no row is
    // rewritten. The version says that the file may hold packed rows,
    // which a weft before it would refuse as damaged.
    "-- no table changes",
    // 5: a journal row's records in weft's binary form (`pack.rs`): a
    // blob whose first byte is the form's tag, the record of an attempt
    // that returned a result as a few numbers, every other record as its
    // JSON. Rows of versions 3 and 4 read as before; no row is rewritten.
    // The version keeps a weft before it, which would refuse such a row
    // as damaged, from opening the file.
    "-- no table changes",
    // 6: a new run's summary goes into `runs_new`, the same columns as
    // `runs` keyed by id and without indexes, so that its commit writes
    // none of the five indexes of `runs`; the writer moves the runs
    // waiting there into `runs` in a transaction of their own, all that
    // wait once a batch does (`write.rs`), and every read reads both tables. A weft before
    // it would not see the runs in `runs_new`.
    "CREATE TABLE runs_new (
        id BLOB PRIMARY KEY NOT NULL,
        workflow TEXT NOT NULL,
        status TEXT NOT NULL,
        parent BLOB,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        ended_at INTEGER,
        next_seq INTEGER NOT NULL,
        text BLOB
    ) WITHOUT ROWID;",
];

/// How long a connection waits for another's lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes the write-ahead log may hold before it is copied into the file
/// (by the writer thread after it has answered the commit: `write.rs`):
/// 1,024 pages of [`PAGE_SIZE`], 4,096 of a file made with SQLite's 4 KB.
pub(crate) const AUTOCHECKPOINT_BYTES: i64 = 16 << 20;

/// The page size of a new file unless [`SqliteOptions::page_size`] sets
/// another. SQLite's default is 4 KB; a journal's rows
/// are large (a run's records of a batch in one row, tens of KB to a few
/// MB), and each page costs the writer thread a write call into the log
/// and another into the file at the checkpoint: with 16 KB pages the
/// writer thread spends about a quarter less time on the same rows
/// (docs/performance.md, "SQLite pages of 16 KB"). A file keeps the page
/// size it was made with.
const PAGE_SIZE: i64 = 16 << 10;

/// Bytes the write-ahead log is cut back to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// How often, and how long apart, a writer tries again for a lock that is
/// held (see `lock`).
const LOCK_TRIES: u32 = 10;
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Whether a process holds the writer's lock of `file` now. `None` when it
/// cannot be told (the lock file cannot be opened).
///
/// The lock is an advisory `flock` the system drops when its holder dies,
/// however it dies, so no holder means no process writes the file. Asking
/// takes a shared lock for an instant; a writer that starts at that very
/// moment waits for it (`lock`).
pub(crate) fn has_writer(file: &Path) -> Option<bool> {
    let mut lock_file = file.as_os_str().to_owned();
    lock_file.push("-lock");
    let f = match File::open(&lock_file) {
        Ok(f) => f,
        // Never written by weft: no writer.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(false),
        Err(_) => return None,
    };
    match f.try_lock_shared() {
        Ok(()) => Some(false),
        Err(TryLockError::WouldBlock) => Some(true),
        Err(TryLockError::Error(_)) => None,
    }
}

/// The lock that makes this store the file's only writer: an exclusive
/// lock on a file beside it, held while the store is open and released by
/// the system when the process ends, however it ends.
pub(crate) fn lock(file: &Path, path: &str) -> Result<File, StoreError> {
    let mut lock_file = file.as_os_str().to_owned();
    lock_file.push("-lock");
    let lock_path = format!("{path}-lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_file)
        .map_err(|e| {
            error::other(
                path,
                format!(
                    "cannot create its lock file {lock_path} ({e}): the directory must be \
                     writable, since weft keeps a lock file and a write-ahead log beside \
                     the database"
                ),
            )
        })?;
    // A reader asking whether the file has a writer (`has_writer`) holds a
    // shared lock for an instant: wait that out before calling the file
    // taken.
    let mut tries = 0;
    let locked = loop {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) if tries < LOCK_TRIES => {
                tries += 1;
                std::thread::sleep(LOCK_RETRY);
            }
            other => break other,
        }
    };
    match locked {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(error::other(
            path,
            "in use by another process (or another store in this one): one process \
             writes a database file at a time; open it read-only to list its runs, or \
             give this process a file of its own",
        )),
        Err(TryLockError::Error(e)) => {
            Err(error::other(path, format!("cannot lock {lock_path} ({e})")))
        }
    }
}

/// The writer's connection: creates the file if needed, sets WAL mode and
/// the options, and brings the schema up to date.
pub(crate) fn open_writer(
    file: &Path,
    path: &str,
    options: &SqliteOptions,
) -> Result<Connection, StoreError> {
    let page = options.page_size.map_or(PAGE_SIZE, i64::from);
    if !(512..=65_536).contains(&page) || page.count_ones() != 1 {
        return Err(error::other(
            path,
            format!(
                "cannot be opened with pages of {page} bytes: SqliteOptions::page_size \
                 takes a power of two from 512 to 65,536"
            ),
        ));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(file, flags).map_err(|e| error::sql(path, "cannot open", e))?;
    // SQLite opens a file it may not write read-only, without a word.
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(error::other(
            path,
            "the file is read-only: weft writes its runs there; fix its permissions, or \
             open the store read-only to list runs",
        ));
    }
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| error::sql(path, "cannot configure", e))?;
    let version = check_header(&conn, path)?;
    if version == 0 {
        // Taken only before the first table is made, and before the file
        // is in write-ahead logging (a file made by SQLite in that mode
        // keeps its size).
        conn.pragma_update(None, "page_size", page)
            .map_err(|e| error::sql(path, "cannot set the page size", e))?;
    }
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| error::sql(path, "cannot switch to write-ahead logging", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(error::other(
            path,
            format!(
                "cannot switch to write-ahead logging (the journal mode stays `{mode}`): \
                 put the file on a local disk"
            ),
        ));
    }
    let set = |name: &str, value: &dyn rusqlite::ToSql| {
        conn.pragma_update(None, name, value)
            .map_err(|e| error::sql(path, &format!("cannot set {name}"), e))
    };
    set("synchronous", &options.synchronous.pragma())?;
    // What is deleted (a purge) is overwritten, not left readable in free
    // pages; the purge then checkpoints the log, so no copy stays there.
    set("secure_delete", &true)?;
    set("journal_size_limit", &WAL_SIZE_LIMIT)?;
    if let Some(bytes) = options.max_size {
        let page: i64 = conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .map_err(|e| error::sql(path, "cannot read the page size", e))?;
        let pages = (bytes / page.max(512) as u64).clamp(1, i64::MAX as u64) as i64;
        set("max_page_count", &pages)?;
    }
    if version < SCHEMA_VERSION {
        migrate(&mut conn, path)?;
    }
    check_tables(&conn, path)?;
    Ok(conn)
}

/// How a connection that only reads opens the file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ReadMode {
    /// Through the write-ahead log, as SQLite reads a WAL file: it sees
    /// what a writer commits, and uses (or, when they are missing, makes)
    /// `<file>-wal` and `<file>-shm`.
    Live,
    /// The main file alone, as an unchanging file (SQLite's
    /// `immutable=1`): no lock, no `-wal` or `-shm` made. Only right while
    /// no write-ahead log exists; see `SqliteStore::open_read_only`.
    Immutable,
}

/// A connection that only reads: the writer's companion, or the whole of a
/// store opened read-only.
pub(crate) fn open_reader(
    file: &Path,
    path: &str,
    mode: ReadMode,
) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match mode {
        ReadMode::Live => Connection::open_with_flags(file, flags),
        ReadMode::Immutable => {
            Connection::open_with_flags(immutable_uri(file), flags | OpenFlags::SQLITE_OPEN_URI)
        }
    }
    .map_err(|e| error::sql(path, "cannot open", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| error::sql(path, "cannot configure", e))?;
    let version = check_header(&conn, path)?;
    if version < READS_FROM {
        return Err(error::other(
            path,
            if version == 0 {
                "holds no runs yet (it has no weft schema): check the path, or open the \
                 store for writing once"
                    .to_owned()
            } else {
                format!(
                    "was written by an older weft (schema version {version}; this build \
                     reads versions {READS_FROM} to {SCHEMA_VERSION}): open it for writing \
                     once to migrate it, when no older weft writes it"
                )
            },
        ));
    }
    check_tables(&conn, path)?;
    Ok(conn)
}

/// Checks that the file is weft's (or a new, empty one) and not from a
/// newer weft; returns its schema version (0 for a new file).
fn check_header(conn: &Connection, path: &str) -> Result<i64, StoreError> {
    let read = |name: &str| -> Result<i64, StoreError> {
        conn.pragma_query_value(None, name, |row| row.get(0))
            .map_err(|e| error::sql(path, "cannot read it", e))
    };
    let app = read("application_id")?;
    let version = read("user_version")?;
    if app == 0 && version == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(|e| error::sql(path, "cannot read the schema", e))?;
        // A new file, or one that is not weft's.
        return if tables == 0 {
            Ok(0)
        } else {
            Err(not_weft(path))
        };
    }
    if app != APPLICATION_ID {
        return Err(not_weft(path));
    }
    if version > SCHEMA_VERSION {
        return Err(error::other(
            path,
            format!(
                "was written by a newer weft (schema version {version}; this build knows \
                 versions up to {SCHEMA_VERSION}): upgrade weft to open it"
            ),
        ));
    }
    Ok(version)
}

fn not_weft(path: &str) -> StoreError {
    error::other(
        path,
        "is a SQLite database of another application, not weft's: give weft a file of \
         its own",
    )
}

/// Applies the migrations the file lacks, in one transaction: a crash
/// part-way leaves the file as it was.
fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let fail = |e: rusqlite::Error| error::sql(path, "cannot migrate the schema", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail)?;
    // Read again under the write lock: another opener may have migrated it.
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(fail)?;
    if version > SCHEMA_VERSION {
        return Err(error::other(
            path,
            format!(
                "was written by a newer weft (schema version {version}; this build knows \
                 versions up to {SCHEMA_VERSION}): upgrade weft to open it"
            ),
        ));
    }
    for sql in MIGRATIONS.iter().skip(version.max(0) as usize) {
        tx.execute_batch(sql).map_err(fail)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(fail)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(fail)?;
    tx.commit().map_err(fail)
}

/// Reads the tables once, so a file whose schema pages are damaged is
/// refused when it is opened rather than at the first run.
fn check_tables(conn: &Connection, path: &str) -> Result<(), StoreError> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM runs LIMIT 1)),
                (SELECT count(*) FROM (SELECT 1 FROM journal LIMIT 1)),
                (SELECT count(*) FROM (SELECT 1 FROM texts LIMIT 1))",
        [],
        |_| Ok(()),
    )
    .map_err(|e| error::sql(path, "cannot read its tables", e))
}

/// `file:PATH?immutable=1`, every byte of the path but the plain ones
/// percent-encoded (a `?` or `#` in a name would end the path).
fn immutable_uri(file: &Path) -> String {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        file.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = file.to_string_lossy().into_owned().into_bytes();
    let mut uri = String::from("file:");
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Where SQLite keeps `file`'s write-ahead log (`<file>-wal`).
pub(crate) fn wal_path(file: &Path) -> std::path::PathBuf {
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// The file's name for messages: the path as given.
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}
