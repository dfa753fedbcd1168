//! JSON text as Python's `json.dumps` writes it: `ensure_ascii` escapes,
//! Python's float repr, the separators and indentation it is given, keys
//! sorted or in their order.

use std::fmt::Write as _;

use serde_json::Value;

/// How to write: `json.dumps`'s options.
pub(super) struct Style<'a> {
    /// `indent`: `None` for one line; otherwise the text one level adds
    /// (Python's `indent=2` is two spaces).
    pub(super) indent: Option<&'a str>,
    /// Between items, and between a key and its value.
    pub(super) item_separator: &'a str,
    pub(super) key_separator: &'a str,
    pub(super) sort_keys: bool,
    /// Escape everything outside ASCII (`\u00e9`), as `ensure_ascii=True`.
    pub(super) ensure_ascii: bool,
}

impl Style<'_> {
    /// `json.dumps(value)`'s defaults.
    pub(super) const DEFAULT: Style<'static> = Style {
        indent: None,
        item_separator: ", ",
        key_separator: ": ",
        sort_keys: false,
        ensure_ascii: true,
    };
}

/// Text too large: writing stopped at the limit.
pub(super) struct TooLarge;

/// Writes `value` as `json.dumps` does, stopping with [`TooLarge`] past
/// `max` bytes.
pub(super) fn dumps(value: &Value, style: &Style<'_>, max: usize) -> Result<String, TooLarge> {
    let mut w = Writer {
        out: String::new(),
        style,
        max,
    };
    w.value(value, 0)?;
    Ok(w.out)
}

struct Writer<'s> {
    out: String,
    style: &'s Style<'s>,
    max: usize,
}

impl Writer<'_> {
    fn check(&self) -> Result<(), TooLarge> {
        if self.out.len() > self.max {
            Err(TooLarge)
        } else {
            Ok(())
        }
    }

    fn newline(&mut self, level: usize) -> Result<(), TooLarge> {
        if let Some(indent) = self.style.indent {
            self.out.push('\n');
            for _ in 0..level {
                self.out.push_str(indent);
            }
            self.check()?;
        }
        Ok(())
    }

    fn value(&mut self, v: &Value, level: usize) -> Result<(), TooLarge> {
        match v {
            Value::Null => self.out.push_str("null"),
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            Value::Number(n) => self.out.push_str(&crate::pyrepr::number(n)),
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                if items.is_empty() {
                    self.out.push_str("[]");
                    return Ok(());
                }
                self.out.push('[');
                self.newline(level + 1)?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(self.style.item_separator);
                        self.newline(level + 1)?;
                    }
                    self.value(item, level + 1)?;
                }
                self.newline(level)?;
                self.out.push(']');
            }
            Value::Object(map) => {
                if map.is_empty() {
                    self.out.push_str("{}");
                    return Ok(());
                }
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if self.style.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                self.out.push('{');
                self.newline(level + 1)?;
                for (i, (k, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(self.style.item_separator);
                        self.newline(level + 1)?;
                    }
                    self.string(k);
                    self.out.push_str(self.style.key_separator);
                    self.value(item, level + 1)?;
                }
                self.newline(level)?;
                self.out.push('}');
            }
        }
        self.check()
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c if self.style.ensure_ascii && !(' '..='~').contains(&c) => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        let _ = write!(self.out, "\\u{u:04x}");
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_as_python_json_dumps() {
        let d = |v: Value| dumps(&v, &Style::DEFAULT, usize::MAX).ok().unwrap();
        assert_eq!(
            d(json!({"a": [1, 2.0, null], "b": "é\n\"x\u{1F600}"})),
            r#"{"a": [1, 2.0, null], "b": "\u00e9\n\"x\ud83d\ude00"}"#
        );
        assert_eq!(d(json!(1e16)), "1e+16");
        assert_eq!(d(json!("\u{7f}\u{1}")), r#""\u007f\u0001""#);
        let indented = Style {
            indent: Some("  "),
            item_separator: ",",
            sort_keys: true,
            ..Style::DEFAULT
        };
        assert_eq!(
            dumps(&json!({"b": [1, {}], "a": []}), &indented, usize::MAX)
                .ok()
                .unwrap(),
            "{\n  \"a\": [],\n  \"b\": [\n    1,\n    {}\n  ]\n}"
        );
        assert!(dumps(&Value::Array(vec![json!("x"); 100]), &Style::DEFAULT, 50).is_err());
    }
}
