//! Functions that read the run: `task()` and `st2kv()`.

use std::time::SystemTime;

use serde_json::{Map, Value};
use weft_core::functions::{Args, Call, FunctionError};
use weft_core::{TaskRun, TaskStatus};

/// `task(task_id=None, route=None)`: the record of a task that has run,
/// as StackStorm's `task()` gives it, with what weft knows of it:
///
/// * `task_id` and `task_name`: the task's name;
/// * `workflow_execution_id`: the run's id; `task_execution_id`: the run's
///   id and the instance's number (`RUN/3`: weft has no separate record
///   per task execution);
/// * `route`: the route the instance ran in (Orquesta's splits);
/// * `result`: its latest result (what `task.NAME` reads);
/// * `status`: its status (`succeeded`, `failed`, `timed_out`, `canceled`);
/// * `start_timestamp` and `end_timestamp`: when it started and ended, as
///   StackStorm prints them (`2026-03-01 09:30:12.345678+00:00`; `None`
///   for one that ran no action).
///
/// The run records statuses and times for a workflow that calls `task()`.
/// With no name, the task whose transitions are being evaluated. The
/// instance is the latest of the task in `route` (by default the route
/// the expression is evaluated in) or in the routes that route continues,
/// as StackStorm looks it up; none is StackStorm's error.
pub(super) fn task(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [task_id, route] = args.bind(["task_id", "route"], 0)?;
    let route = match route {
        None | Some(Value::Null) => None,
        Some(r) => match r.as_u64().and_then(|r| u32::try_from(r).ok()) {
            Some(r) => Some(r),
            None => {
                return Err(FunctionError::new(format!(
                    "the route must be a route number (0, 1, ...), not {}",
                    super::python_type(r)
                )))
            }
        },
    };
    let ctx = call
        .context()
        .ok_or("task() reads the run's tasks and needs a workflow context")?;
    let current = ctx.current_task();
    let name: &str = match task_id {
        None | Some(Value::Null) => match current {
            Some(t) => &t.name,
            None => {
                return Err(FunctionError::new(
                    "with no name, task() is the task whose transitions are evaluated: name a task here, as task('name')",
                ))
            }
        },
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(FunctionError::new(format!(
                "the task name must be a string, not {}",
                super::python_type(other)
            )))
        }
    };
    let not_found = || FunctionError::new(format!("Unable to find task execution for \"{name}\"."));
    // As StackStorm: in the given route, else the current one, else the
    // routes it continues.
    let route = route.unwrap_or_else(|| ctx.current_route());
    let recorded = ctx.task_run(name, route);
    let instance = recorded.as_ref().map(|r| r.instance);
    let run = match recorded {
        Some(run) => run,
        None => {
            // A run that did not record instances (not weft's scheduler):
            // the current task, or the latest result by name.
            let current = current.filter(|t| &*t.name == name);
            let (result, status) = match (current, ctx.get_task_result(name)) {
                (Some(t), _) => (t.result.clone(), t.status),
                (None, Some(r)) => match ctx.task_status(name) {
                    Some(s) => (r, s),
                    None => return Err(not_found()),
                },
                (None, None) => return Err(not_found()),
            };
            TaskRun::new(0, route, None, None, status, result)
        }
    };
    let run_id = ctx.get_system("run_id");
    let mut record = Map::new();
    if let (Some(id), Some(instance)) = (run_id.as_deref().and_then(Value::as_str), instance) {
        record.insert(
            "task_execution_id".into(),
            Value::from(format!("{id}/{instance}")),
        );
    }
    if let Some(run) = &run_id {
        record.insert("workflow_execution_id".into(), (**run).clone());
    }
    record.insert("task_name".into(), Value::from(name));
    record.insert("task_id".into(), Value::from(name));
    record.insert("route".into(), Value::from(run.route));
    call.charge_bytes(super::json_size_within(&run.result, usize::MAX).unwrap_or(0))?;
    let result = match (&*run.result, run.itemized) {
        // StackStorm's record of a `with` task: each item's status and
        // result. weft keeps the items' statuses only as the task's: all
        // succeeded when it did, else not known (null).
        (Value::Array(items), true) => {
            let status = match run.status {
                TaskStatus::Succeeded => Value::from("succeeded"),
                _ => Value::Null,
            };
            let items = items
                .iter()
                .map(|r| serde_json::json!({"status": status, "result": r}))
                .collect();
            serde_json::json!({ "items": Value::Array(items) })
        }
        (r, _) => r.clone(),
    };
    record.insert("result".into(), result);
    record.insert("status".into(), Value::from(run.status.as_str()));
    let time = |t: Option<SystemTime>| Value::from(t.map_or("None".to_owned(), python_utc));
    record.insert("start_timestamp".into(), time(run.started));
    record.insert("end_timestamp".into(), time(run.ended));
    Ok(Value::Object(record))
}

