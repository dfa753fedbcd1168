//! Files a store cannot use: truncated, overwritten with garbage, from a
//! newer weft or another application, read-only, in a read-only
//! directory, full, or held by another writer. Each gives an error that
//! names the file and says what is wrong; none panics, none hangs.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use weft_runtime::store::driver::conformance::{attempt, ended, entries, ok, started};
use weft_runtime::store::{AttemptOutcome, Entry, RunFilter, Store, StoreError};
use weft_runtime::{RunId, RunStatus};
use weft_store_sqlite::{SqliteOptions, SqliteStore, SCHEMA_VERSION};

/// A small xorshift generator: the same garbage every run.
struct Garbage(u64);

impl Garbage {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 as u8
            })
            .collect()
    }
}

/// Journals of 40 runs, a few hundred kilobytes in all (of text that
/// packing does not shrink: the file keeps its size).
fn journals() -> Vec<Vec<Entry>> {
    (0..40)
        .map(|i| {
            let run = RunId::new();
            let mut records = vec![started(&format!("w{i}"), None, 1)];
            records.extend((1..30).map(|n| {
                let text = weft_test_support::noise(i * 100 + n, 200);
                attempt(
                    n,
                    AttemptOutcome::Ok {
                        result: Arc::new(json!({"n": n, "text": text})),
                    },
                )
            }));
            records.push(ended(RunStatus::Succeeded, 2));
            entries(run, 0, records)
        })
        .collect()
}

/// A closed store file holding `journals()`, and those journals.
async fn filled(dir: &Path) -> (PathBuf, Vec<Vec<Entry>>) {
    let path = dir.join("runs.db");
    let journals = journals();
    let store = SqliteStore::open(&path).unwrap();
    for j in &journals {
        store.append(j).await.unwrap();
    }
    drop(store);
    (path, journals)
}

/// Opens the file and reads everything in it; returns the first error,
/// after checking that everything read before it is what was written.
async fn read_all(path: &Path, journals: &[Vec<Entry>]) -> Option<StoreError> {
    let store = match SqliteStore::open(path) {
        Ok(s) => s,
        Err(e) => return Some(e),
    };
    if let Err(e) = store.list(&RunFilter::all()).await {
        return Some(e);
    }
    for j in journals {
        match store.load(j[0].run).await {
            Ok(got) => assert_eq!(&got, j, "a damaged file gave a different journal"),
            Err(e) => return Some(e),
        }
        if let Err(e) = store.get(j[0].run).await {
            return Some(e);
        }
    }
    None
}

fn assert_names_file(e: &StoreError, path: &Path, says: &str) {
    let msg = e.to_string();
    assert!(
        matches!(e, StoreError::Unavailable { .. }),
        "expected Unavailable: {e:?}"
    );
    assert!(
        msg.contains(&path.display().to_string()),
        "the message does not name the file: {msg}"
    );
    assert!(
        msg.contains(says),
        "the message does not say `{says}`: {msg}"
    );
}

#[tokio::test]
async fn a_truncated_file_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journals) = filled(dir.path()).await;
    let len = fs::metadata(&path).unwrap().len();
    assert!(len > 100_000, "the file is too small to cut: {len}");
    for keep in [len / 2, 4096 * 3, 100] {
        let copy = dir.path().join(format!("cut-{keep}.db"));
        fs::copy(&path, &copy).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&copy)
            .unwrap()
            .set_len(keep)
            .unwrap();
        let e = read_all(&copy, &journals)
            .await
            .unwrap_or_else(|| panic!("a file cut to {keep} bytes read back whole"));
        assert_names_file(&e, &copy, "damaged");
    }
}

#[tokio::test]
async fn a_file_with_garbage_over_its_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = filled(dir.path()).await;
    let mut f = OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all(&Garbage(7).bytes(100)).unwrap();
    drop(f);
    let e = SqliteStore::open(&path).unwrap_err();
    assert_names_file(&e, &path, "damaged or is not a database");
    let e = SqliteStore::open_read_only(&path).unwrap_err();
    assert_names_file(&e, &path, "damaged or is not a database");
}

