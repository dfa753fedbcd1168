//! The HTTP API over both stores: listing and paging, one run with its
//! tasks, instances, attempts and graph, live events, commands, errors,
//! secrets. Each test runs on a SQLite file and, when
//! `WEFT_TEST_POSTGRES_URL` is set, on a Postgres schema (where runs are
//! submitted to a worker of another executor, and commands reach it
//! through the store).

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use common::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use weft_runtime::{Executor, WorkerConfig};
use weft_server::ServerConfig;

const SECRET: &str = "hunter2-very-secret";

/// A server over a fresh store of `kind`, with `GATED` and `FAILING`
/// registered; on Postgres, a worker of its own executor runs what is
/// submitted. Returns the router, the gates, and what stops the worker.
struct Setup {
    app: Router,
    gates: Gates,
    stores: Stores,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl Setup {
    async fn new(
        kind: Kind,
        test: &str,
        configure: impl FnOnce(ServerConfig) -> ServerConfig,
    ) -> Option<Setup> {
        let stores = Stores::new(kind, test)?;
        let gates = Gates::new();
        let (store, url) = stores.open(&test[..test.len().min(10)]).await;
        let executor = gates.builder().store(store).build();
        let mut config = ServerConfig::new(executor.clone())
            .workflow("gated", plan(GATED, "gated", &executor))
            .workflow("failing", plan(FAILING, "failing", &executor))
            .poll_interval(Duration::from_millis(20));
        config = configure(config);
        let (mut stop, mut worker) = (None, None);
        if kind == Kind::Postgres {
            let other = stores.again(&url).await;
            let runner: Executor = gates.builder().store(other).build();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            stop = Some(tx);
            worker = Some(tokio::spawn(async move {
                let cfg = WorkerConfig::new().poll_interval(Duration::from_millis(50));
                let _ = runner
                    .worker(cfg)
                    .run(async move {
                        let _ = rx.await;
                    })
                    .await;
            }));
        }
        Some(Setup {
            app: weft_server::router(config),
            gates,
            stores,
            stop,
            worker,
        })
    }

    async fn submit(&self, workflow: &str) -> String {
        let got = call(
            &self.app,
            "POST",
            "/api/v1/runs",
            Some(if workflow == "gated" {
                json!({"workflow": workflow, "inputs": {"token": SECRET}})
            } else {
                json!({"workflow": workflow})
            }),
        )
        .await;
        assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
        got.body["run_id"].as_str().unwrap().to_owned()
    }

    async fn finish(mut self) {
        self.gates.open("a");
        self.gates.open("b");
        self.gates.open("c");
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(w) = self.worker.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
        self.stores.clean().await;
    }
}

macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Kind::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(weft_postgres_tests),
                ignore = "needs a Postgres server: set WEFT_TEST_POSTGRES_URL"
            )]
            async fn postgres() {
                super::$name(Kind::Postgres).await;
            }
        }
    };
}

on_both_stores!(a_run_is_shown_with_its_tasks_graph_and_masked_secrets);
on_both_stores!(runs_are_listed_newest_first_and_paged_by_cursor);
on_both_stores!(the_event_stream_follows_a_run_to_its_end_and_resumes);
on_both_stores!(cancel_pause_resume_and_rerun_go_through_the_executor);
on_both_stores!(errors_are_json_with_the_cli_text);
on_both_stores!(an_inquiry_is_listed_refused_and_answered);

const ASKING: &str = r#"
version: 1.0
tasks:
  ask:
    action: core.ask
    input:
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true}
    next:
      - when: "{{ succeeded() }}"
        publish: [{approved: "{{ result().response.approved }}"}]
output:
  - approved: "{{ ctx().approved }}"
"#;

