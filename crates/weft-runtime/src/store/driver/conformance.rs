//! The tests every [`Store`] must pass (feature `conformance`).
//!
//! The runtime relies on these properties of a store, whatever database is
//! behind it: appends are atomic and keep each run's sequence, a journal
//! loads back exactly as it was appended, summaries follow the records,
//! `list` and `purge` select the runs their documentation says. Each
//! property is one async function taking a fresh, empty store; [`run_all`]
//! runs them all, each on a store of its own. A failed property panics with
//! a message naming it and the store ([`Store::describe`]).
//!
//! The functions need no particular async runtime: a store that answers
//! from a thread of its own can be driven by `futures::executor::block_on`
//! as well as by `#[tokio::test]`.
//!
//! # Examples
//!
//! A store crate enables the feature in its dev-dependencies
//! (`weft-runtime = { version = "…", features = ["conformance"] }`) and runs
//! the suite from an integration test:
//!
//! ```
//! use std::sync::Arc;
//! use weft_runtime::store::{driver::conformance, Store};
//! use weft_runtime::MemoryStore;
//!
//! # futures::executor::block_on(async {
//! conformance::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
//! # });
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::id::RunId;
use crate::outcome::{RunError, RunStatus};
use crate::store::{
    from_millis, millis, AttemptOutcome, AttemptRecord, Command, Durability, Entry, Millis, Record,
    RunEnd, RunFilter, RunStart, RunSummary, Store, StoreError,
};

/// Runs every property of this module, each on a new store from `make`.
///
/// # Panics
///
/// When a property does not hold: the message names it and the store.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    append_then_load_one_run(&*make().await).await;
    append_then_load_interleaved_runs(&*make().await).await;
    append_owned_keeps_or_gives_back(&*make().await).await;
    appends_continue_a_journal(&*make().await).await;
    empty_append_is_accepted(&*make().await).await;
    first_record_is_started_at_zero(&*make().await).await;
    sequence_gaps_and_repeats_conflict(&*make().await).await;
    rejected_batch_leaves_nothing(&*make().await).await;
    unknown_runs(&*make().await).await;
    summary_follows_records(&*make().await).await;
    updated_at_advances(&*make().await).await;
    list_filters_and_orders(&*make().await).await;
    list_pages_by_cursor(&*make().await).await;
    list_filters_by_start_time(&*make().await).await;
    load_from_reads_what_follows(&*make().await).await;
    purge_deletes_runs_ended_before_the_cutoff(&*make().await).await;
    large_values_round_trip(&*make().await).await;
    unicode_round_trips(&*make().await).await;
    attempt_outcomes_round_trip(&*make().await).await;
    ten_thousand_records_in_one_append(&*make().await).await;
}

/// A `Started` record of `workflow`, for tests.
pub fn started(workflow: &str, parent: Option<RunId>, started_at: Millis) -> Record {
    Record::Started(Box::new(RunStart {
        workflow: workflow.to_owned(),
        source: format!("tasks:\n  a: {{action: core.noop}}\n# {workflow}\n"),
        format: "yaml".to_owned(),
        hash: crate::store::source_hash(workflow),
        inputs: json!({"n": 3, "name": workflow}),
        parent,
        depth: u32::from(parent.is_some()),
        durability: Durability::WriteBehind,
        started_at,
    }))
}

/// An attempt record with `outcome`, for tests.
pub fn attempt(step: u64, outcome: AttemptOutcome) -> Record {
    Record::Attempt(AttemptRecord {
        step,
        instance: step as u32,
        item: None,
        attempt: 1,
        outcome,
        started_at: Some(1_700_000_000_000 + step),
        ended_at: 1_700_000_000_001 + step,
    })
}

/// A successful attempt with a small result, for tests.
pub fn ok(step: u64) -> Record {
    attempt(
        step,
        AttemptOutcome::Ok {
            result: Arc::new(json!({"task": "fan", "n": step})),
        },
    )
}

/// A command record, for tests.
pub fn command(step: u64, command: Command) -> Record {
    Record::Command { step, command }
}

/// An `Ended` record, for tests.
pub fn ended(status: RunStatus, ended_at: Millis) -> Record {
    Record::Ended(Box::new(RunEnd {
        status,
        output: json!({"status": status.as_str()}),
        errors: match status {
            RunStatus::Failed => vec![RunError {
                task: Some("b".to_owned()),
                message: "it failed".to_owned(),
            }],
            _ => Vec::new(),
        },
        ended_at,
    }))
}

/// `records` as entries of `run`, numbered from `first`.
pub fn entries(run: RunId, first: u64, records: Vec<Record>) -> Vec<Entry> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| Entry {
            run,
            seq: first + i as u64,
            record,
        })
        .collect()
}

fn fail(store: &dyn Store, property: &str, what: impl std::fmt::Display) -> ! {
    panic!(
        "store conformance: `{property}` fails on {}: {what}",
        store.describe()
    )
}

async fn append_ok(store: &dyn Store, property: &str, batch: &[Entry]) {
    match store.append(batch).await {
        Ok(done) if done.fenced.is_empty() => {}
        Ok(done) => fail(
            store,
            property,
            format!("append fenced runs {:?}", done.fenced),
        ),
        Err(e) => fail(store, property, format!("append failed: {e}")),
    }
}

async fn load_ok(store: &dyn Store, property: &str, run: RunId) -> Vec<Entry> {
    match store.load(run).await {
        Ok(v) => v,
        Err(e) => fail(store, property, format!("load of run {run} failed: {e}")),
    }
}

async fn get_some(store: &dyn Store, property: &str, run: RunId) -> RunSummary {
    match store.get(run).await {
        Ok(Some(s)) => s,
        Ok(None) => fail(store, property, format!("get of run {run} found nothing")),
        Err(e) => fail(store, property, format!("get of run {run} failed: {e}")),
    }
}

