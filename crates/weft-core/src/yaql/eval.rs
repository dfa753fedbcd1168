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

use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value;

use super::compile::{ArgNode, BinOp, CallNode, Node, RegisteredCall, VarName};
use super::lexer::Span;
use super::stdlib::{ArgVal, Args};
use super::value::{
    self, from_json, int_float_cmp, map_get, num_parts, py_eq, Dict, Num, Ordered, Seq, SeqKind,
    SetVal, Str, Val, ValIter, ViewKind,
};
use super::{YErr, YErrKind};
use crate::context::WorkflowContext;
use crate::limits::ExpressionLimits;

/// The result of evaluating.
pub(crate) type R<T> = Result<T, Box<YErr>>;

/// The `Arc`s an evaluation pins, so that it can borrow their values.
pub(crate) type Pins = OnceCell<typed_arena::Arena<Arc<Value>>>;

/// What one evaluation reads and spends.
pub(crate) struct State<'a> {
    pub(crate) ctx: &'a WorkflowContext,
    pins: &'a Pins,
    fuel: Cell<u64>,
    pub(crate) max_bytes: usize,
}

impl<'a> State<'a> {
    pub(crate) fn new(ctx: &'a WorkflowContext, pins: &'a Pins) -> State<'a> {
        let limits = ExpressionLimits::current();
        State {
            ctx,
            pins,
            fuel: Cell::new(limits.fuel),
            max_bytes: limits.max_value_bytes,
        }
    }

    /// Keeps `v` alive for the evaluation, and lends it.
    pub(crate) fn pin(&self, v: Arc<Value>) -> &'a Value {
        let arena = self
            .pins
            .get_or_init(|| typed_arena::Arena::with_capacity(4));
        arena.alloc(v)
    }

    /// Spends `n` fuel.
    pub(crate) fn spend(&self, n: u64) -> R<()> {
        let left = self.fuel.get();
        if left < n {
            self.fuel.set(0);
            return Err(YErr::fuel());
        }
        self.fuel.set(left - n);
        Ok(())
    }

    /// Pays for a string of `len` bytes about to be made, and refuses one
    /// over `max_value_bytes`.
    pub(crate) fn text(&self, len: usize) -> R<()> {
        if len > self.max_bytes {
            return Err(YErr::too_large(self.max_bytes));
        }
        self.spend(len as u64 / 64)
    }

    /// Pays for reading `len` bytes of text (a scan, a search).
    pub(crate) fn read(&self, len: usize) -> R<()> {
        self.spend(len as u64 / 64)
    }

    /// The items of an iterable value (yaql's `Iterable`: not strings or
    /// dicts).
    pub(crate) fn iter(&'a self, v: &Val<'a>) -> R<ValIter<'a>> {
        Ok(match v {
            Val::Json(Value::Array(a)) => ValIter::Json(a.iter()),
            Val::Seq(s) => ValIter::Seq(s.clone(), 0),
            Val::Set(s) => ValIter::Set(s.clone(), 0),
            Val::Iter(i) => ValIter::Lazy(i.clone()),
            Val::Ordered(o) => ValIter::Seq(sorted(self, o)?, 0),
            Val::View(view) => match (&view.dict, view.kind) {
                (Val::Json(Value::Object(m)), ViewKind::Keys) => ValIter::JsonKeys(m.keys()),
                (Val::Json(Value::Object(m)), ViewKind::Values) => ValIter::JsonValues(m.values()),
                (Val::Json(Value::Object(m)), ViewKind::Items) => ValIter::JsonItems(m.iter()),
                (Val::Dict(d), ViewKind::Keys) => ValIter::DictKeys(d.clone(), 0),
                (Val::Dict(d), ViewKind::Values) => ValIter::DictValues(d.clone(), 0),
                (Val::Dict(d), ViewKind::Items) => ValIter::DictItems(d.clone(), 0),
                _ => ValIter::Empty,
            },
            other => {
                return Err(YErr::eval(format!(
                    "{} is not a collection",
                    describe(other)
                )))
            }
        })
    }

    /// Every item of an iterable value.
    pub(crate) fn collect(&'a self, v: &Val<'a>) -> R<Vec<Val<'a>>> {
        let it = self.iter(v)?;
        let mut out = Vec::with_capacity(it.size_hint().0);
        for item in it {
            out.push(item?);
        }
        Ok(out)
    }
}

/// A value named in a message: its type, and its text when short.
pub(crate) fn describe(v: &Val<'_>) -> String {
    let shown = match v {
        Val::Null => return "null".to_owned(),
        Val::Bool(b) => Some(b.to_string()),
        Val::Int(i) => Some(i.to_string()),
        Val::Float(f) => Some(value::float_repr(*f)),
        Val::Str(s) if s.as_str().chars().count() <= 30 => Some(value::str_repr(s.as_str())),
        _ => None,
    };
    match shown {
        Some(s) => format!("{} ({s})", v.type_name()),
        None => v.type_name().to_owned(),
    }
}

/// A chain of scopes, innermost first.
pub(crate) struct Scope<'a> {
    parent: Option<Rc<Scope<'a>>>,
    vars: Vec<(VarName, Val<'a>)>,
}

impl<'a> Scope<'a> {
    pub(crate) fn root() -> Rc<Scope<'a>> {
        Rc::new(Scope {
            parent: None,
            vars: Vec::new(),
        })
    }

    fn lookup(self: &Rc<Self>, name: &VarName) -> Val<'a> {
        let mut scope = Some(self);
        while let Some(s) = scope {
            if let Some((_, v)) = s.vars.iter().rev().find(|(n, _)| n == name) {
                return v.clone();
            }
            scope = s.parent.as_ref();
        }
        Val::Null
    }
}

