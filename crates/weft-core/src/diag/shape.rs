//! serde's errors about the shape of a definition (an unknown or missing
//! key, a value of the wrong type), the same for YAML and JSON: reworded to
//! say what to write, with "did you mean" for a misspelt key and the place
//! of the key itself when the source map knows it; and the rules every
//! input follows (a key once per map, numbers a JSON value can hold).

use crate::error::{Error, ErrorKind, Location};

use super::path::{at, at_path, join_key, last_segment, shorten, split_path};
use super::suggest::suggest;

/// The message for a number out of range, the same for every format.
pub(crate) fn out_of_range_message(number: &str) -> String {
    format!(
        "the number `{}` is out of range: a whole number must fit in 64 bits \
         (-9223372036854775808 to 18446744073709551615) and other numbers within \
         ±1.7976931348623157e308; put it in quotes to keep it as text",
        shorten(number)
    )
}

/// A key given twice in one map (a task defined twice, when the map is
/// `tasks`), at `line` and `column`; `first_line` is where the first is.
pub(crate) fn duplicate_error(
    path: &str,
    line: usize,
    column: usize,
    first_line: Option<usize>,
) -> Error {
    let (task, field) = split_path(path);
    let first = first_line
        .map(|l| format!(" (first at line {l})"))
        .unwrap_or_default();
    let message = match (&task, &field) {
        (Some(t), None) => {
            format!("task `{t}` is defined twice{first}: rename or remove one of them")
        }
        _ => format!(
            "duplicate key `{}`{first}: each key may appear once; remove one",
            last_segment(path)
        ),
    };
    at_path(
        Error::new(ErrorKind::Schema, message).with_location(at(line, column)),
        path,
    )
}

/// A serde path as our paths are written: `tasks.build.next[0].do`. The
/// path stops at the first step serde could not name.
pub(crate) fn path_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => out = join_key(&out, key),
            Segment::Enum { variant } => out = join_key(&out, variant),
            Segment::Unknown => break,
        }
    }
    out
}

/// Removes the " at line X column Y" suffix that serde backends append, since
/// the location is carried separately.
pub(crate) fn strip_position(message: &str) -> String {
    let cut = [" at line ", " at position "]
        .iter()
        .filter_map(|p| message.rfind(p))
        .min();
    let mut m = match cut {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    };
    if let Some(rest) = m.strip_prefix(": ") {
        m = rest.to_owned();
    }
    m
}

/// Names in backticks, in order.
fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// Keys people carry over from other engines, and what weft calls them.
const KEY_SYNONYMS: [(&str, &str); 26] = [
    ("parameters", "input"),
    ("params", "input"),
    ("inputs", "input"),
    ("args", "input"),
    ("arguments", "input"),
    ("variables", "vars"),
    ("steps", "tasks"),
    ("jobs", "tasks"),
    ("outputs", "output"),
    ("if", "when"),
    ("condition", "when"),
    ("then", "do"),
    ("goto", "do"),
    ("on-success", "next"),
    ("on_success", "next"),
    ("on-failure", "next"),
    ("on_failure", "next"),
    ("on-complete", "next"),
    ("on_complete", "next"),
    ("attempts", "count"),
    ("retries", "count"),
    ("parallel", "concurrency"),
    ("parallelism", "concurrency"),
    ("with_items", "with"),
    ("wait", "delay"),
    ("interval", "delay"),
];

fn suggest_key<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    KEY_SYNONYMS
        .iter()
        .find(|(from, to)| *from == key && candidates.contains(to))
        .and_then(|(_, to)| candidates.iter().find(|c| *c == to).copied())
        .or_else(|| suggest(key, candidates.iter().copied()))
}

fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => format!(
            "{} or `{last}`",
            init.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How to write the value at the end of `path`, for type errors.
fn shape_hint(path: &str) -> Option<&'static str> {
    let (task, field) = split_path(path);
    let field = field.unwrap_or_default();
    let last = field
        .rsplit(['.', '['])
        .find(|s| !s.ends_with(']'))
        .unwrap_or("");
    Some(match (task.is_some(), field.as_str(), last) {
        (false, "tasks", _) => "write `tasks` as a map of task name to task",
        (false, "input", _) => "write `input` as a list: `[name, {name: default}]`",
        (true, "input", _) => {
            "write `input` as a map, `{name: value}`, or as one expression that yields the map, `\"{{ ctx().args }}\"`"
        }
        (true, "next", _) => "write `next` as a list of transitions: `[{when: ..., do: [task]}]`",
        (true, f, "next") if f.starts_with("next[") => {
            "write each transition as a map, such as `- do: [task]`"
        }
        (true, _, "do") => "write `do` as a list of task names, or as a string `\"a, b\"`",
        (true, "with", _) => {
            "write `with: \"{{ list }}\"`, or `with: {items: \"{{ list }}\", concurrency: 2}`"
        }
        (true, "retry", _) => "write `retry` as a map, such as `{count: 3, delay: 1}`",
        (_, _, "publish" | "vars" | "output") => {
            "write a list of `- name: value` entries, or a map"
        }
        _ => return None,
    })
}

