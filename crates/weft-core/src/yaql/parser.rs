//! The YAQL parser: tokens to a syntax tree, with yaql's precedence.
//!
//! yaql builds its grammar from an operator table; from the tightest to
//! the loosest binding (all left-associative but `->`):
//!
//! | level | operators |
//! |---|---|
//! | 1 | `.` `?.` |
//! | 2 | `[…]` (indexing) |
//! | 3 | unary `+` `-` |
//! | 4 | `=~` `!~` |
//! | 5 | `*` `/` `mod` |
//! | 6 | `+` `-` |
//! | 7 | `>` `<` `>=` `<=` `!=` `=` `in` |
//! | 8 | `not` (prefix) |
//! | 9 | `and` |
//! | 10 | `or` |
//! | 11 | `->` (right-associative) |
//!
//! `=>` is not an operator: it only separates a name from a value inside
//! the arguments of a call, an index or a `{…}` literal.
//!
//! The parser is a Pratt parser over these binding powers. It counts how
//! deep it recurses and how deep the tree grows, and stops with an error
//! past [`ExpressionLimits::max_depth`](crate::ExpressionLimits), before
//! anything could overflow the stack: hostile text such as ten thousand
//! `(` or `- - - …` costs a linear scan and an error.

use super::ast::{Arg, Expr, ExprKind};
use super::lexer::{tokenize, Op, Span, Tok};

/// A syntax error: what is wrong, and where (a byte range of the text).
#[derive(Debug, PartialEq)]
pub(crate) struct ParseError {
    pub(crate) message: String,
    pub(crate) span: Span,
}

