//! Action parameters: their declarations in the metadata, and turning what
//! a task gives into the values an action runs with, as StackStorm does.
//!
//! For one call, in order (StackStorm's `render_live_params` and
//! `render_final_params`, `st2common/util/param.py`):
//!
//! 1. a key the action does not declare, or one it declares `immutable`,
//!    is refused (compiling refuses them first, where it can);
//! 2. each value given is *cast* to its parameter's type as StackStorm
//!    casts it: `"5"` is the integer 5, `"true"` is `true`, a JSON text is
//!    a list or map;
//! 3. a parameter not given (or given `null`), and every immutable one,
//!    takes its `default`; a default that is a Jinja template is rendered
//!    against the pack's config (`config_context`), `action_context` and
//!    the other parameters, in the order their dependencies ask, and cast;
//! 4. every value is checked: a required parameter has one, each value has
//!    its type (with StackStorm's rules for `null`) and is one of its
//!    `enum`, within `minimum`/`maximum` and the length limits.
//!
//! Each mistake names the parameter and where it is declared; the value of
//! a `secret` parameter is never shown.

mod cast;
mod render;
mod resolve;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};
use weft_core::engine::json_type_name;
use weft_core::{InputField, Location};

use crate::error::{PackError, PackErrorKind};
use crate::yaml::{Node, Yaml};

pub(crate) use cast::{Context, ParamError};
pub(crate) use resolve::resolve;

/// The JSON types a parameter may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamType {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `number`
    Number,
    /// `boolean`
    Boolean,
    /// `array`
    Array,
    /// `object`
    Object,
    /// `null`
    Null,
}

impl ParamType {
    const ALL: [(&'static str, ParamType); 7] = [
        ("string", ParamType::String),
        ("integer", ParamType::Integer),
        ("number", ParamType::Number),
        ("boolean", ParamType::Boolean),
        ("array", ParamType::Array),
        ("object", ParamType::Object),
        ("null", ParamType::Null),
    ];

    /// The name the metadata uses.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("?", |(n, _)| n)
    }

    fn parse(text: &str) -> Option<ParamType> {
        Self::ALL.iter().find(|(n, _)| *n == text).map(|(_, t)| *t)
    }

    fn article(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Integer => "an integer",
            ParamType::Number => "a number",
            ParamType::Boolean => "a boolean",
            ParamType::Array => "a list",
            ParamType::Object => "a map",
            ParamType::Null => "null",
        }
    }
}

/// The keys a parameter's declaration may have: StackStorm's
/// `action_params.json` schema.
const PARAM_KEYS: &[&str] = &[
    "id",
    "$schema",
    "title",
    "description",
    "default",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "additionalItems",
    "items",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "secret",
    "additionalProperties",
    "definitions",
    "properties",
    "patternProperties",
    "dependencies",
    "enum",
    "type",
    "position",
    "immutable",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// The attributes of a runner's parameter an action may change
/// (StackStorm's `RUNNER_PARAM_OVERRIDABLE_ATTRS`); the others it may only
/// repeat.
const OVERRIDABLE: &[&str] = &["default", "description", "enum", "immutable", "required"];

/// One parameter of an action, its runner's and the action's declarations
/// merged.
#[derive(Clone, Debug)]
pub struct Parameter {
    pub(crate) name: String,
    pub(crate) kind: Option<ParamType>,
    pub(crate) required: bool,
    /// `Some(Value::Null)` for an explicit `default: null`.
    pub(crate) default: Option<Value>,
    pub(crate) enumeration: Option<Vec<Value>>,
    pub(crate) secret: bool,
    pub(crate) immutable: bool,
    pub(crate) position: Option<u64>,
    pub(crate) description: Option<String>,
    /// Declared by the runner (the action may have changed it).
    pub(crate) runner: bool,
    /// Declared as `{}`: any value, `null` included.
    pub(crate) empty: bool,
    pub(crate) limits: Limits,
    /// Where it is declared: the action's metadata file, or the runner.
    pub(crate) declared: Location,
}

/// The JSON-schema limits checked at run time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
}

impl Parameter {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its declared type; `None` when it declares none.
    pub fn kind(&self) -> Option<ParamType> {
        self.kind
    }

    /// Whether a task must give it: `required` and no `default`.
    pub fn required(&self) -> bool {
        self.required && self.default.is_none()
    }

    /// Its default as written (a template is not rendered here).
    pub fn default(&self) -> Option<&Value> {
        self.default.as_ref()
    }