#[tokio::test]
async fn a_file_with_garbage_over_its_pages_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journals) = filled(dir.path()).await;
    let pages = fs::metadata(&path).unwrap().len() / 4096;
    let mut garbage = Garbage(42);
    // Each try damages other pages of a fresh copy: structure or content.
    for attempt in 0..6u64 {
        let copy = dir.path().join(format!("garbage-{attempt}.db"));
        fs::copy(&path, &copy).unwrap();
        let mut f = OpenOptions::new().write(true).open(&copy).unwrap();
        for page in (1 + attempt..pages).step_by(6) {
            let at = u64::from(garbage.bytes(2)[0]) * 8;
            f.seek(SeekFrom::Start(page * 4096 + at)).unwrap();
            f.write_all(&garbage.bytes(64)).unwrap();
        }
        drop(f);
        // Whatever is read is what was written; what cannot be, fails.
        let e = read_all(&copy, &journals)
            .await
            .unwrap_or_else(|| panic!("garbage over pages went unnoticed (try {attempt})"));
        assert_names_file(&e, &copy, "damaged");
    }
}

/// The state a damaged `journal` b-tree leaves (seen with 64 bytes of
/// garbage over an interior page of a small file): the run's summary
/// reads, its records do not. Made here by deleting the rows behind the
/// store's back; `load` must call the file damaged, not the run missing.
#[tokio::test]
async fn a_run_whose_records_cannot_be_reached_reads_as_damaged_not_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journals) = filled(dir.path()).await;
    let run = journals[3][0].run;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let gone = conn
        .execute(
            "DELETE FROM journal WHERE run = ?1",
            [&run.as_uuid().as_bytes()[..]],
        )
        .unwrap();
    assert!(gone > 0);
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.get(run).await.unwrap().is_some());
    let e = store.load(run).await.unwrap_err();
    assert_names_file(&e, &path, "damaged");
    assert!(e.to_string().contains(&run.to_string()), "{e}");
    // A run that was never stored is still only missing.
    let never = RunId::new();
    assert!(matches!(
        store.load(never).await,
        Err(StoreError::NotFound(id)) if id == never
    ));
}

/// The mirror of the case above, a damaged `runs` b-tree: the run's
/// records read, its summary does not. `get` must not answer "no such
/// run" for a run whose records are there, and `load` must not give back
/// a journal whose workflow text (kept beside the summary) is gone.
/// Once with the summary waiting in `runs_new`, once moved into `runs`.
#[tokio::test]
async fn a_run_whose_summary_cannot_be_reached_reads_as_damaged_not_missing() {
    summary_gone_reads_as_damaged(None, "runs_new").await;
    summary_gone_reads_as_damaged(Some(1), "runs").await;
}

/// The case above, the file filled with a `move_batch` of `batch`, the
/// run's summary expected in `table`.
async fn summary_gone_reads_as_damaged(batch: Option<usize>, table: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let journals = journals();
    let mut options = SqliteOptions::new();
    if let Some(batch) = batch {
        options = options.move_batch(batch);
    }
    let store = SqliteStore::open_with(&path, &options).unwrap();
    for j in &journals {
        store.append(j).await.unwrap();
    }
    drop(store);
    let run = journals[5][0].run;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let gone: Vec<(&str, usize)> = ["runs", "runs_new"]
        .into_iter()
        .map(|t| {
            let n = conn
                .execute(
                    &format!("DELETE FROM {t} WHERE id = ?1"),
                    [&run.as_uuid().as_bytes()[..]],
                )
                .unwrap();
            (t, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(gone, [(table, 1)]);
    drop(conn);
    let store = SqliteStore::open_with(&path, &options).unwrap();
    let e = store.get(run).await.unwrap_err();
    assert_names_file(&e, &path, "damaged");
    assert!(e.to_string().contains(&run.to_string()), "{e}");
    let e = store.load(run).await.unwrap_err();
    assert_names_file(&e, &path, "damaged");
    assert!(e.to_string().contains(&run.to_string()), "{e}");
    // The other runs read as they were; one never stored is only missing.
    let other = journals[6][0].run;
    assert!(store.get(other).await.unwrap().is_some());
    assert_eq!(store.load(other).await.unwrap(), journals[6]);
    let never = RunId::new();
    assert!(store.get(never).await.unwrap().is_none());
    assert!(matches!(
        store.load(never).await,
        Err(StoreError::NotFound(id)) if id == never
    ));
}

#[tokio::test]
async fn a_file_from_a_newer_weft_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journals) = filled(dir.path()).await;
    let newer = SCHEMA_VERSION + 1;
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", newer).unwrap();
    drop(conn);
    let e = SqliteStore::open(&path).unwrap_err();
    assert_names_file(&e, &path, "newer weft");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("schema version {newer}"))
            && msg.contains(&format!("up to {SCHEMA_VERSION}")),
        "{msg}"
    );
    let e = SqliteStore::open_read_only(&path).unwrap_err();
    assert_names_file(&e, &path, "newer weft");
    // Untouched: an older weft put back in place reads it again.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, newer);
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .unwrap();
    drop(conn);
    assert!(read_all(&path, &journals).await.is_none());
}

