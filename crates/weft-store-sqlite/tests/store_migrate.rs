//! A file written by an earlier schema version is migrated when it is
//! opened for writing, and keeps its runs (which read and replay the same);
//! one opened read-only is told to be opened for writing once.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;
use weft_core::Workflow;
use weft_runtime::store::driver::conformance::{ended, entries, ok, started};
use weft_runtime::store::driver::group_batch;
use weft_runtime::store::{Entry, Record, RunFilter, Store};
use weft_runtime::{RunId, RunStatus};
use weft_store_sqlite::{SqliteStore, SCHEMA_VERSION};
use weft_test_support::durable::{builder, World, FLOW};

fn indexes(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' ORDER BY name")
        .unwrap();
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    names
}

#[tokio::test]
async fn a_version_one_file_gets_the_listing_indexes_and_keeps_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    let batch = entries(run, 0, vec![started("old", None, 1), ok(1)]);
    write_version_2(&path, &[&batch]);
    // As version 1 left it: without the indexes version 2 adds.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP INDEX runs_by_workflow; DROP INDEX runs_top_level;")
        .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);
    assert!(!indexes(&path).contains(&"runs_by_workflow".to_owned()));

    let e = SqliteStore::open_read_only(&path).unwrap_err().to_string();
    assert!(
        e.contains("older weft") && e.contains("open it for writing once"),
        "{e}"
    );

    let store = SqliteStore::open(&path).unwrap();
    let names = indexes(&path);
    for want in ["runs_by_status", "runs_by_workflow", "runs_top_level"] {
        assert!(
            names.contains(&want.to_owned()),
            "{want} missing from {names:?}"
        );
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    assert_eq!(store.load(run).await.unwrap(), batch);
    let listed = store
        .list(&RunFilter::all().workflow("old").top_level())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, run);
}

/// Schema version 2 as weft made it (migrations 1 and 2), for files
/// written as a weft of that version wrote them.
const VERSION_2: &str = "
    CREATE TABLE runs (
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
    );
    CREATE INDEX runs_by_workflow ON runs (workflow, id);
    CREATE INDEX runs_top_level ON runs (id) WHERE parent IS NULL;
    PRAGMA application_id = 2003134068; -- weft, in ASCII
    PRAGMA user_version = 2;";

/// A new file of schema version 2 at `path` holding `journals` (each a
/// run's first entries, one row each), as weft wrote them then: each
/// `Started` record holds its workflow's text.
fn write_version_2(path: &Path, journals: &[&[Entry]]) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(VERSION_2).unwrap();
    for journal in journals {
        for rb in group_batch("v2", journal).unwrap() {
            let mut summary = rb.start.clone().expect("a run's first row");
            for effect in &rb.effects {
                summary.follow(effect, 1);
            }
            let id = rb.run.as_uuid().as_bytes().to_vec();
            conn.execute(
                "INSERT INTO journal VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    id,
                    rb.first as i64,
                    rb.last as i64,
                    std::str::from_utf8(&rb.json).unwrap(),
                    crc32fast::hash(&rb.json)
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO runs VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    id,
                    summary.workflow,
                    summary.status.as_str(),
                    summary.started_at as i64,
                    summary.updated_at as i64,
                    summary.ended_at.map(|t| t as i64),
                    rb.last as i64 + 1
                ],
            )
            .unwrap();
        }
    }
}

/// The text a run names in the file (`runs.text`, or `runs_new.text`
/// while the run waits there), if any.
fn named_text(path: &Path, run: RunId) -> Option<Vec<u8>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(
        "SELECT text FROM runs WHERE id = ?1 UNION ALL SELECT text FROM runs_new WHERE id = ?1",
        [&run.as_uuid().as_bytes()[..]],
        |r| r.get(0),
    )
    .unwrap()
}

fn flow_text(entries: &[Entry]) -> &str {
    match &entries[0].record {
        Record::Started(start) => &start.source,
        other => panic!("a journal starts with {other:?}"),
    }
}

/// A run journaled by a weft of schema version 2 (its text in its
/// `Started` record) reads back and replays the same once the file is
/// upgraded, and goes on; runs started after the upgrade name their text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_two_file_reads_and_replays_the_same_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (new, old) = (dir.path().join("new.db"), dir.path().join("old.db"));
    let world = Arc::new(World::default());
    world.gate_open.store(true, Ordering::SeqCst);
    // A run to its end on a file of this version.
    let (id, journal, replayed) = {
        let store = Arc::new(SqliteStore::open(&new).unwrap());
        let ex = builder(&world).store(store.clone()).build();
        let plan = Workflow::from_yaml_str(FLOW)
            .and_then(|w| w.compile(&ex))
            .unwrap();
        let out = ex.start(&plan, json!({})).unwrap().await.unwrap();
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        ex.flush().await.unwrap();
        let journal = store.load(out.run_id).await.unwrap();
        let replayed = ex.inspect(out.run_id).await.unwrap();
        (out.run_id, journal, replayed)
    };
    assert_eq!(flow_text(&journal), FLOW);
    assert!(named_text(&new, id).is_some(), "the run names its text");

    // The same run, and the first half of another, as version 2 wrote
    // them.
    let other = RunId::new();
    let mut half = entries(other, 0, vec![started("old", None, 1), ok(1), ok(2)]);
    let rest = entries(other, 3, vec![ok(3), ended(RunStatus::Succeeded, 9)]);
    write_version_2(&old, &[&journal, &half]);

    let e = SqliteStore::open_read_only(&old).unwrap_err().to_string();
    assert!(
        e.contains("older weft") && e.contains("open it for writing once"),
        "{e}"
    );

    let store = Arc::new(SqliteStore::open(&old).unwrap());
    assert_eq!(store.load(id).await.unwrap(), journal);
    assert_eq!(named_text(&old, id), None, "the run keeps its text inline");
    let ex = builder(&world).store(store.clone()).build();
    let again = ex.inspect(id).await.unwrap();
    assert_eq!(
        (again.status, &again.output, again.errors.len()),
        (replayed.status, &replayed.output, replayed.errors.len())
    );
    assert_eq!(again.output, json!({"seen": 3, "fan": 3, "c": 3}));

    // The old run goes on; a new one of the same text names it.
    store.append(&rest).await.unwrap();
    half.extend(rest);
    assert_eq!(store.load(other).await.unwrap(), half);
    assert_eq!(named_text(&old, other), None);
    let fresh = RunId::new();
    let batch = entries(fresh, 0, vec![started("old", None, 2), ok(1)]);
    store.append(&batch).await.unwrap();
    assert_eq!(store.load(fresh).await.unwrap(), batch);
    assert!(named_text(&old, fresh).is_some());
    drop((ex, store));
    let reader = SqliteStore::open_read_only(&old).unwrap();
    assert_eq!(reader.load(id).await.unwrap(), journal);
    assert_eq!(reader.load(fresh).await.unwrap(), batch);
}
