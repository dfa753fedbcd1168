//! Appending: a batch of entries, grouped by run, written in one
//! transaction whose statements are pipelined.
//!
//! Each run of the batch becomes one journal row (its records as one JSON
//! array): a big row is inserted on its own, the others with one
//! multi-row `INSERT … SELECT unnest(…), …` (see [`ROW_ALONE`]). The
//! rows of the runs already stored are locked (`SELECT … FOR UPDATE`, in
//! id order so that two appenders never wait on each other in a cycle)
//! and checked: the sequence must follow on, and
//! this process must hold the run's current epoch; a run whose epoch moved
//! on is left out and reported as fenced.
//!
//! Round trips: one. When the runs' summaries after the append do not
//! depend on the stored ones (no command or wait among the records: see
//! [`summary_known`]), the server locks, checks and updates the stored
//! runs in one statement (`append_held`, a function of the schema since
//! version 4) sent with `BEGIN`, the inserts, the notices and `COMMIT`;
//! should a run fail its checks, the function raises an error, the server
//! rolls everything back, and the append is made again the other way:
//! `BEGIN` with the lock, the checks here (which leave the fenced runs
//! out and name a run out of sequence), then the rest with `COMMIT`, two
//! round trips (which a batch with a command or a wait takes at once).
//! An append whose rows come to at most [`ONE_STATEMENT`] bytes is, that
//! way, one statement in its own transaction (`append_batch`: the runs it
//! starts, `append_held` for the others, the journal rows and the
//! notices), with no `BEGIN` or `COMMIT` to send, parse and answer.
//!
//! A connection lost during an append (the server restarted, a proxy cut
//! it, an administrator ended the backend) does not fail the batch at once:
//! the append is tried again on a new connection, for up to half the
//! lease, each try checking the epochs and the local leases afresh, so a
//! holder whose lease ran out meanwhile is fenced and never writes. When
//! the connection was lost while the commit itself was on its way, the
//! next try first looks whether that commit went through (the runs it
//! wrote are at the sequence it left them at, still owned here) and
//! appends nothing again if it did.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use uuid::Uuid;
use weft_runtime::store::driver::{group_batch, RunBatch};
use weft_runtime::store::{Appended, Entry, Record, RunSummary, StoreError};
use weft_runtime::RunId;

use crate::error::{self, one_start, out_of_sequence, store_name};
use crate::inner::{int, millis_now, Held, Inner};
use crate::schema::ENDED;

/// The columns [`summary_from_row`](crate::read::summary_from_row) reads.
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, workflow, status, parent, started_at, updated_at, ended_at";

/// Whether `e` means the connection is gone (nothing more can be sent on
/// it), as opposed to the server refusing what was sent.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(db) = e.as_db_error() {
        return [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ]
        .contains(db.code());
    }
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// How one try of an append failed.
#[derive(Default)]
struct Try {
    /// The connection was lost.
    lost: AtomicBool,
    /// The commit had been sent (so it may have gone through).
    committing: AtomicBool,
    /// The server's checks of the runs already stored refused the append
    /// ([`REFUSED`]): nothing was written.
    refused: AtomicBool,
}

/// The error `append_held` (the function migration 4 creates) raises when
/// a run already stored is not this process's or its records do not
/// follow on.
const REFUSED: &str = "WT001";

/// Whether the summary of `rb`, a run already stored, after this append
/// is known without the stored one: the append changes nothing but when
/// it was last written (no effects), or it ends the run (its last effect
/// is `Ended`, which sets the status and the end whatever they were).
fn summary_known(rb: &RunBatch) -> bool {
    rb.effects
        .last()
        .is_none_or(|effect| matches!(effect, Record::Ended(_)))
}

/// The run of `fresh` whose insert `e` refused because it is stored
/// already (a second start).
fn stored_already(e: &tokio_postgres::Error, fresh: &[Uuid]) -> Option<RunId> {
    let db = e.as_db_error()?;
    if db.code() != &SqlState::UNIQUE_VIOLATION || db.constraint() != Some("runs_pkey") {
        return None;
    }
    // "Key (id)=(…) already exists."
    let named = db
        .detail()
        .and_then(|d| d.split_once("=(")?.1.split_once(')'))
        .and_then(|(id, _)| Uuid::parse_str(id).ok());
    named
        .or_else(|| fresh.first().copied())
        .map(RunId::from_uuid)
}

