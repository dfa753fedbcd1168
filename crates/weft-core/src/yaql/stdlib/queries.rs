//! Queries over collections: `select`, `where`, `orderBy`, `groupBy`…
//!
//! As in yaql, most return a lazy iterator: items are computed when they
//! are read, and only as far as they are read (`where(…).first()` stops
//! at the first match), and an iterator can be read once.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use indexmap::IndexMap;

use crate::yaql::ast::BinOp;
use crate::yaql::builtin::{adapt, lazy, p, Args, Builtin, Form};
use crate::yaql::eval::binary;
use crate::yaql::state::State;
use crate::yaql::value::{self, py_eq, HKey, Iter, KeyHasher, Ordered, Val, ValIter};
use crate::yaql::value::{compare, describe, Lambda};
use crate::yaql::YErr;
use crate::yaql::R;

use Form::{Both, Function, Method};

pub(super) const BUILTINS: &[Builtin] = &[
    Builtin::new("select", Method, &[lazy("selector")], 1, select),
    Builtin::new("map", Method, &[lazy("selector")], 1, select),
    Builtin::new("where", Method, &[lazy("predicate")], 1, where_),
    Builtin::new("filter", Method, &[lazy("predicate")], 1, where_),
    Builtin::new("selectMany", Method, &[lazy("selector")], 1, select_many),
    Builtin::new("skip", Method, &[p("count")], 1, skip),
    Builtin::new("take", Method, &[p("count")], 1, take),
    Builtin::new("limit", Method, &[p("count")], 1, take),
    Builtin::new("append", Both, &[], 0, append).rest(p("args")),
    Builtin::new("distinct", Both, &[lazy("keySelector")], 0, distinct),
    Builtin::new("enumerate", Both, &[p("start")], 0, enumerate),
    Builtin::new("any", Both, &[lazy("predicate")], 0, any),
    Builtin::new("all", Both, &[lazy("predicate")], 0, all),
    Builtin::new("concat", Both, &[], 0, concat).rest(p("args")),
    Builtin::new("len", Both, &[], 0, len),
    Builtin::new("count", Method, &[], 0, count),
    Builtin::new("sum", Method, &[p("initial")], 0, sum),
    Builtin::new("max", Method, &[p("initial")], 0, max_of),
    Builtin::new("min", Method, &[p("initial")], 0, min_of),
    Builtin::new("first", Method, &[p("default")], 0, first),
    Builtin::new("single", Method, &[], 0, single),
    Builtin::new("last", Method, &[p("default")], 0, last),
    Builtin::new(
        "range",
        Function,
        &[p("start|stop"), p("stop"), p("step")],
        1,
        range,
    ),
    Builtin::new("sequence", Function, &[p("start"), p("step")], 0, sequence),
    Builtin::new("orderBy", Method, &[lazy("selector")], 1, order_by),
    Builtin::new(
        "orderByDescending",
        Method,
        &[lazy("selector")],
        1,
        order_by_desc,
    ),
    Builtin::new("thenBy", Method, &[lazy("selector")], 1, then_by),
    Builtin::new(
        "thenByDescending",
        Method,
        &[lazy("selector")],
        1,
        then_by_desc,
    ),
    Builtin::new(
        "groupBy",
        Method,
        &[
            lazy("keySelector"),
            lazy("valueSelector"),
            lazy("aggregator"),
        ],
        1,
        group_by,
    ),
    Builtin::new(
        "join",
        Method,
        &[p("collection2"), lazy("predicate"), lazy("selector")],
        3,
        join,
    ),
    Builtin::new("zip", Method, &[], 0, zip).rest(p("collections")),
    Builtin::new("zipLongest", Method, &[p("*default")], 0, zip_longest).rest(p("collections")),
    Builtin::new("repeat", Method, &[p("times")], 0, repeat),
    Builtin::new("cycle", Method, &[], 0, cycle),
    Builtin::new("takeWhile", Method, &[lazy("predicate")], 1, take_while),
    Builtin::new("skipWhile", Method, &[lazy("predicate")], 1, skip_while),
    Builtin::new("indexWhere", Method, &[lazy("predicate")], 1, index_where),
    Builtin::new(
        "lastIndexWhere",
        Method,
        &[lazy("predicate")],
        1,
        last_index_where,
    ),
    Builtin::new("slice", Method, &[p("length")], 1, slice),
    Builtin::new("splitWhere", Method, &[lazy("predicate")], 1, split_where),
    Builtin::new("sliceWhere", Method, &[lazy("predicate")], 1, slice_where),
    Builtin::new("splitAt", Method, &[p("index")], 1, split_at),
    Builtin::new(
        "aggregate",
        Method,
        &[lazy("selector"), p("seed")],
        1,
        aggregate,
    ),
    Builtin::new(
        "reduce",
        Method,
        &[lazy("selector"), p("seed")],
        1,
        aggregate,
    ),
    Builtin::new(
        "accumulate",
        Method,
        &[lazy("selector"), p("seed")],
        1,
        accumulate,
    ),
    Builtin::new("reverse", Method, &[], 0, reverse),
    Builtin::new("isIterable", Function, &[p("value")], 1, is_iterable),
    Builtin::new(
        "defaultIfEmpty",
        Method,
        &[p("default")],
        1,
        default_if_empty,
    ),
];

