//! Python's regular expressions (`re`) on the `regex` crate.
//!
//! A Python pattern is translated to the `regex` crate's syntax, keeping
//! Python's meaning where the two differ:
//!
//! * `$` (without `(?m)`) matches at the end and also before a newline
//!   that ends the text, as in Python; the match then ends before that
//!   newline;
//! * `\Z` is the end of the text; `{` that starts no repetition, `}`, and
//!   `[`, `&`, `~`, `--` inside a class are characters; `{,n}` is `{0,n}`;
//! * `\s` also matches U+001C..U+001F, as Python's does; escapes of
//!   punctuation are that character; `(?#...)` is a comment; `(?x)`
//!   verbose patterns lose their spaces and comments here;
//! * what the `regex` crate cannot do is refused with an error that names
//!   it: backreferences (`\1`, `(?P=name)`), look-ahead and look-behind,
//!   conditionals, atomic groups, possessive repetition, `(?a)` and `(?L)`,
//!   `\N{...}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::{Regex, RegexBuilder};

/// A compiled pattern and what Python's functions need to know of it.
pub(super) struct Pattern {
    pub(super) regex: Regex,
    /// The `regex` crate's index of each of Python's groups (1-based; index
    /// 0 unused).
    pub(super) groups: Vec<usize>,
    /// Python's group names, with Python's index.
    pub(super) names: Vec<(String, usize)>,
    /// The groups `$` was translated into: when one of them matched the
    /// final newline, the match (and any group ending there) ends before it.
    pub(super) eol_groups: Vec<usize>,
}

impl Pattern {
    /// How many groups the Python pattern has.
    pub(super) fn group_count(&self) -> usize {
        self.groups.len() - 1
    }
}

/// Compiled patterns, by (pattern, ignorecase, anchored): a workflow calls
/// the same few patterns over and over.
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// Compiled patterns by (pattern, ignorecase, anchored).
type Cache = HashMap<(String, bool, bool), Arc<Pattern>>;

/// How many compiled patterns are kept.
const CACHE_SIZE: usize = 256;

/// Largest compiled program one pattern may make, in bytes: bounds the
/// time and memory a crafted pattern can cost.
const SIZE_LIMIT: usize = 2 << 20;

/// Compiles a Python pattern; `anchored` for `re.match` (the match must
/// start at the beginning).
pub(super) fn compile(
    pattern: &str,
    ignorecase: bool,
    anchored: bool,
) -> Result<Arc<Pattern>, String> {
    let key = (pattern.to_owned(), ignorecase, anchored);
    if let Some(p) = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|c| c.get(&key).cloned())
    {
        return Ok(p);
    }
    let t = translate(pattern)?;
    let mut text = String::new();
    if anchored {
        text.push_str(r"\A(?:");
    }
    text.push_str(&t.out);
    if anchored {
        text.push(')');
    }
    let regex = RegexBuilder::new(&text)
        .case_insensitive(ignorecase)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => format!(
                "the pattern `{pattern}` is too large to match with (it would take more than {SIZE_LIMIT} bytes): simplify it"
            ),
            other => format!("the pattern `{pattern}` is not valid: {}", first_line(&other.to_string())),
        })?;
    let p = Arc::new(Pattern {
        regex,
        groups: t.groups,
        names: t.names,
        eol_groups: t.eol_groups,
    });
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= CACHE_SIZE {
        cache.clear();
    }
    cache.insert(key, p.clone());
    Ok(p)
}

fn first_line(s: &str) -> String {
    // The regex crate's errors draw the pattern over several lines; the
    // last line says what is wrong.
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim().trim_start_matches("error:").trim().to_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// The translation of one pattern.
struct Translated {
    out: String,
    groups: Vec<usize>,
    names: Vec<(String, usize)>,
    eol_groups: Vec<usize>,
}

#[derive(Clone, Copy, Default)]
struct Flags {
    multiline: bool,
    verbose: bool,
}

struct Translator<'p> {
    pattern: &'p str,
    chars: Vec<char>,
    pos: usize,
    out: String,
    /// The `regex` crate's group count so far.
    regex_groups: usize,
    groups: Vec<usize>,
    names: Vec<(String, usize)>,
    eol_groups: Vec<usize>,
    /// The flags of each open group, innermost last; the first is the
    /// pattern's.
    flags: Vec<Flags>,
    /// Nothing but global flags `(?i)` was read so far.
    at_start: bool,
}

