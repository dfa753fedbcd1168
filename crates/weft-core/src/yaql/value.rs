//! The values a YAQL expression works with while it is evaluated.
//!
//! yaql runs on Python values, and its answers depend on their Python
//! types: the data it reads becomes tuples and frozen dicts, `split()`
//! gives a list (and `[1] = 'a'.split(',')` is false, a tuple is never
//! equal to a list), queries give single-pass iterators, `1 = 1.0 = true`.
//! [`Val`] keeps the distinctions that change an answer:
//!
//! * data from the context is *borrowed* ([`Val::Json`], [`Str::Ref`]):
//!   walking a 5 MB task result copies nothing but the leaves it returns;
//! * sequences built by the expression are tuples or lists ([`SeqKind`]);
//! * dicts are frozen (hashable, as yaql's) or plain (from `ctx()`,
//!   `toDict()`, `delete()`), and keep their insertion order;
//! * query results are lazy iterators ([`Iter`]), consumed once, as in
//!   yaql: `first()` after `where()` stops at the first match.
//!
//! Every built container records how deeply it nests, and none may nest
//! deeper than [`ExpressionLimits::max_depth`](crate::ExpressionLimits):
//! dropping, printing and converting a value recurse, and must not
//! overflow the stack.

use std::cell::{OnceCell, RefCell};
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::ast::{BinOp, VarName};
use super::state::State;
use super::{YErr, R};
use crate::limits::json_size_within;

/// A string: borrowed from the context, or made by the expression.
#[derive(Clone, Debug)]
pub(crate) enum Str<'a> {
    Ref(&'a str),
    Own(Rc<str>),
}

impl Str<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Str::Ref(s) => s,
            Str::Own(s) => s,
        }
    }
}

/// A value during evaluation.
#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Str<'a>),
    /// A list or map of the context (a tuple or a frozen dict to yaql), or
    /// a number too large for 64-bit integers, borrowed where it sits.
    Json(&'a Value),
    Seq(Rc<Seq<'a>>),
    Dict(Rc<Dict<'a>>),
    Set(Rc<SetVal<'a>>),
    /// A query's result: single-pass, as yaql's Python iterators.
    Iter(Rc<Iter<'a>>),
    /// `orderBy()`'s result: sorted on first use, then re-iterable.
    Ordered(Rc<Ordered<'a>>),
    /// `keys()`, `values()` or `items()` of a dict.
    View(Rc<View<'a>>),
}

/// Python's tuple or list: both are sequences, but never equal to each
/// other, and only a tuple is hashable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SeqKind {
    Tuple,
    List,
}

/// A sequence built by the expression.
#[derive(Debug)]
pub(crate) struct Seq<'a> {
    pub(crate) items: Vec<Val<'a>>,
    pub(crate) kind: SeqKind,
    depth: u32,
}

/// A dict built by the expression, in insertion order.
#[derive(Debug)]
pub(crate) struct Dict<'a> {
    pub(crate) map: IndexMap<HKey<'a>, Val<'a>, KeyHasher>,
    /// yaql's `FrozenDict` (hashable) rather than a Python `dict`.
    pub(crate) frozen: bool,
    depth: u32,
}

/// A frozen set, in insertion order (yaql's are unordered).
#[derive(Debug)]
pub(crate) struct SetVal<'a> {
    pub(crate) items: IndexMap<HKey<'a>, (), KeyHasher>,
    depth: u32,
}

/// What a [`View`] shows of its dict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ViewKind {
    Keys,
    Values,
    Items,
}

/// A view of a dict ([`Val::Json`] or [`Val::Dict`]).
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub(crate) kind: ViewKind,
    pub(crate) dict: Val<'a>,
}

/// The items a lazy iterator yields.
pub(crate) type DynIter<'a> = Box<dyn Iterator<Item = R<Val<'a>>> + 'a>;

/// A single-pass iterator, shared: whoever pulls an item takes it.
pub(crate) struct Iter<'a> {
    inner: RefCell<DynIter<'a>>,
    depth: u32,
}

impl std::fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Iter")
    }
}

/// `orderBy()`'s result: the source and the sort keys, sorted on first use.
pub(crate) struct Ordered<'a> {
    pub(crate) source: Val<'a>,
    pub(crate) keys: RefCell<Vec<(Lambda<'a>, bool)>>,
    pub(crate) sorted: OnceCell<Rc<Seq<'a>>>,
}

impl std::fmt::Debug for Ordered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ordered")
    }
}

/// A hasher for keys that carry their hash already.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KeyHasher;

impl BuildHasher for KeyHasher {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

#[derive(Debug)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A hashable value with its hash: a key of a dict or an item of a set.
/// Equal values (`1`, `1.0`, `true`) have equal hashes, as in Python.
#[derive(Clone, Debug)]
pub(crate) struct HKey<'a> {
    hash: u64,
    pub(crate) val: Val<'a>,
}

