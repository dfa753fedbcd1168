//! `orquesta` actions as sub-workflows, and the small runners: `noop` and
//! `inquirer`.
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
async fn an_inquiry_compiles_but_says_it_cannot_run_yet() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.ask", "{ttl: 5}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        common::error(&out).contains("not implemented in weft yet"),
        "{}",
        common::error(&out)
    );
}
