//! The built-in `core.*` actions.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use weft_core::engine::json_type_name;
use weft_core::InputField;

use crate::action::{Action, ActionError, ActionInput, ActionResult};
use crate::fields::{self, ActionInfo, FieldInfo};
pub(crate) use crate::local::Local;

/// The names of the built-in actions, in the order `builtin_action` knows
/// them (`core.http` only has an instance with the `http` feature).
pub(crate) const NAMES: &[&str] = &[
    "core.noop",
    "core.echo",
    "core.sleep",
    "core.fail",
    "core.local",
    "core.http",
    "core.ask",
    "core.wait_event",
];

/// A new instance of the built-in action `name` (`core.noop`,
/// `core.echo`, `core.sleep`, `core.fail`, `core.local`, `core.ask`,
/// `core.wait_event`, and `core.http` with the `http` feature), or `None` when there is no such built-in.
///
/// For an action of one's own that does its work through a built-in, under
/// a name that may shadow the built-in's (a StackStorm pack's own
/// `core.http`, say).
pub fn builtin_action(name: &str) -> Option<std::sync::Arc<dyn Action>> {
    use std::sync::Arc;
    Some(match name {
        "core.noop" => Arc::new(Noop),
        "core.echo" => Arc::new(Echo),
        "core.sleep" => Arc::new(Sleep),
        "core.fail" => Arc::new(Fail),
        "core.local" => Arc::new(Local),
        "core.ask" => Arc::new(crate::ask::Ask),
        "core.wait_event" => Arc::new(crate::ask::WaitEvent),
        #[cfg(feature = "http")]
        "core.http" => Arc::new(crate::http::Http::new()),
        _ => return None,
    })
}

/// The built-in actions, described.
pub fn builtin_actions() -> &'static [ActionInfo] {
    const NOOP: &[FieldInfo] = &[];
    const ECHO: &[FieldInfo] = &[FieldInfo {
        name: "message",
        kind: "any",
        required: true,
        description: "returned as given",
    }];
    const SLEEP: &[FieldInfo] = &[FieldInfo {
        name: "seconds",
        kind: "number",
        required: true,
        description: "how long to sleep; fractions allowed",
    }];
    const FAIL: &[FieldInfo] = &[FieldInfo {
        name: "message",
        kind: "string",
        required: false,
        description: "the failure's message",
    }];
    const ALL: &[ActionInfo] = &[
        ActionInfo {
            name: "core.noop",
            description: "does nothing",
            inputs: NOOP,
            result: "null",
        },
        ActionInfo {
            name: "core.echo",
            description: "returns its message",
            inputs: ECHO,
            result: r#"{"message": <message as given>}"#,
        },
        ActionInfo {
            name: "core.sleep",
            description: "waits, then succeeds",
            inputs: SLEEP,
            result: "null",
        },
        ActionInfo {
            name: "core.fail",
            description: "fails with its message",
            inputs: FAIL,
            result: "(fails)",
        },
        ActionInfo {
            name: "core.local",
            description: "runs a program (`args`) or a shell command (`cmd`); a non-zero exit \
                          fails the task with the result attached; on timeout or abort its \
                          whole process group is killed",
            inputs: crate::local::INPUTS,
            result: r#"{"stdout": string, "stderr": string, "return_code": number, "succeeded": bool, "stdout_truncated": bool, "stderr_truncated": bool, "stdout_total_bytes": number, "stderr_total_bytes": number}"#,
        },
        ActionInfo {
            name: "core.ask",
            description: "asks for an answer (StackStorm's inquiry): the task waits, the run \
                          shows as paused when nothing else runs; an answer that passes the \
                          schema (Executor::respond, weft respond) succeeds it; `ttl` running \
                          out times it out",
            inputs: crate::ask::ASK_INPUTS,
            result: r#"{"response": <the answer>, "schema": map, "route": string, "users": [string], "roles": [string], "ttl": number}"#,
        },
        ActionInfo {
            name: "core.wait_event",
            description: "waits for a signal by key (Executor::signal, weft signal); `timeout` \
                          running out times the task out",
            inputs: crate::ask::WAIT_EVENT_INPUTS,
            result: r#"{"response": <the signal's value>, "key": string}"#,
        },
        #[cfg(feature = "http")]
        crate::http::INFO,
    ];
    ALL
}

/// The declared input fields of built-in action `name`.
fn declared_fields(name: &str) -> Option<Vec<InputField>> {
    let info = builtin_actions().iter().find(|a| a.name == name)?;
    Some(fields::declared(info.inputs))
}

/// Checks `input` against the fields built-in action `name` declares.
fn check_fields(name: &str, input: &Value) -> Result<(), ActionError> {
    match builtin_actions().iter().find(|a| a.name == name) {
        Some(info) => fields::check(name, info.inputs, input),
        None => Ok(()),
    }
}

pub(crate) struct Noop;
pub(crate) struct Echo;
pub(crate) struct Sleep;
pub(crate) struct Fail;

impl Action for Noop {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        declared_fields("core.noop")
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let r = check_fields("core.noop", &input.input).map(|()| Value::Null);
        futures::future::ready(r).boxed()
    }
}

impl Action for Echo {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        declared_fields("core.echo")
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let r = check_fields("core.echo", &input.input).map(
            |()| json!({"message": input.input.get("message").cloned().unwrap_or(Value::Null)}),
        );
        futures::future::ready(r).boxed()
    }
}

impl Action for Sleep {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        declared_fields("core.sleep")
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let seconds = check_fields("core.sleep", &input.input).and_then(|()| {
            match input.input.get("seconds") {
                Some(Value::Number(n)) => n
                    .as_f64()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| {
                        ActionError::new(format!(
                            "core.sleep: `seconds` must be 0 or more, not {n}"
                        ))
                    }),
                Some(other) => Err(ActionError::new(format!(
                    "core.sleep: input `seconds` must be a number, not {}",
                    json_type_name(other)
                ))),
                None => Err(ActionError::new("core.sleep: missing input `seconds`")),
            }
        });
        async move {
            let seconds = seconds?;
            tokio::time::sleep(Duration::from_secs_f64(seconds.min(1e9))).await;
            Ok(Value::Null)
        }
        .boxed()
    }
}

impl Action for Fail {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        declared_fields("core.fail")
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let r = check_fields("core.fail", &input.input).and_then(|()| {
            let msg = match input.input.get("message") {
                None | Some(Value::Null) => "core.fail was called".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            Err(ActionError::new(msg))
        });
        futures::future::ready(r).boxed()
    }
}
