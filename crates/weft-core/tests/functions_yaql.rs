//! Functions registered from outside (`weft_core::functions`), called from
//! YAQL (`<% %>`): as functions with positional and `name => value`
//! arguments, reading the context, known to the compile-time checks (and
//! refused as methods, as Orquesta registers them with yaql as functions
//! only), and bounded by the expression limits.

use std::sync::LazyLock;

use serde_json::{json, Value};
use weft_core::functions::{self, Args, Call, Function, FunctionError};
use weft_core::{ErrorKind, TaskStatus, Template, Workflow, WorkflowContext};

static SETUP: LazyLock<()> = LazyLock::new(|| {
    // `pair(a, b=none)`: what it was given, as a list.
    functions::register(
        "pair",
        Function::new(|args: &Args<'_>, _: &Call<'_>| {
            let [a, b] = args.bind(["a", "b"], 1)?;
            Ok(json!([a, b]))
        }),
    )
    .unwrap();
    // `size_of(x)`: the length of a list.
    functions::register(
        "size_of",
        Function::new(|args: &Args<'_>, _: &Call<'_>| match args.get(0) {
            Some(Value::Array(a)) => Ok(json!(a.len())),
            _ => Err(FunctionError::new("x must be a list")),
        }),
    )
    .unwrap();
    // `repeat(s, n)`: pays for what it makes.
    functions::register(
        "repeat",
        Function::new(|args: &Args<'_>, call: &Call<'_>| {
            let [s, n] = args.bind(["s", "n"], 2)?;
            let (Some(s), Some(n)) = (s.and_then(Value::as_str), n.and_then(Value::as_u64)) else {
                return Err("repeat(s, n) takes a string and a count".into());
            };
            call.charge_bytes(s.len().saturating_mul(n as usize))?;
            Ok(json!(s.repeat(n as usize)))
        }),
    )
    .unwrap();
    // `status_of(name)`: reads the context's task statuses.
    functions::register(
        "status_of",
        Function::new(|args: &Args<'_>, call: &Call<'_>| {
            let [name] = args.bind(["name"], 1)?;
            let name = name.and_then(Value::as_str).unwrap_or_default();
            let ctx = call.context().ok_or("no workflow context")?;
            Ok(json!(ctx.task_status(name).map(|s| s.as_str())))
        })
        .reads_task_statuses(),
    )
    .unwrap();
});

fn eval(source: &str, ctx: &WorkflowContext) -> weft_core::Result<Value> {
    LazyLock::force(&SETUP);
    Template::compile(source)?.eval(ctx)
}

#[test]
fn registered_functions_are_called_from_yaql() {
    let ctx = WorkflowContext::new(json!({"xs": [1, 2, 3], "s": "ab"}), []);
    assert_eq!(eval("<% pair(1) %>", &ctx).unwrap(), json!([1, null]));
    assert_eq!(eval("<% pair(1, 2) %>", &ctx).unwrap(), json!([1, 2]));
    assert_eq!(
        eval("<% pair(1, b => 'x') %>", &ctx).unwrap(),
        json!([1, "x"])
    );
    assert_eq!(
        eval("<% pair(b => 2, a => 1) %>", &ctx).unwrap(),
        json!([1, 2])
    );
    // Values of the context, values YAQL made, and results used further.
    assert_eq!(eval("<% size_of(ctx().xs) %>", &ctx).unwrap(), json!(3));
    assert_eq!(
        eval("<% size_of(ctx().xs.where($ > 1)) + 1 %>", &ctx).unwrap(),
        json!(3)
    );
    assert_eq!(
        eval("<% pair(ctx(s)).select($ = null) %>", &ctx).unwrap(),
        json!([false, true])
    );
    assert_eq!(
        eval("n=<% size_of(ctx().xs) %>", &ctx).unwrap(),
        json!("n=3")
    );
    assert!(Template::compile("<% size_of(ctx().xs) = 3 %>")
        .unwrap()
        .eval_bool(&ctx)
        .unwrap());
}

#[test]
fn a_function_error_names_the_function() {
    let ctx = WorkflowContext::new(json!({}), []);
    let err = eval("<% size_of('nope') %>", &ctx).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Evaluation);
    assert!(
        err.message().contains("size_of(): x must be a list"),
        "{err}"
    );
    let err = eval("<% pair(1, c => 2) %>", &ctx).unwrap_err();
    assert!(
        err.message()
            .contains("pair(): got an unexpected keyword argument 'c'"),
        "{err}"
    );
}

#[test]
fn names_are_checked_when_compiling() {
    LazyLock::force(&SETUP);
    // A method call of a registered function: yaql has no such method.
    let err = Template::compile("<% [1].size_of() %>").unwrap_err();
    assert!(
        err.message()
            .contains("`size_of` is a function, not a method"),
        "{err}"
    );
    let err = Template::compile("<% sizeof([1]) %>").unwrap_err();
    assert!(err.message().contains("unknown function `sizeof`"), "{err}");
    let err = Template::compile("<% pair(1, $x => 2) %>").unwrap_err();
    assert!(err.message().contains("bare name before `=>`"), "{err}");
    // A workflow that calls one compiles; one that reads statuses
    // records them.
    let reads = "tasks:\n  a:\n    action: x.y\n    next:\n      - publish: [{r: \"<% status_of('a') %>\"}]\n";
    let plan = Workflow::from_yaml_str(reads)
        .unwrap()
        .compile(&["x.y"][..])
        .unwrap();
    assert!(plan.uses_task_status());
    let plain =
        "tasks:\n  a:\n    action: x.y\n    next:\n      - publish: [{r: \"<% pair('a') %>\"}]\n";
    let plan = Workflow::from_yaml_str(plain)
        .unwrap()
        .compile(&["x.y"][..])
        .unwrap();
    assert!(!plan.uses_task_status());
}

#[test]
fn functions_read_the_context() {
    let ctx = WorkflowContext::new(json!({}), []);
    ctx.set_task_status("fetch", TaskStatus::Failed);
    assert_eq!(
        eval("<% status_of('fetch') %>", &ctx).unwrap(),
        json!("failed")
    );
}

#[test]
fn what_a_function_makes_is_bounded_by_the_expression_limits() {
    let ctx = WorkflowContext::new(json!({}), []);
    assert_eq!(
        eval("<% repeat('ab', 3) %>", &ctx).unwrap(),
        json!("ababab")
    );
    let err = eval("<% repeat('x', 100000000000) %>", &ctx).unwrap_err();
    assert!(err.message().contains("ran out of fuel"), "{err}");
    let err = eval(
        "<% range(100000).select(repeat('abcdefgh', 1000)).len() %>",
        &ctx,
    )
    .unwrap_err();
    assert!(err.message().contains("ran out of fuel"), "{err}");
    let err = eval("<% repeat('x', 5000000) %>", &ctx).unwrap_err();
    assert!(
        err.message().contains("ExpressionLimits::max_value_bytes"),
        "{err}"
    );
}
