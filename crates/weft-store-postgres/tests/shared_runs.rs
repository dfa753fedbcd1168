//! Runs shared by several processes on one Postgres schema: fencing by
//! epoch, claims that never hand one run to two claimers, takeover of a
//! crashed process's runs by replay, and commands from any process.
//!
//! A "process" here is a store with an executor on a tokio runtime of its
//! own; a crash is that runtime shut down at once (every task of it gone,
//! the lease left to expire), as SIGKILL would leave it. The CLI's fault
//! test (crates/weft-cli/tests/scale_out.rs) kills real processes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use weft_core::Workflow;
use weft_runtime::store::driver::conformance::{self, entries};
use weft_runtime::store::{Appended, Command, Entry, SharedStore, Store};
use weft_runtime::{ActionInput, Executor, RunId, RunStatus, WorkerConfig};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::with_postgres_schemas;

fn short(schema: &str) -> PostgresOptions {
    PostgresOptions::new()
        .schema(schema)
        .lease(Duration::from_millis(1000))
        .heartbeat(Duration::from_millis(250))
}

/// A store on `schema` with the short lease of [`short`].
async fn short_store(url: &str, schema: &str) -> PostgresStore {
    PostgresStore::connect_with(url, &short(schema))
        .await
        .unwrap()
}

async fn expire_leases(store: &PostgresStore) {
    let conn = store.pool().get().await.unwrap();
    conn.execute(
        &format!(
            "UPDATE {}.runs SET lease_until = now() - interval '1 second' WHERE owner IS NOT NULL",
            store.schema()
        ),
        &[],
    )
    .await
    .unwrap();
}

/// A slow-but-alive owner whose run was taken over cannot write: its
/// commit is refused (fenced), the new owner's goes in, and the old owner
/// hears that it lost the run.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_epoch_cannot_write() {
    with_postgres_schemas("fencing", async |url, schemas| {
        let schema = schemas.fresh();
        let a = short_store(url, &schema).await;
        let b = short_store(url, &schema).await;
        let run = RunId::new();
        let first = entries(
            run,
            0,
            vec![conformance::started("w", None, 1), conformance::ok(1)],
        );
        assert_eq!(a.append(&first).await.unwrap(), Appended::all());
        assert_eq!(SharedStore::owned(&a), vec![run]);
        // A stalls past its lease; B takes the run over.
        expire_leases(&a).await;
        let claimed = b.claim(10, &[]).await.unwrap();
        assert_eq!(claimed.runs, vec![run]);
        // A wakes up and writes: refused.
        let stale = entries(run, 2, vec![conformance::ok(2)]);
        let done = a.append(&stale).await.unwrap();
        assert_eq!(
            done.fenced,
            vec![run],
            "the stale owner's entries are refused"
        );
        // B goes on from the same place.
        let fresh = entries(run, 2, vec![conformance::ok(20)]);
        assert_eq!(b.append(&fresh).await.unwrap(), Appended::all());
        let journal = b.load(run).await.unwrap();
        assert_eq!(journal.len(), 3);
        assert_eq!(
            journal[2], fresh[0],
            "the new owner's record is the one kept"
        );
        // A no longer counts the run as its own, and so it is told.
        assert!(SharedStore::owned(&a).is_empty());
        assert_eq!(a.take_lost(), vec![run]);
        // A cannot take it back while B's lease holds.
        assert!(matches!(
            a.acquire(run).await,
            Err(weft_runtime::store::StoreError::Fenced(r)) if r == run
        ));
        // B's heartbeat keeps the lease; A's renewal finds nothing.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(SharedStore::owned(&b), vec![run]);
        assert_eq!(
            b.append(&entries(run, 3, vec![conformance::ok(3)]))
                .await
                .unwrap(),
            Appended::all()
        );
    })
    .await;
}

/// The notices of lost runs waiting in `rx` (the listener may add others).
fn losses(
    rx: &mut tokio::sync::broadcast::Receiver<weft_runtime::store::Notice>,
) -> Vec<weft_runtime::store::Notice> {
    use weft_runtime::store::Notice;
    std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|n| matches!(n, Notice::RunLost(_) | Notice::Lost))
        .collect()
}

