//! One call's values: given values cast, defaults rendered, everything
//! checked.

use serde_json::{Map, Number, Value};
use weft_core::engine::json_type_name;

use super::render::render_defaults;
use super::{ParamType, Parameter};

/// What a default's template sees besides the other parameters.
pub(crate) struct Context<'a> {
    /// The pack's config.
    pub(crate) config: &'a Value,
    /// StackStorm's `action_context`: `pack`, `user`, ...
    pub(crate) action: Value,
}

/// A problem with the parameters of one call; the caller says which
/// action and task.
#[derive(Debug)]
pub(crate) struct ParamError {
    /// What is wrong, naming the parameter and where it is declared.
    pub(crate) message: String,
}

pub(super) fn problem(p: &Parameter, message: impl AsRef<str>) -> ParamError {
    let place = if p.declared.is_empty() {
        "of the runner".to_owned()
    } else {
        p.declared.to_string()
    };
    ParamError {
        message: format!("parameter `{}` ({place}) {}", p.name, message.as_ref()),
    }
}

/// How a value is shown in a message: itself, unless the parameter is
/// secret.
fn shown(p: &Parameter, v: &Value) -> String {
    if p.secret {
        "(the value is not shown: the parameter is secret)".to_owned()
    } else {
        let mut text = v.to_string();
        if text.len() > 80 {
            let cut = (0..=77)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(cut);
            text.push_str("...");
        }
        format!("`{text}`")
    }
}

/// The values an action runs with, from what a task gave: every declared
/// parameter, in declaration order; those without a value are `null`.
///
/// # Errors
///
/// The first mistake found, naming the parameter.
pub(crate) fn resolve(
    params: &[Parameter],
    given: &Value,
    ctx: &Context<'_>,
) -> Result<Map<String, Value>, ParamError> {
    let given = match given {
        Value::Null => Map::new(),
        Value::Object(m) => m.clone(),
        other => {
            return Err(ParamError {
                message: format!(
                    "the input must be a map of parameter names to values, not {}",
                    json_type_name(other)
                ),
            })
        }
    };
    let mut keys: Vec<&String> = given.keys().collect();
    keys.sort();
    for key in keys {
        match params.iter().find(|p| &p.name == key) {
            None => {
                let hint = match crate::suggest(key, params.iter().map(|p| p.name.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "it takes {}",
                        params
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(ParamError {
                    message: format!("no parameter `{key}`: {hint}"),
                });
            }
            Some(p) if p.immutable => {
                return Err(problem(
                    p,
                    "is immutable: the action sets it itself; remove it from the input",
                ))
            }
            Some(_) => {}
        }
    }

    // Given values, cast; then defaults for the rest.
    let mut values: Map<String, Value> = Map::new();
    let mut templates: Vec<&Parameter> = Vec::new();
    for p in params {
        match given.get(&p.name) {
            Some(v) if !v.is_null() => {
                values.insert(p.name.clone(), cast(p, v.clone())?);
            }
            _ => match &p.default {
                Some(d) if is_template(d) => templates.push(p),
                Some(d) => {
                    values.insert(p.name.clone(), cast(p, d.clone())?);
                }
                None => {
                    values.insert(p.name.clone(), Value::Null);
                }
            },
        }
    }
    render_defaults(params, &templates, &mut values, ctx)?;

    // Checked, and handed on, in declaration order.
    let mut out = Map::new();
    for p in params {
        let v = values.remove(&p.name).unwrap_or(Value::Null);
        check(p, &v)?;
        out.insert(p.name.clone(), v);
    }
    Ok(out)
}

/// StackStorm's `is_jinja_expression`: a string with `{{` or `{%`, or a
/// list or map whose text has one.
fn is_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{") || s.contains("{%"),
        Value::Array(_) | Value::Object(_) => {
            let text = v.to_string();
            text.contains("{{") || text.contains("{%")
        }
        _ => false,
    }
}

/// Casts a value to its parameter's type as StackStorm's `casts.py` does,
/// except that weft refuses a fraction or a boolean for an integer (and a
/// boolean for a number) rather than truncating or reading it as 1.
pub(super) fn cast(p: &Parameter, v: Value) -> Result<Value, ParamError> {
    let Some(kind) = p.kind else {
        return Ok(v);
    };
    if v.is_null() {
        return Ok(v);
    }
    // StackStorm's `use_none` gives this text for `None`, and every cast of
    // a typed parameter turns it back into `None`.
    if kind != ParamType::Null && v.as_str() == Some(crate::functions::NONE_MAGIC) {
        return Ok(Value::Null);
    }
    let bad = |what: &str| {
        problem(
            p,
            format!("must be {}, not {what} {}", kind.article(), shown(p, &v)),
        )
    };
    match kind {
        ParamType::String => match v {
            Value::String(_) => Ok(v),
            ref other => Err(bad(json_type_name(other))),
        },
        ParamType::Integer => match &v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::from(f as i64)),
                _ => Err(bad("the fraction")),
            },
            Value::String(s) => python_int(s)
                .map(Value::from)
                .ok_or_else(|| bad("the text")),
            other => Err(bad(json_type_name(other))),
        },
        ParamType::Number => match &v {
            Value::Number(n) => Ok(n
                .as_f64()
                .and_then(Number::from_f64)
                .map_or(v.clone(), Value::Number)),
            Value::String(s) => python_float(s)
                .and_then(Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| bad("the text")),
            other => Err(bad(json_type_name(other))),
        },
        ParamType::Boolean => match &v {
            // `ast.literal_eval(x.capitalize())`
            Value::String(s) => match capitalize(s).as_str() {
                "True" => Ok(Value::Bool(true)),
                "False" => Ok(Value::Bool(false)),
                _ => Err(bad("the text")),
            },
            _ => Ok(v),
        },
        ParamType::Array | ParamType::Object => match &v {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(parsed) => Ok(parsed),
                Err(_) => Err(problem(
                    p,
                    format!(
                        "must be {}; a text given for it must be JSON, and {} is not",
                        kind.article(),
                        shown(p, &v)
                    ),
                )),
            },
            _ => Ok(v),
        },
        ParamType::Null => Ok(v),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// Python's `int(text)`: surrounding whitespace, a sign, digits with
