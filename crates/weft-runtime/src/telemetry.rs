//! The metrics weft emits, through the [`metrics`] facade: nothing is
//! recorded unless the embedding application installs a recorder (an
//! exporter such as `metrics-exporter-prometheus`); without one, every
//! update is a branch on a handle that does nothing. The constants below
//! are the metrics' names; `docs/observability.md` gives their labels and
//! what each means.
//!
//! Handles are registered once per executor and workflow (and action), the
//! first time the executor runs it, and kept: a run costs one map lookup,
//! never a registration per task or per item. A run started while no
//! recorder is installed keeps no metrics state at all. The names and labels are
//! listed in `docs/observability.md`; they follow Prometheus conventions:
//! base units (seconds, bytes), `_total` on counters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
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

/// Whether a recorder is installed, for this thread (a local recorder) or
/// globally, checked as each run starts: a run started without one keeps
/// no metrics state at all, so metrics cost a program that installs no
/// recorder nothing but this check.
///
/// The facade offers no direct test, so this relies on what it falls back
/// to when nothing is installed: `metrics::NoopRecorder`, a zero-sized
/// type. A recorder of a zero-sized type of the program's own (one that
/// forwards to statics) would be taken for none; wrap it in a struct with
/// a field.
pub(crate) fn recorder_installed() -> bool {
    metrics::with_recorder(|r| std::mem::size_of_val(r) != 0)
}

/// The handles of every workflow an executor has run with a recorder
/// installed, registered when it first ran each: a run then costs one map
/// lookup, not a dozen registrations. The handles are bound to the recorder
/// that was installed then: replace the global recorder and this
/// executor's runs keep reporting to the old one.
#[derive(Default)]
pub(crate) struct MetricsCache {
    workflows: DashMap<Arc<str>, Arc<WorkflowMetrics>>,
}

impl MetricsCache {
    fn of(&self, workflow: &Arc<str>) -> Arc<WorkflowMetrics> {
        if let Some(m) = self.workflows.get(workflow) {
            return m.clone();
        }
        self.workflows
            .entry(workflow.clone())
            .or_insert_with(|| Arc::new(WorkflowMetrics::new(workflow)))
            .clone()
    }
}

/// One workflow's handles, all labelled with its name.
struct WorkflowMetrics {
    workflow: SharedString,
    started: Counter,
    active: Gauge,
    in_flight: Gauge,
    queue_depth: Gauge,
    context_bytes: Gauge,
    run_context_bytes: Histogram,
    context_clones: Counter,
    dispatch_latency: Histogram,
    /// By status: succeeded, failed, canceled (the run statuses a run
    /// ends with).
    ended: [(Counter, Histogram); 3],
    /// By action name, registered on first use.
    actions: DashMap<Arc<str>, Arc<ActionMetrics>>,
}

const ENDED: [RunStatus; 3] = [RunStatus::Succeeded, RunStatus::Failed, RunStatus::Canceled];

impl WorkflowMetrics {
    fn new(workflow: &Arc<str>) -> WorkflowMetrics {
        let workflow = SharedString::from_shared(workflow.clone());
        let w = || ("workflow", workflow.clone());
        let ended = ENDED.map(|status| {
            let status = ("status", SharedString::const_str(status.as_str()));
            (
                counter!(RUNS_ENDED, &[w(), status.clone()]),
                histogram!(RUN_DURATION, &[w(), status]),
            )
        });
        WorkflowMetrics {
            started: counter!(RUNS_STARTED, &[w()]),
            active: gauge!(RUNS_ACTIVE, &[w()]),
            in_flight: gauge!(ACTIONS_IN_FLIGHT, &[w()]),
            queue_depth: gauge!(QUEUE_DEPTH, &[w()]),
            context_bytes: gauge!(CONTEXT_BYTES, &[w()]),
            run_context_bytes: histogram!(RUN_CONTEXT_BYTES, &[w()]),
            context_clones: counter!(CONTEXT_CLONES, &[w()]),
            dispatch_latency: histogram!(DISPATCH_LATENCY, &[w()]),
            ended,
            actions: DashMap::new(),
            workflow,
        }
    }

    fn action(&self, name: &Arc<str>) -> Arc<ActionMetrics> {
        if let Some(m) = self.actions.get(name) {
            return m.clone();
        }
        self.actions
            .entry(name.clone())
            .or_insert_with(|| Arc::new(ActionMetrics::new(&self.workflow, name)))
            .clone()
    }
}

/// One action's handles in one workflow.
struct ActionMetrics {
    /// By outcome, in [`AttemptOutcome`] order.
    attempts: [Counter; 4],
    duration: Histogram,
}

