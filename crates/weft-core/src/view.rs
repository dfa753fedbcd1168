//! Lazy views: minijinja objects over the context's `Arc<Value>`s.
//!
//! An expression such as `task.fetch.items[3].name` walks these views one
//! step at a time. Nothing is converted or copied until a leaf (a string, a
//! number) is reached, so the cost does not depend on the size of `fetch`'s
//! result.

use std::fmt::Write as _;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr, ValueKind};
use minijinja::Value as MjValue;
use serde_json::{Map, Value};

use crate::context::{Shared, Variables, WorkflowContext};
use crate::limits::json_size_within;

/// One step of a path into a JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Key(Arc<str>),
    Index(usize),
}

/// A view of one JSON value inside an `Arc`'d tree: the root itself, or
/// one step down from another view. A child costs one allocation and holds
/// its parent, so walking `a.b.c` never copies the path walked so far.
#[derive(Debug)]
pub(crate) struct JsonView(ViewNode);

#[derive(Debug)]
enum ViewNode {
    Root(Arc<Value>),
    /// The key is minijinja's own value: cloning it is free for short keys.
    Key(Arc<JsonView>, MjValue),
    Index(Arc<JsonView>, usize),
}

impl JsonView {
    /// The JSON value this view shows.
    pub(crate) fn node(&self) -> &Value {
        // A view is only made for a step that exists, so the fallbacks to
        // `null` are never taken.
        match &self.0 {
            ViewNode::Root(v) => v,
            ViewNode::Key(parent, key) => match (parent.node(), key.as_str()) {
                (Value::Object(m), Some(k)) => get_key(m, k).unwrap_or(&Value::Null),
                _ => &Value::Null,
            },
            ViewNode::Index(parent, i) => match parent.node() {
                Value::Array(a) => a.get(*i).unwrap_or(&Value::Null),
                _ => &Value::Null,
            },
        }
    }
}

/// `map[key]`, by a scan when the map is small: comparing a few short keys
/// costs less than hashing one.
pub(crate) fn get_key<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() <= 8 {
        map.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        map.get(key)
    }
}

/// A minijinja value for a JSON value held in an `Arc`: containers become
/// lazy views, scalars are converted.
pub(crate) fn arc_to_mj(value: &Arc<Value>) -> MjValue {
    match &**value {
        Value::Object(_) | Value::Array(_) => {
            MjValue::from_object(JsonView(ViewNode::Root(value.clone())))
        }
        scalar => scalar_to_mj(scalar),
    }
}

/// A minijinja value for an owned JSON value.
pub(crate) fn json_to_mj(value: Value) -> MjValue {
    match value {
        Value::Object(_) | Value::Array(_) => arc_to_mj(&Arc::new(value)),
        scalar => scalar_to_mj(&scalar),
    }
}

