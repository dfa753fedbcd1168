//! The executor: registered actions, limits, and the way to start runs.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use dashmap::DashMap;

use serde_json::Value;
use tokio::sync::Semaphore;
use weft_core::{ActionCatalog, Error, ErrorKind, InputField, Plan};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::action::{Action, ActionError, ActionInput, ActionResult, FnAction};
use crate::builtins;
use crate::id::RunId;
use crate::journal::Journal;
use crate::limits::Limits;
use crate::outcome::RunStatus;
use crate::run::children::Children;
use crate::run::{Run, RunHandle, RunOptions};
use crate::scheduler::{retries_over_limit, Actions, RunBuffers, RunEnv, RunHost, Scheduler};
use crate::sealing::SecretKey;
use crate::start_error::StartError;
use crate::store::{Durability, Entry, JournalConfig, Store};
use crate::subworkflow::{ChildRuns, SubWorkflow, WorkflowAdapter};
use crate::telemetry::MetricsCache;
use crate::typed::TypedAction;

/// Runs plans. Cheap to clone; many runs may share one executor at once.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use weft_runtime::{ActionInput, Executor};
/// use weft_core::Workflow;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let executor = Executor::builder()
///     .action("greet", |input: ActionInput| async move {
///         let name = input.require_str("name")?.to_owned();
///         Ok(json!(format!("hello, {name}")))
///     })
///     .build();
/// let plan = Workflow::from_yaml_str(
///     "tasks:\n  hi:\n    action: greet\n    input: {name: weft}\n",
/// )?
/// .compile(&executor)?;
/// let outcome = executor.start(&plan, json!({}))?.await?;
/// assert!(outcome.succeeded());
/// assert_eq!(*outcome.tasks[0].result.clone().unwrap(), json!("hello, weft"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Executor {
    pub(crate) inner: Arc<ExecutorInner>,
}

/// The executor's tables by name (actions, workflows, adapters), hashed
/// with foldhash (seeded per map): every run looks its tasks' actions up,
/// and SipHash's hash of a name was ≈ 190 instructions of a 4-task run.
pub(crate) type NameMap<V> = HashMap<Arc<str>, V, foldhash::fast::RandomState>;

pub(crate) struct ExecutorInner {
    pub(crate) actions: NameMap<Arc<dyn Action>>,
    /// Workflows that tasks can run as their action (sub-workflows).
    pub(crate) workflows: NameMap<Plan>,
    /// How tasks call the workflows registered with an adapter.
    pub(crate) adapters: NameMap<Arc<dyn WorkflowAdapter>>,
    pub(crate) limit: Option<Arc<Semaphore>>,
    pub(crate) limits: Limits,
    /// The runs that have not ended; each removes itself when it ends.
    /// Hashed with foldhash (seeded per map), not SipHash: every run is
    /// inserted and removed once, and SipHash's two hashes of its id cost
    /// a 4-task run ≈ 300 instructions more.
    pub(crate) live: DashMap<RunId, RunHandle, foldhash::fast::RandomState>,
    /// Where durable runs are journaled, if anywhere.
    pub(crate) journal: Option<Arc<Journal>>,
    /// The durability of runs that do not choose.
    pub(crate) durability: Durability,
    /// Every attempt in a tokio task of its own (see
    /// [`ExecutorBuilder::spawn_every_attempt`]).
    pub(crate) spawn_every_attempt: bool,
    /// The metrics handles of the workflows it ran.
    pub(crate) metrics: MetricsCache,
    /// The scheduler buffers of runs that ended, with their context maps,
    /// for the next runs to reuse.
    /// Boxed: they go from run to run as a pointer (see `scheduler/pool.rs`).
    #[allow(clippy::vec_box)]
    pub(crate) buffers: std::sync::Mutex<Vec<Box<crate::scheduler::RunBuffers>>>,
    /// The runs a shared store took from this executor, and the task that
    /// stops them.
    pub(crate) lost: LostRuns,
    /// Values every run's context gets when it starts.
    pub(crate) run_context: Vec<(Arc<str>, RunContextFn)>,
}

