//! Actions: the work a task does, registered by name.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use weft_core::engine::json_type_name;
use weft_core::{InputField, WorkflowContext};

use crate::attempt::{PlainAttempt, Spawned};
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

    /// The input as a `T`, for example a struct that derives
    /// `serde::Deserialize`. A task without `input` reads as an empty map.
    ///
    /// # Errors
    ///
    /// The input does not fit `T`; the error names the field, with its path
    /// for a nested one: ``invalid input `items[2].sku`: invalid type: ...``.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::Deserialize;
    /// use serde_json::json;
    /// use weft_runtime::{ActionInput, Executor};
    ///
    /// #[derive(Deserialize)]
    /// struct Greet {
    ///     name: String,
    ///     #[serde(default)]
    ///     shout: bool,
    /// }
    ///
    /// let executor = Executor::builder()
    ///     .action("greet", |input: ActionInput| async move {
    ///         let Greet { name, shout } = input.parse()?;
    ///         let text = format!("hello, {name}");
    ///         Ok(json!(if shout { text.to_uppercase() } else { text }))
    ///     })
    ///     .build();
    /// # let _ = executor;
    /// ```
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ActionError> {
        let empty = Value::Object(serde_json::Map::new());
        let input = if self.input.is_null() {
            &empty
        } else {
            &self.input
        };
        serde_path_to_error::deserialize(input).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                ActionError::new(format!("invalid input: {inner}"))
            } else {
                ActionError::new(format!("invalid input `{path}`: {inner}"))
            }
        })
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

pub use crate::action_error::{ActionError, ActionResult};

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

    /// The input fields the action takes, or `None` (the default) when it
    /// does not say. With fields declared, compiling a workflow against the
    /// executor rejects a task whose `input` has a key that is not one of
    /// them, or leaves out a required one, with the task's line and a
    /// suggestion.
    fn input_fields(&self) -> Option<Vec<InputField>> {
        None
    }

    /// Why the action cannot be used, or `None` (the default) when it can.
    /// Compiling a workflow against the executor rejects every task that
    /// uses an action that says why not (see
    /// [`ActionCatalog::unavailable`](weft_core::ActionCatalog::unavailable)),
    /// so that the reason is told before a run starts; [`Action::call`]
    /// should fail with the same reason for a plan compiled elsewhere.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// The values in a task's rendered `input` that are secret: the run
    /// masks them wherever it hands something back, as it masks the values
    /// of the workflow's `secret: true` inputs (event texts, errors, task
    /// results, the output). The action itself gets them unmasked.
    ///
    /// Called once per attempt, when the attempt is dispatched; the
    /// default, no secrets, allocates nothing.
    fn secret_values(&self, input: &Value) -> Vec<Value> {
        let _ = input;
        Vec::new()
    }

    /// Spawns an attempt that has no delay, timeout or concurrency cap (or
    /// hands it to the run's task to poll: when nothing else of the run is
    /// in flight, or on a current_thread runtime): by default the future [`Action::call`] makes, boxed. Not
    /// for implementors (its argument cannot be named outside weft): the
    /// closure actions of [`ExecutorBuilder::action`](crate::ExecutorBuilder::action)
    /// and [`ExecutorBuilder::action_typed`](crate::ExecutorBuilder::action_typed)
    /// spawn their own future unboxed with it, so that such an attempt
    /// allocates nothing but its tokio task (or its one box, polled inline).
    #[doc(hidden)]
    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Spawned {
        attempt.spawn(|| self.call(input))
    }
}

impl<T: Action + ?Sized> Action for Arc<T> {
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        (**self).call(input)
    }

    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Spawned {
        (**self).spawn_plain(input, attempt)
    }

    fn input_fields(&self) -> Option<Vec<InputField>> {
        (**self).input_fields()
    }

    fn unavailable(&self) -> Option<String> {
        (**self).unavailable()
    }

    fn secret_values(&self, input: &Value) -> Vec<Value> {
        (**self).secret_values(input)
    }
}

impl<T: Action + ?Sized> Action for Box<T> {
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        (**self).call(input)
    }

    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Spawned {
        (**self).spawn_plain(input, attempt)
    }

    fn input_fields(&self) -> Option<Vec<InputField>> {
        (**self).input_fields()
    }

    fn unavailable(&self) -> Option<String> {
        (**self).unavailable()
    }

    fn secret_values(&self, input: &Value) -> Vec<Value> {
        (**self).secret_values(input)
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

    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Spawned {
        attempt.spawn(|| (self.0)(input))
    }
}

impl From<crate::wait::Wait> for ActionError {
    /// The attempt ends and its task waits (see [`Wait`](crate::Wait)).
    fn from(wait: crate::wait::Wait) -> ActionError {
        ActionError::waiting(wait)
    }
}
