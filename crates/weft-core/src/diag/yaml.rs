//! YAML parser errors in words that say what to do: libyaml's messages
//! (behind serde_yaml_ng) taken apart and explained, a second document,
//! and an unquoted `{{ expr }}` (which YAML reads as a map).

use crate::error::{Error, ErrorKind, Location};

use super::path::at;
use super::shape::{explain_shape, path_string, shape_error, strip_position};

/// serde_yaml_ng's error for `text`, as ours: the kind, a message that says
/// what to do, and the best place (`place` finds where a path is written).
pub(crate) fn serde_error(
    text: &str,
    e: serde_path_to_error::Error<serde_yaml_ng::Error>,
    place: &dyn Fn(&str) -> Option<Location>,
) -> Error {
    let path = path_string(e.path());
    let inner = e.into_inner();
    let mut location = inner
        .location()
        .map(|l| at(l.line(), l.column().max(1)))
        .unwrap_or_default();
    let raw = inner.to_string();
    let (kind, message) = if let Some(syntax) = LibyamlError::parse(&raw) {
        let (message, at) = syntax.explain(text, &location);
        if let Some(at) = at {
            location = at;
        }
        (ErrorKind::Syntax, message)
    } else if raw.starts_with("recursion limit exceeded") {
        (ErrorKind::Limit, crate::limits::too_deep_message())
    } else if raw.starts_with("repetition limit exceeded") {
        (
            ErrorKind::Limit,
            "aliases (`*name`) are followed too many times: write the values out, or use fewer aliases"
                .to_owned(),
        )
    } else if raw.starts_with("deserializing from YAML containing more than one document") {
        if let Some(line) = second_document(text) {
            location = at(line, 1);
        }
        (
            ErrorKind::Syntax,
            second_document_error(1).message().to_owned(),
        )
    } else {
        let message = strip_yaml_path(&strip_position(&raw));
        let (message, at) = explain_shape(&message, &path, place);
        if let Some(at) = at {
            location = at;
        }
        (ErrorKind::Schema, message)
    };
    let (message, location) = unquoted_expression(text, message, location);
    shape_error(kind, message, &path, location).with_source(inner)
}

/// A libyaml error message taken apart: `PROBLEM at line L column C,
/// CONTEXT at line L2 column C2` (each position optional).
pub(crate) struct LibyamlError<'a> {
    problem: &'a str,
    context: Option<&'a str>,
    context_mark: Option<(usize, usize)>,
}

const LIBYAML_PROBLEMS: [&str; 13] = [
    "did not find expected",
    "found unexpected",
    "mapping values are not allowed",
    "block sequence entries are not allowed",
    "found character that cannot start any token",
    "found a tab character",
    "could not find expected",
    "found undefined tag handle",
    "found unknown escape character",
    "found incompatible YAML document",
    "found duplicate",
    "found unexpected end of stream",
    "control characters are not allowed",
];

/// A libyaml problem whose explanation is always the same.
struct Fixed {
    /// How libyaml's message starts.
    problem: &'static str,
    message: &'static str,
    /// The place is where the enclosing collection or scalar opened,
    /// rather than where libyaml stopped.
    at_opening: bool,
}

const FIXED: [Fixed; 7] = [
    Fixed {
        problem: "did not find expected ',' or ']'",
        message: "a `[` list is not closed: add the missing `]`, or a `,` between its items",
        at_opening: true,
    },
    Fixed {
        problem: "did not find expected ',' or '}'",
        message: "a `{` map is not closed: add the missing `}`, or a `,` between its entries",
        at_opening: true,
    },
    Fixed {
        problem: "found unknown escape character",
        message: "unknown `\\` escape in a double-quoted string: use single quotes, or write `\\\\`",
        at_opening: false,
    },
    Fixed {
        problem: "mapping values are not allowed",
        message: "unexpected `:`: check this line's indentation, or quote a value that contains `: `",
        at_opening: false,
    },
    Fixed {
        problem: "found a tab character",
        message: "a tab in the indentation: YAML indents with spaces only",
        at_opening: false,
    },
    Fixed {
        problem: "could not find expected ':'",
        message: "a line that is neither `key: value` nor a `- ` list item: add `: ` after the key, or join it to the line above",
        at_opening: true,
    },
    Fixed {
        problem: "block sequence entries are not allowed",
        message: "a `- ` list item where a value was expected: start the list on a new line, indented under its key",
        at_opening: false,
    },
];