impl ExecutorInner {
    /// What a run of `plan` is made from: its tasks' actions resolved
    /// (sub-workflows made into actions that start child runs), and the
    /// executor's limits, permits and context; and the buffers of an ended
    /// run for its scheduler to start with (the actions' table is one).
    ///
    /// # Errors
    ///
    /// A task names an action this executor does not have (the plan was
    /// compiled for another one), or a constant retry count is over the
    /// limit.
    pub(crate) fn run_env(
        self: &Arc<Self>,
        plan: &Plan,
        run_id: RunId,
        options: &RunOptions,
        mode: Actions,
    ) -> Result<(RunEnv, Box<RunBuffers>), Error> {
        // In the table of an ended run when the executor kept one; already
        // filled when that run was of this plan, and its table could serve
        // another run (see `scheduler/pool.rs`): the executor's actions do
        // not change once it is built, and the plan was checked then.
        let mut buffers = self.run_buffers().unwrap_or_default();
        let (mut actions, resolved) = buffers.take_actions(plan);
        let (plan, workflow_tasks, children) = match (resolved, mode) {
            (Some(plan), Actions::Run) => (plan, Vec::new(), None),
            _ => {
                actions.clear();
                let (workflow_tasks, children) =
                    self.resolve_actions(plan, options, mode, &mut actions)?;
                (plan.clone(), workflow_tasks, children)
            }
        };
        // (Most executors give runs no context of their own: collecting
        // from an empty iterator costs ≈ 60 instructions a run.)
        let context = if self.run_context.is_empty() {
            Vec::new()
        } else {
            let start = StartingRun {
                run_id,
                workflow: plan.name(),
            };
            self.run_context
                .iter()
                .map(|(name, make)| (name.clone(), make(&start)))
                .collect()
        };
        let env = RunEnv {
            plan,
            actions,
            workflow_tasks,
            children,
            limits: self.limits.clone(),
            permits: match mode {
                Actions::Run => self.limit.clone(),
                Actions::Inspect => None,
            },
            pauses: self.lost.pauses.clone(),
            context,
            host: self.clone(),
            mode,
            spawn_every_attempt: self.spawn_every_attempt,
        };
        Ok((env, buffers))
    }

    /// Resolves the actions of `plan`'s tasks into `actions` (empty), one
    /// a task; and which tasks' actions are workflows (empty: none is),
    /// and their runs' children.
    ///
    /// # Errors
    ///
    /// As for [`ExecutorInner::run_env`].
    fn resolve_actions(
        self: &Arc<Self>,
        plan: &Plan,
        options: &RunOptions,
        mode: Actions,
        actions: &mut Vec<Option<Arc<dyn Action>>>,
    ) -> Result<(Vec<bool>, Option<Arc<Children>>), Error> {
        let tasks = plan.tasks();
        actions.reserve(tasks.len());
        // Neighbouring tasks usually share an action: remember the last one
        // instead of hashing every name.
        let mut last: Option<(&str, Arc<dyn Action>)> = None;
        // Per task, whether its action is a workflow (empty: none is).
        let mut workflow_tasks: Vec<bool> = Vec::new();
        let mut children: Option<Arc<Children>> = None;
        for t in tasks {
            let Some(name) = t.action.as_deref() else {
                actions.push(None);
                continue;
            };
            let found = match &last {
                Some((n, a)) if *n == name => a.clone(),
                _ => {
                    let found = match (self.actions.get(name), self.workflows.get(name)) {
                        (Some(a), _) => a.clone(),
                        (None, Some(plan)) => {
                            workflow_tasks.resize(tasks.len(), false);
                            workflow_tasks[t.id as usize] = true;
                            Arc::new(SubWorkflow {
                                name: Arc::from(name),
                                plan: plan.clone(),
                                adapter: self.adapters.get(name).cloned(),
                                runs: self.clone(),
                                children: children.get_or_insert_with(Default::default).clone(),
                                depth: options.depth + 1,
                                durability: options.durability,
                                in_memory: options.in_memory,
                            })
                        }
                        (None, None) if mode == Actions::Inspect => Arc::new(FnAction(
                            |_: ActionInput| async {
                                Err(ActionError::new("this run is only being inspected"))
                            },
                        )),
                        (None, None) => {
                            return Err(Error::new(
                                ErrorKind::Validation,
                                format!(
                                    "unknown action `{name}`: this plan was compiled for another executor"
                                ),
                            )
                            .with_task(&*t.name)
                            .with_field("action"))
                        }
                    };
                    last = Some((name, found.clone()));
                    found
                }
            };
            if !workflow_tasks.is_empty() && self.workflows.contains_key(name) {
                workflow_tasks[t.id as usize] = true;
            }
            actions.push(Some(found));
            // A constant retry count over the limit is refused before the
            // run starts; one from an expression fails its task when read.
            if let Some(weft_core::engine::Num::Const(count)) = t.retry.as_ref().map(|r| &r.count) {
                if *count > f64::from(self.limits.max_retries) {
                    return Err(Error::new(
                        ErrorKind::Validation,
                        retries_over_limit(*count, self.limits.max_retries),
                    )
                    .with_task(&*t.name)
                    .with_field("retry.count"));
                }
            }
        }
        Ok((workflow_tasks, children))
    }
}

