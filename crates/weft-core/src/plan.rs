//! Compiling: a [`Workflow`] checked and turned into an immutable [`Plan`].
//!
//! A plan has dense task ids, precomputed edges and inbound counts, the start
//! tasks, and every `{{ }}` compiled once. It is cheap to clone and is shared
//! by every run made from it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::context::WorkflowContext;
use crate::def::{Backoff, JoinDef, NumberOrExpr, Publish, WorkflowDef};
use crate::error::{Error, ErrorKind, Location, Result};
use crate::expr::{Template, ValueTemplate};
use crate::load::{task_path, Workflow};

/// The engine commands that may appear in `do`.
pub const ENGINE_COMMANDS: [&str; 4] = ["fail", "noop", "continue", "retry"];

/// Dense index of a task in a [`Plan`].
pub type TaskId = u32;

/// The set of action names a workflow may use, and the input fields of
/// those that declare them.
///
/// Compiling checks every task's `action` against it, and the keys of its
/// `input` against the fields the action declares. The runtime's executor
/// implements it; so do sets and slices of names (which declare no fields).
pub trait ActionCatalog {
    /// True when an action of this name is registered.
    fn has_action(&self, name: &str) -> bool;
    /// Every registered name (used to suggest a fix for a typo).
    fn action_names(&self) -> Vec<String>;
    /// The input fields action `name` declares, or `None` when it declares
    /// none (the default): then its input is not checked when compiling.
    ///
    /// With fields declared, compiling rejects an `input` key that is not
    /// one of them (suggesting the closest) and, when the task's input is
    /// written as a map or inline parameters, a required field left out.
    fn input_fields(&self, name: &str) -> Option<Vec<InputField>> {
        let _ = name;
        None
    }
}

/// One input field an action declares (see [`ActionCatalog::input_fields`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputField {
    /// The key a task's `input` gives it under.
    pub name: String,
    /// Whether every task must give it.
    pub required: bool,
}

impl InputField {
    /// A field a task must give.
    pub fn required(name: impl Into<String>) -> InputField {
        InputField {
            name: name.into(),
            required: true,
        }
    }

    /// A field a task may leave out.
    pub fn optional(name: impl Into<String>) -> InputField {
        InputField {
            name: name.into(),
            required: false,
        }
    }
}

impl<S: std::hash::BuildHasher> ActionCatalog for HashSet<String, S> {
    fn has_action(&self, name: &str) -> bool {
        self.contains(name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().cloned().collect()
    }
}

impl ActionCatalog for BTreeSet<String> {
    fn has_action(&self, name: &str) -> bool {
        self.contains(name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().cloned().collect()
    }
}

impl ActionCatalog for [&str] {
    fn has_action(&self, name: &str) -> bool {
        self.contains(&name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl<const N: usize> ActionCatalog for [&str; N] {
    fn has_action(&self, name: &str) -> bool {
        self.contains(&name)
    }
    fn action_names(&self) -> Vec<String> {
        self.iter().map(|s| (*s).to_owned()).collect()
    }
}

impl ActionCatalog for Vec<String> {
    fn has_action(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
    fn action_names(&self) -> Vec<String> {
        self.clone()
    }
}

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
pub struct Transition {
    /// Condition; `None` means "on any completion".
    pub when: Option<Template>,
    /// Variables to publish, in order.
    pub publish: Vec<(String, ValueTemplate)>,
    /// Where to go.
    pub targets: Vec<Target>,
}

/// A join barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Every inbound branch.
    All,
    /// This many inbound branches.
    Count(u32),
}

/// Compiled `with`.
#[derive(Clone, Debug)]
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
pub struct TaskPlan {
    /// Its id.
    pub id: TaskId,
    /// Its name.
    pub name: Arc<str>,
    /// The action; `None` for a task that only routes (succeeds with `null`).
    pub action: Option<Arc<str>>,
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
}

/// A declared input.
#[derive(Clone, Debug)]
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
    by_name: NameMap,
    starts: Vec<TaskId>,
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

/// Task ids by name. The names are the workflow's own, so the fast hasher
/// of the context maps serves here too (every `do` target is looked up).
type NameMap = HashMap<Arc<str>, TaskId, foldhash::fast::RandomState>;

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

    /// All tasks, indexed by [`TaskId`].
    pub fn tasks(&self) -> &[TaskPlan] {
        &self.inner.tasks
    }

    /// One task.
    ///
    /// # Panics
    ///
    /// If `id` is not an id of this plan.
    pub fn task(&self, id: TaskId) -> &TaskPlan {
        &self.inner.tasks[id as usize]
    }

    /// A task's id by name.
    pub fn task_id(&self, name: &str) -> Option<TaskId> {
        self.inner.by_name.get(name).copied()
    }

    /// Tasks that no transition targets: they start the run.
    pub fn starts(&self) -> &[TaskId] {
        &self.inner.starts
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

/// The closest candidate to `name` by edit distance, if it is close.
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    Suggester::new(SUGGEST_BUDGET).suggest(name, candidates)
}

/// Work (candidates looked at plus edit-distance cells) one [`Suggester`]
/// may spend: enough for every typo in a hand-written workflow, and a
/// bound when a generated file has thousands of unknown names among
/// thousands of tasks (each suggestion scans every candidate).
const SUGGEST_BUDGET: usize = 4_000_000;

/// Names longer than this get no suggestion: a typo is made in a name
/// people type, and the distance costs the product of the two lengths.
const SUGGEST_MAX_CHARS: usize = 64;

/// Finds close names for "did you mean" hints within a fixed budget of
/// work; once it is spent, it suggests nothing more.
pub(crate) struct Suggester {
    budget: usize,
    before: Vec<usize>,
    prev: Vec<usize>,
    cur: Vec<usize>,
    chars: Vec<char>,
}

impl Suggester {
    pub(crate) fn new(budget: usize) -> Suggester {
        Suggester {
            budget,
            before: Vec::new(),
            prev: Vec::new(),
            cur: Vec::new(),
            chars: Vec::new(),
        }
    }

    /// The closest candidate to `name`, if one is close (an edit distance
    /// of at most a third of the longer name, and at least 1).
    pub(crate) fn suggest<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        self.best(name, candidates).map(|(c, _)| c)
    }

    /// The closest candidate to `name`, if one is close and no other is as
    /// close (candidates are expected to be distinct).
    pub(crate) fn suggest_unique<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        match self.best(name, candidates) {
            Some((c, false)) => Some(c),
            _ => None,
        }
    }

    /// The closest candidate, and whether another was as close.
    fn best<'a>(
        &mut self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<(&'a str, bool)> {
        let a: Vec<char> = name.chars().take(SUGGEST_MAX_CHARS + 1).collect();
        if a.len() > SUGGEST_MAX_CHARS {
            return None;
        }
        let mut best: Option<(usize, &str, bool)> = None;
        for c in candidates {
            self.budget = self.budget.checked_sub(1)?;
            // A name of n bytes has between n/4 and n chars, and the
            // distance is at least the difference in length: most
            // candidates are ruled out without counting their chars.
            let limit_for = |len: usize| (a.len().max(len) / 3).max(1);
            if c.len() / 4 > SUGGEST_MAX_CHARS || c.len() / 4 > a.len() + limit_for(c.len()) {
                continue;
            }
            self.chars.clear();
            self.chars.extend(c.chars().take(SUGGEST_MAX_CHARS + 1));
            let b_len = self.chars.len();
            if b_len > SUGGEST_MAX_CHARS {
                continue;
            }
            let limit = limit_for(b_len);
            if a.len().abs_diff(b_len) > limit {
                continue;
            }
            self.budget = self.budget.checked_sub(a.len() * b_len)?;
            let d = self.distance(&a);
            if d > limit {
                continue;
            }
            match best {
                Some((bd, _, ref mut tied)) if d == bd => *tied = true,
                Some((bd, _, _)) if d > bd => {}
                _ => best = Some((d, c, false)),
            }
        }
        best.map(|(_, c, tied)| (c, tied))
    }

    /// Edit distance between `a` and `self.chars`, counting a swap of two
    /// neighbouring letters (`nmae` for `name`) as one edit (the optimal
    /// string alignment distance), in three reused rows.
    fn distance(&mut self, a: &[char]) -> usize {
        let b = &self.chars;
        self.before.clear();
        self.before.resize(b.len() + 1, 0);
        self.prev.clear();
        self.prev.extend(0..=b.len());
        self.cur.clear();
        self.cur.resize(b.len() + 1, 0);
        for (i, ca) in a.iter().enumerate() {
            self.cur[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != cb);
                let mut d = (self.prev[j] + cost)
                    .min(self.prev[j + 1] + 1)
                    .min(self.cur[j] + 1);
                if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                    d = d.min(self.before[j - 1] + 1);
                }
                self.cur[j + 1] = d;
            }
            // The row before the previous one becomes the next current row.
            std::mem::swap(&mut self.before, &mut self.prev);
            std::mem::swap(&mut self.prev, &mut self.cur);
        }
        self.prev[b.len()]
    }
}

struct Compiler<'w> {
    wf: &'w Workflow,
    /// The first [`Error::MAX_KEPT`] errors found.
    errors: Vec<Error>,
    /// Errors found beyond those kept; only counted, so that a file with
    /// many mistakes costs no more per mistake than one with a few.
    omitted: usize,
    suggester: Suggester,
    /// Whether any expression calls `task_status(...)`.
    status_used: bool,
    /// Whether input keys and expression names are checked (not for a
    /// recorded run's text: see [`Workflow::compile_recorded`]).
    checks: bool,
    /// The declared inputs, sorted: what `parameters.x` may name.
    inputs: Vec<String>,
    /// Inputs, variables, published and output names, sorted: what
    /// `ctx('x')` may name.
    ctx_names: Vec<String>,
    /// The environment's global functions, asked for once.
    functions: Option<Vec<&'static str>>,
}

