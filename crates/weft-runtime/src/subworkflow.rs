//! Sub-workflows: a task whose action is another workflow registered on
//! the executor ([`ExecutorBuilder::workflow`](crate::ExecutorBuilder::workflow)).
//!
//! The attempt starts a child run of that workflow with the task's
//! rendered input as its inputs, and ends with the child: the child's
//! output is the task's result; a child that does not succeed fails the
//! task, its status, output and errors attached. The child is a run like
//! any other (it has its id, its handle in the executor, its events); its
//! id is derived from the parent's attempt, so the same attempt always
//! names the same child.
//!
//! Commands reach the children of a run: canceling, aborting, pausing or
//! resuming the parent does the same to every child it has running. An
//! attempt that is dropped (its timeout, an abort) aborts its child.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use weft_core::{InputField, Plan};

use crate::action::{Action, ActionError, ActionInput, ActionResult};
use crate::id::RunId;
use crate::outcome::RunStatus;
use crate::run::children::{ChildCommand, Children};
use crate::run::{Run, RunHandle, RunOptions};
use crate::scheduler::Scheduler;
use crate::store::{Durability, Entry, Record, Store, StoreError};

/// What a sub-workflow needs of the executor that runs its parent: where
/// runs are kept, and making and tracking a child run. The executor
/// implements it; this module never names the executor.
pub(crate) trait ChildRuns: Send + Sync + 'static {
    /// How deep sub-workflows may go.
    fn max_workflow_depth(&self) -> u32;

    /// The store runs are journaled in, if any.
    fn store(&self) -> Option<&Arc<dyn Store>>;

    /// A new child run, not yet spawned.
    ///
    /// # Errors
    ///
    /// Why the run cannot be made (its text is the one the executor gives).
    fn start_child(
        self: Arc<Self>,
        plan: &Plan,
        parameters: Value,
        id: RunId,
        options: RunOptions,
    ) -> Result<(Box<Scheduler>, Run), String>;

    /// A child run rebuilt from its journal, not yet spawned.
    ///
    /// # Errors
    ///
    /// Why the run cannot be resumed.
    fn resume_child(
        self: Arc<Self>,
        id: RunId,
        entries: Vec<Entry>,
    ) -> Result<(Box<Scheduler>, Run), String>;

    /// The child run is going on: it can be found by id until it ends.
    fn track(&self, id: RunId, handle: RunHandle);
}

/// How tasks call a workflow registered with
/// [`ExecutorBuilder::workflow_adapted`](crate::ExecutorBuilder::workflow_adapted):
/// the input fields they may give, the child run's inputs made from what
/// they give, and the task's result made from the child's output.
///
/// A layer that runs workflows written for another system uses it to keep
/// that system's contract: its own parameter declarations, defaults and
/// checks in front of the workflow's `input` section, and its own shape
/// of result.
pub trait WorkflowAdapter: Send + Sync + 'static {
    /// The input fields a task may give, checked when compiling (see
    /// [`Action::input_fields`]); `None` (the default) means the
    /// workflow's own inputs.
    fn input_fields(&self) -> Option<Vec<InputField>> {
        None
    }

    /// The child run's inputs, from the attempt's input (its `input` is
    /// the task's rendered input). Called when the attempt starts, not by
    /// the scheduler.
    ///
    /// # Errors
    ///
    /// An error fails the attempt as an action's error would, before any
    /// child run is made.
    fn prepare(&self, input: &ActionInput) -> Result<Value, ActionError>;

    /// The task's result when the child succeeded, from the child's
    /// output; the default is the output itself.
    fn result(&self, output: Value) -> Value {
        output
    }

    /// The secret values in a task's rendered input (see
    /// [`Action::secret_values`]); none by default.
    fn secret_values(&self, input: &Value) -> Vec<Value> {
        let _ = input;
        Vec::new()
    }
}

/// The action of a task whose action names a workflow, for one parent run.
pub(crate) struct SubWorkflow {
    pub(crate) name: Arc<str>,
    pub(crate) plan: Plan,
    /// How tasks call it, if it was registered with an adapter.
    pub(crate) adapter: Option<Arc<dyn WorkflowAdapter>>,
    pub(crate) runs: Arc<dyn ChildRuns>,
    pub(crate) children: Arc<Children>,
    /// The child's depth: 1 for a child of a top-level run.
    pub(crate) depth: u32,
    /// The parent's durability and journaling, which its children share: a
    /// child of a run kept in memory is kept in memory, a child of a
    /// `Sync` run is `Sync`.
    pub(crate) durability: Option<Durability>,
    pub(crate) in_memory: bool,
}

