//! Reading: journals, summaries and lists. Each answer is one statement,
//! so it reads one committed state.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;
use weft_runtime::store::{self, Entry, RunFilter, RunSummary, StoreError};
use weft_runtime::{RunId, RunStatus};

use crate::error;
use crate::store::Inner;
use crate::write::SUMMARY_COLUMNS;

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
    })
}

impl Inner {
    pub(crate) async fn load(&self, run: RunId) -> Result<Vec<Entry>, StoreError> {
        let at = self.at.as_str();
        let doing = format!("cannot load run {run}");
        let fail = |e: tokio_postgres::Error| error::sql(at, &doing, &e);
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| error::pool(at, &doing, &e))?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT first_seq, last_seq, records FROM {}.journal
                 WHERE run = $1 ORDER BY first_seq",
                self.schema
            ))
            .await
            .map_err(fail)?;
        let rows = conn.query(&stmt, &[run.as_uuid()]).await.map_err(fail)?;
        let mut out: Vec<Entry> = Vec::new();
        for row in rows {
            let first: i64 = row.get(0);
            let last: i64 = row.get(1);
            let bytes: &[u8] = row.get(2);
            store::extend_journal(&mut out, run, first, last, bytes)
                .map_err(|what| error::damaged(at, what))?;
        }
        if out.is_empty() {
            return Err(StoreError::NotFound(run));
        }
        Ok(out)
    }

    pub(crate) async fn get(&self, run: RunId) -> Result<Option<RunSummary>, StoreError> {
        let at = self.at.as_str();
        let doing = format!("cannot read run {run}");
        let fail = |e: tokio_postgres::Error| error::sql(at, &doing, &e);
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| error::pool(at, &doing, &e))?;
        let stmt = conn
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM {}.runs WHERE id = $1",
                self.schema
            ))
            .await
            .map_err(fail)?;
        let row = conn
            .query_opt(&stmt, &[run.as_uuid()])
            .await
            .map_err(fail)?;
        row.map(|r| summary_from_row(&r).map_err(|w| error::damaged(at, w)))
            .transpose()
    }

    pub(crate) async fn list(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let at = self.at.as_str();
        let fail = |e: tokio_postgres::Error| error::sql(at, "cannot list runs", &e);
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| error::pool(at, "cannot list runs", &e))?;
        let mut sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM {}.runs WHERE true",
            self.schema
        );
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let limit = filter.limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
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
        sql.push_str(" ORDER BY id DESC");
        if let Some(n) = &limit {
            params.push(n);
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        let rows = conn.query(&sql, &params).await.map_err(fail)?;
        rows.iter()
            .map(|r| summary_from_row(r).map_err(|w| error::damaged(at, w)))
            .collect()
    }
}
