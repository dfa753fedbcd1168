//! Every read that may meet many runs reads an index that holds what it
//! wants in the order it wants: SQLite's plan of each statement, on a
//! file of the schema this build writes (`schema.rs`).

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use weft_runtime::store::RunFilter;
use weft_runtime::{RunId, RunStatus};

use crate::options::SqliteOptions;
use crate::read::list_query;
use crate::schema::open_writer;
use crate::write::PurgeSql;

/// SQLite's plan of `sql`, its steps' details joined by "; ".
fn plan(conn: &Connection, sql: &str, args: Vec<SqlValue>) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("a statement of the store prepares");
    let steps = stmt
        .query_map(rusqlite::params_from_iter(args), |row| {
            row.get::<_, String>(3)
        })
        .expect("its plan")
        .collect::<Result<Vec<_>, _>>()
        .expect("its plan's steps");
    steps.join("; ")
}

fn writer() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("a directory");
    let file = dir.path().join("plans.db");
    let conn = open_writer(&file, "plans.db", &SqliteOptions::new()).expect("a new file");
    (dir, conn)
}

#[test]
fn each_list_reads_its_runs_in_id_order_from_an_index() {
    let (_dir, conn) = writer();
    // A page after the first: `RunFilter::before` and a limit.
    let page = |filter: RunFilter| filter.before(RunId::new()).limit(50);
    // Each the exact step on `runs` (`runs_new` has steps of its own).
    for (filter, index) in [
        (
            RunFilter::all().statuses([RunStatus::Failed]),
            "SEARCH runs USING INDEX runs_by_status (status=? AND id<?)",
        ),
        (
            RunFilter::all().workflow("nightly"),
            "SEARCH runs USING INDEX runs_by_workflow (workflow=? AND id<?)",
        ),
        (
            RunFilter::all().top_level(),
            "SEARCH runs USING INDEX runs_top_level (id<?)",
        ),
        (RunFilter::all(), "SEARCH runs USING PRIMARY KEY (id<?)"),
    ] {
        let (sql, args) = list_query(&page(filter.clone()), true);
        let both = plan(&conn, &sql, args);
        assert!(both.contains(index), "{filter:?}: {both}");
        // In id order as read: no sort of every run that passes; the runs
        // waiting in `runs_new` merged in, read on its key.
        assert!(!both.contains("TEMP B-TREE"), "{filter:?}: {both}");
        assert!(
            both.contains("MERGE (UNION ALL)")
                && both.contains("SEARCH runs_new USING PRIMARY KEY (id<?)"),
            "{filter:?}: {both}"
        );
        // A file before schema version 6 (read-only) has no `runs_new`.
        let (sql, args) = list_query(&page(filter.clone()), false);
        let old = plan(&conn, &sql, args);
        assert!(
            old.contains(index) && !old.contains("runs_new"),
            "{filter:?}: {old}"
        );
    }
}

#[test]
fn the_runs_not_ended_are_found_on_their_statuses() {
    let (_dir, conn) = writer();
    // As `Executor::recover` and the inquiries into waits ask.
    let filter = RunFilter::all()
        .statuses(
            RunStatus::ALL
                .iter()
                .copied()
                .filter(|s| !s.is_terminal() && *s != RunStatus::Queued),
        )
        .top_level();
    let (sql, args) = list_query(&filter, true);
    let plan = plan(&conn, &sql, args);
    assert!(
        plan.contains("USING INDEX runs_by_status (status=?)"),
        "{plan}"
    );
}

#[test]
fn a_purge_reads_the_runs_ended_before_its_cutoff_and_no_others() {
    let (_dir, conn) = writer();
    let cutoff = || vec![SqlValue::Integer(1_700_000_000_000)];
    // A range of `runs_by_end` up to the cutoff (from past NULL).
    let on_end =
        |plan: &str| plan.contains("USING INDEX runs_by_end (") && plan.contains("ended_at<?)");
    let runs = plan(&conn, &PurgeSql::runs("runs"), cutoff());
    assert!(on_end(&runs), "{runs}");
    let journal = plan(&conn, &PurgeSql::journal("runs"), cutoff());
    assert!(
        on_end(&journal) && journal.contains("sqlite_autoindex_journal_1 (run=?)"),
        "{journal}"
    );
    // The few runs waiting in `runs_new` are read whole (it has no
    // index), their journals on the journal's key.
    let journal = plan(&conn, &PurgeSql::journal("runs_new"), cutoff());
    assert!(
        journal.contains("SCAN runs_new") && journal.contains("sqlite_autoindex_journal_1 (run=?)"),
        "{journal}"
    );
    let text = plan(
        &conn,
        PurgeSql::UNNAMED_TEXT,
        vec![SqlValue::Blob(vec![0; 32])],
    );
    assert!(text.contains("INDEX runs_by_text (text=?)"), "{text}");
}