#[tokio::test]
async fn a_database_of_another_application_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(conn);
    let e = SqliteStore::open(&path).unwrap_err();
    assert_names_file(&e, &path, "another application");
    // Nothing was added to it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[tokio::test]
async fn a_text_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(
        &path,
        "these are not the runs you are looking for\n".repeat(200),
    )
    .unwrap();
    let e = SqliteStore::open(&path).unwrap_err();
    assert_names_file(&e, &path, "not a database");
    assert!(fs::read_to_string(&path).unwrap().starts_with("these are"));
}

#[tokio::test]
async fn an_unavailable_store_keeps_sqlites_error_as_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(&path, "not a database\n".repeat(400)).unwrap();
    let e = SqliteStore::open(&path).unwrap_err();
    let source = std::error::Error::source(&e).unwrap_or_else(|| panic!("no source behind {e:?}"));
    let sqlite = source
        .downcast_ref::<rusqlite::Error>()
        .unwrap_or_else(|| panic!("the source is not SQLite's error: {source:?}"));
    assert_eq!(
        sqlite.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase),
        "{sqlite}"
    );
    // The message still says it all, for those who show only it.
    assert!(e.to_string().contains(&sqlite.to_string()), "{e}");
}

/// Makes a file or directory read-only to this process, root included
/// (through the immutable flag); undone when dropped.
#[cfg(unix)]
struct ReadOnly {
    path: PathBuf,
    mode: u32,
    immutable: bool,
}

#[cfg(unix)]
impl ReadOnly {
    fn new(path: &Path) -> ReadOnly {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).unwrap().permissions().mode();
        fs::set_permissions(path, fs::Permissions::from_mode(mode & !0o222)).unwrap();
        let mut guard = ReadOnly {
            path: path.to_owned(),
            mode,
            immutable: false,
        };
        if rustix::process::geteuid().is_root() {
            guard.set_immutable(true);
            guard.immutable = true;
        }
        guard
    }

    #[cfg(target_os = "linux")]
    fn set_immutable(&self, on: bool) {
        use rustix::fs::IFlags;
        let f = fs::File::open(&self.path).unwrap();
        let flags = rustix::fs::ioctl_getflags(&f).unwrap();
        let flags = if on {
            flags | IFlags::IMMUTABLE
        } else {
            flags - IFlags::IMMUTABLE
        };
        rustix::fs::ioctl_setflags(&f, flags).unwrap_or_else(|e| {
            panic!(
                "cannot make {} immutable ({e}): run the tests as a user other than root",
                self.path.display()
            )
        });
    }

    #[cfg(not(target_os = "linux"))]
    fn set_immutable(&self, _on: bool) {
        panic!("running as root: the tests cannot make a file read-only here");
    }
}

#[cfg(unix)]
impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            self.set_immutable(false);
        }
        let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(self.mode));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_file_is_refused_for_writing_and_read_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journals) = filled(dir.path()).await;
    let _ro = ReadOnly::new(&path);
    let e = SqliteStore::open(&path).unwrap_err();
    assert_names_file(&e, &path, "read-only");
    let store = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(
        store.load(journals[3][0].run).await.unwrap(),
        journals[3],
        "a read-only file is still read"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A new file in it.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let new = empty.join("runs.db");
    // An existing store in it, its lock file made when it was written.
    let full = dir.path().join("full");
    fs::create_dir(&full).unwrap();
    let (existing, _) = filled(&full).await;
    let _ro_empty = ReadOnly::new(&empty);
    let _ro_full = ReadOnly::new(&full);

    let e = SqliteStore::open(&new).unwrap_err();
    assert_names_file(&e, &new, "directory must be writable");
    assert!(!new.exists());
    let e = SqliteStore::open(&existing).unwrap_err();
    assert_names_file(&e, &existing, "directory must exist and be writable");
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_copy_in_a_read_only_directory_is_read_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journals) = filled(dir.path()).await;
    let copy_dir = dir.path().join("copy");
    fs::create_dir(&copy_dir).unwrap();
    let copy = copy_dir.join("runs.db");
    fs::copy(&path, &copy).unwrap();
    let _ro_file = ReadOnly::new(&copy);
    let _ro_dir = ReadOnly::new(&copy_dir);
    let store = SqliteStore::open_read_only(&copy).unwrap();
    assert_eq!(store.list(&RunFilter::all()).await.unwrap().len(), 40);
    assert_eq!(store.load(journals[5][0].run).await.unwrap(), journals[5]);
    drop(store);
    assert_eq!(names_in(&copy_dir), ["runs.db"]);
}

