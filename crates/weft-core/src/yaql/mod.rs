//! YAQL (`<% %>`), the second expression language of Orquesta workflows.
//!
//! A string with `<% %>` in it is compiled once, when the workflow is
//! compiled, into the same [`Template`](crate::Template) type as a Jinja
//! string; the scheduler evaluates both the same way. The pieces, in the
//! order they run:
//!
//! * `lexer.rs` splits an expression into tokens as the `yaql` library
//!   does, `parser.rs` builds its syntax tree (`ast.rs`) with yaql's
//!   operator precedence;
//! * `compile.rs` resolves the tree into nodes (`Node`): each function is
//!   looked up in the standard library (`stdlib/`) once, keyword
//!   arguments are matched to parameters, lambdas are marked, and what
//!   cannot work (an unknown function, a method called as a function, a
//!   yaql function weft does not have) is a compile error;
//! * `eval.rs` evaluates nodes over the run's context, borrowing the
//!   context's JSON, under the fuel and size limits of
//!   [`ExpressionLimits`](crate::ExpressionLimits); `value.rs` holds the
//!   values it works with, with Python's equality, hashing, truth and
//!   printing;
//! * `template.rs` reads a workflow string as Orquesta does (where its
//!   expressions are, whether it keeps the value's type) and turns a
//!   result into JSON or text. Plain paths (`ctx().a.b`, `result().x`,
//!   `succeeded()`) are recognised there and resolved directly, with the
//!   Jinja side's `FastPath`.
//!
//! The reference for what an expression gives is the `yaql` Python
//! library as Orquesta sets it up; where weft differs on purpose, the
//! language reference (`docs/workflow-language.md`) says so.

mod ast;
mod builtin;
mod compile;
mod eval;
mod lexer;
mod node;
mod parser;
mod state;
mod stdlib;
mod template;
mod value;

pub(crate) use template::{has_yaql, mixes_dialects, scan_names, Failure, Program, YaqlTemplate};

/// The result of evaluating.
pub(crate) type R<T> = Result<T, Box<YErr>>;

/// An error while evaluating: what went wrong, and in which part of the
/// expression.
#[derive(Debug)]
pub(crate) struct YErr {
    pub(crate) kind: YErrKind,
    pub(crate) message: String,
    pub(crate) span: Option<lexer::Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum YErrKind {
    Eval,
    /// The evaluation ran out of fuel.
    Fuel,
    /// A value grew past `max_value_bytes`.
    TooLarge,
    /// A value nested past `max_depth`.
    Limit,
}

impl YErr {
    pub(crate) fn eval(message: impl Into<String>) -> Box<YErr> {
        Box::new(YErr {
            kind: YErrKind::Eval,
            message: message.into(),
            span: None,
        })
    }

    pub(crate) fn limit(message: impl Into<String>) -> Box<YErr> {
        Box::new(YErr {
            kind: YErrKind::Limit,
            message: message.into(),
            span: None,
        })
    }

    pub(crate) fn fuel() -> Box<YErr> {
        Box::new(YErr {
            kind: YErrKind::Fuel,
            message: String::new(),
            span: None,
        })
    }

    pub(crate) fn too_large(max: usize) -> Box<YErr> {
        Box::new(YErr {
            kind: YErrKind::TooLarge,
            message: format!("more than {max} bytes (ExpressionLimits::max_value_bytes)"),
            span: None,
        })
    }

    /// Names the part of the expression the error happened in, unless a
    /// narrower part was named already.
    pub(crate) fn at(mut self: Box<Self>, span: lexer::Span) -> Box<YErr> {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
}