    /// The values it may take, if it lists them.
    pub fn enumeration(&self) -> Option<&[Value]> {
        self.enumeration.as_deref()
    }

    /// Whether its value is masked in what a run hands back.
    pub fn secret(&self) -> bool {
        self.secret
    }

    /// Whether only its default is used: a task may not give it.
    pub fn immutable(&self) -> bool {
        self.immutable
    }

    /// Its place among a shell script's positional arguments.
    pub fn position(&self) -> Option<u64> {
        self.position
    }

    /// What it means.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Whether the runner declares it (`cmd`, `timeout`, `env`, ...).
    pub fn is_runner_parameter(&self) -> bool {
        self.runner
    }

    /// Where it is declared.
    pub fn location(&self) -> &Location {
        &self.declared
    }

    /// How compiling sees it.
    pub(crate) fn input_field(&self) -> InputField {
        if self.immutable {
            InputField::immutable(&self.name)
        } else if self.required() {
            InputField::required(&self.name)
        } else {
            InputField::optional(&self.name)
        }
    }

    /// `null` is a valid value (StackStorm's `allow_default_none`): the
    /// parameter is optional, or its default is `null`.
    fn nullable(&self) -> bool {
        !self.required || matches!(self.default, Some(Value::Null))
    }
}

/// A parameter declaration as written: its attributes and where each is.
#[derive(Clone, Debug)]
pub(crate) struct RawParam {
    pub(crate) name: String,
    pub(crate) attrs: Map<String, Value>,
    pub(crate) at: HashMap<String, (u32, u32)>,
    pub(crate) pos: (u32, u32),
}

/// Reads the `parameters` (or a runner's `runner_parameters`) map.
pub(crate) fn read_raw(
    node: &Node,
    file: &Arc<PathBuf>,
    field: &str,
    errors: &mut Vec<PackError>,
) -> Vec<RawParam> {
    let Yaml::Map(entries) = &node.value else {
        if !matches!(node.value, Yaml::Null) {
            errors.push(
                PackError::at(
                    PackErrorKind::Metadata,
                    file,
                    Some(node.pos),
                    format!(
                        "`{field}` must be a map of parameter names to their declarations, not {}",
                        node.type_name()
                    ),
                )
                .with_field(field),
            );
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, key_at, decl) in entries {
        let path = format!("{field}.{name}");
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            errors.push(
                PackError::at(
                    PackErrorKind::Metadata,
                    file,
                    Some(*key_at),
                    format!("`{name}` is not a parameter name: use letters, digits and `_` only"),
                )
                .with_field(&path),
            );
            continue;
        }
        let Yaml::Map(attrs) = &decl.value else {
            errors.push(
                PackError::at(
                    PackErrorKind::Metadata,
                    file,
                    Some(decl.pos),
                    format!(
                        "parameter `{name}` must be declared as a map (`type`, `default`, `required`, ...), not {}",
                        decl.type_name()
                    ),
                )
                .with_field(&path),
            );
            continue;
        };
        let mut raw = RawParam {
            name: name.clone(),
            attrs: Map::new(),
            at: HashMap::new(),
            pos: *key_at,
        };
        for (key, at, value) in attrs {
            if !PARAM_KEYS.contains(&key.as_str()) {
                let hint = match crate::suggest(key, PARAM_KEYS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "a parameter takes type, description, default, required, enum, secret, immutable, position and JSON-schema keys".to_owned(),
                };
                errors.push(
                    PackError::at(
                        PackErrorKind::Metadata,
                        file,
                        Some(*at),
                        format!("unknown key `{key}` in parameter `{name}`: {hint}"),
                    )
                    .with_field(format!("{path}.{key}")),
                );
                continue;
            }
            raw.at.insert(key.clone(), value.pos);
            raw.attrs.insert(key.clone(), value.to_json());
        }
        out.push(raw);
    }
    out
}