impl Hash for HKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for HKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && py_eq(&self.val, &other.val)
    }
}

impl Eq for HKey<'_> {}

impl<'a> HKey<'a> {
    /// The key for `val`, or an error for an unhashable value (a list, a
    /// plain dict), as Python's `TypeError`.
    pub(crate) fn new(val: Val<'a>) -> R<HKey<'a>> {
        let hash = py_hash(&val)?;
        Ok(HKey { hash, val })
    }
}

fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15)).rotate_left(23)
}

fn str_hash(s: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn int_hash(i: i64) -> u64 {
    (i as u64).wrapping_mul(0xFF51_AFD7_ED55_8CCD)
}

/// A hash consistent with [`py_eq`].
pub(crate) fn py_hash(v: &Val<'_>) -> R<u64> {
    Ok(match v {
        Val::Null => 0x6e75_6c6c,
        Val::Bool(b) => int_hash(i64::from(*b)),
        Val::Int(i) => int_hash(*i),
        Val::Float(f) => float_hash(*f),
        Val::Str(s) => str_hash(s.as_str()),
        Val::Json(j) => json_hash(j),
        Val::Seq(s) => match s.kind {
            SeqKind::Tuple => {
                let mut h = 0x7475_706c;
                for item in &s.items {
                    h = mix(h, py_hash(item)?);
                }
                h
            }
            SeqKind::List => return Err(unhashable("list")),
        },
        Val::Dict(d) => {
            if !d.frozen {
                return Err(unhashable("dict"));
            }
            let mut h = 0x6469_6374;
            for (k, v) in &d.map {
                h ^= mix(k.hash, py_hash(v)?);
            }
            h
        }
        Val::Set(s) => {
            let mut h = 0x7365_7473;
            for k in s.items.keys() {
                h ^= k.hash;
            }
            h
        }
        Val::Iter(i) => Rc::as_ptr(i) as *const () as usize as u64,
        Val::Ordered(o) => Rc::as_ptr(o) as *const () as usize as u64,
        Val::View(v) => match v.kind {
            ViewKind::Values => Rc::as_ptr(v) as *const () as usize as u64,
            _ => return Err(unhashable("set view")),
        },
    })
}

fn float_hash(f: f64) -> u64 {
    if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
        int_hash(f as i64)
    } else {
        f.to_bits()
    }
}

fn json_hash(j: &Value) -> u64 {
    match j {
        Value::Null => 0x6e75_6c6c,
        Value::Bool(b) => int_hash(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => int_hash(i),
            None => float_hash(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => str_hash(s),
        Value::Array(a) => a.iter().fold(0x7475_706c, |h, v| mix(h, json_hash(v))),
        Value::Object(m) => m
            .iter()
            .fold(0x6469_6374, |h, (k, v)| h ^ mix(str_hash(k), json_hash(v))),
    }
}

fn unhashable(what: &str) -> Box<YErr> {
    YErr::eval(format!(
        "a {what} cannot be a dict key or a set item (unhashable in yaql): use a tuple or `toList()`"
    ))
}

/// Python's `str.isspace()` for one character.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// A JSON scalar as a value; lists and maps stay borrowed.
pub(crate) fn from_json(v: &Value) -> Val<'_> {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i),
            // u64 beyond i64 stays as it is, and only arithmetic refuses it.
            None if n.is_u64() => Val::Json(v),
            None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Val::Str(Str::Ref(s)),
        Value::Array(_) | Value::Object(_) => Val::Json(v),
    }
}

impl<'a> Val<'a> {
    pub(crate) fn str(s: impl Into<Rc<str>>) -> Val<'a> {
        Val::Str(Str::Own(s.into()))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// yaql's `Number`: an int or a float, not a boolean.
    pub(crate) fn is_number(&self) -> bool {
        matches!(self, Val::Int(_) | Val::Float(_)) || self.big_int().is_some()
    }

    /// A JSON integer too large for i64.
    pub(crate) fn big_int(&self) -> Option<u64> {
        match self {
            Val::Json(Value::Number(n)) => n.as_u64(),
            _ => None,
        }
    }

    /// Python's `int` (booleans included, as in yaql's `int` parameters).
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            Val::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// A Python sequence that is not a string: a tuple or a list.
    pub(crate) fn is_sequence(&self) -> bool {
        matches!(self, Val::Json(Value::Array(_)) | Val::Seq(_))
    }

    pub(crate) fn is_mapping(&self) -> bool {
        matches!(self, Val::Json(Value::Object(_)) | Val::Dict(_))
    }

    /// yaql's `Iterable`: anything iterable but strings and dicts.
    pub(crate) fn is_iterable(&self) -> bool {
        matches!(
            self,
            Val::Json(Value::Array(_))
                | Val::Seq(_)
                | Val::Set(_)
                | Val::Iter(_)
                | Val::Ordered(_)
                | Val::View(_)
        )
    }

