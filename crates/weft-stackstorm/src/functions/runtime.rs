//! Functions that read the run: `task()` and `st2kv()`.

use serde_json::{Map, Value};
use weft_core::functions::{Args, Call, FunctionError};

/// `task(task_id=None, route=None)`: the record of a task that has run,
/// as StackStorm's `task()` gives it, with what weft knows of it:
///
/// * `task_id` and `task_name`: the task's name;
/// * `result`: its latest result (what `task.NAME` reads);
/// * `status`: its status (`succeeded`, `failed`, `timed_out`,
///   `canceled`), when the run records statuses (it does for a workflow
///   that calls `task()`);
/// * `workflow_execution_id`: the run's id.
///
/// StackStorm's `task_execution_id`, `route`, `start_timestamp` and
/// `end_timestamp` are left out: weft's context does not hold them. With
/// no name, the task whose transitions are being evaluated. A `route`
/// other than none is refused: the context keeps one record per name.
pub(super) fn task(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [task_id, route] = args.bind(["task_id", "route"], 0)?;
    if route.is_some_and(|r| !r.is_null()) {
        return Err(FunctionError::new(
            "`route` is not supported yet: weft keeps the latest record of each task by name; leave `route` out to read it",
        ));
    }
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
    let this_one = current.filter(|t| &*t.name == name);
    let result = match (ctx.get_task_result(name), this_one) {
        (Some(r), _) => r,
        (None, Some(t)) => t.result.clone(),
        (None, None) => {
            return Err(FunctionError::new(format!(
                "Unable to find task execution for \"{name}\"."
            )))
        }
    };
    let status = this_one.map(|t| t.status).or_else(|| ctx.task_status(name));
    let mut record = Map::new();
    record.insert("task_id".into(), Value::from(name));
    record.insert("task_name".into(), Value::from(name));
    if let Some(run) = ctx.get_system("run_id") {
        record.insert("workflow_execution_id".into(), (*run).clone());
    }
    call.charge_bytes(super::json_size_within(&result, usize::MAX).unwrap_or(0))?;
    record.insert("result".into(), (*result).clone());
    if let Some(s) = status {
        record.insert("status".into(), Value::from(s.as_str()));
    }
    Ok(Value::Object(record))
}

/// `st2kv(key, decrypt=False, default=...)`: StackStorm's datastore,
/// which weft does not have yet. Known, so that a workflow that uses it
/// compiles; a call is an error that says so.
pub(super) fn st2kv(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let key = match args.get(0).or_else(|| args.keyword("key")) {
        Some(Value::String(k)) => format!(" (`{k}`)"),
        _ => String::new(),
    };
    Err(FunctionError::new(format!(
        "the StackStorm datastore{key} is not available yet: weft has no key-value store; pass the value as an input, or put it in the pack's config"
    )))
}
