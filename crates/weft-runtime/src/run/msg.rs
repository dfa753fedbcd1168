//! The messages a run's scheduler wakes on, and the names they carry.
//!
//! This is the bottom of the runtime's layers: attempts (`attempt.rs`),
//! handles (`run/mod.rs`), the journal writer (`journal.rs`) and the
//! executor's watchers (`worker.rs`) send these; only the scheduler reads
//! them. Nothing here knows the scheduler or the executor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

use crate::action_error::ActionError;
use crate::event::Event;
use crate::store::Command;
use crate::wait::pending::{PendingWait, RespondError};

/// A task instance of a run: its index in the order instances were made.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct InstanceId(pub(crate) u32);

impl InstanceId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// One item of a `with` task instance.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct ItemIndex(pub(crate) u32);

impl ItemIndex {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a spawned attempt is kept while it is in flight (the scheduler's
/// table of attempts).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct SlotId(pub(crate) u32);

impl SlotId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which attempt a message is about: the instance, its item (`None` for
/// a task without `with`), and the attempt's number (1 for the first).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct AttemptKey {
    pub(crate) instance: InstanceId,
    pub(crate) item: Option<ItemIndex>,
    pub(crate) attempt: u32,
}

/// What wakes a run's scheduler.
pub(crate) enum Msg {
    /// An attempt began (sent only while someone listens to events).
    Started {
        key: AttemptKey,
        at: Instant,
    },
    /// By value: a box would cost an allocation per attempt. A `Done`
    /// (80 bytes) is the biggest variant, so the message is 88 bytes.
    Done(Done),
    Control(Control),
}

/// An attempt (or one item's attempt) ended.
pub(crate) struct Done {
    /// Its place in the table of attempts in flight; `None` for an end
    /// the scheduler made itself (a replayed record, a dropped delay, an
    /// answer), which holds no place.
    pub(crate) slot: Option<SlotId>,
    pub(crate) key: AttemptKey,
    pub(crate) outcome: Outcome,
    pub(crate) started: Option<Instant>,
    /// When the attempt ended, taken in the attempt's task.
    pub(crate) ended: Instant,
}

/// How an attempt ended.
pub(crate) enum Outcome {
    Ok(Arc<Value>),
    Err(ActionError),
    TimedOut(Duration),
    Panicked(String),
    /// The run stopped before the attempt's delay was over.
    Dropped,
}

/// An answer for a waiting task, and where to say whether it was taken.
pub(crate) type Answer = (Command, Option<oneshot::Sender<Result<(), RespondError>>>);

/// A message from a handle (or the executor) to its run's scheduler.
pub(crate) enum Control {
    Cancel,
    Abort,
    Pause,
    Resume,
    /// Run an ended run again from these tasks (see `Executor::rerun`).
    Rerun(Vec<String>),
    /// The journal writer could not commit this run's records.
    JournalFailed(String),
    /// The shared store gave the run to another process (its lease was
    /// lost or taken over): it stops here, recording nothing more.
    LeaseLost(String),
    /// An answer for a waiting task (a `Respond` or `Signal` command), and
    /// where to say whether it was taken. Boxed: rare, and by value it
    /// would make every message (one per attempt) 120 bytes instead of 88.
    Answer(Box<Answer>),
    /// The run's pending waits, now.
    Waits(oneshot::Sender<Vec<PendingWait>>),
    Subscribe(flume::Sender<Event>),
}

impl AttemptKey {
    /// The key as events and action inputs name it: instance, item, attempt.
    pub(crate) fn parts(self) -> (u32, Option<usize>, u32) {
        (
            self.instance.0,
            self.item.map(ItemIndex::index),
            self.attempt,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One message per attempt goes through the channel, and a `Work`
    /// holds a `Done` by value: their size is copied on every hop.
    #[test]
    fn messages_stay_small() {
        assert!(
            std::mem::size_of::<Msg>() <= 88,
            "{}",
            std::mem::size_of::<Msg>()
        );
        assert!(
            std::mem::size_of::<Done>() <= 80,
            "{}",
            std::mem::size_of::<Done>()
        );
    }
}
