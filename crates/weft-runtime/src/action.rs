//! Actions: the work a task does, registered by name.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use weft_core::{json_type_name, WorkflowContext};

use crate::id::RunId;

/// What an action is called with.
#[derive(Clone, Debug)]
pub struct ActionInput {
    /// The task's `input`, rendered against the context at dispatch.
    pub input: Value,
    /// The run's context (shared; for a `with` item, it holds the item).
    pub context: WorkflowContext,
    /// The task's name.
    pub task: Arc<str>,
    /// The task instance within the run (0-based, in creation order; see
    /// [`TaskRecord::instance`](crate::TaskRecord::instance)).
    pub instance: u32,
    /// The item's index, for a task with `with` items.
    pub index: Option<usize>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The run's id.
    pub run_id: RunId,
}

impl ActionInput {
    /// A key that names this attempt and no other:
    /// `run/task/instance/item/attempt` (the item is `-` for a task without
    /// `with` items), for example
    /// `0193a0c4-5e1f-7d2a-9c3b-8f4e6a2b1c0d/charge/3/-/1`.
    ///
    /// The key is the same when the same attempt runs again: a durable run
    /// resumed after a crash runs again the attempts whose outcome was not
    /// yet recorded, with the keys they had. An action with side effects
    /// outside the run (a payment, an email) can pass it to the system it
    /// calls to have the effect happen once; actions run *at least once*.
    pub fn idempotency_key(&self) -> String {
        match self.index {
            Some(i) => format!(
                "{}/{}/{}/{i}/{}",
                self.run_id, self.task, self.instance, self.attempt
            ),
            None => format!(
                "{}/{}/{}/-/{}",
                self.run_id, self.task, self.instance, self.attempt
            ),
        }
    }

    /// A field of the input map.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.input.get(field)
    }

    /// A required string field.
    ///
    /// # Errors
    ///
    /// The field is missing or not a string; the error names it.
    pub fn require_str(&self, field: &str) -> Result<&str, ActionError> {
        match self.input.get(field) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(ActionError::new(format!(
                "input `{field}` must be a string, not {}",
                json_type_name(other)
            ))),
            None => Err(ActionError::new(format!("missing input `{field}`"))),
        }
    }
}

/// Why an action failed: a message, and optionally a result to keep (what
/// `result()` shows in the task's transitions).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionError {
    message: String,
    result: Option<Value>,
    /// The action stopped because it was canceled (a sub-workflow whose
    /// run was canceled): its task ends `canceled`, not `failed`.
    canceled: bool,
}

impl ActionError {
    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> ActionError {
        ActionError {
            message: message.into(),
            result: None,
            canceled: false,
        }
    }

    /// A failure that also carries a result (for example a command's output).
    pub fn with_result(message: impl Into<String>, result: Value) -> ActionError {
        ActionError {
            message: message.into(),
            result: Some(result),
            canceled: false,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The attached result, if any.
    pub fn result(&self) -> Option<&Value> {
        self.result.as_ref()
    }

    /// The action was canceled rather than failed.
    pub(crate) fn canceled(mut self) -> ActionError {
        self.canceled = true;
        self
    }

    pub(crate) fn is_canceled(&self) -> bool {
        self.canceled
    }

    pub(crate) fn into_parts(self) -> (String, Option<Value>) {
        (self.message, self.result)
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ActionError {}

impl From<String> for ActionError {
    fn from(s: String) -> Self {
        ActionError::new(s)
    }
}

impl From<&str> for ActionError {
    fn from(s: &str) -> Self {
        ActionError::new(s)
    }
}

impl From<std::io::Error> for ActionError {
    fn from(e: std::io::Error) -> Self {
        ActionError::new(e.to_string())
    }
}

impl From<serde_json::Error> for ActionError {
    fn from(e: serde_json::Error) -> Self {
        ActionError::new(e.to_string())
    }
}

/// The result of an action.
pub type ActionResult = Result<Value, ActionError>;

/// Something a task can run.
///
/// Most actions are async closures registered with
/// [`ExecutorBuilder::action`](crate::ExecutorBuilder::action); implement
/// this trait for actions that hold state, and register them with
/// [`ExecutorBuilder::register`](crate::ExecutorBuilder::register).
///
/// # Cancel safety
///
/// The returned future may be dropped at any `.await` point: when an attempt
/// times out, or when the run is aborted. Actions that must clean up should
/// do so in `Drop` (as `tokio::process` children with `kill_on_drop` do).
pub trait Action: Send + Sync + 'static {
    /// Makes the future that runs the action once.
    ///
    /// The scheduler may call this while dispatching, so `call` itself
    /// should only build the future and leave the work to it; slow
    /// synchronous work here would hold up the run's scheduler.
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult>;
}

impl<T: Action + ?Sized> Action for Arc<T> {
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        (**self).call(input)
    }
}

impl<T: Action + ?Sized> Action for Box<T> {
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        (**self).call(input)
    }
}

/// An async closure as an [`Action`].
pub(crate) struct FnAction<F>(pub(crate) F);

impl<F, Fut> Action for FnAction<F>
where
    F: Fn(ActionInput) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ActionResult> + Send + 'static,
{
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        Box::pin((self.0)(input))
    }
}