    /// A Python set (frozen set, or a keys or items view).
    pub(crate) fn is_set(&self) -> bool {
        match self {
            Val::Set(_) => true,
            Val::View(v) => v.kind != ViewKind::Values,
            _ => false,
        }
    }

    /// How deep a built value nests (data of the context counts 0).
    pub(crate) fn depth(&self) -> u32 {
        match self {
            Val::Seq(s) => s.depth,
            Val::Dict(d) => d.depth,
            Val::Set(s) => s.depth,
            Val::Iter(i) => i.depth,
            Val::Ordered(o) => o.source.depth() + 1,
            Val::View(v) => v.dict.depth() + 1,
            _ => 0,
        }
    }

    /// The name of the value's type, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "a boolean",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a float",
            Val::Str(_) => "a string",
            Val::Json(Value::Array(_)) => "a list",
            Val::Json(Value::Object(_)) => "a dict",
            Val::Json(_) => "an integer",
            Val::Seq(_) => "a list",
            Val::Dict(_) => "a dict",
            Val::Set(_) => "a set",
            Val::Iter(_) | Val::Ordered(_) => "a query result",
            Val::View(v) => match v.kind {
                ViewKind::Keys => "a dict's keys",
                ViewKind::Values => "a dict's values",
                ViewKind::Items => "a dict's items",
            },
        }
    }

    /// Python's truth value.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.as_str().is_empty(),
            Val::Json(Value::Array(a)) => !a.is_empty(),
            Val::Json(Value::Object(m)) => !m.is_empty(),
            Val::Json(_) => true,
            Val::Seq(s) => !s.items.is_empty(),
            Val::Dict(d) => !d.map.is_empty(),
            Val::Set(s) => !s.items.is_empty(),
            // Python objects without `__len__` are true.
            Val::Iter(_) | Val::Ordered(_) => true,
            Val::View(v) => v.dict.truthy(),
        }
    }
}

/// The deepest of `items`, plus one, within the limit.
fn container_depth<'v, 'a: 'v>(items: impl IntoIterator<Item = &'v Val<'a>>) -> R<u32> {
    let d = items.into_iter().map(Val::depth).max().unwrap_or(0) + 1;
    check_depth(d)?;
    Ok(d)
}

pub(crate) fn check_depth(d: u32) -> R<()> {
    let max = crate::ExpressionLimits::current().max_depth.max(8);
    if d > max {
        return Err(YErr::limit(format!(
            "the value nests more than {max} levels deep (ExpressionLimits::max_depth): build flatter values"
        )));
    }
    Ok(())
}

impl<'a> Seq<'a> {
    pub(crate) fn new(items: Vec<Val<'a>>, kind: SeqKind) -> R<Rc<Seq<'a>>> {
        let depth = container_depth(&items)?;
        Ok(Rc::new(Seq { items, kind, depth }))
    }
}

/// A tuple of `items`.
pub(crate) fn tuple<'a>(items: Vec<Val<'a>>) -> R<Val<'a>> {
    Ok(Val::Seq(Seq::new(items, SeqKind::Tuple)?))
}

/// A Python list of `items`.
pub(crate) fn list<'a>(items: Vec<Val<'a>>) -> R<Val<'a>> {
    Ok(Val::Seq(Seq::new(items, SeqKind::List)?))
}

impl<'a> Dict<'a> {
    pub(crate) fn new(
        map: IndexMap<HKey<'a>, Val<'a>, KeyHasher>,
        frozen: bool,
    ) -> R<Rc<Dict<'a>>> {
        let depth = container_depth(map.keys().map(|k| &k.val).chain(map.values()))?;
        Ok(Rc::new(Dict { map, frozen, depth }))
    }

    /// A dict of `pairs`; a later key replaces an earlier one's value and
    /// keeps its place, as Python's dict does.
    pub(crate) fn from_pairs(
        pairs: impl IntoIterator<Item = (Val<'a>, Val<'a>)>,
        frozen: bool,
    ) -> R<Val<'a>> {
        let mut map = IndexMap::with_hasher(KeyHasher);
        for (k, v) in pairs {
            map.insert(HKey::new(k)?, v);
        }
        Ok(Val::Dict(Dict::new(map, frozen)?))
    }
}

