//! A file written by an earlier schema version is migrated when it is
//! opened for writing, and keeps its runs; one opened read-only is told to
//! be opened for writing once.

use std::sync::Arc;

use weft_runtime::store::driver::conformance::{entries, ok, started};
use weft_runtime::store::{RunFilter, Store};
use weft_runtime::RunId;
use weft_store_sqlite::{SqliteStore, SCHEMA_VERSION};

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
    {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let batch = entries(run, 0, vec![started("old", None, 1), ok(1)]);
        store.append(&batch).await.unwrap();
    }
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
    assert_eq!(store.load(run).await.unwrap().len(), 2);
    let listed = store
        .list(&RunFilter::all().workflow("old").top_level())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, run);
}
