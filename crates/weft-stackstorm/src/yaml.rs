//! YAML with positions, read as StackStorm reads its metadata files.
//!
//! StackStorm loads `pack.yaml`, action metadata and configs with PyYAML's
//! safe loader, which follows YAML 1.1: `yes`, `no`, `on` and `off` are
//! booleans, `010` is octal, a float needs a dot (`1e3` is a string). The
//! tree here resolves plain scalars the same way, and keeps the line and
//! column of every value so that a mistake can be located.
//!
//! Loading is bounded: at most [`MAX_FILE_BYTES`] of text, lists and maps
//! nested at most [`MAX_DEPTH`] deep, aliases that copy at most
//! [`MAX_ALIAS_NODES`] nodes in all; a key appears once per map (PyYAML
//! would keep the last of two silently).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{PackError, PackErrorKind};

/// The largest metadata or config file read: 4 MiB.
pub(crate) const MAX_FILE_BYTES: u64 = 4 << 20;
/// How deeply lists and maps may nest.
pub(crate) const MAX_DEPTH: usize = 64;
/// How many nodes aliases may copy into one document.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;

/// A value and where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) value: Yaml,
    /// 1-based line and column.
    pub(crate) pos: (u32, u32),
}

#[derive(Clone, Debug)]
pub(crate) enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Node>),
    /// Keys in the order written, with where each key was written.
    Map(Vec<(String, (u32, u32), Node)>),
}

impl Node {
    /// The value at `key` of a map.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Yaml::Map(entries) => entries.iter().find(|(k, _, _)| k == key).map(|e| &e.2),
            _ => None,
        }
    }

    /// What the value is, for messages: `a string`, `a map`, ...
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.value {
            Yaml::Null => "null",
            Yaml::Bool(_) => "a boolean",
            Yaml::Int(_) | Yaml::Float(_) => "a number",
            Yaml::Str(_) => "a string",
            Yaml::List(_) => "a list",
            Yaml::Map(_) => "a map",
        }
    }

    /// The value as JSON (a NaN or infinite float becomes a string, as
    /// JSON has no such numbers).
    pub(crate) fn to_json(&self) -> Value {
        match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::from(*i),
            Yaml::Float(f) => Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.to_string())),
            Yaml::Str(s) => Value::String(s.clone()),
            Yaml::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Yaml::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, _, v)| (k.clone(), v.to_json()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

/// Reads a YAML file into a tree, bounded as the module says.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<(Arc<PathBuf>, Node), PackError> {
    use std::io::Read;
    let file = Arc::new(path.to_path_buf());
    let f = std::fs::File::open(path).map_err(|e| PackError::io(path, what, &e))?;
    let mut text = String::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| PackError::io(path, what, &e))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(PackError::at(
            PackErrorKind::Limit,
            &file,
            None,
            format!("the {what} is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    let node = parse(&text, &file)?;
    Ok((file, node))
}

/// Parses the one document of `text`; an empty text is `null`.
pub(crate) fn parse(text: &str, file: &Arc<PathBuf>) -> Result<Node, PackError> {
    parse_with(text, file, false)
}

/// Parses a YAML text given to an expression (StackStorm's
/// `from_yaml_string`) as PyYAML's `yaml.load` with the safe loader reads
/// it: as [`parse`] does, except that a key written twice keeps its last
/// value, as Python's dict does. The error is a message with the line and
/// column in it.
pub(crate) fn parse_value(text: &str) -> Result<Value, String> {
    let file = Arc::new(PathBuf::from("the text"));
    match parse_with(text, &file, true) {
        Ok(node) => Ok(node.to_json()),
        Err(e) => Err(match (e.location().line, e.location().column) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: {}", e.message()),
            _ => e.message().to_owned(),
        }),
    }
}

/// yaml-rust2 refuses quoted scalars whose lines are indented less than
/// the block they are in, which PyYAML reads (StackStorm's examples have
/// them): such a text is read again with those lines padded, which leaves
/// the values as they are (see `weft_core::pad_quoted_scalar`).
fn parse_with(text: &str, file: &Arc<PathBuf>, lenient: bool) -> Result<Node, PackError> {
    const UNDER_INDENTED: &str = "invalid indentation in quoted scalar";
    let mut padded: Option<String> = None;
    let mut first_error = None;
    for _ in 0..1_000 {
        let current = padded.as_deref().unwrap_or(text);
        match parse_once(current, file, lenient) {
            Err(e) if e.message() == UNDER_INDENTED => {
                let (Some(line), Some(column)) = (e.location().line, e.location().column) else {
                    return Err(e);
                };
                let next = weft_core::pad_quoted_scalar(current, line, column - 1);
                let first = first_error.get_or_insert(e);
                match next {
                    Some(t) => padded = Some(t),
                    None => return Err(first.clone()),
                }
            }
            other => return other,
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => parse_once(text, file, lenient),
    }
}

fn parse_once(text: &str, file: &Arc<PathBuf>, lenient: bool) -> Result<Node, PackError> {
    let mut b = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        copied: 0,
        root: None,
        lenient,
    };
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let m = e.marker();
            PackError::at(
                PackErrorKind::Syntax,
                file,
                Some((m.line() as u32, m.col() as u32 + 1)),
                e.info().to_owned(),
            )
        })?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    let message = if lenient {
                        "expected a single document in the stream, but found another"
                    } else {
                        "a second YAML document: a metadata file holds one"
                    };
                    return Err(b.error(PackErrorKind::Syntax, mark, message));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_ref())
                    .map_err(|m| b.error(PackErrorKind::Syntax, mark, m))?;
                b.push(
                    Node {
                        value,
                        pos: pos(mark),
                    },
                    anchor,
                    mark,
                )?;
            }
            Event::Alias(id) => {
                let Some(node) = b.anchors.get(&id).cloned() else {
                    return Err(b.error(PackErrorKind::Syntax, mark, "an alias to no anchor"));
                };
                b.copied += count(&node);
                if b.copied > MAX_ALIAS_NODES {
                    return Err(b.error(
                        PackErrorKind::Limit,
                        mark,
                        format!("aliases copy more than {MAX_ALIAS_NODES} values into the file"),
                    ));
                }
                let node = Node {
                    value: node.value,
                    pos: pos(mark),
                };
                b.push(node, 0, mark)?;
            }
            Event::SequenceStart(anchor, _) => b.open(false, anchor, mark)?,
            Event::MappingStart(anchor, _) => b.open(true, anchor, mark)?,
            Event::SequenceEnd | Event::MappingEnd => b.close(mark)?,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
    }
    Ok(b.root.unwrap_or(Node {
        value: Yaml::Null,
        pos: (1, 1),
    }))
}

