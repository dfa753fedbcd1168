//! JSON parser errors (serde_json's) in words that say what to do, placed
//! where the mistake is (a trailing comma, not the bracket after it).

use crate::error::{Error, ErrorKind, Location};

use super::path::at;
use super::shape::{explain_shape, shape_error, strip_position};

/// serde_json's error for `text` (at `path`, as our paths are written), as
/// ours: `kind` when the caller knows it (text after the workflow is a
/// syntax error), else syntax or shape as serde_json says; `place` finds
/// where a path is written.
pub(crate) fn serde_error(
    text: &str,
    kind: Option<ErrorKind>,
    path: &str,
    inner: serde_json::Error,
    place: &dyn Fn(&str) -> Option<Location>,
) -> Error {
    let mut location = at(inner.line(), inner.column().max(1));
    let syntax = inner.is_syntax() || inner.is_eof();
    let kind = kind.unwrap_or(if syntax {
        ErrorKind::Syntax
    } else {
        ErrorKind::Schema
    });
    let raw = strip_position(&inner.to_string());
    let (message, moved) = if kind == ErrorKind::Syntax {
        explain_json_syntax(&raw, text, &location)
    } else {
        explain_shape(&raw, path, place)
    };
    if let Some(m) = moved {
        location = m;
    }
    shape_error(kind, message, path, location).with_source(inner)
}

fn explain_json_syntax(raw: &str, text: &str, location: &Location) -> (String, Option<Location>) {
    let m = match raw {
        "trailing comma" => {
            return (
                "a comma before a closing bracket: remove it".to_owned(),
                comma_before(text, location),
            )
        }
        "EOF while parsing an object" => "the text ends inside a `{` map: add the missing `}`",
        "EOF while parsing a list" => "the text ends inside a `[` list: add the missing `]`",
        "EOF while parsing a string" => "a string is not closed: add the closing `\"`",
        "EOF while parsing a value" => "the text ends where a value was expected",
        "expected `,` or `}`" => {
            "expected `,` or `}`: add a comma between entries, or close the map"
        }
        "expected `,` or `]`" => {
            "expected `,` or `]`: add a comma between items, or close the list"
        }
        "key must be a string" => "keys must be in double quotes, as in `\"tasks\"`",
        "expected value" => {
            "expected a value: strings need double quotes, and JSON has no comments"
        }
        "trailing characters" => {
            "text after the end of the workflow: a file holds one workflow; remove it"
        }
        "expected `:`" => "expected `:` after a key",
        _ if raw.starts_with("control character") => {
            "a line break or control character inside a string: write `\\n` instead"
        }
        _ if raw.starts_with("invalid escape") => "unknown `\\` escape in a string: write `\\\\`",
        other => other,
    };
    (m.to_owned(), None)
}

/// The position of the comma that `location` (just after it) complains
/// about.
fn comma_before(text: &str, location: &Location) -> Option<Location> {
    let (line, column) = (location.line?, location.column?);
    let lines: Vec<&str> = text.lines().collect();
    let mut l = line.checked_sub(1)?;
    let mut upto = column.saturating_sub(1);
    loop {
        let chars: Vec<char> = lines.get(l)?.chars().collect();
        let upto_c = upto.min(chars.len());
        if let Some(i) = chars[..upto_c].iter().rposition(|c| !c.is_whitespace()) {
            return (chars[i] == ',').then(|| at(l + 1, i + 1));
        }
        l = l.checked_sub(1)?;
        upto = usize::MAX;
    }
}

/// A serde_json error for a value (not a workflow), explained and located.
pub(crate) fn json_syntax_error(text: &str, e: serde_json::Error) -> Error {
    let mut location = at(e.line(), e.column().max(1));
    let raw = strip_position(&e.to_string());
    let (message, moved) = explain_json_syntax(&raw, text, &location);
    if let Some(m) = moved {
        location = m;
    }
    let kind = if e.is_data() {
        ErrorKind::Schema
    } else {
        ErrorKind::Syntax
    };
    Error::new(kind, message)
        .with_location(location)
        .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_comma_is_found() {
        let text = "{\n  \"a\": 1,\n}\n";
        assert_eq!(comma_before(text, &at(3, 1)), Some(at(2, 9)));
        assert_eq!(comma_before("{\"a\": 1 }", &at(1, 9)), None);
    }
}
