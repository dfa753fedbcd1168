//! One action attempt, in its own tokio task (or polled by its run's
//! task: see below): the optional delay and concurrency slot, the action
//! itself (its timeout, its panics caught), and the one message that
//! reports the outcome to the run's scheduler.
//!
//! Timers live here, never in the scheduler loop.
//!
//! An attempt without delay, timeout or global cap that starts while no
//! other attempt of its run is in flight (a chain's next task, the first
//! task of a run) is not spawned: the run's own task polls it
//! ([`Spawned::Inline`]), as it waits for its next message. Such an attempt
//! is the only thing the run waits for, so a task of its own would buy
//! nothing but its cost: the task's cell, its scheduling, its join handle
//! and the wake of the run's task by its report (together ≈ 1,500
//! instructions, a third of a chain's hop). Its report is sent on the same
//! channel as a spawned attempt's. On a current_thread runtime, where every
//! task runs on the one thread anyway, every such attempt is polled by its
//! run's task (`scheduler/inline.rs`), however many are in flight. An
//! executor built with `ExecutorBuilder::spawn_every_attempt` spawns them
//! all.
//!
//! Every spawned attempt reports exactly once, whatever happens to it: the
//! [`Report`] it owns sends the outcome, or, if the attempt's task unwinds
//! or is dropped before it could (a panic while dropping the action's
//! future, a runtime shutting down), sends one from its `Drop`. The
//! scheduler counts attempts in flight and ends the run only when each has
//! reported, so a lost report would hang the run.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::action_error::ActionResult;
use crate::run::msg::{AttemptKey, Done, Msg, Outcome, SlotId};

/// Raised once when the run stops; attempts still waiting for a delay or a
/// slot watch it.
#[derive(Default)]
pub(crate) struct StopSignal {
    raised: AtomicBool,
    notify: tokio::sync::Notify,
}

impl StopSignal {
    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.raised.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// Which attempt a report is about, and where to send it.
pub(crate) struct Report {
    slot: SlotId,
    key: AttemptKey,
    tx: flume::Sender<Msg>,
    sent: bool,
}

impl Report {
    pub(crate) fn new(slot: SlotId, key: AttemptKey, tx: flume::Sender<Msg>) -> Report {
        Report {
            slot,
            key,
            tx,
            sent: false,
        }
    }

    fn started(&self, at: Instant) {
        let _ = self.tx.send(Msg::Started { key: self.key, at });
    }

    /// Sends the attempt's outcome; the only message this report sends.
    pub(crate) fn send(mut self, outcome: Outcome, started: Option<Instant>) {
        self.sent = true;
        self.deliver(outcome, started);
    }

    fn deliver(&self, outcome: Outcome, started: Option<Instant>) {
        let _ = self.tx.send(Msg::Done(Done {
            slot: Some(self.slot),
            key: self.key,
            outcome,
            started,
            ended: Instant::now(),
        }));
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if self.sent {
            return;
        }
        // The attempt's task ended without reporting: it panicked outside
        // the action's own poll (or was dropped by a runtime shutting down).
        let outcome = if std::thread::panicking() {
            Outcome::Panicked("the attempt's task panicked outside the action".to_owned())
        } else {
            Outcome::Dropped
        };
        self.deliver(outcome, None);
    }
}

pub(crate) struct AttemptSpec {
    pub(crate) report: Report,
    pub(crate) delay: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) limit: Option<Arc<Semaphore>>,
    pub(crate) stop: Option<Arc<StopSignal>>,
    pub(crate) notify: bool,
}

/// One attempt, in its own tokio task: delay, concurrency slot, the action
/// (`call` makes its future; with its timeout, panics caught), then one
/// message to the scheduler.
pub(crate) async fn run_attempt<C>(call_action: C, spec: AttemptSpec)
where
    C: FnOnce() -> futures::future::BoxFuture<'static, ActionResult>,
{
    let AttemptSpec {
        report,
        delay,
        timeout,
        limit,
        stop,
        notify,
    } = spec;
    // Waiting for the delay or for a slot under the global cap ends early
    // when the run stops (cancel, abort, fail-fast): the action never starts.
    let stopped = async {
        match &stop {
            Some(s) => s.wait().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stopped);
    if let Some(d) = delay {
        tokio::select! {
            biased;
            () = &mut stopped => return report.send(Outcome::Dropped, None),
            () = tokio::time::sleep(d) => {}
        }
    }
    let _permit = match &limit {
        Some(sem) => tokio::select! {
            biased;
            () = &mut stopped => return report.send(Outcome::Dropped, None),
            p = sem.clone().acquire_owned() => p.ok(),
        },
        None => None,
    };
    let started = Instant::now();
    if notify {
        report.started(started);
    }
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(call_action)) {
        Ok(fut) => call(fut, timeout).await,
        Err(panic) => Outcome::Panicked(panic_message(&*panic)),
    };
    let label = match &outcome {
        Outcome::Ok(_) => "succeeded",
        Outcome::Err(_) | Outcome::Panicked(_) => "failed",
        Outcome::TimedOut(_) => "timed_out",
        Outcome::Dropped => "canceled",
    };
    tracing::Span::current().record("outcome", label);
    report.send(outcome, Some(started));
}

