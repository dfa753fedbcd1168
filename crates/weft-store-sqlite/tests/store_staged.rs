//! A new run's summary waits in `runs_new` (schema version 6) until the
//! writer moves a batch of them into `runs`: every read answers the same
//! whichever table a run is in, before, across and after a move, and after
//! a purge; a version 5 file is migrated and its runs read with the new
//! ones.

use std::path::Path;
use std::time::{Duration, SystemTime};

use weft_runtime::store::driver::conformance::{ended, entries, started};
use weft_runtime::store::{RunFilter, Store};
use weft_runtime::{RunId, RunStatus};
use weft_store_sqlite::{SqliteOptions, SqliteStore, SCHEMA_VERSION};

/// A run as the test made it.
#[derive(Clone, Debug)]
struct Made {
    id: RunId,
    workflow: &'static str,
    top_level: bool,
    status: RunStatus,
}

/// Rows of `table` in the file.
fn count(path: &Path, table: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Appends run `i` of a mix of workflows, parents and statuses (every
/// fourth still running).
async fn make(store: &SqliteStore, i: usize, parent: Option<RunId>) -> Made {
    make_as(store, RunId::new(), i, parent).await
}

/// [`make`] with the id `id`.
async fn make_as(store: &SqliteStore, id: RunId, i: usize, parent: Option<RunId>) -> Made {
    let workflow = if i.is_multiple_of(3) {
        "nightly"
    } else {
        "hourly"
    };
    let parent = parent.filter(|_| i.is_multiple_of(5));
    let status = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Canceled,
    ][i % 4];
    let mut records = vec![started(workflow, parent, 1_000 + i as u64)];
    if status != RunStatus::Running {
        records.push(ended(status, 2_000 + i as u64));
    }
    store.append(&entries(id, 0, records)).await.unwrap();
    Made {
        id,
        workflow,
        top_level: parent.is_none(),
        status,
    }
}

/// Which runs a filter passes.
type Passes = Box<dyn Fn(&Made) -> bool>;

/// Every list (each filter, paged 7 at a time) and every `get` answers as
/// `made` says.
async fn reads_as_made(store: &SqliteStore, made: &[Made]) {
    let filters: Vec<(RunFilter, Passes)> = vec![
        (RunFilter::all(), Box::new(|_| true)),
        (
            RunFilter::all().statuses([RunStatus::Running]),
            Box::new(|m| m.status == RunStatus::Running),
        ),
        (
            RunFilter::all().statuses([RunStatus::Failed]),
            Box::new(|m| m.status == RunStatus::Failed),
        ),
        (
            RunFilter::all().statuses([RunStatus::Succeeded, RunStatus::Canceled]),
            Box::new(|m| matches!(m.status, RunStatus::Succeeded | RunStatus::Canceled)),
        ),
        (
            RunFilter::all().workflow("nightly"),
            Box::new(|m| m.workflow == "nightly"),
        ),
        (RunFilter::all().top_level(), Box::new(|m| m.top_level)),
    ];
    for (filter, passes) in filters {
        let mut want: Vec<RunId> = made.iter().filter(|m| passes(m)).map(|m| m.id).collect();
        want.sort();
        want.reverse();
        let mut got = Vec::new();
        let mut page = filter.clone().limit(7);
        loop {
            let runs = store.list(&page).await.unwrap();
            if runs.is_empty() {
                break;
            }
            assert!(runs.len() <= 7);
            page = filter.clone().limit(7).before(runs[runs.len() - 1].id);
            got.extend(runs.iter().map(|r| r.id));
        }
        assert_eq!(got, want, "{filter:?}");
    }
    for m in made {
        let summary = store.get(m.id).await.unwrap().expect("a stored run");
        assert_eq!(
            (
                summary.status,
                summary.workflow.as_str(),
                summary.parent.is_none()
            ),
            (m.status, m.workflow, m.top_level),
            "{m:?}"
        );
        assert_eq!(store.load(m.id).await.unwrap()[0].seq, 0);
    }
}

#[tokio::test]
async fn new_runs_read_the_same_before_across_and_after_their_move_into_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut made = Vec::new();
    for i in 0..10 {
        let parent = made.last().map(|m: &Made| m.id);
        made.push(make(&store, i, parent).await);
    }
    // Fewer than a batch: all wait in `runs_new`.
    assert_eq!((count(&path, "runs"), count(&path, "runs_new")), (0, 10));
    reads_as_made(&store, &made).await;

    for i in 10..70 {
        let parent = made.last().map(|m: &Made| m.id);
        made.push(make(&store, i, parent).await);
    }
    // The 64th run's commit moved the 64 into `runs` (after its answer,
    // before the next commit); six wait.
    assert_eq!((count(&path, "runs"), count(&path, "runs_new")), (64, 6));
    reads_as_made(&store, &made).await;

    // A running run of each table ends: its status changes where it is.
    for i in [4, 68] {
        store
            .append(&entries(
                made[i].id,
                1,
                vec![ended(RunStatus::Succeeded, 3_000)],
            ))
            .await
            .unwrap();
        made[i].status = RunStatus::Succeeded;
    }
    assert_eq!((count(&path, "runs"), count(&path, "runs_new")), (64, 6));
    reads_as_made(&store, &made).await;

    // Read by a store that only reads, from the file as it is.
    drop(store);
    let reader = SqliteStore::open_read_only(&path).unwrap();
    reads_as_made(&reader, &made).await;
    drop(reader);

    // The purge deletes the ended runs of both tables, then moves what
    // still waits.
    let store = SqliteStore::open(&path).unwrap();
    let future = SystemTime::now() + Duration::from_secs(3_600);
    let purged = store.purge(future).await.unwrap();
    made.retain(|m| m.status == RunStatus::Running);
    assert_eq!(purged, 70 - made.len());
    assert_eq!(count(&path, "runs_new"), 0);
    reads_as_made(&store, &made).await;
    for m in &made {
        assert!(store.get(m.id).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn a_version_five_file_is_migrated_and_its_runs_read_with_the_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut made = Vec::new();
    for i in 0..6 {
        made.push(make(&store, i, None).await);
    }
    drop(store);
    // As a weft of schema version 5 left it: every summary in `runs`, no
    // `runs_new`.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO runs SELECT * FROM runs_new;
         DROP TABLE runs_new;
         PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);

    // Read as it is by a store that only reads: not migrated.
    let reader = SqliteStore::open_read_only(&path).unwrap();
    reads_as_made(&reader, &made).await;
    drop(reader);
    let version = |path: &Path| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&path), 5);

    // Opened for writing: migrated; a run of the old file ends, new runs
    // wait in `runs_new`, and every read has them all.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!((version(&path), SCHEMA_VERSION), (6, 6));
    assert_eq!(count(&path, "runs_new"), 0);
    store
        .append(&entries(
            made[0].id,
            1,
            vec![ended(RunStatus::Failed, 3_000)],
        ))
        .await
        .unwrap();
    made[0].status = RunStatus::Failed;
    for i in 6..9 {
        made.push(make(&store, i, None).await);
    }
    assert_eq!((count(&path, "runs"), count(&path, "runs_new")), (6, 3));
    reads_as_made(&store, &made).await;
}

