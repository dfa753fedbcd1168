//! One action attempt, in its own tokio task: the optional delay and
//! concurrency slot, the action itself (its timeout, its panics caught), and
//! the one message that reports the outcome to the run's scheduler.
//!
//! Timers live here, never in the scheduler loop.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::Semaphore;

use crate::action::{Action, ActionInput};
use crate::scheduler::{Done, Msg, Outcome};

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

pub(crate) struct AttemptSpec {
    pub(crate) slot: u32,
    pub(crate) instance: u32,
    pub(crate) item: u32,
    pub(crate) attempt: u32,
    pub(crate) delay: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) limit: Option<Arc<Semaphore>>,
    pub(crate) stop: Option<Arc<StopSignal>>,
    pub(crate) notify: bool,
    pub(crate) tx: flume::Sender<Msg>,
}

/// One attempt, in its own tokio task: delay, concurrency slot, the action
/// (with its timeout, panics caught), then one message to the scheduler.
pub(crate) async fn run_attempt(action: Arc<dyn Action>, input: ActionInput, spec: AttemptSpec) {
    let AttemptSpec {
        slot,
        instance,
        item,
        attempt,
        delay,
        timeout,
        limit,
        stop,
        notify,
        tx,
    } = spec;
    let done = |outcome, started: Option<Instant>| {
        Msg::Done(Box::new(Done {
            slot,
            instance,
            item,
            attempt,
            outcome,
            started,
            ended: Instant::now(),
        }))
    };
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
            () = &mut stopped => {
                let _ = tx.send(done(Outcome::Dropped, None));
                return;
            }
            () = tokio::time::sleep(d) => {}
        }
    }
    let _permit = match &limit {
        Some(sem) => tokio::select! {
            biased;
            () = &mut stopped => {
                let _ = tx.send(done(Outcome::Dropped, None));
                return;
            }
            p = sem.clone().acquire_owned() => p.ok(),
        },
        None => None,
    };
    let started = Instant::now();
    if notify {
        let _ = tx.send(Msg::Started {
            instance,
            item,
            attempt,
            at: started,
        });
    }
    let call = AssertUnwindSafe(async move { action.call(input).await }).catch_unwind();
    let result = match timeout {
        Some(t) => tokio::time::timeout(t, call).await.ok(),
        None => Some(call.await),
    };
    let outcome = match result {
        Some(Ok(Ok(v))) => Outcome::Ok(v),
        Some(Ok(Err(e))) => Outcome::Err(e),
        Some(Err(panic)) => Outcome::Panicked(panic_message(&*panic)),
        None => Outcome::TimedOut(timeout.unwrap_or_default()),
    };
    let label = match &outcome {
        Outcome::Ok(_) => "succeeded",
        Outcome::Err(_) | Outcome::Panicked(_) => "failed",
        Outcome::TimedOut(_) => "timed_out",
        Outcome::Dropped => "canceled",
    };
    tracing::Span::current().record("outcome", label);
    let _ = tx.send(done(outcome, Some(started)));
}

pub(crate) struct PlainSpec {
    pub(crate) slot: u32,
    pub(crate) instance: u32,
    pub(crate) item: u32,
    pub(crate) attempt: u32,
    pub(crate) notify: bool,
    /// The attempt runs inside its `task` span (someone listens to it).
    pub(crate) traced: bool,
    pub(crate) tx: flume::Sender<Msg>,
}

/// An attempt without delay, timeout or global cap, its future already made.
pub(crate) async fn run_plain_attempt(
    fut: futures::future::BoxFuture<'static, crate::ActionResult>,
    spec: PlainSpec,
) {
    let started = Instant::now();
    if spec.notify {
        let _ = spec.tx.send(Msg::Started {
            instance: spec.instance,
            item: spec.item,
            attempt: spec.attempt,
            at: started,
        });
    }
    let outcome = match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(Ok(v)) => Outcome::Ok(v),
        Ok(Err(e)) => Outcome::Err(e),
        Err(panic) => Outcome::Panicked(panic_message(&*panic)),
    };
    if spec.traced {
        let label = if matches!(outcome, Outcome::Ok(_)) {
            "succeeded"
        } else {
            "failed"
        };
        tracing::Span::current().record("outcome", label);
    }
    let _ = spec.tx.send(Msg::Done(Box::new(Done {
        slot: spec.slot,
        instance: spec.instance,
        item: spec.item,
        attempt: spec.attempt,
        outcome,
        started: Some(started),
        ended: Instant::now(),
    })));
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
