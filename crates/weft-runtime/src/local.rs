//! The built-in `core.local` action: runs a command.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use weft_core::json_type_name;

use crate::action::{Action, ActionError, ActionInput, ActionResult};
use crate::builtins::check_fields;

pub(crate) struct Local;

impl Action for Local {
    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let prepared = check_fields("core.local", &input.input).and_then(|()| {
            let cmd = input
                .require_str("cmd")
                .map_err(|e| ActionError::new(format!("core.local: {e}")))?
                .to_owned();
            let cwd = match input.get("cwd") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(ActionError::new(format!(
                        "core.local: input `cwd` must be a string, not {}",
                        json_type_name(other)
                    )))
                }
            };
            let mut env = Vec::new();
            match input.get("env") {
                None | Some(Value::Null) => {}
                Some(Value::Object(m)) => {
                    for (k, v) in m {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            Value::Number(_) | Value::Bool(_) => v.to_string(),
                            other => {
                                return Err(ActionError::new(format!(
                                    "core.local: `env.{k}` must be a string, not {}",
                                    json_type_name(other)
                                )))
                            }
                        };
                        env.push((k.clone(), v));
                    }
                }
                Some(other) => {
                    return Err(ActionError::new(format!(
                        "core.local: input `env` must be a map of strings, not {}",
                        json_type_name(other)
                    )))
                }
            }
            Ok((cmd, cwd, env))
        });
        async move {
            let (cmd, cwd, env) = prepared?;
            let mut command = tokio::process::Command::new("sh");
            command.arg("-c").arg(&cmd).kill_on_drop(true);
            // A process group of its own: a Ctrl-C meant for the program that
            // embeds weft (which cancels the run gracefully) must not kill the
            // commands that are still allowed to finish.
            #[cfg(unix)]
            command.process_group(0);
            command.stdin(std::process::Stdio::null());
            if let Some(cwd) = &cwd {
                command.current_dir(cwd);
            }
            command.envs(env);
            let out = command
                .output()
                .await
                .map_err(|e| ActionError::new(format!("core.local: cannot run `{cmd}`: {e}")))?;
            let code = out.status.code();
            let result = json!({
                "stdout": String::from_utf8_lossy(&out.stdout),
                "stderr": String::from_utf8_lossy(&out.stderr),
                "return_code": code,
                "succeeded": out.status.success(),
            });
            if out.status.success() {
                Ok(result)
            } else {
                let why = match code {
                    Some(c) => format!("exited with code {c}"),
                    None => "was killed by a signal".to_owned(),
                };
                Err(ActionError::with_result(
                    format!("core.local: `{cmd}` {why}"),
                    result,
                ))
            }
        }
        .boxed()
    }
}
