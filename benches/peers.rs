//! weft against the floor and against the DAG executors a user would pick
//! instead, one criterion group per graph shape, every task a no-op.
//!
//! `cargo bench --bench peers` (filter with e.g. `-- chain_100`). Heap
//! allocations per task for the same shapes, weft beside the floor, come
//! from `cargo run --release -p weft-benches --example alloc_per_task`
//! (a counting allocator there only, so these times are not touched).
//!
//! In each group: `weft_ct`, `floor_ct`, `dagx_ct`, `dagrs_ct` on a
//! current_thread runtime, and the same with `_mt` on a multi_thread runtime
//! with 2 workers. Runtimes are built once, outside the measured loop; each
//! iteration is one `block_on` of one whole run.
//!
//! What one iteration holds, per engine (each driven the way its docs show):
//!
//! * `weft`: `Executor::start(&plan, null).await` with a `Plan` compiled once
//!   beforehand (as users do). The workflow is built with `WorkflowBuilder`,
//!   each task `after` its parents; the action is a user closure
//!   `bench.noop` returning `Ok(Value::Null)`. Compile time is in the
//!   `compile` group, per shape.
//! * `weft_metrics`: the same as `weft`, with a Prometheus recorder
//!   (`metrics-exporter-prometheus`, histogram buckets for durations)
//!   receiving weft's metrics, and the exporter's upkeep every 100 ms. The
//!   recorder is the local recorder of the threads of runtimes of its own
//!   (built like the others), never the process's: the other functions run
//!   with no recorder at all. The difference is what metrics cost.
//! * `floor`: a hand-written minimal event-driven executor (indegree
//!   counters, completions on one flume channel, `tokio::spawn` per ready
//!   task); its children lists are prepared once.
//! * `dagx` 0.3: a `DagRunner` runs once, so every iteration builds it
//!   (`add_task(..).depends_on(..)` with `#[task]` unit structs) and calls
//!   `dag.run(|fut| { tokio::spawn(fut); })`.
//! * `dagrs` 0.9: the `Graph` is built once; each iteration is
//!   `graph.async_start()` and the `graph.reset()` its docs require before
//!   the next run. dagrs orders nodes only through their channels, so each
//!   no-op waits for its inputs and broadcasts one empty `Content` (as its
//!   examples do); without that, dependents would not wait.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use serde_json::Value;
use tokio::runtime::Runtime;
use weft::{Executor, Plan};

use common::{
    noop_executor, runtime_ct, runtime_mt, weft_builder, weft_plan, weft_run, Floor, Shape,
};

/// One engine under test.
trait Engine {
    const NAME: &'static str;
    /// What is prepared once per shape and runtime, outside the measured loop.
    type Graph;
    fn prepare(shape: &Shape, rt: &Runtime) -> Self::Graph;
    /// One measured iteration: a whole run of the graph.
    fn run(rt: &Runtime, graph: &mut Self::Graph);
}

struct Weft;

impl Engine for Weft {
    const NAME: &'static str = "weft";
    type Graph = (Executor, Plan);

    fn prepare(shape: &Shape, _: &Runtime) -> Self::Graph {
        let executor = noop_executor();
        let plan = weft_plan(shape, &executor);
        (executor, plan)
    }

    fn run(rt: &Runtime, (executor, plan): &mut Self::Graph) {
        rt.block_on(weft_run(executor, plan, Value::Null));
    }
}

/// The Prometheus recorder the `weft_metrics` functions report to. It is
/// never installed for the process: weft checks at each run's start whether
/// a recorder is installed, and the other functions must run with none.
/// The `weft_metrics` runs see it as their threads' local recorder instead.
fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusRecorder {
    static RECORDER: std::sync::OnceLock<&'static metrics_exporter_prometheus::PrometheusRecorder> =
        std::sync::OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_seconds".to_owned()),
                &[0.000_05, 0.000_1, 0.000_5, 0.001, 0.01, 0.1, 1.0, 10.0],
            )
            .expect("buckets")
            .build_recorder();
        Box::leak(Box::new(recorder))
    })
}

