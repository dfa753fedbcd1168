//! A string with `<% %>` in it, as Orquesta reads it.
//!
//! Orquesta finds YAQL expressions with the pattern `<%.*?%>`: from each
//! `<%` to the first `%>` after it on the same line (an expression never
//! spans lines; text with `<%` and `%>` on different lines holds none).
//! It strips `<`, `%` and `>` from both ends, then whitespace. A string
//! that is exactly one expression keeps the expression's type; otherwise
//! each expression's value is printed into the text as Python's `str()`
//! prints it, after yaql turned tuples and iterators into lists. A string
//! with both YAQL and Jinja expressions is an error, as Orquesta's
//! inspection reports it.

use std::sync::Arc;

use serde_json::Value;

use super::compile::compile;
use super::eval::eval;
use super::node::{ArgNode, Node};
use super::parser::parse;
use super::state::{Pins, State};
use super::value::Scope;
use super::value::{is_space, py_str, to_json, Out, Style, Val};
use super::{YErr, YErrKind};
use crate::context::WorkflowContext;
use crate::diag::excerpt;
use crate::expr::FastPath;
use crate::names::Found;
use crate::view::Step;

/// The spans of the YAQL expressions in `s`: the `<%`…`%>` ranges.
fn regions(s: &str, open: &str, close: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find(open) {
        let start = from + at;
        let body = start + open.len();
        let line_end = s[body..].find('\n').map_or(s.len(), |n| body + n);
        match s[body..line_end].find(close) {
            Some(c) => {
                let end = body + c + close.len();
                out.push((start, end));
                from = end;
            }
            None => from = start + 1,
        }
    }
    out
}

/// True when `s` holds a YAQL expression as Orquesta finds them.
pub(crate) fn has_yaql(s: &str) -> bool {
    s.contains("<%") && !regions(s, "<%", "%>").is_empty()
}

/// True when `s` holds both a YAQL and a Jinja expression (`{{ }}` or
/// `{% %}`), which Orquesta refuses.
pub(crate) fn mixes_dialects(s: &str) -> bool {
    has_yaql(s)
        && ((s.contains("{{") && !regions(s, "{{", "}}").is_empty())
            || (s.contains("{%") && !regions(s, "{%", "%}").is_empty()))
}

/// The text of an expression inside its delimiters, as Orquesta strips
/// it, and where that text starts.
fn inner(s: &str, (start, end): (usize, usize)) -> (&str, usize) {
    let whole = &s[start..end];
    let trimmed = whole.trim_matches(['<', '%', '>']);
    let lead = whole.len() - whole.trim_start_matches(['<', '%', '>']).len();
    let text = trimmed.trim_matches(is_space);
    let ws = trimmed.len() - trimmed.trim_start_matches(is_space).len();
    (text, start + lead + ws)
}

/// One compiled expression: its nodes, its text, and its plain path if
/// it is one (`ctx().a.b`, `result().stdout`, `succeeded()`).
#[derive(Debug)]
pub(crate) struct Program {
    node: Node,
    text: Box<str>,
    fast: Option<FastPath>,
}

