//! Completion and retry: an attempt's outcome is recorded; a retry is
//! decided (and its attempt spawned, its delay running in the attempt's own
//! task); the last attempt of an instance, or of one item, finishes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_core::{CurrentTask, TaskId, TaskStatus};

use super::stamp::Stamp;
use super::{null_result, retries_over_limit, Scheduler, State, Work};
use crate::attempt::shared;
use crate::event::EventKind;
use crate::limits::{human_bytes, json_bytes};
use crate::run::msg::{AttemptKey, Done, InstanceId, ItemIndex, Outcome};
use crate::telemetry::AttemptOutcome;

impl Scheduler {
    pub(super) fn completed(&mut self, done: Done) {
        if let Some(slot) = done.slot {
            if self.slots[slot.index()].take().is_none() {
                // Aborted already; its cancellation was recorded then.
                return;
            }
            self.free_slots.push(slot);
            self.in_flight -= 1;
            // An outcome from an attempt's own task: the journal records it
            // at the step it is handled.
            if self.journal.is_some() {
                self.record_attempt(&done);
            }
        }
        let id = done.key.instance;
        // The plan is borrowed afresh where it is read, not cloned: a
        // reference count up and down on every completion costs more.
        let t = self.graph.instances[id.index()].task;
        if done.slot.is_some() && self.metrics.is_some() {
            self.count_attempt(&done, t);
        }
        if let Some(at) = done.started {
            let at = self.stamp(at);
            let inst = &mut self.graph.instances[id.index()];
            if inst.started.is_none() {
                inst.started = Some(at);
            }
        }
        if let Outcome::Err(e) = &done.outcome {
            if let Some(wait) = e.wait() {
                // Not an end: the task waits for an answer (waits.rs).
                let wait = wait.clone();
                return self.begin_wait(&done, wait);
            }
        }
        let (status, result, error) = match done.outcome {
            Outcome::Ok(v) => (TaskStatus::Succeeded, v, None),
            other => self.unsuccessful(other),
        };

        if status != TaskStatus::Canceled && self.env.plan.flags(t).retry() {
            return self.retry_or_final(done.key, done.ended, status, result, error);
        }
        self.attempt_final(id, done.key.item, status, result, error, done.ended);
    }

    /// The attempt's metrics (a recorder is installed): out of line, as
    /// the plain completion's path runs without them.
    #[cold]
    #[inline(never)]
    fn count_attempt(&mut self, done: &Done, t: TaskId) {
        let id = done.key.instance;
        if let Some(m) = self.metrics.as_deref_mut() {
            let task = self.env.plan.task(t);
            let outcome = match &done.outcome {
                Outcome::Ok(_) => Some(AttemptOutcome::Succeeded),
                Outcome::Err(e) if e.is_canceled() || e.wait().is_some() => None,
                Outcome::Err(_) => Some(AttemptOutcome::Failed),
                Outcome::TimedOut(_) => Some(AttemptOutcome::TimedOut),
                Outcome::Panicked(_) => Some(AttemptOutcome::Panicked),
                Outcome::Dropped => None,
            };
            if let (Some(outcome), Some(name), Some(&Some(action))) =
                (outcome, &task.action, self.action_of.get(task.id as usize))
            {
                let took = done
                    .started
                    .map(|s| done.ended.saturating_duration_since(s));
                m.attempt(action as usize, name, outcome, took);
            }
            // The task's start: its first attempt (its first item's).
            if done.key.attempt == 1 && done.key.item.is_none_or(|i| i.0 == 0) {
                if let (Some(cause), Some(started)) = (
                    self.graph.causes.get(id.index()).copied().flatten(),
                    done.started,
                ) {
                    m.dispatched(Stamp::new(self.started, started).saturating_since(cause));
                }
            }
        }
    }

