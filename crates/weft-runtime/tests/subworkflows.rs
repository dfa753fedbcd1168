//! Sub-workflows: a task whose action is a workflow registered on the
//! executor runs it as a child run (StackStorm's Orquesta subworkflow: the
//! task's input is the child's input, a failed child fails the task, and
//! cancel and pause reach the children).
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use weft_core::{TaskStatus, Workflow};
use weft_runtime::{
    ActionInput, EventKind, Executor, ExecutorBuilder, Limits, RunId, RunOptions, RunStatus,
};

const CHILD: &str = "
input: [name, {times: 1}]
tasks:
  say: {action: core.echo, input: {message: '{{ parameters.name }} x{{ parameters.times }}'}}
output:
  - said: '{{ task.say.message }}'
";

fn with_child(b: ExecutorBuilder, name: &str, text: &str) -> ExecutorBuilder {
    let plan = Workflow::from_yaml_str(text)
        .and_then(|w| w.compile(&b))
        .unwrap_or_else(|e| panic!("{e}"));
    b.workflow(name, plan)
}

#[tokio::test]
async fn the_childs_output_is_the_tasks_result() {
    let ex = with_child(Executor::builder(), "greet", CHILD).build();
    assert!(ex.action_names().contains(&"greet".to_owned()));
    let plan = common::plan(
        &ex,
        "
tasks:
  call:
    action: greet
    input: {name: ada, times: 2}
    next: [{publish: [{got: '{{ result().said }}'}], do: after}]
  after: {action: core.echo, input: {message: '{{ ctx(\"got\") }}'}}
output: [{got: '{{ ctx(\"got\") }}'}]
",
    );
    let mut run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .unwrap();
    let parent = run.id();
    let events: Vec<_> = run.events().collect().await;
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"got": "ada x2"}));
    assert_eq!(common::result(&out, "call"), json!({"said": "ada x2"}));
    // The child's id is derived from the attempt, and named everywhere.
    let child = RunId::child(parent, 0, None, 1);
    assert_eq!(out.task("call").next().unwrap().child_runs, vec![child]);
    let started = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::TaskStarted {
                task, child_run, ..
            } if &**task == "call" => Some(*child_run),
            _ => None,
        })
        .unwrap();
    assert_eq!(started, Some(child));
    assert_eq!(out.task("after").next().unwrap().child_runs, vec![]);
}

