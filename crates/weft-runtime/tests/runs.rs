//! Run handles: cancel, abort, events, dropping, both runtime flavours.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use weft_core::TaskStatus;
use weft_runtime::{ActionInput, EventKind, Executor, RunOptions, RunStatus};

fn slow_chain(ex: &Executor) -> weft_core::Plan {
    common::plan(
        ex,
        r#"
tasks:
  first: {action: core.sleep, input: {seconds: 0.2}, next: [{do: second}]}
  other: {action: core.sleep, input: {seconds: 0.05}}
  second: {action: core.noop}
"#,
    )
}

#[tokio::test]
async fn cancel_lets_in_flight_finish_and_starts_nothing_new() {
    let ex = Executor::new();
    let p = slow_chain(&ex);
    let run = ex.start(&p, json!({})).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    run.cancel();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Canceled);
    assert_eq!(
        out.task("first").next().unwrap().status,
        TaskStatus::Succeeded
    );
    assert_eq!(
        out.task("other").next().unwrap().status,
        TaskStatus::Succeeded
    );
    assert_eq!(out.task("second").count(), 0);
}

/// Aborts `run`, whose tasks are running: the run ends within 2 s,
/// canceled, and so does its first task.
async fn aborts_its_one_task_promptly(run: weft_runtime::Run) {
    run.abort();
    let out = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("abort is prompt")
        .unwrap();
    assert_eq!(out.status, RunStatus::Canceled);
    assert_eq!(out.tasks[0].status, TaskStatus::Canceled);
}

#[tokio::test]
async fn abort_stops_in_flight_actions() {
    let ex = Executor::new();
    let p = common::plan(
        &ex,
        "tasks:\n  long: {action: core.sleep, input: {seconds: 30}}\n",
    );
    let run = ex.start(&p, json!({})).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    aborts_its_one_task_promptly(run).await;
}

#[tokio::test]
async fn cancel_stops_items_and_pending_retries() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ex = Executor::builder()
        .action("tick", move |_i: ActionInput| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                Ok(json!(null))
            }
        })
        .build();
    let p = common::plan(
        &ex,
        "tasks:\n  each:\n    with: {items: \"{{ range(100) | list }}\", concurrency: 2}\n    action: tick\n  r: {action: core.fail, retry: {count: 10, delay: 5}}\n",
    );
    let run = ex.start(&p, json!({})).unwrap();
    tokio::time::sleep(Duration::from_millis(45)).await;
    run.cancel();
    let out = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("cancel does not wait for retry delays")
        .unwrap();
    assert_eq!(out.status, RunStatus::Canceled);
    let each = out.task("each").next().unwrap();
    assert_eq!(each.status, TaskStatus::Canceled);
    let n = calls.load(Ordering::SeqCst);
    assert!((2..=6).contains(&n), "{n} items ran");
    let r = out.task("r").next().unwrap();
    assert_eq!(r.status, TaskStatus::Canceled);
}