/// A purge deletes a workflow's text only when no run names it, in either
/// table: a running run still waiting in `runs_new` keeps the text of the
/// ended runs purged beside it.
#[tokio::test]
async fn a_text_named_by_a_waiting_run_outlives_a_purge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    // Runs 1 and 2 end, run 0 runs on; all of workflow "hourly" and
    // waiting in `runs_new`.
    let made = [
        make(&store, 4, None).await,
        make(&store, 1, None).await,
        make(&store, 2, None).await,
    ];
    assert_eq!(made[0].status, RunStatus::Running);
    assert!(made.iter().all(|m| m.workflow == "hourly"));
    assert_eq!((count(&path, "runs"), count(&path, "runs_new")), (0, 3));
    let before = store.load(made[0].id).await.unwrap();
    let future = SystemTime::now() + Duration::from_secs(3_600);
    assert_eq!(store.purge(future).await.unwrap(), 2);
    assert_eq!(count(&path, "texts"), 1);
    assert_eq!(store.load(made[0].id).await.unwrap(), before);
}

/// Ids rise in the order they are made, so runs appended in that order
/// leave every id of `runs_new` above those of `runs`. Here the ids are
/// made first and the runs appended newest first, two of every three
/// moved into `runs` and the third waiting: each list must merge ids of
/// both tables, interleaved, page after page.
#[tokio::test]
async fn lists_merge_interleaved_ids_of_both_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open_with(&path, &SqliteOptions::new().move_batch(20)).unwrap();
    let ids: Vec<RunId> = (0..30).map(|_| RunId::new()).collect();
    let mut made = Vec::new();
    for waits in [false, true] {
        for i in (0..30).rev().filter(|i| (i % 3 == 0) == waits) {
            let parent = (i > 0).then(|| ids[i - 1]);
            made.push(make_as(&store, ids[i], i, parent).await);
        }
    }
    assert_eq!((count(&path, "runs"), count(&path, "runs_new")), (20, 10));
    reads_as_made(&store, &made).await;
    drop(store);
    let reader = SqliteStore::open_read_only(&path).unwrap();
    reads_as_made(&reader, &made).await;
}

/// A store that reads a version 5 file through its write-ahead log (a
/// writer has it open) sees the runs of a version 6 writer that migrates
/// the file meanwhile: whether the file has `runs_new` is looked at again
/// until it has.
#[tokio::test]
async fn a_reader_sees_new_runs_once_a_writer_migrates_the_file_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut made = vec![make(&store, 1, None).await];
    drop(store);
    // As a weft of schema version 5 left it, and still open (its log
    // there): every summary in `runs`, no `runs_new`.
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "INSERT INTO runs SELECT * FROM runs_new;
         DROP TABLE runs_new;
         PRAGMA user_version = 5;",
    )
    .unwrap();
    let reader = SqliteStore::open_read_only(&path).unwrap();
    reads_as_made(&reader, &made).await;
    drop(old);

    let store = SqliteStore::open(&path).unwrap();
    made.push(make(&store, 2, None).await);
    assert_eq!((count(&path, "runs"), count(&path, "runs_new")), (1, 1));
    reads_as_made(&reader, &made).await;
}