impl<'a> LibyamlError<'a> {
    pub(crate) fn parse(raw: &'a str) -> Option<LibyamlError<'a>> {
        if !LIBYAML_PROBLEMS.iter().any(|p| raw.starts_with(p)) && !raw.contains(", while ") {
            return None;
        }
        let (problem, rest) = match raw.find(" at line ") {
            Some(i) => {
                let rest = &raw[i + " at line ".len()..];
                let after_mark = rest.find(", ").map(|j| &rest[j..]).unwrap_or("");
                (&raw[..i], after_mark)
            }
            None => match raw.find(", while ") {
                Some(i) => (&raw[..i], &raw[i..]),
                None => (raw, ""),
            },
        };
        let context = rest.strip_prefix(", ");
        let (context, context_mark) = match context {
            Some(c) => match c.find(" at line ") {
                Some(i) => (Some(&c[..i]), parse_mark(&c[i + " at line ".len()..])),
                None => (Some(c), None),
            },
            None => (None, None),
        };
        Some(LibyamlError {
            problem,
            context,
            context_mark,
        })
    }

    /// A message that says what to do, and a better place than the
    /// problem's when the cause is elsewhere (where a bracket was opened).
    pub(crate) fn explain(&self, text: &str, location: &Location) -> (String, Option<Location>) {
        let problem = self.problem;
        let context = self.context.unwrap_or("");
        let opened = self.context_mark.map(|(l, c)| at(l, c));
        let opened_line = self
            .context_mark
            .map(|(l, _)| format!(" (it starts at line {l})"))
            .unwrap_or_default();
        if context.contains("quoted scalar") && problem.contains("end of stream") {
            return (
                "a quoted string is not closed: add the closing quote".to_owned(),
                opened,
            );
        }
        if let Some(rule) = FIXED.iter().find(|r| problem.starts_with(r.problem)) {
            let place = if rule.at_opening { opened } else { None };
            return (rule.message.to_owned(), place);
        }
        if problem.starts_with("found character that cannot start any token") {
            let ch = char_at(text, location);
            return match ch {
                Some('\t') => (
                    "a tab in the indentation: YAML indents with spaces only".to_owned(),
                    None,
                ),
                Some(c) => (
                    format!("a value cannot start with `{c}`: put the value in quotes"),
                    None,
                ),
                None => (
                    "unexpected character: put the value in quotes".to_owned(),
                    None,
                ),
            };
        }
        if problem.starts_with("did not find expected key") {
            return (
                format!(
                    "this line is not indented like the keys of its map{opened_line}: line it up with them"
                ),
                None,
            );
        }
        if problem.starts_with("did not find expected '-' indicator") {
            return (
                format!(
                    "this line is not indented like the items of its list{opened_line}: line it up with them"
                ),
                None,
            );
        }
        let mut m = problem.to_owned();
        if !context.is_empty() {
            m.push_str(", ");
            m.push_str(context);
        }
        (m, None)
    }
}

fn parse_mark(s: &str) -> Option<(usize, usize)> {
    let (line, rest) = s.split_once(" column ")?;
    let col: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, col.parse::<usize>().ok()?.max(1)))
}

/// The character at a 1-based line and column.
fn char_at(text: &str, location: &Location) -> Option<char> {
    let line = text.lines().nth(location.line?.checked_sub(1)?)?;
    line.chars().nth(location.column?.checked_sub(1)?)
}

/// A second document in a workflow file, starting on `line`.
pub(crate) fn second_document_error(line: usize) -> Error {
    Error::new(
        ErrorKind::Syntax,
        "a second YAML document (`---`): a file holds one workflow; remove the second document",
    )
    .with_location(at(line, 1))
}

