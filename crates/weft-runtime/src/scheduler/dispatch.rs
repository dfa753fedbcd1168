//! Dispatch: a task instance is created, its timeout evaluated, and its
//! first attempt (or its items) started; an attempt's input is rendered at
//! this moment and its action spawned in a tokio task of its own.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tracing::Instrument;
use weft_core::{TaskId, TaskStatus, ValueTemplate};

use super::{Done, Held, Instance, Outcome, Scheduler, State, Work, NO_ITEM};
use crate::action::{ActionError, ActionInput};
use crate::attempt::{panic_message, run_attempt, run_plain_attempt, AttemptSpec, Report};
use crate::event::EventKind;
use crate::id::RunId;

impl Scheduler {
    pub(super) fn dispatch(&mut self, t: TaskId, route: u32, level: u32) {
        if self.state != State::Running {
            self.skip(t);
            return;
        }
        let plan = self.plan.clone();
        let task = plan.task(t);
        if self.instances.len() >= self.max_instances {
            self.fail_run(
                Some(&task.name),
                format!(
                    "would start task instance number {} but the limit is {}: a loop that never ends? \
                     Raise it with ExecutorBuilder::max_task_instances",
                    self.instances.len() + 1,
                    self.max_instances
                ),
            );
            // Every satisfied transition shows in the events as scheduled or
            // skipped; this one is skipped, and the run is now failing.
            let reason = format!(
                "the task instance limit ({}) was reached",
                self.max_instances
            );
            self.emit(|| EventKind::TaskSkipped {
                task: task.name.clone(),
                instance: None,
                reason,
            });
            return;
        }
        let id = self.instances.len() as u32;
        self.instances.push(Instance {
            task: t,
            route,
            level,
            status: TaskStatus::Pending,
            attempts: 0,
            started: None,
            ended: None,
            result: None,
            error: None,
            items: None,
            timeout: None,
            child_runs: Vec::new(),
        });
        let path = &self.routes[route as usize].path;
        if !self.subscribers.is_empty() {
            let route = path.clone();
            self.emit(|| EventKind::TaskScheduled {
                task: task.name.clone(),
                instance: id,
                route,
            });
        }

        match task.timeout.as_ref().map(|n| n.eval(&self.ctx)) {
            Some(Ok(s)) if s > 0.0 && s.is_finite() => {
                self.instances[id as usize].timeout = Some(Duration::from_secs_f64(s.min(1e9)));
            }
            Some(Ok(s)) => {
                return self
                    .fail_instance(id, format!("timeout: must be more than 0 seconds, not {s}"))
            }
            Some(Err(e)) => return self.fail_instance(id, format!("timeout: {}", e.message())),
            None => {}
        }

        let Some(with) = &task.with else {
            self.start_attempt(id, NO_ITEM, 1, None);
            return;
        };
        self.start_items(id, with);
    }

    pub(super) fn fail_instance(&mut self, id: u32, message: String) {
        let inst = &mut self.instances[id as usize];
        inst.status = TaskStatus::Failed;
        inst.result = Some(Arc::new(serde_json::json!({ "error": message })));
        inst.error = Some(message);
        inst.ended = Some(Instant::now());
        self.queue.push_back(Work::Finish(id));
    }

