//! Orquesta's dynamic action execution (docs/source/context.rst): `action:`
//! and `input:` written as expressions, rendered when the task starts
//! against the context the task instance sees.
mod common;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use weft_core::TaskStatus;
use weft_runtime::{
    Action, ActionInput, ActionResult, Executor, MemoryStore, RunOutcome, RunStatus,
};

/// `echo` returns its input; `shout` returns its `message` in capitals.
fn executor_with(store: Option<Arc<MemoryStore>>) -> Executor {
    let mut b = Executor::builder()
        .action("echo", |input: ActionInput| async move {
            Ok(input.input.clone())
        })
        .action("shout", |input: ActionInput| async move {
            let m = input.get("message").and_then(Value::as_str).unwrap_or("");
            Ok(json!({"message": m.to_uppercase()}))
        });
    if let Some(store) = store {
        b = b.store(store);
    }
    b.build()
}

fn executor() -> Executor {
    executor_with(None)
}

async fn run(ex: &Executor, text: &str, inputs: Value) -> RunOutcome {
    let p = common::plan(ex, text);
    common::run(ex, &p, inputs).await
}

/// The one error of the run's only failed instance of `task`.
fn task_error(out: &RunOutcome, task: &str) -> String {
    let rec = out.task(task).next().expect("an instance");
    assert_eq!(rec.status, TaskStatus::Failed, "{rec:?}");
    rec.error.clone().expect("an error")
}

/// Orquesta's documented example: the action and its whole input are
/// variables of the context.
const DOCUMENTED: &str = r#"
version: 1.0
input:
  - dynamic_action: echo
  - dynamic_input: {message: hello}
tasks:
  task1:
    action: "{{ ctx().dynamic_action }}"
    input: "{{ ctx().dynamic_input }}"
    next:
      - publish: [{said: "{{ result().message }}"}]
output:
  - said: "{{ ctx().said }}"
"#;

#[tokio::test]
async fn the_action_and_its_input_come_from_the_context() {
    let ex = executor();
    let out = run(&ex, DOCUMENTED, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"said": "hello"}));
    // Another action, another input: the same plan runs what it is told.
    let out = run(
        &ex,
        DOCUMENTED,
        json!({"dynamic_action": "shout", "dynamic_input": {"message": "quiet"}}),
    )
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.output, json!({"said": "QUIET"}));
}

