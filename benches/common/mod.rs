//! Shared by the engine benchmarks: graph shapes, runtimes, the `floor`
//! executor, and weft built from a shape.
//!
//! Each bench binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::Value;
use tokio::runtime::Runtime;
use weft::{ActionInput, Executor, Plan, WorkflowBuilder};

/// A DAG in topological order: `parents[i]` are all `< i`.
pub(crate) struct Shape {
    pub(crate) name: &'static str,
    pub(crate) parents: Vec<Vec<u32>>,
}

impl Shape {
    /// A shape named on a profiling program's command line: `chain`,
    /// `independent`, `fanout`, `diamond` (`size` unused), `tree` (`size`
    /// levels) or `wavefront` (a `size` × `size` grid).
    pub(crate) fn by_name(name: &str, size: u32) -> Result<Shape, String> {
        Ok(match name {
            "chain" => Shape::chain("chain", size as usize),
            "independent" => Shape::independent("independent", size as usize),
            "fanout" => Shape::fanout("fanout", size as usize),
            "diamond" => Shape::diamond(),
            "tree" => Shape::binary_tree("tree", size),
            "wavefront" => Shape::wavefront("wavefront", size),
            other => return Err(format!("unknown shape `{other}`")),
        })
    }

    /// `n` tasks, each after the one before.
    pub(crate) fn chain(name: &'static str, n: usize) -> Shape {
        let parents = (0..n as u32)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        Shape { name, parents }
    }

    /// 1 → 2 → 1.
    pub(crate) fn diamond() -> Shape {
        Shape {
            name: "diamond",
            parents: vec![vec![], vec![0], vec![0], vec![1, 2]],
        }
    }

    /// One root and `n` tasks after it.
    pub(crate) fn fanout(name: &'static str, n: usize) -> Shape {
        let mut parents = vec![vec![]];
        parents.extend((0..n).map(|_| vec![0]));
        Shape { name, parents }
    }

    /// `n` tasks with no dependencies.
    pub(crate) fn independent(name: &'static str, n: usize) -> Shape {
        Shape {
            name,
            parents: vec![vec![]; n],
        }
    }

    /// A complete binary tree of `levels` levels, each task after its parent.
    pub(crate) fn binary_tree(name: &'static str, levels: u32) -> Shape {
        let n = (1u32 << levels) - 1;
        let parents = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![(i - 1) / 2] })
            .collect();
        Shape { name, parents }
    }

    /// A `side` × `side` grid, each cell after its left and upper neighbour.
    pub(crate) fn wavefront(name: &'static str, side: u32) -> Shape {
        let mut parents = Vec::with_capacity((side * side) as usize);
        for r in 0..side {
            for c in 0..side {
                let mut p = Vec::with_capacity(2);
                if c > 0 {
                    p.push(r * side + c - 1);
                }
                if r > 0 {
                    p.push((r - 1) * side + c);
                }
                parents.push(p);
            }
        }
        Shape { name, parents }
    }

    /// The six shapes of `benches/peers.rs`.
    pub(crate) fn all() -> Vec<Shape> {
        vec![
            Shape::chain("chain_100", 100),
            Shape::diamond(),
            Shape::fanout("fanout_100", 100),
            Shape::independent("independent_10k", 10_000),
            Shape::binary_tree("binary_tree_10", 10),
            Shape::wavefront("wavefront_32", 32),
        ]
    }

    pub(crate) fn len(&self) -> usize {
        self.parents.len()
    }

    /// Children of each task, in task order.
    pub(crate) fn children(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.len()];
        for (i, ps) in self.parents.iter().enumerate() {
            for &p in ps {
                out[p as usize].push(i as u32);
            }
        }
        out
    }
}

/// A current_thread runtime.
pub(crate) fn runtime_ct() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A multi_thread runtime with 2 workers.
pub(crate) fn runtime_mt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---- floor ------------------------------------------------------------------

/// The least an event-driven executor must do: indegree counters, one
/// `tokio::spawn` per ready task, completions back on one flume channel.
/// The graph (children lists, indegrees) is prepared once, as a plan is.
pub(crate) struct Floor {
    offsets: Vec<u32>,
    children: Vec<u32>,
    indegree: Vec<u32>,
    starts: Vec<u32>,
}

