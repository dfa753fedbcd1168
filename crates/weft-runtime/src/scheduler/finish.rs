//! The end of a run: joins left waiting are reported, the output is
//! evaluated in order, and the outcome with every task record is made.

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::{Map, Value};
use weft_core::{TaskStatus, WorkflowContext};

use super::{Scheduler, State};
use crate::event::EventKind;
use crate::outcome::{RunError, RunOutcome, RunStats, RunStatus, TaskRecord};

impl Scheduler {
    pub(super) fn finish(&mut self) -> RunOutcome {
        if self.state == State::Running {
            let plan = self.plan.clone();
            for js in &self.joins {
                if js.fired || js.arrived_count == 0 {
                    continue;
                }
                let inbound = &plan.task(js.task).inbound;
                let missing: Vec<String> = (0..inbound.len())
                    .filter(|&i| !js.arrived.get(i))
                    .map(|i| format!("`{}`", plan.task(inbound[i]).name))
                    .collect();
                self.errors.push(RunError {
                    task: Some(plan.task(js.task).name.to_string()),
                    message: format!(
                        "join can never be satisfied: it needs {} of {} branches, and {} never arrived",
                        js.need,
                        inbound.len(),
                        missing.join(", ")
                    ),
                });
                self.failed = true;
            }
        }
        let mut status = if self.failed {
            RunStatus::Failed
        } else if self.canceled {
            RunStatus::Canceled
        } else {
            RunStatus::Succeeded
        };
        let mut output = Map::new();
        // Orquesta's rolling context: each entry is rendered with the ones
        // before it in `ctx()` (an entry may shadow a variable of the run).
        let plan = self.plan.clone();
        for (name, value) in plan.output() {
            match value.render(&self.ctx) {
                Ok(v) => {
                    self.ctx.set_var(name.as_str(), v.clone());
                    output.insert(name.clone(), v);
                }
                Err(e) if status == RunStatus::Succeeded => {
                    self.errors.push(RunError {
                        task: None,
                        message: format!("output.{name}: {}", e.message()),
                    });
                    status = RunStatus::Failed;
                }
                Err(_) => {}
            }
        }
        self.emit(|| EventKind::RunEnded { status });
        // The working state is done with: free it before the records are
        // made, so a run of a million tasks does not hold both at its end.
        // (A small run skips the context: a fresh one costs more than it
        // frees.)
        if self.instances.len() >= 4096 {
            self.ctx = WorkflowContext::new(Value::Null, []);
        }
        self.joins = Vec::new();
        self.join_slot = Vec::new();
        self.slots = Vec::new();
        self.actions = Vec::new();
        self.queue = VecDeque::new();
        let to_sys = |at: Instant| self.started_sys + at.saturating_duration_since(self.started);
        let plan = &self.plan;
        let tasks_run = self.instances.len();
        let tasks = std::mem::take(&mut self.instances)
            .into_iter()
            .enumerate()
            .map(|(i, inst)| {
                let status = if inst.status.is_terminal() {
                    inst.status
                } else {
                    TaskStatus::Canceled
                };
                TaskRecord {
                    name: plan.task(inst.task).name.clone(),
                    instance: i as u32,
                    status,
                    attempts: inst.attempts,
                    items: inst.items.as_ref().map(|it| it.total),
                    result: inst.result,
                    error: inst.error,
                    started_at: inst.started.map(to_sys),
                    ended_at: inst.ended.map(to_sys),
                }
            })
            .collect();
        RunOutcome {
            run_id: self.run_id,
            workflow: self.plan.name().clone(),
            status,
            output: Value::Object(output),
            tasks,
            errors: std::mem::take(&mut self.errors),
            stats: RunStats {
                tasks_run,
                actions_run: self.actions_run,
                duration: self.started.elapsed(),
            },
        }
    }
}