/// The scheduler buffers (and context maps) of ended runs an executor
/// keeps for new runs: as many as runs usually go on at once in a busy
/// executor's turn, not more.
const KEPT_CONTEXTS: usize = 16;

impl RunHost for ExecutorInner {
    fn metrics(&self) -> &MetricsCache {
        &self.metrics
    }

    fn run_ended(&self, id: RunId) {
        self.live.remove(&id);
    }

    fn run_buffers(&self) -> Option<Box<crate::scheduler::RunBuffers>> {
        self.buffers.lock().ok()?.pop()
    }

    fn keep_run_buffers(&self, buffers: Box<crate::scheduler::RunBuffers>) {
        if let Ok(mut kept) = self.buffers.lock() {
            if kept.len() < KEPT_CONTEXTS {
                kept.push(buffers);
            }
        }
    }

    fn action(&self, name: &str) -> Option<Arc<dyn Action>> {
        self.actions.get(name).cloned()
    }

    fn is_workflow(&self, name: &str) -> bool {
        self.workflows.contains_key(name)
    }
}

impl ChildRuns for ExecutorInner {
    fn max_workflow_depth(&self) -> u32 {
        self.limits.max_workflow_depth
    }

    fn store(&self) -> Option<&Arc<dyn Store>> {
        self.journal.as_ref().map(|j| &j.store)
    }

    fn start_child(
        self: Arc<Self>,
        plan: &Plan,
        parameters: Value,
        id: RunId,
        options: RunOptions,
    ) -> Result<(Box<Scheduler>, Run), String> {
        let started_sys = std::time::SystemTime::now();
        ExecutorInner::new_run(&self, plan, parameters, id, started_sys, options)
            .map_err(|e| e.to_string())
    }

    fn resume_child(
        self: Arc<Self>,
        id: RunId,
        entries: Vec<Entry>,
    ) -> Result<(Box<Scheduler>, Run), String> {
        ExecutorInner::resumed_run(&self, id, entries, Actions::Run).map_err(|e| e.to_string())
    }

    fn track(&self, id: RunId, handle: RunHandle) {
        self.live.insert(id, handle);
    }
}

/// A run id that no run of this executor has (it never ran here, or it
/// has ended).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no run `{0}` is going on in this executor (it has ended, or runs elsewhere)")]
pub struct UnknownRun(pub RunId);

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.inner.actions.keys().map(|k| &**k).collect();
        names.sort_unstable();
        f.debug_struct("Executor").field("actions", &names).finish()
    }
}

