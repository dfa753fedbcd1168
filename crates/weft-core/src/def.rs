//! Definitions: the workflow language as serde types.
//!
//! These types mirror the text one to one. They say nothing about whether a
//! workflow makes sense; [`WorkflowDef::compile`](crate::WorkflowDef::compile)
//! checks that and produces a [`Plan`](crate::Plan).
//!
//! Most programs never name them: they load text with
//! [`Workflow`](crate::Workflow) or build a workflow in code with
//! [`WorkflowBuilder`](crate::WorkflowBuilder), and reach the definition,
//! when they need it, through [`Workflow::def`](crate::Workflow::def).

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A whole workflow, as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a workflow: a map with a `tasks` key"
)]
pub struct WorkflowDef {
    /// Language version; `1.0` when given (a number or a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Declared inputs: required names and `name: default`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<InputDef>,
    /// Workflow variables, evaluated in order at the start of a run.
    #[serde(default, skip_serializing_if = "Assignments::is_empty")]
    pub vars: Assignments,
    /// The tasks, in file order.
    pub tasks: IndexMap<String, TaskDef>,
    /// The workflow's output, evaluated in order when the run ends.
    #[serde(default, skip_serializing_if = "Assignments::is_empty")]
    pub output: Assignments,
}

/// The `version` key: kept as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Version(pub String);

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.parse::<f64>() {
            Ok(n) if n.is_finite() => s.serialize_f64(n),
            _ => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a version number such as 1.0")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Version, E> {
                Ok(Version(format!("{v:?}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                Ok(Version(format!("{v}.0")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                Ok(Version(format!("{v}.0")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Version, E> {
                Ok(Version(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One declared input: a required name, or a name with a default; or, in
/// the long form `{name: token, secret: true, default: ...}`, an input whose
/// value is a secret.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputDef {
    /// The input's name, as used in `parameters.<name>`.
    pub name: String,
    /// The default; `None` makes the input required.
    pub default: Option<Value>,
    /// Its value is masked wherever weft prints or emits it (errors,
    /// events, task records, output).
    pub secret: bool,
}

impl Serialize for InputDef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (&self.default, self.secret) {
            (None, false) => s.serialize_str(&self.name),
            (Some(v), false) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(&self.name, v)?;
                m.end()
            }
            (default, true) => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("name", &self.name)?;
                if let Some(v) = default {
                    m.serialize_entry("default", v)?;
                }
                m.serialize_entry("secret", &true)?;
                m.end()
            }
        }
    }
}

/// The keys of an input's long form.
const INPUT_KEYS: [&str; 4] = ["name", "default", "secret", "description"];

impl<'de> Deserialize<'de> for InputDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InputDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an input name, a one-key map `name: default`, or `{name: x, secret: true}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<InputDef, E> {
                Ok(InputDef {
                    name: v.to_owned(),
                    ..InputDef::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<InputDef, A::Error> {
                let mut entries: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    entries.push((k, v));
                }
                match entries.len() {
                    0 => Err(de::Error::custom(
                        "empty entry in `input`: write `name: value`",
                    )),
                    // Orquesta's `name: default`.
                    1 => {
                        let (name, default) = entries.remove(0);
                        Ok(InputDef {
                            name,
                            default: Some(default),
                            secret: false,
                        })
                    }
                    _ if entries.iter().any(|(k, _)| k == "name") => {
                        let mut input = InputDef::default();
                        for (k, v) in entries {
                            match (k.as_str(), v) {
                                ("name", Value::String(n)) => input.name = n,
                                ("name", _) => {
                                    return Err(de::Error::custom("`name` of an input must be a string"))
                                }
                                ("default", v) => input.default = Some(v),
                                ("secret", Value::Bool(b)) => input.secret = b,
                                ("secret", _) => {
                                    return Err(de::Error::custom(
                                        "`secret` of an input must be true or false",
                                    ))
                                }
                                ("description", _) => {}
                                (other, _) => {
                                    return Err(de::Error::custom(format!(
                                        "unknown key `{other}` in an input: the long form takes {}",
                                        INPUT_KEYS.join(", ")
                                    )))
                                }
                            }
                        }
                        Ok(input)
                    }
                    _ => Err(de::Error::custom(format!(
                        "{ONE_ENTRY_PREFIX}give `{}` its own `- {}: ...` entry (it shares one with `{}`), or write the long form `{{name: ..., secret: true}}`",
                        entries[1].0, entries[1].0, entries[0].0
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How [`one_entry`] starts its message when an entry has a second key; the
/// loader looks for it to point at that key.
pub(crate) const ONE_ENTRY_PREFIX: &str = "one `name: value` per entry: ";

fn one_entry<'de, A: MapAccess<'de>>(map: &mut A, what: &str) -> Result<(String, Value), A::Error> {
    let Some((k, v)) = map.next_entry::<String, Value>()? else {
        return Err(de::Error::custom(format!(
            "empty entry in {what}: write `name: value`"
        )));
    };
    if let Some(second) = map.next_key::<String>()? {
        return Err(de::Error::custom(format!(
            "{ONE_ENTRY_PREFIX}give `{second}` its own `- {second}: ...` entry (it shares one with `{k}`)"
        )));
    }
    Ok((k, v))
}

/// An ordered list of `name: value` assignments.
///
/// Written either as Orquesta's list of one-key maps (`- name: value`) or as
/// a plain map. Order matters: later entries see earlier ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assignments(pub Vec<(String, Value)>);

impl Assignments {
    /// True when there are no assignments.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over `(name, value)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl Serialize for Assignments {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            let mut one = IndexMap::with_capacity(1);
            one.insert(k, v);
            seq.serialize_element(&one)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Assignments {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AssignmentsVisitor)
    }
}

