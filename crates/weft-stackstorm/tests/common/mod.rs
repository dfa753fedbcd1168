//! Helpers shared by the pack tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use weft_core::{Plan, Workflow};
use weft_runtime::{Executor, RunOutcome};
use weft_stackstorm::{PackExt, Packs};

/// The test pack of this crate.
pub fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/packs/demo")
}

/// StackStorm's own `core` and `examples` packs (see tests/st2/README.md).
pub fn st2(pack: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/st2")
        .join(pack)
}

/// An executor with the demo pack.
pub fn executor() -> Executor {
    match Executor::builder().pack(demo()) {
        Ok(b) => b.build(),
        Err(e) => panic!("the demo pack does not load: {e}"),
    }
}

/// An executor with the demo pack, Python actions run by `python`.
pub fn executor_with(packs: Packs) -> Executor {
    Executor::builder().packs(&packs).build()
}

/// Compiles YAML against `executor`, panicking with the error.
pub fn plan(executor: &Executor, yaml: &str) -> Plan {
    match Workflow::from_yaml_str(yaml).and_then(|w| w.compile(executor)) {
        Ok(p) => p,
        Err(e) => panic!("workflow does not compile: {e}"),
    }
}

/// The compile error of YAML against `executor`.
pub fn compile_error(executor: &Executor, yaml: &str) -> weft_core::Error {
    match Workflow::from_yaml_str(yaml).and_then(|w| w.compile(executor)) {
        Ok(_) => panic!("the workflow compiled:\n{yaml}"),
        Err(e) => e,
    }
}

/// Runs to the end, failing the test after 30 s instead of hanging.
pub async fn run(executor: &Executor, plan: &Plan, inputs: Value) -> RunOutcome {
    let run = executor.start(plan, inputs).expect("start");
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("run did not end within 30 s")
        .expect("run lost")
}

/// Runs one task `t` calling `action` with `input` (YAML flow text).
pub async fn call(executor: &Executor, action: &str, input: &str) -> RunOutcome {
    let yaml = format!("tasks:\n  t:\n    action: {action}\n    input: {input}\n");
    let plan = plan(executor, &yaml);
    run(executor, &plan, serde_json::json!({})).await
}

/// The result of task `t` (the attached one if it failed).
pub fn result(outcome: &RunOutcome) -> Value {
    outcome.tasks[0]
        .result
        .as_deref()
        .cloned()
        .unwrap_or(Value::Null)
}

/// The error of task `t`.
pub fn error(outcome: &RunOutcome) -> String {
    outcome.tasks[0].error.clone().unwrap_or_default()
}
