//! The README's main job: register one Rust action, run a workflow with a transition, a publish and a with-items fan-out, print the outcome.
//!
//! ```sh
//! cargo run --release --example quickstart
//! ```
//!
//! `examples/workflows/quickstart.yaml` is the same graph with the built-in
//! `core.echo` in place of `greet`, so the `weft` CLI can run it too.

use std::error::Error;
use std::time::Duration;

use serde_json::json;
use weft::prelude::*;

/// The workflow: `count` publishes the team's size, `greet` runs the Rust
/// action once per member (two at a time), `summary` reads what was published.
pub(crate) const WORKFLOW: &str = r#"
version: 1.0
description: count the team, greet everyone (two at a time), then sum up
input:
  - team: [ada, grace, linus]
tasks:
  count:
    action: core.echo
    input: {message: "{{ parameters.team | length }}"}
    next:
      - when: "{{ succeeded() }}"
        publish:
          - size: "{{ result().message }}"
        do: greet
  greet:
    with: {items: "{{ parameters.team }}", concurrency: 2}
    action: greet
    input: {name: "{{ item }}"}
    next:
      - when: "{{ succeeded() }}"
        publish:
          - greetings: "{{ result() | map(attribute='message') | list }}"
        do: summary
  summary:
    action: core.echo
    input: {message: "greeted {{ workflow.size }} people"}
output:
  - size: "{{ workflow.size }}"
  - greetings: "{{ workflow.greetings }}"
  - summary: "{{ task.summary.message }}"
"#;

/// An executor with the built-in actions and one of our own, `greet`.
pub(crate) fn executor() -> Executor {
    Executor::builder()
        .action("greet", |input: ActionInput| async move {
            let name = input.require_str("name")?;
            // Stands in for real work: a request, a query, a file.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let n = input.index.map_or(1, |i| i + 1);
            Ok(json!({ "message": format!("hello, {name} (#{n})") }))
        })
        .build()
}

/// Compiles the workflow and runs it to the end.
pub(crate) async fn run(inputs: serde_json::Value) -> Result<RunOutcome, Box<dyn Error>> {
    let executor = executor();
    let plan = Workflow::from_yaml_str(WORKFLOW)?
        .with_name("quickstart")
        .compile(&executor)?;
    let outcome = executor.start(&plan, inputs)?.await?;
    Ok(outcome)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let outcome = run(json!({ "team": ["ada", "grace", "linus", "margaret"] })).await?;

    println!(
        "workflow `{}`: {} in {:.1} ms ({} task instances, {} action calls)",
        outcome.workflow,
        outcome.status,
        outcome.stats.duration.as_secs_f64() * 1000.0,
        outcome.stats.tasks_run,
        outcome.stats.actions_run,
    );
    println!("tasks:");
    for t in &outcome.tasks {
        let items = t.items.map(|n| format!(" ({n} items)")).unwrap_or_default();
        let result = t
            .result
            .as_deref()
            .map(|r| r.to_string())
            .unwrap_or_default();
        println!("  {:<8} {}{items}: {result}", t.name, t.status);
    }
    for e in &outcome.errors {
        println!("error: {e}");
    }
    println!(
        "output:\n{}",
        serde_json::to_string_pretty(&outcome.output)?
    );
    Ok(())
}