/// A run this process held until a commit of it was refused (fenced:
/// another process took it over before a renewal or the local deadline
/// saw it) is lost, and told so, as one a renewal finds taken over is; a
/// run given up (`abandon`) too. A worker counts its lost runs from these
/// notices: untold, an action that ran again elsewhere would look
/// unexplained.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_fenced_at_a_commit_or_given_up_is_told_lost() {
    use weft_runtime::store::Notice;
    with_postgres_schemas("fencedlost", async |url, schemas| {
        let schema = schemas.fresh();
        // Renewals and the local deadline are seconds away: only the
        // commit can find the run gone.
        let options = PostgresOptions::new()
            .schema(schema.clone())
            .lease(Duration::from_secs(20))
            .heartbeat(Duration::from_secs(8));
        let a = PostgresStore::connect_with(url, &options).await.unwrap();
        let (run, other) = (RunId::new(), RunId::new());
        for r in [run, other] {
            a.append(&entries(r, 0, vec![conformance::started("w", None, 1)]))
                .await
                .unwrap();
        }
        let mut notices = a.notices();
        // Someone else takes `run` over (as a claim after a stall does).
        let conn = a.pool().get().await.unwrap();
        conn.execute(
            &format!("UPDATE {schema}.runs SET epoch = epoch + 1, owner = 'other' WHERE id = $1"),
            &[run.as_uuid()],
        )
        .await
        .unwrap();
        let done = a
            .append(&entries(run, 1, vec![conformance::ok(1)]))
            .await
            .unwrap();
        assert_eq!(done.fenced, vec![run]);
        assert_eq!(a.take_lost(), vec![run], "the fenced run is lost");
        assert_eq!(losses(&mut notices), [Notice::RunLost(run), Notice::Lost]);
        // Fenced again: lost once only.
        let done = a
            .append(&entries(run, 1, vec![conformance::ok(1)]))
            .await
            .unwrap();
        assert_eq!(done.fenced, vec![run]);
        assert!(a.take_lost().is_empty());
        assert!(losses(&mut notices).is_empty());
        // Given up: lost too; a run not held is not.
        a.abandon(other);
        a.abandon(other);
        assert_eq!(a.take_lost(), vec![other]);
        assert_eq!(losses(&mut notices), [Notice::RunLost(other), Notice::Lost]);
        assert!(SharedStore::owned(&a).is_empty());
    })
    .await;
}

/// A process whose renewals fail stops counting on its runs before the
/// lease ends in the database.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_taken_away_is_reported_lost() {
    with_postgres_schemas("lost", async |url, schemas| {
        let schema = schemas.fresh();
        let a = short_store(url, &schema).await;
        let run = RunId::new();
        a.append(&entries(run, 0, vec![conformance::started("w", None, 1)]))
            .await
            .unwrap();
        let mut notices = a.notices();
        // Someone else bumps the epoch (as a takeover does).
        let conn = a.pool().get().await.unwrap();
        conn.execute(
            &format!("UPDATE {schema}.runs SET epoch = epoch + 1, owner = 'other'"),
            &[],
        )
        .await
        .unwrap();
        let began = Instant::now();
        loop {
            let n = tokio::time::timeout(Duration::from_secs(3), notices.recv())
                .await
                .expect("a notice within 3 s")
                .unwrap();
            if n == weft_runtime::store::Notice::Lost {
                break;
            }
        }
        assert!(began.elapsed() < Duration::from_millis(900));
        assert_eq!(a.take_lost(), vec![run]);
        assert!(SharedStore::owned(&a).is_empty());
        let done = a
            .append(&entries(run, 1, vec![conformance::ok(1)]))
            .await
            .unwrap();
        assert_eq!(done.fenced, vec![run]);
    })
    .await;
}

