//! Orquesta's inline parameters: `name=value` pairs written in one string,
//! as in `action: core.echo message="hello" count=3` and
//! `publish: total={{ result().n }} done=true`.
//!
//! A value is read as Orquesta reads it (`orquesta/utils/parameters.py`):
//!
//! * `"text"` or `'text'`: the text, as a string even when it looks like a
//!   number or a boolean; quoted text that starts with `{` and ends with
//!   `}` is read as JSON when it is JSON (`'{"a": 1}'` is a map);
//! * a number (`3`, `-0.5`): the number; digits that JSON does not read as
//!   one (`0123`, `.5`) stay text, as in Orquesta;
//! * `true` / `false` in any case, and `null`;
//! * `{{ ... }}` (or `<% ... %>`): the expression's text, compiled later
//!   like any other value;
//! * `[...]`: a JSON list.
//!
//! Pairs are separated by white space, `,` or `;`. Where Orquesta silently
//! drops or mangles text, this reader stops with a problem that says how to
//! write the pair instead:
//!
//! * a bare word (`message=hello`) must be quoted;
//! * a value followed by more text (`count=12abc`, `x=1e3`,
//!   `m={{ a }}{{ b }}`) must be quoted or cut at the end of its value;
//! * spaces around `=`, names with other characters than letters, digits
//!   and `_`, and anything between pairs that is not a pair;
//! * a bracketed value that is not JSON.
//!
//! Two readings differ from Orquesta's on purpose, since Orquesta's drop
//! text: a list ends at its matching `]` (Orquesta's runs to the last `]`
//! of the line, so `x=[1] y=[2]` gives it the one string `"[1] y=[2]"`),
//! and an unquoted `{...}` is a JSON map (Orquesta drops the pair). An
//! expression ends at the `}}` that closes it, not at the first `}}`
//! inside it.

use serde_json::Value;

use crate::diag::path::shorten;
use crate::diag::shape::out_of_range_message;
use crate::json_text::number_in_range;

/// One `name=value` pair; offsets are byte offsets in the text read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pair {
    pub(crate) name: String,
    pub(crate) value: Value,
    /// Where the name starts.
    pub(crate) at: usize,
    /// Where the value starts.
    pub(crate) value_at: usize,
}

/// Why the text cannot be read, and where (a byte offset).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Problem {
    pub(crate) at: usize,
    pub(crate) message: String,
}

/// Splits an `action` value into the action's name and, when more text
/// follows it, that text and its byte offset.
pub(crate) fn split_action(text: &str) -> (&str, Option<(usize, &str)>) {
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    match rest.find(char::is_whitespace) {
        Some(i) if !rest[i..].trim().is_empty() => (&rest[..i], Some((start + i, &rest[i..]))),
        Some(i) => (&rest[..i], None),
        None => (rest, None),
    }
}

/// Reads every pair of `text`, in order.
///
/// # Errors
///
/// The first problem found (see the module's documentation).
pub(crate) fn parse(text: &str) -> Result<Vec<Pair>, Problem> {
    let mut pairs = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find(|c| !is_separator(c)) {
        at += i;
        let name_end = text[at..]
            .find(|c| !is_name_char(c))
            .map_or(text.len(), |i| at + i);
        if name_end == at || !text[name_end..].starts_with('=') {
            return Err(not_a_pair(text, at, name_end, !pairs.is_empty()));
        }
        let name = &text[at..name_end];
        let value_at = name_end + 1;
        let (value, kind, end) = read_value(text, name, value_at)?;
        if text[end..].starts_with(|c| !is_separator(c)) {
            return Err(text_after_value(text, name, value_at, end, kind));
        }
        pairs.push(Pair {
            name: name.to_owned(),
            value,
            at,
            value_at,
        });
        at = end;
    }
    Ok(pairs)
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ',' || c == ';'
}

/// Python's `\w`, which Orquesta's names are made of.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The end of the word that starts at `at`: the next separator, or the end.
fn word_end(text: &str, at: usize) -> usize {
    text[at..].find(is_separator).map_or(text.len(), |i| at + i)
}

/// What kind of value was read, for the message about text after it.
#[derive(Clone, Copy)]
enum Kind {
    Quoted(char),
    /// A number, `true`, `false` or `null`: Orquesta reads the longest
    /// such prefix and drops what follows.
    Word,
    /// An expression, a list or a map.
    Delimited,
}

