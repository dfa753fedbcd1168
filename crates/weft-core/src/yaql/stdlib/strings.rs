//! Strings: `toUpper`, `split`, `replace`, `trim`, `substring`, `str`…
//!
//! Positions and lengths count characters (Unicode code points), as
//! Python's do, not bytes; whitespace is Python's.

use super::collections::replace_items;
use super::queries::int_arg;
use crate::yaql::builtin::{p, Args, Builtin, Form};
use crate::yaql::state::State;
use crate::yaql::value::describe;
use crate::yaql::value::{self, is_space, map_pairs, py_str, Out, Style, Val};
use crate::yaql::YErr;
use crate::yaql::R;

use Form::{Both, Function, Method};

pub(super) const BUILTINS: &[Builtin] = &[
    Builtin::new("toUpper", Method, &[], 0, to_upper),
    Builtin::new("toLower", Method, &[], 0, to_lower),
    Builtin::new("split", Method, &[p("separator"), p("maxSplits")], 0, split),
    Builtin::new(
        "rightSplit",
        Method,
        &[p("separator"), p("maxSplits")],
        0,
        right_split,
    ),
    Builtin::new("join", Method, &[p("separator|sequence")], 1, join),
    Builtin::new("str", Function, &[p("value")], 1, str_),
    Builtin::new("trim", Method, &[p("chars")], 0, trim),
    Builtin::new("trimLeft", Method, &[p("chars")], 0, trim_left),
    Builtin::new("trimRight", Method, &[p("chars")], 0, trim_right),
    Builtin::new("norm", Both, &[p("chars")], 0, norm),
    Builtin::new("isEmpty", Both, &[p("trim"), p("chars")], 0, is_empty),
    Builtin::new(
        "replace",
        Method,
        &[p("old|position|replacements"), p("new|value"), p("count")],
        1,
        replace,
    ),
    Builtin::new(
        "substring",
        Method,
        &[p("start"), p("length")],
        1,
        substring,
    ),
    Builtin::new(
        "indexOf",
        Method,
        &[p("sub|item"), p("start"), p("length")],
        1,
        index_of,
    ),
    Builtin::new(
        "lastIndexOf",
        Method,
        &[p("sub|item"), p("start"), p("length")],
        1,
        last_index_of,
    ),
    Builtin::new("toCharArray", Method, &[], 0, to_char_array),
    Builtin::new("isString", Function, &[p("arg")], 1, is_string),
    Builtin::new("startsWith", Method, &[], 0, starts_with).rest(p("prefixes")),
    Builtin::new("endsWith", Method, &[], 0, ends_with).rest(p("suffixes")),
    Builtin::new("hex", Function, &[p("num")], 1, hex),
];

/// The receiver, which must be a string.
fn string<'a>(a: &mut Args<'a>) -> R<Val<'a>> {
    let v = a.recv()?;
    if v.as_str().is_some() {
        Ok(v)
    } else {
        Err(YErr::eval(format!(
            "`{}` works on a string, not on {}",
            a.name,
            describe(&v)
        )))
    }
}

/// A string argument, or null; anything else is an error.
fn opt_str<'a>(a: &mut Args<'a>, i: usize, what: &str) -> R<Option<Val<'a>>> {
    match a.opt(i) {
        None | Some(Val::Null) => Ok(None),
        Some(v) if v.as_str().is_some() => Ok(Some(v)),
        Some(v) => Err(YErr::eval(format!(
            "`{}`: {what} must be a string, not {}",
            a.name,
            describe(&v)
        ))),
    }
}

fn made<'a>(st: &'a State<'a>, s: String) -> R<Val<'a>> {
    st.text(s.len())?;
    Ok(Val::str(s))
}

fn to_upper<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let s = string(&mut a)?;
    let s = s.as_str().unwrap_or("");
    case_cost(st, s)?;
    made(st, s.to_uppercase())
}

fn to_lower<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let s = string(&mut a)?;
    let s = s.as_str().unwrap_or("");
    case_cost(st, s)?;
    made(st, s.to_lowercase())
}