fn pos(mark: Marker) -> (u32, u32) {
    (mark.line() as u32, mark.col() as u32 + 1)
}

fn count(node: &Node) -> usize {
    match &node.value {
        Yaml::List(items) => 1 + items.iter().map(count).sum::<usize>(),
        Yaml::Map(entries) => 1 + entries.iter().map(|e| count(&e.2)).sum::<usize>(),
        _ => 1,
    }
}

/// A list or map being read.
struct Open {
    node: Node,
    anchor: usize,
    /// A map's key waiting for its value.
    key: Option<(String, (u32, u32))>,
}

struct Builder<'a> {
    file: &'a Arc<PathBuf>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    copied: usize,
    root: Option<Node>,
    /// A repeated key keeps its last value instead of being an error.
    lenient: bool,
}

impl Builder<'_> {
    fn error(&self, kind: PackErrorKind, mark: Marker, message: impl Into<String>) -> PackError {
        PackError::at(kind, self.file, Some(pos(mark)), message)
    }

    fn open(&mut self, map: bool, anchor: usize, mark: Marker) -> Result<(), PackError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(
                PackErrorKind::Limit,
                mark,
                format!("lists and maps nested more than {MAX_DEPTH} deep"),
            ));
        }
        let value = if map {
            Yaml::Map(Vec::new())
        } else {
            Yaml::List(Vec::new())
        };
        self.stack.push(Open {
            node: Node {
                value,
                pos: pos(mark),
            },
            anchor,
            key: None,
        });
        Ok(())
    }

    fn close(&mut self, mark: Marker) -> Result<(), PackError> {
        let Some(open) = self.stack.pop() else {
            return Err(self.error(
                PackErrorKind::Syntax,
                mark,
                "a collection ends that never began",
            ));
        };
        self.push(open.node, open.anchor, mark)
    }

    /// Puts a finished value where it belongs: as a map key, a map value,
    /// a list item or the document.
    fn push(&mut self, node: Node, anchor: usize, mark: Marker) -> Result<(), PackError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let file = self.file.clone();
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut top.node.value {
            Yaml::List(items) => items.push(node),
            Yaml::Map(entries) => match top.key.take() {
                None => {
                    let key = match &node.value {
                        Yaml::Str(s) => s.clone(),
                        Yaml::Int(i) => i.to_string(),
                        Yaml::Float(f) => f.to_string(),
                        Yaml::Bool(b) => b.to_string(),
                        Yaml::Null => "null".to_owned(),
                        Yaml::List(_) | Yaml::Map(_) => {
                            return Err(PackError::at(
                                PackErrorKind::Syntax,
                                &file,
                                Some(node.pos),
                                "a list or map used as a key: keys are names",
                            ))
                        }
                    };
                    // Leniently, a repeated key stays in the list: the
                    // JSON map keeps its first place and its last value,
                    // as Python's dict does.
                    if !self.lenient && entries.iter().any(|(k, _, _)| *k == key) {
                        return Err(PackError::at(
                            PackErrorKind::Syntax,
                            &file,
                            Some(node.pos),
                            format!("duplicate key `{key}`: keep one"),
                        ));
                    }
                    // A block map's start is reported after its first
                    // key; the key is where the map begins for a reader.
                    if entries.is_empty() && node.pos < top.node.pos {
                        top.node.pos = node.pos;
                    }
                    top.key = Some((key, node.pos));
                }
                Some((key, at)) => entries.push((key, at, node)),
            },
            _ => {
                return Err(PackError::at(
                    PackErrorKind::Syntax,
                    &file,
                    Some(pos(mark)),
                    "a value outside any list or map",
                ))
            }
        }
        Ok(())
    }
}