async fn list_ok(store: &dyn Store, property: &str, filter: &RunFilter) -> Vec<RunId> {
    match store.list(filter).await {
        Ok(v) => v.into_iter().map(|s| s.id).collect(),
        Err(e) => fail(store, property, format!("list {filter:?} failed: {e}")),
    }
}

fn same_journal(store: &dyn Store, property: &str, got: &[Entry], want: &[Entry]) {
    if got.len() != want.len() {
        fail(
            store,
            property,
            format!("loaded {} entries, appended {}", got.len(), want.len()),
        );
    }
    if let Some((g, w)) = got.iter().zip(want).find(|(g, w)| g != w) {
        fail(
            store,
            property,
            format!("entry {} loaded as {g:?}, appended as {w:?}", w.seq),
        );
    }
}

fn expect_conflict(
    store: &dyn Store,
    property: &str,
    what: &str,
    r: Result<impl std::fmt::Debug, StoreError>,
) {
    match r {
        Err(StoreError::Conflict(_)) => {}
        other => fail(
            store,
            property,
            format!("{what}: expected a conflict, got {other:?}"),
        ),
    }
}

/// One run's journal, appended in one batch, loads back exactly, in order.
pub async fn append_then_load_one_run(store: &dyn Store) {
    const P: &str = "append_then_load_one_run";
    let run = RunId::new();
    let mut records = vec![started("one", None, 1_000)];
    records.extend((1..=20).map(ok));
    records.push(ended(RunStatus::Succeeded, 2_000));
    let batch = entries(run, 0, records);
    append_ok(store, P, &batch).await;
    same_journal(store, P, &load_ok(store, P, run).await, &batch);
}

/// The entries of many runs, interleaved in one batch, load back per run,
/// each in its own order.
pub async fn append_then_load_interleaved_runs(store: &dyn Store) {
    const P: &str = "append_then_load_interleaved_runs";
    let runs: Vec<RunId> = (0..5).map(|_| RunId::new()).collect();
    let journals: Vec<Vec<Entry>> = runs
        .iter()
        .enumerate()
        .map(|(i, &run)| {
            let mut records = vec![started(&format!("w{i}"), None, 1_000 + i as u64)];
            records.extend((1..=(3 + i as u64 * 2)).map(ok));
            entries(run, 0, records)
        })
        .collect();
    // Round-robin over the runs, so no two neighbours share a run.
    let longest = journals.iter().map(Vec::len).max().unwrap_or(0);
    let mut batch = Vec::new();
    for i in 0..longest {
        for j in &journals {
            if let Some(e) = j.get(i) {
                batch.push(e.clone());
            }
        }
    }
    append_ok(store, P, &batch).await;
    for (run, want) in runs.iter().zip(&journals) {
        same_journal(store, P, &load_ok(store, P, *run).await, want);
    }
}

/// [`Store::append_owned`] (through which the executor's journal
/// commits) keeps what it is given as [`Store::append`] does, and gives a
/// batch it refuses back whole, with nothing of it stored.
pub async fn append_owned_keeps_or_gives_back(store: &dyn Store) {
    const P: &str = "append_owned_keeps_or_gives_back";
    let (a, b) = (RunId::new(), RunId::new());
    let ja = entries(a, 0, vec![started("a", None, 1), ok(1), ok(2)]);
    let jb = entries(b, 0, vec![started("b", None, 2), ok(1)]);
    let mut batch = ja.clone();
    batch.extend(jb.iter().cloned());
    match store.append_owned(batch).await {
        Ok(done) if done.fenced.is_empty() => {}
        Ok(done) => fail(store, P, format!("append fenced runs {:?}", done.fenced)),
        Err((e, _)) => fail(store, P, format!("append failed: {e}")),
    }
    same_journal(store, P, &load_ok(store, P, a).await, &ja);
    same_journal(store, P, &load_ok(store, P, b).await, &jb);
    // A new run, then a record of `a` that skips a number.
    let c = RunId::new();
    let mut refused = entries(c, 0, vec![started("c", None, 3), ok(1)]);
    refused.extend(entries(a, 4, vec![ok(4)]));
    match store.append_owned(refused.clone()).await {
        Err((StoreError::Conflict(_), back)) if back == refused => {}
        Err((StoreError::Conflict(_), back)) => fail(
            store,
            P,
            format!(
                "a refused batch of {} entries came back as {back:?}",
                refused.len()
            ),
        ),
        other => fail(
            store,
            P,
            format!(
                "a record that skips a number: expected a conflict, got {:?}",
                other.map_err(|(e, _)| e)
            ),
        ),
    }
    if !matches!(store.get(c).await, Ok(None)) {
        fail(store, P, format!("run {c} of the refused batch exists"));
    }
    same_journal(store, P, &load_ok(store, P, a).await, &ja);
    // [`Store::append_parts`] keeps the entries of its parts in their
    // order (a run's records across parts, as a commit of several turns
    // gives them), and gives a batch it refuses back joined.
    let d = RunId::new();
    let jd = entries(d, 0, vec![started("d", None, 4), ok(1), ok(2)]);
    let more = entries(a, 3, vec![ok(3)]);
    let parts = vec![jd[..1].to_vec(), more.clone(), jd[1..].to_vec()];
    match store.append_parts(parts).await {
        Ok(done) if done.fenced.is_empty() => {}
        Ok(done) => fail(store, P, format!("append fenced runs {:?}", done.fenced)),
        Err((e, _)) => fail(store, P, format!("append in parts failed: {e}")),
    }
    let mut ja = ja;
    ja.extend(more);
    same_journal(store, P, &load_ok(store, P, a).await, &ja);
    same_journal(store, P, &load_ok(store, P, d).await, &jd);
    let e = RunId::new();
    let parts = vec![
        entries(e, 0, vec![started("e", None, 5)]),
        entries(a, 5, vec![ok(5)]),
    ];
    let joined: Vec<Entry> = parts.concat();
    match store.append_parts(parts).await {
        Err((StoreError::Conflict(_), back)) if back == joined => {}
        other => fail(
            store,
            P,
            format!(
                "parts with a record that skips a number: expected a conflict and the \
                 entries back, got {:?}",
                other.map(|_| ()).map_err(|(e, back)| (e, back.len()))
            ),
        ),
    }
    if !matches!(store.get(e).await, Ok(None)) {
        fail(store, P, format!("run {e} of the refused parts exists"));
    }
    same_journal(store, P, &load_ok(store, P, a).await, &ja);
}