impl<'a> SetVal<'a> {
    pub(crate) fn from_items(items: impl IntoIterator<Item = Val<'a>>) -> R<Val<'a>> {
        let mut set = IndexMap::with_hasher(KeyHasher);
        for v in items {
            set.entry(HKey::new(v)?).or_insert(());
        }
        let depth = container_depth(set.keys().map(|k| &k.val))?;
        Ok(Val::Set(Rc::new(SetVal { items: set, depth })))
    }
}

impl<'a> Iter<'a> {
    /// A lazy iterator over `inner`, which reads a source of `depth`.
    pub(crate) fn wrap(inner: DynIter<'a>, source_depth: u32) -> R<Val<'a>> {
        let depth = source_depth + 1;
        check_depth(depth)?;
        Ok(Val::Iter(Rc::new(Iter {
            inner: RefCell::new(inner),
            depth,
        })))
    }

    /// The next item, or `None` once it is used up.
    pub(crate) fn pull(&self) -> Option<R<Val<'a>>> {
        match self.inner.try_borrow_mut() {
            Ok(mut it) => it.next(),
            Err(_) => Some(Err(YErr::eval(
                "a query result was read while it was being read (yaql's iterators are single-pass): make a list of it first with `toList()`",
            ))),
        }
    }
}

/// Iterates over any iterable value, borrowing what it can.
pub(crate) enum ValIter<'a> {
    Json(std::slice::Iter<'a, Value>),
    Seq(Rc<Seq<'a>>, usize),
    Set(Rc<SetVal<'a>>, usize),
    Lazy(Rc<Iter<'a>>),
    JsonKeys(serde_json::map::Keys<'a>),
    JsonValues(serde_json::map::Values<'a>),
    JsonItems(serde_json::map::Iter<'a>),
    DictKeys(Rc<Dict<'a>>, usize),
    DictValues(Rc<Dict<'a>>, usize),
    DictItems(Rc<Dict<'a>>, usize),
    Empty,
}

impl<'a> Iterator for ValIter<'a> {
    type Item = R<Val<'a>>;

    fn next(&mut self) -> Option<R<Val<'a>>> {
        match self {
            ValIter::Json(it) => it.next().map(|v| Ok(from_json(v))),
            ValIter::Seq(s, i) => {
                let v = s.items.get(*i)?.clone();
                *i += 1;
                Some(Ok(v))
            }
            ValIter::Set(s, i) => {
                let v = s.items.get_index(*i)?.0.val.clone();
                *i += 1;
                Some(Ok(v))
            }
            ValIter::Lazy(it) => it.pull(),
            ValIter::JsonKeys(k) => k.next().map(|k| Ok(Val::Str(Str::Ref(k)))),
            ValIter::JsonValues(v) => v.next().map(|v| Ok(from_json(v))),
            ValIter::JsonItems(it) => it
                .next()
                .map(|(k, v)| tuple(vec![Val::Str(Str::Ref(k)), from_json(v)])),
            ValIter::DictKeys(d, i) => {
                let v = d.map.get_index(*i)?.0.val.clone();
                *i += 1;
                Some(Ok(v))
            }
            ValIter::DictValues(d, i) => {
                let v = d.map.get_index(*i)?.1.clone();
                *i += 1;
                Some(Ok(v))
            }
            ValIter::DictItems(d, i) => {
                let (k, v) = d.map.get_index(*i)?;
                *i += 1;
                Some(tuple(vec![k.val.clone(), v.clone()]))
            }
            ValIter::Empty => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ValIter::Json(it) => it.size_hint(),
            ValIter::Seq(s, i) => {
                let n = s.items.len().saturating_sub(*i);
                (n, Some(n))
            }
            _ => (0, None),
        }
    }
}

/// Python's `==`, as yaql's `=` uses it.
pub(crate) fn py_eq<'a>(a: &Val<'a>, b: &Val<'a>) -> bool {
    use Val::*;
    match (a, b) {
        (Null, Null) => true,
        (Null, _) | (_, Null) => false,
        (Str(x), Str(y)) => x.as_str() == y.as_str(),
        (Str(_), _) | (_, Str(_)) => false,
        _ if is_numeric(a) && is_numeric(b) => num_eq(a, b),
        (Json(x), Json(y)) if x == y => true,
        (Iter(x), Iter(y)) => Rc::ptr_eq(x, y),
        (Ordered(x), Ordered(y)) => Rc::ptr_eq(x, y),
        (View(x), View(y)) if x.kind == ViewKind::Values || y.kind == ViewKind::Values => {
            Rc::ptr_eq(x, y)
        }
        _ if a.is_sequence() && b.is_sequence() => seq_kind(a) == seq_kind(b) && seq_eq(a, b),
        _ if a.is_mapping() && b.is_mapping() => map_eq(a, b),
        _ if a.is_set() && b.is_set() => set_eq(a, b),
        _ => false,
    }
}

fn is_numeric(v: &Val<'_>) -> bool {
    matches!(v, Val::Bool(_) | Val::Int(_) | Val::Float(_)) || v.big_int().is_some()
}

/// A number as an exact pair: an integer part when it is one.
fn num_eq<'a>(a: &Val<'a>, b: &Val<'a>) -> bool {
    match (num_parts(a), num_parts(b)) {
        (Num::I(x), Num::I(y)) => x == y,
        (Num::F(x), Num::F(y)) => x == y,
        (Num::I(i), Num::F(f)) | (Num::F(f), Num::I(i)) => {
            int_float_cmp(i, f) == Some(std::cmp::Ordering::Equal)
        }
    }
}

pub(crate) enum Num {
    I(i128),
    F(f64),
}

pub(crate) fn num_parts(v: &Val<'_>) -> Num {
    match v {
        Val::Bool(b) => Num::I(i128::from(*b)),
        Val::Int(i) => Num::I(i128::from(*i)),
        Val::Float(f) => Num::F(*f),
        other => match other.big_int() {
            Some(u) => Num::I(i128::from(u)),
            None => Num::F(f64::NAN),
        },
    }
}

/// Compares an integer and a float exactly, as Python does.
pub(crate) fn int_float_cmp(i: i128, f: f64) -> Option<std::cmp::Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        });
    }
    // Every float in i128's range with no fraction converts exactly.
    let t = f.trunc();
    if t.abs() < 1e38 {
        let ti = t as i128;
        return Some(match i.cmp(&ti) {
            std::cmp::Ordering::Equal => {
                if f > t {
                    std::cmp::Ordering::Less
                } else if f < t {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            }
            o => o,
        });
    }
    Some(if f > 0.0 {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Greater
    })
}

fn seq_kind(v: &Val<'_>) -> SeqKind {
    match v {
        Val::Seq(s) => s.kind,
        _ => SeqKind::Tuple,
    }
}

/// Elements of a sequence without cloning containers.
fn seq_items<'v, 'a>(v: &'v Val<'a>) -> Box<dyn Iterator<Item = Val<'a>> + 'v>
where
    'a: 'v,
{
    match v {
        Val::Json(Value::Array(a)) => Box::new(a.iter().map(from_json)),
        Val::Seq(s) => Box::new(s.items.iter().cloned()),
        _ => Box::new(std::iter::empty()),
    }
}

fn seq_len(v: &Val<'_>) -> usize {
    match v {
        Val::Json(Value::Array(a)) => a.len(),
        Val::Seq(s) => s.items.len(),
        _ => 0,
    }
}

fn seq_eq<'a>(a: &Val<'a>, b: &Val<'a>) -> bool {
    seq_len(a) == seq_len(b) && seq_items(a).zip(seq_items(b)).all(|(x, y)| py_eq(&x, &y))
}

/// The value at `key` of a mapping (`None` when it has no such key).
pub(crate) fn map_get<'a>(m: &Val<'a>, key: &Val<'a>) -> R<Option<Val<'a>>> {
    Ok(match m {
        Val::Json(Value::Object(map)) => match key {
            Val::Str(k) => crate::view::get_key(map, k.as_str()).map(from_json),
            // Only strings are keys of a JSON map; an unhashable key is
            // still an error, as in Python.
            other => {
                py_hash(other)?;
                None
            }
        },
        Val::Dict(d) => d.map.get(&HKey::new(key.clone())?).cloned(),
        _ => None,
    })
}

pub(crate) fn map_len(m: &Val<'_>) -> usize {
    match m {
        Val::Json(Value::Object(map)) => map.len(),
        Val::Dict(d) => d.map.len(),
        _ => 0,
    }
}

/// The key-value pairs of a mapping, in order.
pub(crate) fn map_pairs<'v, 'a: 'v>(
    m: &'v Val<'a>,
) -> Box<dyn Iterator<Item = (Val<'a>, Val<'a>)> + 'v> {
    match m {
        Val::Json(Value::Object(map)) => Box::new(
            map.iter()
                .map(|(k, v)| (Val::Str(Str::Ref(k)), from_json(v))),
        ),
        Val::Dict(d) => Box::new(d.map.iter().map(|(k, v)| (k.val.clone(), v.clone()))),
        _ => Box::new(std::iter::empty()),
    }
}

fn map_eq<'a>(a: &Val<'a>, b: &Val<'a>) -> bool {
    map_len(a) == map_len(b)
        && map_pairs(a).all(|(k, v)| matches!(map_get(b, &k), Ok(Some(w)) if py_eq(&v, &w)))
}

