//! What resolving and rendering share: the context a default's template
//! sees, the error a call's parameters give, and casting a value to its
//! parameter's type.

use serde_json::{Number, Value};
use weft_core::engine::json_type_name;

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
pub(super) fn shown(p: &Parameter, v: &Value) -> String {
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
