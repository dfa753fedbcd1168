//! StackStorm's `examples` pack, with its `core` pack, run unchanged to
//! the results StackStorm's own integration tests expect
//! (`st2tests/integration/orquesta/`), in both dialects.
mod common;

use serde_json::{json, Value};
use weft_runtime::{Executor, RunOutcome, RunStatus};
use weft_stackstorm::{PackExt, Packs, St2Context};

fn executor() -> Executor {
    weft_stackstorm::install_functions().expect("functions install first");
    let packs = Packs::new()
        .load(common::st2("core"))
        .and_then(|p| p.load(common::st2("examples")))
        .unwrap_or_else(|e| panic!("StackStorm's packs do not load: {e}"));
    Executor::builder()
        .st2_context(St2Context::new())
        .packs(&packs)
        .build()
}

/// Runs the action `reference` with `input` (YAML flow text).
async fn run(ex: &Executor, reference: &str, input: &str) -> RunOutcome {
    common::call(ex, reference, input).await
}

fn output(out: &RunOutcome) -> Value {
    common::result(out)["output"].clone()
}

/// `test_wiring_functions_task.py`: `task()` by name, with no name, in a
/// cycle, and by route after a split.
#[tokio::test]
async fn the_task_function_workflows_give_stackstorms_outputs() {
    let ex = executor();
    for dialect in ["yaql", "jinja"] {
        let reference = format!("examples.orquesta-test-{dialect}-task-functions");
        let out = run(&ex, &reference, "{}").await;
        assert_eq!(
            out.status,
            RunStatus::Succeeded,
            "{reference}: {:?}",
            out.errors
        );
        assert_eq!(
            output(&out),
            json!({
                "last_task4_result": "False",
                "task9__1__parent": "task8__1",
                "task9__2__parent": "task8__2",
                "that_task_by_name": "task1",
                "this_task_by_name": "task1",
                "this_task_no_arg": "task1",
            }),
            "{reference}"
        );
    }
    let out = run(&ex, "examples.orquesta-test-yaql-task-nonexistent", "{}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        format!("{:?}", out.errors).contains("Unable to find task execution for \\\"task0\\\"."),
        "{:?}",
        out.errors
    );
}

/// `task(name)` has the keys of StackStorm's record.
#[tokio::test]
async fn task_gives_stackstorms_record() {
    let ex = executor();
    let plan = common::plan(
        &ex,
        r#"
version: 1.0
output:
  - yaql: <% ctx().rec %>
  - jinja: "{{ task('a') }}"
tasks:
  a:
    action: core.echo message="hi"
    next:
      - publish:
          - rec: <% task() %>
"#,
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let rec = &out.output["yaql"];
    assert_eq!(rec, &out.output["jinja"]);
    let id = out.run_id.to_string();
    assert_eq!(rec["task_id"], "a");
    assert_eq!(rec["task_name"], "a");
    assert_eq!(rec["route"], 0);
    assert_eq!(rec["status"], "succeeded");
    assert_eq!(rec["workflow_execution_id"], id.as_str());
    assert_eq!(rec["task_execution_id"], format!("{id}/0").as_str());
    assert_eq!(rec["result"]["stdout"], "hi");
    for key in ["start_timestamp", "end_timestamp"] {
        let t = rec[key].as_str().unwrap_or_default();
        // `2026-03-01 09:30:12.345678+00:00`, as Python prints it.
        assert!(
            t.len() >= 25 && t.as_bytes()[10] == b' ' && t.ends_with("+00:00"),
            "{key}: {t}"
        );
    }
    assert!(rec["start_timestamp"].as_str() <= rec["end_timestamp"].as_str());
}

/// `test_wiring.py`, `test_wiring_data_flow.py`, `test_wiring_with_items.py`:
/// the basic examples give StackStorm's outputs.
#[tokio::test]
async fn the_basic_examples_give_stackstorms_outputs() {
    let ex = executor();
    for (reference, input, expected) in [
        (
            "examples.orquesta-sequential",
            "{name: Thanos}",
            json!({"greeting": "Thanos, All your base are belong to us!"}),
        ),
        (
            "examples.orquesta-sequential",
            "{name: 薩諾斯}",
            json!({"greeting": "薩諾斯, All your base are belong to us!"}),
        ),
        (
            "examples.orquesta-basic",
            "{cmd: 'echo hello; echo oops >&2'}",
            json!({"stdout": "hello"}),
        ),
        (
            "examples.orquesta-data-flow",
            "{a1: fee fi fo fum}",
            json!({"a5": "fee fi fo fum", "b5": "fee fi fo fum"}),
        ),
        (
            "examples.orquesta-data-flow",
            "{a1: 床前明月光 疑是地上霜 舉頭望明月 低頭思故鄉}",
            json!({"a5": "床前明月光 疑是地上霜 舉頭望明月 低頭思故鄉", "b5": "床前明月光 疑是地上霜 舉頭望明月 低頭思故鄉"}),
        ),
        (
            "examples.orquesta-with-items",
            "{members: [Lakshmi, Lindsay, Tomaz, Matt, Drew]}",
            json!({"items": [
                "Lakshmi, resistance is futile!",
                "Lindsay, resistance is futile!",
                "Tomaz, resistance is futile!",
                "Matt, resistance is futile!",
                "Drew, resistance is futile!",
            ]}),
        ),
        (
            "examples.orquesta-join",
            "{}",
            json!({"messages": [
                "Fee fi fo fum",
                "I smell the blood of an English man",
                "Be alive, or be he dead",
                "I'll grind his bones to make my bread",
            ]}),
        ),
    ] {
        let out = run(&ex, reference, input).await;
        assert_eq!(
            out.status,
            RunStatus::Succeeded,
            "{reference}: {:?}",
            out.errors
        );
        assert_eq!(output(&out), expected, "{reference} {input}");
    }
    // A sub-workflow runs its tasks and the parent goes on.
    let out = run(&ex, "examples.orquesta-subworkflow", "{}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
}

/// `test_wiring_error_handling.py`: a failed task handled by `continue`
/// (the run fails, with the publish done), by `noop` (the run succeeds),
/// and by a `fail` after remediation.
#[tokio::test]
async fn the_error_handling_examples_end_as_in_stackstorm() {
    let ex = executor();
    for (reference, status) in [
        (
            "examples.orquesta-error-handling-continue",
            RunStatus::Failed,
        ),
        (
            "examples.orquesta-error-handling-noop",
            RunStatus::Succeeded,
        ),
        (
            "examples.orquesta-error-handling-fail-manually",
            RunStatus::Failed,
        ),
    ] {
        let out = run(&ex, reference, "{cmd: exit 1}").await;
        assert_eq!(out.status, status, "{reference}: {:?}", out.errors);
        // StackStorm's output, published from the failed task's handler.
        assert_eq!(
            output(&out),
            json!({"message": "$%#&@#$!!!"}),
            "{reference}"
        );
        let errors = common::result(&out)["errors"].clone();
        match reference {
            "examples.orquesta-error-handling-continue" => {
                assert_eq!(errors[0]["task"], "task1", "{errors}");
                assert!(
                    errors[0]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("exited with code 1"),
                    "{errors}"
                );
            }
            "examples.orquesta-error-handling-fail-manually" => {
                assert_eq!(errors[0]["task"], "task3", "{errors}");
                assert_eq!(errors[0]["message"], "transitioned to `fail`", "{errors}");
            }
            _ => assert_eq!(errors, Value::Null),
        }
    }
}
