//! The handle of a running workflow.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use crate::event::{Event, EventStream};
use crate::outcome::RunOutcome;

/// A message from a [`Run`] handle to its scheduler.
pub(crate) enum Control {
    Cancel,
    Abort,
    Subscribe(flume::Sender<Event>),
}

/// A running workflow. Await it for the [`RunOutcome`].
///
/// Dropping the handle does not stop the run.
///
/// # Cancel safety
///
/// Awaiting is cancel safe: dropping the future (for example in a
/// `select!`) loses nothing; the run goes on, and its outcome is simply not
/// delivered.
#[must_use = "a Run does nothing different when dropped, but its outcome is lost"]
pub struct Run {
    pub(crate) id: u64,
    pub(crate) control: flume::Sender<crate::scheduler::Msg>,
    pub(crate) outcome: oneshot::Receiver<RunOutcome>,
    pub(crate) events: Option<flume::Receiver<Event>>,
}

/// The run's scheduler stopped without an outcome (it panicked).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the run's scheduler stopped without reporting an outcome: {0}")]
pub struct RunLost(pub(crate) String);

impl Run {
    /// The run's id (unique within its executor).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Stops scheduling: no new task or item starts, no retry happens;
    /// actions already running finish. The run then ends `canceled` (or
    /// `failed`, if it was already failing).
    pub fn cancel(&self) {
        let _ = self
            .control
            .send(crate::scheduler::Msg::Control(Control::Cancel));
    }

    /// Like [`Run::cancel`], and also stops the actions running now (their
    /// futures are dropped).
    pub fn abort(&self) {
        let _ = self
            .control
            .send(crate::scheduler::Msg::Control(Control::Abort));
    }

    /// The run's lifecycle events.
    ///
    /// With [`RunOptions::with_events`](crate::RunOptions::with_events), the
    /// first call returns every event from the start of the run. Otherwise
    /// (and on later calls) the stream starts at the moment of the call. The
    /// stream ends after `RunEnded`.
    pub fn events(&mut self) -> EventStream {
        if let Some(rx) = self.events.take() {
            return EventStream::new(rx);
        }
        let (tx, rx) = flume::unbounded();
        let _ = self
            .control
            .send(crate::scheduler::Msg::Control(Control::Subscribe(tx)));
        EventStream::new(rx)
    }
}

impl Future for Run {
    type Output = Result<RunOutcome, RunLost>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.outcome).poll(cx).map(|r| {
            r.map_err(|_| {
                RunLost("the scheduler task ended early (panic or runtime shutdown)".to_owned())
            })
        })
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("id", &self.id).finish()
    }
}