fn unsupported(pattern: &str, what: &str) -> String {
    format!("the pattern `{pattern}` uses {what}, which weft's regular expressions do not support (they run on the Rust `regex` crate, which guarantees linear time): rewrite it without")
}

fn translate(pattern: &str) -> Result<Translated, String> {
    let mut t = Translator {
        pattern,
        chars: pattern.chars().collect(),
        pos: 0,
        out: String::with_capacity(pattern.len() + 8),
        regex_groups: 0,
        groups: vec![0],
        names: Vec::new(),
        eol_groups: Vec::new(),
        flags: vec![Flags::default()],
        at_start: true,
    };
    t.run()?;
    Ok(Translated {
        out: t.out,
        groups: t.groups,
        names: t.names,
        eol_groups: t.eol_groups,
    })
}

impl Translator<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn flags(&self) -> Flags {
        self.flags.last().copied().unwrap_or_default()
    }

    fn error(&self, what: &str) -> String {
        format!(
            "the pattern `{}` is not valid at position {}: {what}",
            self.pattern, self.pos
        )
    }

    fn run(&mut self) -> Result<(), String> {
        // A repetition may follow what was just written.
        let mut can_repeat = false;
        while let Some(c) = self.peek(0) {
            let was_at_start = self.at_start;
            self.at_start = false;
            if self.flags().verbose {
                if c.is_whitespace() {
                    self.pos += 1;
                    self.at_start = was_at_start;
                    continue;
                }
                if c == '#' {
                    while let Some(c) = self.peek(0) {
                        self.pos += 1;
                        if c == '\n' {
                            break;
                        }
                    }
                    self.at_start = was_at_start;
                    continue;
                }
            }
            match c {
                '\\' => {
                    self.escape()?;
                    can_repeat = true;
                }
                '[' => {
                    self.class()?;
                    can_repeat = true;
                }
                '(' => {
                    self.at_start = was_at_start;
                    can_repeat = self.open_group()?;
                }
                ')' => {
                    if self.flags.len() <= 1 {
                        return Err(self.error("unbalanced parenthesis"));
                    }
                    self.flags.pop();
                    self.out.push(')');
                    self.pos += 1;
                    can_repeat = true;
                }
                '$' => {
                    self.pos += 1;
                    if self.flags().multiline {
                        self.out.push('$');
                    } else {
                        // Python's `$`: the end, or before a final newline.
                        self.regex_groups += 1;
                        self.eol_groups.push(self.regex_groups);
                        self.out.push_str(r"(\n?)\z");
                    }
                    can_repeat = false;
                }
                '{' => {
                    if let Some((text, len)) = self.repetition() {
                        if !can_repeat {
                            return Err(self.error("nothing to repeat"));
                        }
                        self.pos += len;
                        self.out.push_str(&text);
                        self.after_repeat()?;
                        can_repeat = false;
                    } else {
                        self.out.push_str(r"\{");
                        self.pos += 1;
                        can_repeat = true;
                    }
                }
                '}' => {
                    self.out.push_str(r"\}");
                    self.pos += 1;
                    can_repeat = true;
                }
                '*' | '+' | '?' => {
                    if !can_repeat {
                        return Err(self.error("nothing to repeat"));
                    }
                    self.out.push(c);
                    self.pos += 1;
                    self.after_repeat()?;
                    can_repeat = false;
                }
                '|' => {
                    self.out.push('|');
                    self.pos += 1;
                    can_repeat = false;
                }
                '^' => {
                    self.out.push('^');
                    self.pos += 1;
                    can_repeat = false;
                }
                '#' | '&' | '~' | '-' | ' ' => {
                    // Literal here; escaped so that the `regex` crate's
                    // own verbose mode or class syntax never reads them.
                    self.out.push_str(&regex::escape(&c.to_string()));
                    self.pos += 1;
                    can_repeat = true;
                }
                c => {
                    self.out.push(c);
                    self.pos += 1;
                    can_repeat = true;
                }
            }
        }
        if self.flags.len() > 1 {
            return Err(self.error("missing ), unterminated subpattern"));
        }
        Ok(())
    }

    /// After `*`, `+`, `?` or `{m,n}`: a lazy `?` is kept; a possessive
    /// `+` is refused.
    fn after_repeat(&mut self) -> Result<(), String> {
        match self.peek(0) {
            Some('?') => {
                self.out.push('?');
                self.pos += 1;
            }
            Some('+') => {
                return Err(unsupported(
                    self.pattern,
                    "a possessive repetition (`*+`, `++`, `?+`)",
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// `{m}`, `{m,}`, `{,n}`, `{m,n}` at the cursor, as the `regex` crate
    /// writes it, and its length; `None` when the `{` is a character.
    fn repetition(&self) -> Option<(String, usize)> {
        let mut i = 1;
        let mut min = String::new();
        while let Some(c) = self.peek(i).filter(char::is_ascii_digit) {
            min.push(c);
            i += 1;
        }
        let mut max = None;
        if self.peek(i) == Some(',') {
            i += 1;
            let mut m = String::new();
            while let Some(c) = self.peek(i).filter(char::is_ascii_digit) {
                m.push(c);
                i += 1;
            }
            max = Some(m);
        }
        if self.peek(i) != Some('}') || (min.is_empty() && max.is_none()) {
            return None;
        }
        let min = if min.is_empty() { "0".to_owned() } else { min };
        Some((
            match max {
                None => format!("{{{min}}}"),
                Some(m) => format!("{{{min},{m}}}"),
            },
            i + 1,
        ))
    }

    /// `(`: a group of some kind. Returns whether a repetition may follow.
    fn open_group(&mut self) -> Result<bool, String> {
        self.pos += 1;
        if self.peek(0) != Some('?') {
            self.at_start = false;
            self.regex_groups += 1;
            self.groups.push(self.regex_groups);
            self.flags.push(self.flags());
            self.out.push('(');
            return Ok(true);
        }
        let kind = self.peek(1);
        if !matches!(kind, Some('i' | 'm' | 's' | 'x' | 'u' | 'a' | 'L' | '-')) {
            self.at_start = false;
        }
        match kind {
            Some(':') => {
                self.pos += 2;
                self.flags.push(self.flags());
                self.out.push_str("(?:");
            }
            Some('P') if self.peek(2) == Some('<') => {
                let start = self.pos + 3;
                let Some(end) = (start..self.chars.len()).find(|&i| self.chars[i] == '>') else {
                    return Err(self.error("missing >, unterminated name"));
                };
                let name: String = self.chars[start..end].iter().collect();
                let valid = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_');
                if !valid {
                    return Err(self.error(&format!("bad character in group name '{name}'")));
                }
                if self.names.iter().any(|(n, _)| *n == name) {
                    return Err(self.error(&format!("redefinition of group name '{name}'")));
                }
                self.regex_groups += 1;
                self.groups.push(self.regex_groups);
                self.names.push((name, self.groups.len() - 1));
                self.flags.push(self.flags());
                self.out.push('(');
                self.pos = end + 1;
            }
            Some('P') if self.peek(2) == Some('=') => {
                return Err(unsupported(
                    self.pattern,
                    "a named backreference `(?P=name)`",
                ))
            }
            Some('#') => {
                while let Some(c) = self.peek(0) {
                    self.pos += 1;
                    if c == ')' {
                        return Ok(false);
                    }
                }
                return Err(self.error("missing ), unterminated comment"));
            }
            Some('=') | Some('!') => {
                return Err(unsupported(
                    self.pattern,
                    "a look-ahead `(?=...)` or `(?!...)`",
                ))
            }
            Some('<') if matches!(self.peek(2), Some('=') | Some('!')) => {
                return Err(unsupported(
                    self.pattern,
                    "a look-behind `(?<=...)` or `(?<!...)`",
                ))
            }
            Some('(') => {
                return Err(unsupported(
                    self.pattern,
                    "a conditional group `(?(...)...)`",
                ))
            }
            Some('>') => return Err(unsupported(self.pattern, "an atomic group `(?>...)`")),
            _ => return self.flag_group(),
        }
        Ok(true)
    }

    /// `(?flags)` or `(?flags-flags:...)`, the cursor on the `?`.
    fn flag_group(&mut self) -> Result<bool, String> {
        let mut i = 1;
        let mut on = String::new();
        let mut off = String::new();
        let mut negative = false;
        let mut flags = self.flags();
        loop {
            match self.peek(i) {
                Some(c @ ('i' | 'm' | 's' | 'x' | 'u')) => {
                    if c != 'u' {
                        if negative {
                            off.push(c)
                        } else {
                            on.push(c)
                        }
                    }
                    match c {
                        'm' => flags.multiline = !negative,
                        'x' => flags.verbose = !negative,
                        _ => {}
                    }
                    i += 1;
                }
                Some('a') => return Err(unsupported(self.pattern, "the ASCII-only flag `(?a)`")),
                Some('L') => return Err(unsupported(self.pattern, "the locale flag `(?L)`")),
                Some('-') if !negative => {
                    negative = true;
                    i += 1;
                }
                Some(':') => {
                    self.at_start = false;
                    self.pos += i + 1;
                    self.flags.push(flags);
                    // Verbose mode is applied here (spaces and comments are
                    // dropped), so the `regex` crate never sees `x`.
                    let on: String = on.chars().filter(|c| *c != 'x').collect();
                    let off: String = off.chars().filter(|c| *c != 'x').collect();
                    self.out.push_str("(?");
                    self.out.push_str(&on);
                    if !off.is_empty() {
                        self.out.push('-');
                        self.out.push_str(&off);
                    }
                    self.out.push(':');
                    return Ok(true);
                }
                Some(')') if !negative => {
                    // Global flags: Python only allows them at the start.
                    if !self.at_start || self.flags.len() > 1 {
                        return Err(self.error("global flags not at the start of the expression"));
                    }
                    self.pos += i + 1;
                    if let Some(f) = self.flags.first_mut() {
                        f.multiline |= flags.multiline;
                        f.verbose |= flags.verbose;
                    }
                    if let Some(f) = self.flags.last_mut() {
                        f.multiline |= flags.multiline;
                        f.verbose |= flags.verbose;
                    }
                    let on: String = on.chars().filter(|c| *c != 'x').collect();
                    if !on.is_empty() {
                        self.out.push_str("(?");
                        self.out.push_str(&on);
                        self.out.push(')');
                    }
                    return Ok(false);
                }
                _ => return Err(self.error("unknown extension or flag after `(?`")),
            }
        }
    }

    /// `\` outside a class.
    fn escape(&mut self) -> Result<(), String> {
        let Some(c) = self.peek(1) else {
            return Err(self.error("bad escape (end of pattern)"));
        };
        self.pos += 2;
        match c {
            'A' | 'b' | 'B' | 'd' | 'D' | 'w' | 'W' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'Z' => self.out.push_str(r"\z"),
            's' => self.out.push_str(r"[\s\x1C-\x1F]"),
            'S' => self.out.push_str(r"[^\s\x1C-\x1F]"),
            '1'..='9' => {
                // Three octal digits make a character; otherwise it is a
                // backreference.
                if let Some(ch) = self.octal3(c) {
                    self.push_literal(ch);
                } else {
                    return Err(unsupported(self.pattern, "a backreference (`\\1`)"));
                }
            }
            _ => {
                let ch = self.char_escape(c)?;
                self.push_literal(ch);
            }
        }
        Ok(())
    }

    /// The character of an escape that stands for one (`\n`, `\x41`,
    /// `\u00e9`, `\0`, `\.`), the cursor after the escaped letter.
    fn char_escape(&mut self, c: char) -> Result<char, String> {
        Ok(match c {
            'a' => '\u{7}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            'x' => self.hex(2)?,
            'u' => self.hex(4)?,
            'U' => self.hex(8)?,
            '0' => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match self.peek(0).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                char::from_u32(v).unwrap_or('\0')
            }
            'N' => return Err(unsupported(self.pattern, "a named character `\\N{...}`")),
            c if c.is_ascii_alphanumeric() => {
                return Err(self.error(&format!("bad escape \\{c}")));
            }
            c => c,
        })
    }

    /// `\NNN` with three octal digits (the first given).
    fn octal3(&mut self, first: char) -> Option<char> {
        let (a, b) = (self.peek(0)?, self.peek(1)?);
        let digits = [first, a, b];
        if !digits.iter().all(|d| d.is_digit(8)) {
            return None;
        }
        let v = digits
            .iter()
            .fold(0u32, |v, d| v * 8 + d.to_digit(8).unwrap_or(0));
        self.pos += 2;
        char::from_u32(v)
    }

    fn hex(&mut self, n: usize) -> Result<char, String> {
        let digits: String = (0..n).filter_map(|i| self.peek(i)).collect();
        if digits.len() != n || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(self.error("incomplete escape"));
        }
        self.pos += n;
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.error("bad character code"))
    }

    fn push_literal(&mut self, c: char) {
        self.out.push_str(&regex::escape(&c.to_string()));
    }

    /// A character class `[...]`, the cursor on `[`.
    fn class(&mut self) -> Result<(), String> {
        self.pos += 1;
        self.out.push('[');
        if self.peek(0) == Some('^') {
            self.out.push('^');
            self.pos += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.error("unterminated character set"));
            };
            match c {
                ']' if !first => {
                    self.out.push(']');
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => {
                    let Some(e) = self.peek(1) else {
                        return Err(self.error("bad escape (end of pattern)"));
                    };
                    self.pos += 2;
                    match e {
                        'd' | 'D' | 'w' | 'W' => {
                            self.out.push('\\');
                            self.out.push(e);
                        }
                        's' => self.out.push_str(r"\s\x1C-\x1F"),
                        'S' => {
                            return Err(unsupported(self.pattern, "`\\S` inside a character class"))
                        }
                        'b' => self.out.push_str(r"\x08"),
                        '1'..='7' => match self.octal3(e) {
                            Some(ch) => self.class_literal(ch),
                            None => return Err(self.error(&format!("bad escape \\{e}"))),
                        },
                        _ => {
                            let ch = self.char_escape(e)?;
                            self.class_literal(ch);
                        }
                    }
                }
                c => {
                    if c == '-' && self.peek(1) != Some(']') && !first && self.peek(1) != Some('-')
                    {
                        // A range.
                        self.out.push('-');
                    } else {
                        self.class_literal(c);
                    }
                    self.pos += 1;
                }
            }
            first = false;
        }
    }

    fn class_literal(&mut self, c: char) {
        if matches!(c, '[' | ']' | '\\' | '&' | '~' | '-' | '^') {
            self.out.push('\\');
        }
        self.out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(p: &str) -> String {
        translate(p)
            .map(|t| t.out)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn python_patterns_translate() {
        assert_eq!(t(r"^v(\d+\.)?$"), r"^v(\d+\.)?(\n?)\z");
        assert_eq!(t(r"a{,3}b{2}c{x}"), r"a{0,3}b{2}c\{x\}");
        assert_eq!(t(r"[[a-z]&&x]"), r"[\[a-z]\&\&x]");
        assert_eq!(t(r"(?P<year>\d{4})-\Z"), r"(\d{4})\-\z");
        assert_eq!(t("(?x) a b # comment\n c"), "abc");
        assert_eq!(t(r"(?i)ab(?#note)c"), "(?i)abc");
        assert_eq!(t(r"\/\."), r"/\.");
        assert_eq!(t(r"(?m)^a$"), "(?m)^a$");
        for bad in [
            r"(a)\1",
            r"(?=a)",
            r"(?<!a)b",
            r"(?P<n>a)(?P=n)",
            r"a*+",
            r"(?a)x",
            r"\q",
            "(a",
            "a)",
            "*a",
        ] {
            assert!(t(bad).starts_with("ERR"), "{bad}: {}", t(bad));
        }
        assert!(t(r"(?=a)").contains("look-ahead"));
        assert!(t(r"(a)\1").contains("backreference"));
    }
}
