//! Building and reading collections: `list`, `dict`, `keys`, `get`,
//! `set`, `delete`, `flatten`, `toSet`…

use std::rc::Rc;

use indexmap::IndexMap;

use super::queries::{bound, collection, int_arg};
use crate::yaql::builtin::{adapt, lazy, p, ArgVal, Args, Builtin, Form};
use crate::yaql::eval::contains;
use crate::yaql::state::State;
use crate::yaql::value::describe;
use crate::yaql::value::{
    self, map_get, map_pairs, py_eq, Dict, HKey, Iter, KeyHasher, SetVal, Val, View, ViewKind,
};
use crate::yaql::YErr;
use crate::yaql::R;

use Form::{Function, Method};

pub(super) const BUILTINS: &[Builtin] = &[
    Builtin::new("list", Function, &[], 0, list).rest(p("args")),
    Builtin::new("toList", Method, &[], 0, to_list),
    Builtin::new("flatten", Method, &[], 0, flatten),
    Builtin::new("dict", Function, &[p("items")], 0, dict).pairs(false),
    Builtin::new(
        "toDict",
        Method,
        &[lazy("keySelector"), lazy("valueSelector")],
        1,
        to_dict,
    ),
    Builtin::new("get", Method, &[p("key"), p("default")], 1, get),
    Builtin::new(
        "set",
        Method,
        &[p("key|replacements"), p("value")],
        0,
        set_keys,
    )
    .pairs(false),
    Builtin::new("set", Function, &[], 0, set).rest(p("args")),
    Builtin::new("keys", Method, &[], 0, keys),
    Builtin::new("values", Method, &[], 0, values),
    Builtin::new("items", Method, &[], 0, items),
    Builtin::new("containsKey", Method, &[p("key")], 1, contains_key),
    Builtin::new("containsValue", Method, &[p("value")], 1, contains_value),
    Builtin::new("contains", Method, &[p("value")], 1, contains_item),
    Builtin::new("delete", Method, &[p("position"), p("count")], 0, delete).rest(p("keys")),
    Builtin::new("deleteAll", Method, &[p("keys")], 1, delete_all),
    Builtin::new("insert", Method, &[p("position"), p("value")], 2, insert),
    Builtin::new(
        "insertMany",
        Method,
        &[p("position"), p("values")],
        2,
        insert_many,
    ),
    Builtin::new(
        "replaceMany",
        Method,
        &[p("position"), p("values"), p("count")],
        2,
        replace_many,
    ),
    Builtin::new("isList", Function, &[p("arg")], 1, is_list),
    Builtin::new("isDict", Function, &[p("arg")], 1, is_dict),
    Builtin::new("isSet", Function, &[p("arg")], 1, is_set),
    Builtin::new("toSet", Method, &[], 0, to_set),
    Builtin::new("union", Method, &[p("right")], 1, union),
    Builtin::new("intersect", Method, &[p("right")], 1, intersect),
    Builtin::new("difference", Method, &[p("right")], 1, difference),
    Builtin::new(
        "symmetricDifference",
        Method,
        &[p("right")],
        1,
        symmetric_difference,
    ),
    Builtin::new("add", Method, &[], 0, set_add).rest(p("values")),
    Builtin::new("remove", Method, &[], 0, set_remove).rest(p("values")),
];

/// The receiver, which must be a dict.
fn mapping<'a>(a: &mut Args<'a>) -> R<Val<'a>> {
    let v = a.recv()?;
    if v.is_mapping() {
        Ok(v)
    } else {
        Err(YErr::eval(format!(
            "`{}` works on a dict, not on {}",
            a.name,
            describe(&v)
        )))
    }
}

/// The rest arguments of `list(…)` and `set(…)`, with the items of the
/// iterators among them in their place.
fn spread<'a>(st: &'a State<'a>, a: &mut Args<'a>) -> R<Vec<Val<'a>>> {
    let mut out = Vec::new();
    for v in a.rest(0) {
        if let Val::Iter(_) = v {
            for item in st.iter(&v)? {
                out.push(item?);
            }
        } else {
            out.push(v);
        }
    }
    Ok(out)
}

/// yaql's `list(…)`: its arguments, with iterators among them spread.
fn list<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let out = spread(st, &mut a)?;
    st.spend(out.len() as u64 / 8)?;
    value::tuple(out)
}

