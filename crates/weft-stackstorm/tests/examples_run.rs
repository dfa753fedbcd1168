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