#[tokio::test]
async fn reading_a_store_leaves_no_file_that_a_writer_cannot_use() {
    // Reading a file without a write-ahead log used to make `-wal` and
    // `-shm` beside it, with the database file's permissions: read-only
    // ones after reading a 0444 file, which broke the next writer.
    let dir = tempfile::tempdir().unwrap();
    let (path, journals) = filled(dir.path()).await;
    let before = names_in(dir.path());
    assert!(!before
        .iter()
        .any(|n| n.ends_with("-wal") || n.ends_with("-shm")));
    {
        #[cfg(unix)]
        let _ro = ReadOnly::new(&path);
        let store = SqliteStore::open_read_only(&path).unwrap();
        assert_eq!(store.list(&RunFilter::all()).await.unwrap().len(), 40);
        assert_eq!(
            store.get(journals[0][0].run).await.unwrap().unwrap().status,
            RunStatus::Succeeded
        );
    }
    assert_eq!(names_in(dir.path()), before, "reading made files");
    let writer = SqliteStore::open(&path).unwrap();
    let run = RunId::new();
    writer
        .append(&entries(run, 0, vec![started("after", None, 1)]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reader_that_found_no_writer_sees_one_that_starts_later() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = filled(dir.path()).await;
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.list(&RunFilter::all()).await.unwrap().len(), 40);
    let writer = SqliteStore::open(&path).unwrap();
    let run = RunId::new();
    writer
        .append(&entries(run, 0, vec![started("later", None, 1)]))
        .await
        .unwrap();
    assert_eq!(
        reader.get(run).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    writer
        .append(&entries(run, 1, vec![ended(RunStatus::Succeeded, 5)]))
        .await
        .unwrap();
    assert_eq!(
        reader.get(run).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );
    // The writer closes and folds its log into the file; the reader still
    // reads it all.
    drop(writer);
    assert_eq!(reader.list(&RunFilter::all()).await.unwrap().len(), 41);
    let fresh = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(
        fresh.get(run).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );
}

#[tokio::test]
async fn a_directory_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let e = SqliteStore::open_read_only(dir.path()).unwrap_err();
    assert_names_file(&e, dir.path(), "is a directory");
    let e = SqliteStore::open(dir.path()).unwrap_err();
    assert_names_file(&e, dir.path(), "is a directory");
}

#[tokio::test]
async fn a_reader_tells_whether_a_process_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let writer = SqliteStore::open(&path).unwrap();
    assert_eq!(writer.has_writer(), Some(true));
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.has_writer(), Some(true));
    // Asking does not stop a writer from opening the file the moment the
    // last one is gone.
    drop(writer);
    assert_eq!(reader.has_writer(), Some(false));
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(reader.has_writer(), Some(true));
    drop(again);
    assert_eq!(reader.has_writer(), Some(false));
}

#[tokio::test]
async fn a_full_database_fails_appends_as_unavailable_and_keeps_what_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.db");
    let store = SqliteStore::open_with(&path, &SqliteOptions::new().max_size(256 * 1024)).unwrap();
    let first = entries(RunId::new(), 0, vec![started("small", None, 1), ok(1)]);
    store.append(&first).await.unwrap();
    // Each batch a run of ~40 KB, until the file is full.
    let mut appended = Vec::new();
    let error = loop {
        let run = RunId::new();
        let mut records = vec![started("filler", None, 1)];
        records.push(attempt(
            1,
            AttemptOutcome::Ok {
                result: Arc::new(json!(weft_test_support::noise(1, 40_000))),
            },
        ));
        records.push(ended(RunStatus::Succeeded, 10));
        let batch = entries(run, 0, records);
        match store.append(&batch).await {
            Ok(_) => appended.push(batch),
            Err(e) => break (e, batch),
        }
        assert!(appended.len() < 100, "a 256 KB database took 4 MB");
    };
    let (e, rejected) = error;
    assert_names_file(&e, &path, "the disk or the database is full");
    // Nothing of the failed batch; everything before it.
    assert!(matches!(
        store.load(rejected[0].run).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.load(first[0].run).await.unwrap(), first);
    for batch in &appended {
        assert_eq!(&store.load(batch[0].run).await.unwrap(), batch);
    }
    // Purging ended runs makes room again.
    let purged = store.purge(std::time::SystemTime::now()).await.unwrap();
    assert_eq!(purged, appended.len());
    store.append(&rejected).await.unwrap();
    assert_eq!(store.load(rejected[0].run).await.unwrap(), rejected);
}

