//! Deeply nested expressions: compiling one at the nesting limit works on a
//! tokio worker thread (2 MB stack) and on a quarter of that; one level
//! more is a located compile error, never a stack overflow.

use serde_json::json;
use weft_core::{ErrorKind, ExpressionLimits, Template, Workflow, WorkflowContext};

/// A hostile shape: its name, and the text with `n` repetitions.
type Shape = (&'static str, fn(usize) -> String);

/// Hostile shapes: `n` repetitions of one construct.
fn shapes() -> Vec<Shape> {
    vec![
        ("plus", |n| format!("{{{{ 1{} }}}}", " + 1".repeat(n))),
        ("and", |n| {
            format!("{{{{ true{} }}}}", " and true".repeat(n))
        }),
        ("or", |n| {
            format!("{{{{ false{} }}}}", " or false".repeat(n))
        }),
        ("tilde", |n| format!("{{{{ 'a'{} }}}}", " ~ 'a'".repeat(n))),
        ("not", |n| format!("{{{{ {}true }}}}", "not ".repeat(n))),
        ("minus", |n| format!("{{{{ {}1 }}}}", "- ".repeat(n))),
        ("filters", |n| {
            format!("{{{{ 'a'{} }}}}", "|upper".repeat(n))
        }),
        ("attrs", |n| {
            format!("{{{{ parameters{} }}}}", ".a".repeat(n))
        }),
        ("calls", |n| format!("{{{{ ctx{} }}}}", "()".repeat(n))),
        ("ifelse", |n| {
            format!("{{{{ {}1 }}}}", "1 if false else ".repeat(n))
        }),
        ("parens", |n| {
            format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n))
        }),
        ("lists", |n| {
            format!("{{{{ {}1{} }}}}", "[".repeat(n), "]".repeat(n))
        }),
        ("elif", |n| {
            format!(
                "{{% if false %}}{}{{% else %}}{{{{ 1 + 1 }}}}{{% endif %}}",
                "{% elif false %}x".repeat(n)
            )
        }),
        ("blocks", |n| {
            format!(
                "{}{{{{ 1 + 1 + 1 }}}}{}",
                "{% if true %}".repeat(n),
                "{% endif %}".repeat(n)
            )
        }),
        ("mixed text", |n| {
            format!("id-{{{{ 1{} }}}}-{{{{ index }}}}", " * 1".repeat(n))
        }),
    ]
}

/// The largest `n` whose text passes the nesting check, with the result
/// of compiling it and the error for `n + 1`.
fn at_limit(make: fn(usize) -> String) -> (usize, weft_core::Result<Template>, weft_core::Error) {
    let (mut lo, mut hi) = (0usize, 5_000usize);
    // Invariant: `lo` is under the limit, `hi` over it.
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        match Template::compile(&make(mid)) {
            Err(e) if e.message().contains("levels deep") || e.message().contains("bytes long") => {
                hi = mid
            }
            _ => lo = mid,
        }
    }
    let over = match Template::compile(&make(hi)) {
        Err(e) => e,
        Ok(_) => panic!("{hi} compiled"),
    };
    (lo, Template::compile(&make(lo)), over)
}

/// Compiles (and evaluates, and drops) every shape at the limit.
fn compile_all_at_limit() -> Vec<String> {
    let mut ctx = WorkflowContext::new(json!({}), []);
    ctx.set_current_item(json!("x"), 0);
    let mut report = Vec::new();
    for (name, make) in shapes() {
        let (n, at, over) = at_limit(make);
        assert_eq!(over.kind(), ErrorKind::TemplateSyntax, "{name}: {over}");
        assert!(over.message().contains("levels deep"), "{name}: {over}");
        match at {
            Ok(t) => {
                // Evaluation may fail (`parameters.a.a...` is undefined);
                // it must not crash.
                let _ = t.render_string(&ctx);
            }
            // minijinja's own parser refuses deep brackets earlier: an
            // error, which is all this test asks.
            Err(e) => assert_eq!(e.kind(), ErrorKind::TemplateSyntax, "{name}: {e}"),
        }
        report.push(format!("{name}: {n}"));
    }
    report
}

#[test]
fn nesting_at_the_limit_compiles_on_a_tokio_worker() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let report = rt
        .block_on(async { tokio::spawn(async { compile_all_at_limit() }).await })
        .expect("worker finished");
    // Real expressions fit with room to spare: brackets nest 15 deep,
    // blocks 20, chains of operators run to 60 and more.
    assert_eq!(report.len(), shapes().len());
    eprintln!("repetitions at the limit: {}", report.join(", "));
    for line in &report {
        let n: usize = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let least = match line.split(':').next() {
            Some("parens" | "lists") => 15,
            Some("blocks") => 20,
            _ => 60,
        };
        assert!(n >= least, "{line}");
    }
}

#[test]
fn nesting_at_the_limit_compiles_on_a_quarter_of_a_worker_stack() {
    // The limit leaves a margin of at least four: what compiles on a 2 MB
    // stack also compiles on 512 KiB (a stack overflow would abort this
    // test binary).
    let report = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(compile_all_at_limit)
        .expect("thread")
        .join()
        .expect("thread finished");
    assert_eq!(report.len(), shapes().len());
}

#[test]
fn twenty_thousand_terms_are_a_located_error() {
    // 20,000 terms, under the length limit.
    let huge = format!("{{{{ 1{} }}}}", "+1".repeat(20_000));
    let yaml = format!(
        "version: 1.0\ntasks:\n  sum:\n    action: core.noop\n    input:\n      total: \"{huge}\"\n"
    );
    let err = Workflow::from_yaml_str(&yaml)
        .expect("loads")
        .compile(&["core.noop"])
        .expect_err("too deep");
    assert_eq!(err.kind(), ErrorKind::TemplateSyntax);
    assert_eq!(err.task(), Some("sum"));
    assert_eq!(err.field(), Some("input.total"));
    assert!(err.message().contains("levels deep"), "{err}");
    assert!(err.message().contains("split it"), "{err}");
    assert!(err.line().is_some(), "{err}");
    // The message quotes the start of the text, not all of it.
    assert!(err.to_string().len() < 400, "{err}");
    assert_eq!(ExpressionLimits::current().max_depth, 128);
}

#[test]
fn long_templates_are_refused() {
    let limit = ExpressionLimits::current().max_template_bytes;
    let long = format!("{{{{ '{}' }}}}", "x".repeat(limit));
    let err = Template::compile(&long).expect_err("too long");
    assert_eq!(err.kind(), ErrorKind::TemplateSyntax);
    assert!(err.message().contains("bytes long"), "{err}");
}
