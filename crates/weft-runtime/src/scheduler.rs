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
//! * `Control` — cancel, abort, or a new event subscriber.
//!
//! Work that completes without an action (a task with no `action`, an input
//! that fails to render) goes on a local queue, so long chains of such tasks
//! never recurse.
//!
//! # Task instance states
//!
//! `Pending` (created; delay, join or concurrency slot pending) → `Running`
//! (attempt spawned) → `Succeeded` | `Failed` | `TimedOut` | `Canceled`. A
//! retry keeps the instance `Running`.
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
//!   the run ends exactly when it reaches zero and the local queue is empty.
//! * Every instance is created by one satisfied transition (or as a start
//!   task, or by a join firing once), and spawns at most `retry.count + 1`
//!   attempts per item.
//! * Only this loop writes the context; inputs are rendered here, at
//!   dispatch.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;
use weft_core::{
    CurrentTask, Join, Plan, Target, TaskId, TaskStatus, ValueTemplate, WorkflowContext,
};

use crate::action::{Action, ActionError, ActionInput};
use crate::attempt::{
    panic_message, run_attempt, run_plain_attempt, AttemptSpec, PlainSpec, StopSignal,
};
use crate::event::{Event, EventKind};
use crate::executor::{ExecutorInner, RunOptions, DEFAULT_EXTRA_INSTANCES};
use crate::outcome::{RunError, RunOutcome, RunStats, RunStatus, TaskRecord};
use crate::run::{Control, Run};

const NO_ITEM: u32 = u32::MAX;

pub(crate) enum Msg {
    Started {
        instance: u32,
        item: u32,
        attempt: u32,
        at: Instant,
    },
    /// Boxed: completions can queue up by the thousand, and a small
    /// message keeps the channel's buffer small.
    Done(Box<Done>),
    Control(Control),
}

pub(crate) struct Done {
    pub(crate) slot: u32,
    pub(crate) instance: u32,
    pub(crate) item: u32,
    pub(crate) attempt: u32,
    pub(crate) outcome: Outcome,
    pub(crate) started: Option<Instant>,
    /// When the attempt ended, taken in the attempt's task.
    pub(crate) ended: Instant,
}

pub(crate) enum Outcome {
    Ok(Value),
    Err(ActionError),
    TimedOut(Duration),
    Panicked(String),
    /// The run stopped before the attempt's delay was over.
    Dropped,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Running,
    Failing,
    Canceling,
}

struct Items {
    total: usize,
    list: Vec<Arc<Value>>,
    results: Vec<Value>,
    next: usize,
    running: usize,
    concurrency: usize,
    failure: Option<(TaskStatus, String)>,
    /// A `Work::Fill` for this instance is queued.
    fill_queued: bool,
}

struct Instance {
    task: TaskId,
    status: TaskStatus,
    attempts: u32,
    started: Option<Instant>,
    ended: Option<Instant>,
    result: Option<Arc<Value>>,
    error: Option<String>,
    items: Option<Box<Items>>,
    timeout: Option<Duration>,
}

/// The state of one join task in a run. Branch `i` is the task's
/// `inbound[i]` in the plan.
struct JoinState {
    task: TaskId,
    arrived: Bits,
    declined: Bits,
    arrived_count: usize,
    need: usize,
    fired: bool,
}

/// Work for the current turn. Kept to 16 bytes: a fan-out to a million
/// tasks queues a million of these.
enum Work {
    Dispatch(TaskId),
    Completed(Box<Done>),
    Finish(u32),
    /// The `fail` command, queued behind the dispatches of its transition so
    /// that `do: [notify, fail]` still starts `notify`.
    Fail(Box<(Arc<str>, String)>),
    /// Start more items of an instance; queued when a turn's budget ran out.
    Fill(u32),
}

/// Attempts spawned in one turn before the loop yields so that they can run.
///
/// Without it, a turn that starts a million tasks (a wide workflow, a long
/// `with` list) would hold a million spawned tasks and their futures at
/// once on a current_thread runtime, and then a million completions in the
/// channel. It is not a concurrency limit: ready tasks keep being spawned,
/// 512 at a time, without waiting for any to finish; the yields only let
/// the ones already spawned run in between.
const SPAWNS_PER_TURN: u32 = 512;

static RUN_ID: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
static WORKFLOW: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();

/// A context key made once per process instead of once per run.
fn static_key(cell: &'static std::sync::OnceLock<Arc<str>>, key: &str) -> Arc<str> {
    cell.get_or_init(|| Arc::from(key)).clone()
}

/// The result of actions that return nothing, shared instead of allocated
/// once per task.
fn null_result() -> Arc<Value> {
    static NULL: std::sync::OnceLock<Arc<Value>> = std::sync::OnceLock::new();
    NULL.get_or_init(|| Arc::new(Value::Null)).clone()
}

