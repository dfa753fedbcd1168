//! The run's own state: events to subscribers, failing, canceling and
//! aborting, and skipping what can no longer start.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::Value;

use weft_core::TaskId;

use super::{InFlight, Scheduler, State, Work};
use crate::event::{Event, EventKind};
use crate::limits::{human_bytes, json_bytes};
use crate::outcome::{RunError, RunStatus};
use crate::run::msg::{AttemptKey, Done, Outcome, SlotId};

impl Scheduler {
    pub(super) fn emit(&mut self, kind: impl FnOnce() -> EventKind) {
        if !self.subscribers.is_empty() {
            let at = Instant::now();
            self.send_event(at, kind());
        }
    }

    pub(super) fn emit_at(&mut self, at: Instant, kind: impl FnOnce() -> EventKind) {
        if !self.subscribers.is_empty() {
            self.send_event(at, kind());
        }
    }

    pub(super) fn send_event(&mut self, at: Instant, mut kind: EventKind) {
        if let Some(secrets) = &self.secrets {
            match &mut kind {
                EventKind::TaskFailed { error, .. }
                | EventKind::TaskRetrying {
                    error: Some(error), ..
                } => secrets.mask(error),
                EventKind::TaskSkipped { reason, .. } => secrets.mask(reason),
                _ => {}
            }
        }
        // One reading of each clock: `at` may be from a moment ago (an
        // attempt's start, measured in its own task).
        let time = SystemTime::now()
            .checked_sub(Instant::now().saturating_duration_since(at))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let ev = Event {
            run_id: self.run_id,
            at,
            time,
            kind,
        };
        if self.subscribers.len() == 1 {
            if self.subscribers[0].send(ev).is_err() {
                self.subscribers.clear();
            }
        } else {
            self.subscribers.retain(|s| s.send(ev.clone()).is_ok());
        }
    }

    pub(super) fn fail_run(&mut self, task: Option<&str>, mut message: String) {
        if let Some(s) = &self.secrets {
            s.mask(&mut message);
        }
        self.errors.push(RunError {
            task: task.map(str::to_owned),
            message,
        });
        match &mut self.state {
            State::Running => {}
            State::Failing { .. } => return,
            State::Canceling { failed } => {
                *failed = true;
                return;
            }
        }
        self.state = State::Failing { canceled: false };
        self.status.set(RunStatus::Canceling);
        if let Some(stop) = &self.stop {
            stop.raise();
        }
        self.drop_held();
        self.drop_waits();
    }

    pub(super) fn cancel(&mut self, abort: bool) {
        match &mut self.state {
            State::Running => {
                self.state = State::Canceling { failed: false };
                self.status.set(RunStatus::Canceling);
            }
            State::Failing { canceled } => *canceled = true,
            State::Canceling { .. } => {}
        }
        self.drop_held();
        self.drop_waits();
        if let Some(children) = &self.env.children {
            children.cancel(abort);
        }
        if let Some(stop) = &self.stop {
            stop.raise();
        }
        if abort {
            // The attempts the run polls itself are dropped here, as a
            // spawned one's task is aborted (its report of the drop comes
            // as that one's does, after its slot was freed below).
            self.inline.clear();
            for slot in 0..self.slots.len() {
                if let Some(InFlight {
                    task,
                    instance,
                    item,
                }) = self.slots[slot].take()
                {
                    if let Some(task) = task {
                        task.abort();
                    }
                    let slot = SlotId(slot as u32);
                    self.forget_pending(slot);
                    self.free_slots.push(slot);
                    self.in_flight -= 1;
                    self.turn.queue.push_back(Work::Completed(Done {
                        slot: None,
                        key: AttemptKey {
                            instance,
                            item,
                            attempt: 0,
                        },
                        outcome: Outcome::Dropped,
                        started: None,
                        ended: Instant::now(),
                    }));
                }
            }
        }
    }

    /// Pauses: attempts about to start are held until [`Self::resume`].
    pub(super) fn pause(&mut self) {
        if self.state != State::Running || self.paused {
            return;
        }
        self.paused = true;
        if let Some(children) = &self.env.children {
            children.pause();
        }
        self.status.set(if self.in_flight == 0 {
            RunStatus::Paused
        } else {
            RunStatus::Pausing
        });
        self.emit(|| EventKind::RunPaused);
    }

    /// Resumes a paused run: the held attempts start, in the order they
    /// were held.
    pub(super) fn resume(&mut self) {
        if !self.paused {
            return;
        }
        self.paused = false;
        if self.state == State::Running {
            self.status.set(RunStatus::Running);
        }
        if let Some(children) = &self.env.children {
            children.resume();
        }
        self.emit(|| EventKind::RunResumed);
        for h in std::mem::take(&mut self.held) {
            self.start_attempt(h.key.instance, h.key.item, h.key.attempt, h.delay);
        }
    }

    /// The run stops: attempts held by a pause end as if canceled before
    /// their delay was over.
    fn drop_held(&mut self) {
        self.paused = false;
        for h in std::mem::take(&mut self.held) {
            self.turn.queue.push_back(Work::Completed(Done {
                slot: None,
                key: h.key,
                outcome: Outcome::Dropped,
                started: None,
                ended: Instant::now(),
            }));
        }
    }

    pub(super) fn skip(&mut self, task: TaskId) {
        let reason = match self.state {
            State::Canceling { .. } => "the run was canceled",
            _ => "the run is failing",
        };
        let name = self.env.plan.task(task).name.clone();
        self.emit(|| EventKind::TaskSkipped {
            task: name,
            instance: None,
            reason: reason.to_owned(),
        });
    }

    /// Counts a value about to be set as a workflow variable against the
    /// limits (a variable's latest value replaces the size counted for its
    /// name, whatever branch set it).
    ///
    /// # Errors
    ///
    /// The value is over [`Limits::max_value_bytes`](crate::Limits); it
    /// must not be set.
    pub(super) fn count_var(&mut self, name: &str, value: &Value) -> Result<(), String> {
        let max = self.env.limits.max_value_bytes;
        let size = json_bytes(value, max);
        if size > max {
            return Err(format!(
                "the value is over the limit of {} for one value: publish less, or raise Limits::max_value_bytes",
                human_bytes(max)
            ));
        }
        let key: Arc<str> = Arc::from(name);
        let freed = self
            .var_bytes
            .get_or_insert_with(Box::default)
            .insert(key.clone(), size);
        self.hold_bytes(size, freed);
        Ok(())
    }
}
