//! Measures `weft serve`'s API over HTTP on loopback: the first page (and a
//! deep page) of 100,000 runs, one run of 10,000 task instances, and 100
//! event streams followed at once. Prints medians and 95th percentiles.
//!
//! ```sh
//! cargo run --release -p weft-server --example load               # SQLite, in a temp dir
//! cargo run --release -p weft-server --example load -- postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! With a Postgres URL it makes a schema of its own and drops it at the
//! end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_core::Workflow;
use weft_runtime::store::{Durability, Entry, Record, RunEnd, RunStart, Store};
use weft_runtime::{Executor, RunId, RunStatus};
use weft_server::ServerConfig;

const RUNS: usize = 100_000;
const INSTANCES: usize = 10_000;
const STREAMS: usize = 100;

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.95))
}

async fn timed(client: &reqwest::Client, url: &str, n: usize) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = client.get(url).send().await.expect("request");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        bytes = r.bytes().await.expect("body").len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p95) = percentiles(times);
    (p50, p95, bytes)
}

fn row(what: &str, (p50, p95, bytes): (f64, f64, usize)) {
    println!("| {what} | {p50:.2} | {p95:.2} | {} |", bytes / 1024);
}

/// 100,000 runs, as if made over 30 days: 20 workflows, most succeeded.
async fn fill(store: &dyn Store) -> RunId {
    let t = Instant::now();
    let base = 1_760_000_000_000u64;
    let mut middle = RunId::new();
    for chunk in 0..RUNS / 1000 {
        let mut batch = Vec::with_capacity(2000);
        for i in 0..1000 {
            let n = chunk * 1000 + i;
            let id = RunId::new();
            if n == RUNS / 2 {
                middle = id;
            }
            let started_at = base + n as u64 * 26_000;
            batch.push(Entry {
                run: id,
                seq: 0,
                record: Record::Started(Box::new(RunStart {
                    workflow: format!("workflow_{:02}", n % 20),
                    source: "tasks:\n  a: {action: core.noop}\n".to_owned(),
                    format: "yaml".to_owned(),
                    hash: "x".to_owned(),
                    inputs: json!({}),
                    parent: None,
                    depth: 0,
                    durability: Durability::WriteBehind,
                    started_at,
                })),
            });
            let status = match n % 20 {
                0 => None,
                1..=3 => Some(RunStatus::Failed),
                _ => Some(RunStatus::Succeeded),
            };
            if let Some(status) = status {
                batch.push(Entry {
                    run: id,
                    seq: 1,
                    record: Record::Ended(Box::new(RunEnd {
                        status,
                        output: json!({}),
                        errors: Vec::new(),
                        ended_at: started_at + 1500,
                    })),
                });
            }
        }
        store.append(&batch).await.expect("append");
    }
    eprintln!("filled {RUNS} runs in {:.1} s", t.elapsed().as_secs_f64());
    middle
}

