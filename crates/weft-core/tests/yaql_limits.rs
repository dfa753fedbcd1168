//! YAQL runs under the same limits as Jinja: nesting is refused before
//! the parser recurses (no stack overflow, whatever the text), evaluation
//! runs on the same fuel, produced values are capped at the same size,
//! and every limit ends in an error of the same shape that says what to
//! raise or change.

use serde_json::json;
use weft_core::{ErrorKind, ExpressionLimits, Template, Workflow, WorkflowContext};

/// A hostile shape: its name, and the text with `n` repetitions.
type Shape = (&'static str, fn(usize) -> String);

fn shapes() -> Vec<Shape> {
    vec![
        ("plus", |n| format!("<% 1{} %>", " + 1".repeat(n))),
        ("and", |n| format!("<% true{} %>", " and true".repeat(n))),
        ("or", |n| format!("<% false{} %>", " or false".repeat(n))),
        ("compare", |n| format!("<% 1{} %>", " = 1".repeat(n))),
        ("not", |n| format!("<% {}true %>", "not ".repeat(n))),
        ("minus", |n| format!("<% {}1 %>", "- ".repeat(n))),
        ("parens", |n| {
            format!("<% {}1{} %>", "(".repeat(n), ")".repeat(n))
        }),
        ("lists", |n| {
            format!("<% {}1{} %>", "[".repeat(n), "]".repeat(n))
        }),
        ("dicts", |n| {
            format!("<% {}1{} %>", "{a => ".repeat(n), "}".repeat(n))
        }),
        ("calls", |n| {
            format!("<% {}1{} %>", "abs(".repeat(n), ")".repeat(n))
        }),
        ("members", |n| format!("<% ctx(){} %>", ".a".repeat(n))),
        ("methods", |n| format!("<% [1]{} %>", ".toList()".repeat(n))),
        ("indexes", |n| format!("<% [1]{} %>", "[0]".repeat(n))),
        ("lambdas", |n| {
            format!("<% {}1{} %>", "[1].select(".repeat(n), ")".repeat(n))
        }),
        ("lets", |n| {
            format!("<% {}1 %>", "let(a => 1) -> ".repeat(n))
        }),
        ("mixed text", |n| {
            format!("id-<% 1{} %>-<% 2 %>", " * 1".repeat(n))
        }),
    ]
}

/// The largest `n` whose text compiles, that text compiled, and the
/// error for `n + 1`.
fn at_limit(make: fn(usize) -> String) -> (usize, Template, weft_core::Error) {
    let (mut lo, mut hi) = (0usize, 5_000usize);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        match Template::compile(&make(mid)) {
            Err(e) if e.message().contains("levels deep") => hi = mid,
            _ => lo = mid,
        }
    }
    let over = Template::compile(&make(hi)).expect_err("over the limit");
    let at = Template::compile(&make(lo)).expect("at the limit");
    (lo, at, over)
}

/// Compiles, evaluates and drops every shape at the limit.
fn all_at_limit() -> Vec<(&'static str, usize)> {
    let ctx = WorkflowContext::new(json!({"a": {"a": {"a": 1}}}), []);
    let mut report = Vec::new();
    for (name, make) in shapes() {
        let (n, at, over) = at_limit(make);
        assert_eq!(over.kind(), ErrorKind::TemplateSyntax, "{name}: {over}");
        assert!(over.message().contains("split it"), "{name}: {over}");
        // Evaluation may fail (`ctx().a.a.a...` runs out of keys), but
        // must not crash.
        let _ = at.eval(&ctx);
        let _ = at.render_string(&ctx);
        report.push((name, n));
    }
    report
}

#[test]
fn nesting_at_the_limit_works_on_a_tokio_worker() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let report = rt
        .block_on(async { tokio::spawn(async { all_at_limit() }).await })
        .expect("worker finished");
    assert_eq!(report.len(), shapes().len());
    eprintln!("repetitions at the limit: {report:?}");
    for (name, n) in report {
        // Every shape nests as deep as real expressions do, and more.
        assert!(n >= 40, "{name}: {n}");
    }
}

