//! Runs that try to wedge or exhaust the process: panics while a future is
//! dropped, loops that never wait, retry counts and results past every
//! sensible size. Each must end, promptly, with an error that names the
//! limit.
mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use weft_core::{ErrorKind, TaskStatus, Workflow};
use weft_runtime::{Action, ActionInput, ActionResult, Executor, Limits, RunOutcome, RunStatus};

/// Panics when dropped; never ready unless `ready` is set.
struct PanicOnDrop {
    ready: bool,
}

impl Future for PanicOnDrop {
    type Output = ActionResult;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<ActionResult> {
        if self.ready {
            Poll::Ready(Ok(json!("done")))
        } else {
            Poll::Pending
        }
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("boom in drop");
    }
}

struct Dropper {
    ready: bool,
}

impl Action for Dropper {
    fn call(&self, _input: ActionInput) -> BoxFuture<'static, ActionResult> {
        PanicOnDrop { ready: self.ready }.boxed()
    }
}

async fn within(secs: u64, run: weft_runtime::Run) -> RunOutcome {
    tokio::time::timeout(Duration::from_secs(secs), run)
        .await
        .expect("the run did not end in time")
        .expect("run lost")
}

#[tokio::test]
async fn a_panic_while_a_timed_out_future_is_dropped_fails_the_task() {
    let ex = Executor::builder()
        .register("drop.panics", std::sync::Arc::new(Dropper { ready: false }))
        .build();
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {action: drop.panics, timeout: 0.05, next: [{when: '{{ failed() }}', do: after}]}\n  after: {action: core.noop}\n",
    );
    let out = within(5, ex.start(&plan, json!({})).unwrap()).await;
    let t = out.task("t").next().unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    let err = t.error.as_deref().unwrap();
    assert!(
        err.contains("boom in drop") && err.contains("dropped"),
        "{err}"
    );
    // The failure is a failure like any other: its transition was taken.
    assert_eq!(out.task("after").count(), 1);
    assert_eq!(out.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn a_panic_while_a_finished_future_is_dropped_fails_the_task() {
    let ex = Executor::builder()
        .register("drop.panics", std::sync::Arc::new(Dropper { ready: true }))
        .build();
    let plan = common::plan(&ex, "tasks:\n  t: {action: drop.panics}\n");
    let out = within(5, ex.start(&plan, json!({})).unwrap()).await;
    assert_eq!(out.status, RunStatus::Failed);
    let t = out.task("t").next().unwrap();
    assert!(t.error.as_deref().unwrap().contains("boom in drop"));
}

#[tokio::test]
async fn a_panic_while_dropping_under_a_delay_and_the_global_cap_is_reported() {
    // The attempt path with a delay and a global cap holds the future in a
    // different task shape; it must report too.
    let ex = Executor::builder()
        .register("drop.panics", std::sync::Arc::new(Dropper { ready: true }))
        .max_actions_in_flight(1)
        .build();
    let plan = common::plan(&ex, "tasks:\n  t: {action: drop.panics, delay: 0.01}\n");
    let out = within(5, ex.start(&plan, json!({})).unwrap()).await;
    assert_eq!(out.status, RunStatus::Failed);
}

#[tokio::test]
async fn a_panic_while_a_closure_actions_finished_future_is_dropped_fails_the_task() {
    // A closure action's attempt without delay or timeout is spawned with
    // the closure's own future, unboxed: its drop is guarded all the same.
    let ex = Executor::builder()
        .action("drop.panics", |_: ActionInput| PanicOnDrop { ready: true })
        .build();
    let plan = common::plan(&ex, "tasks:\n  t: {action: drop.panics}\n");
    let out = within(5, ex.start(&plan, json!({})).unwrap()).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.task("t").next().unwrap().error.clone().unwrap();
    assert!(
        err.contains("boom in drop") && err.contains("while its future was dropped"),
        "{err}"
    );
}

#[tokio::test]
async fn a_closure_that_panics_before_making_its_future_fails_the_task() {
    let ex = Executor::builder()
        .action("call.panics", |_: ActionInput| {
            if true {
                panic!("no future today");
            }
            std::future::ready(Ok(Value::Null))
        })
        .build();
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {action: call.panics, next: [{when: '{{ failed() }}', do: after}]}\n  after: {action: core.noop}\n",
    );
    let out = within(5, ex.start(&plan, json!({})).unwrap()).await;
    let t = out.task("t").next().unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    let err = t.error.as_deref().unwrap();
    assert!(err.contains("no future today"), "{err}");
    assert_eq!(out.task("after").count(), 1);
    assert_eq!(out.status, RunStatus::Succeeded);
}

const ENDLESS: &str = "
tasks:
  start: {next: [{do: a}]}
  a: {next: [{do: b}]}
  b: {next: [{do: a}]}
";

/// A loop of tasks without actions never waits for anything; it must still
/// give the runtime back (a timer on the same runtime fires) and honour a
/// cancel at once.
async fn endless_loop_is_canceled() {
    let ex = Executor::builder().max_task_instances(usize::MAX).build();
    let plan = common::plan(&ex, ENDLESS);
    let run = ex.start(&plan, json!({})).unwrap();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The sleep ended although the loop runs on this same runtime.
    assert!(t0.elapsed() < Duration::from_millis(900));
    run.cancel();
    let asked = Instant::now();
    let out = within(5, run).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "cancel took {:?}",
        asked.elapsed()
    );
    assert_eq!(out.status, RunStatus::Canceled);
    assert!(
        out.tasks.len() > 3,
        "the loop ran: {} instances",
        out.tasks.len()
    );
}

