//! What an action (or a layer of actions) can tell the executor beyond its
//! input fields: that it cannot be used, which values of its input are
//! secret, how tasks call a workflow registered with an adapter; and the
//! child processes and built-ins such a layer builds on.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use weft_core::{InputField, Workflow};
use weft_runtime::process::Command;
use weft_runtime::{
    builtin_action, Action, ActionError, ActionInput, ActionResult, EventKind, Executor,
    RunOptions, RunStatus, WorkflowAdapter,
};

/// An action whose runner is missing here.
struct Remote;

impl Action for Remote {
    fn call(&self, _: ActionInput) -> BoxFuture<'static, ActionResult> {
        async { Err(ActionError::new("remote runs are not supported")) }.boxed()
    }

    fn unavailable(&self) -> Option<String> {
        Some("remote runs are not supported".into())
    }
}

#[test]
fn a_workflow_that_uses_an_unavailable_action_does_not_compile() {
    let builder = Executor::builder().register("ops.remote", Arc::new(Remote));
    let text = "tasks:\n  a:\n    action: ops.remote\n";
    let err = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&builder)
        .unwrap_err();
    assert_eq!(
        err.message(),
        "action `ops.remote` cannot be used: remote runs are not supported"
    );
    assert_eq!(err.line(), Some(3));
    let executor = builder.build();
    assert!(Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&executor)
        .is_err());
}

/// Says back what it was given, and names its `password` as secret.
struct Login;

impl Action for Login {
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let password = input.get("password").cloned().unwrap_or(Value::Null);
        async move {
            let said = format!("logged in with {}", password.as_str().unwrap_or("?"));
            Err(ActionError::with_result(
                said.clone(),
                json!({ "said": said }),
            ))
        }
        .boxed()
    }

    fn secret_values(&self, input: &Value) -> Vec<Value> {
        input.get("password").cloned().into_iter().collect()
    }
}

#[tokio::test]
async fn values_an_action_names_secret_are_masked_in_what_the_run_hands_back() {
    let ex = Executor::builder()
        .register("ops.login", Arc::new(Login))
        .build();
    let plan = common::plan(
        &ex,
        "tasks:\n  a:\n    action: ops.login\n    input: {password: \"{{ 'pw-' ~ 7431 }}\"}\n",
    );
    let mut run = ex
        .start_with(&plan, json!({}), RunOptions::new().with_events())
        .unwrap();
    let events = run.events();
    let out = run.await.unwrap();
    assert_eq!(out.status, RunStatus::Failed);
    let record = &out.tasks[0];
    assert_eq!(
        record.result.as_deref(),
        Some(&json!({"said": "logged in with ********"}))
    );
    assert_eq!(
        record.error.as_deref(),
        Some("logged in with ********"),
        "{record:?}"
    );
    for e in &out.errors {
        assert!(!e.to_string().contains("pw-7431"), "{e}");
    }
    let events: Vec<EventKind> = events.map(|e| e.kind).collect().await;
    let text = format!("{events:?}");
    assert!(!text.contains("pw-7431"), "{text}");
    assert!(text.contains("********"), "{text}");
}

/// Adds a default, refuses a bad value, wraps the output as StackStorm
/// wraps a workflow's.
struct Adapter;

impl WorkflowAdapter for Adapter {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        Some(vec![
            InputField::optional("name"),
            InputField::immutable("mode"),
        ])
    }

    fn prepare(&self, input: &ActionInput) -> Result<Value, ActionError> {
        let name = match input.get("name") {
            None => json!("ada"),
            Some(Value::String(s)) if !s.is_empty() => json!(s),
            Some(_) => {
                return Err(ActionError::new(format!(
                    "task `{}`: `name` must be a non-empty string",
                    input.task
                )))
            }
        };
        Ok(json!({ "name": name }))
    }

    fn result(&self, output: Value) -> Value {
        json!({ "output": output })
    }
}

fn adapted_executor() -> Executor {
    let builder = Executor::builder();
    let child = Workflow::from_yaml_str(
        "input: [name]\ntasks:\n  hi: {action: core.echo, input: {message: 'hi {{ ctx().name }}'}}\noutput: [{said: '{{ task.hi.message }}'}]\n",
    )
    .unwrap()
    .compile(&builder)
    .unwrap();
    builder
        .workflow_adapted("greet", child, Arc::new(Adapter))
        .build()
}

