//! The compiled workflow: an immutable [`Plan`], made by compiling a
//! [`Workflow`](crate::Workflow) (see [`compile`]).
//!
//! A plan has dense task ids, precomputed edges and inbound counts, the start
//! tasks, and every `{{ }}` compiled once. It is cheap to clone and is shared
//! by every run made from it.

mod compile;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::context::{TaskIndex, TaskStatus, WorkflowContext};
use crate::def::Backoff;
use crate::diag::path::task_path;
use crate::error::{Error, ErrorKind, Location, Result};
use crate::expr::{Template, ValueTemplate};

pub use compile::{ActionCatalog, InputField};

/// The engine commands that may appear in `do`.
pub const ENGINE_COMMANDS: [&str; 4] = ["fail", "noop", "continue", "retry"];

/// Dense index of a task in a [`Plan`].
pub type TaskId = u32;

/// A number given as a constant or as an expression.
#[derive(Clone, Debug)]
pub enum Num {
    /// Known when compiling.
    Const(f64),
    /// Evaluated at run time.
    Expr(Template),
}

impl Num {
    /// The value in `ctx`.
    ///
    /// # Errors
    ///
    /// The expression fails, or does not give a number.
    pub fn eval(&self, ctx: &WorkflowContext) -> Result<f64> {
        match self {
            Num::Const(n) => Ok(*n),
            Num::Expr(t) => {
                let v = t.eval(ctx)?;
                match &v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Evaluation,
                        format!("`{}` gave {}, not a number", t.source(), json_type_name(&v)),
                    )
                })
            }
        }
    }
}

/// Where a transition leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Another task.
    Task(TaskId),
    /// Fail the workflow.
    Fail,
    /// Nothing; a failure taken here counts as handled.
    Noop,
    /// Nothing; a failure taken here counts as handled.
    Continue,
}

/// One compiled entry of a task's `next`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Transition {
    /// Condition; `None` means "on any completion".
    pub when: Option<Template>,
    /// Variables to publish, in order.
    pub publish: Vec<(String, ValueTemplate)>,
    /// Where to go.
    pub targets: Vec<Target>,
    /// `when` decided by the task's status alone, made when the plan is
    /// compiled: bit `s` set for each status `s` that takes it; `None` when
    /// `when` must be evaluated. (Read on every completion, so that the
    /// common `when: <% succeeded() %>` costs no visit to its template.)
    by_status: Option<u8>,
}

/// The bit of `status` in `Transition::by_status`.
#[inline]
fn status_bit(status: TaskStatus) -> u8 {
    1 << (status as u8)
}

impl Transition {
    pub(crate) fn new(
        when: Option<Template>,
        publish: Vec<(String, ValueTemplate)>,
        targets: Vec<Target>,
    ) -> Transition {
        let by_status = match &when {
            None => Some(u8::MAX),
            Some(w) => TaskStatus::ALL.iter().try_fold(0u8, |bits, &s| {
                w.status_test(s)
                    .map(|taken| if taken { bits | status_bit(s) } else { bits })
            }),
        };
        Transition {
            when,
            publish,
            targets,
            by_status,
        }
    }

    /// Whether a completion with `status` takes this transition, when its
    /// `when` is decided by the status alone (none, or `succeeded()`,
    /// `failed()`, `timed_out()`, `completed()`); `None` when `when` must
    /// be evaluated against the context.
    #[inline]
    pub fn taken_by_status(&self, status: TaskStatus) -> Option<bool> {
        self.by_status.map(|bits| bits & status_bit(status) != 0)
    }

    /// Goes to tasks only, publishes nothing, and is taken or not by the
    /// task's status alone (see [`TaskPlan::plain_next`]).
    pub(crate) fn is_plain(&self) -> bool {
        self.publish.is_empty()
            && !self.targets.is_empty()
            && self.targets.iter().all(|t| matches!(t, Target::Task(_)))
            && self.by_status.is_some()
    }
}

