//! `regex_match`, `regex_search`, `regex_replace`, `regex_substring`:
//! Python's `re.match`, `re.search`, `re.sub` and `re.findall`, on
//! patterns translated by [`super::pyre`].

use serde_json::Value;
use weft_core::functions::{Args, Call, FunctionError};

use super::pyre::{self, Pattern};
use super::{charge, python_str, truthy, want_str};

/// The text a function works on: a string, or Python's `str()` of it.
fn subject(value: Option<&Value>) -> std::borrow::Cow<'_, str> {
    match value {
        Some(Value::String(s)) => std::borrow::Cow::Borrowed(s),
        Some(other) => std::borrow::Cow::Owned(python_str(other)),
        None => std::borrow::Cow::Borrowed("None"),
    }
}

fn compile(
    pattern: &str,
    ignorecase: Option<&Value>,
    anchored: bool,
) -> Result<std::sync::Arc<Pattern>, FunctionError> {
    pyre::compile(pattern, truthy(ignorecase), anchored).map_err(FunctionError::new)
}

/// Searching costs about a unit of fuel per 64 bytes of text.
fn pay_search(call: &Call<'_>, text: &str) -> Result<(), FunctionError> {
    call.charge_bytes(text.len())
}

/// `regex_match(value, pattern, ignorecase=False)`: whether the pattern
/// matches at the start of the text (Python's `re.match`).
pub(super) fn regex_match(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, pattern, ignorecase] = args.bind(["value", "pattern", "ignorecase"], 2)?;
    let text = subject(value);
    let p = compile(want_str(pattern, "pattern")?, ignorecase, true)?;
    pay_search(call, &text)?;
    Ok(Value::Bool(p.regex.is_match(&text)))
}

/// `regex_search(value, pattern, ignorecase=False)`: whether the pattern
/// matches anywhere in the text (Python's `re.search`).
pub(super) fn regex_search(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, pattern, ignorecase] = args.bind(["value", "pattern", "ignorecase"], 2)?;
    let text = subject(value);
    let p = compile(want_str(pattern, "pattern")?, ignorecase, false)?;
    pay_search(call, &text)?;
    Ok(Value::Bool(p.regex.is_match(&text)))
}

/// One match: its span and each Python group's span (`None` for a group
/// that did not take part), the final newline a `$` took given back.
struct Found {
    start: usize,
    end: usize,
    groups: Vec<Option<(usize, usize)>>,
}

/// Every match as Python's `re.finditer` finds them: left to right, an
/// empty match allowed right after a non-empty one but not at the place
/// of the previous empty one.
fn find_all(p: &Pattern, text: &str, call: &Call<'_>) -> Result<Vec<Found>, FunctionError> {
    let mut out = Vec::new();
    let mut pos = 0;
    // Where the previous match was, if it was empty: no empty match there
    // again.
    let mut empty_at: Option<usize> = None;
    let mut locs = p.regex.capture_locations();
    while pos <= text.len() {
        let Some(m) = p.regex.captures_read_at(&mut locs, text, pos) else {
            break;
        };
        let (s, e) = (m.start(), m.end());
        // Python's `$` ends the match before the final newline it saw.
        let end = p
            .eol_groups
            .iter()
            .filter_map(|&g| locs.get(g))
            .find(|&(gs, ge)| ge == e && ge > gs)
            .map_or(e, |(gs, _)| gs);
        if s == end && empty_at == Some(s) {
            match text[s..].chars().next() {
                Some(c) => {
                    pos = s + c.len_utf8();
                    continue;
                }
                None => break,
            }
        }
        call.consume_fuel(1)?;
        let groups = p.groups[1..]
            .iter()
            .map(|&g| {
                locs.get(g).map(|(gs, ge)| {
                    let gs = gs.min(end);
                    (gs, if ge == e { end.max(gs) } else { ge })
                })
            })
            .collect();
        out.push(Found {
            start: s,
            end,
            groups,
        });
        empty_at = (s == end).then_some(s);
        pos = end;
    }
    Ok(out)
}

