//! Parameter rules, as a workflow meets them: checked when it compiles
//! (unknown keys, required ones, immutable ones, actions that cannot be
//! used) and when the action runs (types, enum, limits, defaults), each
//! error naming the task, the action and the parameter.
mod common;

use futures::StreamExt;
use serde_json::{json, Value};
use weft_runtime::{EventKind, RunOptions, RunStatus};

#[test]
fn an_unknown_key_is_a_compile_error_with_the_closest_name() {
    let ex = common::executor();
    let err = common::compile_error(
        &ex,
        "tasks:\n  t:\n    action: demo.greet\n    input: {name: ada, greting: hi}\n",
    );
    assert_eq!((err.line(), err.task()), (Some(4), Some("t")));
    assert!(
        err.message()
            .contains("`demo.greet` has no input `greting`: did you mean `greeting`?"),
        "{err}"
    );
}

#[test]
fn runner_parameters_count_as_declared() {
    let ex = common::executor();
    common::plan(
        &ex,
        "tasks:\n  t:\n    action: demo.run\n    input: {cmd: ls, cwd: /, env: {A: b}, timeout: 5}\n",
    );
}

#[test]
fn a_required_parameter_left_out_is_a_compile_error() {
    let ex = common::executor();
    let err = common::compile_error(&ex, "tasks:\n  t:\n    action: demo.greet\n    input: {}\n");
    assert!(
        err.message().contains("`demo.greet` needs input `name`"),
        "{err}"
    );
    // Required with a default: nothing to give.
    common::plan(
        &ex,
        "tasks:\n  t:\n    action: demo.types\n    input: {needed: x}\n",
    );
}

#[test]
fn an_immutable_parameter_given_is_a_compile_error() {
    let ex = common::executor();
    let err = common::compile_error(
        &ex,
        "tasks:\n  t:\n    action: demo.greet\n    input: {name: ada, cmd: rm -rf /}\n",
    );
    assert_eq!(err.line(), Some(4));
    assert!(err.message().contains("immutable"), "{err}");
}

#[test]
fn an_action_weft_cannot_run_is_a_compile_error_naming_its_file_and_runner() {
    let ex = common::executor();
    let err = common::compile_error(
        &ex,
        "tasks:\n  t:\n    action: demo.remote\n    input: {hosts: a}\n",
    );
    assert_eq!((err.line(), err.column()), (Some(3), Some(5)));
    let text = err.to_string();
    assert!(
        text.contains("action `demo.remote` cannot be used"),
        "{text}"
    );
    assert!(text.contains("runner `remote-shell-cmd`"), "{text}");
    assert!(text.contains("actions/remote.yaml:3:14"), "{text}");
    let err = common::compile_error(&ex, "tasks:\n  t:\n    action: demo.disabled\n");
    assert!(err.message().contains("disabled"), "{err}");
}

#[test]
fn a_workflow_that_does_not_compile_makes_its_action_and_its_users_unusable() {
    let ex = common::executor();
    let err = common::compile_error(&ex, "tasks:\n  t:\n    action: demo.broken\n");
    let text = err.to_string();
    assert!(text.contains("workflows/broken.yaml"), "{text}");
    assert!(
        text.contains("unknown action `demo.no_such_action`"),
        "{text}"
    );
    let err = common::compile_error(&ex, "tasks:\n  t:\n    action: demo.uses_broken\n");
    assert!(
        err.to_string()
            .contains("action `demo.broken` cannot be used"),
        "{err}"
    );
}

async fn types(input: &str) -> (RunStatus, String) {
    let ex = common::executor();
    let out = common::call(&ex, "demo.types", input).await;
    if out.status == RunStatus::Failed {
        // The run's error names the task.
        assert_eq!(out.errors[0].task.as_deref(), Some("t"), "{:?}", out.errors);
        assert!(
            out.errors[0].to_string().starts_with("task `t`"),
            "{:?}",
            out.errors
        );
    }
    (out.status, common::error(&out))
}

