//! One call's values: given values cast, defaults rendered, everything
//! checked.

use serde_json::{Map, Value};
use weft_core::engine::json_type_name;

use super::cast::{cast, problem, shown};
use super::render::render_defaults;
use super::{Context, ParamError, ParamType, Parameter};

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
