//! Reading: journals, summaries and lists. Each answer is one statement,
//! so it reads one committed state.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;
use weft_runtime::store::driver;
use weft_runtime::store::{Entry, RunFilter, RunSummary, StoreError};
use weft_runtime::{RunId, RunStatus};

use crate::error;
use crate::inner::Inner;

/// A summary from the row of a `SELECT {SUMMARY_COLUMNS}`; `Err` says what
/// in the row cannot be read.
pub(crate) fn summary_from_row(row: &Row) -> Result<RunSummary, String> {
    let get_err = |e: tokio_postgres::Error| format!("a run's summary cannot be read ({e})");
    let id: Uuid = row.try_get(0).map_err(get_err)?;
    let id = RunId::from_uuid(id);
    let status: &str = row.try_get(2).map_err(get_err)?;
    let status: RunStatus = status
        .parse()
        .map_err(|e| format!("run {id} has a status weft does not know ({e})"))?;
    let parent: Option<Uuid> = row.try_get(3).map_err(get_err)?;
    let time = |i: usize| -> Result<u64, String> {
        let t: i64 = row.try_get(i).map_err(get_err)?;
        Ok(t.max(0) as u64)
    };
    let ended_at: Option<i64> = row.try_get(6).map_err(get_err)?;
    Ok(RunSummary {
        id,
        workflow: row.try_get(1).map_err(get_err)?,
        status,
        parent: parent.map(RunId::from_uuid),
        started_at: time(4)?,
        updated_at: time(5)?,
        ended_at: ended_at.map(|t| t.max(0) as u64),
        owner: None,
    })
}

/// [`SUMMARY_COLUMNS`](crate::write::SUMMARY_COLUMNS) and the process holding the run's lease, if one
/// holds a lease that has not run out.
const LISTED_COLUMNS: &str = "id, workflow, status, parent, started_at, updated_at, ended_at, \
     CASE WHEN lease_until >= now() THEN owner END";

/// A summary from the row of a `SELECT {LISTED_COLUMNS}`, with its owner.
fn listed_from_row(row: &Row) -> Result<RunSummary, String> {
    let mut summary = summary_from_row(row)?;
    summary.owner = row
        .try_get(7)
        .map_err(|e| format!("a run's owner cannot be read ({e})"))?;
    Ok(summary)
}

impl Inner {
    pub(crate) async fn load(&self, run: RunId) -> Result<Vec<Entry>, StoreError> {
        let out = self.load_from(run, 0).await?;
        if out.is_empty() {
            return Err(StoreError::NotFound(run));
        }
        Ok(out)
    }

    /// The journal from record `from` on: the rows from the one that holds
    /// `from` (found on the primary key), cut to start there; an empty list
    /// when nothing is there yet, `NotFound` when the run is not.
    pub(crate) async fn load_from(&self, run: RunId, from: u64) -> Result<Vec<Entry>, StoreError> {
        let at = self.at.as_str();
        let doing = format!("cannot load run {run}");
        let fail = self.fail(&doing);
        let conn = self.conn(&doing).await?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT first_seq, last_seq, records FROM {s}.journal
                 WHERE run = $1 AND first_seq >= coalesce(
                     (SELECT max(first_seq) FROM {s}.journal WHERE run = $1 AND first_seq <= $2), 0)
                 ORDER BY first_seq",
                s = self.schema
            ))
            .await
            .map_err(fail)?;
        let from_i = i64::try_from(from).unwrap_or(i64::MAX);
        let rows = conn
            .query(&stmt, &[run.as_uuid(), &from_i])
            .await
            .map_err(fail)?;
        let mut out: Vec<Entry> = Vec::new();
        for row in rows {
            let first: i64 = row.get(0);
            let last: i64 = row.get(1);
            if last < from_i {
                continue;
            }
            let bytes: &[u8] = row.get(2);
            let extended = if from == 0 {
                driver::extend_journal(&mut out, run, first, last, bytes)
            } else {
                driver::extend_journal_from(&mut out, run, first, last, bytes)
            };
            extended.map_err(|what| error::damaged(at, what))?;
        }
        if out.is_empty() {
            drop(conn);
            // Nothing new, or no such run.
            if self.get(run).await?.is_none() {
                return Err(StoreError::NotFound(run));
            }
            return Ok(out);
        }
        let skip = out.iter().take_while(|e| e.seq < from).count();
        out.drain(..skip);
        Ok(out)
    }

    pub(crate) async fn get(&self, run: RunId) -> Result<Option<RunSummary>, StoreError> {
        let at = self.at.as_str();
        let doing = format!("cannot read run {run}");
        let fail = self.fail(&doing);
        let conn = self.conn(&doing).await?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {LISTED_COLUMNS} FROM {}.runs WHERE id = $1",
                self.schema
            ))
            .await
            .map_err(fail)?;
        let row = conn
            .query_opt(&stmt, &[run.as_uuid()])
            .await
            .map_err(fail)?;
        row.map(|r| listed_from_row(&r).map_err(|w| error::damaged(at, w)))
            .transpose()
    }

    pub(crate) async fn list(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let at = self.at.as_str();
        let fail = self.fail("cannot list runs");
        let conn = self.conn("cannot list runs").await?;
        let mut sql = format!(
            "SELECT {LISTED_COLUMNS} FROM {}.runs WHERE true",
            self.schema
        );
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let limit = filter.limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let after = filter.started_after.map(millis_i64);
        let before_time = filter.started_before.map(millis_i64);
        let before = filter.before.map(|id| *id.as_uuid());
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if !statuses.is_empty() {
            params.push(&statuses);
            sql.push_str(&format!(" AND status = ANY(${})", params.len()));
        }
        if let Some(w) = &filter.workflow {
            params.push(w);
            sql.push_str(&format!(" AND workflow = ${}", params.len()));
        }
        if filter.top_level {
            sql.push_str(" AND parent IS NULL");
        }
        if let Some(t) = &after {
            params.push(t);
            sql.push_str(&format!(" AND started_at >= ${}", params.len()));
        }
        if let Some(t) = &before_time {
            params.push(t);
            sql.push_str(&format!(" AND started_at < ${}", params.len()));
        }
        if let Some(id) = &before {
            params.push(id);
            sql.push_str(&format!(" AND id < ${}", params.len()));
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(n) = &limit {
            params.push(n);
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        let rows = conn.query(&sql, &params).await.map_err(fail)?;
        rows.iter()
            .map(|r| listed_from_row(r).map_err(|w| error::damaged(at, w)))
            .collect()
    }
}

fn millis_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
