//! Connections cut under a running run: its commits are tried again on a
//! new connection while its lease holds, so the run goes on at once
//! instead of stopping and waiting a lease period to be taken over, and no
//! step runs twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_core::Workflow;
use weft_runtime::{ActionInput, Durability, Executor, RunStatus};
use weft_store_postgres::{PostgresOptions, PostgresStore};
use weft_test_support::postgres::with_postgres_schemas;

const STEPS: usize = 40;
/// Cuts made while the run goes on.
const CUTS: usize = 4;

/// `s0` → `s1` → … each a step that takes a few milliseconds.
fn chain() -> String {
    let mut text = String::from("tasks:\n");
    for i in 0..STEPS {
        text.push_str(&format!(
            "  s{i}:\n    action: step\n    input: {{n: {i}}}\n"
        ));
        if i + 1 < STEPS {
            text.push_str(&format!("    next: [{{do: s{}}}]\n", i + 1));
        }
    }
    text.push_str(&format!(
        "output:\n  - last: \"{{{{ task.s{} }}}}\"\n",
        STEPS - 1
    ));
    text
}

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_goes_on_at_once_when_its_connections_are_cut() {
    with_postgres_schemas("dropped", async |url, schemas| {
        let schema = schemas.fresh();
        // The default lease (30 s): what the run would wait without
        // the commits being tried again.
        let store = Arc::new(
            PostgresStore::connect_with(url, &PostgresOptions::new().schema(&schema))
                .await
                .unwrap(),
        );
        let counts: Arc<Mutex<HashMap<u64, usize>>> = Arc::default();
        let c = counts.clone();
        let ex = Executor::builder()
            .store(store.clone())
            // Every step waits for its cause's commit: commits go on
            // all the time, so the cuts land in them.
            .durability(Durability::Sync)
            .action("step", move |input: ActionInput| {
                let c = c.clone();
                async move {
                    let n = input.get("n").and_then(Value::as_u64).unwrap_or(0);
                    *c.lock().unwrap().entry(n).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    Ok(json!(n))
                }
            })
            .build();
        let plan = Workflow::from_yaml_str(&chain())
            .unwrap()
            .compile(&ex)
            .unwrap();

        // A connection of its own (not "weft") that ends this store's
        // backends busy with a statement or a transaction: only this
        // test's, whose statements name its schema.
        let (killer, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(conn);
        let began = Instant::now();
        let run = ex.start(&plan, json!({})).unwrap();
        let id = run.id();
        let outcome = tokio::spawn(run);
        // A few cuts, apart: each lands in whatever the run was doing.
        let mut cut = 0;
        while cut < CUTS && !outcome.is_finished() && began.elapsed() < Duration::from_secs(20) {
            let killed = killer
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE application_name = 'weft' AND pid <> pg_backend_pid()
                           AND state <> 'idle' AND query LIKE $1",
                    &[&format!("%{schema}.%")],
                )
                .await
                .unwrap();
            cut += killed.len();
            let pause = if killed.is_empty() { 2 } else { 150 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        let outcome = tokio::time::timeout(Duration::from_secs(30), outcome)
            .await
            .expect("the run ends")
            .unwrap()
            .unwrap();
        let took = began.elapsed();
        drop(killer);
        let _ = driver.await;
        assert!(cut >= 1, "no connection was cut while the run went on");
        assert_eq!(
            outcome.status,
            RunStatus::Succeeded,
            "after {cut} cuts: {:?}",
            outcome.errors
        );
        assert!(
            took < Duration::from_secs(10),
            "the run took {took:?} (a lease is 30 s) after {cut} cuts"
        );
        let counts = counts.lock().unwrap().clone();
        assert_eq!(counts.len(), STEPS);
        assert!(
            counts.values().all(|&n| n == 1),
            "a step ran twice: {counts:?}"
        );
        // The journal has every step, once.
        let shown = ex.inspect(id).await.unwrap();
        assert_eq!(shown.status, RunStatus::Succeeded);
        assert_eq!(shown.tasks.len(), STEPS);
        eprintln!("{cut} connections cut; the run took {took:?}");
    })
    .await;
}
