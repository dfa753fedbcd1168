//! The metrics weft emits, through the [`metrics`] facade: nothing is
//! recorded unless the embedding application installs a recorder (an
//! exporter such as `metrics-exporter-prometheus`); without one, every
//! update is a branch on a handle that does nothing. The constants below
//! are the metrics' names; `docs/observability.md` gives their labels and
//! what each means.
//!
//! Handles are registered once per run (and once per action the run uses),
//! never per task or per item, so a recorder's registry is consulted a
//! handful of times per run whatever its size. The names and labels are
//! listed in `docs/observability.md`; they follow Prometheus conventions:
//! base units (seconds, bytes), `_total` on counters.

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram, SharedString};

use crate::outcome::RunStatus;

/// Runs started.
pub const RUNS_STARTED: &str = "weft_runs_started_total";
/// Runs ended, by status.
pub const RUNS_ENDED: &str = "weft_runs_ended_total";
/// Runs going on.
pub const RUNS_ACTIVE: &str = "weft_runs_active";
/// How long runs took, by status.
pub const RUN_DURATION: &str = "weft_run_duration_seconds";
/// Action attempts, by action and outcome.
pub const ATTEMPTS: &str = "weft_task_attempts_total";
/// How long action attempts took, by action.
pub const ACTION_DURATION: &str = "weft_action_duration_seconds";
/// From an action's end to the start of a task it enabled.
pub const DISPATCH_LATENCY: &str = "weft_dispatch_latency_seconds";
/// Action attempts spawned and not yet handled.
pub const ACTIONS_IN_FLIGHT: &str = "weft_actions_in_flight";
/// Work waiting for a run's scheduler.
pub const QUEUE_DEPTH: &str = "weft_scheduler_queue_depth";
/// Bytes of results and variables the running runs hold.
pub const CONTEXT_BYTES: &str = "weft_context_bytes";
/// Bytes of results and variables a run held when it ended.
pub const RUN_CONTEXT_BYTES: &str = "weft_run_context_bytes";
/// Handles to the context given to attempts (each an `Arc` clone).
pub const CONTEXT_CLONES: &str = "weft_context_clones_total";
/// Journal records handed to the writer and not yet committed.
pub const JOURNAL_BACKLOG: &str = "weft_journal_backlog_records";
/// Records per journal commit.
pub const JOURNAL_BATCH: &str = "weft_journal_batch_records";
/// How long a journal commit took.
pub const JOURNAL_FLUSH: &str = "weft_journal_flush_seconds";
/// Journal commits that failed.
pub const JOURNAL_ERRORS: &str = "weft_journal_errors_total";

/// Gives every metric above its unit and help text, for exporters that
/// show them (Prometheus' `# HELP` lines). Call it once, after installing
/// the recorder; metrics are recorded whether or not it is called.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        RUNS_STARTED,
        Unit::Count,
        "Runs started (resumed runs included), by workflow."
    );
    describe_counter!(
        RUNS_ENDED,
        Unit::Count,
        "Runs ended, by workflow and status."
    );
    describe_gauge!(
        RUNS_ACTIVE,
        Unit::Count,
        "Runs started in this process and not yet ended, by workflow."
    );
    describe_histogram!(
        RUN_DURATION,
        Unit::Seconds,
        "Run durations, by workflow and status."
    );
    describe_counter!(ATTEMPTS, Unit::Count, "Action attempts, by workflow, action and outcome (succeeded, failed, timed_out, panicked).");
    describe_histogram!(
        ACTION_DURATION,
        Unit::Seconds,
        "Action attempt durations, by workflow and action."
    );
    describe_histogram!(DISPATCH_LATENCY, Unit::Seconds, "From the end of an action to the start of the first attempt of a task its completion enabled, by workflow.");
    describe_gauge!(ACTIONS_IN_FLIGHT, Unit::Count, "Action attempts spawned and not yet handled, by workflow (sampled when a scheduler turn ends).");
    describe_gauge!(QUEUE_DEPTH, Unit::Count, "Work items and messages waiting for the schedulers of running runs, by workflow (sampled when a scheduler turn ends).");
    describe_gauge!(
        CONTEXT_BYTES,
        Unit::Bytes,
        "Bytes of task results and variables held by running runs, by workflow."
    );
    describe_histogram!(
        RUN_CONTEXT_BYTES,
        Unit::Bytes,
        "Bytes of task results and variables a run held when it ended, by workflow."
    );
    describe_counter!(CONTEXT_CLONES, Unit::Count, "Handles to the run context given to action attempts; each is a reference-count increment, whatever the context's size.");
    describe_gauge!(
        JOURNAL_BACKLOG,
        Unit::Count,
        "Journal records handed to the writer and not yet committed."
    );
    describe_histogram!(JOURNAL_BATCH, Unit::Count, "Journal records per commit.");
    describe_histogram!(JOURNAL_FLUSH, Unit::Seconds, "Journal commit durations.");
    describe_counter!(JOURNAL_ERRORS, Unit::Count, "Journal commits that failed.");
}

/// One run's handles, all labelled with its workflow.
pub(crate) struct RunMetrics {
    workflow: SharedString,
    in_flight: Gauge,
    queue_depth: Gauge,
    context_bytes: Gauge,
    context_clones: Counter,
    dispatch_latency: Histogram,
    /// Per action the run uses (see `Scheduler::action_of`), registered on
    /// first use.
    actions: Vec<Option<Box<ActionMetrics>>>,
    /// What the gauges were last told, so that each run adds its own part
    /// to gauges shared by all runs of a workflow.
    reported_in_flight: usize,
    reported_queue: usize,
    reported_bytes: usize,
}

