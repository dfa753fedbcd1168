//! The sub-workflow runs a run's attempts started, for the run's commands
//! to reach them: canceling, aborting, pausing or resuming a parent does
//! the same to every child it has running, and to those about to start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::id::RunId;
use crate::run::RunHandle;

/// The command a run last passed to its children.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum ChildCommand {
    /// None, or a resume: children run.
    Run = 0,
    Pause = 1,
    Cancel = 2,
    Abort = 3,
}

impl ChildCommand {
    fn from_u8(v: u8) -> ChildCommand {
        match v {
            1 => ChildCommand::Pause,
            2 => ChildCommand::Cancel,
            3 => ChildCommand::Abort,
            _ => ChildCommand::Run,
        }
    }

    /// Passes this command to `child`.
    pub(crate) fn apply(self, child: &RunHandle) {
        match self {
            ChildCommand::Pause => child.pause(),
            ChildCommand::Cancel => child.cancel(),
            ChildCommand::Abort => child.abort(),
            ChildCommand::Run => child.resume(),
        }
    }
}

/// What a run tells the children its attempts start: the command it last
/// received, and the children running now.
#[derive(Default)]
pub(crate) struct Children {
    state: AtomicU8,
    running: Mutex<HashMap<RunId, RunHandle>>,
}

impl Children {
    /// Passes a command to every running child, and to those about to
    /// start.
    fn command(&self, command: ChildCommand) {
        // The state first, then the list: a child that registers after the
        // list was read reads the state after registering (see
        // `SubWorkflow::call`).
        self.state.store(command as u8, Ordering::SeqCst);
        let running: Vec<RunHandle> = match self.running.lock() {
            Ok(m) => m.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        for child in running {
            command.apply(&child);
        }
    }

    pub(crate) fn pause(&self) {
        self.command(ChildCommand::Pause);
    }

    pub(crate) fn resume(&self) {
        self.command(ChildCommand::Run);
    }

    pub(crate) fn cancel(&self, abort: bool) {
        self.command(if abort {
            ChildCommand::Abort
        } else {
            ChildCommand::Cancel
        });
    }

    /// The command the run last passed on.
    pub(crate) fn last_command(&self) -> ChildCommand {
        ChildCommand::from_u8(self.state.load(Ordering::SeqCst))
    }

    pub(crate) fn register(&self, child: &RunHandle) {
        let mut m = self.running.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(child.id(), child.clone());
    }

    pub(crate) fn unregister(&self, id: RunId) {
        let mut m = self.running.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(&id);
    }
}
