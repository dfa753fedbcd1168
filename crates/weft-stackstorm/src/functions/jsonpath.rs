//! JSONPath in the dialect of the Python `jsonpath-rw` library (1.4),
//! which StackStorm's `jsonpath_query` uses.
//!
//! No Rust crate speaks this dialect: the maintained ones follow RFC 9535,
//! which needs a leading `$`, has filters instead of `where`, and reads
//! `..` and `[*]` otherwise. So this is our own, for the whole grammar of
//! `jsonpath-rw`: `$`, fields (`a`, `'a b'`, `a,b`, `*`), `.`, `..`,
//! `[n]`, `[*]`, `[a:b]`, `['a']`, `where`, `|` (union), `( )` and the
//! named operators `` `this` `` and `` `parent` ``, with its precedence
//! (`..` binds loosest, then `.`, `|`, `&`, `where`) and its quirks: a
//! slice of a value that is not a list treats it as a one-item list, an
//! index on a string gives a character, and an index or a slice of what
//! has no length is an error, as it is in Python.

use std::rc::Rc;

use serde_json::Value;
use weft_core::functions::Call;

/// Deepest nesting of brackets and operators a query may have: queries
/// are short, and the parser recurses.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Dollar,
    DoubleDot,
    Dot,
    Star,
    Open,
    Close,
    LParen,
    RParen,
    Comma,
    Colon,
    Pipe,
    Amp,
    Where,
    Id(String),
    Number(i64),
    Named(String),
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' || c == '\t' || c == '\n' {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == '@' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '@' | '-'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            toks.push(if word == "where" {
                Tok::Where
            } else {
                Tok::Id(word)
            });
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let n = digits
                .parse::<i64>()
                .map_err(|_| format!("the number {digits} is too large"))?;
            toks.push(Tok::Number(n));
            continue;
        }
        if matches!(c, '\'' | '"' | '`') {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unexpected end of the text in a quoted name".into()),
                    Some('\\') => {
                        let Some(next) = chars.get(i + 1) else {
                            return Err("unexpected end of the text in a quoted name".into());
                        };
                        s.push(*next);
                        i += 2;
                    }
                    Some(q) if *q == c => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        s.push(*other);
                        i += 1;
                    }
                }
            }
            toks.push(if c == '`' { Tok::Named(s) } else { Tok::Id(s) });
            continue;
        }
        if c == '.' && chars.get(i + 1) == Some(&'.') {
            toks.push(Tok::DoubleDot);
            i += 2;
            continue;
        }
        toks.push(match c {
            '*' => Tok::Star,
            '.' => Tok::Dot,
            '[' => Tok::Open,
            ']' => Tok::Close,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '$' => Tok::Dollar,
            ',' => Tok::Comma,
            ':' => Tok::Colon,
            '|' => Tok::Pipe,
            '&' => Tok::Amp,
            other => return Err(format!("unexpected character `{other}` at {}", i + 1)),
        });
        i += 1;
    }
    Ok(toks)
}

/// A parsed query.
#[derive(Debug)]
pub(super) struct Path(Expr);

