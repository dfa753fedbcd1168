//! The tables, and the migrations that make them.
//!
//! The schema's version is kept in `weft_schema`. Opening a store takes a
//! transaction-scoped advisory lock (`pg_advisory_xact_lock`) keyed on the
//! schema's name before it looks at the version, so processes that open
//! the same schema at once apply each migration once: the first does it,
//! the others wait for its commit and find the version up to date.

use tokio_postgres::Client;

use crate::error;

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i32 = 4;

/// The statuses of a run that has not ended, as SQL text.
pub(crate) const ACTIVE: &str = "('running', 'pausing', 'paused', 'canceling')";

/// The statuses of a run that has ended, as SQL text.
pub(crate) const ENDED: &str = "('succeeded', 'failed', 'canceled')";

fn migration(version: i32, s: &str) -> Option<String> {
    match version {
        1 => Some(format!(
            "CREATE TABLE {s}.runs (
                id uuid PRIMARY KEY,
                workflow text NOT NULL,
                status text NOT NULL,
                parent uuid,
                started_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                ended_at bigint,
                next_seq bigint NOT NULL,
                owner text,
                epoch bigint NOT NULL DEFAULT 0,
                lease_until timestamptz NOT NULL DEFAULT '-infinity'
            );
            CREATE INDEX runs_claimable ON {s}.runs (lease_until, id)
                WHERE parent IS NULL AND status IN {ACTIVE};
            CREATE INDEX runs_owner ON {s}.runs (owner) WHERE owner IS NOT NULL;
            CREATE INDEX runs_ended ON {s}.runs (ended_at) WHERE ended_at IS NOT NULL;
            CREATE TABLE {s}.journal (
                run uuid NOT NULL,
                first_seq bigint NOT NULL,
                last_seq bigint NOT NULL,
                records bytea NOT NULL,
                PRIMARY KEY (run, first_seq)
            );
            CREATE TABLE {s}.commands (
                id bigserial PRIMARY KEY,
                run uuid NOT NULL,
                command text NOT NULL,
                at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX commands_run ON {s}.commands (run);"
        )),
        // Lists that page through many runs (`RunFilter::before`, newest
        // first) by status, by workflow, or through top-level runs only,
        // read an index in id order instead of sorting every matching run.
        // None of their columns changes on an ordinary commit (which sets
        // `updated_at` and `next_seq`), so those updates stay HOT.
        2 => Some(format!(
            "CREATE INDEX runs_by_status ON {s}.runs (status, id);
            CREATE INDEX runs_by_workflow ON {s}.runs (workflow, id);
            CREATE INDEX runs_top_level ON {s}.runs (id) WHERE parent IS NULL;"
        )),
        // A journal row holds a batch's records of a run (up to a megabyte
        // or more of JSON), which the server compresses before it stores
        // it out of line. LZ4 does that in a third to a half of the time
        // of the default (pglz), which was the largest part of an append
        // of a big batch. Rows written before keep their compression and
        // read as before. A server built without LZ4, or older than
        // PostgreSQL 14 (no per-column compression), keeps the default.
        3 => Some(format!(
            "DO $$ BEGIN
                EXECUTE 'ALTER TABLE {s}.journal ALTER COLUMN records SET COMPRESSION lz4';
             EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
             END $$;"
        )),
        // The checks and the summary update of an append of runs already
        // stored, made by the server in one statement (see
        // `write.rs`): the runs' rows are locked in id order; each must be
        // this process's (`owner`), at the epoch it holds (`held`, null
        // when its lease ran out on its clock) unless it has ended, and go
        // on from the append's first record; then its summary is updated
        // (`statuses` null: unchanged) and a notice sent for each run that
        // has ended. Should any run fail the checks, nothing is updated and
        // the error `WT001` rolls the transaction back (the client then
        // appends the way before this function, which tells which run and
        // why). `append_batch` is a whole small append in one statement
        // (its own transaction): the runs it starts, `append_held` for the
        // others, the journal rows and the notices.
        4 => Some(format!(
            "CREATE OR REPLACE FUNCTION {s}.append_held(
                ids uuid[], firsts bigint[], nexts bigint[], held bigint[],
                statuses text[], ended_ats bigint[], updated bigint, me text,
                lease_ms double precision, channel text)
             RETURNS uuid[] LANGUAGE plpgsql AS $f$
             DECLARE
                 written integer;
                 ended uuid[];
             BEGIN
                 PERFORM FROM {s}.runs WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
                 WITH u AS (
                     SELECT * FROM unnest(ids, firsts, nexts, held, statuses, ended_ats)
                         AS u(id, first_seq, next_seq, held, status, ended_at)
                 ), w AS (
                     UPDATE {s}.runs r SET status = coalesce(u.status, r.status),
                         updated_at = updated,
                         ended_at = CASE WHEN u.status IS NULL THEN r.ended_at
                                         ELSE u.ended_at END,
                         next_seq = u.next_seq,
                         lease_until = CASE
                             WHEN coalesce(u.status, r.status) IN {ENDED}
                                 THEN '-infinity'::timestamptz
                             WHEN r.lease_until < now()
                                 THEN now() + lease_ms * interval '1 millisecond'
                             ELSE r.lease_until END
                     FROM u
                     WHERE r.id = u.id AND r.owner = me
                       AND (r.status IN {ENDED} OR r.epoch = u.held)
                       AND r.next_seq = u.first_seq
                     RETURNING r.id, r.status IN {ENDED} AS ended
                 )
                 SELECT count(*), coalesce(array_agg(w.id) FILTER (WHERE w.ended), '{{}}')
                     INTO written, ended FROM w;
                 IF written <> cardinality(ids) THEN
                     RAISE EXCEPTION 'a run of the append is not this process''s, or its records do not follow on'
                         USING ERRCODE = 'WT001';
                 END IF;
                 PERFORM pg_notify(channel, 'end:' || e) FROM unnest(ended) e;
                 RETURN ended;
             END $f$;
             CREATE OR REPLACE FUNCTION {s}.append_batch(
                 n_ids uuid[], n_workflows text[], n_statuses text[], n_parents uuid[],
                 n_started bigint[], n_ended bigint[], n_nexts bigint[],
                 h_ids uuid[], h_firsts bigint[], h_nexts bigint[], h_held bigint[],
                 h_statuses text[], h_ended bigint[],
                 j_runs uuid[], j_firsts bigint[], j_lasts bigint[], j_records bytea[],
                 updated bigint, me text, lease_ms double precision, channel text)
             RETURNS uuid[] LANGUAGE plpgsql AS $f$
             DECLARE
                 ended uuid[] := '{{}}';
             BEGIN
                 IF cardinality(h_ids) > 0 THEN
                     ended := {s}.append_held(h_ids, h_firsts, h_nexts, h_held, h_statuses,
                                              h_ended, updated, me, lease_ms, channel);
                 END IF;
                 IF cardinality(n_ids) > 0 THEN
                     INSERT INTO {s}.runs (id, workflow, status, parent, started_at, updated_at,
                                           ended_at, next_seq, owner, epoch, lease_until)
                     SELECT u.id, u.workflow, u.status, u.parent, u.started_at, updated,
                            u.ended_at, u.next_seq, me, 1,
                            CASE WHEN u.status IN {ENDED} THEN '-infinity'::timestamptz
                                 ELSE now() + lease_ms * interval '1 millisecond' END
                     FROM unnest(n_ids, n_workflows, n_statuses, n_parents, n_started,
                                 n_ended, n_nexts)
                          AS u(id, workflow, status, parent, started_at, ended_at, next_seq);
                     PERFORM pg_notify(channel, 'end:' || u.id)
                     FROM unnest(n_ids, n_statuses) AS u(id, status)
                     WHERE u.status IN {ENDED};
                 END IF;
                 INSERT INTO {s}.journal (run, first_seq, last_seq, records)
                 SELECT unnest(j_runs), unnest(j_firsts), unnest(j_lasts), unnest(j_records);
                 RETURN ended;
             END $f$;"
        )),
        _ => None,
    }
}

