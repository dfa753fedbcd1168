//! Routes (Orquesta's splits): a task without `join` that several
//! transitions name starts a new route at each arrival; everything below
//! it runs per route, and joins collect branches within one route.
//!
//! Each case reproduces one of Orquesta's conducting tests
//! (`orquesta/tests/unit/conducting/native/test_workflow_split.py` and
//! `test_workflow_task_transition.py`, and the spec inspection test
//! `test_workflow_spec_validate.py::test_unreachable_task`): the workflow
//! has the fixture's shape, and the expected task sequence and route table
//! are the ones those tests assert. weft runs tasks concurrently, so the
//! sequence is compared as a multiset of (task, route); the route table,
//! which weft numbers in an order that depends only on the workflow, is
//! compared exactly.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use weft_core::{ErrorKind, Workflow};
use weft_runtime::{ActionError, ActionInput, EventKind, Executor, RunOptions, RunStatus};

/// `task: [targets]` lines to a workflow of `core.noop` tasks whose
/// transitions all say `when: succeeded()`; joins named in `joins`.
fn chain_workflow(edges: &[(&str, &[&str])], joins: &[&str]) -> String {
    let mut y = String::from("tasks:\n");
    for (task, targets) in edges {
        y.push_str(&format!("  {task}:\n    action: core.noop\n"));
        if joins.contains(task) {
            y.push_str("    join: all\n");
        }
        if !targets.is_empty() {
            y.push_str(&format!(
                "    next:\n      - when: '{{{{ succeeded() }}}}'\n        do: {}\n",
                targets.join(", ")
            ));
        }
    }
    y
}

/// `task__rN` as Orquesta's tests write a sequence entry.
fn entries(seq: &str) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = seq
        .split_whitespace()
        .map(|e| {
            let (t, r) = e.rsplit_once("__r").unwrap();
            (t.to_owned(), r.parse().unwrap())
        })
        .collect();
    v.sort();
    v
}

