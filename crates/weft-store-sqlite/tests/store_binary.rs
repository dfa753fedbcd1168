//! Journal rows in weft's binary form (schema version 5): records of every
//! kind load as they were appended, however they were appended and from
//! whichever record a load starts; a row changed in the file is refused by
//! its checksum, and a row whose bytes are not what a writer writes (with a
//! checksum that matches them) is refused as damaged or read as other
//! records, never a panic.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use weft_runtime::store::driver::conformance::{attempt, command, ended, entries, ok, started};
use weft_runtime::store::{AttemptOutcome, Command, Entry, Record, Store};
use weft_runtime::{RunId, RunStatus};
use weft_store_sqlite::{SqliteStore, SCHEMA_VERSION};

/// Records of every kind, attempts with and without items, start times
/// and results, as `n` records from `first` on.
fn records(first: u64, n: u64) -> Vec<Record> {
    (first..first + n)
        .map(|step| match step % 9 {
            0 => attempt(
                step,
                AttemptOutcome::Err {
                    message: format!("failed at {step}"),
                    result: Some(Box::new(json!({"code": step}))),
                    canceled: false,
                },
            ),
            1 => attempt(
                step,
                AttemptOutcome::Ok {
                    result: Arc::new(serde_json::Value::Null),
                },
            ),
            2 => {
                let mut r = ok(step);
                if let Record::Attempt(a) = &mut r {
                    a.item = Some(step as u32 * 7);
                    a.started_at = None;
                    a.attempt = 3;
                }
                r
            }
            3 => command(step, Command::Pause),
            4 => attempt(step, AttemptOutcome::TimedOut { seconds: 1.5 }),
            5 => attempt(
                step,
                AttemptOutcome::Ok {
                    result: Arc::new(json!({"text": "é\n\"".repeat(step as usize % 50)})),
                },
            ),
            6 => attempt(step, AttemptOutcome::Dropped),
            7 => attempt(
                step,
                AttemptOutcome::Panicked {
                    message: "index out of bounds".to_owned(),
                },
            ),
            _ => ok(step),
        })
        .collect()
}

/// A run's journal: its start, `n - 2` records of every kind, its end.
fn journal(run: RunId, n: u64) -> Vec<Entry> {
    let mut all = vec![started("binary", None, 1)];
    all.extend(records(1, n - 2));
    all.push(ended(RunStatus::Failed, 99));
    entries(run, 0, all)
}

/// Each journal row of the file: the run, its first record, the blob.
fn stored_rows(path: &Path) -> Vec<(Vec<u8>, i64, Vec<u8>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT run, first_seq, records FROM journal ORDER BY run, first_seq")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

#[tokio::test]
async fn every_kind_of_record_loads_as_appended_lent_handed_over_or_in_parts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let (lent, owned, parts) = (RunId::new(), RunId::new(), RunId::new());
    let journals = [
        (lent, journal(lent, 200)),
        (owned, journal(owned, 200)),
        (parts, journal(parts, 200)),
    ];
    let store = SqliteStore::open(&path).unwrap();
    // Each in three appends: a row of one record, and two longer ones.
    for cut in [(0, 1), (1, 120), (120, 200)] {
        let part = |j: &[Entry]| j[cut.0..cut.1].to_vec();
        store.append(&part(&journals[0].1)).await.unwrap();
        store.append_owned(part(&journals[1].1)).await.unwrap();
        let p = part(&journals[2].1);
        let half = p.len() / 2;
        store
            .append_parts(vec![p[..half].to_vec(), Vec::new(), p[half..].to_vec()])
            .await
            .unwrap();
    }
    for (run, all) in &journals {
        assert_eq!(&store.load(*run).await.unwrap(), all);
        // From every record on: inside a row, at its start, past the end.
        for from in 0..=all.len() as u64 + 1 {
            let want = &all[(from as usize).min(all.len())..];
            assert_eq!(
                store.load_from(*run, from).await.unwrap(),
                want,
                "from {from}"
            );
        }
    }
    drop(store);
    // Every row a blob in the binary form, its first byte the form's tag
    // (2), or, from 1 KB on, that packed with LZ4 (tag 1, the length, one
    // LZ4 block), in a file of schema version 5.
    let rows = stored_rows(&path);
    assert_eq!(rows.len(), 9);
    let (mut plain, mut packed) = (0, 0);
    for (_, first, blob) in &rows {
        match blob[0] {
            2 => plain += 1,
            1 => {
                let len = u32::from_le_bytes(blob[1..5].try_into().unwrap()) as usize;
                let row = lz4_flex::block::decompress(&blob[5..], len).unwrap();
                assert_eq!(row[0], 2, "row from {first}");
                assert!(row.len() >= 1024 && blob.len() < row.len());
                packed += 1;
            }
            tag => panic!("row from {first}: tag {tag}"),
        }
    }
    assert_eq!((plain, packed), (3, 6));
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    // Binary rows from version 5 on; this build writes version 6.
    assert_eq!((version, SCHEMA_VERSION), (6, 6));
    // Read again by a store that only reads.
    let reader = SqliteStore::open_read_only(&path).unwrap();
    for (run, all) in &journals {
        assert_eq!(&reader.load(*run).await.unwrap(), all);
    }
}