/// On Postgres the run goes on in the worker of another executor: the
/// answer reaches it through the store.
async fn an_inquiry_is_listed_refused_and_answered(kind: Kind) {
    let Some(s) = Setup::new(kind, "inquiry", |c| {
        c.workflow("asking", plan(ASKING, "asking", &Executor::new()))
    })
    .await
    else {
        return;
    };
    let id = s.submit("asking").await;
    wait_status(&s.app, &id, "paused").await;
    let listed = call(&s.app, "GET", &format!("/api/v1/runs/{id}/inquiries"), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body[0]["task"], "ask", "{}", listed.text);
    assert_eq!(
        listed.body[0]["schema"]["properties"]["approved"]["type"],
        "boolean"
    );
    let respond = format!("/api/v1/runs/{id}/tasks/ask/respond");
    let got = call(
        &s.app,
        "POST",
        &respond,
        Some(json!({"response": {"approved": "yes"}})),
    )
    .await;
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.text);
    assert_eq!(got.body["error"]["code"], "answer_rejected");
    assert!(got.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("does not match the schema"));
    let got = call(
        &s.app,
        "POST",
        &format!("/api/v1/runs/{id}/tasks/other/respond"),
        Some(json!({"response": {}})),
    )
    .await;
    assert_eq!(got.status, StatusCode::CONFLICT, "{}", got.text);
    let got = call(&s.app, "POST", &respond, Some(json!({"nope": 1}))).await;
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.text);
    assert_eq!(got.body["error"]["code"], "bad_request");
    // Still waiting after all that.
    let listed = call(&s.app, "GET", &format!("/api/v1/runs/{id}/inquiries"), None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    let got = call(
        &s.app,
        "POST",
        &respond,
        Some(json!({"response": {"approved": true}})),
    )
    .await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    assert_eq!(got.body["command"], "respond");
    let run = wait_status(&s.app, &id, "succeeded").await;
    assert_eq!(run["output"], json!({"approved": true}));
    s.finish().await;
}

