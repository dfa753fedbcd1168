//! weft's YAQL against the `yaql` Python library as Orquesta sets it up.
//!
//! `tests/yaql/expressions.txt` holds workflow strings; for each,
//! `tests/yaql/corpus.json` records what Orquesta's YAQL gives over the
//! context of `tests/yaql/context.json` (computed by
//! `scripts/yaql_expect.py`): a JSON value, or an error. weft must give
//! the same value with the same types, and must fail where yaql fails.
//! Sets, which JSON does not have, are recorded as `{"$set": [...]}` and
//! compared without order.
//!
//! `corpus_matches_python_live` recomputes the expectations with Python
//! when one with `yaql` is found (`WEFT_YAQL_PYTHON`, or `python3`) when
//! weft-core is built; otherwise it is ignored, and says so.

use std::sync::Arc;

use serde_json::{json, Value};
use weft_core::{CurrentTask, TaskStatus, Template, WorkflowContext};

const CORPUS: &str = include_str!("yaql/corpus.json");

fn status(s: &str) -> TaskStatus {
    match s {
        "succeeded" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        "running" => TaskStatus::Running,
        "canceled" => TaskStatus::Canceled,
        other => panic!("status {other} in context.json"),
    }
}

/// The context of `context.json` as a run would hold it.
fn context(fixture: &Value) -> WorkflowContext {
    let vars = fixture["variables"]
        .as_object()
        .expect("variables")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()));
    let ctx = WorkflowContext::new(fixture["parameters"].clone(), vars);
    for (name, s) in fixture["task_statuses"].as_object().expect("task_statuses") {
        ctx.set_task_status(name, status(s.as_str().expect("status")));
    }
    let task = &fixture["current_task"];
    let mut ctx = ctx.with_current_task(CurrentTask {
        name: Arc::from(task["id"].as_str().expect("id")),
        status: status(task["status"].as_str().expect("status")),
        result: Arc::new(task["result"].clone()),
    });
    ctx.set_current_item(fixture["current_item"].clone(), 0);
    ctx
}

/// `actual` is what `expected` describes: the same JSON, sets in any order.
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Array(a)) if e.len() == 1 && e.contains_key("$set") => {
            let Some(Value::Array(items)) = e.get("$set") else {
                return false;
            };
            let mut left: Vec<&Value> = a.iter().collect();
            items.len() == a.len()
                && items
                    .iter()
                    .all(|x| match left.iter().position(|y| same(x, y)) {
                        Some(i) => {
                            left.remove(i);
                            true
                        }
                        None => false,
                    })
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| same(x, y))
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, x)| a.get(k).is_some_and(|y| same(x, y)))
        }
        // Same JSON, and the same kind of number (2 is not 2.0).
        (Value::Number(e), Value::Number(a)) => e == a && e.is_f64() == a.is_f64(),
        _ => expected == actual,
    }
}

/// Every case of `corpus` that weft does not answer as it says.
fn mismatches(corpus: &Value) -> (usize, Vec<String>) {
    let ctx = context(&corpus["context"]);
    let cases = corpus["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for case in cases {
        let text = case["expr"].as_str().expect("expr");
        let got = Template::compile(text).and_then(|t| t.eval(&ctx));
        match (case.get("value"), case.get("error"), &got) {
            (Some(want), _, Ok(v)) if same(want, v) => {}
            (None, Some(_), Err(_)) => {}
            (Some(want), _, _) => {
                failures.push(format!("{text}\n    yaql: {want}\n    weft: {got:?}"))
            }
            (None, Some(e), Ok(v)) => {
                failures.push(format!("{text}\n    yaql: error {e}\n    weft: {v}"))
            }
            _ => failures.push(format!("{text}: the case has no value and no error")),
        }
    }
    (cases.len(), failures)
}

#[test]
fn weft_answers_as_yaql_does() {
    let corpus: Value = serde_json::from_str(CORPUS).expect("corpus.json");
    let (n, failures) = mismatches(&corpus);
    assert!(n >= 250, "only {n} cases");
    assert!(
        failures.is_empty(),
        "{} of {n} cases differ from yaql:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_covers_errors_text_and_every_operator() {
    let corpus: Value = serde_json::from_str(CORPUS).expect("corpus.json");
    let cases = corpus["cases"].as_array().expect("cases");
    let errors = cases.iter().filter(|c| c.get("error").is_some()).count();
    let text = cases
        .iter()
        .filter(|c| {
            let s = c["expr"].as_str().unwrap_or("");
            !(s.starts_with("<%") && s.ends_with("%>") && s.matches("<%").count() == 1)
        })
        .count();
    assert!(errors >= 40, "{errors} error cases");
    assert!(text >= 10, "{text} strings with text around expressions");
    for op in [
        " + ", " - ", " * ", " / ", " mod ", " = ", " != ", " < ", " <= ", " > ", " >= ", " and ",
        " or ", "not ", " in ", "->", "?.", "=>", "[0]", "$1",
    ] {
        assert!(
            cases
                .iter()
                .any(|c| c["expr"].as_str().unwrap_or("").contains(op)),
            "no case uses `{op}`"
        );
    }
}

/// Deliberate differences from yaql, asserted here with weft's answer.
#[test]
fn deliberate_differences_from_yaql() {
    let ctx = WorkflowContext::new(json!({"x": "<% 1 + 1 %>"}), []);
    // Orquesta evaluates a string result again as an expression; weft
    // does not (a value from a task must never become code).
    let t = Template::compile("<% ctx(x) %>").unwrap();
    assert_eq!(t.eval(&ctx).unwrap(), json!("<% 1 + 1 %>"));
    // Integers are 64-bit: Python's would grow.
    let e = Template::compile("<% 9223372036854775807 + 1 %>")
        .unwrap()
        .eval(&ctx)
        .unwrap_err();
    assert!(e.message().contains("integer overflow"), "{e}");
    assert!(Template::compile("<% 99999999999999999999 %>").is_err());
}

#[cfg_attr(
    not(weft_yaql_python),
    ignore = "needs a Python with the yaql library when weft-core is built: pip install yaql, then set WEFT_YAQL_PYTHON to that python"
)]
#[test]
fn corpus_matches_python_live() {
    let python = option_env!("WEFT_YAQL_PYTHON").unwrap_or("python3");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/yaql_expect.py");
    let out = std::process::Command::new(python)
        .args([script, "--stdout"])
        .output()
        .expect("run scripts/yaql_expect.py");
    assert!(
        out.status.success(),
        "yaql_expect.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    let committed: Value = serde_json::from_str(CORPUS).expect("corpus.json");
    assert_eq!(
        live["cases"], committed["cases"],
        "corpus.json is out of date with yaql {}: run scripts/yaql_expect.py",
        live["yaql"]
    );
    let (n, failures) = mismatches(&live);
    assert!(
        failures.is_empty(),
        "{} of {n} live cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