pub(crate) struct Scheduler {
    plan: Plan,
    ctx: WorkflowContext,
    run_id: u64,
    rx: flume::Receiver<Msg>,
    tx: flume::Sender<Msg>,
    outcome_tx: Option<oneshot::Sender<RunOutcome>>,
    subscribers: Vec<flume::Sender<Event>>,
    actions: Vec<Option<Arc<dyn Action>>>,
    /// The join tasks' states, in task order.
    joins: Vec<JoinState>,
    /// Per task, its index in `joins` (`u32::MAX` if it is no join); empty
    /// for a plan without joins.
    join_slot: Vec<u32>,
    instances: Vec<Instance>,
    slots: Vec<Option<(JoinHandle<()>, u32, u32)>>,
    free_slots: Vec<u32>,
    in_flight: usize,
    state: State,
    failed: bool,
    canceled: bool,
    /// Watched by attempts that wait (a delay, a global slot); made for the
    /// first of them. Once the run stops, nothing new waits.
    stop: Option<Arc<StopSignal>>,
    errors: Vec<RunError>,
    queue: VecDeque<Work>,
    /// Spawns left in this turn; see [`SPAWNS_PER_TURN`].
    budget: u32,
    /// `Work::Fail` entries in the queue.
    fails_queued: usize,
    /// Completions taken from the channel after a yield (buffer reused).
    /// They stay boxed as they came: they move into `Work` unchanged.
    #[allow(clippy::vec_box)]
    arrived: Vec<Box<Done>>,
    started: Instant,
    started_sys: SystemTime,
    max_instances: usize,
    actions_run: usize,
    limit: Option<Arc<Semaphore>>,
}

impl Scheduler {
    pub(crate) fn new(
        exec: Arc<ExecutorInner>,
        plan: Plan,
        parameters: Value,
        run_id: u64,
        options: RunOptions,
    ) -> Result<(Scheduler, Run), weft_core::Error> {
        let (tx, rx) = flume::unbounded();
        let (outcome_tx, outcome_rx) = oneshot::channel();
        let mut subscribers = Vec::new();
        let events = if options.events {
            let (etx, erx) = flume::unbounded();
            subscribers.push(etx);
            Some(erx)
        } else {
            None
        };
        let tasks = plan.tasks();
        let n_tasks = tasks.len();
        // Neighbouring tasks usually share an action: remember the last one
        // instead of hashing every name.
        let mut actions: Vec<Option<Arc<dyn Action>>> = Vec::with_capacity(tasks.len());
        let mut last: Option<(&str, Arc<dyn Action>)> = None;
        for t in tasks {
            let Some(name) = t.action.as_deref() else {
                actions.push(None);
                continue;
            };
            let found = match &last {
                Some((n, a)) if *n == name => a.clone(),
                _ => match exec.actions.get(name) {
                    Some(a) => {
                        last = Some((name, a.clone()));
                        a.clone()
                    }
                    None => {
                        return Err(weft_core::Error::new(
                            weft_core::ErrorKind::Validation,
                            format!(
                            "unknown action `{name}`: this plan was compiled for another executor"
                        ),
                        )
                        .with_task(&*t.name)
                        .with_field("action"))
                    }
                },
            };
            actions.push(Some(found));
        }
        let mut joins = Vec::new();
        let mut join_slot = Vec::new();
        if tasks.iter().any(|t| t.join.is_some()) {
            join_slot = vec![u32::MAX; tasks.len()];
            for t in tasks {
                let Some(join) = t.join else { continue };
                let n = t.inbound.len();
                join_slot[t.id as usize] = joins.len() as u32;
                joins.push(JoinState {
                    task: t.id,
                    arrived: Bits::new(n),
                    declined: Bits::new(n),
                    arrived_count: 0,
                    need: match join {
                        Join::All => n,
                        Join::Count(k) => (k as usize).min(n),
                    },
                    fired: false,
                });
            }
        }
        let ctx = WorkflowContext::with_capacity(parameters, [], tasks.len());
        ctx.set_system(static_key(&RUN_ID, "run_id"), Value::from(run_id));
        ctx.set_system(
            static_key(&WORKFLOW, "workflow"),
            Value::String(plan.name().to_string()),
        );
        let max_instances = exec
            .max_task_instances
            .unwrap_or(tasks.len().saturating_add(DEFAULT_EXTRA_INSTANCES));
        let limit = exec.limit.clone();
        let run = Run {
            id: run_id,
            control: tx.clone(),
            outcome: outcome_rx,
            events,
        };
        let s = Scheduler {
            plan,
            ctx,
            run_id,
            rx,
            tx,
            outcome_tx: Some(outcome_tx),
            subscribers,
            actions,
            joins,
            join_slot,
            instances: Vec::with_capacity(n_tasks),
            slots: Vec::with_capacity(n_tasks.min(1 << 16)),
            free_slots: Vec::new(),
            in_flight: 0,
            state: State::Running,
            failed: false,
            canceled: false,
            stop: None,
            errors: Vec::new(),
            queue: VecDeque::new(),
            budget: SPAWNS_PER_TURN,
            fails_queued: 0,
            arrived: Vec::new(),
            started: Instant::now(),
            started_sys: SystemTime::now(),
            max_instances,
            actions_run: 0,
            limit,
        };
        Ok((s, run))
    }

    pub(crate) async fn run(mut self) {
        let span = tracing::info_span!(
            "run",
            run_id = self.run_id,
            workflow = %self.plan.name(),
            status = tracing::field::Empty
        );
        let span2 = span.clone();
        async move {
            self.begin();
            loop {
                self.drain_queue();
                if !self.queue.is_empty() {
                    // Out of budget: let what was spawned run, then handle
                    // what it finished before the rest of the queue, so
                    // finished attempts do not pile up behind it.
                    tokio::task::yield_now().await;
                    self.budget = SPAWNS_PER_TURN;
                    self.take_arrived();
                    continue;
                }
                if self.in_flight == 0 {
                    break;
                }
                let Ok(msg) = self.rx.recv_async().await else {
                    break;
                };
                self.budget = SPAWNS_PER_TURN;
                self.handle(msg);
                // Handle whatever else is already queued before waiting again.
                while let Ok(msg) = self.rx.try_recv() {
                    self.handle(msg);
                    self.drain_queue();
                }
            }
            let outcome = self.finish();
            span2.record("status", outcome.status.as_str());
            if let Some(tx) = self.outcome_tx.take() {
                let _ = tx.send(outcome);
            }
        }
        .instrument(span)
        .await;
    }

