//! The built-in `core.*` actions and the validation of their inputs.
mod common;

use serde_json::json;
use weft_core::{TaskStatus, Workflow};
use weft_runtime::{Executor, RunStatus};

async fn one(action_and_input: &str) -> weft_runtime::RunOutcome {
    let ex = Executor::new();
    // Names only: these tests check what the action itself accepts (a
    // plan compiled against the executor is checked before it runs; see
    // `builtin_inputs_are_checked_when_compiling`).
    let p = common::plan_names_only(&ex, &format!("tasks:\n  t: {{{action_and_input}}}\n"));
    common::run(&ex, &p, json!({})).await
}

#[tokio::test]
async fn echo_returns_the_message_as_given() {
    let out = one("action: core.echo, input: {message: {a: [1, true]}}").await;
    assert_eq!(
        common::result(&out, "t"),
        json!({"message": {"a": [1, true]}})
    );
}

#[tokio::test]
async fn noop_returns_null() {
    let out = one("action: core.noop").await;
    assert_eq!(out.status, RunStatus::Succeeded);
    assert_eq!(common::result(&out, "t"), json!(null));
}

#[tokio::test]
async fn fail_fails_with_its_message() {
    let out = one("action: core.fail, input: {message: nope}").await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(out.tasks[0].error.as_deref(), Some("nope"));
}

#[tokio::test]
async fn local_runs_a_command() {
    let out = one(
        r#"action: core.local, input: {cmd: "echo hi $WHO; echo oops >&2", env: {WHO: there}}"#,
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out, "t"),
        json!({
            "stdout": "hi there\n", "stderr": "oops\n", "return_code": 0, "succeeded": true,
            "stdout_truncated": false, "stderr_truncated": false,
            "stdout_total_bytes": 9, "stderr_total_bytes": 5,
        })
    );
}

#[tokio::test]
async fn local_with_a_non_zero_exit_fails_with_the_result_attached() {
    let out = one(r#"action: core.local, input: {cmd: "echo out; exit 3", cwd: /}"#).await;
    assert_eq!(out.status, RunStatus::Failed);
    let rec = &out.tasks[0];
    assert_eq!(rec.status, TaskStatus::Failed);
    assert!(rec.error.as_deref().unwrap().contains("exited with code 3"));
    assert_eq!(
        common::result(&out, "t"),
        json!({
            "stdout": "out\n", "stderr": "", "return_code": 3, "succeeded": false,
            "stdout_truncated": false, "stderr_truncated": false,
            "stdout_total_bytes": 4, "stderr_total_bytes": 0,
        })
    );
}

#[tokio::test]
async fn builtin_inputs_are_validated() {
    for (task, expect) in [
        ("action: core.echo", "core.echo: missing input `message`"),
        (
            "action: core.sleep, input: {seconds: soon}",
            "`seconds` must be a number, not a string",
        ),
        (
            "action: core.sleep, input: {seconds: -1}",
            "`seconds` must be 0 or more",
        ),
        (
            "action: core.local, input: {cmd: [ls]}",
            "`cmd` must be a string, not a list",
        ),
        (
            "action: core.local, input: {cmd: ls, env: {A: [1]}}",
            "`env.A` must be a string",
        ),
        (
            "action: core.noop, input: {extra: 1}",
            "core.noop: unknown input `extra`",
        ),
        (
            "action: core.echo, input: {message: x, mesage: y}",
            "unknown input `mesage`",
        ),
    ] {
        let out = one(task).await;
        assert_eq!(out.status, RunStatus::Failed, "{task}");
        let err = out.tasks[0].error.as_deref().unwrap_or_default();
        assert!(err.contains(expect), "{task}: {err}");
    }
}

#[test]
fn builtin_inputs_are_checked_when_compiling() {
    for (task, expect, at) in [
        (
            "action: core.echo",
            "`core.echo` needs input `message`: add it to the task's `input`",
            (2, 3),
        ),
        (
            "action: core.echo\n    input: {mesage: y}",
            "`core.echo` has no input `mesage`: did you mean `message`?",
            (4, 13),
        ),
        (
            "action: core.noop\n    input:\n      extra: 1",
            "`core.noop` has no input `extra`: it takes none",
            (5, 7),
        ),
        (
            "action: core.local\n    input: {command: ls}",
            "`core.local` has no input `command`: did you mean `cmd`?",
            (4, 13),
        ),
        (
            "action: core.sleep secnds=1",
            "`core.sleep` has no input `secnds`: did you mean `seconds`?",
            (3, 24),
        ),
    ] {
        let yaml = format!("tasks:\n  t:\n    {task}\n");
        let err = Workflow::from_yaml_str(&yaml)
            .unwrap()
            .compile(&Executor::new())
            .unwrap_err();
        assert_eq!(err.message(), expect, "{task}");
        assert_eq!(err.task(), Some("t"));
        assert_eq!(
            (err.line(), err.column()),
            (Some(at.0), Some(at.1)),
            "{task}: {err}"
        );
        assert_eq!(err.others().len(), 0, "{err:?}");
    }
}

#[test]
fn every_builtin_is_described() {
    let names: Vec<&str> = weft_runtime::builtin_actions()
        .iter()
        .map(|a| a.name)
        .collect();
    let mut expected = vec![
        "core.noop",
        "core.echo",
        "core.sleep",
        "core.fail",
        "core.local",
        "core.ask",
        "core.wait_event",
    ];
    if cfg!(feature = "http") {
        expected.push("core.http");
    }
    assert_eq!(names, expected);
    let ex = Executor::new();
    for n in names {
        assert!(ex.action_names().iter().any(|a| a == n));
    }
}
