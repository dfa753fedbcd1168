//! Evaluations run on a budget: loops end, data stays bounded, and our own
//! functions cannot be used to get around either. Each hostile expression
//! ends in an evaluation error that says what to do.

use serde_json::{json, Value};
use weft_core::{ErrorKind, ExpressionLimits, Template, Workflow, WorkflowContext};

fn ctx() -> WorkflowContext {
    let ctx = WorkflowContext::new(json!({"n": 3}), []);
    // An existing large value: 5 MB, more than max_value_bytes.
    ctx.set_task_result(
        "big",
        json!({"blob": "x".repeat(5 << 20), "list": [1, 2, 3]}),
    );
    ctx
}

fn eval_err(source: &str) -> weft_core::Error {
    let t = Template::compile(source).expect("compiles");
    let c = ctx();
    // Both ways of evaluating must fail.
    assert!(t.render_string(&c).is_err(), "{source} rendered");
    t.eval(&c).expect_err(source)
}

#[test]
fn nested_loops_run_out_of_fuel() {
    let yaml = r#"version: 1.0
tasks:
  spin:
    action: core.noop
    input:
      text: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
"#;
    let plan = Workflow::from_yaml_str(yaml)
        .expect("loads")
        .compile(&["core.noop"])
        .expect("compiles");
    let input = &plan.tasks()[0].input;
    let err = input.render(&ctx()).expect_err("runs out of fuel");
    assert_eq!(err.kind(), ErrorKind::Evaluation);
    assert_eq!(err.task(), Some("spin"));
    assert_eq!(err.field(), Some("input.text"));
    assert!(err.message().contains("ran out of fuel"), "{err}");
    assert!(err.message().contains("ExpressionLimits::fuel"), "{err}");
}

#[test]
fn a_single_expression_runs_out_of_fuel() {
    for source in [
        "{{ ((range(100000) | list) * 10) | map('string') | join(',') | length }}",
        "{{ (range(100000) | list) | sort | reverse | list | length }}",
        "{{ 'x' * 100000000 }}",
        "{{ ('x' * 10000000) | replace('x', 'yy') | length }}",
        "{{ ('x\\n' * 1000000) | indent(1000) }}",
        "{{ ('%s' * 100000) | format(*range(100000)) }}",
        "{{ ((range(100000) | list) + (range(100000) | list)) | pprint | length }}",
        "{{ ((range(100000) | list) + (range(100000) | list)) | tojson | length }}",
        "{{ ([0] * 100000000) | list | length }}",
        "{{ range(100000) | list | unique | list | length }}",
    ] {
        let err = eval_err(source);
        assert_eq!(err.kind(), ErrorKind::Evaluation, "{source}: {err}");
        assert!(err.message().contains("fuel"), "{source}: {err}");
    }
}

#[test]
fn loops_that_build_strings_run_out_of_fuel() {
    for source in [
        "{% for i in range(100000) %}{% set s = 'x' * 100000 %}{% endfor %}",
        "{% for i in range(100000) %}{{ 'x' * 10 }}{% endfor %}",
        "{% for i in range(100000) %}{{ range(1000) | join(',') }}{% endfor %}",
    ] {
        let err = eval_err(source);
        assert!(err.message().contains("ran out of fuel"), "{source}: {err}");
    }
}

#[test]
fn our_functions_pay_for_their_work() {
    // `json()` of a large text, `zip()` of long lists.
    let big_json = format!("[{}1]", "1,".repeat(1_000_000));
    let mut c = ctx();
    c.set_var("text", json!(big_json));
    for source in [
        "{{ json(ctx('text')) | length }}",
        "{{ zip(range(100000), range(100000), range(100000), range(100000), range(100000), range(100000), range(100000), range(100000)) | length }}",
        "{% for i in range(100000) %}{{ zip([1, 2], [3, 4]) }}{% endfor %}",
    ] {
        let t = Template::compile(source).expect("compiles");
        let err = t.eval(&c).expect_err(source);
        assert_eq!(err.kind(), ErrorKind::Evaluation, "{source}: {err}");
        assert!(
            err.message().contains("fuel") || err.message().contains("max_value_bytes"),
            "{source}: {err}"
        );
    }
    // Small inputs work as before.
    let t = Template::compile("{{ zip([1, 2], json('[3, 4]')) }}").expect("compiles");
    assert_eq!(t.eval(&c).expect("evaluates"), json!([[1, 3], [2, 4]]));
}

#[test]
fn repeated_references_cannot_blow_up_a_value() {
    // A list of a thousand references to one 100 KB string is cheap to make
    // and 100 MB to print: refused at max_value_bytes, whichever way it is
    // printed.
    for source in [
        "{{ [('a' * 100000)] * 1000 }}",
        "n={{ [('a' * 100000)] * 1000 }}",
        "{% set x = [('a' * 100000)] * 1000 %}{{ x }}",
        "{{ [task.big.list, task.big] * 1000 }}",
    ] {
        let err = eval_err(source);
        assert_eq!(err.kind(), ErrorKind::Evaluation, "{source}: {err}");
        assert!(err.message().contains("max_value_bytes"), "{source}: {err}");
    }
}

