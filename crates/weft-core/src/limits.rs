//! Limits: what loading a workflow accepts (file size, nesting, alias
//! expansion), what one expression may cost ([`ExpressionLimits`]), and
//! the scan that checks a template's nesting before minijinja parses it.

use std::sync::OnceLock;

use serde_json::Value;

/// The largest workflow file `Workflow::from_file` reads: 16 MiB.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How deeply lists and maps may nest in a workflow or a JSON value,
/// counted from the top-level map (level 1), aliases included. Below the
/// 128 levels at which serde's parsers stop, so that every format reports
/// it the same way.
pub(crate) const MAX_DEPTH: usize = 100;

/// How much YAML aliases (`*name`) may copy into a document, in all: each
/// copied value counts one, plus the bytes of its text.
pub(crate) const MAX_ALIAS_EXPANSION: usize = 1024 * 1024;

/// The message for nesting deeper than [`MAX_DEPTH`], the same for every
/// format.
pub(crate) fn too_deep_message() -> String {
    format!("lists and maps are nested more than {MAX_DEPTH} levels deep: flatten the data")
}

/// The limits every expression runs under.
///
/// weft runs inside other people's services, so a crafted workflow must not
/// be able to abort, hang or exhaust the host process through an
/// expression. Three things are bounded:
///
/// * **nesting, when compiling.** minijinja parses and compiles
///   recursively: `1 + 1 + ...` with a few thousand terms, or a long
///   `{% elif %}` chain, overflows a 2 MB thread stack, which aborts the
///   process. Before minijinja sees a template, a linear scan of its text
///   computes an upper bound of the depth of its syntax tree
///   ([`ExpressionLimits::max_depth`]) and refuses deeper ones;
/// * **work and memory, when evaluating.** Every evaluation runs on a fuel
///   budget ([`ExpressionLimits::fuel`]): each instruction and each byte or
///   list slot produced costs fuel, so loops end and data stays bounded. The
///   value an expression produces is capped in bytes
///   ([`ExpressionLimits::max_value_bytes`]);
/// * **size, when compiling.** One template string is at most
///   [`ExpressionLimits::max_template_bytes`] long, and one workflow holds
///   at most [`ExpressionLimits::max_expressions`] distinct expressions.
///
/// The limits are process-wide: compiled expressions are bound to one
/// shared minijinja environment that lives for the whole program, and the
/// fuel budget is a setting of that environment. Set them once, before the
/// first compile or evaluation, with [`ExpressionLimits::install`].
///
/// # Examples
///
/// ```
/// use weft_core::ExpressionLimits;
///
/// let mut limits = ExpressionLimits::default();
/// limits.fuel = 1_000_000;
/// // Takes effect only before the first compile or evaluation.
/// let _ = limits.install();
/// assert!(ExpressionLimits::current().fuel > 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpressionLimits {
    /// Fuel for one evaluation. An instruction costs one fuel; 64 bytes of
    /// data produced (strings, list slots, map entries) cost one fuel.
    /// Default [`ExpressionLimits::DEFAULT_FUEL`].
    pub fuel: u64,
    /// Most bytes one evaluation may produce as its value (a string's
    /// length, or a list's or map's JSON size). A path that returns a value
    /// already in the context (`{{ task.fetch }}`) is not produced and not
    /// measured. Default 4 MiB.
    pub max_value_bytes: usize,
    /// Deepest nesting of one expression or template: each operator,
    /// filter, attribute, subscript, call, bracket, enclosing block and
    /// `elif` counts one level. Default 128. Raising it far risks a stack
    /// overflow when compiling on a thread with a small stack.
    pub max_depth: u32,
    /// Longest template string, in bytes. Default 64 KiB.
    pub max_template_bytes: usize,
    /// Most distinct expressions (by text) one workflow may hold. Default
    /// 100,000.
    pub max_expressions: usize,
}

impl ExpressionLimits {
    /// The default fuel per evaluation. Set from what it must bound: an
    /// evaluation that burns all of it holds a thread for tens of
    /// milliseconds in a release build (about 45–65 ms for the slowest work
    /// per fuel found, `upper` of non-ASCII text, 10–50 ms for the rest:
    /// `examples/fuel_budget.rs`, docs/limits.md), and ordinary work fits:
    /// a 20,000-item list, a 10 MB string through a filter (about 320,000
    /// fuel), nested loops over thousands of items.
    pub const DEFAULT_FUEL: u64 = 400_000;