/// Polls the action's future to its end or its timeout, then drops it where
/// a panic in its `Drop` is caught too (a timed-out future is dropped while
/// it is still in the middle of its work).
async fn call<F>(fut: F, timeout: Option<Duration>) -> Outcome
where
    F: Future<Output = ActionResult> + Unpin,
{
    let mut fut = AssertUnwindSafe(fut).catch_unwind();
    let result = match timeout {
        Some(t) => tokio::time::timeout(t, &mut fut).await.ok(),
        None => Some((&mut fut).await),
    };
    ended(fut, result, timeout)
}

/// As [`call`] without a timeout, for a future of any type (an unboxed
/// one need not be `Unpin`): without the timer in its state, the future
/// (and the task it is spawned in) is smaller.
async fn call_untimed<F>(fut: F) -> Outcome
where
    F: Future<Output = ActionResult>,
{
    // Pinned in place inside an `Option`, so that it can be dropped here,
    // where a panic in its `Drop` is caught, before the outcome is sent.
    let mut slot = std::pin::pin!(Some(AssertUnwindSafe(fut).catch_unwind()));
    let result = match slot.as_mut().as_pin_mut() {
        Some(fut) => fut.await,
        None => return Outcome::Dropped,
    };
    let dropped = std::panic::catch_unwind(AssertUnwindSafe(|| slot.set(None)));
    outcome_of(Some(result), dropped, None)
}

/// The outcome of a call: `result` is `None` when it timed out. The action's
/// future is dropped here, where a panic in its `Drop` is caught too.
fn ended<F>(
    fut: F,
    result: Option<Result<ActionResult, Box<dyn std::any::Any + Send>>>,
    timeout: Option<Duration>,
) -> Outcome {
    let dropped = std::panic::catch_unwind(AssertUnwindSafe(move || drop(fut)));
    outcome_of(result, dropped, timeout)
}

/// The outcome of a call from its result (`None` when it timed out) and
/// how dropping its future went.
#[inline]
fn outcome_of(
    result: Option<Result<ActionResult, Box<dyn std::any::Any + Send>>>,
    dropped: std::thread::Result<()>,
    timeout: Option<Duration>,
) -> Outcome {
    match (result, dropped) {
        (_, Err(panic)) => Outcome::Panicked(format!(
            "{} (while its future was dropped)",
            panic_message(&*panic)
        )),
        (Some(Ok(Ok(v))), Ok(())) => Outcome::Ok(shared(v)),
        (Some(Ok(Err(e))), Ok(())) => Outcome::Err(e),
        (Some(Err(panic)), Ok(())) => Outcome::Panicked(panic_message(&*panic)),
        (None, Ok(())) => Outcome::TimedOut(timeout.unwrap_or_default()),
    }
}

/// An attempt without delay, timeout or global cap, ready to be spawned
/// with its action's future: what [`Action::spawn_plain`] is given.
///
/// Public only because that method names it; it cannot be named or made
/// outside this crate, so the method cannot be overridden there.
pub struct PlainAttempt {
    pub(crate) report: Report,
    pub(crate) notify: bool,
    /// The attempt's span, `None` when no subscriber wants it.
    pub(crate) span: Option<tracing::Span>,
    /// Polled by the run's own task instead of spawned (see the module's
    /// documentation).
    pub(crate) inline: bool,
}

impl PlainAttempt {
    /// An attempt reporting through `report`; `span` is kept only when a
    /// subscriber wants it.
    #[inline(always)]
    pub(crate) fn new(
        report: Report,
        notify: bool,
        span: tracing::Span,
        inline: bool,
    ) -> PlainAttempt {
        PlainAttempt {
            report,
            notify,
            span: (!span.is_disabled()).then_some(span),
            inline,
        }
    }

