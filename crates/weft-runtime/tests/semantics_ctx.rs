//! `ctx()`: Orquesta's one namespace — the inputs, then `vars`, then
//! everything published, later values over earlier ones — read as
//! `ctx('x')` or `ctx().x`, and `output` rendered with a rolling context.
mod common;

use serde_json::json;
use weft_runtime::{Executor, RunStatus};

#[tokio::test]
async fn data_flows_through_inputs_vars_publishes_and_output() {
    // test_workflow_conductor_data_flow.py (the Jinja variant): for any
    // JSON value of `a1`, the output is {a5: a1, b5: a1}.
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        r#"
input:
  - a1
  - b1: '{{ ctx("a1") }}'
vars:
  - a2: '{{ ctx("b1") }}'
  - b2: '{{ ctx("a2") }}'
output:
  - a5: '{{ ctx("b4") }}'
  - b5: '{{ ctx("a5") }}'
tasks:
  task1:
    action: core.noop
    next:
      - when: '{{ succeeded() }}'
        publish: [{a3: '{{ ctx("b2") }}'}, {b3: '{{ ctx("a3") }}'}]
        do: task2
  task2:
    action: core.noop
    next:
      - when: '{{ succeeded() }}'
        publish: [{a4: '{{ ctx("b3") }}'}, {b4: '{{ ctx().a4 }}'}]
        do: task3
  task3:
    action: core.noop
"#,
    );
    for value in [
        json!("fee fi fo fum"),
        json!(123),
        json!(-123),
        json!(12.34),
        json!(true),
        json!(null),
        json!({"k1": "v1", "k2": [1, 2, {"k3": "v3"}]}),
        json!(["a", "b", "c"]),
        json!("日本語"),
    ] {
        let out = common::run(&ex, &plan, json!({ "a1": value })).await;
        assert_eq!(
            out.status,
            RunStatus::Succeeded,
            "{value}: {:?}",
            out.errors
        );
        assert_eq!(out.output, json!({"a5": value, "b5": value}), "{value}");
    }
}

#[tokio::test]
async fn later_assignments_overwrite_earlier_ones_whatever_set_them() {
    // Orquesta's docs (context.rst): inputs, then vars, then publishes;
    // a var or a publish may take an input's name.
    let ex = Executor::new();
    let plan = common::plan(
        &ex,
        r#"
input: [x, {y: '{{ ctx("x") + 1 }}'}]
vars: [{x: '{{ ctx("y") * 10 }}'}, {z: '{{ ctx().x }}'}]
tasks:
  t1:
    action: core.noop
    next:
      - publish: [{y: '{{ ctx("z") + 1 }}'}, {w: '{{ ctx("y") }}'}]
output:
  - x: '{{ ctx("x") }}'
  - y: '{{ ctx("y") }}'
  - z: '{{ ctx("z") }}'
  - w: '{{ ctx("w") }}'
  - o1: '{{ ctx("y") * 2 }}'
  - o2: '{{ ctx("o1") + 1 }}'
  - input_x: '{{ parameters.x }}'
  - keys: '{{ ctx() | list }}'
"#,
    );
    let out = common::run(&ex, &plan, json!({"x": 1})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(
        out.output,
        json!({
            "x": 20, "y": 21, "z": 20, "w": 21, "o1": 42, "o2": 43,
            // `parameters` keeps the inputs as given; each output entry is
            // in ctx() for those after it.
            "input_x": 1,
            "keys": ["input_x", "o1", "o2", "w", "x", "y", "z"],
        })
    );
}

#[tokio::test]
async fn a_name_in_no_namespace_is_an_error_that_names_it() {
    let ex = Executor::new();
    // A name written out is checked when compiling.
    let err = weft_core::Workflow::from_yaml_str(
        "vars: [{hope: 1}]\ntasks:\n  t: {action: core.echo, input: {message: '{{ ctx(\"nope\") }}'}}\n",
    )
    .unwrap()
    .compile(&ex)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3:47: invalid workflow in task `t`, field `input.message`: `ctx('nope')`: \
         no input, variable or published value is named `nope`: did you mean `hope`?"
    );
    // One made at run time fails there.
    let plan = common::plan(
        &ex,
        "tasks:\n  t: {action: core.echo, input: {message: '{{ ctx(\"no\" ~ \"pe\") }}'}}\n",
    );
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let err = out.tasks[0].error.as_deref().unwrap();
    assert!(
        err.contains("ctx(\"nope\")") && err.contains("no input or variable"),
        "{err}"
    );
}
