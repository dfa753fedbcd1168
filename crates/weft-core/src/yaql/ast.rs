//! The syntax tree of one YAQL expression, as the parser builds it.
//!
//! It says what was written, not what it means: a bare name is a
//! [`Expr::Keyword`] whether it ends up a string (`ctx(name)`) or a
//! property (`$.name`); calls are names with arguments. The compiler
//! (`compile.rs`) resolves it into the nodes the evaluator runs.

use std::sync::Arc;

use super::lexer::{Op, Span};

/// An expression and where it is in the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub(crate) kind: ExprKind,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    /// A bare name: `abc`.
    Keyword(Arc<str>),
    /// `$`, `$1`, `$name`: the text after the `$`.
    Var(Arc<str>),
    /// `(expr)`.
    Paren(Box<Expr>),
    /// `[a, b]`.
    List(Vec<Arg>),
    /// `{k => v, …}`.
    Map(Vec<Arg>),
    Unary(Op, Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    /// `recv[args]`.
    Index(Box<Expr>, Vec<Arg>),
    /// `name(args)`.
    Call(Arc<str>, Vec<Arg>),
}

/// One argument of a call, an index or a literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// A value.
    Value(Expr),
    /// `source => value`.
    Mapping(Expr, Expr),
    /// Nothing, between two commas: `f(1,,2)`.
    Empty(Span),
}

impl Arg {
    pub(crate) fn span(&self) -> Span {
        match self {
            Arg::Value(e) => e.span,
            Arg::Mapping(k, v) => k.span.to(v.span),
            Arg::Empty(s) => *s,
        }
    }
}

impl Expr {
    pub(crate) fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// How deep the tree is: a leaf is 1.
    #[cfg(test)]
    pub(crate) fn depth(&self) -> usize {
        let args = |a: &[Arg]| {
            a.iter()
                .map(|a| match a {
                    Arg::Value(e) => e.depth(),
                    Arg::Mapping(k, v) => k.depth().max(v.depth()),
                    Arg::Empty(_) => 0,
                })
                .max()
                .unwrap_or(0)
        };
        1 + match &self.kind {
            ExprKind::Paren(e) | ExprKind::Unary(_, e) => e.depth(),
            ExprKind::Binary(_, a, b) => a.depth().max(b.depth()),
            ExprKind::Index(e, a) => e.depth().max(args(a)),
            ExprKind::List(a) | ExprKind::Map(a) | ExprKind::Call(_, a) => args(a),
            _ => 0,
        }
    }
}

/// A variable: `$` and `$1` are `Pos(1)`, `$name` is `Named`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum VarName {
    Pos(u32),
    Named(Arc<str>),
}

impl VarName {
    pub(crate) fn parse(text: &str) -> VarName {
        if text.is_empty() {
            return VarName::Pos(1);
        }
        match text.parse::<u32>() {
            Ok(n) if n.to_string() == text => VarName::Pos(n),
            _ => VarName::Named(Arc::from(text)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

impl BinOp {
    pub(crate) fn text(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "mod",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
        }
    }
}
