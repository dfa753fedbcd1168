//! Steering runs from elsewhere: run ids, cloneable handles, control by id
//! through the executor, and pause / resume.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use weft_core::TaskStatus;
use weft_runtime::{
    ActionInput, EventKind, Executor, RunHandle, RunId, RunOptions, RunStatus, UnknownRun,
};

/// An executor whose `gate` action waits until `open` is notified, and
/// counts how many attempts started.
fn gated() -> (Executor, Arc<tokio::sync::Notify>, Arc<AtomicUsize>) {
    let open = Arc::new(tokio::sync::Notify::new());
    let started = Arc::new(AtomicUsize::new(0));
    let (o, s) = (open.clone(), started.clone());
    let ex = Executor::builder()
        .action("gate", move |_: ActionInput| {
            let (o, s) = (o.clone(), s.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                o.notified().await;
                Ok(json!("through"))
            }
        })
        .build();
    (ex, open, started)
}

/// Waits until `cond` holds, 1 s at the most.
async fn wait_for(cond: impl FnMut() -> bool) {
    weft_test_support::wait_for_within(Duration::from_secs(1), cond).await;
}

#[tokio::test]
async fn run_ids_are_uuids_that_name_the_run_everywhere() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {action: core.echo, input: {message: '{{ system.run_id }}'}}\n",
    );
    let run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .unwrap();
    let id = run.id();
    let mut run = run;
    let events: Vec<_> = run.events().collect().await;
    let out = run.await.unwrap();
    assert_eq!(out.run_id, id);
    assert!(events.iter().all(|e| e.run_id == id));
    assert_eq!(
        common::result(&out, "t"),
        json!({"message": id.to_string()})
    );
    assert_eq!(id.to_string().parse::<RunId>().unwrap(), id);
}

#[tokio::test]
async fn system_values_name_the_run_and_its_workflow() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "tasks:\n  t:\n    action: core.echo\n    input: {message: '{{ system.workflow }} {{ system.run_id }} {{ system | length }}'}\n",
    );
    assert!(!plan.name().is_empty());
    let run = ex.start(&plan, json!({})).unwrap();
    let id = run.id();
    let out = run.await.unwrap();
    assert_eq!(
        common::result(&out, "t"),
        json!({"message": format!("{} {id} 2", plan.name())})
    );
}

#[tokio::test]
async fn a_cloned_handle_and_the_executor_steer_a_run_by_id() {
    let (ex, open, started) = gated();
    let plan = common::plan(
        &ex,
        "tasks:\n  a: {action: gate, next: [{do: b}]}\n  b: {action: gate}\n",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    let id = run.id();
    let handle: RunHandle = run.handle();
    let clone = handle.clone();
    // The run's owner can drop its `Run` and still steer it by id.
    let waiter = tokio::spawn(run);
    assert_eq!(ex.status(id), Some(RunStatus::Running));
    assert_eq!(ex.live_runs(), vec![id]);
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    ex.cancel(id).unwrap();
    wait_for(|| clone.status() == RunStatus::Canceling).await;
    open.notify_waiters();
    let out = waiter.await.unwrap().unwrap();
    assert_eq!(out.status, RunStatus::Canceled);
    assert_eq!(out.task("b").count(), 0);
    assert_eq!(handle.status(), RunStatus::Canceled);
    // Ended runs leave the executor.
    assert_eq!(ex.status(id), None);
    assert_eq!(ex.cancel(id), Err(UnknownRun(id)));
    assert!(ex.run(id).is_none());
}

#[tokio::test]
async fn pause_lets_running_tasks_finish_and_starts_nothing_until_resumed() {
    // Orquesta: pausing stops new tasks from being scheduled; tasks already
    // running complete, then the workflow is paused; resume continues.
    let (ex, open, started) = gated();
    let plan = common::plan(
        &ex,
        "tasks:\n  a: {action: gate, next: [{do: b}]}\n  b: {action: core.echo, input: {message: done}}\n",
    );
    let mut run = ex.start(&plan, json!({})).unwrap();
    let mut events = run.events();
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    run.pause();
    wait_for(|| run.status() == RunStatus::Pausing).await;
    open.notify_waiters();
    wait_for(|| run.status() == RunStatus::Paused).await;
    // Paused: `a` finished, `b` is scheduled but has not started.
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(run.status(), RunStatus::Paused);
    run.resume();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(common::result(&out, "b"), json!({"message": "done"}));
    let kinds: Vec<EventKind> = events.by_ref().map(|e| e.kind).collect().await;
    let paused = kinds
        .iter()
        .position(|k| *k == EventKind::RunPaused)
        .unwrap();
    let resumed = kinds
        .iter()
        .position(|k| *k == EventKind::RunResumed)
        .unwrap();
    let b_started = kinds
        .iter()
        .position(|k| matches!(k, EventKind::TaskStarted { task, .. } if &**task == "b"))
        .unwrap();
    assert!(paused < resumed && resumed < b_started, "{kinds:?}");
}

#[tokio::test]
async fn a_paused_run_holds_items_and_canceling_it_ends_it() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {with: {items: '{{ range(6) | list }}', concurrency: 2}, action: core.sleep, input: {seconds: 0.05}}\n",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    run.pause();
    wait_for(|| run.status() == RunStatus::Paused).await;
    run.cancel();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Canceled);
    let t = out.task("t").next().unwrap();
    assert_eq!(t.status, TaskStatus::Canceled);
    // Items already running when the pause came finished; none after.
    let done = t
        .result
        .as_ref()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| !v.is_null())
        .count();
    assert!(done <= 2, "{done} items ran after the pause");
}

