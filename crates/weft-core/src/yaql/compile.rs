//! From the syntax tree to the nodes the evaluator runs.
//!
//! yaql looks every function up when it is called, and an unknown name,
//! a method called as a function or a bad keyword argument fails then,
//! whatever the data. Here they are found once, when the workflow is
//! compiled: each call is bound to its [`Builtin`], its keyword arguments
//! to parameter slots, and its lambdas (the arguments evaluated per item,
//! such as `select`'s selector) are marked. `ctx().name` and `ctx(name)`
//! become a direct lookup, and `let(…) -> body` a scope.

use std::sync::Arc;

use super::ast::{Arg, BinOp, Expr, ExprKind, VarName};
use super::builtin::{Builtin, Form};
use super::lexer::{Op, Span};
use super::node::{ArgNode, CallNode, LetNode, Node, RegisteredCall};
use super::stdlib;

/// A compile error: what is wrong, and where in the expression.
#[derive(Debug, PartialEq)]
pub(crate) struct CompileError {
    pub(crate) message: String,
    pub(crate) span: Span,
}

fn err<T>(message: impl Into<String>, span: Span) -> Result<T, CompileError> {
    Err(CompileError {
        message: message.into(),
        span,
    })
}

/// Compiles a parsed expression.
pub(crate) fn compile(e: &Expr) -> Result<Node, CompileError> {
    // A dispatcher that keeps its own frame small: compiling recurses
    // once per level of nesting, so each arm's work is a function of its
    // own, and no arm holds a result of its own.
    let span = e.span;
    match &e.kind {
        ExprKind::Null => Ok(Node::Null),
        ExprKind::Bool(b) => Ok(Node::Bool(*b)),
        ExprKind::Int(i) => Ok(Node::Int(*i)),
        ExprKind::Float(f) => Ok(Node::Float(*f)),
        ExprKind::Str(s) | ExprKind::Keyword(s) => Ok(Node::Str(s.clone())),
        ExprKind::Var(v) => Ok(Node::Var(VarName::parse(v))),
        ExprKind::Paren(inner) => compile(inner),
        ExprKind::List(args) => list(args),
        ExprKind::Map(args) => map(args, span),
        ExprKind::Unary(op, operand) => unary(*op, operand, span),
        ExprKind::Binary(op, lhs, rhs) => binary(*op, lhs, rhs, span),
        ExprKind::Index(recv, args) => index(recv, args, span),
        ExprKind::Call(name, args) => function(name, args, span),
    }
}

fn list(args: &[Arg]) -> Result<Node, CompileError> {
    let mut items = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Arg::Value(v) => items.push(compile(v)?),
            Arg::Mapping(..) => {
                return err(
                    "a list `[…]` holds values, not `key => value` pairs: use `{…}` for a dict",
                    a.span(),
                )
            }
            Arg::Empty(s) => return err("an item is missing between two commas", *s),
        }
    }
    Ok(Node::List(items.into()))
}

fn map(args: &[Arg], span: Span) -> Result<Node, CompileError> {
    let mut pairs = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Arg::Mapping(k, v) => pairs.push((compile(k)?, compile(v)?)),
            _ => {
                return err(
                    "a dict `{…}` holds `key => value` pairs: write `{a => 1}`",
                    a.span(),
                )
            }
        }
    }
    Ok(Node::Dict(pairs.into(), span))
}

fn unary(op: Op, operand: &Expr, span: Span) -> Result<Node, CompileError> {
    let inner = Box::new(compile(operand)?);
    Ok(match op {
        Op::Minus => Node::Neg(inner, span),
        Op::Plus => Node::Pos(inner, span),
        _ => Node::Not(inner),
    })
}

fn index(recv: &Expr, args: &[Arg], span: Span) -> Result<Node, CompileError> {
    let values: Vec<&Expr> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Value(v) => Some(v),
            _ => None,
        })
        .collect();
    if values.len() != args.len() || values.is_empty() || values.len() > 2 {
        return err(
            "an index takes a key, or a key and a default: `x[0]`, `d[k]`, `d[k, default]`",
            span,
        );
    }
    let default = match values.get(1) {
        Some(d) => Some(Box::new(compile(d)?)),
        None => None,
    };
    Ok(Node::Index {
        recv: Box::new(compile(recv)?),
        key: Box::new(compile(values[0])?),
        default,
        span,
    })
}

