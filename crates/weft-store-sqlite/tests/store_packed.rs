//! The rows of files before version 5: a version 4 file's rows of 1 KB or
//! more packed with LZ4, the shorter ones plain JSON, and a version 3
//! file's rows all plain. They load as they were appended, by a store that
//! only reads (which leaves the file's version) and after the upgrade,
//! where the runs go on in rows of the binary form; damage to a packed row
//! is found by its checksum or when it is unpacked.

use std::fs;
use std::path::{Path, PathBuf};

use weft_runtime::store::driver::conformance::{ended, entries, ok, started};
use weft_runtime::store::driver::group_batch;
use weft_runtime::store::{Entry, Store, StoreError};
use weft_runtime::{RunId, RunStatus};
use weft_store_sqlite::{SqliteStore, SCHEMA_VERSION};

/// A run's first `n` records: its start and `n - 1` attempts.
fn journal(run: RunId, n: u64) -> Vec<Entry> {
    let mut records = vec![started("packed", None, 1)];
    records.extend((1..n).map(ok));
    entries(run, 0, records)
}

/// Each journal row of `run` in the file: its storage type and length.
fn rows(path: &Path, run: RunId) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT typeof(records), length(CAST(records AS BLOB)) FROM journal
             WHERE run = ?1 ORDER BY first_seq",
        )
        .unwrap();
    let rows = stmt
        .query_map([&run.as_uuid().as_bytes()[..]], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// The JSON `group_batch` makes of `entries`, one run's, in bytes.
fn json_len(entries: &[Entry]) -> i64 {
    group_batch("test", entries).unwrap()[0].json.len() as i64
}

fn assert_damaged(e: &StoreError, path: &Path, says: &str) {
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains(says),
        "{msg}"
    );
}

/// Schema version 3 as weft made it (migrations 1 to 3, as `schema.rs`
/// has them), for a file written as a weft of that version wrote it: every
/// row plain JSON.
const VERSION_3: &str = "
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
    CREATE TABLE texts (
        sha256 BLOB PRIMARY KEY NOT NULL,
        source TEXT NOT NULL,
        checksum INTEGER NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN text BLOB;
    CREATE INDEX runs_by_text ON runs (text) WHERE text IS NOT NULL;
    PRAGMA application_id = 2003134068; -- weft, in ASCII
    PRAGMA user_version = 3;";

/// A row as a weft of schema version 4 stored it: its JSON packed with LZ4
/// (a tag byte, 1, the JSON's length in 4 bytes little-endian, one LZ4
/// block) when it is 1 KB or more and packing makes it smaller, otherwise
/// the JSON as text.
fn version_4_row(json: &[u8]) -> rusqlite::types::Value {
    if json.len() >= 1024 {
        let mut packed = vec![1];
        packed.extend_from_slice(&(json.len() as u32).to_le_bytes());
        packed.extend_from_slice(&lz4_flex::block::compress(json));
        if packed.len() < json.len() {
            return rusqlite::types::Value::Blob(packed);
        }
    }
    rusqlite::types::Value::Text(String::from_utf8(json.to_vec()).unwrap())
}

/// A new file at `path` of schema `version` (3 or 4) holding `rows`, the
/// first entries of one run, one journal row each, stored as a weft of
/// that version stored them.
fn write_old_file(path: &Path, version: i64, rows: &[&[Entry]]) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(VERSION_3).unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
    let mut summary = None;
    let mut run = None;
    let mut next = 0;
    for batch in rows {
        let rb = group_batch("old", batch).unwrap().remove(0);
        let records = if version >= 4 {
            version_4_row(&rb.json)
        } else {
            rusqlite::types::Value::Text(String::from_utf8(rb.json.clone()).unwrap())
        };
        let checksum = match &records {
            rusqlite::types::Value::Blob(b) => crc32fast::hash(b),
            _ => crc32fast::hash(&rb.json),
        };
        let id = rb.run.as_uuid().as_bytes().to_vec();
        conn.execute(
            "INSERT INTO journal VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![id, rb.first as i64, rb.last as i64, records, checksum],
        )
        .unwrap();
        summary = summary.or(rb.start.clone());
        run = Some(id);
        next = rb.last as i64 + 1;
    }
    let summary = summary.expect("a run's first row");
    conn.execute(
        "INSERT INTO runs VALUES (?1, ?2, ?3, NULL, ?4, ?5, NULL, ?6, NULL)",
        rusqlite::params![
            run.unwrap(),
            summary.workflow,
            summary.status.as_str(),
            summary.started_at as i64,
            summary.updated_at as i64,
            next
        ],
    )
    .unwrap();
}

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_version_four_file_reads_as_it_is_and_goes_on_in_binary_rows_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    // A long row (packed), a short one (plain JSON), a long one again.
    let first = journal(run, 300);
    let short = entries(run, 300, (300..303).map(ok).collect());
    let long = entries(run, 303, (303..500).map(ok).collect());
    write_old_file(&path, 4, &[&first, &short, &long]);
    let stored = rows(&path, run);
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].0, "blob");
    assert!(stored[0].1 * 3 < json_len(&first), "{stored:?}");
    assert_eq!(stored[1].0, "text");
    assert_eq!(stored[2].0, "blob");
    let mut whole = first.clone();
    whole.extend(short.iter().cloned());
    whole.extend(long.iter().cloned());

    // Read as it is, by a store that only reads: not migrated.
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.load(run).await.unwrap(), whole);
    assert_eq!(reader.load_from(run, 150).await.unwrap(), whole[150..]);
    assert_eq!(reader.load_from(run, 301).await.unwrap(), whole[301..]);
    drop(reader);
    assert_eq!(user_version(&path), 4);

    // Opened for writing: migrated to the binary form's version, read the
    // same, and the run goes on in a row of the binary form.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 6);
    assert_eq!(store.load(run).await.unwrap(), whole);
    let rest = entries(run, 500, (500..600).map(ok).collect());
    let end = entries(run, 600, vec![ended(RunStatus::Succeeded, 9)]);
    store.append(&rest).await.unwrap();
    store.append_owned(end.clone()).await.unwrap();
    whole.extend(rest.iter().cloned());
    whole.extend(end.iter().cloned());
    assert_eq!(store.load(run).await.unwrap(), whole);
    for from in [0, 299, 302, 450, 550, 600, 601] {
        assert_eq!(
            store.load_from(run, from).await.unwrap(),
            whole[from as usize..],
            "from {from}"
        );
    }
    drop(store);
    let stored = rows(&path, run);
    assert_eq!(stored.len(), 5);
    assert_eq!(&stored[3].0, "blob");
    assert_eq!(&stored[4].0, "blob");
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.load(run).await.unwrap(), whole);
}