#[test]
fn nesting_at_the_limit_works_on_a_quarter_of_a_worker_stack() {
    let report = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(all_at_limit)
        .expect("thread")
        .join()
        .expect("thread finished");
    assert_eq!(report.len(), shapes().len());
}

#[test]
fn hostile_nesting_is_a_located_error() {
    for text in [
        format!("<% 1{} %>", "+1".repeat(20_000)),
        format!("<% {}1 %>", "(".repeat(20_000)),
        format!("<% {}1 %>", "-".repeat(20_000)),
        format!("<% {} %>", "f(".repeat(20_000)),
    ] {
        let yaml = format!(
            "version: 1.0\ntasks:\n  sum:\n    action: core.noop\n    input:\n      total: \"{text}\"\n"
        );
        let err = Workflow::from_yaml_str(&yaml)
            .expect("loads")
            .compile(&["core.noop"])
            .expect_err("too deep");
        assert_eq!(err.kind(), ErrorKind::TemplateSyntax, "{err}");
        assert_eq!(err.task(), Some("sum"));
        assert_eq!(err.field(), Some("input.total"));
        assert!(err.message().contains("levels deep"), "{err}");
        assert!(err.line().is_some(), "{err}");
        assert!(err.to_string().len() < 500, "{err}");
    }
}

#[test]
fn long_templates_are_refused() {
    let limit = ExpressionLimits::current().max_template_bytes;
    let long = format!("<% '{}' %>", "x".repeat(limit));
    let err = Template::compile(&long).expect_err("too long");
    assert_eq!(err.kind(), ErrorKind::TemplateSyntax);
    assert!(err.message().contains("bytes long"), "{err}");
}

fn ctx() -> WorkflowContext {
    let mut ctx = WorkflowContext::new(json!({"n": 3, "list": [1, 2, 3]}), []);
    ctx.set_var(
        "big",
        json!({"blob": "x".repeat(5 << 20), "list": [1, 2, 3]}),
    );
    ctx
}

/// The error of evaluating `source`, which rendering must give too.
fn eval_err(source: &str) -> weft_core::Error {
    let t = Template::compile(source).expect("compiles");
    let c = ctx();
    assert!(t.render_string(&c).is_err(), "{source} rendered");
    t.eval(&c).expect_err(source)
}

#[test]
fn loops_run_out_of_fuel() {
    for source in [
        "<% range(10000000).count() %>",
        "<% range(10000000).select($ * 2).sum() %>",
        "<% range(10000).select(range(10000).sum()).sum() %>",
        "<% range(10000000).where($ > 99999999).first(0) %>",
        "<% range(10000000).orderBy(-$).first() %>",
        "<% range(10000000).groupBy($ mod 10).count() %>",
        "<% range(10000000).aggregate($1 + $2) %>",
        "<% range(10000000).select(str($)).join(',').len() %>",
        "<% ctx().list.cycle().count() %>",
        "<% sequence().count() %>",
        "<% 1.repeat().len() %>",
        "<% range(10000000).toSet().len() %>",
        // Reading a big string costs fuel by its size: one 5 MiB scan fits
        // the default budget, a hundred do not.
        "<% range(100).select(ctx(big).blob.len()).sum() %>",
        "<% range(100).select(ctx(big).blob.indexOf('y')).sum() %>",
        "x <% range(10000000).len() %> y",
    ] {
        let err = eval_err(source);
        // A condition evaluates as much.
        let t = Template::compile(source).expect("compiles");
        assert!(t.eval_bool(&ctx()).is_err(), "{source} was tested");
        assert_eq!(err.kind(), ErrorKind::Evaluation, "{source}: {err}");
        assert!(err.message().contains("ran out of fuel"), "{source}: {err}");
        assert!(
            err.message().contains("raise ExpressionLimits::fuel"),
            "{source}: {err}"
        );
    }
}