/// Brings the schema `s` up to [`SCHEMA_VERSION`], creating it if needed.
pub(crate) async fn migrate(
    client: &mut Client,
    s: &str,
    at: &str,
) -> Result<(), weft_runtime::store::StoreError> {
    let fail = |e: tokio_postgres::Error| error::sql(at, "cannot prepare its tables", e);
    let tx = client.transaction().await.map_err(fail)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("weft schema {s}")],
    )
    .await
    .map_err(fail)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.weft_schema (version integer NOT NULL);"
    ))
    .await
    .map_err(fail)?;
    let row = tx
        .query_opt(&format!("SELECT version FROM {s}.weft_schema"), &[])
        .await
        .map_err(fail)?;
    let version: i32 = match row {
        Some(r) => r.get(0),
        None => {
            tx.execute(&format!("INSERT INTO {s}.weft_schema VALUES (0)"), &[])
                .await
                .map_err(fail)?;
            0
        }
    };
    if version > SCHEMA_VERSION {
        return Err(error::other(
            at,
            format!(
                "schema `{s}` is at version {version}, written by a newer weft (this one \
                 knows up to {SCHEMA_VERSION}): upgrade weft, or use another schema"
            ),
        ));
    }
    for v in version + 1..=SCHEMA_VERSION {
        if let Some(sql) = migration(v, s) {
            tx.batch_execute(&sql).await.map_err(fail)?;
        }
    }
    if version < SCHEMA_VERSION {
        tx.execute(
            &format!("UPDATE {s}.weft_schema SET version = $1"),
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(fail)?;
    }
    tx.commit().await.map_err(fail)
}