/// One action's handles in one run.
struct ActionMetrics {
    succeeded: Counter,
    failed: Counter,
    timed_out: Counter,
    panicked: Counter,
    duration: Histogram,
}

/// How an attempt ended, as the `outcome` label says it.
#[derive(Clone, Copy)]
pub(crate) enum AttemptOutcome {
    Succeeded,
    Failed,
    TimedOut,
    Panicked,
}

impl RunMetrics {
    /// Registers the run's handles and counts it as started.
    pub(crate) fn start(workflow: &Arc<str>, distinct_actions: usize) -> RunMetrics {
        let workflow = SharedString::from_shared(workflow.clone());
        let w = || ("workflow", workflow.clone());
        counter!(RUNS_STARTED, &[w()]).increment(1);
        gauge!(RUNS_ACTIVE, &[w()]).increment(1.0);
        RunMetrics {
            in_flight: gauge!(ACTIONS_IN_FLIGHT, &[w()]),
            queue_depth: gauge!(QUEUE_DEPTH, &[w()]),
            context_bytes: gauge!(CONTEXT_BYTES, &[w()]),
            context_clones: counter!(CONTEXT_CLONES, &[w()]),
            dispatch_latency: histogram!(DISPATCH_LATENCY, &[w()]),
            actions: (0..distinct_actions).map(|_| None).collect(),
            reported_in_flight: 0,
            reported_queue: 0,
            reported_bytes: 0,
            workflow,
        }
    }

    /// An attempt was given a handle to the context.
    #[inline]
    pub(crate) fn context_cloned(&self) {
        self.context_clones.increment(1);
    }

    /// A task's first attempt started `latency` after the action that
    /// enabled it ended.
    #[inline]
    pub(crate) fn dispatched(&self, latency: Duration) {
        self.dispatch_latency.record(latency);
    }

    /// An attempt of action number `action` (named `name`) ended after
    /// `took`.
    pub(crate) fn attempt(
        &mut self,
        action: usize,
        name: &str,
        outcome: AttemptOutcome,
        took: Option<Duration>,
    ) {
        let Some(slot) = self.actions.get_mut(action) else {
            return;
        };
        let m = slot.get_or_insert_with(|| {
            let workflow = self.workflow.clone();
            let action = SharedString::from_owned(name.to_owned());
            let by = |outcome: &'static str| {
                counter!(
                    ATTEMPTS,
                    &[
                        ("workflow", workflow.clone()),
                        ("action", action.clone()),
                        ("outcome", SharedString::const_str(outcome)),
                    ]
                )
            };
            Box::new(ActionMetrics {
                succeeded: by("succeeded"),
                failed: by("failed"),
                timed_out: by("timed_out"),
                panicked: by("panicked"),
                duration: histogram!(
                    ACTION_DURATION,
                    &[("workflow", workflow.clone()), ("action", action.clone())]
                ),
            })
        });
        match outcome {
            AttemptOutcome::Succeeded => &m.succeeded,
            AttemptOutcome::Failed => &m.failed,
            AttemptOutcome::TimedOut => &m.timed_out,
            AttemptOutcome::Panicked => &m.panicked,
        }
        .increment(1);
        if let Some(took) = took {
            m.duration.record(took);
        }
    }

    /// The state at the end of a turn: attempts in flight, work queued,
    /// bytes held.
    pub(crate) fn turn(&mut self, in_flight: usize, queued: usize, held_bytes: usize) {
        if queued != self.reported_queue {
            self.queue_depth
                .increment(queued as f64 - self.reported_queue as f64);
            self.reported_queue = queued;
        }
        if in_flight != self.reported_in_flight {
            self.in_flight
                .increment(in_flight as f64 - self.reported_in_flight as f64);
            self.reported_in_flight = in_flight;
        }
        if held_bytes != self.reported_bytes {
            self.context_bytes
                .increment(held_bytes as f64 - self.reported_bytes as f64);
            self.reported_bytes = held_bytes;
        }
    }

    /// The run ended: its part of the shared gauges is taken back.
    pub(crate) fn end(&mut self, status: RunStatus, took: Duration, held_bytes: usize) {
        self.turn(0, 0, 0);
        let w = || ("workflow", self.workflow.clone());
        gauge!(RUNS_ACTIVE, &[w()]).decrement(1.0);
        let status = ("status", SharedString::const_str(status.as_str()));
        counter!(RUNS_ENDED, &[w(), status.clone()]).increment(1);
        histogram!(RUN_DURATION, &[w(), status]).record(took);
        histogram!(RUN_CONTEXT_BYTES, &[w()]).record(held_bytes as f64);
    }
}

/// The journal writer's handles (one writer per executor).
pub(crate) struct JournalMetrics {
    pub(crate) backlog: Gauge,
    pub(crate) batch: Histogram,
    pub(crate) flush: Histogram,
    pub(crate) errors: Counter,
}

impl JournalMetrics {
    pub(crate) fn new() -> JournalMetrics {
        JournalMetrics {
            backlog: gauge!(JOURNAL_BACKLOG),
            batch: histogram!(JOURNAL_BATCH),
            flush: histogram!(JOURNAL_FLUSH),
            errors: counter!(JOURNAL_ERRORS),
        }
    }
}
