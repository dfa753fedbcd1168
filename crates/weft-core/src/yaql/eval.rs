//! Evaluating compiled YAQL over a workflow context.
//!
//! Everything an evaluation reads lives at least as long as the
//! evaluation: the compiled nodes, the [`WorkflowContext`], and the
//! variables it pins (a variable is an `Arc<Value>` in a concurrent map;
//! its `Arc` is kept in an arena for the evaluation, so the value can be
//! borrowed). Values therefore borrow the context's JSON ([`Val::Json`])
//! instead of copying it.
//!
//! Variables (`$`, `$1`, `$name`) live in scopes: a lambda's call gets a
//! scope with its arguments as `$1`, `$2`… (`$` is `$1`), `let` a scope
//! with its names; a name no scope has is null, as in yaql.
//!
//! Every node evaluated costs one fuel, and so does every item a query
//! creates from nothing (`range`, `repeat`) and every 64 bytes of text
//! made: an evaluation stops with [`YErrKind::Fuel`] when the budget of
//! [`ExpressionLimits::fuel`] is spent.

use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value;

use super::ast::{BinOp, VarName};
use super::builtin::{ArgVal, Args};
use super::lexer::Span;
use super::node::{ArgNode, CallNode, LetNode, Node, RegisteredCall};
use super::state::State;
use super::value::{
    self, compare, describe, from_json, map_get, num_parts, py_eq, Body, Dict, Lambda, Num, Scope,
    Seq, SeqKind, SetVal, Str, Val,
};
use super::{YErr, YErrKind, R};

/// A lambda's body is a compiled node.
impl Body for Node {
    fn run<'a>(&'a self, st: &'a State<'a>, scope: &Rc<Scope<'a>>) -> R<Val<'a>> {
        eval(st, scope, self)
    }
}

/// Evaluates `node` in `scope`.
pub(crate) fn eval<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, node: &'a Node) -> R<Val<'a>> {
    st.spend(1)?;
    // A dispatcher that keeps its own frame small: evaluation recurses
    // once per level of nesting, so each node's work is a function of its
    // own.
    match node {
        Node::Null => Ok(Val::Null),
        Node::Bool(b) => Ok(Val::Bool(*b)),
        Node::Int(i) => Ok(Val::Int(*i)),
        Node::Float(f) => Ok(Val::Float(*f)),
        Node::Str(s) => Ok(Val::Str(Str::Ref(s))),
        Node::Var(name) => Ok(scope.lookup(name)),
        Node::List(items) => list(st, scope, items),
        Node::Dict(pairs, span) => dict(st, scope, pairs).map_err(|e| e.at(*span)),
        Node::Neg(e, span) => neg(eval(st, scope, e)?).map_err(|e| e.at(*span)),
        Node::Pos(e, span) => pos(eval(st, scope, e)?).map_err(|e| e.at(*span)),
        Node::Not(e) => Ok(Val::Bool(!eval(st, scope, e)?.truthy())),
        Node::And(ab) => and(st, scope, ab),
        Node::Or(ab) => or(st, scope, ab),
        Node::Bin(op, ab, span) => {
            let a = eval(st, scope, &ab.0)?;
            let b = eval(st, scope, &ab.1)?;
            binary(st, *op, a, b).map_err(|e| e.at(*span))
        }
        Node::Member {
            recv,
            name,
            elvis,
            span,
        } => {
            let r = eval(st, scope, recv)?;
            if *elvis && matches!(r, Val::Null) {
                return Ok(Val::Null);
            }
            member(st, r, name).map_err(|e| e.at(*span))
        }
        Node::Index {
            recv,
            key,
            default,
            span,
        } => index_node(st, scope, recv, key, default.as_deref()).map_err(|e| e.at(*span)),
        Node::Call(c) => call(st, scope, c),
        Node::Registered(c) => registered(st, scope, c).map_err(|e| e.at(c.span)),
        Node::Let(l) => let_(st, scope, l),
        Node::CtxVar { name, span } => ctx_var(st, name).map_err(|e| e.at(*span)),
    }
}

fn list<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, items: &'a [Node]) -> R<Val<'a>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(eval(st, scope, item)?);
    }
    value::tuple(out)
}

