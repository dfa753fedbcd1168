//! `orquesta` actions as sub-workflows, and the small runners: `noop` and
//! `inquirer` (a task that waits for an answer).
mod common;

use serde_json::json;
use weft_runtime::RunStatus;

#[tokio::test]
async fn an_orquesta_action_runs_its_workflow_with_the_metadatas_defaults() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.hello", "{}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    // StackStorm's result of a workflow action: `{output}`.
    assert_eq!(
        common::result(&out),
        json!({"output": {"said": "Hello, world!"}})
    );
    let out = common::call(&ex, "demo.hello", "{name: ada, punctuation: \"?\"}").await;
    assert_eq!(
        common::result(&out),
        json!({"output": {"said": "Hello, ada?"}})
    );
    assert_eq!(out.tasks[0].child_runs.len(), 1);
}

#[tokio::test]
async fn an_orquesta_actions_parameters_are_checked_before_its_child_starts() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.hello", "{punctuation: \".\"}").await;
    assert_eq!(out.status, RunStatus::Failed);
    let error = common::error(&out);
    assert!(
        error.starts_with("`demo.hello`: parameter `punctuation`"),
        "{error}"
    );
    assert!(error.contains("must be one of"), "{error}");
}

#[tokio::test]
async fn workflows_of_a_pack_call_each_other() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.nested", "{}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out),
        json!({"output": {"inner": {"output": {"said": "Hello, ada!"}}}})
    );
}

#[tokio::test]
async fn noop_succeeds_with_stackstorms_result() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.nothing", "{}").await;
    assert_eq!(
        common::result(&out),
        json!({"failed": false, "succeeded": true, "return_code": 0})
    );
}

#[tokio::test]
async fn an_inquiry_waits_and_is_answered_with_stackstorms_result() {
    let ex = common::executor();
    let plan = common::plan(
        &ex,
        "tasks:\n  t:\n    action: demo.ask\n    input: {ttl: 5}\n",
    );
    let run = ex.start(&plan, json!({})).unwrap();
    let id = run.id();
    let mut waits = Vec::new();
    for _ in 0..2500 {
        waits = ex.inquiries().await.unwrap();
        if !waits.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert_eq!(waits.len(), 1);
    assert_eq!(run.status(), RunStatus::Paused);
    // The runner's defaults: StackStorm's schema, `continue` required.
    let e = ex.respond(id, "t", json!({})).await.unwrap_err();
    assert!(e.to_string().contains("continue"), "{e}");
    ex.respond(id, "t", json!({"continue": true}))
        .await
        .unwrap();
    let out = tokio::time::timeout(std::time::Duration::from_secs(5), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let result = common::result(&out);
    assert_eq!(result["response"], json!({"continue": true}));
    assert_eq!(result["ttl"], json!(5.0));
    assert_eq!(result["route"], json!(""));
    assert_eq!(result["users"], json!([]));
    assert_eq!(result["roles"], json!([]));
    assert_eq!(
        result["schema"]["properties"]["continue"]["type"],
        json!("boolean")
    );
}
