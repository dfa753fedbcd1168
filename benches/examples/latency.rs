//! Measures how long a completed task takes to start its dependent (p50/p90/p99/max over a long chain) and the wall time and peak memory of a 1,000,000-task workflow.
//!
//! `cargo run --release --example latency [chain_len] [wide_tasks]`
//! (defaults: 10,000 and 1,000,000)
//!
//! For each runtime flavour (current_thread, multi_thread with 2 workers):
//!
//! 1. A chain of no-op tasks (`bench.noop`, a user closure), each `after`
//!    the one before, run with events recorded. From the events it prints,
//!    per hop from task i to task i+1:
//!    * `succeeded → started`: task i's `TaskSucceeded` to task i+1's
//!      `TaskStarted`. Both are stamped in the attempts' own tokio tasks
//!      (when task i's action returned; right before task i+1's action is
//!      polled), so this is the whole completion → dependent-start
//!      latency: channel, scheduler turn, input rendering and spawn.
//!    * `started → started`: task i's `TaskStarted` to task i+1's: the same
//!      plus the no-op action itself.
//!
//!    Recording events costs the scheduler work (one event per state change
//!    and one extra message per start), so the chain is run a second time
//!    without events, the action itself stamping the time it starts:
//!    `action start → start, no events`.
//! 2. A wide workflow of 1,000,000 independent start tasks, and one of a
//!    root task followed by 1,000,000 tasks (fan-out), built with
//!    `WorkflowBuilder`: time to build, compile and run, and peak RSS
//!    (VmHWM). Each wide case runs in a fresh child process, and the peak is
//!    reset between phases through `/proc/self/clear_refs`, so each figure
//!    is that phase's own: `build+compile` from an empty process, `run`
//!    with the plan (and the executor) already resident.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use tokio::runtime::Runtime;
use weft::{ActionInput, Event, EventKind, Executor, RunOptions, WorkflowBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--wide-child") {
        // One wide case in a fresh process, so its peak RSS is its own.
        let n: usize = argv[4].parse()?;
        let shape = if argv[3] == "fanout" {
            Wide::FanOut
        } else {
            Wide::Independent
        };
        let (flavour, rt) = runtimes()
            .into_iter()
            .find(|(f, _)| *f == argv[2])
            .ok_or("unknown runtime flavour")?;
        return wide_run(&rt, flavour, shape, n);
    }
    let mut args = argv.into_iter().skip(1);
    let chain: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let wide: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);

    println!("# completion → dependent-start latency, chain of {chain} no-op tasks\n");
    println!("| runtime | measure | p50 | p90 | p99 | max |");
    println!("|---|---|---:|---:|---:|---:|");
    for (flavour, rt) in runtimes() {
        rt.block_on(chain_latency(flavour, chain))?;
    }

    println!("\n# wide workflows of {wide} no-op tasks\n");
    println!(
        "| runtime | shape | build | compile | run | tasks/s (run) | peak RSS build+compile | peak RSS run |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe()?;
    for (flavour, _) in runtimes() {
        for shape in ["independent", "fanout"] {
            let status = std::process::Command::new(&exe)
                .args(["--wide-child", flavour, shape, &wide.to_string()])
                .status()?;
            if !status.success() {
                return Err(format!("wide run {flavour} {shape} failed: {status}").into());
            }
        }
    }
    Ok(())
}