impl Executor {
    /// A builder with the built-in `core.*` actions registered.
    pub fn builder() -> ExecutorBuilder {
        ExecutorBuilder::new()
    }

    /// An executor with only the built-in actions.
    pub fn new() -> Executor {
        ExecutorBuilder::new().build()
    }

    /// Starts a run of `plan` with `inputs` on the current tokio runtime
    /// and returns its handle at once. The run proceeds whether or not the
    /// handle is awaited or kept.
    ///
    /// # Errors
    ///
    /// [`StartError::Workflow`] when the inputs do not match the workflow's
    /// `input` section (naming the input), [`StartError::NoRuntime`] when
    /// there is no tokio runtime to run on.
    pub fn start(&self, plan: &Plan, inputs: Value) -> Result<Run, StartError> {
        self.start_with(plan, inputs, RunOptions::default())
    }

    /// Like [`Executor::start`], with options.
    ///
    /// # Errors
    ///
    /// As for [`Executor::start`].
    pub fn start_with(
        &self,
        plan: &Plan,
        inputs: Value,
        options: RunOptions,
    ) -> Result<Run, StartError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let parameters = plan.bind_inputs(inputs)?;
        // One reading of the system clock for the run's id and its start.
        let started_sys = std::time::SystemTime::now();
        let run_id = RunId::at(started_sys);
        let (scheduler, run) =
            self.inner
                .new_run(plan, parameters, run_id, started_sys, options)?;
        self.inner.live.insert(run_id, run.handle());
        self.inner.watch_shared(&handle);
        scheduler.spawn(&handle);
        Ok(run)
    }

    /// A handle to a run of this executor that has not ended yet.
    pub fn run(&self, id: RunId) -> Option<RunHandle> {
        self.inner.live.get(&id).map(|h| h.value().clone())
    }

    /// The ids of this executor's runs that have not ended yet.
    pub fn live_runs(&self) -> Vec<RunId> {
        self.inner.live.iter().map(|e| *e.key()).collect()
    }

    /// The status of a run of this executor that has not ended yet.
    pub fn status(&self, id: RunId) -> Option<RunStatus> {
        self.inner.live.get(&id).map(|h| h.status())
    }

    /// Cancels a run of this executor by id; see [`RunHandle::cancel`].
    ///
    /// # Errors
    ///
    /// No run with this id is going on in this executor.
    pub fn cancel(&self, id: RunId) -> Result<(), UnknownRun> {
        self.with_run(id, RunHandle::cancel)
    }

    /// Pauses a run of this executor by id; see [`RunHandle::pause`].
    ///
    /// # Errors
    ///
    /// No run with this id is going on in this executor.
    pub fn pause(&self, id: RunId) -> Result<(), UnknownRun> {
        self.with_run(id, RunHandle::pause)
    }

    /// Resumes a paused run of this executor by id; see [`RunHandle::resume`].
    ///
    /// # Errors
    ///
    /// No run with this id is going on in this executor.
    pub fn resume(&self, id: RunId) -> Result<(), UnknownRun> {
        self.with_run(id, RunHandle::resume)
    }

    fn with_run(&self, id: RunId, f: impl FnOnce(&RunHandle)) -> Result<(), UnknownRun> {
        match self.inner.live.get(&id) {
            Some(h) => {
                f(h.value());
                Ok(())
            }
            None => Err(UnknownRun(id)),
        }
    }

    /// The registered action names (sub-workflows included), sorted.
    pub fn action_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .inner
            .actions
            .keys()
            .chain(self.inner.workflows.keys())
            .map(|k| k.to_string())
            .collect();
        v.sort_unstable();
        v
    }
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

impl ActionCatalog for Executor {
    fn has_action(&self, name: &str) -> bool {
        self.inner.actions.contains_key(name) || self.inner.workflows.contains_key(name)
    }

    fn action_names(&self) -> Vec<String> {
        Executor::action_names(self)
    }

