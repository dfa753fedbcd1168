//! Orquesta's inline syntax, run end to end: the parameters written after
//! an action's name are the input the action receives, a `publish` string
//! publishes its pairs, and the run ends with the output Orquesta's own
//! conductor gave for the same workflow. Also the run-time half of weft's
//! `concurrency` rule (a constant below 1 is a compile error, tested with
//! the fixtures of weft-core).

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use weft::prelude::*;

/// Orquesta's engine-observed case `inline-params-and-publish`, with the
/// two pairs Orquesta drops text from written as weft's errors ask:
/// `word=hello` (which Orquesta drops) left out, and `w=12abc` (which it
/// reads as 12) written `w=12`.
const CASE: &str = r#"version: 1.0
input:
  - n: 41
tasks:
  t1:
    action: core.echo message="hello world" count=3 ratio=0.5 flag=TRUE nothing=null expr={{ ctx("n") + 1 }} lst=[1, 2] obj='{"a":1}'
    next:
      - when: '{{ succeeded() }}'
        publish: i=123 j="abc" k=true f=-0.5 n2=null q='123' d='{"a":1}' e={{ ctx("n") + 1 }} s="x y z", t=False; u=.5 v=0123 w=12
        do: "t2, t3"
  t2:
    action: core.noop
  t3:
    action: core.noop
output:
  - i: '{{ ctx("i") }}'
  - j: '{{ ctx("j") }}'
  - k: '{{ ctx("k") }}'
  - f: '{{ ctx("f") }}'
  - n2: '{{ ctx("n2") }}'
  - q: '{{ ctx("q") }}'
  - d: '{{ ctx("d") }}'
  - e: '{{ ctx("e") }}'
  - s: '{{ ctx("s") }}'
  - t: '{{ ctx("t") }}'
  - u: '{{ ctx("u") }}'
  - v: '{{ ctx("v") }}'
  - w: '{{ ctx("w") }}'
"#;

#[tokio::test]
async fn the_orquesta_case_runs_with_the_input_and_output_orquesta_gives() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let record = seen.clone();
    // `core.echo` replaced by an action that keeps the input it is given.
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
    let plan = Workflow::from_yaml_str(CASE)
        .and_then(|wf| wf.compile(&executor))
        .unwrap_or_else(|e| panic!("{e}"));
    let outcome = executor
        .start(&plan, json!({}))
        .unwrap_or_else(|e| panic!("{e}"))
        .await
        .expect("the run reports an outcome");
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.errors);

    // `parsed_action_input` of the case, with the expression evaluated.
    let inputs = seen.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(
        inputs,
        [json!({
            "message": "hello world",
            "count": 3,
            "ratio": 0.5,
            "flag": true,
            "nothing": null,
            "expr": 42,
            "lst": [1, 2],
            "obj": {"a": 1}
        })]
    );
    // `expected_output` of the case.
    assert_eq!(
        outcome.output,
        json!({
            "i": 123, "j": "abc", "k": true, "f": -0.5, "n2": null, "q": "123",
            "d": {"a": 1}, "e": 42, "s": "x y z", "t": false, "u": ".5", "v": "0123",
            "w": 12
        })
    );
    let mut ran: Vec<&str> = outcome.tasks.iter().map(|t| &*t.name).collect();
    ran.sort_unstable();
    assert_eq!(ran, ["t1", "t2", "t3"]);
}

#[tokio::test]
async fn with_items_pass_each_item_through_inline_parameters() {
    let text = r#"
input:
  - names: [ada, grace]
tasks:
  greet:
    with: "{{ parameters.names }}"
    action: core.echo message="hello, {{ item }} (#{{ index + 1 }})"
    next:
      - publish: greetings={{ result() | map(attribute='message') | list }} count={{ result() | length }}
output:
  - greetings: "{{ ctx('greetings') }}"
  - count: "{{ ctx('count') }}"
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
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.errors);
    assert_eq!(
        outcome.output,
        json!({"greetings": ["hello, ada (#1)", "hello, grace (#2)"], "count": 2})
    );
}

// Orquesta accepts `concurrency: 0` (its schema's minimum) and, as the
// value of an expression, anything: below 1 it dispatches one item at a time
// (`test_basic_items_list_with_zero_concurrency`). A negative constant is
// refused by its schema, and by weft's compiler.
#[tokio::test]
async fn concurrency_below_one_runs_one_item_at_a_time() {
    let text = r#"
input:
  - width: 0
tasks:
  each:
    with: {items: "{{ [1, 2, 3, 4] }}", concurrency: "{{ parameters.width }}"}
    action: probe
    input: {n: "{{ item }}"}
"#;
    // How many items are in flight now, and the most seen at once.
    let gauge = Arc::new(Mutex::new((0usize, 0usize)));
    let g = gauge.clone();
    let executor = Executor::builder()
        .action("probe", move |input: ActionInput| {
            let g = g.clone();
            async move {
                {
                    let mut g = g.lock().unwrap();
                    g.0 += 1;
                    g.1 = g.1.max(g.0);
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                g.lock().unwrap().0 -= 1;
                Ok(input.input["n"].clone())
            }
        })
        .build();
    let plan = Workflow::from_yaml_str(text)
        .and_then(|wf| wf.compile(&executor))
        .unwrap_or_else(|e| panic!("{e}"));
    let constant = Workflow::from_yaml_str(&text.replace("\"{{ parameters.width }}\"", "0"))
        .and_then(|wf| wf.compile(&executor))
        .unwrap_or_else(|e| panic!("a constant 0 compiles: {e}"));
    let runs = [
        (&plan, json!(0), 1),
        (&plan, json!(-2), 1),
        (&constant, json!(0), 1),
        (&plan, json!(3), 3),
    ];
    for (plan, width, most) in runs {
        *gauge.lock().unwrap() = (0, 0);
        let outcome = executor
            .start(plan, json!({"width": width}))
            .unwrap_or_else(|e| panic!("{e}"))
            .await
            .expect("the run reports an outcome");
        assert_eq!(
            outcome.status,
            RunStatus::Succeeded,
            "width {width}: {:?}",
            outcome.errors
        );
        let each = outcome.task("each").next().expect("the task ran");
        assert_eq!(
            each.result.as_deref(),
            Some(&json!([1, 2, 3, 4])),
            "width {width}"
        );
        assert_eq!(
            gauge.lock().unwrap().1,
            most,
            "items in flight at width {width}"
        );
    }
    let e = Workflow::from_yaml_str(&text.replace("\"{{ parameters.width }}\"", "-1"))
        .and_then(|wf| wf.compile(&executor))
        .expect_err("a negative constant");
    assert!(
        e.message()
            .contains("concurrency must be a whole number of at least 0, not -1"),
        "{e}"
    );
}
