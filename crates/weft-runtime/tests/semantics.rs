//! The workflow semantics of DESIGN.md, one test (or a few) per rule,
//! through the public API.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{names, plan, result, run};
use serde_json::{json, Value};
use weft_core::TaskStatus;
use weft_runtime::{ActionError, ActionInput, Executor, RunStatus};

/// An executor with `rec` (records its `name` input in order and returns
/// it) and `boom` (fails with its `message`).
fn recorder() -> (Executor, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let ex = Executor::builder()
        .action("rec", move |input: ActionInput| {
            let l = l.clone();
            async move {
                let name = input.get("name").cloned().unwrap_or(Value::Null);
                l.lock()
                    .unwrap()
                    .push(name.as_str().unwrap_or("?").to_owned());
                Ok(name)
            }
        })
        .action("boom", |input: ActionInput| async move {
            let msg = input
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("boom");
            Err(ActionError::new(msg))
        })
        .build();
    (ex, log)
}

#[tokio::test]
async fn start_tasks_are_those_no_transition_targets() {
    let (ex, log) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  a: {action: rec, input: {name: a}, next: [{do: c}]}
  b: {action: rec, input: {name: b}}
  c: {action: rec, input: {name: c}}
"#,
    );
    let starts: Vec<&str> = p.starts().iter().map(|&t| &*p.task(t).name).collect();
    assert_eq!(starts, ["a", "b"]);
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let mut seen = log.lock().unwrap().clone();
    assert_eq!(seen.last().map(String::as_str), Some("c"));
    seen.sort();
    assert_eq!(seen, ["a", "b", "c"]);
}

#[tokio::test]
async fn chain_runs_in_order_and_each_task_once() {
    let (ex, log) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  one: {action: rec, input: {name: one}, next: [{do: two}]}
  two: {action: rec, input: {name: two}, next: [{do: [three]}]}
  three: {action: rec, input: {name: three}}
"#,
    );
    let out = run(&ex, &p, json!(null)).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(*log.lock().unwrap(), ["one", "two", "three"]);
    assert_eq!(names(&out), ["one", "two", "three"]);
    assert!(out
        .tasks
        .iter()
        .all(|t| t.attempts == 1 && t.status == TaskStatus::Succeeded));
    assert_eq!(out.stats.tasks_run, 3);
    assert_eq!(out.stats.actions_run, 3);
}