/// The receiver, which must be a collection (not a string or a dict).
pub(crate) fn collection<'a>(a: &mut Args<'a>) -> R<Val<'a>> {
    let v = a.recv()?;
    if v.is_iterable() {
        Ok(v)
    } else {
        Err(YErr::eval(format!(
            "`{}` works on a list or another collection, not on {}",
            a.name,
            describe(&v)
        )))
    }
}

/// An integer argument (yaql's `int`: booleans count).
pub(crate) fn int_arg(a: &mut Args<'_>, i: usize, what: &str) -> R<Option<i64>> {
    match a.opt(i) {
        None => Ok(None),
        Some(v) => v.as_int().map(Some).ok_or_else(|| {
            YErr::eval(format!(
                "`{}`: {what} must be an integer, not {}",
                a.name,
                describe(&v)
            ))
        }),
    }
}

fn lambda<'a>(a: &mut Args<'a>, i: usize) -> R<Lambda<'a>> {
    a.lambda(i)
        .ok_or_else(|| YErr::eval(format!("`{}` needs a lambda", a.name)))
}

fn select<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    adapt(st, &src, move |it| {
        Box::new(it.map(move |x| x.and_then(|v| f.call1(st, v))))
    })
}

fn where_<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    adapt(st, &src, move |it| {
        Box::new(it.filter_map(move |x| match x {
            Ok(v) => match f.call1(st, v.clone()) {
                Ok(t) if t.truthy() => Some(Ok(v)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            },
            Err(e) => Some(Err(e)),
        }))
    })
}

fn select_many<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let depth = src.depth();
    let mut outer = st.iter(&src)?;
    let mut inner: Option<ValIter<'a>> = None;
    let it = std::iter::from_fn(move || loop {
        if let Some(i) = inner.as_mut() {
            match i.next() {
                Some(v) => return Some(v),
                None => inner = None,
            }
        }
        let item = match outer.next()? {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        match f.call1(st, item) {
            Ok(v) if v.is_iterable() => match st.iter(&v) {
                Ok(i) => inner = Some(i),
                Err(e) => return Some(Err(e)),
            },
            other => return Some(other),
        }
    });
    Iter::wrap(Box::new(it), depth)
}

fn count_arg<'a>(a: &mut Args<'a>) -> R<usize> {
    let n = int_arg(a, 0, "the count")?.unwrap_or(0);
    usize::try_from(n).map_err(|_| {
        YErr::eval(format!(
            "`{}`: the count must not be negative, not {n}",
            a.name
        ))
    })
}

fn skip<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let n = count_arg(&mut a)?;
    adapt(st, &src, move |it| Box::new(it.skip(n)))
}

fn take<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let n = count_arg(&mut a)?;
    adapt(st, &src, move |it| Box::new(it.take(n)))
}

fn append<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let more = a.rest(0);
    adapt(st, &src, move |it| {
        Box::new(it.chain(more.into_iter().map(Ok)))
    })
}

