//! Functions registered from outside (`weft_core::functions`): called as
//! functions and as filters, with positional and keyword arguments, known
//! to the compile-time name checks, bounded by the expression limits, and
//! closed once expressions were compiled.

use std::sync::LazyLock;

use serde_json::{json, Value};
use weft_core::functions::{self, Args, Call, Function, FunctionError, RegisterErrorKind};
use weft_core::{CurrentTask, ErrorKind, TaskStatus, Template, Workflow, WorkflowContext};

/// Registers this file's functions once, before anything compiles; every
/// test starts by forcing it.
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
    // `size_of(x)`: the length of a list it was given, read where it sits.
    functions::register(
        "size_of",
        Function::new(|args: &Args<'_>, _: &Call<'_>| match args.get(0) {
            Some(Value::Array(a)) => Ok(json!(a.len())),
            _ => Err(FunctionError::new("x must be a list")),
        }),
    )
    .unwrap();
    // `repeat(s, n)`: builds `n` copies, paying for them first.
    functions::register(
        "repeat",
        Function::new(|args: &Args<'_>, call: &Call<'_>| {
            let [s, n] = args.bind(["s", "n"], 2)?;
            let (Some(s), Some(n)) = (s.and_then(Value::as_str), n.and_then(Value::as_u64)) else {
                return Err("repeat(s, n) takes a string and a count".into());
            };
            let n = n as usize;
            call.charge_bytes(s.len().saturating_mul(n))?;
            Ok(json!(s.repeat(n)))
        }),
    )
    .unwrap();
    // `result_of(name)`: reads the context, as StackStorm's `task()` does.
    functions::register(
        "result_of",
        Function::new(|args: &Args<'_>, call: &Call<'_>| {
            let [name] = args.bind(["name"], 1)?;
            let name = name.and_then(Value::as_str).unwrap_or_default();
            let ctx = call.context().ok_or("no workflow context")?;
            let result = ctx
                .get_task_result(name)
                .ok_or_else(|| format!("no task `{name}` has finished"))?;
            Ok(json!({"name": name, "result": *result, "status": ctx.task_status(name)}))
        })
        .reads_task_statuses(),
    )
    .unwrap();
    // A function named like the `task` namespace: reached by calls only.
    functions::register(
        "task",
        Function::new(|args: &Args<'_>, _: &Call<'_>| Ok(json!({"called_with": args.get(0)}))),
    )
    .unwrap();
});

fn setup() {
    LazyLock::force(&SETUP);
}

fn eval(source: &str, ctx: &WorkflowContext) -> weft_core::Result<Value> {
    Template::compile(source)?.eval(ctx)
}

#[test]
fn registered_functions_are_functions_and_filters() {
    setup();
    let ctx = WorkflowContext::new(json!({"xs": [1, 2, 3], "s": "ab"}), []);
    assert_eq!(eval("{{ pair(1) }}", &ctx).unwrap(), json!([1, null]));
    assert_eq!(eval("{{ pair(1, 2) }}", &ctx).unwrap(), json!([1, 2]));
    assert_eq!(eval("{{ pair(1, b='x') }}", &ctx).unwrap(), json!([1, "x"]));
    assert_eq!(eval("{{ pair(b=2, a=1) }}", &ctx).unwrap(), json!([1, 2]));
    // As a filter, the piped value comes first.
    assert_eq!(eval("{{ 1 | pair }}", &ctx).unwrap(), json!([1, null]));
    assert_eq!(
        eval("{{ 1 | pair(b=[2]) }}", &ctx).unwrap(),
        json!([1, [2]])
    );
    assert_eq!(
        eval("{{ parameters.xs | size_of }}", &ctx).unwrap(),
        json!(3)
    );
    assert_eq!(
        eval("{{ size_of(parameters.xs) + 1 }}", &ctx).unwrap(),
        json!(4)
    );
    // In text, and as a condition.
    let t = Template::compile("n={{ size_of(parameters.xs) }}").unwrap();
    assert_eq!(t.render_string(&ctx).unwrap(), "n=3");
    assert!(Template::compile("{{ size_of(parameters.xs) == 3 }}")
        .unwrap()
        .eval_bool(&ctx)
        .unwrap());
}

#[test]
fn a_function_error_names_the_function_and_the_expression() {
    setup();
    let ctx = WorkflowContext::new(json!({}), []);
    let err = eval("{{ size_of('nope') }}", &ctx).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Evaluation);
    assert!(
        err.message().contains("size_of(): x must be a list"),
        "{err}"
    );
    assert!(err.message().contains("{{ size_of('nope') }}"), "{err}");
    let err = eval("{{ pair(1, c=2) }}", &ctx).unwrap_err();
    assert!(
        err.message()
            .contains("pair(): got an unexpected keyword argument 'c'"),
        "{err}"
    );
}

#[test]
fn functions_read_the_context_and_a_namespace_name_stays_a_namespace() {
    setup();
    let ctx = WorkflowContext::new(json!({}), []);
    ctx.set_task_result("fetch", json!({"code": 200}));
    ctx.set_task_status("fetch", TaskStatus::Succeeded);
    assert_eq!(
        eval("{{ result_of('fetch') }}", &ctx).unwrap(),
        json!({"name": "fetch", "result": {"code": 200}, "status": "succeeded"})
    );
    assert_eq!(
        eval("{{ result_of('fetch').result.code }}", &ctx).unwrap(),
        json!(200)
    );
    // `task(...)` calls the function; `task.fetch` reads the results.
    assert_eq!(
        eval("{{ task('fetch') }}", &ctx).unwrap(),
        json!({"called_with": "fetch"})
    );
    assert_eq!(eval("{{ task.fetch.code }}", &ctx).unwrap(), json!(200));
    assert_eq!(
        eval("{{ task('a').called_with ~ task.fetch.code }}", &ctx).unwrap(),
        json!("a200")
    );
    let t = Template::compile("{% if true %}{{ task('x').called_with }}{% endif %}").unwrap();
    assert_eq!(t.render_string(&ctx).unwrap(), "x");
}

