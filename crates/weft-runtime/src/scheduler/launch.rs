//! Launching an attempt: everything about it is decided at dispatch
//! (`start_attempt`), and a [`Launch`] holds it until it is spawned.
//!
//! Most attempts (no delay, timeout or global cap, nothing held) need no
//! `Launch`: `start_attempt` spawns them itself. The others are spawned at
//! once through one, or held in it. A run with `sync` durability holds
//! the launches of a turn until the journal has committed the records of
//! that turn (no task starts before what caused it is on disk); a run
//! being replayed holds them until the journal says how they ended, and
//! spawns only those it does not say (they were in flight at the crash).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::action::{Action, ActionInput};
use crate::attempt::{run_attempt, AttemptSpec, PlainAttempt, Report, StopSignal};
use crate::run::msg::{AttemptKey, Msg, SlotId};

/// An attempt ready to run.
pub(crate) struct Launch {
    pub(super) slot: SlotId,
    pub(super) key: AttemptKey,
    pub(super) action: Arc<dyn Action>,
    pub(super) input: ActionInput,
    pub(super) delay: Option<Duration>,
    pub(super) timeout: Option<Duration>,
    pub(super) limit: Option<Arc<Semaphore>>,
    pub(super) stop: Option<Arc<StopSignal>>,
    pub(super) notify: bool,
    pub(super) span: tracing::Span,
}

impl Launch {
    /// Spawns the attempt, which reports its outcome on `tx`. `None` when
    /// no task was needed: the action's `call` panicked, and that outcome
    /// was reported at once (on `tx`, like any other, so that a journal
    /// records it).
    #[inline]
    pub(super) fn spawn(self, tx: &flume::Sender<Msg>) -> Option<JoinHandle<()>> {
        let report = Report::new(self.slot, self.key, tx.clone());
        // A held attempt without delay, timeout or global cap is spawned as
        // `start_attempt` spawns such an attempt that nothing holds: the
        // action's future is made here (`call` only builds it) and the
        // spawned task holds just that future and a few ids. A closure
        // action spawns its own future unboxed (see `Action::spawn_plain`).
        if self.delay.is_none() && self.timeout.is_none() && self.limit.is_none() {
            let plain = PlainAttempt::new(report, self.notify, self.span, false);
            return self.action.spawn_plain(self.input, plain).into_task();
        }
        let spec = AttemptSpec {
            report,
            delay: self.delay,
            timeout: self.timeout,
            limit: self.limit,
            stop: self.stop,
            notify: self.notify,
        };
        let (action, input) = (self.action, self.input);
        Some(tokio::spawn(
            run_attempt(move || action.call(input), spec).instrument(self.span),
        ))
    }
}
