//! The scheduler: one async loop per run that owns all of the run's state.
//!
//! # Messages and what they do
//!
//! The loop waits on one `flume` receiver and wakes only for a message:
//!
//! * `Done` — an action attempt (or one item's attempt) finished. The
//!   scheduler records it, decides on a retry (spawning the next attempt,
//!   whose delay runs in the spawned task), and when the task instance is
//!   complete evaluates its `next` transitions in order: publishes variables,
//!   counts arrivals at joins, creates instances of the targets and spawns
//!   their actions — all in the same turn.
//! * `Started` — an attempt began (sent only while someone listens to events).
//! * `Control` — cancel, abort, pause, resume, re-run, a journal failure,
//!   a new event subscriber, an answer to a waiting task, or a request for
//!   the tasks that wait.
//!
//! Work that completes without an action (a task with no `action`, an input
//! that fails to render) goes on a local queue, so long chains of such tasks
//! never recurse.
//!
//! # Task instance states
//!
//! `Pending` (created; delay, join or concurrency slot pending) → `Running`
//! (attempt spawned) → `Succeeded` | `Failed` | `TimedOut` | `Canceled`. A
//! retry keeps the instance `Running`. An attempt that ends in a wait puts
//! the instance back to `Pending` until an answer or its deadline
//! (`waits.rs`).
//!
//! # Run states
//!
//! `Running` → (`Failing` on an unhandled failure, `fail`, an unsatisfiable
//! join or the instance limit | `Canceling` on cancel) → ended when nothing is
//! in flight. In `Failing` and `Canceling` nothing new starts: transitions
//! are still evaluated (so errors are recorded) but their targets are
//! skipped; attempts still waiting for a delay are dropped.
//!
//! # Invariants
//!
//! * `in_flight` counts spawned attempts whose `Done` has not been handled;
//!   the run ends exactly when it reaches zero, the local queue is empty,
//!   and nothing is held by a pause or waits for an answer.
//! * Every instance is created by one satisfied transition (or as a start
//!   task, or by a join firing once), and spawns at most `retry.count + 1`
//!   attempts per item.
//! * Only this loop writes the context; inputs are rendered here, at
//!   dispatch.

mod bits;
mod completion;
mod dispatch;
mod env;
mod finish;
mod inline;
mod items;
mod journal;
mod launch;
mod pool;
mod scope;
mod stamp;
mod state;
mod transitions;
mod waits;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::Instrument;
use weft_core::{Plan, TaskId, TaskStatus, WorkflowContext};

use crate::attempt::StopSignal;
use crate::event::{Event, EventKind};
use crate::id::RunId;
use crate::limits::DEFAULT_EXTRA_INSTANCES;
use crate::outcome::RunError;
use crate::outcome::RunStatus;
use crate::run::msg::{AttemptKey, Control, Done, InstanceId, ItemIndex, Msg, SlotId};
use crate::run::{OutcomeSender, Run, RunHandle, RunOptions, SharedStatus};
use crate::secrets::Secrets;
use crate::store::Command;
use crate::telemetry::RunMetrics;
use bits::Branches;
pub(crate) use env::{Actions, RunEnv, RunHost};
use journal::ReplayError;
pub(crate) use journal::RunJournal;
pub(crate) use pool::RunBuffers;
use scope::Scope;
use stamp::Stamp;

/// Where the run is: going on, or stopping because it failed or was
/// canceled first (and whether the other happened since). Nothing new
/// starts once it is not `Running`; the run's status is `failed` if it
/// ever failed, else `canceled` if it was canceled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Running,
    Failing { canceled: bool },
    Canceling { failed: bool },
}

impl State {
    /// The run failed (first, or after a cancel).
    fn failed(self) -> bool {
        matches!(
            self,
            State::Failing { .. } | State::Canceling { failed: true }
        )
    }

    /// The run was canceled (first, or after it began to fail).
    fn canceled(self) -> bool {
        matches!(
            self,
            State::Canceling { .. } | State::Failing { canceled: true }
        )
    }
}

struct Items {
    total: usize,
    list: Vec<Arc<Value>>,
    results: Vec<Arc<Value>>,
    next: usize,
    running: usize,
    concurrency: usize,
    failure: Option<(TaskStatus, String)>,
    /// A `Work::Fill` for this instance is queued.
    fill_queued: bool,
    /// When the latest item ended: the instance's end once all have (a
    /// replayed item ends when its record says, not when it is replayed).
    last_end: Option<Instant>,
}

struct Instance {
    task: TaskId,
    /// The route it runs in (0: the run's first; see [`RouteStep`]).
    route: u32,
    /// How many instances led to this one from a start task (a join: one
    /// more than its latest branch). Route numbers are made from it, so
    /// they do not depend on which of two concurrent tasks ended first.
    level: u32,
    status: TaskStatus,
    /// Its failure failed the run (nothing remediated it): a re-run starts
    /// it again.
    unremediated: bool,
    attempts: u32,
    /// The completion after which it was dispatched (0: a start task), for
    /// Orquesta's order of task entries (see [`Terminal`]).
    batch: u32,
    started: Option<Stamp>,
    ended: Option<Stamp>,
    result: Option<Arc<Value>>,
    /// What few instances have; see [`Rare`].
    rare: Option<Box<Rare>>,
    /// The variables it sees: the scope of the branch that led to it.
    scope: Scope,
}

/// A wide run makes an instance per task and reads each at every phase:
/// it is kept to a line and an eighth (see `stamp.rs`; what enabled it,
/// for the metrics only, is in `Graph::causes`).
const _: () = assert!(std::mem::size_of::<Instance>() <= 72, "Instance grew");
const _: () = assert!(std::mem::size_of::<Rare>() <= 80, "Rare grew");

/// The parts of an instance that few have, boxed together so that the
/// others do not carry them: an error (a failed instance), child runs (a
/// sub-workflow's task), a timeout, items (a with-items task).
#[derive(Default)]
struct Rare {
    error: Option<String>,
    /// The sub-workflow runs its attempts started, in order.
    child_runs: Vec<RunId>,
    timeout: Option<Duration>,
    /// Boxed on its own: a with-items task's state is some 130 bytes,
    /// which every other instance with rare parts (a timeout, an error,
    /// a sub-workflow) would carry otherwise.
    items: Option<Box<Items>>,
}

impl Instance {
    /// Its error, if it failed.
    fn error(&self) -> Option<&str> {
        self.rare.as_deref()?.error.as_deref()
    }

    /// Sets its error (`None`: none), with no box made for `None`.
    /// Inlined to its first test: most instances end without an error and
    /// without rare parts, where the call cost more than the test.
    #[inline]
    fn set_error(&mut self, error: Option<String>) {
        if error.is_none() && self.rare.is_none() {
            return;
        }
        self.set_error_rare(error);
    }