/// A join barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Every inbound branch.
    All,
    /// This many inbound branches.
    Count(u32),
}

/// What a runtime needs of a join task on every run and at every arrival
/// (see [`Plan::join_specs`]): a few bytes side by side in a table of the
/// plan's joins, read instead of the join task's [`TaskPlan`] (256 bytes,
/// its fields in several cache lines).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinSpec {
    /// The join task.
    pub task: TaskId,
    /// How many of its branches must arrive: every one for
    /// [`Join::All`], at most all of them for [`Join::Count`].
    pub need: u32,
    /// Its branches: [`TaskPlan::inbound`].
    pub inbound: Box<[TaskId]>,
}

/// One target of a plain transition (see [`Plan::plain_edges`]): where
/// it leads, which of the task's transitions it belongs to, and the
/// statuses that take it, side by side in a table of the plan's plain
/// transitions, read instead of the task's [`TaskPlan::next`] (the
/// transitions and each one's targets, allocations of their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlainEdge {
    /// The task it leads to.
    pub target: TaskId,
    /// Its transition's index in [`TaskPlan::next`].
    pub transition: u32,
    /// Its transition's `by_status` (which a plain transition always has:
    /// it is decided by the status alone).
    by_status: u8,
}

impl PlainEdge {
    /// Whether a completion with `status` takes its transition.
    #[inline]
    pub fn taken_by(self, status: TaskStatus) -> bool {
        self.by_status & status_bit(status) != 0
    }
}

/// The table of [`Plan::plain_edges`]: every plain task's edges in task
/// order, task `t`'s at `edges[start[t]..start[t + 1]]`.
#[derive(Debug, Default)]
struct PlainEdges {
    start: Box<[u32]>,
    edges: Box<[PlainEdge]>,
}

impl PlainEdges {
    /// The edges of the tasks whose `next` is plain ([`TaskPlan::plain_next`]);
    /// none for the others.
    fn new(tasks: &[TaskPlan]) -> PlainEdges {
        let mut start = Vec::with_capacity(tasks.len() + 1);
        let mut edges = Vec::new();
        for t in tasks {
            start.push(edges.len() as u32);
            if !t.plain_next {
                continue;
            }
            for (ti, tr) in t.next.iter().enumerate() {
                // A plain transition has `by_status` and tasks only.
                let Some(by_status) = tr.by_status else {
                    continue;
                };
                for target in &tr.targets {
                    if let Target::Task(n) = *target {
                        edges.push(PlainEdge {
                            target: n,
                            transition: ti as u32,
                            by_status,
                        });
                    }
                }
            }
        }
        start.push(edges.len() as u32);
        PlainEdges {
            start: start.into(),
            edges: edges.into(),
        }
    }

    fn of(&self, id: TaskId) -> &[PlainEdge] {
        let i = id as usize;
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) => self.edges.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// A task's facts that a runtime reads on every start and end of its
/// instances (see [`Plan::flags`]): one bit each, from its [`TaskPlan`]
/// when the plan is compiled, in a table of two bytes a task. A runtime
/// reads the task's plan (256 bytes, its fields in several cache lines)
/// only where a flag says the rare case applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskFlags(u16);

impl TaskFlags {
    const RETRY: u16 = 1;
    const TIMEOUT: u16 = 1 << 1;
    const WITH: u16 = 1 << 2;
    const DELAY: u16 = 1 << 3;
    const DYNAMIC_ACTION: u16 = 1 << 4;
    const EMPTY_INPUT: u16 = 1 << 5;
    const NO_NEXT: u16 = 1 << 6;
    const PLAIN_NEXT: u16 = 1 << 7;
    const SPLIT: u16 = 1 << 8;