#[tokio::test]
async fn next_is_ordered_and_every_matching_transition_is_taken() {
    let (ex, _) = recorder();
    let p = plan(
        &ex,
        r#"
input: [n]
tasks:
  check:
    action: rec
    input: {name: check}
    next:
      - when: "{{ parameters.n > 10 }}"
        publish: [{size: big}]
        do: big
      - when: "{{ parameters.n > 0 }}"
        publish:
          - first: "{{ parameters.n }}"
          - second: "{{ workflow.first * 2 }}"
        do: "positive, log"
      - when: "{{ parameters.n < 0 }}"
        do: negative
  big: {action: rec, input: {name: big}}
  positive: {action: rec, input: {name: "{{ workflow.second }}"}}
  negative: {action: rec, input: {name: negative}}
  log: {action: rec, input: {name: log}}
output:
  - second: "{{ workflow.second }}"
"#,
    );
    let out = run(&ex, &p, json!({"n": 5})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(names(&out), ["check", "positive", "log"]);
    // The second publish saw the first.
    assert_eq!(result(&out, "positive"), json!(10));
    assert_eq!(out.output, json!({"second": 10}));

    let out = run(&ex, &p, json!({"n": 50})).await;
    assert_eq!(names(&out), ["check", "big", "positive", "log"]);
}

#[tokio::test]
async fn every_when_sees_the_context_as_the_task_left_it() {
    let ex = Executor::new();
    // The first transition's publish would make the second `when` true if
    // conditions were evaluated after publishing.
    let p = plan(
        &ex,
        r#"
vars: [{n: 0}]
tasks:
  a:
    action: core.noop
    next:
      - when: "{{ workflow.n == 0 }}"
        publish: [{n: 1}]
        do: b
      - when: "{{ workflow.n == 1 }}"
        do: c
  b: {action: core.echo, input: {message: "{{ workflow.n }}"}}
  c: {action: core.noop}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(names(&out), ["a", "b"]);
    assert_eq!(result(&out, "b"), json!({"message": 1}));
}

#[tokio::test]
async fn transition_without_when_runs_on_success_and_on_failure() {
    let (ex, _) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  bad: {action: boom, next: [{do: after}]}
  after: {action: rec, input: {name: "{{ task_status('bad') }}"}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    // The failure was handled by the transition, so the run succeeds.
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(result(&out, "after"), json!("failed"));
}

#[tokio::test]
async fn engine_command_fail_fails_the_run_naming_the_task() {
    let (ex, log) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  a:
    action: rec
    input: {name: a}
    next:
      - when: "{{ succeeded() }}"
        do: [fail]
  b: {action: rec, input: {name: b}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].task.as_deref(), Some("a"));
    assert!(
        out.errors[0].message.contains("`fail`"),
        "{}",
        out.errors[0].message
    );
    // `a` itself succeeded; the workflow failed by command.
    assert_eq!(
        out.tasks.iter().find(|t| &*t.name == "a").unwrap().status,
        TaskStatus::Succeeded
    );
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn targets_beside_fail_still_start() {
    let (ex, log) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  a:
    action: boom
    next:
      - when: "{{ failed() }}"
        do: [notify, fail]
  notify: {action: rec, input: {name: notify}, next: [{do: never}]}
  never: {action: rec, input: {name: never}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(*log.lock().unwrap(), ["notify"]);
    assert_eq!(names(&out), ["a", "notify"]);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].task.as_deref(), Some("a"));
    assert_eq!(out.errors[0].message, "transitioned to `fail` after: boom");
}

#[tokio::test]
async fn noop_remediates_a_failure_and_continue_lets_it_stand() {
    // Orquesta (docs: "Task Transition" — engine commands; conducting tests
    // test_workflow_conductor_error_handling): `noop` or a task in `do`
    // remediates the failure; `continue`, or a transition without `do`,
    // processes its publish and the failure still fails the workflow.
    let (ex, _) = recorder();
    for (next, status) in [
        ("{when: '{{ failed() }}', do: noop}", RunStatus::Succeeded),
        ("{when: '{{ failed() }}', do: continue}", RunStatus::Failed),
        (
            "{when: '{{ failed() }}', publish: [{seen: '{{ result().error }}'}]}",
            RunStatus::Failed,
        ),
        (
            "{when: '{{ failed() }}', publish: [{seen: '{{ result().error }}'}], do: [noop, continue]}",
            RunStatus::Succeeded,
        ),
    ] {
        let p = plan(
            &ex,
            &format!("tasks:\n  a:\n    action: boom\n    next: [{next}]\noutput: [{{seen: '{{{{ ctx().seen | default(\"-\") }}}}'}}]\n"),
        );
        let out = run(&ex, &p, json!({})).await;
        assert_eq!(out.status, status, "{next}: {:?}", out.errors);
        assert_eq!(out.tasks[0].status, TaskStatus::Failed);
        assert_eq!(out.tasks[0].error.as_deref(), Some("boom"));
        if status == RunStatus::Failed {
            // The failure is the task's own, named once.
            assert_eq!(out.errors.len(), 1, "{next}: {:?}", out.errors);
            assert_eq!(out.errors[0].task.as_deref(), Some("a"));
        }
        if next.contains("publish") {
            // The publish ran, and the output was rendered all the same.
            assert_eq!(out.output["seen"], json!("boom"), "{next}");
        }
    }
}

#[tokio::test]
async fn failed_items_fail_the_workflow_unless_remediated() {
    let ex = Executor::new();
    for (next, status) in [
        ("[]", RunStatus::Failed),
        (
            "[{when: '{{ failed() }}', do: continue}]",
            RunStatus::Failed,
        ),
        ("[{when: '{{ failed() }}', do: noop}]", RunStatus::Succeeded),
    ] {
        let p = plan(
            &ex,
            &format!("tasks:\n  t:\n    with: '{{{{ [1, 0, 2] }}}}'\n    action: core.echo\n    input: {{message: '{{{{ 10 // item }}}}'}}\n    next: {next}\n"),
        );
        let out = run(&ex, &p, json!({})).await;
        assert_eq!(out.status, status, "{next}: {:?}", out.errors);
        assert_eq!(out.tasks[0].status, TaskStatus::Failed);
    }
}

#[tokio::test]
async fn unhandled_failure_fails_the_run_with_the_task_and_message() {
    let (ex, _) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  a:
    action: boom
    input: {message: disk full}
    next:
      - when: "{{ succeeded() }}"
        do: b
  b: {action: rec, input: {name: b}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(names(&out), ["a"]);
    assert_eq!(out.errors[0].task.as_deref(), Some("a"));
    assert_eq!(out.errors[0].message, "disk full");
    assert_eq!(result(&out, "a"), json!({"error": "disk full"}));
}

#[tokio::test]
async fn join_all_waits_for_every_branch_and_runs_once() {
    let (ex, log) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  start: {action: rec, input: {name: start}, next: [{do: [left, right, mid]}]}
  left: {action: rec, input: {name: left}, next: [{do: end}]}
  mid: {action: core.sleep, input: {seconds: 0.05}, next: [{do: end}]}
  right: {action: rec, input: {name: right}, next: [{do: end}]}
  end: {join: all, action: rec, input: {name: end}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.task("end").count(), 1);
    assert_eq!(log.lock().unwrap().last().map(String::as_str), Some("end"));
    // `end` started after the slowest branch ended.
    let mid_end = out.task("mid").next().unwrap().ended_at.unwrap();
    let end_start = out.task("end").next().unwrap().started_at.unwrap();
    assert!(end_start >= mid_end);
}

#[tokio::test]
async fn join_n_fires_after_n_branches_once() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
tasks:
  s: {action: core.noop, next: [{do: [fast1, fast2, slow]}]}
  fast1: {action: core.noop, next: [{do: j}]}
  fast2: {action: core.noop, next: [{do: j}]}
  slow: {action: core.sleep, input: {seconds: 0.2}, next: [{do: j}]}
  j: {join: 2, action: core.echo, input: {message: "{{ task_status('slow') }}"}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.task("j").count(), 1);
    // `j` ran before `slow` finished.
    assert_eq!(
        result(&out, "j"),
        json!({"message": "running"})
            .get("x")
            .cloned()
            .unwrap_or(json!({"message": null}))
    );
}

#[tokio::test]
async fn without_join_each_inbound_transition_starts_an_instance() {
    let (ex, log) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  a: {action: rec, input: {name: a}, next: [{do: c}]}
  b: {action: rec, input: {name: b}, next: [{do: c}]}
  c: {action: rec, input: {name: c}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.task("c").count(), 2);
    assert_eq!(log.lock().unwrap().iter().filter(|n| *n == "c").count(), 2);
}

#[tokio::test]
async fn loops_run_until_their_condition_and_runaway_loops_hit_the_cap() {
    let ex = Executor::builder().max_task_instances(50).build();
    let p = plan(
        &ex,
        r#"
vars: [{count: 0}]
tasks:
  init: {action: core.noop, next: [{do: step}]}
  step:
    action: core.echo
    input: {message: "{{ workflow.count }}"}
    next:
      - when: "{{ workflow.count < 4 }}"
        publish: [{count: "{{ workflow.count + 1 }}"}]
        do: step
output: [{count: "{{ workflow.count }}"}]
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.task("step").count(), 5);
    assert_eq!(out.output, json!({"count": 4}));

    let runaway = plan(
        &ex,
        r#"
tasks:
  init: {action: core.noop, next: [{do: spin}]}
  spin: {action: core.noop, next: [{do: spin}]}
"#,
    );
    let out = run(&ex, &runaway, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.tasks.len(), 50);
    assert_eq!(out.errors[0].task.as_deref(), Some("spin"));
    assert!(
        out.errors[0].message.contains("limit is 50"),
        "{}",
        out.errors[0].message
    );
}

#[tokio::test]
async fn unsatisfiable_join_fails_naming_join_and_branch() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
tasks:
  s: {action: core.noop, next: [{do: [a, b]}]}
  a: {action: core.noop, next: [{do: j}]}
  b:
    action: core.noop
    next:
      - when: "{{ failed() }}"
        do: j
  j: {join: all, action: core.noop}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.task("j").count(), 0);
    let e = &out.errors[0];
    assert_eq!(e.task.as_deref(), Some("j"));
    assert!(
        e.message.contains("`b`") && e.message.contains("never"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn join_waiting_on_a_branch_that_never_runs_fails_at_the_end() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
tasks:
  s:
    action: core.noop
    next:
      - do: a
      - when: "{{ false }}"
        do: b
  a: {action: core.noop, next: [{do: j}]}
  b: {action: core.noop, next: [{do: j}]}
  j: {join: all, action: core.noop}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        out.errors[0].message.contains("`b` never arrived"),
        "{}",
        out.errors[0].message
    );
}

#[tokio::test]
async fn fail_fast_lets_in_flight_tasks_finish_and_starts_nothing_new() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
tasks:
  bad: {action: core.fail, input: {message: broken}}
  slow: {action: core.sleep, input: {seconds: 0.1}, next: [{do: after_slow}]}
  after_slow: {action: core.noop}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        out.task("slow").next().unwrap().status,
        TaskStatus::Succeeded
    );
    assert_eq!(out.task("after_slow").count(), 0);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].message, "broken");
}

