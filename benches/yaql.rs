//! YAQL against Jinja for the same work: a plain path (`ctx().a.b`), a
//! `where`/`select` over 1,000 items, and building strings. Each pair is
//! compiled once and evaluated against one context, as the scheduler
//! does; the YAQL side also runs without its plain-path shortcut, and the
//! Jinja side with it where Jinja has one (`parameters.a.b`). Then how
//! long a YAQL evaluation that spends all its fuel holds a thread
//! (docs/limits.md).
//!
//! Run with `cargo bench --bench yaql`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::json;
use weft::{ExpressionLimits, Template, WorkflowContext};

fn context() -> WorkflowContext {
    let items: Vec<_> = (0..1000)
        .map(|i| json!({"name": format!("item-{i}"), "v": i, "tags": ["a", "b"]}))
        .collect();
    let words: Vec<_> = (0..100).map(|i| format!("word{i}")).collect();
    WorkflowContext::new(
        json!({
            "a": {"b": "deep", "c": [1, 2, 3]},
            "host": "example.com",
            "port": 8443,
            "path": "api/v2",
            "items": items,
            "words": words,
        }),
        [],
    )
}

/// Pairs of (name, YAQL, Jinja) giving the same value.
const PAIRS: &[(&str, &str, &str)] = &[
    ("path", "<% ctx().a.b %>", "{{ ctx().a.b }}"),
    (
        "where_select_1000",
        "<% ctx(items).where($.v >= 500).select($.name) %>",
        "{{ ctx('items') | selectattr('v', 'ge', 500) | map(attribute='name') | list }}",
    ),
    (
        "interpolate",
        "https://<% ctx(host) %>:<% ctx(port) %>/<% ctx(path) %>?n=<% ctx(items).len() %>",
        "https://{{ ctx('host') }}:{{ ctx('port') }}/{{ ctx('path') }}?n={{ ctx('items') | length }}",
    ),
    (
        "join_100",
        "<% ctx(words).join(',') %>",
        "{{ ctx('words') | join(',') }}",
    ),
    (
        "concat",
        "<% 'host-' + ctx(host) + ':' + str(ctx(port)) %>",
        "{{ 'host-' ~ ctx('host') ~ ':' ~ ctx('port') }}",
    ),
];

fn yaql_vs_jinja(c: &mut Criterion) {
    let ctx = context();
    let mut group = c.benchmark_group("yaql_vs_jinja");
    for (name, yaql, jinja) in PAIRS {
        let y = Template::compile(yaql).expect("YAQL compiles");
        let y_slow = Template::compile_without_fast_path(yaql).expect("YAQL compiles");
        let j = Template::compile(jinja).expect("Jinja compiles");
        let j_slow = Template::compile_without_fast_path(jinja).expect("Jinja compiles");
        let yv = y.eval(&ctx).expect("YAQL evaluates");
        assert_eq!(yv, j.eval(&ctx).expect("Jinja evaluates"), "{name}");
        assert_eq!(yv, y_slow.eval(&ctx).expect("YAQL evaluates"), "{name}");
        if *name == "where_select_1000" {
            group.throughput(Throughput::Elements(1000));
        } else {
            group.throughput(Throughput::Elements(1));
        }
        group.bench_with_input(BenchmarkId::new("yaql", name), &ctx, |b, ctx| {
            b.iter(|| black_box(y.eval(black_box(ctx))))
        });
        group.bench_with_input(BenchmarkId::new("jinja", name), &ctx, |b, ctx| {
            b.iter(|| black_box(j_slow.eval(black_box(ctx))))
        });
        if y.is_fast_path() {
            group.bench_with_input(
                BenchmarkId::new("yaql_no_fast_path", name),
                &ctx,
                |b, ctx| b.iter(|| black_box(y_slow.eval(black_box(ctx)))),
            );
        }
    }
    // Jinja's own plain path, for scale.
    let fast = Template::compile("{{ parameters.a.b }}").expect("compiles");
    assert!(fast.is_fast_path());
    group.throughput(Throughput::Elements(1));
    group.bench_with_input(
        BenchmarkId::new("jinja_fast_path", "path"),
        &ctx,
        |b, ctx| b.iter(|| black_box(fast.eval(black_box(ctx)))),
    );
    group.finish();
}

/// YAQL that never finishes on its own: each ends when the fuel does.
const BURNERS: &[(&str, &str)] = &[
    ("count", "<% range(100000000).count() %>"),
    (
        "arithmetic",
        "<% range(100000000).select($ * 2 + 1 > 3 and $ mod 7 = 1).count() %>",
    ),
    (
        "nested_lambdas",
        "<% range(100000000).select(range(100).where($ > 50).len()).count() %>",
    ),
    (
        "sort",
        "<% range(100000000).select(-$).take(1000000).orderBy($).first() %>",
    ),
    (
        "strings",
        "<% range(100000000).select(str($) + ',').aggregate($1 + $2) %>",
    ),
    (
        "upper_unicode",
        "<% range(100000000).select(('é' * 10000).toUpper()).count() %>",
    ),
    (
        "split_join",
        "<% range(100000000).select(('a,' * 1000).split(',').join(';')).count() %>",
    ),
];

fn fuel_exhausted(c: &mut Criterion) {
    let ctx = context();
    let mut group = c.benchmark_group("yaql_fuel_exhausted");
    group.sample_size(10);
    let fuel = ExpressionLimits::current().fuel;
    for (id, source) in BURNERS {
        let t = Template::compile(source).expect("compiles");
        let err = t.eval(&ctx).expect_err("runs out of fuel");
        assert!(err.message().contains("ran out of fuel"), "{id}: {err}");
        group.bench_with_input(BenchmarkId::new(*id, fuel), &ctx, |b, ctx| {
            b.iter(|| black_box(t.eval(black_box(ctx)).is_err()))
        });
    }
    group.finish();
}

criterion_group!(benches, yaql_vs_jinja, fuel_exhausted);
criterion_main!(benches);