fn read_value(text: &str, name: &str, at: usize) -> Result<(Value, Kind, usize), Problem> {
    let rest = &text[at..];
    let problem = |message: String| Problem { at, message };
    let Some(first) = rest.chars().next() else {
        return Err(problem(no_value(name)));
    };
    match first {
        c if is_separator(c) => {
            let next = rest.trim_start_matches(is_separator);
            let word = &next[..word_end(next, 0)];
            if c != ',' && c != ';' && !word.is_empty() && !word.contains('=') {
                Err(problem(format!(
                    "no spaces around `=`: write `{name}={}`",
                    shorten(word)
                )))
            } else {
                Err(problem(no_value(name)))
            }
        }
        '"' | '\'' => {
            let Some(len) = rest[1..].find(first) else {
                return Err(problem(format!(
                    "the value of `{name}` has no closing {first}: end it with {first} \
                     (in YAML, ` #` outside quotes starts a comment: quote the whole line then)"
                )));
            };
            let inner = &rest[1..1 + len];
            // As in Orquesta: quoted text stays text, unless it is a JSON
            // map written in quotes (`'{"a": 1}'`).
            let value = match inner.starts_with('{') && inner.ends_with('}') {
                true => serde_json::from_str(inner).unwrap_or_else(|_| Value::from(inner)),
                false => Value::from(inner),
            };
            Ok((value, Kind::Quoted(first), at + len + 2))
        }
        '{' if rest.starts_with("{{") => match expression_end(rest) {
            Some(end) => Ok((Value::from(&rest[..end]), Kind::Delimited, at + end)),
            None => Err(problem(format!(
                "the expression in `{name}` has no closing `}}}}`: end it with `}}}}`"
            ))),
        },
        '{' if rest.starts_with("{%") => Err(problem(format!(
            "a value with `{{% %}}` statements must be quoted: write `{name}=\"{{% ... %}}\"`"
        ))),
        '<' if rest.starts_with("<%") => match rest[2..].find("%>") {
            Some(i) => Ok((Value::from(&rest[..i + 4]), Kind::Delimited, at + i + 4)),
            None => Err(problem(format!(
                "the expression in `{name}` has no closing `%>`: end it with `%>`"
            ))),
        },
        '[' | '{' => {
            let what = if first == '[' { "list" } else { "map" };
            let Some(end) = json_end(rest) else {
                let close = if first == '[' { ']' } else { '}' };
                return Err(problem(format!(
                    "the {what} in `{name}` has no closing `{close}`: end it with `{close}`"
                )));
            };
            let json = &rest[..end];
            if let Err(found) = crate::json_text::check(json) {
                return Err(problem(found.into_error(json).message().to_owned()));
            }
            let example = if first == '[' {
                "[\"a\", 1]"
            } else {
                "{\"a\": 1}"
            };
            match serde_json::from_str(json) {
                Ok(v) => Ok((v, Kind::Delimited, at + end)),
                Err(_) => Err(problem(format!(
                    "the value of `{name}` is not a JSON {what}: write JSON (text in double \
                     quotes, as in `{example}`), or quote the value to pass it as text"
                ))),
            }
        }
        '-' | '.' | '0'..='9' => match number_end(rest) {
            Some(end) => {
                let digits = &rest[..end];
                let value = read_number(digits).map_err(problem)?;
                Ok((value, Kind::Word, at + end))
            }
            None => Err(problem(bare_word(name, &rest[..word_end(rest, 0)]))),
        },
        _ => {
            let keyword = |word: &str, exact: bool| {
                rest.get(..word.len()).is_some_and(|head| {
                    if exact {
                        head == word
                    } else {
                        head.eq_ignore_ascii_case(word)
                    }
                })
            };
            let (value, len) = if keyword("true", false) {
                (Value::Bool(true), 4)
            } else if keyword("false", false) {
                (Value::Bool(false), 5)
            } else if keyword("null", true) {
                (Value::Null, 4)
            } else {
                return Err(problem(bare_word(name, &rest[..word_end(rest, 0)])));
            };
            Ok((value, Kind::Word, at + len))
        }
    }
}

fn no_value(name: &str) -> String {
    format!("`{name}=` has no value: write `{name}=\"\"` for empty text, or `{name}=null`")
}

fn bare_word(name: &str, word: &str) -> String {
    let word = shorten(word);
    format!(
        "`{name}={word}`: text must be quoted, as in `{name}={}` (Orquesta would silently drop this pair)",
        quoted(&word)
    )
}

/// `text` in double quotes, or in single quotes when it holds a `"`.
fn quoted(text: &str) -> String {
    if text.contains('"') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}