    fn input_fields(&self, name: &str) -> Option<Vec<InputField>> {
        fields_of(
            &self.inner.actions,
            &self.inner.workflows,
            &self.inner.adapters,
            name,
        )
    }

    fn unavailable(&self, name: &str) -> Option<String> {
        self.inner.actions.get(name)?.unavailable()
    }
}

/// The input fields of an action or workflow registered as `name`: those
/// the action declares, those its adapter declares, or a workflow's
/// inputs (required unless they have a default).
fn fields_of(
    actions: &NameMap<Arc<dyn Action>>,
    workflows: &NameMap<Plan>,
    adapters: &NameMap<Arc<dyn WorkflowAdapter>>,
    name: &str,
) -> Option<Vec<InputField>> {
    if let Some(action) = actions.get(name) {
        return action.input_fields();
    }
    let plan = workflows.get(name)?;
    if let Some(fields) = adapters.get(name).and_then(|a| a.input_fields()) {
        return Some(fields);
    }
    Some(
        plan.inputs()
            .iter()
            .map(|i| match i.default {
                Some(_) => InputField::optional(i.name.clone()),
                None => InputField::required(i.name.clone()),
            })
            .collect(),
    )
}

/// Builds an [`Executor`].
#[must_use = "call .build() to get an Executor"]
pub struct ExecutorBuilder {
    actions: NameMap<Arc<dyn Action>>,
    workflows: NameMap<Plan>,
    adapters: NameMap<Arc<dyn WorkflowAdapter>>,
    store: Option<Arc<dyn Store>>,
    durability: Durability,
    journal: JournalConfig,
    max_in_flight: Option<usize>,
    spawn_every_attempt: bool,
    limits: Limits,
    secret_key: Option<SecretKey>,
    run_context: Vec<(Arc<str>, RunContextFn)>,
}

/// Makes a value of a run's context from the run that starts.
pub(crate) type RunContextFn = Arc<dyn Fn(&StartingRun<'_>) -> Value + Send + Sync>;

/// The run a value of [`ExecutorBuilder::run_context`] is made for.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct StartingRun<'a> {
    /// The run's id (a sub-workflow's run has its own).
    pub run_id: RunId,
    /// The name of the run's workflow.
    pub workflow: &'a str,
}

impl ExecutorBuilder {
    fn new() -> ExecutorBuilder {
        let mut b = ExecutorBuilder {
            actions: NameMap::default(),
            workflows: NameMap::default(),
            adapters: NameMap::default(),
            store: None,
            durability: Durability::default(),
            journal: JournalConfig::default(),
            max_in_flight: None,
            spawn_every_attempt: false,
            limits: Limits::default(),
            run_context: Vec::new(),
            secret_key: None,
        };
        for name in builtins::NAMES {
            if let Some(action) = builtins::builtin_action(name) {
                b.actions.insert(Arc::from(*name), action);
            }
        }
        b
    }

    /// Removes the built-in `core.*` actions.
    pub fn without_builtins(mut self) -> ExecutorBuilder {
        self.actions.retain(|k, _| !k.starts_with("core."));
        self
    }