#[tokio::test]
async fn dropping_the_handle_does_not_stop_the_run() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let ex = Executor::builder()
        .action("last", move |_i: ActionInput| {
            let (h, tx) = (h.clone(), tx.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                Ok(json!(null))
            }
        })
        .build();
    let p = common::plan(&ex, "tasks:\n  a: {action: core.sleep, input: {seconds: 0.02}, next: [{do: b}]}\n  b: {action: last}\n");
    drop(ex.start(&p, json!({})).unwrap());
    tokio::time::timeout(Duration::from_secs(2), rx)
        .await
        .expect("run went on")
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn events_cover_the_whole_run_in_order() {
    let ex = Executor::new();
    let p = common::plan(
        &ex,
        r#"
tasks:
  a: {action: core.noop, next: [{do: b}]}
  b:
    with: "{{ [1, 2] }}"
    action: core.echo
    input: {message: "{{ item }}"}
"#,
    );
    let mut run = ex
        .start_with(&p, json!({}), RunOptions::new().with_events())
        .unwrap();
    let events = run.events();
    let out = run.await.unwrap();
    let kinds: Vec<EventKind> = events.map(|e| e.kind).collect().await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let short: Vec<String> = kinds
        .iter()
        .map(|k| match k {
            EventKind::RunStarted { .. } => "run_started".to_owned(),
            EventKind::RunEnded { status } => format!("run_ended:{status}"),
            EventKind::TaskScheduled { task, .. } => format!("scheduled:{task}"),
            EventKind::TaskStarted { task, item, .. } => format!("started:{task}:{item:?}"),
            EventKind::ItemDone { task, index, .. } => format!("item:{task}:{index}"),
            EventKind::TaskSucceeded { task, .. } => format!("succeeded:{task}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(short.first().map(String::as_str), Some("run_started"));
    assert_eq!(
        short.last().map(String::as_str),
        Some("run_ended:succeeded")
    );
    let pos = |s: &str| {
        short
            .iter()
            .position(|x| x == s)
            .unwrap_or_else(|| panic!("no {s} in {short:?}"))
    };
    assert!(pos("scheduled:a") < pos("started:a:None"));
    assert!(pos("started:a:None") < pos("succeeded:a"));
    assert!(pos("succeeded:a") < pos("scheduled:b"));
    assert!(pos("item:b:0") < pos("succeeded:b"));
    assert!(pos("item:b:1") < pos("succeeded:b"));
    assert!(pos("scheduled:b") < pos("ItemsScheduled { task: \"b\", instance: 1, total: 2 }"));
    assert_eq!(short.len(), 12, "{short:?}");
}

#[tokio::test]
async fn failure_and_timeout_events() {
    let ex = Executor::new();
    let p = common::plan(
        &ex,
        "tasks:\n  t: {action: core.sleep, input: {seconds: 5}, timeout: 0.01, next: [{when: \"{{ timed_out() }}\", do: f}]}\n  f: {action: core.fail, input: {message: stop}, retry: {count: 1}}\n",
    );
    let mut run = ex
        .start_with(&p, json!({}), RunOptions::new().with_events())
        .unwrap();
    let events = run.events();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    let kinds: Vec<EventKind> = events.map(|e| e.kind).collect().await;
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::TaskTimedOut { task, .. } if &**task == "t")));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, EventKind::TaskRetrying { task, attempt: 2, .. } if &**task == "f")));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::TaskFailed { task, error, .. } if &**task == "f" && error == "stop")));
}

#[test]
fn runs_work_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ex = Executor::new();
    let p = common::plan(&ex, "tasks:\n  a: {action: core.sleep, input: {seconds: 0.01}, next: [{do: b}]}\n  b: {action: core.echo, input: {message: done}}\n");
    let out = rt.block_on(async { ex.start(&p, json!({})).unwrap().await.unwrap() });
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(common::result(&out, "b"), json!({"message": "done"}));
}

#[test]
fn many_runs_share_one_executor_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ex = Executor::new();
    let p = common::plan(
        &ex,
        "input: [n]\ntasks:\n  a: {action: core.echo, input: {message: \"{{ parameters.n }}\"}, next: [{do: b}]}\n  b: {action: core.echo, input: {message: \"{{ task.a.message * 2 }}\"}}\n",
    );
    let outs = rt.block_on(async {
        let runs: Vec<_> = (0..100)
            .map(|n| ex.start(&p, json!({"n": n})).unwrap())
            .collect();
        futures::future::join_all(runs).await
    });
    for (n, out) in outs.into_iter().enumerate() {
        let out = out.unwrap();
        assert_eq!(out.status, RunStatus::Succeeded);
        assert_eq!(common::result(&out, "b"), json!({"message": n * 2}));
    }
}

