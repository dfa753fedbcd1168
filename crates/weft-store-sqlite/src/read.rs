//! Reading: journals, summaries and lists, on the reader thread's own
//! connection. Each answer is one statement, so it reads one committed
//! state of the file (the write-ahead log lets it read while the writer
//! commits): a run's summary is in `runs` or in `runs_new`, never both,
//! in any one state. (Whether the file has `runs_new` at all, a file
//! before schema version 6 does not, is read from its schema first, until
//! the connection has seen it: [`Reader::has_staged`].)

use std::cell::Cell;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row};
use weft_runtime::store::driver;
use weft_runtime::store::{Entry, Record, RunFilter, RunSummary, StoreError};
use weft_runtime::{RunId, RunStatus};

use crate::error;
use crate::pack;

/// The columns [`summary_from_row`] reads, in its order.
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, workflow, status, parent, started_at, updated_at, ended_at";

/// A run id as the tables keep it: the UUID's 16 bytes, which sort as the
/// ids do (by creation time).
pub(crate) fn id_bytes(run: RunId) -> [u8; 16] {
    *run.as_uuid().as_bytes()
}

fn id_from(bytes: &[u8]) -> Result<RunId, String> {
    uuid::Uuid::from_slice(bytes)
        .map(RunId::from_uuid)
        .map_err(|_| format!("a run id of {} bytes", bytes.len()))
}

/// A summary from the row of a `SELECT {SUMMARY_COLUMNS}`; `Err` says what
/// in the row is damaged.
pub(crate) fn summary_from_row(row: &Row<'_>) -> Result<RunSummary, String> {
    let get_err = |e: rusqlite::Error| format!("a run's summary cannot be read ({e})");
    let id: Vec<u8> = row.get(0).map_err(get_err)?;
    let id = id_from(&id)?;
    let status: String = row.get(2).map_err(get_err)?;
    let status: RunStatus = status
        .parse()
        .map_err(|e| format!("run {id} has a status weft does not know ({e})"))?;
    let parent: Option<Vec<u8>> = row.get(3).map_err(get_err)?;
    let time = |i: usize| -> Result<u64, String> {
        let t: i64 = row.get(i).map_err(get_err)?;
        Ok(t.max(0) as u64)
    };
    let ended_at: Option<i64> = row.get(6).map_err(get_err)?;
    Ok(RunSummary {
        id,
        workflow: row.get(1).map_err(get_err)?,
        status,
        parent: parent.as_deref().map(id_from).transpose()?,
        started_at: time(4)?,
        updated_at: time(5)?,
        ended_at: ended_at.map(|t| t.max(0) as u64),
        owner: None,
    })
}

/// Whether the file has `runs_new` (schema version 6 on; a store opened
/// read-only reads files from version 3): the reads of a file without it
/// leave it out.
fn file_has_staged(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'runs_new')",
    )?
    .query_row([], |row| row.get(0))
}

/// The connection that reads, owned by the reader thread.
pub(crate) struct Reader {
    pub(crate) conn: Connection,
    pub(crate) path: String,
    /// The file was seen to have `runs_new`: no table is ever dropped, so
    /// it has it from then on.
    staged: Cell<bool>,
}

impl Reader {
    /// The reader of `conn`, the file at `path`.
    pub(crate) fn new(conn: Connection, path: String) -> Reader {
        Reader {
            conn,
            path,
            staged: Cell::new(false),
        }
    }

    /// Whether the file has `runs_new`: read from its schema until it
    /// does (a writer of schema version 6 may migrate a file of an older
    /// one while this connection reads it), then known.
    fn has_staged(&self) -> rusqlite::Result<bool> {
        if !self.staged.get() && file_has_staged(&self.conn)? {
            self.staged.set(true);
        }
        Ok(self.staged.get())
    }

    /// One run's journal, in sequence order.
    pub(crate) fn load(&self, run: RunId) -> Result<Vec<Entry>, StoreError> {
        let out = self.load_from(run, 0)?;
        if out.is_empty() {
            return Err(StoreError::NotFound(run));
        }
        Ok(out)
    }

