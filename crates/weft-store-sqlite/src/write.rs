//! Appending and purging on the writer thread, and the preparation of a
//! batch.
//!
//! A batch is checked and serialized first ([`prepare`]): its entries are
//! grouped by run, each run's records become one JSON array, and what
//! changes the run's summary is kept aside. That is done on the writer
//! thread for the journal's commits (`Store::append_owned`: the executor's
//! runtime only hands the entries over), and by the caller of
//! `Store::append`, which lends them. The writer thread then
//! checks each run's first sequence number against the one its summary row
//! expects, and writes one journal row and one summary row per run, all in
//! one transaction: a conflict or a failure rolls the whole batch back. A
//! journal row's records are in weft's binary form (`Encoder::binary`,
//! [`pack`]), stored as a blob, its CRC-32 taken of the bytes stored.
//!
//! A new run's summary row goes into `runs_new`, which has no index, and
//! is moved into `runs` with a batch of others after a later commit
//! ([`Writer::move_if_due`]): a short run's commit writes the pages of its
//! journal row and of `runs_new`, not those of the five indexes of `runs`.
//!
//! A run's workflow text is not in its journal row: the batch is encoded
//! with the texts apart ([`Encoder::texts_apart`]), the run's summary names
//! the text by its SHA-256, and the text is inserted into `texts` the first
//! time the connection meets it ([`Texts`]).

use std::collections::HashSet;

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::Digest;
use weft_runtime::store::driver::{self, group_parts_with, Encoder, RunBatch};
use weft_runtime::store::{Entry, Millis, StoreError};
use weft_runtime::{RunId, RunStatus};

use crate::error;
use crate::pack;
use crate::read::{id_bytes, int, summary_from_row, SUMMARY_COLUMNS};
use crate::schema::AUTOCHECKPOINT_BYTES;

/// A batch, grouped by run in the order each run first appears.
pub(crate) struct Prepared {
    runs: Vec<RunBatch>,
}

impl Prepared {
    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

/// Groups and serializes `entries`, checking the sequence within the batch.
pub(crate) fn prepare(path: &str, entries: &[Entry]) -> Result<Prepared, StoreError> {
    prepare_with(path, &[entries], &mut Encoder::texts_apart().binary())
}

/// [`prepare`] of the entries of `parts`, in order, with what `encoder`
/// kept from the batches before.
fn prepare_with<P: AsRef<[Entry]>>(
    path: &str,
    parts: &[P],
    encoder: &mut Encoder,
) -> Result<Prepared, StoreError> {
    let runs = group_parts_with(&store_name(path), parts, encoder)?;
    Ok(Prepared { runs })
}

/// How errors name the store at `path`.
fn store_name(path: &str) -> String {
    format!("sqlite store {path}")
}

fn out_of_sequence(path: &str, run: RunId, seq: u64, previous: i128) -> StoreError {
    driver::out_of_sequence(&store_name(path), run, seq, previous)
}

fn one_start(path: &str, run: RunId) -> StoreError {
    driver::second_start(&store_name(path), run)
}

/// The connection that writes, owned by the writer thread.
pub(crate) struct Writer {
    conn: Connection,
    path: String,
    /// Kept from one batch to the next: the runs of one workflow share
    /// one copy of its text, given aside.
    encoder: Encoder,
    /// The texts known to be in the file.
    texts: Texts,
    /// The pages in the write-ahead log after the last commit.
    wal_pages: Arc<AtomicI32>,
    /// The pages that make [`AUTOCHECKPOINT_BYTES`] in this file.
    checkpoint_pages: i32,
    /// Where a row's records are packed ([`pack::pack`]), kept from one
    /// row to the next.
    packed: Vec<u8>,
    /// The runs in `runs_new`, waiting to be moved into `runs`
    /// ([`Writer::move_if_due`]); those of the transaction going on in
    /// `staging`.
    staged: usize,
    staging: usize,
    /// How many runs wait before they are moved: [`MOVE_STAGED`], or a
    /// test's [`SqliteOptions::move_batch`](crate::SqliteOptions).
    batch: usize,
    /// How many waiting runs the next move waits for: `batch`, or, after
    /// a move failed, `batch` more than were waiting then.
    move_at: usize,
    /// A move failed and was reported; reset by one that succeeds.
    move_failed: bool,
}

/// The runs waiting in `runs_new` at which the writer moves them into
/// `runs`, after a commit has been answered: a move writes the pages of
/// `runs` and its five indexes that the runs' own commits did not (some
/// 12 to 23 frames of the log for 64 short runs, where each run's commit
/// would have written five more), and syncs once.
pub(crate) const MOVE_STAGED: usize = 64;

/// A commit to a stored run whose status and end stay as they were, in
/// `runs` and in `runs_new` (see `append_in_transaction`).
const TOUCH_RUN: &str = "UPDATE runs SET updated_at = ?2, next_seq = ?3 WHERE id = ?1";
const TOUCH_RUN_NEW: &str = "UPDATE runs_new SET updated_at = ?2, next_seq = ?3 WHERE id = ?1";

/// A commit that changes a stored run's status or end, in `runs` and in
/// `runs_new`.
const UPDATE_RUN: &str = "UPDATE runs SET status = ?2, updated_at = ?3, ended_at = ?4,
     next_seq = ?5 WHERE id = ?1";
const UPDATE_RUN_NEW: &str = "UPDATE runs_new SET status = ?2, updated_at = ?3, ended_at = ?4,
     next_seq = ?5 WHERE id = ?1";

/// Moves every run waiting in `runs_new` into `runs`.
const MOVE_SQL: &str = "INSERT INTO runs (id, workflow, status, parent, started_at, updated_at,
                          ended_at, next_seq, text)
     SELECT id, workflow, status, parent, started_at, updated_at, ended_at, next_seq, text
     FROM runs_new;
     DELETE FROM runs_new;";