/// A version 4 file at `dir/runs.db` holding one run of 300 records in
/// one packed row.
fn one_packed_run(dir: &Path) -> (PathBuf, RunId) {
    let path = dir.join("runs.db");
    let run = RunId::new();
    write_old_file(&path, 4, &[&journal(run, 300)]);
    (path, run)
}

#[tokio::test]
async fn a_packed_row_changed_in_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, run) = one_packed_run(dir.path());
    let blob: Vec<u8> = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT records FROM journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blob[0], 1, "packed");
    // One byte in the middle of the block: still a blob, still a valid page.
    let needle = &blob[blob.len() / 2..blob.len() / 2 + 32];
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the row is in the file");
    bytes[at + 16] ^= 0x20;
    fs::write(&path, bytes).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let e = store.load(run).await.unwrap_err();
    assert_damaged(&e, &path, "do not match their checksum");
}

#[tokio::test]
async fn a_packed_row_that_does_not_unpack_is_refused_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (path, run) = one_packed_run(dir.path());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let blob: Vec<u8> = conn
        .query_row("SELECT records FROM journal", [], |r| r.get(0))
        .unwrap();
    // Rows whose checksums match their bytes, which are not a packed row
    // as weft writes it: cut short, claiming far more than they hold,
    // more than any row holds, packed some other way, or not JSON once
    // unpacked.
    let mut claims = blob.clone();
    claims[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut other = blob.clone();
    other[0] = 9;
    let not_json = vec![1, 4, 0, 0, 0, 0x40, b'{', b'{', b'{', b'{'];
    // A block that 255 times over could be a billion bytes and one, but
    // is not an LZ4 block: refused before the memory it claims is given.
    let mut past_most = vec![1];
    past_most.extend_from_slice(&1_000_000_001u32.to_le_bytes());
    past_most.resize(5 + 4_000_000, 0);
    for (bad, says) in [
        (&blob[..blob.len() / 2], "cannot be read"),
        (&blob[..3], "cut short"),
        (&claims[..], "claims"),
        (&past_most[..], "claims 1000000001"),
        (&other[..], "does not know"),
        (&not_json[..], "cannot be read"),
    ] {
        conn.execute(
            "UPDATE journal SET records = ?1, checksum = ?2",
            rusqlite::params![bad, crc32fast::hash(bad)],
        )
        .unwrap();
        let store = SqliteStore::open(&path).unwrap();
        let e = store.load(run).await.unwrap_err();
        assert_damaged(&e, &path, "damaged");
        assert_damaged(&e, &path, says);
    }
}

#[tokio::test]
async fn a_version_three_file_reads_as_it_is_and_goes_on_in_binary_rows_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    let first = journal(run, 300);
    write_old_file(&path, 3, &[&first]);
    assert_eq!(rows(&path, run), [("text".to_owned(), json_len(&first))]);

    // Read as it is, by a store that only reads: not migrated.
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.load(run).await.unwrap(), first);
    drop(reader);
    assert_eq!(user_version(&path), 3);

    // Opened for writing: migrated, read the same, and the run goes on in
    // a binary row.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(store.load(run).await.unwrap(), first);
    let rest = entries(run, 300, (300..600).map(ok).collect());
    store.append(&rest).await.unwrap();
    let mut whole = first.clone();
    whole.extend(rest.iter().cloned());
    assert_eq!(store.load(run).await.unwrap(), whole);
    assert_eq!(store.load_from(run, 299).await.unwrap(), whole[299..]);
    drop(store);
    let stored = rows(&path, run);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], ("text".to_owned(), json_len(&first)));
    assert_eq!(stored[1].0, "blob");
}
