//! Orquesta's functions: the workflow's context (`ctx`, `item`,
//! `result`, the task's status) and `json`, `zip`.
//!
//! They read the same [`WorkflowContext`](crate::WorkflowContext) as the
//! Jinja functions of the same names, and fail the same way where there
//! is nothing to read (`result()` outside a transition, `item()` outside
//! a `with` task).

use indexmap::IndexMap;
use serde_json::Value;

use crate::context::TaskStatus;
use crate::yaql::builtin::{p, Args, Builtin, Form};
use crate::yaql::eval::ctx_var;
use crate::yaql::state::State;
use crate::yaql::value::describe;
use crate::yaql::value::{self, from_json, map_get, Dict, HKey, KeyHasher, Str, Val};
use crate::yaql::YErr;
use crate::yaql::R;

use Form::Function;

pub(super) const BUILTINS: &[Builtin] = &[
    Builtin::new("ctx", Function, &[p("key")], 0, ctx),
    Builtin::new("item", Function, &[p("key")], 0, item),
    Builtin::new("result", Function, &[], 0, result),
    Builtin::new("succeeded", Function, &[], 0, succeeded),
    Builtin::new("failed", Function, &[], 0, failed),
    Builtin::new("completed", Function, &[], 0, completed),
    Builtin::new("timed_out", Function, &[], 0, timed_out),
    Builtin::new("task_status", Function, &[p("task_id")], 1, task_status),
    Builtin::new("json", Function, &[p("s")], 1, json),
    Builtin::new("zip", Function, &[p("*pad")], 0, zip).rest(p("args")),
];

/// `ctx()`: every input and variable, as a dict (keys sorted); or
/// `ctx(name)`: one of them.
fn ctx<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let key = a.opt(0).unwrap_or(Val::Null);
    if key.truthy() {
        let Val::Str(name) = &key else {
            return Err(YErr::eval(format!(
                "`ctx` takes the name of an input or variable, not {}",
                describe(&key)
            )));
        };
        let name = name.as_str();
        if name.starts_with("__") {
            return Err(YErr::eval(format!(
                "`{name}` cannot be read from the context"
            )));
        }
        return ctx_var(st, name);
    }
    let shared = &st.ctx.shared;
    let mut pairs: Vec<(String, Val<'a>)> = Vec::new();
    if let Value::Object(m) = &*shared.parameters {
        for (k, v) in m {
            pairs.push((k.clone(), from_json(v)));
        }
    }
    for (key, value) in st.ctx.vars.iter() {
        let v = from_json(st.pin(value.clone()));
        let k = key.to_string();
        match pairs.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) => slot.1 = v,
            None => pairs.push((k, v)),
        }
    }
    pairs.retain(|(k, _)| !k.starts_with("__"));
    pairs.sort_by(|x, y| x.0.cmp(&y.0));
    st.spend(pairs.len() as u64 / 8)?;
    Dict::from_pairs(pairs.into_iter().map(|(k, v)| (Val::str(k), v)), false)
}

fn no_task(name: &str) -> Box<YErr> {
    YErr::eval(format!(
        "{name}() is only available where a task has completed (`next`, `publish`, `retry.when`)"
    ))
}

fn item<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let current = st
        .ctx
        .current_item
        .as_ref()
        .ok_or_else(|| YErr::eval("item() is only available in a task with `with` items"))?;
    let item = from_json(current);
    let key = a.opt(0).unwrap_or(Val::Null);
    if !key.truthy() {
        return Ok(item);
    }
    if !item.is_mapping() {
        return Err(YErr::eval(format!(
            "item({}): the current item is {}, not a dict",
            describe(&key),
            describe(&item)
        )));
    }
    map_get(&item, &key)?.ok_or_else(|| {
        YErr::eval(format!(
            "item({}): the current item has no such key",
            describe(&key)
        ))
    })
}

fn result<'a>(st: &'a State<'a>, _: Args<'a>) -> R<Val<'a>> {
    let task = st
        .ctx
        .current_task
        .as_ref()
        .ok_or_else(|| no_task("result"))?;
    Ok(from_json(&task.result))
}

