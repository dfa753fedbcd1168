//! The seed's scenario 1: check 1,000 servers with with-items while the context holds 100 earlier results (~1 MB); prints per-item overhead and peak memory.
//!
//! ```sh
//! cargo run --release --example monitor_servers
//! ```
//!
//! A hundred `history_NNN` tasks each load one earlier report (about 10 KB
//! each) into the context; `check` joins them and then checks every server,
//! reading a value from the history in each item's input. Each item gets the
//! context by pointer, so its cost should not depend on how much the context
//! holds: the example runs the same graph with tiny history reports first,
//! then with the large ones, and prints both.

use std::error::Error;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft::prelude::*;

/// What one run measured.
pub(crate) struct Report {
    pub(crate) outcome: RunOutcome,
    /// Bytes of the history results in the context, as JSON.
    pub(crate) context_bytes: usize,
    /// Wall time of the `check` task (first item started to last item done).
    pub(crate) check_time: Duration,
    /// Wall time of the whole run, as seen by the caller.
    pub(crate) run_time: Duration,
}

/// The workflow: `history` tasks that all lead to `check`, a `join: all`
/// with one item per server.
pub(crate) fn workflow(history: usize) -> String {
    let mut y = String::from(
        "version: 1.0\n\
         description: check every server while earlier reports sit in the context\n\
         input: [servers]\n\
         tasks:\n",
    );
    for day in 0..history {
        let _ = writeln!(
            y,
            "  history_{day:03}: {{action: history.load, input: {{day: {day}}}, next: [{{do: check}}]}}"
        );
    }
    let last = history.saturating_sub(1);
    let _ = write!(
        y,
        r#"  check:
    join: all
    with: "{{{{ parameters.servers }}}}"
    action: server.check
    input:
      host: "{{{{ item }}}}"
      baseline_ms: "{{{{ task.history_{last:03}.p99_ms }}}}"
output:
  - checked: "{{{{ task.check | length }}}}"
  - down: "{{{{ task.check | rejectattr('up') | map(attribute='host') | list }}}}"
"#
    );
    y
}

/// An executor with the two actions the workflow uses.
pub(crate) fn executor(samples: usize) -> Executor {
    Executor::builder()
        // One earlier report: `samples` latency samples of about 100 bytes.
        .action("history.load", move |input: ActionInput| async move {
            let day = input.get("day").and_then(Value::as_u64).unwrap_or(0);
            let samples: Vec<Value> = (0..samples)
                .map(|i| {
                    json!({
                        "host": format!("srv-{i:04}.dc1.example.net"),
                        "latency_ms": (day * 7 + i as u64 * 13) % 250,
                        "checked_at": format!("2024-05-{:02}T12:00:00Z", day % 28 + 1),
                    })
                })
                .collect();
            Ok(json!({ "day": day, "p99_ms": 180 + day % 20, "samples": samples }))
        })
        // The check itself is trivial, so that the time measured is weft's.
        .action("server.check", |input: ActionInput| async move {
            let host = input.require_str("host")?;
            let baseline = input
                .get("baseline_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let n = input.index.unwrap_or(0) as u64;
            let latency = (n * 37) % 300;
            Ok(json!({
                "host": host,
                "up": n % 97 != 13,
                "latency_ms": latency,
                "slow": latency > baseline,
            }))
        })
        .build()
}

/// Runs the check of `servers` servers after `history` reports of
/// `samples` samples each.
pub(crate) async fn check_servers(
    servers: usize,
    history: usize,
    samples: usize,
) -> Result<Report, Box<dyn Error>> {
    let executor = executor(samples);
    let plan = Workflow::from_yaml_str(&workflow(history))?
        .with_name("monitor_servers")
        .compile(&executor)?;
    let hosts: Vec<String> = (0..servers).map(|i| format!("srv-{i:04}")).collect();
    let start = Instant::now();
    let outcome = executor.start(&plan, json!({ "servers": hosts }))?.await?;
    let run_time = start.elapsed();

    let mut context_bytes = 0;
    for t in outcome
        .tasks
        .iter()
        .filter(|t| t.name.starts_with("history_"))
    {
        if let Some(r) = &t.result {
            context_bytes += serde_json::to_vec(&**r)?.len();
        }
    }
    let check_time = outcome
        .task("check")
        .next()
        .and_then(|t| t.ended_at?.duration_since(t.started_at?).ok())
        .unwrap_or_default();
    Ok(Report {
        outcome,
        context_bytes,
        check_time,
        run_time,
    })
}

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    const SERVERS: usize = 1000;
    const HISTORY: usize = 100;
    // Single runs of a few milliseconds are noisy: alternate the two
    // configurations and report the median of several runs of each.
    const REPEAT: usize = 7;
    // (samples per report, label): tiny reports, then ~10 KB ones.
    const CONFIGS: [(usize, &str); 2] = [(0, "tiny history"), (112, "large history")];

    let before = peak_memory();
    // Per configuration: (check time, run time, context bytes, servers down).
    let mut measured: Vec<Vec<(Duration, Duration, usize, usize)>> = vec![Vec::new(); 2];
    for _ in 0..REPEAT {
        for (k, (samples, _)) in CONFIGS.iter().enumerate() {
            let report = check_servers(SERVERS, HISTORY, *samples).await?;
            let o = &report.outcome;
            if !o.succeeded() {
                for e in &o.errors {
                    eprintln!("error: {e}");
                }
                return Err(format!("the run {}", o.status).into());
            }
            let down = o.output["down"].as_array().map_or(0, Vec::len);
            measured[k].push((
                report.check_time,
                report.run_time,
                report.context_bytes,
                down,
            ));
        }
    }
    let mut big_context = 0;
    for ((_, label), runs) in CONFIGS.iter().zip(&mut measured) {
        runs.sort();
        let (check, run, bytes, down) = runs[REPEAT / 2];
        let per_item = check.as_secs_f64() * 1e6 / SERVERS as f64;
        println!(
            "{label:>13}: context {:.2} MB in {HISTORY} results | {SERVERS} servers checked in {:.2} ms \
             = {per_item:.2} µs per item | whole run {:.1} ms | {down} down",
            mb(bytes as u64),
            check.as_secs_f64() * 1000.0,
            run.as_secs_f64() * 1000.0,
        );
        big_context = bytes;
    }
    println!("(medians of {REPEAT} runs each)");
    match (before, peak_memory()) {
        (Some(b), Some(p)) => println!(
            "peak memory (VmHWM): {:.1} MB for the whole process ({:.1} MB before the runs)",
            mb(p),
            mb(b)
        ),
        _ => println!("peak memory: not available (needs Linux /proc/self/status)"),
    }
    println!(
        "for comparison, a deep copy of the context per item would copy {SERVERS} × {:.2} MB = {:.2} GB",
        mb(big_context as u64),
        mb(big_context as u64) * SERVERS as f64 / 1000.0
    );
    Ok(())
}