/// `regex_replace(value, pattern, replacement, ignorecase=False)`: every
/// match replaced (Python's `re.sub`); the replacement may name groups
/// with `\1`, `\g<1>` or `\g<name>`.
pub(super) fn regex_replace(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, pattern, replacement, ignorecase] =
        args.bind(["value", "pattern", "replacement", "ignorecase"], 3)?;
    let text = subject(value);
    let p = compile(want_str(pattern, "pattern")?, ignorecase, false)?;
    let template = parse_template(want_str(replacement, "replacement")?, &p)?;
    pay_search(call, &text)?;
    let max = call.max_value_bytes();
    let mut out = String::new();
    let mut last = 0;
    for m in find_all(&p, &text, call)? {
        out.push_str(&text[last..m.start]);
        for piece in &template {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(0) => out.push_str(&text[m.start..m.end]),
                Piece::Group(g) => {
                    if let Some(Some((s, e))) = m.groups.get(g - 1) {
                        out.push_str(&text[*s..*e]);
                    }
                }
            }
        }
        last = m.end;
        if out.len() > max {
            break;
        }
    }
    out.push_str(&text[last..]);
    charge(call, out.len())?;
    Ok(Value::String(out))
}

/// `regex_substring(value, pattern, result_index=0, ignorecase=False)`:
/// Python's `re.findall(...)[result_index]`: the whole match for a
/// pattern without groups, the group for one group, the list of groups
/// for more.
pub(super) fn regex_substring(args: &Args<'_>, call: &Call<'_>) -> Result<Value, FunctionError> {
    let [value, pattern, result_index, ignorecase] =
        args.bind(["value", "pattern", "result_index", "ignorecase"], 2)?;
    let text = subject(value);
    let p = compile(want_str(pattern, "pattern")?, ignorecase, false)?;
    let index = match result_index {
        None => 0,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64().unwrap_or(0),
        Some(Value::Bool(b)) => i64::from(*b),
        Some(other) => {
            return Err(FunctionError::new(format!(
                "list indices must be integers, not {}",
                super::python_type(other)
            )))
        }
    };
    pay_search(call, &text)?;
    let found = find_all(&p, &text, call)?;
    let len = found.len() as i64;
    let at = if index < 0 { len + index } else { index };
    let Some(m) = usize::try_from(at).ok().and_then(|i| found.get(i)) else {
        return Err(FunctionError::new(format!(
            "list index out of range: the pattern matches {len} time{} and result_index is {index}",
            if len == 1 { "" } else { "s" }
        )));
    };
    let group = |g: &Option<(usize, usize)>| match g {
        Some((s, e)) => Value::from(&text[*s..*e]),
        None => Value::from(""),
    };
    Ok(match p.group_count() {
        0 => Value::from(&text[m.start..m.end]),
        1 => group(&m.groups[0]),
        _ => Value::Array(m.groups.iter().map(group).collect()),
    })
}

/// A piece of a replacement template.
enum Piece {
    Text(String),
    /// A Python group number (1-based; 0 is the whole match).
    Group(usize),
}

