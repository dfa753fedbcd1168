//! Submitted runs waiting for a worker: the `queued` status, who owns a
//! run, paused runs and a worker's `max_runs`, and how many runs
//! `Executor::recover_at_most` takes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;
use weft_core::Workflow;
use weft_runtime::store::{Command, RunFilter, SharedStore, Store};
use weft_runtime::{ActionInput, Executor, RunId, RunStatus, WorkerConfig};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::with_postgres_schemas;

const FLOW: &str = "
input: [k]
tasks:
  a:
    action: gate
    input: {k: '{{ parameters.k }}'}
    next: [{do: b}]
  b:
    action: step
";

/// An executor whose `gate` waits for a permit of `gate`; `step` does
/// nothing.
fn executor(store: Arc<dyn Store>, gate: &Arc<Semaphore>) -> Executor {
    let gate = gate.clone();
    Executor::builder()
        .store(store)
        .action("gate", move |input: ActionInput| {
            let gate = gate.clone();
            async move {
                gate.acquire().await.map(|p| p.forget()).ok();
                Ok(json!({"k": input.get("k").cloned()}))
            }
        })
        .action("step", |_: ActionInput| async { Ok(json!(null)) })
        .build()
}

async fn wait_for(store: &PostgresStore, run: RunId, status: RunStatus, within: Duration) {
    let began = Instant::now();
    loop {
        let now = store.get(run).await.unwrap().map(|s| s.status);
        if now == Some(status) {
            return;
        }
        assert!(
            began.elapsed() < within,
            "run {run} is {now:?}, not {status} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A submitted run is `queued`, owned by nobody, until a worker claims
/// it; then it is `running`, and its owner is that worker's process.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_run_is_queued_until_a_worker_claims_it() {
    with_postgres_schemas("queued", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let gate = Arc::new(Semaphore::new(0));
        let ex = executor(store.clone(), &gate);
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.submit(&plan, json!({"k": "q"})).await.unwrap();

        let summary = store.get(run).await.unwrap().unwrap();
        assert_eq!(summary.status, RunStatus::Queued);
        assert_eq!(summary.owner, None);
        let queued = store
            .list(&RunFilter::all().statuses([RunStatus::Queued]))
            .await
            .unwrap();
        assert_eq!(queued.iter().map(|s| s.id).collect::<Vec<_>>(), [run]);
        let running = store
            .list(&RunFilter::all().statuses([RunStatus::Running]))
            .await
            .unwrap();
        assert!(running.is_empty(), "{running:?}");
        // Nothing of it has run: the journal alone says `running`.
        assert_eq!(ex.inspect(run).await.unwrap().status, RunStatus::Running);

        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(ex.worker(WorkerConfig::new()).run(async {
            let _ = stop_rx.await;
        }));
        wait_for(&store, run, RunStatus::Running, Duration::from_secs(10)).await;
        let summary = store.get(run).await.unwrap().unwrap();
        assert_eq!(summary.owner, Some(store.owner_name()));
        let listed = store.list(&RunFilter::all()).await.unwrap();
        assert_eq!(listed[0].owner, Some(store.owner_name()));

        gate.add_permits(1);
        wait_for(&store, run, RunStatus::Succeeded, Duration::from_secs(10)).await;
        assert_eq!(store.get(run).await.unwrap().unwrap().owner, None);
        let _ = stop_tx.send(());
        worker.await.unwrap().unwrap();
    })
    .await;
}

/// A worker that hands a claimed run back before anything of it was
/// recorded leaves it queued again.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_handed_back_before_it_recorded_anything_is_queued_again() {
    with_postgres_schemas("requeued", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let gate = Arc::new(Semaphore::new(0));
        let ex = executor(store.clone(), &gate);
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let run = ex.submit(&plan, json!({"k": "r"})).await.unwrap();
        let claimed = store.claim(1, &[]).await.unwrap();
        assert_eq!(claimed.runs, [run]);
        assert_eq!(
            store.get(run).await.unwrap().unwrap().status,
            RunStatus::Running
        );
        store.release(run).await.unwrap();
        let summary = store.get(run).await.unwrap().unwrap();
        assert_eq!(summary.status, RunStatus::Queued);
        assert_eq!(summary.owner, None);
    })
    .await;
}

