//! weft's Jinja gives Orquesta's answers: the Jinja expressions of
//! StackStorm's workflows and of Orquesta's tests, Python's methods on
//! strings, lists and maps, and Jinja as workflows write it, each answered
//! by Orquesta's own evaluator (`scripts/jinja_expect.py`, recorded in
//! `tests/jinja/orquesta_jinja.json`; answered afresh when
//! `WEFT_ORQUESTA_PYTHON` names a Python with Orquesta).
//!
//! Where weft differs on purpose, the case is listed in [`KNOWN`] with the
//! reason docs/workflow-language.md gives; a listed case that agrees, or an
//! unlisted one that differs, fails the test.

use std::sync::LazyLock;

use serde_json::{json, Value};
use weft_core::{CurrentTask, TaskStatus, Template, WorkflowContext};

static INSTALLED: LazyLock<()> = LazyLock::new(|| {
    weft_stackstorm::install_functions().expect("the functions install before any compile");
});

/// Expressions whose answer differs from Orquesta's on purpose, and why.
const KNOWN: &[(&str, &str)] = &[
    (
        "{{ ctx().fee }}",
        "a string read from the context is a value, not an expression: Orquesta evaluates `{{ }}` found inside a value again, weft does not",
    ),
    (
        "{{ '%s-%s' % ('a', 'b') }}",
        "Python's `%` string formatting is an error in weft: write `'{}-{}'.format(a, b)` or `a ~ '-' ~ b`",
    ),
    (
        "{{ 'x=%d' % ctx().y }}",
        "Python's `%` string formatting is an error in weft: write `'x={}'.format(n)`",
    ),
];

/// The fixture's context as weft holds it: the inputs as the run's
/// inputs, the variables as published, the completing task and the item.
fn context(c: &Value) -> WorkflowContext {
    let vars = c["vars"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let ctx = WorkflowContext::new(c["inputs"].clone(), vars);
    let cur = &c["current_task"];
    let name = cur["name"].as_str().unwrap_or("t1");
    ctx.set_task_result(name, cur["result"].clone());
    ctx.set_task_status(name, TaskStatus::Succeeded);
    let mut ctx = ctx.with_current_task(CurrentTask {
        name: name.into(),
        status: TaskStatus::Succeeded,
        result: cur["result"].clone().into(),
    });
    ctx.set_current_item(c["item"].clone(), 0);
    ctx
}

enum Verdict {
    Agree,
    Known(&'static str),
    Differ(String),
}

fn check(case: &Value, ctx: &WorkflowContext) -> Verdict {
    let expr = case["expr"].as_str().unwrap_or_default();
    let got = Template::compile(expr).and_then(|t| t.eval(ctx));
    let agree = match (&got, case.get("ok"), case.get("error")) {
        (Ok(v), Some(want), _) => v == want,
        (Err(_), _, Some(_)) => true,
        _ => false,
    };
    let known = KNOWN.iter().find(|(e, _)| *e == expr).map(|(_, why)| *why);
    match (agree, known) {
        (true, None) => Verdict::Agree,
        (false, Some(why)) => Verdict::Known(why),
        (true, Some(_)) => Verdict::Differ(format!(
            "`{expr}` is listed as a known difference but agrees with Orquesta: take it off KNOWN"
        )),
        (false, None) => Verdict::Differ(format!(
            "`{expr}`: weft {}, Orquesta {}",
            match &got {
                Ok(v) => v.to_string(),
                Err(e) => format!("error: {}", e.message()),
            },
            case.get("ok")
                .map(Value::to_string)
                .or_else(|| case.get("error").map(|e| format!("error: {e}")))
                .unwrap_or_default()
        )),
    }
}

fn check_all(answered: &Value) -> Vec<String> {
    LazyLock::force(&INSTALLED);
    let ctx = context(&answered["context"]);
    let cases = answered["cases"].as_array().cloned().unwrap_or_default();
    let (mut agree, mut known, mut failures) = (0, 0, Vec::new());
    for case in &cases {
        match check(case, &ctx) {
            Verdict::Agree => agree += 1,
            Verdict::Known(why) => {
                known += 1;
                println!(
                    "differs on purpose: `{}`: {why}",
                    case["expr"].as_str().unwrap_or_default()
                );
            }
            Verdict::Differ(m) => failures.push(m),
        }
    }
    println!(
        "{} expressions answered by Orquesta {}: {agree} agree, {known} differ on purpose",
        cases.len(),
        answered["versions"]
    );
    failures
}

#[test]
fn recorded_answers_of_orquesta() {
    let fixture: Value = serde_json::from_str(include_str!("jinja/orquesta_jinja.json")).unwrap();
    let cases = fixture["cases"].as_array().map_or(0, Vec::len);
    assert!(cases >= 200, "{cases} cases");
    let from_workflows = fixture["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["from"] != json!("python"))
        .count();
    assert!(
        from_workflows >= 70,
        "{from_workflows} from workflows and Orquesta's tests"
    );
    let failures = check_all(&fixture);
    assert!(
        failures.is_empty(),
        "{} of {cases} expressions differ from Orquesta:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
#[cfg_attr(
    not(weft_orquesta_jinja_live),
    ignore = "set WEFT_ORQUESTA_PYTHON to a Python with Orquesta 1.6 (from its source: PyPI has 1.2.0), PyYAML, semver, jsonpath-rw and orjson, and rebuild"
)]
fn fresh_answers_of_orquesta() {
    let python = option_env!("WEFT_LIVE_PYTHON").unwrap_or("python3");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/jinja_expect.py");
    let out = std::process::Command::new(python)
        .args([script, "answer"])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    assert!(
        out.status.success(),
        "the script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answered: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failures = check_all(&answered);
    assert!(
        failures.is_empty(),
        "{} expressions differ from Orquesta:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