/// An argument evaluated by the function it is given to, once per item.
#[derive(Clone)]
pub(crate) struct Lambda<'a> {
    node: &'a Node,
    scope: Rc<Scope<'a>>,
}

impl<'a> Lambda<'a> {
    /// Evaluates the lambda with `args` as `$1`, `$2`…
    pub(crate) fn call(&self, st: &'a State<'a>, args: &[Val<'a>]) -> R<Val<'a>> {
        if args.is_empty() {
            return eval(st, &self.scope, self.node);
        }
        let scope = Rc::new(Scope {
            parent: Some(self.scope.clone()),
            vars: args
                .iter()
                .enumerate()
                .map(|(i, v)| (VarName::Pos(i as u32 + 1), v.clone()))
                .collect(),
        });
        eval(st, &scope, self.node)
    }

    /// Calls the lambda with one argument.
    pub(crate) fn call1(&self, st: &'a State<'a>, arg: Val<'a>) -> R<Val<'a>> {
        let scope = Rc::new(Scope {
            parent: Some(self.scope.clone()),
            vars: vec![(VarName::Pos(1), arg)],
        });
        eval(st, &scope, self.node)
    }
}

impl std::fmt::Debug for Lambda<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lambda")
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

fn let_<'a>(
    st: &'a State<'a>,
    scope: &Rc<Scope<'a>>,
    l: &'a super::compile::LetNode,
) -> R<Val<'a>> {
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
            ArgNode::Lazy(n) => ArgVal::Lambda(Lambda {
                node: n,
                scope: scope.clone(),
            }),
            ArgNode::Pair(k, v) => ArgVal::Pair(eval(st, scope, k)?, eval(st, scope, v)?),
            ArgNode::LazyPair(k, v) => ArgVal::LazyPair(
                Lambda {
                    node: k,
                    scope: scope.clone(),
                },
                Lambda {
                    node: v,
                    scope: scope.clone(),
                },
            ),
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
    let size = crate::expr::json_size_within(&out, st.max_bytes)
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

/// Python's ordering of two numbers.
fn num_cmp(a: &Val<'_>, b: &Val<'_>) -> Option<std::cmp::Ordering> {
    match (num_parts(a), num_parts(b)) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
        (Num::F(x), Num::F(y)) => x.partial_cmp(&y),
        (Num::I(i), Num::F(f)) => int_float_cmp(i, f),
        (Num::F(f), Num::I(i)) => int_float_cmp(i, f).map(std::cmp::Ordering::reverse),
    }
}

/// `<`, `<=`, `>`, `>=` as yaql defines them: numbers, strings, sets,
/// and null below everything else.
pub(crate) fn compare(op: BinOp, a: &Val<'_>, b: &Val<'_>) -> R<bool> {
    use std::cmp::Ordering::*;
    let holds = |o: Option<std::cmp::Ordering>| match (op, o) {
        (_, None) => false,
        (BinOp::Lt, Some(o)) => o == Less,
        (BinOp::Le, Some(o)) => o != Greater,
        (BinOp::Gt, Some(o)) => o == Greater,
        _ => o != Some(Less),
    };
    match (a, b) {
        (Val::Null, Val::Null) => Ok(matches!(op, BinOp::Le | BinOp::Ge)),
        (Val::Null, _) => Ok(matches!(op, BinOp::Lt | BinOp::Le)),
        (_, Val::Null) => Ok(matches!(op, BinOp::Gt | BinOp::Ge)),
        (Val::Str(x), Val::Str(y)) => Ok(holds(Some(x.as_str().cmp(y.as_str())))),
        _ if a.is_number() && b.is_number() => Ok(holds(num_cmp(a, b))),
        _ if a.is_set() && b.is_set() => Err(YErr::eval(
            "comparing sets (subsets) is not supported in weft: use `all()` over one of them",
        )),
        _ => Err(YErr::eval(format!(
            "`{}` cannot compare {} with {}",
            op.text(),
            describe(a),
            describe(b)
        ))),
    }
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

/// Sorts an `orderBy` result once: by each key in turn, stable, with
/// yaql's `<` and `>`.
pub(crate) fn sorted<'a>(st: &'a State<'a>, o: &Ordered<'a>) -> R<Rc<Seq<'a>>> {
    if let Some(s) = o.sorted.get() {
        return Ok(s.clone());
    }
    let items = st.collect(&o.source)?;
    let keys = o.keys.borrow().clone();
    let mut keyed = Vec::with_capacity(items.len());
    for item in items {
        let mut ks = Vec::with_capacity(keys.len());
        for (f, _) in &keys {
            ks.push(f.call1(st, item.clone())?);
        }
        keyed.push((ks, item));
    }
    let mut failure: Option<Box<YErr>> = None;
    keyed.sort_by(|(x, _), (y, _)| {
        for (i, (_, ascending)) in keys.iter().enumerate() {
            let order = match (
                compare(BinOp::Lt, &x[i], &y[i]),
                compare(BinOp::Gt, &x[i], &y[i]),
            ) {
                (Ok(true), _) => std::cmp::Ordering::Less,
                (Ok(false), Ok(true)) => std::cmp::Ordering::Greater,
                (Ok(false), Ok(false)) => continue,
                (Err(e), _) | (_, Err(e)) => {
                    failure.get_or_insert(e);
                    return std::cmp::Ordering::Equal;
                }
            };
            return if *ascending { order } else { order.reverse() };
        }
        std::cmp::Ordering::Equal
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let seq = Seq::new(keyed.into_iter().map(|(_, v)| v).collect(), SeqKind::Tuple)?;
    Ok(o.sorted.get_or_init(|| seq).clone())
}