fn function(name: &Arc<str>, args: &[Arg], span: Span) -> Result<Node, CompileError> {
    if let Some(n) = ctx_name(name, args) {
        return Ok(Node::CtxVar { name: n, span });
    }
    if matches!(&**name, "let" | "with") {
        return Err(let_alone(name, span));
    }
    call(name, None, false, args, span, span)
}

#[cold]
fn let_alone(name: &str, span: Span) -> CompileError {
    CompileError {
        message: format!("`{name}(…)` is only used before `->`: `{name}(x => 1) -> $x + 1`"),
        span,
    }
}

/// `ctx(name)` with a constant name: a direct lookup. (An empty name is
/// false to Orquesta, and gives every variable: a call.)
fn ctx_name(name: &str, args: &[Arg]) -> Option<Arc<str>> {
    if name != "ctx" {
        return None;
    }
    match args {
        [Arg::Value(Expr {
            kind: ExprKind::Str(s) | ExprKind::Keyword(s),
            ..
        })] if !s.is_empty() && !s.starts_with("__") => Some(s.clone()),
        _ => None,
    }
}

fn unwrap_paren(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren(inner) => unwrap_paren(inner),
        _ => e,
    }
}

fn binary(op: Op, lhs: &Expr, rhs: &Expr, span: Span) -> Result<Node, CompileError> {
    enum Kind {
        Bin(BinOp),
        And,
        Or,
    }
    let kind = match op {
        Op::Dot | Op::Elvis => return dot(op, lhs, rhs, span),
        Op::Arrow => return arrow(lhs, rhs),
        Op::Match | Op::NotMatch => return Err(regex_operator(op, span)),
        Op::Not => return err("`not` is not a binary operator", span),
        Op::And => Kind::And,
        Op::Or => Kind::Or,
        Op::Plus => Kind::Bin(BinOp::Add),
        Op::Minus => Kind::Bin(BinOp::Sub),
        Op::Star => Kind::Bin(BinOp::Mul),
        Op::Slash => Kind::Bin(BinOp::Div),
        Op::Mod => Kind::Bin(BinOp::Mod),
        Op::Eq => Kind::Bin(BinOp::Eq),
        Op::Ne => Kind::Bin(BinOp::Ne),
        Op::Lt => Kind::Bin(BinOp::Lt),
        Op::Le => Kind::Bin(BinOp::Le),
        Op::Gt => Kind::Bin(BinOp::Gt),
        Op::Ge => Kind::Bin(BinOp::Ge),
        Op::In => Kind::Bin(BinOp::In),
    };
    let pair = Box::new((compile(lhs)?, compile(rhs)?));
    Ok(match kind {
        Kind::Bin(b) => Node::Bin(b, pair, span),
        Kind::And => Node::And(pair),
        Kind::Or => Node::Or(pair),
    })
}

#[cold]
fn regex_operator(op: Op, span: Span) -> CompileError {
    CompileError {
        message: format!(
            "`{}` (a regular expression match) is a YAQL operator weft does not support yet",
            op.text()
        ),
        span,
    }
}

/// `lhs.name`, `lhs.f(…)`, and the same with `?.`.
fn dot(op: Op, lhs: &Expr, rhs: &Expr, span: Span) -> Result<Node, CompileError> {
    let elvis = op == Op::Elvis;
    match &rhs.kind {
        ExprKind::Keyword(name) => {
            // `ctx().name`: a lookup, as `ctx(name)`.
            if let (false, ExprKind::Call(f, a)) = (elvis, &unwrap_paren(lhs).kind) {
                if &**f == "ctx" && a.is_empty() && !name.starts_with("__") {
                    return Ok(Node::CtxVar {
                        name: name.clone(),
                        span,
                    });
                }
            }
            Ok(Node::Member {
                recv: Box::new(compile(lhs)?),
                name: name.clone(),
                elvis,
                span,
            })
        }
        ExprKind::Call(name, args) => {
            let recv = compile(lhs)?;
            call(name, Some(recv), elvis, args, span, rhs.span)
        }
        _ => err(
            "after `.` comes a name or a method call (`x.key`, `x.len()`)",
            rhs.span,
        ),
    }
}