    /// What an attempt that did not succeed ended with: its status, its
    /// result and its error. Out of line: a plain completion succeeds.
    #[cold]
    #[inline(never)]
    fn unsuccessful(&mut self, outcome: Outcome) -> (TaskStatus, Arc<Value>, Option<String>) {
        match outcome {
            Outcome::Ok(v) => (TaskStatus::Succeeded, v, None),
            Outcome::Err(e) if e.is_canceled() => {
                // A sub-workflow canceled on its own cancels its parent,
                // as in Orquesta, where cancel cascades up to the root.
                if self.state == State::Running {
                    self.cancel(false);
                }
                let (msg, result) = e.into_parts();
                (
                    TaskStatus::Canceled,
                    shared(result.unwrap_or(Value::Null)),
                    Some(msg),
                )
            }
            Outcome::Err(e) => {
                let (msg, result) = e.into_parts();
                let result = result.unwrap_or_else(|| serde_json::json!({ "error": msg }));
                (TaskStatus::Failed, Arc::new(result), Some(msg))
            }
            Outcome::TimedOut(d) => {
                let msg = format!("timed out after {}s", d.as_secs_f64());
                (
                    TaskStatus::TimedOut,
                    Arc::new(serde_json::json!({ "error": msg })),
                    Some(msg),
                )
            }
            Outcome::Panicked(p) => {
                let msg = format!("action panicked: {p}");
                (
                    TaskStatus::Failed,
                    Arc::new(serde_json::json!({ "error": msg })),
                    Some(msg),
                )
            }
            Outcome::Dropped => {
                let msg =
                    "stopped before it finished: the run was canceled or is failing".to_owned();
                (TaskStatus::Canceled, null_result(), Some(msg))
            }
        }
    }

    /// A task with a `retry`: retried when it says so, else finished.
    #[cold]
    #[inline(never)]
    fn retry_or_final(
        &mut self,
        key: AttemptKey,
        ended: Instant,
        status: TaskStatus,
        result: Arc<Value>,
        error: Option<String>,
    ) {
        let id = key.instance;
        let task = self.env.plan.task(self.graph.instances[id.index()].task);
        if let Some(retry) = &task.retry {
            if self.state == State::Running {
                match self.retry_delay(id, retry, key.attempt, status, &result, key.item) {
                    Ok(Some(delay)) => {
                        let name = task.name.clone();
                        let (instance, item, attempt) = key.parts();
                        self.emit(|| EventKind::TaskRetrying {
                            task: name,
                            instance,
                            item,
                            attempt: attempt + 1,
                            delay,
                            error: error.clone(),
                        });
                        self.start_attempt(id, key.item, attempt + 1, Some(delay));
                        return;
                    }
                    Ok(None) => {}
                    Err(msg) => {
                        return self.attempt_final(
                            id,
                            key.item,
                            TaskStatus::Failed,
                            Arc::new(serde_json::json!({ "error": msg })),
                            Some(msg),
                            ended,
                        );
                    }
                }
            }
        }
        self.attempt_final(id, key.item, status, result, error, ended);
    }

    /// `Some(delay)` when the attempt should be retried.
    pub(super) fn retry_delay(
        &self,
        id: InstanceId,
        retry: &weft_core::engine::Retry,
        attempt: u32,
        status: TaskStatus,
        result: &Arc<Value>,
        item: Option<ItemIndex>,
    ) -> Result<Option<Duration>, String> {
        let base_ctx = self.ctx_of(id);
        let count = retry
            .count
            .eval(&base_ctx)
            .map_err(|e| self.env.plan.describe_error(&e, "retry.count"))?;
        if count > f64::from(self.env.limits.max_retries) {
            return Err(format!(
                "retry.count: {}",
                retries_over_limit(count, self.env.limits.max_retries)
            ));
        }
        if f64::from(attempt) > count {
            return Ok(None);
        }
        let inst = &self.graph.instances[id.index()];
        let mut ctx = base_ctx.with_current_task(CurrentTask {
            name: self.env.plan.task(inst.task).name.clone(),
            status,
            result: result.clone(),
        });
        if let Some((item, v)) = item.and_then(|item| {
            let items = inst.items()?;
            Some((item, items.list.get(item.index())?))
        }) {
            ctx.set_current_item(v.clone(), item.index());
        }
        let again = retry
            .when
            .eval_bool(&ctx)
            .map_err(|e| self.env.plan.describe_error(&e, "retry.when"))?;
        if !again {
            return Ok(None);
        }
        let base = match &retry.delay {
            Some(d) => d
                .eval(&ctx)
                .map_err(|e| self.env.plan.describe_error(&e, "retry.delay"))?,
            None => 0.0,
        };
        let max = match &retry.max_delay {
            Some(d) => Some(
                d.eval(&ctx)
                    .map_err(|e| self.env.plan.describe_error(&e, "retry.max_delay"))?,
            ),
            None => None,
        };
        let secs = retry.delay_for(attempt, base, max);
        Ok(Some(Duration::from_secs_f64(secs.min(1e9))))
    }