    /// The flags of `task`.
    pub(crate) fn of(task: &TaskPlan) -> TaskFlags {
        let empty_input =
            matches!(&task.input, ValueTemplate::Static(Value::Object(m)) if m.is_empty());
        let bits = [
            (task.retry.is_some(), Self::RETRY),
            (task.timeout.is_some(), Self::TIMEOUT),
            (task.with.is_some(), Self::WITH),
            (task.delay.is_some(), Self::DELAY),
            (task.dynamic_action.is_some(), Self::DYNAMIC_ACTION),
            (empty_input, Self::EMPTY_INPUT),
            (task.next.is_empty(), Self::NO_NEXT),
            (task.plain_next, Self::PLAIN_NEXT),
            (task.split, Self::SPLIT),
        ];
        TaskFlags(
            bits.iter()
                .filter(|(set, _)| *set)
                .fold(0, |b, (_, bit)| b | bit),
        )
    }

    #[inline]
    fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    /// [`TaskPlan::retry`] is some.
    #[inline]
    pub fn retry(self) -> bool {
        self.has(Self::RETRY)
    }

    /// [`TaskPlan::timeout`] is some.
    #[inline]
    pub fn timeout(self) -> bool {
        self.has(Self::TIMEOUT)
    }

    /// [`TaskPlan::with`] is some.
    #[inline]
    pub fn with(self) -> bool {
        self.has(Self::WITH)
    }

    /// [`TaskPlan::delay`] is some.
    #[inline]
    pub fn delay(self) -> bool {
        self.has(Self::DELAY)
    }

    /// [`TaskPlan::dynamic_action`] is some.
    #[inline]
    pub fn dynamic_action(self) -> bool {
        self.has(Self::DYNAMIC_ACTION)
    }

    /// [`TaskPlan::input`] is a static empty map (a task without `input`):
    /// every attempt's input is `{}`, rendered from nothing.
    #[inline]
    pub fn empty_input(self) -> bool {
        self.has(Self::EMPTY_INPUT)
    }

    /// [`TaskPlan::next`] is empty.
    #[inline]
    pub fn no_next(self) -> bool {
        self.has(Self::NO_NEXT)
    }

    /// [`TaskPlan::plain_next`].
    #[inline]
    pub fn plain_next(self) -> bool {
        self.has(Self::PLAIN_NEXT)
    }

    /// [`TaskPlan::split`].
    #[inline]
    pub fn split(self) -> bool {
        self.has(Self::SPLIT)
    }
}

/// Compiled `with`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WithItems {
    /// Evaluates to the list of items.
    pub items: Template,
    /// Names from `x, y in ...`: each item becomes `{x: .., y: ..}`.
    pub names: Vec<String>,
    /// At most this many items in flight.
    pub concurrency: Option<Num>,
}

/// Compiled `retry`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Retry {
    /// Retry while this holds after an attempt.
    pub when: Template,
    /// Retries at most.
    pub count: Num,
    /// Seconds before the first retry.
    pub delay: Option<Num>,
    /// How the delay grows.
    pub backoff: Backoff,
    /// Upper bound on a delay.
    pub max_delay: Option<Num>,
}

impl Retry {
    /// The delay before retry number `retry` (1-based), given the base delay
    /// and cap in seconds.
    pub fn delay_for(&self, retry: u32, base: f64, max: Option<f64>) -> f64 {
        let n = f64::from(retry.max(1));
        let d = match self.backoff {
            Backoff::Constant => base,
            Backoff::Linear => base * n,
            Backoff::Exponential => base * 2f64.powf(n - 1.0),
        };
        let d = if d.is_finite() { d } else { f64::MAX };
        match max {
            Some(m) => d.min(m),
            None => d,
        }
        .max(0.0)
    }
}

