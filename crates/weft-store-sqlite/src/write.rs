//! Appending and purging: the writer thread's side, and the preparation of
//! a batch on the caller's side.
//!
//! A batch is checked and serialized by the caller ([`prepare`]): its
//! entries are grouped by run, each run's records become one JSON array,
//! and what changes the run's summary is kept aside. The writer thread then
//! checks each run's first sequence number against the one its summary row
//! expects, and writes one journal row and one summary row per run, all in
//! one transaction: a conflict or a failure rolls the whole batch back.

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use weft_runtime::store::{Entry, Millis, Record, RunEnd, RunSummary, StoreError};
use weft_runtime::{RunId, RunStatus};

use crate::error;
use crate::read::{id_bytes, summary_from_row, SUMMARY_COLUMNS};

/// One run's part of a batch, ready to write.
pub(crate) struct RunBatch {
    run: RunId,
    first: u64,
    last: u64,
    /// The records, a JSON array.
    json: Vec<u8>,
    /// CRC-32 of `json`.
    checksum: u32,
    /// The run's summary, when the batch starts its journal.
    start: Option<RunSummary>,
    /// The records that change the summary (commands and ends, without
    /// their payloads), in order.
    effects: Vec<Record>,
}

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
    let mut runs: Vec<RunBatch> = Vec::new();
    let mut index: HashMap<RunId, usize> = HashMap::new();
    for e in entries {
        let i = *index.entry(e.run).or_insert_with(|| {
            runs.push(RunBatch {
                run: e.run,
                first: e.seq,
                last: e.seq,
                json: Vec::with_capacity(256),
                checksum: 0,
                start: None,
                effects: Vec::new(),
            });
            runs.len() - 1
        });
        let rb = &mut runs[i];
        if rb.json.is_empty() {
            rb.json.push(b'[');
        } else {
            if Some(e.seq) != rb.last.checked_add(1) {
                return Err(out_of_sequence(path, e.run, e.seq, rb.last as i128));
            }
            rb.json.push(b',');
        }
        rb.last = e.seq;
        match &e.record {
            Record::Started(start) if e.seq == 0 => {
                rb.start = Some(RunSummary::started(e.run, start, 0));
            }
            Record::Started(_) => return Err(one_start(path, e.run)),
            _ if e.seq == 0 => return Err(one_start(path, e.run)),
            Record::Command { step, command } => rb.effects.push(Record::Command {
                step: *step,
                command: command.clone(),
            }),
            Record::Ended(end) => rb.effects.push(Record::Ended(Box::new(RunEnd {
                status: end.status,
                output: serde_json::Value::Null,
                errors: Vec::new(),
                ended_at: end.ended_at,
            }))),
            _ => {}
        }
        serde_json::to_writer(&mut rb.json, &e.record).map_err(|err| {
            error::other(
                path,
                format!(
                    "cannot append: record {} of run {} cannot be written as JSON ({err})",
                    e.seq, e.run
                ),
            )
        })?;
    }
    for rb in &mut runs {
        rb.json.push(b']');
        rb.checksum = crc32fast::hash(&rb.json);
    }
    Ok(Prepared { runs })
}

fn out_of_sequence(path: &str, run: RunId, seq: u64, previous: i128) -> StoreError {
    error::conflict(
        path,
        format!("run {run}: record {seq} does not follow on from record {previous}"),
    )
}

fn one_start(path: &str, run: RunId) -> StoreError {
    error::conflict(
        path,
        format!("run {run}: a journal starts with its `started` record, and has only one"),
    )
}

/// SQLite's integers are signed; sequence numbers and times never come
/// near the difference.
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The connection that writes, owned by the writer thread.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) path: String,
}

impl Writer {
    /// Writes a prepared batch in one transaction.
    pub(crate) fn append(&mut self, batch: Prepared) -> Result<(), StoreError> {
        let result = self.append_in_transaction(batch);
        self.settle();
        result
    }

    fn append_in_transaction(&mut self, batch: Prepared) -> Result<(), StoreError> {
        let path = self.path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, "cannot append", &e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let now = millis_now();
        {
            let mut select = tx
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS}, next_seq FROM runs WHERE id = ?1"
                ))
                .map_err(fail)?;
            let mut insert_journal = tx
                .prepare_cached(
                    "INSERT INTO journal (run, first_seq, last_seq, records, checksum)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(fail)?;
            let mut upsert_run = tx
                .prepare_cached(
                    "INSERT INTO runs (id, workflow, status, parent, started_at, updated_at,
                                       ended_at, next_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET
                        status = excluded.status,
                        updated_at = excluded.updated_at,
                        ended_at = excluded.ended_at,
                        next_seq = excluded.next_seq",
                )
                .map_err(fail)?;
            for rb in batch.runs {
                let id = id_bytes(rb.run);
                let stored = select
                    .query_row([&id[..]], |row| {
                        Ok((summary_from_row(row), row.get::<_, i64>(7)?))
                    })
                    .optional()
                    .map_err(fail)?;
                let mut summary = match (stored, rb.start) {
                    (None, Some(start)) => start,
                    (None, None) => {
                        return Err(out_of_sequence(path, rb.run, rb.first, -1));
                    }
                    (Some((summary, next)), _) => {
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
                for effect in &rb.effects {
                    summary.follow(effect, now);
                }
                summary.updated_at = now;
                // serde_json writes UTF-8: bind it as text without checking again.
                let json = ToSqlOutput::Borrowed(ValueRef::Text(&rb.json));
                insert_journal
                    .execute(params![
                        &id[..],
                        int(rb.first),
                        int(rb.last),
                        json,
                        rb.checksum
                    ])
                    .map_err(fail)?;
                upsert_run
                    .execute(params![
                        &id[..],
                        summary.workflow,
                        summary.status.as_str(),
                        summary.parent.map(id_bytes).as_ref().map(|p| &p[..]),
                        int(summary.started_at),
                        int(summary.updated_at),
                        summary.ended_at.map(int),
                        int(rb.last).saturating_add(1),
                    ])
                    .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// Deletes the runs that ended before `before`, with their journals.
    pub(crate) fn purge(&mut self, before: Millis) -> Result<usize, StoreError> {
        let result = self.purge_in_transaction(before);
        self.settle();
        result
    }

    fn purge_in_transaction(&mut self, before: Millis) -> Result<usize, StoreError> {
        let path = self.path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, "cannot purge", &e);
        let ended: Vec<String> = RunStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let which = format!(
            "ended_at IS NOT NULL AND ended_at < ?1 AND status IN ({})",
            ended.join(", ")
        );
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        tx.execute(
            &format!("DELETE FROM journal WHERE run IN (SELECT id FROM runs WHERE {which})"),
            [int(before)],
        )
        .map_err(fail)?;
        let n = tx
            .execute(&format!("DELETE FROM runs WHERE {which}"), [int(before)])
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(n)
    }

    /// Leaves no transaction open after a failure (a full disk can leave
    /// SQLite's transaction open when the statement alone was undone).
    fn settle(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn millis_now() -> Millis {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
