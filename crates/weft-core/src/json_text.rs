//! JSON text under the rules every weft input follows.
//!
//! serde_json accepts some text silently where weft wants a clear error:
//! it keeps the last of two equal keys, and it turns a whole number too
//! large for 64 bits into an approximate float. It also stops at 128 levels
//! of nesting with a message of its own. [`check`] looks for these first,
//! in one pass with an explicit stack, so that a JSON workflow file, an
//! inputs file and a `-i` value mean what a YAML file with the same text
//! means, or fail naming the place.
//!
//! The checker is not a second parser: at the first syntax error it stops
//! without complaint and serde_json reports that error in its own words.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::diag::path::{at, at_long_path, join_key, line_column, shorten_field};
use crate::diag::shape::out_of_range_message;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{too_deep_message, MAX_DEPTH};

/// Where a problem is: the byte offset and the path of the value.
pub(crate) struct Found {
    pub(crate) offset: usize,
    pub(crate) path: String,
    pub(crate) problem: Problem,
}

pub(crate) enum Problem {
    /// More than [`MAX_DEPTH`] open lists and maps.
    TooDeep,
    /// A number outside what a JSON value holds (the text of the number).
    OutOfRange(String),
    /// A key given twice in one map; the byte offset of the first.
    Duplicate { key: String, first: usize },
}

enum Frame<'a> {
    List {
        index: usize,
    },
    Map {
        key: Cow<'a, str>,
        seen: HashMap<Cow<'a, str>, usize>,
    },
}

/// Looks for the problems of [`Problem`] up to the first syntax error.
pub(crate) fn check(text: &str) -> std::result::Result<(), Found> {
    Checker {
        text,
        b: text.as_bytes(),
        i: 0,
        stack: Vec::new(),
    }
    .run()
}

struct Checker<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    stack: Vec<Frame<'a>>,
}

/// A syntax error: the checker stops and leaves it to serde_json.
struct Stop;

impl<'a> Checker<'a> {
    fn run(mut self) -> std::result::Result<(), Found> {
        match self.values() {
            Ok(Ok(())) | Ok(Err(Stop)) => Ok(()),
            Err(found) => Err(found),
        }
    }

    fn found(&self, offset: usize, problem: Problem) -> Found {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::List { index } => path.push_str(&format!("[{index}]")),
                Frame::Map { key, .. } => path = join_key(&path, key),
            }
        }
        Found {
            offset,
            path,
            problem,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Every value of the text, iteratively: `Ok(Err(Stop))` at a syntax
    /// error, `Err` at a problem.
    fn values(&mut self) -> std::result::Result<std::result::Result<(), Stop>, Found> {
        loop {
            // A value is expected here.
            self.skip_ws();
            let start = self.i;
            match self.peek() {
                Some(open @ (b'[' | b'{')) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(self.found(start, Problem::TooDeep));
                    }
                    self.i += 1;
                    self.skip_ws();
                    let close = if open == b'[' { b']' } else { b'}' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else if open == b'[' {
                        self.stack.push(Frame::List { index: 0 });
                        continue;
                    } else {
                        self.stack.push(Frame::Map {
                            key: Cow::Borrowed(""),
                            seen: HashMap::new(),
                        });
                        match self.key()? {
                            Ok(()) => continue,
                            Err(Stop) => return Ok(Err(Stop)),
                        }
                    }
                }
                Some(b'"') => {
                    if self.string().is_none() {
                        return Ok(Err(Stop));
                    }
                }
                Some(b'-' | b'0'..=b'9') => match self.number() {
                    Some(true) => {}
                    Some(false) => {
                        let number = self.text[start..self.i].to_owned();
                        return Err(self.found(start, Problem::OutOfRange(number)));
                    }
                    None => return Ok(Err(Stop)),
                },
                Some(b't') if self.b[self.i..].starts_with(b"true") => self.i += 4,
                Some(b'f') if self.b[self.i..].starts_with(b"false") => self.i += 5,
                Some(b'n') if self.b[self.i..].starts_with(b"null") => self.i += 4,
                _ => return Ok(Err(Stop)),
            }
            // A value ended: close what it ends, or go on to the next one.
            loop {
                self.skip_ws();
                let next = self.peek();
                match self.stack.last_mut() {
                    None => return Ok(Ok(())),
                    Some(Frame::List { index }) => match next {
                        Some(b',') => {
                            *index += 1;
                            self.i += 1;
                            break;
                        }
                        Some(b']') => {
                            self.i += 1;
                            self.stack.pop();
                        }
                        _ => return Ok(Err(Stop)),
                    },
                    Some(Frame::Map { .. }) => match next {
                        Some(b',') => {
                            self.i += 1;
                            match self.key()? {
                                Ok(()) => break,
                                Err(Stop) => return Ok(Err(Stop)),
                            }
                        }
                        Some(b'}') => {
                            self.i += 1;
                            self.stack.pop();
                        }
                        _ => return Ok(Err(Stop)),
                    },
                }
            }
        }
    }

    /// A key and its `:`, in the map on top of the stack.
    fn key(&mut self) -> std::result::Result<std::result::Result<(), Stop>, Found> {
        self.skip_ws();
        let start = self.i;
        if self.peek() != Some(b'"') {
            return Ok(Err(Stop));
        }
        let Some(escaped) = self.string() else {
            return Ok(Err(Stop));
        };
        let raw = &self.text[start..self.i];
        let key: Cow<'a, str> = if escaped {
            match serde_json::from_str::<String>(raw) {
                Ok(k) => Cow::Owned(k),
                Err(_) => return Ok(Err(Stop)),
            }
        } else {
            Cow::Borrowed(&raw[1..raw.len() - 1])
        };
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Ok(Err(Stop));
        }
        self.i += 1;
        let Some(Frame::Map { key: current, seen }) = self.stack.last_mut() else {
            return Ok(Err(Stop));
        };
        if let Some(&first) = seen.get(&key) {
            let name = key.clone().into_owned();
            *current = key;
            return Err(self.found(start, Problem::Duplicate { key: name, first }));
        }
        seen.insert(key.clone(), start);
        *current = key;
        Ok(Ok(()))
    }

    /// Skips a string; `Some(true)` when it holds a `\` escape, `None` at a
    /// syntax error.
    fn string(&mut self) -> Option<bool> {
        self.i += 1;
        let mut escaped = false;
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                }
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
    }

    /// Skips a number; `Some(false)` when it is out of range, `None` at a
    /// syntax error.
    fn number(&mut self) -> Option<bool> {
        let start = self.i;
        let digits = |c: &mut Checker<'_>| {
            let from = c.i;
            while let Some(b'0'..=b'9') = c.peek() {
                c.i += 1;
            }
            c.i > from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        let mut whole = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            whole = false;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            whole = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        Some(number_in_range(&self.text[start..self.i], whole))
    }
}

