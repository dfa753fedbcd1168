//! Where the YAML scanner weft reads positions with (yaml-rust2) is
//! stricter than libyaml and PyYAML, which StackStorm's files are written
//! for.
//!
//! yaml-rust2 refuses a line of a multi-line quoted scalar that is indented
//! less than the block the scalar is in (`invalid indentation in quoted
//! scalar`); libyaml and PyYAML take it, and StackStorm's own examples
//! have such strings:
//!
//! ```yaml
//!   - data_pipe_str_1: '{{
//!         ctx("data_json_str_1") |
//!         from_json_string()
//!     }}'
//! ```
//!
//! A quoted scalar's value does not depend on how its lines are indented
//! (each line break and the blanks around it fold into one space), so the
//! text with those lines indented past the opening quote reads to the same
//! value, and the scanner takes it. Lines keep their numbers; only the
//! columns of the lines padded move.

/// What yaml-rust2 says of such a scalar.
pub(crate) const UNDER_INDENTED: &str = "invalid indentation in quoted scalar";

/// How many quoted scalars one text may have padded.
pub(crate) const MAX_PADDED: usize = 1_000;

/// `text` with the continuation lines of the quoted scalar that opens at
/// `line` (1-based) and `column` (0-based, in characters) indented past
/// the opening quote; `None` when no quoted scalar opens there, or it is
/// not closed.
#[doc(hidden)]
pub fn pad_quoted_scalar(text: &str, line: usize, column: usize) -> Option<String> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let (within, _) = text[line_start..].char_indices().nth(column)?;
    let start = line_start + within;
    let bytes = text.as_bytes();
    let quote = *bytes.get(start)?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let want = column + 1;
    let mut out = String::with_capacity(text.len() + 64);
    let mut copied = 0;
    let mut i = start + 1;
    loop {
        let b = *bytes.get(i)?;
        match b {
            b'\'' if quote == b'\'' => {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                break;
            }
            b'"' if quote == b'"' => break,
            // An escape: the next character is part of it, unless it is
            // the line break (which the loop must see).
            b'\\' if quote == b'"' && bytes.get(i + 1) != Some(&b'\n') => i += 2,
            b'\n' => {
                let next = i + 1;
                out.push_str(&text[copied..next]);
                copied = next;
                let blanks = bytes[next..].iter().take_while(|&&c| c == b' ').count();
                let empty = matches!(bytes.get(next + blanks), None | Some(b'\n' | b'\r'));
                if blanks < want && !empty {
                    out.extend(std::iter::repeat_n(' ', want - blanks));
                }
                i = next;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_are_indented_past_the_quote() {
        let text = "a:\n  - k: '{{\n      x |\n    y\n\n   }}'\nb: 1\n";
        assert_eq!(
            pad_quoted_scalar(text, 2, 7).as_deref(),
            Some("a:\n  - k: '{{\n        x |\n        y\n\n        }}'\nb: 1\n")
        );
        let text = "k: \"a\\\"\n b\\\n c\"\n";
        assert_eq!(
            pad_quoted_scalar(text, 1, 3).as_deref(),
            Some("k: \"a\\\"\n    b\\\n    c\"\n")
        );
        assert_eq!(
            pad_quoted_scalar("k: 'it''s\n x'", 1, 3).as_deref(),
            Some("k: 'it''s\n    x'")
        );
        assert_eq!(pad_quoted_scalar("k: 'open\n", 1, 3), None);
        assert_eq!(pad_quoted_scalar("k: v\n", 1, 3), None);
        assert_eq!(pad_quoted_scalar("k: v\n", 9, 3), None);
        assert_eq!(
            pad_quoted_scalar("é: 'a\nb'", 1, 3).as_deref(),
            Some("é: 'a\n    b'")
        );
    }
}