impl ActionMetrics {
    fn new(workflow: &SharedString, action: &Arc<str>) -> ActionMetrics {
        let w = || ("workflow", workflow.clone());
        let a = || ("action", SharedString::from_shared(action.clone()));
        let by = |outcome: &'static str| {
            counter!(
                ATTEMPTS,
                &[w(), a(), ("outcome", SharedString::const_str(outcome))]
            )
        };
        ActionMetrics {
            attempts: [
                by("succeeded"),
                by("failed"),
                by("timed_out"),
                by("panicked"),
            ],
            duration: histogram!(ACTION_DURATION, &[w(), a()]),
        }
    }
}

/// How an attempt ended, as the `outcome` label says it.
#[derive(Clone, Copy)]
pub(crate) enum AttemptOutcome {
    Succeeded = 0,
    Failed = 1,
    TimedOut = 2,
    Panicked = 3,
}

/// One run's view of its workflow's handles.
pub(crate) struct RunMetrics {
    shared: Arc<WorkflowMetrics>,
    /// Per action the run uses (see `Scheduler::action_of`), looked up on
    /// first use.
    actions: Vec<Option<Arc<ActionMetrics>>>,
    /// Context clones not yet added to the counter (added per turn).
    clones: u64,
    /// What the gauges were last told, so that each run adds its own part
    /// to gauges shared by all runs of a workflow.
    reported_in_flight: usize,
    reported_queue: usize,
    reported_bytes: usize,
    /// When the gauges may be sampled again (see `RunMetrics::due`).
    next_sample: Option<Instant>,
}

impl RunMetrics {
    /// The run's handles, from `cache`; counts the run as started.
    pub(crate) fn start(
        cache: &MetricsCache,
        workflow: &Arc<str>,
        distinct_actions: usize,
    ) -> RunMetrics {
        let shared = cache.of(workflow);
        shared.started.increment(1);
        shared.active.increment(1.0);
        RunMetrics {
            shared,
            actions: (0..distinct_actions).map(|_| None).collect(),
            clones: 0,
            reported_in_flight: 0,
            reported_queue: 0,
            reported_bytes: 0,
            next_sample: None,
        }
    }

    /// An attempt was given a handle to the context.
    #[inline]
    pub(crate) fn context_cloned(&mut self) {
        self.clones += 1;
    }

    /// A task's first attempt started `latency` after the action that
    /// enabled it ended.
    #[inline]
    pub(crate) fn dispatched(&self, latency: Duration) {
        self.shared.dispatch_latency.record(latency);
    }

    /// An attempt of action number `action` (named `name`) ended after
    /// `took`.
    pub(crate) fn attempt(
        &mut self,
        action: usize,
        name: &Arc<str>,
        outcome: AttemptOutcome,
        took: Option<Duration>,
    ) {
        let Some(slot) = self.actions.get_mut(action) else {
            return;
        };
        let m = slot.get_or_insert_with(|| self.shared.action(name));
        m.attempts[outcome as usize].increment(1);
        if let Some(took) = took {
            m.duration.record(took);
        }
    }

    /// Whether a turn that began `at` should sample the gauges: the first
    /// turn does, then at most one every `GAUGE_PERIOD`. A chain of short
    /// tasks ends a turn per task; sampling each would cost more than the
    /// gauges are worth (they are scraped every few seconds).
    #[inline]
    pub(crate) fn due(&mut self, at: Instant) -> bool {
        match self.next_sample {
            Some(next) if at < next => false,
            _ => {
                self.next_sample = Some(at + GAUGE_PERIOD);
                true
            }
        }
    }

    /// The state at the end of a turn: attempts in flight, work queued,
    /// bytes held.
    pub(crate) fn turn(&mut self, in_flight: usize, queued: usize, held_bytes: usize) {
        let m = &*self.shared;
        if self.clones > 0 {
            m.context_clones.increment(self.clones);
            self.clones = 0;
        }
        let delta = |now: usize, before: &mut usize, gauge: &Gauge| {
            if now != *before {
                gauge.increment(now as f64 - *before as f64);
                *before = now;
            }
        };
        delta(in_flight, &mut self.reported_in_flight, &m.in_flight);
        delta(queued, &mut self.reported_queue, &m.queue_depth);
        delta(held_bytes, &mut self.reported_bytes, &m.context_bytes);
    }

    /// The run ended: its part of the shared gauges is taken back.
    pub(crate) fn end(&mut self, status: RunStatus, took: Duration, held_bytes: usize) {
        self.turn(0, 0, 0);
        let m = &*self.shared;
        m.active.decrement(1.0);
        m.run_context_bytes.record(held_bytes as f64);
        if let Some(k) = ENDED.iter().position(|s| *s == status) {
            let (count, duration) = &m.ended[k];
            count.increment(1);
            duration.record(took);
        }
    }
}

/// How often a run samples its gauges, at most.
const GAUGE_PERIOD: Duration = Duration::from_millis(1);

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