/// True when a number written as `text` (JSON syntax) fits a JSON value
/// without changing: a whole number in 64 bits, any other within `f64`.
pub(crate) fn number_in_range(text: &str, whole: bool) -> bool {
    if whole {
        if text.starts_with('-') {
            text.parse::<i64>().is_ok()
        } else {
            text.parse::<u64>().is_ok()
        }
    } else {
        text.parse::<f64>().is_ok_and(f64::is_finite)
    }
}

impl Found {
    /// This problem in a workflow as an error, located in `text`, with the
    /// task and field its path names.
    pub(crate) fn into_workflow_error(mut self, text: &str) -> Error {
        let path = std::mem::take(&mut self.path);
        at_long_path(self.into_error(text), &path)
    }

    /// This problem as an error, located in `text`, with its path as the
    /// field.
    pub(crate) fn into_error(self, text: &str) -> Error {
        let (line, column) = line_column(text, self.offset);
        let (kind, message) = match &self.problem {
            Problem::TooDeep => (ErrorKind::Limit, too_deep_message()),
            Problem::OutOfRange(n) => (ErrorKind::Schema, out_of_range_message(n)),
            Problem::Duplicate { key, first } => {
                let (first_line, _) = line_column(text, *first);
                (
                    ErrorKind::Schema,
                    format!(
                        "duplicate key `{key}` (first at line {first_line}): each key may appear once; remove one"
                    ),
                )
            }
        };
        let mut e = Error::new(kind, message).with_location(at(line, column));
        if !self.path.is_empty() {
            e = e.with_field(shorten_field(&self.path));
        }
        e
    }
}

/// Parses JSON text into a value under the rules weft's loading follows.
///
/// On top of JSON's syntax: a key may appear once in a map, lists and maps
/// nest at most [`Workflow::MAX_DEPTH`](crate::Workflow::MAX_DEPTH) levels, whole numbers fit in 64
/// bits and other numbers in an `f64`. So the same text means the same
/// value here, in a JSON workflow file and in a YAML one, or is an error.
/// The weft CLI reads `--inputs` files and `-i` values with it.
///
/// # Errors
///
/// A syntax error or one of the problems above, with the line and column
/// (and the path of the value, as the error's field, when it is inside a
/// list or map).
///
/// # Examples
///
/// ```
/// let v = weft_core::json_from_str(r#"{"regions": ["eu", "us"], "n": 3}"#)?;
/// assert_eq!(v["n"], 3);
///
/// let e = weft_core::json_from_str(r#"{"a": 1, "a": 2}"#).unwrap_err();
/// assert!(e.message().contains("duplicate key `a`"));
/// assert_eq!((e.line(), e.column()), (Some(1), Some(10)));
/// # Ok::<(), weft_core::Error>(())
/// ```
pub fn json_from_str(text: &str) -> Result<Value> {
    check(text).map_err(|found| found.into_error(text))?;
    serde_json::from_str(text).map_err(|e| crate::diag::json::json_syntax_error(text, e))
}