#[tokio::test]
async fn handled_failure_lets_the_run_succeed() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
tasks:
  try:
    action: core.fail
    input: {message: nope}
    next:
      - when: "{{ failed() }}"
        publish: [{why: "{{ result().error }}"}]
        do: recover
  recover: {action: core.echo, input: {message: "{{ workflow.why }}"}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(result(&out, "recover"), json!({"message": "nope"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_items_keeps_item_order_and_caps_concurrency() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, pk) = (running.clone(), peak.clone());
    let ex = Executor::builder()
        .action("work", move |input: ActionInput| {
            let (r, pk) = (r.clone(), pk.clone());
            async move {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                pk.fetch_max(now, Ordering::SeqCst);
                let n = input.get("n").and_then(Value::as_u64).unwrap_or(0);
                // Later items finish sooner, so completion order is reversed.
                tokio::time::sleep(Duration::from_millis(20 - n.min(19))).await;
                r.fetch_sub(1, Ordering::SeqCst);
                Ok(json!(n * n))
            }
        })
        .build();
    let p = plan(
        &ex,
        r#"
tasks:
  sq:
    with: {items: "{{ range(20) | list }}", concurrency: 3}
    action: work
    input: {n: "{{ item }}", i: "{{ index }}"}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    let expected: Vec<u64> = (0..20).map(|n| n * n).collect();
    assert_eq!(result(&out, "sq"), json!(expected));
    assert_eq!(out.tasks[0].items, Some(20));
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn with_items_named_and_zipped() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
input: [hosts, ports]
tasks:
  one:
    with: "host in {{ parameters.hosts }}"
    action: core.echo
    input: {message: "{{ item.host }}/{{ item('host') }}"}
  two:
    with: "h, p in {{ zip(parameters.hosts, parameters.ports) }}"
    action: core.echo
    input: {message: "{{ item.h }}:{{ item.p }}"}
"#,
    );
    let out = run(&ex, &p, json!({"hosts": ["a", "b"], "ports": [1, 2]})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        result(&out, "one"),
        json!([{"message": "a/a"}, {"message": "b/b"}])
    );
    assert_eq!(
        result(&out, "two"),
        json!([{"message": "a:1"}, {"message": "b:2"}])
    );
}

#[tokio::test]
async fn a_failed_item_fails_the_task_after_in_flight_items_finish() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let ex = Executor::builder()
        .action("item", move |input: ActionInput| {
            let d = d.clone();
            async move {
                let n = input.get("n").and_then(Value::as_u64).unwrap_or(0);
                if n == 1 {
                    return Err(ActionError::new("item one is bad"));
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
                d.fetch_add(1, Ordering::SeqCst);
                Ok(json!(n))
            }
        })
        .build();
    let p = plan(
        &ex,
        r#"
tasks:
  each:
    with: {items: "{{ range(10) | list }}", concurrency: 3}
    action: item
    input: {n: "{{ item }}"}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let rec = &out.tasks[0];
    assert_eq!(rec.status, TaskStatus::Failed);
    assert!(rec
        .error
        .as_deref()
        .unwrap()
        .contains("item 1: item one is bad"));
    // Items 0 and 2 were in flight and finished; nothing after started.
    assert_eq!(done.load(Ordering::SeqCst), 2);
    let res = rec.result.as_deref().unwrap();
    assert_eq!(res[0], json!(0));
    assert_eq!(res[2], json!(2));
    assert_eq!(res[5], Value::Null);
}

#[tokio::test]
async fn with_items_over_an_empty_list_succeeds_with_an_empty_result() {
    let ex = Executor::new();
    let p = plan(&ex, "tasks:\n  e:\n    with: \"{{ [] }}\"\n    action: core.noop\n    next: [{do: f}]\n  f: {action: core.noop}\n");
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(result(&out, "e"), json!([]));
    assert_eq!(names(&out), ["e", "f"]);
}

#[tokio::test(start_paused = true)]
async fn retry_counts_attempts_and_backs_off() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let ex = Executor::builder()
        .action("flaky", move |input: ActionInput| {
            let c = c.clone();
            async move {
                c.lock().unwrap().push(tokio::time::Instant::now());
                if input.attempt < 4 {
                    Err(ActionError::new(format!(
                        "attempt {} failed",
                        input.attempt
                    )))
                } else {
                    Ok(json!(input.attempt))
                }
            }
        })
        .build();
    let p = plan(
        &ex,
        r#"
tasks:
  t:
    action: flaky
    retry: {count: 5, delay: 1, backoff: exponential, max_delay: 3}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.tasks[0].attempts, 4);
    assert_eq!(result(&out, "t"), json!(4));
    let times = calls.lock().unwrap().clone();
    let gaps: Vec<u64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect();
    // 1 s, 2 s, then 4 s capped at 3 s.
    assert_eq!(gaps, [1000, 2000, 3000]);
}

#[tokio::test]
async fn retry_gives_up_after_count_and_honours_when() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ex = Executor::builder()
        .action("always_bad", move |_input: ActionInput| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err(ActionError::with_result("bad", json!({"code": 7})))
            }
        })
        .build();
    let p = plan(
        &ex,
        "tasks:\n  t:\n    action: always_bad\n    retry: {count: 2}\n",
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.tasks[0].attempts, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(result(&out, "t"), json!({"code": 7}));

    calls.store(0, Ordering::SeqCst);
    let p = plan(&ex, "tasks:\n  t:\n    action: always_bad\n    retry: {count: 5, when: \"{{ result().code != 7 }}\"}\n");
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.tasks[0].attempts, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn timeout_sets_timed_out_and_can_be_handled() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
tasks:
  slow:
    action: core.sleep
    input: {seconds: 60}
    timeout: 0.5
    next:
      - when: "{{ timed_out() }}"
        publish: [{msg: "{{ result().error }}"}]
        do: handle
  handle: {action: core.echo, input: {message: "{{ workflow.msg }}"}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.tasks[0].status, TaskStatus::TimedOut);
    assert_eq!(
        result(&out, "handle"),
        json!({"message": "timed out after 0.5s"})
    );
}