/// Reads the list and map forms of [`Assignments`] (and, for `publish`,
/// is wrapped by [`Publish`]'s visitor, which adds the string form).
struct AssignmentsVisitor;

impl<'de> Visitor<'de> for AssignmentsVisitor {
    type Value = Assignments;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of one-key maps (`- name: value`) or a map")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Assignments, E> {
        Ok(Assignments::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Assignments, A::Error> {
        struct Entry(String, Value);
        impl<'de> Deserialize<'de> for Entry {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Entry;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a one-key map `name: value`")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                        let (k, v) = one_entry(&mut map, "a list of assignments")?;
                        Ok(Entry(k, v))
                    }
                }
                d.deserialize_map(V)
            }
        }
        let mut out = Vec::new();
        while let Some(Entry(k, v)) = seq.next_element()? {
            out.push((k, v));
        }
        Ok(Assignments(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Assignments, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            out.push((k, v));
        }
        Ok(Assignments(out))
    }
}

/// A transition's `publish`: assignments, or Orquesta's inline string.
///
/// The string form, `publish: count=3 name="{{ result().name }}"`, holds
/// `name=value` pairs; it is kept as written and read when the workflow is
/// compiled, where a pair that cannot be read is an error naming its
/// place. See the language reference for how values are read.
#[derive(Clone, Debug, PartialEq)]
pub enum Publish {
    /// `- name: value` entries, or a map.
    List(Assignments),
    /// `name=value` pairs in one string, as written.
    Inline(String),
}

impl Default for Publish {
    fn default() -> Publish {
        Publish::List(Assignments::default())
    }
}

impl Publish {
    /// True for an empty list (an inline string, even an empty one, is
    /// kept as written).
    pub fn is_empty(&self) -> bool {
        matches!(self, Publish::List(a) if a.is_empty())
    }
}

impl Serialize for Publish {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Publish::List(a) => a.serialize(s),
            Publish::Inline(text) => s.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for Publish {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Publish;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a list of one-key maps (`- name: value`), a map, or a string `name=value ...`",
                )
            }
            fn visit_unit<E: de::Error>(self) -> Result<Publish, E> {
                Ok(Publish::default())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Publish, E> {
                Ok(Publish::Inline(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Publish, A::Error> {
                AssignmentsVisitor.visit_seq(seq).map(Publish::List)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Publish, A::Error> {
                AssignmentsVisitor.visit_map(map).map(Publish::List)
            }
        }
        d.deserialize_any(V)
    }
}

/// A number, or an expression (`{{ }}` or `<% %>`) evaluated at run time.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberOrExpr {
    /// A literal number.
    Number(f64),
    /// An expression that must evaluate to a number.
    Expr(String),
}

impl Serialize for NumberOrExpr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NumberOrExpr::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                s.serialize_i64(*n as i64)
            }
            NumberOrExpr::Number(n) => s.serialize_f64(*n),
            NumberOrExpr::Expr(e) => s.serialize_str(e),
        }
    }
}