#[tokio::test]
async fn an_adapter_prepares_the_inputs_and_shapes_the_result() {
    let ex = adapted_executor();
    let plan = common::plan(
        &ex,
        "tasks:\n  a: {action: greet}\n  b: {action: greet, input: {name: grace}}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        common::result(&out, "a"),
        json!({"output": {"said": "hi ada"}})
    );
    assert_eq!(
        common::result(&out, "b"),
        json!({"output": {"said": "hi grace"}})
    );
}

#[tokio::test]
async fn an_adapters_error_fails_the_task() {
    let ex = adapted_executor();
    let plan = common::plan(&ex, "tasks:\n  a: {action: greet, input: {name: 3}}\n");
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        out.tasks[0].error.as_deref(),
        Some("task `a`: `name` must be a non-empty string")
    );
}

#[test]
fn an_adapters_fields_are_checked_when_compiling() {
    let ex = adapted_executor();
    let err = Workflow::from_yaml_str("tasks:\n  a: {action: greet, input: {nmae: x}}\n")
        .unwrap()
        .compile(&ex)
        .unwrap_err();
    assert!(err.message().contains("did you mean `name`?"), "{err}");
    let err = Workflow::from_yaml_str("tasks:\n  a: {action: greet, input: {mode: x}}\n")
        .unwrap()
        .compile(&ex)
        .unwrap_err();
    assert!(err.message().contains("immutable"), "{err}");
}

#[tokio::test]
async fn a_builtin_can_be_had_under_its_own_name_and_called_directly() {
    assert!(builtin_action("core.nothing").is_none());
    let echo = builtin_action("core.echo").expect("core.echo is built in");
    let ex = Executor::builder()
        .register("core.echo", Arc::new(Remote))
        .register("mine.echo", echo)
        .build();
    let plan = common::plan(
        &ex,
        "tasks:\n  a: {action: mine.echo, input: {message: hi}}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(common::result(&out, "a"), json!({"message": "hi"}));
}

// ---- process::Command ------------------------------------------------------------

#[tokio::test]
async fn a_command_gets_its_stdin_arguments_and_environment() {
    let out = Command::new("sh")
        .args([
            "-c",
            "read line; echo \"$line/$1/$WHO\"; echo oops >&2; exit 3",
            "sh",
            "a b",
        ])
        .env("WHO", "ada")
        .stdin("from stdin\n")
        .output()
        .await
        .unwrap();
    assert_eq!(out.code, Some(3));
    assert!(!out.success);
    assert_eq!(out.stdout, "from stdin/a b/ada\n");
    assert_eq!(out.stderr, "oops\n");
}

#[tokio::test]
async fn a_command_that_ignores_its_stdin_is_no_error() {
    let big = vec![b'x'; 1 << 20];
    let out = Command::new("true").stdin(big).output().await.unwrap();
    assert!(out.success);
}

#[tokio::test]
async fn output_over_the_cap_is_counted_not_kept() {
    let out = Command::new("sh")
        .args([
            "-c",
            "head -c 5000 /dev/zero | tr '\\0' a; head -c 3000 /dev/zero | tr '\\0' b >&2",
        ])
        .max_output_bytes(100)
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout.len(), 100);
    assert!(out.stdout_truncated && out.stderr_truncated);
    assert_eq!(
        (out.stdout_total_bytes, out.stderr_total_bytes),
        (5000, 3000)
    );
}

#[tokio::test]
async fn a_program_that_cannot_start_is_an_error() {
    let err = Command::new("/nonexistent/weft-test-program")
        .output()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z'),
    }
}

#[tokio::test]
async fn dropping_the_future_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = format!("sleep 30 & echo $! > {d}/grandchild; wait");
    let command = Command::new("sh").args(["-c", &script]);
    let timed_out = tokio::time::timeout(Duration::from_millis(500), command.output()).await;
    assert!(timed_out.is_err(), "the command should still be running");
    let path = dir.path().join("grandchild");
    let pid: u32 = std::fs::read_to_string(&path)
        .expect("the shell wrote its child's pid")
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !running(pid),
        "the grandchild {pid} outlived the dropped future"
    );
}