    #[inline(never)]
    fn set_error_rare(&mut self, error: Option<String>) {
        match (&mut self.rare, error) {
            (Some(rare), error) => rare.error = error,
            (None, None) => {}
            (None, error) => self.rare_mut().error = error,
        }
    }

    fn timeout(&self) -> Option<Duration> {
        self.rare.as_deref()?.timeout
    }

    /// Its items, if it is a with-items task's (and they were evaluated).
    fn items(&self) -> Option<&Items> {
        self.rare.as_deref()?.items.as_deref()
    }

    fn items_mut(&mut self) -> Option<&mut Items> {
        self.rare.as_deref_mut()?.items.as_deref_mut()
    }

    /// Its rare parts, made on first use.
    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

/// A terminal entry of Orquesta's task sequence: `output` is rendered from
/// the merge of their scopes, in Orquesta's order. In Orquesta a task's
/// entry is made when the task starts, and the tasks that one completion
/// makes ready start together, by name and route; the entries of the
/// engine commands (`continue`, `noop`, `fail`) a completion takes are made
/// during that completion, before those tasks, by command name.
struct Terminal {
    /// The completion it belongs to (0: before the first).
    batch: u32,
    /// The task (for an engine command: the one whose completion took it).
    task: TaskId,
    route: u32,
    /// For engine commands of one completion: their order.
    order: u32,
    /// The task instance; `None` for an engine command, whose entries come
    /// before the tasks' of the same completion.
    instance: Option<InstanceId>,
    scope: Scope,
}

/// The state of one join task in a run: that of the plan's join
/// `join_specs()[j]` (`j` its place in `Graph::joins`, or in the key of
/// `Graph::route_joins`), whose task and need the state does not repeat.
/// Branch `i` is the task's `inbound[i]` in the plan.
struct JoinState {
    /// Which branches arrived, and which declined.
    branches: Branches,
    /// The scopes of the branches that arrived, merged in arrival order;
    /// taken when the join's instance is made.
    scope: Option<Scope>,
    arrived_count: u32,
    /// The highest level of the instances that arrived.
    level: u32,
    /// The completion whose arrival made it fire: later arrivals of that
    /// completion still reach its scope (Orquesta extends the staged join
    /// with every edge of a completion before the join starts).
    fired_batch: u32,
    fired: bool,
}

/// A wide run has a state per join task (961 on `wavefront`), written at
/// its start, read at each arrival and dropped at its end: kept to a line.
const _: () = assert!(std::mem::size_of::<JoinState>() <= 64, "JoinState grew");

impl JoinState {
    fn new(branches: usize) -> JoinState {
        JoinState {
            branches: Branches::new(branches),
            scope: None,
            arrived_count: 0,
            level: 0,
            fired_batch: 0,
            fired: false,
        }
    }
}

/// One route of the run (Orquesta's splits): the route `parent` continued
/// through transition `key` of task `from` into the split task `target`,
/// when an instance of `from` at `level` completed. Route 0 is the run's
/// first; its step is unused. Routes are numbered in the order they are
/// made while the run goes on; the outcome numbers them again in an order
/// that depends only on the workflow (see `finish`).
struct RouteStep {
    parent: u32,
    from: TaskId,
    key: u32,
    target: TaskId,
    level: u32,
    /// The route as events name it: its split edges, `task__tK`.
    path: Arc<[String]>,
}

/// An attempt in flight: its tokio task (none while its launch is held),
/// and which instance and item it runs.
struct InFlight {
    task: Option<JoinHandle<()>>,
    instance: InstanceId,
    item: Option<ItemIndex>,
}

/// Work a failing or canceled run did not do.
#[derive(Clone)]
enum Skipped {
    /// Transition `ti` of `from`, in `route` at `level`, to `target`,
    /// carrying `scope`.
    Arrival {
        target: TaskId,
        from: TaskId,
        ti: u32,
        route: u32,
        level: u32,
        scope: Scope,
    },
    /// An instance of `task` in `route` at `level`, in `scope`.
    Dispatch {
        task: TaskId,
        route: u32,
        level: u32,
        scope: Scope,
    },
}

/// A task instance (or item) waiting for an answer; see `waits.rs`.
struct Waiting {
    key: AttemptKey,
    wait: Box<crate::wait::Wait>,
    /// When it began to wait.
    since: Instant,
    /// When its timeout runs out.
    deadline: Option<Instant>,
}

/// An attempt held back while the run is paused.
struct Held {
    key: AttemptKey,
    delay: Option<Duration>,
}

/// Work for the current turn. Its size is that of its biggest variant,
/// `Completed` (a `Done` by value: 80 bytes on 64-bit targets), and a
/// fan-out to a million tasks queues a million of these: keep new variants
/// no bigger.
enum Work {
    /// A task instance to create, the route it runs in, and its level.
    Dispatch {
        task: TaskId,
        route: u32,
        level: u32,
    },
    /// By value, as it came in its message: a box would cost an
    /// allocation per attempt.
    Completed(Done),
    Finish(InstanceId),
    /// The `fail` command, queued behind the dispatches of its transition so
    /// that `do: [notify, fail]` still starts `notify`.
    Fail(Box<(Arc<str>, String)>),
    /// Start more items of an instance: queued after each `FILL_CHUNK` items
    /// (items.rs), so how many start per step never depends on time.
    Fill(InstanceId),
}

const _: () = assert!(std::mem::size_of::<Work>() <= 80, "Work grew");

/// Work one turn may do before the loop yields to the runtime: each queued
/// work item and each spawned attempt costs one.
///
/// Without it, a turn that starts a million tasks (a wide workflow, a long
/// `with` list) would hold a million spawned tasks and their futures at
/// once on a current_thread runtime, and then a million completions in the
/// channel; and a loop of tasks without actions would never give the
/// runtime back, so a cancel (a message like any other) would never be
/// read. It is not a concurrency limit: ready tasks keep being started,
/// a budget's worth at a time, without waiting for any to finish; the
/// yields only let the ones already spawned run in between, and let this
/// loop read its control messages.
const TURN_BUDGET: u32 = 1024;

/// Longest a turn goes on doing work before it yields, however little of
/// its budget it spent: the work items that evaluate expressions cost far
/// more than the budget's unit. Checked every [`CLOCK_EVERY`] work items.
const TURN_TIME: Duration = Duration::from_millis(2);

/// Work items between two reads of the clock in a turn.
const CLOCK_EVERY: u32 = 16;

/// The most entries a run's context maps may have room for and still be
/// kept for another run (see `RunHost::keep_run_buffers`).
const KEPT_CONTEXT_ENTRIES: usize = 1 << 12;

/// The path of the run's first route (no split edges), shared instead of
/// allocated once per run.
fn empty_path() -> Arc<[String]> {
    static EMPTY: std::sync::OnceLock<Arc<[String]>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(Vec::new())).clone()
}

