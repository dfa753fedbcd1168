//! The `shell_quote` filter: makes a value safe to put into a POSIX shell
//! command line, such as the `cmd` of `core.local`.
//!
//! Templating a value into a shell string runs whatever the value says
//! (`name = "x; rm -rf ~"`); `| tojson` and hand-written quotes do not
//! prevent it. `{{ name | shell_quote }}` turns the value into exactly one
//! shell word whatever it holds:
//!
//! * a string is wrapped in single quotes, each `'` inside written as
//!   `'\''` (close, escaped quote, reopen). Inside single quotes a POSIX
//!   shell expands nothing: `$`, backticks, `\`, `;` and newlines stay as
//!   they are. The empty string becomes `''`, an empty argument;
//! * a number, a boolean, `none` or a map is first printed as `{{ }}`
//!   prints it (`3`, `True`, `None`, `{'a': 1}`), then quoted as a string;
//! * a list becomes one quoted word per element, joined by spaces, so
//!   `["a b", "c"]` gives `'a b' 'c'` (two arguments); an empty list gives
//!   the empty string (no argument). Each element is printed as above.
//!
//! Every string is quoted, even one that would be safe bare, so the output
//! does not depend on the value. An undefined value is an error, as it is
//! everywhere else.

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};

/// The `shell_quote` filter (see the module docs).
pub(crate) fn shell_quote(value: &Value) -> Result<String, Error> {
    let mut out = String::new();
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            for (i, item) in value.try_iter()?.enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                push_word(&mut out, &item)?;
            }
        }
        _ => push_word(&mut out, value)?,
    }
    Ok(out)
}

fn push_word(out: &mut String, value: &Value) -> Result<(), Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "shell_quote got an undefined value: check the name, or give a fallback with `| default('')`",
        ));
    }
    match value.as_str() {
        Some(s) => push_quoted(out, s),
        None => push_quoted(out, &value.to_string()),
    }
    Ok(())
}

fn push_quoted(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('\'');
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            out.push_str("'\\''");
        }
        out.push_str(part);
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(v: Value) -> String {
        shell_quote(&v).unwrap()
    }

    #[test]
    fn strings_become_one_single_quoted_word() {
        assert_eq!(q(Value::from("abc")), "'abc'");
        assert_eq!(q(Value::from("")), "''");
        assert_eq!(q(Value::from("it's")), r"'it'\''s'");
        assert_eq!(q(Value::from("'")), r"''\'''");
        assert_eq!(q(Value::from("a b\nc")), "'a b\nc'");
        assert_eq!(q(Value::from("$(id) `id` ; &")), "'$(id) `id` ; &'");
    }

    #[test]
    fn other_values_are_quoted_as_jinja_prints_them() {
        assert_eq!(q(Value::from(3)), "'3'");
        assert_eq!(q(Value::from(true)), "'True'");
        assert_eq!(q(Value::from(())), "'None'");
        let map = Value::from(minijinja::value::Serde(serde_json::json!({"a": 1})));
        assert_eq!(q(map), r"'{'\''a'\'': 1}'");
    }

    #[test]
    fn lists_give_one_word_per_element() {
        let list = Value::from(minijinja::value::Serde(serde_json::json!([
            "a b",
            "",
            2,
            ["c", "d"]
        ])));
        assert_eq!(q(list), r"'a b' '' '2' '['\''c'\'', '\''d'\'']'");
        assert_eq!(
            q(Value::from(minijinja::value::Serde(serde_json::json!([])))),
            ""
        );
    }

    #[test]
    fn undefined_is_an_error() {
        let e = shell_quote(&Value::UNDEFINED).unwrap_err();
        assert!(e.to_string().contains("default"), "{e}");
    }
}
