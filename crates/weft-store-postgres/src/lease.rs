//! Ownership of runs: submitting, claiming (`FOR UPDATE SKIP LOCKED`),
//! taking one over, handing back, renewing leases, and the commands that
//! go from any process to the owner. Leases are timed by the database's
//! clock (`now()`), so the processes' clocks need not agree; each process
//! also keeps a deadline on its own monotonic clock, after which it stops
//! writing for a run whose renewal it has not seen.

use std::sync::Weak;
use std::time::Instant;

use uuid::Uuid;
use weft_runtime::store::{Claimed, Command, Entry, Record, RunSummary, StoreError};
use weft_runtime::{RunId, RunStatus};

use crate::error::{self, one_start};
use crate::inner::{int, millis_now, Held, Inner};
use crate::schema::{ACTIVE, ENDED};

/// The status of a run a process claims or takes over: a queued run is
/// running from then on.
const CLAIMED_STATUS: &str = "CASE WHEN r.status = 'queued' THEN 'running' ELSE r.status END";
const CLAIMED_STATUS_C: &str = "CASE WHEN c.status = 'queued' THEN 'running' ELSE c.status END";

impl Inner {
    fn lease_ms(&self) -> f64 {
        self.options.lease.as_millis() as f64
    }

    pub(crate) async fn submit(&self, entry: &Entry) -> Result<(), StoreError> {
        let at = self.at.as_str();
        let s = self.schema.as_str();
        let Record::Started(start) = &entry.record else {
            return Err(one_start(at, entry.run));
        };
        if entry.seq != 0 {
            return Err(one_start(at, entry.run));
        }
        let mut summary = RunSummary::started(entry.run, start, millis_now());
        summary.status = RunStatus::Queued;
        let json = serde_json::to_vec(&[&entry.record])
            .map_err(|e| error::other(at, format!("cannot submit run {}: {e}", entry.run)))?;
        let fail = self.fail("cannot submit a run");
        let mut conn = self.conn("cannot submit a run").await?;
        let tx = conn.transaction().await.map_err(fail)?;
        let inserted = tx
            .execute(
                &format!(
                    "INSERT INTO {s}.runs (id, workflow, status, parent, started_at, updated_at,
                                           next_seq)
                     VALUES ($1, $2, $3, $4, $5, $6, 1) ON CONFLICT (id) DO NOTHING"
                ),
                &[
                    entry.run.as_uuid(),
                    &summary.workflow,
                    &summary.status.as_str(),
                    &summary.parent.map(|p| *p.as_uuid()),
                    &int(summary.started_at),
                    &int(summary.updated_at),
                ],
            )
            .await
            .map_err(fail)?;
        if inserted != 1 {
            return Err(one_start(at, entry.run));
        }
        tx.execute(
            &format!(
                "INSERT INTO {s}.journal (run, first_seq, last_seq, records) VALUES ($1, 0, 0, $2)"
            ),
            &[entry.run.as_uuid(), &json],
        )
        .await
        .map_err(fail)?;
        tx.execute("SELECT pg_notify($1, 'claim')", &[&self.channel])
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)
    }

    pub(crate) async fn claim(&self, limit: usize, skip: &[RunId]) -> Result<Claimed, StoreError> {
        let s = self.schema.as_str();
        let fail = self.fail("cannot claim runs");
        let conn = self.conn("cannot claim runs").await?;
        let skip: Vec<Uuid> = skip.iter().map(|r| *r.as_uuid()).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let claim = conn
            .prepare_cached(&format!(
                // Runs whose owner died go first, oldest lease first; then
                // submitted (`queued`, read on the (status, id) index) and
                // handed-back runs (on the (lease_until, id) index), oldest
                // first (ids sort by creation time). A queued run claimed
                // is running from now on.
                "WITH expired AS (
                    SELECT id FROM {s}.runs
                    WHERE parent IS NULL AND status IN {ACTIVE}
                      AND lease_until > '-infinity' AND lease_until < now()
                      AND NOT (id = ANY($2))
                    ORDER BY lease_until, id
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED),
                 handed AS (
                    SELECT id FROM {s}.runs
                    WHERE parent IS NULL AND status IN {ACTIVE}
                      AND lease_until = '-infinity'
                      AND NOT (id = ANY($2))
                    ORDER BY lease_until, id
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED),
                 queued AS (
                    SELECT id FROM {s}.runs
                    WHERE status = 'queued' AND parent IS NULL
                      AND NOT (id = ANY($2))
                    ORDER BY status, id
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED),
                 c AS (
                    SELECT id FROM (
                        SELECT id, 0 AS k FROM expired
                        UNION ALL SELECT id, 1 AS k FROM handed
                        UNION ALL SELECT id, 1 AS k FROM queued) x
                    ORDER BY k, id
                    LIMIT $1)
                 UPDATE {s}.runs r SET owner = $3, epoch = r.epoch + 1,
                        lease_until = now() + $4 * interval '1 millisecond',
                        status = {CLAIMED_STATUS}
                 FROM c WHERE r.id = c.id
                 RETURNING r.id, r.epoch"
            ))
            .await
            .map_err(fail)?;
        let next = conn
            .prepare_cached(&format!(
                "SELECT (EXTRACT(EPOCH FROM min(lease_until) - now()) * 1000)::float8
                 FROM {s}.runs
                 WHERE parent IS NULL AND status IN {ACTIVE} AND lease_until >= now()
                   AND owner IS DISTINCT FROM $1"
            ))
            .await
            .map_err(fail)?;
        let sent = Instant::now();
        let lease_ms = self.lease_ms();
        let claim_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&limit, &skip, &self.me, &lease_ms];
        let next_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&self.me];
        let (rows, next) = futures::try_join!(
            conn.query(&claim, &claim_params),
            conn.query_one(&next, &next_params),
        )
        .map_err(fail)?;
        let mut runs = Vec::with_capacity(rows.len());
        {
            let mut owned = self.owned();
            for row in rows {
                let id = RunId::from_uuid(row.get(0));
                owned.insert(
                    id,
                    Held {
                        epoch: row.get(1),
                        deadline: sent + self.local_lease(),
                    },
                );
                runs.push(id);
            }
        }
        let next_ms: Option<f64> = next.get(0);
        let mut claimed = Claimed::default();
        claimed.runs = runs;
        claimed.next_expiry =
            next_ms.map(|ms| std::time::Duration::from_millis(ms.max(0.0) as u64));
        Ok(claimed)
    }

    pub(crate) async fn acquire(&self, run: RunId) -> Result<(), StoreError> {
        let s = self.schema.as_str();
        let doing = format!("cannot take run {run} over");
        let fail = self.fail(&doing);
        let conn = self.conn(&doing).await?;
        let sent = Instant::now();
        // A sub-workflow goes with its parent: whoever owns the parent may
        // take the child over at once.
        let row = conn
            .query_opt(
                &format!(
                    "UPDATE {s}.runs c SET owner = $2, epoch = c.epoch + 1,
                            lease_until = now() + $3 * interval '1 millisecond',
                            status = {CLAIMED_STATUS_C}
                     WHERE c.id = $1 AND (c.owner IS NULL OR c.owner = $2
                        OR c.lease_until < now()
                        OR (c.parent IS NOT NULL AND EXISTS (
                            SELECT 1 FROM {s}.runs p WHERE p.id = c.parent AND p.owner = $2)))
                     RETURNING c.epoch"
                ),
                &[run.as_uuid(), &self.me, &self.lease_ms()],
            )
            .await
            .map_err(fail)?;
        match row {
            Some(row) => {
                self.owned().insert(
                    run,
                    Held {
                        epoch: row.get(0),
                        deadline: sent + self.local_lease(),
                    },
                );
                Ok(())
            }
            None => {
                let exists = conn
                    .query_opt(
                        &format!("SELECT 1 FROM {s}.runs WHERE id = $1"),
                        &[run.as_uuid()],
                    )
                    .await
                    .map_err(fail)?;
                Err(match exists {
                    Some(_) => StoreError::Fenced(run),
                    None => StoreError::NotFound(run),
                })
            }
        }
    }

    pub(crate) async fn release(&self, run: RunId) -> Result<(), StoreError> {
        // No write for the run is accepted from here from now on.
        let Some(held) = self.owned().remove(&run) else {
            return Ok(());
        };
        let s = self.schema.as_str();
        let doing = format!("cannot hand run {run} back");
        let fail = self.fail(&doing);
        let conn = self.conn(&doing).await?;
        conn.execute(
            &format!(
                // A run handed back before anything of it was recorded
                // (only its start is in the journal) is queued again.
                "WITH r AS (
                    UPDATE {s}.runs SET owner = NULL, lease_until = '-infinity',
                        status = CASE WHEN status = 'running' AND next_seq = 1 AND parent IS NULL
                                      THEN 'queued' ELSE status END
                    WHERE id = $1 AND owner = $2 AND epoch = $3
                    RETURNING id)
                 SELECT pg_notify($4, 'claim') FROM r"
            ),
            &[run.as_uuid(), &self.me, &held.epoch, &self.channel],
        )
        .await
        .map_err(fail)?;
        Ok(())
    }

    pub(crate) async fn send_command(
        &self,
        run: RunId,
        command: &Command,
    ) -> Result<(), StoreError> {
        let at = self.at.as_str();
        let s = self.schema.as_str();
        let doing = format!("cannot send a command to run {run}");
        let fail = self.fail(&doing);
        let text = serde_json::to_string(command).map_err(|e| error::other(at, e))?;
        let conn = self.conn(&doing).await?;
        let rows = conn
            .query(
                &format!(
                    "WITH r AS (SELECT id FROM {s}.runs WHERE id = $1),
                          i AS (INSERT INTO {s}.commands (run, command)
                                SELECT id, $2 FROM r RETURNING run)
                     SELECT pg_notify($3, 'cmd:' || run::text) FROM i"
                ),
                &[run.as_uuid(), &text, &self.channel],
            )
            .await
            .map_err(fail)?;
        if rows.is_empty() {
            return Err(StoreError::NotFound(run));
        }
        Ok(())
    }

    pub(crate) async fn take_commands(&self) -> Result<Vec<(RunId, Command)>, StoreError> {
        let mine: Vec<Uuid> = self.owned().keys().map(|r| *r.as_uuid()).collect();
        if mine.is_empty() {
            return Ok(Vec::new());
        }
        let at = self.at.as_str();
        let s = self.schema.as_str();
        let fail = self.fail("cannot read commands");
        let conn = self.conn("cannot read commands").await?;
        let mut rows = conn
            .query(
                &format!(
                    "DELETE FROM {s}.commands c USING {s}.runs r
                     WHERE c.run = r.id AND r.owner = $1 AND c.run = ANY($2)
                     RETURNING c.id, c.run, c.command"
                ),
                &[&self.me, &mine],
            )
            .await
            .map_err(fail)?;
        rows.sort_by_key(|r| r.get::<_, i64>(0));
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let run = RunId::from_uuid(row.get(1));
            let text: &str = row.get(2);
            let command: Command = serde_json::from_str(text)
                .map_err(|e| error::damaged(at, format!("a command for run {run}: {e}")))?;
            out.push((run, command));
        }
        Ok(out)
    }

    pub(crate) async fn purge(&self, before: u64) -> Result<usize, StoreError> {
        let s = self.schema.as_str();
        let fail = self.fail("cannot purge");
        let conn = self.conn("cannot purge").await?;
        let row = conn
            .query_one(
                // The rows are locked in id order, as an append and a
                // renewal lock them, before any is deleted: a purge that
                // took them in the order it found them could hold one
                // that a re-run's append waits for while waiting for one
                // that append holds (a deadlock, which Postgres breaks by
                // failing one of the two). A run re-run meanwhile no longer
                // matches once its lock is had, and is left.
                &format!(
                    "WITH l AS (
                        SELECT id FROM {s}.runs
                        WHERE ended_at IS NOT NULL AND ended_at < $1 AND status IN {ENDED}
                        ORDER BY id
                        FOR UPDATE),
                     d AS (
                        DELETE FROM {s}.runs WHERE id IN (SELECT id FROM l)
                        RETURNING id),
                     j AS (DELETE FROM {s}.journal WHERE run IN (SELECT id FROM d)),
                     c AS (DELETE FROM {s}.commands WHERE run IN (SELECT id FROM d))
                     SELECT count(*) FROM d"
                ),
                &[&int(before)],
            )
            .await
            .map_err(fail)?;
        let n: i64 = row.get(0);
        Ok(n.max(0) as usize)
    }

    /// Renews the leases of the runs this process holds; runs whose epoch
    /// moved on are lost, and so is every run whose deadline passed without
    /// a renewal (the database could not be reached in time).
    async fn renew(&self) {
        let snapshot: Vec<(RunId, Held)> = self.owned().iter().map(|(r, h)| (*r, *h)).collect();
        if snapshot.is_empty() {
            return;
        }
        let sent = Instant::now();
        let ids: Vec<Uuid> = snapshot.iter().map(|(r, _)| *r.as_uuid()).collect();
        let epochs: Vec<i64> = snapshot.iter().map(|(_, h)| h.epoch).collect();
        let s = self.schema.as_str();
        let attempt = async {
            let conn = self.pool.get().await.ok()?;
            conn.query(
                // Rows are locked in id order, as an append locks them, so
                // that a renewal and an append never wait on each other in
                // a cycle.
                &format!(
                    "WITH l AS (
                        SELECT r.id FROM {s}.runs r
                        JOIN unnest($1::uuid[], $2::int8[]) AS u(id, epoch)
                          ON r.id = u.id AND r.epoch = u.epoch
                        WHERE r.owner = $3
                        ORDER BY r.id
                        FOR UPDATE OF r)
                     UPDATE {s}.runs r SET lease_until = now() + $4 * interval '1 millisecond'
                     FROM l WHERE r.id = l.id
                     RETURNING r.id"
                ),
                &[&ids, &epochs, &self.me, &self.lease_ms()],
            )
            .await
            .ok()
        };
        let renewed = tokio::time::timeout(self.options.heartbeat, attempt)
            .await
            .ok()
            .flatten();
        let mut lost = Vec::new();
        match renewed {
            Some(rows) => {
                let back: std::collections::HashSet<Uuid> = rows.iter().map(|r| r.get(0)).collect();
                let mut owned = self.owned();
                for (run, held) in &snapshot {
                    if back.contains(run.as_uuid()) {
                        if let Some(h) = owned.get_mut(run) {
                            if h.epoch == held.epoch {
                                h.deadline = sent + self.local_lease();
                            }
                        }
                    } else if owned.get(run).is_some_and(|h| h.epoch == held.epoch) {
                        lost.push(*run);
                    }
                }
            }
            None => {
                let now = Instant::now();
                let owned = self.owned();
                for (run, h) in owned.iter() {
                    if h.deadline <= now {
                        lost.push(*run);
                    }
                }
            }
        }
        self.lose(&lost);
    }
}