impl Floor {
    pub(crate) fn new(shape: &Shape) -> Arc<Floor> {
        let mut offsets = Vec::with_capacity(shape.len() + 1);
        let mut children = Vec::new();
        offsets.push(0);
        for c in shape.children() {
            children.extend(c);
            offsets.push(children.len() as u32);
        }
        Arc::new(Floor {
            offsets,
            children,
            indegree: shape.parents.iter().map(|p| p.len() as u32).collect(),
            starts: (0..shape.len() as u32)
                .filter(|&i| shape.parents[i as usize].is_empty())
                .collect(),
        })
    }

    /// One run, its driver spawned on the current runtime as weft's
    /// scheduler is; returns when every task has completed.
    pub(crate) async fn run(self: &Arc<Floor>) {
        let me = self.clone();
        tokio::spawn(async move { me.drive().await })
            .await
            .expect("floor driver");
    }

    async fn drive(&self) {
        let (tx, rx) = flume::unbounded::<u32>();
        let mut indegree = self.indegree.clone();
        let mut remaining = indegree.len();
        for &s in &self.starts {
            spawn_noop(s, &tx);
        }
        while remaining > 0 {
            let done = rx.recv_async().await.expect("a task completion");
            remaining -= 1;
            let (a, b) = (
                self.offsets[done as usize] as usize,
                self.offsets[done as usize + 1] as usize,
            );
            for &c in &self.children[a..b] {
                let d = &mut indegree[c as usize];
                *d -= 1;
                if *d == 0 {
                    spawn_noop(c, &tx);
                }
            }
        }
    }
}

fn spawn_noop(task: u32, tx: &flume::Sender<u32>) {
    let tx = tx.clone();
    tokio::spawn(async move {
        std::hint::black_box(task);
        let _ = tx.send(task);
    });
}

// ---- weft -------------------------------------------------------------------

/// The no-op action every weft benchmark registers: a user-level closure,
/// nothing special-cased.
pub(crate) fn noop_executor() -> Executor {
    Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .build()
}

/// The shape as a weft workflow, built with the builder as a user would:
/// each task `after` its parents (a `{{ succeeded() }}` transition from each
/// parent, and `join: all` where there are two).
pub(crate) fn weft_builder(shape: &Shape) -> WorkflowBuilder {
    let mut b = WorkflowBuilder::new(shape.name);
    for (i, ps) in shape.parents.iter().enumerate() {
        b = b.task(format!("t{i}"), |t| {
            t.action("bench.noop")
                .after(ps.iter().map(|p| format!("t{p}")))
        });
    }
    b
}

/// The compiled plan (compiled once, as users do).
pub(crate) fn weft_plan(shape: &Shape, executor: &Executor) -> Plan {
    weft_builder(shape)
        .compile(executor)
        .expect("benchmark workflow compiles")
}

/// One run to completion; panics unless it succeeded with every task run.
pub(crate) async fn weft_run(executor: &Executor, plan: &Plan, inputs: Value) {
    let outcome = executor
        .start(plan, inputs)
        .expect("run starts")
        .await
        .expect("run ends");
    assert!(outcome.succeeded(), "{:?}", outcome.errors);
}

// ---- durable runs ---------------------------------------------------------------

/// The positional arguments of a measurement program.
pub(crate) struct Args(Vec<String>);

impl Args {
    /// The program's arguments, without its name.
    pub(crate) fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    /// Argument `i`, or `default` when it is not given.
    pub(crate) fn text<'a>(&'a self, i: usize, default: &'a str) -> &'a str {
        self.0.get(i).map_or(default, String::as_str)
    }

    /// Argument `i` parsed, or `default` when it is not given.
    pub(crate) fn parse<T: std::str::FromStr>(&self, i: usize, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.parse_opt(i)?.unwrap_or(default))
    }

    /// Argument `i` parsed, if it is given.
    pub(crate) fn parse_opt<T: std::str::FromStr>(&self, i: usize) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        self.0
            .get(i)
            .map(|s| {
                s.parse()
                    .map_err(|e| format!("argument {} `{s}`: {e}", i + 1))
            })
            .transpose()
    }
}