/// Later appends continue a journal; loads see every append so far.
pub async fn appends_continue_a_journal(store: &dyn Store) {
    const P: &str = "appends_continue_a_journal";
    let run = RunId::new();
    let mut all = entries(run, 0, vec![started("more", None, 5)]);
    append_ok(store, P, &all).await;
    for round in 0..4u64 {
        let first = all.len() as u64;
        let more = entries(run, first, (first..first + round + 1).map(ok).collect());
        append_ok(store, P, &more).await;
        all.extend(more);
        same_journal(store, P, &load_ok(store, P, run).await, &all);
    }
}

/// An empty batch is accepted and changes nothing.
pub async fn empty_append_is_accepted(store: &dyn Store) {
    const P: &str = "empty_append_is_accepted";
    append_ok(store, P, &[]).await;
    if !list_ok(store, P, &RunFilter::all()).await.is_empty() {
        fail(store, P, "an empty append created runs");
    }
}

/// A journal begins with `Started` at sequence 0, and has one.
pub async fn first_record_is_started_at_zero(store: &dyn Store) {
    const P: &str = "first_record_is_started_at_zero";
    let run = RunId::new();
    expect_conflict(
        store,
        P,
        "a new run whose first record is an attempt",
        store.append(&entries(run, 0, vec![ok(1)])).await,
    );
    expect_conflict(
        store,
        P,
        "a new run whose first record is at sequence 1",
        store
            .append(&entries(run, 1, vec![started("w", None, 1)]))
            .await,
    );
    if !matches!(store.get(run).await, Ok(None)) {
        fail(store, P, "a rejected first record created the run");
    }
    append_ok(store, P, &entries(run, 0, vec![started("w", None, 1)])).await;
    expect_conflict(
        store,
        P,
        "a second `started` record",
        store
            .append(&entries(run, 1, vec![started("w", None, 2)]))
            .await,
    );
    expect_conflict(
        store,
        P,
        "`started` again at sequence 0",
        store
            .append(&entries(run, 0, vec![started("w", None, 3)]))
            .await,
    );
    same_journal(
        store,
        P,
        &load_ok(store, P, run).await,
        &entries(run, 0, vec![started("w", None, 1)]),
    );
}

/// A sequence number that skips one or repeats one is a conflict, whether
/// against the stored journal or within the batch.
pub async fn sequence_gaps_and_repeats_conflict(store: &dyn Store) {
    const P: &str = "sequence_gaps_and_repeats_conflict";
    let run = RunId::new();
    let base = entries(run, 0, vec![started("seq", None, 1), ok(1), ok(2)]);
    append_ok(store, P, &base).await;
    expect_conflict(
        store,
        P,
        "a gap after the stored journal",
        store.append(&entries(run, 4, vec![ok(4)])).await,
    );
    expect_conflict(
        store,
        P,
        "a repeat of the last stored record",
        store.append(&entries(run, 2, vec![ok(2)])).await,
    );
    let mut gap = entries(run, 3, vec![ok(3)]);
    gap.extend(entries(run, 5, vec![ok(5)]));
    expect_conflict(store, P, "a gap within the batch", store.append(&gap).await);
    let mut repeat = entries(run, 3, vec![ok(3)]);
    repeat.extend(entries(run, 3, vec![ok(3)]));
    expect_conflict(
        store,
        P,
        "a repeat within the batch",
        store.append(&repeat).await,
    );
    same_journal(store, P, &load_ok(store, P, run).await, &base);
    let next = entries(run, 3, vec![ok(3), ok(4)]);
    append_ok(store, P, &next).await;
    let mut all = base;
    all.extend(next);
    same_journal(store, P, &load_ok(store, P, run).await, &all);
}

/// A batch with one bad entry leaves nothing of itself: not the new runs
/// it started, not the records or summaries of the other runs in it.
pub async fn rejected_batch_leaves_nothing(store: &dyn Store) {
    const P: &str = "rejected_batch_leaves_nothing";
    let old = RunId::new();
    let base = entries(old, 0, vec![started("old", None, 1), ok(1)]);
    append_ok(store, P, &base).await;
    let before = get_some(store, P, old).await;

    let fresh = RunId::new();
    let bad = RunId::new();
    let mut batch = entries(fresh, 0, vec![started("fresh", None, 2), ok(1)]);
    batch.extend(entries(
        old,
        2,
        vec![
            ok(2),
            command(3, Command::Pause),
            ended(RunStatus::Failed, 9),
        ],
    ));
    batch.extend(entries(bad, 0, vec![started("bad", None, 3)]));
    // The bad entry comes last, after the good ones were checked.
    batch.extend(entries(bad, 2, vec![ok(2)]));
    expect_conflict(
        store,
        P,
        "a batch whose last entry skips a number",
        store.append(&batch).await,
    );
    for run in [fresh, bad] {
        if !matches!(store.get(run).await, Ok(None)) {
            fail(store, P, format!("run {run} of the rejected batch exists"));
        }
        if !matches!(store.load(run).await, Err(StoreError::NotFound(r)) if r == run) {
            fail(
                store,
                P,
                format!("run {run} of the rejected batch has a journal"),
            );
        }
    }
    same_journal(store, P, &load_ok(store, P, old).await, &base);
    let after = get_some(store, P, old).await;
    if after != before {
        fail(
            store,
            P,
            format!("the rejected batch changed a summary: {before:?} became {after:?}"),
        );
    }
    if list_ok(store, P, &RunFilter::all()).await != [old] {
        fail(store, P, "the rejected batch left runs behind");
    }
}