/// Rows of `table` in the file at `path`.
fn rows(path: &Path, table: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// A full file whose runs are in both tables, some moved into `runs` and
/// some waiting in `runs_new`: the purge deletes the ended runs of both
/// before it needs a page, so that it makes room as the full-file error
/// suggests. Small pages, so that a move into `runs` cannot be done
/// without new ones.
#[tokio::test]
async fn purging_a_full_file_with_runs_waiting_makes_room_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.db");
    let options = SqliteOptions::new()
        .page_size(512)
        .max_size(160 * 1024)
        .move_batch(40);
    let store = SqliteStore::open_with(&path, &options).unwrap();
    let mut appended = Vec::new();
    let rejected = loop {
        let run = RunId::new();
        let records = vec![
            started("filler", None, 1),
            attempt(
                1,
                AttemptOutcome::Ok {
                    result: Arc::new(json!(weft_test_support::noise(appended.len() as u64, 600))),
                },
            ),
            ended(RunStatus::Succeeded, 10),
        ];
        let batch = entries(run, 0, records);
        match store.append(&batch).await {
            Ok(_) => appended.push(batch),
            Err(e) => {
                assert_names_file(&e, &path, "the disk or the database is full");
                break batch;
            }
        }
        assert!(appended.len() < 1_000, "a 160 KB database took 1,000 runs");
    };
    let (moved, waiting) = (rows(&path, "runs"), rows(&path, "runs_new"));
    assert!(moved > 0 && waiting > 0, "{moved} moved, {waiting} waiting");
    let purged = store.purge(std::time::SystemTime::now()).await.unwrap();
    assert_eq!(purged, appended.len());
    store.append(&rejected).await.unwrap();
    assert_eq!(store.load(rejected[0].run).await.unwrap(), rejected);
}

#[tokio::test]
async fn one_writer_per_file_while_readers_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let writer = SqliteStore::open(&path).unwrap();
    let run = RunId::new();
    writer
        .append(&entries(run, 0, vec![started("shared", None, 1), ok(1)]))
        .await
        .unwrap();

    let e = SqliteStore::open(&path).unwrap_err();
    assert_names_file(&e, &path, "in use by another process");

    // A reader lists the runs while the writer goes on.
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert!(reader.is_read_only());
    let listed = reader.list(&RunFilter::all()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, RunStatus::Running);
    writer
        .append(&entries(run, 2, vec![ended(RunStatus::Succeeded, 5)]))
        .await
        .unwrap();
    let status = reader.get(run).await.unwrap().unwrap().status;
    assert_eq!(status, RunStatus::Succeeded, "the reader sees new commits");
    let e = reader
        .append(&entries(RunId::new(), 0, vec![started("no", None, 1)]))
        .await
        .unwrap_err();
    assert_names_file(&e, &path, "opened read-only");
    let e = reader
        .purge(std::time::SystemTime::now())
        .await
        .unwrap_err();
    assert_names_file(&e, &path, "opened read-only");

    // Once the writer is gone, another may write.
    drop(writer);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.load(run).await.unwrap().len(), 3);
}

#[tokio::test]
async fn opening_a_missing_file_read_only_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let e = SqliteStore::open_read_only(&path).unwrap_err();
    assert_names_file(&e, &path, "cannot open it to read");
    assert!(!path.exists());
}

#[tokio::test]
async fn a_record_changed_in_the_file_is_refused_not_read_back_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    let journal = entries(
        run,
        0,
        vec![
            started("changed", None, 1),
            attempt(
                1,
                AttemptOutcome::Ok {
                    result: Arc::new(json!({"amount": 123456789})),
                },
            ),
        ],
    );
    let store = SqliteStore::open(&path).unwrap();
    store.append(&journal).await.unwrap();
    drop(store);
    // One digit changed: still valid JSON, still a valid page.
    let mut bytes = fs::read(&path).unwrap();
    let needle = b"\"amount\":123456789";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the record is in the file");
    bytes[at + needle.len() - 1] = b'8';
    fs::write(&path, bytes).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let e = store.load(run).await.unwrap_err();
    assert_names_file(&e, &path, "do not match their checksum");
}