impl Program {
    /// Parses and compiles one expression's text.
    pub(crate) fn compile(text: &str, max_depth: u32) -> Result<Program, (String, usize)> {
        let ast = parse(text, max_depth).map_err(|e| (e.message, e.span.start as usize))?;
        let node = compile(&ast).map_err(|e| {
            let snippet = text.get(e.span.range()).unwrap_or("");
            let message = if snippet.is_empty() || snippet == text {
                e.message
            } else {
                format!("`{}`: {}", excerpt(snippet), e.message)
            };
            (message, e.span.start as usize)
        })?;
        let fast = fast_path(&node);
        Ok(Program {
            node,
            text: text.into(),
            fast,
        })
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// The plain path a node is, if it is one.
fn fast_path(node: &Node) -> Option<FastPath> {
    let mut steps = Vec::new();
    let mut n = node;
    loop {
        match n {
            Node::Member {
                recv,
                name,
                elvis: false,
                ..
            } => {
                steps.push(Step::Key(name.clone()));
                n = recv;
            }
            Node::Index {
                recv,
                key,
                default: None,
                ..
            } => {
                match &**key {
                    Node::Int(i) if *i >= 0 => steps.push(Step::Index(*i as usize)),
                    Node::Str(s) => steps.push(Step::Key(s.clone())),
                    _ => return None,
                }
                n = recv;
            }
            _ => break,
        }
    }
    steps.reverse();
    match n {
        Node::CtxVar { name, .. } => {
            steps.insert(0, Step::Key(name.clone()));
            FastPath::yaql("ctx", steps)
        }
        Node::Call(c)
            if c.recv.is_none() && c.args.iter().all(|a| matches!(a, ArgNode::Missing)) =>
        {
            FastPath::yaql(c.f.name, steps)
        }
        _ => None,
    }
}

/// A compiled string with YAQL in it.
#[derive(Debug)]
pub(crate) struct YaqlTemplate {
    body: Body,
    /// Whether plain paths are resolved directly (always, but in the
    /// tests that compare both ways).
    fast: bool,
}

#[derive(Debug)]
enum Body {
    /// The string is one expression: its value keeps its type.
    Single(Arc<Program>),
    /// Text and expressions: a string.
    Mixed(Vec<Piece>),
}

#[derive(Debug)]
pub(crate) enum Piece {
    Text(String),
    Expr(Arc<Program>),
}

impl YaqlTemplate {
    /// Compiles `source`; `program` compiles (or finds) one expression's
    /// text, given where it starts in `source`.
    pub(crate) fn compile<E>(
        source: &str,
        mut program: impl FnMut(&str, usize) -> Result<Arc<Program>, E>,
    ) -> Result<YaqlTemplate, E> {
        let found = regions(source, "<%", "%>");
        if let [(0, end)] = found[..] {
            if end == source.len() {
                let (text, at) = inner(source, (0, end));
                return Ok(YaqlTemplate {
                    body: Body::Single(program(text, at)?),
                    fast: true,
                });
            }
        }
        let mut pieces = Vec::new();
        let mut last = 0;
        for r in found {
            if r.0 > last {
                pieces.push(Piece::Text(source[last..r.0].to_owned()));
            }
            let (text, at) = inner(source, r);
            pieces.push(Piece::Expr(program(text, at)?));
            last = r.1;
        }
        if last < source.len() {
            pieces.push(Piece::Text(source[last..].to_owned()));
        }
        Ok(YaqlTemplate {
            body: Body::Mixed(pieces),
            fast: true,
        })
    }

    /// The same template, evaluating plain paths like any expression.
    pub(crate) fn without_fast_path(mut self) -> YaqlTemplate {
        self.fast = false;
        self
    }

    fn fast_of<'p>(&self, p: &'p Program) -> Option<&'p FastPath> {
        if self.fast {
            p.fast.as_ref()
        } else {
            None
        }
    }

    /// The plain path of a one-expression string.
    pub(crate) fn fast(&self) -> Option<&FastPath> {
        match &self.body {
            Body::Single(p) => self.fast_of(p),
            Body::Mixed(_) => None,
        }
    }

    /// Evaluates to JSON: a one-expression string keeps its type.
    pub(crate) fn eval(&self, ctx: &WorkflowContext) -> Result<Value, Failure> {
        match &self.body {
            Body::Single(p) => {
                if let Some(v) = self.fast_of(p).and_then(|f| f.resolve(ctx)) {
                    return Ok(v);
                }
                run(p, ctx, |st, v| {
                    // A value of the context is handed back as it is,
                    // whatever its size; what the expression made is
                    // measured while it is converted.
                    let mut budget = match v {
                        Val::Json(_) | Val::Str(super::value::Str::Ref(_)) => usize::MAX,
                        _ => st.max_bytes,
                    };
                    to_json(st, v, &mut budget)
                })
            }
            Body::Mixed(_) => self.render(ctx).map(Value::String),
        }
    }