/// `get` of an unknown run is `Ok(None)`; `load` of one is `NotFound`.
pub async fn unknown_runs(store: &dyn Store) {
    const P: &str = "unknown_runs";
    let run = RunId::new();
    match store.get(run).await {
        Ok(None) => {}
        other => fail(store, P, format!("get of an unknown run gave {other:?}")),
    }
    match store.load(run).await {
        Err(StoreError::NotFound(r)) if r == run => {}
        other => fail(store, P, format!("load of an unknown run gave {other:?}")),
    }
}

/// Summaries follow the records: `Started` makes a running run with its
/// workflow, parent and start; `Pause` pauses, `Resume` resumes, `Cancel`
/// makes it canceling; `Ended` gives the end status and time; a re-run
/// makes it run again without an end.
pub async fn summary_follows_records(store: &dyn Store) {
    const P: &str = "summary_follows_records";
    let parent = RunId::new();
    let run = RunId::new();
    append_ok(
        store,
        P,
        &entries(parent, 0, vec![started("top", None, 10)]),
    )
    .await;
    let mut seq = 0u64;
    let mut step = |records: Vec<Record>| {
        let batch = entries(run, seq, records);
        seq += batch.len() as u64;
        batch
    };
    let check = |s: &RunSummary, status: RunStatus, ended_at: Option<Millis>, when: &str| {
        if s.status != status || s.ended_at != ended_at {
            fail(
                store,
                P,
                format!(
                    "after {when}: status {} and end {:?}, expected {status} and {ended_at:?}",
                    s.status, s.ended_at
                ),
            );
        }
    };

    append_ok(store, P, &step(vec![started("child", Some(parent), 1_234)])).await;
    let s = get_some(store, P, run).await;
    check(&s, RunStatus::Running, None, "`started`");
    if s.id != run || s.workflow != "child" || s.parent != Some(parent) || s.started_at != 1_234 {
        fail(store, P, format!("summary after `started` is {s:?}"));
    }
    if get_some(store, P, parent).await.parent.is_some() {
        fail(store, P, "a top-level run has a parent");
    }

    append_ok(store, P, &step(vec![ok(1), command(1, Command::Pause)])).await;
    check(
        &get_some(store, P, run).await,
        RunStatus::Paused,
        None,
        "pause",
    );
    append_ok(store, P, &step(vec![command(1, Command::Resume), ok(2)])).await;
    check(
        &get_some(store, P, run).await,
        RunStatus::Running,
        None,
        "resume",
    );
    append_ok(store, P, &step(vec![command(2, Command::Cancel)])).await;
    check(
        &get_some(store, P, run).await,
        RunStatus::Canceling,
        None,
        "cancel",
    );
    append_ok(store, P, &step(vec![ended(RunStatus::Canceled, 5_000)])).await;
    check(
        &get_some(store, P, run).await,
        RunStatus::Canceled,
        Some(5_000),
        "`ended`",
    );
    // Commands that find the run over change nothing.
    append_ok(store, P, &step(vec![command(3, Command::Pause)])).await;
    check(
        &get_some(store, P, run).await,
        RunStatus::Canceled,
        Some(5_000),
        "pause of an ended run",
    );
    append_ok(
        store,
        P,
        &step(vec![command(
            3,
            Command::Rerun {
                tasks: vec!["b".to_owned()],
            },
        )]),
    )
    .await;
    check(
        &get_some(store, P, run).await,
        RunStatus::Running,
        None,
        "re-run",
    );
    append_ok(
        store,
        P,
        &step(vec![ok(4), ended(RunStatus::Failed, 7_000)]),
    )
    .await;
    check(
        &get_some(store, P, run).await,
        RunStatus::Failed,
        Some(7_000),
        "the re-run's end",
    );
    // Several status changes in one batch: the last one counts.
    let other = RunId::new();
    append_ok(
        store,
        P,
        &entries(
            other,
            0,
            vec![
                started("other", None, 1),
                command(0, Command::Pause),
                command(0, Command::Resume),
                ended(RunStatus::Succeeded, 8_000),
            ],
        ),
    )
    .await;
    check(
        &get_some(store, P, other).await,
        RunStatus::Succeeded,
        Some(8_000),
        "a whole journal in one batch",
    );
}

/// `updated_at` is the time of the last append that touched the run.
pub async fn updated_at_advances(store: &dyn Store) {
    const P: &str = "updated_at_advances";
    let run = RunId::new();
    let before = millis(SystemTime::now());
    append_ok(store, P, &entries(run, 0, vec![started("t", None, 1)])).await;
    let after = millis(SystemTime::now());
    let first = get_some(store, P, run).await.updated_at;
    if first < before || first > after {
        fail(
            store,
            P,
            format!("updated_at {first} is not the time of the append ({before}..={after})"),
        );
    }
    // Times are in milliseconds: wait for the clock to move on (blocking,
    // briefly, since the suite assumes no particular async runtime).
    std::thread::sleep(Duration::from_millis(5));
    append_ok(store, P, &entries(run, 1, vec![ok(1)])).await;
    let second = get_some(store, P, run).await.updated_at;
    if second <= first {
        fail(
            store,
            P,
            format!("updated_at went from {first} to {second} after an append"),
        );
    }
}