/// Changing the case of text that is not ASCII looks every character up
/// in Unicode's tables: about four times the cost of making the text, so
/// it pays a fuel per 16 bytes on top (measured: `yaql_fuel_exhausted`).
fn case_cost<'a>(st: &'a State<'a>, s: &str) -> R<()> {
    if s.is_ascii() {
        return Ok(());
    }
    st.spend(s.len() as u64 / 16)
}

fn split_args<'a>(a: &mut Args<'a>) -> R<(Val<'a>, Option<Val<'a>>, i64)> {
    let s = string(a)?;
    let sep = opt_str(a, 0, "the separator")?;
    if sep.as_ref().and_then(Val::as_str) == Some("") {
        return Err(YErr::eval(format!("`{}`: the separator is empty", a.name)));
    }
    let max = int_arg(a, 1, "maxSplits")?.unwrap_or(-1);
    Ok((s, sep, max))
}

fn parts_to_list<'a>(st: &'a State<'a>, parts: Vec<&str>) -> R<Val<'a>> {
    // A fuel per string made: making many short strings costs far more
    // than the bytes they hold.
    st.spend(parts.len() as u64)?;
    value::list(parts.into_iter().map(Val::str).collect())
}

/// Python's `str.split` (on runs of whitespace when `sep` is `None`).
fn py_split<'s>(s: &'s str, sep: Option<&str>, max: i64) -> Vec<&'s str> {
    let limit = if max < 0 { usize::MAX } else { max as usize };
    match sep {
        Some(sep) => {
            if limit == usize::MAX {
                s.split(sep).collect()
            } else {
                s.splitn(limit.saturating_add(1), sep).collect()
            }
        }
        None => {
            let mut out = Vec::new();
            let mut rest = s.trim_start_matches(is_space);
            while !rest.is_empty() {
                if out.len() == limit {
                    out.push(rest);
                    break;
                }
                let end = rest.find(is_space).unwrap_or(rest.len());
                out.push(&rest[..end]);
                rest = rest[end..].trim_start_matches(is_space);
            }
            out
        }
    }
}

/// Python's `str.rsplit`.
fn py_rsplit<'s>(s: &'s str, sep: Option<&str>, max: i64) -> Vec<&'s str> {
    let limit = if max < 0 { usize::MAX } else { max as usize };
    let mut out = match sep {
        Some(sep) => {
            if limit == usize::MAX {
                s.rsplit(sep).collect::<Vec<_>>()
            } else {
                s.rsplitn(limit.saturating_add(1), sep).collect()
            }
        }
        None => {
            let mut out = Vec::new();
            let mut rest = s.trim_end_matches(is_space);
            while !rest.is_empty() {
                if out.len() == limit {
                    out.push(rest);
                    break;
                }
                let start = rest.rfind(is_space).map_or(0, |i| {
                    i + rest[i..].chars().next().map_or(1, char::len_utf8)
                });
                out.push(&rest[start..]);
                rest = rest[..start].trim_end_matches(is_space);
            }
            out
        }
    };
    out.reverse();
    out
}

fn split<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (s, sep, max) = split_args(&mut a)?;
    st.read(s.as_str().map_or(0, str::len))?;
    let parts = py_split(
        s.as_str().unwrap_or(""),
        sep.as_ref().and_then(Val::as_str),
        max,
    );
    parts_to_list(st, parts)
}

fn right_split<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (s, sep, max) = split_args(&mut a)?;
    st.read(s.as_str().map_or(0, str::len))?;
    let parts = py_rsplit(
        s.as_str().unwrap_or(""),
        sep.as_ref().and_then(Val::as_str),
        max,
    );
    parts_to_list(st, parts)
}

/// yaql's `str()`: `null`, `true` and `false` as yaql writes them, the
/// rest as Python prints it.
pub(crate) fn yaql_str<'a>(st: &'a State<'a>, v: &Val<'a>, out: &mut Out) -> R<()> {
    match v {
        Val::Null => out.push("null"),
        Val::Bool(true) => out.push("true"),
        Val::Bool(false) => out.push("false"),
        other => py_str(st, other, Style::Yaql, out),
    }
}

