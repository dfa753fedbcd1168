//! YAQL's tokens, split as the `yaql` library's lexer splits them.
//!
//! The rules, in the order yaql tries them at each position:
//!
//! * `$` followed by word characters: a variable (`$`, `$1`, `$item`);
//! * digits, with an optional `.digits`, not followed by a word character:
//!   a number (`1e5` and `1abc` are errors, as in yaql);
//! * a name directly followed by `(`: a function name (`f(`, but `f (`
//!   is a name and a parenthesis);
//! * a name not starting with `__`: `true`, `false`, `null`, one of the
//!   word operators (`and`, `or`, `not`, `in`, `mod`), or a bare keyword
//!   (which is a string: `ctx(name)` reads `name`);
//! * strings in `'…'` or `"…"` with Python's escapes, and verbatim strings
//!   in backquotes;
//! * operators, longest first (`?.` before `.`, `=>` and `=~` before `=`).
//!
//! Spaces, tabs, carriage returns and newlines separate tokens; any other
//! character is an error at its position.

use std::sync::Arc;

/// A byte range in the expression text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Span {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span {
            start: clamp(start),
            end: clamp(end),
        }
    }

    /// The span from the start of `self` to the end of `other`.
    pub(crate) fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The operators of yaql's operator table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Dot,
    Elvis,
    Plus,
    Minus,
    Star,
    Slash,
    Mod,
    Gt,
    Lt,
    Ge,
    Le,
    Ne,
    Eq,
    In,
    Not,
    And,
    Or,
    Arrow,
    /// `=~`, a regular expression match.
    Match,
    /// `!~`, its negation.
    NotMatch,
}

impl Op {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Op::Dot => ".",
            Op::Elvis => "?.",
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Star => "*",
            Op::Slash => "/",
            Op::Mod => "mod",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Ne => "!=",
            Op::Eq => "=",
            Op::In => "in",
            Op::Not => "not",
            Op::And => "and",
            Op::Or => "or",
            Op::Arrow => "->",
            Op::Match => "=~",
            Op::NotMatch => "!~",
        }
    }
}

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    True,
    False,
    Null,
    /// A bare name (yaql's keyword string).
    Name(Arc<str>),
    /// A name directly followed by `(`, which the token includes.
    Func(Arc<str>),
    /// `$…`: the text after the `$`.
    Dollar(Arc<str>),
    Op(Op),
    /// `=>`, between a keyword argument's name and its value.
    Mapping,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
}

impl Tok {
    /// How the token is named in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Int(i) => format!("`{i}`"),
            Tok::Float(f) => format!("`{f}`"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::True => "`true`".to_owned(),
            Tok::False => "`false`".to_owned(),
            Tok::Null => "`null`".to_owned(),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Func(n) => format!("`{n}(`"),
            Tok::Dollar(n) => format!("`${n}`"),
            Tok::Op(op) => format!("`{}`", op.text()),
            Tok::Mapping => "`=>`".to_owned(),
            Tok::LParen => "`(`".to_owned(),
            Tok::RParen => "`)`".to_owned(),
            Tok::LBracket => "`[`".to_owned(),
            Tok::RBracket => "`]`".to_owned(),
            Tok::LBrace => "`{`".to_owned(),
            Tok::RBrace => "`}`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
        }
    }
}

/// A lexical error: what is wrong, at which byte.
#[derive(Debug, PartialEq)]
pub(crate) struct LexError {
    pub(crate) message: String,
    pub(crate) at: usize,
}

/// Python's `\w`, as near as Rust's character classes come.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits `text` into tokens with their spans.
pub(crate) fn tokenize(text: &str) -> Result<Vec<(Tok, Span)>, LexError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let Some(c) = rest.chars().next() else { break };
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            i += 1;
            continue;
        }
        let start = i;
        let (tok, len) = if c == '$' {
            let n = word_len(&rest[1..]);
            (Tok::Dollar(Arc::from(&rest[1..1 + n])), 1 + n)
        } else if c.is_ascii_digit() {
            number(rest, start)?
        } else if c.is_alphabetic() || c == '_' {
            let n = word_len(rest);
            let word = &rest[..n];
            if bytes.get(i + n) == Some(&b'(') {
                (Tok::Func(Arc::from(word)), n + 1)
            } else if word.starts_with("__") {
                return Err(LexError {
                    message: format!("`{word}`: a name may not start with `__` (yaql refuses it)"),
                    at: start,
                });
            } else {
                let tok = match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    "and" => Tok::Op(Op::And),
                    "or" => Tok::Op(Op::Or),
                    "not" => Tok::Op(Op::Not),
                    "in" => Tok::Op(Op::In),
                    "mod" => Tok::Op(Op::Mod),
                    _ => Tok::Name(Arc::from(word)),
                };
                (tok, n)
            }
        } else if c == '\'' || c == '"' {
            let (s, len) = quoted(rest, start)?;
            (Tok::Str(Arc::from(s)), len)
        } else if c == '`' {
            let (s, len) = verbatim(rest, start)?;
            (Tok::Str(Arc::from(s)), len)
        } else {
            operator(rest).ok_or_else(|| LexError {
                message: format!("unexpected character `{c}`"),
                at: start,
            })?
        };
        i += len;
        out.push((tok, Span::new(start, i)));
    }
    Ok(out)
}