    /// One run's journal from the record `from` on: the rows from the one
    /// that holds `from` (found on the primary key), cut to start there.
    /// An empty list when the run has no record from `from` on, an error
    /// when the store has no such run.
    ///
    /// A journal read from its start gives its `Started` record the
    /// workflow text its run names (`runs.text`, kept in `texts`), read in
    /// the same statement as the rows; a run that names none (one started
    /// before schema version 3) has its text in the record.
    pub(crate) fn load_from(&self, run: RunId, from: u64) -> Result<Vec<Entry>, StoreError> {
        let path = self.path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, &format!("cannot load run {run}"), e);
        // The summary is in `runs` or, not yet moved, in `runs_new`.
        let staged = self.has_staged().map_err(fail)?;
        let sql = if staged {
            "SELECT j.first_seq, j.last_seq, j.records, j.checksum, coalesce(r.text, n.text),
                    t.source, t.checksum, r.id IS NOT NULL OR n.id IS NOT NULL
             FROM journal AS j
             LEFT JOIN runs AS r ON j.first_seq = 0 AND ?2 = 0 AND r.id = j.run
             LEFT JOIN runs_new AS n ON j.first_seq = 0 AND ?2 = 0 AND n.id = j.run
             LEFT JOIN texts AS t ON t.sha256 = coalesce(r.text, n.text)
             WHERE j.run = ?1 AND j.first_seq >= coalesce(
                 (SELECT max(first_seq) FROM journal WHERE run = ?1 AND first_seq <= ?2), 0)
             ORDER BY j.first_seq"
        } else {
            "SELECT j.first_seq, j.last_seq, j.records, j.checksum, r.text, t.source,
                    t.checksum, r.id IS NOT NULL
             FROM journal AS j
             LEFT JOIN runs AS r ON j.first_seq = 0 AND ?2 = 0 AND r.id = j.run
             LEFT JOIN texts AS t ON t.sha256 = r.text
             WHERE j.run = ?1 AND j.first_seq >= coalesce(
                 (SELECT max(first_seq) FROM journal WHERE run = ?1 AND first_seq <= ?2), 0)
             ORDER BY j.first_seq"
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(fail)?;
        let id = id_bytes(run);
        // The journal's length, from the last row's numbers (on the
        // primary key): the list is made once at its size instead of
        // growing by doubling, a copy of the whole list each time.
        let mut size = self
            .conn
            .prepare_cached(
                "SELECT last_seq FROM journal WHERE run = ?1 ORDER BY first_seq DESC LIMIT 1",
            )
            .map_err(fail)?;
        let last: Option<i64> = size
            .query_row([&id[..]], |row| row.get(0))
            .optional()
            .map_err(fail)?;
        let records = last.map_or(0, |last| {
            last.saturating_add(1).saturating_sub(int(from)).max(0)
        });
        let mut rows = stmt
            .query(rusqlite::params![&id[..], int(from)])
            .map_err(fail)?;
        // A damaged number reserves no more than a million records; a
        // longer journal grows from there.
        let mut out: Vec<Entry> = Vec::with_capacity((records as usize).min(1 << 20));
        // A packed row's JSON, unpacked here: one buffer for all the rows.
        let mut unpacked = Vec::new();
        while let Some(row) = rows.next().map_err(fail)? {
            let first: i64 = row.get(0).map_err(fail)?;
            let last: i64 = row.get(1).map_err(fail)?;
            if last < int(from) {
                continue;
            }
            // A blob is in the binary form (schema version 5) or packed
            // (version 4), text is the JSON.
            let (bytes, packed) = match row.get_ref(2).map_err(fail)? {
                rusqlite::types::ValueRef::Text(b) => (b, false),
                rusqlite::types::ValueRef::Blob(b) => (b, true),
                _ => {
                    return Err(error::damaged(
                        path,
                        format!("run {run}: a journal row has no records"),
                    ))
                }
            };
            let checksum: i64 = row.get(3).map_err(fail)?;
            if i64::from(crc32fast::hash(bytes)) != checksum {
                return Err(error::damaged(
                    path,
                    format!("run {run}: records {first}..={last} do not match their checksum"),
                ));
            }
            // A blob in the binary form is read as it is (its tag is its
            // own first byte); a packed one is unpacked first.
            let bytes = if packed && bytes.first() != Some(&pack::BINARY) {
                pack::unpack(bytes, &mut unpacked).map_err(|what| {
                    error::damaged(
                        path,
                        format!("run {run}: records {first}..={last} cannot be read ({what})"),
                    )
                })?;
                &unpacked[..]
            } else {
                bytes
            };
            let extended = if from == 0 {
                driver::extend_journal(&mut out, run, first, last, bytes)
            } else {
                driver::extend_journal_from(&mut out, run, first, last, bytes)
            };
            extended.map_err(|what| error::damaged(path, what))?;
            if first == 0 && from == 0 {
                // The run's summary is joined to its first row: a run's
                // summary and first records go in in one transaction, so
                // records without it are a `runs` table the file can no
                // longer reach.
                let summary: bool = row.get(7).map_err(fail)?;
                if !summary {
                    return Err(no_summary(path, run));
                }
                text_into_start(row, &mut out, run).map_err(|what| error::damaged(path, what))?;
            }
        }
        if out.is_empty() {
            // Nothing new, or no such run. What the file has of it is read
            // in one statement (a writer may commit between two): a run's
            // summary and its first records go in in one transaction, and a
            // purge deletes both, so one without the other is a part of the
            // file SQLite can no longer reach (it does not check its pages'
            // content), not a run that is missing.
            return match self.presence(run)? {
                (false, false) => Err(StoreError::NotFound(run)),
                (false, true) => Err(no_summary(path, run)),
                (true, false) if from == 0 => Err(error::damaged(
                    path,
                    format!("run {run} has a summary but none of its records can be read"),
                )),
                // Stored since the journal was read: not there when it was.
                (true, true) if from == 0 => Err(StoreError::NotFound(run)),
                (true, _) => Ok(out),
            };
        }
        let skip = out.iter().take_while(|e| e.seq < from).count();
        out.drain(..skip);
        Ok(out)
    }