fn dict<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, pairs: &'a [(Node, Node)]) -> R<Val<'a>> {
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        out.push((eval(st, scope, k)?, eval(st, scope, v)?));
    }
    Dict::from_pairs(out, true)
}

fn pos(v: Val<'_>) -> R<Val<'_>> {
    if v.is_number() {
        Ok(v)
    } else {
        Err(YErr::eval(format!(
            "unary `+` needs a number, not {}",
            describe(&v)
        )))
    }
}

fn and<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, ab: &'a (Node, Node)) -> R<Val<'a>> {
    let a = eval(st, scope, &ab.0)?;
    if a.truthy() {
        eval(st, scope, &ab.1)
    } else {
        Ok(a)
    }
}

fn or<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, ab: &'a (Node, Node)) -> R<Val<'a>> {
    let a = eval(st, scope, &ab.0)?;
    if a.truthy() {
        Ok(a)
    } else {
        eval(st, scope, &ab.1)
    }
}

fn index_node<'a>(
    st: &'a State<'a>,
    scope: &Rc<Scope<'a>>,
    recv: &'a Node,
    key: &'a Node,
    default: Option<&'a Node>,
) -> R<Val<'a>> {
    let r = eval(st, scope, recv)?;
    let k = eval(st, scope, key)?;
    let d = match default {
        Some(d) => Some(eval(st, scope, d)?),
        None => None,
    };
    index(r, k, d)
}

fn let_<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, l: &'a LetNode) -> R<Val<'a>> {
    let mut vars = Vec::with_capacity(l.pos.len() + l.named.len());
    for (i, n) in l.pos.iter().enumerate() {
        vars.push((VarName::Pos(i as u32 + 1), eval(st, scope, n)?));
    }
    for (name, n) in l.named.iter() {
        vars.push((VarName::Named(name.clone()), eval(st, scope, n)?));
    }
    let inner = Rc::new(Scope {
        parent: Some(scope.clone()),
        vars,
    });
    eval(st, &inner, &l.body)
}

/// An input or variable of the workflow (a variable hides an input of
/// the same name, as in `ctx()`).
pub(crate) fn ctx_var<'a>(st: &'a State<'a>, name: &str) -> R<Val<'a>> {
    let shared = &st.ctx.shared;
    if let Some(v) = st.ctx.vars.get(name) {
        let pinned = st.pin(v.clone());
        return Ok(from_json(pinned));
    }
    if let Value::Object(m) = &*shared.parameters {
        if let Some(v) = m.get(name) {
            return Ok(from_json(v));
        }
    }
    Err(YErr::eval(format!(
        "no input or variable is named `{name}`: check the name, declare it under `input` or `vars`, or publish it before this point"
    )))
}

fn call<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, c: &'a CallNode) -> R<Val<'a>> {
    let recv = match &c.recv {
        Some(r) => {
            let v = eval(st, scope, r)?;
            if c.elvis && matches!(v, Val::Null) {
                return Ok(Val::Null);
            }
            Some(v)
        }
        None => None,
    };
    let mut args = Vec::with_capacity(c.args.len());
    for a in c.args.iter() {
        args.push(match a {
            ArgNode::Missing => ArgVal::Missing,
            ArgNode::Eager(n) => ArgVal::Val(eval(st, scope, n)?),
            ArgNode::Lazy(n) => ArgVal::Lambda(Lambda::new(n, scope.clone())),
            ArgNode::Pair(k, v) => ArgVal::Pair(eval(st, scope, k)?, eval(st, scope, v)?),
            ArgNode::LazyPair(k, v) => {
                ArgVal::LazyPair(Lambda::new(k, scope.clone()), Lambda::new(v, scope.clone()))
            }
        });
    }
    (c.f.imp)(
        st,
        Args {
            recv,
            args,
            name: c.f.name,
            method: c.method,
        },
    )
    .map_err(|e| e.at(c.span))
}