fn word_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| !is_word(c))
        .map_or(s.len(), |(at, _)| at)
}

fn ascii_digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// `\d+(\.\d+)?` not followed by a word character (yaql's rule, which
/// falls back to the integer part when the fraction is followed by one).
fn number(s: &str, at: usize) -> Result<(Tok, usize), LexError> {
    let int_len = ascii_digits(s);
    let ends_word = |end: usize| s[end..].chars().next().is_none_or(|c| !is_word(c));
    if s[int_len..].starts_with('.') {
        let frac = ascii_digits(&s[int_len + 1..]);
        let end = int_len + 1 + frac;
        if frac > 0 && ends_word(end) {
            let f: f64 = s[..end].parse().map_err(|_| LexError {
                message: format!("`{}` is not a number", &s[..end]),
                at,
            })?;
            return Ok((Tok::Float(f), end));
        }
    }
    if !ends_word(int_len) {
        let n = word_len(s);
        return Err(LexError {
            message: format!(
                "`{}` is not a number (yaql has no exponents, hex or suffixes)",
                &s[..n]
            ),
            at,
        });
    }
    let i: i64 = s[..int_len].parse().map_err(|_| LexError {
        message: format!("`{}` is larger than weft's 64-bit integers", &s[..int_len]),
        at,
    })?;
    Ok((Tok::Int(i), int_len))
}

fn operator(s: &str) -> Option<(Tok, usize)> {
    const OPS: &[(&str, Tok)] = &[
        ("?.", Tok::Op(Op::Elvis)),
        ("=~", Tok::Op(Op::Match)),
        ("!~", Tok::Op(Op::NotMatch)),
        ("->", Tok::Op(Op::Arrow)),
        ("=>", Tok::Mapping),
        (">=", Tok::Op(Op::Ge)),
        ("<=", Tok::Op(Op::Le)),
        ("!=", Tok::Op(Op::Ne)),
        (".", Tok::Op(Op::Dot)),
        ("+", Tok::Op(Op::Plus)),
        ("-", Tok::Op(Op::Minus)),
        ("*", Tok::Op(Op::Star)),
        ("/", Tok::Op(Op::Slash)),
        (">", Tok::Op(Op::Gt)),
        ("<", Tok::Op(Op::Lt)),
        ("=", Tok::Op(Op::Eq)),
        ("(", Tok::LParen),
        (")", Tok::RParen),
        ("[", Tok::LBracket),
        ("]", Tok::RBracket),
        ("{", Tok::LBrace),
        ("}", Tok::RBrace),
        (",", Tok::Comma),
    ];
    OPS.iter()
        .find(|(text, _)| s.starts_with(text))
        .map(|(text, tok)| (tok.clone(), text.len()))
}

/// The end of a quoted token: `quote`, then anything but the quote or a
/// backslash, or a backslash and any character but a newline.
fn quoted_end(s: &str, quote: char, at: usize) -> Result<usize, LexError> {
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok(i + c.len_utf8());
        }
        if c == '\\' {
            match chars.next() {
                Some((_, '\n')) | None => break,
                Some(_) => {}
            }
        }
    }
    Err(LexError {
        message: format!("unterminated string: add the closing {quote}"),
        at,
    })
}

fn quoted(s: &str, at: usize) -> Result<(String, usize), LexError> {
    let quote = s.chars().next().unwrap_or('\'');
    let end = quoted_end(s, quote, at)?;
    let body = &s[1..end - 1];
    let decoded = decode_escapes(body).map_err(|(message, offset)| LexError {
        message,
        at: at + 1 + offset,
    })?;
    Ok((decoded, end))
}

fn verbatim(s: &str, at: usize) -> Result<(String, usize), LexError> {
    let end = quoted_end(s, '`', at)?;
    Ok((s[1..end - 1].replace("\\`", "`"), end))
}