impl Compiler<'_> {
    /// True when no further error would be kept: the caller then counts
    /// its error with [`Compiler::omit`] instead of building its message.
    fn full(&self) -> bool {
        self.errors.len() >= Error::MAX_KEPT
    }

    fn omit(&mut self) {
        self.omitted += 1;
    }

    fn push(&mut self, e: Error) {
        if self.full() {
            self.omit();
        } else {
            self.errors.push(e);
        }
    }

    fn error(&mut self, kind: ErrorKind, path: &str, message: impl Into<String>) {
        if self.full() {
            self.omit();
            return;
        }
        let (task, field) = crate::load::split_path(path);
        let mut e = Error::new(kind, message).with_location(self.wf.location_of(path));
        if let Some(t) = task {
            e = e.with_task(t);
        }
        if let Some(f) = field {
            e = e.with_field(f);
        }
        self.push(e);
    }

    /// Gives `e` the position of the field it names (template errors name
    /// the exact key inside an input map), or else of `path`.
    fn located(&self, mut e: Error, path: &str) -> Error {
        let named = match (e.task(), e.field()) {
            (Some(t), Some(f)) => Some(format!("{}.{f}", task_path(t))),
            (Some(t), None) => Some(task_path(t)),
            (None, Some(f)) => Some(f.to_owned()),
            (None, None) => None,
        };
        let location = named
            .map(|p| match e.text_offset() {
                // The exact column of a mistake inside the field's text.
                Some((text, offset)) => self.wf.location_in_scalar(&p, text, offset),
                None => self.wf.location_of(&p),
            })
            .filter(|l| l.line.is_some())
            .unwrap_or_else(|| self.wf.location_of(path));
        e.set_location_if_missing(location);
        e
    }

    fn template(&mut self, source: &str, path: &str) -> Option<Template> {
        self.status_used |= source.contains("task_status");
        match Template::compile_at(source, Some(Arc::from(path))) {
            Ok(t) => {
                if !t.is_literal() {
                    self.check_names(source, path, None);
                }
                Some(t)
            }
            Err(e) => {
                let e = self.located(e, path);
                self.push(e);
                None
            }
        }
    }

    /// A `when`: text without an expression would always be true (even
    /// `"false"` or `"failed()"`), so it must hold one.
    fn condition(&mut self, source: &str, path: &str) -> Option<Template> {
        let t = self.template(source, path)?;
        if t.is_literal() {
            self.error(
                ErrorKind::Validation,
                path,
                format!(
                    "`when` must be an expression such as \"{{{{ succeeded() }}}}\", not `{source}`: plain text is always true"
                ),
            );
            return None;
        }
        Some(t)
    }

    fn value(&mut self, value: &Value, path: &str) -> Option<ValueTemplate> {
        self.status_used |= mentions(value, "task_status");
        match ValueTemplate::compile(value, path) {
            Ok(t) => {
                if !t.is_static() {
                    self.check_value_names(value, path);
                }
                Some(t)
            }
            Err(e) => {
                let e = self.located(e, path);
                self.push(e);
                None
            }
        }
    }

    /// An error about the character at byte `offset` of `scalar`, the
    /// text written at `path` (an inline parameter).
    fn error_in_scalar(
        &mut self,
        kind: ErrorKind,
        path: &str,
        scalar: &str,
        offset: usize,
        message: impl Into<String>,
    ) {
        if self.full() {
            self.omit();
            return;
        }
        let location = self.wf.location_in_scalar(path, scalar, offset);
        self.push(at_path(Error::new(kind, message), path).with_location(location));
    }

    /// Reads the inline parameters of `scalar` from byte `from` on.
    fn inline_pairs(
        &mut self,
        scalar: &str,
        from: usize,
        path: &str,
    ) -> Option<Vec<crate::inline::Pair>> {
        match crate::inline::parse(&scalar[from..]) {
            Ok(mut pairs) => {
                for p in &mut pairs {
                    p.at += from;
                    p.value_at += from;
                }
                Some(pairs)
            }
            Err(problem) => {
                let message = problem.message;
                self.error_in_scalar(ErrorKind::Schema, path, scalar, from + problem.at, message);
                None
            }
        }
    }

    /// Compiles the value of an inline parameter; errors point at it.
    fn inline_value(
        &mut self,
        pair: &crate::inline::Pair,
        scalar: &str,
        path: &str,
    ) -> Option<ValueTemplate> {
        let value = &pair.value;
        self.status_used |= mentions(value, "task_status");
        match ValueTemplate::compile(value, path) {
            Ok(t) => {
                if !t.is_static() {
                    let mut texts = Vec::new();
                    strings_in(value, &mut texts);
                    for text in texts {
                        self.check_names(text, path, Some((scalar, pair.value_at)));
                    }
                }
                Some(t)
            }
            // Finding the place reads the text up to it: only for kept errors.
            Err(_) if self.full() => {
                self.omit();
                None
            }
            Err(e) => {
                let location = self.wf.location_in_scalar(path, scalar, pair.value_at);
                let e = at_path(e, path).with_location(location);
                self.push(e);
                None
            }
        }
    }

    /// The input written as inline parameters after the action's name
    /// (from byte `from` of `action`).
    fn inline_input(&mut self, action: &str, from: usize, path: &str) -> Option<ValueTemplate> {
        let pairs = self.inline_pairs(action, from, path)?;
        let mut fields: Vec<(String, ValueTemplate)> = Vec::with_capacity(pairs.len());
        let mut seen = HashSet::with_capacity(pairs.len());
        let mut ok = true;
        for pair in &pairs {
            if !seen.insert(pair.name.as_str()) {
                self.error_in_scalar(
                    ErrorKind::Validation,
                    path,
                    action,
                    pair.at,
                    format!("parameter `{}` is given twice: keep one", pair.name),
                );
                ok = false;
                continue;
            }
            match self.inline_value(pair, action, path) {
                Some(t) => fields.push((pair.name.clone(), t)),
                None => ok = false,
            }
        }
        ok.then(|| ValueTemplate::from_fields(fields))
    }

    /// A `publish` written as one string of inline pairs.
    fn inline_publish(&mut self, text: &str, path: &str) -> Vec<(String, ValueTemplate)> {
        let Some(pairs) = self.inline_pairs(text, 0, path) else {
            return Vec::new();
        };
        pairs
            .iter()
            .filter_map(|pair| {
                self.inline_value(pair, text, path)
                    .map(|t| (pair.name.clone(), t))
            })
            .collect()
    }

    /// Checks the strings of `value` (at `path`) with
    /// [`Compiler::check_names`].
    fn check_value_names(&mut self, value: &Value, path: &str) {
        match value {
            Value::String(s) => self.check_names(s, path, None),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.check_value_names(v, &format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.check_value_names(v, &format!("{path}.{k}"));
                }
            }
            _ => {}
        }
    }

    /// Checks the names the template `source` (written at `path`) uses:
    /// inputs read through `parameters`, names read through `ctx()`, and the
    /// filters, tests and functions it calls. `inline` is the scalar and
    /// offset of an inline parameter's value, which errors then point at.
    fn check_names(&mut self, source: &str, path: &str, inline: Option<(&str, usize)>) {
        use crate::names::Found;
        if !self.checks {
            return;
        }
        for (found, offset) in crate::names::scan(source) {
            let known = match found {
                // Both lists are sorted.
                Found::Parameter(n) => self.inputs.binary_search_by(|i| i.as_str().cmp(n)).is_ok(),
                Found::Ctx(n) => self
                    .ctx_names
                    .binary_search_by(|i| i.as_str().cmp(n))
                    .is_ok(),
                Found::Filter(n) => crate::expr::filter_exists(n),
                Found::Test(n) => crate::expr::test_exists(n),
                Found::Function(n) => self
                    .functions
                    .get_or_insert_with(crate::expr::function_names)
                    .contains(&n),
            };
            if known {
                continue;
            }
            // Past the errors kept, a mistake is only counted.
            if self.full() {
                self.omit();
                continue;
            }
            let message = match found {
                Found::Parameter(n) => {
                    let hint = match self
                        .suggester
                        .suggest_unique(n, self.inputs.iter().map(String::as_str))
                    {
                        Some(s) => format!("did you mean `parameters.{s}`?"),
                        None if self.inputs.is_empty() => {
                            format!("it declares none: add `{n}` to `input`")
                        }
                        None => format!(
                            "declare it under `input` (the inputs are: {})",
                            self.inputs.join(", ")
                        ),
                    };
                    format!("`parameters.{n}`: the workflow has no input `{n}`: {hint}")
                }
                Found::Ctx(n) => {
                    let hint = match self
                        .suggester
                        .suggest_unique(n, self.ctx_names.iter().map(String::as_str))
                    {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "declare it under `input` or `vars`, or publish it".to_owned(),
                    };
                    format!("`ctx('{n}')`: no input, variable or published value is named `{n}`: {hint}")
                }
                Found::Filter(n) => {
                    let hint = match self
                        .suggester
                        .suggest_unique(n, crate::names::FILTERS.iter().copied())
                    {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "see the filters in docs/workflow-language.md".to_owned(),
                    };
                    format!("unknown filter `{n}`: {hint}")
                }
                Found::Test(n) => {
                    let hint = match self
                        .suggester
                        .suggest_unique(n, crate::names::TESTS.iter().copied())
                    {
                        Some(s) => format!("did you mean `is {s}`?"),
                        None => "see the tests in docs/workflow-language.md".to_owned(),
                    };
                    format!("unknown test `{n}`: {hint}")
                }
                Found::Function(n) => {
                    let functions = self
                        .functions
                        .get_or_insert_with(crate::expr::function_names);
                    let hint = match self.suggester.suggest_unique(n, functions.iter().copied()) {
                        Some(s) => format!("did you mean `{s}()`?"),
                        None => format!("the functions are: {}", {
                            let mut f = functions.clone();
                            f.push("item");
                            f.sort_unstable();
                            f.join(", ")
                        }),
                    };
                    format!("unknown function `{n}()`: {hint}")
                }
            };
            match inline {
                Some((scalar, at)) => {
                    self.error_in_scalar(ErrorKind::Validation, path, scalar, at, message)
                }
                None => self.error_in_scalar(ErrorKind::Validation, path, source, offset, message),
            }
        }
    }

    /// Checks the keys a task gives its action (`input` map or inline
    /// parameters) against the fields the action declares.
    fn input_keys(
        &mut self,
        action: &str,
        fields: &[InputField],
        inline: Option<(&str, usize)>,
        map: Option<&indexmap::IndexMap<String, Value>>,
        base: &str,
    ) {
        let names = || fields.iter().map(|f| f.name.as_str());
        let takes = || {
            if fields.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("it takes {}", names().collect::<Vec<_>>().join(", "))
            }
        };
        let mut given: Vec<&str> = Vec::new();
        // Fields offered for a misspelt key: not reported missing as well.
        let mut suggested: Vec<&str> = Vec::new();
        let pairs;
        match (inline, map) {
            (Some((text, from)), _) => {
                // Unreadable parameters are reported by `inline_input`,
                // and their keys are not known.
                let Ok(read) = crate::inline::parse(&text[from..]) else {
                    return;
                };
                pairs = read;
                let path = format!("{base}.action");
                for p in &pairs {
                    given.push(&p.name);
                    if fields.iter().any(|f| f.name == p.name) {
                        continue;
                    }
                    if self.full() {
                        self.omit();
                        continue;
                    }
                    let hint = match closest_field(&mut self.suggester, &p.name, fields) {
                        Some(s) => {
                            suggested.push(s);
                            format!("did you mean `{s}`?")
                        }
                        None => takes(),
                    };
                    self.error_in_scalar(
                        ErrorKind::Validation,
                        &path,
                        text,
                        from + p.at,
                        format!("`{action}` has no input `{}`: {hint}", p.name),
                    );
                }
            }
            (None, Some(m)) => {
                for key in m.keys() {
                    given.push(key);
                    if fields.iter().any(|f| &f.name == key) {
                        continue;
                    }
                    if self.full() {
                        self.omit();
                        continue;
                    }
                    let hint = match closest_field(&mut self.suggester, key, fields) {
                        Some(s) => {
                            suggested.push(s);
                            format!("did you mean `{s}`?")
                        }
                        None => takes(),
                    };
                    let path = crate::load::join_key(&format!("{base}.input"), key);
                    self.error(
                        ErrorKind::Validation,
                        &path,
                        format!("`{action}` has no input `{key}`: {hint}"),
                    );
                }
            }
            (None, None) => {}
        }
        for f in fields {
            let name = f.name.as_str();
            if f.required && !given.contains(&name) && !suggested.contains(&name) {
                let path = match (inline, map) {
                    (Some(_), _) => format!("{base}.action"),
                    (None, Some(_)) => format!("{base}.input"),
                    (None, None) => base.to_owned(),
                };
                self.error(
                    ErrorKind::Validation,
                    &path,
                    format!(
                        "`{action}` needs input `{}`: add it to the task's `input`",
                        f.name
                    ),
                );
            }
        }
    }

    fn num(
        &mut self,
        n: &NumberOrExpr,
        path: &str,
        what: &str,
        min: f64,
        whole: bool,
    ) -> Option<Num> {
        match n {
            NumberOrExpr::Number(x) => {
                if !x.is_finite() || *x < min || (whole && x.fract() != 0.0) {
                    let kind = if whole { "a whole number" } else { "a number" };
                    let unit = if whole { "" } else { " seconds" };
                    self.error(
                        ErrorKind::Validation,
                        path,
                        format!("{what} must be {kind} of at least {min}{unit}, not {x}"),
                    );
                    None
                } else {
                    Some(Num::Const(*x))
                }
            }
            NumberOrExpr::Expr(s) => self.template(s, path).map(Num::Expr),
        }
    }
}

