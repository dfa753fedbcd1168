//! The source map: where each key and list item of a workflow was written,
//! found in one pass over the YAML events, which also enforces the limits
//! of loading before any value is built.
//!
//! The pass runs before serde sees the text, and it is linear in the text:
//!
//! * lists and maps nest at most [`Workflow::MAX_DEPTH`](crate::Workflow::MAX_DEPTH) levels, counting
//!   what aliases bring in (libyaml, behind serde, takes time quadratic in
//!   the depth of flow collections, and serde stops at 128 levels);
//! * aliases (`*name`) copy at most [`Workflow::MAX_ALIAS_EXPANSION`](crate::Workflow::MAX_ALIAS_EXPANSION) into
//!   the document ("billion laughs" is rejected at the alias that crosses
//!   the limit, with its line and column);
//! * a key appears once per map (serde would keep the last of two tasks
//!   with the same name);
//! * a plain scalar that YAML reads as a number must fit a JSON number
//!   unchanged (serde would turn `1e999` into a string and a 30-digit
//!   integer into an approximate float).
//!
//! The map is a tree of nodes, so its size is linear in the text however
//! deep or long the keys are; a path such as `tasks.deploy.next[0].do` is
//! looked up by walking it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diag::path::{at_long_path, join_key, offset_of, shorten, unquote};
use crate::diag::shape::{duplicate_error, out_of_range_message};
use crate::error::{Error, ErrorKind, Location};
use crate::limits::{too_deep_message, MAX_ALIAS_EXPANSION, MAX_DEPTH};

/// Positions of every key and list item in the text.
#[derive(Debug)]
pub(crate) struct SourceMap {
    nodes: Vec<Node>,
}

#[derive(Debug, Default)]
struct Node {
    /// 1-based line and column; `None` for the root.
    pos: Option<(u32, u32)>,
    kids: Kids,
}

/// A node's children, boxed: most nodes are scalars, and a node is built
/// for every value of the text, so the enum is kept to one pointer.
#[allow(clippy::box_collection)]
#[derive(Debug, Default)]
enum Kids {
    #[default]
    None,
    /// The value is a scalar written from here (1-based line and column
    /// of its first character, or its opening quote; a block scalar's
    /// first line of text).
    Scalar(u32, u32, Style),
    Map(Box<HashMap<Box<str>, u32>>),
    List(Box<Vec<u32>>),
}

/// How a scalar is written: what lies between its start and its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// Unquoted: the text starts at the scalar's start.
    Plain,
    /// `'...'`: `''` stands for `'`.
    Single,
    /// `"..."`: backslash escapes.
    Double,
    /// `|` or `>`: its start is where its text starts, on a later line.
    Block,
}

/// Where a scalar value is written, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScalarStart {
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) style: Style,
}

/// Why the text has no source map.
pub(crate) enum Scan {
    /// The text breaks a rule of loading; the error says which and where.
    Rejected(Error),
    /// The YAML scanner cannot read the text (a syntax error, most often);
    /// where and why it stopped, and the start of the last event it read:
    /// the limits were enforced up to there. (The scanner reads ahead
    /// before it emits events, at most to the end of a line and 1024
    /// characters past the start of a possible key.)
    Unreadable {
        line: usize,
        column: usize,
        message: String,
        checked: (usize, usize),
    },
    /// A second document starts on this line. (libyaml would read all of
    /// it, with no limits checked, before serde reported it.)
    SecondDocument { line: usize },
}

