//! A first end-to-end run through the public API.
mod common;

use serde_json::json;
use weft_runtime::{ActionInput, Executor, RunStatus};

#[tokio::test]
async fn chain_with_publish_and_items() {
    let executor = Executor::builder()
        .action("double", |input: ActionInput| async move {
            let n = input
                .get("n")
                .and_then(|v| v.as_i64())
                .ok_or_else(|| weft_runtime::ActionError::new("n must be a number"))?;
            Ok(json!(n * 2))
        })
        .build();
    let plan = common::plan(
        &executor,
        r#"
input: [count]
tasks:
  first:
    action: double
    input: {n: "{{ parameters.count }}"}
    next:
      - when: "{{ succeeded() }}"
        publish: [{doubled: "{{ result() }}"}]
        do: fan
  fan:
    with: "{{ range(workflow.doubled) | list }}"
    action: double
    input: {n: "{{ item }}"}
output:
  - total: "{{ task.fan | sum }}"
  - doubled: "{{ workflow.doubled }}"
"#,
    );
    let out = common::run(&executor, &plan, json!({"count": 3})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(common::names(&out), ["first", "fan"]);
    assert_eq!(common::result(&out, "fan"), json!([0, 2, 4, 6, 8, 10]));
    assert_eq!(out.output, json!({"total": 30, "doubled": 6}));
}