    /// Renders the input and spawns one attempt; a render error completes
    /// the attempt at once as a failure.
    pub(super) fn start_attempt(
        &mut self,
        id: u32,
        item: u32,
        attempt: u32,
        retry_delay: Option<Duration>,
    ) {
        if self.paused {
            self.held.push(Held {
                instance: id,
                item,
                attempt,
                delay: retry_delay,
            });
            return;
        }
        let plan = self.plan.clone();
        let inst = &self.instances[id as usize];
        let task = plan.task(inst.task);
        let timeout = inst.timeout;
        let mut ctx = self.ctx.clone();
        if item != NO_ITEM {
            if let Some(items) = &inst.items {
                ctx.set_current_item(items.list[item as usize].clone(), item as usize);
            }
        }
        let immediate = |outcome| {
            Box::new(Done {
                slot: u32::MAX,
                instance: id,
                item,
                attempt,
                outcome,
                started: None,
                ended: Instant::now(),
            })
        };
        let Some(action) = self.actions[task.id as usize].clone() else {
            // A task without an action routes only: it succeeds with null.
            self.queue
                .push_back(Work::Completed(immediate(Outcome::Ok(Value::Null))));
            return;
        };
        let input = match &task.input {
            // Cloning an empty map still costs; most tasks without `input` land here.
            ValueTemplate::Static(Value::Object(m)) if m.is_empty() => {
                Ok(Value::Object(Map::new()))
            }
            other => other.render(&ctx),
        };
        let input = match input {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("input: {}", e.message());
                self.queue
                    .push_back(Work::Completed(immediate(Outcome::Err(ActionError::new(
                        msg,
                    )))));
                return;
            }
        };
        let delay = match retry_delay {
            Some(d) => Some(d),
            None if attempt == 1 => match task.delay.as_ref().map(|d| d.eval(&ctx)) {
                None => None,
                Some(Ok(s)) if s >= 0.0 && s.is_finite() => {
                    Some(Duration::from_secs_f64(s.min(1e9)))
                }
                Some(Ok(s)) => {
                    let msg = format!("delay: must be 0 or more seconds, not {s}");
                    self.queue.push_back(Work::Completed(immediate(Outcome::Err(
                        ActionError::new(msg),
                    ))));
                    return;
                }
                Some(Err(e)) => {
                    let msg = format!("delay: {}", e.message());
                    self.queue.push_back(Work::Completed(immediate(Outcome::Err(
                        ActionError::new(msg),
                    ))));
                    return;
                }
            },
            None => None,
        }
        .filter(|d| !d.is_zero());

        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let workflow = self
            .workflow_tasks
            .get(task.id as usize)
            .is_some_and(|&w| w);
        let inst = &mut self.instances[id as usize];
        inst.status = TaskStatus::Running;
        inst.attempts = inst.attempts.max(attempt);
        if workflow {
            let index = (item != NO_ITEM).then_some(item as usize);
            inst.child_runs
                .push(RunId::child(self.run_id, id, index, attempt));
        }
        self.in_flight += 1;
        self.actions_run += 1;
        self.budget = self.budget.saturating_sub(1);
        let input = ActionInput {
            input,
            context: ctx,
            task: task.name.clone(),
            instance: id,
            index: (item != NO_ITEM).then_some(item as usize),
            attempt,
            run_id: self.run_id,
        };
        let notify = !self.subscribers.is_empty();
        let limit = self.limit.clone();
        let stop = (delay.is_some() || limit.is_some())
            .then(|| self.stop.get_or_insert_with(Default::default).clone());
        let span = tracing::info_span!(
            "task",
            task = %task.name,
            index = tracing::field::Empty,
            attempt,
            outcome = tracing::field::Empty
        );
        if item != NO_ITEM {
            span.record("index", item);
        }
        // Most attempts have no delay, timeout or global cap. For those the
        // action's future is made here (`call` only builds it) and the
        // spawned task holds just that future and a few ids: a small task is
        // cheaper to spawn.
        let handle = if delay.is_none() && timeout.is_none() && limit.is_none() {
            let traced = !span.is_disabled();
            match std::panic::catch_unwind(AssertUnwindSafe(|| action.call(input))) {
                Ok(fut) => {
                    let report = Report::new(slot, id, item, attempt, self.tx.clone());
                    let attempt = run_plain_attempt(fut, report, notify, traced);
                    // Without a subscriber that wants the span, the task goes
                    // without it: a smaller future, and no enter/exit per poll.
                    if traced {
                        tokio::spawn(attempt.instrument(span))
                    } else {
                        tokio::spawn(attempt)
                    }
                }
                Err(panic) => {
                    // `call` itself panicked: report it like a panicking future.
                    let msg = panic_message(&*panic);
                    self.in_flight -= 1;
                    self.slots[slot as usize] = None;
                    self.free_slots.push(slot);
                    self.queue
                        .push_back(Work::Completed(immediate(Outcome::Panicked(msg))));
                    return;
                }
            }
        } else {
            let spec = AttemptSpec {
                report: Report::new(slot, id, item, attempt, self.tx.clone()),
                delay,
                timeout,
                limit,
                stop,
                notify,
            };
            tokio::spawn(run_attempt(action, input, spec).instrument(span))
        };
        self.slots[slot as usize] = Some((handle, id, item));
    }
}