/// A pooled connection on which a transaction may be open: unless it is
/// [finished](Open::finished) (the transaction committed or rolled back),
/// it is not handed back to the pool but closed, and the server rolls the
/// transaction back (an append given up half way, as when its future is
/// dropped on a timeout).
struct Open(Option<Object>);

impl Open {
    /// The transaction is over: back to the pool.
    fn finished(mut self) {
        drop(self.0.take());
    }
}

impl std::ops::Deref for Open {
    type Target = Object;

    fn deref(&self) -> &Object {
        self.0.as_ref().expect("an open connection until finished")
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(Object::take(conn));
        }
    }
}

/// A journal row of at least this many bytes of JSON goes in by an insert
/// of its own (pipelined with the others): its records are then one
/// parameter, which the server reads once, and plans and copies no array.
/// Measured with `benches/examples/postgres.rs -- layouts` (the server's
/// CPU time per insert): for one row of 8,192 records (1.5 MB) 2.1–2.5 ms
/// alone against 2.8–3.2 ms in an array (3.7–4.1 ms with `unnest` in
/// `FROM`); for 64 rows of 25 KB the two are even; for 1,000 one-record
/// rows an insert per row costs 3–4×.
const ROW_ALONE: usize = 16 * 1024;

/// An append whose journal rows come to at most this many bytes, and whose
/// runs already stored the server checks, is one statement (the function
/// `append_batch`, its own transaction) instead of `BEGIN`, a statement
/// for each kind of write and `COMMIT`, each of which the server parses
/// or plans and answers on its own. Its rows then go in as one `bytea[]`
/// parameter, which costs the server about what rows inserted alone do up
/// to a few hundred kilobytes (one row of 2,048 records, ~390 KB: 0.53–0.57
/// ms in an array against 0.48–0.52 ms alone, `layouts`).
const ONE_STATEMENT: usize = 256 * 1024;

/// Waits for all of `statements`, polling every one that is not done, in
/// order, each time: each is sent when first polled, so all of them are
/// sent on the first poll, before anything polled after this (`COMMIT`).
/// (`try_join_all` of more than 30 futures polls them through a
/// `FuturesOrdered`, which may leave some unpolled until a later turn.)
async fn each_sent_at_once<F>(statements: Vec<F>) -> Result<(), tokio_postgres::Error>
where
    F: Future<Output = Result<u64, tokio_postgres::Error>>,
{
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        statements.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for slot in &mut pending {
            let Some(statement) = slot else { continue };
            match statement.as_mut().poll(cx) {
                Poll::Ready(Ok(_)) => *slot = None,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => waiting = true,
            }
        }
        match waiting {
            true => Poll::Pending,
            false => Poll::Ready(Ok(())),
        }
    })
    .await
}

/// The first wait before an append is tried again; it doubles up to
/// [`RETRY_WAIT_MAX`].
const RETRY_WAIT: Duration = Duration::from_millis(20);
const RETRY_WAIT_MAX: Duration = Duration::from_millis(500);

impl Inner {
    /// Appends `entries`, trying again on a new connection when the one in
    /// use is lost (see the module's docs).
    pub(crate) async fn append(&self, entries: &[Entry]) -> Result<Appended, StoreError> {
        if entries.is_empty() {
            return Ok(Appended::all());
        }
        let batch = group_batch(&store_name(&self.at), entries)?;
        self.append_batch(&batch).await
    }