fn distinct<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let key = a.lambda(0);
    let mut seen: IndexMap<HKey<'a>, (), KeyHasher> = IndexMap::with_hasher(KeyHasher);
    adapt(st, &src, move |it| {
        Box::new(it.filter_map(move |x| {
            let step = || -> R<Option<Val<'a>>> {
                let v = x?;
                let k = match &key {
                    Some(f) => f.call1(st, v.clone())?,
                    None => v.clone(),
                };
                let k = HKey::new(k)?;
                if seen.contains_key(&k) {
                    return Ok(None);
                }
                seen.insert(k, ());
                Ok(Some(v))
            };
            step().transpose()
        }))
    })
}

fn enumerate<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let start = int_arg(&mut a, 0, "the start")?.unwrap_or(0);
    adapt(st, &src, move |it| {
        Box::new(it.enumerate().map(move |(i, x)| {
            let n = start
                .checked_add(i as i64)
                .ok_or_else(|| YErr::eval("integer overflow in enumerate()"))?;
            value::list(vec![Val::Int(n), x?])
        }))
    })
}

fn any<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = a.lambda(0);
    for item in st.iter(&src)? {
        let item = item?;
        let hit = match &f {
            Some(f) => f.call1(st, item)?.truthy(),
            None => true,
        };
        if hit {
            return Ok(Val::Bool(true));
        }
    }
    Ok(Val::Bool(false))
}

fn all<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = a.lambda(0);
    for item in st.iter(&src)? {
        let item = item?;
        let ok = match &f {
            Some(f) => f.call1(st, item)?.truthy(),
            None => item.truthy(),
        };
        if !ok {
            return Ok(Val::Bool(false));
        }
    }
    Ok(Val::Bool(true))
}

/// `concat(…)`: of strings as a function (`concat('a', 'b')`), else of
/// collections (`[1].concat([2], [3])`, `concat([1], [2])`).
fn concat<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let first = a.recv()?;
    let rest = a.rest(0);
    if !a.method && first.as_str().is_some() && rest.iter().all(|v| v.as_str().is_some()) {
        let len = rest
            .iter()
            .fold(first.as_str().map_or(0, str::len), |n, v| {
                n + v.as_str().map_or(0, str::len)
            });
        st.text(len)?;
        let mut s = String::with_capacity(len);
        for v in std::iter::once(&first).chain(&rest) {
            s.push_str(v.as_str().unwrap_or(""));
        }
        return Ok(Val::str(s));
    }
    let mut parts = Vec::with_capacity(rest.len() + 1);
    for v in std::iter::once(first).chain(rest) {
        if !v.is_iterable() {
            return Err(YErr::eval(format!(
                "`concat` joins strings (as a function) or collections, not {}",
                describe(&v)
            )));
        }
        parts.push(v);
    }
    let depth = parts.iter().map(Val::depth).max().unwrap_or(0);
    let mut iters = Vec::with_capacity(parts.len());
    for p in &parts {
        iters.push(st.iter(p)?);
    }
    Iter::wrap(Box::new(iters.into_iter().flatten()), depth)
}

fn len<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.recv()?;
    let n = match &v {
        Val::Str(s) => {
            st.read(s.as_str().len())?;
            s.as_str().chars().count()
        }
        m if m.is_mapping() => value::map_len(m),
        Val::Json(serde_json::Value::Array(items)) => items.len(),
        Val::Seq(s) => s.items.len(),
        Val::Set(s) => s.items.len(),
        Val::View(view) if view.kind != value::ViewKind::Values => value::map_len(&view.dict),
        Val::Iter(_) => st.iter(&v)?.try_fold(0usize, |n, x| x.map(|_| n + 1))?,
        other => {
            return Err(YErr::eval(format!(
                "`len` takes a string, a list, a dict, a set or an iterator, not {}: use `count()`",
                describe(other)
            )))
        }
    };
    Ok(Val::Int(n as i64))
}

fn count<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let n = st.iter(&src)?.try_fold(0usize, |n, x| x.map(|_| n + 1))?;
    Ok(Val::Int(n as i64))
}