/// The items of a set-like value (a set, or a keys or items view).
fn set_items<'a>(v: &Val<'a>) -> Vec<Val<'a>> {
    match v {
        Val::Set(s) => s.items.keys().map(|k| k.val.clone()).collect(),
        Val::View(view) => match view.kind {
            ViewKind::Keys => map_pairs(&view.dict).map(|(k, _)| k).collect(),
            _ => map_pairs(&view.dict)
                .filter_map(|(k, v)| tuple(vec![k, v]).ok())
                .collect(),
        },
        _ => Vec::new(),
    }
}

fn set_eq<'a>(a: &Val<'a>, b: &Val<'a>) -> bool {
    let (x, y) = (set_items(a), set_items(b));
    x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| py_eq(p, q)))
}

/// How values are printed: as yaql's `str()` prints what it holds
/// (tuples as `(1, 2)`), or as Orquesta prints a result it interpolates
/// into text, after yaql turned tuples and iterators into lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    Yaql,
    Output,
}

/// A string that stops growing at a limit.
pub(crate) struct Out {
    pub(crate) text: String,
    max: usize,
    pub(crate) over: bool,
}

impl Out {
    pub(crate) fn new(max: usize) -> Out {
        Out {
            text: String::new(),
            max,
            over: false,
        }
    }

