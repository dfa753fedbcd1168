//! The handles of a running workflow: [`Run`] (await it for the outcome)
//! and [`RunHandle`] (cloneable; control and status only).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::oneshot;

use crate::event::{Event, EventStream};
use crate::id::RunId;
use crate::outcome::{RunOutcome, RunStatus};
use crate::store::{Durability, StoreError};

pub(crate) mod children;
pub(crate) mod msg;

use msg::{Control, Msg};

/// The status a run's scheduler publishes for its handles to read, and
/// whom to tell when the run becomes paused or stops being so (a worker,
/// whose paused runs leave their slot free).
#[derive(Debug)]
///
/// It also names the run, for the run's context: `system.run_id` and
/// `system.workflow` are made from it when an expression first reads
/// them, not for every run; and it carries the run's outcome to the
/// [`Run`] that awaits it (see [`OutcomeSlot`]).
pub(crate) struct SharedStatus(
    AtomicU8,
    Arc<tokio::sync::Notify>,
    RunId,
    Arc<str>,
    Closed,
    OutcomeSlot,
);

/// Where the run's outcome waits for its [`Run`]: in the status the run's
/// handles share, so that a run does not allocate a channel of its own
/// for it (one allocation a run fewer; a short run makes about a dozen).
/// The scheduler puts the outcome in with an [`OutcomeSender`]; the `Run`
/// takes it when polled. An outcome nobody awaits any more (the `Run` was
/// dropped) is not kept: the handles that outlive the run hold no outcome.
#[derive(Debug, Default)]
pub(crate) struct OutcomeSlot(Mutex<Slot>);

#[derive(Debug, Default)]
struct Slot {
    outcome: Option<RunOutcome>,
    /// The `Run`'s task, woken when the outcome is in or lost.
    waker: Option<Waker>,
    state: SlotState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// The run goes on; the `Run` waits.
    #[default]
    Open,
    /// The outcome is in `outcome`, or was taken by the `Run`.
    Sent,
    /// The scheduler stopped without an outcome (a panic, a runtime shut
    /// down).
    Lost,
    /// The `Run` was dropped: an outcome sent now is dropped at once.
    Unwanted,
}

impl OutcomeSlot {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // A panic while the lock was held left the slot as it was: still
        // usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The scheduler's end of a run's [`OutcomeSlot`]: it sends the outcome
/// once; dropped without sending, it tells the `Run` the outcome is lost.
pub(crate) struct OutcomeSender(Option<Arc<SharedStatus>>);

impl OutcomeSender {
    pub(crate) fn new(status: Arc<SharedStatus>) -> OutcomeSender {
        OutcomeSender(Some(status))
    }

    /// Hands `outcome` to the run's `Run` (dropped if nobody awaits it).
    pub(crate) fn send(mut self, outcome: RunOutcome) {
        if let Some(status) = self.0.take() {
            Self::end(&status, Some(outcome));
        }
    }