/// `let(…) -> body` or `with(…) -> body`.
fn arrow(lhs: &Expr, rhs: &Expr) -> Result<Node, CompileError> {
    let left = unwrap_paren(lhs);
    let ExprKind::Call(name, args) = &left.kind else {
        return err(
            "the left of `->` must be `let(…)` or `with(…)`: `let(x => 1) -> $x + 1`",
            lhs.span,
        );
    };
    if !matches!(&**name, "let" | "with") {
        return err(
            "the left of `->` must be `let(…)` or `with(…)`: `let(x => 1) -> $x + 1`",
            lhs.span,
        );
    }
    let mut pos = Vec::new();
    let mut named = Vec::new();
    for a in args {
        match a {
            Arg::Value(v) => pos.push(compile(v)?),
            Arg::Mapping(k, v) if &**name == "let" => match &k.kind {
                ExprKind::Keyword(n) => named.push((n.clone(), compile(v)?)),
                _ => {
                    return err(
                        "a name before `=>` in `let` must be a bare name: `let(x => 1)`",
                        k.span,
                    )
                }
            },
            Arg::Mapping(..) => {
                return err(
                    "`with(…)` takes values only: use `let(name => value)`",
                    a.span(),
                )
            }
            Arg::Empty(s) => return err("an argument is missing between two commas", *s),
        }
    }
    Ok(Node::Let(Box::new(LetNode {
        pos: pos.into(),
        named: named.into(),
        body: compile(rhs)?,
    })))
}

/// Resolves and binds a call of `name`: a method when `recv` is given.
/// `span` is the whole call (`x.f(…)`), `at` the function's own part
/// (`f(…)`), which compile errors point at.
fn call(
    name: &Arc<str>,
    recv: Option<Node>,
    elvis: bool,
    args: &[Arg],
    span: Span,
    at: Span,
) -> Result<Node, CompileError> {
    // yaql ignores trailing underscores of a called name.
    let name = name.trim_end_matches('_');
    let method = recv.is_some();
    // yaql's own functions come first; a registered function is found
    // where yaql has none of that form.
    let library = stdlib::lookup(name);
    if !library.iter().any(|b| b.function() && !method) {
        if let Some(f) = crate::functions::freeze().get(name) {
            if !method {
                return registered(name, f, args, span);
            }
            if library.is_empty() {
                return Err(registered_method(name, at));
            }
        }
    }
    let f = resolve(name, method, args, at)?;
    let (recv, args) = match recv {
        Some(r) => (Some(r), args),
        // `len(x)` is `x.len()`.
        None if f.form == Form::Both => match args.split_first() {
            Some((Arg::Value(first), rest)) => (Some(compile(first)?), rest),
            _ => return Err(needs_value(name, at)),
        },
        None => (None, args),
    };
    let args = bind(f, args, at)?.into();
    Ok(Node::Call(Box::new(CallNode {
        f,
        recv,
        elvis,
        method,
        args,
        span,
    })))
}

/// A call of the registered function `name`. Orquesta registers its
/// functions (and StackStorm's) with yaql as functions only: `f(x)`, never
/// `x.f()`.
fn registered(
    name: &str,
    f: &'static crate::functions::Function,
    args: &[Arg],
    span: Span,
) -> Result<Node, CompileError> {
    let mut bound = Vec::with_capacity(args.len());
    for a in args {
        match a {
            Arg::Value(v) => bound.push((None, compile(v)?)),
            Arg::Mapping(k, v) => match &k.kind {
                ExprKind::Keyword(key) | ExprKind::Str(key) => {
                    bound.push((Some(key.clone()), compile(v)?))
                }
                _ => {
                    return err(
                        format!("a keyword argument of `{name}` is a bare name before `=>`: `{name}(x, key => value)`"),
                        k.span,
                    )
                }
            },
            Arg::Empty(s) => return err("an argument is missing between two commas", *s),
        }
    }
    Ok(Node::Registered(Box::new(RegisteredCall {
        name: Arc::from(name),
        f,
        args: bound.into(),
        span,
    })))
}

#[cold]
fn registered_method(name: &str, span: Span) -> CompileError {
    CompileError {
        message: format!("`{name}` is a function, not a method (Orquesta registers it with YAQL as a function): write `{name}(x, …)` instead of `x.{name}(…)`"),
        span,
    }
}