fn to_list<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = collection(&mut a)?;
    match &v {
        Val::Json(serde_json::Value::Array(_)) => Ok(v),
        Val::Seq(s) if s.kind == value::SeqKind::Tuple => Ok(v),
        _ => value::tuple(st.collect(&v)?),
    }
}

fn flatten<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let depth = src.depth();
    // An explicit stack: data may nest deeply.
    let mut stack = vec![st.iter(&src)?];
    let it = std::iter::from_fn(move || loop {
        let top = stack.last_mut()?;
        match top.next() {
            None => {
                stack.pop();
            }
            Some(Err(e)) => return Some(Err(e)),
            Some(Ok(v)) if v.is_iterable() => match st.iter(&v) {
                Ok(i) => stack.push(i),
                Err(e) => return Some(Err(e)),
            },
            Some(Ok(v)) => return Some(Ok(v)),
        }
    });
    Iter::wrap(Box::new(it), depth)
}

/// `dict(k => v, …)`, or `dict(items)` of pairs.
fn dict<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    let mut pairs = Vec::new();
    let mut items = None;
    for arg in a.args {
        match arg {
            ArgVal::Pair(k, v) => pairs.push((k, v)),
            ArgVal::Val(v) if items.is_none() && pairs.is_empty() => items = Some(v),
            ArgVal::Missing => {}
            _ => {
                return Err(YErr::eval(
                    "`dict` takes `key => value` pairs, or one list of pairs: `dict(a => 1)`, `dict([[a, 1]])`",
                ))
            }
        }
    }
    if let Some(items) = items {
        if !pairs.is_empty() {
            return Err(YErr::eval(
                "`dict` takes pairs or a list of pairs, not both",
            ));
        }
        if !items.is_iterable() {
            return Err(YErr::eval(format!(
                "`dict` takes a list of pairs, not {}",
                describe(&items)
            )));
        }
        for item in st.iter(&items)? {
            let item = item?;
            let mut two = match &item {
                Val::Str(s) => s
                    .as_str()
                    .chars()
                    .take(2)
                    .map(|c| Val::str(c.to_string()))
                    .collect(),
                m if m.is_mapping() => map_pairs(m).take(2).map(|(k, _)| k).collect(),
                v if v.is_iterable() => {
                    let mut two = Vec::with_capacity(2);
                    for x in st.iter(v)?.take(2) {
                        two.push(x?);
                    }
                    two
                }
                other => {
                    return Err(YErr::eval(format!(
                        "`dict`: each item is a pair `[key, value]`, not {}",
                        describe(other)
                    )))
                }
            };
            if two.len() < 2 {
                return Err(YErr::eval("`dict`: each item is a pair `[key, value]`"));
            }
            let v = two.pop().unwrap_or(Val::Null);
            let k = two.pop().unwrap_or(Val::Null);
            pairs.push((k, v));
        }
    }
    st.spend(pairs.len() as u64 / 8)?;
    Dict::from_pairs(pairs, true)
}

fn to_dict<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let key = a
        .lambda(0)
        .ok_or_else(|| YErr::eval("`toDict` needs a key selector"))?;
    let value = a.lambda(1);
    let mut pairs = Vec::new();
    for item in st.iter(&src)? {
        let item = item?;
        let k = key.call1(st, item.clone())?;
        let v = match &value {
            Some(f) => f.call1(st, item)?,
            None => item,
        };
        pairs.push((k, v));
    }
    Dict::from_pairs(pairs, false)
}

fn get<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let m = mapping(&mut a)?;
    let key = a.val(0)?;
    let default = a.opt(1).unwrap_or(Val::Null);
    Ok(map_get(&m, &key)?.unwrap_or(default))
}