    /// Registers an async closure under `name` (replacing any action of that name).
    pub fn action<F, Fut>(self, name: impl Into<Arc<str>>, f: F) -> ExecutorBuilder
    where
        F: Fn(ActionInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ActionResult> + Send + 'static,
    {
        self.register(name, Arc::new(FnAction(f)))
    }

    /// Registers an async closure over a typed input under `name`
    /// (replacing any action of that name).
    ///
    /// The task's `input` is deserialized into `In` (an error names the
    /// field that does not fit), the closure gets it with the attempt's
    /// [`ActionInput`] (its run id, attempt, idempotency key), and its `Out`
    /// is serialized as the task's result. When `In` is a struct deriving
    /// `Deserialize`, its field names are the action's declared input
    /// fields: compiling a workflow against the executor rejects a task
    /// whose `input` has any other key, with its line and a suggestion.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    /// use serde_json::json;
    /// use weft_core::Workflow;
    /// use weft_runtime::{ActionError, ActionInput, Executor};
    ///
    /// #[derive(Deserialize)]
    /// struct Charge {
    ///     amount: u64,
    ///     currency: String,
    /// }
    ///
    /// #[derive(Serialize)]
    /// struct Receipt {
    ///     charged: String,
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let executor = Executor::builder()
    ///     .action_typed("pay", |c: Charge, _: ActionInput| async move {
    ///         if c.amount == 0 {
    ///             return Err(ActionError::new("nothing to charge"));
    ///         }
    ///         Ok(Receipt { charged: format!("{} {}", c.amount, c.currency) })
    ///     })
    ///     .build();
    ///
    /// // A misspelt field is found when compiling.
    /// let typo = Workflow::from_yaml_str(
    ///     "tasks:\n  pay:\n    action: pay\n    input: {amount: 3, curency: EUR}\n",
    /// )?;
    /// let err = typo.compile(&executor).unwrap_err();
    /// assert!(err.to_string().contains("did you mean `currency`?"));
    ///
    /// let plan = Workflow::from_yaml_str(
    ///     "tasks:\n  pay:\n    action: pay\n    input: {amount: 3, currency: EUR}\n",
    /// )?
    /// .compile(&executor)?;
    /// let outcome = executor.start(&plan, json!({}))?.await?;
    /// assert_eq!(*outcome.tasks[0].result.clone().unwrap(), json!({"charged": "3 EUR"}));
    /// # Ok(())
    /// # }
    /// ```
    pub fn action_typed<In, Out, F, Fut>(self, name: impl Into<Arc<str>>, f: F) -> ExecutorBuilder
    where
        In: DeserializeOwned + Send + 'static,
        Out: Serialize + 'static,
        F: Fn(In, ActionInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Out, ActionError>> + Send + 'static,
    {
        self.register(name, Arc::new(TypedAction::new(f)))
    }

    /// Registers an [`Action`] under `name` (replacing any action or
    /// workflow of that name).
    pub fn register(
        mut self,
        name: impl Into<Arc<str>>,
        action: Arc<dyn Action>,
    ) -> ExecutorBuilder {
        let name = name.into();
        self.workflows.remove(&name);
        self.adapters.remove(&name);
        self.actions.insert(name, action);
        self
    }

    /// Registers a workflow as the action `name` (replacing any action or
    /// workflow of that name): a task whose `action` is `name` runs it as a
    /// sub-workflow.
    ///
    /// The child run gets the task's rendered `input` as its inputs; the
    /// task's result is the child's `output`. A child that does not succeed
    /// fails the task, with `{run_id, status, output, errors}` of the child
    /// as the task's result. Canceling, aborting, pausing or resuming the
    /// parent does the same to its running children; a task's `timeout`
    /// aborts its child. With `with` items, each item runs its own child,
    /// under the task's `concurrency`. Children more than
    /// [`Limits::max_workflow_depth`] deep fail their task.
    ///
    /// The plan's own actions must be registered on this executor when a
    /// run starts. Compile it against the builder (it is an
    /// [`ActionCatalog`]) or against a list of names that includes
    /// workflows registered later (for workflows that call each other).
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use weft_core::Workflow;
    /// use weft_runtime::Executor;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let builder = Executor::builder();
    /// let greet = Workflow::from_yaml_str(
    ///     "input: [name]\ntasks:\n  hi: {action: core.echo, input: {message: 'hi {{ parameters.name }}'}}\noutput: [{said: '{{ task.hi.message }}'}]\n",
    /// )?
    /// .compile(&builder)?;
    /// let executor = builder.workflow("greet", greet).build();
    /// let main = Workflow::from_yaml_str(
    ///     "tasks:\n  call: {action: greet, input: {name: ada}}\noutput: [{said: '{{ task.call.said }}'}]\n",
    /// )?
    /// .compile(&executor)?;
    /// let outcome = executor.start(&main, json!({}))?.await?;
    /// assert_eq!(outcome.output["said"], json!("hi ada"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn workflow(mut self, name: impl Into<Arc<str>>, plan: Plan) -> ExecutorBuilder {
        let name = name.into();
        self.actions.remove(&name);
        self.adapters.remove(&name);
        self.workflows.insert(name, plan);
        self
    }

    /// Registers a workflow as the action `name`, as
    /// [`ExecutorBuilder::workflow`] does, with an adapter between the
    /// task and the child run: the adapter declares the fields a task may
    /// give, makes the child's inputs from the task's input (an error
    /// fails the attempt) and the task's result from the child's output
    /// (a child that does not succeed fails the task as with
    /// [`ExecutorBuilder::workflow`]). See [`WorkflowAdapter`].
    pub fn workflow_adapted(
        mut self,
        name: impl Into<Arc<str>>,
        plan: Plan,
        adapter: Arc<dyn WorkflowAdapter>,
    ) -> ExecutorBuilder {
        let name = name.into();
        self.actions.remove(&name);
        self.workflows.insert(name.clone(), plan);
        self.adapters.insert(name, adapter);
        self
    }

    /// Caps the number of actions running at once across all runs of this
    /// executor. Tasks over the cap wait (in their own task, not in the
    /// scheduler) for a slot.
    pub fn max_actions_in_flight(mut self, n: usize) -> ExecutorBuilder {
        self.max_in_flight = Some(n.max(1));
        self
    }

    /// Runs every action attempt in a tokio task of its own.
    ///
    /// By default an attempt that starts while nothing else of its run is
    /// in flight (a chain's next task, a run's first task), and on a
    /// current_thread runtime every attempt without delay, timeout or the
    /// global cap, is polled by its run's own task: no task is spawned for
    /// it, which makes a chain's hop about half as costly. An action that
    /// blocks its thread then also holds back its run's commands (pause,
    /// cancel, answers) until it yields. With this set, every attempt is
    /// spawned, as a blocking action's neighbours on a multi_thread runtime
    /// may need; the hop costs a tokio task more. Blocking work still
    /// belongs in `tokio::task::spawn_blocking`.
    pub fn spawn_every_attempt(mut self) -> ExecutorBuilder {
        self.spawn_every_attempt = true;
        self
    }

    /// Caps task instances per run; the default is the number of tasks plus
    /// [`DEFAULT_EXTRA_INSTANCES`](crate::DEFAULT_EXTRA_INSTANCES). A run
    /// that would create more fails with an error naming the task
    /// (typically a loop that never ends). Shorthand for the same field of
    /// [`ExecutorBuilder::limits`].
    pub fn max_task_instances(mut self, n: usize) -> ExecutorBuilder {
        self.limits.max_task_instances = Some(n);
        self
    }

    /// Makes the runs of this executor durable: each records a journal in
    /// `store`, and survives a crash of the process (see
    /// [`Executor::recover`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> ExecutorBuilder {
        self.store = Some(store);
        self
    }