/// Renews leases every heartbeat while the store lives, and gives up each
/// run at its deadline should no renewal have moved it on.
pub(crate) async fn heartbeat_loop(inner: Weak<Inner>) {
    tokio::join!(renew_loop(inner.clone()), fence_loop(inner));
}

/// Gives up the runs whose deadline passed without a renewal, at that
/// deadline. Renewals alone would see it only when one ends: up to a
/// heartbeat (the renewal's timeout) plus the wait for the next tick
/// later, past the moment the database lets another process claim them.
async fn fence_loop(inner: Weak<Inner>) {
    loop {
        let wake = {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let now = Instant::now();
            let expired: Vec<RunId> = inner
                .owned()
                .iter()
                .filter(|(_, h)| h.deadline <= now)
                .map(|(r, _)| *r)
                .collect();
            inner.lose(&expired);
            // A run claimed from now on gets a deadline `lease - heartbeat
            // / 2` (at least 1.5 heartbeats) after its claim was sent:
            // looking again within a quarter of a heartbeat is in time for
            // it unless the claim itself took more than a heartbeat.
            let soon = now + inner.options.heartbeat / 4;
            let first = inner.owned().values().map(|h| h.deadline).min();
            first.map_or(soon, |d| d.min(soon))
        };
        tokio::time::sleep_until(wake.into()).await;
    }
}

async fn renew_loop(inner: Weak<Inner>) {
    let period = match inner.upgrade() {
        Some(i) => i.options.heartbeat,
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner.renew().await;
    }
}