/// The result of actions that return nothing, shared instead of allocated
/// once per task.
fn null_result() -> Arc<Value> {
    crate::attempt::shared(Value::Null)
}

/// The run's task graph as it unfolds: the instances made, the joins'
/// and routes' states, and Orquesta's terminal entries. Only the scheduler
/// writes it; a replay rebuilds it from the plan and the records.
struct Graph {
    /// The task instances, by [`InstanceId`].
    instances: Vec<Instance>,
    /// When the action that enabled each instance ended, by
    /// [`InstanceId`] (kept only with metrics on: empty, or shorter than
    /// `instances`, without).
    causes: Vec<Option<Stamp>>,
    /// The join tasks' states in route 0, in task order.
    joins: Vec<JoinState>,
    /// How many of `joins` some branch reached and that have not fired:
    /// the run's end looks for joins that can never fire only when some
    /// wait (most runs' joins all fired, and a wide run's states are many
    /// cache lines to read again).
    joins_waiting: u32,
    /// The join tasks' states in other routes, by (index in `joins`,
    /// route); made for the first (only a run with splits has any).
    /// Boxed, as `Scheduler::var_bytes`: see `Scheduler::action_of`.
    #[allow(clippy::box_collection)]
    route_joins: Option<Box<HashMap<(u32, u32), JoinState>>>,
    /// The run's routes; see [`RouteStep`].
    routes: Vec<RouteStep>,
    /// Per task, its index in `joins` (`None`: it is no join); empty for a
    /// plan without joins.
    join_slot: Vec<Option<u32>>,
    /// The terminal entries so far (see [`Terminal`]).
    terminal: Vec<Terminal>,
    /// The instance whose completion was handled last, if it was not
    /// terminal then: it is, if the run ends after it.
    last_open: Option<InstanceId>,
    /// Completions of task instances so far.
    batch: u32,
    /// Work not done because the run was failing or canceled, for a
    /// re-run to do.
    skipped: Vec<Skipped>,
}

/// The work of the current turn: the local queue and what rides beside it,
/// and the turn's budget (see [`TURN_BUDGET`]).
struct Turn {
    queue: VecDeque<Work>,
    /// Work left in this turn; see [`TURN_BUDGET`].
    budget: u32,
    /// When this turn began, or (without metrics) when it began its
    /// second queued work item; see [`TURN_TIME`].
    started: Instant,
    /// `started` was read in this turn.
    timed: bool,
    /// `Work::Fail` entries in the queue.
    fails_queued: usize,
    /// Completions taken from the channel after a yield (buffer reused).
    arrived: Vec<Done>,
    /// What enabled the dispatches in the queue, in their order; see
    /// `queue_dispatch`.
    causes: VecDeque<Option<Stamp>>,
    /// What enables the dispatches being queued now.
    cause: Option<Stamp>,
    /// The scope of each dispatch in the queue, and the completion after
    /// which it was queued, in their order (kept beside the queue so that
    /// `Work` stays small).
    scopes: VecDeque<(Scope, u32)>,
}

pub(crate) struct Scheduler {
    /// What the run is made from (see [`RunEnv`]): read, never changed,
    /// while it runs (its actions are freed at the end).
    env: RunEnv,
    ctx: WorkflowContext,
    run_id: RunId,
    /// The run whose task started this one, for a sub-workflow.
    parent: Option<RunId>,
    /// The values of secret inputs, masked in all the run emits.
    secrets: Option<Box<Secrets>>,
    /// What the run's handles read as its status.
    status: Arc<SharedStatus>,
    /// Paused: attempts about to start are held back in `held` instead.
    paused: bool,
    held: Vec<Held>,
    /// Tasks waiting for an answer, oldest first.
    waits: Vec<Waiting>,
    rx: flume::Receiver<Msg>,
    /// The loop's wait for its next message, kept from turn to turn (see
    /// [`Scheduler::next_message`]).
    recv: flume::r#async::RecvFut<'static, Msg>,
    tx: flume::Sender<Msg>,
    /// Where the outcome goes (the run's status carries it to its `Run`).
    outcome_tx: Option<OutcomeSender>,
    subscribers: Vec<flume::Sender<Event>>,
    /// Attempts in flight, by slot.
    slots: Vec<Option<InFlight>>,
    /// The attempts the run's task polls itself (their slots' `task` is
    /// `None`): one that started while nothing else was in flight, and on
    /// a current_thread runtime every plain one (see `attempt.rs`,
    /// `inline.rs`). Polled as the loop waits for its next message.
    inline: inline::Inline,
    /// Every plain attempt is polled by the run's task (a current_thread
    /// runtime), not only one that starts alone.
    inline_all: bool,
    /// An attempt was spawned in a task of its own since the loop last
    /// waited: the next wait goes behind it first (see [`NextMessage`]).
    spawned: bool,
    free_slots: Vec<SlotId>,
    /// The box the run's buffers came in, emptied, to hand them back in
    /// at the end: the buffers go from one run to the next as a pointer
    /// (see `pool.rs`).
    buffers_box: Option<Box<RunBuffers>>,
    in_flight: usize,
    state: State,
    /// Watched by attempts that wait (a delay, a global slot); made for the
    /// first of them. Once the run stops, nothing new waits.
    stop: Option<Arc<StopSignal>>,
    errors: Vec<RunError>,
    /// Work items done since the run began: where the journal places
    /// outcomes and commands (see `journal.rs`).
    step: u64,
    /// The journal of a durable run.
    journal: Option<Box<RunJournal>>,
    /// The records of this run said it had ended (it is being re-run).
    ended_before: bool,
    started: Instant,
    started_sys: SystemTime,
    max_instances: usize,
    /// Bytes of results and variables the run holds (see `Limits`).
    held_bytes: usize,
    /// The size counted for each variable's current value; made for the
    /// first variable. Boxed: a `HashMap` is 48 bytes, and the scheduler
    /// is kept within a block of glibc's per-thread cache (see
    /// `action_of`).
    #[allow(clippy::box_collection)]
    var_bytes: Option<Box<HashMap<Arc<str>, usize>>>,
    actions_run: usize,
    /// The run's metrics; `None` while it is only inspected, and when no
    /// recorder is installed (see `telemetry::recorder_installed`).
    metrics: Option<Box<RunMetrics>>,
    /// Per task, the number of its action among the run's distinct actions
    /// (`None`: no action), for per-action metrics. A boxed slice, 8
    /// bytes less than a `Vec`: see `SCHEDULER_BYTES`.
    action_of: Box<[Option<u32>]>,
    /// The task graph as it unfolds.
    graph: Graph,
    /// The work of this turn.
    turn: Turn,
}

