//! The examples and the docs, checked: every file in `examples/workflows/`
//! runs with the built-in actions and ends as its comments say; every
//! ```yaml block in README.md and docs/embedding.md loads and compiles; and
//! the example programs' core functions (included from `examples/`) run at
//! a small size and end as documented. The Rust blocks of those two docs are
//! doctests of the facade crate (see `src/lib.rs`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::{json, Value};
use weft::prelude::*;
use weft::{ActionCatalog, TaskRecord};

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

#[allow(dead_code)]
#[path = "../examples/error_handling.rs"]
mod error_handling;

#[allow(dead_code)]
#[path = "../examples/process_logs.rs"]
mod process_logs;

#[allow(dead_code)]
#[path = "../examples/monitor_servers.rs"]
mod monitor_servers;

#[allow(dead_code)]
#[path = "../examples/embed_service.rs"]
mod embed_service;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads, compiles against the built-in actions, and runs `file`, with the
/// inputs of `NAME.inputs.json` next to it when there is one.
async fn run_file(file: &Path, inputs: Option<Value>) -> RunOutcome {
    let executor = Executor::new();
    let plan = Workflow::from_file(file)
        .and_then(|wf| wf.compile(&executor))
        .unwrap_or_else(|e| panic!("{e}"));
    let inputs = inputs.unwrap_or_else(|| {
        let companion = file.with_extension("inputs.json");
        match std::fs::read_to_string(&companion) {
            Ok(text) => serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", companion.display())),
            Err(_) => json!({}),
        }
    });
    executor
        .start(&plan, inputs)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .await
        .expect("the run reports an outcome")
}

fn task<'a>(outcome: &'a RunOutcome, name: &str) -> &'a TaskRecord {
    outcome
        .task(name)
        .next()
        .unwrap_or_else(|| panic!("task `{name}` did not run: {:?}", outcome.tasks))
}

fn time(t: Option<SystemTime>) -> SystemTime {
    t.expect("a task that ran has its times")
}

/// What each workflow file is documented to do. A new file must be added
/// here, with what it should do.
fn check_file(name: &str, outcome: &RunOutcome) {
    let status = outcome.status;
    let ok = || assert_eq!(status, RunStatus::Succeeded, "{name}: {:?}", outcome.errors);
    match name {
        "quickstart.yaml" => {
            ok();
            assert_eq!(outcome.output["size"], json!(3));
            assert_eq!(
                outcome.output["greetings"],
                json!(["hello, ada (#1)", "hello, grace (#2)", "hello, linus (#3)"])
            );
            assert_eq!(outcome.output["summary"], json!("greeted 3 people"));
        }
        "joins.yaml" => {
            ok();
            assert_eq!(outcome.task("report").count(), 1);
            assert_eq!(outcome.task("first_two").count(), 1);
            // `join: 2` does not wait for the slow branch.
            let first_two = task(outcome, "first_two");
            let slow = task(outcome, "slow");
            assert!(time(first_two.started_at) < time(slow.ended_at));
            assert!(time(task(outcome, "report").started_at) >= time(slow.ended_at));
        }
        "counter_loop.yaml" => {
            ok();
            assert_eq!(outcome.task("step").count(), 5);
            assert_eq!(outcome.output["iterations"], json!(5));
            assert_eq!(outcome.output["seen"], json!([0, 1, 2, 3, 4]));
            assert_eq!(outcome.output["done"], json!("looped 5 times"));
        }
        "engine_commands.yaml" => {
            ok();
            assert_eq!(task(outcome, "probe").status, TaskStatus::Failed);
            assert_eq!(outcome.output["probe_code"], json!(3));
            assert_eq!(outcome.output["probe_output"], json!("probing"));
            assert_eq!(outcome.output["report"], json!("probe exited with 3"));
        }
        "untrusted_input.yaml" => {
            ok();
            let name = "O'Brien; echo $HOME `id`";
            assert_eq!(outcome.output["as_argument"], json!(name));
            assert_eq!(outcome.output["upper_case"], json!(name.to_uppercase()));
            assert_eq!(outcome.output["bytes"], json!(name.len()));
        }
        other => panic!(
            "examples/workflows/{other} is not described in tests/examples.rs: add what it should do"
        ),
    }
}