impl Workflow {
    /// Checks the workflow and compiles it into a [`Plan`].
    ///
    /// `catalog` is the set of action names the caller can run (an
    /// executor, or a set of names).
    ///
    /// # Errors
    ///
    /// Every mistake found, combined into one error (see [`Error::others`]):
    /// unknown `do` targets, no start task, impossible joins, unknown
    /// actions, duplicate inputs, tasks named like engine commands, template
    /// syntax errors, tasks that can never run. Each names its task, field
    /// and position.
    pub fn compile<C: ActionCatalog + ?Sized>(&self, catalog: &C) -> Result<Plan> {
        self.compile_with(catalog, true)
    }

    /// Compiles text that a run has already started with (a durable run's
    /// recorded workflow, when it is resumed or inspected): as
    /// [`Workflow::compile`], less the checks that only reject what would
    /// fail later, in a run — input keys against the fields actions declare,
    /// and the names expressions spell out (`parameters.x`, `ctx('x')`,
    /// filters, tests, functions). A run recorded before such a check
    /// existed, or before its action declared its fields, still resumes;
    /// the mistake, if it is one, fails the task that reaches it.
    ///
    /// # Errors
    ///
    /// As for [`Workflow::compile`], less those checks.
    pub fn compile_recorded<C: ActionCatalog + ?Sized>(&self, catalog: &C) -> Result<Plan> {
        self.compile_with(catalog, false)
    }