#[tokio::test]
async fn the_yaql_form_works_the_same() {
    let text = r#"
version: 1.0
vars:
  - dynamic_action: shout
  - dynamic_input: {message: yaql}
tasks:
  task1:
    action: <% ctx().dynamic_action %>
    input: <% ctx().dynamic_input %>
"#;
    let ex = executor();
    let out = run(&ex, text, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(common::result(&out, "task1"), json!({"message": "YAQL"}));
}

#[tokio::test]
async fn a_name_built_from_text_and_a_static_input_map() {
    let text = r#"
version: 1.0
input: [loud]
tasks:
  say:
    action: "{{ 'shout' if ctx().loud else 'echo' }}"
    input: {message: "hi {{ ctx().loud }}"}
"#;
    let ex = executor();
    let out = run(&ex, text, json!({"loud": true})).await;
    assert_eq!(common::result(&out, "say"), json!({"message": "HI TRUE"}));
    let out = run(&ex, text, json!({"loud": false})).await;
    assert_eq!(common::result(&out, "say"), json!({"message": "hi False"}));
}

#[tokio::test]
async fn an_unknown_action_name_fails_the_task_and_the_run_follows_its_transitions() {
    let text = r#"
version: 1.0
vars:
  - which: nope.missing
tasks:
  say:
    action: "{{ ctx().which }}"
    next:
      - when: "{{ failed() }}"
        do: [recover]
  recover:
    action: echo
    input: {message: recovered}
"#;
    let ex = executor();
    let out = run(&ex, text, json!({})).await;
    let err = task_error(&out, "say");
    assert!(
        err.starts_with("action at ")
            && err.contains("line 7:")
            && err.contains("unknown action `nope.missing`"),
        "{err}"
    );
    assert_eq!(
        common::result(&out, "recover"),
        json!({"message": "recovered"})
    );
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);

    // Without a transition for the failure, the run fails and says why.
    let text = "version: 1.0\ntasks:\n  say:\n    action: \"{{ 'no' + 'where' }}\"\n";
    let out = run(&ex, text, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let e = &out.errors[0];
    assert_eq!(e.task.as_deref(), Some("say"));
    assert!(e.message.contains("unknown action `nowhere`"), "{e}");
}

#[tokio::test]
async fn an_action_expression_that_yields_no_name_fails_the_task() {
    let ex = executor();
    for (value, found) in [("5", "a number `5`"), ("[echo]", "a list `[\"echo\"]`")] {
        let text = format!(
            "version: 1.0\nvars:\n  - which: {value}\ntasks:\n  say:\n    action: \"{{{{ ctx().which }}}}\"\n"
        );
        let out = run(&ex, &text, json!({})).await;
        let err = task_error(&out, "say");
        assert!(
            err.starts_with("action at ") && err.contains(found) && err.contains("action's name"),
            "{err}"
        );
    }
    // A render error is the task's error too, and names the field.
    let text = "version: 1.0\nvars: [{n: 1}]\ntasks:\n  say:\n    action: \"{{ ctx().n / 0 }}\"\n";
    let out = run(&ex, text, json!({})).await;
    let err = task_error(&out, "say");
    assert!(err.starts_with("action at "), "{err}");
}

#[tokio::test]
async fn an_input_expression_that_yields_no_map_fails_the_task() {
    let text = r#"
version: 1.0
vars:
  - args: [1, 2]
tasks:
  say:
    action: echo
    input: "{{ ctx().args }}"
"#;
    let ex = executor();
    let out = run(&ex, text, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = task_error(&out, "say");
    assert!(
        err.starts_with("input at ") && err.contains("line 8:") && err.contains("yields a list"),
        "{err}"
    );
    assert_eq!(out.errors[0].task.as_deref(), Some("say"));
}

#[tokio::test]
async fn the_expressions_see_the_branch_of_their_instance() {
    // `run` is reached from two branches, each of which published its own
    // `which` and `args`: each instance runs what its branch chose.
    let text = r#"
version: 1.0
vars:
  - which: null
  - args: null
tasks:
  a:
    next:
      - publish: [{which: echo}, {args: {message: from-a}}]
        do: [run]
  b:
    next:
      - publish: [{which: shout}, {args: {message: from-b}}]
        do: [run]
  run:
    action: "{{ ctx().which }}"
    input: "{{ ctx().args }}"
"#;
    let ex = executor();
    let out = run(&ex, text, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let mut results: Vec<Value> = out
        .task("run")
        .map(|t| t.result.as_deref().cloned().unwrap_or(Value::Null))
        .collect();
    results.sort_by_key(Value::to_string);
    assert_eq!(
        results,
        vec![json!({"message": "FROM-B"}), json!({"message": "from-a"})]
    );
}

/// An action whose runner is missing here: compiling refuses it by name.
struct Remote;

impl Action for Remote {
    fn call(&self, _: ActionInput) -> BoxFuture<'static, ActionResult> {
        async { Ok(json!("ran anyway")) }.boxed()
    }

    fn unavailable(&self) -> Option<String> {
        Some("remote runs are not supported".into())
    }
}

#[tokio::test]
async fn an_unavailable_action_named_by_an_expression_fails_the_task() {
    let ex = Executor::builder()
        .register("ops.remote", Arc::new(Remote))
        .build();
    let text = "version: 1.0\ntasks:\n  call:\n    action: \"{{ 'ops.remote' }}\"\n";
    let out = run(&ex, text, json!({})).await;
    let err = task_error(&out, "call");
    assert!(
        err.contains("action `ops.remote` cannot be used: remote runs are not supported"),
        "{err}"
    );
}

#[tokio::test]
async fn a_workflow_named_by_an_expression_is_refused_by_name() {
    let child = Executor::builder().build();
    let child_plan = common::plan(&child, "version: 1.0\ntasks:\n  x: {}\n");
    let ex = Executor::builder()
        .workflow("flows.child", child_plan)
        .build();
    let text = "version: 1.0\ntasks:\n  call:\n    action: \"{{ 'flows.child' }}\"\n";
    let out = run(&ex, text, json!({})).await;
    let err = task_error(&out, "call");
    assert!(
        err.contains("`flows.child` is a workflow") && err.contains("not supported"),
        "{err}"
    );
}

#[tokio::test]
async fn a_replayed_run_with_a_dynamic_action_gives_the_same_outcome() {
    let store = Arc::new(MemoryStore::new());
    let ex = executor_with(Some(store.clone()));
    for inputs in [
        json!({}),
        json!({"dynamic_action": "shout"}),
        json!({"dynamic_action": "missing"}),
    ] {
        let p = common::plan(&ex, DOCUMENTED);
        let out = common::run(&ex, &p, inputs).await;
        ex.flush().await.unwrap();
        // Rebuilt from the journal by an executor without the actions.
        let other = Executor::builder().store(store.clone()).build();
        let seen = other.inspect(out.run_id).await.unwrap();
        assert_eq!(seen.status, out.status);
        assert_eq!(seen.output, out.output);
        let records = |o: &RunOutcome| {
            o.tasks
                .iter()
                .map(|t| {
                    (
                        t.name.to_string(),
                        t.status,
                        t.result.clone(),
                        t.error.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(records(&seen), records(&out));
    }
}

/// StackStorm's `orquesta_tests` fixtures that name their action with an
/// expression: `ctx().func.value` cannot be evaluated on a string, so the
/// task fails when it starts and the run with it, as StackStorm's
/// `test_fail_start_task_action` and `test_fail_task_action` expect.
#[tokio::test]
async fn stackstorm_fixtures_with_a_dynamic_action_fail_when_the_task_starts() {
    let ex = executor();
    for (text, failing, before) in [
        (
            include_str!(
                "../../weft-core/tests/stackstorm/orquesta_tests/fail-start-task-action.yaml"
            ),
            "task1",
            0,
        ),
        (
            include_str!("../../weft-core/tests/stackstorm/orquesta_tests/fail-task-action.yaml"),
            "task2",
            1,
        ),
    ] {
        let out = run(&ex, text, json!({"who": "Stanley"})).await;
        assert_eq!(out.status, RunStatus::Failed);
        let err = task_error(&out, failing);
        assert!(
            err.starts_with("action at ") && err.contains("value"),
            "{err}"
        );
        assert_eq!(out.tasks.len(), before + 1, "{:?}", common::names(&out));
        // With the name itself in `func`, the same workflow runs through.
        let fixed = text.replace("ctx().func.value", "ctx().func");
        let out = run(&ex, &fixed, json!({"who": "Stanley"})).await;
        assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
        assert_eq!(common::names(&out), ["task1", "task2", "task3"]);
        let said = common::result(&out, "task3").to_string();
        assert!(
            said.contains("Stanley, All your base are belong to us!"),
            "{said}"
        );
    }
}

/// The builder takes the same forms: a string that holds an expression is
/// an input expression, and `arg` cannot be added to one.
#[tokio::test]
async fn the_builder_writes_dynamic_actions_and_inputs() {
    let ex = executor();
    let workflow = weft_core::WorkflowBuilder::new("dyn")
        .var("which", json!("shout"))
        .var("args", json!({"message": "built"}))
        .task("say", |t| {
            t.action("{{ ctx().which }}")
                .input(json!("<% ctx().args %>"))
        })
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let p = workflow.compile(&ex).unwrap_or_else(|e| panic!("{e}"));
    let out = common::run(&ex, &p, json!({})).await;
    assert_eq!(common::result(&out, "say"), json!({"message": "BUILT"}));

    let err = weft_core::WorkflowBuilder::new("dyn")
        .var("args", json!({"message": "built"}))
        .task("say", |t| {
            t.action("echo")
                .input(json!("{{ ctx().args }}"))
                .arg("extra", 1)
        })
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("after an `input` expression"),
        "{err}"
    );
}