/// The length of Orquesta's number pattern at the start of `s`:
/// `-?\d*\.\d+`, else `-?\d+`.
fn number_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_end = i;
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        return Some(i);
    }
    (int_end > int_start).then_some(int_end)
}

/// Digits that JSON reads are a number (which must fit one unchanged);
/// others (`0123`, `.5`) stay text, as in Orquesta.
fn read_number(digits: &str) -> Result<Value, String> {
    let unsigned = digits.strip_prefix('-').unwrap_or(digits);
    let leading_zero =
        unsigned.len() > 1 && unsigned.starts_with('0') && !unsigned.starts_with("0.");
    if unsigned.starts_with('.') || leading_zero {
        return Ok(Value::from(digits));
    }
    if !number_in_range(digits, !digits.contains('.')) {
        return Err(out_of_range_message(digits));
    }
    serde_json::from_str(digits).map_err(|_| out_of_range_message(digits))
}

/// The end of the `{{ ... }}` at the start of `s`: the `}}` outside
/// quotes and outside inner braces.
fn expression_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 2;
    let mut depth = 0usize;
    let mut quote = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'{' => depth += 1,
                b'}' if depth > 0 => depth -= 1,
                b'}' if b.get(i + 1) == Some(&b'}') => return Some(i + 2),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// The end of the JSON list or map at the start of `s`: where its opening
