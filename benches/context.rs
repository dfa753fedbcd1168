//! Context benchmarks: clone cost, path lookups, with-items rendering, and
//! the fast path against minijinja for the same expressions.
//!
//! Run with `cargo bench --bench context`. The group and id names are stable
//! so results can be compared across commits; docs/performance.md quotes them.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Value};
use weft::{Template, ValueTemplate, WorkflowContext};

/// A JSON object of about `bytes` serialized bytes: `{"items": [{"name":
/// ..., "id": ..., "payload": ...}, ...]}` with at least four items.
fn result_of_size(bytes: usize) -> Value {
    let mut items = Vec::new();
    // `{"items":[` + `]}`, then each item and its comma.
    let mut size = 12;
    while size < bytes || items.len() < 4 {
        let item = json!({
            "name": format!("item-{}", items.len()),
            "id": items.len(),
            "payload": "x".repeat(64),
        });
        size += item.to_string().len() + 1;
        items.push(item);
    }
    json!({ "items": items })
}

/// A context with `results` completed tasks, each with a 10 KB result.
fn context_with_results(results: usize) -> WorkflowContext {
    let ctx = WorkflowContext::new(
        json!({"url": "https://example.invalid/api", "regions": ["eu", "us"]}),
        [("deployed".to_owned(), json!([]))],
    );
    let result = Arc::new(result_of_size(10 * 1024));
    for i in 0..results {
        // A deep copy each, as distinct tasks would produce.
        ctx.set_task_result(format!("t{i}"), (*result).clone());
    }
    ctx
}

fn context_clone(c: &mut Criterion) {
    let mut group = c.benchmark_group("context_clone");
    for results in [0usize, 10, 50, 100, 500] {
        let ctx = context_with_results(results);
        group.bench_with_input(BenchmarkId::from_parameter(results), &ctx, |b, ctx| {
            // Clone and drop: what handing a context to a task costs.
            b.iter(|| black_box(black_box(ctx).clone()))
        });
    }
    group.finish();
}

fn context_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("context_lookup");
    let template = Template::compile("{{ task.t0.items[3].name }}").expect("compiles");
    for bytes in [1024usize, 1024 * 1024, 5 * 1024 * 1024] {
        let ctx = context_with_results(0);
        let result = result_of_size(bytes);
        let actual = serde_json::to_string(&result).expect("serializes").len();
        assert!(
            actual.abs_diff(bytes) * 10 <= bytes,
            "result of {actual} bytes for a {bytes}-byte case"
        );
        ctx.set_task_result("t0", result);
        assert_eq!(template.eval(&ctx).expect("evaluates"), json!("item-3"));
        group.bench_with_input(BenchmarkId::from_parameter(bytes), &ctx, |b, ctx| {
            b.iter(|| black_box(template.eval(black_box(ctx))))
        });
    }
    group.finish();
}

fn with_items_sim(c: &mut Criterion) {
    let mut group = c.benchmark_group("with_items_sim");
    let ctx = context_with_results(100);
    let input = ValueTemplate::compile(
        &json!({"host": "{{ item }}", "n": "{{ index }}"}),
        "tasks.deploy.input",
    )
    .expect("compiles");
    for n in [10usize, 100, 1000] {
        // Items as the scheduler holds them: evaluated once, shared by pointer.
        let items: Vec<Arc<Value>> = (0..n)
            .map(|i| Arc::new(json!(format!("host-{i}.example.invalid"))))
            .collect();
        let mut check = ctx.clone();
        check.set_current_item(items[n - 1].clone(), n - 1);
        assert_eq!(
            input.render(&check).expect("renders"),
            json!({"host": format!("host-{}.example.invalid", n - 1), "n": n - 1})
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &items, |b, items| {
            b.iter(|| {
                for (i, item) in items.iter().enumerate() {
                    let mut item_ctx = ctx.clone();
                    item_ctx.set_current_item(item.clone(), i);
                    black_box(input.render(&item_ctx).expect("renders"));
                }
            })
        });
    }
    group.finish();
}

/// One way of evaluating a compiled expression, so both show in one table.
trait Evaluator {
    const NAME: &'static str;
    fn compile(source: &str) -> Template;
}

struct FastPath;
struct Minijinja;

impl Evaluator for FastPath {
    const NAME: &'static str = "fast";
    fn compile(source: &str) -> Template {
        let t = Template::compile(source).expect("compiles");
        assert!(t.is_fast_path(), "`{source}` should take the fast path");
        t
    }
}

impl Evaluator for Minijinja {
    const NAME: &'static str = "minijinja";
    fn compile(source: &str) -> Template {
        let t = Template::compile_without_fast_path(source).expect("compiles");
        assert!(!t.is_fast_path());
        t
    }
}

fn bench_evaluator<E: Evaluator>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    ctx: &WorkflowContext,
    id: &str,
    source: &str,
    expected: &Value,
) {
    let t = E::compile(source);
    assert_eq!(&t.eval(ctx).expect("evaluates"), expected, "{}", E::NAME);
    group.bench_with_input(BenchmarkId::new(E::NAME, id), ctx, |b, ctx| {
        b.iter(|| black_box(t.eval(black_box(ctx))))
    });
}

fn expr_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("expr_path");
    let mut ctx = context_with_results(100);
    ctx.set_task_result("t0", result_of_size(1024 * 1024));
    ctx.set_current_item(json!("host-7.example.invalid"), 7);
    for (id, source, expected) in [
        ("index", "{{ index }}", json!(7)),
        ("item", "{{ item }}", json!("host-7.example.invalid")),
        (
            "parameters",
            "{{ parameters.url }}",
            json!("https://example.invalid/api"),
        ),
        ("task_1mb", "{{ task.t0.items[3].name }}", json!("item-3")),
    ] {
        bench_evaluator::<FastPath>(&mut group, &ctx, id, source, &expected);
        bench_evaluator::<Minijinja>(&mut group, &ctx, id, source, &expected);
    }
    group.finish();
}

criterion_group!(
    benches,
    context_clone,
    context_lookup,
    with_items_sim,
    expr_path
);
criterion_main!(benches);