pub(crate) fn scalar_to_mj(value: &Value) -> MjValue {
    match value {
        Value::Null => MjValue::from(()),
        Value::Bool(b) => MjValue::from(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                MjValue::from(i)
            } else if let Some(u) = n.as_u64() {
                MjValue::from(u)
            } else {
                MjValue::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => MjValue::from(s.as_str()),
        Value::Array(_) | Value::Object(_) => MjValue::from(minijinja::value::Serde(value)),
    }
}

impl Object for JsonView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.node() {
            Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let (value, index) = match self.node() {
            Value::Object(map) => (get_key(map, key.as_str()?)?, None),
            Value::Array(items) => {
                let i = key.as_i64()?;
                let i = if i < 0 {
                    usize::try_from(items.len() as i64 + i).ok()?
                } else {
                    usize::try_from(i).ok()?
                };
                (items.get(i)?, Some(i))
            }
            _ => return None,
        };
        Some(match value {
            Value::Object(_) | Value::Array(_) => MjValue::from_object(JsonView(match index {
                Some(i) => ViewNode::Index(self.clone(), i),
                None => ViewNode::Key(self.clone(), key.clone()),
            })),
            scalar => scalar_to_mj(scalar),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.node() {
            Value::Array(items) => Enumerator::Seq(items.len()),
            // Keys one at a time as they are visited (and paid for), so a
            // loop that stops early does not copy every key of a big map.
            Value::Object(_) => self.mapped_enumerator(|this| match this.node() {
                Value::Object(map) => Box::new(map.keys().map(|k| MjValue::from(k.as_str()))),
                _ => Box::new(std::iter::empty()),
            }),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.node() {
            Value::Array(items) => Some(items.len()),
            Value::Object(map) => Some(map.len()),
            _ => Some(0),
        }
    }
}

/// Which of the context's maps a [`MapView`] shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MapKind {
    Variables,
    TaskResults,
    System,
    /// Orquesta's `ctx()`: the inputs, then the variables (set by `vars` and
    /// by publishes) over them.
    Ctx,
}

/// A view of one of the context's maps (`workflow`, `task`, `system`).
#[derive(Debug)]
pub(crate) struct MapView {
    shared: Arc<Shared>,
    /// The variables of the context the view was made from (`workflow`,
    /// `ctx()`): they belong to that context, not to `shared`.
    vars: Variables,
    kind: MapKind,
}

impl MapView {
    pub(crate) fn value(ctx: &WorkflowContext, kind: MapKind) -> MjValue {
        MjValue::from_object(MapView {
            shared: ctx.shared.clone(),
            vars: match kind {
                MapKind::Variables | MapKind::Ctx => ctx.vars.clone(),
                MapKind::TaskResults | MapKind::System => Variables::new(),
            },
            kind,
        })
    }

    fn get(&self, key: &str) -> Option<Arc<Value>> {
        match self.kind {
            MapKind::Variables | MapKind::Ctx => self.vars.get(key).cloned(),
            MapKind::TaskResults => self.shared.task_results.get(key),
            MapKind::System => self.shared.system().get(key).map(|v| v.value().clone()),
        }
    }

    fn keys(&self) -> Vec<Arc<str>> {
        match self.kind {
            MapKind::Variables | MapKind::Ctx => self.vars.iter().map(|(k, _)| k.clone()).collect(),
            MapKind::TaskResults => self
                .shared
                .task_results
                .entries()
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
            MapKind::System => self
                .shared
                .system()
                .iter()
                .map(|e| e.key().clone())
                .collect(),
        }
    }

    fn len(&self) -> usize {
        match self.kind {
            MapKind::Variables | MapKind::Ctx => self.vars.len(),
            MapKind::TaskResults => self.shared.task_results.len(),
            MapKind::System => self.shared.system().len(),
        }
    }

    /// The input `key`, for `ctx()`.
    fn input(&self, key: &str) -> Option<MjValue> {
        input_of(&self.shared, key)
    }
}

/// The input `key` of a run, for `ctx()`.
fn input_of(shared: &Arc<Shared>, key: &str) -> Option<MjValue> {
    match &*shared.parameters {
        Value::Object(m) if m.contains_key(key) => arc_to_mj(&shared.parameters)
            .get_attr(key)
            .ok()
            .filter(|v| !v.is_undefined()),
        _ => None,
    }
}

/// `ctx(name)`: the variable `name`, or else the input `name`.
pub(crate) fn ctx_lookup(ctx: &WorkflowContext, name: &str) -> Option<MjValue> {
    if let Some(v) = ctx.vars.get(name) {
        return Some(arc_to_mj(v));
    }
    input_of(&ctx.shared, name)
}

impl Object for MapView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let k = key.as_str()?;
        match self.get(k) {
            Some(v) => Some(arc_to_mj(&v)),
            None if self.kind == MapKind::Ctx => self.input(k),
            None => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys = self.keys();
        if self.kind == MapKind::Ctx {
            if let Value::Object(m) = &*self.shared.parameters {
                keys.extend(m.keys().map(|k| Arc::from(k.as_str())));
            }
            keys.sort();
            keys.dedup();
        } else {
            keys.sort();
        }
        Enumerator::Values(keys.into_iter().map(|k| MjValue::from(&*k)).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match (self.kind, &*self.shared.parameters) {
            (MapKind::Ctx, Value::Object(m)) => {
                Some(self.vars.len() + m.keys().filter(|k| !self.vars.contains(k)).count())
            }
            _ => Some(self.len()),
        }
    }
}

/// The root of every evaluation: the namespaces of one context.
#[derive(Debug)]
pub(crate) struct Root(pub(crate) WorkflowContext);

/// The name under which functions find the root again.
pub(crate) const ROOT_KEY: &str = "__weft_root";

impl Object for Root {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let ctx = &self.0;
        match key.as_str()? {
            "parameters" => Some(arc_to_mj(&ctx.shared.parameters)),
            "workflow" | "vars" => Some(MapView::value(ctx, MapKind::Variables)),
            "task" | "tasks" => Some(MapView::value(ctx, MapKind::TaskResults)),
            "system" => Some(MapView::value(ctx, MapKind::System)),
            "item" => Some(match &ctx.current_item {
                Some(item) => arc_to_mj(item),
                None => MjValue::UNDEFINED,
            }),
            "index" => ctx.current_index.map(MjValue::from),
            ROOT_KEY => Some(MjValue::from_dyn_object(self.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "parameters",
            "workflow",
            "vars",
            "task",
            "tasks",
            "system",
            "item",
            "index",
        ])
    }
}

/// A string that refuses to grow past `max` bytes: formatting into it stops
/// with an error at the limit, so printing a value made of many references
/// to one big value (`[x] * 100000`) never builds the whole text.
pub(crate) struct Bounded {
    pub(crate) out: String,
    max: usize,
    pub(crate) over: bool,
}

impl Bounded {
    pub(crate) fn new(max: usize) -> Bounded {
        Bounded {
            out: String::new(),
            max,
            over: false,
        }
    }
}

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.out.len().saturating_add(s.len()) > self.max {
            self.over = true;
            return Err(std::fmt::Error);
        }
        self.out.push_str(s);
        Ok(())
    }
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // minijinja writes whole UTF-8 strings.
        let s = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        std::fmt::Write::write_str(self, s)
            .map_err(|_| std::io::Error::other("value too large"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a value could not be converted to JSON.
pub(crate) enum Convert {
    /// It is larger than the budget.
    TooLarge,
    /// It has no JSON form (the message says why).
    Failed(String),
}

fn spend(budget: &mut usize, bytes: usize) -> std::result::Result<(), Convert> {
    if *budget == usize::MAX {
        return Ok(());
    }
    *budget = budget.checked_sub(bytes).ok_or(Convert::TooLarge)?;
    Ok(())
}

/// Converts a minijinja value back to JSON, spending `budget` bytes on
/// what it copies (`usize::MAX`: no limit). Views hand back the JSON they
/// show; other values go through serde.
pub(crate) fn mj_to_json(v: &MjValue, budget: &mut usize) -> std::result::Result<Value, Convert> {
    if let Some(view) = v.downcast_object_ref::<JsonView>() {
        let node = view.node();
        if *budget != usize::MAX {
            let size = json_size_within(node, *budget).ok_or(Convert::TooLarge)?;
            spend(budget, size)?;
        }
        return Ok(node.clone());
    }
    // The common leaves, without a trip through serde.
    match v.kind() {
        ValueKind::String => {
            if let Some(s) = v.as_str() {
                spend(budget, s.len() + 2)?;
                return Ok(Value::String(s.to_owned()));
            }
        }
        ValueKind::Bool => return Ok(Value::Bool(v.is_true())),
        ValueKind::None => return Ok(Value::Null),
        ValueKind::Number => {
            // JSON has no infinity and no NaN: serde would quietly make them
            // null, changing what the expression said.
            if let Ok(f) = f64::try_from(v.clone()) {
                if !f.is_finite() {
                    return Err(Convert::Failed(format!(
                        "the result is {f}, which JSON cannot hold: keep numbers within ±1.8e308"
                    )));
                }
            }
        }
        _ => {}
    }
    if v.is_undefined() {
        return Err(Convert::Failed("the value is undefined".to_owned()));
    }
    let failed = |e: minijinja::Error| Convert::Failed(e.to_string());
    if let Some(obj) = v.as_object() {
        // Maps and lists built by expressions may hold views; walk them so
        // each view is copied directly.
        match obj.repr() {
            ObjectRepr::Seq | ObjectRepr::Iterable => {
                let mut out = Vec::new();
                for item in v.try_iter().map_err(failed)? {
                    spend(budget, 1)?;
                    out.push(mj_to_json(&item, budget)?);
                }
                return Ok(Value::Array(out));
            }
            ObjectRepr::Map => {
                let mut out = Map::new();
                for key in v.try_iter().map_err(failed)? {
                    let val = v.get_item(&key).map_err(failed)?;
                    let k = match key.as_str() {
                        Some(s) => s.to_owned(),
                        None => key.to_string(),
                    };
                    spend(budget, k.len() + 4)?;
                    out.insert(k, mj_to_json(&val, budget)?);
                }
                return Ok(Value::Object(out));
            }
            _ => {
                let mut b = Bounded::new(*budget);
                if write!(b, "{v}").is_err() && b.over {
                    return Err(Convert::TooLarge);
                }
                spend(budget, b.out.len())?;
                return Ok(Value::String(b.out));
            }
        }
    }
    spend(budget, 8)?;
    serde_json::to_value(v).map_err(|e| Convert::Failed(e.to_string()))
}