    /// Appends a batch [`group_batch`] made, trying again on a new
    /// connection when the one in use is lost (see the module's docs).
    pub(crate) async fn append_batch(&self, batch: &[RunBatch]) -> Result<Appended, StoreError> {
        if batch.is_empty() {
            return Ok(Appended::all());
        }
        let began = Instant::now();
        let budget = self.local_lease() / 2;
        let mut wait = RETRY_WAIT;
        // When the last try lost its connection with the commit on its
        // way: when that try began.
        let mut unsure: Option<Instant> = None;
        loop {
            let this = Try::default();
            let started = Instant::now();
            let result = match unsure {
                Some(then) => match Box::pin(self.written_before(batch, then, &this)).await {
                    Ok(Some(done)) => Ok(done),
                    Ok(None) => {
                        unsure = None;
                        self.append_once(batch, &this).await
                    }
                    Err(e) => Err(e),
                },
                None => self.append_once(batch, &this).await,
            };
            let e = match result {
                Ok(done) => return Ok(done),
                Err(e) if this.lost.load(Ordering::Relaxed) => e,
                Err(e) => return Err(e),
            };
            if this.committing.load(Ordering::Relaxed) {
                unsure = Some(started);
            }
            if began.elapsed() + wait > budget {
                return Err(e);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY_WAIT_MAX);
        }
    }

    /// After a try that lost its connection while committing (it began at
    /// `began`): whether that commit went through. If it did, this process
    /// takes note of what it wrote, as the try would have, and the answer
    /// is what it appended; `None` when nothing of it was written.
    async fn written_before(
        &self,
        batch: &[RunBatch],
        began: Instant,
        this: &Try,
    ) -> Result<Option<Appended>, StoreError> {
        let at = self.at.as_str();
        let s = self.schema.as_str();
        let fail = |e: tokio_postgres::Error| {
            if connection_lost(&e) {
                this.lost.store(true, Ordering::Relaxed);
            }
            error::sql(at, "cannot append", e)
        };
        let conn = self.pool.get().await.map_err(|e| {
            this.lost.store(true, Ordering::Relaxed);
            error::pool(at, "cannot append", e)
        })?;
        let ids: Vec<Uuid> = batch.iter().map(|rb| *rb.run.as_uuid()).collect();
        let rows = conn
            .query(
                &format!(
                    "SELECT {SUMMARY_COLUMNS}, next_seq, owner, epoch FROM {s}.runs
                     WHERE id = ANY($1)"
                ),
                &[&ids],
            )
            .await
            .map_err(fail)?;
        drop(conn);
        // The runs the commit wrote: at the sequence it left them at, and
        // still this process's (a commit is all or nothing).
        let mut written: HashMap<RunId, (bool, i64)> = HashMap::new();
        for row in &rows {
            let summary = crate::read::summary_from_row(row).map_err(|w| error::damaged(at, w))?;
            let next: i64 = row.get(7);
            let owner: Option<String> = row.get(8);
            let Some(rb) = batch.iter().find(|rb| rb.run == summary.id) else {
                continue;
            };
            if owner.as_deref() == Some(self.me.as_str()) && next == int(rb.last).saturating_add(1)
            {
                written.insert(summary.id, (summary.status.is_terminal(), row.get(9)));
            }
        }
        if written.is_empty() {
            return Ok(None);
        }
        let mut owned = self.owned();
        let mut fenced = Vec::new();
        let mut lost = Vec::new();
        for rb in batch {
            match written.get(&rb.run) {
                None => {
                    fenced.push(rb.run);
                    if owned.remove(&rb.run).is_some() {
                        lost.push(rb.run);
                    }
                }
                Some((true, _)) => {
                    owned.remove(&rb.run);
                }
                Some((false, epoch)) => {
                    if rb.start.is_some() || !owned.contains_key(&rb.run) {
                        owned.insert(
                            rb.run,
                            Held {
                                epoch: *epoch,
                                deadline: began + self.local_lease(),
                            },
                        );
                    }
                }
            }
        }
        drop(owned);
        self.lose(&lost);
        Ok(Some(Appended::fenced(fenced)))
    }