    fn end(status: &SharedStatus, outcome: Option<RunOutcome>) {
        let mut slot = status.5.lock();
        if slot.state != SlotState::Open {
            // Unwanted: `outcome` is dropped here, after the lock.
            drop(slot);
            return;
        }
        slot.state = if outcome.is_some() {
            SlotState::Sent
        } else {
            SlotState::Lost
        };
        slot.outcome = outcome;
        let waker = slot.waker.take();
        drop(slot);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for OutcomeSender {
    fn drop(&mut self) {
        if let Some(status) = self.0.take() {
            Self::end(&status, None);
        }
    }
}

/// Set once the scheduler reads no more control messages and has sent its
/// last event. A message sent after its last read stays unread in the
/// channel for as long as a sender lives (a handle's, say), and so does a
/// reply sender inside it: whoever waits for a reply, or for the end of
/// an event stream, waits for this too.
#[derive(Debug, Default)]
pub(crate) struct Closed {
    done: AtomicBool,
    notify: tokio::sync::Notify,
}

impl SharedStatus {
    pub(crate) fn new(
        status: RunStatus,
        pauses: Arc<tokio::sync::Notify>,
        run_id: RunId,
        workflow: Arc<str>,
    ) -> SharedStatus {
        SharedStatus(
            AtomicU8::new(status.to_u8()),
            pauses,
            run_id,
            workflow,
            Closed::default(),
            OutcomeSlot::default(),
        )
    }

    /// The scheduler has read its last control message.
    pub(crate) fn close(&self) {
        self.4.done.store(true, Ordering::Release);
        self.4.notify.notify_waiters();
    }

    /// Ends once [`SharedStatus::close`] was called.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.4.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.4.done.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn set(&self, status: RunStatus) {
        let was = RunStatus::from_u8(self.0.swap(status.to_u8(), Ordering::AcqRel));
        if is_paused(was) != is_paused(status) {
            self.1.notify_one();
        }
    }

    pub(crate) fn get(&self) -> RunStatus {
        RunStatus::from_u8(self.0.load(Ordering::Acquire))
    }
}

impl weft_core::DeferredSystem for SharedStatus {
    fn system_values(&self) -> Vec<(Arc<str>, serde_json::Value)> {
        static RUN_ID: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        static WORKFLOW: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        let key = |cell: &'static std::sync::OnceLock<Arc<str>>, key: &str| {
            cell.get_or_init(|| Arc::from(key)).clone()
        };
        vec![
            (key(&RUN_ID, "run_id"), self.2.to_string().into()),
            (key(&WORKFLOW, "workflow"), self.3.to_string().into()),
        ]
    }
}

/// Paused, or pausing (nothing new starts; what runs finishes): a worker
/// does not count such a run toward its `max_runs`.
pub(crate) fn is_paused(status: RunStatus) -> bool {
    matches!(status, RunStatus::Paused | RunStatus::Pausing)
}

/// A cheap, cloneable handle to a run: its id, its status, and the commands
/// that steer it. Get one from [`Run::handle`] or
/// [`Executor::run`](crate::Executor::run).
///
/// Commands sent after the run ended do nothing.
#[derive(Clone)]
pub struct RunHandle {
    pub(crate) id: RunId,
    pub(crate) control: flume::Sender<Msg>,
    pub(crate) status: Arc<SharedStatus>,
}

impl RunHandle {
    /// The run's id.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// Where the run is now.
    pub fn status(&self) -> RunStatus {
        self.status.get()
    }

    /// Stops scheduling: no new task or item starts, no retry happens;
    /// actions already running finish. The run then ends `canceled` (or
    /// `failed`, if it was already failing). A paused run is canceled too.
    pub fn cancel(&self) {
        self.send(Control::Cancel);
    }

    /// Like [`RunHandle::cancel`], and also stops the actions running now
    /// (their futures are dropped).
    pub fn abort(&self) {
        self.send(Control::Abort);
    }

    /// Pauses the run: no new task, item or retry starts; actions already
    /// running finish. The status is `pausing` while some still run, then
    /// `paused`. A run that has nothing left to start when it is paused
    /// ends as it would have.
    pub fn pause(&self) {
        self.send(Control::Pause);
    }

    /// Resumes a paused run: what was held back starts now.
    pub fn resume(&self) {
        self.send(Control::Resume);
    }

    /// The run's lifecycle events from now on; the stream ends after
    /// `RunEnded` (at once if the run has ended).
    pub fn events(&self) -> EventStream {
        let (tx, rx) = flume::unbounded();
        self.send(Control::Subscribe(tx));
        self.event_stream(rx)
    }

    /// A stream of `rx` that also ends when the run has sent its last
    /// event, even if its subscription was never read.
    pub(crate) fn event_stream(&self, rx: flume::Receiver<Event>) -> EventStream {
        let status = Arc::clone(&self.status);
        EventStream::new(rx, async move { status.closed().await })
    }

    /// Hands an answer (a `Respond` or `Signal` command) to the run; with
    /// `reply`, says whether it was taken.
    pub(crate) fn answer(
        &self,
        command: crate::store::Command,
        reply: Option<oneshot::Sender<Result<(), crate::wait::pending::RespondError>>>,
    ) {
        self.send(Control::Answer(Box::new((command, reply))));
    }

    /// The run's pending waits, on `reply`.
    pub(crate) fn waits(&self, reply: oneshot::Sender<Vec<crate::wait::pending::PendingWait>>) {
        self.send(Control::Waits(reply));
    }

    fn send(&self, c: Control) {
        let _ = self.control.send(Msg::Control(c));
    }