    fn begin(&mut self) {
        // Control messages sent before the first turn (a subscription right
        // after `start`) are honoured before anything happens.
        while let Ok(msg) = self.rx.try_recv() {
            self.handle(msg);
        }
        let workflow = self.plan.name().clone();
        self.emit(|| EventKind::RunStarted { workflow });
        let plan = self.plan.clone();
        for (name, value) in plan.vars() {
            match value.render(&self.ctx) {
                Ok(v) => self.ctx.set_var(name.clone(), v),
                Err(e) => {
                    self.fail_run(None, format!("vars.{name}: {}", e.message()));
                    return;
                }
            }
        }
        for &t in plan.starts() {
            self.queue.push_back(Work::Dispatch(t));
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Done(done) => self.queue.push_back(Work::Completed(done)),
            Msg::Started {
                instance,
                item,
                attempt,
                at,
            } => {
                let task = self
                    .plan
                    .task(self.instances[instance as usize].task)
                    .name
                    .clone();
                self.emit_at(at, || EventKind::TaskStarted {
                    task,
                    instance,
                    item: (item != NO_ITEM).then_some(item as usize),
                    attempt,
                });
            }
            Msg::Control(Control::Subscribe(tx)) => self.subscribers.push(tx),
            Msg::Control(Control::Cancel) => self.cancel(false),
            Msg::Control(Control::Abort) => self.cancel(true),
        }
    }

    /// Does queued work until the queue is empty or the turn's spawn budget
    /// is spent.
    fn drain_queue(&mut self) {
        while self.budget > 0 {
            let Some(work) = self.queue.pop_front() else {
                return;
            };
            match work {
                Work::Dispatch(t) => self.dispatch(t),
                Work::Completed(done) => self.completed(*done),
                Work::Finish(i) => self.finish_instance(i),
                Work::Fail(fail) => {
                    self.fails_queued -= 1;
                    let (task, message) = *fail;
                    self.fail_run(Some(&task), message);
                }
                Work::Fill(i) => {
                    if let Some(items) = self.instances[i as usize].items.as_mut() {
                        items.fill_queued = false;
                    }
                    self.fill_items(i);
                }
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
        if self.fails_queued > 0 {
            while let Ok(msg) = self.rx.try_recv() {
                self.handle(msg);
            }
            return;
        }
        let mut arrived = std::mem::take(&mut self.arrived);
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Done(done) => arrived.push(done),
                other => self.handle(other),
            }
        }
        for done in arrived.drain(..).rev() {
            self.queue.push_front(Work::Completed(done));
        }
        self.arrived = arrived;
    }

    // ---- events --------------------------------------------------------

    fn emit(&mut self, kind: impl FnOnce() -> EventKind) {
        if !self.subscribers.is_empty() {
            let at = Instant::now();
            self.send_event(at, kind());
        }
    }

    fn emit_at(&mut self, at: Instant, kind: impl FnOnce() -> EventKind) {
        if !self.subscribers.is_empty() {
            self.send_event(at, kind());
        }
    }

    fn send_event(&mut self, at: Instant, kind: EventKind) {
        let ev = Event {
            run_id: self.run_id,
            at,
            kind,
        };
        if self.subscribers.len() == 1 {
            if self.subscribers[0].send(ev).is_err() {
                self.subscribers.clear();
            }
        } else {
            self.subscribers.retain(|s| s.send(ev.clone()).is_ok());
        }
    }

    // ---- run state -----------------------------------------------------

    fn fail_run(&mut self, task: Option<&str>, message: String) {
        self.errors.push(RunError {
            task: task.map(str::to_owned),
            message,
        });
        self.failed = true;
        if self.state == State::Running {
            self.state = State::Failing;
            if let Some(stop) = &self.stop {
                stop.raise();
            }
        }
    }

    fn cancel(&mut self, abort: bool) {
        if self.state == State::Running {
            self.state = State::Canceling;
        }
        self.canceled = true;
        if let Some(stop) = &self.stop {
            stop.raise();
        }
        if abort {
            for slot in 0..self.slots.len() {
                if let Some((handle, instance, item)) = self.slots[slot].take() {
                    handle.abort();
                    self.free_slots.push(slot as u32);
                    self.in_flight -= 1;
                    self.queue.push_back(Work::Completed(Box::new(Done {
                        slot: u32::MAX,
                        instance,
                        item,
                        attempt: 0,
                        outcome: Outcome::Dropped,
                        started: None,
                        ended: Instant::now(),
                    })));
                }
            }
        }
    }

    fn skip(&mut self, task: TaskId) {
        let reason = match self.state {
            State::Canceling => "the run was canceled",
            _ => "the run is failing",
        };
        let name = self.plan.task(task).name.clone();
        self.emit(|| EventKind::TaskSkipped {
            task: name,
            instance: None,
            reason: reason.to_owned(),
        });
    }

    // ---- dispatch ------------------------------------------------------