#[tokio::test]
async fn a_failed_child_fails_the_task_with_its_errors_attached() {
    let ex = with_child(
        Executor::builder(),
        "broken",
        "tasks:\n  t: {action: core.fail, input: {message: 'disk full'}}\noutput: [{partial: 1}]\n",
    )
    .build();
    let plan = common::plan(&ex, "tasks:\n  call: {action: broken}\n");
    let run = ex.start(&plan, json!({})).unwrap();
    let parent = run.id();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    let call = out.task("call").next().unwrap();
    assert_eq!(call.status, TaskStatus::Failed);
    let err = call.error.as_deref().unwrap();
    assert!(
        err.contains("sub-workflow `broken`") && err.contains("disk full"),
        "{err}"
    );
    let result = call.result.as_deref().unwrap();
    let child = RunId::child(parent, 0, None, 1);
    assert_eq!(result["run_id"], json!(child.to_string()));
    assert_eq!(result["status"], json!("failed"));
    assert_eq!(result["output"], json!({"partial": 1}));
    assert_eq!(result["errors"][0]["task"], json!("t"));
    assert_eq!(result["errors"][0]["message"], json!("disk full"));

    // Remediated like any failure.
    let plan = common::plan(
        &ex,
        "tasks:\n  call: {action: broken, next: [{when: '{{ failed() }}', do: noop}]}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn inputs_the_child_does_not_take_fail_the_task() {
    let ex = with_child(Executor::builder(), "greet", CHILD).build();
    let yaml = "tasks:\n  call: {action: greet, input: {nam: ada}}\n";
    // Compiled against the executor, the child's inputs are its fields.
    let err = Workflow::from_yaml_str(yaml)
        .unwrap()
        .compile(&ex)
        .unwrap_err();
    assert!(
        err.message()
            .contains("`greet` has no input `nam`: did you mean `name`?"),
        "{err}"
    );
    let plan = common::plan_names_only(&ex, yaml);
    let out = common::run(&ex, &plan, json!({})).await;
    let err = out.task("call").next().unwrap().error.clone().unwrap();
    assert!(
        err.contains("sub-workflow `greet`") && err.contains("nam"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_items_runs_one_child_per_item_under_the_concurrency_cap() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let b = Executor::builder().action("slow", move |input: ActionInput| {
        let (r, p) = (r.clone(), p.clone());
        async move {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            r.fetch_sub(1, Ordering::SeqCst);
            Ok(input.get("n").cloned().unwrap_or(Value::Null))
        }
    });
    let ex = with_child(
        b,
        "one",
        "input: [n]\ntasks:\n  s: {action: slow, input: {n: '{{ parameters.n * 10 }}'}}\noutput: [{n: '{{ task.s }}'}]\n",
    )
    .build();
    let plan = common::plan(
        &ex,
        "tasks:\n  each: {with: {items: '{{ range(7) | list }}', concurrency: 2}, action: one, input: {n: '{{ item }}'}}\n",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    let parent = run.id();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let want: Vec<Value> = (0..7).map(|i| json!({"n": i * 10})).collect();
    assert_eq!(common::result(&out, "each"), json!(want));
    assert!(peak.load(Ordering::SeqCst) <= 2);
    let children = &out.task("each").next().unwrap().child_runs;
    assert_eq!(children.len(), 7);
    for i in 0..7 {
        assert!(children.contains(&RunId::child(parent, 0, Some(i), 1)));
    }
}

/// A child whose one task waits until `open` is notified.
fn gated() -> (Executor, Arc<tokio::sync::Notify>, Arc<AtomicUsize>) {
    let open = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let (o, s) = (open.clone(), started.clone());
    let b = Executor::builder().action("wait", move |_: ActionInput| {
        let (o, s) = (o.clone(), s.clone());
        async move {
            s.fetch_add(1, Ordering::SeqCst);
            o.notified().await;
            Ok(json!("opened"))
        }
    });
    let ex = with_child(
        b,
        "gate",
        "tasks:\n  w: {action: wait, next: [{do: after}]}\n  after: {action: core.noop}\n",
    )
    .build();
    (ex, open, started)
}

/// Waits until `cond` holds, 2 s at the most.
async fn wait_for(cond: impl FnMut() -> bool) {
    weft_test_support::wait_for_within(Duration::from_secs(2), cond).await;
}

#[tokio::test]
async fn canceling_the_parent_cancels_its_child() {
    let (ex, open, started) = gated();
    let plan = common::plan(&ex, "tasks:\n  call: {action: gate}\n");
    let run = ex.start(&plan, json!({})).unwrap();
    let child = RunId::child(run.id(), 0, None, 1);
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    run.cancel();
    wait_for(|| ex.status(child) == Some(RunStatus::Canceling)).await;
    open.notify_waiters();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Canceled, "{:?}", out.errors);
    let call = out.task("call").next().unwrap();
    // The child finished its running task, started nothing more, and
    // ended canceled, and so did the parent's task.
    assert_eq!(call.status, TaskStatus::Canceled);
    assert!(
        call.error.as_deref().unwrap().contains("canceled"),
        "{call:?}"
    );
    assert_eq!(call.result.as_deref().unwrap()["status"], json!("canceled"));
}

#[tokio::test]
async fn a_child_canceled_on_its_own_cancels_its_parent() {
    // Orquesta (st2 operations docs): cancel cascades up to the root.
    let (ex, open, started) = gated();
    let plan = common::plan(
        &ex,
        "tasks:
  call: {action: gate, next: [{do: after}]}
  after: {action: core.noop}
",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    let child = RunId::child(run.id(), 0, None, 1);
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    ex.cancel(child).unwrap();
    open.notify_waiters();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Canceled, "{:?}", out.errors);
    assert_eq!(out.task("after").count(), 0);
}

#[tokio::test]
async fn aborting_the_parent_aborts_its_child() {
    let (ex, _open, started) = gated();
    let plan = common::plan(&ex, "tasks:\n  call: {action: gate}\n");
    let run = ex.start(&plan, json!({})).unwrap();
    let child = RunId::child(run.id(), 0, None, 1);
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    run.abort();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Canceled);
    // The child ends too, although its action never returns on its own.
    wait_for(|| ex.status(child).is_none()).await;
}

/// An executor that ran sub-workflows is freed with its actions when the
/// last handle to it is dropped: what it keeps of its ended runs for its
/// next ones holds no sub-workflow's action (which holds the executor).
#[tokio::test]
async fn an_executor_that_ran_sub_workflows_is_freed_when_dropped() {
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = Dropped(dropped.clone());
    let b = Executor::builder().action("kept", move |_: ActionInput| {
        let _ = &guard;
        async { Ok(json!(null)) }
    });
    let ex = with_child(b, "child", CHILD).build();
    let plan = common::plan(
        &ex,
        "tasks:\n  call: {action: child, input: {name: ada}, next: [{do: after}]}\n  after: {action: kept}\n",
    );
    for _ in 0..2 {
        let out = common::run(&ex, &plan, json!({})).await;
        assert!(out.succeeded(), "{:?}", out.errors);
    }
    drop((ex, plan));
    wait_for(|| dropped.load(Ordering::SeqCst) == 1).await;
}

#[tokio::test]
async fn a_timeout_on_the_task_aborts_its_child() {
    let (ex, _open, started) = gated();
    let plan = common::plan(&ex, "tasks:\n  call: {action: gate, timeout: 0.05}\n");
    let run = ex.start(&plan, json!({})).unwrap();
    let child = RunId::child(run.id(), 0, None, 1);
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert_eq!(
        out.task("call").next().unwrap().status,
        TaskStatus::TimedOut
    );
    wait_for(|| ex.status(child).is_none()).await;
}

#[tokio::test]
async fn pausing_the_parent_pauses_its_child_and_resume_continues_both() {
    let (ex, open, started) = gated();
    let plan = common::plan(
        &ex,
        "tasks:\n  call: {action: gate, next: [{do: last}]}\n  last: {action: core.noop}\n",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    let child = RunId::child(run.id(), 0, None, 1);
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    run.pause();
    wait_for(|| ex.status(child) == Some(RunStatus::Pausing)).await;
    open.notify_waiters();
    // The child's running task finished; its next one waits, so it is
    // paused, and so is the parent (its only task is still running).
    wait_for(|| ex.status(child) == Some(RunStatus::Paused)).await;
    assert_eq!(run.status(), RunStatus::Pausing);
    run.resume();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.task("last").count(), 1);
}

#[tokio::test]
async fn a_workflow_that_calls_itself_stops_at_the_depth_limit() {
    let text = "
input: [{n: 0}]
tasks:
  again: {action: again, input: {n: '{{ parameters.n + 1 }}'}}
";
    // Compiled against a list of names that includes itself.
    let mut names = weft_runtime::builtin_actions()
        .iter()
        .map(|a| a.name.to_owned())
        .collect::<Vec<_>>();
    names.push("again".to_owned());
    let plan = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&names)
        .unwrap();
    let ex = Executor::builder()
        .workflow("again", plan.clone())
        .limits(Limits::default().max_workflow_depth(4))
        .build();
    let out = tokio::time::timeout(Duration::from_secs(5), ex.start(&plan, json!({})).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    // The innermost error names the limit; each level above passes it up.
    let err = out.task("again").next().unwrap().error.clone().unwrap();
    assert!(err.contains("over the limit of 4"), "{err}");
}

/// A child shares its parent's journaling: a parent kept in memory on an
/// executor with a store leaves nothing in the store, children included;
/// a `Sync` parent's child is journaled `Sync` too.
#[tokio::test]
async fn a_child_is_journaled_as_its_parent_is() {
    use weft_runtime::store::{Record, RunFilter, Store};
    use weft_runtime::{Durability, MemoryStore};

    let store = Arc::new(MemoryStore::new());
    let ex = with_child(Executor::builder().store(store.clone()), "greet", CHILD).build();
    let plan = common::plan(
        &ex,
        "tasks:\n  call: {action: greet, input: {name: ada}}\noutput: [{got: '{{ task.call.said }}'}]\n",
    );

    let out = ex
        .start_with(&plan, json!({}), RunOptions::new().in_memory())
        .unwrap()
        .await
        .unwrap();
    assert_eq!(out.output, json!({"got": "ada x1"}), "{:?}", out.errors);
    ex.flush().await.unwrap();
    assert_eq!(store.list(&RunFilter::all()).await.unwrap().len(), 0);

    let run = ex
        .start_with(
            &plan,
            json!({}),
            RunOptions::new().durability(Durability::Sync),
        )
        .unwrap();
    let parent = run.id();
    let out = run.await.unwrap();
    assert_eq!(out.output, json!({"got": "ada x1"}), "{:?}", out.errors);
    ex.flush().await.unwrap();
    let child = RunId::child(parent, 0, None, 1);
    for id in [parent, child] {
        let entries = store.load(id).await.unwrap();
        let Record::Started(start) = &entries[0].record else {
            panic!("first record of {id}: {:?}", entries[0].record)
        };
        assert_eq!(start.durability, Durability::Sync, "run {id}");
    }
    assert_eq!(store.list(&RunFilter::all()).await.unwrap().len(), 2);
}