fn runtimes() -> [(&'static str, Runtime); 2] {
    let ct = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    [("current_thread", ct), ("multi_thread (2)", mt)]
}

fn chain_builder(n: usize) -> WorkflowBuilder {
    let mut b = WorkflowBuilder::new("chain");
    for i in 0..n {
        b = b.task(format!("t{i}"), |t| {
            let t = t.action("bench.noop");
            if i == 0 {
                t
            } else {
                t.after([format!("t{}", i - 1)])
            }
        });
    }
    b
}

async fn chain_latency(flavour: &str, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    // Run 1: with events.
    let executor = Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .build();
    let plan = chain_builder(n).compile(&executor)?;
    let mut run = executor.start_with(&plan, Value::Null, RunOptions::new().with_events())?;
    let events = run.events();
    let outcome = run.await?;
    assert!(outcome.succeeded(), "{:?}", outcome.errors);
    let events: Vec<Event> = events.collect().await;
    let mut started = vec![None; n];
    let mut succeeded = vec![None; n];
    for e in &events {
        match &e.kind {
            EventKind::TaskStarted { task, .. } => started[index(task)] = Some(e.at),
            EventKind::TaskSucceeded { task, .. } => succeeded[index(task)] = Some(e.at),
            _ => {}
        }
    }
    let hops = |from: &[Option<Instant>]| -> Vec<Duration> {
        (1..n)
            .map(|i| {
                let a = from[i - 1].expect("event of task i-1");
                let b = started[i].expect("TaskStarted of task i");
                b.saturating_duration_since(a)
            })
            .collect()
    };
    row(flavour, "succeeded → started (events)", hops(&succeeded));
    row(flavour, "started → started (events)", hops(&started));

    // Run 2: no events; the action stamps its own start.
    let base = Instant::now();
    let stamps: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let s = stamps.clone();
    let executor = Executor::builder()
        .action("bench.noop", move |input: ActionInput| {
            let at = base.elapsed().as_nanos() as u64;
            s[index(&input.task)].store(at, Ordering::Relaxed);
            async { Ok(Value::Null) }
        })
        .build();
    let plan = chain_builder(n).compile(&executor)?;
    let outcome = executor.start(&plan, Value::Null)?.await?;
    assert!(outcome.succeeded(), "{:?}", outcome.errors);
    let ns: Vec<u64> = stamps.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let hops = (1..n)
        .map(|i| Duration::from_nanos(ns[i].saturating_sub(ns[i - 1])))
        .collect();
    row(flavour, "action start → start, no events", hops);
    Ok(())
}

fn index(task: &str) -> usize {
    task[1..].parse().expect("task names are t<index>")
}

fn row(flavour: &str, what: &str, mut hops: Vec<Duration>) {
    hops.sort_unstable();
    let q = |p: f64| hops[((hops.len() - 1) as f64 * p).round() as usize];
    let us = |d: Duration| format!("{:.2} µs", d.as_secs_f64() * 1e6);
    println!(
        "| {flavour} | {what} | {} | {} | {} | {} |",
        us(q(0.50)),
        us(q(0.90)),
        us(q(0.99)),
        us(hops[hops.len() - 1])
    );
}

#[derive(Clone, Copy)]
enum Wide {
    Independent,
    FanOut,
}

fn wide_run(
    rt: &Runtime,
    flavour: &str,
    shape: Wide,
    n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let executor = Executor::builder()
        .action("bench.noop", |_: ActionInput| async { Ok(Value::Null) })
        .build();
    reset_peak_rss();
    let t0 = Instant::now();
    let mut b = WorkflowBuilder::new("wide");
    let (label, total) = match shape {
        Wide::Independent => {
            for i in 0..n {
                b = b.task(format!("t{i}"), |t| t.action("bench.noop"));
            }
            ("independent", n)
        }
        Wide::FanOut => {
            b = b.task("root", |t| t.action("bench.noop"));
            for i in 0..n {
                b = b.task(format!("t{i}"), |t| t.action("bench.noop").after(["root"]));
            }
            ("1 → N fan-out", n + 1)
        }
    };
    let workflow = b.build()?;
    let built = t0.elapsed();
    let t1 = Instant::now();
    let plan = workflow.compile(&executor)?;
    drop(workflow);
    let compiled = t1.elapsed();
    let peak_compile = peak_rss_mib();

    reset_peak_rss();
    let t2 = Instant::now();
    let run = rt.block_on(async { executor.start(&plan, Value::Null) })?;
    let outcome = rt.block_on(run)?;
    let ran = t2.elapsed();
    let peak_run = peak_rss_mib();
    assert!(outcome.succeeded(), "{:?}", outcome.errors);
    assert_eq!(outcome.stats.actions_run, total);
    drop(outcome);
    drop(plan);

    let s = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    println!(
        "| {flavour} | {label} | {} | {} | {} | {:.0} | {peak_compile} MiB | {peak_run} MiB |",
        s(built),
        s(compiled),
        s(ran),
        total as f64 / ran.as_secs_f64(),
    );
    Ok(())
}

/// Resets VmHWM to the current RSS (Linux); without it, the peak is the
/// process's since it started.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| (kb / 1024).to_string())
        .unwrap_or_else(|| "?".to_owned())
}