/// `sequence.join(separator)` or `separator.join(sequence)`.
fn join<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let recv = a.recv()?;
    let arg = a.val(0)?;
    let (items, sep) = match (&recv, &arg) {
        (c, Val::Str(s)) if c.is_iterable() => (c, s.as_str()),
        (Val::Str(s), c) if c.is_iterable() => (c, s.as_str()),
        _ => {
            return Err(YErr::eval(format!(
                "`join` joins a collection with a string separator, not {} and {}",
                describe(&recv),
                describe(&arg)
            )))
        }
    };
    let mut out = Out::new(st.max_bytes);
    for (i, item) in st.iter(items)?.enumerate() {
        // A fuel per item printed, as for the items a query visits.
        st.spend(1)?;
        if i > 0 {
            out.push(sep)?;
        }
        yaql_str(st, &item?, &mut out)?;
    }
    made(st, out.text)
}

fn str_<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let v = a.val(0)?;
    if let Val::Str(_) = v {
        return Ok(v);
    }
    let mut out = Out::new(st.max_bytes);
    yaql_str(st, &v, &mut out)?;
    made(st, out.text)
}

#[derive(Clone, Copy)]
enum Side {
    Both,
    Left,
    Right,
}

fn strip<'s>(s: &'s str, chars: Option<&str>, side: Side) -> &'s str {
    let set = |c: char| match chars {
        Some(cs) => cs.contains(c),
        None => is_space(c),
    };
    match side {
        Side::Both => s.trim_matches(set),
        Side::Left => s.trim_start_matches(set),
        Side::Right => s.trim_end_matches(set),
    }
}

fn trim_side<'a>(mut a: Args<'a>, side: Side) -> R<Val<'a>> {
    let s = string(&mut a)?;
    let chars = opt_str(&mut a, 0, "the characters")?;
    let text = s.as_str().unwrap_or("");
    let t = strip(text, chars.as_ref().and_then(Val::as_str), side);
    Ok(if t.len() == text.len() {
        s
    } else {
        Val::str(t)
    })
}

fn trim<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    trim_side(a, Side::Both)
}

fn trim_left<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    trim_side(a, Side::Left)
}

fn trim_right<'a>(_: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    trim_side(a, Side::Right)
}

fn norm<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let s = a.recv()?;
    if matches!(s, Val::Null) {
        return Ok(Val::Null);
    }
    a.recv = Some(s);
    let v = trim_side(a, Side::Both)?;
    Ok(if v.as_str() == Some("") { Val::Null } else { v })
}

fn is_empty<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let s = a.recv()?;
    let text = match &s {
        Val::Null => return Ok(Val::Bool(true)),
        Val::Str(t) => t.as_str(),
        other => {
            return Err(YErr::eval(format!(
                "`isEmpty` works on a string or null, not on {}: use `len()` or `any()` for a collection",
                describe(other)
            )))
        }
    };
    let trim = match a.opt(0) {
        None => true,
        Some(Val::Bool(b)) => b,
        Some(v) => {
            return Err(YErr::eval(format!(
                "`isEmpty`: `trim` must be a boolean, not {}",
                describe(&v)
            )))
        }
    };
    let chars = opt_str(&mut a, 1, "the characters")?;
    let t = if trim {
        strip(text, chars.as_ref().and_then(Val::as_str), Side::Both)
    } else {
        text
    };
    Ok(Val::Bool(t.is_empty()))
}

/// `string.replace(old, new, count)`, `string.replace(replacements,
/// count)`, and `collection.replace(position, value, count)`.
fn replace<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let recv = a.recv()?;
    if recv.is_iterable() {
        a.recv = Some(recv);
        return replace_items(st, a, false);
    }
    let Val::Str(s) = &recv else {
        return Err(YErr::eval(format!(
            "`replace` works on a string or a collection, not on {}",
            describe(&recv)
        )));
    };
    let first = a.val(0)?;
    if first.is_mapping() {
        // `replace(replacements, count)`: the count is the second argument.
        let count = match int_arg(&mut a, 1, "the count")? {
            Some(c) => c,
            None => int_arg(&mut a, 2, "the count")?.unwrap_or(-1),
        };
        let mut text = s.as_str().to_owned();
        for (k, v) in map_pairs(&first) {
            let mut from = Out::new(st.max_bytes);
            yaql_str(st, &k, &mut from)?;
            let mut to = Out::new(st.max_bytes);
            yaql_str(st, &v, &mut to)?;
            text = replace_n(st, &text, &from.text, &to.text, count)?;
        }
        return Ok(Val::str(text));
    }
    let old = first.as_str().ok_or_else(|| {
        YErr::eval(format!(
            "`replace`: the text to replace must be a string, not {}",
            describe(&first)
        ))
    })?;
    let new = a.val(1)?;
    let new = new.as_str().ok_or_else(|| {
        YErr::eval(format!(
            "`replace`: the replacement must be a string, not {}",
            describe(&new)
        ))
    })?;
    let count = int_arg(&mut a, 2, "the count")?.unwrap_or(-1);
    let text = replace_n(st, s.as_str(), old, new, count)?;
    Ok(Val::str(text))
}