/// Runtimes like `runtime_ct`/`runtime_mt` whose worker threads have the
/// Prometheus recorder as their local recorder, for good.
fn metrics_runtime(flavor: tokio::runtime::RuntimeFlavor) -> &'static Runtime {
    static CT: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    static MT: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    match flavor {
        tokio::runtime::RuntimeFlavor::CurrentThread => CT.get_or_init(runtime_ct),
        _ => MT.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .on_thread_start(|| {
                    std::mem::forget(metrics::set_default_local_recorder(prometheus()))
                })
                .build()
                .expect("tokio runtime")
        }),
    }
}

/// weft with a Prometheus recorder receiving its metrics.
struct WeftMetrics;

impl Engine for WeftMetrics {
    const NAME: &'static str = "weft_metrics";
    type Graph = (&'static Runtime, Executor, Plan);

    fn prepare(shape: &Shape, rt: &Runtime) -> Self::Graph {
        let (executor, plan) = Weft::prepare(shape, rt);
        (
            metrics_runtime(rt.handle().runtime_flavor()),
            executor,
            plan,
        )
    }

    fn run(_: &Runtime, (rt, executor, plan): &mut Self::Graph) {
        {
            // The calling thread: where a current_thread runtime runs
            // everything, and a multi_thread one the `block_on` future.
            let _local = metrics::set_default_local_recorder(prometheus());
            rt.block_on(weft_run(executor, plan, Value::Null));
        }
        // The exporter's periodic upkeep (it drains histogram samples), in
        // the measured time: every 100 ms here, fifty times as often as the
        // exporter's own default (5 s), so its cost is in the figure without
        // a 4-task run paying a whole upkeep by itself.
        static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
        let mut last = LAST.lock().expect("upkeep clock");
        if last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) {
            prometheus().handle().run_upkeep();
            *last = Some(std::time::Instant::now());
        }
    }
}

struct FloorEngine;

impl Engine for FloorEngine {
    const NAME: &'static str = "floor";
    type Graph = Arc<Floor>;

    fn prepare(shape: &Shape, _: &Runtime) -> Self::Graph {
        Floor::new(shape)
    }

    fn run(rt: &Runtime, floor: &mut Self::Graph) {
        rt.block_on(floor.run());
    }
}

mod dagx_engine {
    use dagx::{task, DagRunner, Task, TaskHandle};

    struct Source;

    #[task]
    impl Source {
        async fn run() -> u32 {
            0
        }
    }

    struct After1;

    #[task]
    impl After1 {
        async fn run(_a: &u32) -> u32 {
            0
        }
    }

    struct After2;

    #[task]
    impl After2 {
        async fn run(_a: &u32, _b: &u32) -> u32 {
            0
        }
    }

    /// Builds the DAG and runs it once (a `DagRunner` runs once).
    pub(super) async fn build_and_run(parents: &[Vec<u32>]) {
        let dag = DagRunner::new();
        let mut handles: Vec<TaskHandle<u32>> = Vec::with_capacity(parents.len());
        for ps in parents {
            let h = match ps.as_slice() {
                [] => dag.add_task(Source).into(),
                [a] => dag.add_task(After1).depends_on(handles[*a as usize]),
                [a, b] => dag
                    .add_task(After2)
                    .depends_on((&handles[*a as usize], &handles[*b as usize])),
                _ => unreachable!("no shape here has more than 2 parents"),
            };
            handles.push(h);
        }
        dag.run(|fut| {
            tokio::spawn(fut);
        })
        .await
        .expect("dagx run");
    }
}

struct Dagx;

impl Engine for Dagx {
    const NAME: &'static str = "dagx";
    type Graph = Vec<Vec<u32>>;

    fn prepare(shape: &Shape, _: &Runtime) -> Self::Graph {
        shape.parents.clone()
    }

    fn run(rt: &Runtime, parents: &mut Self::Graph) {
        rt.block_on(dagx_engine::build_and_run(parents));
    }
}

mod dagrs_engine {
    use std::sync::Arc;

    use dagrs::async_trait::async_trait;
    use dagrs::{
        Action, Content, DefaultNode, EnvVar, Graph, InChannels, Node, NodeTable, OutChannels,
        Output,
    };