impl SourceMap {
    /// Reads the first YAML document of `text`, enforcing the limits above.
    pub(crate) fn build(text: &str) -> Result<SourceMap, Scan> {
        match Self::read(text) {
            // The scanner looks ahead through flow collections that open
            // one inside the other, and gives up at 256 levels before any
            // event comes out. The text up to there is read again: its
            // events show where the nesting went past our limit.
            Err(Scan::Unreadable {
                line,
                column,
                message,
                ..
            }) if message == "recursion limit exceeded" => {
                let cut = offset_of(text, line, column);
                match Self::read(&text[..cut]) {
                    Err(Scan::Rejected(e)) => Err(Scan::Rejected(e)),
                    _ => Err(Scan::Rejected(
                        Error::new(ErrorKind::Limit, too_deep_message())
                            .with_location(at(line as u32, column as u32)),
                    )),
                }
            }
            Err(Scan::Unreadable {
                line,
                column,
                message,
                checked,
            }) if message == crate::yaml_quirks::UNDER_INDENTED => {
                // Quoted scalars with lines indented less than libyaml
                // allows (see `yaml_quirks`): read with those lines padded.
                let mut padded = text.to_owned();
                let (mut line, mut column) = (line, column);
                for _ in 0..crate::yaml_quirks::MAX_PADDED {
                    let Some(next) =
                        crate::yaml_quirks::pad_quoted_scalar(&padded, line, column - 1)
                    else {
                        break;
                    };
                    padded = next;
                    match Self::read(&padded) {
                        Err(Scan::Unreadable {
                            line: l,
                            column: c,
                            message: m,
                            ..
                        }) if m == crate::yaml_quirks::UNDER_INDENTED => (line, column) = (l, c),
                        other => return other,
                    }
                }
                Err(Scan::Unreadable {
                    line,
                    column,
                    message,
                    checked,
                })
            }
            other => other,
        }
    }

    fn read(text: &str) -> Result<SourceMap, Scan> {
        let mut b = Builder {
            text,
            nodes: vec![Node::default()],
            stack: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
            jumps: 0,
            events: 0,
        };
        let mut parser = Parser::new_from_str(text);
        let mut checked = (1, 1);
        loop {
            let (event, mark) = parser.next_token().map_err(|e| {
                let m = e.marker();
                Scan::Unreadable {
                    line: m.line(),
                    column: m.col() + 1,
                    message: e.info().to_owned(),
                    checked,
                }
            })?;
            checked = (mark.line(), mark.col() + 1);
            b.events += 1;
            match event {
                Event::StreamEnd => break,
                Event::DocumentEnd => {
                    // Anything but the end of the text is a second document,
                    // even one the scanner cannot read.
                    return match parser.next_token() {
                        Ok((Event::StreamEnd, _)) => Ok(SourceMap { nodes: b.nodes }),
                        Ok((_, mark)) => Err(Scan::SecondDocument { line: mark.line() }),
                        Err(e) => Err(Scan::SecondDocument {
                            line: e.marker().line(),
                        }),
                    };
                }
                Event::Scalar(value, style, anchor, tag) => {
                    // A plain scalar is a number when it reads as one; a
                    // scalar tagged `!!int` or `!!float` is one in any style.
                    let numeric = match &tag {
                        None => style == TScalarStyle::Plain,
                        Some(t) => {
                            matches!(t.handle.as_str(), "tag:yaml.org,2002:" | "!!")
                                && matches!(t.suffix.as_str(), "int" | "float")
                        }
                    };
                    b.scalar(&value, style, numeric, anchor, mark)?;
                }
                Event::Alias(id) => b.alias(id, mark)?,
                Event::SequenceStart(anchor, _) => b.open(false, anchor, mark)?,
                Event::MappingStart(anchor, _) => b.open(true, anchor, mark)?,
                Event::SequenceEnd | Event::MappingEnd => b.close(),
                Event::Nothing | Event::StreamStart | Event::DocumentStart => {}
            }
        }
        Ok(SourceMap { nodes: b.nodes })
    }

    /// The node at exactly `path`. Assignment sections (`vars`, `publish`,
    /// `output`) are addressed as lists (`vars[1].name`) but may be written
    /// as maps (`vars.name`); an index into a map is skipped.
    fn walk(&self, path: &str, mut visit: impl FnMut(&Node)) -> bool {
        let Some(segments) = segments(path) else {
            return false;
        };
        let mut node = &self.nodes[0];
        let mut iter = segments.iter().peekable();
        while let Some(segment) = iter.next() {
            let next = match (segment, &node.kids) {
                (Segment::Key(k), Kids::Map(m)) => m.get(k.as_str()),
                (Segment::Index(i), Kids::List(l)) => l.get(*i),
                (Segment::Index(_), Kids::Map(_))
                    if matches!(iter.peek(), Some(Segment::Key(_))) =>
                {
                    continue
                }
                _ => None,
            };
            match next.and_then(|&n| self.nodes.get(n as usize)) {
                Some(n) => {
                    node = n;
                    visit(node);
                }
                None => return false,
            }
        }
        true
    }