#[derive(Debug)]
enum Expr {
    Root,
    This,
    Parent,
    /// Field names; `*` among them means every key.
    Fields(Vec<String>),
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Child(Box<Expr>, Box<Expr>),
    Descendants(Box<Expr>, Box<Expr>),
    Where(Box<Expr>, Box<Expr>),
    Union(Box<Expr>, Box<Expr>),
    Intersect,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            Some(t) => Err(format!("expected {what}, found {}", shown(&t))),
            None => Err(format!("expected {what} at the end")),
        }
    }

    /// Binary operators by precedence, loosest first: `..`, `.`, `|`,
    /// `&`, `where`; all left-associative.
    fn binary(&mut self, min: u8) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the query nests more than {MAX_DEPTH} deep"));
        }
        let mut left = self.postfix()?;
        loop {
            let prec = match self.peek() {
                Some(Tok::DoubleDot) => 1,
                Some(Tok::Dot) => 2,
                Some(Tok::Pipe) => 3,
                Some(Tok::Amp) => 4,
                Some(Tok::Where) => 5,
                _ => break,
            };
            if prec < min {
                break;
            }
            let op = self.next();
            let right = Box::new(self.binary(prec + 1)?);
            let l = Box::new(left);
            left = match op {
                Some(Tok::DoubleDot) => Expr::Descendants(l, right),
                Some(Tok::Dot) => Expr::Child(l, right),
                Some(Tok::Pipe) => Expr::Union(l, right),
                Some(Tok::Where) => Expr::Where(l, right),
                _ => Expr::Intersect,
            };
        }
        self.depth -= 1;
        Ok(left)
    }

    /// A primary, then any `[...]` after it.
    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        while self.peek() == Some(&Tok::Open) {
            self.next();
            let inside = self.bracket()?;
            e = Expr::Child(Box::new(e), Box::new(inside));
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Dollar) => Ok(Expr::Root),
            Some(Tok::Named(n)) => match n.as_str() {
                "this" => Ok(Expr::This),
                "parent" => Ok(Expr::Parent),
                other => Err(format!("unknown named operator `{other}`")),
            },
            Some(Tok::Star) => Ok(Expr::Fields(vec!["*".to_owned()])),
            Some(Tok::Id(first)) => {
                let mut fields = vec![first];
                self.more_fields(&mut fields)?;
                Ok(Expr::Fields(fields))
            }
            Some(Tok::Open) => self.bracket(),
            Some(Tok::LParen) => {
                let e = self.binary(1)?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(e)
            }
            Some(t) => Err(format!("unexpected {}", shown(&t))),
            None => Err("unexpected end of the query".into()),
        }
    }

    /// `, name` after a first name.
    fn more_fields(&mut self, fields: &mut Vec<String>) -> Result<(), String> {
        while self.peek() == Some(&Tok::Comma) {
            self.next();
            match self.next() {
                Some(Tok::Id(f)) => fields.push(f),
                Some(t) => {
                    return Err(format!(
                        "expected a field name after `,`, found {}",
                        shown(&t)
                    ))
                }
                None => return Err("expected a field name after `,`".into()),
            }
        }
        Ok(())
    }

    /// What is inside `[...]` (the `[` read): an index, a slice or fields.
    fn bracket(&mut self) -> Result<Expr, String> {
        let e = match self.next() {
            Some(Tok::Star) => Expr::Slice(None, None),
            Some(Tok::Number(n)) => {
                if self.peek() == Some(&Tok::Colon) {
                    self.next();
                    Expr::Slice(Some(n), self.maybe_number())
                } else {
                    Expr::Index(n)
                }
            }
            Some(Tok::Colon) => Expr::Slice(None, self.maybe_number()),
            Some(Tok::Id(first)) => {
                let mut fields = vec![first];
                self.more_fields(&mut fields)?;
                Expr::Fields(fields)
            }
            Some(t) => return Err(format!("unexpected {} after `[`", shown(&t))),
            None => return Err("unexpected end of the query after `[`".into()),
        };
        self.expect(Tok::Close, "`]`")?;
        Ok(e)
    }

    fn maybe_number(&mut self) -> Option<i64> {
        match self.peek() {
            Some(Tok::Number(n)) => {
                let n = *n;
                self.next();
                Some(n)
            }
            _ => None,
        }
    }
}

fn shown(t: &Tok) -> String {
    match t {
        Tok::Id(s) => format!("the name `{s}`"),
        Tok::Number(n) => format!("the number {n}"),
        Tok::Named(n) => format!("`{n}`"),
        Tok::Where => "`where`".into(),
        Tok::DoubleDot => "`..`".into(),
        other => format!(
            "`{}`",
            match other {
                Tok::Dollar => "$",
                Tok::Dot => ".",
                Tok::Star => "*",
                Tok::Open => "[",
                Tok::Close => "]",
                Tok::LParen => "(",
                Tok::RParen => ")",
                Tok::Comma => ",",
                Tok::Colon => ":",
                Tok::Pipe => "|",
                _ => "&",
            }
        ),
    }
}

impl Path {
    /// Parses `text`.
    pub(super) fn parse(text: &str) -> Result<Path, String> {
        let mut p = Parser {
            toks: lex(text)?,
            pos: 0,
            depth: 0,
        };
        if p.toks.is_empty() {
            return Err("the query is empty".into());
        }
        let e = p.binary(1)?;
        if let Some(t) = p.next() {
            return Err(format!("unexpected {}", shown(&t)));
        }
        Ok(Path(e))
    }

