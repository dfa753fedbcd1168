//! The waits a run has pending, and why an answer is not taken: read by
//! the scheduler (which holds the waits of a run going on) and from a
//! journal (for a run going on nowhere).

use serde::{Deserialize, Serialize};

use crate::id::RunId;
use crate::store::{AttemptOutcome, Command, Entry, Millis, Record};
use crate::wait::Wait;

/// A task waiting for an answer, as [`Executor::inquiries`](crate::Executor::inquiries)
/// lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PendingWait {
    /// The run.
    pub run: RunId,
    /// The waiting task.
    pub task: String,
    /// Its instance.
    pub instance: u32,
    /// Its item, for a task with `with` items.
    pub item: Option<u32>,
    /// What it waits for.
    pub wait: Wait,
    /// When it began to wait.
    pub since: Millis,
    /// When it times out, if it does.
    pub deadline_at: Option<Millis>,
}

/// Why an answer was not taken.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// No such run here or in the store.
    #[error("no run `{0}`: check the id (`weft runs`)")]
    UnknownRun(RunId),
    /// The run has no task waiting under that name or key (the message
    /// names those that wait).
    #[error("{0}")]
    NotWaiting(String),
    /// The answer does not pass the wait's schema; the task keeps waiting.
    #[error("{0}")]
    Rejected(String),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Which wait an answer is for.
pub(crate) enum Target<'a> {
    Task(&'a str),
    Key(&'a str),
}

impl Target<'_> {
    pub(crate) fn of(command: &Command) -> Option<Target<'_>> {
        match command {
            Command::Respond { task, .. } => Some(Target::Task(task)),
            Command::Signal { key, .. } => Some(Target::Key(key)),
            _ => None,
        }
    }

    pub(crate) fn matches(&self, task: &str, wait: &Wait) -> bool {
        match self {
            Target::Task(t) => *t == task,
            Target::Key(k) => *k == wait.key,
        }
    }

    /// The error for a run where nothing matches; `waiting` names what does wait.
    pub(crate) fn not_waiting<'w>(
        &self,
        run: RunId,
        waiting: impl Iterator<Item = (&'w str, &'w Wait)>,
    ) -> RespondError {
        let waiting: Vec<String> = waiting
            .map(|(t, w)| format!("`{t}` (key `{}`)", w.key))
            .collect();
        let what = match self {
            Target::Task(t) => format!("no task `{t}`"),
            Target::Key(k) => format!("no task with key `{k}`"),
        };
        let now = if waiting.is_empty() {
            "nothing waits in it".to_owned()
        } else {
            format!("waiting: {}", waiting.join(", "))
        };
        RespondError::NotWaiting(format!(
            "run {run} has {what} waiting for an answer ({now}); `weft inquiries` lists what waits"
        ))
    }
}

/// The waits a journal leaves pending: those recorded and not yet answered,
/// expired or dropped by the run's end or a cancel. Scanned, not replayed:
/// the same rule as the scheduler's (an answer goes to the oldest wait that
/// matches).
pub fn pending_waits(entries: &[Entry]) -> Vec<PendingWait> {
    let mut pending: Vec<PendingWait> = Vec::new();
    for e in entries {
        match &e.record {
            Record::Attempt(a) => {
                if let AttemptOutcome::Waiting {
                    task,
                    wait,
                    deadline_at,
                } = &a.outcome
                {
                    pending.push(PendingWait {
                        run: e.run,
                        task: task.clone(),
                        instance: a.instance,
                        item: a.item,
                        wait: (**wait).clone(),
                        since: a.ended_at,
                        deadline_at: *deadline_at,
                    });
                }
            }
            Record::Command { command, .. } => match command {
                Command::Cancel | Command::Abort => pending.clear(),
                Command::Expire { instance, item } => {
                    pending.retain(|p| !(p.instance == *instance && p.item == *item));
                }
                other => {
                    if let Some(target) = Target::of(other) {
                        if let Some(i) = pending
                            .iter()
                            .position(|p| target.matches(&p.task, &p.wait))
                        {
                            pending.remove(i);
                        }
                    }
                }
            },
            Record::Ended(_) => pending.clear(),
            Record::Started(_) => {}
        }
    }
    pending
}

/// The step a command appended to `entries` by a process that does not run
/// the run takes effect at: after everything recorded.
pub(crate) fn last_step(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::Attempt(a) => Some(a.step),
            Record::Command { step, .. } => Some(*step),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}