    /// The defaults, as a constant.
    pub const DEFAULT: ExpressionLimits = ExpressionLimits {
        fuel: Self::DEFAULT_FUEL,
        max_value_bytes: 4 << 20,
        max_depth: 128,
        max_template_bytes: 64 << 10,
        max_expressions: 100_000,
    };

    /// Makes these the limits of this process.
    ///
    /// # Errors
    ///
    /// When limits are already in force, because `install` was called before
    /// or because an expression was already compiled or evaluated: the
    /// limits in force, which stay.
    pub fn install(self) -> Result<(), ExpressionLimits> {
        let mut installed = false;
        let current = LIMITS.get_or_init(|| {
            installed = true;
            self
        });
        if installed {
            Ok(())
        } else {
            Err(*current)
        }
    }

    /// The limits in force (the defaults, unless [`ExpressionLimits::install`]
    /// came first). Calling it fixes them.
    pub fn current() -> ExpressionLimits {
        *LIMITS.get_or_init(ExpressionLimits::default)
    }
}

impl Default for ExpressionLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

static LIMITS: OnceLock<ExpressionLimits> = OnceLock::new();

/// What kind of text a scan walks: one expression (the inside of `{{ }}`),
/// or a template with `{{ }}`, `{% %}` and `{# #}` tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Expression,
    Template,
}

/// A token of code, as minijinja's lexer splits it. Only what the scans
/// need is told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// Template text outside tags.
    Text,
    /// `{{` or `{%` (with whitespace control, if any).
    TagStart {
        block: bool,
    },
    /// `}}` or `%}` (with whitespace control, if any).
    TagEnd,
    /// A comment, or a `{% raw %}` block: copied, never code.
    Skipped,
    Ident(&'a str),
    Str,
    Number,
    Open,
    Close,
    Comma,
    Assign,
    Colon,
    Dot,
    /// Any other operator (`+`, `==`, `|`, `~`, ...).
    Op,
    /// Whitespace inside a tag.
    Space,
    /// A character minijinja rejects; the parse fails there.
    Other,
}