    async fn append_once(&self, batch: &[RunBatch], this: &Try) -> Result<Appended, StoreError> {
        let at = self.at.as_str();
        let conn = self.pool.get().await.map_err(|e| {
            this.lost.store(true, Ordering::Relaxed);
            error::pool(at, "cannot append", e)
        })?;
        let conn = Open(Some(conn));
        // Boxed: the try's future (its arrays, statements and pipelined
        // futures, ~9 KB) is made in place once, not moved whole by every
        // future that holds it (`append_batch`, `Inner::bounded`, the
        // store's boxed future).
        let mut result = Box::pin(self.append_on(&conn, batch, this, true)).await;
        if result.is_err() && this.refused.load(Ordering::Relaxed) {
            // The server refused the runs already stored (one is fenced,
            // or out of sequence): the same append again, the runs locked
            // and checked here, which leaves the fenced out and names the
            // run out of sequence.
            this.committing.store(false, Ordering::Relaxed);
            result = match conn.batch_execute("ROLLBACK").await {
                Ok(()) => Box::pin(self.append_on(&conn, batch, this, false)).await,
                Err(e) => {
                    if connection_lost(&e) {
                        this.lost.store(true, Ordering::Relaxed);
                    }
                    Err(error::sql(at, "cannot append", e))
                }
            };
        }
        match &result {
            Ok(_) => conn.finished(),
            // Back to the pool only once the transaction is rolled back.
            Err(_) if !this.lost.load(Ordering::Relaxed) => {
                if conn.batch_execute("ROLLBACK").await.is_ok() {
                    conn.finished();
                }
            }
            Err(_) => {}
        }
        result
    }