/// `list` filters by status, workflow and top-level, honours `limit`,
/// and gives the newest runs first.
pub async fn list_filters_and_orders(store: &dyn Store) {
    const P: &str = "list_filters_and_orders";
    // Made in this order, so each id sorts after the one before.
    let a = RunId::new();
    let b = RunId::new();
    let c = RunId::new();
    let d = RunId::new();
    let e = RunId::new();
    // Appended newest first: the order of `list` is by id, not by append.
    let mut batch = entries(
        e,
        0,
        vec![started("build", None, 5), ended(RunStatus::Failed, 6)],
    );
    batch.extend(entries(d, 0, vec![started("deploy", Some(a), 4)]));
    batch.extend(entries(
        c,
        0,
        vec![started("build", None, 3), command(0, Command::Pause)],
    ));
    batch.extend(entries(
        b,
        0,
        vec![started("deploy", None, 2), ended(RunStatus::Succeeded, 3)],
    ));
    batch.extend(entries(a, 0, vec![started("deploy", None, 1)]));
    append_ok(store, P, &batch).await;

    let cases: Vec<(&str, RunFilter, Vec<RunId>)> = vec![
        ("all", RunFilter::all(), vec![e, d, c, b, a]),
        (
            "running",
            RunFilter::all().statuses([RunStatus::Running]),
            vec![d, a],
        ),
        (
            "ended",
            RunFilter::all().statuses([RunStatus::Succeeded, RunStatus::Failed]),
            vec![e, b],
        ),
        (
            "paused",
            RunFilter::all().statuses([RunStatus::Paused]),
            vec![c],
        ),
        (
            "canceled",
            RunFilter::all().statuses([RunStatus::Canceled]),
            vec![],
        ),
        (
            "deploy",
            RunFilter {
                workflow: Some("deploy".to_owned()),
                ..RunFilter::all()
            },
            vec![d, b, a],
        ),
        (
            "unknown workflow",
            RunFilter {
                workflow: Some("nope".to_owned()),
                ..RunFilter::all()
            },
            vec![],
        ),
        (
            "top-level",
            RunFilter {
                top_level: true,
                ..RunFilter::all()
            },
            vec![e, c, b, a],
        ),
        (
            "top-level deploy runs still going",
            RunFilter {
                top_level: true,
                workflow: Some("deploy".to_owned()),
                ..RunFilter::all().statuses([RunStatus::Running, RunStatus::Paused])
            },
            vec![a],
        ),
        (
            "the newest two",
            RunFilter {
                limit: Some(2),
                ..RunFilter::all()
            },
            vec![e, d],
        ),
        (
            "the newest deploy run",
            RunFilter {
                limit: Some(1),
                workflow: Some("deploy".to_owned()),
                ..RunFilter::all()
            },
            vec![d],
        ),
        (
            "none",
            RunFilter {
                limit: Some(0),
                ..RunFilter::all()
            },
            vec![],
        ),
    ];
    for (name, filter, want) in cases {
        let got = list_ok(store, P, &filter).await;
        if got != want {
            fail(
                store,
                P,
                format!("list of {name} gave {got:?}, expected {want:?}"),
            );
        }
    }
    // The summaries `list` gives are those `get` gives.
    match store.list(&RunFilter::all()).await {
        Ok(all) => {
            for s in all {
                let one = get_some(store, P, s.id).await;
                if one != s {
                    fail(store, P, format!("list gave {s:?}, get gave {one:?}"));
                }
            }
        }
        Err(e) => fail(store, P, format!("list failed: {e}")),
    }
}

/// `list` pages by cursor: with [`RunFilter::before`] set to the last run
/// of a page, the next page holds the runs that follow it in the store's
/// order, under the same filter, and the pages together are the whole list
/// without a run twice; a cursor whose run is gone still pages.
pub async fn list_pages_by_cursor(store: &dyn Store) {
    const P: &str = "list_pages_by_cursor";
    let ids: Vec<RunId> = (0..23).map(|_| RunId::new()).collect();
    let mut batch = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let workflow = if i % 3 == 0 { "odd" } else { "even" };
        let parent = (i % 5 == 4).then(|| ids[0]);
        let mut records = vec![started(workflow, parent, 1_000 + i as u64)];
        if i % 2 == 0 {
            records.push(ended(RunStatus::Succeeded, 2_000 + i as u64));
        }
        batch.extend(entries(id, 0, records));
    }
    append_ok(store, P, &batch).await;
    let filters: Vec<(&str, RunFilter)> = vec![
        ("all", RunFilter::all()),
        ("top-level", RunFilter::all().top_level()),
        ("a workflow", RunFilter::all().workflow("even")),
        (
            "a status",
            RunFilter::all().statuses([RunStatus::Succeeded]),
        ),
        (
            "two statuses, top-level, one workflow",
            RunFilter::all()
                .statuses([RunStatus::Succeeded, RunStatus::Running])
                .top_level()
                .workflow("even"),
        ),
    ];
    for (name, filter) in filters {
        let whole = list_ok(store, P, &filter).await;
        for size in [1, 4, 7, 50] {
            let mut paged: Vec<RunId> = Vec::new();
            let mut page_filter = filter.clone().limit(size);
            for _ in 0..=ids.len() {
                let page = list_ok(store, P, &page_filter).await;
                if page.len() > size {
                    fail(
                        store,
                        P,
                        format!("{name}: a page of {size} held {}", page.len()),
                    );
                }
                paged.extend(&page);
                match page.last() {
                    Some(&last) if page.len() == size => page_filter = page_filter.before(last),
                    _ => break,
                }
            }
            if paged != whole {
                fail(
                    store,
                    P,
                    format!("{name}: pages of {size} gave {paged:?}, the whole list is {whole:?}"),
                );
            }
        }
    }
    // The run a cursor names may be gone: the page still starts after it.
    let gone = RunId::new();
    let newer = RunId::new();
    append_ok(
        store,
        P,
        &entries(newer, 0, vec![started("late", None, 9_000)]),
    )
    .await;
    let page = list_ok(store, P, &RunFilter::all().before(gone).limit(3)).await;
    let want: Vec<RunId> = ids.iter().rev().take(3).copied().collect();
    if page != want {
        fail(
            store,
            P,
            format!("a page before a run that does not exist gave {page:?}, expected {want:?}"),
        );
    }
}