/// Aborts the child if the attempt is dropped before the child ended.
struct AbortOnDrop<'a> {
    child: RunHandle,
    children: &'a Children,
    done: bool,
}

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.child.abort();
        }
        self.children.unregister(self.child.id());
    }
}

impl Action for SubWorkflow {
    fn secret_values(&self, input: &Value) -> Vec<Value> {
        match &self.adapter {
            Some(a) => a.secret_values(input),
            None => Vec::new(),
        }
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let name = self.name.clone();
        let plan = self.plan.clone();
        let adapter = self.adapter.clone();
        let runs = self.runs.clone();
        let children = self.children.clone();
        let depth = self.depth;
        let (durability, in_memory) = (self.durability, self.in_memory);
        async move {
            let max = runs.max_workflow_depth();
            if depth > max {
                return Err(ActionError::new(format!(
                    "sub-workflow `{name}` would run {depth} levels deep, over the limit of {max}: \
                     a workflow that calls itself without end? Raise Limits::max_workflow_depth"
                )));
            }
            let id = RunId::child(input.run_id, input.instance, input.index, input.attempt);
            let given = match &adapter {
                Some(a) => a.prepare(&input)?,
                None => input.input,
            };
            let parameters = plan
                .bind_inputs(given)
                .map_err(|e| ActionError::new(format!("sub-workflow `{name}`: {}", e.message())))?;
            // A parent being resumed runs again an attempt whose child is
            // in the store: the child is resumed (or, if it ended, its end
            // is the attempt's outcome) rather than started again.
            let stored = match runs.store() {
                Some(store) if !in_memory => match store.load(id).await {
                    Ok(entries) => Some(entries),
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => {
                        return Err(ActionError::new(format!(
                            "sub-workflow `{name}` (run {id}): {e}"
                        )))
                    }
                },
                _ => None,
            };
            let (scheduler, run) = match stored {
                Some(entries) => {
                    if let Some(Record::Ended(end)) = entries.last().map(|e| &e.record) {
                        return ended(&name, id, end.status, &end.output, &end.errors)
                            .map(|out| adapted(adapter.as_deref(), out));
                    }
                    // On a shared store the child may still be leased to the
                    // process its parent was taken over from.
                    if let Some(shared) = runs.store().and_then(|s| s.shared()) {
                        shared.acquire(id).await.map_err(|e| {
                            ActionError::new(format!("sub-workflow `{name}` (run {id}): {e}"))
                        })?;
                    }
                    runs.clone()
                        .resume_child(id, entries)
                        .map_err(|e| ActionError::new(format!("sub-workflow `{name}`: {e}")))?
                }
                None => {
                    let options = RunOptions {
                        depth,
                        parent: Some(input.run_id),
                        durability,
                        in_memory,
                        ..RunOptions::default()
                    };
                    runs.clone()
                        .start_child(&plan, parameters, id, options)
                        .map_err(|e| ActionError::new(format!("sub-workflow `{name}`: {e}")))?
                }
            };
            let handle = run.handle();
            runs.track(id, handle.clone());
            children.register(&handle);
            let mut guard = AbortOnDrop {
                child: handle.clone(),
                children: &children,
                done: false,
            };
            // A command the parent got while this child was being made.
            match children.last_command() {
                ChildCommand::Run => {}
                command => command.apply(&handle),
            }
            scheduler.spawn(&tokio::runtime::Handle::current());
            let out = run
                .await
                .map_err(|e| ActionError::new(format!("sub-workflow `{name}` (run {id}): {e}")))?;
            guard.done = true;
            drop(guard);
            ended(&name, id, out.status, &out.output, &out.errors)
                .map(|out| adapted(adapter.as_deref(), out))
        }
        .boxed()
    }
}

/// The task's result from a child's output.
fn adapted(adapter: Option<&dyn WorkflowAdapter>, output: Value) -> Value {
    match adapter {
        Some(a) => a.result(output),
        None => output,
    }
}

/// The attempt's outcome, from how its child ended.
fn ended(
    name: &str,
    id: RunId,
    status: RunStatus,
    output: &serde_json::Value,
    errors: &[crate::RunError],
) -> ActionResult {
    if status == RunStatus::Succeeded {
        return Ok(output.clone());
    }
    let first = errors
        .first()
        .map(|e| e.to_string())
        .unwrap_or_else(|| status.to_string());
    let more = match errors.len() {
        0 | 1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    let error = ActionError::with_result(
        format!("sub-workflow `{name}` (run {id}) {status}: {first}{more}"),
        json!({
            "run_id": id.to_string(),
            "status": status,
            "output": output,
            "errors": errors,
        }),
    );
    Err(match status {
        RunStatus::Canceled => error.canceled(),
        _ => error,
    })
}