    fn compile_with<C: ActionCatalog + ?Sized>(&self, catalog: &C, checks: bool) -> Result<Plan> {
        // Equal expression texts are parsed once in this compile.
        let _cache = crate::expr::ExprCache::enter();
        let def = self.def();
        let (inputs, ctx_names) = if checks {
            declared_names(def)
        } else {
            Default::default()
        };
        let mut c = Compiler {
            wf: self,
            errors: Vec::new(),
            omitted: 0,
            suggester: Suggester::new(SUGGEST_BUDGET),
            status_used: false,
            checks,
            inputs,
            ctx_names,
            functions: None,
        };

        if let Some(v) = &def.version {
            if !matches!(v.0.trim(), "1.0" | "1") {
                c.error(
                    ErrorKind::Validation,
                    "version",
                    format!(
                        "unsupported version `{}`: write `version: 1.0`, the version weft reads",
                        v.0
                    ),
                );
            }
        }

        // Inputs.
        let mut seen = HashSet::new();
        let mut inputs = Vec::new();
        for (i, inp) in def.input.iter().enumerate() {
            let path = format!("input[{i}]");
            if inp.name.trim().is_empty() {
                c.error(ErrorKind::Validation, &path, "an input needs a name");
            } else if !seen.insert(inp.name.as_str()) {
                c.error(
                    ErrorKind::Validation,
                    &path,
                    format!("duplicate input `{}`: declare each input once", inp.name),
                );
            }
            if let Some(d) = &inp.default {
                c.value(d, &path);
            }
            inputs.push(InputSpec {
                name: inp.name.clone(),
                default: inp.default.clone(),
                secret: inp.secret,
            });
        }

        let vars = compile_assignments(&mut c, &def.vars, "vars");
        let output = compile_assignments(&mut c, &def.output, "output");

        // Task names.
        let mut by_name = NameMap::with_capacity_and_hasher(def.tasks.len(), Default::default());
        // One allocation per name, shared by the map and the task.
        let mut task_names: Vec<Arc<str>> = Vec::with_capacity(def.tasks.len());
        for (i, name) in def.tasks.keys().enumerate() {
            if ENGINE_COMMANDS.contains(&name.as_str()) {
                c.error(
                    ErrorKind::Validation,
                    &task_path(name),
                    format!("a task may not be named `{name}`: it is an engine command; rename the task"),
                );
            } else if name.trim().is_empty()
                || name.contains(',')
                || name.contains(char::is_whitespace)
            {
                c.error(
                    ErrorKind::Validation,
                    &task_path(name),
                    format!("invalid task name `{name}`: a name may not be empty or hold spaces or commas; rename the task"),
                );
            }
            let shared: Arc<str> = Arc::from(name.as_str());
            by_name.insert(shared.clone(), i as TaskId);
            task_names.push(shared);
        }

        let mut tasks = Vec::with_capacity(def.tasks.len());
        // Sources are visited in id order, so each list comes out sorted; a
        // repeat can only be the last entry.
        let mut inbound: Vec<Vec<TaskId>> = vec![Vec::new(); def.tasks.len()];
        let mut inbound_transitions = vec![0u32; def.tasks.len()];
        let names: Vec<&str> = def.tasks.keys().map(String::as_str).collect();

        // Asked of the catalog once, when the first unknown action is found.
        let mut action_names: Option<Vec<String>> = None;
        // The fields each action declares, asked of the catalog once.
        let mut declared: HashMap<Arc<str>, Option<Vec<InputField>>> = HashMap::new();
        // Neighbouring tasks usually share an action.
        let mut last_action: Option<Arc<str>> = None;
        let mut last_known = false;
        for (i, (name, t)) in def.tasks.iter().enumerate() {
            let id = i as TaskId;
            // The task's path names where its templates sit; made only if needed.
            let base_cell = std::cell::OnceCell::new();
            let base = || base_cell.get_or_init(|| task_path(name)).as_str();
            // Orquesta's inline parameters follow the name: `core.echo x=1`.
            let (action_name, inline) = match t.action.as_deref() {
                Some(a) => {
                    let (name, params) = crate::inline::split_action(a);
                    (Some(name), params.map(|(from, _)| (a, from)))
                }
                None => (None, None),
            };
            let action = match action_name {
                Some(a) if a.trim().is_empty() => {
                    c.error(
                        ErrorKind::Validation,
                        &format!("{}.action", base()),
                        "empty action name",
                    );
                    None
                }
                Some(a) => {
                    // A run of tasks with the same action shares one `Arc`
                    // and one catalog lookup (each still reports an unknown
                    // action).
                    if last_action.as_deref() != Some(a) {
                        last_action = Some(Arc::from(a));
                        last_known = catalog.has_action(a);
                    }
                    if !last_known && c.full() {
                        c.omit();
                    } else if !last_known {
                        let known = action_names.get_or_insert_with(|| catalog.action_names());
                        let hint = match c.suggester.suggest(a, known.iter().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "register it with the executor, or fix its name".to_owned(),
                        };
                        c.error(
                            ErrorKind::Validation,
                            &format!("{}.action", base()),
                            format!("unknown action `{a}`: {hint}"),
                        );
                    }
                    last_action.clone()
                }
                None => None,
            };
            if let Some(a) = action.as_ref().filter(|_| c.checks) {
                let fields = declared
                    .entry(a.clone())
                    .or_insert_with(|| catalog.input_fields(a));
                if let Some(fields) = fields {
                    c.input_keys(a, fields, inline, t.input.as_ref(), base());
                }
            }
            let input = match (inline, &t.input) {
                (Some((text, from)), given) => {
                    let input = c.inline_input(text, from, &format!("{}.action", base()));
                    if given.is_some() {
                        // Orquesta would drop the `input` map without a word.
                        c.error(
                            ErrorKind::Validation,
                            &format!("{}.input", base()),
                            "the task has an `input` map and inline parameters after its `action` name: \
                             keep one (move the inline parameters into `input`, or the other way round)",
                        );
                    }
                    input
                }
                (None, Some(m)) => {
                    let v = Value::Object(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                    c.value(&v, &format!("{}.input", base()))
                }
                (None, None) => Some(ValueTemplate::Static(Value::Object(Map::new()))),
            };

            let mut next = Vec::with_capacity(t.next.len());
            // `do: retry` (Orquesta's engine command): the transition's
            // `when` (or `completed()`) becomes the task's retry policy.
            let mut retry_command: Option<(Template, usize)> = None;
            for (ni, tr) in t.next.iter().enumerate() {
                let tpath_cell = std::cell::OnceCell::new();
                let tpath = || {
                    tpath_cell
                        .get_or_init(|| format!("{}.next[{ni}]", base()))
                        .as_str()
                };
                let when = tr
                    .when
                    .as_ref()
                    .and_then(|w| c.condition(w, &format!("{}.next[{ni}].when", base())));
                let publish = match &tr.publish {
                    Publish::List(list) => list
                        .0
                        .iter()
                        .enumerate()
                        .filter_map(|(pi, (k, v))| {
                            c.value(v, &format!("{}.publish[{pi}].{k}", tpath()))
                                .map(|t| (k.clone(), t))
                        })
                        .collect(),
                    Publish::Inline(text) => {
                        c.inline_publish(text, &format!("{}.publish", tpath()))
                    }
                };
                let mut targets = Vec::with_capacity(tr.targets.0.len());
                let mut retries_here = false;
                for (di, target) in tr.targets.0.iter().enumerate() {
                    let tgt = match target.as_str() {
                        "retry" => {
                            let place = format!("{}.do[{di}]", tpath());
                            if let Some((_, first)) = &retry_command {
                                c.error(
                                    ErrorKind::Validation,
                                    &place,
                                    format!("a second transition to `retry` (next[{first}] has one already): keep one; its `when` says when the task is retried"),
                                );
                            } else if t.retry.is_some() {
                                c.error(
                                    ErrorKind::Validation,
                                    &place,
                                    "`do: retry` and a `retry` key on one task: keep one (the key also sets the count and delay)",
                                );
                            } else {
                                let when = match &tr.when {
                                    Some(_) => when.clone(),
                                    None => Template::compile("{{ completed() }}").ok(),
                                };
                                if let Some(w) = when {
                                    retry_command = Some((w, ni));
                                }
                            }
                            retries_here = true;
                            continue;
                        }
                        "fail" => Target::Fail,
                        "noop" => Target::Noop,
                        "continue" => Target::Continue,
                        other => match by_name.get(other) {
                            // A task named twice in one `do` is reached once
                            // (as in Orquesta, where it is one edge).
                            Some(&tid) if targets.contains(&Target::Task(tid)) => continue,
                            Some(&tid) => {
                                let list = &mut inbound[tid as usize];
                                if list.last() != Some(&id) {
                                    list.push(id);
                                }
                                inbound_transitions[tid as usize] += 1;
                                Target::Task(tid)
                            }
                            None if c.full() => {
                                c.omit();
                                continue;
                            }
                            None => {
                                let listed = other.split_whitespace().count() > 1;
                                let hint = match c.suggester.suggest(other, names.iter().copied()) {
                                    // Orquesta splits a `do` string at commas only.
                                    _ if listed => format!(
                                        "separate task names with commas: `do: \"{}\"`",
                                        other.split_whitespace().collect::<Vec<_>>().join(", ")
                                    ),
                                    Some(s) => format!("did you mean `{s}`?"),
                                    None => format!(
                                        "the tasks are: {}; engine commands: fail, noop, continue, retry",
                                        preview(&names)
                                    ),
                                };
                                c.error(
                                    ErrorKind::Validation,
                                    &format!("{}.do[{di}]", tpath()),
                                    format!("`do` names unknown task `{other}`: {hint}"),
                                );
                                continue;
                            }
                        },
                    };
                    targets.push(tgt);
                }
                // A transition whose only target is `retry` is no edge: its
                // publish never runs, and it does not remediate.
                if retries_here && targets.is_empty() {
                    continue;
                }
                next.push(Transition {
                    when,
                    publish,
                    targets,
                });
            }

            let with = t.with.as_ref().and_then(|w| {
                let wpath = format!("{}.with", base());
                if t.action.is_none() {
                    c.error(
                        ErrorKind::Validation,
                        &wpath,
                        "a task with `with` items needs an `action` to run for each item: add one, or remove `with`",
                    );
                    return None;
                }
                let (names, expr) = split_items(&w.items);
                if names.as_ref().is_some_and(Vec::is_empty) {
                    c.error(
                        ErrorKind::Validation,
                        &format!("{wpath}.items"),
                        format!(
                            "no item names before `in` in `{}`: write `x in {{{{ list }}}}`, or only `{{{{ list }}}}` to use `item`",
                            w.items
                        ),
                    );
                    return None;
                }
                let names = names.unwrap_or_default();
                let identifier = |n: &str| {
                    n.starts_with(|ch: char| ch.is_alphabetic() || ch == '_')
                        && n.chars().all(|ch| ch.is_alphanumeric() || ch == '_')
                };
                let repeated = names.iter().enumerate().any(|(i, n)| names[..i].contains(n));
                if repeated || !names.iter().all(|n| identifier(n)) {
                    c.error(
                        ErrorKind::Validation,
                        &format!("{wpath}.items"),
                        format!(
                            "invalid item names in `{}`: each name is a distinct identifier (a letter or `_`, then letters, digits or `_`); write `x in {{{{ list }}}}` or `x, y in {{{{ zip(a, b) }}}}`",
                            w.items
                        ),
                    );
                    return None;
                }
                let jinja = expr.starts_with("{{") && expr.ends_with("}}");
                let yaql = expr.starts_with("<%") && expr.ends_with("%>");
                if !jinja && !yaql {
                    c.error(
                        ErrorKind::Validation,
                        &format!("{wpath}.items"),
                        format!("`with` items must be an expression such as `{{{{ parameters.hosts }}}}`, not `{expr}`"),
                    );
                    return None;
                }
                let items = c.template(expr, &format!("{wpath}.items"))?;
                let concurrency = match &w.concurrency {
                    Some(n) => Some(c.num(n, &format!("{wpath}.concurrency"), "concurrency", 1.0, true)?),
                    None => None,
                };
                Some(WithItems {
                    items,
                    names,
                    concurrency,
                })
            });

            // Orquesta: up to 3 retries, no delay, while `when` holds.
            let retry = retry_command.map(|(when, _)| Retry {
                when,
                count: Num::Const(3.0),
                delay: None,
                backoff: Backoff::Constant,
                max_delay: None,
            });
            let retry = retry.or_else(|| {
                t.retry.as_ref().and_then(|r| {
                    let rpath = format!("{}.retry", base());
                    let when = match &r.when {
                        Some(w) => c.condition(w, &format!("{rpath}.when"))?,
                        None => Template::compile("{{ failed() }}").ok()?,
                    };
                    let count = c.num(
                        &r.count,
                        &format!("{rpath}.count"),
                        "retry count",
                        0.0,
                        true,
                    )?;
                    let delay = match &r.delay {
                        Some(d) => {
                            Some(c.num(d, &format!("{rpath}.delay"), "retry delay", 0.0, false)?)
                        }
                        None => None,
                    };
                    let max_delay = match &r.max_delay {
                        Some(d) => Some(c.num(
                            d,
                            &format!("{rpath}.max_delay"),
                            "max_delay",
                            0.0,
                            false,
                        )?),
                        None => None,
                    };
                    Some(Retry {
                        when,
                        count,
                        delay,
                        backoff: r.backoff,
                        max_delay,
                    })
                })
            });
            let delay = t
                .delay
                .as_ref()
                .and_then(|d| c.num(d, &format!("{}.delay", base()), "delay", 0.0, false));
            let timeout = t.timeout.as_ref().and_then(|d| {
                let n = c.num(d, &format!("{}.timeout", base()), "timeout", 0.0, false)?;
                if let Num::Const(x) = n {
                    if x <= 0.0 {
                        c.error(
                            ErrorKind::Validation,
                            &format!("{}.timeout", base()),
                            "timeout must be more than 0 seconds: remove it to wait without a limit",
                        );
                        return None;
                    }
                }
                Some(n)
            });

            tasks.push(TaskPlan {
                id,
                name: task_names[i].clone(),
                action,
                input: input.unwrap_or(ValueTemplate::Static(Value::Null)),
                next,
                join: t.join.map(|j| match j {
                    JoinDef::All => Join::All,
                    JoinDef::Count(n) => Join::Count(n),
                }),
                with: with.map(Box::new),
                retry: retry.map(Box::new),
                delay,
                timeout,
                inbound: Vec::new(),
                inbound_transitions: 0,
                split: false,
            });
        }

        for (task, (inb, count)) in tasks
            .iter_mut()
            .zip(inbound.into_iter().zip(inbound_transitions))
        {
            task.inbound = inb;
            task.inbound_transitions = count;
        }

        // Starts and joins.
        let starts: Vec<TaskId> = tasks
            .iter()
            .filter(|t| t.inbound_transitions == 0)
            .map(|t| t.id)
            .collect();
        if starts.is_empty() && !tasks.is_empty() {
            c.error(
                ErrorKind::Validation,
                "tasks",
                format!(
                    "no start task: every task is named in some `do`, so none can run first; add a task that no `do` names (or remove `{}` from the `do` lists)",
                    tasks.first().map(|t| &*t.name).unwrap_or("")
                ),
            );
        }
        for t in &tasks {
            if t.join.is_none() {
                continue;
            }
            let jpath = format!("{}.join", task_path(&t.name));
            match t.join {
                Some(_) if t.inbound.is_empty() => c.error(
                    ErrorKind::Validation,
                    &jpath,
                    format!("`join` on task `{}`, which no transition leads to: remove the join", t.name),
                ),
                Some(Join::Count(n)) if n as usize > t.inbound.len() => c.error(
                    ErrorKind::Validation,
                    &jpath,
                    format!(
                        "`join: {n}` waits for {n} branches but only {} task(s) lead to `{}` ({}): lower the number or use `join: all`",
                        t.inbound.len(),
                        t.name,
                        t.inbound
                            .iter()
                            .map(|&i| tasks[i as usize].name.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                _ => {}
            }
        }

        // Splits, and joins that can never be satisfied or are ambiguous.
        let cyclic = crate::graph::on_cycle(&tasks);
        let split = crate::graph::split_tasks(&tasks, &cyclic);
        for (t, s) in tasks.iter_mut().zip(&split) {
            t.split = *s;
        }
        if !starts.is_empty() {
            check_joins(&mut c, &tasks, &starts, &cyclic, &split);
        }

        // Tasks that no path from a start reaches.
        if !starts.is_empty() {
            let mut reached = vec![false; tasks.len()];
            let mut stack: Vec<TaskId> = starts.clone();
            while let Some(id) = stack.pop() {
                if std::mem::replace(&mut reached[id as usize], true) {
                    continue;
                }
                for tr in &tasks[id as usize].next {
                    for tg in &tr.targets {
                        if let Target::Task(n) = tg {
                            if !reached[*n as usize] {
                                stack.push(*n);
                            }
                        }
                    }
                }
            }
            for t in &tasks {
                if !reached[t.id as usize] {
                    c.error(
                        ErrorKind::Validation,
                        &task_path(&t.name),
                        format!(
                            "task `{}` can never run: it is only reached from a cycle that no start task leads into; add a transition to it from a task that runs, or remove it",
                            t.name
                        ),
                    );
                }
            }
        }

        // Reported in the order of the text, whichever check found them;
        // errors without a place come last. The sort is stable: two at one
        // place keep the order they were found in.
        c.errors
            .sort_by_key(|e| (e.line().unwrap_or(usize::MAX), e.column().unwrap_or(0)));
        if let Some(mut e) = Error::combine(std::mem::take(&mut c.errors)) {
            e.add_omitted(c.omitted);
            return Err(e);
        }
        let name: Arc<str> = Arc::from(self.name().unwrap_or("workflow"));
        Ok(Plan {
            inner: Arc::new(PlanInner {
                name,
                description: def.description.clone(),
                inputs,
                vars,
                tasks,
                by_name,
                starts,
                status_used: c.status_used,
                output,
                text: self.text_shared(),
                file: self.file().map(|f| Arc::new(f.to_path_buf())),
                source_map: std::sync::OnceLock::new(),
            }),
        })
    }
}

impl WorkflowDef {
    /// Compiles a definition built in code; see [`Workflow::compile`].
    ///
    /// # Errors
    ///
    /// As for [`Workflow::compile`] (without text positions).
    pub fn compile<C: ActionCatalog + ?Sized>(&self, catalog: &C) -> Result<Plan> {
        Workflow::from_def(self.clone()).compile(catalog)
    }
}

/// The names `parameters.x` may use (the inputs) and those `ctx('x')` may
/// use (inputs, variables, everything published, outputs), each sorted and
/// without repeats.
fn declared_names(def: &WorkflowDef) -> (Vec<String>, Vec<String>) {
    let mut inputs: Vec<String> = def.input.iter().map(|i| i.name.clone()).collect();
    inputs.sort_unstable();
    inputs.dedup();
    let mut ctx = inputs.clone();
    ctx.extend(def.vars.0.iter().map(|(k, _)| k.clone()));
    ctx.extend(def.output.0.iter().map(|(k, _)| k.clone()));
    for t in def.tasks.values() {
        for tr in &t.next {
            match &tr.publish {
                Publish::List(list) => ctx.extend(list.0.iter().map(|(k, _)| k.clone())),
                // Unreadable pairs are reported where the publish is compiled.
                Publish::Inline(text) => ctx.extend(
                    crate::inline::parse(text)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|p| p.name),
                ),
            }
        }
    }
    ctx.sort_unstable();
    ctx.dedup();
    (inputs, ctx)
}

/// Every string inside `value`.
fn strings_in<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// The declared field a misspelt key most likely means: the closest by
/// edit distance, or else the one field that is an abbreviation of the key
/// or the key of it (`command` for `cmd`), with the same first letter.
fn closest_field<'f>(
    suggester: &mut Suggester,
    key: &str,
    fields: &'f [InputField],
) -> Option<&'f str> {
    if let Some(s) = suggester.suggest(key, fields.iter().map(|f| f.name.as_str())) {
        return Some(s);
    }
    let subsequence = |short: &str, long: &str| {
        let mut long = long.chars();
        short.chars().all(|c| long.any(|l| l == c))
    };
    let mut found = fields.iter().map(|f| f.name.as_str()).filter(|f| {
        f.chars().next() == key.chars().next()
            && f.len().min(key.len()) >= 2
            && (subsequence(f, key) || subsequence(key, f))
    });
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// Joins that can never be satisfied because some branches only run after
/// the join itself, and joins reached both inside and outside a split.
fn check_joins(
    c: &mut Compiler<'_>,
    tasks: &[TaskPlan],
    starts: &[TaskId],
    cyclic: &[bool],
    split: &[bool],
) {
    let name = |id: TaskId| format!("`{}`", tasks[id as usize].name);
    let names = |ids: &[TaskId]| ids.iter().map(|&i| name(i)).collect::<Vec<_>>().join(", ");
    for lb in crate::graph::late_branches(tasks, starts, cyclic) {
        let j = &tasks[lb.join as usize];
        let what = if lb.late.contains(&lb.join) {
            "it transitions to itself, and counts itself as a branch that can only arrive after it ran".to_owned()
        } else {
            format!(
                "{} can only run after `{}` itself (they are reached through it)",
                names(&lb.late),
                j.name
            )
        };
        c.error(
            ErrorKind::Validation,
            &format!("{}.join", task_path(&j.name)),
            format!(
                "the join on `{}` can never be satisfied: {what}; remove those transitions into the join, or lower the count",
                j.name
            ),
        );
    }
    let Some(ambiguous) = crate::graph::ambiguous_joins(tasks, starts, split) else {
        return;
    };
    for a in ambiguous {
        let j = &tasks[a.join as usize];
        let level = |s: &[TaskId]| {
            if s.is_empty() {
                "outside every split".to_owned()
            } else {
                format!("inside the routes of split task(s) {}", names(s))
            }
        };
        c.error(
            ErrorKind::Validation,
            &format!("{}.join", task_path(&j.name)),
            format!(
                "the join on `{}` is ambiguous: its branch {} runs {}, but the join is reached {}; \
                 a task reached from several transitions runs once per arrival (a route), so join \
                 the branches of each route below the split, or join before it",
                j.name,
                name(a.branch),
                level(&a.branch_splits),
                level(&a.join_splits),
            ),
        );
    }
}

fn compile_assignments(
    c: &mut Compiler<'_>,
    list: &crate::def::Assignments,
    section: &str,
) -> Vec<(String, ValueTemplate)> {
    let mut out = Vec::with_capacity(list.0.len());
    for (i, (k, v)) in list.0.iter().enumerate() {
        if let Some(t) = c.value(v, &format!("{section}[{i}].{k}")) {
            out.push((k.clone(), t));
        }
    }
    out
}

fn preview(names: &[&str]) -> String {
    const MAX: usize = 8;
    let mut s = names
        .iter()
        .take(MAX)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX {
        s.push_str(&format!(", ... ({} in all)", names.len()));
    }
    s
}

/// Splits `x, y in {{ expr }}` (or `<% expr %>`) into the names before
/// `in` and the expression. The names are `None` when no `in` comes
/// before the first `{{` or `<%` (the text is then the expression, to be
/// checked as one), and empty when `in` has no names before it.
fn split_items(items: &str) -> (Option<Vec<String>>, &str) {
    let trimmed = items.trim();
    let head_end = [trimmed.find("{{"), trimmed.find("<%")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(trimmed.len());
    let head = trimmed[..head_end].trim_end();
    match head.strip_suffix("in") {
        Some(names) if names.is_empty() || names.ends_with(char::is_whitespace) => {
            let names = names.trim();
            let names = if names.is_empty() {
                Vec::new()
            } else {
                names.split(',').map(|s| s.trim().to_owned()).collect()
            };
            (Some(names), trimmed[head_end..].trim())
        }
        _ => (None, trimmed),
    }
}

/// `e` naming the task and field of `path` (replacing what it named).
fn at_path(mut e: Error, path: &str) -> Error {
    let (task, field) = crate::load::split_path(path);
    if let Some(t) = task {
        e = e.with_task(t);
    }
    if let Some(f) = field {
        e = e.with_field(f);
    }
    e
}

/// True when some string inside `value` contains `needle`.
fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_into_names_and_expression() {
        let names = |v: &[&str]| Some(v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(split_items(" {{ xs }} "), (None, "{{ xs }}"));
        assert_eq!(split_items("x in {{ xs }}"), (names(&["x"]), "{{ xs }}"));
        assert_eq!(
            split_items("a, b\tin {{ zip(p, q) }}"),
            (names(&["a", "b"]), "{{ zip(p, q) }}")
        );
        assert_eq!(split_items("in {{ xs }}"), (names(&[]), "{{ xs }}"));
        assert_eq!(split_items("x in"), (names(&["x"]), ""));
        assert_eq!(split_items("main {{ xs }}"), (None, "main {{ xs }}"));
        assert_eq!(split_items("parameters.hosts"), (None, "parameters.hosts"));
        assert_eq!(
            split_items("x in <% ctx(xs) %>"),
            (names(&["x"]), "<% ctx(xs) %>")
        );
    }

    #[test]
    fn suggestions_stop_when_their_budget_is_spent() {
        let names = ["deploy", "build", "test"];
        let mut s = Suggester::new(SUGGEST_BUDGET);
        assert_eq!(s.suggest("deplyo", names), Some("deploy"));
        assert_eq!(s.suggest("zzzzzz", names), None);
        let long = "d".repeat(SUGGEST_MAX_CHARS + 1);
        assert_eq!(
            s.suggest(&long, [long.as_str()]),
            None,
            "too long to compare"
        );
        let mut poor = Suggester::new(10);
        assert_eq!(poor.suggest("deplyo", names), None, "6 x 6 cells exceed 10");
    }
}