    /// The durability of runs that do not choose one (with a store):
    /// [`Durability::WriteBehind`] unless set.
    pub fn durability(mut self, durability: Durability) -> ExecutorBuilder {
        self.durability = durability;
        self
    }

    /// The key that encrypts the secret values of durable runs in the
    /// store (see [`SecretKey`]): the values of inputs declared
    /// `secret: true`, and the results and errors in which they appear.
    /// Without a key, a durable run with secret inputs is refused; runs
    /// without secrets need none. Runs are resumed, re-run and inspected
    /// with the key they were started with.
    pub fn secret_key(mut self, key: SecretKey) -> ExecutorBuilder {
        self.secret_key = Some(key);
        self
    }

    /// How the journal writer batches records (see [`JournalConfig`]).
    pub fn journal_config(mut self, config: JournalConfig) -> ExecutorBuilder {
        self.journal = config;
        self
    }

    /// Sets every limit of the runs of this executor at once (see
    /// [`Limits`] for each one and its default).
    pub fn limits(mut self, limits: Limits) -> ExecutorBuilder {
        self.limits = limits;
        self
    }

    /// Gives every run a value `name` in its context, made by `make` when
    /// the run starts (and again when it resumes): expressions read it as
    /// `ctx().name` or `ctx('name')`, as they read a variable. Declare the
    /// name with [`weft_core::functions::declare_context_name`] before
    /// workflows compile, so that the compile-time name checks know it.
    /// Input defaults do not see it: they are bound before the run has an
    /// id. Setting a name again replaces its maker.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use weft_runtime::Executor;
    ///
    /// let executor = Executor::builder()
    ///     .run_context("run", |run| json!({"id": run.run_id.to_string(), "workflow": run.workflow}))
    ///     .build();
    /// # let _ = executor;
    /// ```
    pub fn run_context<F>(mut self, name: impl Into<Arc<str>>, make: F) -> ExecutorBuilder
    where
        F: Fn(&StartingRun<'_>) -> Value + Send + Sync + 'static,
    {
        let name = name.into();
        self.run_context.retain(|(n, _)| *n != name);
        self.run_context.push((name, Arc::new(make)));
        self
    }

    /// The executor.
    pub fn build(self) -> Executor {
        Executor {
            inner: Arc::new(ExecutorInner {
                actions: self.actions,
                workflows: self.workflows,
                adapters: self.adapters,
                limit: self
                    .max_in_flight
                    .map(|n| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS)))),
                limits: self.limits,
                live: DashMap::default(),
                journal: self
                    .store
                    .map(|store| Arc::new(Journal::new(store, self.journal, self.secret_key))),
                durability: self.durability,
                spawn_every_attempt: self.spawn_every_attempt,
                metrics: Default::default(),
                buffers: Default::default(),
                lost: Default::default(),
                run_context: self.run_context,
            }),
        }
    }
}

