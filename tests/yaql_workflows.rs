//! Workflows written in YAQL run end to end: inputs, `vars`, `publish`,
//! `when`, `with` items, retries, inline parameters and `output`, the
//! scheduler evaluating `<% %>` exactly as it evaluates `{{ }}`.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use weft::prelude::*;

/// StackStorm's `orquesta-with-items` example, and more.
const WORKFLOW: &str = r#"version: 1.0
input:
  - members: [Lakshmi, Lindsay, Tomaz, Matt, Drew]
  - threshold: 2
vars:
  - greeting: hello
tasks:
  greet:
    with: member in <% ctx(members) %>
    action: core.echo message="<% ctx().greeting %>, <% item(member) %>!"
    next:
      - when: <% succeeded() and result().len() = ctx(members).len() %>
        publish:
          - lengths: <% result().select($.message.len()) %>
          - long: <% ctx(members).where($.len() > 4).orderBy($).toList() %>
        do: count
  count:
    action: core.echo
    input:
      message: <% ctx(lengths).sum() %>
      over: <% ctx(lengths).where($ > ctx(threshold) * 7).len() %>
    next:
      - when: <% result().message > 50 %>
        publish: total=<% result().message %> ok=<% true %>
        do: report
      - when: <% result().message <= 50 %>
        do: fail
  report:
    action: core.noop
output:
  - total: <% ctx(total) %>
  - long: <% ctx(long) %>
  - summary: "<% ctx(long).len() %> long names of <% len(ctx(members)) %>: <% ctx(long) %>"
  - first: <% ctx(members).first() %>
"#;

#[tokio::test]
async fn a_yaql_workflow_runs_as_orquesta_would_run_it() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = seen.clone();
    let executor = Executor::builder()
        .action("core.echo", move |input: ActionInput| {
            let record = record.clone();
            async move {
                record
                    .lock()
                    .map_err(|_| ActionError::new("lock poisoned"))?
                    .push(input.input.clone());
                Ok(input.input)
            }
        })
        .build();
    let plan = Workflow::from_yaml_str(WORKFLOW)
        .and_then(|wf| wf.compile(&executor))
        .unwrap_or_else(|e| panic!("{e}"));
    let outcome = executor
        .start(&plan, json!({}))
        .unwrap_or_else(|e| panic!("{e}"))
        .await
        .expect("the run reports an outcome");
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.errors);
    let inputs = seen.lock().map(|v| v.clone()).unwrap_or_default();
    // Each item's greeting, then `count`'s input: numbers stay numbers.
    assert!(
        inputs.contains(&json!({"message": "hello, Tomaz!"})),
        "{inputs:?}"
    );
    assert!(
        inputs.contains(&json!({"message": 67, "over": 2})),
        "{inputs:?}"
    );
    assert_eq!(
        outcome.output,
        json!({
            "total": 67,
            "long": ["Lakshmi", "Lindsay", "Tomaz"],
            "summary": "3 long names of 5: ['Lakshmi', 'Lindsay', 'Tomaz']",
            "first": "Lakshmi"
        })
    );
}

#[tokio::test]
async fn a_yaql_error_at_run_time_names_the_field_and_fails_the_run() {
    let text = r#"version: 1.0
input:
  - n: 0
tasks:
  divide:
    action: core.echo
    input:
      message: <% 10 / ctx(n) %>
"#;
    let executor = Executor::new();
    let plan = Workflow::from_yaml_str(text)
        .and_then(|wf| wf.compile(&executor))
        .unwrap_or_else(|e| panic!("{e}"));
    let outcome = executor
        .start(&plan, json!({}))
        .unwrap_or_else(|e| panic!("{e}"))
        .await
        .expect("the run reports an outcome");
    assert_eq!(outcome.status, RunStatus::Failed);
    let errors = format!("{:?}", outcome.errors);
    assert!(errors.contains("division by zero"), "{errors}");
    assert!(errors.contains("divide"), "{errors}");
}