/// Python's `str.replace(old, new, count)`: all when `count` < 0.
fn replace_n(st: &State<'_>, s: &str, old: &str, new: &str, count: i64) -> R<String> {
    let n = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let n = if count < 0 { n } else { n.min(count as usize) };
    let len = s.len() + n.saturating_mul(new.len());
    st.text(len)?;
    Ok(if count < 0 {
        s.replace(old, new)
    } else {
        s.replacen(old, new, count as usize)
    })
}

/// Python's slice bounds `[start:end]` over `len` characters.
fn py_slice(len: usize, start: i64, end: i64) -> (usize, usize) {
    let clamp = |i: i64| -> usize {
        if i < 0 {
            (len as i64 + i).max(0) as usize
        } else {
            (i as usize).min(len)
        }
    };
    let (s, e) = (clamp(start), clamp(end));
    (s, e.max(s))
}

/// The byte offset of character `i` of `s` (its length past the end).
fn byte_at(s: &str, i: usize) -> usize {
    s.char_indices().nth(i).map_or(s.len(), |(b, _)| b)
}

fn substring<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let s = string(&mut a)?;
    let text = s.as_str().unwrap_or("");
    let len = text.chars().count() as i64;
    let mut start = int_arg(&mut a, 0, "the start")?.unwrap_or(0);
    let mut length = int_arg(&mut a, 1, "the length")?.unwrap_or(-1);
    if length < 0 {
        length = len;
    }
    if start < 0 {
        start += len;
    }
    let (from, to) = py_slice(len as usize, start, start.saturating_add(length));
    Ok(Val::str(&text[byte_at(text, from)..byte_at(text, to)]))
}

/// Python's `str.find`/`str.rfind` over characters `[start:end]`.
fn find(text: &str, sub: &str, start: i64, end: Option<i64>, last: bool) -> i64 {
    let len = text.chars().count();
    let (from, to) = py_slice(len, start, end.unwrap_or(len as i64));
    if start > len as i64 {
        return -1;
    }
    let (bf, bt) = (byte_at(text, from), byte_at(text, to));
    let hay = &text[bf..bt];
    let hit = if last { hay.rfind(sub) } else { hay.find(sub) };
    match hit {
        Some(b) => (from + hay[..b].chars().count()) as i64,
        None => -1,
    }
}

fn index_args<'a>(a: &mut Args<'a>) -> R<(i64, Option<i64>)> {
    let start = int_arg(a, 1, "the start")?;
    let length = int_arg(a, 2, "the length")?;
    Ok((start.unwrap_or(0), length))
}

