//! Compiling: a [`Workflow`] checked and turned into an immutable [`Plan`].
//!
//! A [`Compiler`] reads the definition section by section, each in its own
//! file, in the order of the text:
//!
//! 1. [`inputs`]: the version, the declared inputs, `vars` and `output`;
//! 2. [`task`]: the task names (each gets its dense [`TaskId`] in file
//!    order), then each task key by key — its action and input ([`task`],
//!    with Orquesta's inline parameters in [`params`]), its `next`
//!    ([`transitions`]), `with` ([`with`]), `retry`, `delay` and `timeout`
//!    ([`retry`]);
//! 3. [`joins`]: the passes over the whole graph — the start tasks, the
//!    joins, the split tasks and the tasks no start reaches.
//!
//! Every expression is compiled once on the way, and the names it spells
//! out are checked ([`exprs`]).
//!
//! Errors do not stop compiling: every mistake is collected (the first
//! [`Error::MAX_KEPT`] in full, the rest counted), sorted into the order of
//! the text and returned as one error. Which errors are kept depends on the
//! order they are found in, so the passes run in a fixed order.
//!
//! What is checked depends on the [`Mode`]: a workflow about to run for
//! the first time gets every check; the text a run already started with
//! (a durable run, resumed) skips those that only reject what would fail
//! later, in the run.

mod catalog;
mod exprs;
mod inputs;
mod joins;
mod params;
mod retry;
mod task;
mod transitions;
mod with;

use std::cell::OnceCell;
use std::sync::Arc;

use crate::def::WorkflowDef;
use crate::diag::path::{at_path, task_path};
use crate::diag::suggest::{Suggester, SUGGEST_BUDGET};
use crate::error::{Error, ErrorKind, Result};
use crate::load::Workflow;

use super::{Join, JoinSpec, PlainEdges, Plan, PlanInner, TaskFlags, TaskId};
use crate::context::TaskIndex;

pub use catalog::{ActionCatalog, InputField};

/// What compiling checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A workflow about to run for the first time: every check.
    New,
    /// The text a run already started with ([`Workflow::compile_recorded`]):
    /// not the checks that only reject what would fail later, in the run —
    /// input keys against the fields actions declare, and the names
    /// expressions spell out.
    Recorded,
}

/// The state one compile shares across its passes: the workflow (for the
/// places of errors), the errors found, and what expressions use.
struct Compiler<'w> {
    wf: &'w Workflow,
    mode: Mode,
    /// The first [`Error::MAX_KEPT`] errors found.
    errors: Vec<Error>,
    /// Errors found beyond those kept; only counted, so that a file with
    /// many mistakes costs no more per mistake than one with a few.
    omitted: usize,
    suggester: Suggester,
    /// Whether any expression calls `task_status(...)`.
    status_used: bool,
    /// What expressions may name (empty in [`Mode::Recorded`], which does
    /// not check them).
    names: exprs::Declared,
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
        Compiler::run(self, catalog, Mode::New)
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
        Compiler::run(self, catalog, Mode::Recorded)
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

impl<'w> Compiler<'w> {
    /// Compiles `wf`: every pass in the order of the text, then the plan or
    /// every error found.
    fn run<C: ActionCatalog + ?Sized>(wf: &'w Workflow, catalog: &C, mode: Mode) -> Result<Plan> {
        // Equal expression texts are parsed once in this compile.
        let cache = crate::expr::ExprCache::enter();
        let def = wf.def();
        let mut c = Compiler {
            wf,
            mode,
            errors: Vec::new(),
            omitted: 0,
            suggester: Suggester::new(SUGGEST_BUDGET),
            status_used: false,
            names: match mode {
                Mode::New => exprs::Declared::of(def),
                Mode::Recorded => exprs::Declared::default(),
            },
        };
        c.version(def);
        let inputs = c.inputs(def);
        let vars = c.assignments(&def.vars, "vars");
        let output = c.assignments(&def.output, "output");
        let (mut tasks, by_name) = c.tasks(def, catalog);
        let starts = c.graph(&mut tasks);

        // Reported in the order of the text, whichever check found them;
        // errors without a place come last. The sort is stable: two at one
        // place keep the order they were found in.
        c.errors
            .sort_by_key(|e| (e.line().unwrap_or(usize::MAX), e.column().unwrap_or(0)));
        if let Some(mut e) = Error::combine(std::mem::take(&mut c.errors)) {
            e.add_omitted(c.omitted);
            return Err(e);
        }
        let mut by_rank: Vec<usize> = (0..tasks.len()).collect();
        by_rank.sort_unstable_by(|&a, &b| tasks[a].name.cmp(&tasks[b].name));
        let mut name_rank = vec![0; tasks.len()];
        for (rank, &t) in by_rank.iter().enumerate() {
            name_rank[t] = rank as u32;
        }
        let join_specs: Vec<JoinSpec> = tasks
            .iter()
            .filter_map(|t| {
                let n = t.inbound.len() as u32;
                let need = match t.join? {
                    Join::All => n,
                    Join::Count(k) => k.min(n),
                };
                Some(JoinSpec {
                    task: t.id,
                    need,
                    inbound: t.inbound.clone().into_boxed_slice(),
                })
            })
            .collect();
        let joins = join_specs.iter().map(|j| j.task).collect();
        let flags = tasks.iter().map(TaskFlags::of).collect();
        let plain = PlainEdges::new(&tasks);
        Ok(Plan {
            inner: Arc::new(PlanInner {
                name: Arc::from(wf.name().unwrap_or("workflow")),
                description: def.description.clone(),
                inputs,
                vars,
                index: TaskIndex::new(by_name, tasks.iter().map(|t| t.name.clone()).collect()),
                tasks,
                name_rank,
                starts,
                joins,
                join_specs,
                flags,
                plain,
                status_used: c.status_used || cache.reads_task_statuses(),
                output,
                text: wf.text_shared(),
                file: wf.file().map(|f| Arc::new(f.to_path_buf())),
                source_map: std::sync::OnceLock::new(),
            }),
        })
    }

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

    /// An error about what is written at `path`, placed there.
    fn error(&mut self, kind: ErrorKind, path: &str, message: impl Into<String>) {
        if self.full() {
            self.omit();
            return;
        }
        let e = Error::new(kind, message).with_location(self.wf.location_of(path));
        self.push(at_path(e, path));
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
}

/// The path of a task (`tasks.NAME`), made the first time an error or a
/// template needs it: most tasks of a large workflow never do.
struct TaskPath<'n> {
    name: &'n str,
    path: OnceCell<String>,
}

impl<'n> TaskPath<'n> {
    fn new(name: &'n str) -> TaskPath<'n> {
        TaskPath {
            name,
            path: OnceCell::new(),
        }
    }

    fn get(&self) -> &str {
        self.path.get_or_init(|| task_path(self.name))
    }

    /// The path of key `key` of the task: `tasks.NAME.key`.
    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.get())
    }
}

/// The id of the task at `index` in file order.
fn task_id(index: usize) -> TaskId {
    index as TaskId
}

/// The index in file order of the task `id`.
fn index(id: TaskId) -> usize {
    id as usize
}