#[tokio::test(start_paused = true)]
async fn delay_waits_before_the_action() {
    let ex = Executor::new();
    let p = plan(&ex, "tasks:\n  a: {action: core.noop, delay: 2.5}\n");
    let t0 = tokio::time::Instant::now();
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert!(t0.elapsed() >= Duration::from_millis(2500));
}

#[tokio::test]
async fn output_is_evaluated_in_order_at_the_end() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
input: [{who: world}]
vars: {greeting: hello}
tasks:
  a: {action: core.echo, input: {message: "{{ workflow.greeting }}, {{ parameters.who }}"}}
output:
  - text: "{{ task.a.message }}"
  - length: "{{ task.a.message | length }}"
  - whole: "{{ task.a }}"
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(
        out.output,
        json!({"text": "hello, world", "length": 12, "whole": {"message": "hello, world"}})
    );
    let keys: Vec<&String> = out.output.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["text", "length", "whole"]);
}

#[tokio::test]
async fn a_panicking_action_fails_its_task_and_the_run_goes_on() {
    let ex = Executor::builder()
        .action("panics", |_input: ActionInput| async move {
            if true {
                panic!("kaboom");
            }
            Ok(Value::Null)
        })
        .build();
    let p = plan(
        &ex,
        r#"
tasks:
  p:
    action: panics
    next:
      - when: "{{ failed() }}"
        publish: [{err: "{{ result().error }}"}]
        do: after
  after: {action: core.echo, input: {message: "{{ workflow.err }}"}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.tasks[0].status, TaskStatus::Failed);
    assert_eq!(
        result(&out, "after"),
        json!({"message": "action panicked: kaboom"})
    );
}

#[tokio::test]
async fn a_runtime_expression_error_fails_that_task_with_the_field() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
tasks:
  a:
    action: core.echo
    input: {message: "{{ workflow.nothing_here }}"}
    next:
      - when: "{{ failed() }}"
        do: b
  b: {action: core.noop}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    let a = out.task("a").next().unwrap();
    assert_eq!(a.status, TaskStatus::Failed);
    // The name, the field and where the field is written (the task is the
    // record's own).
    assert_eq!(
        a.error.as_deref(),
        Some(
            "input.message at line 5:22: `workflow.nothing_here` is undefined: check the name, \
             or test it with `is defined` or `| default(...)`"
        )
    );
    assert_eq!(out.task("b").count(), 1);
    assert_eq!(out.status, RunStatus::Succeeded);

    // Unhandled, the same kind of error fails the run, naming the task.
    let p = plan(
        &ex,
        "tasks:\n  c: {action: core.echo, input: {message: \"{{ task.nope.x }}\"}}\n",
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.errors[0].task.as_deref(), Some("c"));
    assert!(
        out.errors[0].message.contains("task.nope"),
        "{}",
        out.errors[0].message
    );
}

