//! `python-script`: the pack's Action class run through weft's shim, with
//! StackStorm's result shape.
mod common;

use serde_json::json;
use weft_runtime::RunStatus;
use weft_stackstorm::Packs;

#[tokio::test]
async fn run_returns_the_result_and_the_output_streams() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.py_status", "{ok: true}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out),
        json!({"result": {"ok": true}, "stdout": "checked\n", "stderr": "", "exit_code": 0})
    );
}

#[tokio::test]
async fn a_false_status_fails_the_task_with_the_result_attached() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.py_status", "{ok: false}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(common::result(&out)["result"], json!({"why": "not ok"}));
    assert_eq!(common::result(&out)["exit_code"], 0);
    assert!(
        common::error(&out).contains("(False, result)"),
        "{}",
        common::error(&out)
    );
}

#[tokio::test]
async fn an_exception_fails_the_task_with_its_traceback() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.py_crash", "{}").await;
    assert_eq!(out.status, RunStatus::Failed);
    let result = common::result(&out);
    // StackStorm's result when the action wrote none.
    assert_eq!(result["result"], "None");
    assert_eq!(result["exit_code"], 1);
    assert!(
        result["stderr"].as_str().unwrap().contains("Traceback"),
        "{result}"
    );
    assert!(
        common::error(&out).ends_with("exited with code 1: RuntimeError: the disk is on fire"),
        "{}",
        common::error(&out)
    );
}

#[tokio::test]
async fn the_action_gets_the_config_a_logger_and_the_packs_lib() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.py_config", "{key: greeting}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let result = common::result(&out);
    assert_eq!(result["result"], "HELLO!");
    // The logger writes to stderr at the action's log level.
    assert_eq!(
        result["stderr"],
        "actions.python.ReadConfig: INFO     reading greeting\n"
    );
    let out = common::call(&ex, "demo.py_config", "{key: missing}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        common::error(&out).contains("The config of pack \"demo\" has no item \"missing\""),
        "{}",
        common::error(&out)
    );
}

#[tokio::test]
async fn a_missing_interpreter_is_named() {
    let packs = Packs::new()
        .python("/nonexistent/python9")
        .load(common::demo())
        .unwrap();
    let ex = common::executor_with(packs);
    let out = common::call(&ex, "demo.py_status", "{ok: true}").await;
    assert_eq!(out.status, RunStatus::Failed);
    let error = common::error(&out);
    assert!(
        error.contains("`/nonexistent/python9`: not found"),
        "{error}"
    );
}