    pub(crate) fn push(&mut self, s: &str) -> R<()> {
        if self.text.len().saturating_add(s.len()) > self.max {
            self.over = true;
            return Err(YErr::too_large(self.max));
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// Python's `str()` of a value: strings as they are, the rest as `repr`.
pub(crate) fn py_str<'a>(st: &'a State<'a>, v: &Val<'a>, style: Style, out: &mut Out) -> R<()> {
    match v {
        Val::Str(s) => out.push(s.as_str()),
        other => py_repr(st, other, style, out),
    }
}

/// Python's `repr()` of a value.
pub(crate) fn py_repr<'a>(st: &'a State<'a>, v: &Val<'a>, style: Style, out: &mut Out) -> R<()> {
    match v {
        Val::Null => out.push("None"),
        Val::Bool(true) => out.push("True"),
        Val::Bool(false) => out.push("False"),
        Val::Int(i) => out.push(&i.to_string()),
        Val::Float(f) => out.push(&float_repr(*f)),
        Val::Str(s) => out.push(&str_repr(s.as_str())),
        Val::Json(Value::Number(n)) => out.push(&n.to_string()),
        Val::Json(Value::Array(a)) => {
            let tuple = style == Style::Yaql;
            seq_repr(
                st,
                a.iter().map(|j| Ok(from_json(j))),
                a.len(),
                tuple,
                style,
                out,
            )
        }
        Val::Json(Value::Object(_)) | Val::Dict(_) => {
            out.push("{")?;
            for (i, (k, v)) in map_pairs(v).enumerate() {
                if i > 0 {
                    out.push(", ")?;
                }
                py_repr(st, &k, style, out)?;
                out.push(": ")?;
                py_repr(st, &v, style, out)?;
            }
            out.push("}")
        }
        Val::Json(other) => out.push(&other.to_string()),
        Val::Seq(s) => {
            let tuple = style == Style::Yaql && s.kind == SeqKind::Tuple;
            seq_repr(
                st,
                s.items.iter().cloned().map(Ok),
                s.items.len(),
                tuple,
                style,
                out,
            )
        }
        Val::Set(s) => {
            let items: Vec<_> = s.items.keys().map(|k| k.val.clone()).collect();
            set_repr(st, &items, style, out)
        }
        Val::View(view) if style == Style::Yaql => {
            let name = match (view.kind, is_frozen(&view.dict)) {
                (ViewKind::Keys, true) => "KeysView(",
                (ViewKind::Values, true) => "ValuesView(",
                (ViewKind::Items, true) => "ItemsView(",
                (ViewKind::Keys, false) => "dict_keys(",
                (ViewKind::Values, false) => "dict_values(",
                (ViewKind::Items, false) => "dict_items(",
            };
            out.push(name)?;
            if is_frozen(&view.dict) {
                py_repr(st, &view.dict, style, out)?;
            } else {
                let items: Vec<_> = iter_items(st, v)?;
                let n = items.len();
                seq_repr(st, items.into_iter().map(Ok), n, false, style, out)?;
            }
            out.push(")")
        }
        Val::View(view) if view.kind == ViewKind::Items => Err(items_result()),
        Val::View(view) if view.kind != ViewKind::Values => {
            let items = iter_items(st, v)?;
            set_repr(st, &items, style, out)
        }
        // Iterators print as the list they give (yaql would print a
        // Python object's address).
        Val::View(_) | Val::Iter(_) | Val::Ordered(_) => {
            let items = iter_items(st, v)?;
            let n = items.len();
            seq_repr(st, items.into_iter().map(Ok), n, false, style, out)
        }
    }
}

/// yaql turns a result that is a set into a Python set, and a dict's
/// items (a set of pairs, which are lists by then) cannot be one.
fn items_result() -> Box<YErr> {
    YErr::eval(
        "a dict's `items()` cannot be a result (yaql fails on it too): select from them, e.g. `.items().select([$[0], $[1]])`",
    )
}

fn is_frozen(v: &Val<'_>) -> bool {
    match v {
        Val::Dict(d) => d.frozen,
        _ => true,
    }
}

fn iter_items<'a>(st: &'a State<'a>, v: &Val<'a>) -> R<Vec<Val<'a>>> {
    let mut items = Vec::new();
    for item in st.iter(v)? {
        items.push(item?);
    }
    Ok(items)
}

fn seq_repr<'a>(
    st: &'a State<'a>,
    items: impl Iterator<Item = R<Val<'a>>>,
    len: usize,
    tuple: bool,
    style: Style,
    out: &mut Out,
) -> R<()> {
    out.push(if tuple { "(" } else { "[" })?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(", ")?;
        }
        py_repr(st, &item?, style, out)?;
    }
    if tuple && len == 1 {
        out.push(",")?;
    }
    out.push(if tuple { ")" } else { "]" })
}

