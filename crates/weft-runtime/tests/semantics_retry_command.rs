//! Orquesta's `retry` engine command (docs: "Engine Commands": "the
//! workflow engine will retry the task up to 3 times with no delay"): the
//! transition's `when`, or `completed()` without one, becomes the task's
//! retry policy; the transition itself is no edge (its publish never runs,
//! and it does not remediate). Sequences as Orquesta's conductor gives them
//! for the task-retry-command fixtures.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use weft_core::{ErrorKind, TaskStatus, Workflow};
use weft_runtime::{ActionError, ActionInput, Executor, RunStatus};

/// `flaky` fails its first `fails` attempts.
fn executor(fails: u32) -> (Executor, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ex = Executor::builder()
        .action("flaky", move |input: ActionInput| {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                if input.attempt <= fails {
                    Err(ActionError::new("not yet"))
                } else {
                    Ok(Value::Null)
                }
            }
        })
        .build();
    (ex, calls)
}

const ON_FAILURE: &str = "
tasks:
  task1:
    action: flaky
    next:
      - when: '{{ succeeded() }}'
        do: task2
      - when: '{{ failed() }}'
        publish: [{never: 1}]
        do: retry
  task2:
    action: core.noop
output: [{never: '{{ ctx().never | default(\"unset\") }}'}]
";

#[tokio::test]
async fn retry_up_to_three_times_then_the_failure_stands() {
    // Four failures: four dispatches, the workflow fails (the transition to
    // `retry` does not remediate).
    let (ex, calls) = executor(99);
    let plan = common::plan(&ex, ON_FAILURE);
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(out.tasks.len(), 1);
    assert_eq!(out.tasks[0].attempts, 4);
    assert_eq!(
        out.output,
        json!({"never": "unset"}),
        "its publish never ran"
    );
}

#[tokio::test]
async fn retry_recovers_when_a_later_attempt_succeeds() {
    let (ex, calls) = executor(2);
    let plan = common::plan(&ex, ON_FAILURE);
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(common::names(&out), ["task1", "task2"]);
}

#[tokio::test]
async fn retry_without_when_retries_whatever_the_outcome() {
    // `completed()` holds for a success too: three retries of a task that
    // succeeds every time, then its other transition.
    let (ex, calls) = executor(0);
    let plan = common::plan(
        &ex,
        "tasks:\n  task1:\n    action: flaky\n    next:\n      - when: '{{ succeeded() }}'\n        do: task2\n      - do: retry\n  task2: {action: core.noop}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(out.tasks[0].status, TaskStatus::Succeeded);
    assert_eq!(common::names(&out), ["task1", "task2"]);
}

fn compile_err(text: &str) -> weft_core::Error {
    Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&["core.noop", "core.echo"])
        .unwrap_err()
}

#[test]
fn retry_is_a_reserved_name_and_is_not_combined_with_a_retry_key() {
    let e = compile_err(
        "tasks:\n  a: {action: core.noop, next: [{do: retry}]}\n  retry: {action: core.noop}\n",
    );
    assert!(
        e.all()
            .any(|e| e.message().contains("may not be named `retry`")),
        "{e}"
    );
    let e = compile_err(
        "tasks:\n  a: {action: core.noop, retry: {count: 1}, next: [{when: '{{ failed() }}', do: retry}]}\n",
    );
    assert_eq!(e.task(), Some("a"));
    assert_eq!(e.field(), Some("next[0].do[0]"));
    assert!(e.message().contains("keep one"), "{e}");
    assert!(e.line().is_some());
    let e = compile_err(
        "tasks:\n  a: {action: core.noop, next: [{when: '{{ failed() }}', do: retry}, {do: retry}]}\n",
    );
    assert!(
        e.message().contains("a second transition to `retry`"),
        "{e}"
    );
}

#[test]
fn a_with_items_task_needs_an_action() {
    // Orquesta's inspection: "The action property is required for with
    // items task."
    let e = compile_err("vars: [{xs: [1, 2]}]\ntasks:\n  t: {with: '{{ ctx(\"xs\") }}', next: [{do: u}]}\n  u: {action: core.noop}\n");
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(e.task(), Some("t"));
    assert_eq!(e.field(), Some("with"));
    assert!(e.message().contains("needs an `action`"), "{e}");
}
