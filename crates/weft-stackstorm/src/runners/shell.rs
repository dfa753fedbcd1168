//! `local-shell-cmd` and `local-shell-script`.
//!
//! A command runs as `sh -c CMD`, as StackStorm runs it. A script runs
//! directly (no shell): its arguments are StackStorm's — the action's
//! parameters without a `position` as `--name=value` (the runner's
//! `kwarg_op` before the name; `true` as `--name` alone; `false`, `null`
//! and `""` left out; any other value as Python's `str()` of it), then
//! those with a `position`, in order, each serialized by its type
//! (StackStorm's `serialize_positional_argument`). StackStorm builds a
//! shell line from the same words, each quoted; passing them as an
//! argument vector gives the script the same arguments.
//!
//! The result is `{stdout, stderr, return_code, succeeded, failed}`, with
//! one trailing newline (then one carriage return) stripped from stdout
//! and stderr, and each read as JSON when it is JSON, as StackStorm's
//! local runner does; a return code other than 0 fails the task.

use serde_json::{json, Value};
use weft_runtime::process::Command;
use weft_runtime::ActionResult;

use super::{failed, Call, Runner};
use crate::params::{ParamType, Parameter};
use crate::pyrepr;

pub(super) async fn run(call: Call<'_>) -> ActionResult {
    call.refuse_unsupported(&[])?;
    let timeout = call.timeout(60);
    let mut command = match call.action.meta.runner {
        Runner::LocalShellScript => {
            let script = call.entry_point()?.to_owned();
            make_executable(&script).map_err(|e| {
                call.error(format!(
                    "cannot make the script {} executable: {e}",
                    script.display()
                ))
            })?;
            let kwarg_op = call.str("kwarg_op").unwrap_or("--").to_owned();
            Command::new(&script).args(arguments(&call, &kwarg_op))
        }
        _ => {
            let Some(cmd) = call.str("cmd") else {
                return Err(
                    call.error("parameter `cmd` has no value: give the command line to run")
                );
            };
            Command::new("sh").arg("-c").arg(cmd)
        }
    };
    command = command.envs(call.env(&[])?);
    if let Some(cwd) = call.str("cwd") {
        command = command.current_dir(cwd);
    }
    let shown = command.display();
    let out = match tokio::time::timeout(timeout, command.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(call.error(format!("cannot run `{shown}`: {e}"))),
        Err(_) => {
            // The dropped future killed the process group.
            let secs = timeout.as_secs_f64();
            let result = json!({
                "failed": true,
                "succeeded": false,
                "return_code": -9,
                "stdout": "",
                "stderr": "",
                "error": format!("Action failed to complete in {} seconds", pyrepr::float(secs).trim_end_matches(".0")),
            });
            return Err(failed(
                call.message(format!(
                    "`{shown}` did not finish within its timeout of {} s and was killed",
                    pyrepr::float(secs).trim_end_matches(".0")
                )),
                result,
            ));
        }
    };
    // A signal reads as StackStorm reads it from Python: minus its number.
    let code = out.code.or(out.signal.map(|s| -s)).unwrap_or(-1);
    let succeeded = code == 0;
    let result = json!({
        "failed": !succeeded,
        "succeeded": succeeded,
        "return_code": code,
        "stdout": as_json(strip_shell_chars(&out.stdout)),
        "stderr": as_json(strip_shell_chars(&out.stderr)),
    });
    if succeeded {
        Ok(result)
    } else {
        Err(failed(
            call.message(format!("`{shown}` exited with code {code}")),
            result,
        ))
    }
}

/// StackStorm's `strip_shell_chars`: one trailing `\n`, then one `\r`.
pub(crate) fn strip_shell_chars(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

/// StackStorm's `json_loads` on an output stream: its JSON value when it
/// is JSON, else the text.
pub(crate) fn as_json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// The script's arguments: named ones, then positional ones.
fn arguments(call: &Call<'_>, kwarg_op: &str) -> Vec<String> {
    let mut named = Vec::new();
    let mut positional: Vec<(u64, String)> = Vec::new();
    for (p, v) in call.action_params() {
        match p.position {
            Some(at) => positional.push((at, positional_text(p, v))),
            None => {
                if let Some(word) = named_argument(kwarg_op, &p.name, v) {
                    named.push(word);
                }
            }
        }
    }
    // StackStorm keeps one parameter per position (the last declared).
    positional.sort_by_key(|(at, _)| *at);
    positional.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = std::mem::take(&mut later.1);
            true
        } else {
            false
        }
    });
    named.extend(positional.into_iter().map(|(_, v)| v));
    named
}

/// `--name=value`, `--name` for `true`; nothing for `false`, `null` and
/// `""`.
pub(crate) fn named_argument(kwarg_op: &str, name: &str, v: &Value) -> Option<String> {
    match v {
        Value::Null | Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Bool(true) => Some(format!("{kwarg_op}{name}")),
        other => Some(format!("{kwarg_op}{name}={}", pyrepr::str_of(other))),
    }
}

/// StackStorm's `serialize_positional_argument`.
pub(crate) fn positional_text(p: &Parameter, v: &Value) -> String {
    let truthy = match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    };
    match p.kind {
        Some(ParamType::String | ParamType::Number) => match v {
            Value::Null => String::new(),
            other => pyrepr::str_of(other),
        },
        Some(ParamType::Boolean) => match v {
            Value::Null => String::new(),
            _ if truthy => "1".to_owned(),
            _ => "0".to_owned(),
        },
        // Lists: their items' `str()`, joined with commas.
        Some(ParamType::Array) => match v {
            Value::Array(items) if truthy => items
                .iter()
                .map(pyrepr::str_of)
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        },
        Some(ParamType::Object) if truthy => serde_json::to_string(v).unwrap_or_default(),
        Some(ParamType::Object) | Some(ParamType::Null) => String::new(),
        // No type, or `integer`: `str()` of a true value, else "" (so 0 is
        // passed as an empty argument, as under StackStorm).
        _ if truthy => pyrepr::str_of(v),
        _ => String::new(),
    }
}

/// Sets the execute bits that go with the read bits, as StackStorm's
/// `chmod +x` does before it runs a script.
fn make_executable(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)?;
        let mode = meta.permissions().mode();
        let wanted = mode | ((mode & 0o444) >> 2);
        if wanted != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_stripped_as_stackstorm_strips_it() {
        assert_eq!(strip_shell_chars("a\n"), "a");
        assert_eq!(strip_shell_chars("a\r\n"), "a");
        assert_eq!(strip_shell_chars("a\n\n"), "a\n");
        assert_eq!(strip_shell_chars("a"), "a");
        assert_eq!(as_json("{\"k\": 1}"), json!({"k": 1}));
        assert_eq!(as_json("12"), json!(12));
        assert_eq!(as_json("hi there"), json!("hi there"));
    }

    #[test]
    fn named_arguments_follow_stackstorm() {
        assert_eq!(
            named_argument("--", "a", &json!("x y")),
            Some("--a=x y".into())
        );
        assert_eq!(named_argument("--", "a", &json!(true)), Some("--a".into()));
        assert_eq!(named_argument("-", "a", &json!(false)), None);
        assert_eq!(named_argument("--", "a", &json!("")), None);
        assert_eq!(named_argument("--", "a", &json!(null)), None);
        assert_eq!(
            named_argument("--", "a", &json!([1, "b"])),
            Some("--a=[1, 'b']".into())
        );
        assert_eq!(
            named_argument("--", "a", &json!(2.0)),
            Some("--a=2.0".into())
        );
    }
}