    /// Where the scalar value at exactly `path` starts, if it is a scalar.
    pub(crate) fn scalar(&self, path: &str) -> Option<ScalarStart> {
        let mut found = None;
        let walked = self.walk(path, |n| {
            found = match n.kids {
                Kids::Scalar(line, column, style) => Some(ScalarStart {
                    line,
                    column,
                    style,
                }),
                _ => None,
            }
        });
        found.filter(|_| walked)
    }

    /// The position of exactly `path`.
    pub(crate) fn exact(&self, path: &str) -> Option<Location> {
        let mut found = None;
        let mut last_pos = None;
        if self.walk(path, |n| last_pos = n.pos) {
            found = last_pos;
        }
        found.map(|(l, c)| at(l, c))
    }

    /// The position of `path`, or of its nearest written ancestor.
    pub(crate) fn location(&self, path: &str, file: &Option<Arc<PathBuf>>) -> Location {
        let mut deepest = None;
        self.walk(path, |n| {
            if n.pos.is_some() {
                deepest = n.pos;
            }
        });
        let mut loc = deepest.map(|(l, c)| at(l, c)).unwrap_or_default();
        loc.file = file.clone();
        loc
    }
}

fn at(line: u32, column: u32) -> Location {
    Location {
        file: None,
        line: Some(line as usize),
        column: Some(column as usize),
    }
}

#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `tasks["a.b"].next[0].do` → `Key(tasks) Key(a.b) Key(next) Index(0)
/// Key(do)`; `None` for a path that is not written as [`join_key`] writes.
fn segments(path: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[\"") {
            let (key, after) = unquote(r)?;
            out.push(Segment::Key(key));
            rest = after.strip_prefix(']')?;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Segment::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        } else {
            let r = if out.is_empty() {
                rest
            } else {
                rest.strip_prefix('.')?
            };
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(Segment::Key(r[..end].to_owned()));
            rest = &r[end..];
        }
    }
    Some(out)
}

/// What aliases to a finished anchored node bring in.
#[derive(Clone, Copy, Default)]
struct Size {
    /// Values plus the bytes of their scalars, as written out in full.
    weight: u64,
    /// Alias dereferences made when the node is read in full.
    jumps: u64,
    /// Levels of lists and maps, the node's own included.
    height: usize,
}

/// What the next node of an open map is.
enum Expect {
    Key,
    /// The value of a key; its node, when the key was a plain string.
    Value(Option<u32>),
}

struct Open {
    /// The node in the map; `None` inside a complex key, which has no path.
    node: Option<u32>,
    map: Option<Expect>,
    /// The current key of a map (for the path in error messages).
    key: Option<Box<str>>,
    /// The index of the current item of a list.
    index: usize,
    /// A map that is a list item: it is placed at its first key (a block
    /// map's own mark is its first `:`).
    item: bool,
    /// Whether this collection is a key of its map.
    is_key: bool,
    anchor: usize,
    size: Size,
}

struct Builder<'t> {
    text: &'t str,
    nodes: Vec<Node>,
    stack: Vec<Open>,
    /// Sizes of finished anchored nodes, by anchor id.
    anchors: HashMap<usize, Size>,
    /// Weight that aliases have added to the document so far.
    expanded: u64,
    /// Alias dereferences so far.
    jumps: u64,
    events: u64,
}

/// Where a node sits: a key of its map, or a value (and its node).
enum Placed {
    Key,
    Value(Option<u32>),
}

/// serde_yaml_ng gives up after `100 * events` alias dereferences, with an
/// error that names no place; this limit is lower so that ours, which
/// does, comes first.
const JUMPS_PER_EVENT: u64 = 50;