impl<'de> Deserialize<'de> for NumberOrExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumberOrExpr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a `{{ }}` expression")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumberOrExpr, E> {
                Ok(NumberOrExpr::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumberOrExpr, E> {
                Ok(NumberOrExpr::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumberOrExpr, E> {
                Ok(NumberOrExpr::Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumberOrExpr, E> {
                if v.contains("{{") || crate::yaql::has_yaql(v) {
                    return Ok(NumberOrExpr::Expr(v.to_owned()));
                }
                match v.trim().parse::<f64>() {
                    Ok(n) => Ok(NumberOrExpr::Number(n)),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a task: a map such as `{action: ...}`"
)]
pub struct TaskDef {
    /// The action to run, by name, as written: the name may be followed by
    /// Orquesta's inline parameters (`core.echo message="hi" count=3`),
    /// which compiling reads as the action's input. A task without an
    /// action does nothing and succeeds with result `null` (useful as a
    /// join point).
    #[serde(
        default,
        deserialize_with = "action_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<String>,
    /// The action's input: a map whose strings may hold expressions at any
    /// depth, or one expression that yields the whole map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<TaskInput>,
    /// Transitions, evaluated in order when the task completes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<TransitionDef>,
    /// Makes the task a barrier over its inbound transitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinDef>,
    /// Runs the action once per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Box<WithDef>>,
    /// Retries the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Box<RetryDef>>,
    /// Seconds to wait before the action starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<NumberOrExpr>,
    /// Seconds one attempt of the action may take before it is timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<NumberOrExpr>,
}

/// A task's `input`, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskInput {
    /// A map of name to value; strings may hold expressions at any depth.
    Map(IndexMap<String, Value>),
    /// One expression (`"{{ ctx().args }}"` or `"<% ctx().args %>"`) that
    /// yields the whole map when the task starts (Orquesta's dynamic input).
    Expr(String),
}

impl TaskInput {
    /// The map, when the input is written as one.
    pub fn as_map(&self) -> Option<&IndexMap<String, Value>> {
        match self {
            TaskInput::Map(m) => Some(m),
            TaskInput::Expr(_) => None,
        }
    }
}

/// Whether `text` holds a Jinja or YAQL expression.
pub(crate) fn holds_expression(text: &str) -> bool {
    text.contains("{{") || crate::yaql::has_yaql(text)
}

impl Serialize for TaskInput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TaskInput::Map(m) => m.serialize(s),
            TaskInput::Expr(e) => s.serialize_str(e),
        }
    }
}

impl<'de> Deserialize<'de> for TaskInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TaskInput, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TaskInput;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map, or one expression that yields the map")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TaskInput, A::Error> {
                IndexMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(TaskInput::Map)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TaskInput, E> {
                if holds_expression(v) {
                    Ok(TaskInput::Expr(v.to_owned()))
                } else {
                    Err(E::invalid_type(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `action:` written without a name is a mistake, not a task without an
/// action (leave the key out for that).
fn action_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = Option::<String>::deserialize(d)?;
    match name {
        Some(n) if !n.trim().is_empty() => Ok(Some(n)),
        _ => Err(de::Error::custom(
            "`action` is empty: name an action, or remove the key for a task that only routes",
        )),
    }
}

/// One entry of a task's `next`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a transition: a map with `when`, `publish` and `do`"
)]
pub struct TransitionDef {
    /// Condition; without it the transition is taken on any completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Variables to publish, in order, when the transition is taken.
    #[serde(default, skip_serializing_if = "Publish::is_empty")]
    pub publish: Publish,
    /// Tasks (or engine commands) to run next.
    #[serde(default, rename = "do", skip_serializing_if = "TaskList::is_empty")]
    pub targets: TaskList,
}

/// A list of task names, written as a YAML list or as `"a, b"`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskList(pub Vec<String>);

impl TaskList {
    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for TaskList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TaskList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TaskList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of task names or a string \"a, b\"")
            }
            fn visit_unit<E: de::Error>(self) -> Result<TaskList, E> {
                Ok(TaskList::default())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TaskList, E> {
                let names: Vec<String> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                Ok(TaskList(names))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TaskList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(TaskList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `join` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinDef {
    /// Wait for every inbound branch.
    All,
    /// Wait for this many inbound branches.
    Count(u32),
}

impl Serialize for JoinDef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            JoinDef::All => s.serialize_str("all"),
            JoinDef::Count(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for JoinDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JoinDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`all` or a positive whole number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JoinDef, E> {
                if v == "all" {
                    Ok(JoinDef::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JoinDef, E> {
                match u32::try_from(v) {
                    Ok(n) if n > 0 => Ok(JoinDef::Count(n)),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JoinDef, E> {
                match u32::try_from(v) {
                    Ok(n) if n > 0 => Ok(JoinDef::Count(n)),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JoinDef, E> {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `with` key: an items expression, with an optional concurrency cap.
#[derive(Clone, Debug, PartialEq)]
pub struct WithDef {
    /// `"{{ expr }}"`, or `"x in {{ expr }}"`, or `"x, y in {{ zip(a, b) }}"`.
    pub items: String,
    /// At most this many items in flight.
    pub concurrency: Option<NumberOrExpr>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map such as `{items: \"{{ list }}\", concurrency: 2}`"
)]
struct WithMap {
    items: String,
    #[serde(default)]
    concurrency: Option<NumberOrExpr>,
}

impl Serialize for WithDef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("items", &self.items)?;
        if let Some(c) = &self.concurrency {
            m.serialize_entry("concurrency", c)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for WithDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WithDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an items expression or a map {items, concurrency}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WithDef, E> {
                Ok(WithDef {
                    items: v.to_owned(),
                    concurrency: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<WithDef, A::Error> {
                let m = WithMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(WithDef {
                    items: m.items,
                    concurrency: m.concurrency,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// How retry delays grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    /// Every retry waits `delay`.
    #[default]
    Constant,
    /// Retry `n` (1-based) waits `n * delay`.
    Linear,
    /// Retry `n` (1-based) waits `delay * 2^(n-1)`.
    Exponential,
}

/// The `retry` key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map such as `{count: 3, delay: 1}`"
)]
pub struct RetryDef {
    /// Retry while this holds after an attempt; default `{{ failed() }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// How many retries at most (attempts = count + 1).
    pub count: NumberOrExpr,
    /// Seconds before a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<NumberOrExpr>,
    /// How the delay grows.
    #[serde(default, skip_serializing_if = "is_constant")]
    pub backoff: Backoff,
    /// Upper bound for the delay, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<NumberOrExpr>,
}

fn is_constant(b: &Backoff) -> bool {
    *b == Backoff::Constant
}
