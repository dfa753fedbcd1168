//! YAML text as PyYAML's `safe_dump(value, default_flow_style=False,
//! allow_unicode=...)` writes it with libyaml's emitter (`CSafeDumper`,
//! which StackStorm uses): block style, keys sorted, every scalar plain
//! when YAML would read it back as the same string, single-quoted when it
//! can be, double-quoted with escapes otherwise, long lines folded at 80
//! columns, empty lists and maps as `[]` and `{}`.
//!
//! This follows libyaml's emitter (its scalar analysis, style choice,
//! indentation and line folding) for the documents `safe_dump` makes of
//! JSON values: no anchors (see docs/stackstorm.md), no tags.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// The text grew past the limit it was given.
pub(super) struct TooLarge;

const BEST_WIDTH: usize = 80;

/// Writes `value` as `yaml.safe_dump` with libyaml does; `indent` is the
/// indentation step (2 unless 1 < indent < 10).
pub(super) fn safe_dump(
    value: &Value,
    indent: usize,
    allow_unicode: bool,
    max: usize,
) -> Result<String, TooLarge> {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: None,
        indents: Vec::new(),
        flow_level: 0,
        best_indent: indent,
        unicode: allow_unicode,
        max,
    };
    e.node(value, Context::Root)?;
    // The document's end: a line break after the last line.
    e.write_indent();
    e.check()?;
    Ok(e.out)
}

/// Where a node is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    Sequence,
    /// A map's value (or a complex key).
    Mapping,
    /// A map's simple key.
    SimpleKey,
}

struct Emitter {
    out: String,
    /// In characters.
    column: usize,
    /// The last thing written was whitespace (or nothing yet).
    whitespace: bool,
    /// The last thing written was indentation (or a `-`/`?`/`:` on it).
    indention: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    best_indent: usize,
    unicode: bool,
    max: usize,
}

/// What libyaml's `analyze_scalar` finds out about a scalar's text.
struct Analysis {
    multiline: bool,
    flow_plain: bool,
    block_plain: bool,
    single_quoted: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

/// libyaml's `IS_PRINTABLE`: a line feed, ASCII's printable characters,
/// and U+00A0 to U+FFFD less the surrogates, U+FEFF and U+FFFE..; not
/// U+0085 and nothing beyond U+FFFF.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn analyze(text: &str, unicode: bool) -> Analysis {
    if text.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain: false,
            block_plain: true,
            single_quoted: true,
        };
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut block_ind, mut flow_ind, mut line_breaks, mut special) = (false, false, false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    if text.starts_with("---") || text.starts_with("...") {
        block_ind = true;
        flow_ind = true;
    }
    let mut preceded_by_ws = true;
    let mut followed_by_ws = is_blankz(chars.get(1).copied());
    let (mut prev_space, mut prev_break) = (false, false);
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                flow_ind = true;
                block_ind = true;
            }
            if c == '?' || c == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if c == '-' && followed_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        } else {
            if ",?[]{}".contains(c) {
                flow_ind = true;
            }
            if c == ':' {
                flow_ind = true;
                if followed_by_ws {
                    block_ind = true;
                }
            }
            if c == '#' && preceded_by_ws {
                flow_ind = true;
                block_ind = true;
            }
        }
        if !is_printable(c) || (!c.is_ascii() && !unicode) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_ws = is_blankz(Some(c));
        followed_by_ws = is_blankz(chars.get(i + 2).copied());
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain: true,
        block_plain: true,
        single_quoted: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if break_space {
        a.flow_plain = false;
        a.block_plain = false;
        a.single_quoted = false;
    }
    if space_break || special {
        a.flow_plain = false;
        a.block_plain = false;
        a.single_quoted = false;
    }
    if line_breaks {
        a.flow_plain = false;
        a.block_plain = false;
    }
    if flow_ind {
        a.flow_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

/// Whether PyYAML's resolver reads the plain text `s` as a string (and not
/// as a boolean, number, null, timestamp, merge key or `=`), YAML 1.1.
fn plain_is_string(s: &str) -> bool {
    static OTHER: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^(?:",
            // bool
            r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            // float
            r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
            r"|\.[0-9_]+(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            // int
            r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
            r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            // merge, null, value
            r"|<<|~|null|Null|NULL|=",
            // timestamp
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?",
            r")\n?\z"
        ))
        .ok()
    });
    if s.is_empty() {
        return false;
    }
    match &*OTHER {
        Some(re) => !re.is_match(s),
        None => true,
    }
}

/// How SafeRepresenter writes a float: Python's repr, `.0` put before an
/// exponent that has no point, `.inf`, `-.inf`, `.nan`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let r = crate::pyrepr::float(f).to_lowercase();
    if !r.contains('.') && r.contains('e') {
        r.replacen('e', ".0e", 1)
    } else {
        r
    }
}