/// The builtin a call of `name` means: of the right form, and among
/// overloads that differ in what they take, the one whose arguments fit.
fn resolve(
    name: &str,
    method: bool,
    args: &[Arg],
    span: Span,
) -> Result<&'static Builtin, CompileError> {
    let all = stdlib::lookup(name);
    let fits: Vec<&'static Builtin> = all
        .iter()
        .copied()
        .filter(|b| if method { b.method() } else { b.function() })
        .collect();
    if fits.is_empty() {
        return Err(unknown(name, method, !all.is_empty(), span));
    }
    let positional = args
        .iter()
        .filter(|a| !matches!(a, Arg::Mapping(..)))
        .count();
    let takes = |b: &Builtin, exact: bool| {
        let receiver = !method && b.form == Form::Both;
        let n = positional.saturating_sub(usize::from(receiver));
        b.max_args().is_none_or(|m| n <= m) && (!exact || n >= b.required)
    };
    Ok(fits
        .iter()
        .copied()
        .find(|b| takes(b, true))
        .or_else(|| fits.iter().copied().find(|b| takes(b, false)))
        .unwrap_or(fits[0]))
}

#[cold]
fn needs_value(name: &str, span: Span) -> CompileError {
    CompileError {
        message: format!("`{name}()` needs a value to work on: `{name}(x)` or `x.{name}()`"),
        span,
    }
}

#[cold]
fn unknown(name: &str, method: bool, other_form: bool, span: Span) -> CompileError {
    let message = if other_form && method {
        format!("`{name}` is a YAQL function, not a method: write `{name}(x, …)` instead of `x.{name}(…)`")
    } else if other_form {
        format!("`{name}` is a YAQL method, not a function: write `x.{name}(…)` instead of `{name}(x, …)`")
    } else if stdlib::UNSUPPORTED.contains(&name) {
        format!("`{name}` is a YAQL function weft does not support yet (see the YAQL section of docs/workflow-language.md)")
    } else {
        let names = stdlib::names();
        let hint = match suggest(name, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "see the YAQL functions in docs/workflow-language.md".to_owned(),
        };
        format!(
            "unknown {} `{name}`: {hint}",
            if method { "method" } else { "function" }
        )
    };
    CompileError { message, span }
}

/// The closest name, if it is close (by edit distance).
fn suggest<'n>(name: &str, names: &[&'n str]) -> Option<&'n str> {
    if name.len() > 40 {
        return None;
    }
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &'n str)> = None;
    for &n in names {
        let d = edit_distance(&lower, &n.to_lowercase());
        if d <= (name.len() / 3).max(1) && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, n));
        }
    }
    best.map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Matches the arguments to `f`'s parameter slots.
fn bind(f: &Builtin, args: &[Arg], span: Span) -> Result<Vec<ArgNode>, CompileError> {
    let mut slots: Vec<ArgNode> = f.params.iter().map(|_| ArgNode::Missing).collect();
    // The next parameter a positional argument fills (keyword-only ones,
    // whose names start with `*`, are skipped).
    let mut next = 0;
    for a in args {
        match a {
            Arg::Empty(s) => return Err(skipped(*s)),
            Arg::Value(v) => bind_positional(f, v, &mut next, &mut slots)?,
            Arg::Mapping(k, v) => bind_mapping(f, k, v, &mut slots)?,
        }
    }
    if let Some(i) = (0..f.required).find(|&i| matches!(slots[i], ArgNode::Missing)) {
        return Err(missing(f, i, span));
    }
    Ok(slots)
}

fn bind_positional(
    f: &Builtin,
    v: &Expr,
    next: &mut usize,
    slots: &mut Vec<ArgNode>,
) -> Result<(), CompileError> {
    while *next < f.params.len() && f.params[*next].name.starts_with('*') {
        *next += 1;
    }
    let node = if let Some(p) = f.params.get(*next) {
        let i = *next;
        *next += 1;
        slots[i] = arg_node(p.lazy, v)?;
        return Ok(());
    } else if let Some(r) = f.rest {
        arg_node(r.lazy, v)?
    } else if f.pairs.is_some() {
        ArgNode::Eager(compile(v)?)
    } else {
        return Err(too_many(f, v.span));
    };
    slots.push(node);
    Ok(())
}

fn bind_mapping(
    f: &Builtin,
    k: &Expr,
    v: &Expr,
    slots: &mut Vec<ArgNode>,
) -> Result<(), CompileError> {
    if let Some(lazy) = f.pairs {
        let pair = (compile(k)?, compile(v)?);
        slots.push(if lazy {
            ArgNode::LazyPair(pair.0, pair.1)
        } else {
            ArgNode::Pair(pair.0, pair.1)
        });
        return Ok(());
    }
    let ExprKind::Keyword(kw) = &k.kind else {
        return err(
            "a keyword argument is a bare name before `=>`: `f(name => value)`",
            k.span,
        );
    };
    let i = param_named(f, kw).ok_or_else(|| no_param(f, kw, k.span))?;
    if !matches!(slots[i], ArgNode::Missing) {
        return Err(twice(kw, k.span));
    }
    slots[i] = arg_node(f.params[i].lazy, v)?;
    Ok(())
}

