//! Why an action failed ([`ActionError`]): at the bottom of the runtime's
//! layers, so that the messages of a run can carry it without importing
//! the actions' trait (docs/architecture.md, "Import circles").

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
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