/// A workflow of `n` tasks that run at once, and a join.
fn wide(n: usize) -> String {
    let mut s = String::from("tasks:\n  start:\n    action: core.noop\n    next: [{do: [");
    s.push_str(
        &(0..n)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push_str("]}]\n");
    for i in 0..n {
        s.push_str(&format!(
            "  t{i}:\n    action: core.noop\n    next: [{{do: end}}]\n"
        ));
    }
    s.push_str("  end: {join: all, action: core.noop}\n");
    s
}

/// A workflow of five steps of 100 ms each.
const STEPS: &str = r#"
tasks:
  s1: {action: core.sleep, input: {seconds: 0.1}, next: [{do: s2}]}
  s2: {action: core.sleep, input: {seconds: 0.1}, next: [{do: s3}]}
  s3: {action: core.sleep, input: {seconds: 0.1}, next: [{do: s4}]}
  s4: {action: core.sleep, input: {seconds: 0.1}, next: [{do: s5}]}
  s5: {action: core.sleep, input: {seconds: 0.1}}
"#;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = format!("wload_{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let store: Arc<dyn Store> = match &url {
        Some(u) => {
            let sep = if u.contains('?') { '&' } else { '?' };
            Arc::new(
                weft_store_postgres::PostgresStore::connect(&format!("{u}{sep}schema={schema}"))
                    .await
                    .expect("postgres"),
            )
        }
        None => Arc::new(
            weft_store_sqlite::SqliteStore::open(dir.path().join("runs.db")).expect("sqlite"),
        ),
    };
    println!("store: {}", store.describe());
    let middle = fill(&*store).await;
    // As autovacuum does after a bulk of changes: without statistics, the
    // planner takes the freshly filled table for a small one.
    if let Some(u) = &url {
        let sep = if u.contains('?') { '&' } else { '?' };
        let pg = weft_store_postgres::PostgresStore::connect(&format!("{u}{sep}schema={schema}"))
            .await
            .expect("postgres");
        let client = pg.pool().get().await.expect("connection");
        client
            .batch_execute(&format!("ANALYZE {schema}.runs"))
            .await
            .expect("analyze");
    }
    let executor = Executor::builder()
        .store(store.clone())
        .max_task_instances(INSTANCES + 10)
        .build();

    // One run of 10,000 instances (and its graph of 10,002 tasks).
    let plan = Workflow::from_yaml_str(&wide(INSTANCES))
        .expect("load")
        .with_name("wide")
        .compile(&executor)
        .expect("compile");
    let t = Instant::now();
    let big = executor.start(&plan, json!({})).expect("start");
    let big_id = big.id();
    let outcome = big.await.expect("run");
    executor.flush().await.expect("flush");
    eprintln!(
        "ran {} instances in {:.1} s",
        outcome.tasks.len(),
        t.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = weft_server::router(ServerConfig::new(executor.clone()));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::new();

    println!("\n| request | median ms | p95 ms | KiB |\n|---|---|---|---|");
    row(
        "`GET /api/v1/runs` (first page of 50, of 100,000)",
        timed(&client, &format!("{base}/api/v1/runs"), 200).await,
    );
    row(
        "the same, `?status=failed`",
        timed(&client, &format!("{base}/api/v1/runs?status=failed"), 200).await,
    );
    row(
        "the same, `?workflow=workflow_07&top_level=true`",
        timed(
            &client,
            &format!("{base}/api/v1/runs?workflow=workflow_07&top_level=true"),
            200,
        )
        .await,
    );
    row(
        "the same, `?status=running,paused,canceling`",
        timed(
            &client,
            &format!("{base}/api/v1/runs?status=running,paused,canceling"),
            200,
        )
        .await,
    );
    row(
        "the page after run 50,000 (`?cursor=`)",
        timed(&client, &format!("{base}/api/v1/runs?cursor={middle}"), 200).await,
    );
    row(
        "the page after run 50,000, `?status=running`",
        timed(
            &client,
            &format!("{base}/api/v1/runs?status=running&cursor={middle}"),
            200,
        )
        .await,
    );

    let run_url = format!("{base}/api/v1/runs/{big_id}");
    // Cold: the first request rebuilds the run from its journal.
    let cold = timed(&client, &run_url, 1).await;
    row(
        "`GET /api/v1/runs/{id}`, 10,000 instances, first request (replay)",
        cold,
    );
    // Warm: later ones find it kept (the store is asked whether the
    // journal grew).
    tokio::time::sleep(Duration::from_millis(200)).await;
    row(
        "the same, later requests",
        timed(&client, &run_url, 50).await,
    );
    row(
        "its instances, a page of 50 (`/instances?cursor=5000`)",
        timed(&client, &format!("{run_url}/instances?cursor=5000"), 50).await,
    );
    let graph = timed(&client, &format!("{run_url}/graph"), 1).await;
    row("its graph (10,002 tasks laid out), first request", graph);
    row(
        "its graph, later requests",
        timed(&client, &format!("{run_url}/graph"), 20).await,
    );
    row(
        "its events, whole journal (10,003 records)",
        timed(&client, &format!("{run_url}/events"), 5).await,
    );

    // 100 streams at once, each following a run of five 100 ms steps.
    let steps = Workflow::from_yaml_str(STEPS)
        .expect("load")
        .with_name("steps")
        .compile(&executor)
        .expect("compile");
    let mut ids = Vec::new();
    for _ in 0..STREAMS {
        ids.push(executor.start(&steps, json!({})).expect("start").id());
    }
    executor.flush().await.expect("flush");
    let t = Instant::now();
    let cpu0 = cpu_seconds();
    let mut tasks = Vec::new();
    for id in &ids {
        let client = client.clone();
        let url = format!("{base}/api/v1/runs/{id}/events");
        tasks.push(tokio::spawn(async move {
            let mut r = client.get(&url).send().await.expect("stream");
            let mut text = String::new();
            while let Some(chunk) = r.chunk().await.expect("chunk") {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if text.contains("event: end") {
                    break;
                }
            }
            let got = Instant::now();
            // When the run's `ended` record says it ended.
            let ended: Option<f64> = text
                .split("\n\n")
                .filter(|e| e.contains("event: record"))
                .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .find(|v| v["kind"] == "ended")
                .and_then(|v| v["ended_at"].as_f64());
            if ended.is_none() {
                eprintln!(
                    "a stream without an `ended` record: {}",
                    &text[..text.len().min(600)]
                );
            }
            (got, ended, text.matches("event: record").count())
        }));
    }
    let mut lags = Vec::new();
    let mut records = 0;
    for task in tasks {
        let (got, ended, n) = task.await.expect("stream task");
        records += n;
        if let Some(ended) = ended {
            let now_wall = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            // Wall time of `got`, then the lag after the run's end.
            let got_wall = now_wall - got.elapsed().as_secs_f64();
            lags.push((got_wall - ended) * 1000.0);
        }
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let (p50, p95) = percentiles(lags);
    println!(
        "\n{STREAMS} event streams at once, each following a run of five 100 ms steps to its end: \
         {records} records delivered in {wall:.2} s; from a run's end to its `end` event: median \
         {p50:.0} ms, p95 {p95:.0} ms; the whole process (runs, server and clients) used {cpu:.2} s \
         of CPU."
    );

    // Idle cost: 100 streams of runs that wait.
    let wait = Workflow::from_yaml_str("tasks:\n  w: {action: core.sleep, input: {seconds: 30}}\n")
        .expect("load")
        .with_name("wait")
        .compile(&executor)
        .expect("compile");
    let mut held = Vec::new();
    let waiting: Vec<RunId> = (0..STREAMS)
        .map(|_| executor.start(&wait, json!({})).expect("start").id())
        .collect();
    executor.flush().await.expect("flush");
    for id in waiting {
        let client = client.clone();
        let url = format!("{base}/api/v1/runs/{id}/events");
        held.push(tokio::spawn(async move {
            let mut r = client.get(&url).send().await.expect("stream");
            while let Ok(Some(_)) = r.chunk().await {}
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu0 = cpu_seconds();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle = cpu_seconds() - cpu0;
    println!(
        "{STREAMS} event streams of runs that wait (each polled every 250 ms): {:.1} % of one core \
         over 10 s.",
        idle * 10.0
    );
    for h in held {
        h.abort();
    }
    if let Some(u) = url {
        let store = weft_store_postgres::PostgresStore::connect(&u)
            .await
            .expect("postgres");
        if let Ok(client) = store.pool().get().await {
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await;
        }
    }
}