/// Python's `functools.reduce`.
fn reduce<'a>(
    st: &'a State<'a>,
    name: &str,
    src: &Val<'a>,
    seed: Option<Val<'a>>,
    mut f: impl FnMut(Val<'a>, Val<'a>) -> R<Val<'a>>,
) -> R<Val<'a>> {
    let mut it = st.iter(src)?;
    let mut acc = match seed {
        Some(s) => s,
        None => match it.next() {
            Some(v) => v?,
            None => {
                return Err(YErr::eval(format!(
                    "`{name}` of an empty collection without an initial value"
                )))
            }
        },
    };
    for item in it {
        acc = f(acc, item?)?;
    }
    Ok(acc)
}

fn sum<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let init = a.opt(0);
    reduce(st, "sum", &src, init, |x, y| binary(st, BinOp::Add, x, y))
}

/// yaql's `max(a, b)`: `b` if `b > a`, else `a`.
pub(crate) fn max2<'a>(a: Val<'a>, b: Val<'a>) -> R<Val<'a>> {
    Ok(if compare(BinOp::Gt, &b, &a)? { b } else { a })
}

/// yaql's `min(a, b)`: `a` if `b > a`, else `b`.
pub(crate) fn min2<'a>(a: Val<'a>, b: Val<'a>) -> R<Val<'a>> {
    Ok(if compare(BinOp::Gt, &b, &a)? { a } else { b })
}

fn max_of<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let init = a.opt(0);
    reduce(st, "max", &src, init, max2)
}

fn min_of<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let init = a.opt(0);
    reduce(st, "min", &src, init, min2)
}

fn empty(name: &str) -> Box<YErr> {
    YErr::eval(format!(
        "`{name}()` of an empty collection: give it a default, `{name}(null)`"
    ))
}

fn first<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let default = a.opt(0);
    match st.iter(&src)?.next() {
        Some(v) => v,
        None => default.ok_or_else(|| empty("first")),
    }
}

fn single<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let mut it = st.iter(&src)?;
    let v = it.next().ok_or_else(|| empty("single"))??;
    if it.next().is_some() {
        return Err(YErr::eval(
            "`single()`: the collection holds more than one item",
        ));
    }
    Ok(v)
}

fn last<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let default = a.opt(0);
    let mut last = None;
    for item in st.iter(&src)? {
        last = Some(item?);
    }
    last.or(default).ok_or_else(|| empty("last"))
}

/// An endless or long source: each item costs one fuel.
fn counted<'a>(st: &'a State<'a>, it: impl Iterator<Item = R<Val<'a>>> + 'a) -> R<Val<'a>> {
    let it = it.map(move |x| {
        st.spend(1)?;
        x
    });
    Iter::wrap(Box::new(it), 0)
}

fn range<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let first = int_arg(&mut a, 0, "the start")?.unwrap_or(0);
    let (start, stop) = match int_arg(&mut a, 1, "the stop")? {
        Some(stop) => (first, stop),
        None => (0, first),
    };
    let step = int_arg(&mut a, 2, "the step")?.unwrap_or(1);
    if step == 0 {
        return Err(YErr::eval("`range`: the step must not be zero"));
    }
    let mut i = start;
    let it = std::iter::from_fn(move || {
        let more = if step > 0 { i < stop } else { i > stop };
        if !more {
            return None;
        }
        let v = i;
        i = i.checked_add(step).unwrap_or(stop);
        Some(Ok(Val::Int(v)))
    });
    counted(st, it)
}

fn sequence<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let start = int_arg(&mut a, 0, "the start")?.unwrap_or(0);
    let step = int_arg(&mut a, 1, "the step")?.unwrap_or(1);
    let mut i = Some(start);
    let it = std::iter::from_fn(move || {
        let v = i?;
        i = v.checked_add(step);
        Some(Ok(Val::Int(v)))
    });
    counted(st, it)
}

fn ordered<'a>(mut a: Args<'a>, ascending: bool) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    value::check_depth(src.depth() + 1)?;
    Ok(Val::Ordered(Rc::new(Ordered {
        source: src,
        keys: RefCell::new(vec![(f, ascending)]),
        sorted: OnceCell::new(),
    })))
}

fn order_by<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    ordered(a, true)
}