    /// One run's summary.
    pub(crate) fn get(&self, run: RunId) -> Result<Option<RunSummary>, StoreError> {
        let path = self.path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, &format!("cannot read run {run}"), e);
        let sql = match self.has_staged().map_err(fail)? {
            true => format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE id = ?1
                 UNION ALL SELECT {SUMMARY_COLUMNS} FROM runs_new WHERE id = ?1"
            ),
            false => format!("SELECT {SUMMARY_COLUMNS} FROM runs WHERE id = ?1"),
        };
        let mut stmt = self.conn.prepare_cached(&sql).map_err(fail)?;
        let found = stmt
            .query_row([&id_bytes(run)[..]], |row| Ok(summary_from_row(row)))
            .optional()
            .map_err(fail)?;
        match found {
            Some(summary) => summary.map(Some).map_err(|what| error::damaged(path, what)),
            // No summary: a run never stored (or stored since), or one
            // whose summary the file can no longer reach while its records
            // are there.
            None => match self.presence(run)? {
                (false, true) => Err(no_summary(path, run)),
                _ => Ok(None),
            },
        }
    }

    /// Whether the file has a summary of `run`, and records of it: read in
    /// one statement, so that a commit between two reads cannot make a run
    /// being stored look like one with a part missing.
    fn presence(&self, run: RunId) -> Result<(bool, bool), StoreError> {
        let path = self.path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, &format!("cannot read run {run}"), e);
        let sql = match self.has_staged().map_err(fail)? {
            true => {
                "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)
                            OR EXISTS (SELECT 1 FROM runs_new WHERE id = ?1),
                        EXISTS (SELECT 1 FROM journal WHERE run = ?1)"
            }
            false => {
                "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1),
                        EXISTS (SELECT 1 FROM journal WHERE run = ?1)"
            }
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_row([&id_bytes(run)[..]], |row| Ok((row.get(0)?, row.get(1)?)))
            })
            .map_err(fail)
    }

    /// The runs that pass `filter`, newest first.
    pub(crate) fn list(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let path = self.path.as_str();
        let fail = |e: rusqlite::Error| error::sql(path, "cannot list runs", e);
        let staged = self.has_staged().map_err(fail)?;
        let (sql, args) = list_query(filter, staged);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(fail)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |row| {
                Ok(summary_from_row(row))
            })
            .map_err(fail)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(
                row.map_err(fail)?
                    .map_err(|what| error::damaged(path, what))?,
            );
        }
        Ok(out)
    }
}