/// A process whose renewals cannot reach the database (here: its only
/// connection is held, so a renewal waits for one until it times out)
/// gives its run up before another process can claim it, even when the
/// deadline falls while a renewal is waiting.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_cannot_renew_stops_before_another_can_claim() {
    with_postgres_schemas("selffence", async |url, schemas| {
        let schema = schemas.fresh();
        // Local lease: 1000 - 400 / 2 = 800 ms.
        let options = PostgresOptions::new()
            .schema(schema.clone())
            .lease(Duration::from_millis(1000))
            .heartbeat(Duration::from_millis(400))
            .pool_size(1);
        let a = PostgresStore::connect_with(url, &options).await.unwrap();
        let b = short_store(url, &schema).await;
        let mut notices = a.notices();
        let run = RunId::new();
        let began = Instant::now();
        a.append(&entries(run, 0, vec![conformance::started("w", None, 1)]))
            .await
            .unwrap();
        // From here on, A's renewals find no connection.
        let held = a.pool().get().await.unwrap();
        let lost_at = Arc::new(Mutex::new(None));
        let lost = lost_at.clone();
        let watch = tokio::spawn(async move {
            loop {
                match notices.recv().await {
                    Ok(weft_runtime::store::Notice::Lost) => {
                        *lost.lock().unwrap() = Some(Instant::now());
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        // B claims the run as soon as the database lets it.
        let claimed_at = loop {
            assert!(
                began.elapsed() < Duration::from_secs(5),
                "B never claimed the run"
            );
            if b.claim(10, &[]).await.unwrap().runs == vec![run] {
                break Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let lost_at = *lost_at.lock().unwrap();
        let lost_at = lost_at.unwrap_or_else(|| {
            panic!(
                "B claimed the run {:?} after A wrote it, and A had not yet given it up",
                claimed_at - began
            )
        });
        assert!(lost_at < claimed_at);
        assert!(
            lost_at - began < Duration::from_millis(950),
            "A gave the run up {:?} after writing it; its local lease is 800 ms",
            lost_at - began
        );
        assert_eq!(a.take_lost(), vec![run]);
        drop(held);
        watch.abort();
    })
    .await;
}

/// Claimers racing for the same submitted runs never get the same run.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_share_a_run() {
    with_postgres_schemas("claimers", async |url, schemas| {
        let schema = schemas.fresh();
        let options = PostgresOptions::new().schema(schema.clone());
        let submitter = PostgresStore::connect_with(url, &options).await.unwrap();
        let mut submitted = HashSet::new();
        for i in 0..300 {
            let run = RunId::new();
            submitter
                .submit(&Entry {
                    run,
                    seq: 0,
                    record: conformance::started(&format!("w{i}"), None, i),
                })
                .await
                .unwrap();
            submitted.insert(run);
        }
        let mut claimers = Vec::new();
        for _ in 0..4 {
            let store = PostgresStore::connect_with(url, &options).await.unwrap();
            claimers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let c = store.claim(7, &[]).await.unwrap();
                    if c.runs.is_empty() {
                        break;
                    }
                    got.extend(c.runs);
                }
                got
            }));
        }
        let mut seen: HashMap<RunId, usize> = HashMap::new();
        let mut per_claimer = Vec::new();
        for c in claimers {
            let got = c.await.unwrap();
            per_claimer.push(got.len());
            for r in got {
                *seen.entry(r).or_default() += 1;
            }
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "runs claimed twice: {twice:?}");
        let claimed: HashSet<RunId> = seen.keys().copied().collect();
        assert_eq!(claimed, submitted, "every submitted run is claimed once");
        assert_eq!(per_claimer.iter().sum::<usize>(), 300);
    })
    .await;
}

const FLOW: &str = "
input: [k]
tasks:
  a:
    action: step
    input: {k: '{{ parameters.k }}', t: a}
    next: [{do: b}]
  b:
    action: hold
    input: {k: '{{ parameters.k }}', t: b}
    next: [{do: c}]
  c:
    action: step
    input: {k: '{{ parameters.k }}', t: c}
output:
  - got: '{{ task.a.k }}-{{ task.b.k }}-{{ task.c.t }}'
";

type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// An executor whose `step` counts executions, and whose `hold` waits for
/// `hold_for` first.
fn executor(store: Arc<dyn Store>, counts: &Counts, hold_for: Duration) -> Executor {
    let c1 = counts.clone();
    let c2 = counts.clone();
    Executor::builder()
        .store(store)
        .action("step", move |input: ActionInput| {
            let counts = c1.clone();
            async move {
                let key = format!(
                    "{}{}",
                    input.get("k").cloned().unwrap_or_default(),
                    input.get("t").cloned().unwrap_or_default()
                );
                *counts.lock().unwrap().entry(key).or_default() += 1;
                Ok(json!({"k": input.get("k").cloned(), "t": input.get("t").cloned()}))
            }
        })
        .action("hold", move |input: ActionInput| {
            let counts = c2.clone();
            async move {
                let key = format!(
                    "{}{}",
                    input.get("k").cloned().unwrap_or_default(),
                    input.get("t").cloned().unwrap_or_default()
                );
                *counts.lock().unwrap().entry(key).or_default() += 1;
                tokio::time::sleep(hold_for).await;
                Ok(json!({"k": input.get("k").cloned()}))
            }
        })
        .build()
}

/// Waits, 5 s at the most, until `b` of the run whose input `k` is `k` has
/// started (as `counts` saw it) and `store` owns that run, `id`.
async fn wait_until_b_runs_here(counts: &Counts, store: &PostgresStore, k: &str, id: RunId) {
    let key = format!("\"{k}\"\"b\"");
    let began = Instant::now();
    while !counts.lock().unwrap().contains_key(&key) || !SharedStore::owned(store).contains(&id) {
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "`b` did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_until_ended(store: &PostgresStore, run: RunId, within: Duration) -> RunStatus {
    let began = Instant::now();
    loop {
        if let Some(s) = store.get(run).await.unwrap() {
            if s.status.is_terminal() {
                return s.status;
            }
        }
        assert!(
            began.elapsed() < within,
            "run {run} did not end within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A process dies in the middle of a run; another takes the run over once
/// the lease expires, replays its journal (what was recorded does not run
/// again) and finishes it.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_process_runs_are_taken_over_by_replay() {
    with_postgres_schemas("takeover", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        // Process A, on a runtime of its own.
        let rt_a = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (url_a, schema_a, counts_a) = (url.to_owned(), schema.clone(), counts.clone());
        let (run, store_a_owner) = rt_a
            .spawn(async move {
                let store = Arc::new(short_store(&url_a, &schema_a).await);
                let owner = store.owner().to_owned();
                let ex = executor(store.clone(), &counts_a, Duration::from_secs(3600));
                let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
                let run = ex.submit(&plan, json!({"k": "x"})).await.unwrap();
                let worker = ex.worker(WorkerConfig::new());
                tokio::spawn(async move {
                    let _keep = ex;
                    worker.run(std::future::pending()).await
                });
                std::mem::forget(store);
                (run, owner)
            })
            .await
            .unwrap();
        let observer = short_store(url, &schema).await;
        // A has run `a` (recorded) and is in `b` when it dies.
        let began = Instant::now();
        loop {
            let j = observer.load(run).await.unwrap();
            if j.len() >= 2 && counts.lock().unwrap().contains_key("\"x\"\"b\"") {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "A did not get to `b`"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let killed = Instant::now();
        rt_a.shutdown_background();
        // Process B takes over.
        let store_b = Arc::new(short_store(url, &schema).await);
        let ex_b = executor(store_b.clone(), &counts, Duration::from_millis(10));
        let worker = ex_b.worker(WorkerConfig::new());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(worker.run(async {
            let _ = stop_rx.await;
        }));
        // Takeover: the run changes hands once A's lease has expired.
        let conn = observer.pool().get().await.unwrap();
        let taken = loop {
            let row = conn
                .query_one(
                    &format!("SELECT owner FROM {schema}.runs WHERE id = $1"),
                    &[run.as_uuid()],
                )
                .await
                .unwrap();
            let owner: Option<String> = row.get(0);
            if owner.as_deref() != Some(store_a_owner.as_str()) {
                break killed.elapsed();
            }
            assert!(
                killed.elapsed() < Duration::from_secs(5),
                "no takeover within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(
            taken <= Duration::from_millis(1000 + 1000),
            "takeover took {taken:?}, over lease + 1 s"
        );
        let status = wait_until_ended(&observer, run, Duration::from_secs(10)).await;
        assert_eq!(status, RunStatus::Succeeded);
        let outcome = ex_b.inspect(run).await.unwrap();
        assert_eq!(outcome.output["got"], json!("x-x-c"));
        let counts = counts.lock().unwrap().clone();
        assert_eq!(
            counts["\"x\"\"a\""], 1,
            "`a` was recorded: it does not run again"
        );
        assert_eq!(
            counts["\"x\"\"b\""], 2,
            "`b` was in flight at the crash: it runs again"
        );
        assert_eq!(counts["\"x\"\"c\""], 1);
        let _ = stop_tx.send(());
        let report = worker.await.unwrap().unwrap();
        assert_eq!(report.claimed, 1);
        assert_eq!(report.ended, 1);
    })
    .await;
}

/// Cancel, pause and resume reach a run from a process that does not run
/// it, through the store.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_a_run_in_another_process() {
    with_postgres_schemas("commands", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let store_w = Arc::new(short_store(url, &schema).await);
        let ex_w = executor(store_w.clone(), &counts, Duration::from_millis(300));
        let worker = ex_w.worker(WorkerConfig::new());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(worker.run(async {
            let _ = stop_rx.await;
        }));
        // Another process submits and steers.
        let store_c = Arc::new(short_store(url, &schema).await);
        let ex_c = executor(store_c.clone(), &counts, Duration::from_millis(300));
        let plan = Workflow::from_yaml_str(FLOW)
            .unwrap()
            .compile(&ex_c)
            .unwrap();
        let paused = ex_c.submit(&plan, json!({"k": "p"})).await.unwrap();
        ex_c.command(paused, Command::Pause).await.unwrap();
        let began = Instant::now();
        loop {
            let s = store_c.get(paused).await.unwrap().unwrap().status;
            if s == RunStatus::Paused {
                break;
            }
            assert!(!s.is_terminal(), "the run ended ({s}) instead of pausing");
            assert!(
                began.elapsed() < Duration::from_secs(5),
                "not paused within 5 s: {s}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ex_c.command(paused, Command::Resume).await.unwrap();
        assert_eq!(
            wait_until_ended(&store_c, paused, Duration::from_secs(10)).await,
            RunStatus::Succeeded
        );
        let canceled = ex_c.submit(&plan, json!({"k": "q"})).await.unwrap();
        ex_c.command(canceled, Command::Cancel).await.unwrap();
        assert_eq!(
            wait_until_ended(&store_c, canceled, Duration::from_secs(10)).await,
            RunStatus::Canceled
        );
        assert!(ex_c.command(RunId::new(), Command::Cancel).await.is_err());
        let _ = stop_tx.send(());
        worker.await.unwrap().unwrap();
    })
    .await;
}

/// A worker that stops hands its runs back: another claims them at once
/// (no lease to wait for) and finishes them.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_hands_its_runs_back() {
    with_postgres_schemas("handback", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        // A long lease: only a hand-back lets the second worker in soon.
        let options = PostgresOptions::new().schema(schema.clone());
        let store_1 = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let ex_1 = executor(store_1.clone(), &counts, Duration::from_secs(3600));
        let plan = Workflow::from_yaml_str(FLOW)
            .unwrap()
            .compile(&ex_1)
            .unwrap();
        let mut runs = Vec::new();
        for i in 0..5 {
            runs.push(
                ex_1.submit(&plan, json!({"k": format!("h{i}")}))
                    .await
                    .unwrap(),
            );
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker_1 = tokio::spawn(ex_1.worker(WorkerConfig::new()).run(async {
            let _ = stop_rx.await;
        }));
        let began = Instant::now();
        while counts.lock().unwrap().len() < 10 {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "worker 1 did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop_tx.send(());
        let report = worker_1.await.unwrap().unwrap();
        assert_eq!(report.released, 5);
        let store_2 = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let ex_2 = executor(store_2.clone(), &counts, Duration::from_millis(10));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker_2 = tokio::spawn(ex_2.worker(WorkerConfig::new()).run(async {
            let _ = stop_rx.await;
        }));
        for run in &runs {
            assert_eq!(
                wait_until_ended(&store_2, *run, Duration::from_secs(5)).await,
                RunStatus::Succeeded
            );
        }
        let _ = stop_tx.send(());
        worker_2.await.unwrap().unwrap();
    })
    .await;
}

/// A stopping worker stops its runs before it hands them back: another
/// process that claims a run the moment it is handed back never overlaps
/// with the run's actions still going in the first. The first worker runs
/// on one thread, with an action that keeps that thread busy 30 ms at a
/// time (so that, had the hand-back come first, the action would still run
/// there while the other claims).
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn a_stopping_worker_stops_its_runs_before_handing_them_back() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(with_postgres_schemas("handorder", async |url, schemas| {
        let schema = schemas.fresh();
        let options = PostgresOptions::new().schema(schema.clone());
        let beats: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let (id_tx, id_rx) = std::sync::mpsc::channel::<RunId>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let (url, options, beats) = (url.to_owned(), options.clone(), beats.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let store = PostgresStore::connect_with(&url, &options).await.unwrap();
                    let ex = Executor::builder()
                        .store(Arc::new(store))
                        .action("busy", move |_input: ActionInput| {
                            let beats = beats.clone();
                            async move {
                                loop {
                                    beats.lock().unwrap().push(Instant::now());
                                    std::thread::sleep(Duration::from_millis(30));
                                    beats.lock().unwrap().push(Instant::now());
                                    tokio::task::yield_now().await;
                                }
                                #[allow(unreachable_code)]
                                Ok(json!(null))
                            }
                        })
                        .build();
                    let plan = Workflow::from_yaml_str("tasks:\n  a: {action: busy}\n")
                        .unwrap()
                        .compile(&ex)
                        .unwrap();
                    id_tx
                        .send(ex.submit(&plan, json!({})).await.unwrap())
                        .unwrap();
                    ex.worker(WorkerConfig::new())
                        .run(async {
                            let _ = stop_rx.await;
                        })
                        .await
                        .unwrap()
                })
            })
        };
        let run = tokio::task::spawn_blocking(move || id_rx.recv().unwrap())
            .await
            .unwrap();
        let other = PostgresStore::connect_with(url, &options).await.unwrap();
        let began = Instant::now();
        while beats.lock().unwrap().is_empty() {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the action did not start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(());
        let claimed_at = loop {
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "the run was not handed back"
            );
            if other.claim(10, &[]).await.unwrap().runs == vec![run] {
                break Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let report = tokio::task::spawn_blocking(move || first.join().unwrap())
            .await
            .unwrap();
        assert_eq!(report.released, 1);
        let last = *beats.lock().unwrap().last().unwrap();
        assert!(
            last < claimed_at,
            "the action still ran in the first worker {:?} after the other claimed the run",
            last - claimed_at
        );
    }));
}

/// A run started in a process that runs no worker (`Executor::start`) is
/// stopped there when its lease is lost, not left running its actions
/// beside the process that took it over.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_here_stops_when_its_lease_is_lost() {
    with_postgres_schemas("startlost", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let store = Arc::new(short_store(url, &schema).await);
        let ex = executor(store.clone(), &counts, Duration::from_secs(3600));
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.start(&plan, json!({"k": "s"})).unwrap();
        let id = run.id();
        wait_until_b_runs_here(&counts, &store, "s", id).await;
        // All it recorded is committed: the run waits for `b` and has
        // nothing more to write (no commit of it will be refused).
        tokio::time::sleep(Duration::from_millis(100)).await;
        ex.flush().await.unwrap();
        // Another process takes the run over.
        let conn = store.pool().get().await.unwrap();
        conn.execute(
            &format!("UPDATE {schema}.runs SET epoch = epoch + 1, owner = 'other'"),
            &[],
        )
        .await
        .unwrap();
        let began = Instant::now();
        while ex.run(id).is_some() {
            assert!(
                began.elapsed() < Duration::from_secs(3),
                "the run still runs here after its lease was taken"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Nothing more of it was written from here.
        let summary = store.get(id).await.unwrap().unwrap();
        assert!(!summary.status.is_terminal(), "{:?}", summary.status);
    })
    .await;
}

/// A command from another process reaches a run started in a process that
/// runs no worker (`Executor::start`).
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_a_run_started_in_a_process_without_a_worker() {
    with_postgres_schemas("startcmd", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let options = PostgresOptions::new().schema(schema.clone());
        let store = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let ex = executor(store.clone(), &counts, Duration::from_secs(3600));
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.start(&plan, json!({"k": "c"})).unwrap();
        let id = run.id();
        wait_until_b_runs_here(&counts, &store, "c", id).await;
        let other = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let ex_other = executor(other.clone(), &counts, Duration::from_secs(3600));
        ex_other.command(id, Command::Abort).await.unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(3), run)
            .await
            .expect("the abort did not reach the run within 3 s");
        assert_eq!(outcome.unwrap().status, RunStatus::Canceled);
        assert_eq!(
            wait_until_ended(&other, id, Duration::from_secs(3)).await,
            RunStatus::Canceled
        );
    })
    .await;
}

/// A worker does not claim a run that is still going in its own process
/// (whose lease lapsed in the database before a renewal came): it would
/// run it a second time beside the first, under the same owner.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_does_not_claim_a_run_going_on_in_its_process() {
    with_postgres_schemas("liveclaim", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let store = Arc::new(short_store(url, &schema).await);
        let ex = executor(store.clone(), &counts, Duration::from_secs(3600));
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.start(&plan, json!({"k": "l"})).unwrap();
        let id = run.id();
        wait_until_b_runs_here(&counts, &store, "l", id).await;
        expire_leases(&store).await;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(ex.worker(WorkerConfig::new()).run(async {
            let _ = stop_rx.await;
        }));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            counts.lock().unwrap()["\"l\"\"b\""],
            1,
            "`b` ran again in the same process"
        );
        let _ = stop_tx.send(());
        let report = worker.await.unwrap().unwrap();
        assert_eq!(report.claimed, 0);
    })
    .await;
}

