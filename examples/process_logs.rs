//! The seed's scenario 2: parse 10,000 log entries with with-items and `concurrency: 64`, and aggregate the results in `output`.
//!
//! ```sh
//! cargo run --release --example process_logs
//! ```
//!
//! `parse` runs a Rust action once per log line, at most 64 at a time; its
//! result is the list of parsed entries in line order, and the workflow's
//! `output` aggregates them with Jinja filters. Each `output` expression
//! walks all 10,000 results through several filters, within the default
//! expression budget (`ExpressionLimits::fuel`, see docs/limits.md).

use std::error::Error;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft::prelude::*;

/// The workflow.
pub(crate) const WORKFLOW: &str = r#"
version: 1.0
description: parse log lines, 64 at a time, and summarise them
input:
  - lines
tasks:
  parse:
    with: {items: "{{ parameters.lines }}", concurrency: 64}
    action: logs.parse
    input: {line: "{{ item }}"}
output:
  - entries: "{{ task.parse | length }}"
  - errors: "{{ task.parse | selectattr('level', 'eq', 'ERROR') | list | length }}"
  - warnings: "{{ task.parse | selectattr('level', 'eq', 'WARN') | list | length }}"
  - services: "{{ task.parse | map(attribute='service') | unique | sort | list }}"
  - bytes: "{{ task.parse | map(attribute='bytes') | sum }}"
  - slowest_ms: "{{ task.parse | map(attribute='ms') | max }}"
  - first_error: "{{ (task.parse | selectattr('level', 'eq', 'ERROR') | first).message }}"
"#;

/// `count` synthetic log lines such as
/// `2024-05-01T12:00:07Z WARN  billing: slow response ms=412 bytes=2103`.
pub(crate) fn log_lines(count: usize) -> Vec<String> {
    const SERVICES: [&str; 4] = ["api", "auth", "billing", "search"];
    (0..count)
        .map(|i| {
            let level = match i % 50 {
                7 => "ERROR",
                n if n % 9 == 0 => "WARN ",
                _ => "INFO ",
            };
            let service = SERVICES[i % SERVICES.len()];
            let ms = (i * 7919) % 997;
            let bytes = 200 + (i * 31) % 4000;
            let message = match level {
                "ERROR" => "upstream timed out",
                "WARN " => "slow response",
                _ => "request served",
            };
            format!(
                "2024-05-01T{:02}:{:02}:{:02}Z {level} {service}: {message} ms={ms} bytes={bytes}",
                (i / 3600) % 24,
                (i / 60) % 60,
                i % 60
            )
        })
        .collect()
}

/// Parses one line into `{time, level, service, message, ms, bytes}`.
fn parse_line(line: &str) -> Result<Value, ActionError> {
    let bad = || ActionError::new(format!("not a log line: {line:?}"));
    let (time, rest) = line.split_once(' ').ok_or_else(bad)?;
    let (level, rest) = rest.trim_start().split_once(' ').ok_or_else(bad)?;
    let (service, rest) = rest.trim_start().split_once(": ").ok_or_else(bad)?;
    let mut message = Vec::new();
    let (mut ms, mut bytes) = (0u64, 0u64);
    for word in rest.split(' ') {
        match word.split_once('=') {
            Some(("ms", v)) => ms = v.parse().map_err(|_| bad())?,
            Some(("bytes", v)) => bytes = v.parse().map_err(|_| bad())?,
            _ => message.push(word),
        }
    }
    Ok(json!({
        "time": time,
        "level": level,
        "service": service,
        "message": message.join(" "),
        "ms": ms,
        "bytes": bytes,
    }))
}

/// What one run measured.
pub(crate) struct Report {
    pub(crate) outcome: RunOutcome,
    /// Wall time of the whole run, as seen by the caller.
    pub(crate) run_time: Duration,
}

/// Parses `count` lines.
pub(crate) async fn process(count: usize) -> Result<Report, Box<dyn Error>> {
    let executor = Executor::builder()
        .action("logs.parse", |input: ActionInput| async move {
            parse_line(input.require_str("line")?)
        })
        .build();
    let plan = Workflow::from_yaml_str(WORKFLOW)?
        .with_name("process_logs")
        .compile(&executor)?;
    let lines = log_lines(count);
    let start = Instant::now();
    let outcome = executor.start(&plan, json!({ "lines": lines }))?.await?;
    Ok(Report {
        outcome,
        run_time: start.elapsed(),
    })
}

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    const LINES: usize = 10_000;

    let before = peak_memory();
    let report = process(LINES).await?;
    let o = &report.outcome;
    for e in &o.errors {
        eprintln!("error: {e}");
    }
    let parse = o.task("parse").next().ok_or("no `parse` task ran")?;
    let items_time = match (parse.started_at, parse.ended_at) {
        (Some(s), Some(e)) => e.duration_since(s).unwrap_or_default(),
        _ => Duration::ZERO,
    };
    println!(
        "{}: {LINES} lines parsed, 64 at a time, in {:.1} ms = {:.2} µs per line \
         (whole run with output: {:.1} ms)",
        o.status,
        items_time.as_secs_f64() * 1000.0,
        items_time.as_secs_f64() * 1e6 / LINES as f64,
        report.run_time.as_secs_f64() * 1000.0,
    );
    if let (Some(b), Some(p)) = (before, peak_memory()) {
        println!(
            "peak memory (VmHWM): {:.1} MB for the whole process ({:.1} MB before the run)",
            p as f64 / 1e6,
            b as f64 / 1e6
        );
    }
    println!("output:\n{}", serde_json::to_string_pretty(&o.output)?);
    if !o.succeeded() {
        return Err(format!("the run {}", o.status).into());
    }
    Ok(())
}