/// A scalar's value: quoted ones are strings; plain ones resolve as
/// PyYAML's safe loader resolves them (YAML 1.1); a tag decides for itself.
fn scalar(
    text: &str,
    style: TScalarStyle,
    tag: Option<&yaml_rust2::parser::Tag>,
) -> Result<Yaml, String> {
    if let Some(tag) = tag {
        let standard = matches!(tag.handle.as_str(), "!!" | "tag:yaml.org,2002:");
        return match (standard, tag.suffix.as_str()) {
            (true, "str") => Ok(Yaml::Str(text.to_owned())),
            (true, "null") => Ok(Yaml::Null),
            (true, "bool") => bool_of(text)
                .map(Yaml::Bool)
                .ok_or_else(|| format!("`{text}` is not a boolean")),
            (true, "int") => int_of(text)
                .map(Yaml::Int)
                .ok_or_else(|| format!("`{text}` is not an integer")),
            (true, "float") => float_of(text)
                .or_else(|| int_of(text).map(|i| i as f64))
                .map(Yaml::Float)
                .ok_or_else(|| format!("`{text}` is not a number")),
            _ => Err(format!(
                "tag `{}{}` is not supported: remove it (plain values and !!str, !!int, !!float, !!bool, !!null are read)",
                tag.handle, tag.suffix
            )),
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Yaml::Str(text.to_owned()));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Yaml::Null);
    }
    if let Some(b) = bool_of(text) {
        return Ok(Yaml::Bool(b));
    }
    if let Some(i) = int_of(text) {
        return Ok(Yaml::Int(i));
    }
    if let Some(f) = float_of(text) {
        return Ok(Yaml::Float(f));
    }
    Ok(Yaml::Str(text.to_owned()))
}