fn order_by_desc<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    ordered(a, false)
}

fn then<'a>(mut a: Args<'a>, ascending: bool) -> R<Val<'a>> {
    let v = a.recv()?;
    let Val::Ordered(o) = &v else {
        return Err(YErr::eval(format!(
            "`{}` follows `orderBy` or `orderByDescending`, not {}",
            a.name,
            describe(&v)
        )));
    };
    let f = lambda(&mut a, 0)?;
    o.keys.borrow_mut().push((f, ascending));
    Ok(v)
}

fn then_by<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    then(a, true)
}

fn then_by_desc<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    then(a, false)
}

fn group_by<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let key = lambda(&mut a, 0)?;
    let value = a.lambda(1);
    let aggregator = a.lambda(2);
    let mut groups: IndexMap<HKey<'a>, Vec<Val<'a>>, KeyHasher> = IndexMap::with_hasher(KeyHasher);
    for item in st.iter(&src)? {
        let item = item?;
        let v = match &value {
            Some(f) => f.call1(st, item.clone())?,
            None => item.clone(),
        };
        let k = HKey::new(key.call1(st, item)?)?;
        groups.entry(k).or_default().push(v);
    }
    let depth = src.depth() + 1;
    let mut agg = Aggregator {
        f: aggregator,
        fallback: true,
        failure: None,
    };
    let it = groups.into_iter().map(move |(k, values)| {
        let values = value::list(values)?;
        agg.apply(st, k.val, values)
    });
    Iter::wrap(Box::new(it), depth)
}

/// yaql's group aggregator: the aggregator gets a group's values; an
/// aggregator written for yaql's older form, which got `[key, values]`
/// and returned a pair, is recognised as yaql recognises it.
struct Aggregator<'a> {
    f: Option<Lambda<'a>>,
    fallback: bool,
    failure: Option<Box<YErr>>,
}

impl<'a> Aggregator<'a> {
    fn apply(&mut self, st: &'a State<'a>, key: Val<'a>, values: Val<'a>) -> R<Val<'a>> {
        let Some(f) = &self.f else {
            return value::tuple(vec![key, values]);
        };
        if self.failure.is_none() {
            match f.call1(st, values.clone()) {
                Ok(result) => {
                    let looks_old = match (&values, &result) {
                        (Val::Seq(v), r) if v.items.len() == 2 && r.is_sequence() => {
                            let r = st.collect(r)?;
                            r.len() == 2 && py_eq(&r[0], &v.items[0])
                        }
                        _ => false,
                    };
                    if !looks_old {
                        self.fallback = false;
                    }
                    return value::tuple(vec![key, result]);
                }
                Err(e) if e.kind == crate::yaql::YErrKind::Eval => self.failure = Some(e),
                Err(e) => return Err(e),
            }
        }
        if self.fallback {
            let pair = value::tuple(vec![key, values])?;
            if let Ok(result) = f.call1(st, pair) {
                if result.is_sequence() && st.collect(&result)?.len() == 2 {
                    return Ok(result);
                }
            }
        }
        Err(self
            .failure
            .take()
            .unwrap_or_else(|| YErr::eval("`groupBy`: the aggregator failed")))
    }
}