fn routes(table: &[&[&str]]) -> Vec<Vec<String>> {
    table
        .iter()
        .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

async fn check(ex: &Executor, yaml: &str, inputs: serde_json::Value, seq: &str, table: &[&[&str]]) {
    let plan = common::plan(ex, yaml);
    // Several times: route numbers must not depend on which task ends first.
    for _ in 0..5 {
        let out = common::run(ex, &plan, inputs.clone()).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        let mut got: Vec<(String, u32)> = out
            .tasks
            .iter()
            .map(|t| (t.name.to_string(), t.route))
            .collect();
        got.sort();
        assert_eq!(got, entries(seq));
        assert_eq!(out.routes, routes(table));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split() {
    // test_workflow_split.py::test_split (fixture split.yaml)
    let wf = chain_workflow(
        &[
            ("task1", &["task2", "task3"]),
            ("task2", &["task4"]),
            ("task3", &["task4"]),
            ("task4", &["task5", "task6"]),
            ("task5", &["task7"]),
            ("task6", &["task7"]),
            ("task7", &[]),
        ],
        &["task7"],
    );
    check(
        &Executor::new(),
        &wf,
        json!({}),
        "task1__r0 task2__r0 task3__r0 task4__r1 task4__r2 task5__r1 task5__r2 \
         task6__r1 task6__r2 task7__r1 task7__r2",
        &[&[], &["task2__t0"], &["task3__t0"]],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits() {
    // test_workflow_split.py::test_splits (fixture splits.yaml): task8 is
    // reached from task1 and, once per route, from the join task7.
    let wf = chain_workflow(
        &[
            ("task1", &["task2", "task3", "task8"]),
            ("task2", &["task4"]),
            ("task3", &["task4"]),
            ("task4", &["task5", "task6"]),
            ("task5", &["task7"]),
            ("task6", &["task7"]),
            ("task7", &["task8"]),
            ("task8", &[]),
        ],
        &["task7"],
    );
    check(
        &Executor::new(),
        &wf,
        json!({}),
        "task1__r0 task2__r0 task3__r0 task8__r1 task4__r2 task4__r3 task5__r2 task5__r3 \
         task6__r2 task6__r3 task7__r2 task7__r3 task8__r4 task8__r5",
        &[
            &[],
            &["task1__t0"],
            &["task2__t0"],
            &["task3__t0"],
            &["task2__t0", "task7__t0"],
            &["task3__t0", "task7__t0"],
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_nested() {
    // test_workflow_split.py::test_splits_nested: a second split below the
    // first makes four routes, and the join task10 runs once in each.
    let wf = chain_workflow(
        &[
            ("task1", &["task2", "task3"]),
            ("task2", &["task4"]),
            ("task3", &["task4"]),
            ("task4", &["task5", "task6"]),
            ("task5", &["task7"]),
            ("task6", &["task7"]),
            ("task7", &["task8", "task9"]),
            ("task8", &["task10"]),
            ("task9", &["task10"]),
            ("task10", &[]),
        ],
        &["task10"],
    );
    check(
        &Executor::new(),
        &wf,
        json!({}),
        "task1__r0 task2__r0 task3__r0 task4__r1 task4__r2 task5__r1 task5__r2 task6__r1 \
         task6__r2 task7__r3 task7__r4 task7__r5 task7__r6 task8__r3 task8__r4 task8__r5 \
         task8__r6 task9__r3 task9__r4 task9__r5 task9__r6 task10__r3 task10__r4 task10__r5 \
         task10__r6",
        &[
            &[],
            &["task2__t0"],
            &["task3__t0"],
            &["task2__t0", "task5__t0"],
            &["task3__t0", "task5__t0"],
            &["task2__t0", "task6__t0"],
            &["task3__t0", "task6__t0"],
        ],
    )
    .await;
}

const SPLITS_MIXED: &str = "
tasks:
  task1: {action: core.noop, next: [{when: '{{ succeeded() }}', do: task3}]}
  task2: {action: core.noop, next: [{when: '{{ succeeded() }}', do: task3}]}
  task3:
    action: ACTION
    next:
      - {when: '{{ succeeded() }}', do: task4}
      - {when: '{{ failed() }}', do: task4}
  task4: {action: core.noop, next: [{when: '{{ succeeded() }}', do: task5}]}
  task5: {action: core.noop}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_mixed() {
    // test_workflow_split.py::test_splits_mixed: task3 is a split task, and
    // task4 is one too (two transitions of task3 name it).
    check(
        &Executor::new(),
        &SPLITS_MIXED.replace("ACTION", "core.noop"),
        json!({}),
        "task1__r0 task2__r0 task3__r1 task3__r2 task4__r3 task4__r4 task5__r3 task5__r4",
        &[
            &[],
            &["task1__t0"],
            &["task2__t0"],
            &["task1__t0", "task3__t0"],
            &["task2__t0", "task3__t0"],
        ],
    )
    .await;
}

#[tokio::test]
async fn splits_mixed_alt_branch() {
    // test_workflow_split.py::test_splits_mixed_alt_branch: task3 fails in
    // the route of task2 and leaves through its second transition (key 1).
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ex = Executor::builder()
        .action("second_fails", move |input: ActionInput| {
            // task3's second run fails.
            let c = c.clone();
            async move {
                let _ = input;
                if c.fetch_add(1, Ordering::SeqCst) == 1 {
                    Err(ActionError::new("planned"))
                } else {
                    Ok(json!(null))
                }
            }
        })
        .build();
    // On a current_thread runtime with actions that return at once, task1's
    // branch reaches task3 first, as in the test's sequence.
    let plan = common::plan(&ex, &SPLITS_MIXED.replace("ACTION", "second_fails"));
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let mut got: Vec<(String, u32)> = out
        .tasks
        .iter()
        .map(|t| (t.name.to_string(), t.route))
        .collect();
    got.sort();
    assert_eq!(
        got,
        entries("task1__r0 task2__r0 task3__r1 task3__r2 task4__r3 task4__r4 task5__r3 task5__r4")
    );
    assert_eq!(
        out.routes,
        routes(&[
            &[],
            &["task1__t0"],
            &["task2__t0"],
            &["task1__t0", "task3__t0"],
            &["task2__t0", "task3__t1"],
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_transition() {
    // test_workflow_split.py::test_splits_transition: both transitions of
    // task3 lead to task4, so each run of task3 makes two routes.
    let wf = "
vars: [{a: true}, {b: true}]
tasks:
  task1: {action: core.noop, next: [{when: '{{ succeeded() }}', do: task3}]}
  task2: {action: core.noop, next: [{when: '{{ succeeded() }}', do: task3}]}
  task3:
    action: core.noop
    next:
      - {when: '{{ succeeded() and ctx(\"a\") }}', do: task4}
      - {when: '{{ succeeded() and ctx(\"b\") }}', do: task4}
  task4: {action: core.noop, next: [{when: '{{ succeeded() }}', do: 'task5, task6'}]}
  task5: {action: core.noop, next: [{when: '{{ succeeded() }}', do: task7}]}
  task6: {action: core.noop, next: [{when: '{{ succeeded() }}', do: task7}]}
  task7: {join: all, action: core.noop}
";
    check(
        &Executor::new(),
        wf,
        json!({}),
        "task1__r0 task2__r0 task3__r1 task3__r2 task4__r3 task4__r4 task4__r5 task4__r6 \
         task5__r3 task5__r4 task5__r5 task5__r6 task6__r3 task6__r4 task6__r5 task6__r6 \
         task7__r3 task7__r4 task7__r5 task7__r6",
        &[
            &[],
            &["task1__t0"],
            &["task2__t0"],
            &["task1__t0", "task3__t0"],
            &["task1__t0", "task3__t1"],
            &["task2__t0", "task3__t0"],
            &["task2__t0", "task3__t1"],
        ],
    )
    .await;
}

#[tokio::test]
async fn transitions_of_one_task_to_the_same_task_split() {
    // test_workflow_task_transition.py::test_on_complete_split (succeeded
    // and failed): the transition without `when` (key 0) and the one that
    // matches the status (key 1 or 2) each start a route.
    let ex = Executor::new();
    for (action, taken) in [("core.noop", "task1__t2"), ("core.fail", "task1__t1")] {
        let wf = format!(
            "
tasks:
  task1:
    action: {action}
    next:
      - do: task2
      - when: '{{{{ failed() }}}}'
        do: task2
      - when: '{{{{ succeeded() }}}}'
        do: task2
  task2: {{action: core.noop}}
"
        );
        let plan = common::plan(&ex, &wf);
        let out = common::run(&ex, &plan, json!({})).await;
        assert_eq!(
            out.status,
            RunStatus::Succeeded,
            "{action}: {:?}",
            out.errors
        );
        assert_eq!(
            out.routes,
            routes(&[&[], &["task1__t0"], &[taken]]),
            "{action}"
        );
        let task2: Vec<u32> = out.task("task2").map(|t| t.route).collect();
        assert_eq!(task2.len(), 2);
        assert!(task2.contains(&1) && task2.contains(&2));
    }
}

#[tokio::test]
async fn events_name_the_route_of_each_instance() {
    let ex = Executor::new();
    let wf = chain_workflow(
        &[("a", &["b", "c"]), ("b", &["d"]), ("c", &["d"]), ("d", &[])],
        &[],
    );
    let plan = common::plan(&ex, &wf);
    let mut run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .unwrap();
    let events: Vec<_> = run.events().collect().await;
    let out = run.await.unwrap();
    let mut d_routes: Vec<Vec<String>> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::TaskScheduled { task, route, .. } if &**task == "d" => Some(route.to_vec()),
            _ => None,
        })
        .collect();
    d_routes.sort();
    assert_eq!(d_routes, routes(&[&["b__t0"], &["c__t0"]]));
    // The records number those routes as the outcome's table does.
    for rec in out.task("d") {
        assert!(d_routes.contains(&out.routes[rec.route as usize]));
    }
}

#[test]
fn a_join_reached_inside_and_outside_a_split_does_not_compile() {
    // test_workflow_spec_validate.py::test_unreachable_task (fixture
    // splits-unreachable.yaml): task5 joins task1, outside the split at
    // task4, with task4, inside it.
    let wf = chain_workflow(
        &[
            ("task1", &["task2", "task3", "task5"]),
            ("task2", &["task4"]),
            ("task3", &["task4"]),
            ("task4", &["task5"]),
            ("task5", &[]),
        ],
        &["task5"],
    );
    let err = Workflow::from_yaml_str(&wf)
        .unwrap()
        .compile(&["core.noop"])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.task(), Some("task5"));
    assert_eq!(err.field(), Some("join"));
    assert!(err.message().contains("ambiguous"), "{err}");
    assert!(err.line().is_some(), "{err}");
    // The same join below the split alone compiles.
    let ok = chain_workflow(
        &[
            ("task1", &["task2", "task3"]),
            ("task2", &["task4"]),
            ("task3", &["task4"]),
            ("task4", &["task6", "task5"]),
            ("task6", &["task5"]),
            ("task5", &[]),
        ],
        &["task5"],
    );
    Workflow::from_yaml_str(&ok)
        .unwrap()
        .compile(&["core.noop"])
        .unwrap();
}

#[test]
fn a_join_whose_branches_can_only_follow_it_does_not_compile() {
    // A join on a task that transitions to itself counts itself as a
    // branch, which cannot arrive before it runs.
    let wf = "
tasks:
  a: {action: core.noop, next: [{do: j}]}
  j: {join: all, action: core.noop, next: [{when: '{{ failed() }}', do: j}]}
";
    let err = Workflow::from_yaml_str(wf)
        .unwrap()
        .compile(&["core.noop"])
        .unwrap_err();
    assert_eq!(err.task(), Some("j"));
    assert_eq!(err.field(), Some("join"));
    assert!(err.message().contains("itself"), "{err}");
    // A branch reached only through the join itself, likewise.
    let wf = "
tasks:
  a: {action: core.noop, next: [{do: j}]}
  j: {join: all, action: core.noop, next: [{do: k}]}
  k: {action: core.noop, next: [{when: '{{ failed() }}', do: j}]}
";
    let err = Workflow::from_yaml_str(wf)
        .unwrap()
        .compile(&["core.noop"])
        .unwrap_err();
    assert!(
        err.message().contains("`k` can only run after `j`"),
        "{err}"
    );
    // With `join: 1` the early branch is enough.
    let ok = wf.replace("join: all", "join: 1");
    Workflow::from_yaml_str(&ok)
        .unwrap()
        .compile(&["core.noop"])
        .unwrap();
}