    /// The values the query finds in `value`, in jsonpath-rw's order, each
    /// paid for in fuel.
    pub(super) fn find(&self, value: &Value, call: &Call<'_>) -> Result<Vec<Value>, String> {
        let root = Rc::new(Datum {
            node: Node::Ref(value),
            parent: None,
        });
        let mut budget = Budget {
            call,
            left: call.max_value_bytes(),
        };
        let found = find(&self.0, &root, &mut budget)?;
        let mut out = Vec::with_capacity(found.len());
        for d in found {
            let v = d.value();
            budget.spend_value(&v)?;
            out.push(v.into_owned());
        }
        Ok(out)
    }
}

/// One value reached by the query, and the value it was reached from.
struct Datum<'a> {
    node: Node<'a>,
    parent: Option<Rc<Datum<'a>>>,
}

enum Node<'a> {
    Ref(&'a Value),
    /// Made by the query: a character of a string.
    Owned(Value),
    /// A slice's one-item list around a value that is not a list.
    Wrapped(Rc<Datum<'a>>),
}

impl<'a> Datum<'a> {
    fn value(&self) -> std::borrow::Cow<'_, Value> {
        match &self.node {
            Node::Ref(v) => std::borrow::Cow::Borrowed(v),
            Node::Owned(v) => std::borrow::Cow::Borrowed(v),
            Node::Wrapped(inner) => {
                std::borrow::Cow::Owned(Value::Array(vec![inner.value().into_owned()]))
            }
        }
    }

    /// The same value as a child of `parent`.
    fn child_of(&self, parent: &Rc<Datum<'a>>) -> Datum<'a> {
        Datum {
            node: match &self.node {
                Node::Ref(v) => Node::Ref(v),
                Node::Owned(v) => Node::Owned(v.clone()),
                Node::Wrapped(inner) => Node::Wrapped(inner.clone()),
            },
            parent: Some(parent.clone()),
        }
    }
}

/// What one query may spend: fuel for each value it visits, and bytes for
/// what it returns.
struct Budget<'c> {
    call: &'c Call<'c>,
    left: usize,
}

impl Budget<'_> {
    fn visit(&mut self) -> Result<(), String> {
        self.call
            .consume_fuel(1)
            .map_err(|e| e.message().to_owned())
    }

    fn spend_value(&mut self, v: &Value) -> Result<(), String> {
        let size = super::json_size_within(v, self.left).ok_or_else(|| {
            format!(
                "the values found are more than {} bytes (ExpressionLimits::max_value_bytes): query for less",
                self.call.max_value_bytes()
            )
        })?;
        self.left -= size;
        self.call
            .charge_bytes(size)
            .map_err(|e| e.message().to_owned())
    }
}

type Found<'a> = Vec<Rc<Datum<'a>>>;

fn find<'a>(e: &Expr, d: &Rc<Datum<'a>>, b: &mut Budget<'_>) -> Result<Found<'a>, String> {
    b.visit()?;
    Ok(match e {
        Expr::Root => {
            let mut top = d.clone();
            while let Some(p) = top.parent.clone() {
                top = p;
            }
            vec![Rc::new(Datum {
                node: match &top.node {
                    Node::Ref(v) => Node::Ref(v),
                    Node::Owned(v) => Node::Owned(v.clone()),
                    Node::Wrapped(inner) => Node::Wrapped(inner.clone()),
                },
                parent: None,
            })]
        }
        Expr::This => vec![d.clone()],
        Expr::Parent => match &d.parent {
            Some(p) => vec![p.clone()],
            None => return Err("`parent` of the value queried, which has none".into()),
        },
        Expr::Fields(names) => fields(names, d),
        Expr::Index(i) => index(*i, d)?,
        Expr::Slice(start, end) => slice(*start, *end, d)?,
        Expr::Child(l, r) => {
            let mut out = Vec::new();
            for sub in find(l, d, b)? {
                out.extend(find(r, &sub, b)?);
            }
            out
        }
        Expr::Where(l, r) => {
            let mut out = Vec::new();
            for sub in find(l, d, b)? {
                if !find(r, &sub, b)?.is_empty() {
                    out.push(sub);
                }
            }
            out
        }
        Expr::Union(l, r) => {
            let mut out = find(l, d, b)?;
            out.extend(find(r, d, b)?);
            out
        }
        Expr::Descendants(l, r) => {
            let mut out = Vec::new();
            for sub in find(l, d, b)? {
                descend(r, &sub, b, &mut out, 0)?;
            }
            out
        }
        Expr::Intersect => {
            return Err("`&` (intersection) is not implemented by jsonpath-rw".into())
        }
    })
}