    fn dispatch(&mut self, t: TaskId) {
        if self.state != State::Running {
            self.skip(t);
            return;
        }
        let plan = self.plan.clone();
        let task = plan.task(t);
        if self.instances.len() >= self.max_instances {
            self.fail_run(
                Some(&task.name),
                format!(
                    "would start task instance number {} but the limit is {}: a loop that never ends? \
                     Raise it with ExecutorBuilder::max_task_instances",
                    self.instances.len() + 1,
                    self.max_instances
                ),
            );
            // Every satisfied transition shows in the events as scheduled or
            // skipped; this one is skipped, and the run is now failing.
            let reason = format!(
                "the task instance limit ({}) was reached",
                self.max_instances
            );
            self.emit(|| EventKind::TaskSkipped {
                task: task.name.clone(),
                instance: None,
                reason,
            });
            return;
        }
        let id = self.instances.len() as u32;
        self.instances.push(Instance {
            task: t,
            status: TaskStatus::Pending,
            attempts: 0,
            started: None,
            ended: None,
            result: None,
            error: None,
            items: None,
            timeout: None,
        });
        self.emit(|| EventKind::TaskScheduled {
            task: task.name.clone(),
            instance: id,
        });

        match task.timeout.as_ref().map(|n| n.eval(&self.ctx)) {
            Some(Ok(s)) if s > 0.0 && s.is_finite() => {
                self.instances[id as usize].timeout = Some(Duration::from_secs_f64(s.min(1e9)));
            }
            Some(Ok(s)) => {
                return self
                    .fail_instance(id, format!("timeout: must be more than 0 seconds, not {s}"))
            }
            Some(Err(e)) => return self.fail_instance(id, format!("timeout: {}", e.message())),
            None => {}
        }

        let Some(with) = &task.with else {
            self.start_attempt(id, NO_ITEM, 1, None);
            return;
        };
        let items = match with.items.eval(&self.ctx) {
            Ok(Value::Array(list)) => list,
            Ok(other) => {
                return self.fail_instance(
                    id,
                    format!(
                        "with.items: `{}` gave {}, not a list",
                        with.items.source(),
                        short(&other)
                    ),
                )
            }
            Err(e) => return self.fail_instance(id, format!("with.items: {}", e.message())),
        };
        let list: Vec<Arc<Value>> = if with.names.is_empty() {
            items.into_iter().map(Arc::new).collect()
        } else {
            let mut out = Vec::with_capacity(items.len());
            for (k, v) in items.into_iter().enumerate() {
                let mut m = Map::with_capacity(with.names.len());
                if with.names.len() == 1 {
                    m.insert(with.names[0].clone(), v);
                } else {
                    let Value::Array(parts) = v else {
                        return self.fail_instance(
                            id,
                            format!(
                                "with.items: item {k} is {}, but `{}` needs a list of {} values per item (use zip)",
                                short(&v),
                                with.names.join(", "),
                                with.names.len()
                            ),
                        );
                    };
                    for (name, part) in with.names.iter().zip(parts) {
                        m.insert(name.clone(), part);
                    }
                }
                out.push(Arc::new(Value::Object(m)));
            }
            out
        };
        let concurrency = match with.concurrency.as_ref().map(|c| c.eval(&self.ctx)) {
            None => usize::MAX,
            Some(Ok(c)) if c >= 1.0 => c as usize,
            Some(Ok(c)) => {
                return self
                    .fail_instance(id, format!("with.concurrency: must be 1 or more, not {c}"))
            }
            Some(Err(e)) => {
                return self.fail_instance(id, format!("with.concurrency: {}", e.message()))
            }
        };
        let n = list.len();
        let name = task.name.clone();
        self.emit(|| EventKind::ItemsScheduled {
            task: name,
            instance: id,
            total: n,
        });
        self.instances[id as usize].items = Some(Box::new(Items {
            total: n,
            list,
            results: vec![Value::Null; n],
            next: 0,
            running: 0,
            concurrency,
            failure: None,
            fill_queued: false,
        }));
        self.instances[id as usize].status = TaskStatus::Running;
        self.fill_items(id);
    }

    /// Starts items while there are slots; finishes the instance when all
    /// that will run have run.
    fn fill_items(&mut self, id: u32) {
        if self.instances[id as usize].status.is_terminal() {
            // Finished already (a `Fill` queued before the last items ended).
            return;
        }
        loop {
            let Some(items) = self.instances[id as usize].items.as_mut() else {
                return;
            };
            let more = self.state == State::Running
                && items.failure.is_none()
                && items.next < items.list.len()
                && items.running < items.concurrency;
            if more && self.budget == 0 {
                // The turn's budget is spent: continue first thing next
                // turn, ahead of work queued after this instance's dispatch
                // (a `fail` beside it must not stop its remaining items).
                if !items.fill_queued {
                    items.fill_queued = true;
                    self.queue.push_front(Work::Fill(id));
                }
                return;
            }
            if more {
                let k = items.next;
                items.next += 1;
                items.running += 1;
                self.start_attempt(id, k as u32, 1, None);
                continue;
            }
            if items.running == 0 {
                let total = items.total;
                let not_run = total - items.next;
                let failure = items.failure.take();
                let results = std::mem::take(&mut items.results);
                // The items themselves are no longer needed; the count stays.
                items.list = Vec::new();
                let inst = &mut self.instances[id as usize];
                if let Some((status, err)) = failure {
                    inst.status = status;
                    inst.error = Some(err);
                } else if not_run > 0 {
                    inst.status = TaskStatus::Canceled;
                    inst.error = Some(format!(
                        "{not_run} of {total} items did not run: the run stopped"
                    ));
                } else {
                    inst.status = TaskStatus::Succeeded;
                }
                inst.result = Some(Arc::new(Value::Array(results)));
                inst.ended = Some(Instant::now());
                self.queue.push_back(Work::Finish(id));
            }
            return;
        }
    }