    /// Makes the action's future with `call` (a panic there is the
    /// attempt's outcome, reported at once) and spawns it, unboxed, in a
    /// task of its own, or boxes it for the run's task to poll.
    pub(crate) fn spawn<F, C>(self, call: C) -> Spawned
    where
        C: FnOnce() -> F,
        F: Future<Output = ActionResult> + Send + 'static,
    {
        let PlainAttempt {
            report,
            notify,
            span,
            inline,
        } = self;
        match std::panic::catch_unwind(AssertUnwindSafe(call)) {
            Ok(fut) => {
                let traced = span.is_some();
                let attempt = run_plain_attempt(fut, report, notify, traced);
                // Without a subscriber that wants the span, the attempt goes
                // without it: a smaller future, and no enter/exit per poll.
                match (span, inline) {
                    (Some(span), false) => Spawned::Task(tokio::spawn(attempt.instrument(span))),
                    (None, false) => Spawned::Task(tokio::spawn(attempt)),
                    (Some(span), true) => {
                        Spawned::Inline(InlineAttempt(Some(Box::pin(attempt.instrument(span)))))
                    }
                    (None, true) => Spawned::Inline(InlineAttempt(Some(Box::pin(attempt)))),
                }
            }
            Err(panic) => {
                report.send(Outcome::Panicked(panic_message(&*panic)), None);
                Spawned::Reported
            }
        }
    }
}

/// Where a plain attempt went. Public only because
/// [`Action::spawn_plain`](crate::Action::spawn_plain) returns it; it
/// cannot be made outside this crate.
pub enum Spawned {
    /// Nothing runs: `call` panicked, and that outcome was reported at once.
    Reported,
    /// In a tokio task of its own.
    Task(JoinHandle<()>),
    /// For the run's own task to poll.
    Inline(InlineAttempt),
}

impl Spawned {
    /// The attempt's task; an attempt made to be polled inline is spawned
    /// after all (for callers that have no run task to poll it).
    pub(crate) fn into_task(self) -> Option<JoinHandle<()>> {
        match self {
            Spawned::Reported => None,
            Spawned::Task(task) => Some(task),
            Spawned::Inline(attempt) => Some(tokio::spawn(attempt)),
        }
    }
}

/// An attempt polled by its run's task (see the module's documentation).
/// It reports on the run's channel as a spawned attempt does, and its
/// [`Report`] reports a drop the same way.
///
/// Its future is dropped (ended, or aborted) where a panic in its `Drop`
/// is caught, as tokio catches one for a spawned task.
pub struct InlineAttempt(Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>);

impl Future for InlineAttempt {
    type Output = ();

    /// `Ready` once the attempt has reported. A panic outside the action's
    /// own poll (which the attempt catches itself) is caught here, where
    /// tokio would catch it for a spawned attempt, and the attempt ends:
    /// its report, dropped, then says it was dropped, as a spawned one's
    /// does.
    // Always inlined into the two places in `inline.rs` that poll it (a
    // spawned one is polled through tokio's task instead): a
    // plain hint was dropped by unrelated changes elsewhere in the crate,
    // and the call cost ≈ 18 instructions a task.
    #[inline(always)]
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let Some(fut) = self.0.as_mut() else {
            return std::task::Poll::Ready(());
        };
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(())) | Err(_) => {
                // Dropped now, not when its place is freed.
                self.0 = None;
                std::task::Poll::Ready(())
            }
        }
    }
}

impl Drop for InlineAttempt {
    fn drop(&mut self) {
        if let Some(fut) = self.0.take() {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(fut)));
        }
    }
}

/// An attempt without delay, timeout or global cap, its future already made.
async fn run_plain_attempt<F>(fut: F, report: Report, notify: bool, traced: bool)
where
    F: Future<Output = ActionResult>,
{
    let started = Instant::now();
    if notify {
        report.started(started);
    }
    let outcome = call_untimed(fut).await;
    if traced {
        let label = if matches!(outcome, Outcome::Ok(_)) {
            "succeeded"
        } else {
            "failed"
        };
        tracing::Span::current().record("outcome", label);
    }
    report.send(outcome, Some(started));
}

/// A result as the run keeps it; `null`, the result of most actions that
/// return nothing, is one shared value.
pub(crate) fn shared(v: serde_json::Value) -> Arc<serde_json::Value> {
    static NULL: std::sync::OnceLock<Arc<serde_json::Value>> = std::sync::OnceLock::new();
    if let serde_json::Value::Null = v {
        // Forgotten, not dropped: a `null` has nothing to free, and the
        // drop was a call made for every result.
        std::mem::forget(v);
        return NULL
            .get_or_init(|| Arc::new(serde_json::Value::Null))
            .clone();
    }
    Arc::new(v)
}

pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}