/// `list` keeps the runs that started in a time range: at or after
/// `started_after`, before `started_before`.
pub async fn list_filters_by_start_time(store: &dyn Store) {
    const P: &str = "list_filters_by_start_time";
    let ids: Vec<RunId> = (0..6).map(|_| RunId::new()).collect();
    let mut batch = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        batch.extend(entries(
            id,
            0,
            vec![started("timed", None, 1_000 * (i as u64 + 1))],
        ));
    }
    append_ok(store, P, &batch).await;
    let cases: Vec<(&str, RunFilter, Vec<RunId>)> = vec![
        (
            "from 3000",
            RunFilter::all().started_between(Some(3_000), None),
            vec![ids[5], ids[4], ids[3], ids[2]],
        ),
        (
            "before 3000",
            RunFilter::all().started_between(None, Some(3_000)),
            vec![ids[1], ids[0]],
        ),
        (
            "2000 to 5000",
            RunFilter::all().started_between(Some(2_000), Some(5_000)),
            vec![ids[3], ids[2], ids[1]],
        ),
        (
            "an empty range",
            RunFilter::all().started_between(Some(5_000), Some(5_000)),
            vec![],
        ),
        (
            "2000 to 5000, after a cursor, at most 2",
            RunFilter::all()
                .started_between(Some(2_000), Some(5_000))
                .before(ids[3])
                .limit(2),
            vec![ids[2], ids[1]],
        ),
    ];
    for (name, filter, want) in cases {
        let got = list_ok(store, P, &filter).await;
        if got != want {
            fail(
                store,
                P,
                format!("list of {name} gave {got:?}, expected {want:?}"),
            );
        }
    }
}

/// `load_from` gives the journal from a record on, whichever append wrote
/// it (a record in the middle of an append included); nothing past the
/// end; `NotFound` for an unknown run.
pub async fn load_from_reads_what_follows(store: &dyn Store) {
    const P: &str = "load_from_reads_what_follows";
    let run = RunId::new();
    let mut all = entries(run, 0, vec![started("tail", None, 5), ok(1), ok(2)]);
    append_ok(store, P, &all).await;
    for round in 0..4u64 {
        let first = all.len() as u64;
        let more = entries(run, first, (first..first + round + 2).map(ok).collect());
        append_ok(store, P, &more).await;
        all.extend(more);
    }
    for from in 0..=all.len() as u64 + 2 {
        let got = match store.load_from(run, from).await {
            Ok(v) => v,
            Err(e) => fail(store, P, format!("load_from {from} failed: {e}")),
        };
        let want: Vec<Entry> = all.iter().filter(|e| e.seq >= from).cloned().collect();
        if got != want {
            fail(
                store,
                P,
                format!(
                    "load_from {from} gave records {:?}, expected {:?}",
                    got.iter().map(|e| e.seq).collect::<Vec<_>>(),
                    want.iter().map(|e| e.seq).collect::<Vec<_>>()
                ),
            );
        }
    }
    let unknown = RunId::new();
    for from in [0, 3] {
        match store.load_from(unknown, from).await {
            Err(StoreError::NotFound(r)) if r == unknown => {}
            other => fail(
                store,
                P,
                format!("load_from {from} of an unknown run gave {other:?}"),
            ),
        }
    }
}

/// `purge` deletes the runs that ended before the cutoff, journals and
/// all, and nothing else; it returns how many it deleted.
pub async fn purge_deletes_runs_ended_before_the_cutoff(store: &dyn Store) {
    const P: &str = "purge_deletes_runs_ended_before_the_cutoff";
    let old = RunId::new();
    let old_failed = RunId::new();
    let recent = RunId::new();
    let at_cutoff = RunId::new();
    let going = RunId::new();
    let rerun = RunId::new();
    let mut batch = entries(
        old,
        0,
        vec![
            started("p", None, 1),
            ok(1),
            ended(RunStatus::Succeeded, 1_000),
        ],
    );
    batch.extend(entries(
        old_failed,
        0,
        vec![started("p", None, 1), ended(RunStatus::Failed, 1_999)],
    ));
    batch.extend(entries(
        recent,
        0,
        vec![started("p", None, 1), ended(RunStatus::Canceled, 3_000)],
    ));
    batch.extend(entries(
        at_cutoff,
        0,
        vec![started("p", None, 1), ended(RunStatus::Succeeded, 2_000)],
    ));
    batch.extend(entries(going, 0, vec![started("p", None, 1), ok(1)]));
    batch.extend(entries(
        rerun,
        0,
        vec![
            started("p", None, 1),
            ended(RunStatus::Failed, 500),
            command(1, Command::Rerun { tasks: Vec::new() }),
        ],
    ));
    append_ok(store, P, &batch).await;

    let cutoff = from_millis(2_000);
    match store.purge(cutoff).await {
        Ok(2) => {}
        other => fail(
            store,
            P,
            format!("purge before 2000 ms returned {other:?}, expected Ok(2)"),
        ),
    }
    for run in [old, old_failed] {
        if !matches!(store.get(run).await, Ok(None)) {
            fail(store, P, format!("purged run {run} is still listed"));
        }
        if !matches!(store.load(run).await, Err(StoreError::NotFound(_))) {
            fail(store, P, format!("purged run {run} still has a journal"));
        }
    }
    for run in [recent, at_cutoff, going, rerun] {
        let kept = load_ok(store, P, run).await;
        let want: Vec<&Entry> = batch.iter().filter(|e| e.run == run).collect();
        if kept.len() != want.len() {
            fail(
                store,
                P,
                format!("purge changed the journal of kept run {run}"),
            );
        }
    }
    let left = list_ok(store, P, &RunFilter::all()).await;
    if left != [rerun, going, at_cutoff, recent] {
        fail(store, P, format!("after purge, list gives {left:?}"));
    }
    match store.purge(cutoff).await {
        Ok(0) => {}
        other => fail(store, P, format!("a second purge returned {other:?}")),
    }
    match store.purge(SystemTime::now()).await {
        Ok(2) => {}
        other => fail(
            store,
            P,
            format!("purge before now returned {other:?}, expected Ok(2)"),
        ),
    }
}