    struct Noop;

    #[async_trait]
    impl Action for Noop {
        async fn run(
            &self,
            input: &mut InChannels,
            output: &mut OutChannels,
            _env: Arc<EnvVar>,
        ) -> Output {
            // dagrs starts every node of a block at once and orders them only
            // through their channels: wait for each parent's message.
            input.map(|_| ()).await;
            output.broadcast(Content::new(())).await;
            Output::empty()
        }
    }

    pub(super) fn build(parents: &[Vec<u32>]) -> Graph {
        let mut table = NodeTable::new();
        let mut graph = Graph::new();
        let mut ids = Vec::with_capacity(parents.len());
        for i in 0..parents.len() {
            let node = DefaultNode::with_action(format!("t{i}"), Noop, &mut table);
            ids.push(node.id());
            graph.add_node(node).expect("dagrs node");
        }
        let mut children = vec![Vec::new(); parents.len()];
        for (i, ps) in parents.iter().enumerate() {
            for &p in ps {
                children[p as usize].push(ids[i]);
            }
        }
        for (p, cs) in children.into_iter().enumerate() {
            if !cs.is_empty() {
                graph.add_edge(ids[p], cs).expect("dagrs edge");
            }
        }
        graph.set_env(EnvVar::new(table));
        graph
    }

    pub(super) async fn run(graph: &mut Graph, tasks: usize) {
        let report = graph.async_start().await.expect("dagrs run");
        assert_eq!(report.node_succeeded, tasks);
        graph.reset().await.expect("dagrs reset");
    }
}

struct Dagrs;

impl Engine for Dagrs {
    const NAME: &'static str = "dagrs";
    type Graph = (dagrs::Graph, usize);

    fn prepare(shape: &Shape, _: &Runtime) -> Self::Graph {
        (dagrs_engine::build(&shape.parents), shape.len())
    }

    fn run(rt: &Runtime, (graph, tasks): &mut Self::Graph) {
        rt.block_on(dagrs_engine::run(graph, *tasks));
    }
}

fn bench_engine<E: Engine>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    shape: &Shape,
    flavour: &str,
    rt: &Runtime,
) {
    let mut graph = E::prepare(shape, rt);
    group.bench_function(format!("{}_{flavour}", E::NAME), |b| {
        b.iter(|| E::run(rt, &mut graph))
    });
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(3));
}

fn peers(c: &mut Criterion) {
    let ct = runtime_ct();
    let mt = runtime_mt();
    for shape in Shape::all() {
        let mut group = c.benchmark_group(shape.name);
        configure(&mut group);
        group.throughput(Throughput::Elements(shape.len() as u64));
        for (flavour, rt) in [("ct", &ct), ("mt", &mt)] {
            bench_engine::<Weft>(&mut group, &shape, flavour, rt);
            bench_engine::<WeftMetrics>(&mut group, &shape, flavour, rt);
            bench_engine::<FloorEngine>(&mut group, &shape, flavour, rt);
            bench_engine::<Dagx>(&mut group, &shape, flavour, rt);
            bench_engine::<Dagrs>(&mut group, &shape, flavour, rt);
        }
        group.finish();
    }
}

/// weft's one-off cost per shape: compiling a built workflow into a `Plan`
/// (`<shape>`), and building it with `WorkflowBuilder` then compiling
/// (`<shape>_with_build`).
fn compile(c: &mut Criterion) {
    let executor = noop_executor();
    let mut group = c.benchmark_group("compile");
    configure(&mut group);
    for shape in Shape::all() {
        group.throughput(Throughput::Elements(shape.len() as u64));
        let workflow = weft_builder(&shape).build().expect("builds");
        group.bench_function(shape.name, |b| {
            b.iter(|| workflow.compile(&executor).expect("compiles"))
        });
        group.bench_function(format!("{}_with_build", shape.name), |b| {
            b.iter(|| weft_builder(&shape).compile(&executor).expect("compiles"))
        });
    }
    group.finish();
}

criterion_group!(benches, peers, compile);
criterion_main!(benches);
