//! Lifecycle events of a run.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;

use crate::id::RunId;
use crate::outcome::RunStatus;

/// One state change of a run, with the moment it happened.
#[derive(Clone, Debug)]
pub struct Event {
    /// The run it belongs to.
    pub run_id: RunId,
    /// When it happened. For `TaskStarted` this is taken in the attempt's own
    /// tokio task right before its action is polled; for `TaskSucceeded`,
    /// `TaskFailed` and `TaskTimedOut`, when the last attempt ended (also in
    /// that task). So `TaskStarted(b).at - TaskSucceeded(a).at` for `a -> b` is
    /// the full completion-to-start latency, scheduler and channel included.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// The run began.
    RunStarted {
        /// The workflow's name.
        workflow: Arc<str>,
    },
    /// The run was paused: nothing new starts until it is resumed.
    RunPaused,
    /// A paused run was resumed.
    RunResumed,
    /// The run ended.
    RunEnded {
        /// How.
        status: RunStatus,
    },
    /// A task instance was created (its action will start after any
    /// `delay`, or at once).
    TaskScheduled {
        /// Task name.
        task: Arc<str>,
        /// Instance number within the run (0-based, in creation order).
        instance: u32,
        /// The route it runs in, as the split transitions it went through
        /// (`task__tK`, see [`RunOutcome::routes`](crate::RunOutcome::routes));
        /// empty for the run's first route.
        route: Arc<[String]>,
    },
    /// A `with` task's items were evaluated; items start after this.
    ItemsScheduled {
        /// Task name.
        task: Arc<str>,
        /// Instance number.
        instance: u32,
        /// How many items there are.
        total: usize,
    },
    /// An action attempt started.
    TaskStarted {
        /// Task name.
        task: Arc<str>,
        /// Instance number.
        instance: u32,
        /// Item index, for `with` items.
        item: Option<usize>,
        /// Attempt, from 1.
        attempt: u32,
        /// For a task that runs a sub-workflow: the child run this attempt
        /// starts.
        child_run: Option<RunId>,
    },
    /// An attempt failed (or its `retry.when` held) and will be retried.
    TaskRetrying {
        /// Task name.
        task: Arc<str>,
        /// Instance number.
        instance: u32,
        /// Item index, for `with` items.
        item: Option<usize>,
        /// The attempt that is about to run.
        attempt: u32,
        /// Wait before it.
        delay: Duration,
    },
    /// One item of a `with` task finished.
    ItemDone {
        /// Task name.
        task: Arc<str>,
        /// Instance number.
        instance: u32,
        /// Item index.
        index: usize,
        /// True when it succeeded.
        succeeded: bool,
    },
    /// A task instance succeeded.
    TaskSucceeded {
        /// Task name.
        task: Arc<str>,
        /// Instance number.
        instance: u32,
    },
    /// A task instance failed.
    TaskFailed {
        /// Task name.
        task: Arc<str>,
        /// Instance number.
        instance: u32,
        /// Why.
        error: String,
    },
    /// A task instance's attempt exceeded its timeout (and no retry followed).
    TaskTimedOut {
        /// Task name.
        task: Arc<str>,
        /// Instance number.
        instance: u32,
    },
    /// A task instance was stopped by cancel or abort, or a transition to a
    /// task was not followed because the run is failing or canceled, or
    /// because another instance would exceed the task instance limit (which
    /// fails the run).
    TaskSkipped {
        /// Task name.
        task: Arc<str>,
        /// The instance, when one was stopped (`None` when a transition's
        /// target was not started at all).
        instance: Option<u32>,
        /// Why.
        reason: String,
    },
}

/// The stream returned by [`Run::events`](crate::Run::events).
///
/// It ends after [`EventKind::RunEnded`].
#[must_use = "streams do nothing unless polled"]
pub struct EventStream {
    inner: flume::r#async::RecvStream<'static, Event>,
}

impl EventStream {
    pub(crate) fn new(rx: flume::Receiver<Event>) -> EventStream {
        EventStream {
            inner: rx.into_stream(),
        }
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}
