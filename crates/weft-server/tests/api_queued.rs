//! A run submitted to a shared store and not yet claimed by a worker shows
//! as `queued`, is found by `?status=queued`, and shows as `running` once
//! a worker claims it. Postgres only (skipped without
//! `WEFT_TEST_POSTGRES_URL`).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use weft_runtime::WorkerConfig;
use weft_server::ServerConfig;

const FLOW: &str = "
tasks:
  a: {action: test.gate, input: {name: a}}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "needs a Postgres server: set WEFT_TEST_POSTGRES_URL"
)]
async fn a_submitted_run_is_queued_until_a_worker_claims_it() {
    let Some(stores) = Stores::new(Kind::Postgres, "queued") else {
        return;
    };
    let gates = Gates::new();
    let (store, url) = stores.open("queued").await;
    let executor = gates.builder().store(store).build();
    let config = ServerConfig::new(executor.clone())
        .workflow("one", plan(FLOW, "one", &executor))
        .poll_interval(Duration::from_millis(20));
    let app = weft_server::router(config);
    let got = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"workflow": "one"})),
    )
    .await;
    assert_eq!(got.status, 202, "{}", got.body);
    assert_eq!(got.body["status"], "queued", "{}", got.body);
    let id = got.body["run_id"].as_str().unwrap().to_owned();

    let shown = wait_status(&app, &id, "queued").await;
    assert_eq!(shown["status"], "queued");
    let listed = call(&app, "GET", "/api/v1/runs?status=queued", None).await;
    assert_eq!(
        listed.body["runs"][0]["run_id"],
        json!(id),
        "{}",
        listed.text
    );
    assert_eq!(listed.body["runs"][0]["status"], "queued");
    let running = call(&app, "GET", "/api/v1/runs?status=running", None).await;
    assert_eq!(running.body["runs"], json!([]), "{}", running.text);

    // A worker of another process claims it.
    let runner = gates.builder().store(stores.again(&url).await).build();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(async move {
        let _ = runner
            .worker(WorkerConfig::new())
            .run(async move {
                let _ = rx.await;
            })
            .await;
    });
    wait_status(&app, &id, "running").await;
    gates.open("a");
    wait_status(&app, &id, "succeeded").await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
    stores.clean().await;
}
