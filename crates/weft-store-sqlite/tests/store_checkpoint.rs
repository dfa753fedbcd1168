//! The write-ahead log is copied back into the file as it fills (SQLite's
//! checkpoint, which the store's writer thread runs once it has answered
//! the commit that filled the log): the log does not grow without end, and
//! what was copied reads back whole.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use weft_runtime::store::driver::conformance::{attempt, entries, started};
use weft_runtime::store::{AttemptOutcome, Store};
use weft_runtime::RunId;
use weft_store_sqlite::SqliteStore;

/// About 24 MB of records in appends of about 1 MB: the log passes the
/// 16 MB at which it is copied into the file. Returns the records' count.
async fn fill(store: &SqliteStore, run: RunId) -> u64 {
    let mut next = 0u64;
    for _ in 0..24 {
        let mut records = Vec::new();
        if next == 0 {
            records.push(started("big", None, 1));
        }
        while records.len() < 1000 {
            let n = next + records.len() as u64;
            records.push(attempt(
                n,
                AttemptOutcome::Ok {
                    // Text LZ4 cannot shrink, each record's its own: the
                    // rows take the log's room as written.
                    result: Arc::new(json!({"n": n, "text": weft_test_support::noise(n, 1000)})),
                },
            ));
        }
        let batch = entries(run, next, records);
        next += batch.len() as u64;
        store.append(&batch).await.expect("append");
    }
    // Queued behind a checkpoint the last append may have left running.
    let one = entries(run, next, vec![attempt(next, AttemptOutcome::Dropped)]);
    store.append(&one).await.expect("append");
    next + 1
}

/// After [`fill`]: the log was copied into the file (it holds more than
/// 8 MB).
fn assert_copied_into_the_file(path: &Path) {
    let file = std::fs::metadata(path).expect("the file").len();
    assert!(
        file > 8 << 20,
        "the file holds {file} bytes after 24 MB of records: the log was not copied into it"
    );
}

fn page_size(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_query_value(None, "page_size", |row| row.get(0))
        .expect("page size")
}

#[tokio::test]
async fn the_log_is_copied_into_the_file_as_it_fills() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("checkpoint.db");
    let store = SqliteStore::open(&path).expect("store");
    let run = RunId::new();
    let records = fill(&store, run).await;
    assert_copied_into_the_file(&path);
    let journal = store.load(run).await.expect("load");
    assert_eq!(journal.len() as u64, records);
    drop(store);
    // Closed: the log is copied in and removed, and the file reads alone.
    assert!(!dir.path().join("checkpoint.db-wal").exists());
    let again = SqliteStore::open_read_only(&path).expect("read-only");
    assert_eq!(again.load(run).await.expect("load").len() as u64, records);
    drop(again);
    // A new file's pages are 16 KB.
    assert_eq!(page_size(&path), 16 << 10);
}

#[tokio::test]
async fn a_file_made_with_4k_pages_keeps_them_and_is_checkpointed_by_its_bytes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("small-pages.db");
    {
        // An empty file SQLite made in write-ahead logging with its
        // default pages, as weft's files were made before.
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "page_size", 4096)
            .expect("page size");
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .expect("wal");
        assert_eq!(mode, "wal");
    }
    let store = SqliteStore::open(&path).expect("store");
    let run = RunId::new();
    let records = fill(&store, run).await;
    assert_copied_into_the_file(&path);
    assert_eq!(store.load(run).await.expect("load").len() as u64, records);
    drop(store);
    assert_eq!(page_size(&path), 4096);
    let again = SqliteStore::open_read_only(&path).expect("read-only");
    assert_eq!(again.load(run).await.expect("load").len() as u64, records);
}

#[tokio::test]
async fn a_new_file_takes_the_page_size_its_options_give_and_a_bad_one_is_refused() {
    use weft_store_sqlite::SqliteOptions;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("small-pages.db");
    let store =
        SqliteStore::open_with(&path, &SqliteOptions::new().page_size(4096)).expect("store");
    let run = RunId::new();
    let batch = entries(run, 0, vec![started("small", None, 1)]);
    store.append(&batch).await.expect("append");
    drop(store);
    assert_eq!(page_size(&path), 4096);
    // A file that exists keeps its size.
    let store =
        SqliteStore::open_with(&path, &SqliteOptions::new().page_size(65_536)).expect("store");
    assert_eq!(store.load(run).await.expect("load").len(), 1);
    drop(store);
    assert_eq!(page_size(&path), 4096);
    for bad in [0, 1000, 256, 131_072] {
        let file = dir.path().join(format!("bad-{bad}.db"));
        let e = SqliteStore::open_with(&file, &SqliteOptions::new().page_size(bad))
            .expect_err("not a page size")
            .to_string();
        assert!(
            e.contains(&format!("pages of {bad} bytes")) && e.contains("power of two"),
            "{e}"
        );
        assert!(!file.exists(), "refused before the file is made");
    }
}
