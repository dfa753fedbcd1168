//! `ctx().st2`: StackStorm's run context, as StackStorm's Orquesta runner
//! gives it, in both dialects, known to the compile-time name checks.
mod common;

use serde_json::json;
use weft_runtime::{Executor, RunId, RunStatus};
use weft_stackstorm::{PackExt, Packs, St2Context};

fn executor() -> Executor {
    weft_stackstorm::install_functions().expect("functions install first");
    let packs = Packs::new()
        .load(common::st2("core"))
        .and_then(|p| p.load(common::st2("examples")))
        .unwrap_or_else(|e| panic!("StackStorm's packs do not load: {e}"));
    Executor::builder()
        .st2_context(
            St2Context::new()
                .api_url("https://st2.example.com/api/v1")
                .user("ops"),
        )
        .packs(&packs)
        .build()
}

#[tokio::test]
async fn the_st2_ctx_example_hands_out_its_execution_url() {
    let ex = executor();
    let out = common::call(&ex, "examples.orquesta-st2-ctx", "{}").await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let callback = common::result(&out)["output"]["callback"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = callback
        .strip_prefix("https://st2.example.com/api/v1/executions/")
        .unwrap_or_else(|| panic!("{callback}"));
    // The sub-workflow's own run.
    let id: RunId = id.parse().unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_ne!(id, out.run_id);
}

#[tokio::test]
async fn st2_is_read_in_vars_publish_and_output_in_both_dialects() {
    let ex = executor();
    let plan = common::plan(
        &ex,
        r#"
version: 1.0
vars:
  - at_vars: <% ctx().st2 %>
output:
  - at_vars: <% ctx().at_vars %>
  - at_publish: "{{ ctx('at_publish') }}"
  - user: "{{ ctx().st2.user }}"
  - at_output: <% ctx(st2) %>
tasks:
  task1:
    action: core.noop
    next:
      - publish:
          - at_publish: "{{ ctx('st2') }}"
"#,
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let output = out.output.clone();
    let expected = json!({
        "action_execution_id": out.run_id.to_string(),
        "workflow_execution_id": out.run_id.to_string(),
        "api_url": "https://st2.example.com/api/v1",
        "user": "ops",
        "pack": null,
        "action": plan.name().to_string(),
        "runner": "orquesta",
    });
    for key in ["at_vars", "at_publish", "at_output"] {
        assert_eq!(output[key], expected, "{key}");
    }
    assert_eq!(output["user"], "ops");
}

#[test]
fn st2_is_a_known_name_and_others_are_not() {
    let ex = executor();
    let err = common::compile_error(
        &ex,
        "tasks:\n  a:\n    action: core.noop\n    next:\n      - publish: [{x: <% ctx().st3 %>}]\n",
    );
    assert!(err.message().contains("`ctx('st3')`"), "{err}");
}