/// single `_` between them.
fn python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let n: i64 = clean.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// Python's `float(text)`, finite values only (JSON has no others).
fn python_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let clean: String = t.chars().filter(|c| *c != '_').collect();
    clean.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn check(p: &Parameter, v: &Value) -> Result<(), ParamError> {
    if v.is_null() {
        if p.nullable() || p.empty || p.kind == Some(ParamType::Null) {
            return Ok(());
        }
        return Err(problem(p, "is required: give it a value"));
    }
    let type_ok = match p.kind {
        None if p.empty => true,
        // An undeclared type without a default on an optional parameter
        // is `string` or `null` under StackStorm (its
        // `modify_schema_allow_default_none`); otherwise anything goes.
        None if !p.required && matches!(p.default, None | Some(Value::Null)) => v.is_string(),
        None => true,
        Some(ParamType::String) => v.is_string(),
        Some(ParamType::Integer) => v.is_i64() || v.is_u64(),
        Some(ParamType::Number) => v.is_number(),
        Some(ParamType::Boolean) => v.is_boolean(),
        Some(ParamType::Array) => v.is_array(),
        Some(ParamType::Object) => v.is_object(),
        Some(ParamType::Null) => false,
    };
    if !type_ok {
        let expected = match p.kind {
            Some(k) => k.article().to_owned(),
            None => "a string or null (it declares no type, no default, and is optional: StackStorm takes only those)".to_owned(),
        };
        return Err(problem(
            p,
            format!(
                "must be {expected}, not {} {}",
                json_type_name(v),
                shown(p, v)
            ),
        ));
    }
    if let Some(allowed) = &p.enumeration {
        if !allowed.contains(v) {
            let list = allowed
                .iter()
                .map(|a| {
                    if p.secret {
                        "…".to_owned()
                    } else {
                        a.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            return Err(problem(
                p,
                format!("must be one of {list}, not {}", shown(p, v)),
            ));
        }
    }
    let l = &p.limits;
    if let Some(x) = v.as_f64() {
        if let Some(min) = l.minimum {
            if x < min || (l.exclusive_minimum && x == min) {
                let word = if l.exclusive_minimum {
                    "more than"
                } else {
                    "at least"
                };
                return Err(problem(
                    p,
                    format!("must be {word} {min}, not {}", shown(p, v)),
                ));
            }
        }
        if let Some(max) = l.maximum {
            if x > max || (l.exclusive_maximum && x == max) {
                let word = if l.exclusive_maximum {
                    "less than"
                } else {
                    "at most"
                };
                return Err(problem(
                    p,
                    format!("must be {word} {max}, not {}", shown(p, v)),
                ));
            }
        }
    }
    let length = match v {
        Value::String(s) => Some((
            s.chars().count() as u64,
            l.min_length,
            l.max_length,
            "characters",
        )),
        Value::Array(a) => Some((a.len() as u64, l.min_items, l.max_items, "items")),
        _ => None,
    };
    if let Some((n, min, max, unit)) = length {
        if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
            let bound = match (min, max) {
                (Some(a), Some(b)) => format!("between {a} and {b} {unit}"),
                (Some(a), None) => format!("at least {a} {unit}"),
                (None, Some(b)) => format!("at most {b} {unit}"),
                (None, None) => String::new(),
            };
            return Err(problem(p, format!("must have {bound}, not {n}")));
        }
    }
    Ok(())
}