impl Builder<'_> {
    fn new_node(&mut self, mark: Marker) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            pos: Some(pos_of(mark)),
            kids: Kids::None,
        });
        id
    }

    /// The path of the node being read, for messages.
    fn path(&self) -> String {
        let mut path = String::new();
        for open in &self.stack {
            if open.map.is_some() {
                path = join_key(&path, open.key.as_deref().unwrap_or("?"));
            } else {
                path.push_str(&format!("[{}]", open.index));
            }
        }
        path
    }

    fn reject(&self, kind: ErrorKind, message: String, mark: Marker) -> Scan {
        let (line, column) = pos_of(mark);
        let e = Error::new(kind, message).with_location(at(line, column));
        Scan::Rejected(at_long_path(e, &self.path()))
    }

    /// Registers a node starting at `mark` in the open collection.
    fn place(&mut self, key: Option<&str>, mark: Marker) -> Result<Placed, Scan> {
        let Some(top) = self.stack.last() else {
            return Ok(Placed::Value(Some(0)));
        };
        let parent = top.node;
        match &top.map {
            None => {
                let child = match parent {
                    Some(p) => {
                        let child = self.new_node(mark);
                        if let Kids::List(items) = &mut self.nodes[p as usize].kids {
                            items.push(child);
                        }
                        Some(child)
                    }
                    None => None,
                };
                Ok(Placed::Value(child))
            }
            Some(Expect::Value(child)) => Ok(Placed::Value(*child)),
            Some(Expect::Key) => {
                let mut child = None;
                if let (Some(p), Some(k)) = (parent, key) {
                    if let Kids::Map(m) = &self.nodes[p as usize].kids {
                        if let Some(&first) = m.get(k) {
                            let first_line = self.nodes[first as usize].pos.map(|(l, _)| l);
                            if let Some(top) = self.stack.last_mut() {
                                top.key = Some(k.into());
                            }
                            let (line, column) = pos_of(mark);
                            return Err(Scan::Rejected(duplicate_error(
                                &self.path(),
                                line as usize,
                                column as usize,
                                first_line.map(|l| l as usize),
                            )));
                        }
                    }
                    let id = self.new_node(mark);
                    if let Kids::Map(m) = &mut self.nodes[p as usize].kids {
                        m.insert(k.into(), id);
                    }
                    child = Some(id);
                }
                let pos = pos_of(mark);
                if let Some(top) = self.stack.last_mut() {
                    if top.item {
                        top.item = false;
                        if let Some(p) = parent {
                            self.nodes[p as usize].pos = Some(pos);
                        }
                    }
                    top.key = key.map(Into::into);
                    top.map = Some(Expect::Value(child));
                }
                Ok(Placed::Key)
            }
        }
    }

    /// A value is complete: the open list moves to its next item, the open
    /// map to its next key.
    fn value_done(&mut self, size: Size) {
        if let Some(top) = self.stack.last_mut() {
            top.size.weight = top.size.weight.saturating_add(size.weight);
            top.size.jumps = top.size.jumps.saturating_add(size.jumps);
            top.size.height = top.size.height.max(size.height + 1);
            match &mut top.map {
                Some(expect) => *expect = Expect::Key,
                None => top.index += 1,
            }
        }
    }

    /// A key is complete: only its weight counts (its value comes next).
    fn key_done(&mut self, size: Size) {
        if let Some(top) = self.stack.last_mut() {
            top.size.weight = top.size.weight.saturating_add(size.weight);
            top.size.jumps = top.size.jumps.saturating_add(size.jumps);
        }
    }

    fn scalar(
        &mut self,
        value: &str,
        style: TScalarStyle,
        numeric: bool,
        anchor: usize,
        mark: Marker,
    ) -> Result<(), Scan> {
        let placed = self.place(Some(value), mark)?;
        if let Placed::Value(Some(node)) = placed {
            let (line, column) = pos_of(mark);
            let style = match style {
                TScalarStyle::Plain => Style::Plain,
                TScalarStyle::SingleQuoted => Style::Single,
                TScalarStyle::DoubleQuoted => Style::Double,
                TScalarStyle::Literal | TScalarStyle::Folded => Style::Block,
            };
            self.nodes[node as usize].kids = Kids::Scalar(line, column, style);
        }
        let size = Size {
            weight: 1 + value.len() as u64,
            jumps: 0,
            height: 0,
        };
        if anchor > 0 {
            self.anchors.insert(anchor, size);
        }
        match placed {
            Placed::Key => self.key_done(size),
            Placed::Value(_) => {
                if numeric {
                    if let Some(message) = plain_number_problem(value) {
                        return Err(self.reject(ErrorKind::Schema, message, mark));
                    }
                }
                self.value_done(size);
            }
        }
        Ok(())
    }

    fn alias(&mut self, id: usize, mark: Marker) -> Result<(), Scan> {
        let placed = self.place(None, mark)?;
        let name = alias_name(self.text, mark);
        let Some(&target) = self.anchors.get(&id) else {
            return Err(self.reject(
                ErrorKind::Schema,
                format!("the alias `*{name}` is inside the value it names: YAML data cannot contain itself"),
                mark,
            ));
        };
        if self.stack.len() + target.height > MAX_DEPTH {
            return Err(self.reject(
                ErrorKind::Limit,
                format!("through the alias `*{name}`, {}", too_deep_message()),
                mark,
            ));
        }
        self.expanded = self.expanded.saturating_add(target.weight);
        self.jumps = self.jumps.saturating_add(target.jumps + 1);
        let too_far = if self.expanded > MAX_ALIAS_EXPANSION as u64 {
            Some(format!(
                "aliases copy more than {} bytes of values into the document",
                MAX_ALIAS_EXPANSION
            ))
        } else if self.jumps > self.events.saturating_mul(JUMPS_PER_EVENT) {
            Some(format!(
                "aliases are followed more than {JUMPS_PER_EVENT} times for each value written so far"
            ))
        } else {
            None
        };
        if let Some(why) = too_far {
            return Err(self.reject(
                ErrorKind::Limit,
                format!(
                    "aliases expand too far: with `*{name}`, {why}; write the values out, or use fewer aliases"
                ),
                mark,
            ));
        }
        let size = Size {
            weight: target.weight,
            jumps: target.jumps + 1,
            height: target.height,
        };
        match placed {
            Placed::Key => {
                self.key_done(size);
                Ok(())
            }
            Placed::Value(_) => {
                self.value_done(size);
                Ok(())
            }
        }
    }

    fn open(&mut self, map: bool, anchor: usize, mark: Marker) -> Result<(), Scan> {
        let in_list = matches!(self.stack.last(), Some(Open { map: None, .. }));
        let placed = self.place(None, mark)?;
        let (node, is_key) = match placed {
            Placed::Key => (None, true),
            Placed::Value(node) => (node, false),
        };
        if let Some(n) = node {
            self.nodes[n as usize].kids = if map {
                Kids::Map(Box::default())
            } else {
                Kids::List(Box::default())
            };
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.reject(ErrorKind::Limit, too_deep_message(), mark));
        }
        self.stack.push(Open {
            node,
            map: map.then_some(Expect::Key),
            key: None,
            index: 0,
            item: map && in_list,
            is_key,
            anchor,
            size: Size {
                weight: 1,
                jumps: 0,
                height: 1,
            },
        });
        Ok(())
    }

    fn close(&mut self) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        if open.anchor > 0 {
            self.anchors.insert(open.anchor, open.size);
        }
        if open.is_key {
            self.key_done(open.size);
        } else {
            self.value_done(open.size);
        }
    }
}

