//! The compiled expression: the nodes the compiler (`compile.rs`) makes
//! from the syntax tree and the evaluator (`eval.rs`) runs. Each call is
//! bound to its [`Builtin`] here.

use std::sync::Arc;

use super::ast::{BinOp, VarName};
use super::builtin::Builtin;
use super::lexer::Span;

/// A compiled expression.
#[derive(Debug)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Var(VarName),
    List(Box<[Node]>),
    Dict(Box<[(Node, Node)]>, Span),
    Neg(Box<Node>, Span),
    Pos(Box<Node>, Span),
    Not(Box<Node>),
    Bin(BinOp, Box<(Node, Node)>, Span),
    And(Box<(Node, Node)>),
    Or(Box<(Node, Node)>),
    /// `recv.name` (`recv?.name` when `elvis`).
    Member {
        recv: Box<Node>,
        name: Arc<str>,
        elvis: bool,
        span: Span,
    },
    /// `recv[key]` or `recv[key, default]`.
    Index {
        recv: Box<Node>,
        key: Box<Node>,
        default: Option<Box<Node>>,
        span: Span,
    },
    Call(Box<CallNode>),
    /// A call of a function registered through
    /// [`crate::functions::register`].
    Registered(Box<RegisteredCall>),
    /// `let(…) -> body` and `with(…) -> body`.
    Let(Box<LetNode>),
    /// `ctx().name` or `ctx(name)`: an input or variable of the workflow.
    CtxVar {
        name: Arc<str>,
        span: Span,
    },
}

/// A call of a builtin, bound.
#[derive(Debug)]
pub(crate) struct CallNode {
    pub(crate) f: &'static Builtin,
    pub(crate) recv: Option<Node>,
    /// `recv?.f()`: null when the receiver is.
    pub(crate) elvis: bool,
    /// Written as a method (`x.f()`), not as `f(x)`.
    pub(crate) method: bool,
    pub(crate) args: Box<[ArgNode]>,
    pub(crate) span: Span,
}

/// A call of a registered function: its arguments in order, each with
/// its keyword when given as `name => value`.
#[derive(Debug)]
pub(crate) struct RegisteredCall {
    pub(crate) name: Arc<str>,
    pub(crate) f: &'static crate::functions::Function,
    pub(crate) args: Box<[(Option<Arc<str>>, Node)]>,
    pub(crate) span: Span,
}

/// One argument slot of a call.
#[derive(Debug)]
pub(crate) enum ArgNode {
    Missing,
    Eager(Node),
    Lazy(Node),
    Pair(Node, Node),
    LazyPair(Node, Node),
}

#[derive(Debug)]
pub(crate) struct LetNode {
    pub(crate) pos: Box<[Node]>,
    pub(crate) named: Box<[(Arc<str>, Node)]>,
    pub(crate) body: Node,
}
