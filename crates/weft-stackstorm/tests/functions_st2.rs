//! StackStorm's expression functions give StackStorm's answers: the
//! expectations of StackStorm's own tests and workflows, copied as facts,
//! and a corpus answered by the Python libraries StackStorm's functions
//! are made of (`scripts/st2_functions_expect.py`, recorded in
//! `tests/functions/st2_functions.json`; fresh cases when a Python with
//! those libraries is set in `WEFT_ORQUESTA_PYTHON`).

use std::sync::LazyLock;

use serde_json::{json, Value};
use weft_core::functions::{self, Args, Call};
use weft_core::{CurrentTask, TaskStatus, Template, Workflow, WorkflowContext};
use weft_runtime::store::KvEntry;

static INSTALLED: LazyLock<()> = LazyLock::new(|| {
    weft_stackstorm::install_functions().expect("the functions install before any compile");
});

fn setup() {
    LazyLock::force(&INSTALLED);
}

/// Evaluates one expression over a context with StackStorm's test data.
fn eval(source: &str, ctx: &WorkflowContext) -> Result<Value, weft_core::Error> {
    setup();
    Template::compile(source)?.eval(ctx)
}

fn data_context() -> WorkflowContext {
    // The vars of StackStorm's jinja-data-functions workflow.
    WorkflowContext::new(
        json!({}),
        [
            (
                "data_json_str_1".to_owned(),
                json!(r#"{"foo": {"bar": "foobar"}}"#),
            ),
            ("none".to_owned(), Value::Null),
            (
                "data_list".to_owned(),
                json!([{"a": 1, "b": 2}, {"x": 3, "y": 4}]),
            ),
        ],
    )
}

/// StackStorm's `orquesta_tests` workflow `jinja-data-functions.yaml`
/// and the output its test expects (`test_functions_common.py`).
#[test]
fn stackstorm_data_functions_workflow() {
    let mut ctx = data_context();
    let mut out = serde_json::Map::new();
    // Each output sees the ones before it, as Orquesta's output does.
    for (name, expr) in [
        ("data_json_str_1", r#"{{ ctx("data_json_str_1") }}"#),
        (
            "data_json_obj_1",
            r#"{{ from_json_string(ctx("data_json_str_1")) }}"#,
        ),
        (
            "data_yaml_str_1",
            r#"{{ to_yaml_string(ctx("data_json_obj_1")) }}"#,
        ),
        (
            "data_json_obj_2",
            r#"{{ from_yaml_string(ctx("data_yaml_str_1")) }}"#,
        ),
        (
            "data_json_str_2",
            r#"{{ to_json_string(ctx("data_json_obj_2")) }}"#,
        ),
        (
            "data_query_1",
            r#"{{ jsonpath_query(ctx("data_json_obj_2"), "$.foo.bar") }}"#,
        ),
        (
            "data_pipe_str_1",
            r#"{{ ctx("data_json_str_1") | from_json_string() | to_yaml_string() | from_yaml_string() | to_json_string() }}"#,
        ),
        (
            "data_json_obj_3",
            r#"{{ json_parse(ctx("data_json_str_1")) }}"#,
        ),
        (
            "data_yaml_str_2",
            r#"{{ yaml_dump(ctx("data_json_obj_3")) }}"#,
        ),
        (
            "data_json_obj_4",
            r#"{{ yaml_parse(ctx("data_yaml_str_2")) }}"#,
        ),
        (
            "data_json_str_3",
            r#"{{ json_dump(ctx("data_json_obj_4")) }}"#,
        ),
        ("data_none_str", r#"{{ use_none(ctx("none")) }}"#),
        ("data_str", r#"{{ use_none("foobar") }}"#),
        ("data_list_str", r#"{{ to_yaml_string(ctx("data_list")) }}"#),
    ] {
        let v = eval(expr, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        ctx.set_var(name, v.clone());
        out.insert(name.to_owned(), v);
    }
    assert_eq!(
        Value::Object(out),
        json!({
            "data_json_str_1": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_str_2": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_str_3": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_json_obj_1": {"foo": {"bar": "foobar"}},
            "data_json_obj_2": {"foo": {"bar": "foobar"}},
            "data_json_obj_3": {"foo": {"bar": "foobar"}},
            "data_json_obj_4": {"foo": {"bar": "foobar"}},
            "data_yaml_str_1": "foo:\n  bar: foobar\n",
            "data_yaml_str_2": "foo:\n  bar: foobar\n",
            "data_query_1": ["foobar"],
            "data_pipe_str_1": "{\"foo\": {\"bar\": \"foobar\"}}",
            "data_none_str": "%*****__%NONE%__*****%",
            "data_str": "foobar",
            "data_list_str": "- a: 1\n  b: 2\n- x: 3\n  y: 4\n"
        })
    );
}

/// The path, regex, time and version workflows of `orquesta_tests` and the
/// outputs their tests expect.
#[test]
fn stackstorm_path_regex_time_version_workflows() {
    let ctx = WorkflowContext::new(json!({}), []);
    for (expr, expected) in [
        (
            r#"{{ basename("/path/to/some/file.txt") }}"#,
            json!("file.txt"),
        ),
        (
            r#"{{ dirname("/path/to/some/file.txt") }}"#,
            json!("/path/to/some"),
        ),
        (r#"{{ regex_match("xyz", "x") }}"#, json!(true)),
        (r#"{{ regex_replace("xyz", "x", "wx") }}"#, json!("wxyz")),
        (r#"{{ regex_search("xyz", "y") }}"#, json!(true)),
        (
            r#"{{ regex_substring("I live at 668 Infinite Dr", "([0-9]{3} \w+ (?:Ave|St|Dr))") }}"#,
            json!("668 Infinite Dr"),
        ),
        ("{{ to_human_time_from_seconds(12345) }}", json!("3h25m45s")),
        (r#"{{ version_compare("0.10.0", "0.10.0") }}"#, json!(0)),
        (r#"{{ version_compare("0.10.0", "0.10.1") }}"#, json!(-1)),
        (r#"{{ version_compare("0.10.1", "0.10.0") }}"#, json!(1)),
        (r#"{{ version_equal("0.10.0", "0.10.0") }}"#, json!(true)),
        (
            r#"{{ version_more_than("0.9.0", "0.10.0") }}"#,
            json!(false),
        ),
        (
            r#"{{ version_less_than("0.10.0", "0.9.0") }}"#,
            json!(false),
        ),
        (r#"{{ version_match("0.10.1", ">0.10.0") }}"#, json!(true)),
        (r#"{{ version_bump_major("0.10.0") }}"#, json!("1.0.0")),
        (r#"{{ version_bump_minor("0.10.0") }}"#, json!("0.11.0")),
        (r#"{{ version_bump_patch("0.10.0") }}"#, json!("0.10.1")),
        (r#"{{ version_strip_patch("0.10.0") }}"#, json!("0.10")),
    ] {
        assert_eq!(
            eval(expr, &ctx).unwrap_or_else(|e| panic!("{expr}: {e}")),
            expected,
            "{expr}"
        );
    }
}

/// StackStorm's Jinja filter tests (`st2common/tests/unit/test_jinja_render_*`):
/// the same functions as filters, rendered into text.
#[test]
fn stackstorm_filter_tests() {
    let ctx = WorkflowContext::new(
        json!({
            "k1": "xyz",
            "v": "v0.10.1",
            "version": "0.10.1",
            "obj": {"people": [
                {"first": "James", "last": "d"},
                {"first": "Jacob", "last": "e"},
                {"first": "Jayden", "last": "f"},
                {"missing": "different"}
            ], "foo": {"bar": "baz"}},
            "query": "people[*].last",
            "dq": "foo \"\"\" bar",
            "bs": "foo \\ bar",
            "nl": "foo \n bar",
            "path": "/some/path/to/dir/",
            "secs": 12345
        }),
        [],
    );
    setup();
    let render = |s: &str| {
        Template::compile(s)
            .and_then(|t| t.render_string(&ctx))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    };
    assert_eq!(render(r#"{{ parameters.k1 | regex_match("x") }}"#), "True");
    assert_eq!(render(r#"{{ parameters.k1 | regex_match("y") }}"#), "False");
    assert_eq!(
        render(r#"{{ parameters.v | regex_match("^v(\\d+\\.)?(\\d+\\.)?(\\*|\\d+)$") }}"#),
        "True"
    );
    assert_eq!(
        render(r#"{{ parameters.k1 | regex_replace("x", "y") }}"#),
        "yyz"
    );
    assert_eq!(
        render(r#"{{ parameters.version | version_compare("0.10.0") }}"#),
        "1"
    );
    assert_eq!(
        render(r#"{{ parameters.version | version_more_than("0.10.0") }}"#),
        "True"
    );
    assert_eq!(
        render("{{ parameters.version | version_bump_patch }}"),
        "0.10.2"
    );
    assert_eq!(
        render("{{ parameters.version | version_strip_patch }}"),
        "0.10"
    );
    assert_eq!(
        render("{{ parameters.secs | to_human_time_from_seconds }}"),
        "3h25m45s"
    );
    assert_eq!(render("{{ parameters.path | basename }}"), "");
    assert_eq!(
        render("{{ parameters.path | dirname }}"),
        "/some/path/to/dir"
    );
    assert_eq!(
        render("{{ parameters.dq | json_escape }}"),
        r#"foo \"\"\" bar"#
    );
    assert_eq!(render("{{ parameters.bs | json_escape }}"), r"foo \\ bar");
    assert_eq!(render("{{ parameters.nl | json_escape }}"), r"foo \n bar");
    assert_eq!(
        eval(
            r#"{{ parameters.obj | jsonpath_query("people[*].first") }}"#,
            &ctx
        )
        .unwrap(),
        json!(["James", "Jacob", "Jayden"])
    );
    assert_eq!(
        eval(
            "{{ parameters.obj | jsonpath_query(parameters.query) }}",
            &ctx
        )
        .unwrap(),
        json!(["d", "e", "f"])
    );
    assert_eq!(
        eval(
            "{{ parameters.obj | jsonpath_query('query_returns_no_results') }}",
            &ctx
        )
        .unwrap(),
        Value::Null
    );
    assert!(eval("{{ 'stuff' | to_human_time_from_seconds }}", &ctx).is_err());
}

/// `task()` reads the run's records; what StackStorm's test workflow
/// asks of it (`jinja-task-functions.yaml`): `task().task_id` in a task's
/// own transition, `task("task1").task_id`, `task("task4").result.stdout`.
#[test]
fn task_reads_the_run() {
    setup();
    let ctx = WorkflowContext::new(json!({}), []);
    ctx.set_system("run_id", json!("run-1"));
    ctx.set_task_result("task4", json!({"stdout": "False\n", "return_code": 0}));
    ctx.set_task_status("task4", TaskStatus::Succeeded);
    ctx.set_task_result("task1", json!({"stdout": "foobar"}));
    let in_task1 = ctx.with_current_task(CurrentTask {
        name: "task1".into(),
        status: TaskStatus::Succeeded,
        result: json!({"stdout": "foobar"}).into(),
    });
    assert_eq!(
        eval("{{ task().task_id }}", &in_task1).unwrap(),
        json!("task1")
    );
    assert_eq!(
        eval("{{ task('task1').task_id }}", &in_task1).unwrap(),
        json!("task1")
    );
    assert_eq!(
        eval("{{ task('task4').result.stdout }}", &ctx).unwrap(),
        json!("False\n")
    );
    assert_eq!(
        eval("{{ task('task4') }}", &ctx).unwrap(),
        json!({
            "task_id": "task4",
            "task_name": "task4",
            "workflow_execution_id": "run-1",
            "route": 0,
            "result": {"stdout": "False\n", "return_code": 0},
            "status": "succeeded",
            // A context without instance records (weft's scheduler
            // records them): no times.
            "start_timestamp": "None",
            "end_timestamp": "None",
        })
    );
    // `task.x` is still the results namespace.
    assert_eq!(
        eval("{{ task.task4.return_code }}", &ctx).unwrap(),
        json!(0)
    );
    let err = eval("{{ task('task0') }}", &ctx).unwrap_err();
    assert!(
        err.message()
            .contains("Unable to find task execution for \"task0\"."),
        "{err}"
    );
    let err = eval("{{ task('task9', route=1).result.stdout }}", &ctx).unwrap_err();
    assert!(
        err.message()
            .contains("Unable to find task execution for \"task9\"."),
        "{err}"
    );
    let err = eval("{{ task('task4', route='x') }}", &ctx).unwrap_err();
    assert!(err.message().contains("must be a route number"), "{err}");
    let err = eval("{{ task() }}", &ctx).unwrap_err();
    assert!(err.message().contains("name a task here"), "{err}");
}

/// A workflow that uses `st2kv` and `task()` compiles (and `task()` makes
/// the run record statuses); `st2kv` reads the datastore loaded, in both
/// dialects, with StackStorm's rules for scopes, defaults and secrets.
#[test]
fn st2kv_reads_the_datastore() {
    setup();
    let text = r#"
input: [key_name]
tasks:
  t1:
    action: core.noop
    next:
      - publish:
          - value: '{{ st2kv(ctx().key_name, decrypt=true, default="x") }}'
          - me: '{{ task("t1").status }}'
"#;
    let plan = Workflow::from_yaml_str(text)
        .unwrap()
        .compile(&["core.noop"][..])
        .unwrap();
    assert!(plan.uses_task_status());
    weft_stackstorm::use_datastore([
        KvEntry::new("system", "k", "v1"),
        KvEntry::new("system", "token", "s3cret").secret(true),
        KvEntry::new("user", "ops:mine", "m"),
    ]);
    let mut ctx = WorkflowContext::new(json!({"key_name": "system.k"}), []);
    ctx.set_var("st2", json!({"user": "ops"}));
    for (expr, want) in [
        ("{{ st2kv(ctx().key_name) }}", json!("v1")),
        ("<% st2kv(ctx().key_name) %>", json!("v1")),
        ("{{ st2kv('system.token', decrypt=true) }}", json!("s3cret")),
        (
            "<% st2kv('system.token', decrypt => true) %>",
            json!("s3cret"),
        ),
        ("{{ st2kv('mine') }}", json!("m")),
        ("<% st2kv('system.nope', default => null) %>", json!(null)),
        ("{{ st2kv('system.nope', default='d') }}", json!("d")),
    ] {
        assert_eq!(eval(expr, &ctx).unwrap(), want, "{expr}");
    }
    for (expr, message) in [
        (
            "{{ st2kv('system.nope') }}",
            "st2kv(): The key \"nope\" does not exist in the StackStorm datastore.",
        ),
        (
            "<% st2kv('nope') %>",
            "st2kv(): The key \"ops:nope\" does not exist in the StackStorm datastore.",
        ),
        (
            "{{ st2kv('system.token') }}",
            "is secret: read it with decrypt=true",
        ),
        ("{{ st2kv(1) }}", "Given key is not typeof string."),
        (
            "{{ st2kv('system.k', decrypt='yes') }}",
            "Decrypt parameter is not typeof bool.",
        ),
    ] {
        let err = eval(expr, &ctx).unwrap_err();
        assert!(err.message().contains(message), "{expr}: {err}");
    }
    // A user's key needs the run's user.
    let bare = WorkflowContext::new(json!({}), []);
    let err = eval("{{ st2kv('mine') }}", &bare).unwrap_err();
    assert!(err.message().contains("ctx().st2.user"), "{err}");
}

#[test]
fn every_function_is_installed_and_install_is_idempotent() {
    setup();
    weft_stackstorm::install_functions().unwrap();
    let names = weft_stackstorm::function_names();
    assert_eq!(names.len(), 30);
    for n in &names {
        assert!(functions::is_registered(n), "{n}");
    }
}

/// How weft's answer to one case compares with Python's.
enum Verdict {
    Agree,
    /// A difference docs/stackstorm.md describes.
    Documented(&'static str),
    Differ(String),
}

/// Calls `case` (`{"fn", "args", "kwargs"}`) and compares with its answer
/// (`ok`, `error`).
fn check(case: &Value) -> Verdict {
    let name = case["fn"].as_str().unwrap_or_default();
    let Some(f) = functions::get(name) else {
        return Verdict::Differ(format!("no function `{name}`"));
    };
    let empty = Vec::new();
    let mut args = Args::new();
    for a in case["args"].as_array().unwrap_or(&empty) {
        args = args.arg(a);
    }
    if let Some(kw) = case["kwargs"].as_object() {
        for (k, v) in kw {
            args = args.kwarg(k.as_str(), v);
        }
    }
    let got = f.call(&args, &Call::new(name));
    match (&got, case.get("ok"), case.get("error")) {
        (Ok(v), Some(want), _) if v == want => return Verdict::Agree,
        (Err(_), _, Some(_)) => return Verdict::Agree,
        (Err(e), Some(_), _)
            if e.message()
                .contains("which weft's regular expressions do not support") =>
        {
            return Verdict::Documented(
                "a regular expression feature the regex crate lacks, refused by name",
            )
        }
        _ => {}
    }
    let text = case["args"][0].as_str().unwrap_or_default();
    if matches!(name, "from_yaml_string" | "yaml_parse")
        && text.contains(['\u{85}', '\u{2028}', '\u{2029}'])
    {
        return Verdict::Documented(
            "U+0085, U+2028 and U+2029 are no line breaks to weft's YAML reader (YAML 1.2)",
        );
    }
    Verdict::Differ(format!(
        "{name}({}{}): weft {got:?}, Python {}",
        case["args"],
        case.get("kwargs")
            .map(|k| format!(", {k}"))
            .unwrap_or_default(),
        case.get("ok")
            .map(|v| format!("{v:?}"))
            .or_else(|| case.get("error").map(|e| format!("error {e}")))
            .unwrap_or_default()
    ))
}

/// The cases that differ for no documented reason; prints the tally.
fn check_all(cases: &[Value]) -> Vec<String> {
    let mut documented: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failures = Vec::new();
    let mut agree = 0;
    for case in cases {
        match check(case) {
            Verdict::Agree => agree += 1,
            Verdict::Documented(why) => *documented.entry(why).or_default() += 1,
            Verdict::Differ(m) => failures.push(m),
        }
    }
    println!("{} cases: {agree} agree with Python", cases.len());
    for (why, n) in &documented {
        println!("  {n:4} differ on purpose: {why}");
    }
    failures
}

#[test]
fn recorded_answers_of_python() {
    setup();
    let text = include_str!("functions/st2_functions.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 700, "{} cases", cases.len());
    let failures = check_all(cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Python ({}):\n{}",
        failures.len(),
        cases.len(),
        fixture["versions"],
        failures.join("\n")
    );
}

#[test]
#[cfg_attr(
    not(weft_st2_functions_live),
    ignore = "set WEFT_ORQUESTA_PYTHON to a Python with PyYAML, semver, jsonpath-rw and orjson, and rebuild"
)]
fn fresh_answers_of_python() {
    setup();
    let python = option_env!("WEFT_LIVE_PYTHON").unwrap_or("python3");
    let seed: u64 = std::env::var("WEFT_ST2_FUNCTIONS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() % 1_000_000)
                .unwrap_or(1)
        });
    println!("seed {seed} (WEFT_ST2_FUNCTIONS_SEED={seed} repeats it)");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/st2_functions_expect.py"
    );
    let out = std::process::Command::new(python)
        .args([
            script,
            "answer",
            "--seed",
            &seed.to_string(),
            "--count",
            "400",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    assert!(
        out.status.success(),
        "the script failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answered: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = answered["cases"].as_array().unwrap();
    let failures = check_all(cases);
    assert!(
        failures.is_empty(),
        "seed {seed}: {} of {} cases differ from Python:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