fn arg_node(lazy: bool, e: &Expr) -> Result<ArgNode, CompileError> {
    let n = compile(e)?;
    Ok(if lazy {
        ArgNode::Lazy(n)
    } else {
        ArgNode::Eager(n)
    })
}

/// The parameter `name => …` gives (`|` separates an overload's names).
fn param_named(f: &Builtin, name: &str) -> Option<usize> {
    f.params
        .iter()
        .position(|p| p.name.trim_start_matches('*').split('|').any(|n| n == name))
}

#[cold]
fn skipped(span: Span) -> CompileError {
    CompileError {
        message: "an argument is missing between two commas (weft does not take yaql's skipped arguments)".to_owned(),
        span,
    }
}

#[cold]
fn too_many(f: &Builtin, span: Span) -> CompileError {
    let n = f.params.iter().filter(|p| !p.name.starts_with('*')).count();
    CompileError {
        message: format!(
            "`{}` takes at most {n} argument{}",
            f.name,
            if n == 1 { "" } else { "s" }
        ),
        span,
    }
}

#[cold]
fn no_param(f: &Builtin, kw: &str, span: Span) -> CompileError {
    let names: Vec<&str> = f
        .params
        .iter()
        .map(|p| p.name.trim_start_matches('*'))
        .collect();
    let message = if names.is_empty() {
        format!("`{}` takes no keyword arguments", f.name)
    } else {
        format!(
            "`{}` has no parameter `{kw}`: its parameters are {}",
            f.name,
            names.join(", ")
        )
    };
    CompileError { message, span }
}

#[cold]
fn twice(kw: &str, span: Span) -> CompileError {
    CompileError {
        message: format!("`{kw}` is given twice"),
        span,
    }
}

#[cold]
fn missing(f: &Builtin, i: usize, span: Span) -> CompileError {
    let name = f.params[i]
        .name
        .trim_start_matches('*')
        .split('|')
        .next()
        .unwrap_or("");
    CompileError {
        message: format!("`{}` needs its `{name}` argument", f.name),
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn compile_text(s: &str) -> Result<Node, CompileError> {
        compile(&parse(s, 128).unwrap())
    }

    #[test]
    fn calls_are_checked_when_compiling() {
        for (text, part) in [
            ("foo()", "unknown function `foo`"),
            ("ctx().x.switch(1)", "is a YAQL function, not a method"),
            ("switchCase(1)", "is a YAQL method, not a function"),
            ("task_status(a, 1)", "takes at most 1 argument"),
            ("item(nme => a)", "has no parameter `nme`"),
            ("task_status()", "needs its `task_id` argument"),
            ("$.x.selct($)", "did you mean `select`"),
            ("toUpper('a')", "is a YAQL method, not a function"),
            ("'a'.abs()", "is a YAQL function, not a method"),
            ("now()", "weft does not support yet"),
            ("'a' =~ 'b'", "weft does not support yet"),
            ("$.x.select()", "needs its `selector` argument"),
            ("$.s.split(sep => ',')", "has no parameter `sep`"),
            ("let(a => 1)", "only used before `->`"),
            ("$.x -> $", "must be `let(…)`"),
            ("$.a.(b)", "after `.` comes a name"),
            ("[a => 1]", "holds values"),
            ("{1, 2}", "holds `key => value` pairs"),
            ("$.x.first(1, 2)", "takes at most 1 argument"),
        ] {
            let e = compile_text(text).unwrap_err();
            assert!(e.message.contains(part), "{text}: {}", e.message);
        }
    }

    #[test]
    fn ctx_names_become_lookups() {
        for text in ["ctx().a", "ctx(a)", "ctx('a')", "(ctx()).a"] {
            assert!(
                matches!(compile_text(text).unwrap(), Node::CtxVar { ref name, .. } if &**name == "a"),
                "{text}"
            );
        }
        assert!(matches!(compile_text("ctx()").unwrap(), Node::Call(_)));
        assert!(matches!(compile_text("ctx('')").unwrap(), Node::Call(_)));
    }
}