/// The connection that listens for notices comes back soon after each of
/// several drops (database restarts, a proxy cutting it): its wait between
/// attempts grows only while the server cannot be reached.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listening_connection_comes_back_soon_after_every_drop() {
    with_postgres_schemas("relisten", async |url, schemas| {
        let schema = schemas.fresh();
        let store = short_store(url, &schema).await;
        let mut notices = store.notices();
        let missed = |n: &mut tokio::sync::broadcast::Receiver<weft_runtime::store::Notice>| {
            let mut n = n.resubscribe();
            async move {
                loop {
                    if n.recv().await.unwrap() == weft_runtime::store::Notice::Missed {
                        return;
                    }
                }
            }
        };
        // Listening.
        tokio::time::timeout(Duration::from_secs(5), missed(&mut notices))
            .await
            .expect("the listening connection did not start");
        let conn = store.pool().get().await.unwrap();
        for drop in 1..=4 {
            // The notices from here on: one as the connection drops,
            // one once it listens again.
            let mut from_now = notices.resubscribe();
            let killed = conn
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE query = $1",
                    &[&format!("LISTEN weft_{schema}")],
                )
                .await
                .unwrap();
            assert_eq!(killed.len(), 1, "drop {drop}: the listening connection");
            let began = Instant::now();
            let mut seen = 0;
            while seen < 2 {
                let n = tokio::time::timeout(Duration::from_secs(10), from_now.recv())
                    .await
                    .expect("no notice")
                    .unwrap();
                if n == weft_runtime::store::Notice::Missed {
                    seen += 1;
                }
            }
            assert!(
                began.elapsed() < Duration::from_millis(1000),
                "drop {drop}: listening again only {:?} later",
                began.elapsed()
            );
        }
    })
    .await;
}

