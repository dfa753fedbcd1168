//! Actions: the work a task does, registered by name.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::task::JoinHandle;
use weft_core::engine::json_type_name;
use weft_core::{InputField, WorkflowContext};

use crate::attempt::PlainAttempt;
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

/// Why an action failed: a message, and optionally a result to keep (what
/// `result()` shows in the task's transitions).
///
/// `?` turns any error type into an `ActionError`: it implements
/// `From<E>` for every `E: std::error::Error + Send + Sync + 'static`,
/// keeping `E`'s message (followed by its causes) and `E` itself as
/// [`ActionError::source`]. For a plain message, use [`ActionError::new`]
/// (or [`ActionError::msg`]).
///
/// Like `anyhow::Error`, and for the same reason, `ActionError` does not
/// implement `std::error::Error` itself (the blanket `From` would then
/// include `From<ActionError> for ActionError`); it converts into
/// `Box<dyn std::error::Error + Send + Sync>` with `?` or `.into()`.
///
/// # Examples
///
/// ```
/// use weft_runtime::ActionError;
///
/// #[derive(Debug)]
/// struct Declined(u64);
/// impl std::fmt::Display for Declined {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "card declined for {}", self.0)
///     }
/// }
/// impl std::error::Error for Declined {}
///
/// fn charge(amount: u64) -> Result<u64, ActionError> {
///     if amount > 100 {
///         Err(Declined(amount))?;
///     }
///     let cents: u64 = "12".parse()?; // std::num::ParseIntError
///     Ok(amount * 100 + cents)
/// }
///
/// let e = charge(120).unwrap_err();
/// assert_eq!(e.message(), "card declined for 120");
/// assert!(e.source().is_some_and(|s| s.is::<Declined>()));
/// ```
#[derive(Clone)]
pub struct ActionError {
    // Boxed: every action's `Result` and every attempt's outcome carry an
    // `ActionError` by value, and most attempts succeed; a pointer keeps
    // what a task moves around small.
    inner: Box<ErrorInner>,
}

#[derive(Clone)]
struct ErrorInner {
    message: String,
    result: Option<Value>,
    /// The error this one was made from, if any.
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    /// The action stopped because it was canceled (a sub-workflow whose
    /// run was canceled): its task ends `canceled`, not `failed`.
    canceled: bool,
    /// Not a failure: the task waits for an answer (see `wait/mod.rs`).
    wait: Option<Box<crate::wait::Wait>>,
}

impl ActionError {
    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> ActionError {
        ActionError {
            inner: Box::new(ErrorInner {
                message: message.into(),
                result: None,
                source: None,
                canceled: false,
                wait: None,
            }),
        }
    }

    /// The attempt ended, and its task waits for an answer.
    pub(crate) fn waiting(wait: crate::wait::Wait) -> ActionError {
        let mut e = ActionError::new(format!("waiting for an answer to `{}`", wait.key));
        e.inner.wait = Some(Box::new(wait));
        e
    }

    /// What the task waits for, when this is no failure but a wait.
    pub fn wait(&self) -> Option<&crate::wait::Wait> {
        self.inner.wait.as_deref()
    }

    /// A failure with a message; the same as [`ActionError::new`], under
    /// the name `anyhow` users look for.
    pub fn msg(message: impl Into<String>) -> ActionError {
        ActionError::new(message)
    }

    /// A failure that also carries a result (for example a command's output).
    pub fn with_result(message: impl Into<String>, result: Value) -> ActionError {
        ActionError::new(message).result_attached(result)
    }

    /// The same failure, carrying `result` as well (replacing any result it
    /// had).
    #[must_use]
    pub fn result_attached(mut self, result: Value) -> ActionError {
        self.inner.result = Some(result);
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The attached result, if any.
    pub fn result(&self) -> Option<&Value> {
        self.inner.result.as_ref()
    }

    /// The error this one was converted from (with `?` or `From`), if any.
    /// Only the message and result are recorded in the run; the source is
    /// for the action's own caller, for example a test.
    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.inner.source.as_deref()
    }

    /// The action was canceled rather than failed.
    pub(crate) fn canceled(mut self) -> ActionError {
        self.inner.canceled = true;
        self
    }

    pub(crate) fn is_canceled(&self) -> bool {
        self.inner.canceled
    }

    pub(crate) fn into_parts(self) -> (String, Option<Value>) {
        let inner = *self.inner;
        (inner.message, inner.result)
    }
}

impl fmt::Debug for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ActionError");
        d.field("message", &self.inner.message);
        if let Some(r) = &self.inner.result {
            d.field("result", r);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        if self.inner.canceled {
            d.field("canceled", &true);
        }
        d.finish()
    }
}

/// Two errors are equal when their message, result and cancellation are;
/// the source is not compared.
impl PartialEq for ActionError {
    fn eq(&self, other: &ActionError) -> bool {
        self.inner.message == other.inner.message
            && self.inner.result == other.inner.result
            && self.inner.canceled == other.inner.canceled
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl<E> From<E> for ActionError
where
    E: std::error::Error + Send + Sync + 'static,
{
    /// The error's message followed by its causes (`outer: inner`), each
    /// left out when the message before already says it.
    fn from(e: E) -> Self {
        let mut message = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !text.is_empty() && !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = c.source();
        }
        let mut error = ActionError::new(message);
        error.inner.source = Some(Arc::new(e));
        error
    }
}

/// An [`ActionError`] as a standard error, for `?` in functions that return
/// `Box<dyn Error>`.
#[derive(Debug)]
struct StdActionError(ActionError);

impl fmt::Display for StdActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.inner.message)
    }
}

impl std::error::Error for StdActionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ActionError> for Box<dyn std::error::Error + Send + Sync + 'static> {
    fn from(e: ActionError) -> Self {
        Box::new(StdActionError(e))
    }
}

impl From<ActionError> for Box<dyn std::error::Error + 'static> {
    fn from(e: ActionError) -> Self {
        Box::new(StdActionError(e))
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

    /// Spawns an attempt that has no delay, timeout or concurrency cap: by
    /// default the future [`Action::call`] makes, boxed. Not for
    /// implementors (its argument cannot be named outside weft): the
    /// closure actions of [`ExecutorBuilder::action`](crate::ExecutorBuilder::action)
    /// and [`ExecutorBuilder::action_typed`](crate::ExecutorBuilder::action_typed)
    /// spawn their own future unboxed with it, so that such an attempt
    /// allocates nothing but its tokio task.
    #[doc(hidden)]
    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Option<JoinHandle<()>> {
        attempt.spawn(|| self.call(input))
    }
}

impl<T: Action + ?Sized> Action for Arc<T> {
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        (**self).call(input)
    }

    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Option<JoinHandle<()>> {
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

    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Option<JoinHandle<()>> {
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

    fn spawn_plain(&self, input: ActionInput, attempt: PlainAttempt) -> Option<JoinHandle<()>> {
        attempt.spawn(|| (self.0)(input))
    }
}

impl From<crate::wait::Wait> for ActionError {
    /// The attempt ends and its task waits (see [`Wait`](crate::Wait)).
    fn from(wait: crate::wait::Wait) -> ActionError {
        ActionError::waiting(wait)
    }
}