    /// The reply to a message sent to the run, or `None` if the run ended
    /// without giving one (it had read its last message when this one came).
    pub(crate) async fn reply<T>(&self, rx: oneshot::Receiver<T>) -> Option<T> {
        tokio::pin!(rx);
        tokio::select! {
            biased;
            reply = &mut rx => reply.ok(),
            () = self.status.closed() => rx.try_recv().ok(),
        }
    }
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandle")
            .field("id", &self.id)
            .field("status", &self.status())
            .finish()
    }
}

/// A running workflow. Await it for the [`RunOutcome`].
///
/// Dropping the handle does not stop the run; [`Run::handle`] gives a
/// cloneable handle that can steer it from elsewhere.
///
/// # Cancel safety
///
/// Awaiting is cancel safe: dropping the future (for example in a
/// `select!`) loses nothing; the run goes on, and its outcome is simply not
/// delivered.
#[must_use = "a Run does nothing different when dropped, but its outcome is lost"]
pub struct Run {
    /// Its status also carries the outcome (see [`OutcomeSlot`]).
    pub(crate) handle: RunHandle,
    pub(crate) events: Option<flume::Receiver<Event>>,
    pub(crate) recorded: Recorded,
    /// `poll` gave the outcome (or said it was lost): the slot holds
    /// nothing of this `Run` any more, and its drop need not lock it.
    pub(crate) ended: bool,
}

/// Whether a run is in its executor's store (see [`Run::recorded`]).
pub(crate) enum Recorded {
    /// Kept in memory only.
    InMemory,
    /// In the store already (resumed or re-run from it).
    Stored,
    /// Its first record is on its way: the journal says how its commit
    /// went (`None` until then); asking the journal hurries the commit.
    Pending(
        tokio::sync::watch::Receiver<Option<Result<(), StoreError>>>,
        std::sync::Arc<crate::journal::Journal>,
    ),
}

/// Why a run is not in its executor's store; see [`Run::recorded`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NotRecorded {
    /// The run is kept in memory only: the executor has no store, or the
    /// run was started with `RunOptions::in_memory`.
    #[error(
        "the run is kept in memory only (the executor has no store, or RunOptions::in_memory)"
    )]
    InMemory,
    /// Its first record could not be committed: the store does not have
    /// the run, and the run fails with this error (nothing of it can be
    /// resumed).
    #[error("the run was not kept: its first record could not be committed: {0}")]
    Failed(StoreError),
    /// The run stopped (its runtime shut down) before its first record was
    /// committed.
    #[error("the run stopped before its first record was committed")]
    Stopped,
}

/// The run's scheduler stopped without an outcome (it panicked).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the run's scheduler stopped without reporting an outcome: {0}")]
pub struct RunLost(pub(crate) String);

impl Run {
    /// The run's id.
    pub fn id(&self) -> RunId {
        self.handle.id
    }

    /// A cloneable handle to this run.
    pub fn handle(&self) -> RunHandle {
        self.handle.clone()
    }

    /// Where the run is now.
    pub fn status(&self) -> RunStatus {
        self.handle.status()
    }

