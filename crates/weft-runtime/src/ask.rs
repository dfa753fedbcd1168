//! The built-in actions that wait: `core.ask` (StackStorm's inquiries) and
//! `core.wait_event` (a signal by key). Both return a [`Wait`]; see
//! `wait/mod.rs` for what the run does with it.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Map, Value};

use weft_core::engine::json_type_name;
use weft_core::InputField;

use crate::action::{Action, ActionError, ActionInput, ActionResult};
use crate::fields::{self, FieldInfo};
use crate::wait::Wait;

pub(crate) const ASK_INPUTS: &[FieldInfo] = &[
    FieldInfo {
        name: "schema",
        kind: "map",
        required: false,
        description: "the JSON Schema an answer must pass; default StackStorm's: \
                      {\"continue\": boolean, required}",
    },
    FieldInfo {
        name: "route",
        kind: "string",
        required: false,
        description: "kept in the result, for whoever routes inquiries",
    },
    FieldInfo {
        name: "users",
        kind: "list of strings",
        required: false,
        description: "kept in the result (weft does not check who answers)",
    },
    FieldInfo {
        name: "roles",
        kind: "list of strings",
        required: false,
        description: "kept in the result (weft does not check who answers)",
    },
    FieldInfo {
        name: "ttl",
        kind: "number",
        required: false,
        description: "minutes to wait before the task times out; default 1440; 0 or less: \
                      no limit",
    },
];

pub(crate) const WAIT_EVENT_INPUTS: &[FieldInfo] = &[
    FieldInfo {
        name: "key",
        kind: "string",
        required: true,
        description: "the key a signal names (Executor::signal, weft signal)",
    },
    FieldInfo {
        name: "timeout",
        kind: "number",
        required: false,
        description: "seconds to wait before the task times out; none: no limit",
    },
    FieldInfo {
        name: "schema",
        kind: "map",
        required: false,
        description: "the JSON Schema the signal's value must pass",
    },
];

/// StackStorm's default inquiry schema (its inquirer runner's).
pub(crate) fn default_schema() -> Value {
    json!({
        "title": "response_data",
        "type": "object",
        "properties": {
            "continue": {
                "type": "boolean",
                "description": "Would you like to continue the workflow?",
                "required": true
            }
        }
    })
}

/// `core.ask`: asks for an answer (StackStorm's inquirer runner).
pub(crate) struct Ask;

/// `core.wait_event`: waits for a signal by key.
pub(crate) struct WaitEvent;

fn field<'a>(input: &'a Value, name: &str) -> Option<&'a Value> {
    input.get(name).filter(|v| !v.is_null())
}

fn string_list(name: &str, field_name: &str, v: Option<&Value>) -> Result<Value, ActionError> {
    match v {
        None => Ok(json!([])),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            Ok(Value::Array(items.clone()))
        }
        Some(other) => Err(ActionError::new(format!(
            "{name}: input `{field_name}` must be a list of strings, not {}",
            json_type_name(other)
        ))),
    }
}

fn schema_of(name: &str, v: Option<&Value>) -> Result<Option<Value>, ActionError> {
    match v {
        None => Ok(None),
        Some(s @ Value::Object(_)) => {
            // Checked now, so that a schema that cannot be used fails the
            // task instead of refusing every answer.
            jsonschema::validator_for(&crate::wait::draft3_required(s.clone())).map_err(|e| {
                ActionError::new(format!(
                    "{name}: input `schema` is no usable JSON Schema: {e}"
                ))
            })?;
            Ok(Some(s.clone()))
        }
        Some(other) => Err(ActionError::new(format!(
            "{name}: input `schema` must be a map (a JSON Schema), not {}",
            json_type_name(other)
        ))),
    }
}

fn number(name: &str, field_name: &str, v: Option<&Value>) -> Result<Option<f64>, ActionError> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(ActionError::new(format!(
                "{name}: input `{field_name}` must be a finite number, not {n}"
            ))),
        },
        Some(other) => Err(ActionError::new(format!(
            "{name}: input `{field_name}` must be a number, not {}",
            json_type_name(other)
        ))),
    }
}

impl Ask {
    fn wait(input: &ActionInput) -> Result<Wait, ActionError> {
        const NAME: &str = "core.ask";
        fields::check(NAME, ASK_INPUTS, &input.input)?;
        let i = &input.input;
        let schema = schema_of(NAME, field(i, "schema"))?.unwrap_or_else(default_schema);
        let route = match field(i, "route") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(ActionError::new(format!(
                    "{NAME}: input `route` must be a string, not {}",
                    json_type_name(other)
                )))
            }
        };
        let users = string_list(NAME, "users", field(i, "users"))?;
        let roles = string_list(NAME, "roles", field(i, "roles"))?;
        let ttl = number(NAME, "ttl", field(i, "ttl"))?.unwrap_or(1440.0);
        let mut details = Map::new();
        details.insert("schema".to_owned(), schema.clone());
        details.insert("roles".to_owned(), roles);
        details.insert("users".to_owned(), users);
        details.insert("route".to_owned(), Value::String(route));
        details.insert("ttl".to_owned(), json!(ttl));
        let mut wait = Wait::new(input.idempotency_key())
            .schema(schema)
            .details(details);
        if ttl > 0.0 {
            wait = wait.timeout(Duration::from_secs_f64((ttl * 60.0).min(1e12)));
        }
        Ok(wait)
    }
}

impl Action for Ask {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        Some(fields::declared(ASK_INPUTS))
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let r = Ask::wait(&input).and_then(|w| Err(w.into()));
        futures::future::ready(r).boxed()
    }
}

impl WaitEvent {
    fn wait(input: &ActionInput) -> Result<Wait, ActionError> {
        const NAME: &str = "core.wait_event";
        fields::check(NAME, WAIT_EVENT_INPUTS, &input.input)?;
        let key = match field(&input.input, "key") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) => {
                return Err(ActionError::new(format!(
                    "{NAME}: input `key` must not be empty"
                )))
            }
            Some(other) => {
                return Err(ActionError::new(format!(
                    "{NAME}: input `key` must be a string, not {}",
                    json_type_name(other)
                )))
            }
            None => return Err(ActionError::new(format!("{NAME}: missing input `key`"))),
        };
        let mut wait = Wait::new(key.clone());
        let mut details = Map::new();
        details.insert("key".to_owned(), Value::String(key));
        wait = wait.details(details);
        if let Some(s) = schema_of(NAME, field(&input.input, "schema"))? {
            wait = wait.schema(s);
        }
        match number(NAME, "timeout", field(&input.input, "timeout"))? {
            Some(t) if t > 0.0 => wait = wait.timeout(Duration::from_secs_f64(t.min(1e12))),
            Some(t) => {
                return Err(ActionError::new(format!(
                    "{NAME}: input `timeout` must be more than 0 seconds, not {t}"
                )))
            }
            None => {}
        }
        Ok(wait)
    }
}

impl Action for WaitEvent {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        Some(fields::declared(WAIT_EVENT_INPUTS))
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let r = WaitEvent::wait(&input).and_then(|w| Err(w.into()));
        futures::future::ready(r).boxed()
    }
}