#[test]
fn runs_one_after_another_on_one_executor_keep_to_their_own_tasks() {
    // An executor reuses the buffers of runs that ended for the next runs:
    // whatever a failed or canceled run left behind must not reach them.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ex = Executor::builder()
        .action("boom", |_i: ActionInput| async {
            Err::<serde_json::Value, _>(weft_runtime::ActionError::new("boom"))
        })
        .build();
    let failing = common::plan(
        &ex,
        "tasks:\n  f: {action: boom}\n  s: {action: core.sleep, input: {seconds: 0.02}, next: [{do: [x, y]}]}\n  x: {action: core.noop}\n  y: {action: core.noop}\n",
    );
    let slow = common::plan(
        &ex,
        "tasks:\n  a: {action: core.sleep, input: {seconds: 0.2}}\n",
    );
    let good = common::plan(
        &ex,
        "input: [n]\ntasks:\n  a: {action: core.echo, input: {message: \"{{ parameters.n }}\"}, next: [{do: [b, c]}]}\n  b: {action: core.echo, input: {message: \"{{ task.a.message + 1 }}\"}, next: [{do: d}]}\n  c: {action: core.echo, input: {message: \"{{ task.a.message + 2 }}\"}, next: [{do: d}]}\n  d: {join: all, action: core.echo, input: {message: \"{{ task.b.message + task.c.message }}\"}}\n",
    );
    // `m` is named by two transitions: a route of its own for each.
    let split = common::plan(
        &ex,
        "tasks:\n  p: {action: core.noop, next: [{do: [q, r]}]}\n  q: {action: core.noop, next: [{do: m}]}\n  r: {action: core.noop, next: [{do: m}]}\n  m: {action: core.noop}\n",
    );
    rt.block_on(async {
        for n in 0..3 {
            let out = ex.start(&split, json!({})).unwrap().await.unwrap();
            assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
            assert_eq!(out.task("m").count(), 2);
            assert!(out.routes.len() > 1, "{:?}", out.routes);
            let out = ex.start(&failing, json!({})).unwrap().await.unwrap();
            assert_eq!(out.status, RunStatus::Failed);
            assert_eq!(out.task("x").count(), 0);
            let run = ex.start(&slow, json!({})).unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            run.cancel();
            let out = run.await.unwrap();
            assert_eq!(out.status, RunStatus::Canceled);
            let out = ex.start(&good, json!({"n": n})).unwrap().await.unwrap();
            assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
            let names: Vec<&str> = out.tasks.iter().map(|t| &*t.name).collect();
            assert_eq!(names.len(), 4, "{names:?}");
            assert_eq!(common::result(&out, "d"), json!({"message": 2 * n + 3}));
            assert_eq!(out.routes, vec![Vec::<String>::new()]);
            assert!(out.tasks.iter().all(|t| t.route == 0));
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_cap_holds_across_runs() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, pk) = (running.clone(), peak.clone());
    let ex = Executor::builder()
        .max_actions_in_flight(3)
        .action("busy", move |_i: ActionInput| {
            let (r, pk) = (r.clone(), pk.clone());
            async move {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                r.fetch_sub(1, Ordering::SeqCst);
                Ok(json!(null))
            }
        })
        .build();
    let p = common::plan(
        &ex,
        "tasks:\n  w:\n    with: \"{{ range(10) | list }}\"\n    action: busy\n",
    );
    let runs: Vec<_> = (0..5).map(|_| ex.start(&p, json!({})).unwrap()).collect();
    for out in futures::future::join_all(runs).await {
        assert_eq!(out.unwrap().status, RunStatus::Succeeded);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

/// A chain whose every completion starts the next task (the scheduler's
/// one receive future, kept from wait to wait, and the completion handled
/// straight through to the next dispatch), with a wait that has a deadline
/// in the middle (the scheduler then waits with a future of its own), on
/// both runtimes: every task runs once, in the chain's order, and the run
/// ends.
#[test]
fn a_long_chain_with_a_wait_in_the_middle_runs_each_task_once_in_order() {
    const HALF: usize = 150;
    let mut yaml = String::from("tasks:\n");
    for i in 0..HALF {
        yaml.push_str(&format!(
            "  a{i}: {{action: note, next: [{{do: a{}}}]}}\n",
            i + 1
        ));
    }
    yaml.push_str(&format!(
        "  a{HALF}: {{action: core.wait_event, input: {{key: go, timeout: 30}}, next: [{{do: b0}}]}}\n"
    ));
    for i in 0..HALF {
        let next = if i + 1 < HALF {
            format!(", next: [{{do: b{}}}]", i + 1)
        } else {
            String::new()
        };
        yaml.push_str(&format!("  b{i}: {{action: note{next}}}\n"));
    }
    let runtimes = [
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    ];
    for rt in runtimes {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let s = seen.clone();
        let ex = Executor::builder()
            .action("note", move |i: ActionInput| {
                s.lock().unwrap().push(i.task.to_string());
                async { Ok(json!(null)) }
            })
            .build();
        let p = common::plan(&ex, &yaml);
        let out = rt.block_on(async {
            let run = ex.start(&p, json!({})).unwrap();
            let id = run.id();
            tokio::time::timeout(Duration::from_secs(10), async {
                while run.status() != RunStatus::Paused {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
            .await
            .expect("the chain reaches its wait");
            ex.signal(id, "go", json!(1)).await.unwrap();
            tokio::time::timeout(Duration::from_secs(10), run)
                .await
                .expect("the chain ends")
                .unwrap()
        });
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        let expected: Vec<String> = (0..HALF)
            .map(|i| format!("a{i}"))
            .chain((0..HALF).map(|i| format!("b{i}")))
            .collect();
        assert_eq!(*seen.lock().unwrap(), expected);
        assert_eq!(out.tasks.len(), 2 * HALF + 1);
        assert!(out.tasks.iter().all(|t| t.status == TaskStatus::Succeeded));
    }
}

/// Sends on its channel when dropped: tells that an action's future was
/// dropped.
struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts `task` (its action `forever`, which sleeps for an hour), aborts
/// the run once the action runs, and checks that the run ends at once and
/// that the action's future is dropped soon after.
async fn abort_drops_the_running_action(task: &str, cap: Option<usize>) {
    let (tx, dropped) = tokio::sync::oneshot::channel::<()>();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let mut builder = Executor::builder().action("forever", move |_i: ActionInput| {
        let guard = OnDrop(tx.lock().unwrap().take());
        let s = s.clone();
        async move {
            let _guard = guard;
            s.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(json!(null))
        }
    });
    if let Some(cap) = cap {
        builder = builder.max_actions_in_flight(cap);
    }
    let ex = builder.build();
    let p = common::plan(&ex, &format!("tasks:\n  long: {task}\n"));
    let run = ex.start(&p, json!({})).unwrap();
    weft_test_support::wait_for(|| started.load(Ordering::SeqCst) == 1).await;
    aborts_its_one_task_promptly(run).await;
    tokio::time::timeout(Duration::from_secs(2), dropped)
        .await
        .expect("the aborted action's future is dropped promptly")
        .unwrap();
}

/// Runs `f` to its end on each runtime flavour in turn.
fn on_both_runtimes<F: std::future::Future<Output = ()>>(f: impl Fn() -> F) {
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current.block_on(f());
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    multi.block_on(f());
}

#[test]
fn abort_drops_a_long_running_action_on_both_runtimes() {
    on_both_runtimes(|| abort_drops_the_running_action("{action: forever}", None));
}

#[test]
fn abort_drops_a_long_running_action_with_a_timeout_or_under_the_global_cap() {
    on_both_runtimes(|| abort_drops_the_running_action("{action: forever, timeout: 7200}", None));
    on_both_runtimes(|| abort_drops_the_running_action("{action: forever}", Some(4)));
}

#[test]
fn runs_after_an_aborted_or_canceled_run_on_one_executor_run_as_usual() {
    // An executor hands what an ended run kept to its next run: nothing of
    // the abort or the cancel may reach the runs after it.
    on_both_runtimes(|| async {
        let ex = Executor::new();
        let waiting = common::plan(
            &ex,
            "tasks:\n  first: {action: core.noop, next: [{do: ask}]}\n  ask: {action: core.ask, input: {route: ops}}\n",
        );
        let after = common::plan(
            &ex,
            "tasks:\n  a: {action: core.echo, input: {message: a}, next: [{do: b}]}\n  b: {action: core.noop, delay: 0.01, timeout: 60}\n",
        );
        for abort in [true, false] {
            let run = ex.start(&waiting, json!({})).unwrap();
            weft_test_support::wait_for(|| run.status() == RunStatus::Paused).await;
            if abort {
                run.abort();
            } else {
                run.cancel();
            }
            let out = tokio::time::timeout(Duration::from_secs(2), run)
                .await
                .expect("the run ends")
                .unwrap();
            assert_eq!(out.status, RunStatus::Canceled);
            for _ in 0..3 {
                let out = tokio::time::timeout(
                    Duration::from_secs(2),
                    ex.start(&after, json!({})).unwrap(),
                )
                .await
                .expect("the run ends")
                .unwrap();
                assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
                assert_eq!(common::names(&out), ["a", "b"]);
            }
        }
    });
}

/// A workflow of `n` independent tasks `t0`, `t1`…, each returning its
/// number.
fn numbered(ex: &Executor, n: usize) -> weft_core::Plan {
    let mut yaml = String::from("tasks:\n");
    for i in 0..n {
        yaml.push_str(&format!("  t{i}: {{action: number, input: {{n: {i}}}}}\n"));
    }
    common::plan(ex, &yaml)
}

fn assert_numbered(outcome: &weft_runtime::RunOutcome, n: usize) {
    assert!(outcome.succeeded(), "{:?}", outcome.errors);
    assert_eq!(outcome.tasks.len(), n);
    let mut seen = vec![false; n];
    for (i, t) in outcome.tasks.iter().enumerate() {
        assert_eq!(t.instance as usize, i);
        assert_eq!(t.status, TaskStatus::Succeeded);
        let k = t
            .name
            .strip_prefix('t')
            .and_then(|k| k.parse::<usize>().ok());
        let k = k.unwrap_or_else(|| panic!("unexpected task {}", t.name));
        assert_eq!(t.result.as_deref(), Some(&json!(k)), "{}", t.name);
        assert!(!seen[k], "{} twice", t.name);
        seen[k] = true;
    }
}

/// A run's task records come from the instances' table, which an
/// executor keeps for its next run when the run was small, and which a
/// big run's records take over: every task's record is there either way,
/// for runs one after another on one executor.
#[tokio::test]
async fn every_task_has_its_record_in_small_and_big_runs_on_one_executor() {
    let ex = Executor::builder()
        .action("number", |input: ActionInput| async move {
            Ok(input.get("n").cloned().unwrap_or_default())
        })
        .build();
    let small = numbered(&ex, 5);
    // 3,000 instances are more room than an executor keeps.
    let big = numbered(&ex, 3_000);
    for plan_and_size in [
        (&small, 5),
        (&small, 5),
        (&big, 3_000),
        (&small, 5),
        (&big, 3_000),
    ] {
        let (plan, n) = plan_and_size;
        let outcome = common::run(&ex, plan, json!({})).await;
        assert_numbered(&outcome, n);
    }
}

/// An executor keeps a run's table of actions by task for its next run of
/// the same plan: runs of plans one after another on one executor, plans
/// of the same shape with other actions, a plan dropped and another made
/// in its place, and a plan that runs a sub-workflow (whose actions are
/// its run's own) each call their own plan's actions.
#[tokio::test]
async fn each_run_calls_its_own_plans_actions_one_after_another() {
    let builder = Executor::builder()
        .action("a", |_: ActionInput| async { Ok(json!("a")) })
        .action("b", |_: ActionInput| async { Ok(json!("b")) });
    let child = common::plan_names_only(
        &Executor::new(),
        "tasks:\n  x: {action: core.noop}\noutput: [{said: child}]\n",
    );
    let ex = builder.workflow("child", child).build();
    let shaped = |action: &str| {
        common::plan(
            &ex,
            &format!(
                "tasks:\n  x: {{action: {action}, next: [{{do: y}}]}}\n  y: {{action: {action}}}\n"
            ),
        )
    };
    let sub = common::plan(&ex, "tasks:\n  x: {action: child}\n  y: {action: a}\n");
    let (a, b) = (shaped("a"), shaped("b"));
    let check = |outcome: &weft_runtime::RunOutcome, want: Value| {
        assert!(outcome.succeeded(), "{:?}", outcome.errors);
        assert_eq!(common::result(outcome, "x"), want);
    };
    for _ in 0..2 {
        check(&common::run(&ex, &a, json!({})).await, json!("a"));
        check(&common::run(&ex, &a, json!({})).await, json!("a"));
        check(&common::run(&ex, &b, json!({})).await, json!("b"));
        let out = common::run(&ex, &sub, json!({})).await;
        check(&out, json!({"said": "child"}));
        assert_eq!(common::result(&out, "y"), json!("a"));
    }
    // A plan dropped, and another made (perhaps where it was).
    check(&common::run(&ex, &a, json!({})).await, json!("a"));
    drop(a);
    let b2 = shaped("b");
    check(&common::run(&ex, &b2, json!({})).await, json!("b"));
}

/// Two plans without tasks (a `WorkflowDef` compiled as built, which YAML
/// does not allow but the type does), run one after the other on one
/// executor: each run is of its own plan (its output) though
/// the executor keeps an ended run's tables for the next run of the same
/// plan.
#[tokio::test]
async fn plans_without_tasks_are_each_run_as_themselves() {
    use weft_core::def::Assignments;
    use weft_core::WorkflowDef;
    let ex = Executor::new();
    let plan = |key: &str| {
        WorkflowDef {
            output: Assignments(vec![(key.to_owned(), json!(key))]),
            ..WorkflowDef::default()
        }
        .compile(&ex)
        .expect("a workflow without tasks compiles")
    };
    let (a, b) = (plan("a"), plan("b"));
    for _ in 0..2 {
        for (p, key) in [(&a, "a"), (&b, "b")] {
            let outcome = common::run(&ex, p, json!({})).await;
            assert!(outcome.succeeded(), "{:?}", outcome.errors);
            assert_eq!(outcome.output, json!({ key: key }));
        }
    }
}

#[test]
fn tasks_started_together_run_at_the_same_time_on_both_runtimes() {
    // After `first`, `a` starts while nothing else of the run is in flight
    // (the run's own task polls such an attempt) and `b` beside it (in a
    // task of its own): each waits for the other, so the run ends only if
    // both make progress at the same time, whichever way each is run.
    on_both_runtimes(|| async {
        let to_b = Arc::new(tokio::sync::Notify::new());
        let to_a = Arc::new(tokio::sync::Notify::new());
        let (ta, fa) = (to_b.clone(), to_a.clone());
        let (tb, fb) = (to_a, to_b);
        let ex = Executor::builder()
            .action("ping", move |_i: ActionInput| {
                let (tell, hear) = (ta.clone(), fa.clone());
                async move {
                    tell.notify_one();
                    hear.notified().await;
                    Ok(json!("a heard b"))
                }
            })
            .action("pong", move |_i: ActionInput| {
                let (tell, hear) = (tb.clone(), fb.clone());
                async move {
                    hear.notified().await;
                    tell.notify_one();
                    Ok(json!("b heard a"))
                }
            })
            .build();
        let p = common::plan(
            &ex,
            "tasks:\n  first: {action: core.noop, next: [{do: [a, b]}]}\n  a: {action: ping}\n  b: {action: pong}\n",
        );
        for _ in 0..3 {
            let out =
                tokio::time::timeout(Duration::from_secs(5), ex.start(&p, json!({})).unwrap())
                    .await
                    .expect("both tasks ran at the same time")
                    .unwrap();
            assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
            assert_eq!(common::result(&out, "a"), json!("a heard b"));
            assert_eq!(common::result(&out, "b"), json!("b heard a"));
        }
    });
}

#[tokio::test]
async fn parallel_actions_polled_by_the_run_on_current_thread_survive_an_abort_and_the_next_runs() {
    // On current_thread the run's own task polls all its plain attempts,
    // in a set the executor keeps for its next run: an abort drops them all
    // (each action's future, promptly), and later runs on the executor,
    // which take the set, run their parallel tasks to their ends in any
    // order of wakes.
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    let ex = Executor::builder()
        .action("nap", move |i: ActionInput| {
            let guard = CountDrop(d.clone());
            let ms = i.input["ms"].as_u64().unwrap_or(0);
            async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(json!(ms))
            }
        })
        .build();
    let long = common::plan(
        &ex,
        "tasks:\n  a: {action: nap, input: {ms: 3600000}}\n  b: {action: nap, input: {ms: 3600000}}\n  c: {action: nap, input: {ms: 3600000}}\n",
    );
    let run = ex.start(&long, json!({})).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    aborts_its_one_task_promptly(run).await;
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        3,
        "each aborted action's future is dropped"
    );
    // Wakes in the reverse order of the starts, then all at once.
    let short = common::plan(
        &ex,
        "tasks:\n  a: {action: nap, input: {ms: 30}, next: [{do: d}]}\n  b: {action: nap, input: {ms: 20}, next: [{do: d}]}\n  c: {action: nap, input: {ms: 10}, next: [{do: d}]}\n  d: {join: all, action: nap, input: {ms: 0}}\n",
    );
    for _ in 0..3 {
        let out =
            tokio::time::timeout(Duration::from_secs(5), ex.start(&short, json!({})).unwrap())
                .await
                .expect("the run ends")
                .unwrap();
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        for (task, ms) in [("a", 30), ("b", 20), ("c", 10), ("d", 0)] {
            assert_eq!(common::result(&out, task), json!(ms));
        }
    }
}

/// Counts its drop.
struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn an_action_that_blocks_its_worker_holds_back_neither_its_siblings_nor_its_run() {
    // On a multi_thread runtime, after `first` one of `a`, `b`, `c` is
    // polled by the run's task and the other two are spawned on the same
    // worker, one of which blocks that worker's thread until `d` (after
    // the two others) has run. After spawning, the run's task waits behind
    // the attempts it spawned on its worker's queue: the other worker must
    // take it and the free sibling there, or `d` never starts and the
    // blocked action gives up after 10 s. Both places in the worker's
    // queue are tried for the blocking one (tokio's LIFO slot, which no
    // other worker can take, holds the last spawned).
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for blocked in ["b", "c"] {
        for _ in 0..5 {
            rt.block_on(async {
                let released = Arc::new(AtomicBool::new(false));
                let (r, w) = (released.clone(), released.clone());
                let ex = Executor::builder()
                    .action("block", move |_i: ActionInput| {
                        let r = r.clone();
                        async move {
                            let until = Instant::now() + Duration::from_secs(10);
                            while !r.load(Ordering::SeqCst) && Instant::now() < until {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            Ok(json!(if r.load(Ordering::SeqCst) {
                                "released"
                            } else {
                                "gave up"
                            }))
                        }
                    })
                    .action("release", move |_i: ActionInput| {
                        let w = w.clone();
                        async move {
                            w.store(true, Ordering::SeqCst);
                            Ok(json!("done"))
                        }
                    })
                    .build();
                let free = if blocked == "b" { "c" } else { "b" };
                let yaml = format!(
                    "tasks:\n  first: {{action: core.noop, next: [{{do: [a, b, c]}}]}}\n  \
                     a: {{action: core.noop, next: [{{do: d}}]}}\n  \
                     {blocked}: {{action: block}}\n  \
                     {free}: {{action: core.noop, next: [{{do: d}}]}}\n  \
                     d: {{join: all, action: release}}\n"
                );
                let p = common::plan(&ex, &yaml);
                let out =
                    tokio::time::timeout(Duration::from_secs(20), ex.start(&p, json!({})).unwrap())
                        .await
                        .expect("the run ends")
                        .unwrap();
                assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
                assert_eq!(
                    common::result(&out, blocked),
                    json!("released"),
                    "`d` ran while `{blocked}` blocked its worker"
                );
            });
        }
    }
}

#[test]
fn spawn_every_attempt_keeps_a_blocking_action_from_holding_back_its_runs_commands() {
    // A lone attempt is polled by its run's task, so an action that blocks
    // its thread holds back the run's commands until it yields (the
    // documented cost of not spawning it); with `spawn_every_attempt` the
    // run's task is free on the other worker and takes a cancel at once.
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for spawn in [false, true] {
        rt.block_on(async {
            let release = Arc::new(AtomicBool::new(false));
            let started = Arc::new(AtomicBool::new(false));
            let (r, s) = (release.clone(), started.clone());
            let mut builder = Executor::builder().action("block", move |_i: ActionInput| {
                let (r, s) = (r.clone(), s.clone());
                async move {
                    s.store(true, Ordering::SeqCst);
                    let until = Instant::now() + Duration::from_secs(10);
                    while !r.load(Ordering::SeqCst) && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok(json!("unblocked"))
                }
            });
            if spawn {
                builder = builder.spawn_every_attempt();
            }
            let ex = builder.build();
            let p = common::plan(&ex, "tasks:\n  a: {action: block}\n");
            let run = ex.start(&p, json!({})).unwrap();
            let handle = run.handle();
            while !started.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            handle.cancel();
            let wait = Duration::from_millis(if spawn { 5_000 } else { 300 });
            let deadline = Instant::now() + wait;
            while handle.status() == RunStatus::Running && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let seen = handle.status();
            release.store(true, Ordering::SeqCst);
            let out = tokio::time::timeout(Duration::from_secs(10), run)
                .await
                .expect("the run ends once its action returns")
                .unwrap();
            if spawn {
                assert_eq!(
                    seen,
                    RunStatus::Canceling,
                    "spawned: the cancel is taken at once"
                );
            } else {
                assert_eq!(
                    seen,
                    RunStatus::Running,
                    "polled by the run: the cancel waits"
                );
            }
            assert_eq!(out.status, RunStatus::Canceled, "{:?}", out.errors);
            assert_eq!(common::result(&out, "a"), json!("unblocked"));
        });
    }
}
