//! Lifecycle events of a run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures::Stream;
use serde::{Serialize, Serializer};

use crate::id::RunId;
use crate::outcome::RunStatus;

/// One state change of a run, with the moment it happened.
///
/// It serializes (with serde) as one flat JSON object: the run's id, the
/// wall-clock time as RFC 3339 text in UTC, the kind as `event` in
/// snake case, and the kind's fields, durations in milliseconds with `_ms`
/// in their names:
///
/// ```text
/// {"run_id": "0193a0c4-...", "time": "2026-03-01T09:30:12.345678Z", "event": "task_retrying",
///  "task": "fetch", "instance": 0, "item": null, "attempt": 2, "delay_ms": 500.0,
///  "error": "connection refused"}
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// The run it belongs to.
    pub run_id: RunId,
    /// When it happened. For `TaskStarted` this is taken in the attempt's own
    /// tokio task right before its action is polled; for `TaskSucceeded`,
    /// `TaskFailed` and `TaskTimedOut`, when the last attempt ended (also in
    /// that task). So `TaskStarted(b).at - TaskSucceeded(a).at` for `a -> b` is
    /// the full completion-to-start latency, scheduler and channel included.
    #[serde(skip)]
    pub at: Instant,
    /// The same moment on the system clock (read when the event was sent,
    /// less the time since `at`), for logs and other processes.
    #[serde(serialize_with = "ser_rfc3339")]
    pub time: SystemTime,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// `time` as RFC 3339 text in UTC, to the microsecond.
fn ser_rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&Rfc3339(*t))
}

/// A system time written as RFC 3339 in UTC (`2026-03-01T09:30:12.345678Z`),
/// as events are; a time before 1970 is written as 1970's start.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_micros(1_772_357_412_345_678);
/// assert_eq!(weft_runtime::Rfc3339(t).to_string(), "2026-03-01T09:30:12.345678Z");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339(pub SystemTime);

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = self
            .0
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = since.as_secs();
        let (days, rest) = (secs / 86_400, secs % 86_400);
        // Days since 1970-01-01 to a civil date (Howard Hinnant's
        // algorithm, for the proleptic Gregorian calendar).
        let z = days as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            rest / 3_600,
            rest % 3_600 / 60,
            rest % 60,
            since.subsec_micros()
        )
    }
}

fn ser_ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(crate::outcome::millis(*d))
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
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
        /// Wait before it (`delay_ms` when serialized).
        #[serde(rename = "delay_ms", serialize_with = "ser_ms")]
        delay: Duration,
        /// Why the attempt before it failed; `None` when it succeeded and
        /// `retry.when` asked for another one.
        error: Option<String>,
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
    /// Ends once the run has sent its last event. A subscription sent as
    /// the run ends can stay unread in its control channel (with the
    /// sender of this stream inside it) for as long as a handle lives, so
    /// the channel alone would never say the stream is over.
    ended: Option<Pin<Box<dyn Future<Output = ()> + Send + Sync>>>,
}

impl EventStream {
    /// The events on `rx`, until `ended` is over and nothing is queued.
    pub(crate) fn new(
        rx: flume::Receiver<Event>,
        ended: impl Future<Output = ()> + Send + Sync + 'static,
    ) -> EventStream {
        EventStream {
            inner: rx.into_stream(),
            ended: Some(Box::pin(ended)),
        }
    }
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let this = &mut *self;
        if let Poll::Ready(next) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(next);
        }
        // Nothing queued: if the run has sent its last event, nothing more
        // will come. What it sent between the poll above and its end is
        // queued now (it sends before it ends): taken before the stream
        // ends.
        match this.ended.as_mut().map(|ended| ended.as_mut().poll(cx)) {
            Some(Poll::Ready(())) => {
                this.ended = None;
                match Pin::new(&mut this.inner).poll_next(cx) {
                    Poll::Ready(next) => Poll::Ready(next),
                    Poll::Pending => Poll::Ready(None),
                }
            }
            Some(Poll::Pending) => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

#[cfg(test)]
mod tests {
    use super::Rfc3339;
    use std::time::{Duration, SystemTime};

    /// The run sends its last events and ends between the stream's look
    /// at its queue and its look at the run's end: the stream still gives
    /// them, in order, and then ends. (Seen on a loaded machine: a run's
    /// events stopped at a `TaskStarted`, its `RunEnded` never read.)
    #[tokio::test]
    async fn events_sent_as_the_run_ends_are_read_before_the_stream_ends() {
        use super::{Event, EventKind, EventStream};
        use crate::{RunId, RunStatus};
        use futures::StreamExt;
        use std::time::Instant;
        let (tx, rx) = flume::unbounded();
        let run_id = RunId::new();
        let event = move |kind| Event {
            run_id,
            at: Instant::now(),
            time: SystemTime::now(),
            kind,
        };
        // The end's future, polled once the queue was found empty, sends
        // the last events as it ends, as a run on another thread can.
        let last = [
            event(EventKind::TaskStarted {
                task: "a".into(),
                instance: 0,
                item: None,
                attempt: 1,
                child_run: None,
            }),
            event(EventKind::RunEnded {
                status: RunStatus::Succeeded,
            }),
        ];
        let ended = async move {
            for e in last {
                tx.send(e).expect("the stream's receiver");
            }
        };
        let events: Vec<Event> = EventStream::new(rx, ended).collect().await;
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e.kind {
                EventKind::TaskStarted { .. } => "started",
                EventKind::RunEnded { .. } => "ended",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["started", "ended"]);
    }

    fn at(secs: u64, micros: u32) -> String {
        let t = SystemTime::UNIX_EPOCH
            + Duration::from_secs(secs)
            + Duration::from_micros(u64::from(micros));
        Rfc3339(t).to_string()
    }

    #[test]
    fn rfc3339_dates_are_civil_dates_in_utc() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        // A leap day, a century leap year, the last second of a year.
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(at(1_709_251_199, 999_999), "2024-02-29T23:59:59.999999Z");
        assert_eq!(at(4_102_444_799, 0), "2099-12-31T23:59:59.000000Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(Rfc3339(before).to_string(), "1970-01-01T00:00:00.000000Z");
    }
}