/// bracket is closed, outside strings.
fn json_end(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.bytes().enumerate() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The problem with text where a pair should start.
fn not_a_pair(text: &str, at: usize, name_end: usize, after_pair: bool) -> Problem {
    let word = &text[at..word_end(text, at)];
    let after_name = &text[name_end..];
    let spaced = after_name.trim_start_matches([' ', '\t']);
    let message = if name_end > at && spaced.len() < after_name.len() && spaced.starts_with('=') {
        let value = spaced[1..].trim_start_matches([' ', '\t']);
        let value = &value[..word_end(value, 0)];
        format!(
            "no spaces around `=`: write `{}={}`",
            &text[at..name_end],
            shorten(value)
        )
    } else if let Some(eq) = word.find('=').filter(|&i| i > 0) {
        format!(
            "`{}` is not a parameter name: a name holds only letters, digits and `_` \
             (write other names in the map form)",
            shorten(&word[..eq])
        )
    } else if after_pair {
        format!(
            "expected `name=value`, found `{}`: a value that holds spaces must be quoted",
            shorten(word)
        )
    } else {
        format!("expected `name=value`, found `{}`", shorten(word))
    };
    Problem { at, message }
}

/// The problem with text right after a value.
fn text_after_value(text: &str, name: &str, value_at: usize, end: usize, kind: Kind) -> Problem {
    let rest = &text[end..word_end(text, end)];
    match kind {
        Kind::Quoted(q) => Problem {
            at: end,
            message: format!(
                "`{}` right after the closing {q} of `{name}`: a quoted value has no escapes \
                 and ends at the next {q}; put a value that holds {q} in the other quotes, or \
                 separate pairs with a space",
                shorten(rest)
            ),
        },
        Kind::Word => {
            let whole = &text[value_at..word_end(text, value_at)];
            let read = &text[value_at..end];
            Problem {
                at: value_at,
                message: format!(
                    "`{name}={}` is not a value: quote text, as in `{name}={}` (Orquesta would \
                     read `{read}` and silently drop `{}`)",
                    shorten(whole),
                    quoted(&shorten(whole)),
                    shorten(rest)
                ),
            }
        }
        Kind::Delimited => Problem {
            at: end,
            message: format!(
                "`{}` right after the value of `{name}`: separate pairs with a space, or quote \
                 the whole value",
                shorten(rest)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Vec<(String, Value)> {
        parse(text)
            .unwrap_or_else(|p| panic!("{text}: {}", p.message))
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect()
    }

    fn one(text: &str) -> Value {
        match read(text).as_slice() {
            [(_, v)] => v.clone(),
            other => panic!("{text}: {other:?}"),
        }
    }

    fn problem(text: &str) -> Problem {
        match parse(text) {
            Err(p) => p,
            Ok(pairs) => panic!("{text}: read as {pairs:?}"),
        }
    }

    // Orquesta's own cases, from `orquesta/tests/unit/utils/test_parameters.py`
    // (test_parse_basic, _dictionary, _expression, _multiple, _combination,
    // _empty_string, _bool_input, _string_in_quotes_input): weft reads each
    // to the same value.
    #[test]
    fn orquesta_test_parameters_cases_read_the_same() {
        for (text, want) in [
            ("x=null", json!(null)),
            ("x=123", json!(123)),
            ("x=-123", json!(-123)),
            ("x=0.123", json!(0.123)),
            ("x=-0.123", json!(-0.123)),
            ("x=true", json!(true)),
            ("x=false", json!(false)),
            ("x=\"abc\"", json!("abc")),
            ("x='abc'", json!("abc")),
            ("x='{\"a\": 1}'", json!({"a": 1})),
            ("x=<% $.abc %>", json!("<% $.abc %>")),
            ("x={{ _.abc }}", json!("{{ _.abc }}")),
            ("y=True", json!(true)),
            ("c=TRUE", json!(true)),
            ("y=False", json!(false)),
            ("c=FALSE", json!(false)),
            ("x=\"true\"", json!("true")),
            ("y=\"True\"", json!("True")),
            ("c=\"TRUE\"", json!("TRUE")),
            ("d=\"123\"", json!("123")),
            ("e=\"abcde\"", json!("abcde")),
            ("f=\"\"", json!("")),
            ("x='false'", json!("false")),
            ("y='False'", json!("False")),
            ("c='FALSE'", json!("FALSE")),
            ("d='123'", json!("123")),
            ("e='abcde'", json!("abcde")),
            ("f=''", json!("")),
        ] {
            assert_eq!(one(text), want, "{text}");
        }
        for text in [
            "x=\"abc\" y=\"def\"",
            "x=\"abc\", y=\"def\"",
            "x=\"abc\"; y=\"def\"",
        ] {
            assert_eq!(
                read(text),
                [("x".into(), json!("abc")), ("y".into(), json!("def"))],
                "{text}"
            );
        }
        assert_eq!(
            read("y=\"def\"; x=\"abc\""),
            [("y".into(), json!("def")), ("x".into(), json!("abc"))],
            "order is kept"
        );
        assert_eq!(
            read("i=123 j=\"abc\" k=true x=<% $.abc %> y={{ _.abc }} z='{\"a\": 1}'"),
            [
                ("i".into(), json!(123)),
                ("j".into(), json!("abc")),
                ("k".into(), json!(true)),
                ("x".into(), json!("<% $.abc %>")),
                ("y".into(), json!("{{ _.abc }}")),
                ("z".into(), json!({"a": 1})),
            ]
        );
        assert_eq!(read(""), []);
        assert_eq!(read("  \n "), []);
    }

    // The engine-observed table of the research notes: the rows Orquesta
    // reads without dropping text give the same values.
    #[test]
    fn well_formed_rows_of_the_observed_table_read_the_same() {
        for (text, want) in [
            ("x='{{ ctx(\"a\") }}'", json!("{{ ctx(\"a\") }}")),
            ("x=\"{{ ctx('a') }}\"", json!("{{ ctx('a') }}")),
            ("x={{ ctx(\"a\") }}", json!("{{ ctx(\"a\") }}")),
            ("x=.5", json!(".5")),
            ("x=-.5", json!("-.5")),
            ("x=0123", json!("0123")),
            ("x=[1, 2]", json!([1, 2])),
            ("x=tRuE", json!(true)),
            ("x=\"{}\"", json!({})),
            ("x='{not json}'", json!("{not json}")),
            ("x=\"{{ a }}\"", json!("{{ a }}")),
            ("x=-0.5", json!(-0.5)),
        ] {
            assert_eq!(one(text), want, "{text}");
        }
    }

    #[test]
    fn separators_are_spaces_commas_semicolons_and_newlines() {
        assert_eq!(
            read("a=1,b=2;c=3\n  d=4\t e=5 ,; f=6"),
            (1..=6)
                .zip(["a", "b", "c", "d", "e", "f"])
                .map(|(n, k)| (k.to_owned(), json!(n)))
                .collect::<Vec<_>>()
        );
    }

    // Where Orquesta mangles the text, weft reads what is written.
    #[test]
    fn lists_maps_and_expressions_end_where_they_close() {
        assert_eq!(
            read("x=[1,2] y=[3]"),
            [("x".into(), json!([1, 2])), ("y".into(), json!([3]))]
        );
        assert_eq!(one("x=[\"a\", [\"b]\"]]"), json!(["a", ["b]"]]));
        assert_eq!(
            one("x={\"a\": [1, {\"b\": 2}]}"),
            json!({"a": [1, {"b": 2}]})
        );
        assert_eq!(
            one("x={{ {'a': {'b': 1}} }}"),
            json!("{{ {'a': {'b': 1}} }}")
        );
        assert_eq!(one("x={{ '}}' ~ a }}"), json!("{{ '}}' ~ a }}"));
        assert_eq!(
            read("m={{ a }} n={{ b }}"),
            [
                ("m".into(), json!("{{ a }}")),
                ("n".into(), json!("{{ b }}"))
            ]
        );
        assert_eq!(one("x=\"it's\""), json!("it's"));
        assert_eq!(one("x='say \"hi\"'"), json!("say \"hi\""));
        assert_eq!(one("x=\"multi\n  line\""), json!("multi\n  line"));
    }

    #[test]
    fn pairs_and_values_know_where_they_start() {
        let pairs = parse("a=1  bb=\"x\"").unwrap_or_default();
        assert_eq!(
            pairs.iter().map(|p| (p.at, p.value_at)).collect::<Vec<_>>(),
            [(0, 2), (5, 8)]
        );
    }

    #[test]
    fn the_action_name_is_cut_at_the_first_space() {
        assert_eq!(split_action("core.echo"), ("core.echo", None));
        assert_eq!(split_action("core.echo  "), ("core.echo", None));
        assert_eq!(
            split_action("core.echo a=1"),
            ("core.echo", Some((9, " a=1")))
        );
        assert_eq!(
            split_action(" core.echo\ta=1"),
            ("core.echo", Some((10, "\ta=1")))
        );
    }

    // Orquesta drops these pairs, or part of them, without a word.
    #[test]
    fn dropped_text_is_a_problem_that_says_how_to_write_it() {
        for (text, at, says) in [
            (
                "message=hello",
                8,
                "text must be quoted, as in `message=\"hello\"`",
            ),
            ("x=Null", 2, "as in `x=\"Null\"`"),
            (
                "w=12abc",
                2,
                "Orquesta would read `12` and silently drop `abc`",
            ),
            ("x=1e3", 2, "quote text, as in `x=\"1e3\"`"),
            ("x=truex", 2, "would read `true` and silently drop `x`"),
            ("x=nullx", 2, "would read `null`"),
            ("x=1.", 2, "`x=1.` is not a value"),
            ("m={{ a }}{{ b }}", 9, "`{{` right after the value of `m`"),
            ("x=\"a \\\"b\\\"\"", 7, "a quoted value has no escapes"),
            ("x = 1", 0, "no spaces around `=`: write `x=1`"),
            ("x =1", 0, "write `x=1`"),
            ("x= 1", 2, "write `x=1`"),
            ("x=", 2, "`x=` has no value"),
            ("x=, y=1", 2, "`x=` has no value"),
            ("a-b=1", 0, "`a-b` is not a parameter name"),
            ("c.d=2", 0, "`c.d` is not a parameter name"),
            ("hello", 0, "expected `name=value`, found `hello`"),
            ("a=1 and", 4, "a value that holds spaces must be quoted"),
            ("x=\"open", 2, "has no closing \""),
            ("x={{ open", 2, "has no closing `}}`"),
            ("x=<% open", 2, "has no closing `%>`"),
            ("x=[1, 2", 2, "has no closing `]`"),
            ("x=[a, b]", 2, "is not a JSON list"),
            ("x={a: 1}", 2, "is not a JSON map"),
            ("x={% if a %}1{% endif %}", 2, "must be quoted"),
            ("x=+5", 2, "text must be quoted"),
            ("x=-", 2, "text must be quoted"),
        ] {
            let p = problem(text);
            assert!(p.message.contains(says), "{text}: {}", p.message);
            assert_eq!(p.at, at, "{text}: {}", p.message);
        }
    }

    #[test]
    fn numbers_beyond_json_and_duplicate_map_keys_are_problems() {
        let p = problem("x=123456789012345678901234567890");
        assert!(p.message.contains("out of range"), "{}", p.message);
        let p = problem("x=[1e999]");
        assert!(p.message.contains("out of range"), "{}", p.message);
        let p = problem("x={\"a\": 1, \"a\": 2}");
        assert!(p.message.contains("duplicate key `a`"), "{}", p.message);
        assert_eq!(
            one("x=18446744073709551615"),
            json!(18446744073709551615u64)
        );
    }

    #[test]
    fn hostile_text_is_read_in_one_pass_without_panicking() {
        let deep = format!("x={}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(problem(&deep).message.contains("nested"));
        let many = "a=1 ".repeat(20_000);
        assert_eq!(read(&many).len(), 20_000);
        for text in [
            "=", "==", "x==", "é=1", "x=é", "x=\"é", "x=[\"\\", "x={{'\\", "x=[]]",
        ] {
            let _ = parse(text);
        }
        assert_eq!(one("é=1"), json!(1), "names are Unicode word characters");
    }
}