#[tokio::test]
async fn values_are_checked_when_the_action_runs() {
    let (status, _) = types(
        "{needed: x, s: a, i: 3, n: 1.5, b: true, a: [1], o: {k: 1}, colour: red, nothing: null, untyped: text, anything: [1], ranged: 5, short: abc}",
    )
    .await;
    assert_eq!(status, RunStatus::Succeeded);
    for (input, message) in [
        ("{needed: x, i: \"{{ 'three' }}\"}", "parameter `i` ("),
        (
            "{needed: x, i: \"{{ 'three' }}\"}",
            "must be an integer, not the text `\"three\"`",
        ),
        ("{needed: x, s: 5}", "parameter `s` ("),
        ("{needed: x, s: 5}", "must be a string, not a number `5`"),
        (
            "{needed: x, colour: blue}",
            "must be one of \"red\", \"green\", not `\"blue\"`",
        ),
        ("{needed: x, ranged: 9}", "must be at most 5, not `9`"),
        (
            "{needed: x, short: abcd}",
            "must have at most 3 characters, not 4",
        ),
        (
            "{needed: x, a: \"{{ 'not json' }}\"}",
            "a text given for it must be JSON",
        ),
        ("{needed: x, untyped: 5}", "a string or null"),
        ("{needed: x, b: \"{{ 'maybe' }}\"}", "must be a boolean"),
        ("{needed: \"{{ none }}\"}", "parameter `needed` ("),
    ] {
        let (status, error) = types(input).await;
        assert_eq!(status, RunStatus::Failed, "{input}");
        assert!(error.starts_with("`demo.types`: parameter `"), "{error}");
        assert!(error.contains("actions/types.yaml:"), "{error}");
        assert!(error.contains(message), "{input}: {error}");
    }
}

#[tokio::test]
async fn given_text_is_cast_as_stackstorm_casts_it() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.defaults", "{count: \"{{ '7' }}\", region: us}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(common::result(&out)["result"]["count"], json!(7));
}

#[tokio::test]
async fn defaults_render_against_the_config_and_the_other_parameters() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.defaults", "{}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out)["result"],
        json!({
            "label": "eu-west-1-3",
            "region": "eu-west-1",
            "count": 3,
            "items": ["eu-west-1", 3],
            "pack": "demo",
            "given": null,
        })
    );
    // A value given replaces the default, and defaults built on it follow.
    let out = common::call(&ex, "demo.defaults", "{region: ap}").await;
    assert_eq!(common::result(&out)["result"]["label"], "ap-3");
}

#[tokio::test]
async fn secret_parameters_and_secret_config_values_are_masked() {
    let ex = common::executor();
    let plan = common::plan(
        &ex,
        "tasks:\n  t:\n    action: demo.login\n    input: {user: ada, password: pw-93817}\n",
    );
    let mut run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .unwrap();
    let events = run.events();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let result = common::result(&out);
    // The action saw the real values.
    assert_eq!(result["result"]["user"], "ada");
    let text = result.to_string();
    assert!(!text.contains("pw-93817"), "{text}");
    assert!(!text.contains("key-7f3a9c41"), "{text}");
    assert_eq!(result["result"]["token"], "ada:********:********");
    assert_eq!(result["stdout"], "logging in ada with ********\n");
    let events: Vec<EventKind> = events.map(|e| e.kind).collect().await;
    let text = format!("{events:?}");
    assert!(!text.contains("pw-93817"), "{text}");
}

#[tokio::test]
async fn a_secret_value_is_not_shown_in_an_error() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.login", "{user: ada, password: 12345678}").await;
    assert_eq!(out.status, RunStatus::Failed);
    let error = common::error(&out);
    assert!(error.contains("parameter `password`"), "{error}");
    assert!(error.contains("the value is not shown"), "{error}");
    assert!(!error.contains("12345678"), "{error}");
}

#[tokio::test]
async fn a_null_given_takes_the_default() {
    let ex = common::executor();
    let out = common::call(&ex, "demo.greet", "{name: ada, greeting: null}").await;
    assert_eq!(common::result(&out)["stdout"], Value::from("Hello, ada"));
}