fn set_repr<'a>(st: &'a State<'a>, items: &[Val<'a>], style: Style, out: &mut Out) -> R<()> {
    let frozen = style == Style::Yaql;
    if items.is_empty() {
        return out.push(if frozen { "frozenset()" } else { "set()" });
    }
    if frozen {
        out.push("frozenset(")?;
    }
    out.push("{")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(", ")?;
        }
        py_repr(st, item, style, out)?;
    }
    out.push("}")?;
    if frozen {
        out.push(")")?;
    }
    Ok(())
}

/// Python's `repr()` of a float: the shortest digits that read back the
/// same, in fixed notation from 1e-4 up to 1e16 and in exponent notation
/// outside (`1e+16`, `1.5e-05`).
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            s.push_str("0.");
            for _ in 0..(-exp - 1) {
                s.push('0');
            }
            s.push_str(&digits);
        } else {
            let point = exp as usize + 1;
            if digits.len() <= point {
                s.push_str(&digits);
                for _ in digits.len()..point {
                    s.push('0');
                }
                s.push_str(".0");
            } else {
                s.push_str(&digits[..point]);
                s.push('.');
                s.push_str(&digits[point..]);
            }
        }
    } else {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let _ = write!(s, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    s
}

/// Python's `repr()` of a string: single quotes unless it holds one and
/// no double quote; backslash escapes for what is not printable.
pub(crate) fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let n = c as u32;
                let _ = if n < 0x100 {
                    write!(out, "\\x{n:02x}")
                } else if n < 0x10000 {
                    write!(out, "\\u{n:04x}")
                } else {
                    write!(out, "\\U{n:08x}")
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character, as far as it can be
/// told without Unicode's category tables: controls, separators other
/// than the space, format characters and private use are not printable.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || n == 0x1680
        || (0x2000..=0x200f).contains(&n)
        || (0x2028..=0x202f).contains(&n)
        || (0x205f..=0x2064).contains(&n)
        || (0x2066..=0x206f).contains(&n)
        || n == 0x3000
        || n == 0xfeff
        || (0xfff9..=0xfffb).contains(&n)
        || (0xe000..=0xf8ff).contains(&n)
        || n >= 0xf0000
        || (0x600..=0x605).contains(&n)
        || n == 0x61c
        || n == 0x6dd
        || n == 0x70f
        || n == 0x180e)
}

/// Converts a value to JSON, spending `budget` bytes (about its size as
/// JSON text) on what is copied; `usize::MAX` measures nothing.
pub(crate) fn to_json<'a>(st: &'a State<'a>, v: &Val<'a>, budget: &mut usize) -> R<Value> {
    fn spend(budget: &mut usize, n: usize) -> R<()> {
        if *budget == usize::MAX {
            return Ok(());
        }
        *budget = budget
            .checked_sub(n)
            .ok_or_else(|| YErr::too_large(crate::ExpressionLimits::current().max_value_bytes))?;
        Ok(())
    }
    Ok(match v {
        Val::Null => {
            spend(budget, 4)?;
            Value::Null
        }
        Val::Bool(b) => {
            spend(budget, 5)?;
            Value::Bool(*b)
        }
        Val::Int(i) => {
            spend(budget, 8)?;
            Value::from(*i)
        }
        Val::Float(f) => {
            spend(budget, 8)?;
            match serde_json::Number::from_f64(*f) {
                Some(n) => Value::Number(n),
                None => {
                    return Err(YErr::eval(format!(
                        "the result holds {}, which JSON cannot hold: keep numbers finite",
                        float_repr(*f)
                    )))
                }
            }
        }
        Val::Str(s) => {
            spend(budget, s.as_str().len() + 2)?;
            Value::String(s.as_str().to_owned())
        }
        Val::Json(j) => {
            if *budget != usize::MAX {
                let size = json_size_within(j, *budget).ok_or_else(|| {
                    YErr::too_large(crate::ExpressionLimits::current().max_value_bytes)
                })?;
                spend(budget, size)?;
            }
            (*j).clone()
        }
        Val::Dict(_) => {
            let mut map = Map::new();
            for (k, val) in map_pairs(v) {
                let key = json_key(&k)?;
                spend(budget, key.len() + 4)?;
                let val = to_json(st, &val, budget)?;
                map.insert(key, val);
            }
            Value::Object(map)
        }
        Val::Seq(s) => {
            let mut out = Vec::with_capacity(s.items.len());
            for item in &s.items {
                spend(budget, 1)?;
                out.push(to_json(st, item, budget)?);
            }
            Value::Array(out)
        }
        Val::View(view) if view.kind == ViewKind::Items => return Err(items_result()),
        _ => {
            let mut out = Vec::new();
            for item in st.iter(v)? {
                spend(budget, 1)?;
                out.push(to_json(st, &item?, budget)?);
            }
            Value::Array(out)
        }
    })
}