    fn fail_instance(&mut self, id: u32, message: String) {
        let inst = &mut self.instances[id as usize];
        inst.status = TaskStatus::Failed;
        inst.result = Some(Arc::new(serde_json::json!({ "error": message })));
        inst.error = Some(message);
        inst.ended = Some(Instant::now());
        self.queue.push_back(Work::Finish(id));
    }

    /// Renders the input and spawns one attempt; a render error completes
    /// the attempt at once as a failure.
    fn start_attempt(&mut self, id: u32, item: u32, attempt: u32, retry_delay: Option<Duration>) {
        let plan = self.plan.clone();
        let inst = &self.instances[id as usize];
        let task = plan.task(inst.task);
        let timeout = inst.timeout;
        let mut ctx = self.ctx.clone();
        if item != NO_ITEM {
            if let Some(items) = &inst.items {
                ctx.set_current_item(items.list[item as usize].clone(), item as usize);
            }
        }
        let immediate = |outcome| {
            Box::new(Done {
                slot: u32::MAX,
                instance: id,
                item,
                attempt,
                outcome,
                started: None,
                ended: Instant::now(),
            })
        };
        let Some(action) = self.actions[task.id as usize].clone() else {
            // A task without an action routes only: it succeeds with null.
            self.queue
                .push_back(Work::Completed(immediate(Outcome::Ok(Value::Null))));
            return;
        };
        let input = match &task.input {
            // Cloning an empty map still costs; most tasks without `input` land here.
            ValueTemplate::Static(Value::Object(m)) if m.is_empty() => {
                Ok(Value::Object(Map::new()))
            }
            other => other.render(&ctx),
        };
        let input = match input {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("input: {}", e.message());
                self.queue
                    .push_back(Work::Completed(immediate(Outcome::Err(ActionError::new(
                        msg,
                    )))));
                return;
            }
        };
        let delay = match retry_delay {
            Some(d) => Some(d),
            None if attempt == 1 => match task.delay.as_ref().map(|d| d.eval(&ctx)) {
                None => None,
                Some(Ok(s)) if s >= 0.0 && s.is_finite() => {
                    Some(Duration::from_secs_f64(s.min(1e9)))
                }
                Some(Ok(s)) => {
                    let msg = format!("delay: must be 0 or more seconds, not {s}");
                    self.queue.push_back(Work::Completed(immediate(Outcome::Err(
                        ActionError::new(msg),
                    ))));
                    return;
                }
                Some(Err(e)) => {
                    let msg = format!("delay: {}", e.message());
                    self.queue.push_back(Work::Completed(immediate(Outcome::Err(
                        ActionError::new(msg),
                    ))));
                    return;
                }
            },
            None => None,
        }
        .filter(|d| !d.is_zero());

        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let inst = &mut self.instances[id as usize];
        inst.status = TaskStatus::Running;
        inst.attempts = inst.attempts.max(attempt);
        self.in_flight += 1;
        self.actions_run += 1;
        self.budget = self.budget.saturating_sub(1);
        let input = ActionInput {
            input,
            context: ctx,
            task: task.name.clone(),
            index: (item != NO_ITEM).then_some(item as usize),
            attempt,
            run_id: self.run_id,
        };
        let spec = AttemptSpec {
            slot,
            instance: id,
            item,
            attempt,
            delay,
            timeout,
            limit: self.limit.clone(),
            stop: (delay.is_some() || self.limit.is_some())
                .then(|| self.stop.get_or_insert_with(Default::default).clone()),
            notify: !self.subscribers.is_empty(),
            tx: self.tx.clone(),
        };
        let span = tracing::info_span!(
            "task",
            task = %task.name,
            index = tracing::field::Empty,
            attempt,
            outcome = tracing::field::Empty
        );
        if item != NO_ITEM {
            span.record("index", item);
        }
        // Most attempts have no delay, timeout or global cap. For those the
        // action's future is made here (`call` only builds it) and the
        // spawned task holds just that future and a few ids: a small task is
        // cheaper to spawn.
        let handle = if spec.delay.is_none() && spec.timeout.is_none() && spec.limit.is_none() {
            let plain = PlainSpec {
                slot,
                instance: id,
                item,
                attempt,
                notify: spec.notify,
                traced: !span.is_disabled(),
                tx: spec.tx,
            };
            match std::panic::catch_unwind(AssertUnwindSafe(|| action.call(input))) {
                // Without a subscriber that wants the span, the task goes
                // without it: a smaller future, and no enter/exit per poll.
                Ok(fut) if !plain.traced => tokio::spawn(run_plain_attempt(fut, plain)),
                Ok(fut) => tokio::spawn(run_plain_attempt(fut, plain).instrument(span)),
                Err(panic) => {
                    // `call` itself panicked: report it like a panicking future.
                    let msg = panic_message(&*panic);
                    self.in_flight -= 1;
                    self.slots[slot as usize] = None;
                    self.free_slots.push(slot);
                    self.queue
                        .push_back(Work::Completed(immediate(Outcome::Panicked(msg))));
                    return;
                }
            }
        } else {
            tokio::spawn(run_attempt(action, input, spec).instrument(span))
        };
        self.slots[slot as usize] = Some((handle, id, item));
    }

    // ---- completion ----------------------------------------------------

    fn completed(&mut self, done: Done) {
        if done.slot != u32::MAX {
            if self.slots[done.slot as usize].take().is_none() {
                // Aborted already; its cancellation was recorded then.
                return;
            }
            self.free_slots.push(done.slot);
            self.in_flight -= 1;
        }
        let id = done.instance;
        let plan = self.plan.clone();
        let task = plan.task(self.instances[id as usize].task);
        if let Some(at) = done.started {
            let inst = &mut self.instances[id as usize];
            if inst.started.is_none() {
                inst.started = Some(at);
            }
        }
        let (status, result, error) = match done.outcome {
            Outcome::Ok(v) => (TaskStatus::Succeeded, v, None),
            Outcome::Err(e) => {
                let (msg, result) = e.into_parts();
                let result = result.unwrap_or_else(|| serde_json::json!({ "error": msg }));
                (TaskStatus::Failed, result, Some(msg))
            }
            Outcome::TimedOut(d) => {
                let msg = format!("timed out after {}s", d.as_secs_f64());
                (
                    TaskStatus::TimedOut,
                    serde_json::json!({ "error": msg }),
                    Some(msg),
                )
            }
            Outcome::Panicked(p) => {
                let msg = format!("action panicked: {p}");
                (
                    TaskStatus::Failed,
                    serde_json::json!({ "error": msg }),
                    Some(msg),
                )
            }
            Outcome::Dropped => {
                let msg =
                    "stopped before it finished: the run was canceled or is failing".to_owned();
                (TaskStatus::Canceled, Value::Null, Some(msg))
            }
        };

        if status != TaskStatus::Canceled {
            if let Some(retry) = &task.retry {
                if self.state == State::Running {
                    match self.retry_delay(id, retry, done.attempt, status, &result, done.item) {
                        Ok(Some(delay)) => {
                            let name = task.name.clone();
                            let item = (done.item != NO_ITEM).then_some(done.item as usize);
                            self.emit(|| EventKind::TaskRetrying {
                                task: name,
                                instance: id,
                                item,
                                attempt: done.attempt + 1,
                                delay,
                            });
                            self.start_attempt(id, done.item, done.attempt + 1, Some(delay));
                            return;
                        }
                        Ok(None) => {}
                        Err(msg) => {
                            return self.attempt_final(
                                id,
                                done.item,
                                TaskStatus::Failed,
                                serde_json::json!({ "error": msg }),
                                Some(msg),
                                done.ended,
                            );
                        }
                    }
                }
            }
        }
        self.attempt_final(id, done.item, status, result, error, done.ended);
    }

    /// `Some(delay)` when the attempt should be retried.
    fn retry_delay(
        &self,
        id: u32,
        retry: &weft_core::Retry,
        attempt: u32,
        status: TaskStatus,
        result: &Value,
        item: u32,
    ) -> Result<Option<Duration>, String> {
        let count = retry
            .count
            .eval(&self.ctx)
            .map_err(|e| format!("retry.count: {}", e.message()))?;
        if f64::from(attempt) > count {
            return Ok(None);
        }
        let inst = &self.instances[id as usize];
        let mut ctx = self.ctx.with_current_task(CurrentTask {
            name: self.plan.task(inst.task).name.clone(),
            status,
            result: Arc::new(result.clone()),
        });
        if let Some(v) = inst
            .items
            .as_ref()
            .and_then(|items| items.list.get(item as usize))
        {
            ctx.set_current_item(v.clone(), item as usize);
        }
        let again = retry
            .when
            .eval_bool(&ctx)
            .map_err(|e| format!("retry.when: {}", e.message()))?;
        if !again {
            return Ok(None);
        }
        let base = match &retry.delay {
            Some(d) => d
                .eval(&ctx)
                .map_err(|e| format!("retry.delay: {}", e.message()))?,
            None => 0.0,
        };
        let max = match &retry.max_delay {
            Some(d) => Some(
                d.eval(&ctx)
                    .map_err(|e| format!("retry.max_delay: {}", e.message()))?,
            ),
            None => None,
        };
        let secs = retry.delay_for(attempt, base, max);
        Ok(Some(Duration::from_secs_f64(secs.min(1e9))))
    }

    /// Records the last attempt of an instance or of one item.
    fn attempt_final(
        &mut self,
        id: u32,
        item: u32,
        status: TaskStatus,
        result: Value,
        error: Option<String>,
        ended: Instant,
    ) {
        if item == NO_ITEM {
            let inst = &mut self.instances[id as usize];
            inst.status = status;
            inst.result = Some(if result.is_null() {
                null_result()
            } else {
                Arc::new(result)
            });
            inst.error = error;
            inst.ended = Some(ended);
            self.queue.push_back(Work::Finish(id));
            return;
        }
        let task_name = self
            .plan
            .task(self.instances[id as usize].task)
            .name
            .clone();
        let Some(items) = self.instances[id as usize].items.as_mut() else {
            return;
        };
        items.running -= 1;
        items.results[item as usize] = result;
        if status != TaskStatus::Succeeded && items.failure.is_none() {
            let msg = error.unwrap_or_else(|| status.to_string());
            items.failure = Some((status, format!("item {item}: {msg}")));
        }
        self.emit(|| EventKind::ItemDone {
            task: task_name,
            instance: id,
            index: item as usize,
            succeeded: status == TaskStatus::Succeeded,
        });
        self.fill_items(id);
    }

    /// A task instance is complete: record it, evaluate its transitions.
    fn finish_instance(&mut self, id: u32) {
        let plan = self.plan.clone();
        let inst = &self.instances[id as usize];
        let task = plan.task(inst.task);
        let status = inst.status;
        let result = inst.result.clone().unwrap_or_else(null_result);
        let error = inst.error.clone();
        self.ctx.set_task_result(task.name.clone(), result.clone());
        if plan.uses_task_status() {
            self.ctx.set_task_status(&task.name, status);
        }
        let name = task.name.clone();
        // Terminal events carry the moment the instance ended (taken in the
        // attempt's task), not the moment the scheduler got to it.
        let at = inst.ended.unwrap_or_else(Instant::now);
        match status {
            TaskStatus::Succeeded => self.emit_at(at, || EventKind::TaskSucceeded {
                task: name,
                instance: id,
            }),
            TaskStatus::TimedOut => self.emit_at(at, || EventKind::TaskTimedOut {
                task: name,
                instance: id,
            }),
            TaskStatus::Canceled => {
                let reason = error.clone().unwrap_or_default();
                self.emit_at(at, || EventKind::TaskSkipped {
                    task: name,
                    instance: Some(id),
                    reason,
                })
            }
            _ => {
                let e = error.clone().unwrap_or_default();
                self.emit_at(at, || EventKind::TaskFailed {
                    task: name,
                    instance: id,
                    error: e,
                })
            }
        }
        if status == TaskStatus::Canceled {
            return;
        }

        if task.next.is_empty() {
            if status.is_failure() {
                let msg = error.unwrap_or_else(|| status.to_string());
                self.fail_run(Some(&task.name), msg);
            }
            return;
        }
        // The context with this task as `result()` and the status functions'
        // subject; made only when some `when` or publish needs more than
        // the status (`{{ succeeded() }}` is decided without it).
        let mut cur: Option<WorkflowContext> = None;
        let current = |ctx: &WorkflowContext| {
            ctx.with_current_task(CurrentTask {
                name: task.name.clone(),
                status,
                result: result.clone(),
            })
        };
        // Every `when` is evaluated first, against the context as the task
        // left it; only then are the matching transitions' publishes applied
        // (in order) and their targets started. So a publish of one
        // transition cannot change which other transitions match.
        let mut taken = Bits::new(task.next.len());
        let mut when_failed = false;
        for (ti, tr) in task.next.iter().enumerate() {
            let take = match &tr.when {
                None => true,
                Some(w) => match w.status_test(status) {
                    Some(b) => b,
                    None => {
                        let c = cur.get_or_insert_with(|| current(&self.ctx));
                        match w.eval_bool(c) {
                            Ok(b) => b,
                            Err(e) => {
                                when_failed = true;
                                self.fail_run(
                                    Some(&task.name),
                                    format!("next[{ti}].when: {}", e.message()),
                                );
                                break;
                            }
                        }
                    }
                },
            };
            if take {
                taken.set(ti);
            }
        }
        let handled = when_failed || taken.any();
        'transitions: for ti in 0..task.next.len() {
            if when_failed || !taken.get(ti) {
                continue;
            }
            let tr = &task.next[ti];
            if !tr.publish.is_empty() {
                let cur = cur.get_or_insert_with(|| current(&self.ctx));
                for (k, v) in &tr.publish {
                    match v.render(cur) {
                        Ok(value) => self.ctx.set_var(k.as_str(), value),
                        Err(e) => {
                            self.fail_run(
                                Some(&task.name),
                                format!("next[{ti}].publish.{k}: {}", e.message()),
                            );
                            break 'transitions;
                        }
                    }
                }
            }
            for target in &tr.targets {
                match *target {
                    Target::Task(n) => self.arrive(n, task.id),
                    Target::Fail => {
                        let why = match &error {
                            Some(e) => format!("transitioned to `fail` after: {e}"),
                            None => "transitioned to `fail`".to_owned(),
                        };
                        self.fails_queued += 1;
                        self.queue
                            .push_back(Work::Fail(Box::new((task.name.clone(), why))));
                    }
                    Target::Noop | Target::Continue => {}
                }
            }
        }
        if status.is_failure() && !handled {
            let msg = error.unwrap_or_else(|| status.to_string());
            self.fail_run(Some(&task.name), msg);
        }
        // Every join this task leads to and did not arrive at is declined
        // (`decline` leaves the ones it arrived at alone).
        if !self.join_slot.is_empty() {
            for tr in &task.next {
                for target in &tr.targets {
                    if let Target::Task(n) = *target {
                        self.decline(n, task.id);
                    }
                }
            }
        }
    }

    // ---- joins ---------------------------------------------------------

    fn join_of(&self, task: TaskId) -> Option<usize> {
        match self.join_slot.get(task as usize) {
            Some(&j) if j != u32::MAX => Some(j as usize),
            _ => None,
        }
    }

    fn arrive(&mut self, target: TaskId, from: TaskId) {
        if self.state != State::Running {
            self.skip(target);
            return;
        }
        let Some(j) = self.join_of(target) else {
            self.queue.push_back(Work::Dispatch(target));
            return;
        };
        let js = &mut self.joins[j];
        if js.fired {
            return;
        }
        if let Ok(pos) = self.plan.task(target).inbound.binary_search(&from) {
            if !js.arrived.get(pos) {
                js.arrived.set(pos);
                js.declined.unset(pos);
                js.arrived_count += 1;
            }
        }
        if js.arrived_count >= js.need {
            js.fired = true;
            self.queue.push_back(Work::Dispatch(target));
        } else {
            self.check_join(j);
        }
    }

    /// `from` finished without a transition to the join `target` (a no-op
    /// if `target` is no join, or `from` arrived at it).
    fn decline(&mut self, target: TaskId, from: TaskId) {
        let Some(j) = self.join_of(target) else {
            return;
        };
        let js = &mut self.joins[j];
        if js.fired {
            return;
        }
        if let Ok(pos) = self.plan.task(target).inbound.binary_search(&from) {
            if js.arrived.get(pos) {
                return;
            }
            js.declined.set(pos);
        }
        self.check_join(j);
    }

    fn check_join(&mut self, j: usize) {
        let js = &self.joins[j];
        if js.fired || js.arrived_count == 0 || self.state != State::Running {
            return;
        }
        let inbound = &self.plan.task(js.task).inbound;
        let open = (0..inbound.len())
            .filter(|&i| !js.arrived.get(i) && !js.declined.get(i))
            .count();
        if js.arrived_count + open >= js.need {
            return;
        }
        let declined: Vec<String> = (0..inbound.len())
            .filter(|&i| js.declined.get(i))
            .map(|i| format!("`{}`", self.plan.task(inbound[i]).name))
            .collect();
        let msg = format!(
            "join can never be satisfied: it needs {} of {} branches, and {} finished without a transition to it",
            js.need,
            inbound.len(),
            declined.join(", ")
        );
        let name = self.plan.task(js.task).name.clone();
        self.fail_run(Some(&name), msg);
    }

    // ---- the end -------------------------------------------------------

    fn finish(&mut self) -> RunOutcome {
        if self.state == State::Running {
            let plan = self.plan.clone();
            for js in &self.joins {
                if js.fired || js.arrived_count == 0 {
                    continue;
                }
                let inbound = &plan.task(js.task).inbound;
                let missing: Vec<String> = (0..inbound.len())
                    .filter(|&i| !js.arrived.get(i))
                    .map(|i| format!("`{}`", plan.task(inbound[i]).name))
                    .collect();
                self.errors.push(RunError {
                    task: Some(plan.task(js.task).name.to_string()),
                    message: format!(
                        "join can never be satisfied: it needs {} of {} branches, and {} never arrived",
                        js.need,
                        inbound.len(),
                        missing.join(", ")
                    ),
                });
                self.failed = true;
            }
        }
        let mut status = if self.failed {
            RunStatus::Failed
        } else if self.canceled {
            RunStatus::Canceled
        } else {
            RunStatus::Succeeded
        };
        let mut output = Map::new();
        for (name, value) in self.plan.output() {
            match value.render(&self.ctx) {
                Ok(v) => {
                    output.insert(name.clone(), v);
                }
                Err(e) if status == RunStatus::Succeeded => {
                    self.errors.push(RunError {
                        task: None,
                        message: format!("output.{name}: {}", e.message()),
                    });
                    status = RunStatus::Failed;
                }
                Err(_) => {}
            }
        }
        self.emit(|| EventKind::RunEnded { status });
        // The working state is done with: free it before the records are
        // made, so a run of a million tasks does not hold both at its end.
        // (A small run skips the context: a fresh one costs more than it
        // frees.)
        if self.instances.len() >= 4096 {
            self.ctx = WorkflowContext::new(Value::Null, []);
        }
        self.joins = Vec::new();
        self.join_slot = Vec::new();
        self.slots = Vec::new();
        self.actions = Vec::new();
        self.queue = VecDeque::new();
        let to_sys = |at: Instant| self.started_sys + at.saturating_duration_since(self.started);
        let plan = &self.plan;
        let tasks_run = self.instances.len();
        let tasks = std::mem::take(&mut self.instances)
            .into_iter()
            .enumerate()
            .map(|(i, inst)| {
                let status = if inst.status.is_terminal() {
                    inst.status
                } else {
                    TaskStatus::Canceled
                };
                TaskRecord {
                    name: plan.task(inst.task).name.clone(),
                    instance: i as u32,
                    status,
                    attempts: inst.attempts,
                    items: inst.items.as_ref().map(|it| it.total),
                    result: inst.result,
                    error: inst.error,
                    started_at: inst.started.map(to_sys),
                    ended_at: inst.ended.map(to_sys),
                }
            })
            .collect();
        RunOutcome {
            run_id: self.run_id,
            workflow: self.plan.name().clone(),
            status,
            output: Value::Object(output),
            tasks,
            errors: std::mem::take(&mut self.errors),
            stats: RunStats {
                tasks_run,
                actions_run: self.actions_run,
                duration: self.started.elapsed(),
            },
        }
    }
}

/// A set of small indices (the transitions a task took, the branches that
/// reached a join): one word, without allocating, for up to 64.
enum Bits {
    Small(u64),
    Large(Vec<bool>),
}

impl Bits {
    fn new(n: usize) -> Bits {
        if n <= 64 {
            Bits::Small(0)
        } else {
            Bits::Large(vec![false; n])
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Bits::Small(bits) => *bits |= 1 << i,
            Bits::Large(v) => v[i] = true,
        }
    }

    fn unset(&mut self, i: usize) {
        match self {
            Bits::Small(bits) => *bits &= !(1 << i),
            Bits::Large(v) => v[i] = false,
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Bits::Small(bits) => bits & (1 << i) != 0,
            Bits::Large(v) => v[i],
        }
    }

    fn any(&self) -> bool {
        match self {
            Bits::Small(bits) => *bits != 0,
            Bits::Large(v) => v.contains(&true),
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        let mut cut = 77;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &s[..cut])
    } else {
        s
    }
}