/// A claimed run whose journal the store cannot give at that moment (the
/// database restarting) is claimed again once the store answers, not
/// skipped by that worker for good.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_journal_could_not_be_read_is_claimed_again() {
    with_postgres_schemas("loadfail", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let store = Arc::new(short_store(url, &schema).await);
        let ex = executor(store.clone(), &counts, Duration::from_millis(10));
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.submit(&plan, json!({"k": "j"})).await.unwrap();
        let conn = store.pool().get().await.unwrap();
        // The journal cannot be read for a while.
        conn.batch_execute(&format!(
            "ALTER TABLE {schema}.journal RENAME TO journal_away"
        ))
        .await
        .unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(
            ex.worker(WorkerConfig::new().poll_interval(Duration::from_millis(500)))
                .run(async {
                    let _ = stop_rx.await;
                }),
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        conn.batch_execute(&format!(
            "ALTER TABLE {schema}.journal_away RENAME TO journal"
        ))
        .await
        .unwrap();
        assert_eq!(
            wait_until_ended(&store, run, Duration::from_secs(10)).await,
            RunStatus::Succeeded
        );
        let _ = stop_tx.send(());
        let report = worker.await.unwrap().unwrap();
        assert_eq!(report.claimed, 2, "claimed once in vain, then for good");
    })
    .await;
}