#[tokio::test]
async fn transition_expression_error_fails_the_run() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        "tasks:\n  a:\n    action: core.noop\n    next:\n      - when: \"{{ undefined_thing > 1 }}\"\n        do: b\n  b: {action: core.noop}\n",
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.errors[0].task.as_deref(), Some("a"));
    assert!(
        out.errors[0].message.starts_with("next[0].when"),
        "{}",
        out.errors[0].message
    );
    assert!(
        out.errors[0].message.contains("undefined_thing"),
        "{}",
        out.errors[0].message
    );
}

#[tokio::test]
async fn task_without_action_is_a_join_point() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        "tasks:\n  a: {action: core.noop, next: [{do: mid}]}\n  b: {action: core.noop, next: [{do: mid}]}\n  mid: {join: all, next: [{do: z}]}\n  z: {action: core.noop}\n",
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(out.task("mid").next().unwrap().attempts, 0);
    assert_eq!(out.task("z").count(), 1);
}

#[tokio::test]
async fn inputs_are_checked_and_defaults_applied() {
    let ex = Executor::new();
    let p = plan(
        &ex,
        "input:\n  - host\n  - port: 22\ntasks:\n  a: {action: core.echo, input: {message: \"{{ parameters.host }}:{{ parameters.port }}\"}}\n",
    );
    let err = ex.start(&p, json!({})).unwrap_err();
    assert!(
        err.to_string().contains("missing required input `host`"),
        "{err}"
    );
    let err = ex.start(&p, json!({"host": "h", "colour": 1})).unwrap_err();
    assert!(err.to_string().contains("unknown input `colour`"), "{err}");
    let out = run(&ex, &p, json!({"host": "h"})).await;
    assert_eq!(result(&out, "a"), json!({"message": "h:22"}));
}

