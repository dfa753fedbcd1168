//! The metrics a run emits, read back from a recorder that keeps them.
//!
//! Each test installs a recorder for its own thread only and runs the
//! workflow on a current-thread runtime on that thread, so the tests do not
//! see each other's metrics.
mod common;

use std::sync::Arc;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::CompositeKey;
use serde_json::json;
use weft_runtime::telemetry::*;
use weft_runtime::{Executor, MemoryStore, RunStatus};

type Snapshot = Vec<(
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// Runs `test` on a current-thread runtime with a recorder of its own, and
/// returns what was recorded.
fn recorded<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) -> Snapshot {
    let recorder = DebuggingRecorder::new();
    let snapshotter: Snapshotter = recorder.snapshotter();
    {
        let _guard = metrics::set_default_local_recorder(&recorder);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test());
    }
    snapshotter.snapshot().into_vec()
}

/// The value of the metric `name` whose labels include `labels`.
fn value<'s>(snapshot: &'s Snapshot, name: &str, labels: &[(&str, &str)]) -> &'s DebugValue {
    let found: Vec<&DebugValue> = snapshot
        .iter()
        .filter(|(k, ..)| {
            k.key().name() == name
                && labels
                    .iter()
                    .all(|(lk, lv)| k.key().labels().any(|l| l.key() == *lk && l.value() == *lv))
        })
        .map(|(.., v)| v)
        .collect();
    match found.as_slice() {
        [one] => one,
        [] => panic!("no metric {name} with {labels:?} in {snapshot:#?}"),
        _ => panic!("several metrics {name} with {labels:?}: {found:?}"),
    }
}

fn counter(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    match value(snapshot, name, labels) {
        DebugValue::Counter(n) => *n,
        other => panic!("{name} is not a counter: {other:?}"),
    }
}