/// A UTC time as Python's `str()` prints an aware `datetime`:
/// `2026-03-01 09:30:12.345678+00:00` (no fraction when it is zero).
fn python_utc(t: SystemTime) -> String {
    // From `2026-03-01T09:30:12.345678Z`.
    let text = weft_runtime::Rfc3339(t).to_string();
    let text = text.trim_end_matches('Z');
    let text = text.strip_suffix(".000000").unwrap_or(text);
    format!("{}+00:00", text.replacen('T', " ", 1))
}

/// `st2kv(key, decrypt=False, default=...)`: StackStorm's datastore (see
/// [`crate::load_datastore`]). `system.NAME` is a key of the `system`
/// scope; any other key is one of the run's user's own (`ctx().st2.user`),
/// as in StackStorm. A key that is not set is the `default` when one is
/// given, else an error naming it, with StackStorm's message. weft keeps
/// values in plain text: a secret key is read with `decrypt=true`, and
/// refused without it (StackStorm would give its encrypted text).
pub(super) fn st2kv(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let key = match args.get(0).or_else(|| args.keyword("key")) {
        Some(Value::String(k)) => k.as_str(),
        Some(_) => return Err("Given key is not typeof string.".into()),
        None => return Err("missing required argument 'key'".into()),
    };
    for (name, _) in args.keywords() {
        if !matches!(name, "key" | "decrypt" | "default") {
            return Err(FunctionError::new(format!(
                "got an unexpected keyword argument '{name}' (it takes key, decrypt, default)"
            )));
        }
    }
    let decrypt = match args.keyword("decrypt") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("Decrypt parameter is not typeof bool.".into()),
    };
    let (scope, name) = match key.strip_prefix("system.") {
        Some(name) => ("system", name.to_owned()),
        None => {
            let user = call
                .context()
                .and_then(|c| c.get_var("st2"))
                .and_then(|st2| st2.get("user").and_then(Value::as_str).map(str::to_owned))
                .ok_or("Could not get user from context: a user's key (one not named `system.…`) needs `ctx().st2.user`; name a system key as `system.NAME`")?;
            ("user", format!("{user}:{key}"))
        }
    };
    let found = super::super::datastore::get(scope, &name).map_err(|()| {
        FunctionError::new(format!(
            "no datastore is loaded to read `{key}` from: run with `--db`, or load one with weft_stackstorm::load_datastore"
        ))
    });
    match (found, args.keyword("default")) {
        (Ok(Some(e)), _) if e.secret && !decrypt => Err(FunctionError::new(format!(
            "the key \"{name}\" is secret: read it with decrypt=true"
        ))),
        (Ok(Some(e)), _) => Ok(Value::String(e.value)),
        (_, Some(default)) => Ok(default.clone()),
        (Ok(None), None) => Err(FunctionError::new(format!(
            "The key \"{name}\" does not exist in the StackStorm datastore."
        ))),
        (Err(e), None) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_print_as_python_prints_an_aware_datetime() {
        let t = UNIX_EPOCH + Duration::from_micros(1_772_357_412_345_678);
        assert_eq!(python_utc(t), "2026-03-01 09:30:12.345678+00:00");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(python_utc(t), "2000-02-29 00:00:00+00:00");
    }
}