/// A dict key as JSON text writes it (Python's `json.dumps` rules): a
/// string as it is, numbers, booleans and null as their JSON text.
fn json_key(k: &Val<'_>) -> R<String> {
    Ok(match k {
        Val::Str(s) => s.as_str().to_owned(),
        Val::Null => "null".to_owned(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) if f.is_finite() => float_repr(*f),
        Val::Json(Value::Number(n)) => n.to_string(),
        other => {
            return Err(YErr::eval(format!(
                "a dict with {} as a key has no JSON form: keys must be strings, numbers, booleans or null",
                other.type_name()
            )))
        }
    })
}

impl<'a> State<'a> {
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
        Val::Float(f) => Some(float_repr(*f)),
        Val::Str(s) if s.as_str().chars().count() <= 30 => Some(str_repr(s.as_str())),
        _ => None,
    };
    match shown {
        Some(s) => format!("{} ({s})", v.type_name()),
        None => v.type_name().to_owned(),
    }
}

/// A chain of scopes, innermost first.
pub(crate) struct Scope<'a> {
    pub(crate) parent: Option<Rc<Scope<'a>>>,
    pub(crate) vars: Vec<(VarName, Val<'a>)>,
}

impl<'a> Scope<'a> {
    pub(crate) fn root() -> Rc<Scope<'a>> {
        Rc::new(Scope {
            parent: None,
            vars: Vec::new(),
        })
    }

    pub(crate) fn lookup(self: &Rc<Self>, name: &VarName) -> Val<'a> {
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

/// What a lambda runs: a compiled node, which the evaluator runs
/// (`eval.rs`). A trait here, so that values, which hold lambdas, need not
/// know the compiled tree.
pub(crate) trait Body {
    /// Evaluates the body in `scope`.
    fn run<'a>(&'a self, st: &'a State<'a>, scope: &Rc<Scope<'a>>) -> R<Val<'a>>;
}

/// An argument evaluated by the function it is given to, once per item.
#[derive(Clone)]
pub(crate) struct Lambda<'a> {
    body: &'a dyn Body,
    scope: Rc<Scope<'a>>,
}

impl<'a> Lambda<'a> {
    /// `body`, evaluated in `scope` with the arguments it is called with.
    pub(crate) fn new(body: &'a dyn Body, scope: Rc<Scope<'a>>) -> Lambda<'a> {
        Lambda { body, scope }
    }

    /// Evaluates the lambda with `args` as `$1`, `$2`…
    pub(crate) fn call(&self, st: &'a State<'a>, args: &[Val<'a>]) -> R<Val<'a>> {
        if args.is_empty() {
            return self.body.run(st, &self.scope);
        }
        let scope = Rc::new(Scope {
            parent: Some(self.scope.clone()),
            vars: args
                .iter()
                .enumerate()
                .map(|(i, v)| (VarName::Pos(i as u32 + 1), v.clone()))
                .collect(),
        });
        self.body.run(st, &scope)
    }

    /// Calls the lambda with one argument.
    pub(crate) fn call1(&self, st: &'a State<'a>, arg: Val<'a>) -> R<Val<'a>> {
        let scope = Rc::new(Scope {
            parent: Some(self.scope.clone()),
            vars: vec![(VarName::Pos(1), arg)],
        });
        self.body.run(st, &scope)
    }
}

impl std::fmt::Debug for Lambda<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lambda")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_prints_them() {
        for (f, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (-2.5, "-2.5"),
            (1e15, "1000000000000000.0"),
            (12.0, "12.0"),
            (3.3333333333333335, "3.3333333333333335"),
            (-0.0, "-0.0"),
            (1e300, "1e+300"),
        ] {
            assert_eq!(float_repr(f), s, "{f:e}");
        }
    }

    #[test]
    fn strings_repr_as_python() {
        assert_eq!(str_repr("a"), "'a'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("it's \"x\""), "'it\\'s \"x\"'");
        assert_eq!(str_repr("a\nb\\"), "'a\\nb\\\\'");
        assert_eq!(str_repr("é\u{0}\u{a0}\u{200b}"), "'é\\x00\\xa0\\u200b'");
    }

    #[test]
    fn equal_values_hash_alike() {
        let one = [Val::Int(1), Val::Float(1.0), Val::Bool(true)];
        for a in &one {
            for b in &one {
                assert!(py_eq(a, b));
                assert_eq!(py_hash(a).unwrap(), py_hash(b).unwrap());
            }
        }
        let j = serde_json::json!([1, "a"]);
        let t = tuple(vec![Val::Int(1), Val::str("a")]).unwrap();
        let l = list(vec![Val::Int(1), Val::str("a")]).unwrap();
        assert!(!py_eq(&t, &l), "a tuple is not a list");
        assert!(py_eq(&t, &Val::Json(&j)));
        assert_eq!(py_hash(&t).unwrap(), py_hash(&Val::Json(&j)).unwrap());
        assert!(py_hash(&l).is_err());
    }
}