/// A paused run is handed back at once when its worker stops (stopping it
/// first does not wait for a run that waits for a resume).
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_hands_a_paused_run_back_at_once() {
    with_postgres_schemas("pausedback", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let options = PostgresOptions::new().schema(schema.clone());
        let store = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let ex = executor(store.clone(), &counts, Duration::from_millis(300));
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.submit(&plan, json!({"k": "p"})).await.unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(ex.worker(WorkerConfig::new()).run(async {
            let _ = stop_rx.await;
        }));
        ex.command(run, Command::Pause).await.unwrap();
        let began = Instant::now();
        while store.get(run).await.unwrap().unwrap().status != RunStatus::Paused {
            assert!(began.elapsed() < Duration::from_secs(5), "not paused");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let began = Instant::now();
        let _ = stop_tx.send(());
        let report = worker.await.unwrap().unwrap();
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "the hand-back took {:?}",
            began.elapsed()
        );
        assert_eq!(report.released, 1);
        let conn = store.pool().get().await.unwrap();
        let row = conn
            .query_one(
                &format!("SELECT owner FROM {schema}.runs WHERE id = $1"),
                &[run.as_uuid()],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, Option<String>>(0), None, "owned by nobody");
        assert_eq!(
            store.get(run).await.unwrap().unwrap().status,
            RunStatus::Paused
        );
    })
    .await;
}

