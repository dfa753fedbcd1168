//! The text of paths in errors and in the source map: `tasks.build.next[0].do`,
//! or `tasks["deploy.eu"].input` for a task whose name holds a dot.
//!
//! Every error of loading and compiling names its place by such a path:
//! [`split_path`] takes the task and the field back out of it, and the
//! source map walks it to find the line and column.

use crate::error::{Error, Location};

/// The path of a task in error paths and in the source map.
pub(crate) fn task_path(name: &str) -> String {
    join_key("tasks", name)
}

/// Appends a key to a path: `parent.key`, or `parent["key"]` when the key
/// itself holds `.`, brackets or quotes (task names may hold dots).
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && !key.contains(['.', '[', ']', '"', '\\']);
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => {
            // By hand: this runs for every key of every workflow compiled.
            let mut s = String::with_capacity(parent.len() + 1 + key.len());
            s.push_str(parent);
            s.push('.');
            s.push_str(key);
            s
        }
        (_, false) => format!(
            "{parent}[\"{}\"]",
            key.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    }
}

/// Splits `tasks.NAME.rest` (or `tasks["NAME"].rest`) into task `NAME` and
/// field `rest`; other paths are a field alone.
pub(crate) fn split_path(path: &str) -> (Option<String>, Option<String>) {
    let (task, rest) = if let Some(rest) = path.strip_prefix("tasks.") {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        (rest[..end].to_owned(), &rest[end..])
    } else if let Some(quoted) = path.strip_prefix("tasks[\"") {
        match unquote(quoted) {
            Some((name, rest)) => (name, rest.strip_prefix(']').unwrap_or(rest)),
            None => return (None, Some(path.to_owned())),
        }
    } else {
        return (None, (!path.is_empty()).then(|| path.to_owned()));
    };
    let field = rest.trim_start_matches('.');
    let field = (!field.is_empty()).then(|| field.to_owned());
    (Some(task), field)
}

/// `e` naming the task and field of `path` (replacing what it named).
pub(crate) fn at_path(mut e: Error, path: &str) -> Error {
    let (task, field) = split_path(path);
    if let Some(t) = task {
        e = e.with_task(t);
    }
    if let Some(f) = field {
        e = e.with_field(f);
    }
    e
}

/// As [`at_path`], with the field cut to fit a message (see
/// [`shorten_field`]): for the paths of deeply nested values.
pub(crate) fn at_long_path(mut e: Error, path: &str) -> Error {
    let (task, field) = split_path(path);
    if let Some(t) = task {
        e = e.with_task(t);
    }
    if let Some(f) = field {
        e = e.with_field(shorten_field(&f));
    }
    e
}

/// Reads a `"`-terminated string with `\"` and `\\` escapes (the opening
/// quote already consumed); returns it and the text after the closing quote.
pub(crate) fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// The last key of a path, unquoted.
pub(crate) fn last_segment(path: &str) -> String {
    if path.ends_with("\"]") {
        if let Some(i) = path.rfind("[\"") {
            if let Some((name, _)) = unquote(&path[i + 2..]) {
                return name;
            }
        }
    }
    path.rsplit('.').next().unwrap_or(path).to_owned()
}

/// A field path cut to a length that fits in a message: the paths of
/// deeply nested values (or of long keys) keep their start and their end.
pub(crate) fn shorten_field(field: &str) -> String {
    const HEAD: usize = 60;
    const TAIL: usize = 40;
    let count = field.chars().count();
    if count <= HEAD + TAIL + 1 {
        return field.to_owned();
    }
    let head: String = field.chars().take(HEAD).collect();
    let tail: String = field.chars().skip(count - TAIL).collect();
    format!("{head}…{tail}")
}

/// `text`, cut to a length that fits in a message.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}… ({} characters)", text.chars().count())
    }
}

/// A location with a line and a column and no file (the caller sets it).
pub(crate) fn at(line: usize, column: usize) -> Location {
    Location {
        file: None,
        line: Some(line),
        column: Some(column),
    }
}

/// The byte offset of a 1-based line and column (in chars).
pub(crate) fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match text[offset..].find('\n') {
            Some(i) => offset += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[offset..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    offset
        + rest[..line_len]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_len, |(i, _)| i)
}

/// The 1-based line and column (in chars) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = text
        .get(line_start..offset.min(text.len()))
        .map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_task_and_field() {
        let split = |p: &str| split_path(p);
        assert_eq!(
            split("tasks.build.next[0].do"),
            (Some("build".into()), Some("next[0].do".into()))
        );
        assert_eq!(split("tasks.build"), (Some("build".into()), None));
        assert_eq!(
            split("tasks.build[2]"),
            (Some("build".into()), Some("[2]".into()))
        );
        assert_eq!(split("input[2]"), (None, Some("input[2]".into())));
        assert_eq!(split("tasks"), (None, Some("tasks".into())));
        assert_eq!(split(""), (None, None));
    }

    #[test]
    fn task_names_with_dots_and_quotes_survive_a_path() {
        for name in ["deploy.eu", "a[1]", "say \"hi\"", "back\\slash", "plain"] {
            let path = format!("{}.input.message", task_path(name));
            assert_eq!(
                split_path(&path),
                (Some(name.to_owned()), Some("input.message".to_owned())),
                "{path}"
            );
            assert_eq!(last_segment(&task_path(name)), name);
        }
        assert_eq!(task_path("deploy.eu"), "tasks[\"deploy.eu\"]");
        assert_eq!(task_path("build"), "tasks.build");
    }
}
