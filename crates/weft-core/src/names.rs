//! Names in expressions checked when compiling: inputs read through
//! `parameters.x`, names read through `ctx('x')`, and the filters, tests and
//! functions called.
//!
//! The scan reads the tokens of a template (the same lexer as the limits'
//! scans), not a syntax tree: it recognises `parameters.name`,
//! `parameters['name']`, `ctx('name')`, `ctx().name`, `| filter`,
//! `is test` and `name(` not after a `.`. What it cannot see through (a
//! variable holding `parameters`, a name built at run time) is left to the
//! run, where an undefined name is an error that names it.

use crate::limits::{Lexer, Mode, Tok};

/// The filters minijinja provides with weft's features, those weft takes
/// from minijinja-contrib (`jinja_compat`), and weft's own;
/// the names offered when one is misspelt. Whether a name exists is asked of
/// the environment itself (see `expr::filter_exists`).
pub(crate) const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "shell_quote",
    "slice",
    "sort",
    "split",
    "striptags",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "wordcount",
    "zip",
];

/// The tests minijinja provides (`x is defined`), for suggestions.
pub(crate) const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "endingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Names a template may call that are not global functions: `item(...)`
/// (renamed when compiling), and what a template's own blocks define.
const CALLABLE_LOCALS: &[&str] = &[
    "item", "loop", "caller", "super", "self", "varargs", "kwargs",
];

/// Words of the template language that may stand before `(`.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "for",
    "set",
    "with",
    "call",
    "filter",
    "macro",
    "block",
    "import",
    "include",
    "from",
    "as",
    "recursive",
    "do",
    "return",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

/// One name the scan found, and where it starts in the template text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found<'a> {
    /// `parameters.name` or `parameters['name']`.
    Parameter(&'a str),
    /// `ctx('name')` or `ctx().name`.
    Ctx(&'a str),
    /// `| name`.
    Filter(&'a str),
    /// `is name`.
    Test(&'a str),
    /// `name(`, not after a `.`, and not a name the template defines.
    Function(&'a str),
}

/// The names `source` (a template as written, with its `{{ }}`) uses, each
/// with its byte offset in `source`.
pub(crate) fn scan(source: &str) -> Vec<(Found<'_>, usize)> {
    if crate::yaql::has_yaql(source) {
        return crate::yaql::scan_names(source);
    }
    let mut found = Vec::new();
    if !source.contains("{{") && !source.contains("{%") {
        return found;
    }
    // Tokens with their text, whitespace and tag marks dropped: a tag's
    // end is kept as a break, so that `}}{{` never joins two expressions.
    let toks: Vec<(Tok<'_>, &str, usize)> = Lexer::new(source, Mode::Template)
        .filter(|(t, _, _)| !matches!(t, Tok::Space | Tok::Text | Tok::Skipped))
        .map(|(t, s, e)| (t, &source[s..e], s))
        .collect();
    // Macros and names a template sets may be called: skip them.
    let mut defined: Vec<&str> = Vec::new();
    for w in toks.windows(2) {
        if let (Tok::Ident("macro" | "set" | "for" | "import" | "as"), Tok::Ident(n)) =
            (w[0].0, w[1].0)
        {
            defined.push(n);
        }
    }
    let at = |i: usize| toks.get(i).map(|t| (t.0, t.1));
    let string = |i: usize| match at(i) {
        Some((Tok::Str, text)) => unquote(text),
        _ => None,
    };
    for (i, &(tok, _, offset)) in toks.iter().enumerate() {
        let Tok::Ident(name) = tok else { continue };
        let prev = i.checked_sub(1).and_then(at);
        if matches!(prev, Some((Tok::Dot, _))) {
            continue;
        }
        match prev {
            Some((Tok::Op, "|")) => {
                found.push((Found::Filter(name), offset));
                continue;
            }
            Some((Tok::Ident("is"), _)) if name != "not" => {
                found.push((Found::Test(name), offset));
                continue;
            }
            Some((Tok::Ident("not"), _))
                if i >= 2 && matches!(at(i - 2), Some((Tok::Ident("is"), _))) =>
            {
                found.push((Found::Test(name), offset));
                continue;
            }
            Some((Tok::Ident("filter"), _))
                if i >= 2 && matches!(at(i - 2), Some((Tok::TagStart { block: true }, _))) =>
            {
                found.push((Found::Filter(name), offset));
                continue;
            }
            _ => {}
        }
        let next = at(i + 1);
        match (name, next) {
            ("parameters", Some((Tok::Dot, _))) => {
                if let Some((Tok::Ident(field), _)) = at(i + 2) {
                    found.push((Found::Parameter(field), offset));
                }
            }
            ("parameters", Some((Tok::Open, "["))) => {
                if let (Some(field), Some((Tok::Close, "]"))) = (string(i + 2), at(i + 3)) {
                    found.push((Found::Parameter(field), offset));
                }
            }
            ("ctx", Some((Tok::Open, "("))) => {
                if let (Some(field), Some((Tok::Close, ")"))) = (string(i + 2), at(i + 3)) {
                    found.push((Found::Ctx(field), offset));
                } else if let (
                    Some((Tok::Close, ")")),
                    Some((Tok::Dot, _)),
                    Some((Tok::Ident(field), _)),
                ) = (at(i + 2), at(i + 3), at(i + 4))
                {
                    found.push((Found::Ctx(field), offset));
                }
            }
            (_, Some((Tok::Open, "(")))
                if !KEYWORDS.contains(&name)
                    && !CALLABLE_LOCALS.contains(&name)
                    && !defined.contains(&name)
                    && !matches!(prev, Some((Tok::Ident("macro" | "call"), _))) =>
            {
                found.push((Found::Function(name), offset));
            }
            _ => {}
        }
    }
    found
}

/// The text of a string literal without escapes; `None` when it has any.
fn unquote(text: &str) -> Option<&str> {
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))?;
    (!inner.contains('\\')).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<Found<'_>> {
        scan(s).into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn scan_finds_parameters_ctx_filters_tests_and_calls() {
        use Found::*;
        assert_eq!(
            names("{{ parameters.host ~ parameters['port'] | lenght }}"),
            [Parameter("host"), Parameter("port"), Filter("lenght")]
        );
        assert_eq!(
            names("{{ ctx('a') + ctx().b + ctx(name) }}"),
            [Ctx("a"), Ctx("b")]
        );
        assert_eq!(
            names("{{ x is defnied and y is not none and rnage(3) }}"),
            [Test("defnied"), Test("none"), Function("rnage")]
        );
        // Methods, keywords, item() and a template's own macros are no
        // global calls; text outside tags is not code.
        assert_eq!(
            names("f(x) {% macro m(a) %}{{ a.upper() }}{% endmacro %}{{ m(1) if (x) else item('y') }}"),
            []
        );
        assert_eq!(
            names("{% filter uper %}x{% endfilter %}{% for i in range(2) %}{{ loop.index }}{% endfor %}"),
            [Filter("uper"), Function("range")]
        );
        // The offset is where the name starts.
        let s = "{{ 1 | lenght }}";
        assert_eq!(scan(s), [(Filter("lenght"), 7)]);
        assert!(scan("no braces(x)").is_empty());
    }
}