fn join<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let left = collection(&mut a)?;
    let right = a.val(0)?;
    if !right.is_iterable() {
        return Err(YErr::eval(format!(
            "`join` joins two collections, not {}",
            describe(&right)
        )));
    }
    let predicate = lambda(&mut a, 1)?;
    let selector = lambda(&mut a, 2)?;
    let right = st.collect(&right)?;
    let depth = left.depth().max(1);
    let mut outer = st.iter(&left)?;
    let mut current: Option<(Val<'a>, usize)> = None;
    let it = std::iter::from_fn(move || loop {
        if let Some((l, i)) = current.as_mut() {
            if let Some(r) = right.get(*i) {
                *i += 1;
                let args = [l.clone(), r.clone()];
                match predicate.call(st, &args) {
                    Ok(t) if t.truthy() => return Some(selector.call(st, &args)),
                    Ok(_) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            current = None;
        }
        match outer.next()? {
            Ok(l) => current = Some((l, 0)),
            Err(e) => return Some(Err(e)),
        }
    });
    Iter::wrap(Box::new(it), depth)
}

/// The receiver and the collections from slot `from` on.
fn zip_iters<'a>(st: &'a State<'a>, a: &mut Args<'a>, from: usize) -> R<(Vec<ValIter<'a>>, u32)> {
    let first = collection(a)?;
    let mut parts = vec![first];
    for v in a.rest(from) {
        if !v.is_iterable() {
            return Err(YErr::eval(format!(
                "`{}` takes collections, not {}",
                a.name,
                describe(&v)
            )));
        }
        parts.push(v);
    }
    let depth = parts.iter().map(Val::depth).max().unwrap_or(0) + 1;
    let mut iters = Vec::with_capacity(parts.len());
    for p in &parts {
        iters.push(st.iter(p)?);
    }
    Ok((iters, depth))
}

fn zip<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (mut iters, depth) = zip_iters(st, &mut a, 0)?;
    let it = std::iter::from_fn(move || {
        let mut row = Vec::with_capacity(iters.len());
        for i in iters.iter_mut() {
            match i.next()? {
                Ok(v) => row.push(v),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(value::tuple(row))
    });
    Iter::wrap(Box::new(it), depth)
}

fn zip_longest<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let fill = a.opt(0).unwrap_or(Val::Null);
    let (mut iters, depth) = zip_iters(st, &mut a, 1)?;
    let mut done = vec![false; iters.len()];
    let it = std::iter::from_fn(move || {
        let mut row = Vec::with_capacity(iters.len());
        for (i, it) in iters.iter_mut().enumerate() {
            match if done[i] { None } else { it.next() } {
                Some(Ok(v)) => row.push(v),
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    done[i] = true;
                    row.push(fill.clone());
                }
            }
        }
        if done.iter().all(|d| *d) {
            return None;
        }
        Some(value::tuple(row))
    });
    Iter::wrap(Box::new(it), depth)
}

fn repeat<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.recv()?;
    let times = int_arg(&mut a, 0, "the number of times")?.unwrap_or(-1);
    let depth = v.depth();
    let it = std::iter::repeat_with(move || Ok(v.clone()));
    let it: Box<dyn Iterator<Item = R<Val<'a>>> + 'a> = if times < 0 {
        Box::new(it)
    } else {
        Box::new(it.take(times as usize))
    };
    let it = it.map(move |x| {
        st.spend(1)?;
        x
    });
    Iter::wrap(Box::new(it), depth)
}

fn cycle<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let items = st.collect(&src)?;
    let depth = src.depth();
    let it = items.into_iter().cycle().map(move |x| {
        st.spend(1)?;
        Ok(x)
    });
    Iter::wrap(Box::new(it), depth)
}

fn take_while<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let mut done = false;
    adapt(st, &src, move |it| {
        Box::new(it.map_while(move |x| {
            if done {
                return None;
            }
            let step = || -> R<Option<Val<'a>>> {
                let v = x?;
                Ok(f.call1(st, v.clone())?.truthy().then_some(v))
            };
            match step() {
                Ok(Some(v)) => Some(Ok(v)),
                Ok(None) => {
                    done = true;
                    None
                }
                Err(e) => Some(Err(e)),
            }
        }))
    })
}

fn skip_while<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let mut skipping = true;
    adapt(st, &src, move |it| {
        Box::new(it.filter_map(move |x| {
            let v = match x {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            if skipping {
                match f.call1(st, v.clone()) {
                    Ok(t) if t.truthy() => return None,
                    Ok(_) => skipping = false,
                    Err(e) => return Some(Err(e)),
                }
            }
            Some(Ok(v))
        }))
    })
}

fn index_where<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    for (i, item) in st.iter(&src)?.enumerate() {
        if f.call1(st, item?)?.truthy() {
            return Ok(Val::Int(i as i64));
        }
    }
    Ok(Val::Int(-1))
}

fn last_index_where<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let mut found = -1;
    for (i, item) in st.iter(&src)?.enumerate() {
        if f.call1(st, item?)?.truthy() {
            found = i as i64;
        }
    }
    Ok(Val::Int(found))
}