/// The statement that lists the runs `filter` passes, newest first, and
/// its arguments. A filter of at most one status has an index that holds
/// its runs in id order (`runs_by_status`, `runs_by_workflow`,
/// `runs_top_level`, or the table's own key), so that a page of a long
/// list reads that page's runs, not every run that passes (`plans.rs`
/// tests them). A filter of several statuses reads each status's runs on
/// `runs_by_status` and SQLite sorts them: a page of such a list costs the
/// runs of those statuses.
///
/// With `staged` (the file has `runs_new`), the runs not yet moved into
/// `runs` are read too: the same conditions on both tables, `UNION ALL`
/// in id order, which SQLite merges as it reads the two (each in id
/// order: `runs_new` on its key) rather than sorting them.
pub(crate) fn list_query(filter: &RunFilter, staged: bool) -> (String, Vec<SqlValue>) {
    let mut cond = String::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if !filter.statuses.is_empty() {
        let marks = vec!["?"; filter.statuses.len()].join(", ");
        cond.push_str(&format!(" AND status IN ({marks})"));
        args.extend(
            filter
                .statuses
                .iter()
                .map(|s| SqlValue::Text(s.as_str().to_owned())),
        );
    }
    if let Some(w) = &filter.workflow {
        cond.push_str(" AND workflow = ?");
        args.push(SqlValue::Text(w.clone()));
    }
    if filter.top_level {
        cond.push_str(" AND parent IS NULL");
    }
    if let Some(t) = filter.started_after {
        cond.push_str(" AND started_at >= ?");
        args.push(SqlValue::Integer(int(t)));
    }
    if let Some(t) = filter.started_before {
        cond.push_str(" AND started_at < ?");
        args.push(SqlValue::Integer(int(t)));
    }
    if let Some(last) = filter.before {
        cond.push_str(" AND id < ?");
        args.push(SqlValue::Blob(id_bytes(last).to_vec()));
    }
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM runs WHERE 1{cond}");
    if staged {
        sql.push_str(&format!(
            " UNION ALL SELECT {SUMMARY_COLUMNS} FROM runs_new WHERE 1{cond}"
        ));
        args.extend(args.clone());
    }
    sql.push_str(" ORDER BY id DESC");
    if let Some(n) = filter.limit {
        sql.push_str(" LIMIT ?");
        args.push(SqlValue::Integer(int(n as u64)));
    }
    (sql, args)
}

/// A run whose records are in the file but whose summary is not: no valid
/// file has one (the two go in, and are purged, together).
fn no_summary(path: &str, run: RunId) -> StoreError {
    error::damaged(
        path,
        format!("run {run} has records but its summary cannot be read"),
    )
}

/// Puts the workflow text that `row` (the first of a run's journal, read
/// from its start) names into the run's `Started` record, `out[0]`: the
/// row's columns 4 to 6 are the run's `text` and that text's `source` and
/// `checksum`, all NULL when the run names no text.
fn text_into_start(row: &Row<'_>, out: &mut [Entry], run: RunId) -> Result<(), String> {
    let get_err = |e: rusqlite::Error| format!("run {run}: its text cannot be read ({e})");
    if row.get_ref(4).map_err(get_err)? == rusqlite::types::ValueRef::Null {
        return Ok(());
    }
    let source = match row.get_ref(5).map_err(get_err)? {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => b,
        rusqlite::types::ValueRef::Null => {
            return Err(format!("run {run}: the workflow text it names is missing"))
        }
        other => {
            return Err(format!(
                "run {run}: its workflow text cannot be read (stored as {:?}, not text)",
                other.data_type()
            ))
        }
    };
    let checksum: i64 = row.get(6).map_err(get_err)?;
    if i64::from(crc32fast::hash(source)) != checksum {
        return Err(format!(
            "run {run}: its workflow text does not match its checksum"
        ));
    }
    let source = std::str::from_utf8(source)
        .map_err(|e| format!("run {run}: its workflow text cannot be read ({e})"))?;
    match out.first_mut().map(|e| &mut e.record) {
        Some(Record::Started(start)) => {
            start.source = source.to_owned();
            Ok(())
        }
        _ => Err(format!(
            "run {run}: it names a workflow text but its journal does not start with \
             its `started` record"
        )),
    }
}

/// SQLite's integers are signed; sequence numbers and times never come
/// near the difference.
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
