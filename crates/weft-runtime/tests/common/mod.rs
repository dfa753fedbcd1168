//! Helpers shared by the runtime's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use serde_json::Value;
use weft_core::{Plan, Workflow};
use weft_runtime::{Executor, RunOutcome};

/// Compiles YAML against `executor`, panicking with the error on failure.
pub fn plan(executor: &Executor, yaml: &str) -> Plan {
    match Workflow::from_yaml_str(yaml).and_then(|w| w.compile(executor)) {
        Ok(p) => p,
        Err(e) => panic!("workflow does not compile: {e}"),
    }
}

/// Compiles YAML against `executor`'s action names only, so that no
/// action's declared input fields are checked: what a plan compiled
/// against a plain list of names meets when it runs. Panics on failure.
pub fn plan_names_only(executor: &Executor, yaml: &str) -> Plan {
    let names = executor.action_names();
    match Workflow::from_yaml_str(yaml).and_then(|w| w.compile(&names)) {
        Ok(p) => p,
        Err(e) => panic!("workflow does not compile: {e}"),
    }
}

/// Runs to the end, failing the test after 10 s instead of hanging.
pub async fn run(executor: &Executor, plan: &Plan, inputs: Value) -> RunOutcome {
    let run = executor.start(plan, inputs).expect("start");
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("run did not end within 10 s")
        .expect("run lost")
}

/// The names of task instances in creation order.
pub fn names(outcome: &RunOutcome) -> Vec<String> {
    outcome.tasks.iter().map(|t| t.name.to_string()).collect()
}

/// The result of the only instance of `task`.
pub fn result(outcome: &RunOutcome, task: &str) -> Value {
    let mut it = outcome.task(task);
    let rec = it
        .next()
        .unwrap_or_else(|| panic!("no instance of `{task}`"));
    assert!(it.next().is_none(), "more than one instance of `{task}`");
    rec.result.as_deref().cloned().unwrap_or(Value::Null)
}
