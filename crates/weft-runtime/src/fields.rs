//! How an action describes its input fields, and checking an input
//! against them: shared by the built-in actions, each in its own file, and
//! by the catalogue of them in `builtins.rs`.

use serde_json::{Map, Value};
use weft_core::engine::json_type_name;
use weft_core::InputField;

use crate::action::ActionError;

/// A description of an action's input and result, for `weft actions` and
/// documentation.
#[derive(Clone, Debug)]
pub struct ActionInfo {
    /// The action's name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Its input fields.
    pub inputs: &'static [FieldInfo],
    /// The shape of its result.
    pub result: &'static str,
}

/// One input field of an action.
#[derive(Clone, Debug)]
pub struct FieldInfo {
    /// The field's name.
    pub name: &'static str,
    /// Its JSON type.
    pub kind: &'static str,
    /// Whether it must be given.
    pub required: bool,
    /// What it means.
    pub description: &'static str,
}

/// The input fields `inputs` declare, as the compiler checks them.
pub(crate) fn declared(inputs: &[FieldInfo]) -> Vec<InputField> {
    inputs
        .iter()
        .map(|f| match f.required {
            true => InputField::required(f.name),
            false => InputField::optional(f.name),
        })
        .collect()
}

/// Checks that `input` (of action `name`) is a map with only the fields
/// `inputs` declares and every required one present.
pub(crate) fn check(name: &str, inputs: &[FieldInfo], input: &Value) -> Result<(), ActionError> {
    let map = match input {
        Value::Object(m) => m,
        Value::Null => &Map::new(),
        other => {
            return Err(ActionError::new(format!(
                "{name}: input must be a map, not {}",
                json_type_name(other)
            )))
        }
    };
    for key in map.keys() {
        if !inputs.iter().any(|f| f.name == key) {
            let known: Vec<&str> = inputs.iter().map(|f| f.name).collect();
            let known = if known.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("it takes: {}", known.join(", "))
            };
            return Err(ActionError::new(format!(
                "{name}: unknown input `{key}` ({known})"
            )));
        }
    }
    for f in inputs {
        if f.required && !map.contains_key(f.name) {
            return Err(ActionError::new(format!(
                "{name}: missing input `{}` ({}: {})",
                f.name, f.kind, f.description
            )));
        }
    }
    Ok(())
}