#[test]
fn made_values_are_capped() {
    for source in [
        "<% 'x' * 100000000 %>",
        "<% [1] * 100000000 %>",
        "<% 'x' * 3000000 + 'y' * 3000000 %>",
        "<% ctx(big).blob + 'y' %>",
        "<% ctx(big).blob.toUpper() %>",
        "<% ctx(big).blob.replace('x', 'yy') %>",
        "<% [ctx(big).blob, 1] %>",
        "<% [ctx(big), ctx(big)] %>",
        "a <% ctx(big) %> b",
        "<% str(ctx(big)) %>",
        "<% json(ctx(big).blob) %>",
        "<% [ctx(big).blob].join(',') %>",
    ] {
        let err = eval_err(source);
        assert_eq!(err.kind(), ErrorKind::Evaluation, "{source}: {err}");
        let m = err.message();
        assert!(
            m.contains("max_value_bytes") || m.contains("ran out of fuel"),
            "{source}: {err}"
        );
    }
}

#[test]
fn values_of_the_context_are_not_measured() {
    // A value already in the context is handed back whatever its size,
    // through the fast path and through the evaluator alike.
    let c = ctx();
    let max = ExpressionLimits::current().max_value_bytes;
    for source in [
        "<% ctx(big) %>",
        "<% ctx().big.blob %>",
        "<% ctx(big)['blob'] %>",
        "<% let(b => ctx(big)) -> $b %>",
        "<% ctx().get(big).blob %>",
    ] {
        let t = Template::compile(source).expect("compiles");
        let v = t.eval(&c).expect(source);
        let blob = v.get("blob").unwrap_or(&v);
        assert!(blob.as_str().is_some_and(|s| s.len() > max), "{source}");
    }
    let t = Template::compile("<% ctx(big).list.len() %>").expect("compiles");
    assert_eq!(t.eval(&c).expect("evaluates"), json!(3));
}

#[test]
fn built_values_cannot_nest_deeper_than_the_limit() {
    // Building a value deeper than the nesting limit, which dropping,
    // printing or converting it would recurse through, is an error.
    for source in [
        "<% range(100000).aggregate([$1], []) %>",
        "<% range(100000).aggregate({a => $1}, {}) %>",
        "<% range(100000).aggregate($1.select($), []) %>",
        "<% range(100000).aggregate([$1].toSet(), 1) %>",
    ] {
        let err = eval_err(source);
        assert_eq!(err.kind(), ErrorKind::Evaluation, "{source}: {err}");
        let m = err.message();
        assert!(
            m.contains("levels deep") || m.contains("ran out of fuel"),
            "{source}: {err}"
        );
    }
}

#[test]
fn ordinary_expressions_fit_the_budget() {
    let mut c = ctx();
    let hosts: Vec<String> = (0..1000).map(|i| format!("host-{i}")).collect();
    c.set_var("hosts", json!(hosts));
    for (source, expected) in [
        (
            "<% ctx(hosts).where($ != 'host-3').select($.toUpper()).len() %>",
            json!(999),
        ),
        ("<% ctx(hosts).join(',').len() %>", json!(8889)),
        (
            "<% dict(ctx(hosts).take(3).select([$, $.len()])) %>",
            json!({"host-0": 6, "host-1": 6, "host-2": 6}),
        ),
    ] {
        let t = Template::compile(source).expect("compiles");
        assert_eq!(t.eval(&c).expect(source), expected, "{source}");
    }
}

#[test]
fn numbers_json_cannot_hold_are_errors() {
    let c = WorkflowContext::new(json!({}), []);
    for source in [
        "<% float('inf') %>",
        "<% [float('nan')] %>",
        "<% {a => float('-inf')} %>",
    ] {
        let t = Template::compile(source).expect("compiles");
        let err = t.eval(&c).expect_err(source);
        assert!(
            err.message().contains("JSON cannot hold"),
            "{source}: {err}"
        );
    }
}
