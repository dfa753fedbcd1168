//! The world of the durable-run tests (in memory, SQLite): actions that
//! count their executions by idempotency key, a gate that holds a task
//! until it is opened, and [`FLOW`], a workflow that stops at the gate with
//! work done before it and after it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use weft_runtime::store::{Record, Store};
use weft_runtime::{ActionError, ActionInput, Executor, ExecutorBuilder, RunId};

/// Counts executions per idempotency key; `gate` tasks wait until the gate
/// is opened.
#[derive(Default)]
pub struct World {
    /// Executions per idempotency key (`RUN/TASK/…`).
    pub calls: Mutex<HashMap<String, usize>>,
    /// Wakes the tasks waiting at the gate.
    pub gate: tokio::sync::Notify,
    /// Whether the gate is open.
    pub gate_open: AtomicBool,
    /// The `flaky` tasks that failed their first attempt already.
    pub flaky_failed: Mutex<Vec<String>>,
}

impl World {
    /// Counts one execution of `input`'s attempt.
    pub fn count(&self, input: &ActionInput) {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(input.idempotency_key())
            .or_default() += 1;
    }

    /// Executions of the task named `task`, in every run.
    pub fn calls_of(&self, task: &str) -> usize {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(k, _)| k.split('/').nth(1) == Some(task))
            .map(|(_, n)| *n)
            .sum()
    }

    /// Executions beyond the first of each attempt: attempts that ran
    /// again.
    pub fn executions_over_one(&self) -> usize {
        let calls = self.calls.lock().unwrap();
        calls.values().map(|n| n - 1).sum()
    }
}

/// An executor with the world's actions: `work` (returns its task's name
/// and its input `n`), `gate` (waits until the gate is open, then returns
/// `"opened"`) and `flaky` (fails the first attempt of each task once).
pub fn builder(world: &Arc<World>) -> ExecutorBuilder {
    let (w1, w2, w3) = (world.clone(), world.clone(), world.clone());
    Executor::builder()
        .action("work", move |input: ActionInput| {
            let w = w1.clone();
            async move {
                w.count(&input);
                Ok(json!({"task": &*input.task, "n": input.get("n").cloned().unwrap_or(Value::Null)}))
            }
        })
        .action("gate", move |input: ActionInput| {
            let w = w2.clone();
            async move {
                w.count(&input);
                while !w.gate_open.load(Ordering::SeqCst) {
                    let notified = w.gate.notified();
                    if w.gate_open.load(Ordering::SeqCst) {
                        break;
                    }
                    notified.await;
                }
                Ok(json!("opened"))
            }
        })
        .action("flaky", move |input: ActionInput| {
            let w = w3.clone();
            async move {
                w.count(&input);
                let mut failed = w.flaky_failed.lock().unwrap();
                if !failed.contains(&input.task.to_string()) {
                    failed.push(input.task.to_string());
                    return Err(ActionError::new("first time fails"));
                }
                Ok(json!("fine now"))
            }
        })
}

/// Waits until FLOW's run `id` stands at the gate with all that comes
/// before it in the store: `b` called, and the outcomes of `a` and of the
/// three items of `fan` committed. An action called is not yet an outcome
/// recorded (the last item may still be returning, or its outcome on its
/// way to the writer), so this flushes and reads the journal until it holds
/// the four. Panics after 10 s.
pub async fn reach_the_gate(world: &World, ex: &Executor, store: &dyn Store, id: RunId) {
    crate::wait_for(|| world.calls_of("b") == 1 && world.calls_of("fan") == 3).await;
    let began = std::time::Instant::now();
    loop {
        ex.flush().await.unwrap();
        let outcomes = store
            .load(id)
            .await
            .unwrap()
            .iter()
            .filter(|e| matches!(e.record, Record::Attempt(_)))
            .count();
        if outcomes == 4 {
            return;
        }
        assert!(
            began.elapsed() < std::time::Duration::from_secs(10),
            "{outcomes} outcomes in the store after 10 s, not 4 (`a` and three items)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// `a`, then three items of `fan` beside `b` (the gate), then `c`; its
/// output is `{"seen": 3, "fan": 3, "c": 3}` with the default input.
pub const FLOW: &str = "
input: [{n: 3}]
tasks:
  a:
    action: work
    input: {n: '{{ parameters.n }}'}
    next: [{publish: [{seen: '{{ result().n }}'}], do: [b, fan]}]
  fan:
    with: '{{ range(parameters.n) | list }}'
    action: work
    input: {n: '{{ item }}'}
  b: {action: gate, next: [{do: c}]}
  c: {action: work, input: {n: '{{ ctx(\"seen\") }}'}}
output:
  - seen: '{{ ctx(\"seen\") }}'
  - fan: '{{ task.fan | length }}'
  - c: '{{ task.c.n }}'
";