/// Merges an action's declarations over its runner's (StackStorm's
/// `get_schema_for_action_parameters`), and builds the parameters: the
/// action's in the order written, then the runner's it does not mention.
pub(crate) fn merge(
    action: &str,
    runner: &[RawParam],
    runner_file: &Location,
    declared: Vec<RawParam>,
    file: &Arc<PathBuf>,
    errors: &mut Vec<PackError>,
) -> Vec<Parameter> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for raw in declared {
        seen.insert(raw.name.clone());
        let path = format!("parameters.{}", raw.name);
        let location = Location::new(
            Some(file.clone()),
            Some(raw.pos.0 as usize),
            Some(raw.pos.1 as usize),
        );
        let merged = match runner.iter().find(|r| r.name == raw.name) {
            Some(base) => {
                for (key, value) in &raw.attrs {
                    if OVERRIDABLE.contains(&key.as_str()) {
                        continue;
                    }
                    match base.attrs.get(key) {
                        Some(theirs) if theirs == value => {}
                        theirs => {
                            let what = match theirs {
                                Some(v) => format!("the runner's is `{v}`"),
                                None => "the runner sets none".to_owned(),
                            };
                            errors.push(
                                PackError::at(
                                    PackErrorKind::Metadata,
                                    file,
                                    raw.at.get(key).copied(),
                                    format!(
                                        "`{action}` may not change `{key}` of runner parameter `{}` ({what}): an action may change only {}",
                                        raw.name,
                                        OVERRIDABLE.join(", ")
                                    ),
                                )
                                .with_field(format!("{path}.{key}")),
                            );
                        }
                    }
                }
                let mut attrs = base.attrs.clone();
                deep_update(&mut attrs, &raw.attrs);
                RawParam {
                    name: raw.name.clone(),
                    attrs,
                    at: raw.at.clone(),
                    pos: raw.pos,
                }
            }
            None => raw,
        };
        let is_runner = runner.iter().any(|r| r.name == merged.name);
        if let Some(p) = build(&merged, is_runner, location, file, &path, errors) {
            out.push(p);
        }
    }
    for base in runner.iter().filter(|r| !seen.contains(&r.name)) {
        let path = format!("runner parameter {}", base.name);
        if let Some(p) = build(base, true, runner_file.clone(), file, &path, errors) {
            out.push(p);
        }
    }
    out
}