/// Python's replacement template: `\1`..`\99`, `\g<n>`, `\g<name>`, the
/// escapes `\n \t \r \f \v \a \b \\`, an octal `\0`/`\NNN`; another
/// backslash before a letter is an error, before anything else it stays.
fn parse_template(t: &str, p: &Pattern) -> Result<Vec<Piece>, FunctionError> {
    let bad = |m: String| FunctionError::new(format!("invalid replacement `{t}`: {m}"));
    let chars: Vec<char> = t.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    let group_ref =
        |n: usize, text: &mut String, pieces: &mut Vec<Piece>| -> Result<(), FunctionError> {
            if n > p.group_count() {
                return Err(bad(format!("invalid group reference {n}")));
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(text)));
            }
            pieces.push(if n == 0 {
                Piece::Group(0)
            } else {
                Piece::Group(n)
            });
            Ok(())
        };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            text.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = chars.get(i + 1) else {
            return Err(bad("bad escape (end of pattern)".into()));
        };
        i += 2;
        match e {
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(bad("missing <".into()));
                }
                let Some(close) = (i + 1..chars.len()).find(|&j| chars[j] == '>') else {
                    return Err(bad("missing >, unterminated name".into()));
                };
                let name: String = chars[i + 1..close].iter().collect();
                i = close + 1;
                let n = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                    name.parse::<usize>()
                        .map_err(|_| bad(format!("invalid group reference {name}")))?
                } else {
                    p.names
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, g)| *g)
                        .ok_or_else(|| FunctionError::new(format!("unknown group name '{name}'")))?
                };
                group_ref(n, &mut text, &mut pieces)?;
            }
            '0' => {
                let mut v = 0u32;
                for _ in 0..2 {
                    match chars.get(i).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                text.push(char::from_u32(v).unwrap_or('\0'));
            }
            '1'..='9' => {
                let octal = chars
                    .get(i)
                    .zip(chars.get(i + 1))
                    .filter(|(a, b)| e.is_digit(8) && a.is_digit(8) && b.is_digit(8));
                if let Some((a, b)) = octal {
                    let v = [e, *a, *b]
                        .iter()
                        .fold(0u32, |v, d| v * 8 + d.to_digit(8).unwrap_or(0));
                    if v > 0o377 {
                        return Err(bad(format!(
                            "octal escape value \\{e}{a}{b} outside of range 0-0o377"
                        )));
                    }
                    text.push(char::from_u32(v).unwrap_or('\0'));
                    i += 2;
                } else {
                    let mut n = e.to_digit(10).unwrap_or(0) as usize;
                    if let Some(d) = chars.get(i).and_then(|d| d.to_digit(10)) {
                        n = n * 10 + d as usize;
                        i += 1;
                    }
                    group_ref(n, &mut text, &mut pieces)?;
                }
            }
            'n' => text.push('\n'),
            't' => text.push('\t'),
            'r' => text.push('\r'),
            'f' => text.push('\u{c}'),
            'v' => text.push('\u{b}'),
            'a' => text.push('\u{7}'),
            'b' => text.push('\u{8}'),
            '\\' => text.push('\\'),
            e if e.is_ascii_alphabetic() => return Err(bad(format!("bad escape \\{e}"))),
            e => {
                text.push('\\');
                text.push(e);
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type F = fn(&Args<'_>, &Call<'_>) -> Result<Value, FunctionError>;

    fn call(f: F, args: &[Value]) -> Result<Value, FunctionError> {
        let mut a = Args::new();
        for v in args {
            a = a.arg(v.clone());
        }
        f(&a, &Call::new("t"))
    }

    /// StackStorm's own expectations (test_jinja_render_regex_filters and
    /// the orquesta regex-functions workflow).
    #[test]
    fn stackstorm_expectations() {
        assert_eq!(
            call(regex_match, &[json!("xyz"), json!("x")]).unwrap(),
            json!(true)
        );
        assert_eq!(
            call(regex_match, &[json!("xyz"), json!("y")]).unwrap(),
            json!(false)
        );
        let v = r"^v(\d+\.)?(\d+\.)?(\*|\d+)$";
        assert_eq!(
            call(regex_match, &[json!("v0.10.1"), json!(v)]).unwrap(),
            json!(true)
        );
        assert_eq!(
            call(regex_search, &[json!("v0.10.1"), json!(v)]).unwrap(),
            json!(true)
        );
        assert_eq!(
            call(regex_search, &[json!("xyz"), json!("y")]).unwrap(),
            json!(true)
        );
        assert_eq!(
            call(regex_replace, &[json!("xyz"), json!("x"), json!("y")]).unwrap(),
            json!("yyz")
        );
        assert_eq!(
            call(regex_replace, &[json!("xyz"), json!("x"), json!("wx")]).unwrap(),
            json!("wxyz")
        );
        assert_eq!(
            call(
                regex_replace,
                &[
                    json!("blue socks and red shoes"),
                    json!("(blue|white|red)"),
                    json!("color")
                ]
            )
            .unwrap(),
            json!("color socks and color shoes")
        );
        let addr = r"([0-9]{3} \w+ (?:Ave|St|Dr))";
        assert_eq!(
            call(
                regex_substring,
                &[
                    json!("My address is 123 Somewhere Ave. See you soon!"),
                    json!(addr)
                ]
            )
            .unwrap(),
            json!("123 Somewhere Ave")
        );
        assert_eq!(
            call(
                regex_substring,
                &[
                    json!("Your address is 567 Elsewhere Dr. My address is 123 Somewhere Ave."),
                    json!(addr),
                    json!(1)
                ]
            )
            .unwrap(),
            json!("123 Somewhere Ave")
        );
        assert!(call(
            regex_substring,
            &[
                json!("Your address is 567 Elsewhere Dr."),
                json!(addr),
                json!(1)
            ]
        )
        .is_err());
        assert!(call(
            regex_substring,
            &[
                json!("986 Somewhere Ave"),
                json!(r"([0-3]{3} \w+ (?:Ave|St|Dr))")
            ]
        )
        .is_err());
        assert_eq!(
            call(
                regex_substring,
                &[json!("I live at 668 Infinite Dr"), json!(addr)]
            )
            .unwrap(),
            json!("668 Infinite Dr")
        );
    }

    #[test]
    fn python_semantics() {
        // `$` before a final newline, and the newline kept.
        assert_eq!(
            call(regex_match, &[json!("123\n"), json!(r"^\d+$")]).unwrap(),
            json!(true)
        );
        assert_eq!(
            call(
                regex_replace,
                &[json!("abc\n"), json!(r"^(.*)$"), json!("X")]
            )
            .unwrap(),
            json!("X\n")
        );
        // Empty matches as Python 3.7+ finds them.
        assert_eq!(
            call(regex_replace, &[json!("abxd"), json!("x*"), json!("-")]).unwrap(),
            json!("-a-b--d-")
        );
        // Replacement templates.
        assert_eq!(
            call(
                regex_replace,
                &[
                    json!("2024-05"),
                    json!(r"(?P<y>\d+)-(\d+)"),
                    json!(r"\2/\g<y>\n")
                ]
            )
            .unwrap(),
            json!("05/2024\n")
        );
        assert!(call(regex_replace, &[json!("a"), json!("a"), json!(r"\q")]).is_err());
        assert!(call(regex_replace, &[json!("a"), json!("a"), json!(r"\2")]).is_err());
        // findall's shapes.
        assert_eq!(
            call(regex_substring, &[json!("a1b2"), json!(r"\d")]).unwrap(),
            json!("1")
        );
        assert_eq!(
            call(
                regex_substring,
                &[json!("a1b2"), json!(r"(\w)(\d)"), json!(-1)]
            )
            .unwrap(),
            json!(["b", "2"])
        );
        // Not a string: Python's str() of it.
        assert_eq!(
            call(regex_match, &[json!(123), json!(r"\d+$")]).unwrap(),
            json!(true)
        );
        assert_eq!(
            call(regex_search, &[json!(null), json!("None")]).unwrap(),
            json!(true)
        );
        // ignorecase, as a keyword.
        let a = Args::new()
            .arg(json!("ABC"))
            .arg(json!("abc"))
            .kwarg("ignorecase", json!(true));
        assert_eq!(regex_match(&a, &Call::new("t")).unwrap(), json!(true));
        // Refused with the reason.
        let e = call(regex_search, &[json!("aa"), json!(r"(a)\1")]).unwrap_err();
        assert!(e.message().contains("backreference"), "{e}");
    }
}
