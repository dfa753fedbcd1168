//! Data functions: JSON and YAML text in and out, `json_escape`,
//! `jsonpath_query` and `use_none`, as StackStorm's
//! `st2common.expressions.functions.data` has them.

use serde_json::Value;
use weft_core::functions::{Args, Call, FunctionError};

use super::pyjson::{self, Style};
use super::{charge, python_str, python_type, truthy};

/// The text StackStorm's `use_none` gives for `None`; StackStorm turns it
/// back into `None` when it casts an action's typed parameter.
pub(crate) const NONE_MAGIC: &str = "%*****__%NONE%__*****%";

/// Writes `value` as `json.dumps` with `style` does, within the value cap.
fn dumps(value: &Value, style: &Style<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let max = call.max_value_bytes();
    let text = pyjson::dumps(value, style, max).map_err(|_| {
        FunctionError::new(format!(
            "the JSON text would be more than {max} bytes (ExpressionLimits::max_value_bytes): work on smaller parts"
        ))
    })?;
    charge(call, text.len())?;
    Ok(Value::String(text))
}

/// `to_json_string(value, indent=None, sort_keys=False,
/// separators=(",", ": "))`, also `json_dump`: `json.dumps` with those
/// options (so `{"a": 1,"b": 2}` by default: no space after a comma).
pub(super) fn to_json_string(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, indent, sort_keys, separators] =
        args.bind(["value", "indent", "sort_keys", "separators"], 1)?;
    let value = value.unwrap_or(&Value::Null);
    let indent_text: Option<String> = match indent {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Bool(b)) => Some(if *b { " " } else { "" }.to_owned()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            let n = n.as_i64().unwrap_or(i64::MAX).clamp(0, 1024) as usize;
            Some(" ".repeat(n))
        }
        Some(other) => {
            return Err(FunctionError::new(format!(
                "indent must be an integer or a string, not {}",
                python_type(other)
            )))
        }
    };
    let (item, key) = match separators {
        None => (",", ": "),
        // `separators=None`: json.dumps's own defaults.
        Some(Value::Null) if indent_text.is_some() => (",", ": "),
        Some(Value::Null) => (", ", ": "),
        Some(Value::Array(pair)) => match pair.as_slice() {
            [Value::String(i), Value::String(k)] => (i.as_str(), k.as_str()),
            _ => {
                return Err(FunctionError::new(
                    "separators must be a list of two strings: [item separator, key separator]",
                ))
            }
        },
        Some(other) => {
            return Err(FunctionError::new(format!(
                "separators must be a list of two strings, not {}",
                python_type(other)
            )))
        }
    };
    let style = Style {
        indent: indent_text.as_deref(),
        item_separator: item,
        key_separator: key,
        sort_keys: truthy(sort_keys),
        ensure_ascii: true,
    };
    dumps(value, &style, call)
}

/// `to_complex(value)`: `json.dumps(value)` with its defaults.
pub(super) fn to_complex(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value] = args.bind(["value"], 1)?;
    dumps(value.unwrap_or(&Value::Null), &Style::DEFAULT, call)
}

/// `json_escape(value)`: `json.dumps(value)` without the quotes at its
/// ends: a string's escapes, to put it inside a JSON string.
pub(super) fn json_escape(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value] = args.bind(["value"], 1)?;
    let Value::String(text) = dumps(value.unwrap_or(&Value::Null), &Style::DEFAULT, call)? else {
        return Err(FunctionError::new("json_escape: no text"));
    };
    Ok(Value::from(text.trim_matches('"')))
}

/// A value as text: a string as it is, anything else as Python's `str()`
/// writes it.
fn text_of(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(python_str(other)),
    }
}

/// `from_json_string(value)`, also `json_parse`: the JSON text parsed (a
/// value that is not a string is read as Python's `str()` of it).
pub(super) fn from_json_string(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value] = args.bind(["value"], 1)?;
    let text = text_of(value.unwrap_or(&Value::Null));
    // Parsing costs about what writing does.
    call.charge_bytes(text.len())?;
    serde_json::from_str::<Value>(&text)
        .map_err(|e| FunctionError::new(format!("not valid JSON: {e}")))
}

/// `from_yaml_string(value)`, also `yaml_parse`: the YAML text parsed as
/// PyYAML's safe loader reads it (YAML 1.1: `yes` is true, `010` is 8).
pub(super) fn from_yaml_string(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value] = args.bind(["value"], 1)?;
    let text = text_of(value.unwrap_or(&Value::Null));
    call.charge_bytes(text.len())?;
    crate::yaml::parse_value(&text).map_err(|e| FunctionError::new(format!("not valid YAML: {e}")))
}

/// `to_yaml_string(value, indent=None, allow_unicode=True)`, also
/// `yaml_dump`: PyYAML's `safe_dump` in block style, keys sorted.
pub(super) fn to_yaml_string(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, indent, allow_unicode] = args.bind(["value", "indent", "allow_unicode"], 1)?;
    let indent = match indent {
        None | Some(Value::Null) => 2,
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => match n.as_i64() {
            Some(i) if 1 < i && i < 10 => i as usize,
            _ => 2,
        },
        Some(Value::Bool(_)) => 2,
        Some(other) => {
            return Err(FunctionError::new(format!(
                "indent must be an integer, not {}",
                python_type(other)
            )))
        }
    };
    let allow_unicode = match allow_unicode {
        None | Some(Value::Null) => true,
        other => truthy(other),
    };
    let max = call.max_value_bytes();
    let text = super::pyyaml::safe_dump(value.unwrap_or(&Value::Null), indent, allow_unicode, max)
        .map_err(|_| {
            FunctionError::new(format!(
                "the YAML text would be more than {max} bytes (ExpressionLimits::max_value_bytes): work on smaller parts"
            ))
        })?;
    charge(call, text.len())?;
    Ok(Value::String(text))
}

/// `jsonpath_query(value, query)`: the values the JSONPath `query` finds
/// in `value` (in the dialect of the Python `jsonpath-rw` StackStorm
/// uses), or `null` when it finds none.
pub(super) fn jsonpath_query(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, query] = args.bind(["value", "query"], 2)?;
    let query = super::want_str(query, "query")?;
    let path = super::jsonpath::Path::parse(query)
        .map_err(|e| FunctionError::new(format!("`{query}` is not a JSONPath: {e}")))?;
    let found = path
        .find(value.unwrap_or(&Value::Null), call)
        .map_err(FunctionError::new)?;
    if found.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::Array(found))
}

/// `use_none(value)`: StackStorm's text for `None` when the value is
/// `null`, else the value. StackStorm (and weft's pack actions) turn the
/// text back into `null` when it is given to an action's typed parameter.
pub(super) fn use_none(args: &Args<'_>, _: &Call<'_>) -> Result<Value, FunctionError> {
    let [value] = args.bind(["value"], 1)?;
    Ok(match value {
        None | Some(Value::Null) => Value::from(NONE_MAGIC),
        Some(v) => v.clone(),
    })
}