/// Splits `source` into tokens the way minijinja's lexer does (default
/// syntax): the same tag starts and ends, the same string literals, the
/// same bracket balance across tags. Each token comes with its byte range,
/// and the ranges cover `source` without gaps.
pub(crate) struct Lexer<'a> {
    s: &'a str,
    pos: usize,
    /// Inside a tag (always, for an expression); `Some(true)` for `{% %}`.
    tag: Option<bool>,
    mode: Mode,
    /// Open brackets; like minijinja, a tag only ends when this is zero,
    /// and it carries over from one tag to the next.
    balance: isize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(s: &'a str, mode: Mode) -> Lexer<'a> {
        Lexer {
            s,
            pos: 0,
            tag: (mode == Mode::Expression).then_some(false),
            mode,
            balance: 0,
        }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn emit(&mut self, len: usize, tok: Tok<'a>) -> Option<(Tok<'a>, usize, usize)> {
        let start = self.pos;
        // Never stop inside a character.
        let mut end = (start + len.max(1)).min(self.s.len());
        while !self.s.is_char_boundary(end) {
            end += 1;
        }
        self.pos = end;
        Some((tok, start, end))
    }

    fn next_root(&mut self) -> Option<(Tok<'a>, usize, usize)> {
        let rest = self.rest().as_bytes();
        let mut i = 0;
        let marker = loop {
            let Some(at) = rest[i..].iter().position(|&b| b == b'{') else {
                return self.emit(rest.len(), Tok::Text);
            };
            let at = at + i;
            match rest.get(at + 1) {
                Some(b'{' | b'%' | b'#') => break at,
                _ => i = at + 1,
            }
        };
        if marker > 0 {
            return self.emit(marker, Tok::Text);
        }
        let ws = usize::from(matches!(rest.get(2), Some(b'-' | b'+')));
        match rest[1] {
            b'#' => {
                // A comment runs to the first `#}`; unterminated, it is a
                // syntax error and nothing after it is code.
                let len = find(&rest[2..], b"#}").map_or(rest.len(), |e| e + 4);
                self.emit(len, Tok::Skipped)
            }
            b'%' => {
                if let Some(raw) = skip_basic_tag(&self.rest()[2 + ws..], "raw", false) {
                    let body = 2 + ws + raw;
                    let mut j = body;
                    let end = loop {
                        let Some(at) = find(&rest[j..], b"{%") else {
                            break rest.len();
                        };
                        j += at + 2;
                        if let Some(len) = skip_basic_tag(&self.rest()[j..], "endraw", true) {
                            break j + len;
                        }
                    };
                    return self.emit(end, Tok::Skipped);
                }
                self.tag = Some(true);
                self.emit(2 + ws, Tok::TagStart { block: true })
            }
            _ => {
                self.tag = Some(false);
                self.emit(2 + ws, Tok::TagStart { block: false })
            }
        }
    }

    fn next_code(&mut self, block: bool) -> Option<(Tok<'a>, usize, usize)> {
        let rest = self.rest();
        let b = rest.as_bytes();
        let c = *b.first()?;
        if c.is_ascii_whitespace() {
            let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
            return self.emit(n, Tok::Space);
        }
        if self.balance == 0 && self.mode == Mode::Template {
            let end: &[u8] = if block { b"%}" } else { b"}}" };
            let ws = usize::from(matches!(c, b'-' | b'+'));
            if b[ws..].starts_with(end) {
                self.tag = None;
                return self.emit(ws + 2, Tok::TagEnd);
            }
        }
        if let Some(two) = b.get(..2) {
            if matches!(two, b"//" | b"**" | b"==" | b"!=" | b">=" | b"<=") {
                return self.emit(2, Tok::Op);
            }
        }
        let tok = match c {
            b'(' | b'[' | b'{' => {
                self.balance += 1;
                Tok::Open
            }
            b')' | b']' | b'}' => {
                self.balance -= 1;
                Tok::Close
            }
            b',' => Tok::Comma,
            b'=' => Tok::Assign,
            b':' => Tok::Colon,
            b'.' => Tok::Dot,
            b'+' | b'-' | b'*' | b'/' | b'%' | b'~' | b'|' | b'>' | b'<' => Tok::Op,
            b'\'' | b'"' => {
                // As minijinja's lexer: a backslash escapes the next byte;
                // an unterminated string is a syntax error, so what follows
                // is never code.
                let mut escaped = false;
                let len = b[1..]
                    .iter()
                    .position(|&x| {
                        let done = !escaped && x == c;
                        escaped = !escaped && x == b'\\';
                        done
                    })
                    .map_or(b.len(), |p| p + 2);
                return self.emit(len, Tok::Str);
            }
            c if c.is_ascii_digit() => {
                // Digits, letters (hex, exponents) and `_`; a `.` is left
                // to count as an operator, which only overestimates.
                let n = b
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                return self.emit(n, Tok::Number);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let n = b
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                return self.emit(n, Tok::Ident(&rest[..n]));
            }
            _ => Tok::Other,
        };
        self.emit(1, tok)
    }
}

impl<'a> Iterator for Lexer<'a> {
    /// A token and its byte range.
    type Item = (Tok<'a>, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.s.len() {
            return None;
        }
        match self.tag {
            None => self.next_root(),
            Some(block) => self.next_code(block),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `s` starts (after optional whitespace control, when `ws_control`) with
/// `name` and a tag end: the length up to and including the `%}`.
fn skip_basic_tag(s: &str, name: &str, ws_control: bool) -> Option<usize> {
    let mut p = s;
    if ws_control {
        p = p.strip_prefix(['-', '+']).unwrap_or(p);
    }
    p = p.trim_start_matches(|c: char| c.is_ascii_whitespace());
    p = p.strip_prefix(name)?;
    p = p.trim_start_matches(|c: char| c.is_ascii_whitespace());
    p = p.strip_prefix(['-', '+']).unwrap_or(p);
    p.strip_prefix("%}").map(|r| s.len() - r.len())
}

/// What one level of bracket nesting costs, in levels: minijinja parses
/// the inside of a bracket through its whole chain of precedence
/// functions, about fifteen stack frames (some 20 KB in a debug build),
/// where one operator of a chain costs one frame or two.
const BRACKET_LEVELS: u32 = 8;

/// What one open block (`if`, `for`, ...) costs, in levels: about 12 KB of
/// stack per level in a debug build.
const BLOCK_LEVELS: u32 = 5;

/// An upper bound of how deep minijinja recurses (in units of about one
/// operator's stack use) to parse, compile and drop `source`, in one pass
/// over its tokens.
///
/// Within a tag, each operator adds one level and each bracket adds one
/// plus its deepest comma-separated part: `a + b + c` is a left-leaning
/// chain two levels deep, `[x, y]` one level above the deeper of `x` and
/// `y`. Each level of bracket nesting adds [`BRACKET_LEVELS`] more. In a
/// template, each open block (`if`, `for`, `macro`, ...) adds
/// [`BLOCK_LEVELS`] and each `elif` of an open `if` one to every tag inside
/// it.
pub(crate) fn depth(source: &str, mode: Mode) -> u32 {
    let mut tag = TagDepth::default();
    // One weight per open block: 1, plus one per `elif` so far.
    let mut blocks: Vec<u32> = Vec::new();
    let mut block_depth: u32 = 0;
    let mut deepest: u32 = 0;
    // In a block tag: the statement's keyword, and whether an `=` appeared
    // outside brackets (`{% set x = 1 %}` opens no block).
    let mut keyword: Option<&str> = None;
    let mut in_block_tag = false;
    let mut assigns = false;
    let mut open_tag = mode == Mode::Expression;
    for (tok, _, _) in Lexer::new(source, mode) {
        match tok {
            Tok::TagStart { block } => {
                open_tag = true;
                tag = TagDepth::default();
                in_block_tag = block;
                keyword = None;
                assigns = false;
            }
            Tok::TagEnd => {
                open_tag = false;
                if in_block_tag {
                    match keyword.unwrap_or("") {
                        "elif" => {
                            if let Some(w) = blocks.last_mut() {
                                *w = w.saturating_add(1);
                                block_depth = block_depth.saturating_add(1);
                            }
                        }
                        k if k.starts_with("end") => {
                            if let Some(w) = blocks.pop() {
                                block_depth = block_depth.saturating_sub(w);
                            }
                        }
                        _ => {}
                    }
                }
                deepest = deepest.max(block_depth.saturating_add(tag.finish()));
                if in_block_tag {
                    let opens = match keyword.unwrap_or("") {
                        "if" | "for" | "macro" | "call" | "filter" | "with" | "autoescape"
                        | "block" => true,
                        "set" => !assigns,
                        _ => false,
                    };
                    if opens {
                        blocks.push(BLOCK_LEVELS);
                        block_depth = block_depth.saturating_add(BLOCK_LEVELS);
                    }
                }
                tag = TagDepth::default();
                in_block_tag = false;
            }
            Tok::Ident(word) => {
                if in_block_tag && keyword.is_none() {
                    keyword = Some(word);
                } else if matches!(word, "and" | "or" | "not" | "in" | "is" | "if" | "else") {
                    tag.op();
                }
            }
            Tok::Open => tag.open(),
            Tok::Close => tag.close(),
            Tok::Comma => tag.comma(),
            Tok::Assign => assigns |= tag.groups.is_empty(),
            Tok::Op | Tok::Dot => tag.op(),
            Tok::Text
            | Tok::Skipped
            | Tok::Str
            | Tok::Number
            | Tok::Colon
            | Tok::Space
            | Tok::Other => {}
        }
    }
    // An unterminated tag (or a whole expression) ends with the text.
    if open_tag {
        deepest = deepest.max(block_depth.saturating_add(tag.finish()));
    }
    deepest
}

/// The depth bound of one tag, built token by token.
#[derive(Default)]
struct TagDepth {
    /// The tag itself, as a group without brackets.
    top: Group,
    /// Open brackets, innermost last.
    groups: Vec<Group>,
    /// Deepest bracket nesting seen.
    nesting: u32,
}

#[derive(Default, Clone, Copy)]
struct Group {
    /// Deepest comma-separated part so far.
    max: u32,
    /// The part being read.
    cur: u32,
}

impl Group {
    fn depth(self) -> u32 {
        self.max.max(self.cur)
    }
}

impl TagDepth {
    fn current(&mut self) -> &mut Group {
        self.groups.last_mut().unwrap_or(&mut self.top)
    }
    fn op(&mut self) {
        let g = self.current();
        g.cur = g.cur.saturating_add(1);
    }
    fn comma(&mut self) {
        let g = self.current();
        g.max = g.max.max(g.cur);
        g.cur = 0;
    }
    fn open(&mut self) {
        self.groups.push(Group::default());
        self.nesting = self
            .nesting
            .max(u32::try_from(self.groups.len()).unwrap_or(u32::MAX));
    }
    fn close(&mut self) {
        // An unmatched close is a syntax error minijinja reports there.
        if let Some(g) = self.groups.pop() {
            let d = g.depth().saturating_add(1);
            let parent = self.current();
            parent.cur = parent.cur.saturating_add(d);
        }
    }
    fn finish(&mut self) -> u32 {
        while !self.groups.is_empty() {
            self.close();
        }
        let extra = self.nesting.saturating_mul(BRACKET_LEVELS - 1);
        self.top.depth().saturating_add(1).saturating_add(extra)
    }
}

/// Renames calls of `item(...)` in the code of `source` (not `x.item(...)`,
/// not in strings, not in template text) to `to`: Orquesta's `item()` is a
/// function while `item` is also a variable.
pub(crate) fn rename_calls<'s>(
    source: &'s str,
    mode: Mode,
    name: &str,
    to: &str,
) -> std::borrow::Cow<'s, str> {
    if !source.contains(name) {
        return std::borrow::Cow::Borrowed(source);
    }
    let toks: Vec<_> = Lexer::new(source, mode).collect();
    let significant = |i: usize| !matches!(toks[i].0, Tok::Space);
    let mut out = String::with_capacity(source.len() + 16);
    let mut changed = false;
    for (i, &(tok, start, end)) in toks.iter().enumerate() {
        let call = tok == Tok::Ident(name)
            && (0..i).rev().find(|&j| significant(j)).map(|j| toks[j].0) != Some(Tok::Dot)
            && (i + 1..toks.len())
                .find(|&j| significant(j))
                .is_some_and(|j| toks[j].0 == Tok::Open && &source[toks[j].1..toks[j].2] == "(");
        if call {
            out.push_str(to);
            changed = true;
        } else {
            out.push_str(&source[start..end]);
        }
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(source)
    }
}

/// About how many bytes `v` takes as JSON text, if that is at most
/// `limit`; `None` as soon as it is more. Stops early, so measuring a huge
/// value costs no more than `limit`.
pub fn json_size_within(v: &Value, limit: usize) -> Option<usize> {
    let mut size = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        size += match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(a) => {
                stack.extend(a.iter());
                2 + a.len()
            }
            Value::Object(m) => {
                stack.extend(m.values());
                2 + m.keys().map(|k| k.len() + 4).sum::<usize>()
            }
        };
        if size > limit {
            return None;
        }
    }
    Some(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_chains_brackets_and_blocks() {
        let e = |s| depth(s, Mode::Expression);
        let t = |s| depth(s, Mode::Template);
        assert_eq!(e("x"), 1);
        assert_eq!(e("1 + 1 + 1"), 3);
        assert_eq!(e("not not x"), 3);
        assert_eq!(e("a.b.c | upper"), 4);
        // Flat lists cost their deepest element, not their length.
        assert_eq!(e("[a.b, c.d, e.f, g.h]"), 3 + 7);
        assert_eq!(e("((((1))))"), 5 + 4 * 7);
        assert_eq!(e("f(a + b, c)"), 3 + 7);
        // Groups side by side are not nested.
        assert_eq!(e("f()()()"), 4 + 7);
        // Operators inside strings are text.
        assert_eq!(e("'+ + + ) ] ('"), 1);
        assert_eq!(e(r#""a\"+" ~ 'b'"#), 2);
        assert_eq!(t("plain + text - here"), 0);
        assert_eq!(t("{{ a + b }} and {{ c }}"), 2);
        assert_eq!(t("{% if a %}{{ b + c }}{% endif %}"), 5 + 2);
        assert_eq!(
            t("{% if a %}x{% elif b %}y{% elif c %}{{ d }}{% endif %}"),
            5 + 2 + 1
        );
        assert_eq!(
            t("{% for x in y %}{% if x %}{{ x }}{% endif %}{% endfor %}"),
            5 + 5 + 1
        );
        assert_eq!(t("{% set x = 1 + 2 %}{{ x }}"), 2);
        assert_eq!(t("{% set x %}{{ a }}{% endset %}"), 5 + 1);
        // Comments and raw blocks are not code.
        assert_eq!(t("{# 1 + 1 + 1 #}{% raw %}{{ 1 + 1 }}{% endraw %}"), 0);
        // A tag only ends outside brackets, as in minijinja.
        assert_eq!(t("{{ {'a': {'b': 1}} }}"), 3 + 2 * 7);
    }
}