/// One compiled task.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TaskPlan {
    /// Its id.
    pub id: TaskId,
    /// Its name.
    pub name: Arc<str>,
    /// The action; `None` for a task that only routes (succeeds with `null`).
    pub action: Option<Arc<str>>,
    /// An expression that names the action when the task starts (Orquesta's
    /// dynamic action), with `action` then `None`; boxed, as most tasks
    /// have none.
    pub dynamic_action: Option<Box<ValueTemplate>>,
    /// The action's input.
    pub input: ValueTemplate,
    /// Transitions, in order.
    pub next: Vec<Transition>,
    /// Join barrier, if any.
    pub join: Option<Join>,
    /// Items, if any (boxed, as most tasks have none).
    pub with: Option<Box<WithItems>>,
    /// Retry policy, if any (boxed, as most tasks have none).
    pub retry: Option<Box<Retry>>,
    /// Delay before the action, in seconds.
    pub delay: Option<Num>,
    /// Timeout of one attempt, in seconds.
    pub timeout: Option<Num>,
    /// Distinct tasks with a transition to this one, in id order.
    pub inbound: Vec<TaskId>,
    /// Number of transitions (across all tasks) that name this task.
    pub inbound_transitions: u32,
    /// A split task: no `join`, named by more than one transition, on no
    /// cycle. Each arrival starts a new route (see [`Plan`]).
    pub split: bool,
    /// Every entry of `next` goes to tasks only (no engine command, at
    /// least one target), publishes nothing, and has no `when` or one
    /// decided by the task's status alone ([`Template::status_test`]):
    /// `after`'s transitions, and most DAG-shaped workflows'. A runtime
    /// takes such transitions without a context or a publish; `false`
    /// for a task without `next`.
    pub plain_next: bool,
}

/// A declared input.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InputSpec {
    /// Its name.
    pub name: String,
    /// Its default; `None` means required.
    pub default: Option<Value>,
    /// Its value is a secret: masked wherever it would be printed.
    pub secret: bool,
}

#[derive(Debug)]
struct PlanInner {
    name: Arc<str>,
    description: Option<String>,
    inputs: Vec<InputSpec>,
    vars: Vec<(String, ValueTemplate)>,
    tasks: Vec<TaskPlan>,
    /// The tasks by name (and the names by id).
    index: TaskIndex,
    /// Per task, its place among the tasks ordered by name.
    name_rank: Vec<u32>,
    starts: Vec<TaskId>,
    /// The join tasks, in task order (see [`Plan::joins`]).
    joins: Vec<TaskId>,
    /// What a runtime needs of each of `joins`, in the same order (see
    /// [`Plan::join_specs`]).
    join_specs: Vec<JoinSpec>,
    /// Per task, its [`TaskFlags`] (see [`Plan::flags`]).
    flags: Box<[TaskFlags]>,
    /// The plain tasks' transitions (see [`Plan::plain_edges`]).
    plain: PlainEdges,
    status_used: bool,
    output: Vec<(String, ValueTemplate)>,
    /// The text the workflow was loaded from, if it was.
    text: Option<(Arc<str>, crate::load::Format)>,
    /// The file it was loaded from, if it was.
    file: Option<Arc<std::path::PathBuf>>,
    /// Where each key of `text` is, built again from it the first time a
    /// run reports an error (most plans never need it).
    source_map: std::sync::OnceLock<Option<crate::source_map::SourceMap>>,
}

/// Task ids by name (every `do` target is looked up).
pub(crate) use crate::context::NameMap;

/// A compiled, immutable workflow, shared by every run made from it.
///
/// Cloning copies a pointer.
///
/// # Examples
///
/// ```
/// use weft_core::Workflow;
///
/// let text = "
/// tasks:
///   a: {action: core.noop, next: [{do: b}]}
///   b: {action: core.noop}
/// ";
/// let plan = Workflow::from_yaml_str(text)?.compile(&["core.noop"])?;
/// assert_eq!(plan.starts().len(), 1);
/// assert_eq!(plan.task(plan.task_id("b").unwrap()).inbound_transitions, 1);
/// # Ok::<(), weft_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Plan {
    inner: Arc<PlanInner>,
}

