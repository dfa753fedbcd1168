//! Workflow inputs from the command line: `-i NAME=VALUE` and `--inputs FILE.json`.

use std::path::Path;

use serde_json::{Map, Value};

/// Parses one `-i NAME=VALUE`. `VALUE` is JSON when it parses as JSON
/// (`3`, `true`, `["eu", "us"]`, `"quoted"`), else the text as a string.
///
/// Used as clap's value parser, so a mistake is a usage error (exit 2).
pub(crate) fn parse_assignment(arg: &str) -> Result<(String, Value), String> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(format!(
            "expected NAME=VALUE, such as `regions=[\"eu\"]` or `app=web`, not `{arg}`"
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{arg}` has no input name before `=`"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

/// Reads `--inputs FILE.json`: a JSON map of input name to value.
pub(crate) fn read_file(path: &Path) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read inputs: {e}", path.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: inputs are not valid JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(format!(
            "{}: inputs must be a JSON map of name to value, such as {{\"app\": \"web\"}}, not {}",
            path.display(),
            weft_core::json_type_name(&other)
        )),
    }
}

/// The inputs of a run: the file's map, then each `-i` in order (a later
/// one wins).
pub(crate) fn merge(file: Map<String, Value>, assignments: &[(String, Value)]) -> Value {
    let mut map = file;
    for (name, value) in assignments {
        map.insert(name.clone(), value.clone());
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_json_when_they_parse_and_strings_otherwise() {
        let cases = [
            ("n=3", json!(3)),
            ("b=true", json!(true)),
            ("l=[\"eu\", \"us\"]", json!(["eu", "us"])),
            ("m={\"a\": 1}", json!({"a": 1})),
            ("s=\"quoted\"", json!("quoted")),
            ("s=hello world", json!("hello world")),
            ("s=", json!("")),
            ("s=a=b", json!("a=b")),
            ("s=[unclosed", json!("[unclosed")),
        ];
        for (arg, want) in cases {
            let (_, got) = parse_assignment(arg).unwrap();
            assert_eq!(got, want, "{arg}");
        }
    }

    #[test]
    fn a_missing_name_or_equals_sign_is_an_error() {
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=3").is_err());
    }

    #[test]
    fn later_assignments_win_over_the_file() {
        let file = json!({"a": 1, "b": 2}).as_object().cloned().unwrap();
        let merged = merge(
            file,
            &[
                ("b".into(), json!(3)),
                ("c".into(), json!(4)),
                ("b".into(), json!(5)),
            ],
        );
        assert_eq!(merged, json!({"a": 1, "b": 5, "c": 4}));
    }
}
