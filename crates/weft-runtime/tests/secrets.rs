//! Secret inputs: actions and expressions see the real value; everything
//! the run hands back (task results and errors, events, run errors, the
//! output) shows it masked.
mod common;

use futures::StreamExt;
use serde_json::{json, Value};
use weft_core::{TaskStatus, Workflow};
use weft_runtime::{EventKind, Executor, RunOptions, RunStatus};

const TOKEN: &str = "tok-5f2a9c";
const MASK: &str = "********";

const WF: &str = r#"
input:
  - who
  - {name: token, secret: true}
tasks:
  greet:
    action: core.echo
    input: {message: "{{ ctx().who }} uses {{ ctx().token }}"}
    next:
      - when: "{{ ctx().token == 'tok-5f2a9c' }}"
        publish: [same: true]
        do: reject
  reject:
    action: core.fail
    input: {message: "rejected {{ ctx().token }}"}
output:
  - token: "{{ ctx().token }}"
  - length: "{{ ctx().token | length }}"
  - same: "{{ ctx().same }}"
"#;

fn text(v: &Value) -> String {
    v.to_string()
}

#[tokio::test]
async fn a_secret_is_masked_in_results_errors_events_and_output() {
    let ex = Executor::new();
    let plan = common::plan(&ex, WF);
    let mut run = ex
        .start_with(
            &plan,
            json!({"who": "ann", "token": TOKEN}),
            RunOptions::new().with_events(),
        )
        .unwrap();
    let events = run.events();
    let out = run.await.unwrap();
    let events: Vec<EventKind> = events.map(|e| e.kind).collect().await;

    assert_eq!(out.status, RunStatus::Failed);
    // The expression saw the real value: the transition was taken, and the
    // length is the real one.
    assert_eq!(out.output["same"], json!(true));
    assert_eq!(out.output["length"], json!(TOKEN.len()));
    assert_eq!(out.output["token"], json!(MASK));

    let greet = out.task("greet").next().unwrap();
    assert_eq!(
        greet.result.as_deref(),
        Some(&json!({"message": format!("ann uses {MASK}")}))
    );
    let rejected = out.task("reject").next().unwrap();
    assert_eq!(rejected.status, TaskStatus::Failed);
    assert_eq!(
        rejected.error.as_deref(),
        Some(&*format!("rejected {MASK}"))
    );
    assert!(!out.errors.is_empty());
    for e in &out.errors {
        assert!(!e.message.contains(TOKEN), "{}", e.message);
    }
    let failed = events
        .iter()
        .find_map(|k| match k {
            EventKind::TaskFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .expect("a TaskFailed event");
    assert_eq!(failed, format!("rejected {MASK}"));
    // Nothing the run handed back holds the secret.
    let all = format!("{:?} {:?}", out, events);
    assert!(!all.contains(TOKEN), "the secret leaked: {all}");
}

#[tokio::test]
async fn a_secret_default_and_a_secret_inside_a_structure_are_masked() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        r#"
input:
  - {name: creds, secret: true, default: {user: bob, password: "pa55-word"}}
tasks:
  show: {action: core.echo, input: {message: "{{ ctx().creds }}"}}
output:
  - user: "{{ ctx().creds.user }}"
  - password: "{{ ctx().creds.password }}"
"#,
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded);
    // `bob` is shorter than four characters: masking it would mask every
    // "bob" in the run, so short values are left alone.
    assert_eq!(out.output, json!({"user": "bob", "password": MASK}));
    let shown = text(&common::result(&out, "show"));
    assert!(
        !shown.contains("pa55-word") && shown.contains(MASK),
        "{shown}"
    );
}

#[tokio::test]
async fn a_type_error_names_the_type_not_the_value() {
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        "input: [blob]\ntasks:\n  t: {with: {items: '{{ ctx().blob }}'}, action: core.noop}\n",
    );
    let blob = "private text that should stay out of error messages";
    let out = common::run(&ex, &plan, json!({ "blob": blob })).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.task("t").next().unwrap().error.as_deref().unwrap();
    assert!(err.contains("gave a string, not a list"), "{err}");
    assert!(!err.contains("private"), "{err}");
}

#[test]
fn the_long_input_form_is_checked() {
    let err = Workflow::from_yaml_str(
        "input:\n  - {name: token, secrett: true}\ntasks:\n  t: {action: core.noop}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("secrett"), "{err}");
    assert!(err.contains("2:"), "the error names the line: {err}");
}