fn bool_of(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// Splits off a sign: `(negative, rest)`.
fn sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// YAML 1.1 integers: decimal, `0b` binary, `0x` hex, `0` octal, and
/// base-60 `1:30`; `_` may separate digits.
fn int_of(text: &str) -> Option<i64> {
    let (negative, rest) = sign(text);
    let digits = |s: &str, radix: u32| -> Option<i64> {
        let clean: String = s.chars().filter(|c| *c != '_').collect();
        if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        i64::from_str_radix(&clean, radix).ok()
    };
    let magnitude = if let Some(b) = rest.strip_prefix("0b") {
        digits(b, 2)?
    } else if let Some(h) = rest.strip_prefix("0x") {
        digits(h, 16)?
    } else if rest == "0" {
        0
    } else if let Some(o) = rest.strip_prefix('0') {
        digits(o, 8)?
    } else if rest.contains(':') {
        let mut total: i64 = 0;
        for (i, part) in rest.split(':').enumerate() {
            let n = digits(part, 10)?;
            if i > 0 && n >= 60 {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(n)?;
        }
        if !rest.starts_with(|c: char| c.is_ascii_digit() && c != '0') {
            return None;
        }
        total
    } else {
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        digits(rest, 10)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// YAML 1.1 floats: a dot is required (`1.5`, `.5`, `1.`, `1.5e+3`; the
/// exponent's sign too), `.inf` and `.nan` in three spellings.
fn float_of(text: &str) -> Option<f64> {
    let (negative, rest) = sign(text);
    let value = match rest {
        ".inf" | ".Inf" | ".INF" => f64::INFINITY,
        ".nan" | ".NaN" | ".NAN" if rest.len() == text.len() => f64::NAN,
        _ => {
            let (mantissa, exponent) = match rest.find(['e', 'E']) {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            let (whole, fraction) = mantissa.split_once('.')?;
            let ok = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
            if !ok(whole) || !ok(fraction) || (whole.is_empty() && fraction.is_empty()) {
                return None;
            }
            if whole.is_empty() && !fraction.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            if let Some(e) = exponent {
                let (_, digits) = sign(e);
                if !(e.starts_with(['+', '-']))
                    || digits.is_empty()
                    || !digits.chars().all(|c| c.is_ascii_digit())
                {
                    return None;
                }
            }
            let clean: String = rest.chars().filter(|c| *c != '_').collect();
            clean.parse::<f64>().ok()?
        }
    };
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        parse(text, &Arc::new(PathBuf::from("t.yaml")))
            .unwrap()
            .to_json()
    }

    #[test]
    fn plain_scalars_resolve_as_pyyaml_resolves_them() {
        let v = one(
            "a: yes\nb: Off\nc: 010\nd: 0x1f\ne: 1_000\nf: 1e3\ng: 1.5e+3\nh: ~\ni: '10'\nj: 1:30\nk: .5\nl: -.inf\nm: 12.\n",
        );
        assert_eq!(v["a"], true);
        assert_eq!(v["b"], false);
        assert_eq!(v["c"], 8);
        assert_eq!(v["d"], 31);
        assert_eq!(v["e"], 1000);
        assert_eq!(v["f"], "1e3");
        assert_eq!(v["g"], 1500.0);
        assert_eq!(v["h"], Value::Null);
        assert_eq!(v["i"], "10");
        assert_eq!(v["j"], 90);
        assert_eq!(v["k"], 0.5);
        assert_eq!(v["l"], "-inf");
        assert_eq!(v["m"], 12.0);
    }

    #[test]
    fn positions_keys_and_aliases() {
        let file = Arc::new(PathBuf::from("t.yaml"));
        let node = parse("x: &a [1, 2]\ny:\n  z: *a\n", &file).unwrap();
        assert_eq!(node.get("y").unwrap().get("z").unwrap().pos, (3, 6));
        assert_eq!(node.to_json()["y"]["z"], serde_json::json!([1, 2]));
        let err = parse("a: 1\na: 2\n", &file).unwrap_err();
        assert_eq!(err.location().line, Some(2));
        assert!(err.message().contains("duplicate key `a`"));
    }

    #[test]
    fn hostile_text_is_bounded() {
        let file = Arc::new(PathBuf::from("t.yaml"));
        let deep = "[".repeat(200);
        assert!(parse(&deep, &file).is_err());
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_owned()
            } else {
                format!("l{}", i - 1)
            };
            laughs.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let err = parse(&laughs, &file).unwrap_err();
        assert_eq!(err.kind(), PackErrorKind::Limit, "{err}");
    }
}

#[cfg(test)]
mod quoted_lines {
    use serde_json::json;

    /// StackStorm's `orquesta-test-jinja-data-functions.yaml` writes a
    /// quoted string whose last line is indented as its key is; PyYAML
    /// reads it as one line, and so does weft.
    #[test]
    fn quoted_lines_indented_as_their_key_read_as_pyyaml_reads_them() {
        let text =
            "output:\n  - pipe: '{{\n        x |\n        y\n    }}'\n  - other: \"a\n  b\"\n";
        assert_eq!(
            super::parse_value(text).unwrap(),
            json!({"output": [{"pipe": "{{ x | y }}"}, {"other": "a b"}]})
        );
        // Not closed: the scanner's own error.
        assert!(super::parse_value("k: 'a\n").is_err());
    }
}