impl Emitter {
    fn check(&self) -> Result<(), TooLarge> {
        if self.out.len() > self.max {
            Err(TooLarge)
        } else {
            Ok(())
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        self.write(ind);
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None => Some(if flow { self.best_indent } else { 0 }),
            Some(i) if !indentless => Some(i + self.best_indent),
            same => same,
        };
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    fn node(&mut self, v: &Value, ctx: Context) -> Result<(), TooLarge> {
        match v {
            Value::Null => self.scalar("null", true, ctx),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, true, ctx),
            Value::Number(n) => {
                let text = match n.as_f64() {
                    Some(f) if n.is_f64() => float_text(f),
                    _ => n.to_string(),
                };
                self.scalar(&text, true, ctx)
            }
            Value::String(s) => self.scalar(s, plain_is_string(s), ctx),
            Value::Array(items) if items.is_empty() || self.flow_level > 0 => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
                Ok(())
            }
            Value::Object(map) if map.is_empty() || self.flow_level > 0 => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
                Ok(())
            }
            Value::Array(items) => {
                let indentless = ctx == Context::Mapping && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, Context::Sequence)?;
                }
                self.pop_indent();
                Ok(())
            }
            Value::Object(map) => {
                self.increase_indent(false, false);
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (k, item) in entries {
                    self.write_indent();
                    let key_analysis = analyze(k, self.unicode);
                    let simple = !key_analysis.multiline && k.len() <= 128;
                    if simple {
                        self.scalar(k, plain_is_string(k), Context::SimpleKey)?;
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(k, plain_is_string(k), Context::Mapping)?;
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(item, Context::Mapping)?;
                }
                self.pop_indent();
                Ok(())
            }
        }
    }

    /// A scalar: its style chosen as libyaml chooses it, then written.
    fn scalar(&mut self, text: &str, plain_implicit: bool, ctx: Context) -> Result<(), TooLarge> {
        let a = analyze(text, self.unicode);
        let simple_key = ctx == Context::SimpleKey;
        let mut style = Style::Plain;
        if (self.flow_level > 0 && !a.flow_plain) || (self.flow_level == 0 && !a.block_plain) {
            style = Style::Single;
        }
        if text.is_empty() && (self.flow_level > 0 || simple_key) {
            style = Style::Single;
        }
        if !plain_implicit {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let split = !simple_key;
        match style {
            Style::Plain => self.write_plain(text, split),
            Style::Single => self.write_single_quoted(text, split),
            Style::Double => self.write_double_quoted(text, split),
        }
        self.pop_indent();
        self.check()
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace && (!text.is_empty() || self.flow_level > 0) {
            self.put(' ');
        }
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        let last = chars.len().saturating_sub(1);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != last
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                if c == '\'' {
                    self.put('\'');
                }
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if breaks {
            self.write_indent();
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let last = chars.len().saturating_sub(1);
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c)
                || (!self.unicode && !c.is_ascii())
                || c == '\u{FEFF}'
                || is_break(c)
                || c == '"'
                || c == '\\'
            {
                self.put('\\');
                let short = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match short {
                    Some(s) => self.put(s),
                    None => {
                        let u = c as u32;
                        let text = if u <= 0xFF {
                            format!("x{u:02X}")
                        } else if u <= 0xFFFF {
                            format!("u{u:04X}")
                        } else {
                            format!("U{u:08X}")
                        };
                        self.write(&text);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != last {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dump(v: Value) -> String {
        safe_dump(&v, 2, true, usize::MAX).ok().unwrap()
    }

    /// StackStorm's own expectations (the orquesta data-functions
    /// workflows), and what PyYAML with libyaml writes.
    #[test]
    fn writes_as_pyyaml_with_libyaml() {
        assert_eq!(
            dump(json!({"foo": {"bar": "foobar"}})),
            "foo:\n  bar: foobar\n"
        );
        assert_eq!(
            dump(json!([{"a": 1, "b": 2}, {"x": 3, "y": 4}])),
            "- a: 1\n  b: 2\n- x: 3\n  y: 4\n"
        );
        assert_eq!(dump(json!("foo")), "foo\n");
        assert_eq!(dump(json!("")), "''\n");
        assert_eq!(dump(json!(null)), "null\n");
        assert_eq!(dump(json!([])), "[]\n");
        assert_eq!(dump(json!({"a": ""})), "a: ''\n");
        assert_eq!(dump(json!("a\nb")), "'a\n\n  b'\n");
        assert_eq!(
            dump(json!({"k": [1, {"x": [2]}]})),
            "k:\n- 1\n- x:\n  - 2\n"
        );
        assert_eq!(dump(json!([[1, 2], [3]])), "- - 1\n  - 2\n- - 3\n");
        assert_eq!(dump(json!("\u{1}")), "\"\\x01\"\n");
        assert_eq!(dump(json!("  lead")), "'  lead'\n");
        assert_eq!(dump(json!(1e16)), "1.0e+16\n");
        for s in [
            "2001-01-01",
            "yes",
            "1_000",
            "0x1f",
            "1:30",
            "~",
            "null",
            "- x",
            "#c",
            "a #b",
            "-",
            "a: b",
        ] {
            assert_eq!(dump(json!(s)), format!("'{s}'\n"), "{s}");
        }
        assert_eq!(dump(json!("'q'")), "'''q'''\n");
        assert_eq!(dump(json!("tab\there")), "\"tab\\there\"\n");
        assert_eq!(dump(json!("trail\n")), "'trail\n\n  '\n");
        let long = format!("{} {}", "x".repeat(100), "y".repeat(10));
        assert_eq!(
            dump(json!(long)),
            format!("{}\n  {}\n", "x".repeat(100), "y".repeat(10))
        );
        let key = "a".repeat(130);
        assert_eq!(dump(json!({key.clone(): 1})), format!("? {key}\n: 1\n"));
    }
}