/// The most bytes the scheduler may take (on 64-bit targets): the
/// biggest block glibc's per-thread cache serves (1,032 bytes). Its box
/// is allocated and freed once a run; a bigger one is a request in the
/// large range, which misses that cache, sorts the fast bins first, and
/// goes through the bins again when freed (at 1,080 bytes, ≈ 380
/// instructions a run more than at 1,000 on `diamond`). Held by a test,
/// not a compile-time assertion: a dependency's type (flume's receive
/// future) is inside, and a compatible update of it must not stop a
/// build, only fail this crate's tests.
#[cfg(test)]
const SCHEDULER_BYTES: usize = 1032;

impl Scheduler {
    /// A run of `env.plan` with `parameters`, and its handle; nothing
    /// happens until [`Scheduler::run`] is spawned. Its buffers are
    /// `buffers` (an ended run's, or new ones). `started_sys` is the
    /// run's start on the system clock (read once for its id as well).
    ///
    /// The scheduler (about a kilobyte) is boxed here, where it is made,
    /// and goes from here to its run's task as a pointer: returned by
    /// value, each function on the way (`new_run`, `start_with`) copied it
    /// whole again, ≈ 1,200 instructions of `memcpy` a run.
    pub(crate) fn new(
        mut env: RunEnv,
        mut buffers: Box<RunBuffers>,
        parameters: Value,
        run_id: RunId,
        started_sys: SystemTime,
        options: &RunOptions,
    ) -> (Box<Scheduler>, Run) {
        let plan = &env.plan;
        let (tx, rx) = flume::unbounded();
        let mut subscribers = Vec::new();
        let events = match options.events {
            true => Some(event_channel(&mut subscribers)),
            false => None,
        };
        let tasks = plan.tasks();
        let n_tasks = tasks.len();
        buffers.slots.reserve(n_tasks.min(1 << 16));
        let mut joins = std::mem::take(&mut buffers.joins);
        let mut join_slot = std::mem::take(&mut buffers.join_slot);
        // From the plan's table of joins (a few bytes each, side by
        // side): a wide plan's tasks are many cache lines to read each
        // run. A join's state is at the same place in `joins` as its
        // entry in the table.
        if !plan.join_specs().is_empty() {
            join_slot.resize(tasks.len(), None);
            for spec in plan.join_specs() {
                join_slot[spec.task as usize] = Some(joins.len() as u32);
                joins.push(JoinState::new(spec.inbound.len()));
            }
        }
        let status = Arc::new(SharedStatus::new(
            RunStatus::Running,
            env.pauses.clone(),
            run_id,
            plan.name().clone(),
        ));
        // The tasks' results go to the context's slots, by task id
        // (`set_task_result_at`): its map by name needs no room for them.
        let mut ctx = match buffers.context.take() {
            Some(maps) => {
                WorkflowContext::with_maps(maps.for_tasks(plan.task_index()), parameters, 0)
            }
            None => fresh_context(parameters),
        };
        // `system.run_id` and `system.workflow`, made only if read.
        ctx.defer_system(status.clone());
        // (Most executors give runs no context of their own; taken from
        // `env` only when there is some.)
        if !env.context.is_empty() {
            set_run_context(&mut ctx, std::mem::take(&mut env.context));
        }
        let max_instances = env
            .limits
            .max_task_instances
            .unwrap_or(tasks.len().saturating_add(DEFAULT_EXTRA_INSTANCES));
        let run = Run {
            handle: RunHandle {
                id: run_id,
                control: tx.clone(),
                status: status.clone(),
            },
            events,
            recorded: crate::run::Recorded::InMemory,
            ended: false,
        };
        let secrets = Secrets::of(plan, ctx.parameters());
        let outcome_tx = OutcomeSender::new(status.clone());
        // One clock reading for the run's start and its first turn's.
        let now = Instant::now();
        let s = Box::new(Scheduler {
            env,
            ctx,
            run_id,
            secrets,
            parent: options.parent,
            status,
            paused: false,
            held: Vec::new(),
            waits: Vec::new(),
            recv: rx.clone().into_recv_async(),
            rx,
            tx,
            outcome_tx: Some(outcome_tx),
            subscribers,
            slots: std::mem::take(&mut buffers.slots),
            free_slots: std::mem::take(&mut buffers.free_slots),
            in_flight: 0,
            inline: inline::Inline::with_set(buffers.inline.take()),
            inline_all: false,
            spawned: false,
            state: State::Running,
            stop: None,
            errors: Vec::new(),
            step: 0,
            journal: None,
            ended_before: false,
            started: now,
            started_sys,
            max_instances,
            held_bytes: 0,
            var_bytes: None,
            actions_run: 0,
            metrics: None,
            action_of: Box::default(),
            graph: Graph {
                instances: {
                    let mut instances = std::mem::take(&mut buffers.instances);
                    instances.reserve(n_tasks);
                    instances
                },
                causes: Vec::new(),
                joins,
                joins_waiting: 0,
                route_joins: None,
                routes: {
                    let mut routes = std::mem::take(&mut buffers.routes);
                    routes.push(RouteStep {
                        parent: 0,
                        from: 0,
                        key: 0,
                        target: 0,
                        level: 0,
                        path: empty_path(),
                    });
                    routes
                },
                join_slot,
                terminal: Vec::new(),
                last_open: None,
                batch: 0,
                skipped: Vec::new(),
            },
            turn: Turn {
                queue: std::mem::take(&mut buffers.queue),
                budget: TURN_BUDGET,
                started: now,
                timed: true,
                fails_queued: 0,
                arrived: std::mem::take(&mut buffers.arrived),
                causes: std::mem::take(&mut buffers.causes),
                cause: None,
                scopes: std::mem::take(&mut buffers.scopes),
            },
            buffers_box: Some(buffers),
        });
        (s, run)
    }

    /// Makes the run durable: it records into `journal` (or, for a resumed
    /// run, replays it first).
    pub(crate) fn with_journal(mut self: Box<Self>, journal: RunJournal) -> Box<Scheduler> {
        self.journal = Some(Box::new(journal));
        self
    }

    /// For a resumed run: it began at `at`, not now.
    pub(crate) fn began_at(mut self: Box<Self>, at: SystemTime) -> Box<Scheduler> {
        let ago = SystemTime::now().duration_since(at).unwrap_or_default();
        self.started_sys = at;
        self.started = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
        self
    }

    /// The replay could not go on: the run fails, and what the replay held
    /// never runs.
    fn replay_failed(&mut self, why: ReplayError) {
        let pending = self.take_pending();
        for slot in pending {
            self.slots[slot.index()] = None;
            self.free_slots.push(slot);
            self.in_flight -= 1;
        }
        self.journal_failed(format!("the journal cannot be replayed: {why}"));
    }