/// Parses one expression (the text between `<%` and `%>`).
pub(crate) fn parse(text: &str, max_depth: u32) -> Result<Expr, ParseError> {
    let toks = tokenize(text).map_err(|e| ParseError {
        message: e.message,
        span: Span::new(e.at, e.at + 1),
    })?;
    if toks.is_empty() {
        return Err(ParseError {
            message: "empty expression: write one between `<%` and `%>`".to_owned(),
            span: Span::new(0, text.len()),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        max_depth,
        end: text.len(),
    };
    let (e, _) = p.expr(0)?;
    if let Some((tok, span)) = p.toks.get(p.pos) {
        return Err(ParseError {
            message: format!("unexpected {} after a complete expression", tok.describe()),
            span: *span,
        });
    }
    Ok(e)
}

/// Binding powers: higher binds tighter (yaql's level 1 is 11 here).
const BP_DOT: u8 = 11;
const BP_INDEX: u8 = 10;
const BP_UNARY: u8 = 9;
const BP_NOT: u8 = 4;

/// What one bracket (`(…)`, `[…]`, `{…}`, `x[…]`) or call costs, in
/// levels of [`ExpressionLimits::max_depth`](crate::ExpressionLimits).
const BRACKET_LEVELS: u32 = 2;

fn binary_bp(op: Op) -> Option<u8> {
    Some(match op {
        Op::Dot | Op::Elvis => BP_DOT,
        Op::Match | Op::NotMatch => 8,
        Op::Star | Op::Slash | Op::Mod => 7,
        Op::Plus | Op::Minus => 6,
        Op::Gt | Op::Lt | Op::Ge | Op::Le | Op::Ne | Op::Eq | Op::In => 5,
        Op::And => 3,
        Op::Or => 2,
        Op::Arrow => 1,
        Op::Not => return None,
    })
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    /// How deep the parser has recursed.
    depth: u32,
    max_depth: u32,
    /// The length of the text, for errors at its end.
    end: usize,
}

/// An expression and the depth of its tree.
type Parsed = (Expr, u32);

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn span_here(&self) -> Span {
        self.toks
            .get(self.pos)
            .map(|(_, s)| *s)
            .unwrap_or(Span::new(self.end, self.end))
    }

    fn next(&mut self) -> Option<(Tok, Span)> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn error<T>(&self, message: impl Into<String>, span: Span) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            span,
        })
    }

    fn too_deep<T>(&self, span: Span) -> Result<T, ParseError> {
        self.error(
            format!(
                "the expression nests more than {} levels deep (operators, calls, brackets): split it into smaller expressions, e.g. publish parts as variables",
                self.max_depth
            ),
            span,
        )
    }

    /// A node over children of depth `child`.
    fn node(&self, kind: ExprKind, span: Span, child: u32) -> Result<Parsed, ParseError> {
        // A bracket or a call costs more stack to parse, compile and
        // evaluate than an operator (a few more frames each): it counts
        // as two levels.
        let own = match kind {
            ExprKind::Paren(_)
            | ExprKind::List(_)
            | ExprKind::Map(_)
            | ExprKind::Index(..)
            | ExprKind::Call(..) => BRACKET_LEVELS,
            _ => 1,
        };
        let depth = child.saturating_add(own);
        if depth > self.max_depth {
            return self.too_deep(span);
        }
        Ok((Expr::new(kind, span), depth))
    }

    /// An expression binding at least as tightly as `min_bp`. Each level
    /// of nesting recurses here once: the work of each construct is in a
    /// function of its own, to keep this frame small.
    fn expr(&mut self, min_bp: u8) -> Result<Parsed, ParseError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return self.too_deep(self.span_here());
        }
        let (mut lhs, mut depth) = self.prefix()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(op)) => *op,
                Some(Tok::LBracket) if BP_INDEX >= min_bp => {
                    (lhs, depth) = self.index(lhs, depth)?;
                    continue;
                }
                _ => break,
            };
            match binary_bp(op) {
                Some(bp) if bp >= min_bp => (lhs, depth) = self.binary(op, bp, lhs, depth)?,
                _ => break,
            }
        }
        self.depth -= 1;
        Ok((lhs, depth))
    }

    /// `lhs[args]`, the `[` next.
    fn index(&mut self, lhs: Expr, depth: u32) -> Result<Parsed, ParseError> {
        self.depth += BRACKET_LEVELS - 1;
        let r = self.index_inner(lhs, depth);
        self.depth -= BRACKET_LEVELS - 1;
        r
    }

    fn index_inner(&mut self, lhs: Expr, depth: u32) -> Result<Parsed, ParseError> {
        let open = self.span_here();
        self.pos += 1;
        let (args, args_depth, close) = self.args(Tok::RBracket, open)?;
        let span = lhs.span.to(close);
        self.node(
            ExprKind::Index(Box::new(lhs), args),
            span,
            depth.max(args_depth),
        )
    }

    /// `lhs op rhs`, the operator next.
    fn binary(&mut self, op: Op, bp: u8, lhs: Expr, depth: u32) -> Result<Parsed, ParseError> {
        let op_span = self.span_here();
        self.pos += 1;
        let next_min = if op == Op::Arrow { bp } else { bp + 1 };
        if self.peek().is_none() {
            return Err(lacks(op, "a right-hand side", op_span));
        }
        let (rhs, rhs_depth) = self.expr(next_min)?;
        let span = lhs.span.to(rhs.span);
        self.node(
            ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            span,
            depth.max(rhs_depth),
        )
    }

    fn prefix(&mut self) -> Result<Parsed, ParseError> {
        let Some((tok, span)) = self.next() else {
            return self.error(
                "the expression ends where a value was expected",
                Span::new(self.end, self.end),
            );
        };
        let leaf = |kind| Ok((Expr::new(kind, span), 1));
        match tok {
            Tok::Int(i) => leaf(ExprKind::Int(i)),
            Tok::Float(f) => leaf(ExprKind::Float(f)),
            Tok::Str(s) => leaf(ExprKind::Str(s)),
            Tok::True => leaf(ExprKind::Bool(true)),
            Tok::False => leaf(ExprKind::Bool(false)),
            Tok::Null => leaf(ExprKind::Null),
            Tok::Name(n) => leaf(ExprKind::Keyword(n)),
            Tok::Dollar(n) => leaf(ExprKind::Var(n)),
            Tok::Op(op @ (Op::Plus | Op::Minus | Op::Not)) => self.unary(op, span),
            Tok::LParen => self.paren(span),
            Tok::LBracket | Tok::LBrace | Tok::Func(_) => self.bracketed(tok, span),
            other => Err(unexpected(&other, span)),
        }
    }

    fn unary(&mut self, op: Op, span: Span) -> Result<Parsed, ParseError> {
        let bp = if op == Op::Not { BP_NOT } else { BP_UNARY };
        if self.peek().is_none() {
            return Err(lacks(op, "an operand", span));
        }
        let (operand, d) = self.expr(bp)?;
        let full = span.to(operand.span);
        self.node(ExprKind::Unary(op, Box::new(operand)), full, d)
    }

    fn paren(&mut self, span: Span) -> Result<Parsed, ParseError> {
        self.depth += BRACKET_LEVELS - 1;
        let r = self.paren_inner(span);
        self.depth -= BRACKET_LEVELS - 1;
        r
    }

    fn paren_inner(&mut self, span: Span) -> Result<Parsed, ParseError> {
        if self.peek() == Some(&Tok::RParen) {
            return self.error("`()` holds no expression", span.to(self.span_here()));
        }
        let (inner, d) = self.expr(0)?;
        let close = self.expect(Tok::RParen, span)?;
        self.node(ExprKind::Paren(Box::new(inner)), span.to(close), d)
    }

    /// `[…]`, `{…}` or `name(…)`: `open` was just read.
    fn bracketed(&mut self, open: Tok, span: Span) -> Result<Parsed, ParseError> {
        // Counted as its node is (see `node`), before recursing.
        self.depth += BRACKET_LEVELS - 1;
        let r = self.bracketed_inner(open, span);
        self.depth -= BRACKET_LEVELS - 1;
        r
    }

    fn bracketed_inner(&mut self, open: Tok, span: Span) -> Result<Parsed, ParseError> {
        let close = match &open {
            Tok::LBracket => Tok::RBracket,
            Tok::LBrace => Tok::RBrace,
            _ => Tok::RParen,
        };
        let (args, d, end) = self.args(close, span)?;
        let kind = match open {
            Tok::LBracket => ExprKind::List(args),
            Tok::LBrace => ExprKind::Map(args),
            Tok::Func(name) => ExprKind::Call(name, args),
            _ => return Err(unexpected(&open, span)),
        };
        self.node(kind, span.to(end), d)
    }

    fn expect(&mut self, want: Tok, open: Span) -> Result<Span, ParseError> {
        match self.next() {
            Some((t, s)) if t == want => Ok(s),
            Some((t, s)) => self.error(
                format!("expected {} but found {}", want.describe(), t.describe()),
                s,
            ),
            None => self.error(
                format!(
                    "{} is never closed: add {}",
                    describe_open(&want),
                    want.describe()
                ),
                open,
            ),
        }
    }

    /// Arguments up to `close`: values, `name => value` pairs (after the
    /// values), and empty slots between commas (yaql's skipped arguments).
    fn args(&mut self, close: Tok, open: Span) -> Result<(Vec<Arg>, u32, Span), ParseError> {
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek() == Some(&close) {
            let (_, s) = self.next().unwrap_or((close, open));
            return Ok((args, 0, s));
        }
        let mut named = false;
        loop {
            if self.peek() == Some(&Tok::Comma) {
                // `f(,x)` or `f(x,,y)`: a skipped argument.
                if named {
                    return self.error(
                        "an argument is missing between two commas",
                        self.span_here(),
                    );
                }
                args.push(Arg::Empty(self.span_here()));
                self.pos += 1;
                continue;
            }
            if self.peek().is_none() {
                return self.expect(close, open).map(|_| (args, depth, open));
            }
            let (value, d) = self.expr(0)?;
            depth = depth.max(d);
            if self.peek() == Some(&Tok::Mapping) {
                self.pos += 1;
                if self.peek().is_none() {
                    return self.expect(close, open).map(|_| (args, depth, open));
                }
                let (to, d2) = self.expr(0)?;
                depth = depth.max(d2);
                named = true;
                args.push(Arg::Mapping(value, to));
            } else if named {
                return self.error(
                    "a positional argument cannot follow a `name => value` one: put it first",
                    value.span,
                );
            } else {
                args.push(Arg::Value(value));
            }
            match self.next() {
                Some((Tok::Comma, s)) => {
                    if self.peek() == Some(&close) {
                        return Err(trailing_comma(&close, s));
                    }
                }
                Some((t, s)) if t == close => return Ok((args, depth, s)),
                Some((t, s)) => return Err(not_a_separator(&close, &t, s)),
                None => return self.expect(close, open).map(|_| (args, depth, open)),
            }
        }
    }
}

