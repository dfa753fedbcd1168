//! Retry with backoff, a timeout, a handled failure, an unhandled one, and the `fail` command: five small workflows and how each run ends.
//!
//! ```sh
//! cargo run --release --example error_handling
//! ```

use std::error::Error;
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use weft::prelude::*;
use weft::EventKind;

/// `fetch` fails twice, then succeeds: the retry waits 0.05 s, then 0.1 s.
const RETRY_WITH_BACKOFF: &str = r#"
tasks:
  fetch:
    action: flaky.fetch
    input: {fail_times: 2}
    retry: {count: 3, delay: 0.05, backoff: exponential}
    next:
      - when: "{{ succeeded() }}"
        publish: [{body: "{{ result().body }}"}]
output:
  - body: "{{ workflow.body }}"
"#;

/// `slow` takes too long; the timeout is handled by a fallback.
const TIMEOUT: &str = r#"
tasks:
  slow:
    action: core.sleep
    input: {seconds: 10}
    timeout: 0.2
    next:
      - when: "{{ succeeded() }}"
        do: use_fresh
      - when: "{{ timed_out() }}"
        do: use_cache
  use_fresh: {action: core.echo, input: {message: fresh data}}
  use_cache: {action: core.echo, input: {message: served from cache}}
output:
  - answer: "{{ task.use_cache.message }}"
"#;

/// The charge is declined; a transition on `failed()` handles it, so the
/// run succeeds. The failure's attached result is what `result()` shows.
const HANDLED_FAILURE: &str = r#"
tasks:
  charge:
    action: payments.charge
    input: {amount: 120}
    next:
      - when: "{{ succeeded() }}"
        do: ship
      - when: "{{ failed() }}"
        publish: [{reason: "{{ result().reason }}"}]
        do: tell_customer
  ship: {action: core.echo, input: {message: shipped}}
  tell_customer:
    action: core.echo
    input: {message: "payment declined: {{ workflow.reason }}"}
output:
  - told: "{{ task.tell_customer.message }}"
"#;

/// Nothing handles the declined charge, so the run fails fast: `audit`,
/// already running, finishes, but `archive` after it never starts.
const UNHANDLED_FAILURE: &str = r#"
tasks:
  charge:
    action: payments.charge
    input: {amount: 120}
    next:
      - when: "{{ succeeded() }}"
        do: ship
  audit:
    action: core.sleep
    input: {seconds: 0.1}
    next:
      - do: archive
  ship: {action: core.echo, input: {message: shipped}}
  archive: {action: core.noop}
"#;

/// An empty order is reported, then the workflow fails on purpose.
const FAIL_COMMAND: &str = r#"
input:
  - order: {id: 42, items: []}
tasks:
  validate:
    action: core.noop
    next:
      - when: "{{ parameters.order['items'] | length == 0 }}"
        publish: [{problem: "order {{ parameters.order.id }} has no items"}]
        do: notify
      - when: "{{ parameters.order['items'] | length > 0 }}"
        do: ship
  notify:
    action: core.echo
    input: {message: "rejected: {{ workflow.problem }}"}
    next:
      - do: fail
  ship: {action: core.noop}
"#;

/// The five workflows, by name.
pub(crate) const SCENARIOS: [(&str, &str); 5] = [
    ("retry with backoff", RETRY_WITH_BACKOFF),
    ("timeout", TIMEOUT),
    ("handled failure", HANDLED_FAILURE),
    ("unhandled failure", UNHANDLED_FAILURE),
    ("fail command", FAIL_COMMAND),
];

/// The built-in actions plus two that fail in useful ways.
pub(crate) fn executor() -> Executor {
    Executor::builder()
        // Fails on its first `fail_times` attempts: `attempt` counts from 1.
        .action("flaky.fetch", |input: ActionInput| async move {
            let fail_times = input
                .get("fail_times")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            if u64::from(input.attempt) <= fail_times {
                return Err(ActionError::new(format!(
                    "connection reset (attempt {})",
                    input.attempt
                )));
            }
            Ok(json!({ "body": format!("ok after {} attempts", input.attempt) }))
        })
        // Always declines, with a result that transitions can read.
        .action("payments.charge", |input: ActionInput| async move {
            let amount = input.get("amount").cloned().unwrap_or_default();
            Err(ActionError::with_result(
                "card declined",
                json!({ "reason": "insufficient funds", "amount": amount }),
            ))
        })
        .build()
}

/// One scenario's outcome and the retries its events reported.
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) outcome: RunOutcome,
    /// `(task, attempt about to run, delay before it)`.
    pub(crate) retries: Vec<(String, u32, Duration)>,
}

/// Runs every scenario, one after the other.
pub(crate) async fn run_all() -> Result<Vec<Scenario>, Box<dyn Error>> {
    let executor = executor();
    let mut done = Vec::new();
    for (name, text) in SCENARIOS {
        let plan = Workflow::from_yaml_str(text)?
            .with_name(name.replace(' ', "_"))
            .compile(&executor)?;
        let mut run = executor.start_with(&plan, json!({}), RunOptions::new().with_events())?;
        let events = run.events();
        let outcome = run.await?;
        // The stream ends after `RunEnded`, which comes before the outcome.
        let retries = events
            .filter_map(|e| async move {
                match e.kind {
                    EventKind::TaskRetrying {
                        task,
                        attempt,
                        delay,
                        ..
                    } => Some((task.to_string(), attempt, delay)),
                    _ => None,
                }
            })
            .collect()
            .await;
        done.push(Scenario {
            name,
            outcome,
            retries,
        });
    }
    Ok(done)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    for Scenario {
        name,
        outcome,
        retries,
    } in run_all().await?
    {
        println!(
            "== {name}: {} in {:.2} s",
            outcome.status,
            outcome.stats.duration.as_secs_f64()
        );
        for t in &outcome.tasks {
            let error = t
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            println!(
                "   task {:<14} {:<10} attempts {}{error}",
                t.name,
                t.status.as_str(),
                t.attempts
            );
        }
        for (task, attempt, delay) in &retries {
            println!(
                "   retry: {task} attempt {attempt} after {} ms",
                delay.as_millis()
            );
        }
        for e in &outcome.errors {
            println!("   error: {e}");
        }
        if outcome.output.as_object().is_some_and(|m| !m.is_empty()) {
            println!("   output: {}", outcome.output);
        }
    }
    Ok(())
}