    /// Records the last attempt of an instance or of one item.
    pub(super) fn attempt_final(
        &mut self,
        id: InstanceId,
        item: Option<ItemIndex>,
        status: TaskStatus,
        result: Arc<Value>,
        error: Option<String>,
        ended: Instant,
    ) {
        let (status, result, error) = self.hold(status, result, error);
        let Some(item) = item else {
            let inst = &mut self.graph.instances[id.index()];
            inst.status = status;
            inst.result = Some(result);
            inst.set_error(error);
            inst.ended = Some(Stamp::new(self.started, ended));
            self.queue_finish(id);
            return;
        };
        let task_name = self
            .env
            .plan
            .task(self.graph.instances[id.index()].task)
            .name
            .clone();
        let Some(items) = self.graph.instances[id.index()].items_mut() else {
            return;
        };
        items.running -= 1;
        items.results[item.index()] = result;
        items.last_end = Some(items.last_end.map_or(ended, |e| e.max(ended)));
        if status != TaskStatus::Succeeded && items.failure.is_none() {
            let msg = error.unwrap_or_else(|| status.to_string());
            items.failure = Some((status, format!("item {}: {msg}", item.0)));
        }
        self.emit(|| EventKind::ItemDone {
            task: task_name,
            instance: id.0,
            index: item.index(),
            succeeded: status == TaskStatus::Succeeded,
        });
        self.fill_items(id);
    }

    /// Queues the finish of instance `id`; or, in a live run, does it at
    /// once (the step it would have been) when it would be the next work
    /// of this turn anyway: nothing else is queued and the turn's budget is
    /// not spent. A replay always queues it: there the queue does not hold
    /// the completions still to come (their records do), so an empty queue
    /// does not mean the finish would have been next.
    fn queue_finish(&mut self, id: InstanceId) {
        if self.turn.queue.is_empty() && self.turn.budget > 0 && !self.replaying() {
            self.turn.budget -= 1;
            self.step += 1;
            self.finish_instance(id);
            // What it queued is next: one dispatch alone (a chain's next
            // task) is done now too.
            if self.turn.budget > 0 && self.turn.queue.len() == 1 {
                if let Some(&Work::Dispatch { task, route, level }) = self.turn.queue.front() {
                    self.turn.queue.pop_front();
                    self.turn.budget -= 1;
                    self.step += 1;
                    self.process_dispatch(task, route, level);
                }
            }
            return;
        }
        self.turn.queue.push_back(Work::Finish(id));
    }

    /// Counts a result the run is about to keep against the limits: one
    /// over [`Limits::max_value_bytes`](crate::Limits) fails its attempt
    /// instead (and is not kept); the run's total over
    /// [`Limits::max_run_bytes`](crate::Limits) fails the run.
    pub(super) fn hold(
        &mut self,
        status: TaskStatus,
        result: Arc<Value>,
        error: Option<String>,
    ) -> (TaskStatus, Arc<Value>, Option<String>) {
        let max = self.env.limits.max_value_bytes;
        let size = json_bytes(&result, max);
        if size > max {
            let msg = format!(
                "the result is over the limit of {} for one value: return less (or a reference to where the data is), or raise Limits::max_value_bytes",
                human_bytes(max)
            );
            let failed = serde_json::json!({ "error": msg });
            self.held_bytes += json_bytes(&failed, usize::MAX);
            return (TaskStatus::Failed, Arc::new(failed), Some(msg));
        }
        self.hold_bytes(size, None);
        (status, result, error)
    }

    /// Adds `size` bytes to what the run holds (less `freed`), and fails
    /// the run when the total is over the limit.
    #[inline]
    pub(super) fn hold_bytes(&mut self, size: usize, freed: Option<usize>) {
        let before = self.held_bytes;
        self.held_bytes = (before + size).saturating_sub(freed.unwrap_or(0));
        let max = self.env.limits.max_run_bytes;
        // Reported once, when the total first goes over.
        if self.held_bytes > max && before <= max {
            self.run_bytes_over(max);
        }
    }

    #[cold]
    fn run_bytes_over(&mut self, max: usize) {
        self.fail_run(
            None,
            format!(
                "the run holds more than {} of results and variables: keep less in the context, or raise Limits::max_run_bytes",
                human_bytes(max)
            ),
        );
    }
}