/// Calls a registered function: its arguments become JSON (values of the
/// context are lent where they sit), it spends the evaluation's fuel, and
/// what it returns is measured and paid for like any value made.
fn registered<'a>(st: &'a State<'a>, scope: &Rc<Scope<'a>>, c: &'a RegisteredCall) -> R<Val<'a>> {
    use crate::functions::{ArgValue, Args as FnArgs, Call};

    let mut values = Vec::with_capacity(c.args.len());
    for (key, node) in c.args.iter() {
        values.push((key.as_deref(), eval(st, scope, node)?));
    }
    let mut budget = st.max_bytes;
    let mut args = FnArgs::new();
    for (key, v) in &values {
        let json: ArgValue<'_> = match v {
            Val::Json(j) => (*j).into(),
            other => value::to_json(st, other, &mut budget)?.into(),
        };
        args = match key {
            Some(k) => args.kwarg(*k, json),
            None => args.arg(json),
        };
    }
    let meter = |units: u64| st.spend(units).is_ok();
    let call = Call::new(&c.name).with_context(st.ctx).with_meter(&meter);
    let out = match c.f.call(&args, &call) {
        Ok(v) => v,
        Err(e) if e.is_out_of_fuel() => return Err(YErr::fuel()),
        Err(e) => return Err(YErr::eval(format!("{}(): {}", c.name, e.message()))),
    };
    let size = crate::limits::json_size_within(&out, st.max_bytes)
        .ok_or_else(|| YErr::too_large(st.max_bytes))?;
    st.spend((size / crate::functions::BYTES_PER_FUEL) as u64)?;
    Ok(from_json(st.pin(Arc::new(out))))
}

/// `recv.name`: a dict's key, or the key of every item of a collection.
pub(crate) fn member<'a>(st: &'a State<'a>, recv: Val<'a>, name: &'a str) -> R<Val<'a>> {
    if recv.is_mapping() {
        return match map_get(&recv, &Val::Str(Str::Ref(name)))? {
            Some(v) => Ok(v),
            None => Err(YErr::eval(format!("the dict has no key `{name}`"))),
        };
    }
    if recv.is_iterable() {
        // yaql maps the access over the items: `$.vms.name`.
        let depth = recv.depth();
        let source = st.iter(&recv)?;
        let it = source.map(move |item| item.and_then(|v| member(st, v, name)));
        return value::Iter::wrap(Box::new(it), depth);
    }
    Err(YErr::eval(format!(
        "{} has no property `{name}` (only dicts have keys)",
        describe(&recv)
    )))
}

/// `recv[key]` and `recv[key, default]`.
pub(crate) fn index<'a>(recv: Val<'a>, key: Val<'a>, default: Option<Val<'a>>) -> R<Val<'a>> {
    if recv.is_mapping() {
        return match (map_get(&recv, &key)?, default) {
            (Some(v), _) => Ok(v),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(YErr::eval(format!(
                "the dict has no key {}",
                match &key {
                    Val::Str(s) => format!("`{}`", s.as_str()),
                    other => describe(other),
                }
            ))),
        };
    }
    if default.is_some() {
        return Err(YErr::eval(format!(
            "only a dict takes an index with a default, not {}",
            describe(&recv)
        )));
    }
    let Some(i) = key.as_int() else {
        return Err(YErr::eval(format!(
            "{} is indexed by an integer, not {}",
            describe(&recv),
            describe(&key)
        )));
    };
    let len = match &recv {
        Val::Json(Value::Array(a)) => a.len(),
        Val::Seq(s) => s.items.len(),
        other => {
            return Err(YErr::eval(format!(
                "{} cannot be indexed (a query result can be: `.toList()[0]`, or use `.first()`)",
                describe(other)
            )))
        }
    };
    let at = if i < 0 { i + len as i64 } else { i };
    if at < 0 || at >= len as i64 {
        return Err(YErr::eval(format!(
            "index {i} is out of range for a list of {len} item{}",
            if len == 1 { "" } else { "s" }
        )));
    }
    Ok(match recv {
        Val::Json(Value::Array(a)) => from_json(&a[at as usize]),
        Val::Seq(s) => s.items[at as usize].clone(),
        _ => Val::Null,
    })
}

fn overflow() -> Box<YErr> {
    YErr::eval("integer overflow: the result does not fit in 64 bits (weft's integers are 64-bit)")
}