/// `dict.set(key, value)`, `dict.set(replacements)`, `dict.set(k => v, …)`.
fn set_keys<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let m = mapping(&mut a)?;
    let mut pairs: Vec<(Val<'a>, Val<'a>)> = map_pairs(&m).collect();
    let mut values = Vec::new();
    for arg in std::mem::take(&mut a.args) {
        match arg {
            ArgVal::Pair(k, v) => pairs.push((k, v)),
            ArgVal::Val(v) => values.push(v),
            _ => {}
        }
    }
    match values.len() {
        0 => {}
        1 if values[0].is_mapping() => pairs.extend(map_pairs(&values[0])),
        2 => {
            let v = values.pop().unwrap_or(Val::Null);
            let k = values.pop().unwrap_or(Val::Null);
            pairs.push((k, v));
        }
        _ => {
            return Err(YErr::eval(
                "`set` takes a key and a value, a dict of replacements, or `key => value` pairs",
            ))
        }
    }
    Dict::from_pairs(pairs, true)
}

/// `set(…)`: a set of the arguments, with iterators among them spread.
fn set<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let out = spread(st, &mut a)?;
    SetVal::from_items(out)
}

fn view<'a>(mut a: Args<'a>, kind: ViewKind) -> R<Val<'a>> {
    let dict = mapping(&mut a)?;
    value::check_depth(dict.depth() + 1)?;
    Ok(Val::View(Rc::new(View { kind, dict })))
}

fn keys<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    view(a, ViewKind::Keys)
}

fn values<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    view(a, ViewKind::Values)
}

fn items<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    view(a, ViewKind::Items)
}

fn contains_key<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let m = mapping(&mut a)?;
    let key = a.val(0)?;
    Ok(Val::Bool(map_get(&m, &key)?.is_some()))
}

fn contains_value<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let m = mapping(&mut a)?;
    let v = a.val(0)?;
    let found = map_pairs(&m).any(|(_, x)| py_eq(&x, &v));
    Ok(Val::Bool(found))
}

fn contains_item<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let c = collection(&mut a)?;
    let v = a.val(0)?;
    contains(st, &c, &v).map(Val::Bool)
}

/// `collection.delete(position, count => 1)`, or `dict.delete(keys…)`.
fn delete<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.recv()?;
    if v.is_mapping() {
        let keys = a.rest(0);
        return without(&v, &keys);
    }
    a.recv = Some(v);
    let src = collection(&mut a)?;
    let position = int_arg(&mut a, 0, "the position")?
        .ok_or_else(|| YErr::eval("`delete` needs the position to delete from"))?;
    let count = int_arg(&mut a, 1, "the count")?.unwrap_or(1);
    adapt(st, &src, move |it| {
        Box::new(it.enumerate().filter_map(move |(i, x)| {
            let i = i as i64;
            let gone = if count >= 0 {
                position <= i && i < position.saturating_add(count)
            } else {
                i >= position
            };
            (!gone).then_some(x)
        }))
    })
}

/// A copy of a dict without `keys`: a plain dict, as Python's `dict(d)`.
fn without<'a>(m: &Val<'a>, keys: &[Val<'a>]) -> R<Val<'a>> {
    let mut map: IndexMap<HKey<'a>, Val<'a>, KeyHasher> = IndexMap::with_hasher(KeyHasher);
    for (k, v) in map_pairs(m) {
        map.insert(HKey::new(k)?, v);
    }
    for k in keys {
        map.shift_remove(&HKey::new(k.clone())?);
    }
    Ok(Val::Dict(Dict::new(map, false)?))
}

fn delete_all<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let m = mapping(&mut a)?;
    let keys = a.val(0)?;
    if !keys.is_iterable() {
        return Err(YErr::eval(format!(
            "`deleteAll` takes a collection of keys, not {}",
            describe(&keys)
        )));
    }
    let keys = st.collect(&keys)?;
    without(&m, &keys)
}

fn insert<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    if src.is_set() {
        return Err(YErr::eval("`insert` does not apply to a set: use `add`"));
    }
    let position = int_arg(&mut a, 0, "the position")?.unwrap_or(0);
    let v = a.opt(1).unwrap_or(Val::Null);
    if src.is_sequence() {
        // Python's `list.insert`: a list, the position clamped.
        let mut items = st.collect(&src)?;
        let at = bound(position, items.len());
        items.insert(at, v);
        return value::list(items);
    }
    let mut pending = Some(v);
    let mut i = 0i64;
    let mut source = st.iter(&src)?;
    let it = std::iter::from_fn(move || {
        if i == position {
            if let Some(v) = pending.take() {
                return Some(Ok(v));
            }
        }
        match source.next() {
            Some(x) => {
                i += 1;
                Some(x)
            }
            None => pending.take().filter(|_| position > i - 1).map(Ok),
        }
    });
    Iter::wrap(Box::new(it), src.depth())
}

