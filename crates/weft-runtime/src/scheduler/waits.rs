//! Waits: a task whose action returned a [`Wait`](crate::Wait) stays
//! `pending` until an answer (`Respond` by task, `Signal` by key) or its
//! deadline (`Expire`) ends it; see `wait/mod.rs` for the whole story.
//!
//! A wait holds no slot and is not counted in `in_flight`: the run ends
//! when nothing is in flight, nothing is held and nothing waits. Its
//! beginning is the attempt's record; its end is a command record, applied
//! at the step it was handled, so replay ends it at the same point. A
//! failing or canceled run drops its waits at once (the tasks end
//! `canceled`), as it drops attempts held by a pause.

use std::time::{Duration, Instant};

use weft_core::TaskStatus;

use super::{Scheduler, State, Waiting, Work};
use crate::attempt::shared;
use crate::run::msg::{Done, InstanceId, ItemIndex, Outcome};
use crate::store::{millis, Command};
use crate::wait::pending::{PendingWait, RespondError, Target};
use crate::wait::Wait;
use crate::RunStatus;

impl Scheduler {
    /// An attempt ended in a wait: its task waits (unless the run already
    /// stopped, when the wait ends at once).
    pub(super) fn begin_wait(&mut self, done: &Done, wait: Wait) {
        let inst = &mut self.graph.instances[done.key.instance.index()];
        if done.key.item.is_none() {
            inst.status = TaskStatus::Pending;
        }
        let deadline = wait
            .timeout_ms
            .map(|ms| done.ended + Duration::from_millis(ms.min(1 << 45)));
        self.waits.push(Waiting {
            key: done.key,
            wait: Box::new(wait),
            since: done.ended,
            deadline,
        });
        if self.state != State::Running {
            self.drop_waits();
        }
    }

    /// Takes an answer from a handle: checks it, then records and applies it.
    pub(super) fn answer(&mut self, command: Command) -> Result<(), RespondError> {
        let Some(target) = Target::of(&command) else {
            return Ok(());
        };
        let Some(i) = self.find_wait(&target) else {
            let plan = self.env.plan.clone();
            let instances = &self.graph.instances;
            return Err(target.not_waiting(
                self.run_id,
                self.waits.iter().map(|w| {
                    (
                        &*plan.task(instances[w.key.instance.index()].task).name,
                        &*w.wait,
                    )
                }),
            ));
        };
        let response = match &command {
            Command::Respond { response, .. } | Command::Signal { response, .. } => response,
            _ => return Ok(()),
        };
        self.waits[i]
            .wait
            .check(response)
            .map_err(RespondError::Rejected)?;
        self.record_command(command.clone());
        self.apply_answer(&command)
            .map_err(RespondError::NotWaiting)?;
        Ok(())
    }

    /// The oldest wait `target` names.
    fn find_wait(&self, target: &Target<'_>) -> Option<usize> {
        self.waits.iter().position(|w| {
            let task = &self
                .env
                .plan
                .task(self.graph.instances[w.key.instance.index()].task)
                .name;
            target.matches(task, &w.wait)
        })
    }

    /// Ends the wait a `Respond` or `Signal` command names: its task
    /// succeeds with the answer.
    ///
    /// # Errors
    ///
    /// Nothing waits under that name or key (a journal that does not fit).
    pub(super) fn apply_answer(&mut self, command: &Command) -> Result<(), String> {
        let (Some(target), Command::Respond { response, .. } | Command::Signal { response, .. }) =
            (Target::of(command), command)
        else {
            return Ok(());
        };
        let Some(i) = self.find_wait(&target) else {
            return Err("an answer names a task that is not waiting".to_owned());
        };
        let w = self.waits.remove(i);
        let result = w.wait.result(response.clone());
        self.end_wait(w, Outcome::Ok(shared(result)));
        Ok(())
    }

    /// Ends the wait of `instance`/`item`, if it still waits: its task
    /// times out.
    pub(super) fn apply_expire(&mut self, instance: InstanceId, item: Option<ItemIndex>) {
        let Some(i) = self
            .waits
            .iter()
            .position(|w| w.key.instance == instance && w.key.item == item)
        else {
            return;
        };
        let w = self.waits.remove(i);
        let after = Duration::from_millis(w.wait.timeout_ms.unwrap_or(0));
        self.end_wait(w, Outcome::TimedOut(after));
    }

    fn end_wait(&mut self, w: Waiting, outcome: Outcome) {
        if self.state == State::Running && !self.paused {
            self.status.set(RunStatus::Running);
        }
        self.turn.queue.push_back(Work::Completed(Done {
            slot: None,
            key: w.key,
            outcome,
            started: None,
            ended: Instant::now(),
        }));
    }

    /// The run stops: its waits end as canceled.
    pub(super) fn drop_waits(&mut self) {
        for w in std::mem::take(&mut self.waits) {
            self.end_wait(w, Outcome::Dropped);
        }
    }

    /// The earliest deadline of a wait, if any has one.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.waits.iter().filter_map(|w| w.deadline).min()
    }

    /// Records and applies the expiry of every wait whose deadline passed.
    pub(super) fn expire_due(&mut self) {
        let now = Instant::now();
        let due: Vec<(InstanceId, Option<ItemIndex>)> = self
            .waits
            .iter()
            .filter(|w| w.deadline.is_some_and(|d| d <= now))
            .map(|w| (w.key.instance, w.key.item))
            .collect();
        for (instance, item) in due {
            let command = Command::Expire {
                instance: instance.0,
                item: item.map(|i| i.0),
            };
            self.record_command(command);
            self.apply_expire(instance, item);
        }
    }

    /// The run's waits, as listings show them.
    pub(super) fn pending_waits(&self) -> Vec<PendingWait> {
        let to_ms =
            |at: Instant| millis(self.started_sys + at.saturating_duration_since(self.started));
        self.waits
            .iter()
            .map(|w| PendingWait {
                run: self.run_id,
                task: self
                    .env
                    .plan
                    .task(self.graph.instances[w.key.instance.index()].task)
                    .name
                    .to_string(),
                instance: w.key.instance.0,
                item: w.key.item.map(|i| i.0),
                wait: (*w.wait).clone(),
                since: to_ms(w.since),
                deadline_at: w.deadline.map(to_ms),
            })
            .collect()
    }
}