#[test]
fn an_endless_loop_without_actions_yields_and_cancels_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(endless_loop_is_canceled());
}

#[test]
fn an_endless_loop_without_actions_yields_and_cancels_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(endless_loop_is_canceled());
}

#[tokio::test]
async fn a_constant_retry_count_over_the_limit_is_refused_at_start() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {action: core.fail, retry: {count: 1e300}}\n",
    );
    let err = ex.start(&plan, json!({})).unwrap_err();
    let err = err.workflow().expect("a workflow error");
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.task(), Some("t"));
    assert_eq!(err.field(), Some("retry.count"));
    assert!(err.message().contains("Limits::max_retries"), "{err}");
}

#[tokio::test]
async fn a_retry_count_from_an_expression_over_the_limit_fails_the_task() {
    let ex = Executor::builder()
        .limits(Limits::default().max_retries(5))
        .build();
    let plan = common::plan(
        &ex,
        "input: [{n: 6}]\ntasks:\n  t: {action: core.fail, retry: {count: '{{ parameters.n }}'}}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let t = out.task("t").next().unwrap();
    assert_eq!(t.attempts, 1, "no retry ran");
    assert!(t.error.as_deref().unwrap().contains("over the limit of 5"));
    // Within the limit it retries as asked.
    let out = common::run(&ex, &plan, json!({"n": 5})).await;
    assert_eq!(out.task("t").next().unwrap().attempts, 6);
}

#[tokio::test]
async fn items_over_the_limit_fail_the_task() {
    let ex = Executor::builder()
        .limits(Limits::default().max_items(10))
        .build();
    let plan = common::plan(
        &ex,
        "input: [n]\ntasks:\n  t: {with: '{{ range(parameters.n) | list }}', action: core.noop}\n",
    );
    let out = common::run(&ex, &plan, json!({"n": 10})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let out = common::run(&ex, &plan, json!({"n": 11})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.task("t").next().unwrap().error.clone().unwrap();
    assert!(err.contains("11 items is over the limit of 10"), "{err}");
}

fn sized(limits: Limits) -> Executor {
    Executor::builder()
        .limits(limits)
        .action("big", |input: ActionInput| async move {
            let n = input.get("n").and_then(Value::as_u64).unwrap_or(0) as usize;
            Ok(json!("x".repeat(n)))
        })
        .build()
}

#[tokio::test]
async fn a_result_over_the_value_limit_fails_its_task_and_is_not_kept() {
    let ex = sized(Limits::default().max_value_bytes(1024));
    let plan = common::plan(
        &ex,
        "tasks:\n  ok: {action: big, input: {n: 500}}\n  huge: {action: big, input: {n: 5000}}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.task("ok").next().unwrap().status, TaskStatus::Succeeded);
    let huge = out.task("huge").next().unwrap();
    assert_eq!(huge.status, TaskStatus::Failed);
    assert!(huge.error.as_deref().unwrap().contains("1 KiB"));
    assert!(!huge.result.as_ref().unwrap().to_string().contains("xxxx"));
}

#[tokio::test]
async fn a_publish_loop_that_doubles_a_variable_stops_at_the_value_limit() {
    let ex = Executor::builder()
        .limits(Limits::default().max_value_bytes(4096))
        .build();
    let plan = common::plan(
        &ex,
        "
vars: [{acc: x}]
tasks:
  start: {next: [{do: grow}]}
  grow:
    next:
      - publish: [{acc: '{{ workflow.acc ~ workflow.acc }}'}]
        do: grow
",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let e = &out.errors[0];
    assert!(
        e.message.contains("publish.acc") && e.message.contains("4 KiB"),
        "{e}"
    );
    // 1 byte doubled 12 times is 4 KiB: the 13th doubling is refused.
    assert!(out.tasks.len() <= 15, "{}", out.tasks.len());
}

#[tokio::test]
async fn results_over_the_run_limit_fail_the_run() {
    let ex = sized(Limits::default().max_run_bytes(10_000));
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {with: '{{ range(40) | list }}', action: big, input: {n: 500}}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.errors
            .iter()
            .any(|e| e.message.contains("Limits::max_run_bytes")),
        "{:?}",
        out.errors
    );
    // Only once, however many results follow.
    assert_eq!(
        out.errors
            .iter()
            .filter(|e| e.message.contains("max_run_bytes"))
            .count(),
        1
    );
}

#[test]
fn limits_have_documented_defaults() {
    let l = Limits::default();
    assert_eq!(l.max_retries, 1_000);
    assert_eq!(l.max_items, 1_000_000);
    assert_eq!(l.max_value_bytes, 64 << 20);
    assert_eq!(l.max_run_bytes, 1 << 30);
    assert_eq!(l.max_task_instances, None);
    let _ = Workflow::from_yaml_str; // the public API used above
}