/// The store a durable measurement names: `sqlite`, a SQLite file at
/// `path` (write-behind by default), `sqlite-normal`, the same committing
/// without an fsync, or `memory`, none.
pub(crate) fn store_named(
    name: &str,
    path: &std::path::Path,
) -> Result<Option<Arc<weft_store_sqlite::SqliteStore>>, Box<dyn std::error::Error>> {
    match name {
        "sqlite" => Ok(Some(Arc::new(weft_store_sqlite::SqliteStore::open(path)?))),
        // Commits without an fsync (`synchronous=NORMAL`): what a commit
        // costs apart from the disk's time, which other writers on the
        // machine set.
        "sqlite-normal" => Ok(Some(Arc::new(weft_store_sqlite::SqliteStore::open_with(
            path,
            &weft_store_sqlite::SqliteOptions::new()
                .synchronous(weft_store_sqlite::Synchronous::Normal),
        )?))),
        "memory" => Ok(None),
        other => Err(format!("`{other}`: expected `sqlite`, `sqlite-normal` or `memory`").into()),
    }
}

/// The shape's plan compiled from its YAML text, as a user's loaded
/// workflow is: a durable run keeps its workflow's text, which a plan
/// built in code has not.
pub(crate) fn text_plan(shape: &Shape, executor: &Executor) -> Result<Plan, weft::Error> {
    let text = weft_builder(shape).build()?.to_yaml_string()?;
    weft::Workflow::from_yaml_str(&text)?
        .with_name(shape.name)
        .compile(executor)
}

// ---- journals -----------------------------------------------------------------

/// The `Started` record of a floor run (`sqlite_commit_floor`,
/// `commit_pages`): a sync run of no workflow text, to which single
/// records are then appended one commit each.
pub(crate) fn floor_start() -> weft::store::Record {
    weft::store::Record::Started(Box::new(weft::store::RunStart {
        workflow: "floor".into(),
        source: String::new(),
        format: "yaml".into(),
        hash: String::new(),
        inputs: serde_json::json!({}),
        parent: None,
        depth: 0,
        durability: weft::Durability::Sync,
        started_at: 0,
    }))
}

/// A run of one with-items task over `items` items (`items + 2` records),
/// written to the SQLite file at `path` and flushed: the journal that the
/// recover benchmarks load and replay. The workflow compiles in next to no
/// time, so what they measure is the journal's. Returns the executor that
/// ran it (its store is `store`), the store and the run's id.
pub(crate) fn journaled_with_items(
    rt: &Runtime,
    path: &std::path::Path,
    items: usize,
) -> Result<(Executor, Arc<weft_store_sqlite::SqliteStore>, weft::RunId), Box<dyn std::error::Error>>
{
    let store = Arc::new(weft_store_sqlite::SqliteStore::open(path)?);
    let executor = Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .store(store.clone())
        .build();
    let plan = weft::Workflow::from_yaml_str(
        "input: [xs]\ntasks:\n  t: {with: '{{ parameters.xs }}', action: bench.noop}\n",
    )?
    .compile(&executor)?;
    let xs: Vec<usize> = (0..items).collect();
    let id = rt.block_on(async {
        let out = executor
            .start(&plan, serde_json::json!({ "xs": xs }))?
            .await?;
        executor.flush().await?;
        Ok::<_, Box<dyn std::error::Error>>(out.run_id)
    })?;
    Ok((executor, store, id))
}

/// Runs started together in one iteration of `benches/crowd.rs` (and of
/// `examples/crowd_commits.rs`, which counts its commits).
pub(crate) const CROWD_RUNS: usize = 64;

/// `CROWD_RUNS` runs of `plan` started one after the other, then all
/// awaited; with `flush_each`, each run flushes the journal as soon as it
/// has ended.
pub(crate) async fn crowd(executor: &Executor, plan: &Plan, flush_each: bool) {
    let runs: Vec<_> = (0..CROWD_RUNS)
        .map(|_| executor.start(plan, Value::Null).expect("run starts"))
        .collect();
    futures::future::join_all(runs.into_iter().map(|run| async move {
        let outcome = run.await.expect("run ends");
        assert!(outcome.succeeded(), "{:?}", outcome.errors);
        if flush_each {
            executor.flush().await.expect("journal committed");
        }
    }))
    .await;
}

/// `journal`'s entries as the journal of a new run (the same records and
/// sequence numbers under a fresh `RunId`).
pub(crate) fn rekeyed(journal: &[weft::store::Entry]) -> Vec<weft::store::Entry> {
    let run = weft::RunId::new();
    journal
        .iter()
        .map(|e| weft::store::Entry {
            run,
            seq: e.seq,
            record: e.record.clone(),
        })
        .collect()
}
