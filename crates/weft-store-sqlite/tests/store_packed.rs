//! A journal row of 1 KB or more is stored packed (LZ4, schema version 4):
//! it loads as it was appended, damage to it is found by its checksum or
//! when it is unpacked, and the plain rows of a version 3 file read as they
//! are, before and after the upgrade.

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

#[tokio::test]
async fn long_rows_are_packed_and_load_as_they_were_appended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let (long, short, owned) = (RunId::new(), RunId::new(), RunId::new());
    let long_journal = journal(long, 300);
    let short_journal = journal(short, 3);
    let owned_journal = journal(owned, 300);
    let (rest, end) = (
        entries(long, 300, (300..400).map(ok).collect()),
        entries(long, 400, vec![ended(RunStatus::Succeeded, 9)]),
    );
    {
        let store = SqliteStore::open(&path).unwrap();
        // Lent, handed over, and in parts.
        store.append(&long_journal).await.unwrap();
        store.append(&short_journal).await.unwrap();
        store
            .append_parts(vec![
                owned_journal[..100].to_vec(),
                owned_journal[100..].to_vec(),
            ])
            .await
            .unwrap();
        store.append_owned(rest.clone()).await.unwrap();
        store.append(&end).await.unwrap();
        let mut whole = long_journal.clone();
        whole.extend(rest.iter().cloned());
        whole.extend(end.iter().cloned());
        assert_eq!(store.load(long).await.unwrap(), whole);
        assert_eq!(store.load_from(long, 250).await.unwrap(), whole[250..]);
        assert_eq!(store.load_from(long, 350).await.unwrap(), whole[350..]);
        assert_eq!(store.load(short).await.unwrap(), short_journal);
        assert_eq!(store.load(owned).await.unwrap(), owned_journal);
    }
    // A row of a few records stays JSON; the long ones are blobs, a
    // fraction of their JSON.
    let stored = rows(&path, long);
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert_eq!(stored[0].0, "blob");
    assert!(stored[0].1 * 3 < json_len(&long_journal), "{stored:?}");
    assert_eq!(stored[1].0, "blob");
    assert_eq!(stored[2].0, "text", "one record");
    let short_rows = rows(&path, short);
    assert_eq!(short_rows.len(), 1);
    assert_eq!(short_rows[0].0, "text");
    assert_eq!(rows(&path, owned)[0].0, "blob");
    // Read again by a store that only reads.
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.load(owned).await.unwrap(), owned_journal);
}

/// A store at `dir/runs.db` holding one run of 300 records in one packed
/// row, closed.
async fn one_packed_run(dir: &Path) -> (PathBuf, RunId) {
    let path = dir.join("runs.db");
    let run = RunId::new();
    let store = SqliteStore::open(&path).unwrap();
    store.append(&journal(run, 300)).await.unwrap();
    (path, run)
}

#[tokio::test]
async fn a_packed_row_changed_in_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, run) = one_packed_run(dir.path()).await;
    let blob: Vec<u8> = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT records FROM journal", [], |r| r.get(0))
        .unwrap();
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
    let (path, run) = one_packed_run(dir.path()).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let blob: Vec<u8> = conn
        .query_row("SELECT records FROM journal", [], |r| r.get(0))
        .unwrap();
    // Rows whose checksums match their bytes, which are not a packed row
    // as weft writes it: cut short, claiming far more than they hold,
    // packed some other way, or not JSON once unpacked.
    let mut claims = blob.clone();
    claims[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut other = blob.clone();
    other[0] = 9;
    let not_json = vec![1, 4, 0, 0, 0, 0x40, b'{', b'{', b'{', b'{'];
    for (bad, says) in [
        (&blob[..blob.len() / 2], "cannot be read"),
        (&blob[..3], "cut short"),
        (&claims[..], "claims"),
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

/// A new file of schema version 3 at `path` holding `journal`, a run's
/// first entries, as one plain row.
fn write_version_3(path: &Path, journal: &[Entry]) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(VERSION_3).unwrap();
    let rb = group_batch("v3", journal).unwrap().remove(0);
    let summary = rb.start.clone().expect("a run's first row");
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
        "INSERT INTO runs VALUES (?1, ?2, ?3, NULL, ?4, ?5, NULL, ?6, NULL)",
        rusqlite::params![
            id,
            summary.workflow,
            summary.status.as_str(),
            summary.started_at as i64,
            summary.updated_at as i64,
            rb.last as i64 + 1
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
async fn a_version_three_file_reads_as_it_is_and_goes_on_packed_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let run = RunId::new();
    let first = journal(run, 300);
    write_version_3(&path, &first);
    assert_eq!(rows(&path, run), [("text".to_owned(), json_len(&first))]);

    // Read as it is, by a store that only reads: not migrated.
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.load(run).await.unwrap(), first);
    drop(reader);
    assert_eq!(user_version(&path), 3);

    // Opened for writing: migrated, read the same, and the run goes on in
    // a packed row.
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