/// An integer operand as i64 (a JSON integer beyond i64 is refused).
fn int_of(v: &Val<'_>) -> R<Option<i64>> {
    match v {
        Val::Int(i) => Ok(Some(*i)),
        other => match other.big_int() {
            Some(_) => Err(YErr::eval(
                "an integer beyond 64 bits cannot take part in arithmetic in weft",
            )),
            None => Ok(None),
        },
    }
}

fn neg<'a>(v: Val<'a>) -> R<Val<'a>> {
    match v {
        Val::Int(i) => i.checked_neg().map(Val::Int).ok_or_else(overflow),
        Val::Float(f) => Ok(Val::Float(-f)),
        other => {
            int_of(&other)?;
            Err(YErr::eval(format!(
                "unary `-` needs a number, not {}",
                describe(&other)
            )))
        }
    }
}

/// Python's floor division and modulo of integers.
fn floor_div(a: i64, b: i64) -> R<i64> {
    if b == 0 {
        return Err(YErr::eval("division by zero"));
    }
    let q = a.checked_div(b).ok_or_else(overflow)?;
    Ok(if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    })
}

fn floor_mod(a: i64, b: i64) -> R<i64> {
    if b == 0 {
        return Err(YErr::eval("modulo by zero"));
    }
    let r = a.checked_rem(b).unwrap_or(0);
    Ok(if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    })
}

fn float_mod(a: f64, b: f64) -> R<f64> {
    if b == 0.0 {
        return Err(YErr::eval("modulo by zero"));
    }
    let mut r = a % b;
    if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
        r += b;
    }
    Ok(r)
}

fn as_f64(v: &Val<'_>) -> f64 {
    match num_parts(v) {
        Num::I(i) => i as f64,
        Num::F(f) => f,
    }
}

/// Arithmetic on two numbers (neither a boolean).
fn arith<'a>(op: BinOp, a: &Val<'a>, b: &Val<'a>) -> R<Val<'a>> {
    if let (Some(x), Some(y)) = (int_of(a)?, int_of(b)?) {
        return Ok(Val::Int(match op {
            BinOp::Add => x.checked_add(y).ok_or_else(overflow)?,
            BinOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
            BinOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
            BinOp::Div => floor_div(x, y)?,
            _ => floor_mod(x, y)?,
        }));
    }
    let (x, y) = (as_f64(a), as_f64(b));
    Ok(Val::Float(match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => {
            if y == 0.0 {
                return Err(YErr::eval("division by zero"));
            }
            x / y
        }
        _ => float_mod(x, y)?,
    }))
}