/// Rewords serde's type and key errors; returns the message and, when the
/// source map knows a better place (the key itself), that place.
pub(crate) fn explain_shape(
    message: &str,
    path: &str,
    place: &dyn Fn(&str) -> Option<Location>,
) -> (String, Option<Location>) {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = backticked(rest);
        let Some((key, expected)) = names.split_first() else {
            return (message.to_owned(), None);
        };
        let in_task = expected.contains(&"action");
        let m = match suggest_key(key, expected) {
            _ if in_task && matches!(*key, "do" | "when" | "publish") => format!(
                "unknown key `{key}` in a task: `{key}` belongs in a transition, as in `next: [{{{key}: ...}}]`"
            ),
            Some(s) => format!("unknown key `{key}`: did you mean `{s}`?"),
            None if expected.is_empty() => format!("unknown key `{key}`: remove it"),
            None => format!(
                "unknown key `{key}`: remove it, or use {}",
                or_list(expected)
            ),
        };
        return (m, place(path));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = backticked(rest);
        if let Some((value, expected)) = names.split_first() {
            let m = match suggest(value, expected.iter().copied()) {
                Some(s) => format!("unknown value `{value}`: did you mean `{s}`?"),
                None => format!("unknown value `{value}`: use {}", or_list(expected)),
            };
            return (m, None);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let key = backticked(rest).first().copied().unwrap_or("");
        let what = match key {
            "tasks" => "add a `tasks` map with at least one task",
            "count" => "add `count`, the number of retries",
            "items" => "add `items`, such as `items: \"{{ parameters.hosts }}\"`",
            _ => "add it",
        };
        return (format!("missing key `{key}`: {what}"), place(path));
    }
    if let Some(key) = message
        .strip_prefix(crate::def::ONE_ENTRY_PREFIX)
        .and_then(|rest| backticked(rest).first().copied())
    {
        let moved = place(&join_key(path, key));
        return (message.to_owned(), moved);
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.split_once(", expected ") {
                let found = describe_unexpected(found);
                let expected = expected.replace("a sequence", "a list");
                let mut m = format!("expected {expected}, found {found}");
                if prefix == "invalid type: " {
                    if let Some(h) = shape_hint(path) {
                        m = format!("{m}: {h}");
                    }
                }
                return (m, None);
            }
        }
    }
    (message.to_owned(), None)
}

/// serde's description of a value (`integer \`5\``, `sequence`) in words.
fn describe_unexpected(found: &str) -> String {
    let tick = || backticked(found).first().map(|s| (*s).to_owned());
    if found == "sequence" {
        "a list".to_owned()
    } else if found == "map" {
        "a map".to_owned()
    } else if found == "unit value" {
        "an empty value".to_owned()
    } else if found.starts_with("integer") || found.starts_with("floating point") {
        tick().unwrap_or_else(|| found.to_owned())
    } else if found.starts_with("boolean") {
        tick()
            .map(|b| format!("`{b}`"))
            .unwrap_or_else(|| found.to_owned())
    } else if let Some(s) = found.strip_prefix("string ") {
        format!("the text {s}")
    } else {
        found.to_owned()
    }
}

/// An error about the value at `path` (serde's path: `.` is the root).
pub(crate) fn shape_error(
    kind: ErrorKind,
    message: String,
    path: &str,
    location: Location,
) -> Error {
    let e = Error::new(kind, message).with_location(location);
    if path == "." {
        e
    } else {
        at_path(e, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_descriptions_of_values_read_as_words() {
        assert_eq!(describe_unexpected("integer `5`"), "5");
        assert_eq!(describe_unexpected("string \"x\""), "the text \"x\"");
        assert_eq!(describe_unexpected("boolean `true`"), "`true`");
        assert_eq!(describe_unexpected("unit value"), "an empty value");
    }
}
