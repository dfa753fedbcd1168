//! Loading hostile text: how the time to reject it grows with its size.
//! Each group should show a flat time per element (linear total time);
//! before the limits of loading, deep nesting and many unknown targets
//! grew with the square of their size.
//!
//! Run with `cargo bench --bench loading`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use weft::{ErrorKind, Workflow};

/// `tasks: [[[...]]]`, `levels` deep.
fn deep_yaml(levels: usize) -> String {
    format!("tasks: {}{}\n", "[".repeat(levels), "]".repeat(levels))
}

fn reject_deep_nesting(c: &mut Criterion) {
    let mut group = c.benchmark_group("reject_deep_nesting");
    for levels in [1_000usize, 10_000, 100_000] {
        let text = deep_yaml(levels);
        let e = Workflow::from_yaml_str(&text).expect_err("too deep");
        assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(levels), &text, |b, text| {
            b.iter(|| black_box(Workflow::from_yaml_str(black_box(text))).is_err())
        });
    }
    group.finish();
}

/// `tasks` tasks, each with a `do` that names a task that does not exist.
fn unknown_targets(tasks: usize) -> Workflow {
    let mut text = String::from("tasks:\n");
    for i in 0..tasks {
        text.push_str(&format!(
            "  t{i}: {{action: core.noop, next: [{{do: [missing{i}]}}]}}\n"
        ));
    }
    Workflow::from_yaml_str(&text).expect("loads")
}

fn compile_unknown_targets(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile_unknown_targets");
    group.sample_size(10);
    for tasks in [1_000usize, 4_000, 16_000] {
        let wf = unknown_targets(tasks);
        let e = wf.compile(&["core.noop"]).expect_err("unknown targets");
        assert_eq!(e.all().count() + e.omitted(), tasks);
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_with_input(BenchmarkId::from_parameter(tasks), &wf, |b, wf| {
            b.iter(|| black_box(wf.compile(&["core.noop"])).is_err())
        });
    }
    group.finish();
}

criterion_group!(benches, reject_deep_nesting, compile_unknown_targets);
criterion_main!(benches);