#[test]
fn existing_values_are_not_measured() {
    // `{{ task.big }}` hands out a value already in the context, whatever
    // its size, through the fast path and through minijinja alike.
    let c = ctx();
    let max = ExpressionLimits::current().max_value_bytes;
    for source in ["{{ task.big }}", "{{ task['big'] | default(none) }}"] {
        let t = Template::compile(source).expect("compiles");
        let v = t.eval(&c).expect(source);
        assert!(
            v["blob"].as_str().is_some_and(|s| s.len() > max),
            "{source}"
        );
    }
    let t = Template::compile("{{ task.big.list | length }}").expect("compiles");
    assert_eq!(t.eval(&c).expect("evaluates"), json!(3));
    // A filter reads its string input, and pays for it: ten passes of a
    // 5 MB string through one are over the default budget.
    let t = Template::compile("{% for i in range(10) %}{{ task.big.blob | length }}{% endfor %}")
        .expect("compiles");
    let err = t
        .render_string(&c)
        .expect_err("ten 5 MB strings through a filter");
    assert!(err.message().contains("ran out of fuel"), "{err}");
}

#[test]
fn namespace_is_refused() {
    let err = eval_err(
        "{% set ns = namespace(x=[]) %}{% for i in range(10) %}{% set ns.x = [ns.x] %}{% endfor %}",
    );
    assert!(
        err.message().contains("namespace() is not available"),
        "{err}"
    );
}

#[test]
fn deep_recursion_is_an_error_on_a_small_stack() {
    // Recursive macros and loops stop at the recursion limit, well within
    // a quarter of a tokio worker's stack.
    let sources = [
        "{% macro m(n) %}{% if n > 0 %}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(100000) }}",
        "{% for a in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    ];
    let errors = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(move || {
            sources
                .iter()
                .map(|s| {
                    let t = Template::compile(s).expect("compiles");
                    t.render_string(&WorkflowContext::new(Value::Null, []))
                        .expect_err(s)
                })
                .collect::<Vec<_>>()
        })
        .expect("thread")
        .join()
        .expect("thread finished");
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::Evaluation, "{err}");
        assert!(err.message().contains("recursion limit"), "{err}");
    }
}

#[test]
fn ordinary_templates_fit_the_budget() {
    let mut c = ctx();
    c.set_current_item(json!({"host": "h1", "tags": ["a", "b"]}), 2);
    let hosts: Vec<String> = (0..500).map(|i| format!("host-{i}")).collect();
    c.set_var("hosts", json!(hosts));
    for (source, expected) in [
        (
            "{% for h in ctx('hosts') %}{{ h | upper }}{% if not loop.last %},{% endif %}{% endfor %}",
            None,
        ),
        ("{{ ctx('hosts') | select('ne', 'host-3') | list | length }}", Some(json!(499))),
        ("{{ item.tags | join('-') ~ '/' ~ index }}", Some(json!("a-b/2"))),
        ("{{ {'a': task.big.list | sum, 'b': range(10) | list} | tojson }}", None),
    ] {
        let t = Template::compile(source).expect("compiles");
        let v = t.eval(&c).expect(source);
        if let Some(e) = expected {
            assert_eq!(v, e, "{source}");
        }
    }
}

#[test]
fn ordinary_work_fits_the_default_budget() {
    // What the default must allow (docs/limits.md): a list of 20,000 items
    // for with-items, a 10 MB string through a filter (made and read: it is
    // not the value produced, so max_value_bytes does not apply), and a
    // nested loop that breaks at once.
    let c = WorkflowContext::new(json!({}), []);
    let t = Template::compile("{{ range(20000) | list }}").expect("compiles");
    let v = t.eval(&c).expect("a list of 20,000");
    assert_eq!(v.as_array().map(Vec::len), Some(20_000));
    let t = Template::compile("{{ ('x' * 10000000) | length }}").expect("compiles");
    assert_eq!(
        t.eval(&c).expect("10 MB through a filter"),
        json!(10_000_000)
    );
    let t = Template::compile(
        "{% for i in range(10000) %}{% for j in range(10000) %}{% break %}{% endfor %}\
         {% endfor %}done",
    )
    .expect("compiles");
    assert_eq!(
        t.render_string(&c).expect("a nested loop that breaks"),
        "done"
    );
    // The produced value is still capped: a 10 MB string as the value is
    // refused by max_value_bytes, and the message says so.
    let t = Template::compile("{{ 'x' * 10000000 }}").expect("compiles");
    let err = t.eval(&c).expect_err("10 MB produced");
    assert!(err.message().contains("max_value_bytes"), "{err}");
    assert!(!err.message().contains("fuel"), "{err}");
}

#[test]
fn numbers_json_cannot_hold_are_errors_not_null() {
    let ctx = WorkflowContext::new(serde_json::json!({}), []);
    for src in [
        "{{ 1e308 * 10 }}",
        "{{ -1e308 * 10 }}",
        "{{ (1e308 * 10) - (1e308 * 10) }}",
        "{{ [1, 1e308 * 10] }}",
        "{{ {'a': 1e308 * 10} }}",
    ] {
        let t = Template::compile(src).unwrap();
        let err = t.eval(&ctx).unwrap_err();
        assert!(
            err.message().contains("JSON cannot hold"),
            "{src}: {}",
            err.message()
        );
    }
    // Large but finite numbers keep their value.
    let t = Template::compile("{{ 1e308 * 1.5 / 2 }}").unwrap();
    assert_eq!(t.eval(&ctx).unwrap(), serde_json::json!(7.5e307));
}