impl Plan {
    /// True when `self` and `other` are the same compiled plan (clones of
    /// one `compile`), not merely equal ones.
    pub fn same(&self, other: &Plan) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The workflow's name (file stem, or as set; `workflow` otherwise).
    pub fn name(&self) -> &Arc<str> {
        &self.inner.name
    }

    /// The description, if any.
    pub fn description(&self) -> Option<&str> {
        self.inner.description.as_deref()
    }

    /// Declared inputs.
    pub fn inputs(&self) -> &[InputSpec] {
        &self.inner.inputs
    }

    /// Workflow variables, in order.
    pub fn vars(&self) -> &[(String, ValueTemplate)] {
        &self.inner.vars
    }

    /// All tasks, indexed by [`TaskId`]. The compiled tasks are engine
    /// internals (see [`crate::engine`]): not covered by semver.
    pub fn tasks(&self) -> &[TaskPlan] {
        &self.inner.tasks
    }

    /// One task (an engine internal, see [`crate::engine`]).
    ///
    /// # Panics
    ///
    /// If `id` is not an id of this plan.
    pub fn task(&self, id: TaskId) -> &TaskPlan {
        &self.inner.tasks[id as usize]
    }

    /// A task's id by name.
    pub fn task_id(&self, name: &str) -> Option<TaskId> {
        self.inner.index.id(name)
    }

    /// The tasks by name and by id, for a run's context to keep their
    /// results by id (see [`WorkflowContext::set_task_result_at`]).
    pub fn task_index(&self) -> &TaskIndex {
        &self.inner.index
    }

    /// A task's place among the plan's tasks ordered by name: comparing
    /// two tasks' ranks is comparing their names (an engine internal, see
    /// [`crate::engine`]).
    ///
    /// ```
    /// use weft_core::Workflow;
    ///
    /// let text = "version: 1.0\ntasks:\n  b: {action: core.noop}\n  a: {action: core.noop}\n";
    /// let plan = Workflow::from_yaml_str(text)?.compile(&["core.noop"])?;
    /// let (a, b) = (plan.task_id("a").unwrap(), plan.task_id("b").unwrap());
    /// assert!(b < a && plan.name_rank(a) < plan.name_rank(b));
    /// # Ok::<(), weft_core::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `id` is not an id of this plan.
    pub fn name_rank(&self, id: TaskId) -> u32 {
        self.inner.name_rank[id as usize]
    }

    /// Tasks that no transition targets: they start the run.
    pub fn starts(&self) -> &[TaskId] {
        &self.inner.starts
    }

    /// The tasks with a `join`, in task order: a runtime sets up their
    /// states from this list, without reading every task's plan.
    pub fn joins(&self) -> &[TaskId] {
        &self.inner.joins
    }

    /// What a runtime needs of each join task, in the order of
    /// [`Plan::joins`] (an engine internal, see [`crate::engine`]): a run
    /// sets up its joins' states, and counts each arrival at a join, from
    /// this table instead of the join tasks' plans.
    pub fn join_specs(&self) -> &[JoinSpec] {
        &self.inner.join_specs
    }

    /// [`TaskPlan::split`] of task `id`, from the table of [`Plan::flags`]
    /// (read on every arrival at a task that is no join, where the task's
    /// own plan is not otherwise read); `false` for an id of no task.
    #[inline]
    pub fn is_split(&self, id: TaskId) -> bool {
        self.inner.flags.get(id as usize).is_some_and(|f| f.split())
    }