fn pos_of(mark: Marker) -> (u32, u32) {
    // yaml-rust2's lines are 1-based and its columns 0-based.
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (clamp(mark.line()), clamp(mark.col().saturating_add(1)))
}

/// The name of the alias written at `mark` (for messages).
fn alias_name(text: &str, mark: Marker) -> String {
    let Some(line) = text.lines().nth(mark.line().saturating_sub(1)) else {
        return String::new();
    };
    let rest: String = line.chars().skip(mark.col()).collect();
    let name: String = rest
        .strip_prefix('*')
        .unwrap_or(&rest)
        .chars()
        .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
        .collect();
    shorten(&name)
}

/// Why a plain scalar that YAML reads as a number cannot be one, if it
/// cannot: serde_yaml_ng would make it a string, an approximate float or
/// `null` instead. The rules follow serde_yaml_ng's own resolution of
/// plain scalars (YAML 1.2 core schema).
pub(crate) fn plain_number_problem(s: &str) -> Option<String> {
    let out_of_range = || Some(out_of_range_message(s));
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = body.strip_prefix(prefix) {
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            let fits = if negative {
                i64::from_str_radix(&format!("-{digits}"), radix).is_ok()
            } else {
                u64::from_str_radix(digits, radix).is_ok()
            };
            return if fits { None } else { out_of_range() };
        }
    }
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        // Leading zeros make a string in YAML 1.2.
        if body.len() > 1 && body.starts_with('0') {
            return None;
        }
        let fits = if negative {
            s.parse::<i64>().is_ok()
        } else {
            body.parse::<u64>().is_ok()
        };
        return if fits { None } else { out_of_range() };
    }
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    let infinity = matches!(
        unsigned,
        ".inf" | ".Inf" | ".INF" | "-.inf" | "-.Inf" | "-.INF"
    );
    if infinity || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return Some(format!(
            "`{s}` is not a number a JSON value can hold: put it in quotes to keep it as text"
        ));
    }
    if unsigned.starts_with(['+', '-']) && s.starts_with('+') {
        return None;
    }
    match unsigned.parse::<f64>() {
        Ok(f) if !f.is_finite() && s.bytes().any(|b| b.is_ascii_digit()) => out_of_range(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> SourceMap {
        match SourceMap::build(text) {
            Ok(m) => m,
            Err(Scan::Rejected(e)) => panic!("rejected: {e}"),
            Err(Scan::Unreadable { message, .. }) => panic!("unreadable: {message}"),
            Err(Scan::SecondDocument { line }) => panic!("a second document at line {line}"),
        }
    }

    #[test]
    fn positions_of_keys_items_and_map_form_sections() {
        let text = "vars:\n  a: 1\n  b: 2\ntasks:\n  deploy.eu:\n    next:\n      - when: x\n        do: [y]\n";
        let map = map(text);
        let line = |p: &str| map.location(p, &None).line;
        assert_eq!(line("vars[1].b"), Some(3), "list path finds the map form");
        assert_eq!(line("tasks[\"deploy.eu\"].next"), Some(6));
        assert_eq!(line("tasks[\"deploy.eu\"].next[0]"), Some(7));
        assert_eq!(
            map.location("tasks[\"deploy.eu\"].next[0]", &None).column,
            Some(9),
            "a list item that is a map sits at its first key"
        );
        assert_eq!(line("tasks[\"deploy.eu\"].next[0].do[0]"), Some(8));
        assert_eq!(line("tasks[\"deploy.eu\"].missing.deeper"), Some(5));
        assert_eq!(map.exact("tasks[\"deploy.eu\"].missing"), None);
        assert_eq!(map.exact("vars[0]"), None, "an index alone into a map");
        assert_eq!(line(""), None);
    }

    #[test]
    fn a_node_stays_small() {
        // One is built per value of the text: 16 MiB of `[1,1,...]` makes
        // eight million.
        assert!(std::mem::size_of::<Node>() <= 32);
    }

    #[test]
    fn paths_split_into_segments() {
        use Segment::{Index, Key};
        assert_eq!(
            segments("tasks[\"a.b\"].next[0].do"),
            Some(vec![
                Key("tasks".into()),
                Key("a.b".into()),
                Key("next".into()),
                Index(0),
                Key("do".into())
            ])
        );
        assert_eq!(segments(""), Some(vec![]));
        assert_eq!(segments("a[x]"), None);
        assert_eq!(segments("a[\"unclosed"), None);
    }

    #[test]
    fn plain_numbers_out_of_range_are_found() {
        for ok in [
            "1",
            "-1",
            "+5",
            "0x1F",
            "-0x10",
            "0o17",
            "0b101",
            "1.5",
            "1e308",
            "-0",
            "0123",
            "1_000",
            "inf",
            "nan",
            "hello",
            "",
            "18446744073709551615",
            "-9223372036854775808",
            "0x",
            "+-1",
            "1e-400",
        ] {
            assert_eq!(plain_number_problem(ok), None, "{ok}");
        }
        for bad in [
            "18446744073709551616",
            "-9223372036854775809",
            "0x10000000000000000",
            "1e999",
            "-1e400",
            ".inf",
            "-.Inf",
            ".nan",
        ] {
            assert!(plain_number_problem(bad).is_some(), "{bad}");
        }
        assert!(plain_number_problem(&"9".repeat(400)).is_some());
    }
}