async fn a_run_is_shown_with_its_tasks_graph_and_masked_secrets(kind: Kind) {
    let Some(s) = Setup::new(kind, "show", |c| c).await else {
        return;
    };
    let id = s.submit("gated").await;
    let run = wait_task(&s.app, &id, "first", "running").await;
    assert_eq!(run["workflow"], "gated");
    assert_eq!(run["inputs"], json!({"who": "world", "token": "********"}));
    assert_eq!(run["allowed"]["cancel"], true);
    s.gates.open("a");
    s.gates.open("b");
    let run = wait_task(&s.app, &id, "second", "succeeded").await;
    let third = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "third")
        .unwrap();
    assert_eq!(third["status"], "running");
    s.gates.open("c");
    let run = wait_status(&s.app, &id, "succeeded").await;
    assert_eq!(run["output"], json!({"said": "hello world"}));
    assert_eq!(run["instances"], 4);
    let names: Vec<&str> = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "second", "third", "last"]);
    assert!(run["records"].as_u64().unwrap() >= 6, "{run}");
    assert_eq!(run["allowed"]["rerun"], true);
    assert_eq!(run["allowed"]["cancel"], false);

    // Instances, paged; the secret is masked in results.
    let page = call(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{id}/instances?limit=3"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["total"], 4);
    assert_eq!(page.body["instances"].as_array().unwrap().len(), 3);
    let next = page.body["next_cursor"].as_u64().unwrap();
    let rest = call(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{id}/instances?limit=3&cursor={next}"),
        None,
    )
    .await;
    assert_eq!(rest.body["instances"][0]["task"], "last");
    assert!(rest.body["next_cursor"].is_null());
    let second = call(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{id}/instances?task=second"),
        None,
    )
    .await;
    assert_eq!(second.body["total"], 1);
    assert_eq!(
        second.body["instances"][0]["result"]["echo"],
        "token=********"
    );
    let n = second.body["instances"][0]["instance"].as_u64().unwrap();
    let attempts = call(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{id}/instances/{n}/attempts"),
        None,
    )
    .await;
    assert_eq!(attempts.status, StatusCode::OK, "{}", attempts.text);
    assert_eq!(attempts.body["attempts"][0]["outcome"], "succeeded");
    assert_eq!(
        attempts.body["attempts"][0]["result"]["echo"],
        "token=********"
    );
    let one = call(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{id}/instances/{n}"),
        None,
    )
    .await;
    assert_eq!(one.body["task"], "second");
    let missing = call(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{id}/instances/99"),
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("0 to 3"));

    // The graph: start, four tasks, each placed; the join below both.
    let graph = call(&s.app, "GET", &format!("/api/v1/runs/{id}/graph"), None).await;
    assert_eq!(graph.status, StatusCode::OK, "{}", graph.text);
    let nodes = graph.body["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    let node = |name: &str| nodes.iter().find(|n| n["name"] == name).unwrap().clone();
    assert_eq!(node("last")["marks"], json!(["join: all"]));
    assert!(node("last")["y"].as_f64() > node("second")["y"].as_f64());
    assert_eq!(node("second")["y"], node("third")["y"]);
    assert_eq!(graph.body["edges"].as_array().unwrap().len(), 5);

    // The secret appears nowhere in what the API serves.
    for path in [
        format!("/api/v1/runs/{id}"),
        format!("/api/v1/runs/{id}/instances"),
        format!("/api/v1/runs/{id}/instances/{n}/attempts"),
        format!("/api/v1/runs/{id}/graph"),
        "/api/v1/runs".to_owned(),
    ] {
        let got = call(&s.app, "GET", &path, None).await;
        assert!(
            !got.text.contains(SECRET),
            "{path} shows the secret: {}",
            got.text
        );
    }
    let events = read_events(&s.app, &id, None, Duration::from_secs(10)).await;
    assert!(!events.contains(SECRET));
    s.finish().await;
}

async fn runs_are_listed_newest_first_and_paged_by_cursor(kind: Kind) {
    let Some(s) = Setup::new(kind, "list", |c| c).await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(s.submit(if i % 3 == 0 { "failing" } else { "gated" }).await);
    }
    ids.reverse();
    // Every failing run ends; the gated ones wait at `first`.
    let failing: Vec<&String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| (6 - i) % 3 == 0)
        .map(|(_, id)| id)
        .collect();
    for id in &failing {
        wait_status(&s.app, id, "failed").await;
    }
    let all = call(&s.app, "GET", "/api/v1/runs?limit=500", None).await;
    let listed: Vec<&str> = all.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(all.body["next_cursor"].is_null());

    let mut paged = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let got = call(
            &s.app,
            "GET",
            &format!("/api/v1/runs?limit=3&cursor={cursor}"),
            None,
        )
        .await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.text);
        for r in got.body["runs"].as_array().unwrap() {
            paged.push(r["run_id"].as_str().unwrap().to_owned());
        }
        match got.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, ids);

    let failed = call(&s.app, "GET", "/api/v1/runs?status=failed", None).await;
    let got: Vec<&str> = failed.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, failing.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let gated = call(
        &s.app,
        "GET",
        "/api/v1/runs?workflow=gated&status=running,paused&top_level=true",
        None,
    )
    .await;
    assert_eq!(gated.body["runs"].as_array().unwrap().len(), 4);
    let future = call(&s.app, "GET", "/api/v1/runs?since=99999999999", None).await;
    assert_eq!(future.body["runs"], json!([]));
    let bad = call(&s.app, "GET", "/api/v1/runs?status=done", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown run status `done`"),
        "{}",
        bad.text
    );
    let bad = call(&s.app, "GET", "/api/v1/runs?limit=0", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = call(&s.app, "GET", "/api/v1/runs?cursor=nope", None).await;
    assert!(bad.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is not a run id"));

    // Purge: the runs that ended (the failed ones) go, the others stay.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let purged = call(
        &s.app,
        "POST",
        "/api/v1/purge",
        Some(json!({"older_than_seconds": 0})),
    )
    .await;
    assert_eq!(purged.status, StatusCode::OK, "{}", purged.text);
    assert_eq!(purged.body["purged"], 3);
    let left = call(&s.app, "GET", "/api/v1/runs", None).await;
    assert_eq!(left.body["runs"].as_array().unwrap().len(), 4);
    let gone = call(&s.app, "GET", &format!("/api/v1/runs/{}", failing[0]), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    s.finish().await;
}

/// Reads the events of a run until the stream ends or `within` passes.
async fn read_events(app: &Router, id: &str, last: Option<u64>, within: Duration) -> String {
    let last = last.map(|l| l.to_string());
    let headers: Vec<(&str, &str)> = match &last {
        Some(l) => vec![("last-event-id", l.as_str())],
        None => vec![],
    };
    let mut req = axum::http::Request::builder().uri(format!("/api/v1/runs/{id}/events"));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = tower::ServiceExt::oneshot(app.clone(), req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, body.frame()).await {
        if let Some(data) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
        if text.contains("event: end") {
            break;
        }
    }
    text
}

/// The `data` of each event of `kind`, as JSON.
fn data_of(text: &str, kind: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter(|e| e.lines().any(|l| l == format!("event: {kind}")))
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

async fn the_event_stream_follows_a_run_to_its_end_and_resumes(kind: Kind) {
    let Some(s) = Setup::new(kind, "events", |c| c).await else {
        return;
    };
    let id = s.submit("gated").await;
    wait_task(&s.app, &id, "first", "running").await;
    let app = s.app.clone();
    let reader = {
        let id = id.clone();
        tokio::spawn(async move { read_events(&app, &id, None, Duration::from_secs(20)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    for g in ["a", "b", "c"] {
        s.gates.open(g);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = reader.await.unwrap();
    let records = data_of(&text, "record");
    assert_eq!(records[0]["kind"], "started");
    let attempts: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "attempt")
        .map(|r| r["task"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(attempts.len(), 4, "{text}");
    assert_eq!(attempts[0], "first");
    assert!(
        attempts.contains(&"second") && attempts.contains(&"third"),
        "{text}"
    );
    assert_eq!(records.last().unwrap()["kind"], "ended");
    // Ids are the records' numbers, in order.
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert!(text.contains("id: 0\n"));
    let states = data_of(&text, "state");
    assert!(!states.is_empty(), "{text}");
    assert_eq!(states.last().unwrap()["status"], "succeeded");
    let end = data_of(&text, "end");
    assert_eq!(end[0]["status"], "succeeded");
    assert_eq!(end[0]["records"], seqs.len());

    // Resumed after record 2: the rest only, then the state and the end.
    let again = read_events(&s.app, &id, Some(2), Duration::from_secs(10)).await;
    let resumed: Vec<u64> = data_of(&again, "record")
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(resumed, (3..seqs.len() as u64).collect::<Vec<_>>());
    let full = data_of(&again, "state");
    assert_eq!(full[0]["full"], true);
    assert_eq!(full[0]["tasks"].as_array().unwrap().len(), 4);
    assert!(again.contains("event: end"));

    let bad = call_with(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{id}/events"),
        None,
        &[("last-event-id", "x")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let none = call(
        &s.app,
        "GET",
        &format!("/api/v1/runs/{}/events", weft_runtime::RunId::new()),
        None,
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    s.finish().await;
}

async fn cancel_pause_resume_and_rerun_go_through_the_executor(kind: Kind) {
    let Some(s) = Setup::new(kind, "commands", |c| c).await else {
        return;
    };
    let delivered = if kind == Kind::Postgres {
        "store"
    } else {
        "here"
    };
    // Cancel: the running task finishes, nothing else starts.
    let id = s.submit("gated").await;
    wait_task(&s.app, &id, "first", "running").await;
    let got = call(&s.app, "POST", &format!("/api/v1/runs/{id}/cancel"), None).await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    assert_eq!(got.body["delivered"], delivered);
    wait_status(&s.app, &id, "canceling").await;
    s.gates.open("a");
    let run = wait_status(&s.app, &id, "canceled").await;
    assert_eq!(run["instances"], 1, "{run}");
    let again = call(&s.app, "POST", &format!("/api/v1/runs/{id}/cancel"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("has ended (canceled)"));

    // Pause, then resume: it goes on to the end.
    let id2 = s.submit("gated").await;
    wait_task(&s.app, &id2, "second", "running").await;
    let got = call(&s.app, "POST", &format!("/api/v1/runs/{id2}/pause"), None).await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    wait_status(&s.app, &id2, "paused").await;
    // Running tasks finish; `last` does not start until resumed.
    s.gates.open("b");
    s.gates.open("c");
    wait_task(&s.app, &id2, "third", "succeeded").await;
    let run = wait_task(&s.app, &id2, "second", "succeeded").await;
    assert_eq!(run["status"], "paused");
    let last = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "last");
    assert!(last.is_none_or(|t| t["status"] != "succeeded"), "{run}");
    let again = call(&s.app, "POST", &format!("/api/v1/runs/{id2}/pause"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let got = call(&s.app, "POST", &format!("/api/v1/runs/{id2}/resume"), None).await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    wait_status(&s.app, &id2, "succeeded").await;

    // Re-run the canceled run: it runs here, from the canceled tasks.
    let got = call(
        &s.app,
        "POST",
        &format!("/api/v1/runs/{id}/rerun"),
        Some(json!({})),
    )
    .await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    assert_eq!(got.body["delivered"], "here");
    let run = wait_status(&s.app, &id, "succeeded").await;
    assert_eq!(run["output"], json!({"said": "hello world"}));
    let got = call(&s.app, "POST", &format!("/api/v1/runs/{id2}/resume"), None).await;
    assert_eq!(got.status, StatusCode::CONFLICT);
    assert!(got.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("re-run it"));

    let caps = call(&s.app, "GET", "/api/v1", None).await;
    assert_eq!(caps.body["inquiries"], true);
    assert_eq!(
        caps.body["mode"],
        if kind == Kind::Postgres {
            "shared"
        } else {
            "local"
        }
    );
    s.finish().await;
}

async fn errors_are_json_with_the_cli_text(kind: Kind) {
    let Some(s) = Setup::new(kind, "errors", |c| c.max_body_bytes(4096)).await else {
        return;
    };
    let got = call(&s.app, "GET", "/api/v1/runs/not-an-id", None).await;
    assert_eq!(got.status, StatusCode::BAD_REQUEST);
    assert!(got.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`not-an-id` is not a run id"));
    let unknown = weft_runtime::RunId::new();
    let got = call(&s.app, "GET", &format!("/api/v1/runs/{unknown}"), None).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    assert_eq!(got.body["error"]["code"], "not_found");
    assert_eq!(
        got.body["error"]["message"],
        format!("no run `{unknown}` in the store")
    );
    let got = call(
        &s.app,
        "POST",
        "/api/v1/runs",
        Some(json!({"yaml": "tasks: {}"})),
    )
    .await;
    assert_eq!(got.status, StatusCode::FORBIDDEN);
    assert!(got.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--allow-yaml"));
    let got = call(
        &s.app,
        "POST",
        "/api/v1/runs",
        Some(json!({"workflow": "nope"})),
    )
    .await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    assert!(got.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("one of failing, gated"));
    let got = call(
        &s.app,
        "POST",
        "/api/v1/runs",
        Some(json!({"workflow": "gated", "inputs": {"nope": 1}})),
    )
    .await;
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.text);
    assert_eq!(got.body["error"]["code"], "invalid_inputs");
    assert!(
        got.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{}",
        got.text
    );
    let got = call(
        &s.app,
        "POST",
        "/api/v1/runs",
        Some(json!({"workflow": "gated", "extra": 1})),
    )
    .await;
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.text);
    let big = "x".repeat(5000);
    let got = call(
        &s.app,
        "POST",
        "/api/v1/runs",
        Some(json!({"workflow": big})),
    )
    .await;
    assert_eq!(got.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", got.text);
    assert_eq!(got.body["error"]["code"], "too_large");
    let got = call(&s.app, "GET", "/nowhere", None).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    assert_eq!(got.body["error"]["code"], "not_found");
    s.finish().await;

    // With YAML allowed: a workflow's mistakes, each located as the CLI
    // prints it.
    let Some(s) = Setup::new(kind, "yaml", |c| c.allow_yaml(true)).await else {
        return;
    };
    let text = "tasks:\n  a:\n    action: core.nope\n  b:\n    action: core.echo\n    inptu: {}\n";
    let got = call(&s.app, "POST", "/api/v1/runs", Some(json!({"yaml": text}))).await;
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.text);
    assert_eq!(got.body["error"]["code"], "invalid_workflow");
    let details = got.body["error"]["details"].as_array().unwrap();
    assert!(!details.is_empty());
    let first = &details[0];
    assert_eq!(first["file"], "<request>");
    assert!(first["line"].as_u64().is_some(), "{}", got.text);
    assert!(
        first["text"].as_str().unwrap().starts_with("<request>:"),
        "{}",
        got.text
    );
    let ok = call(
        &s.app,
        "POST",
        "/api/v1/runs",
        Some(json!({"yaml": "tasks:\n  a: {action: core.noop}\n", "name": "tiny"})),
    )
    .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.text);
    let id = ok.body["run_id"].as_str().unwrap().to_owned();
    let run = wait_status(&s.app, &id, "succeeded").await;
    assert_eq!(run["workflow"], "tiny");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_on_every_request_and_no_cookie_is_set() {
    let Some(s) = Setup::new(Kind::Sqlite, "token", |c| c.token("tok-123")).await else {
        return;
    };
    for path in [
        "/api/v1",
        "/api/v1/runs",
        "/api/v1/openapi.json",
        "/assets/app.js",
        "/api/v1/runs/x/events",
    ] {
        let got = call(&s.app, "GET", path, None).await;
        assert_eq!(got.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(got.body["error"]["code"], "unauthorized", "{path}");
        assert_eq!(got.headers["www-authenticate"], "Bearer realm=\"weft\"");
    }
    let got = call_with(
        &s.app,
        "GET",
        "/api/v1",
        None,
        &[("authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(got.status, StatusCode::UNAUTHORIZED);
    assert!(got.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not this server's"));
    let got = call_with(
        &s.app,
        "GET",
        "/api/v1",
        None,
        &[("authorization", "Bearer tok-123")],
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    // A page opened in a browser gets the shell that asks for the token.
    let page = call(&s.app, "GET", "/", None).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.text.contains("<form id=\"login\""), "{}", page.text);
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'nonce-"));
    let page = call_with(
        &s.app,
        "GET",
        "/runs/abc",
        None,
        &[("authorization", "Bearer tok-123")],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers.get("set-cookie").is_none());
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_server_shows_runs_and_refuses_commands() {
    let stores = Stores::new(Kind::Sqlite, "readonly").unwrap();
    let gates = Gates::new();
    let (store, path) = stores.open("ro").await;
    let writer = gates.builder().store(store).build();
    let run = writer
        .start(&plan(GATED, "gated", &writer), json!({"token": SECRET}))
        .unwrap();
    let id = run.id().to_string();
    writer.flush().await.unwrap();
    let reader = gates.builder().store(stores.again(&path).await).build();
    let app = weft_server::router(
        ServerConfig::new(reader.clone())
            .read_only(true)
            .workflow("gated", plan(GATED, "gated", &reader)),
    );
    wait_task(&app, &id, "first", "running").await;
    for (method, path) in [
        ("POST", format!("/api/v1/runs/{id}/cancel")),
        ("POST", format!("/api/v1/runs/{id}/pause")),
        ("POST", format!("/api/v1/runs/{id}/resume")),
    ] {
        let got = call(&app, method, &path, None).await;
        assert_eq!(got.status, StatusCode::CONFLICT, "{path}");
        assert_eq!(got.body["error"]["code"], "read_only");
    }
    let got = call(
        &app,
        "POST",
        "/api/v1/runs",
        Some(json!({"workflow": "gated"})),
    )
    .await;
    assert_eq!(got.body["error"]["code"], "read_only");
    let caps = call(&app, "GET", "/api/v1", None).await;
    assert_eq!(caps.body["mode"], "read_only");
    assert_eq!(caps.body["commands"], false);
    // It follows the other process's run to its end.
    for g in ["a", "b", "c"] {
        gates.open(g);
    }
    run.await.unwrap();
    writer.flush().await.unwrap();
    let shown = wait_status(&app, &id, "succeeded").await;
    assert_eq!(
        shown["allowed"],
        json!({"cancel": false, "pause": false, "resume": false, "rerun": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_is_resumed_by_a_server_with_the_store_to_itself() {
    let stores = Stores::new(Kind::Sqlite, "interrupted").unwrap();
    let gates = Gates::new();
    let (store, path) = stores.open("int").await;
    drop(store);
    // Another process runs it until `first` is recorded, and dies: its
    // runtime goes away with the run in flight (no `ended` record).
    {
        let gates = gates.clone();
        let path = path.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let store = weft_store_sqlite::SqliteStore::open(&path).unwrap();
                let first = gates.builder().store(std::sync::Arc::new(store)).build();
                let run = first
                    .start(&plan(GATED, "gated", &first), json!({"token": SECRET}))
                    .unwrap();
                let id = run.id();
                gates.open("a");
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                loop {
                    first.flush().await.unwrap();
                    let Ok(seen) = first.inspect(id).await else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    if seen
                        .tasks
                        .iter()
                        .any(|t| &*t.name == "first" && t.status.is_succeeded())
                    {
                        break;
                    }
                    assert!(tokio::time::Instant::now() < deadline);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            rt.shutdown_background();
        })
        .join()
        .unwrap();
    }
    // The dead process's store lets go of the file when its threads end.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let store = loop {
        match weft_store_sqlite::SqliteStore::open(&path) {
            Ok(s) => break s,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let executor = gates.builder().store(std::sync::Arc::new(store)).build();
    let app = weft_server::router(ServerConfig::new(executor));
    let listed = call(&app, "GET", "/api/v1/runs", None).await;
    let id = listed.body["runs"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(listed.body["runs"][0]["status"], "running");
    let detail = call(&app, "GET", &format!("/api/v1/runs/{id}"), None).await;
    // Interrupted: not going on here, so only resume is offered.
    assert_eq!(detail.body["allowed"]["cancel"], false, "{}", detail.text);
    assert_eq!(detail.body["allowed"]["resume"], true);
    let got = call(&app, "POST", &format!("/api/v1/runs/{id}/cancel"), None).await;
    assert_eq!(got.status, StatusCode::CONFLICT);
    assert!(got.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("resume it first"));
    let got = call(&app, "POST", &format!("/api/v1/runs/{id}/resume"), None).await;
    assert_eq!(got.status, StatusCode::ACCEPTED, "{}", got.text);
    gates.open("b");
    gates.open("c");
    let run = wait_status(&app, &id, "succeeded").await;
    assert_eq!(run["output"], json!({"said": "hello world"}));
}

#[tokio::test]
async fn the_openapi_document_names_every_path() {
    let doc = serde_json::to_value(weft_server::openapi()).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for want in [
        "/api/v1",
        "/api/v1/runs",
        "/api/v1/runs/{id}",
        "/api/v1/runs/{id}/events",
        "/api/v1/runs/{id}/graph",
        "/api/v1/runs/{id}/instances",
        "/api/v1/runs/{id}/instances/{instance}",
        "/api/v1/runs/{id}/instances/{instance}/attempts",
        "/api/v1/runs/{id}/cancel",
        "/api/v1/runs/{id}/pause",
        "/api/v1/runs/{id}/resume",
        "/api/v1/runs/{id}/rerun",
        "/api/v1/runs/{id}/tasks/{task}/respond",
        "/api/v1/runs/{id}/inquiries",
        "/api/v1/purge",
    ] {
        assert!(
            paths.iter().any(|p| *p == want),
            "{want} missing from {paths:?}"
        );
    }
    assert!(doc["paths"]["/api/v1/runs"]["post"].is_object());
    assert!(doc["components"]["schemas"]["RunDetail"].is_object());
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
}