#[test]
fn a_workflow_that_calls_a_status_reader_records_statuses() {
    setup();
    let reads = "tasks:\n  a:\n    action: x.y\n    next:\n      - publish: [{r: \"{{ result_of('a') }}\"}]\n";
    let plan = Workflow::from_yaml_str(reads)
        .unwrap()
        .compile(&["x.y"][..])
        .unwrap();
    assert!(plan.uses_task_status());
    let plain =
        "tasks:\n  a:\n    action: x.y\n    next:\n      - publish: [{r: \"{{ pair('a') }}\"}]\n";
    let plan = Workflow::from_yaml_str(plain)
        .unwrap()
        .compile(&["x.y"][..])
        .unwrap();
    assert!(!plan.uses_task_status());
}

#[test]
fn compile_checks_know_registered_names() {
    setup();
    let ok = "tasks:\n  a:\n    action: x.y\n    input:\n      p: \"{{ pair(1) | size_of }}\"\n      q: \"{{ task('a') }}\"\n";
    Workflow::from_yaml_str(ok)
        .unwrap()
        .compile(&["x.y"][..])
        .unwrap();
    let typo = "tasks:\n  a:\n    action: x.y\n    input:\n      p: \"{{ [1] | siz_of }}\"\n      q: \"{{ pairr(1) }}\"\n";
    let err = Workflow::from_yaml_str(typo)
        .unwrap()
        .compile(&["x.y"][..])
        .unwrap_err();
    let text: String = std::iter::once(&err)
        .chain(err.others())
        .map(|e| format!("{e}\n"))
        .collect();
    assert!(
        text.contains("unknown filter `siz_of`: did you mean `size_of`?"),
        "{text}"
    );
    assert!(
        text.contains("unknown function `pairr()`: did you mean `pair()`?"),
        "{text}"
    );
    assert_eq!(err.line(), Some(5), "{text}");
}

#[test]
fn what_a_function_makes_is_bounded_by_the_expression_limits() {
    setup();
    let ctx = WorkflowContext::new(json!({}), []);
    assert_eq!(
        eval("{{ repeat('ab', 3) }}", &ctx).unwrap(),
        json!("ababab")
    );
    // Paid for before it is made: out of fuel, not out of memory.
    let err = eval("{{ repeat('x', 100000000000) }}", &ctx).unwrap_err();
    assert!(err.message().contains("ran out of fuel"), "{err}");
    // A loop of calls spends the same budget.
    let err = eval(
        "{% for i in range(100000) %}{{ repeat('abcdefgh', 1000) | length }}{% endfor %}",
        &ctx,
    )
    .unwrap_err();
    assert!(err.message().contains("ran out of fuel"), "{err}");
    // A result larger than max_value_bytes (4 MiB) is refused.
    let err = eval("{{ repeat('x', 5000000) }}", &ctx).unwrap_err();
    assert!(
        err.message().contains("ExpressionLimits::max_value_bytes"),
        "{err}"
    );
}

#[test]
fn registering_is_checked_and_closes_at_the_first_compile() {
    setup();
    let f = || Function::new(|_: &Args<'_>, _: &Call<'_>| Ok(Value::Null));
    for (name, kind) in [
        ("1x", RegisterErrorKind::InvalidName),
        ("a-b", RegisterErrorKind::InvalidName),
        ("__weft_x", RegisterErrorKind::InvalidName),
        ("ctx", RegisterErrorKind::Reserved),
        ("length", RegisterErrorKind::Reserved),
        ("none", RegisterErrorKind::Reserved),
        ("pair", RegisterErrorKind::Duplicate),
    ] {
        let err = functions::register(name, f()).unwrap_err();
        assert_eq!(err.kind(), kind, "{name}: {err}");
    }
    Template::compile("{{ 1 }}").unwrap();
    let err = functions::register("late", f()).unwrap_err();
    assert_eq!(err.kind(), RegisterErrorKind::TooLate);
    assert!(
        err.to_string()
            .contains("register every function at startup"),
        "{err}"
    );
    assert!(functions::is_registered("pair"));
    assert!(!functions::is_registered("late"));
    assert_eq!(
        functions::names(),
        ["pair", "repeat", "result_of", "size_of", "task"]
    );
}

#[test]
fn a_function_can_be_called_directly() {
    setup();
    let ctx = WorkflowContext::new(json!({}), []).with_current_task(CurrentTask {
        name: "t".into(),
        status: TaskStatus::Failed,
        result: json!({"e": 1}).into(),
    });
    ctx.set_task_result("t", json!({"e": 1}));
    let f = functions::get("result_of").unwrap();
    let out = f
        .call(
            &Args::new().kwarg("name", json!("t")),
            &Call::new("result_of").with_context(&ctx),
        )
        .unwrap();
    assert_eq!(out["result"], json!({"e": 1}));
    let err = f
        .call(&Args::new().arg(json!("t")), &Call::new("result_of"))
        .unwrap_err();
    assert_eq!(err.message(), "no workflow context");
}