    /// Spawns the run on `runtime`.
    ///
    /// On a current_thread runtime an attempt's task would run on the
    /// run's thread anyway: every plain attempt is polled by the run's
    /// task. The flavor is read from the handle the caller holds already
    /// (asking tokio for the current one in the run's task cloned and
    /// dropped a reference-counted handle each run). Inlined into its
    /// callers: a call moved the run's future once more on its way into
    /// tokio's task cell (≈ 90 instructions of `memcpy` a run).
    #[inline(always)]
    pub(crate) fn spawn(mut self: Box<Self>, runtime: &tokio::runtime::Handle) {
        self.inline_all = !self.env.spawn_every_attempt
            && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread;
        runtime.spawn(self.run());
    }

    /// The run, to spawn (see [`Scheduler::spawn`]). Its future holds the
    /// boxed scheduler, a pointer, so that spawning it and tokio's moves of
    /// the task's stage copy a few words, not the scheduler.
    async fn run(mut self: Box<Self>) {
        let span = tracing::info_span!(
            "run",
            run_id = %self.run_id,
            workflow = %self.env.plan.name(),
            status = tracing::field::Empty
        );
        let span2 = span.clone();
        async move {
            // Without a recorder the run keeps no metrics state at all: no
            // handles, no dispatch causes, no per-action table.
            if crate::telemetry::recorder_installed() {
                self.start_metrics();
            }
            self.begin();
            if self.replaying() {
                self.replay_first().await;
            }
            loop {
                self.drain_queue();
                if !self.turn.queue.is_empty() {
                    // Out of budget: let what was spawned run, then handle
                    // what it finished before the rest of the queue, so
                    // finished attempts do not pile up behind it.
                    if self.turn_has_end() && !self.end_turn_at_once() {
                        self.end_turn_waiting().await;
                    }
                    // The attempts this task polls itself go on first.
                    self.poll_inline().await;
                    tokio::task::yield_now().await;
                    // The yield let what was spawned run first.
                    self.spawned = false;
                    self.new_turn();
                    self.take_arrived();
                    continue;
                }
                if self.in_flight == 0 {
                    if self.held.is_empty() && self.waits.is_empty() {
                        break;
                    }
                    // Paused with work held back, or waiting for answers:
                    // wait for them, a resume or a cancel.
                    self.status.set(RunStatus::Paused);
                }
                // Write-behind, a turn's few records wait for the next
                // turn's when its message is here already (an attempt this
                // task polls that ends at once: a chain's next hop), and go
                // with them: records are handed over before the run waits
                // or yields, not at every turn's end.
                let here = match self.defers_records() {
                    true => self.message_now().await,
                    false => None,
                };
                let msg = match here {
                    Some(msg) => msg,
                    None => {
                        if self.turn_has_end() && !self.end_turn_at_once() {
                            self.end_turn_waiting().await;
                        }
                        // A wait's deadline is the only timer the loop keeps.
                        // (The message is not wrapped in an `Option` for the
                        // wait without one: each wrapping and unwrapping
                        // copied it.)
                        match self.next_deadline() {
                            None => self.next_message().await,
                            // Boxed: a timer is big, and rare (a wait with a
                            // timeout).
                            Some(at) => match Box::pin(self.next_message_until(at)).await {
                                Some(msg) => msg,
                                None => {
                                    self.new_turn();
                                    self.expire_due();
                                    continue;
                                }
                            },
                        }
                    }
                };
                let Ok(msg) = msg else {
                    break;
                };
                self.new_turn();
                // Handle whatever else is already queued before waiting again
                // (what the budget leaves is taken after the yield).
                let mut next = self.rx.try_recv();
                match msg {
                    // The turn's only message, a completion, and nothing
                    // queued: done at once, as the queue would do it next.
                    Msg::Done(done) if next.is_err() && self.turn.queue.is_empty() => {
                        self.turn.budget -= 1;
                        self.process_completed(done);
                    }
                    msg => self.handle(msg),
                }
                // A message taken is handled: the next one is taken only
                // while the budget lasts.
                while let Ok(msg) = next {
                    self.handle(msg);
                    self.drain_queue();
                    if self.turn.budget == 0 {
                        break;
                    }
                    next = self.rx.try_recv();
                }
            }
            // No control message is read from here on, and `finish` sends
            // the last event: whoever waits for a reply to a message sent
            // now, or for more events, hears that the run ended.
            let outcome = self.finish();
            self.status.close();
            // Taken: what follows (the last journal turn) is not the run's
            // any more in the gauges.
            if self.metrics.is_some() {
                self.end_metrics(outcome.status);
            }
            // The flush's future is boxed, with the outcome in it, and only
            // a journaled run makes it: held in the run's future, the two
            // made that future 768 bytes (512 without them), and its
            // task's cell a request in glibc's large range, before each
            // of which it sorts its fast bins.
            let outcome = if self.journal.is_some() {
                self.flush_with(outcome).await
            } else {
                outcome
            };
            span2.record("status", outcome.status.as_str());
            self.status.set(outcome.status);
            self.env.host.run_ended(self.run_id);
            let outcome_tx = self.outcome_tx.take();
            // The context's maps and the scheduler's buffers, emptied, for
            // the executor's next run (unless something still holds a
            // clone of the context, or they grew big), in one box —
            // before the outcome is sent: on multi_thread the caller may
            // start its next run the moment it has it, and would find the
            // pool empty.
            self.hand_back();
            if let Some(tx) = outcome_tx {
                tx.send(outcome);
            }
        }
        .instrument(span)
        .await;
    }

    /// The scheduler dropped, its buffers and context maps handed back to
    /// the executor for its next run (see `pool.rs`). Out of the run's
    /// loop: the drop code of the scheduler's fields lay there between the
    /// lines of the loop's rare branches.
    #[inline(never)]
    fn hand_back(mut self: Box<Self>) {
        let buffers = self.take_buffers();
        // Only `ctx` and `env` are moved out of the box; the rest is
        // dropped in place (`*self` moved whole copied the scheduler,
        // ≈ 120 instructions of `memcpy` a run).
        let Scheduler { ctx, env, .. } = *self;
        let maps = ctx.into_maps(KEPT_CONTEXT_ENTRIES);
        let kept = match (buffers, maps) {
            (Some(mut buffers), maps) => {
                buffers.context = maps;
                Some(buffers)
            }
            // Buffers too big to keep: the maps go alone.
            (None, Some(maps)) => Some(maps_alone(maps)),
            (None, None) => None,
        };
        if let Some(kept) = kept {
            env.host.keep_run_buffers(kept);
        }
    }