    /// The [`TaskFlags`] of task `id` (an engine internal, see
    /// [`crate::engine`]), from a table of two bytes a task: a runtime
    /// reads them on every start and end of an instance, and the task's
    /// [`TaskPlan`] only for what a flag says the task has.
    ///
    /// ```
    /// use weft_core::Workflow;
    ///
    /// let text = "tasks:\n  a: {action: core.noop, retry: {count: 2}, next: [{do: b}]}\n  b: {action: core.noop}\n";
    /// let plan = Workflow::from_yaml_str(text)?.compile(&["core.noop"])?;
    /// let (a, b) = (plan.task_id("a").unwrap(), plan.task_id("b").unwrap());
    /// assert!(plan.flags(a).retry() && plan.flags(a).plain_next());
    /// assert!(!plan.flags(b).retry() && plan.flags(b).no_next() && plan.flags(b).empty_input());
    /// # Ok::<(), weft_core::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `id` is not an id of this plan.
    #[inline]
    pub fn flags(&self, id: TaskId) -> TaskFlags {
        self.inner.flags[id as usize]
    }

    /// The targets of task `id`'s transitions when its `next` is plain
    /// ([`TaskPlan::plain_next`]), in the order of `next` and of each
    /// transition's targets (an engine internal, see [`crate::engine`]);
    /// empty for any other task, or an id of no task. Made when the plan is
    /// compiled, side by side for all tasks: a runtime takes a plain task's
    /// transitions from this table without reading its [`TaskPlan`].
    ///
    /// ```
    /// use weft_core::{TaskStatus, Workflow};
    ///
    /// let text = "tasks:\n  a: {action: core.noop, next: [{when: '{{ failed() }}', do: [b, c]}]}\n  b: {action: core.noop}\n  c: {action: core.noop}\n";
    /// let plan = Workflow::from_yaml_str(text)?.compile(&["core.noop"])?;
    /// let (a, b) = (plan.task_id("a").unwrap(), plan.task_id("b").unwrap());
    /// let edges = plan.plain_edges(a);
    /// assert_eq!(edges.len(), 2);
    /// assert_eq!((edges[0].target, edges[0].transition), (b, 0));
    /// assert!(edges[0].taken_by(TaskStatus::Failed) && !edges[0].taken_by(TaskStatus::Succeeded));
    /// assert!(plan.plain_edges(b).is_empty());
    /// # Ok::<(), weft_core::Error>(())
    /// ```
    #[inline]
    pub fn plain_edges(&self, id: TaskId) -> &[PlainEdge] {
        self.inner.plain.of(id)
    }

    /// True when some expression calls `task_status(...)`. A runtime may
    /// skip recording statuses in the context for plans that never read
    /// them (it is one map insert per finished task).
    pub fn uses_task_status(&self) -> bool {
        self.inner.status_used
    }

    /// Output entries, in order.
    pub fn output(&self) -> &[(String, ValueTemplate)] {
        &self.inner.output
    }

    /// The text the workflow was compiled from, and its format; `None` for
    /// a workflow built in code. A durable run records it, and resumes
    /// from it.
    pub fn source(&self) -> Option<(&str, crate::load::Format)> {
        self.inner.text.as_ref().map(|(t, f)| (&**t, *f))
    }

    /// Where `path` (such as `tasks.fetch.input.url`) is written in the
    /// workflow's text: the start of its value when that is a scalar, or
    /// else of its key. Empty for a workflow built in code.
    pub fn location_of(&self, path: &str) -> Location {
        let map = self.inner.source_map.get_or_init(|| {
            let (text, _) = self.inner.text.as_ref()?;
            crate::source_map::SourceMap::build(text).ok()
        });
        let file = &self.inner.file;
        let Some(map) = map else {
            return Location {
                file: file.clone(),
                line: None,
                column: None,
            };
        };
        match map.scalar(path) {
            Some(start) => Location {
                file: file.clone(),
                line: Some(start.line as usize),
                column: Some(start.column as usize),
            },
            None => map.location(path, file),
        }
    }