/// The names registered so far, so that a workflow can be compiled before
/// the executor is built (see [`ExecutorBuilder::workflow`]).
impl ActionCatalog for ExecutorBuilder {
    fn has_action(&self, name: &str) -> bool {
        self.actions.contains_key(name) || self.workflows.contains_key(name)
    }

    fn action_names(&self) -> Vec<String> {
        self.actions
            .keys()
            .chain(self.workflows.keys())
            .map(|k| k.to_string())
            .collect()
    }

    fn input_fields(&self, name: &str) -> Option<Vec<InputField>> {
        fields_of(&self.actions, &self.workflows, &self.adapters, name)
    }

    fn unavailable(&self, name: &str) -> Option<String> {
        self.actions.get(name)?.unavailable()
    }
}

/// The runs a shared store took from an executor (a lease lost or taken
/// over), which are stopped here whether or not a worker runs them.
#[derive(Default)]
pub(crate) struct LostRuns {
    pub(crate) watching: OnceLock<()>,
    /// Workers of the executor running now: while there are none, the
    /// lost runs are not kept for them to count.
    pub(crate) workers: AtomicUsize,
    pub(crate) seen: Mutex<Vec<RunId>>,
    /// Told when a run of the executor becomes paused or is resumed: a
    /// worker's paused runs leave their slot free.
    pub(crate) pauses: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for LostRuns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LostRuns").finish_non_exhaustive()
    }
}

/// Counts a worker in [`LostRuns::workers`] while it lives.
pub(crate) struct Counting<'a>(&'a AtomicUsize);

impl Drop for Counting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LostRuns {
    pub(crate) fn count_for_worker(&self) -> Counting<'_> {
        self.workers.fetch_add(1, Ordering::SeqCst);
        Counting(&self.workers)
    }

    /// Takes the lost runs seen so far.
    pub(crate) fn take_seen(&self) -> Vec<RunId> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
