//! Workflow inputs from the command line: `-i NAME=VALUE` and `--inputs FILE.json`.
//!
//! Both follow the rules of workflow files (through
//! [`weft_core::json_from_str`]): a key appears once, nesting stops at
//! [`Workflow::MAX_DEPTH`] levels, numbers keep their value or are an error.
//! Text that looks like JSON but is not is an error naming the `-i` that
//! gave it, never a string that fails somewhere later.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};
use weft_core::{ErrorKind, InputSpec, Plan, Workflow};

/// The largest `--inputs` file (and `-i` value) read: 16 MiB, the limit of
/// a workflow file.
pub(crate) const MAX_INPUTS_BYTES: u64 = Workflow::MAX_FILE_BYTES;

/// Splits one `-i NAME=VALUE`; the value is read once the workflow is
/// known ([`resolve`]), as its meaning depends on the input's default.
///
/// Used as clap's value parser, so a mistake is a usage error (exit 2).
pub(crate) fn parse_assignment(arg: &str) -> Result<(String, String), String> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(format!(
            "expected NAME=VALUE, such as `regions=[\"eu\"]` or `app=web`, not `{arg}`"
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("`{arg}` has no input name before `=`"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// The value of each `-i NAME=VALUE`, in order, read against the inputs
/// the plan declares (see [`value_of`]).
pub(crate) fn resolve(
    assignments: &[(String, String)],
    plan: &Plan,
) -> Result<Vec<(String, Value)>, String> {
    assignments
        .iter()
        .map(|(name, text)| {
            let declared = plan.inputs().iter().find(|i| &i.name == name);
            value_of(name, text, declared).map(|v| (name.clone(), v))
        })
        .collect()
}

/// The value of `-i NAME=TEXT`:
///
/// * text that starts with `"` is a JSON string, and must be one;
/// * for an input whose default is a plain string (not an expression), the
///   text as written (`-i version=1.10` stays `"1.10"`);
/// * otherwise text that starts with `[` or `{` is JSON and must be valid,
///   text that is a JSON number, `true`, `false` or `null` is that value
///   (a number out of range is an error), and any other text is a string.
pub(crate) fn value_of(
    name: &str,
    text: &str,
    declared: Option<&InputSpec>,
) -> Result<Value, String> {
    let shown = shorten(text);
    if text.len() as u64 > MAX_INPUTS_BYTES {
        return Err(format!(
            "`-i {name}=...`: the value is larger than {MAX_INPUTS_BYTES} bytes, the limit for inputs: \
             pass large inputs in a file with --inputs"
        ));
    }
    let start = text.trim_start();
    let string_default = declared
        .is_some_and(|spec| matches!(&spec.default, Some(Value::String(s)) if !s.contains("{{")));
    if string_default && !start.starts_with('"') {
        return Ok(Value::String(text.to_owned()));
    }
    let looks_like_json = start.starts_with(['"', '[', '{']);
    match weft_core::json_from_str(text) {
        Ok(v) => Ok(v),
        // A syntax error in text that does not look like JSON means the
        // text is a string; anything else (`1e999`) was meant as JSON.
        Err(e) if looks_like_json || e.kind() != ErrorKind::Syntax => {
            let place = match (e.line(), e.column()) {
                (Some(l), Some(c)) if text.contains('\n') => format!(" at line {l}, column {c}"),
                (_, Some(c)) => format!(" at column {c}"),
                _ => String::new(),
            };
            let field = e.field().map(|f| format!(" in `{f}`")).unwrap_or_default();
            // Limits and numbers say what to do; a syntax error is fixed,
            // or the value was meant as text.
            let fix = if e.kind() == ErrorKind::Syntax {
                "; fix it, or write text as a JSON string in double quotes"
            } else {
                ""
            };
            Err(format!(
                "`-i {name}={shown}`: the value is read as JSON and is not valid{field}{place}: {}{fix}",
                e.message()
            ))
        }
        Err(_) => Ok(Value::String(text.to_owned())),
    }
}

/// Reads `--inputs FILE.json`: a JSON map of input name to value, at most
/// [`MAX_INPUTS_BYTES`] long.
pub(crate) fn read_file(path: &Path) -> Result<Map<String, Value>, String> {
    let shown = path.display();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUTS_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{shown}: cannot read inputs: {e}"))?;
    if bytes.len() as u64 > MAX_INPUTS_BYTES {
        return Err(format!(
            "{shown}: the inputs file is larger than {MAX_INPUTS_BYTES} bytes, the limit for inputs"
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{shown}: cannot read inputs: the file is not UTF-8 text"))?;
    let value = weft_core::json_from_str(&text).map_err(|e| {
        let place = match (e.line(), e.column()) {
            (Some(l), Some(c)) => format!("{shown}:{l}:{c}"),
            _ => shown.to_string(),
        };
        let what = if e.kind() == ErrorKind::Syntax {
            "inputs are not valid JSON"
        } else {
            "invalid inputs"
        };
        let field = e.field().map(|f| format!(" in `{f}`")).unwrap_or_default();
        format!("{place}: {what}{field}: {}", e.message())
    })?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(format!(
            "{shown}: inputs must be a JSON map of name to value, such as {{\"app\": \"web\"}}, not {}",
            weft_core::engine::json_type_name(&other)
        )),
    }
}

/// The inputs of a run: the file's map, then each `-i` in order (a later
/// one wins).
pub(crate) fn merge(file: Map<String, Value>, assignments: Vec<(String, Value)>) -> Value {
    let mut map = file;
    for (name, value) in assignments {
        map.insert(name, value);
    }
    Value::Object(map)
}

/// `text`, cut to fit in a message.
fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The input `name` as a workflow declares it (with `default`, if any).
    fn spec(name: &str, default: Option<Value>) -> InputSpec {
        let input = match default {
            Some(d) => json!({ name: d }),
            None => json!(name),
        };
        let text = json!({"input": [input], "tasks": {"t": {"action": "core.noop"}}});
        let plan = Workflow::from_json_str(&text.to_string())
            .and_then(|wf| wf.compile(&["core.noop"]))
            .expect("a workflow declaring one input");
        plan.inputs()[0].clone()
    }

    #[test]
    fn values_are_json_when_they_parse_and_strings_otherwise() {
        let cases = [
            ("3", json!(3)),
            ("1.10", json!(1.1)),
            ("true", json!(true)),
            ("null", json!(null)),
            ("[\"eu\", \"us\"]", json!(["eu", "us"])),
            ("{\"a\": 1}", json!({"a": 1})),
            ("\"quoted\"", json!("quoted")),
            ("hello world", json!("hello world")),
            ("", json!("")),
            ("a=b", json!("a=b")),
            ("007", json!("007")),
            ("+5", json!("+5")),
        ];
        for (text, want) in cases {
            assert_eq!(value_of("x", text, None), Ok(want), "{text}");
        }
    }

    #[test]
    fn text_that_looks_like_json_must_be_json() {
        for text in [
            "[\"a\"",
            "{\"a\": 1",
            "\"unclosed",
            "[1, 2,]",
            "{\"a\": 1, \"a\": 2}",
        ] {
            let e = value_of("files", text, None).expect_err(text);
            assert!(e.starts_with("`-i files="), "{e}");
            assert!(e.contains("read as JSON and is not valid"), "{e}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = value_of("deep", &deep, None).expect_err("too deep");
        assert!(e.contains("more than 100 levels"), "{e}");
        assert!(e.contains("at column 101"), "{e}");
        let e = value_of("n", &"9".repeat(400), None).expect_err("out of range");
        assert!(e.contains("is out of range"), "{e}");
        assert!(e.len() < 500, "the value is shortened in the message: {e}");
    }

    #[test]
    fn a_string_default_keeps_the_text_as_written() {
        let version = spec("version", Some(json!("1.0")));
        assert_eq!(
            value_of("version", "1.10", Some(&version)),
            Ok(json!("1.10"))
        );
        assert_eq!(
            value_of("version", "[WIP] x", Some(&version)),
            Ok(json!("[WIP] x"))
        );
        assert_eq!(
            value_of("version", "\"1.10\"", Some(&version)),
            Ok(json!("1.10"))
        );
        assert!(value_of("version", "\"1.10", Some(&version)).is_err());
        // A default that is an expression says nothing of the type.
        let computed = spec("n", Some(json!("{{ 1 + 1 }}")));
        assert_eq!(value_of("n", "5", Some(&computed)), Ok(json!(5)));
        let number = spec("n", Some(json!(3)));
        assert_eq!(value_of("n", "1.10", Some(&number)), Ok(json!(1.1)));
    }

    #[test]
    fn a_missing_name_or_equals_sign_is_an_error() {
        assert!(parse_assignment("novalue").is_err());
        assert!(parse_assignment("=3").is_err());
        assert_eq!(
            parse_assignment("s=a=b"),
            Ok(("s".to_owned(), "a=b".to_owned()))
        );
    }

    #[test]
    fn later_assignments_win_over_the_file() {
        let file = json!({"a": 1, "b": 2}).as_object().cloned().unwrap();
        let merged = merge(
            file,
            vec![
                ("b".into(), json!(3)),
                ("c".into(), json!(4)),
                ("b".into(), json!(5)),
            ],
        );
        assert_eq!(merged, json!({"a": 1, "b": 5, "c": 4}));
    }
}