/// Two executors on one store (one runs a worker, one starts runs): a run
/// whose lease is lost stops in the executor it runs in, whichever of the
/// two hears of the loss first.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_run_stops_in_its_executor_when_two_share_a_store() {
    with_postgres_schemas("twoexec", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let store = Arc::new(short_store(url, &schema).await);
        let ex_worker = executor(store.clone(), &counts, Duration::from_secs(3600));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(ex_worker.worker(WorkerConfig::new()).run(async {
            let _ = stop_rx.await;
        }));
        let ex = executor(store.clone(), &counts, Duration::from_secs(3600));
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        for round in 0..4 {
            let k = format!("r{round}");
            let run = ex.start(&plan, json!({ "k": k })).unwrap();
            let id = run.id();
            wait_until_b_runs_here(&counts, &store, &k, id).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            ex.flush().await.unwrap();
            let conn = store.pool().get().await.unwrap();
            conn.execute(
                &format!(
                    "UPDATE {schema}.runs SET epoch = epoch + 1, owner = 'other' WHERE id = $1"
                ),
                &[id.as_uuid()],
            )
            .await
            .unwrap();
            let began = Instant::now();
            while ex.run(id).is_some() {
                assert!(
                    began.elapsed() < Duration::from_secs(3),
                    "round {round}: the run still runs after its lease was taken"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let _ = stop_tx.send(());
        worker.await.unwrap().unwrap();
    })
    .await;
}

/// A commit the database refuses (here a constraint; a full disk or a
/// restart alike) fails the run in its process, which lets the lease lapse;
/// once the database takes writes again a worker resumes the run from its
/// journal and finishes it.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_commit_failed_is_resumed_after_its_lease() {
    with_postgres_schemas("commitfail", async |url, schemas| {
        let schema = schemas.fresh();
        let counts: Counts = Arc::default();
        let store = Arc::new(short_store(url, &schema).await);
        let ex = executor(store.clone(), &counts, Duration::from_millis(400));
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.submit(&plan, json!({"k": "f"})).await.unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(ex.worker(WorkerConfig::new()).run(async {
            let _ = stop_rx.await;
        }));
        let began = Instant::now();
        // `b` runs, and `a`'s outcome is committed.
        while !counts.lock().unwrap().contains_key("\"f\"\"b\"")
            || store.load(run).await.unwrap().len() < 2
        {
            assert!(
                began.elapsed() < Duration::from_secs(5),
                "`b` did not start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let conn = store.pool().get().await.unwrap();
        conn.batch_execute(&format!(
            "ALTER TABLE {schema}.journal ADD CONSTRAINT refuse CHECK (false) NOT VALID"
        ))
        .await
        .unwrap();
        // `b` ends, its commit fails: the run stops here and is given up.
        let began = Instant::now();
        while SharedStore::owned(&*store).contains(&run) {
            assert!(
                began.elapsed() < Duration::from_secs(5),
                "the run was not given up"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        conn.batch_execute(&format!(
            "ALTER TABLE {schema}.journal DROP CONSTRAINT refuse"
        ))
        .await
        .unwrap();
        assert_eq!(
            wait_until_ended(&store, run, Duration::from_secs(10)).await,
            RunStatus::Succeeded
        );
        let outcome = ex.inspect(run).await.unwrap();
        assert_eq!(outcome.output["got"], json!("f-f-c"));
        let counts = counts.lock().unwrap().clone();
        assert_eq!(counts["\"f\"\"a\""], 1);
        assert_eq!(
            counts["\"f\"\"b\""], 2,
            "`b`'s outcome was lost with the commit"
        );
        let _ = stop_tx.send(());
        worker.await.unwrap().unwrap();
    })
    .await;
}

#[test]
fn shared_run_types_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<weft_runtime::Worker>();
    check::<WorkerConfig>();
    check::<weft_runtime::WorkerReport>();
    check::<weft_runtime::SharedError>();
    check::<weft_runtime::store::Notice>();
    check::<weft_runtime::store::Claimed>();
}