    /// The run's metrics state, with a recorder installed.
    #[cold]
    #[inline(never)]
    fn start_metrics(&mut self) {
        let (action_of, distinct) = number_actions(&self.env.plan);
        self.action_of = action_of.into_boxed_slice();
        self.metrics = Some(Box::new(RunMetrics::start(
            self.env.host.metrics(),
            self.env.plan.name(),
            distinct,
        )));
    }

    /// The run's metrics ended with `status` (taken: what follows is not
    /// the run's any more in the gauges).
    #[cold]
    #[inline(never)]
    fn end_metrics(&mut self, status: RunStatus) {
        if let Some(mut m) = self.metrics.take() {
            m.end(status, self.started.elapsed(), self.held_bytes);
        }
    }

    /// A resumed run's replay, then the commands that came while it
    /// replayed (a re-run, a resume), in order. Boxed, as the flush: the
    /// run's future is as big as its biggest wait, and a replay is rare.
    #[cold]
    #[inline(never)]
    fn replay_first(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Err(e) = self.replay().await {
                self.replay_failed(e);
            }
            while let Ok(msg) = self.rx.try_recv() {
                self.handle(msg);
            }
        })
    }

    /// A journaled run's last flush, with its outcome held in the same box
    /// (see `run`).
    #[cold]
    #[inline(never)]
    fn flush_with(
        &mut self,
        outcome: crate::outcome::RunOutcome,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::outcome::RunOutcome> + Send + '_>>
    {
        Box::pin(async move {
            self.flush_journal().await;
            outcome
        })
    }

    /// The run's first work: control messages sent before it, the
    /// workflow's variables, its start tasks queued. (What few runs have —
    /// an early message, an event subscriber, variables — is done out of
    /// line, so that a run without them goes through a few lines.)
    fn begin(&mut self) {
        // Control messages sent before the first turn (a subscription right
        // after `start`) are honoured before anything happens; a run being
        // replayed takes them after its records.
        if !self.replaying() {
            if let Ok(msg) = self.rx.try_recv() {
                self.early_messages(msg);
            }
        }
        if !self.subscribers.is_empty() {
            self.emit_run_started();
        }
        if !self.env.plan.vars().is_empty() && !self.set_vars() {
            return;
        }
        let initial = Scope::initial(self.ctx.variables().clone());
        // Sized once: a workflow of many start tasks does not grow the
        // queues (copying what they hold) as it queues them. (By index:
        // the plan is not cloned to be read while tasks are queued.)
        let starts = self.env.plan.starts().len();
        self.turn.queue.reserve(starts);
        self.turn.scopes.reserve(starts);
        for i in 0..starts {
            let t = self.env.plan.starts()[i];
            self.queue_dispatch(t, 0, 0, initial.clone());
        }
    }

    /// `msg` and the other control messages sent before the run's first
    /// turn, handled.
    #[cold]
    #[inline(never)]
    fn early_messages(&mut self, msg: Msg) {
        self.handle(msg);
        while let Ok(msg) = self.rx.try_recv() {
            self.handle(msg);
        }
    }

    /// The `RunStarted` event, for a run with subscribers.
    #[cold]
    #[inline(never)]
    fn emit_run_started(&mut self) {
        let workflow = self.env.plan.name().clone();
        self.emit(|| EventKind::RunStarted { workflow });
    }

    /// The workflow's variables, set in order (each sees the inputs and
    /// the variables before it); `false` when one failed, and the run
    /// with it.
    #[cold]
    #[inline(never)]
    fn set_vars(&mut self) -> bool {
        let plan = self.env.plan.clone();
        for (name, value) in plan.vars() {
            let set = match value.render(&self.ctx) {
                Ok(v) => self
                    .count_var(name, &v)
                    .map(|()| self.ctx.set_var(name.as_str(), v))
                    .map_err(|e| format!("vars.{name}: {e}")),
                Err(e) => Err(plan.describe_error(&e, &format!("vars.{name}"))),
            };
            if let Err(message) = set {
                self.fail_run(None, message);
                return false;
            }
        }
        true
    }

    /// Queues an instance of `task`. Its cause — the moment the action that
    /// enabled it ended, for the dispatch latency metric — goes into a
    /// queue of its own, in step with the dispatches (which are all queued
    /// at the back and taken from the front), so that `Work` stays small.
    fn queue_dispatch(&mut self, task: TaskId, route: u32, level: u32, scope: Scope) {
        if self.metrics.is_some() {
            self.turn.causes.push_back(self.turn.cause);
        }
        self.turn.scopes.push_back((scope, self.graph.batch));
        self.turn
            .queue
            .push_back(Work::Dispatch { task, route, level });
    }

    /// `at` on this run's clock (see `stamp.rs`).
    fn stamp(&self, at: Instant) -> Stamp {
        Stamp::new(self.started, at)
    }

    /// Now, on this run's clock.
    fn stamp_now(&self) -> Stamp {
        self.stamp(Instant::now())
    }

    /// The context instance `id` sees: the run's, with its branch's
    /// variables.
    fn ctx_of(&self, id: InstanceId) -> WorkflowContext {
        self.ctx
            .with_variables(self.graph.instances[id.index()].scope.vars.clone())
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Done(done) => self.turn.queue.push_back(Work::Completed(done)),
            Msg::Started { key, at } => {
                let t = self.graph.instances[key.instance.index()].task;
                let task = self.env.plan.task(t).name.clone();
                let (instance, item, attempt) = key.parts();
                let child_run = self
                    .env
                    .workflow_tasks
                    .get(t as usize)
                    .is_some_and(|&w| w)
                    .then(|| RunId::child(self.run_id, instance, item, attempt));
                self.emit_at(at, || EventKind::TaskStarted {
                    task,
                    instance,
                    item,
                    attempt,
                    child_run,
                });
            }
            Msg::Control(Control::Subscribe(tx)) => self.subscribers.push(tx),
            Msg::Control(Control::Cancel) => self.command(Command::Cancel),
            Msg::Control(Control::Abort) => self.command(Command::Abort),
            Msg::Control(Control::Pause) => self.command(Command::Pause),
            Msg::Control(Control::Resume) => self.command(Command::Resume),
            Msg::Control(Control::Rerun(tasks)) => self.command(Command::Rerun { tasks }),
            Msg::Control(Control::JournalFailed(why)) => self.journal_failed(why),
            Msg::Control(Control::LeaseLost(why)) => self.lease_lost(why),
            Msg::Control(Control::Answer(answer)) => {
                let (command, reply) = *answer;
                let taken = self.answer(command);
                match reply {
                    Some(reply) => {
                        let _ = reply.send(taken);
                    }
                    None => {
                        if let Err(e) = taken {
                            tracing::warn!(run_id = %self.run_id, error = %e, "an answer was not taken");
                        }
                    }
                }
            }
            Msg::Control(Control::Waits(reply)) => {
                let _ = reply.send(self.pending_waits());
            }
        }
    }

    /// A command from a handle: recorded, then applied.
    fn command(&mut self, command: Command) {
        if matches!(command, Command::Rerun { .. }) && !self.ended_before {
            // Only a run that had ended is re-run (see `Executor::rerun`).
            return;
        }
        if matches!(command, Command::Resume) && !self.paused && !self.replaying() {
            // Nothing to resume (a run resumed from the store that only
            // waits for answers): not recorded, so its summary stays paused.
            return;
        }
        self.record_command(command.clone());
        if let Err(e) = self.apply_command(&command) {
            self.fail_run(None, e);
        }
        if matches!(command, Command::Rerun { .. }) {
            self.ended_before = false;
        }
    }

    /// The next message, waited for with the receive future the run
    /// keeps. A fresh `recv_async` per wait registers a new waiter with the
    /// channel (an allocation and a waker clone) and unregisters it when
    /// dropped (the channel's lock, a scan of its waiters, a free): about
    /// 330 instructions a wait, on a chain as much as the rest of the
    /// loop's turn. The kept future makes its waiter once; a later wait
    /// puts the same waiter back on the channel's list (the sender that
    /// woke it took it off). Only the wait without a deadline uses it: the
    /// wait with one makes a future of its own, dropped with its `select!`.
    ///
    /// flume puts a kept waiter back after it looked for a message, not
    /// under the same lock: a message sent in between (from another
    /// thread) finds no waiter to wake, and would wait in the channel
    /// unread. So a wait that is about to sleep looks once more, after its
    /// waiter is back, and takes such a message at once.
    ///
    /// This leans on how flume 0.12 polls a `RecvFut` again after it gave
    /// a message (it looks at the queue first, then re-registers the kept
    /// waiter), which its documentation does not promise: on a flume
    /// upgrade, re-read `RecvFut::poll_inner` and run the multi_thread
    /// property test (`tests/property.rs`), which lost a message to the
    /// race above before the second look was added.
    ///
    /// The attempts the run polls itself are polled first, before the
    /// receive future: an attempt that ends in that poll reports while
    /// the run's waiter is off the channel's list (the sender that woke it
    /// took it off), so its report is there for the receive to take at
    /// once, and does not wake the run's own task again.
    ///
    /// After attempts were spawned in tasks of their own, the wait of a
    /// run without a journal first goes behind them once (see
    /// [`NextMessage`]).
    fn next_message(&mut self) -> NextMessage<'_, &mut flume::r#async::RecvFut<'static, Msg>> {
        NextMessage {
            recv: &mut self.recv,
            rx: &self.rx,
            inline: &mut self.inline,
            // A journaled run waits as before: its records go to the
            // store as the reports come, not all after the worker's queue.
            // So does a run of an executor that spawns every attempt: it
            // is asked for by embedders whose actions may block their
            // thread, and a run queued behind such an attempt would wait
            // for the other worker to run dry before it is taken (tokio
            // steals only then), where a report or a command wakes a
            // waiting run into the worker that sent it.
            behind: std::mem::take(&mut self.spawned)
                && self.journal.is_none()
                && !self.env.spawn_every_attempt,
        }
    }

    /// The next message if it is here already, or comes when the attempts
    /// this task polls are polled once; `None` without waiting otherwise.
    /// (Taken with `try_recv`, not by polling the kept receive future: a
    /// poll of that future that finds nothing puts its waiter on the
    /// channel's list again, and the wait that follows would add it once
    /// more, a stale entry each time.)
    async fn message_now(&mut self) -> Option<Result<Msg, flume::RecvError>> {
        self.poll_inline().await;
        match self.rx.try_recv() {
            Ok(msg) => Some(Ok(msg)),
            Err(flume::TryRecvError::Empty) => None,
            Err(flume::TryRecvError::Disconnected) => Some(Err(flume::RecvError::Disconnected)),
        }
    }

    /// Polls the attempts this task polls itself, once, without waiting.
    async fn poll_inline(&mut self) {
        std::future::poll_fn(|cx| {
            self.inline.poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
    }

    /// The next message, or `None` once `at` has come.
    async fn next_message_until(&mut self, at: Instant) -> Option<Result<Msg, flume::RecvError>> {
        // A wait with a deadline does not go behind what was spawned: the
        // mark is dropped, so a later wait does not either.
        self.spawned = false;
        let recv = NextMessage {
            recv: self.rx.recv_async(),
            rx: &self.rx,
            inline: &mut self.inline,
            behind: false,
        };
        tokio::select! {
            msg = recv => Some(msg),
            () = tokio::time::sleep_until(at.into()) => None,
        }
    }

    fn new_turn(&mut self) {
        self.turn.budget = TURN_BUDGET;
        // The metrics' gauges are sampled by the turn's start. Without
        // them the clock is read only by a turn that does a second queued
        // work item (see `drain_queue`): a turn of one (a chain's hop) is
        // over long before `TURN_TIME`, and a clock reading is about 30
        // instructions, 1 % of a hop.
        self.turn.timed = self.metrics.is_some();
        if self.turn.timed {
            self.turn.started = Instant::now();
        }
    }

    /// Does queued work until the queue is empty or the turn's budget or
    /// time is spent.
    fn drain_queue(&mut self) {
        let mut done = 0u32;
        while self.turn.budget > 0 {
            let Some(work) = self.turn.queue.pop_front() else {
                return;
            };
            self.turn.budget -= 1;
            if done == 1 && !self.turn.timed {
                // A second work item: the turn's time counts from here.
                // Only the first item is left out of it, where the clock
                // is read only every `CLOCK_EVERY` items anyway.
                self.turn.started = Instant::now();
                self.turn.timed = true;
            }
            self.process(work);
            done += 1;
            if done.is_multiple_of(CLOCK_EVERY) && self.turn.started.elapsed() >= TURN_TIME {
                self.turn.budget = 0;
            }
        }
    }

    /// A completion taken from the channel and done at once, not queued:
    /// the step it would have been.
    fn process_completed(&mut self, done: Done) {
        self.step += 1;
        self.completed(done);
    }

    /// A queued dispatch, taken from the queue: its cause and scope are
    /// taken from theirs.
    fn process_dispatch(&mut self, task: TaskId, route: u32, level: u32) {
        let cause = match self.metrics {
            Some(_) => self.turn.causes.pop_front().flatten(),
            None => None,
        };
        let (mut scope, batch) = self.turn.scopes.pop_front().unwrap_or_default();
        if let Some(js) = self.fired_join(task, route) {
            if let Some(merged) = js.scope.take() {
                scope = merged;
            }
        }
        self.dispatch(task, route, level, cause, scope, batch);
    }

    /// Whether `end_turn` has anything to do: it hands the turn's records
    /// to the journal and updates the gauges. Checked first, so that a run
    /// with neither does not make and drop its future at every wait.
    fn turn_has_end(&self) -> bool {
        self.journal.is_some() || self.metrics.is_some()
    }

    /// One work item: one step.
    fn process(&mut self, work: Work) {
        self.step += 1;
        match work {
            Work::Dispatch { task, route, level } => self.process_dispatch(task, route, level),
            Work::Completed(done) => self.completed(done),
            Work::Finish(i) => self.finish_instance(i),
            Work::Fail(fail) => {
                self.turn.fails_queued -= 1;
                let (task, message) = *fail;
                self.fail_run(Some(&task), message);
            }
            Work::Fill(i) => {
                if let Some(items) = self.graph.instances[i.index()].items_mut() {
                    items.fill_queued = false;
                }
                self.fill_items(i);
            }
        }
    }

    /// Moves the completions that arrived during a yield to the front of the
    /// queue, in the order they arrived; handles any other message at once.
    ///
    /// While a `fail` command is queued they go to the back instead: the
    /// run must fail before anything that finished after it is handled
    /// (which could start new work).
    fn take_arrived(&mut self) {
        if self.turn.fails_queued > 0 {
            while let Ok(msg) = self.rx.try_recv() {
                self.handle(msg);
            }
            return;
        }
        // The completions go to the back as they come, and then, together,
        // to the front (`rotate_right` moves them once, in one copy): not
        // through a buffer and one `push_front` each. A `Started` only
        // emits an event; a control message may queue work of its own, and
        // takes the buffered way, which keeps the order of the queue the
        // same either way.
        let mut taken = 0;
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Done(done) => {
                    self.turn.queue.push_back(Work::Completed(done));
                    taken += 1;
                }
                Msg::Started { .. } => self.handle(msg),
                Msg::Control(_) => return self.take_arrived_buffered(taken, msg),
            }
        }
        self.turn.queue.rotate_right(taken);
    }

    /// [`Scheduler::take_arrived`] from a control message `msg` on: the
    /// `taken` completions at the back of the queue, and the ones still to
    /// come, are put at its front after every message has been handled.
    #[cold]
    #[inline(never)]
    fn take_arrived_buffered(&mut self, taken: usize, msg: Msg) {
        let mut arrived = std::mem::take(&mut self.turn.arrived);
        let from = self.turn.queue.len() - taken;
        for work in self.turn.queue.drain(from..) {
            if let Work::Completed(done) = work {
                arrived.push(done);
            }
        }
        self.handle(msg);
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Done(done) => arrived.push(done),
                other => self.handle(other),
            }
        }
        for done in arrived.drain(..).rev() {
            self.turn.queue.push_front(Work::Completed(done));
        }
        self.turn.arrived = arrived;
    }
}