/// The matches of `r` at `d`, then at each value inside `d`, depth first.
fn descend<'a>(
    r: &Expr,
    d: &Rc<Datum<'a>>,
    b: &mut Budget<'_>,
    out: &mut Found<'a>,
    depth: usize,
) -> Result<(), String> {
    // JSON values nest at most a few hundred levels (serde's parser stops
    // at 128); this only keeps a hand-built value from exhausting the
    // stack.
    if depth > 512 {
        return Err("the value nests too deeply to search with `..`".into());
    }
    out.extend(find(r, d, b)?);
    let v = d.value();
    match &*v {
        Value::Array(items) => {
            for i in 0..items.len() {
                let child = Rc::new(child_at(d, Key::Index(i)));
                descend(r, &child, b, out, depth + 1)?;
            }
        }
        Value::Object(map) => {
            for k in map.keys() {
                let child = Rc::new(child_at(d, Key::Field(k)));
                descend(r, &child, b, out, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

enum Key<'k> {
    Index(usize),
    Field(&'k str),
}

/// The value at `key` inside `d` (which has it), as a datum.
fn child_at<'a>(d: &Rc<Datum<'a>>, key: Key<'_>) -> Datum<'a> {
    let node = match (&d.node, key) {
        (Node::Ref(v), Key::Index(i)) => v.get(i).map_or(Node::Owned(Value::Null), Node::Ref),
        (Node::Ref(v), Key::Field(k)) => v.get(k).map_or(Node::Owned(Value::Null), Node::Ref),
        (Node::Owned(v), Key::Index(i)) => Node::Owned(v.get(i).cloned().unwrap_or(Value::Null)),
        (Node::Owned(v), Key::Field(k)) => Node::Owned(v.get(k).cloned().unwrap_or(Value::Null)),
        (Node::Wrapped(inner), _) => return inner.child_of(d),
    };
    Datum {
        node,
        parent: Some(d.clone()),
    }
}

fn fields<'a>(names: &[String], d: &Rc<Datum<'a>>) -> Found<'a> {
    let v = d.value();
    let Value::Object(map) = &*v else {
        // Python: a list or a scalar has no fields (the TypeError is caught).
        return Vec::new();
    };
    let keys: Vec<String> = if names.iter().any(|n| n == "*") {
        map.keys().cloned().collect()
    } else {
        names
            .iter()
            .filter(|n| map.contains_key(*n))
            .cloned()
            .collect()
    };
    keys.iter()
        .map(|k| Rc::new(child_at(d, Key::Field(k))))
        .collect()
}

fn python_len(v: &Value) -> Result<usize, String> {
    match v {
        Value::Array(a) => Ok(a.len()),
        Value::Object(m) => Ok(m.len()),
        Value::String(s) => Ok(s.chars().count()),
        other => Err(format!(
            "object of type '{}' has no len()",
            super::python_type(other)
        )),
    }
}

fn index<'a>(i: i64, d: &Rc<Datum<'a>>) -> Result<Found<'a>, String> {
    let v = d.value();
    let len = python_len(&v)?;
    if i >= 0 && (i as u64) >= len as u64 {
        return Ok(Vec::new());
    }
    let at = if i < 0 {
        let back = i.unsigned_abs() as usize;
        if back > len {
            return Err(format!("index {i} is out of range"));
        }
        len - back
    } else {
        i as usize
    };
    Ok(match &*v {
        Value::Array(_) => vec![Rc::new(child_at(d, Key::Index(at)))],
        Value::String(s) => {
            let c = s.chars().nth(at).map(String::from).unwrap_or_default();
            vec![Rc::new(Datum {
                node: Node::Owned(Value::String(c)),
                parent: Some(d.clone()),
            })]
        }
        // A dict indexed by a number: Python's KeyError.
        _ => return Err(format!("KeyError: {i}")),
    })
}

fn slice<'a>(start: Option<i64>, end: Option<i64>, d: &Rc<Datum<'a>>) -> Result<Found<'a>, String> {
    let v = d.value();
    let len = match &*v {
        Value::Array(a) => a.len(),
        Value::Object(_) | Value::String(_) | Value::Bool(_) => {
            // The one-item list around it, with the same parent.
            let wrapped = Rc::new(Datum {
                node: Node::Wrapped(Rc::new(Datum {
                    node: match &d.node {
                        Node::Ref(v) => Node::Ref(v),
                        Node::Owned(v) => Node::Owned(v.clone()),
                        Node::Wrapped(inner) => Node::Wrapped(inner.clone()),
                    },
                    parent: d.parent.clone(),
                })),
                parent: d.parent.clone(),
            });
            return slice(start, end, &wrapped);
        }
        Value::Number(n) if !n.is_f64() => {
            let wrapped = Rc::new(Datum {
                node: Node::Wrapped(Rc::new(Datum {
                    node: Node::Owned(v.clone().into_owned()),
                    parent: d.parent.clone(),
                })),
                parent: d.parent.clone(),
            });
            return slice(start, end, &wrapped);
        }
        other => return Err(python_len(other).err().unwrap_or_default()),
    };
    let n = len as i64;
    let clamp = |x: Option<i64>, default: i64| -> i64 {
        match x {
            None => default,
            Some(x) if x < 0 => (n + x).max(0),
            Some(x) => x.min(n),
        }
    };
    let (from, to) = (clamp(start, 0), clamp(end, n));
    Ok((from..to.max(from))
        .map(|i| Rc::new(child_at(d, Key::Index(i as usize))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(value: &Value, query: &str) -> Result<Vec<Value>, String> {
        Path::parse(query)?.find(value, &Call::new("jsonpath_query"))
    }

    fn people() -> Value {
        json!({
            "people": [
                {"first": "James", "last": "d"},
                {"first": "Jacob", "last": "e"},
                {"first": "Jayden", "last": "f"},
                {"missing": "different"}
            ],
            "foo": {"bar": "baz"}
        })
    }

    /// StackStorm's own expectations (test_jinja_render_jsonpath_query_filters
    /// and the orquesta data-functions workflow).
    #[test]
    fn stackstorm_expectations() {
        let v = people();
        assert_eq!(
            q(&v, "people[*].first").unwrap(),
            json!(["James", "Jacob", "Jayden"])
                .as_array()
                .unwrap()
                .clone()
        );
        assert_eq!(
            q(&v, "people[*].last").unwrap(),
            json!(["d", "e", "f"]).as_array().unwrap().clone()
        );
        assert!(q(&v, "query_returns_no_results").unwrap().is_empty());
        assert_eq!(
            q(&json!({"foo": {"bar": "foobar"}}), "$.foo.bar").unwrap(),
            vec![json!("foobar")]
        );
    }

    #[test]
    fn the_grammar_of_jsonpath_rw() {
        let v = json!({"a": {"b": [1, 2, 3], "c": {"b": 4}}, "x y": 5, "s": "hey", "n": 7});
        assert_eq!(q(&v, "$..b").unwrap(), vec![json!([1, 2, 3]), json!(4)]);
        assert_eq!(q(&v, "a.b[1:]").unwrap(), vec![json!(2), json!(3)]);
        assert_eq!(q(&v, "a.b[-1]").unwrap(), vec![json!(3)]);
        assert_eq!(q(&v, "a.b[5]").unwrap(), Vec::<Value>::new());
        assert_eq!(q(&v, "'x y'").unwrap(), vec![json!(5)]);
        assert_eq!(q(&v, "[\"x y\"]").unwrap(), vec![json!(5)]);
        assert!(q(&v, "x y").is_err());
        assert_eq!(q(&v, "s[0]").unwrap(), vec![json!("h")]);
        assert_eq!(q(&v, "s[*]").unwrap(), vec![json!("hey")]);
        assert_eq!(q(&v, "a[*].c.b").unwrap(), vec![json!(4)]);
        assert_eq!(q(&v, "a.c.b.`parent`").unwrap(), vec![json!({"b": 4})]);
        assert_eq!(q(&v, "a.*").unwrap().len(), 2);
        assert!(q(&v, "x y,s").is_err());
        assert_eq!(q(&v, "s,n").unwrap(), vec![json!("hey"), json!(7)]);
        // `|` binds tighter than `.`: `a.(b | n)`.
        assert_eq!(q(&v, "a.b | n").unwrap(), vec![json!([1, 2, 3])]);
        assert_eq!(
            q(&v, "(a.b) | n").unwrap(),
            vec![json!([1, 2, 3]), json!(7)]
        );
        assert_eq!(q(&v, "a where c").unwrap().len(), 1);
        assert!(q(&v, "n[0]").is_err());
        assert!(q(&v, "a[0]").is_err());
        assert!(q(&v, "a & b").is_err());
        assert!(q(&v, "a[").is_err());
        assert!(q(&v, "").is_err());
    }
}