fn gauge(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> f64 {
    match value(snapshot, name, labels) {
        DebugValue::Gauge(g) => g.into_inner(),
        other => panic!("{name} is not a gauge: {other:?}"),
    }
}

fn histogram(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    match value(snapshot, name, labels) {
        DebugValue::Histogram(h) => h.iter().map(|v| v.into_inner()).collect(),
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

const WF: &str = r#"
tasks:
  first:
    action: core.echo
    input: {message: hello}
    next: [{do: fan}]
  fan:
    with: {items: "{{ range(4) | list }}"}
    action: core.echo
    input: {message: "{{ item }}"}
    next: [{do: flaky}]
  flaky:
    action: core.fail
    input: {message: nope}
    retry: {count: 2}
    next: [{when: "{{ failed() }}", do: recover}]
  recover:
    action: core.sleep
    input: {seconds: 0.001}
"#;

#[test]
fn a_run_counts_its_attempts_outcomes_latencies_and_bytes() {
    let snapshot = recorded(|| async {
        let ex = Executor::new();
        let plan = common::plan(&ex, WF);
        let out = common::run(&ex, &plan, json!({})).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    });
    let wf = ("workflow", "workflow");
    assert_eq!(counter(&snapshot, RUNS_STARTED, &[wf]), 1);
    assert_eq!(
        counter(&snapshot, RUNS_ENDED, &[wf, ("status", "succeeded")]),
        1
    );
    assert_eq!(gauge(&snapshot, RUNS_ACTIVE, &[wf]), 0.0);
    assert_eq!(
        histogram(&snapshot, RUN_DURATION, &[wf, ("status", "succeeded")]).len(),
        1
    );

    let attempts = |action, outcome| {
        counter(
            &snapshot,
            ATTEMPTS,
            &[wf, ("action", action), ("outcome", outcome)],
        )
    };
    // `first` and four items.
    assert_eq!(attempts("core.echo", "succeeded"), 5);
    assert_eq!(attempts("core.echo", "failed"), 0);
    // One attempt and two retries.
    assert_eq!(attempts("core.fail", "failed"), 3);
    assert_eq!(attempts("core.sleep", "succeeded"), 1);
    let slept = histogram(&snapshot, ACTION_DURATION, &[wf, ("action", "core.sleep")]);
    assert_eq!(slept.len(), 1);
    assert!(slept[0] >= 0.001, "core.sleep took {}s", slept[0]);
    assert_eq!(
        histogram(&snapshot, ACTION_DURATION, &[wf, ("action", "core.echo")]).len(),
        5
    );

    // Every attempt was given the context once.
    assert_eq!(counter(&snapshot, CONTEXT_CLONES, &[wf]), 9);
    // `fan`, `flaky` and `recover` were each started by an action's end.
    let latency = histogram(&snapshot, DISPATCH_LATENCY, &[wf]);
    assert_eq!(latency.len(), 3, "{latency:?}");
    assert!(
        latency.iter().all(|&s| (0.0..1.0).contains(&s)),
        "{latency:?}"
    );

    // The gauges the run added to are back to zero; the bytes it held are
    // in the per-run histogram.
    assert_eq!(gauge(&snapshot, ACTIONS_IN_FLIGHT, &[wf]), 0.0);
    assert_eq!(gauge(&snapshot, CONTEXT_BYTES, &[wf]), 0.0);
    let bytes = histogram(&snapshot, RUN_CONTEXT_BYTES, &[wf]);
    assert_eq!(bytes.len(), 1);
    assert!(bytes[0] > 0.0, "{bytes:?}");
}

#[test]
fn runs_are_labelled_with_their_workflow_and_status() {
    let snapshot = recorded(|| async {
        let ex = Executor::new();
        let ok = common::plan(&ex, "tasks:\n  t: {action: core.noop}\n");
        let bad = weft_core::Workflow::from_yaml_str(
            "tasks:\n  t: {action: core.fail, input: {message: no}}\n",
        )
        .unwrap()
        .with_name("deploy")
        .compile(&ex)
        .unwrap();
        for _ in 0..3 {
            common::run(&ex, &ok, json!({})).await;
        }
        common::run(&ex, &bad, json!({})).await;
    });
    assert_eq!(
        counter(&snapshot, RUNS_STARTED, &[("workflow", "workflow")]),
        3
    );
    assert_eq!(
        counter(
            &snapshot,
            RUNS_ENDED,
            &[("workflow", "deploy"), ("status", "failed")]
        ),
        1
    );
    assert_eq!(
        counter(
            &snapshot,
            ATTEMPTS,
            &[("workflow", "deploy"), ("outcome", "failed")]
        ),
        1
    );
}

#[test]
fn a_durable_run_reports_its_journal_commits() {
    let snapshot = recorded(|| async {
        let ex = Executor::builder()
            .store(Arc::new(MemoryStore::new()))
            .build();
        let plan = common::plan(&ex, WF);
        let out = common::run(&ex, &plan, json!({})).await;
        assert_eq!(out.status, RunStatus::Succeeded);
        ex.flush().await.unwrap();
    });
    let batches = histogram(&snapshot, JOURNAL_BATCH, &[]);
    assert!(!batches.is_empty());
    assert!(batches.iter().all(|&n| n >= 1.0), "{batches:?}");
    let flushes = histogram(&snapshot, JOURNAL_FLUSH, &[]);
    assert_eq!(flushes.len(), batches.len());
    // Everything handed over was committed.
    assert_eq!(gauge(&snapshot, JOURNAL_BACKLOG, &[]), 0.0);
    assert_eq!(counter(&snapshot, JOURNAL_ERRORS, &[]), 0);
}

/// A run started while no recorder is installed keeps nothing; the same
/// executor's runs of the same workflow report once a recorder is there.
#[test]
fn a_recorder_installed_after_the_first_run_is_seen_by_the_next() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ex = Executor::new();
    let plan = common::plan(&ex, "tasks:\n  t: {action: core.noop}\n");
    // No recorder on this thread (and none global in this test binary).
    rt.block_on(common::run(&ex, &plan, json!({})));

    let recorder = DebuggingRecorder::new();
    let snapshotter: Snapshotter = recorder.snapshotter();
    {
        let _guard = metrics::set_default_local_recorder(&recorder);
        rt.block_on(async {
            common::run(&ex, &plan, json!({})).await;
            common::run(&ex, &plan, json!({})).await;
        });
    }
    let snapshot = snapshotter.snapshot().into_vec();
    let wf = ("workflow", "workflow");
    assert_eq!(counter(&snapshot, RUNS_STARTED, &[wf]), 2);
    assert_eq!(
        counter(
            &snapshot,
            ATTEMPTS,
            &[wf, ("action", "core.noop"), ("outcome", "succeeded")]
        ),
        2
    );
}