fn insert_many<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let position = int_arg(&mut a, 0, "the position")?.unwrap_or(0);
    let values = a.val(1)?;
    let mut values = st.collect(&values)?;
    let mut items = st.collect(&src)?;
    let at = if position < 0 {
        0
    } else {
        (position as usize).min(items.len())
    };
    let tail = items.split_off(at);
    items.append(&mut values);
    items.extend(tail);
    Iter::wrap(Box::new(items.into_iter().map(Ok)), src.depth())
}

/// `collection.replace(position, value, count => 1)`.
pub(super) fn replace_items<'a>(st: &'a State<'a>, mut a: Args<'a>, many: bool) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let position = int_arg(&mut a, 0, "the position")?.unwrap_or(0);
    let v = a.opt(1).unwrap_or(Val::Null);
    let count = int_arg(&mut a, 2, "the count")?.unwrap_or(1);
    let replacement = if many { st.collect(&v)? } else { vec![v] };
    let mut out = Vec::new();
    let mut done = false;
    for (i, x) in st.iter(&src)?.enumerate() {
        let x = x?;
        let i = i as i64;
        let hit = if count >= 0 {
            position <= i && i < position.saturating_add(count)
        } else {
            i >= position
        };
        if hit {
            if !done {
                done = true;
                out.extend(replacement.iter().cloned());
            }
        } else {
            out.push(x);
        }
    }
    Iter::wrap(Box::new(out.into_iter().map(Ok)), src.depth())
}

fn replace_many<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    replace_items(st, a, true)
}

fn is_list<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(a.val(0)?.is_sequence()))
}

fn is_dict<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(a.val(0)?.is_mapping()))
}

fn is_set<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(a.val(0)?.is_set()))
}

fn to_set<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    SetVal::from_items(st.collect(&src)?)
}

/// The receiver (a set) and the argument (a set or a set view).
fn two_sets<'a>(st: &'a State<'a>, a: &mut Args<'a>) -> R<(Vec<Val<'a>>, Vec<Val<'a>>)> {
    let left = a.recv()?;
    let right = a.val(0)?;
    if !matches!(left, Val::Set(_)) || !right.is_set() {
        return Err(YErr::eval(format!(
            "`{}` works on two sets (`toSet()`), not on {} and {}",
            a.name,
            describe(&left),
            describe(&right)
        )));
    }
    Ok((st.collect(&left)?, st.collect(&right)?))
}

fn has<'a>(items: &[Val<'a>], v: &Val<'a>) -> bool {
    items.iter().any(|x| py_eq(x, v))
}

fn union<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (mut l, r) = two_sets(st, &mut a)?;
    l.extend(r);
    SetVal::from_items(l)
}

fn intersect<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (l, r) = two_sets(st, &mut a)?;
    SetVal::from_items(l.into_iter().filter(|x| has(&r, x)))
}

fn difference<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (l, r) = two_sets(st, &mut a)?;
    SetVal::from_items(l.into_iter().filter(|x| !has(&r, x)))
}

fn symmetric_difference<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (l, r) = two_sets(st, &mut a)?;
    let only_l: Vec<_> = l.iter().filter(|x| !has(&r, x)).cloned().collect();
    let only_r: Vec<_> = r.iter().filter(|x| !has(&l, x)).cloned().collect();
    SetVal::from_items(only_l.into_iter().chain(only_r))
}

fn the_set<'a>(st: &'a State<'a>, a: &mut Args<'a>) -> R<Vec<Val<'a>>> {
    let s = a.recv()?;
    if !matches!(s, Val::Set(_)) {
        return Err(YErr::eval(format!(
            "`{}` works on a set (`toSet()`), not on {}",
            a.name,
            describe(&s)
        )));
    }
    st.collect(&s)
}

fn set_add<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let mut items = the_set(st, &mut a)?;
    items.extend(a.rest(0));
    SetVal::from_items(items)
}

fn set_remove<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let items = the_set(st, &mut a)?;
    let gone = a.rest(0);
    SetVal::from_items(items.into_iter().filter(|x| !has(&gone, x)))
}