    /// One try of an append on `conn`, in a transaction it begins. With
    /// `server_checks`, when the summaries of the runs already stored
    /// after it are known without the stored ones ([`summary_known`]), the
    /// server checks and updates those runs (`append_held`) in the same
    /// round trip as the rest; should it refuse, `this.refused` is set and
    /// nothing is written.
    async fn append_on(
        &self,
        conn: &Object,
        batch: &[RunBatch],
        this: &Try,
        server_checks: bool,
    ) -> Result<Appended, StoreError> {
        let at = self.at.as_str();
        let s = self.schema.as_str();
        let fail = |e: tokio_postgres::Error| {
            if connection_lost(&e) {
                this.lost.store(true, Ordering::Relaxed);
            }
            if e.as_db_error()
                .is_some_and(|db| db.code().code() == REFUSED)
            {
                this.refused.store(true, Ordering::Relaxed);
            }
            error::sql(at, "cannot append", e)
        };
        // `BEGIN` is not waited for on its own: it goes out with the first
        // statements of the transaction, in the same round trip.
        let mut begun = false;
        let now = millis_now();
        let sent = Instant::now();
        let held: HashMap<RunId, Held> = {
            let owned = self.owned();
            batch
                .iter()
                .filter_map(|rb| owned.get(&rb.run).map(|h| (rb.run, *h)))
                .collect()
        };
        let (fresh, stored): (Vec<&RunBatch>, Vec<&RunBatch>) =
            batch.iter().partition(|rb| rb.start.is_some());

        // The server checks the runs already stored (no round trip of their
        // own), or they are locked and checked here first.
        let server_checked = server_checks && stored.iter().all(|rb| summary_known(rb));
        let checked_here = !stored.is_empty() && !server_checked;
        // Lock and check the runs already stored.
        let mut fenced = Vec::new();
        let mut rows: HashMap<RunId, (RunSummary, i64, Option<String>, i64)> = HashMap::new();
        if checked_here {
            let mut ids: Vec<Uuid> = stored.iter().map(|rb| *rb.run.as_uuid()).collect();
            ids.sort_unstable();
            let lock = async {
                let select = conn
                    .prepare_cached(&format!(
                        "SELECT {SUMMARY_COLUMNS}, next_seq, owner, epoch FROM {s}.runs
                         WHERE id = ANY($1) ORDER BY id FOR UPDATE"
                    ))
                    .await?;
                conn.query(&select, &[&ids]).await
            };
            let ((), found) =
                futures::try_join!(conn.batch_execute("BEGIN"), lock).map_err(fail)?;
            begun = true;
            for row in found {
                let summary =
                    crate::read::summary_from_row(&row).map_err(|w| error::damaged(at, w))?;
                rows.insert(summary.id, (summary, row.get(7), row.get(8), row.get(9)));
            }
        }
        // The journal rows: (run, first, last, records).
        let mut journal: Vec<(Uuid, i64, i64, &[u8])> =
            Vec::with_capacity(stored.len() + fresh.len());
        let mut ended_runs = Vec::new();
        let mut reheld = Vec::new();
        // Updates of stored runs.
        let (mut u_id, mut u_status, mut u_updated, mut u_ended, mut u_next, mut u_release) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        // Runs already stored, checked and updated by the server.
        let (mut h_id, mut h_first, mut h_next, mut h_held, mut h_status, mut h_ended) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for rb in &stored {
            if !checked_here {
                h_id.push(*rb.run.as_uuid());
                h_first.push(int(rb.first));
                h_next.push(int(rb.last).saturating_add(1));
                // The epoch this process holds, while its lease lasts.
                h_held.push(
                    held.get(&rb.run)
                        .filter(|h| h.deadline > sent)
                        .map(|h| h.epoch),
                );
                match rb.effects.last() {
                    Some(Record::Ended(end)) => {
                        h_status.push(Some(end.status.as_str()));
                        h_ended.push(Some(int(end.ended_at)));
                    }
                    _ => {
                        h_status.push(None);
                        h_ended.push(None);
                    }
                }
                journal.push((*rb.run.as_uuid(), int(rb.first), int(rb.last), &rb.json));
                continue;
            }
            let Some((summary, next, owner, epoch)) = rows.get(&rb.run) else {
                return Err(out_of_sequence(at, rb.run, rb.first, -1));
            };
            let owner_is_me = owner.as_deref() == Some(self.me.as_str());
            // An ended run holds no lease, but stays with the process that
            // ended it until another takes it over (to re-run it).
            let mine = owner_is_me
                && (summary.status.is_terminal()
                    || held
                        .get(&rb.run)
                        .is_some_and(|h| h.epoch == *epoch && h.deadline > sent));
            if !mine {
                fenced.push(rb.run);
                continue;
            }
            if int(rb.first) != *next {
                return Err(if rb.first == 0 {
                    one_start(at, rb.run)
                } else {
                    out_of_sequence(at, rb.run, rb.first, *next as i128 - 1)
                });
            }
            let mut summary = summary.clone();
            for effect in &rb.effects {
                summary.follow(effect, now);
            }
            summary.updated_at = now;
            let ended = summary.status.is_terminal();
            if ended {
                ended_runs.push(rb.run);
            } else if !held.contains_key(&rb.run) {
                // A re-run of a run this process ended: it holds it again.
                reheld.push((rb.run, *epoch));
            }
            u_id.push(*rb.run.as_uuid());
            u_status.push(summary.status.as_str());
            u_updated.push(int(summary.updated_at));
            u_ended.push(summary.ended_at.map(int));
            u_next.push(int(rb.last).saturating_add(1));
            u_release.push(ended);
            journal.push((*rb.run.as_uuid(), int(rb.first), int(rb.last), &rb.json));
        }
        // Runs this batch starts.
        let (
            mut n_id,
            mut n_workflow,
            mut n_status,
            mut n_parent,
            mut n_started,
            mut n_ended,
            mut n_next,
            mut n_owner,
        ) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let mut fresh_summaries = Vec::with_capacity(fresh.len());
        for rb in &fresh {
            let Some(mut summary) = rb.start.clone() else {
                continue;
            };
            for effect in &rb.effects {
                summary.follow(effect, now);
            }
            summary.updated_at = now;
            let ended = summary.status.is_terminal();
            if ended {
                ended_runs.push(rb.run);
            }
            n_id.push(*rb.run.as_uuid());
            n_workflow.push(summary.workflow.clone());
            n_status.push(summary.status.as_str());
            n_parent.push(summary.parent.map(|p| *p.as_uuid()));
            n_started.push(int(summary.started_at));
            n_ended.push(summary.ended_at.map(int));
            n_next.push(int(rb.last).saturating_add(1));
            n_owner.push(self.me.as_str());
            journal.push((*rb.run.as_uuid(), int(rb.first), int(rb.last), &rb.json));
            fresh_summaries.push(summary);
        }
        let lease_ms = self.options.lease.as_millis() as f64;
        // A small append whose runs already stored the server checks: one
        // statement, its own transaction (no `BEGIN`, no `COMMIT`).
        let bytes: usize = journal.iter().map(|row| row.3.len()).sum();
        let held_ended: Vec<Uuid> = if !checked_here && bytes <= ONE_STATEMENT {
            let append_batch_sql = format!(
                "SELECT {s}.append_batch($1::uuid[], $2::text[], $3::text[], $4::uuid[],
                     $5::int8[], $6::int8[], $7::int8[], $8::uuid[], $9::int8[], $10::int8[],
                     $11::int8[], $12::text[], $13::int8[], $14::uuid[], $15::int8[],
                     $16::int8[], $17::bytea[], $18::int8, $19::text, $20::float8, $21::text)"
            );
            let stmt = conn.prepare_cached(&append_batch_sql).await.map_err(fail)?;
            let j_runs: Vec<Uuid> = journal.iter().map(|r| r.0).collect();
            let j_firsts: Vec<i64> = journal.iter().map(|r| r.1).collect();
            let j_lasts: Vec<i64> = journal.iter().map(|r| r.2).collect();
            let j_records: Vec<&[u8]> = journal.iter().map(|r| r.3).collect();
            // The statement is the commit.
            this.committing.store(true, Ordering::Relaxed);
            let row = conn
                .query_one(
                    &stmt,
                    &[
                        &n_id,
                        &n_workflow,
                        &n_status,
                        &n_parent,
                        &n_started,
                        &n_ended,
                        &n_next,
                        &h_id,
                        &h_first,
                        &h_next,
                        &h_held,
                        &h_status,
                        &h_ended,
                        &j_runs,
                        &j_firsts,
                        &j_lasts,
                        &j_records,
                        &int(now),
                        &self.me.as_str(),
                        &lease_ms,
                        &self.channel,
                    ],
                )
                .await
                .map_err(|e| match stored_already(&e, &n_id) {
                    Some(run) => one_start(at, run),
                    None => fail(e),
                })?;
            row.get(0)
        } else {
            // Prepared first (after a connection's first append, from its
            // cache, without a round trip), so that the statements below are
            // sent in the order they are first polled, `COMMIT` last.
            let insert_runs_sql = format!(
            "INSERT INTO {s}.runs (id, workflow, status, parent, started_at, updated_at,
                                           ended_at, next_seq, owner, epoch, lease_until)
                     SELECT u.id, u.workflow, u.status, u.parent, u.started_at, $9, u.ended_at,
                            u.next_seq, u.owner, 1,
                            CASE WHEN u.status IN {ENDED} THEN '-infinity'::timestamptz
                                 ELSE now() + $10 * interval '1 millisecond' END
                     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::int8[],
                                 $6::int8[], $7::int8[], $8::text[])
                          AS u(id, workflow, status, parent, started_at, ended_at, next_seq, owner)"
        );
            // Small rows go in together, from arrays unrolled in the select
            // list (a function in `FROM` would have the server gather its rows
            // in a tuple store first); a big row goes in on its own, its
            // records as a parameter of their own, which the server copies
            // least (see `ROW_ALONE`).
            let insert_journal_sql = format!(
                "INSERT INTO {s}.journal (run, first_seq, last_seq, records)
                     SELECT unnest($1::uuid[]), unnest($2::int8[]), unnest($3::int8[]),
                            unnest($4::bytea[])"
            );
            let insert_row_sql = format!(
            "INSERT INTO {s}.journal (run, first_seq, last_seq, records) VALUES ($1, $2, $3, $4)"
        );
            let update_runs_sql = format!(
                "UPDATE {s}.runs r SET status = u.status, updated_at = u.updated_at,
                        ended_at = u.ended_at, next_seq = u.next_seq,
                        lease_until = CASE WHEN u.release THEN '-infinity'::timestamptz
                                           WHEN r.lease_until < now()
                                           THEN now() + $7 * interval '1 millisecond'
                                           ELSE r.lease_until END
                     FROM unnest($1::uuid[], $2::text[], $3::int8[], $4::int8[], $5::int8[],
                                 $6::bool[])
                          AS u(id, status, updated_at, ended_at, next_seq, release)
                     WHERE r.id = u.id"
            );
            let append_held_sql = format!(
                "SELECT {s}.append_held($1::uuid[], $2::int8[], $3::int8[], $4::int8[], $5::text[],
                                    $6::int8[], $7::int8, $8::text, $9::float8, $10::text)"
            );
            let (alone, together): (Vec<_>, Vec<_>) = journal
                .into_iter()
                .partition(|row| row.3.len() >= ROW_ALONE);
            let (
                insert_runs_stmt,
                insert_journal_stmt,
                insert_row_stmt,
                update_runs_stmt,
                notify_stmt,
                append_held_stmt,
            ) = futures::try_join!(
                conn.prepare_cached(&insert_runs_sql),
                conn.prepare_cached(&insert_journal_sql),
                conn.prepare_cached(&insert_row_sql),
                conn.prepare_cached(&update_runs_sql),
                conn.prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::text[]) p"),
                conn.prepare_cached(&append_held_sql),
            )
            .map_err(fail)?;
            let begin = async {
                if !begun {
                    conn.batch_execute("BEGIN").await.map_err(fail)?;
                }
                Ok::<(), StoreError>(())
            };
            // First after `BEGIN`: should the server refuse, nothing after it
            // is done (the transaction has failed) and its error is the one
            // returned.
            let append_held = async {
                if h_id.is_empty() {
                    return Ok(Vec::new());
                }
                let row = conn
                    .query_one(
                        &append_held_stmt,
                        &[
                            &h_id,
                            &h_first,
                            &h_next,
                            &h_held,
                            &h_status,
                            &h_ended,
                            &int(now),
                            &self.me.as_str(),
                            &lease_ms,
                            &self.channel,
                        ],
                    )
                    .await
                    .map_err(fail)?;
                Ok::<Vec<Uuid>, StoreError>(row.get(0))
            };
            let insert_runs = async {
                if n_id.is_empty() {
                    return Ok(());
                }
                // A run already stored fails the insert, and so the commit.
                conn.execute(
                    &insert_runs_stmt,
                    &[
                        &n_id,
                        &n_workflow,
                        &n_status,
                        &n_parent,
                        &n_started,
                        &n_ended,
                        &n_next,
                        &n_owner,
                        &int(now),
                        &lease_ms,
                    ],
                )
                .await
                .map_err(|e| match stored_already(&e, &n_id) {
                    Some(run) => one_start(at, run),
                    None => fail(e),
                })?;
                Ok(())
            };
            let insert_journal = async {
                if together.is_empty() {
                    return Ok(());
                }
                let ids: Vec<Uuid> = together.iter().map(|r| r.0).collect();
                let firsts: Vec<i64> = together.iter().map(|r| r.1).collect();
                let lasts: Vec<i64> = together.iter().map(|r| r.2).collect();
                let records: Vec<&[u8]> = together.iter().map(|r| r.3).collect();
                conn.execute(&insert_journal_stmt, &[&ids, &firsts, &lasts, &records])
                    .await
                    .map_err(fail)?;
                Ok::<(), StoreError>(())
            };
            let row_params: Vec<[&(dyn ToSql + Sync); 4]> = alone
                .iter()
                .map(|(id, first, last, records)| [id as _, first as _, last as _, records as _])
                .collect();
            let insert_rows = each_sent_at_once(
                row_params
                    .iter()
                    .map(|params| conn.execute(&insert_row_stmt, params))
                    .collect(),
            );
            let update_runs = async {
                if u_id.is_empty() {
                    return Ok(());
                }
                conn.execute(
                    &update_runs_stmt,
                    &[
                        &u_id, &u_status, &u_updated, &u_ended, &u_next, &u_release, &lease_ms,
                    ],
                )
                .await
                .map_err(fail)?;
                Ok::<(), StoreError>(())
            };
            let notify = async {
                if ended_runs.is_empty() {
                    return Ok(());
                }
                let payloads: Vec<String> = ended_runs.iter().map(|r| format!("end:{r}")).collect();
                conn.execute(&notify_stmt, &[&self.channel, &payloads])
                    .await
                    .map_err(fail)?;
                Ok::<(), StoreError>(())
            };
            // `COMMIT` goes out behind the statements; should one of them fail,
            // the server rolls the transaction back instead (and the error is
            // the failed statement's).
            let commit = async {
                this.committing.store(true, Ordering::Relaxed);
                conn.batch_execute("COMMIT").await.map_err(fail)
            };
            // Pipelined: the statements and the commit go out together, one
            // round trip.
            let ((), held_ended, (), (), (), (), (), ()) = futures::try_join!(
                begin,
                append_held,
                insert_runs,
                insert_journal,
                async { insert_rows.await.map_err(fail) },
                update_runs,
                notify,
                commit
            )?;
            held_ended
        };
        // The runs the server ended (and sent the notices of).
        ended_runs.extend(held_ended.into_iter().map(RunId::from_uuid));
        // What this process owns now.
        let mut owned = self.owned();
        for summary in &fresh_summaries {
            if !summary.status.is_terminal() {
                owned.insert(
                    summary.id,
                    Held {
                        epoch: 1,
                        deadline: sent + self.local_lease(),
                    },
                );
            }
        }
        for (run, epoch) in reheld {
            owned.insert(
                run,
                Held {
                    epoch,
                    deadline: sent + self.local_lease(),
                },
            );
        }
        for run in &ended_runs {
            owned.remove(run);
        }
        // A run held here until this append found it fenced (its local
        // lease ran out before the renewal or the deadline saw it, or
        // another process took it over first) is lost, as if a renewal had
        // found it so: told, so that whoever counts lost runs counts it.
        let lost: Vec<RunId> = fenced
            .iter()
            .copied()
            .filter(|run| owned.remove(run).is_some())
            .collect();
        drop(owned);
        self.lose(&lost);
        Ok(Appended::fenced(fenced))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use weft_runtime::store::driver::{conformance, group_batch};
    use weft_runtime::store::{Appended, Entry, SharedStore};
    use weft_runtime::RunId;

    use super::Try;
    use crate::{PostgresOptions, PostgresStore};

    fn entry(run: RunId, seq: u64, record: weft_runtime::store::Record) -> Entry {
        Entry { run, seq, record }
    }

    /// A commit whose answer was lost: the next try finds it written (and
    /// takes note that this process holds the run), or finds nothing
    /// written and appends.
    #[cfg_attr(
        not(weft_postgres_tests),
        ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
    )]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_whose_answer_was_lost_is_found_written_or_not() {
        let url = std::env::var("WEFT_TEST_POSTGRES_URL").expect("WEFT_TEST_POSTGRES_URL");
        let schema = format!(
            "wt_unsure_{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let store = PostgresStore::connect_with(&url, &PostgresOptions::new().schema(&schema))
            .await
            .unwrap();
        let inner = store.inner();
        let run = RunId::new();
        let first = vec![
            entry(run, 0, conformance::started("w", None, 1)),
            entry(run, 1, conformance::ok(1)),
        ];
        let grouped = |entries: &[Entry]| group_batch("test", entries).unwrap();
        let began = Instant::now();
        assert_eq!(
            inner
                .append_once(&grouped(&first), &Try::default())
                .await
                .unwrap(),
            Appended::all()
        );
        // As if its answer had been lost: the process forgets it holds it.
        inner.owned().clear();
        let found = inner
            .written_before(&grouped(&first), began, &Try::default())
            .await
            .unwrap();
        assert_eq!(found, Some(Appended::all()));
        assert_eq!(SharedStore::owned(&store), vec![run]);
        // The next batch was not written: nothing found, and it appends.
        let next = vec![entry(run, 2, conformance::ok(2))];
        assert_eq!(
            inner
                .written_before(&grouped(&next), Instant::now(), &Try::default())
                .await
                .unwrap(),
            None
        );
        assert_eq!(inner.append(&next).await.unwrap(), Appended::all());
        let conn = inner.pool.get().await.unwrap();
        conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    }
}