/// The 1-based line of a second `---` document marker, if any.
pub(crate) fn second_document(text: &str) -> Option<usize> {
    let mut content = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t.starts_with("---") && content {
            return Some(i + 1);
        }
        let t = t.trim_start();
        if !t.is_empty() && !t.starts_with('#') && !t.starts_with("---") && !t.starts_with('%') {
            content = true;
        }
    }
    None
}

/// In YAML, a value that starts with `{` is a map, so an unquoted
/// `{{ expr }}` never reaches the template engine. Whatever the parser made
/// of it, the fix is to quote it.
fn unquoted_expression(text: &str, message: String, location: Location) -> (String, Location) {
    let Some(line_no) = location.line else {
        return (message, location);
    };
    let Some(line) = text.lines().nth(line_no.saturating_sub(1)) else {
        return (message, location);
    };
    let Some(start) = line.find("{{") else {
        return (message, location);
    };
    let before = line[..start].trim_end();
    let starts_value =
        before.is_empty() || before.ends_with([':', '-', '[', ',', '{']) || before.ends_with("- ");
    if !starts_value || before.ends_with(['"', '\'']) {
        return (message, location);
    }
    let expr = match line[start..].find("}}") {
        Some(end) => &line[start..start + end + 2],
        None => "{{ ... }}",
    };
    let column = line[..start].chars().count() + 1;
    (
        format!("the expression `{expr}` must be quoted: write \"{expr}\" (in YAML an unquoted `{{` starts a map)"),
        Location {
            file: location.file,
            line: Some(line_no),
            column: Some(column),
        },
    )
}

fn strip_yaml_path(message: &str) -> String {
    // serde_yaml_ng puts its own path in front (`tasks.a.join: invalid
    // value ...`); ours is carried separately.
    if let Some((head, rest)) = message.split_once(": ") {
        if !head.is_empty()
            && !head.contains(char::is_whitespace)
            && !head.contains('`')
            && !rest.is_empty()
        {
            return rest.to_owned();
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libyaml_messages_are_taken_apart() {
        let raw = "did not find expected ',' or ']' at line 8 column 7, while parsing a flow sequence at line 7 column 13";
        let e = LibyamlError::parse(raw).expect("a libyaml message");
        assert_eq!(e.problem, "did not find expected ',' or ']'");
        assert_eq!(e.context, Some("while parsing a flow sequence"));
        assert_eq!(e.context_mark, Some((7, 13)));
        let (message, moved) = e.explain("", &at(8, 7));
        assert!(message.contains("not closed"), "{message}");
        assert_eq!(moved.and_then(|l| l.line), Some(7));

        let e = LibyamlError::parse(
            "mapping values are not allowed in this context at line 4 column 12",
        )
        .expect("a libyaml message");
        assert_eq!(e.context, None);
        assert!(LibyamlError::parse("tasks.a: invalid type: map, expected a string").is_none());
    }

    #[test]
    fn serde_messages_lose_their_own_path_and_position() {
        assert_eq!(
            strip_yaml_path(&strip_position(
                "tasks.a.join: invalid value: integer `0`, expected `all` at line 3 column 9"
            )),
            "invalid value: integer `0`, expected `all`"
        );
        assert_eq!(
            strip_yaml_path("invalid type: sequence, expected a map"),
            "invalid type: sequence, expected a map"
        );
    }

    #[test]
    fn helpers_find_documents_and_unquoted_expressions() {
        assert_eq!(second_document("# c\n---\ntasks: {}\n---\nx: 1\n"), Some(4));
        assert_eq!(second_document("---\ntasks: {}\n"), None);

        let (m, loc) = unquoted_expression(
            "tasks:\n  a:\n    input: {x: {{ y }}}\n",
            "whatever".to_owned(),
            at(3, 17),
        );
        assert!(m.contains("must be quoted"), "{m}");
        assert_eq!(loc.column, Some(16));
        let (m, _) = unquoted_expression("a: \"{{ y }}\"\n", "kept".to_owned(), at(1, 4));
        assert_eq!(m, "kept");
        let (m, _) = unquoted_expression("a: hi {{ y }}\n", "kept".to_owned(), at(1, 4));
        assert_eq!(m, "kept", "text before the braces makes a plain scalar");
    }
}