/// StackStorm's `deep_update`: maps merge key by key, anything else is
/// replaced.
fn deep_update(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => deep_update(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A parameter from its merged attributes; `None` (with errors) when an
/// attribute has the wrong type.
fn build(
    raw: &RawParam,
    runner: bool,
    declared: Location,
    file: &Arc<PathBuf>,
    path: &str,
    errors: &mut Vec<PackError>,
) -> Option<Parameter> {
    let before = errors.len();
    let mut err = |key: &str, message: String| {
        errors.push(
            PackError::at(
                PackErrorKind::Metadata,
                file,
                raw.at.get(key).copied().or(Some(raw.pos)),
                message,
            )
            .with_field(format!("{path}.{key}")),
        );
    };
    let name = &raw.name;
    let flag = |key: &str, err: &mut dyn FnMut(&str, String)| -> bool {
        match raw.attrs.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                err(
                    key,
                    format!(
                        "`{key}` of parameter `{name}` must be true or false, not {}",
                        json_type_name(other)
                    ),
                );
                false
            }
        }
    };
    let required = flag("required", &mut err);
    let secret = flag("secret", &mut err);
    let immutable = flag("immutable", &mut err);
    let kind = match raw.attrs.get("type") {
        None => None,
        Some(Value::String(t)) => match ParamType::parse(t) {
            Some(k) => Some(k),
            None => {
                let names = ParamType::ALL.iter().map(|(n, _)| *n);
                let hint = match crate::suggest(t, names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => {
                        "use string, integer, number, boolean, array, object or null".to_owned()
                    }
                };
                err("type", format!("`{t}` is not a parameter type: {hint}"));
                None
            }
        },
        Some(other) => {
            err(
                "type",
                format!(
                    "`type` of parameter `{name}` must be one type name (string, integer, number, boolean, array, object, null), not {}",
                    json_type_name(other)
                ),
            );
            None
        }
    };
    let enumeration = match raw.attrs.get("enum") {
        None => None,
        Some(Value::Array(values)) => Some(values.clone()),
        Some(other) => {
            err(
                "enum",
                format!(
                    "`enum` of parameter `{name}` must be a list of the values it may take, not {}",
                    json_type_name(other)
                ),
            );
            None
        }
    };
    let position = match raw.attrs.get("position") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(other) => {
            err(
                "position",
                format!("`position` of parameter `{name}` must be a whole number, 0 or more, not `{other}`"),
            );
            None
        }
    };
    let description = match raw.attrs.get("description") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let number = |key: &str, err: &mut dyn FnMut(&str, String)| -> Option<f64> {
        match raw.attrs.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                err(
                    key,
                    format!("`{key}` of parameter `{name}` must be a number, not `{other}`"),
                );
                None
            }
        }
    };
    let count = |key: &str, err: &mut dyn FnMut(&str, String)| -> Option<u64> {
        match raw.attrs.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
            Some(other) => {
                err(key, format!("`{key}` of parameter `{name}` must be a whole number, 0 or more, not `{other}`"));
                None
            }
        }
    };
    let limits = Limits {
        minimum: number("minimum", &mut err),
        maximum: number("maximum", &mut err),
        exclusive_minimum: flag("exclusiveMinimum", &mut err),
        exclusive_maximum: flag("exclusiveMaximum", &mut err),
        min_length: count("minLength", &mut err),
        max_length: count("maxLength", &mut err),
        min_items: count("minItems", &mut err),
        max_items: count("maxItems", &mut err),
    };
    if errors.len() > before {
        return None;
    }
    Some(Parameter {
        name: name.clone(),
        kind,
        required,
        default: raw.attrs.get("default").cloned(),
        enumeration,
        secret,
        immutable,
        position,
        description,
        runner,
        empty: raw.attrs.is_empty(),
        limits,
        declared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param(name: &str, attrs: Value) -> Parameter {
        let raw = RawParam {
            name: name.to_owned(),
            attrs: attrs.as_object().cloned().unwrap_or_default(),
            at: HashMap::new(),
            pos: (1, 1),
        };
        let mut errors = Vec::new();
        let p = build(
            &raw,
            false,
            Location::default(),
            &Arc::new(PathBuf::from("t.yaml")),
            name,
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        p.unwrap()
    }

    fn ctx(config: &Value) -> Context<'_> {
        Context {
            config,
            action: json!({"pack": "demo", "user": "weft"}),
        }
    }

    #[test]
    fn given_values_are_cast_as_stackstorm_casts_them() {
        let params = [
            param("n", json!({"type": "integer"})),
            param("x", json!({"type": "number"})),
            param("b", json!({"type": "boolean"})),
            param("l", json!({"type": "array"})),
        ];
        let config = json!({});
        let out = resolve(
            &params,
            &json!({"n": " 12 ", "x": "2.5", "b": "TRUE", "l": "[1, 2]"}),
            &ctx(&config),
        )
        .unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"n": 12, "x": 2.5, "b": true, "l": [1, 2]})
        );
        for (bad, what) in [
            (
                json!({"n": "1.5"}),
                "must be an integer, not the text `\"1.5\"`",
            ),
            (
                json!({"n": 2.5}),
                "must be an integer, not the fraction `2.5`",
            ),
            (
                json!({"b": "yes"}),
                "must be a boolean, not the text `\"yes\"`",
            ),
            (json!({"l": "[1,"}), "a text given for it must be JSON"),
        ] {
            let e = resolve(&params, &bad, &ctx(&config)).unwrap_err();
            assert!(e.message.contains(what), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn defaults_render_against_config_and_other_parameters_in_dependency_order() {
        let params = [
            param(
                "greeting",
                json!({"type": "string", "default": "{{ word }}, {{ config_context.name }}!"}),
            ),
            param(
                "word",
                json!({"type": "string", "default": "{{ config_context.word | upper }}"}),
            ),
            param(
                "count",
                json!({"type": "integer", "default": "{{ config_context.count }}"}),
            ),
            param(
                "tags",
                json!({"type": "array", "default": ["{{ word }}", "{{ count }}"]}),
            ),
            param(
                "flag",
                json!({"type": "boolean", "default": "{{ count > 2 }}"}),
            ),
            param(
                "steps",
                json!({"type": "array", "default": "{{ range(count) | list }}"}),
            ),
        ];
        let config = json!({"name": "ada", "word": "hi", "count": "3"});
        let out = resolve(&params, &json!({}), &ctx(&config)).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"greeting": "HI, ada!", "word": "HI", "count": 3, "tags": ["HI", 3], "flag": true, "steps": [0, 1, 2]})
        );
    }

    #[test]
    fn a_cycle_or_an_unknown_name_in_defaults_is_named() {
        let config = json!({});
        let params = [
            param("a", json!({"default": "{{ b }}"})),
            param("b", json!({"default": "{{ a }}"})),
        ];
        let e = resolve(&params, &json!({}), &ctx(&config)).unwrap_err();
        assert!(e.message.starts_with("parameter `a`"), "{}", e.message);
        assert!(e.message.contains("a -> b -> a"), "{}", e.message);
        let params = [param("a", json!({"default": "{{ nope }}"}))];
        let e = resolve(&params, &json!({}), &ctx(&config)).unwrap_err();
        assert!(e.message.contains("`nope`"), "{}", e.message);
        // The datastore, as StackStorm's templates read it.
        crate::use_datastore([
            weft_runtime::store::KvEntry::new("system", "x", "42"),
            weft_runtime::store::KvEntry::new("system", "app.port", "8080"),
            weft_runtime::store::KvEntry::new("user", "weft:mine", "m").secret(true),
        ]);
        let params = [
            param(
                "a",
                json!({"type": "integer", "default": "{{ st2kv.system.x }}"}),
            ),
            param("b", json!({"default": "{{ st2kv.system.app.port }}"})),
            param(
                "c",
                json!({"default": "{{ st2kv.user.mine | decrypt_kv }}"}),
            ),
        ];
        let out = resolve(&params, &json!({}), &ctx(&config)).unwrap();
        assert_eq!(
            (&out["a"], &out["b"], &out["c"]),
            (&json!(42), &json!("8080"), &json!("m"))
        );
        // A key that is not set reads as nothing (StackStorm prints it as
        // an empty string).
        let params = [param("d", json!({"default": "{{ st2kv.system.missing }}"}))];
        let out = resolve(&params, &json!({}), &ctx(&config)).unwrap();
        assert_eq!(out["d"], Value::Null);
        // Not a template after all: the text is the value.
        let params = [param(
            "a",
            json!({"type": "string", "default": "{{ unclosed"}),
        )];
        let out = resolve(&params, &json!({}), &ctx(&config)).unwrap();
        assert_eq!(out["a"], "{{ unclosed");
    }

    #[test]
    fn nulls_follow_stackstorm() {
        let config = json!({});
        let params = [
            param("req", json!({"type": "string", "required": true})),
            param("opt", json!({"type": "integer"})),
            param("untyped", json!({"description": "no type"})),
            param("any", json!({})),
        ];
        let e = resolve(&params, &json!({}), &ctx(&config)).unwrap_err();
        assert!(e.message.starts_with("parameter `req`"), "{}", e.message);
        let out = resolve(&params, &json!({"req": "x", "any": [1]}), &ctx(&config)).unwrap();
        assert_eq!(out["opt"], Value::Null);
        let e = resolve(&params, &json!({"req": "x", "untyped": 5}), &ctx(&config)).unwrap_err();
        assert!(e.message.contains("a string or null"), "{}", e.message);
    }

    #[test]
    fn use_none_gives_a_typed_parameter_null() {
        let config = json!({});
        let params = [
            param("s", json!({"type": "string"})),
            param("n", json!({"type": "integer"})),
            param("raw", json!({})),
        ];
        let magic = crate::functions::NONE_MAGIC;
        let out = resolve(
            &params,
            &json!({"s": magic, "n": magic, "raw": magic}),
            &ctx(&config),
        )
        .unwrap();
        // As StackStorm's casts: a typed parameter gets None, an untyped
        // one keeps the text.
        assert_eq!(
            Value::Object(out),
            json!({"s": null, "n": null, "raw": magic})
        );
    }

    #[test]
    fn defaults_use_stackstorms_filters() {
        let config = json!({"obj": {"a": 1, "b": [2]}, "v": "1.2.3"});
        let params = [
            param(
                "json",
                json!({"type": "string", "default": "{{ config_context.obj | to_json_string }}"}),
            ),
            param(
                "next",
                json!({"type": "string", "default": "{{ config_context.v | version_bump_minor }}"}),
            ),
            param(
                "gone",
                json!({"type": "string", "default": "{{ none | use_none }}"}),
            ),
        ];
        let out = resolve(&params, &json!({}), &ctx(&config)).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"json": "{\"a\": 1,\"b\": [2]}", "next": "1.3.0", "gone": null})
        );
    }

    #[test]
    fn a_secret_value_is_never_shown() {
        let config = json!({});
        let params = [param(
            "pw",
            json!({"type": "string", "secret": true, "enum": ["a", "b"]}),
        )];
        let e = resolve(&params, &json!({"pw": "hunter22"}), &ctx(&config)).unwrap_err();
        assert!(!e.message.contains("hunter22"), "{}", e.message);
        assert!(!e.message.contains("\"a\""), "{}", e.message);
    }
}