/// With `max_runs` 1, a worker whose one run is paused claims the next
/// submitted run and finishes it.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_runs_do_not_count_toward_max_runs() {
    with_postgres_schemas("pausedmax", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let gate = Arc::new(Semaphore::new(0));
        let ex = executor(store.clone(), &gate);
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        // A long poll: only the pause may wake the worker to claim.
        let config = WorkerConfig::new()
            .max_runs(1)
            .poll_interval(Duration::from_secs(60));
        let worker = tokio::spawn(ex.worker(config).run(async {
            let _ = stop_rx.await;
        }));
        let first = ex.submit(&plan, json!({"k": "1"})).await.unwrap();
        wait_for(&store, first, RunStatus::Running, Duration::from_secs(10)).await;
        let second = ex.submit(&plan, json!({"k": "2"})).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            store.get(second).await.unwrap().unwrap().status,
            RunStatus::Queued,
            "the worker is full"
        );
        ex.command(first, Command::Pause).await.unwrap();
        // `first` is pausing (its gate still waits): its slot is free.
        wait_for(&store, second, RunStatus::Running, Duration::from_secs(10)).await;
        gate.add_permits(2);
        wait_for(
            &store,
            second,
            RunStatus::Succeeded,
            Duration::from_secs(10),
        )
        .await;
        wait_for(&store, first, RunStatus::Paused, Duration::from_secs(10)).await;
        ex.command(first, Command::Resume).await.unwrap();
        wait_for(&store, first, RunStatus::Succeeded, Duration::from_secs(10)).await;
        let _ = stop_tx.send(());
        let report = worker.await.unwrap().unwrap();
        assert_eq!(report.claimed, 2);
    })
    .await;
}

/// `recover_at_most` resumes that many interrupted runs, oldest first,
/// lists the rest as left, and leaves queued runs to workers.
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_at_most_takes_that_many_and_no_queued_run() {
    with_postgres_schemas("recoverat", async |url, schemas| {
        let options = PostgresOptions::new().schema(schemas.fresh());
        let store = Arc::new(PostgresStore::connect_with(url, &options).await.unwrap());
        let gate = Arc::new(Semaphore::new(0));
        let ex = executor(store.clone(), &gate);
        let plan = Workflow::from_yaml_str(FLOW).unwrap().compile(&ex).unwrap();
        let mut interrupted = Vec::new();
        for k in 0..3 {
            interrupted.push(ex.submit(&plan, json!({"k": k})).await.unwrap());
        }
        // Claimed by a process that died: their leases lapsed.
        let dead = PostgresStore::connect_with(url, &options).await.unwrap();
        assert_eq!(dead.claim(3, &[]).await.unwrap().runs.len(), 3);
        drop(dead);
        let conn = store.pool().get().await.unwrap();
        conn.execute(
            &format!(
                "UPDATE {}.runs SET lease_until = now() - interval '1 second'",
                store.schema()
            ),
            &[],
        )
        .await
        .unwrap();
        let queued = ex.submit(&plan, json!({"k": "q"})).await.unwrap();

        let recovered = ex.recover_at_most(2).await.unwrap();
        let ids: Vec<RunId> = recovered.runs.iter().map(|r| r.id()).collect();
        assert_eq!(ids, interrupted[..2]);
        assert_eq!(recovered.left, interrupted[2..]);
        assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
        assert_eq!(
            store.get(queued).await.unwrap().unwrap().status,
            RunStatus::Queued
        );
        gate.add_permits(2);
        for run in recovered.runs {
            assert_eq!(run.await.unwrap().status, RunStatus::Succeeded);
        }
    })
    .await;
}