#[test]
fn start_outside_a_runtime_is_an_error_not_a_panic() {
    let ex = Executor::new();
    let p = plan(&ex, "tasks:\n  a: {action: core.noop}\n");
    let err = ex.start(&p, json!({})).unwrap_err();
    assert!(
        matches!(err, weft_runtime::StartError::NoRuntime),
        "{err:?}"
    );
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Executor>();
    check::<weft_runtime::RunOutcome>();
    check::<weft_runtime::Event>();
    check::<ActionInput>();
    check::<ActionError>();
    fn send<T: Send>() {}
    send::<weft_runtime::Run>();
    send::<weft_runtime::EventStream>();
}

/// An executor whose `meet` action waits until `n` attempts are waiting at
/// once: a run with `n` such attempts ends only if all of them are in
/// flight together.
fn meeting(n: usize) -> (Executor, Arc<AtomicUsize>) {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ex = Executor::builder()
        .action("meet", move |input: ActionInput| {
            let barrier = barrier.clone();
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                barrier.wait().await;
                Ok(input.get("n").cloned().unwrap_or(Value::Null))
            }
        })
        .build();
    (ex, calls)
}

// The scheduler yields after a few hundred spawns so that a huge turn does
// not hold every spawned task at once. That must not cap what is in
// flight: every ready task still starts without waiting for others to end.
#[tokio::test]
async fn thousands_of_ready_tasks_are_all_in_flight_together() {
    let n = 3000;
    let (ex, calls) = meeting(n);
    let mut yaml = String::from("tasks:\n");
    for i in 0..n {
        yaml.push_str(&format!("  t{i}: {{action: meet, input: {{n: {i}}}}}\n"));
    }
    let p = plan(&ex, &yaml);
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(calls.load(Ordering::SeqCst), n);
    assert_eq!(out.stats.actions_run, n);
    for (i, t) in out.tasks.iter().enumerate() {
        assert_eq!(t.result.as_deref(), Some(&json!(i)), "{}", t.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_items_are_all_in_flight_together_and_keep_their_order() {
    let n = 5000;
    let (ex, calls) = meeting(n);
    let p = plan(
        &ex,
        r#"
input: [items]
tasks:
  fan:
    action: meet
    with: "{{ parameters.items }}"
    input: {n: "{{ item }}"}
    next: [{do: after}]
  after: {action: core.noop}
"#,
    );
    let items: Vec<usize> = (0..n).collect();
    let out = run(&ex, &p, json!({ "items": items })).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(calls.load(Ordering::SeqCst), n, "each item runs once");
    assert_eq!(result(&out, "fan"), json!(items));
    assert_eq!(names(&out), ["fan", "after"]);
}

// Lists longer than one turn's spawn budget (512) continue in later turns;
// the instance must still finish exactly once, with its failure.
#[tokio::test]
async fn a_long_item_list_that_fails_finishes_once() {
    let (ex, _) = recorder();
    let handled = plan(
        &ex,
        r#"
tasks:
  a:
    action: boom
    with: "{{ range(600) | list }}"
    input: {message: "item {{ item }} broke"}
    next: [{when: "{{ failed() }}", do: handler}]
  handler: {action: core.noop}
"#,
    );
    let out = run(&ex, &handled, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(names(&out), ["a", "handler"]);
    let a = out.task("a").next().unwrap();
    assert_eq!(a.status, TaskStatus::Failed);
    assert_eq!(a.items, Some(600));
    assert!(
        a.error.as_deref().is_some_and(|e| e.contains("broke")),
        "{:?}",
        a.error
    );

    let unhandled = plan(
        &ex,
        r#"
tasks:
  a:
    action: boom
    with: "{{ range(600) | list }}"
"#,
    );
    let out = run(&ex, &unhandled, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.tasks.len(), 1);
    assert_eq!(out.tasks[0].status, TaskStatus::Failed);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
}

#[tokio::test]
async fn long_item_lists_side_by_side_each_finish_once() {
    let (ex, log) = recorder();
    let p = plan(
        &ex,
        r#"
tasks:
  a:
    action: core.noop
    with: "{{ range(600) | list }}"
    next: [{do: after}]
  b:
    action: core.noop
    with: "{{ range(600) | list }}"
  after: {action: rec, input: {name: after}}
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(*log.lock().unwrap(), ["after"]);
    let mut seen = names(&out);
    seen.sort();
    assert_eq!(seen, ["a", "after", "b"]);
    assert_eq!(out.stats.actions_run, 1201);
}

// `do: [notify, fail]` starts `notify` in full even when its items need
// more than one turn, and even when none of them has finished by the time
// `fail` is applied (they all wait for each other here).
#[tokio::test]
async fn fail_beside_a_long_item_list_lets_every_item_start() {
    let (ex, calls) = meeting(1000);
    let p = plan(
        &ex,
        r#"
tasks:
  start: {next: [{do: [notify_all, fail]}]}
  notify_all:
    action: meet
    with: "{{ range(1000) | list }}"
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(calls.load(Ordering::SeqCst), 1000);
    let notify = out.task("notify_all").next().unwrap();
    assert_eq!(notify.status, TaskStatus::Succeeded, "{:?}", notify.error);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert_eq!(out.errors[0].task.as_deref(), Some("start"));
}

#[tokio::test]
async fn output_entries_see_the_ones_before_them() {
    // Orquesta renders `output` with a rolling context: each entry sees the
    // entries before it through ctx().
    let ex = Executor::new();
    let p = plan(
        &ex,
        r#"
vars: [{n: 2}]
tasks:
  t: {action: core.noop}
output:
  - a: "{{ ctx('n') * 10 }}"
  - b: "{{ ctx('a') + 1 }}"
  - n: "{{ ctx().b * 2 }}"
  - c: "{{ ctx('n') }}"
"#,
    );
    let out = run(&ex, &p, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"a": 20, "b": 21, "n": 42, "c": 42}));
}

/// A workflow whose start task fans out to `n` branches `b0`..`b{n-1}`,
/// each going on to the join `j` (`join: <join>`); branch `decline` (if
/// any) goes on only when it fails, so it finishes without arriving.
fn wide_join(n: usize, join: &str, decline: Option<usize>) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("b{i}")).collect();
    let mut text = format!(
        "tasks:\n  s: {{action: core.noop, next: [{{do: [{}]}}]}}\n",
        names.join(", ")
    );
    for (i, name) in names.iter().enumerate() {
        if decline == Some(i) {
            text.push_str(&format!(
                "  {name}: {{action: core.noop, next: [{{when: \"{{{{ failed() }}}}\", do: j}}]}}\n"
            ));
        } else {
            text.push_str(&format!(
                "  {name}: {{action: core.noop, next: [{{do: j}}]}}\n"
            ));
        }
    }
    text.push_str(&format!("  j: {{join: {join}, action: core.noop}}\n"));
    text
}

/// Joins over more than 64 branches keep their branches in a set of
/// their own (up to 64 fit in two words): the same rules hold on both
/// sides of that line, for the last branch as for the first.
#[tokio::test]
async fn joins_wider_than_64_branches_follow_the_same_rules() {
    let ex = Executor::new();
    for n in [64, 65, 130] {
        let p = plan(&ex, &wide_join(n, "all", None));
        let out = run(&ex, &p, json!({})).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{n}: {:?}", out.errors);
        assert_eq!(out.task("j").count(), 1, "{n} branches");

        for decline in [0, n - 1] {
            let p = plan(&ex, &wide_join(n, "all", Some(decline)));
            let out = run(&ex, &p, json!({})).await;
            assert_eq!(out.status, RunStatus::Failed, "{n} branches, b{decline}");
            assert_eq!(out.task("j").count(), 0, "{n} branches, b{decline}");
            let e = &out.errors[0];
            assert_eq!(e.task.as_deref(), Some("j"));
            assert!(
                e.message.contains(&format!("`b{decline}`")) && e.message.contains("never"),
                "{n} branches, b{decline}: {}",
                e.message
            );
        }

        // A count join that one declined branch leaves reachable fires
        // once; one that needs every branch cannot.
        let p = plan(&ex, &wide_join(n, &(n - 1).to_string(), Some(n - 1)));
        let out = run(&ex, &p, json!({})).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{n}: {:?}", out.errors);
        assert_eq!(out.task("j").count(), 1, "{n} branches, join: {}", n - 1);
        let p = plan(&ex, &wide_join(n, &n.to_string(), Some(n - 1)));
        let out = run(&ex, &p, json!({})).await;
        assert_eq!(out.status, RunStatus::Failed, "{n} branches, join: {n}");
        assert_eq!(out.task("j").count(), 0, "{n} branches, join: {n}");
    }
}