    /// Waits until the run is in its executor's store: its first record
    /// committed. From then on its id names a run that
    /// [`Executor::resume_run`](crate::Executor::resume_run) and
    /// [`Executor::inspect`](crate::Executor::inspect) find, whatever
    /// happens to this process; hand the id out after this, not before. A
    /// run resumed or re-run from the store is there already.
    ///
    /// Waiting does not hold the run back: it goes on meanwhile. A
    /// write-behind run's actions start at once, before that commit (see
    /// `docs/durability.md`, "What survives what": a crash before it loses
    /// the run, and what its actions did stays done); asking here has the
    /// commit made at once rather than with the journal's next batch. A
    /// `Durability::Sync` run starts nothing before it.
    ///
    /// # Errors
    ///
    /// The run is kept in memory only, its first record could not be
    /// committed (the run then fails with the same error), or it stopped
    /// before the commit ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn recorded(&self) -> Result<(), NotRecorded> {
        let mut rx = match &self.recorded {
            Recorded::InMemory => return Err(NotRecorded::InMemory),
            Recorded::Stored => return Ok(()),
            Recorded::Pending(rx, journal) => {
                if rx.borrow().is_none() {
                    journal.urge();
                }
                rx.clone()
            }
        };
        let seen = rx.wait_for(Option::is_some).await;
        match seen.as_deref() {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(e))) => Err(NotRecorded::Failed(e.clone())),
            Ok(None) | Err(_) => Err(NotRecorded::Stopped),
        }
    }

    /// See [`RunHandle::cancel`].
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// See [`RunHandle::abort`].
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// See [`RunHandle::pause`].
    pub fn pause(&self) {
        self.handle.pause();
    }

    /// See [`RunHandle::resume`].
    pub fn resume(&self) {
        self.handle.resume();
    }

    /// The run's lifecycle events.
    ///
    /// With [`RunOptions::with_events`](crate::RunOptions::with_events), the
    /// first call returns every event from the start of the run. Otherwise
    /// (and on later calls) the stream starts at the moment of the call. The
    /// stream ends after `RunEnded`.
    pub fn events(&mut self) -> EventStream {
        if let Some(rx) = self.events.take() {
            return self.handle.event_stream(rx);
        }
        self.handle.events()
    }
}

impl Future for Run {
    type Output = Result<RunOutcome, RunLost>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut slot = this.handle.status.5.lock();
        if slot.state != SlotState::Open {
            // The sender took the waker when it ended the slot, and what
            // follows takes the outcome.
            this.ended = true;
        }
        match slot.state {
            SlotState::Open => {
                match &mut slot.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    w => *w = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            SlotState::Sent => match slot.outcome.take() {
                Some(outcome) => Poll::Ready(Ok(outcome)),
                None => Poll::Ready(Err(RunLost(
                    "the outcome was taken already: this Run was awaited to its end before"
                        .to_owned(),
                ))),
            },
            SlotState::Lost | SlotState::Unwanted => Poll::Ready(Err(RunLost(
                "the scheduler task ended early (panic or runtime shutdown)".to_owned(),
            ))),
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.ended {
            // Awaited to its end: nothing of it is left in the slot.
            return;
        }
        // Nobody awaits the outcome any more: not kept for the handles.
        let mut slot = self.handle.status.5.lock();
        if slot.state == SlotState::Open {
            slot.state = SlotState::Unwanted;
        }
        let outcome = slot.outcome.take();
        slot.waker = None;
        drop(slot);
        drop(outcome);
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("id", &self.handle.id)
            .field("status", &self.handle.status())
            .finish()
    }
}

/// Options of one run.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Record events from the very start, for [`Run::events`] to return.
    pub events: bool,
    /// How deep in sub-workflows the run is: 0 for a run started by the
    /// caller.
    pub(crate) depth: u32,
    /// The run whose task started this one, for a sub-workflow.
    pub(crate) parent: Option<RunId>,
    /// This run's durability, on an executor with a store (its default
    /// otherwise).
    pub(crate) durability: Option<Durability>,
    /// Not journaled, although the executor has a store.
    pub(crate) in_memory: bool,
    /// A write-behind run starts nothing before its first record is
    /// committed.
    pub(crate) recorded_first: bool,
}

impl RunOptions {
    /// Default options.
    pub fn new() -> RunOptions {
        RunOptions::default()
    }

    /// Record every event from the start of the run.
    #[must_use]
    pub fn with_events(mut self) -> RunOptions {
        self.events = true;
        self
    }

    /// On an executor with a store: this run's durability, instead of the
    /// executor's ([`ExecutorBuilder::durability`](crate::ExecutorBuilder::durability)).
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> RunOptions {
        self.durability = Some(durability);
        self
    }

    /// On an executor with a store: keep this run in memory only.
    #[must_use]
    pub fn in_memory(mut self) -> RunOptions {
        self.in_memory = true;
        self
    }

    /// On an executor with a store: start none of the run's actions
    /// before its first record is committed ([`Run::recorded`]), as a
    /// `Durability::Sync` run does, while its later records are still
    /// written behind. Without it a write-behind run's actions start at
    /// once, and its first record goes with its next ones (one commit
    /// fewer); see `docs/durability.md`, "What survives what".
    #[must_use]
    pub fn recorded_first(mut self) -> RunOptions {
        self.recorded_first = true;
        self
    }
}