/// Results of a few megabytes load back exactly.
pub async fn large_values_round_trip(store: &dyn Store) {
    const P: &str = "large_values_round_trip";
    let run = RunId::new();
    let big = "x".repeat(3 << 20);
    let many: Vec<Value> = (0..20_000).map(|i| json!({"i": i, "s": "item"})).collect();
    let batch = entries(
        run,
        0,
        vec![
            started("large", None, 1),
            attempt(
                1,
                AttemptOutcome::Ok {
                    result: Arc::new(json!({"blob": big})),
                },
            ),
            attempt(
                2,
                AttemptOutcome::Ok {
                    result: Arc::new(Value::Array(many)),
                },
            ),
            Record::Ended(Box::new(RunEnd {
                status: RunStatus::Succeeded,
                output: json!({"copy": "y".repeat(1 << 20)}),
                errors: Vec::new(),
                ended_at: 2,
            })),
        ],
    );
    append_ok(store, P, &batch).await;
    same_journal(store, P, &load_ok(store, P, run).await, &batch);
}

/// Text in any script, escapes and control characters load back exactly,
/// in records and in summaries.
pub async fn unicode_round_trips(store: &dyn Store) {
    const P: &str = "unicode_round_trips";
    let run = RunId::new();
    let name = "déploiement-東京-🚀";
    let text = "naïve café — Ελληνικά, русский, العربية, עברית, 日本語, 한국어, \
                emoji 👩‍👩‍👧‍👦🏳️‍🌈, combining e\u{301}, zero-width \u{200b}, \
                quotes \" ' `, backslash \\, tab\t, newline\n, nul \u{0}, \
                bell \u{7}, replacement \u{fffd}, max \u{10ffff}";
    let batch = entries(
        run,
        0,
        vec![
            started(name, None, 1),
            attempt(
                1,
                AttemptOutcome::Ok {
                    result: Arc::new(json!({ text: [text, {"ключ": text}] })),
                },
            ),
            attempt(
                2,
                AttemptOutcome::Err {
                    message: text.to_owned(),
                    result: Some(Box::new(json!(text))),
                    canceled: false,
                },
            ),
            command(
                2,
                Command::Rerun {
                    tasks: vec![name.to_owned(), text.to_owned()],
                },
            ),
        ],
    );
    append_ok(store, P, &batch).await;
    same_journal(store, P, &load_ok(store, P, run).await, &batch);
    let s = get_some(store, P, run).await;
    if s.workflow != name {
        fail(
            store,
            P,
            format!("workflow {name:?} listed as {:?}", s.workflow),
        );
    }
    let filter = RunFilter {
        workflow: Some(name.to_owned()),
        ..RunFilter::all()
    };
    if list_ok(store, P, &filter).await != [run] {
        fail(store, P, "list by a unicode workflow name misses the run");
    }
}

/// Every kind of attempt outcome, command and end loads back exactly,
/// numbers of every kind included.
pub async fn attempt_outcomes_round_trip(store: &dyn Store) {
    const P: &str = "attempt_outcomes_round_trip";
    let run = RunId::new();
    let mut with_item = ok(9);
    if let Record::Attempt(a) = &mut with_item {
        a.item = Some(41);
        a.attempt = 3;
        a.started_at = None;
    }
    let numbers = json!({
        "zero": 0, "neg": -7, "big": u64::MAX, "small": i64::MIN,
        "float": 0.1, "tiny": 5e-324, "huge": 1.7976931348623157e308,
        "third": 1.0 / 3.0, "null": null, "bool": true, "empty": {}, "list": []
    });
    let records = vec![
        started("outcomes", None, 1),
        attempt(
            1,
            AttemptOutcome::Ok {
                result: Arc::new(numbers.clone()),
            },
        ),
        attempt(
            2,
            AttemptOutcome::Ok {
                result: Arc::new(Value::Null),
            },
        ),
        attempt(
            3,
            AttemptOutcome::Err {
                message: "boom".to_owned(),
                result: None,
                canceled: false,
            },
        ),
        attempt(
            4,
            AttemptOutcome::Err {
                message: "stopped".to_owned(),
                result: Some(Box::new(json!({"partial": [1, 2]}))),
                canceled: true,
            },
        ),
        attempt(5, AttemptOutcome::TimedOut { seconds: 0.1 }),
        attempt(6, AttemptOutcome::TimedOut { seconds: 3600.0 }),
        attempt(
            7,
            AttemptOutcome::Panicked {
                message: "index out of bounds".to_owned(),
            },
        ),
        attempt(8, AttemptOutcome::Dropped),
        with_item,
        command(9, Command::Abort),
        Record::Ended(Box::new(RunEnd {
            status: RunStatus::Canceled,
            output: numbers,
            errors: vec![
                RunError {
                    task: None,
                    message: "canceled".to_owned(),
                },
                RunError {
                    task: Some("a".to_owned()),
                    message: "boom".to_owned(),
                },
            ],
            ended_at: u64::from(u32::MAX) * 1000,
        })),
    ];
    let mut sync = started("outcomes-sync", Some(run), 2);
    if let Record::Started(s) = &mut sync {
        s.durability = Durability::Sync;
        s.format = "json".to_owned();
        s.depth = 7;
    }
    let child = RunId::new();
    let mut batch = entries(run, 0, records);
    let child_batch = entries(child, 0, vec![sync]);
    batch.extend(child_batch.iter().cloned());
    append_ok(store, P, &batch).await;
    let (own, _): (Vec<Entry>, Vec<Entry>) = batch.into_iter().partition(|e| e.run == run);
    same_journal(store, P, &load_ok(store, P, run).await, &own);
    same_journal(store, P, &load_ok(store, P, child).await, &child_batch);
}

/// Ten thousand small records in one append load back exactly.
pub async fn ten_thousand_records_in_one_append(store: &dyn Store) {
    const P: &str = "ten_thousand_records_in_one_append";
    let runs: Vec<RunId> = (0..10).map(|_| RunId::new()).collect();
    let mut batch = Vec::with_capacity(10_000);
    for (i, &run) in runs.iter().enumerate() {
        batch.push(Entry {
            run,
            seq: 0,
            record: started(&format!("many{i}"), None, i as u64),
        });
    }
    for n in 1..1_000u64 {
        for &run in &runs {
            batch.push(Entry {
                run,
                seq: n,
                record: ok(n),
            });
        }
    }
    append_ok(store, P, &batch).await;
    for &run in &runs {
        let want: Vec<Entry> = batch.iter().filter(|e| e.run == run).cloned().collect();
        same_journal(store, P, &load_ok(store, P, run).await, &want);
    }
}

