//! One `with` task over N items, through the whole engine, with a context
//! that already holds 100 completed 10 KB task results.
//!
//! `cargo bench --bench with_items`
//!
//! The workflow, built with `WorkflowBuilder` and compiled once:
//!
//! * `r0` … `r99`: start tasks whose action (`bench.blob`) returns a 10 KB
//!   JSON value (a response with a 10,000-character body), so the context
//!   holds 100 results of 10 KB;
//! * `each`: after all of them (`join: all`), `with: {{ parameters.hosts }}`,
//!   action `bench.noop`, input `{"host": "{{ item }}"}`.
//!
//! Every iteration is a full run: the 100 result tasks, the join, then the N
//! items (each: render the input, spawn, complete, record in item order).
//! `setup_only` is the same run with 0 items, so the per-item cost is
//! `(t(N) − t(setup_only)) / N`; at 100,000 items it barely matters. The
//! hosts list is cloned outside the timing (`iter_batched`); the run drops
//! it inside. Functions `10`, `1000`, `100000` run on a current_thread
//! runtime; `100000_mt` on a multi_thread runtime with 2 workers.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use serde_json::{json, Value};
use weft::{ActionInput, Executor, Plan, WorkflowBuilder};

use common::{runtime_ct, runtime_mt, weft_run};

const RESULTS: usize = 100;

/// A 10 KB result, shaped like an HTTP response. One string holds the
/// bulk, so the action that returns it (a clone per call) stays cheap and
/// the run's fixed part stays small next to the items.
fn blob() -> Value {
    let v = json!({
        "status": 200,
        "headers": {"content-type": "text/plain"},
        "body": "x".repeat(10_000),
    });
    debug_assert!((10_000..10_200).contains(&v.to_string().len()));
    v
}

fn setup() -> (Executor, Plan) {
    let blob = Arc::new(blob());
    let executor = Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .action("bench.blob", move |_: ActionInput| {
            let blob = blob.clone();
            async move { Ok((*blob).clone()) }
        })
        .build();
    let mut b = WorkflowBuilder::new("with_items").input("hosts");
    let names: Vec<String> = (0..RESULTS).map(|i| format!("r{i}")).collect();
    for n in &names {
        b = b.task(n, |t| t.action("bench.blob"));
    }
    b = b.task("each", |t| {
        t.action("bench.noop")
            .with_items("{{ parameters.hosts }}")
            .input(json!({"host": "{{ item }}"}))
            .after(&names)
    });
    let plan = b.compile(&executor).expect("compiles");
    (executor, plan)
}

fn hosts(n: usize) -> Value {
    json!({ "hosts": (0..n).map(|i| format!("host-{i}.example")).collect::<Vec<_>>() })
}

fn with_items(c: &mut Criterion) {
    let (executor, plan) = setup();
    let ct = runtime_ct();
    let mt = runtime_mt();
    // Check once that the context really holds the 100 results when the
    // items run, and that every item ran.
    ct.block_on(async {
        let outcome = executor
            .start(&plan, hosts(3))
            .expect("starts")
            .await
            .expect("ends");
        assert!(outcome.succeeded(), "{:?}", outcome.errors);
        assert_eq!(outcome.stats.actions_run, RESULTS + 3);
        let each = outcome.task("each").next().expect("each ran");
        assert_eq!(each.items, Some(3));
        assert!(outcome.tasks[0].result.as_ref().unwrap().to_string().len() > 9_000);
    });

    let mut group = c.benchmark_group("with_items");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let cases: [(&str, usize, &tokio::runtime::Runtime); 5] = [
        ("setup_only", 0, &ct),
        ("10", 10, &ct),
        ("1000", 1000, &ct),
        ("100000", 100_000, &ct),
        ("100000_mt", 100_000, &mt),
    ];
    for (name, n, rt) in cases {
        if n > 0 {
            group.throughput(Throughput::Elements(n as u64));
        }
        if n >= 100_000 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(8));
        }
        let input = hosts(n);
        group.bench_function(name, |b| {
            b.iter_batched(
                || input.clone(),
                |input| rt.block_on(weft_run(&executor, &plan, input)),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, with_items);
criterion_main!(benches);