/// A binary operator, as yaql's standard library defines it for the
/// operands' types.
pub(crate) fn binary<'a>(st: &'a State<'a>, op: BinOp, a: Val<'a>, b: Val<'a>) -> R<Val<'a>> {
    let mismatch = |a: &Val<'_>, b: &Val<'_>| {
        YErr::eval(format!(
            "`{}` does not apply to {} and {}",
            op.text(),
            describe(a),
            describe(b)
        ))
    };
    match op {
        BinOp::Eq => return Ok(Val::Bool(py_eq(&a, &b))),
        BinOp::Ne => return Ok(Val::Bool(!py_eq(&a, &b))),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => return compare(op, &a, &b).map(Val::Bool),
        BinOp::In => return contains(st, &b, &a).map(Val::Bool),
        _ => {}
    }
    if a.is_number() && b.is_number() {
        return arith(op, &a, &b);
    }
    match op {
        BinOp::Add => {
            if let (Val::Str(x), Val::Str(y)) = (&a, &b) {
                let (x, y) = (x.as_str(), y.as_str());
                st.text(x.len() + y.len())?;
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                return Ok(Val::str(s));
            }
            if a.is_mapping() && b.is_mapping() {
                let pairs: Vec<_> = value::map_pairs(&a).chain(value::map_pairs(&b)).collect();
                st.spend(pairs.len() as u64)?;
                return Dict::from_pairs(pairs, true);
            }
            if a.is_iterable() && b.is_iterable() {
                return concat(st, a, b);
            }
            Err(mismatch(&a, &b))
        }
        BinOp::Sub => {
            if let (Val::Set(x), true) = (&a, b.is_set()) {
                let other = st.collect(&b)?;
                let keep: Vec<Val<'a>> = x
                    .items
                    .keys()
                    .filter(|k| !other.iter().any(|o| py_eq(&k.val, o)))
                    .map(|k| k.val.clone())
                    .collect();
                return SetVal::from_items(keep);
            }
            Err(mismatch(&a, &b))
        }
        BinOp::Mul => {
            let (seq, n) = match (&a, &b) {
                (s, n) if !s.is_number() && n.as_int().is_some() => (s, n.as_int()),
                (n, s) if n.as_int().is_some() => (s, n.as_int()),
                _ => return Err(mismatch(&a, &b)),
            };
            let n = n.unwrap_or(0).max(0) as usize;
            match seq {
                Val::Str(s) => {
                    let s = s.as_str();
                    st.text(s.len().saturating_mul(n))?;
                    Ok(Val::str(if s.is_empty() {
                        String::new()
                    } else {
                        s.repeat(n)
                    }))
                }
                v if v.is_sequence() => {
                    let items = st.collect(v)?;
                    // An empty list repeated any number of times is empty
                    // (and must not cost a loop of `n` turns).
                    let n = if items.is_empty() { 0 } else { n };
                    let total = items.len().saturating_mul(n);
                    st.spend(total as u64)?;
                    let mut out = Vec::with_capacity(total);
                    for _ in 0..n {
                        out.extend(items.iter().cloned());
                    }
                    let kind = match v {
                        Val::Seq(s) => s.kind,
                        _ => SeqKind::Tuple,
                    };
                    Ok(Val::Seq(Seq::new(out, kind)?))
                }
                _ => Err(mismatch(&a, &b)),
            }
        }
        _ => Err(mismatch(&a, &b)),
    }
}

/// `a + b` of two collections: tuples give a tuple, sets a set, anything
/// else a lazy chain.
fn concat<'a>(st: &'a State<'a>, a: Val<'a>, b: Val<'a>) -> R<Val<'a>> {
    let is_tuple = |v: &Val<'_>| {
        matches!(v, Val::Json(Value::Array(_)))
            || matches!(v, Val::Seq(s) if s.kind == SeqKind::Tuple)
    };
    if is_tuple(&a) && is_tuple(&b) {
        let mut items = st.collect(&a)?;
        items.extend(st.collect(&b)?);
        st.spend(items.len() as u64 / 8)?;
        return value::tuple(items);
    }
    if let (Val::Set(_), Val::Set(_)) = (&a, &b) {
        let mut items = st.collect(&a)?;
        items.extend(st.collect(&b)?);
        return SetVal::from_items(items);
    }
    let depth = a.depth().max(b.depth());
    let (x, y) = (st.iter(&a)?, st.iter(&b)?);
    value::Iter::wrap(Box::new(x.chain(y)), depth)
}

/// `needle in haystack`: a substring, or an item of a collection.
pub(crate) fn contains<'a>(st: &'a State<'a>, haystack: &Val<'a>, needle: &Val<'a>) -> R<bool> {
    if let (Val::Str(h), Val::Str(n)) = (haystack, needle) {
        st.read(h.as_str().len())?;
        return Ok(h.as_str().contains(n.as_str()));
    }
    if haystack.is_iterable() {
        for item in st.iter(haystack)? {
            if py_eq(&item?, needle) {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    Err(YErr::eval(format!(
        "`in` looks in a string or a collection, not in {}",
        describe(haystack)
    )))
}

/// The kind of an error from a lambda or a nested call, kept as it is.
#[allow(dead_code)]
pub(crate) fn is_fuel(e: &YErr) -> bool {
    e.kind == YErrKind::Fuel
}

/// The span of a node, where it has one.
#[allow(dead_code)]
pub(crate) fn span_of(node: &Node) -> Option<Span> {
    match node {
        Node::Bin(_, _, s) | Node::Member { span: s, .. } | Node::Index { span: s, .. } => Some(*s),
        Node::Call(c) => Some(c.span),
        Node::Registered(c) => Some(c.span),
        _ => None,
    }
}