/// `string.indexOf(sub, start, length)` or `collection.indexOf(item)`.
fn index_of_impl<'a>(st: &'a State<'a>, mut a: Args<'a>, last: bool) -> R<Val<'a>> {
    let recv = a.recv()?;
    if recv.is_iterable() {
        let item = a.val(0)?;
        if a.given() > 0 {
            return Err(YErr::eval(format!(
                "`{}` of a collection takes one item",
                a.name
            )));
        }
        let mut found = -1;
        for (i, x) in st.iter(&recv)?.enumerate() {
            if value::py_eq(&x?, &item) {
                found = i as i64;
                if !last {
                    break;
                }
            }
        }
        return Ok(Val::Int(found));
    }
    let Val::Str(s) = &recv else {
        return Err(YErr::eval(format!(
            "`{}` works on a string or a collection, not on {}",
            a.name,
            describe(&recv)
        )));
    };
    let sub = a.val(0)?;
    let sub = sub.as_str().ok_or_else(|| {
        YErr::eval(format!(
            "`{}` looks for a string, not {}",
            a.name,
            describe(&sub)
        ))
    })?;
    let text = s.as_str();
    st.read(text.len())?;
    let (mut start, length) = index_args(&mut a)?;
    let end = match length {
        None => None,
        Some(mut length) => {
            let len = text.chars().count() as i64;
            if start < 0 {
                start = start.saturating_add(len);
            }
            if length < 0 {
                length = len.saturating_sub(start);
            }
            Some(start.saturating_add(length))
        }
    };
    Ok(Val::Int(find(text, sub, start, end, last)))
}

fn index_of<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    index_of_impl(st, a, false)
}

fn last_index_of<'a>(st: &'a State<'a>, a: Args<'a>) -> R<Val<'a>> {
    index_of_impl(st, a, true)
}

fn to_char_array<'a>(st: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let s = string(&mut a)?;
    let chars: Vec<Val<'a>> = s
        .as_str()
        .unwrap_or("")
        .chars()
        .map(|c| Val::str(c.to_string()))
        .collect();
    st.spend(chars.len() as u64 / 8)?;
    value::tuple(chars)
}

fn is_string<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    Ok(Val::Bool(a.val(0)?.as_str().is_some()))
}

fn affixes<'a>(a: &mut Args<'a>) -> R<(Val<'a>, Vec<Val<'a>>)> {
    let s = string(a)?;
    let all = a.rest(0);
    for v in &all {
        if v.as_str().is_none() {
            return Err(YErr::eval(format!(
                "`{}` takes strings, not {}",
                a.name,
                describe(v)
            )));
        }
    }
    Ok((s, all))
}

fn starts_with<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (s, all) = affixes(&mut a)?;
    let text = s.as_str().unwrap_or("");
    Ok(Val::Bool(
        all.iter()
            .any(|p| text.starts_with(p.as_str().unwrap_or(""))),
    ))
}

fn ends_with<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    let (s, all) = affixes(&mut a)?;
    let text = s.as_str().unwrap_or("");
    Ok(Val::Bool(
        all.iter().any(|p| text.ends_with(p.as_str().unwrap_or(""))),
    ))
}

fn hex<'a>(_: &'a State<'a>, mut a: Args<'a>) -> R<Val<'a>> {
    match a.val(0)? {
        Val::Int(i) if i < 0 => Ok(Val::str(format!("-0x{:x}", i.unsigned_abs()))),
        Val::Int(i) => Ok(Val::str(format!("0x{i:x}"))),
        other => Err(YErr::eval(format!(
            "`hex` takes an integer, not {}",
            describe(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_as_python() {
        assert_eq!(py_split("  a b  c  ", None, -1), ["a", "b", "c"]);
        assert_eq!(py_split("  a b  c  ", None, 1), ["a", "b  c  "]);
        assert_eq!(py_split("a,b,,c", Some(","), -1), ["a", "b", "", "c"]);
        assert_eq!(py_split("a,b,c", Some(","), 1), ["a", "b,c"]);
        assert_eq!(py_split("", None, -1), Vec::<&str>::new());
        assert_eq!(py_split("", Some(","), -1), [""]);
        assert_eq!(py_rsplit("  a b  c  ", None, 1), ["  a b", "c"]);
        assert_eq!(py_rsplit("a,b,c", Some(","), 1), ["a,b", "c"]);
    }

    #[test]
    fn find_counts_characters() {
        assert_eq!(find("héllo", "l", 0, None, false), 2);
        assert_eq!(find("héllo", "l", 0, None, true), 3);
        assert_eq!(find("abc", "", 5, None, false), -1);
        assert_eq!(find("abc", "", 3, None, false), 3);
        assert_eq!(find("abcabc", "b", -2, None, false), 4);
        assert_eq!(find("abcabc", "b", 2, None, false), 4);
        assert_eq!(find("abc", "b", i64::MIN, None, false), 1);
    }
}
