//! A workflow's text is kept once in the file for all the runs of it: the
//! runs name it, their journals load with it, a purge deletes the texts no
//! run names any more, and a batch that fails leaves no run naming a text
//! the file lacks.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;
use weft_runtime::store::driver::conformance::{ended, entries, ok};
use weft_runtime::store::{Entry, Record, RunStart, Store, StoreError};
use weft_runtime::{Durability, RunId, RunStatus};
use weft_store_sqlite::SqliteStore;

/// A `Started` record of `source`, started at `at`.
fn started(source: &str, at: u64) -> Record {
    Record::Started(Box::new(RunStart {
        workflow: "w".into(),
        source: source.into(),
        format: "yaml".into(),
        hash: weft_runtime::store::source_hash(source),
        inputs: json!({"at": at}),
        parent: None,
        depth: 0,
        durability: Durability::WriteBehind,
        started_at: at,
    }))
}

/// A run of `source` that ended at `at`.
fn run_of(source: &str, at: u64) -> Vec<Entry> {
    entries(
        RunId::new(),
        0,
        vec![started(source, at), ok(1), ended(RunStatus::Succeeded, at)],
    )
}

/// A text long enough to see in a row's size, with what JSON escapes.
fn text(name: &str) -> String {
    format!("# {name}\ntasks:\n  a: {{action: \"core.noop\"}}\n").repeat(100)
}

/// The texts the file holds, and the `Started` records in its journal
/// rows that hold no text (they name one).
fn count(path: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let texts = conn
        .query_row("SELECT count(*) FROM texts", [], |r| r.get(0))
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT records FROM journal WHERE first_seq = 0")
        .unwrap();
    let named = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .filter(|row| started_source(row.as_ref().unwrap()).is_empty())
        .count() as i64;
    (texts, named)
}

/// The `source` of the `Started` record a run's first row begins with: a
/// row in the binary form (tag 2) begins with it as JSON (kind 0), its
/// length first.
fn started_source(row: &[u8]) -> String {
    assert_eq!(
        row[..2],
        [2, 0],
        "a row in the binary form, a JSON record first"
    );
    let (mut len, mut at, mut shift) = (0usize, 2, 0);
    loop {
        len |= usize::from(row[at] & 0x7f) << shift;
        at += 1;
        if row[at - 1] < 0x80 {
            break;
        }
        shift += 7;
    }
    let record: serde_json::Value = serde_json::from_slice(&row[at..at + len]).unwrap();
    record["started"]["source"].as_str().unwrap().to_owned()
}

fn before(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

#[tokio::test]
async fn runs_of_one_text_share_one_copy_and_load_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let (a, b) = (text("a"), text("b"));
    let runs = [run_of(&a, 1), run_of(&a, 2), run_of(&b, 3), run_of(&a, 4)];
    {
        let store = SqliteStore::open(&path).unwrap();
        // Through both ways in: lent, and handed over.
        store.append(&runs[0]).await.unwrap();
        store.append_owned(runs[1].clone()).await.unwrap();
        let mut both = runs[2].clone();
        both.extend(runs[3].iter().cloned());
        store.append_owned(both).await.unwrap();
        for run in &runs {
            assert_eq!(&store.load(run[0].run).await.unwrap(), run);
        }
    }
    assert_eq!(count(&path), (2, 4), "two texts, in no journal row");
    // A store opened again finds its texts there.
    let store = SqliteStore::open(&path).unwrap();
    let again = run_of(&a, 5);
    store.append(&again).await.unwrap();
    assert_eq!(store.load(again[0].run).await.unwrap(), again);
    // From a record on, past the `Started` record.
    assert_eq!(store.load_from(again[0].run, 1).await.unwrap(), again[1..]);
    drop(store);
    assert_eq!(count(&path).0, 2);
    let reader = SqliteStore::open_read_only(&path).unwrap();
    for run in runs.iter().chain([&again]) {
        assert_eq!(&reader.load(run[0].run).await.unwrap(), run);
    }
}

#[tokio::test]
async fn a_purge_deletes_the_texts_no_run_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let (a, b) = (text("a"), text("b"));
    let store = SqliteStore::open(&path).unwrap();
    let kept = run_of(&a, 3_000);
    for run in [run_of(&a, 1_000), run_of(&b, 1_000), kept.clone()] {
        store.append(&run).await.unwrap();
    }
    // One that has not ended names `b` until its end.
    let going = entries(RunId::new(), 0, vec![started(&b, 1_000), ok(1)]);
    store.append(&going).await.unwrap();
    assert_eq!(store.purge(before(2_000)).await.unwrap(), 2);
    assert_eq!(count(&path).0, 2, "both texts are still named");
    store
        .append(&entries(
            going[0].run,
            2,
            vec![ended(RunStatus::Succeeded, 1_500)],
        ))
        .await
        .unwrap();
    assert_eq!(store.purge(before(2_000)).await.unwrap(), 1);
    assert_eq!(count(&path).0, 1, "`b` is named by no run");
    assert_eq!(store.load(kept[0].run).await.unwrap(), kept);
    // A run of a purged text keeps it again.
    let back = run_of(&b, 4_000);
    store.append(&back).await.unwrap();
    assert_eq!(count(&path).0, 2);
    assert_eq!(store.load(back[0].run).await.unwrap(), back);
    assert_eq!(store.purge(before(5_000)).await.unwrap(), 2);
    assert_eq!(count(&path).0, 0);
}

#[tokio::test]
async fn a_failed_batch_leaves_its_text_to_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let a = text("a");
    let store = SqliteStore::open(&path).unwrap();
    // A new run of `a` with a record that follows on from nothing: the
    // batch, and the text it inserted, are rolled back.
    let mut batch = run_of(&a, 1);
    batch.extend(entries(RunId::new(), 5, vec![ok(5)]));
    let e = store.append_owned(batch).await.unwrap_err();
    assert!(matches!(e.0, StoreError::Conflict(_)), "{:?}", e.0);
    assert_eq!(count(&path).0, 0);
    let run = run_of(&a, 2);
    store.append_owned(run.clone()).await.unwrap();
    assert_eq!(store.load(run[0].run).await.unwrap(), run);
    assert_eq!(count(&path).0, 1);
}

#[tokio::test]
async fn a_damaged_or_missing_text_fails_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let a = text("a");
    let run = run_of(&a, 1);
    SqliteStore::open(&path)
        .unwrap()
        .append(&run)
        .await
        .unwrap();
    // A text kept as a blob (its bytes the same) reads as it was.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE texts SET source = CAST(source AS BLOB)", [])
        .unwrap();
    let kind: String = conn
        .query_row("SELECT typeof(source) FROM texts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kind, "blob");
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load(run[0].run).await.unwrap(), run);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE texts SET source = replace(source, '# a', '# b')",
        [],
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let e = store.load(run[0].run).await.unwrap_err().to_string();
    assert!(e.contains("damaged") && e.contains("checksum"), "{e}");
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM texts", []).unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let e = store.load(run[0].run).await.unwrap_err().to_string();
    assert!(e.contains("damaged") && e.contains("missing"), "{e}");
}