/// Runs every property of the key–value datastore
/// ([`KvStore`](crate::store::KvStore)), each on a new store from `make`; a
/// store without a datastore ([`Store::kv`] is `None`) fails.
///
/// # Panics
///
/// When a property does not hold: the message names it and the store.
pub async fn kv_run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    kv_set_then_get(&*make().await).await;
    kv_set_replaces(&*make().await).await;
    kv_scopes_are_apart(&*make().await).await;
    kv_list_by_prefix(&*make().await).await;
    kv_delete_removes(&*make().await).await;
    kv_bad_keys_are_refused(&*make().await).await;
}

fn kv_of<'s>(store: &'s dyn Store, property: &str) -> &'s dyn crate::store::KvStore {
    store.kv().unwrap_or_else(|| {
        panic!(
            "{property}: store {} has no key-value datastore",
            store.describe()
        )
    })
}

/// A key set reads back with its value, its secret mark and a time.
pub async fn kv_set_then_get(store: &dyn Store) {
    let p = "kv_set_then_get";
    let kv = kv_of(store, p);
    let before = millis(SystemTime::now());
    assert_eq!(kv.kv_get("system", "a").await.unwrap(), None, "{p}");
    kv.kv_set(&crate::store::KvEntry::new("system", "a", "1 é\n\"x\""))
        .await
        .unwrap();
    kv.kv_set(&crate::store::KvEntry::new("system", "token", "s").secret(true))
        .await
        .unwrap();
    let a = kv.kv_get("system", "a").await.unwrap().expect(p);
    assert_eq!(
        (
            a.scope.as_str(),
            a.name.as_str(),
            a.value.as_str(),
            a.secret
        ),
        ("system", "a", "1 é\n\"x\"", false),
        "{p}: {}",
        store.describe()
    );
    assert!(a.updated_at >= before, "{p}: {}", store.describe());
    let t = kv.kv_get("system", "token").await.unwrap().expect(p);
    assert!(t.secret, "{p}: {}", store.describe());
}

/// Setting a key again replaces its value and its mark.
pub async fn kv_set_replaces(store: &dyn Store) {
    let p = "kv_set_replaces";
    let kv = kv_of(store, p);
    kv.kv_set(&crate::store::KvEntry::new("system", "a", "1").secret(true))
        .await
        .unwrap();
    kv.kv_set(&crate::store::KvEntry::new("system", "a", "2"))
        .await
        .unwrap();
    let a = kv.kv_get("system", "a").await.unwrap().expect(p);
    assert_eq!(
        (a.value.as_str(), a.secret),
        ("2", false),
        "{p}: {}",
        store.describe()
    );
    assert_eq!(kv.kv_list("system", "").await.unwrap().len(), 1, "{p}");
}

/// The same name in `system` and `user` is two keys.
pub async fn kv_scopes_are_apart(store: &dyn Store) {
    let p = "kv_scopes_are_apart";
    let kv = kv_of(store, p);
    kv.kv_set(&crate::store::KvEntry::new("system", "k", "sys"))
        .await
        .unwrap();
    kv.kv_set(&crate::store::KvEntry::new("user", "k", "usr"))
        .await
        .unwrap();
    let s = kv.kv_get("system", "k").await.unwrap().expect(p);
    let u = kv.kv_get("user", "k").await.unwrap().expect(p);
    assert_eq!(
        (s.value.as_str(), u.value.as_str()),
        ("sys", "usr"),
        "{p}: {}",
        store.describe()
    );
}

/// `kv_list` gives the keys of one scope under a prefix, by name.
pub async fn kv_list_by_prefix(store: &dyn Store) {
    let p = "kv_list_by_prefix";
    let kv = kv_of(store, p);
    for name in ["app.b", "app.a", "other", "app_c", "ap"] {
        kv.kv_set(&crate::store::KvEntry::new("system", name, name))
            .await
            .unwrap();
    }
    kv.kv_set(&crate::store::KvEntry::new("user", "app.z", "z"))
        .await
        .unwrap();
    let names = |v: Vec<crate::store::KvEntry>| v.into_iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(
        names(kv.kv_list("system", "app.").await.unwrap()),
        ["app.a", "app.b"],
        "{p}: {}",
        store.describe()
    );
    // `_` and `%` are no wildcards.
    assert_eq!(
        names(kv.kv_list("system", "app_").await.unwrap()),
        ["app_c"],
        "{p}: {}",
        store.describe()
    );
    assert_eq!(kv.kv_list("system", "").await.unwrap().len(), 5, "{p}");
    assert_eq!(kv.kv_list("system", "%").await.unwrap().len(), 0, "{p}");
}

/// A deleted key is gone; deleting a missing key says so.
pub async fn kv_delete_removes(store: &dyn Store) {
    let p = "kv_delete_removes";
    let kv = kv_of(store, p);
    kv.kv_set(&crate::store::KvEntry::new("system", "a", "1"))
        .await
        .unwrap();
    assert!(kv.kv_delete("system", "a").await.unwrap(), "{p}");
    assert!(!kv.kv_delete("system", "a").await.unwrap(), "{p}");
    assert_eq!(kv.kv_get("system", "a").await.unwrap(), None, "{p}");
}

/// A scope other than `system` and `user`, or an empty name, is refused.
pub async fn kv_bad_keys_are_refused(store: &dyn Store) {
    let p = "kv_bad_keys_are_refused";
    let kv = kv_of(store, p);
    let e = kv
        .kv_set(&crate::store::KvEntry::new("global", "a", "1"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("`global`"), "{p}: {e}");
    assert!(
        kv.kv_set(&crate::store::KvEntry::new("system", "", "1"))
            .await
            .is_err(),
        "{p}"
    );
}
