//! The write-ahead log is copied back into the file as it fills (SQLite's
//! checkpoint, which the store's writer thread runs once it has answered
//! the commit that filled the log): the log does not grow without end, and
//! what was copied reads back whole.

use std::sync::Arc;

use serde_json::json;
use weft_runtime::store::driver::conformance::{attempt, entries, started};
use weft_runtime::store::{AttemptOutcome, Store};
use weft_runtime::RunId;
use weft_store_sqlite::SqliteStore;

#[tokio::test]
async fn the_log_is_copied_into_the_file_as_it_fills() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("checkpoint.db");
    let store = SqliteStore::open(&path).expect("store");
    let run = RunId::new();
    // About 24 MB of records in appends of about 1 MB: the log passes the
    // 4,096 pages (16 MB) at which it is copied into the file.
    let text = "x".repeat(1000);
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
                    result: Arc::new(json!({"n": n, "text": text})),
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
    let file = std::fs::metadata(&path).expect("the file").len();
    assert!(
        file > 8 << 20,
        "the file holds {file} bytes after 24 MB of records: the log was not copied into it"
    );
    let journal = store.load(run).await.expect("load");
    assert_eq!(journal.len() as u64, next + 1);
    drop(store);
    // Closed: the log is copied in and removed, and the file reads alone.
    assert!(!dir.path().join("checkpoint.db-wal").exists());
    let again = SqliteStore::open_read_only(&path).expect("read-only");
    assert_eq!(again.load(run).await.expect("load").len() as u64, next + 1);
}