fn slice<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let n = count_arg(&mut a)?;
    let depth = src.depth() + 1;
    let mut it = st.iter(&src)?;
    let chunks = std::iter::from_fn(move || {
        let mut chunk = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            match it.next() {
                Some(Ok(v)) => chunk.push(v),
                Some(Err(e)) => return Some(Err(e)),
                None => break,
            }
        }
        (!chunk.is_empty()).then(|| value::tuple(chunk))
    });
    Iter::wrap(Box::new(chunks), depth)
}

fn split_where<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let items = st.collect(&src)?;
    let mut parts = Vec::new();
    let mut start = 0;
    for (end, item) in items.iter().enumerate() {
        if f.call1(st, item.clone())?.truthy() {
            parts.push(value::tuple(items[start..end].to_vec())?);
            start = end + 1;
        }
    }
    if start != items.len() {
        parts.push(value::tuple(items[start..].to_vec())?);
    }
    let depth = src.depth() + 2;
    Iter::wrap(Box::new(parts.into_iter().map(Ok)), depth)
}

fn slice_where<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let items = st.collect(&src)?;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut previous: Option<Val<'a>> = None;
    for (end, item) in items.iter().enumerate() {
        let key = f.call1(st, item.clone())?;
        if let Some(p) = &previous {
            if !py_eq(p, &key) {
                parts.push(value::tuple(items[start..end].to_vec())?);
                start = end;
            }
        }
        previous = Some(key);
    }
    if start != items.len() {
        parts.push(value::tuple(items[start..].to_vec())?);
    }
    let depth = src.depth() + 2;
    Iter::wrap(Box::new(parts.into_iter().map(Ok)), depth)
}

/// A Python slice bound: negative from the end, clamped.
pub(crate) fn bound(i: i64, len: usize) -> usize {
    if i < 0 {
        (len as i64 + i).max(0) as usize
    } else {
        (i as usize).min(len)
    }
}

fn split_at<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let i = int_arg(&mut a, 0, "the index")?.unwrap_or(0);
    let items = st.collect(&src)?;
    let at = bound(i, items.len());
    value::list(vec![
        value::tuple(items[..at].to_vec())?,
        value::tuple(items[at..].to_vec())?,
    ])
}

fn aggregate<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let seed = a.opt(1);
    reduce(st, a.name, &src, seed, |acc, x| f.call(st, &[acc, x]))
}

fn accumulate<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let f = lambda(&mut a, 0)?;
    let seed = a.opt(1);
    let depth = src.depth();
    let mut it = st.iter(&src)?;
    let mut total = match seed {
        Some(s) => s,
        None => match it.next() {
            Some(v) => v?,
            None => {
                return Err(YErr::eval(
                    "`accumulate` of an empty collection without a seed",
                ))
            }
        },
    };
    let mut started = false;
    let out = std::iter::from_fn(move || {
        if !started {
            started = true;
            return Some(Ok(total.clone()));
        }
        let x = match it.next()? {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        match f.call(st, &[total.clone(), x]) {
            Ok(t) => {
                total = t.clone();
                Some(Ok(t))
            }
            Err(e) => Some(Err(e)),
        }
    });
    Iter::wrap(Box::new(out), depth)
}

fn reverse<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let mut items = st.collect(&src)?;
    items.reverse();
    Iter::wrap(Box::new(items.into_iter().map(Ok)), src.depth())
}

fn is_iterable<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(a.val(0)?.is_iterable()))
}

fn default_if_empty<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let src = collection(&mut a)?;
    let default = a.val(0)?;
    if !default.is_iterable() {
        return Err(YErr::eval(format!(
            "`defaultIfEmpty` takes a collection as its default, not {}",
            describe(&default)
        )));
    }
    match &src {
        Val::Iter(_) => {
            let items = st.collect(&src)?;
            if items.is_empty() {
                Ok(default)
            } else {
                Iter::wrap(Box::new(items.into_iter().map(Ok)), src.depth())
            }
        }
        other => {
            let empty = st.iter(other)?.next().is_none();
            Ok(if empty { default } else { src })
        }
    }
}