#[tokio::test]
async fn a_binary_row_changed_in_the_file_is_refused_by_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    let store = SqliteStore::open(&path).unwrap();
    store.append(&journal(run, 50)).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let blob: Vec<u8> = conn
        .query_row("SELECT records FROM journal", [], |r| r.get(0))
        .unwrap();
    for i in [0, 1, blob.len() / 2, blob.len() - 1] {
        let mut bad = blob.clone();
        bad[i] ^= 0x04;
        conn.execute("UPDATE journal SET records = ?1", [&bad])
            .unwrap();
        let e = store.load(run).await.unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string())
                && e.contains("damaged")
                && e.contains("records 0..=49 do not match their checksum"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_binary_row_weft_did_not_write_is_refused_or_read_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    let all = journal(run, 10);
    let store = SqliteStore::open(&path).unwrap();
    store.append(&all).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let blob: Vec<u8> = conn
        .query_row("SELECT records FROM journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blob[0], 2, "a row in the binary form, not packed");
    // The checksum made to match, so that the bytes are read: each byte
    // changed in turn, and the row cut short at each length.
    let mut rows: Vec<Vec<u8>> = Vec::new();
    for i in 0..blob.len() {
        for flip in [0x01, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= flip;
            rows.push(bad);
        }
    }
    rows.extend((0..blob.len()).map(|n| blob[..n].to_vec()));
    let (mut refused, mut read) = (0, 0);
    for bad in &rows {
        conn.execute(
            "UPDATE journal SET records = ?1, checksum = ?2",
            rusqlite::params![bad, crc32fast::hash(bad)],
        )
        .unwrap();
        match store.load(run).await {
            Ok(journal) => {
                assert_eq!(journal.len(), all.len());
                read += 1;
            }
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains(&path.display().to_string()) && e.contains("damaged"),
                    "{e}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!(refused + read, rows.len());
    // Every cut and most changes are refused (a changed number can read
    // as another number).
    assert!(refused > blob.len() * 2, "{refused} of {}", rows.len());
    // The store still reads the row as it was written.
    conn.execute(
        "UPDATE journal SET records = ?1, checksum = ?2",
        rusqlite::params![&blob, crc32fast::hash(&blob)],
    )
    .unwrap();
    assert_eq!(store.load(run).await.unwrap(), all);
}

#[tokio::test]
async fn a_binary_row_of_an_unknown_tag_or_kind_names_the_file_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    let store = SqliteStore::open(&path).unwrap();
    store
        .append(&entries(run, 0, vec![started("x", None, 1), ok(1)]))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let blob: Vec<u8> = conn
        .query_row("SELECT records FROM journal", [], |r| r.get(0))
        .unwrap();
    let mut unknown_tag = blob.clone();
    unknown_tag[0] = 7;
    assert_eq!(blob[0], 2, "a row in the binary form, not packed");
    let mut unknown_kind = blob.clone();
    // The second record's kind: after the tag, the first record's kind
    // (JSON, 0) and its JSON's length (a `Started` record of 128 bytes or
    // more: two bytes) and JSON.
    assert_eq!(blob[1], 0);
    let second = if blob[2] < 0x80 {
        3 + usize::from(blob[2])
    } else {
        4 + (usize::from(blob[2] & 0x7f) | usize::from(blob[3]) << 7)
    };
    assert_eq!(blob[second] & 1, 1, "an attempt that returned a result");
    unknown_kind[second] = 0x20;
    for (bad, says) in [
        (
            &unknown_tag,
            "a row packed in a way weft does not know (tag 7)",
        ),
        (&unknown_kind, "a record of a kind weft does not know (32)"),
    ] {
        conn.execute(
            "UPDATE journal SET records = ?1, checksum = ?2",
            rusqlite::params![bad, crc32fast::hash(bad)],
        )
        .unwrap();
        let e = store.load(run).await.unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string())
                && e.contains(&format!("run {run}"))
                && e.contains(says),
            "{e}"
        );
    }
}