#[cold]
fn trailing_comma(close: &Tok, span: Span) -> ParseError {
    ParseError {
        message: format!("a trailing comma before {}: remove it", close.describe()),
        span,
    }
}

#[cold]
fn not_a_separator(close: &Tok, found: &Tok, span: Span) -> ParseError {
    ParseError {
        message: format!(
            "expected `,` or {} but found {}",
            close.describe(),
            found.describe()
        ),
        span,
    }
}

#[cold]
fn lacks(op: Op, what: &str, span: Span) -> ParseError {
    ParseError {
        message: format!("`{}` needs {what}", op.text()),
        span,
    }
}

#[cold]
fn unexpected(tok: &Tok, span: Span) -> ParseError {
    ParseError {
        message: format!("unexpected {} where a value was expected", tok.describe()),
        span,
    }
}

fn describe_open(close: &Tok) -> &'static str {
    match close {
        Tok::RParen => "`(`",
        Tok::RBracket => "`[`",
        _ => "`{`",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree as a compact string: `(op a b)`, `f(args)`, `a[args]`.
    fn show(e: &Expr) -> String {
        let args = |a: &[Arg]| {
            a.iter()
                .map(|a| match a {
                    Arg::Value(e) => show(e),
                    Arg::Mapping(k, v) => format!("{} => {}", show(k), show(v)),
                    Arg::Empty(_) => "_".to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &e.kind {
            ExprKind::Null => "null".into(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Float(f) => format!("{f:?}"),
            ExprKind::Str(s) => format!("'{s}'"),
            ExprKind::Keyword(k) => k.to_string(),
            ExprKind::Var(v) => format!("${v}"),
            ExprKind::Paren(e) => show(e),
            ExprKind::List(a) => format!("[{}]", args(a)),
            ExprKind::Map(a) => format!("{{{}}}", args(a)),
            ExprKind::Unary(op, e) => format!("({} {})", op.text(), show(e)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", op.text(), show(a), show(b)),
            ExprKind::Index(e, a) => format!("{}[{}]", show(e), args(a)),
            ExprKind::Call(n, a) => format!("{n}({})", args(a)),
        }
    }

    fn p(s: &str) -> String {
        show(&parse(s, 128).unwrap_or_else(|e| panic!("{s}: {e:?}")))
    }

    #[test]
    fn precedence_is_yaqls() {
        assert_eq!(p("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(p("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(p("-$.a.b"), "(- (. (. $ a) b))");
        assert_eq!(p("-a[0] * 2"), "(* (- a[0]) 2)");
        assert_eq!(p("$.a.b[1].c"), "(. (. (. $ a) b)[1] c)");
        assert_eq!(p("not a = b and c"), "(and (not (= a b)) c)");
        assert_eq!(p("a = not b = c"), "(= a (not (= b c)))");
        assert_eq!(p("a or b and c"), "(or a (and b c))");
        assert_eq!(p("1 < 2 = true"), "(= (< 1 2) true)");
        assert_eq!(
            p("x in [1, 2] and y mod 2 = 0"),
            "(and (in x [1, 2]) (= (mod y 2) 0))"
        );
        assert_eq!(
            p("let(a => 1) -> let(b => 2) -> $a + $b"),
            "(-> let(a => 1) (-> let(b => 2) (+ $a $b)))"
        );
        assert_eq!(p("$.x?.f(1, k => 2)"), "(?. (. $ x) f(1, k => 2))");
        assert_eq!(p("{a => 1, 'b' => [2]}"), "{a => 1, 'b' => [2]}");
        assert_eq!(p("f(,1)"), "f(_, 1)");
        assert_eq!(p("a + b =~ c"), "(+ a (=~ b c))");
        assert_eq!(
            p("switch($ > 1 => a, true => b)"),
            "switch((> $ 1) => a, true => b)"
        );
        assert_eq!(p("dict(1 + 2 => 3)"), "dict((+ 1 2) => 3)");
        assert_eq!(p("(1 + 2) * 3"), "(* (+ 1 2) 3)");
    }

    #[test]
    fn syntax_errors_are_located() {
        for (text, at) in [
            ("1 +", 2),
            ("f(1", 0),
            ("[1,]", 2),
            ("f(a => 1, 2)", 10),
            ("1 2", 2),
            ("1 + 2 => 3", 6),
            ("()", 0),
            ("", 0),
            ("f (x)", 2),
            ("{a => 1", 0),
            ("a.", 1),
        ] {
            let e = parse(text, 128).unwrap_err();
            assert_eq!(e.span.start as usize, at, "{text}: {}", e.message);
        }
    }

    #[test]
    fn depth_is_bounded_before_recursion() {
        for text in [
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}1", "- ".repeat(100_000)),
            format!("{}1", "not ".repeat(100_000)),
            format!("1{}", " + 1".repeat(100_000)),
            format!("$.a{}", ".b".repeat(100_000)),
            format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            format!("{}1{}", "f(".repeat(100_000), ")".repeat(100_000)),
            format!("x{}", "[0]".repeat(100_000)),
            format!("a{}", " -> a".repeat(100_000)),
        ] {
            let e = parse(&text, 128).unwrap_err();
            assert!(e.message.contains("levels deep"), "{}", e.message);
        }
        let ok = format!("1{}", " + 1".repeat(126));
        let e = parse(&ok, 128).unwrap();
        assert!(e.depth() <= 128);
    }
}