#[tokio::test]
async fn pause_and_resume_keep_with_items_concurrency_and_order() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {with: {items: '{{ range(8) | list }}', concurrency: 3}, action: core.echo, input: {message: '{{ item }}'}}\n",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    run.pause();
    tokio::time::sleep(Duration::from_millis(20)).await;
    run.resume();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
    let want: Vec<_> = (0..8).map(|i| json!({"message": i})).collect();
    assert_eq!(common::result(&out, "t"), json!(want));
}

#[tokio::test]
async fn pause_when_nothing_is_left_to_start_lets_the_run_end() {
    let (ex, open, started) = gated();
    let plan = common::plan(&ex, "tasks:\n  a: {action: gate}\n");
    let run = ex.start(&plan, json!({})).unwrap();
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    run.pause();
    open.notify_waiters();
    let out = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded);
}

/// A stream of events asked for as the run ends ends too: with the run's
/// last event, `RunEnded`, if the run took the subscription, or at once if
/// the run had read its last message (the subscription then stays unread
/// in the run's channel while any handle lives, and with it the stream's
/// sender).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_asked_for_as_a_run_ends_always_end() {
    // Actions that yield a few times: a run of two no-ops can end within
    // its task's first poll (each runs in the run's own task), before the
    // streams are asked for at all; these keep the run going across a few
    // polls, so that streams are asked for while it runs and as it ends.
    let ex = Executor::builder()
        .action("step", |_i: ActionInput| async {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            Ok(json!(null))
        })
        .build();
    let plan = common::plan(
        &ex,
        "version: 1.0\ntasks:\n  a: {action: step, next: [{do: b}]}\n  b: {action: step}\n",
    );
    let (mut streams, mut ended_with_run_ended) = (0usize, 0usize);
    for _ in 0..300 {
        let run = ex.start(&plan, json!({})).unwrap();
        // A handle kept while the streams are read, as a caller keeps one.
        let kept = run.handle();
        let handle = kept.clone();
        let asking = tokio::spawn(async move {
            let mut streams = Vec::new();
            while !handle.status().is_terminal() {
                streams.push(handle.events());
                tokio::task::yield_now().await;
            }
            // A few more after the run said it ended.
            for _ in 0..3 {
                streams.push(handle.events());
            }
            streams
        });
        assert_eq!(run.await.unwrap().status, RunStatus::Succeeded);
        let asked = asking.await.unwrap();
        streams += asked.len();
        for stream in asked {
            let events: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect())
                .await
                .expect("the event stream ended with the run");
            if let Some(last) = events.last() {
                assert!(
                    matches!(last.kind, EventKind::RunEnded { .. }),
                    "a stream that saw the run ends with RunEnded: {events:?}"
                );
                ended_with_run_ended += 1;
            }
        }
        drop(kept);
    }
    assert!(streams >= 300 * 4, "{streams} streams");
    assert!(ended_with_run_ended > 0, "no stream saw an event");
}

/// A run whose runtime shuts down before it ends reports that its outcome
/// is lost, rather than leaving whoever awaits it waiting for ever.
#[test]
fn a_run_whose_runtime_shut_down_reports_its_outcome_lost() {
    let (ex, _open, started) = gated();
    let plan = common::plan(&ex, "tasks:\n  a: {action: gate}\n");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Started from inside the runtime (it needs one), not awaited there.
    let run = {
        let _entered = rt.enter();
        ex.start(&plan, json!({})).unwrap()
    };
    let handle = run.handle();
    rt.block_on(wait_for(|| started.load(Ordering::SeqCst) == 1));
    // The scheduler and the attempt are dropped with the runtime.
    drop(rt);
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lost = other.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("the Run ends")
    });
    let err = lost.expect_err("no outcome");
    assert!(err.to_string().contains("ended early"), "{err}");
    // The handles that outlive the run still read its last status.
    assert_eq!(handle.status(), RunStatus::Running);
}

/// The outcome goes to the `Run` once the run ends, whether the `Run` was
/// polled before that or not; a run whose `Run` was dropped still ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outcome_reaches_its_run_polled_or_not_and_a_dropped_run_still_ends() {
    let (ex, open, started) = gated();
    let plan = common::plan(&ex, "tasks:\n  a: {action: gate}\n");
    // Polled while it runs, then woken by the outcome.
    let run = ex.start(&plan, json!({})).unwrap();
    wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    let waiting = tokio::spawn(run);
    tokio::task::yield_now().await;
    open.notify_one();
    let outcome = waiting.await.unwrap().unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded);
    // Not polled until the run has ended.
    let run = ex.start(&plan, json!({})).unwrap();
    let id = run.id();
    wait_for(|| started.load(Ordering::SeqCst) == 2).await;
    open.notify_one();
    wait_for(|| ex.run(id).is_none()).await;
    let outcome = run.await.unwrap();
    assert_eq!(outcome.tasks[0].status, TaskStatus::Succeeded);
    // Dropped while it runs: the run goes on to its end.
    let run = ex.start(&plan, json!({})).unwrap();
    let handle = run.handle();
    drop(run);
    wait_for(|| started.load(Ordering::SeqCst) == 3).await;
    open.notify_one();
    wait_for(|| handle.status() == RunStatus::Succeeded).await;
}

/// A `Run` awaited again after it gave its outcome says the outcome was
/// taken, rather than panicking.
#[tokio::test]
async fn a_run_awaited_again_after_its_outcome_says_it_was_taken() {
    let ex = Executor::builder()
        .action("noop", |_: ActionInput| async { Ok(json!(null)) })
        .build();
    let plan = common::plan(&ex, "tasks:\n  a: {action: noop}\n");
    let mut run = ex.start(&plan, json!({})).unwrap();
    let outcome = (&mut run).await.unwrap();
    assert!(outcome.succeeded());
    let again = (&mut run).await.expect_err("taken already");
    assert!(again.to_string().contains("taken already"), "{again}");
}