#[tokio::test]
async fn every_workflow_file_runs_with_builtin_actions_as_documented() {
    let dir = root().join("examples/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/workflows exists")
        .map(|e| e.expect("readable directory").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let outcome = run_file(&file, None).await;
        check_file(name, &outcome);
    }
}

#[tokio::test]
async fn engine_commands_fail_the_run_when_strict() {
    let file = root().join("examples/workflows/engine_commands.yaml");
    let outcome = run_file(&file, Some(json!({"strict": true}))).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.errors[0].task.as_deref(), Some("probe"));
    assert!(
        outcome.errors[0].message.contains("transitioned to `fail`"),
        "{}",
        outcome.errors[0]
    );
    assert_eq!(outcome.task("report").count(), 0);
}

/// Action names the docs' YAML may use: any custom name (the docs register
/// their own actions), but only the built-in `core.*` ones that exist, with
/// the input fields they declare.
struct DocActions(Executor);

impl ActionCatalog for DocActions {
    fn has_action(&self, name: &str) -> bool {
        // `core.http` is there with the `http` feature, which these tests
        // do not build.
        !name.starts_with("core.") || name == "core.http" || self.0.has_action(name)
    }

    fn action_names(&self) -> Vec<String> {
        self.0.action_names()
    }

    fn input_fields(&self, name: &str) -> Option<Vec<weft::InputField>> {
        self.0.input_fields(name)
    }
}

/// The ```yaml blocks of a markdown file, with the line each starts on.
fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```yaml") || fence.starts_with("```yml") => {
                current = Some((n + 1, String::new()));
            }
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_yaml_block_in_the_docs_loads_and_compiles() {
    let catalog = DocActions(Executor::new());
    let mut checked = 0;
    for doc in [
        "README.md",
        "docs/embedding.md",
        "docs/workflow-language.md",
        "docs/cli.md",
        "docs/limits.md",
        "docs/durability.md",
        "docs/observability.md",
    ] {
        let text = std::fs::read_to_string(root().join(doc)).expect("the doc exists");
        for (line, yaml) in yaml_blocks(&text) {
            let named = format!("{doc} (block at line {line})");
            Workflow::from_str_named(&yaml, weft::Format::Yaml, &named)
                .and_then(|wf| wf.compile(&catalog))
                .unwrap_or_else(|e| panic!("{e}"));
            checked += 1;
        }
    }
    assert!(checked >= 1, "no yaml blocks found");
}

// ---- the example programs, small -----------------------------------------

#[tokio::test]
async fn quickstart_greets_everyone() {
    let outcome = quickstart::run(json!({})).await.expect("runs");
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.errors);
    assert_eq!(task(&outcome, "greet").items, Some(3));
    assert_eq!(
        outcome.output["greetings"],
        json!(["hello, ada (#1)", "hello, grace (#2)", "hello, linus (#3)"])
    );
}

#[tokio::test]
async fn error_handling_scenarios_end_as_documented() {
    let scenarios = error_handling::run_all().await.expect("runs");
    let statuses: Vec<(&str, RunStatus)> = scenarios
        .iter()
        .map(|s| (s.name, s.outcome.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("retry with backoff", RunStatus::Succeeded),
            ("timeout", RunStatus::Succeeded),
            ("handled failure", RunStatus::Succeeded),
            ("unhandled failure", RunStatus::Failed),
            ("fail command", RunStatus::Failed),
        ]
    );
    let retry = &scenarios[0];
    assert_eq!(task(&retry.outcome, "fetch").attempts, 3);
    let delays: Vec<u128> = retry.retries.iter().map(|r| r.2.as_millis()).collect();
    assert_eq!(delays, [50, 100]);
    assert_eq!(
        task(&scenarios[1].outcome, "slow").status,
        TaskStatus::TimedOut
    );
    let unhandled = &scenarios[3].outcome;
    assert_eq!(unhandled.errors.len(), 1);
    assert_eq!(unhandled.errors[0].task.as_deref(), Some("charge"));
    assert_eq!(unhandled.task("archive").count(), 0);
    let fail = &scenarios[4].outcome;
    assert_eq!(fail.errors[0].task.as_deref(), Some("notify"));
}