/// Python's escapes as yaql decodes them: `\n`, `\t`, `\\`, `\'`, `\"`,
/// `\a`, `\b`, `\f`, `\r`, `\v`, octal `\ooo`, `\xhh`, `\uhhhh` and
/// `\Uhhhhhhhh`. A backslash before anything else stays as it is
/// (`'\d'` is a backslash and a `d`). An error names the byte offset of
/// the bad escape.
fn decode_escapes(s: &str) -> Result<String, (String, usize)> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut offset = 0;
    while let Some(p) = rest.find('\\') {
        out.push_str(&rest[..p]);
        let esc = &rest[p..];
        let at = offset + p;
        let (decoded, used): (Option<char>, usize) = match esc[1..].chars().next() {
            Some('U') if esc.chars().count() >= 10 => {
                let hex: String = esc.chars().skip(2).take(8).collect();
                (Some(hex_char(&hex, at)?), 2 + hex.len())
            }
            Some('u') if esc.chars().count() >= 6 => {
                let hex: String = esc.chars().skip(2).take(4).collect();
                (Some(hex_char(&hex, at)?), 2 + hex.len())
            }
            Some('x') if esc.chars().count() >= 4 => {
                let hex: String = esc.chars().skip(2).take(2).collect();
                (Some(hex_char(&hex, at)?), 2 + hex.len())
            }
            Some('0'..='7') => {
                let digits = esc[1..]
                    .bytes()
                    .take(3)
                    .take_while(|b| (b'0'..=b'7').contains(b))
                    .count();
                let n = u32::from_str_radix(&esc[1..1 + digits], 8).unwrap_or(0);
                (char::from_u32(n), 1 + digits)
            }
            Some('N') if esc[2..].starts_with('{') && esc[3..].contains('}') => {
                return Err((
                    "`\\N{…}` escapes (characters by name) are not supported in weft: write the character, or `\\u` and its code".to_owned(),
                    at,
                ));
            }
            Some(c) => match c {
                '\\' => (Some('\\'), 2),
                '\'' => (Some('\''), 2),
                '"' => (Some('"'), 2),
                'a' => (Some('\x07'), 2),
                'b' => (Some('\x08'), 2),
                'f' => (Some('\x0c'), 2),
                'n' => (Some('\n'), 2),
                'r' => (Some('\r'), 2),
                't' => (Some('\t'), 2),
                'v' => (Some('\x0b'), 2),
                _ => (None, 1),
            },
            None => (None, 1),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
        rest = &esc[used..];
        offset = at + used;
    }
    out.push_str(rest);
    Ok(out)
}

fn hex_char(hex: &str, at: usize) -> Result<char, (String, usize)> {
    u32::from_str_radix(hex, 16)
        .ok()
        .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(char::from_u32)
        .ok_or_else(|| {
            (
                format!("`{hex}` in an escape is not a valid character code"),
                at,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    fn name(s: &str) -> Tok {
        Tok::Name(Arc::from(s))
    }

    #[test]
    fn splits_as_yaql_does() {
        use Tok::*;
        assert_eq!(
            toks("$.a.f(1, 2.5)"),
            [
                Dollar(Arc::from("")),
                Op(super::Op::Dot),
                name("a"),
                Op(super::Op::Dot),
                Func(Arc::from("f")),
                Int(1),
                Comma,
                Float(2.5),
                RParen
            ]
        );
        assert_eq!(toks("f (x)"), [name("f"), LParen, name("x"), RParen]);
        assert_eq!(
            toks("not(x) and $1 mod 2"),
            [
                Func(Arc::from("not")),
                name("x"),
                RParen,
                Op(super::Op::And),
                Dollar(Arc::from("1")),
                Op(super::Op::Mod),
                Int(2)
            ]
        );
        assert_eq!(
            toks("a?.b =~ c => d -> e >= f != g"),
            [
                name("a"),
                Op(super::Op::Elvis),
                name("b"),
                Op(super::Op::Match),
                name("c"),
                Mapping,
                name("d"),
                Op(super::Op::Arrow),
                name("e"),
                Op(super::Op::Ge),
                name("f"),
                Op(super::Op::Ne),
                name("g")
            ]
        );
        assert_eq!(toks("index"), [name("index")]);
        assert_eq!(toks("true null"), [True, Null]);
        assert_eq!(toks("007"), [Int(7)]);
        // `1.5.5` is a number, a dot and a number.
        assert_eq!(toks("1.5.5"), [Float(1.5), Op(super::Op::Dot), Int(5)]);
    }

    #[test]
    fn strings_decode_python_escapes() {
        let s = |t: &str| match &toks(t)[..] {
            [Tok::Str(s)] => s.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(s(r"'a\nb'"), "a\nb");
        assert_eq!(s(r"'a\qb'"), "a\\qb");
        assert_eq!(s(r"'a\x41\101\u00e9'"), "aAAé");
        assert_eq!(s(r#""it's \"x\"""#), "it's \"x\"");
        assert_eq!(s(r"'\\d+'"), "\\d+");
        assert_eq!(s(r"`a\nb\`c`"), "a\\nb`c");
        assert_eq!(s(r"'\U0001F600'"), "😀");
        assert_eq!(s("'é'"), "é");
    }

    #[test]
    fn errors_name_their_position() {
        for (text, at) in [
            ("1e5", 0),
            ("a # b", 2),
            ("'open", 0),
            ("x + __y", 4),
            (r"'\xZZ'", 1),
            (r"'ok' '\N{DASH}'", 6),
            ("99999999999999999999", 0),
            ("a ; b", 2),
        ] {
            let e = tokenize(text).unwrap_err();
            assert_eq!(e.at, at, "{text}: {}", e.message);
        }
    }
}