    /// Evaluates a condition: Python's truth of a one-expression string's
    /// value; a string of text is false when empty or `false`/`False`.
    pub(crate) fn eval_bool(&self, ctx: &WorkflowContext) -> Result<bool, Failure> {
        match &self.body {
            Body::Single(p) => {
                if let Some(t) = self
                    .fast_of(p)
                    .and_then(|f| f.with_value(ctx, crate::expr::truthy))
                {
                    return Ok(t);
                }
                run(p, ctx, |st, v| match v {
                    // What yaql hands back is a list by then.
                    Val::Iter(_) | Val::Ordered(_) | Val::View(_) => {
                        Ok(st.iter(v)?.next().transpose()?.is_some())
                    }
                    other => Ok(other.truthy()),
                })
            }
            Body::Mixed(_) => {
                let s = self.render(ctx)?;
                Ok(!s.is_empty() && s != "false" && s != "False")
            }
        }
    }

    /// Renders to text, each value printed as Orquesta prints it.
    pub(crate) fn render(&self, ctx: &WorkflowContext) -> Result<String, Failure> {
        let max = crate::ExpressionLimits::current().max_value_bytes;
        let mut out = Out::new(max);
        match &self.body {
            Body::Single(p) => print(p, self.fast_of(p), ctx, &mut out)?,
            Body::Mixed(pieces) => {
                for piece in pieces {
                    match piece {
                        Piece::Text(t) => out.push(t).map_err(|e| Failure::new(*e, None))?,
                        Piece::Expr(p) => print(p, self.fast_of(p), ctx, &mut out)?,
                    }
                }
            }
        }
        Ok(out.text)
    }
}

/// Prints one expression's value into `out`.
fn print(
    p: &Program,
    fast: Option<&FastPath>,
    ctx: &WorkflowContext,
    out: &mut Out,
) -> Result<(), Failure> {
    if let Some(f) = fast {
        let pins = Pins::new();
        let st = State::new(ctx, &pins);
        let st = &st;
        if let Some(done) = f.with_value(ctx, |v| {
            py_str(st, &super::value::from_json(v), Style::Output, out)
        }) {
            return done.map_err(|e| Failure::new(*e, Some(p)));
        }
    }
    run(p, ctx, |st, v| py_str(st, v, Style::Output, out))
}

/// Evaluates `p` and hands the value to `finish` while it can still
/// borrow from the context.
fn run<T>(
    p: &Program,
    ctx: &WorkflowContext,
    finish: impl for<'a> FnOnce(&'a State<'a>, &Val<'a>) -> Result<T, Box<YErr>>,
) -> Result<T, Failure> {
    let pins = Pins::new();
    let st = State::new(ctx, &pins);
    let result = {
        let st = &st;
        eval(st, &Scope::root(), &p.node).and_then(|v| finish(st, &v))
    };
    result.map_err(|e| Failure::new(*e, Some(p)))
}

/// An evaluation error, with the expression it happened in.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: YErrKind,
    /// What went wrong, naming the part of the expression.
    pub(crate) message: String,
    /// The expression's text.
    pub(crate) expr: Option<String>,
}

impl Failure {
    fn new(e: YErr, p: Option<&Program>) -> Failure {
        let expr = p.map(|p| p.text().to_owned());
        let message = match (p, e.span) {
            (Some(p), Some(span)) => {
                let part = p.text().get(span.range()).unwrap_or("");
                if part.is_empty() || part == p.text() {
                    e.message
                } else {
                    format!("`{}`: {}", excerpt(part), e.message)
                }
            }
            _ => e.message,
        };
        Failure {
            kind: e.kind,
            message,
            expr,
        }
    }
}