    /// An error met while a run evaluated one of this plan's expressions,
    /// as one line for the task's error: the field it is in (or
    /// `field` when the error names none) and where that is written, then
    /// the message, for example
    /// ``input.url at deploy.yaml:12:14: `parameters.hots` is undefined: ...``.
    pub fn describe_error(&self, e: &Error, field: &str) -> String {
        let field = e.field().unwrap_or(field);
        let path = match e.task() {
            Some(t) => format!("{}.{field}", task_path(t)),
            None => field.to_owned(),
        };
        let at = self.location_of(&path);
        if at.line.is_some() {
            format!("{field} at {at}: {}", e.message())
        } else {
            format!("{field}: {}", e.message())
        }
    }

    /// Checks a run's inputs against the declared ones and applies defaults.
    ///
    /// `null` counts as "no inputs". Defaults may be expressions over
    /// inputs given before them.
    ///
    /// # Errors
    ///
    /// Inputs that are not a map, a missing required input, or an input the
    /// workflow does not declare; the error names it.
    pub fn bind_inputs(&self, inputs: Value) -> Result<Value> {
        // A workflow that declares no inputs, given none: nothing to check
        // or bind. Every run of such a workflow starts here, and the checks
        // below are some 20 cache lines of code it would fetch for nothing.
        if self.inner.inputs.is_empty() {
            match inputs {
                Value::Null => return Ok(Value::Object(Map::new())),
                Value::Object(m) if m.is_empty() => return Ok(Value::Object(m)),
                other => return self.bind_declared(other),
            }
        }
        self.bind_declared(inputs)
    }

    /// [`Plan::bind_inputs`] in general: checked against the declared
    /// inputs, defaults applied.
    #[inline(never)]
    fn bind_declared(&self, inputs: Value) -> Result<Value> {
        let mut given = match inputs {
            Value::Null => Map::new(),
            Value::Object(m) => m,
            other => {
                return Err(Error::new(
                    ErrorKind::Input,
                    format!(
                        "inputs must be a map of name to value, not {}",
                        json_type_name(&other)
                    ),
                ))
            }
        };
        let declared: HashSet<&str> = self.inner.inputs.iter().map(|i| i.name.as_str()).collect();
        let mut unknown: Vec<&String> = given
            .keys()
            .filter(|k| !declared.contains(k.as_str()))
            .collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            let names: Vec<&str> = self.inner.inputs.iter().map(|i| i.name.as_str()).collect();
            let listed = if names.is_empty() {
                "it declares none".to_owned()
            } else {
                format!("it declares: {}", names.join(", "))
            };
            return Err(Error::new(
                ErrorKind::Input,
                format!("unknown input `{first}`: the workflow does not declare it ({listed})"),
            )
            .with_field(format!("input.{first}")));
        }
        // Missing inputs first: a default that uses one would otherwise
        // fail with a less helpful message.
        let missing: Vec<&str> = self
            .inner
            .inputs
            .iter()
            .filter(|s| s.default.is_none() && !given.contains_key(&s.name))
            .map(|s| s.name.as_str())
            .collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let noun = if missing.len() == 1 {
                "input"
            } else {
                "inputs"
            };
            return Err(Error::new(
                ErrorKind::Input,
                format!("missing required {noun} {list}: pass a value for each"),
            )
            .with_field(format!("input.{}", missing[0])));
        }
        let mut out = Map::new();
        for spec in &self.inner.inputs {
            if let Some(v) = given.remove(&spec.name) {
                out.insert(spec.name.clone(), v);
            } else if let Some(d) = &spec.default {
                let ctx = WorkflowContext::new(Value::Object(out.clone()), []);
                let v = ctx.render_json(d).map_err(|e| {
                    let hint = if e.message().contains("undefined") {
                        "; a default may use only the inputs declared before it"
                    } else {
                        ""
                    };
                    Error::new(
                        ErrorKind::Input,
                        format!("default of input `{}`: {}{hint}", spec.name, e.message()),
                    )
                    .with_field(format!("input.{}", spec.name))
                })?;
                out.insert(spec.name.clone(), v);
            }
        }
        Ok(Value::Object(out))
    }
}

/// How a JSON value's type reads in an error message: `a string`, `a list`, ...
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}