fn status<'a>(st: &'a State<'a>, name: &str, test: fn(TaskStatus) -> bool) -> R<Val<'a>> {
    let task = st.ctx.current_task.as_ref().ok_or_else(|| no_task(name))?;
    Ok(Val::Bool(test(task.status)))
}

fn succeeded<'a>(st: &'a State<'a>, _: Args<'a>) -> R<Val<'a>> {
    status(st, "succeeded", TaskStatus::is_succeeded)
}

fn failed<'a>(st: &'a State<'a>, _: Args<'a>) -> R<Val<'a>> {
    status(st, "failed", TaskStatus::is_failure)
}

fn completed<'a>(st: &'a State<'a>, _: Args<'a>) -> R<Val<'a>> {
    status(st, "completed", TaskStatus::is_terminal)
}

fn timed_out<'a>(st: &'a State<'a>, _: Args<'a>) -> R<Val<'a>> {
    status(st, "timed_out", |s| s == TaskStatus::TimedOut)
}

fn task_status<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let name = a.val(0)?;
    let Val::Str(name) = &name else {
        return Err(YErr::eval(format!(
            "`task_status` takes a task's name, not {}",
            describe(&name)
        )));
    };
    Ok(match st.ctx.task_status(name.as_str()) {
        Some(s) => Val::Str(Str::Ref(s.as_str())),
        None => Val::Null,
    })
}

/// Bytes of text one fuel pays for in `json()`, as on the Jinja side.
const JSON_BYTES_PER_FUEL: u64 = 4;

/// Orquesta's `json(s)`: a string parsed as JSON (lists and dicts as
/// Python's, not yaql's tuples and frozen dicts); a plain dict as it is.
fn json<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.val(0)?;
    match &v {
        Val::Dict(d) if !d.frozen => Ok(v),
        Val::Str(s) => {
            let text = s.as_str();
            if text.len() > st.max_bytes {
                return Err(YErr::too_large(st.max_bytes));
            }
            st.spend(text.len() as u64 / JSON_BYTES_PER_FUEL + 1)?;
            let parsed: Value = serde_json::from_str(text)
                .map_err(|e| YErr::eval(format!("`json`: not valid JSON: {e}")))?;
            owned(parsed)
        }
        other => Err(YErr::eval(format!(
            "`json` takes a string of JSON text, not {}",
            describe(other)
        ))),
    }
}

/// A parsed JSON value as Python's `json.loads` gives it.
fn owned<'a>(v: Value) -> R<Val<'a>> {
    Ok(match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i),
            None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Val::str(s),
        Value::Array(items) => value::list(items.into_iter().map(owned).collect::<R<Vec<_>>>()?)?,
        Value::Object(m) => {
            let mut map = IndexMap::with_hasher(KeyHasher);
            for (k, v) in m {
                map.insert(HKey::new(Val::str(k))?, owned(v)?);
            }
            Val::Dict(Dict::new(map, false)?)
        }
    })
}

/// Orquesta's `zip(a, b, …, pad => x)`: a list of tuples, as long as the
/// longest, padded with `pad`; one argument is returned as it is.
fn zip<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let pad = a.opt(0).unwrap_or(Val::Null);
    let args = a.rest(1);
    if args.len() == 1 {
        return Ok(args.into_iter().next().unwrap_or(Val::Null));
    }
    let mut columns = Vec::with_capacity(args.len());
    for v in &args {
        columns.push(match v {
            Val::Null => Vec::new(),
            Val::Str(s) => s
                .as_str()
                .chars()
                .map(|c| Val::str(c.to_string()))
                .collect(),
            m if m.is_mapping() => value::map_pairs(m).map(|(k, _)| k).collect(),
            c if c.is_iterable() => st.collect(c)?,
            other => {
                return Err(YErr::eval(format!(
                    "`zip` takes lists, not {}",
                    describe(other)
                )))
            }
        });
    }
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    st.spend((rows * columns.len()) as u64 / 8)?;
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let row = columns
            .iter()
            .map(|c| c.get(i).cloned().unwrap_or_else(|| pad.clone()))
            .collect();
        out.push(value::tuple(row)?);
    }
    value::list(out)
}