#[tokio::test]
async fn process_logs_aggregates_in_output() {
    // The example's own 10,000 lines, at the default expression limits:
    // each `output` expression walks every result through several filters.
    let report = process_logs::process(10_000).await.expect("runs");
    let o = &report.outcome;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.errors);
    assert_eq!(o.output["entries"], json!(10_000));
    assert_eq!(o.output["errors"], json!(200));
    assert_eq!(
        o.output["services"],
        json!(["api", "auth", "billing", "search"])
    );
    assert_eq!(o.output["first_error"], json!("upstream timed out"));
    // Item results keep item order.
    let parsed = task(o, "parse").result.clone().expect("a result");
    assert_eq!(parsed[7]["level"], json!("ERROR"));
}

#[tokio::test]
async fn monitor_servers_checks_every_server() {
    let report = monitor_servers::check_servers(200, 10, 5)
        .await
        .expect("runs");
    let o = &report.outcome;
    assert_eq!(o.status, RunStatus::Succeeded, "{:?}", o.errors);
    assert_eq!(o.output["checked"], json!(200));
    assert_eq!(o.output["down"], json!(["srv-0013", "srv-0110"]));
    assert!(report.context_bytes > 10 * 5 * 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_service_cancels_one_run_of_many() {
    let outcomes = embed_service::serve(5).await.expect("serves");
    assert_eq!(outcomes.len(), 6);
    let canceled: Vec<&RunOutcome> = outcomes
        .iter()
        .filter(|o| o.status == RunStatus::Canceled)
        .collect();
    assert_eq!(canceled.len(), 1, "{outcomes:?}");
    assert_eq!(canceled[0].output["order_id"], json!("order-big"));
    assert_eq!(
        outcomes.iter().filter(|o| o.succeeded()).count(),
        5,
        "{outcomes:?}"
    );
}

/// The value of the sample `name{labels...}` in a Prometheus text page,
/// whatever the order of its labels.
fn sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        (metric == name && labels.iter().all(|l| rest.contains(l)))
            .then(|| value.parse().ok())
            .flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_service_metrics_can_be_scraped() {
    // A free port: bound, read, released.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    embed_service::install_metrics(addr).expect("the exporter installs");
    let outcomes = embed_service::serve(5).await.expect("serves");
    assert_eq!(outcomes.len(), 6);
    let page = embed_service::scrape(addr).await.expect("scrape");

    // Other tests of this binary may run orders too while the recorder is
    // installed (it is the process's): counts are at least this run's.
    let order = r#"workflow="order""#;
    let started = sample(&page, "weft_runs_started_total", &[order]).unwrap_or(0.0);
    assert!(started >= 6.0, "{page}");
    let canceled = sample(
        &page,
        "weft_runs_ended_total",
        &[order, r#"status="canceled""#],
    );
    assert!(canceled >= Some(1.0), "{page}");
    let reserved = sample(
        &page,
        "weft_task_attempts_total",
        &[order, r#"action="shop.reserve""#, r#"outcome="succeeded""#],
    );
    assert!(reserved >= Some(10.0), "{page}");
    // Durations are histograms with the example's buckets, and described.
    assert!(
        sample(
            &page,
            "weft_action_duration_seconds_bucket",
            &[r#"action="shop.reserve""#, r#"le="0.05""#]
        ) >= Some(10.0),
        "{page}"
    );
    // One sample per order that got to `confirm` (started by the end of
    // `reserve`): the five ordinary orders, not the canceled big one.
    assert!(
        sample(&page, "weft_dispatch_latency_seconds_count", &[order]) >= Some(5.0),
        "{page}"
    );
    assert!(
        page.contains("# HELP weft_dispatch_latency_seconds"),
        "{page}"
    );
    assert!(
        sample(&page, "weft_runs_active", &[order]).is_some(),
        "{page}"
    );
}