/// The wait of [`Scheduler::next_message`] (and, with a receive future of
/// its own, of [`Scheduler::next_message_until`]).
struct NextMessage<'a, R> {
    recv: R,
    rx: &'a flume::Receiver<Msg>,
    inline: &'a mut inline::Inline,
    /// Attempts were spawned since the last wait: the first poll only
    /// wakes the run's task again, which puts it at the back of its
    /// worker's queue, behind them (tokio's self-wake, not `yield_now`,
    /// which holds a task back until the worker parks or does its
    /// periodic maintenance, every 61 polls, and has polled its I/O
    /// driver). They run first, and their reports find no waiter on the
    /// channel and wake nothing: the next poll takes them in one turn. Without it, on a multi_thread runtime,
    /// each report woke the run's task, which then waited again for the
    /// next: a wake, a poll and a waiter put back on the channel's list
    /// for each completion. Attempts taken by another worker report as
    /// before, once the wait is back on the channel.
    behind: bool,
}

impl<R> std::future::Future for NextMessage<'_, R>
where
    R: std::future::Future<Output = Result<Msg, flume::RecvError>> + Unpin,
{
    type Output = Result<Msg, flume::RecvError>;

    #[inline]
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.behind {
            self.behind = false;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        self.inline.poll(cx);
        loop {
            let polled = std::pin::Pin::new(&mut self.recv).poll(cx);
            if polled.is_pending() && !self.rx.is_empty() {
                continue;
            }
            return polled;
        }
    }
}

