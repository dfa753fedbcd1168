//! Python's methods on strings, lists and maps, as Orquesta's Jinja (which
//! is Python's) has them: on values of the context (read through lazy
//! views, never copied), on `ctx()` itself, and on values an expression
//! makes.

use serde_json::{json, Value};
use weft_core::{Template, WorkflowContext};

fn context() -> WorkflowContext {
    let ctx = WorkflowContext::new(
        json!({
            "d": {"b": 2, "a": 1},
            "s": "  Hello World  ",
            "csv": "a,b,,c",
            "xs": [3, 1, 3],
        }),
        [(
            "hosts".to_owned(),
            json!({"web": "10.0.0.1", "db": "10.0.0.2"}),
        )],
    );
    ctx.set_task_result("fetch", json!({"headers": {"Content-Type": "json"}}));
    ctx
}

fn eval(source: &str) -> Value {
    let ctx = context();
    Template::compile(source)
        .and_then(|t| t.eval(&ctx))
        .unwrap_or_else(|e| panic!("{source}: {e}"))
}

#[test]
fn map_methods_work_on_context_values_and_on_ctx() {
    assert_eq!(
        eval("{{ parameters.d.items() | list }}"),
        json!([["b", 2], ["a", 1]])
    );
    assert_eq!(eval("{{ ctx('d').keys() | list }}"), json!(["b", "a"]));
    assert_eq!(eval("{{ ctx('d').values() | list }}"), json!([2, 1]));
    assert_eq!(eval("{{ ctx('d').get('a') }}"), json!(1));
    assert_eq!(eval("{{ ctx('d').get('z', 0) }}"), json!(0));
    assert_eq!(eval("{{ ctx('d').get('z') }}"), json!(null));
    assert_eq!(eval("{{ ctx().hosts.get('db') }}"), json!("10.0.0.2"));
    assert_eq!(
        eval("{{ task.fetch.headers.get('Content-Type') }}"),
        json!("json")
    );
    // `ctx()` is a map too: its names, sorted.
    assert_eq!(
        eval("{{ ctx().keys() | list }}"),
        json!(["csv", "d", "hosts", "s", "xs"])
    );
    assert_eq!(
        eval("{% for k, v in ctx('hosts').items() %}{{ k }}={{ v }};{% endfor %}"),
        json!("web=10.0.0.1;db=10.0.0.2;")
    );
    assert_eq!(eval("{{ {'x': 1}.items() | list }}"), json!([["x", 1]]));
}

#[test]
fn string_methods_work_on_context_values() {
    assert_eq!(eval("{{ ctx('s').strip() }}"), json!("Hello World"));
    assert_eq!(eval("{{ ctx('s').strip().lower() }}"), json!("hello world"));
    assert_eq!(eval("{{ ctx('s').upper() }}"), json!("  HELLO WORLD  "));
    assert_eq!(eval("{{ ctx('s').split() }}"), json!(["Hello", "World"]));
    assert_eq!(
        eval("{{ ctx('csv').split(',') }}"),
        json!(["a", "b", "", "c"])
    );
    assert_eq!(eval("{{ ctx('csv').split(',', 1) }}"), json!(["a", "b,,c"]));
    assert_eq!(eval("{{ 'a b'.split(' ') }}"), json!(["a", "b"]));
    assert_eq!(
        eval("{{ ctx('s').strip().startswith('Hell') }}"),
        json!(true)
    );
    assert_eq!(
        eval("{{ ctx('s').strip().endswith(('x', 'ld')) }}"),
        json!(true)
    );
    assert_eq!(
        eval("{{ ctx('s').replace('World', 'there').strip() }}"),
        json!("Hello there")
    );
    assert_eq!(eval("{{ '{}-{}'.format(ctx('d').a, 'x') }}"), json!("1-x"));
    assert_eq!(eval("{{ ','.join(['a', 'b']) }}"), json!("a,b"));
    assert_eq!(eval("{{ 'abc'.find('c') }}"), json!(2));
}

#[test]
fn list_methods_work_on_context_values() {
    assert_eq!(eval("{{ ctx('xs').count(3) }}"), json!(2));
}

#[test]
fn an_unknown_method_is_an_error_that_names_it() {
    let ctx = context();
    let err = Template::compile("{{ ctx('d').nope() }}")
        .unwrap()
        .eval(&ctx)
        .unwrap_err();
    assert!(err.message().contains("nope"), "{err}");
}

#[test]
fn list_index_as_python() {
    assert_eq!(eval("{{ ctx('xs').index(1) }}"), json!(1));
    let ctx = context();
    let err = Template::compile("{{ ctx('xs').index(7) }}")
        .unwrap()
        .eval(&ctx)
        .unwrap_err();
    assert!(err.message().contains("7 is not in list"), "{err}");
}

#[test]
fn zip_pads_as_orquesta_does() {
    assert_eq!(
        eval("{{ zip([1, 2, 3], ['a']) }}"),
        json!([[1, "a"], [2, null], [3, null]])
    );
    assert_eq!(
        eval("{{ zip([1, 2], ['a'], pad='-') }}"),
        json!([[1, "a"], [2, "-"]])
    );
    assert_eq!(eval("{{ zip(ctx('xs')) }}"), json!([3, 1, 3]));
    assert_eq!(eval("{{ zip([1], none) }}"), json!([[1, null]]));
}

#[test]
fn tojson_writes_as_jinja2() {
    assert_eq!(
        eval("{{ {'b': 'é<', 'a': [{'d': 1, 'c': 2}]} | tojson }}"),
        json!(r#"{"a": [{"c": 2, "d": 1}], "b": "\u00e9\u003c"}"#)
    );
    assert_eq!(
        eval("{{ 'the quick brown fox jumps' | truncate(13) }}"),
        json!("the quick...")
    );
}
