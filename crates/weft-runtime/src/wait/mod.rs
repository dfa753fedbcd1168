//! Durable waits: a task that waits for an answer from outside the run.
//!
//! An action makes its task wait by returning a [`Wait`] (as its error:
//! `Err(Wait::new("approval").into())`). The attempt ends, but the task
//! does not: it stays `pending`, holding no tokio task and no timer, while
//! the rest of the run goes on. When nothing else can run, the run shows
//! as `paused`. An answer — [`Executor::respond`](crate::Executor::respond)
//! by task name, [`Executor::signal`](crate::Executor::signal) by key —
//! is checked against the wait's JSON Schema (a rejected answer is an error
//! to the caller, and the task keeps waiting); an accepted one ends the task
//! `succeeded` with the wait's `details` and `{"response": answer}` as its
//! result. A wait whose timeout runs out ends its task `timed_out`.
//!
//! Waits are journaled like any outcome: the wait (with its deadline) is
//! the attempt's record, and an answer or an expiry is a command record, so
//! a wait survives a crash, and an answer given while no process holds the
//! run is applied when it is resumed.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub(crate) mod pending;
mod respond;

/// What a waiting task waits for: returned by an action (see the module
/// docs), and kept in the run's journal.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use serde_json::json;
/// use weft_runtime::{ActionInput, Executor, Wait};
///
/// let executor = Executor::builder()
///     .action("approval", |input: ActionInput| async move {
///         Err(Wait::new(format!("approval/{}", input.run_id))
///             .timeout(Duration::from_secs(3600))
///             .schema(json!({"type": "object", "required": ["approved"]}))
///             .into())
///     })
///     .build();
/// # let _ = executor;
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Wait {
    /// The key a signal names it by ([`Executor::signal`](crate::Executor::signal)).
    pub key: String,
    /// How long it waits, in milliseconds (forever when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The JSON Schema an answer must pass (any answer when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Fields of the task's result besides `response` (for `core.ask`,
    /// StackStorm's `schema`, `route`, `users`, `roles` and `ttl`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

impl Wait {
    /// A wait for an answer under `key`, without a timeout or a schema.
    pub fn new(key: impl Into<String>) -> Wait {
        Wait {
            key: key.into(),
            timeout_ms: None,
            schema: None,
            details: Map::new(),
        }
    }

    /// Ends the task `timed_out` when no answer came within `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Wait {
        self.timeout_ms = Some(timeout.as_millis().min(u128::from(u64::MAX)) as u64);
        self
    }

    /// Answers must pass this JSON Schema.
    #[must_use]
    pub fn schema(mut self, schema: Value) -> Wait {
        self.schema = Some(schema);
        self
    }

    /// Fields to put in the task's result beside `response`.
    #[must_use]
    pub fn details(mut self, details: Map<String, Value>) -> Wait {
        self.details = details;
        self
    }

    /// The task's result for `answer`.
    pub(crate) fn result(&self, answer: Value) -> Value {
        let mut result = self.details.clone();
        result.insert("response".to_owned(), answer);
        Value::Object(result)
    }

    /// Checks `answer` against the schema.
    ///
    /// # Errors
    ///
    /// Why the answer does not pass (each failing place and rule), or why
    /// the schema itself cannot be used.
    pub fn check(&self, answer: &Value) -> Result<(), String> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let schema = draft3_required(schema.clone());
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("the wait's schema cannot be used: {e}"))?;
        let problems: Vec<String> = validator
            .iter_errors(answer)
            .take(8)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("at `{at}`: {e}")
                }
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the answer does not match the schema: {}; send an answer that does (the task keeps waiting)",
            problems.join("; ")
        ))
    }
}

/// StackStorm's schemas (its default one among them) say `required: true`
/// inside a property, as JSON Schema draft 3 did; later drafts list the
/// required names in the object. This moves the first form to the second,
/// at every depth, so that both are checked.
pub(crate) fn draft3_required(mut schema: Value) -> Value {
    if let Value::Object(obj) = &mut schema {
        let mut required: Vec<Value> = Vec::new();
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            for (name, prop) in props.iter_mut() {
                if let Value::Object(p) = prop {
                    if let Some(Value::Bool(flag)) = p.get("required") {
                        if *flag {
                            required.push(Value::String(name.clone()));
                        }
                        p.remove("required");
                    }
                }
                *prop = draft3_required(std::mem::take(prop));
            }
        }
        if let Some(items) = obj.get_mut("items") {
            *items = draft3_required(std::mem::take(items));
        }
        if !required.is_empty() {
            match obj.get_mut("required") {
                Some(Value::Array(list)) => {
                    for r in required {
                        if !list.contains(&r) {
                            list.push(r);
                        }
                    }
                }
                _ => {
                    obj.insert("required".to_owned(), Value::Array(required));
                }
            }
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draft3_required_is_checked() {
        let wait = Wait::new("k").schema(json!({
            "type": "object",
            "properties": {"approved": {"type": "boolean", "required": true}}
        }));
        assert!(wait.check(&json!({"approved": true})).is_ok());
        let e = wait.check(&json!({})).unwrap_err();
        assert!(e.contains("approved"), "{e}");
        let e = wait.check(&json!({"approved": "yes"})).unwrap_err();
        assert!(e.contains("/approved"), "{e}");
    }

    #[test]
    fn no_schema_takes_anything() {
        assert!(Wait::new("k").check(&json!([1, 2])).is_ok());
    }
}
