//! The built-in `core.*` actions.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Map, Value};

use weft_core::engine::json_type_name;
use weft_core::InputField;

use crate::action::{Action, ActionError, ActionInput, ActionResult};
pub(crate) use crate::local::Local;

/// A description of an action's input and result, for `weft actions` and
/// documentation.
#[derive(Clone, Debug)]
pub struct ActionInfo {
    /// The action's name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its input fields.
    pub inputs: &'static [FieldInfo],
    /// The shape of its result.
    pub result: &'static str,
}

/// One input field of an action.
#[derive(Clone, Debug)]
pub struct FieldInfo {
    /// The field's name.
    pub name: &'static str,
    /// Its JSON type.
    pub kind: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// What it means.
    pub description: &'static str,
}

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
    const LOCAL: &[FieldInfo] = &[
        FieldInfo {
            name: "args",
            kind: "list of strings",
            required: false,
            description: "program (found in PATH) and its arguments, run without a shell; \
                          numbers and booleans become strings; give this or `cmd`",
        },
        FieldInfo {
            name: "cmd",
            kind: "string",
            required: false,
            description: "command line run by `sh -c`; quote templated values with \
                          `| shell_quote` or pass them in `env`; give this or `args`",
        },
        FieldInfo {
            name: "cwd",
            kind: "string",
            required: false,
            description: "working directory",
        },
        FieldInfo {
            name: "env",
            kind: "map of strings",
            required: false,
            description: "extra environment variables; the safe way to hand values to `cmd` \
                          (write \"$NAME\" in it)",
        },
        FieldInfo {
            name: "max_output_bytes",
            kind: "number",
            required: false,
            description: "bytes of stdout (its first) and of stderr (its last) kept in the \
                          result, each; default 1048576; the rest is read and counted",
        },
    ];
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
            inputs: LOCAL,
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
pub(crate) fn declared_fields(name: &str) -> Option<Vec<InputField>> {
    let info = builtin_actions().iter().find(|a| a.name == name)?;
    Some(
        info.inputs
            .iter()
            .map(|f| match f.required {
                true => InputField::required(f.name),
                false => InputField::optional(f.name),
            })
            .collect(),
    )
}

/// Checks that `input` is a map with only the fields `info` declares and
/// every required one present.
pub(crate) fn check_fields(name: &str, input: &Value) -> Result<(), ActionError> {
    let info = builtin_actions().iter().find(|a| a.name == name);
    let Some(info) = info else { return Ok(()) };
    let map = match input {
        Value::Object(m) => m,
        Value::Null => &Map::new(),
        other => {
            return Err(ActionError::new(format!(
                "{name}: input must be a map, not {}",
                json_type_name(other)
            )))
        }
    };
    for key in map.keys() {
        if !info.inputs.iter().any(|f| f.name == key) {
            let known: Vec<&str> = info.inputs.iter().map(|f| f.name).collect();
            let known = if known.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("it takes: {}", known.join(", "))
            };
            return Err(ActionError::new(format!(
                "{name}: unknown input `{key}` ({known})"
            )));
        }
    }
    for f in info.inputs {
        if f.required && !map.contains_key(f.name) {
            return Err(ActionError::new(format!(
                "{name}: missing input `{}` ({}: {})",
                f.name, f.kind, f.description
            )));
        }
    }
    Ok(())
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
