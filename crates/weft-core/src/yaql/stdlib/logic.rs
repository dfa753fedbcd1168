//! Truth and branching: `bool`, `switch`, `coalesce`, `selectCase`…

use crate::yaql::builtin::{lazy, p, ArgVal, Args, Builtin, Form};
use crate::yaql::state::State;
use crate::yaql::value::{describe, Lambda};
use crate::yaql::value::{Iter, Val};
use crate::yaql::YErr;
use crate::yaql::R;

use Form::{Function, Method};

pub(super) const BUILTINS: &[Builtin] = &[
    Builtin::new("bool", Function, &[p("value")], 1, bool_),
    Builtin::new("isBoolean", Function, &[p("value")], 1, is_boolean),
    Builtin::new("switch", Function, &[], 0, switch).pairs(true),
    Builtin::new("coalesce", Function, &[], 0, coalesce).rest(lazy("args")),
    Builtin::new("selectCase", Function, &[], 0, select_case).rest(lazy("args")),
    Builtin::new("selectAllCases", Function, &[], 0, select_all_cases).rest(lazy("args")),
    Builtin::new("examine", Function, &[], 0, examine).rest(lazy("args")),
    Builtin::new("switchCase", Method, &[], 0, switch_case).rest(lazy("args")),
    Builtin::new("isRegex", Function, &[p("value")], 1, never),
    Builtin::new("isDatetime", Function, &[p("value")], 1, never),
    Builtin::new("isTimespan", Function, &[p("value")], 1, never),
];

fn bool_<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(a.val(0)?.truthy()))
}

fn is_boolean<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(matches!(a.val(0)?, Val::Bool(_))))
}

/// weft has no regular expression, date or time values: these tests are
/// always false.
fn never<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    a.val(0)?;
    Ok(Val::Bool(false))
}

/// `switch(condition => value, …)`: the value of the first true
/// condition, or null.
fn switch<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    for arg in &a.args {
        match arg {
            ArgVal::LazyPair(cond, value) => {
                if cond.call(st, &[])?.truthy() {
                    return value.call(st, &[]);
                }
            }
            ArgVal::Missing => {}
            _ => {
                return Err(YErr::eval(
                    "`switch` takes `condition => value` pairs: `switch($ > 0 => positive, true => other)`",
                ))
            }
        }
    }
    Ok(Val::Null)
}

fn lambdas<'a>(a: &Args<'a>) -> Vec<Lambda<'a>> {
    a.args
        .iter()
        .filter_map(|x| match x {
            ArgVal::Lambda(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

fn coalesce<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    for f in lambdas(&a) {
        let v = f.call(st, &[])?;
        if !matches!(v, Val::Null) {
            return Ok(v);
        }
    }
    Ok(Val::Null)
}

fn select_case<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    let fs = lambdas(&a);
    for (i, f) in fs.iter().enumerate() {
        if f.call(st, &[])?.truthy() {
            return Ok(Val::Int(i as i64));
        }
    }
    Ok(Val::Int(fs.len() as i64))
}

fn select_all_cases<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    let fs = lambdas(&a);
    let it = fs
        .into_iter()
        .enumerate()
        .filter_map(move |(i, f)| match f.call(st, &[]) {
            Ok(v) if v.truthy() => Some(Ok(Val::Int(i as i64))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        });
    Iter::wrap(Box::new(it), 0)
}

fn examine<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    let fs = lambdas(&a);
    let it = fs
        .into_iter()
        .map(move |f| f.call(st, &[]).map(|v| Val::Bool(v.truthy())));
    Iter::wrap(Box::new(it), 0)
}

/// `case.switchCase(a, b, …)`: the lambda at index `case`, or the last.
fn switch_case<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let case = a.recv()?;
    let Some(i) = case.as_int() else {
        return Err(YErr::eval(format!(
            "`switchCase` works on an integer, not on {}",
            describe(&case)
        )));
    };
    let fs = lambdas(&a);
    match usize::try_from(i)
        .ok()
        .and_then(|i| fs.get(i))
        .or(fs.last())
    {
        Some(f) => f.call(st, &[]),
        None => Ok(Val::Null),
    }
}
