//! Expression limits: how long one evaluation that burns its whole fuel
//! budget holds a thread, for the most expensive kinds of work per unit of
//! fuel we found. docs/limits.md quotes the slowest; the default fuel is
//! chosen so that it stays within tens of milliseconds in a release build
//! (`crates/weft-core/examples/fuel_budget.rs` times the same burners, and
//! the hostile expressions of the tests, at any fuel).
//!
//! Run with `cargo bench --bench expr_limits`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::json;
use weft::{ExpressionLimits, Template, WorkflowContext};

/// Templates that never finish on their own: each ends when the fuel does.
const BURNERS: &[(&str, &str)] = &[
    ("empty_loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
    ("arithmetic", "{% for i in range(100000) %}{% for j in range(100000) %}{% if i + j > 3 and j * 2 < 5 or i %}{% endif %}{% endfor %}{% endfor %}"),
    ("replace_empty", "{% for i in range(100000) %}{% set x = ('ab' * 10000) | replace('', 'x') %}{% endfor %}"),
    ("upper_unicode", "{% for i in range(100000) %}{% set x = ('é' * 10000) | upper %}{% endfor %}"),
    ("escape", "{% for i in range(100000) %}{% set x = ('<>&\"' * 10000) | escape %}{% endfor %}"),
    ("join", "{% for i in range(100000) %}{% set x = range(100) | join(',') %}{% endfor %}"),
    ("sort_strings", "{% for i in range(100000) %}{% set x = range(300) | map('string') | sort %}{% endfor %}"),
    ("tojson", "{% for i in range(100000) %}{% set x = (range(100) | list * 100) | tojson %}{% endfor %}"),
    ("zip", "{% for i in range(100000) %}{% set x = zip(range(100), range(100)) %}{% endfor %}"),
    ("json", "{% for i in range(100000) %}{% set x = json('[' ~ ('1,' * 1000) ~ '1]') %}{% endfor %}"),
];

fn fuel_exhausted(c: &mut Criterion) {
    let ctx = WorkflowContext::new(json!({}), []);
    let mut group = c.benchmark_group("fuel_exhausted");
    group.sample_size(10);
    let fuel = ExpressionLimits::current().fuel;
    for (id, source) in BURNERS {
        let t = Template::compile(source).expect("compiles");
        let err = t.render_string(&ctx).expect_err("runs out of fuel");
        assert!(err.message().contains("ran out of fuel"), "{id}: {err}");
        group.bench_with_input(BenchmarkId::new(*id, fuel), &ctx, |b, ctx| {
            b.iter(|| black_box(t.render_string(black_box(ctx)).is_err()))
        });
    }
    group.finish();
}

criterion_group!(benches, fuel_exhausted);
criterion_main!(benches);