impl Writer {
    /// The writer of `conn`, the file at `path`. SQLite's own checkpoints
    /// are replaced by [`Writer::checkpoint_if_due`]: SQLite would copy the
    /// log into the file inside the commit that filled it, so that the
    /// caller waiting for the commit would wait for some thousands of pages
    /// to be copied and the file synced as well.
    pub(crate) fn new(
        mut conn: Connection,
        path: String,
        batch: usize,
    ) -> Result<Writer, StoreError> {
        let wal_pages = Arc::new(AtomicI32::new(0));
        let pages = wal_pages.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: i32| {
            pages.store(n, Ordering::Relaxed);
            Ok(())
        }))
        .map_err(|e| error::sql(&path, "cannot configure", e))?;
        let page: i64 = conn
            .pragma_query_value(None, "page_size", |row| row.get(0))
            .map_err(|e| error::sql(&path, "cannot read the page size", e))?;
        let checkpoint_pages =
            (AUTOCHECKPOINT_BYTES / page.max(512)).clamp(1, i32::MAX as i64) as i32;
        let staged: i64 = conn
            .query_row("SELECT count(*) FROM runs_new", [], |row| row.get(0))
            .map_err(|e| error::sql(&path, "cannot read its tables", e))?;
        Ok(Writer {
            conn,
            path,
            encoder: Encoder::texts_apart().binary(),
            texts: Texts::default(),
            wal_pages,
            checkpoint_pages,
            packed: Vec::new(),
            staged: staged.max(0) as usize,
            staging: 0,
            batch,
            move_at: batch,
            move_failed: false,
        })
    }

    /// What follows a commit once it has been answered: the runs waiting
    /// in `runs_new` moved ([`Writer::move_if_due`]), then the log
    /// checkpointed ([`Writer::checkpoint_if_due`]), each when due.
    pub(crate) fn after_commit(&mut self) {
        self.move_if_due();
        self.checkpoint_if_due();
    }

    /// Moves the runs waiting in `runs_new` into `runs`, in a transaction
    /// of its own, once [`MOVE_STAGED`] or more wait (all that wait).
    /// Called after a commit has been answered, as
    /// [`Writer::checkpoint_if_due`]. A move that fails leaves them there
    /// (every read reads both tables): it is reported once, and tried
    /// again when another batch waits, not after every commit (each try
    /// would take the write lock and copy the runs for nothing).
    fn move_if_due(&mut self) {
        if self.staged >= self.move_at {
            self.move_staged();
        }
    }

    /// Moves every run waiting in `runs_new` into `runs`, in a transaction
    /// of its own.
    fn move_staged(&mut self) {
        let moved = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .and_then(|tx| {
                tx.execute_batch(MOVE_SQL)?;
                tx.commit()
            });
        self.settle();
        match moved {
            Ok(()) => {
                self.staged = 0;
                self.move_at = self.batch;
                self.move_failed = false;
            }
            Err(e) => {
                if !self.move_failed {
                    tracing::warn!(
                        path = %self.path,
                        error = %e,
                        waiting = self.staged,
                        "cannot move new runs into the indexed table; they stay in runs_new, \
                         read as before, and the move is tried again after {} more new runs \
                         or at the next purge",
                        self.batch
                    );
                    self.move_failed = true;
                }
                self.move_at = self.staged.saturating_add(self.batch);
            }
        }
    }

    /// Copies the write-ahead log into the file once it holds
    /// `AUTOCHECKPOINT_BYTES`, as SQLite's automatic checkpoint would, but
    /// after the commit has been answered. Best effort, as SQLite's: a
    /// checkpoint that cannot finish is tried again after a later commit.
    fn checkpoint_if_due(&mut self) {
        if self.wal_pages.load(Ordering::Relaxed) >= self.checkpoint_pages {
            self.wal_pages.store(0, Ordering::Relaxed);
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }

    /// Prepares the entries of `parts`, in order, and writes them in one
    /// transaction.
    pub(crate) fn append_parts(&mut self, parts: &[Vec<Entry>]) -> Result<(), StoreError> {
        let batch = prepare_with(&self.path, parts, &mut self.encoder)?;
        if batch.is_empty() {
            return Ok(());
        }
        self.append(batch)
    }

    /// Writes a prepared batch in one transaction.
    pub(crate) fn append(&mut self, batch: Prepared) -> Result<(), StoreError> {
        self.staging = 0;
        let result = self.append_in_transaction(batch);
        // The texts this batch inserted are known to be in the file once
        // it committed, and not if it did not; so are its new runs.
        self.texts.settle(result.is_ok());
        if result.is_ok() {
            self.staged += self.staging;
        }
        self.settle();
        pack::release(&mut self.packed);
        result
    }

    fn append_in_transaction(&mut self, batch: Prepared) -> Result<(), StoreError> {
        let Writer {
            conn,
            path,
            texts,
            packed,
            staging,
            ..
        } = self;
        let path = path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, "cannot append", e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let now = millis_now();
        {
            // The run's summary, and whether it waits in `runs_new`.
            let mut select = tx
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS}, next_seq, 0 FROM runs WHERE id = ?1
                     UNION ALL SELECT {SUMMARY_COLUMNS}, next_seq, 1 FROM runs_new WHERE id = ?1"
                ))
                .map_err(fail)?;
            let mut insert_journal = tx
                .prepare_cached(
                    "INSERT INTO journal (run, first_seq, last_seq, records, checksum)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(fail)?;
            // A new run goes into `runs_new`, unindexed: its commit writes
            // no page of the indexes of `runs` (see `MOVE_STAGED`).
            let mut insert_run = tx
                .prepare_cached(
                    "INSERT INTO runs_new (id, workflow, status, parent, started_at,
                                           updated_at, ended_at, next_seq, text)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(fail)?;
            for rb in batch.runs {
                let id = id_bytes(rb.run);
                let stored = select
                    .query_row([&id[..]], |row| {
                        Ok((
                            summary_from_row(row),
                            row.get::<_, i64>(7)?,
                            row.get::<_, bool>(8)?,
                        ))
                    })
                    .optional()
                    .map_err(fail)?;
                let new = stored.is_none();
                // The statements of the table that holds a stored run.
                let (touch_sql, update_sql) = match &stored {
                    Some((_, _, false)) => (TOUCH_RUN, UPDATE_RUN),
                    Some((_, _, true)) | None => (TOUCH_RUN_NEW, UPDATE_RUN_NEW),
                };
                let mut summary = match (stored, rb.start) {
                    (None, Some(start)) => start,
                    (None, None) => {
                        return Err(out_of_sequence(path, rb.run, rb.first, -1));
                    }
                    (Some((summary, next, _)), _) => {
                        if int(rb.first) != next {
                            return Err(if rb.first == 0 {
                                one_start(path, rb.run)
                            } else {
                                out_of_sequence(path, rb.run, rb.first, next as i128 - 1)
                            });
                        }
                        summary.map_err(|what| error::damaged(path, what))?
                    }
                };
                let before = (!new).then_some((summary.status, summary.ended_at));
                // A new run's text: named by its SHA-256, and inserted
                // unless the file is known to hold it.
                let text = match &rb.source {
                    Some(source) => {
                        let (sha256, stored) = texts.name(source);
                        if !stored {
                            tx.prepare_cached(
                                "INSERT INTO texts (sha256, source, checksum) VALUES (?1, ?2, ?3)
                                 ON CONFLICT (sha256) DO NOTHING",
                            )
                            .and_then(|mut insert| {
                                insert.execute(params![
                                    &sha256[..],
                                    &**source,
                                    crc32fast::hash(source.as_bytes())
                                ])
                            })
                            .map_err(fail)?;
                            texts.inserted(sha256);
                        }
                        Some(sha256)
                    }
                    None => None,
                };
                for effect in &rb.effects {
                    summary.follow(effect, now);
                }
                summary.updated_at = now;
                // Packed with LZ4 when it is long enough and LZ4 makes it
                // smaller; otherwise a blob in the binary form (or, from
                // an encoder without it, the JSON as text: serde_json
                // writes UTF-8, bound without checking it again). The
                // checksum is of the bytes stored.
                let (records, checksum) = match pack::pack(&rb.json, packed) {
                    Some(bytes) => (ValueRef::Blob(bytes), crc32fast::hash(bytes)),
                    None if rb.json.first() == Some(&pack::BINARY) => {
                        (ValueRef::Blob(&rb.json), crc32fast::hash(&rb.json))
                    }
                    None => (ValueRef::Text(&rb.json), crc32fast::hash(&rb.json)),
                };
                let json = ToSqlOutput::Borrowed(records);
                insert_journal
                    .execute(params![
                        &id[..],
                        int(rb.first),
                        int(rb.last),
                        json,
                        checksum
                    ])
                    .map_err(fail)?;
                let next_seq = int(rb.last).saturating_add(1);
                if new {
                    insert_run
                        .execute(params![
                            &id[..],
                            summary.workflow,
                            summary.status.as_str(),
                            summary.parent.map(id_bytes).as_ref().map(|p| &p[..]),
                            int(summary.started_at),
                            int(summary.updated_at),
                            summary.ended_at.map(int),
                            next_seq,
                            text.as_ref().map(|t| &t[..]),
                        ])
                        .map_err(fail)?;
                    *staging += 1;
                } else if before == Some((summary.status, summary.ended_at)) {
                    // A stored run whose status and end stay as they were:
                    // an UPDATE that sets `status` or `ended_at` rewrites
                    // the run's entry in `runs_by_status` or `runs_by_end`
                    // even when the value is the same, a page of the log
                    // for nothing.
                    tx.prepare_cached(touch_sql)
                        .and_then(|mut touch| {
                            touch.execute(params![&id[..], int(summary.updated_at), next_seq])
                        })
                        .map_err(fail)?;
                } else {
                    tx.prepare_cached(update_sql)
                        .and_then(|mut update| {
                            update.execute(params![
                                &id[..],
                                summary.status.as_str(),
                                int(summary.updated_at),
                                summary.ended_at.map(int),
                                next_seq,
                            ])
                        })
                        .map_err(fail)?;
                }
            }
        }
        tx.commit().map_err(fail)
    }

    /// Deletes the runs that ended before `before`, with their journals,
    /// and the texts no run names any more; then moves the runs still
    /// waiting in `runs_new` into `runs`, best effort.
    pub(crate) fn purge(&mut self, before: Millis) -> Result<usize, StoreError> {
        let result = self.purge_in_transaction(before);
        if let Ok((_, waiting)) = result {
            self.staged = waiting;
            if waiting == 0 {
                // Nothing waits any more: a failed move's back-off is over.
                self.move_at = self.batch;
                self.move_failed = false;
            }
        }
        // Texts may be gone: the next run of each inserts its text again
        // (or finds it there).
        self.texts.forget();
        self.settle();
        if matches!(result, Ok((n, _)) if n > 0) {
            // The deleted pages were overwritten (`secure_delete`), but the
            // log still holds their earlier copies: copy it back into the
            // file and empty it. Best effort: a reader that holds an old
            // snapshot keeps the log until a later checkpoint.
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        if result.is_ok() && self.staged > 0 {
            // After the purge, not before it: a move may need pages that
            // only the purge frees (a full file), and a purge must not
            // fail for it.
            self.move_staged();
        }
        result.map(|(n, _)| n)
    }

    /// The purge's transaction: the runs deleted, and those still waiting
    /// in `runs_new`. Deletes only, so that it frees pages before it needs
    /// any (a full file's remedy).
    fn purge_in_transaction(&mut self, before: Millis) -> Result<(usize, usize), StoreError> {
        let path = self.path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, "cannot purge", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        // The texts the deleted runs named, each once.
        let mut named: HashSet<Vec<u8>> = HashSet::new();
        let mut n = 0;
        for table in ["runs", "runs_new"] {
            tx.execute(&PurgeSql::journal(table), [int(before)])
                .map_err(fail)?;
            let mut delete = tx.prepare(&PurgeSql::runs(table)).map_err(fail)?;
            let mut rows = delete.query([int(before)]).map_err(fail)?;
            while let Some(row) = rows.next().map_err(fail)? {
                n += 1;
                if let Some(text) = row.get::<_, Option<Vec<u8>>>(0).map_err(fail)? {
                    named.insert(text);
                }
            }
        }
        // Those no run names any more, in either table.
        let mut unnamed = tx.prepare(PurgeSql::UNNAMED_TEXT).map_err(fail)?;
        for text in &named {
            unnamed.execute([&text[..]]).map_err(fail)?;
        }
        drop(unnamed);
        let waiting: i64 = tx
            .query_row("SELECT count(*) FROM runs_new", [], |row| row.get(0))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok((n, waiting.max(0) as usize))
    }

    /// Leaves no transaction open after a failure (a full disk can leave
    /// SQLite's transaction open when the statement alone was undone).
    fn settle(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The statements of a purge, their argument `?1` the cutoff (or, for
/// [`PurgeSql::UNNAMED_TEXT`], a text's SHA-256).
pub(crate) struct PurgeSql;

impl PurgeSql {
    /// Deletes the journals of the runs of `table` (`runs` or `runs_new`)
    /// ended before the cutoff.
    pub(crate) fn journal(table: &str) -> String {
        format!(
            "DELETE FROM journal WHERE run IN (SELECT id FROM {table} WHERE {})",
            Self::ended_before()
        )
    }

    /// Deletes the runs of `table` (`runs` or `runs_new`) ended before the
    /// cutoff, returning their texts.
    pub(crate) fn runs(table: &str) -> String {
        format!(
            "DELETE FROM {table} WHERE {} RETURNING text",
            Self::ended_before()
        )
    }

    /// Deletes the text `?1` if no run names it (found on `runs_by_text`,
    /// and among the few runs waiting in `runs_new`, which has no index).
    pub(crate) const UNNAMED_TEXT: &str = "DELETE FROM texts WHERE sha256 = ?1
         AND NOT EXISTS (SELECT 1 FROM runs WHERE text = ?1)
         AND NOT EXISTS (SELECT 1 FROM runs_new WHERE text = ?1)";

    /// The runs ended before the cutoff, found in `runs` on `runs_by_end`, which
    /// holds the ended runs by their end: a purge reads the runs it
    /// deletes and no others. The `+` keeps SQLite from reading
    /// `runs_by_status` instead (with no statistics of the file it takes
    /// an equality over a range), which would read every ended run of the
    /// file at each purge.
    fn ended_before() -> String {
        let ended: Vec<String> = RunStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!(
            "ended_at IS NOT NULL AND ended_at < ?1 AND +status IN ({})",
            ended.join(", ")
        )
    }
}

/// The workflow texts the writer's connection knows the file to hold, so
/// that the runs of a workflow whose text is in the file cost no lookup
/// and no hashing: only the first run of each text (since the store was
/// opened, or since the last purge) inserts it, and a run whose text is
/// the one before costs a comparison of the two.
#[derive(Default)]
struct Texts {
    /// The text named last, and its SHA-256.
    last: Option<(Arc<str>, [u8; 32])>,
    /// The texts committed to `texts` (or found there).
    stored: HashSet<[u8; 32]>,
    /// Those inserted by the transaction going on.
    pending: Vec<[u8; 32]>,
}

/// The most texts [`Texts`] remembers: past that it starts again (a text
/// is then inserted once more, and found there).
const TEXTS_KNOWN: usize = 4096;

impl Texts {
    /// The SHA-256 of `source`, and whether the file is known to hold it.
    fn name(&mut self, source: &Arc<str>) -> ([u8; 32], bool) {
        let sha256 = match &self.last {
            // One copy shared by the runs of a workflow (`Encoder`), or an
            // equal one.
            Some((text, sha256)) if Arc::ptr_eq(text, source) || **text == **source => *sha256,
            _ => {
                let sha256: [u8; 32] = sha2::Sha256::digest(source.as_bytes()).into();
                self.last = Some((source.clone(), sha256));
                sha256
            }
        };
        let stored = self.stored.contains(&sha256) || self.pending.contains(&sha256);
        (sha256, stored)
    }

    /// `sha256`'s text was inserted by the transaction going on.
    fn inserted(&mut self, sha256: [u8; 32]) {
        self.pending.push(sha256);
    }

    /// The transaction going on committed (`true`), or did not.
    fn settle(&mut self, committed: bool) {
        if committed {
            if self.stored.len() + self.pending.len() > TEXTS_KNOWN {
                self.stored.clear();
            }
            self.stored.extend(self.pending.drain(..));
        } else {
            self.pending.clear();
        }
    }

    /// Forgets which texts the file holds (a purge may have deleted some).
    fn forget(&mut self) {
        self.stored.clear();
        self.pending.clear();
    }
}

fn millis_now() -> Millis {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use weft_runtime::store::driver::conformance::{entries, started};

    use super::*;
    use crate::options::SqliteOptions;
    use crate::schema::open_writer;

    fn waiting(writer: &Writer) -> (i64, i64) {
        let count = |table: &str| -> i64 {
            writer
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        (count("runs"), count("runs_new"))
    }

    fn new_run(writer: &mut Writer) {
        let batch = entries(RunId::new(), 0, vec![started("w", None, 1)]);
        writer.append_parts(&[batch]).unwrap();
    }

    /// A writer of a new file in `dir` that moves runs 2 at a time, and
    /// whose every insert into `runs` fails, as a full file's would (drop
    /// the trigger `no_move` to let moves succeed).
    fn writer_that_cannot_move(dir: &tempfile::TempDir) -> Writer {
        let file = dir.path().join("runs.db");
        let conn = open_writer(&file, "runs.db", &SqliteOptions::new()).unwrap();
        let writer = Writer::new(conn, "runs.db".to_owned(), 2).unwrap();
        writer
            .conn
            .execute_batch(
                "CREATE TRIGGER no_move BEFORE INSERT ON runs
                 BEGIN SELECT RAISE(ABORT, 'no room'); END;",
            )
            .unwrap();
        writer
    }

    /// A move that fails leaves the runs waiting, readable, and is not
    /// tried after every commit: only once another batch waits.
    #[test]
    fn a_failed_move_is_tried_again_a_batch_later() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer_that_cannot_move(&dir);
        for _ in 0..2 {
            new_run(&mut writer);
        }
        writer.move_if_due();
        assert_eq!(waiting(&writer), (0, 2));
        assert_eq!((writer.staged, writer.move_at), (2, 4));
        assert!(writer.move_failed);
        writer.conn.execute_batch("DROP TRIGGER no_move").unwrap();
        // The next commit does not try again (it would succeed now)...
        new_run(&mut writer);
        writer.move_if_due();
        assert_eq!(waiting(&writer), (0, 3));
        // ...the one that makes another batch does, and moves them all.
        new_run(&mut writer);
        writer.move_if_due();
        assert_eq!(waiting(&writer), (4, 0));
        assert_eq!((writer.staged, writer.move_at), (0, 2));
        assert!(!writer.move_failed);
    }

    /// A purge that deletes every run waiting ends a failed move's
    /// back-off: the next move is due a batch later, not a batch after the
    /// runs that waited then.
    #[test]
    fn a_purge_that_empties_the_waiting_runs_ends_the_back_off() {
        use weft_runtime::store::driver::conformance::ended;
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer_that_cannot_move(&dir);
        for _ in 0..3 {
            let run = entries(
                RunId::new(),
                0,
                vec![started("w", None, 1), ended(RunStatus::Succeeded, 2)],
            );
            writer.append_parts(&[run]).unwrap();
        }
        writer.move_if_due();
        assert_eq!((writer.staged, writer.move_at), (3, 5));
        assert!(writer.move_failed);
        assert_eq!(writer.purge(10).unwrap(), 3);
        assert_eq!(waiting(&writer), (0, 0));
        assert_eq!((writer.staged, writer.move_at), (0, 2));
        assert!(!writer.move_failed);
    }
}