/// The names a string's YAQL expressions read with `ctx(name)`,
/// `ctx('name')` or `ctx().name`, each with its byte offset.
pub(crate) fn scan_names(source: &str) -> Vec<(Found<'_>, usize)> {
    use super::lexer::{tokenize, Op, Tok};
    let mut found = Vec::new();
    for r in regions(source, "<%", "%>") {
        let (text, at) = inner(source, r);
        let Ok(toks) = tokenize(text) else { continue };
        for (i, (tok, span)) in toks.iter().enumerate() {
            if !matches!(tok, Tok::Func(f) if &**f == "ctx") {
                continue;
            }
            let next = |k: usize| toks.get(i + k).map(|(t, s)| (t, *s));
            let name_span = match (next(1), next(2), next(3)) {
                (Some((Tok::Str(_) | Tok::Name(_), s)), Some((Tok::RParen, _)), _) => Some(s),
                (Some((Tok::RParen, _)), Some((Tok::Op(Op::Dot), _)), Some((Tok::Name(_), s))) => {
                    Some(s)
                }
                _ => None,
            };
            let Some(s) = name_span else { continue };
            // The name as written: a bare name, or a string without escapes.
            let raw = &text[s.range()];
            let name = raw
                .strip_prefix(['\'', '"'])
                .and_then(|r| r.strip_suffix(['\'', '"']))
                .unwrap_or(raw);
            if name.is_empty() || name.contains('\\') || name.starts_with("__") {
                continue;
            }
            let offset = at + span.start as usize;
            let name_at = at + s.start as usize + (raw.len() - name.len()) / 2;
            if let Some(n) = source.get(name_at..name_at + name.len()) {
                found.push((Found::Ctx(n), offset));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_expressions_as_orquesta() {
        assert_eq!(regions("<% 1 %>", "<%", "%>"), [(0, 7)]);
        assert_eq!(regions("a <% 1 %> b <%2%>", "<%", "%>"), [(2, 9), (12, 17)]);
        assert!(regions("<% 1\n %>", "<%", "%>").is_empty());
        assert_eq!(regions("<% <% 1 %>", "<%", "%>"), [(0, 10)]);
        assert!(has_yaql("x <%%>"));
        assert!(!has_yaql("<% 1"));
        assert!(mixes_dialects("<% 1 %> {{ 2 }}"));
        assert!(!mixes_dialects("<% '{{' %>"));
        assert_eq!(inner("<%  $.x %>", (0, 10)), ("$.x", 4));
    }

    fn compile_str(s: &str) -> YaqlTemplate {
        YaqlTemplate::compile(s, |text, _| {
            Program::compile(text, 128).map(Arc::new).map_err(|e| e.0)
        })
        .unwrap()
    }

    #[test]
    fn single_expressions_keep_their_type() {
        let ctx = WorkflowContext::new(json!({"n": 2, "xs": [1, 2, 3]}), []);
        assert_eq!(compile_str("<% 1 + 2 %>").eval(&ctx).unwrap(), json!(3));
        assert_eq!(
            compile_str("<% ctx().xs %>").eval(&ctx).unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(
            compile_str("n=<% ctx(n) %> <% [1, 'a', null, true, 1.0] %>")
                .eval(&ctx)
                .unwrap(),
            json!("n=2 [1, 'a', None, True, 1.0]")
        );
        assert!(compile_str("<% ctx().xs.where($ > 5) %>")
            .eval_bool(&ctx)
            .is_ok_and(|b| !b));
    }

    #[test]
    fn names_are_found_with_their_offsets() {
        let s = "x <% ctx(a) + ctx('b') + ctx().c + ctx().d() + ctx($) %>";
        let names: Vec<_> = scan_names(s)
            .into_iter()
            .map(|(f, at)| (f, &s[at..at + 3]))
            .collect();
        assert_eq!(
            names,
            [
                (Found::Ctx("a"), "ctx"),
                (Found::Ctx("b"), "ctx"),
                (Found::Ctx("c"), "ctx")
            ]
        );
    }
}