/// The channel of a run's events, for a run started with them: its
/// receiver, the sender added to `subscribers`.
#[cold]
#[inline(never)]
fn event_channel(subscribers: &mut Vec<flume::Sender<Event>>) -> flume::Receiver<Event> {
    let (etx, erx) = flume::unbounded();
    subscribers.push(etx);
    erx
}

/// A context made afresh (no maps kept from an ended run).
#[cold]
#[inline(never)]
fn fresh_context(parameters: Value) -> WorkflowContext {
    WorkflowContext::with_capacity(parameters, [], 0)
}

/// The values the executor gives every run, set in its context.
#[cold]
#[inline(never)]
fn set_run_context(ctx: &mut WorkflowContext, values: Vec<(Arc<str>, Value)>) {
    for (name, value) in values {
        ctx.set_var(name, value);
    }
}

/// A box for an ended run's context maps alone (its buffers were too big
/// to keep).
#[cold]
#[inline(never)]
fn maps_alone(maps: weft_core::ContextMaps) -> Box<RunBuffers> {
    let mut alone = Box::<RunBuffers>::default();
    alone.context = Some(maps);
    alone
}

/// Numbers the distinct actions of `plan`'s tasks: per task, the number of
/// its action (`None` for none), and how many there are.
fn number_actions(plan: &Plan) -> (Vec<Option<u32>>, usize) {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let mut last: Option<(&str, u32)> = None;
    let of = plan
        .tasks()
        .iter()
        .map(|t| {
            let name = t.action.as_deref()?;
            if let Some((n, k)) = last {
                if n == name {
                    return Some(k);
                }
            }
            let next = seen.len() as u32;
            let k = *seen.entry(name).or_insert(next);
            last = Some((name, k));
            Some(k)
        })
        .collect();
    (of, seen.len())
}

/// The error for a retry count above [`Limits::max_retries`].
pub(crate) fn retries_over_limit(count: f64, max: u32) -> String {
    format!(
        "{count} retries is over the limit of {max}: lower `retry.count`, or raise Limits::max_retries"
    )
}

#[cfg(test)]
mod size {
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_scheduler_fits_glibcs_per_thread_cache() {
        let bytes = std::mem::size_of::<super::Scheduler>();
        assert!(
            bytes <= super::SCHEDULER_BYTES,
            "the scheduler takes {bytes} bytes, over {}: box a field few runs use",
            super::SCHEDULER_BYTES
        );
    }
}
