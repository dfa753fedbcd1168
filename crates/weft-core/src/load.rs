//! Loading: YAML or JSON text into a [`Workflow`], with positions kept for
//! error messages.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::def::WorkflowDef;
use crate::error::{Error, ErrorKind, Location, Result};
use crate::source_map::{Scan, SourceMap};

/// A loaded workflow: its definition plus where each part of it was written.
///
/// # Examples
///
/// ```
/// use weft_core::Workflow;
///
/// let wf = Workflow::from_yaml_str("tasks:\n  hello:\n    action: core.noop\n")?;
/// assert_eq!(wf.def().tasks.len(), 1);
/// # Ok::<(), weft_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Workflow {
    def: Arc<WorkflowDef>,
    name: Option<String>,
    source: Option<Arc<SourceMap>>,
    file: Option<Arc<PathBuf>>,
    /// The text it was loaded from (a durable run keeps it in its journal).
    text: Option<(Arc<str>, Format)>,
}

/// The text format of a workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML (also accepts JSON, which is valid YAML).
    Yaml,
    /// JSON.
    Json,
}

impl Workflow {
    /// Wraps a definition built in code (no positions are known).
    pub fn from_def(def: WorkflowDef) -> Workflow {
        Workflow {
            def: Arc::new(def),
            name: None,
            source: None,
            file: None,
            text: None,
        }
    }

    /// Parses YAML text, in time and memory linear in its length.
    ///
    /// # Errors
    ///
    /// A syntax error, a value of the wrong type, an unknown or missing key,
    /// a duplicate key, a number that a JSON value cannot hold unchanged,
    /// or text beyond a limit of loading (lists and maps nested deeper than
    /// [`Workflow::MAX_DEPTH`], aliases that copy more than
    /// [`Workflow::MAX_ALIAS_EXPANSION`]); the error names line, column and
    /// the field.
    pub fn from_yaml_str(text: &str) -> Result<Workflow> {
        Self::parse(text, Format::Yaml, None)
    }

    /// Parses JSON text.
    ///
    /// # Errors
    ///
    /// As for [`Workflow::from_yaml_str`].
    pub fn from_json_str(text: &str) -> Result<Workflow> {
        Self::parse(text, Format::Json, None)
    }

    /// Parses text in the given format, naming `file` in errors.
    ///
    /// # Errors
    ///
    /// As for [`Workflow::from_yaml_str`].
    pub fn from_str_named(
        text: &str,
        format: Format,
        file: impl Into<PathBuf>,
    ) -> Result<Workflow> {
        Self::parse(text, format, Some(Arc::new(file.into())))
    }

    /// The largest workflow file [`Workflow::from_file`] reads: 16 MiB.
    /// [`Workflow::from_file_with_limit`] takes another limit.
    pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

    /// How deeply lists and maps may nest in a workflow, counted from the
    /// top-level map (which is level 1), aliases included. The same limit
    /// holds for [`json_from_str`](crate::json_from_str). It is below the
    /// 128 levels at which serde's parsers stop, so every format reports
    /// it the same way.
    pub const MAX_DEPTH: usize = 100;

    /// How much YAML aliases (`*name`) may copy into a document, in all:
    /// each copied value counts one, plus the bytes of its text. One MiB;
    /// a "billion laughs" file is stopped at the alias that crosses it.
    pub const MAX_ALIAS_EXPANSION: usize = 1024 * 1024;

    /// Reads and parses a file: JSON when its name ends in `.json`, YAML
    /// otherwise. At most [`Workflow::MAX_FILE_BYTES`] are read.
    ///
    /// # Errors
    ///
    /// The file cannot be read, is larger than the limit, or its text is
    /// not a valid workflow (see [`Workflow::from_yaml_str`]); errors name
    /// the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Workflow> {
        Self::from_file_with_limit(path, Self::MAX_FILE_BYTES)
    }

    /// As [`Workflow::from_file`], reading files of at most `max_bytes`.
    ///
    /// No more than `max_bytes + 1` bytes are read, whatever the file is
    /// (`/dev/zero` included).
    ///
    /// # Errors
    ///
    /// As for [`Workflow::from_file`].
    pub fn from_file_with_limit(path: impl AsRef<Path>, max_bytes: u64) -> Result<Workflow> {
        let path = path.as_ref();
        let file = Some(Arc::new(path.to_path_buf()));
        let io_error = |message: String| {
            Error::new(ErrorKind::Io, message).with_location(Location {
                file: file.clone(),
                line: None,
                column: None,
            })
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes))
            .map_err(|e| io_error(e.to_string()).with_source(e))?;
        if bytes.len() as u64 > max_bytes {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "the file is larger than {max_bytes} bytes, the limit for a workflow file: \
                     split the workflow, or move data into inputs"
                ),
            )
            .with_location(Location {
                file: file.clone(),
                line: None,
                column: None,
            }));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            io_error("the file is not UTF-8 text: save it as UTF-8".to_owned()).with_source(e)
        })?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        };
        let mut wf = Self::parse(&text, format, file)?;
        wf.name = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        Ok(wf)
    }

    fn parse(text: &str, format: Format, file: Option<Arc<PathBuf>>) -> Result<Workflow> {
        let located = |mut e: Error| {
            e.set_file(&file);
            e
        };
        if is_blank(text) {
            return Err(located(
                Error::new(
                    ErrorKind::Schema,
                    "the workflow is empty: write a `tasks` map",
                )
                .with_location(at(1, 1)),
            ));
        }
        if format == Format::Json {
            crate::json_text::check(text)
                .map_err(|found| located(found.into_workflow_error(text)))?;
        }
        // The source map is read first: it enforces the limits of loading
        // (depth, aliases, duplicate keys, numbers) before serde builds any
        // value. Text that the YAML scanner cannot read has no positions;
        // the serde backends below report its syntax error.
        let source = match SourceMap::build(text) {
            Ok(map) => Some(Arc::new(map)),
            Err(Scan::Rejected(e)) => return Err(located(e)),
            Err(Scan::Unreadable {
                line,
                column,
                message,
                checked,
            }) => {
                if format == Format::Yaml {
                    let stop = (line, column);
                    return Err(located(unreadable_yaml(text, stop, &message, checked)));
                }
                None
            }
            // JSON text after the workflow is serde_json's to report.
            Err(Scan::SecondDocument { .. }) if format == Format::Json => None,
            Err(Scan::SecondDocument { line }) => {
                let line = second_document(text).unwrap_or(line);
                return Err(located(second_document_error(line)));
            }
        };
        let result = match format {
            Format::Yaml => parse_yaml(text, source.as_deref()),
            Format::Json => parse_json(text, source.as_deref()),
        };
        let mut def = result.map_err(located)?;
        if def.tasks.is_empty() {
            let loc = source
                .as_ref()
                .map(|s| s.location("tasks", &file))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Schema,
                "`tasks` is empty: a workflow needs at least one task",
            )
            .with_field("tasks")
            .with_location(loc));
        }
        def.tasks.shrink_to_fit();
        Ok(Workflow {
            def: Arc::new(def),
            name: None,
            source,
            file,
            text: Some((Arc::from(text), format)),
        })
    }

    /// The definition.
    pub fn def(&self) -> &WorkflowDef {
        &self.def
    }

    /// Consumes the workflow, returning its definition.
    pub fn into_def(self) -> WorkflowDef {
        Arc::try_unwrap(self.def).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The workflow's name: the file stem when loaded from a file, else `None`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Sets the name used in spans, events and outcomes.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Workflow {
        self.name = Some(name.into());
        self
    }

    /// The text it was loaded from and its format; `None` for a workflow
    /// built in code.
    pub fn text(&self) -> Option<(&str, Format)> {
        self.text.as_ref().map(|(t, f)| (&**t, *f))
    }

    pub(crate) fn text_shared(&self) -> Option<(Arc<str>, Format)> {
        self.text.clone()
    }

    /// The file it was loaded from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref().map(PathBuf::as_path)
    }

    /// Writes the definition back as YAML.
    ///
    /// # Errors
    ///
    /// Only if a value cannot be represented in YAML (not expected for
    /// definitions that were loaded from text).
    pub fn to_yaml_string(&self) -> Result<String> {
        serde_yaml_ng::to_string(&self.def)
            .map_err(|e| Error::new(ErrorKind::Schema, e.to_string()).with_source(e))
    }

    /// The location of the character at byte `offset` of `value`, the
    /// scalar written at `path` (such as an inline parameter inside
    /// `tasks.t.action`). Where the text between the scalar's start and
    /// that character cannot be matched with `value` (an escape that is
    /// not decoded here, an anchor or a tag), or the character is more
    /// than 64 KiB into the value, the scalar's
    /// start; where the scalar's start is not known, that of `path`.
    pub(crate) fn location_in_scalar(&self, path: &str, value: &str, offset: usize) -> Location {
        let fallback = || self.location_of(path);
        let (Some(map), Some((text, _))) = (&self.source, &self.text) else {
            return fallback();
        };
        let Some(start) = map.scalar(path) else {
            return fallback();
        };
        let (line, column) = position_in_scalar(text, start, value, offset)
            .unwrap_or((start.line as usize, start.column as usize));
        Location {
            file: self.file.clone(),
            line: Some(line),
            column: Some(column),
        }
    }

    /// The location of a path such as `tasks.deploy.next[0].do`, or of its
    /// nearest written ancestor.
    pub fn location_of(&self, path: &str) -> Location {
        match &self.source {
            Some(map) => map.location(path, &self.file),
            None => Location {
                file: self.file.clone(),
                line: None,
                column: None,
            },
        }
    }
}

/// The line and column in `text` of byte `offset` of `value`, a scalar
/// written from `start`: the text and the value are read side by side
/// (runs of white space, where YAML folds lines, count as one), and `None`
/// as soon as they differ in a way not understood here.
fn position_in_scalar(
    text: &str,
    start: crate::source_map::ScalarStart,
    value: &str,
    offset: usize,
) -> Option<(usize, usize)> {
    use crate::source_map::Style;
    // Each error walks from its scalar's start: the walk is bounded so
    // that the errors kept of one long scalar cost no more than reading it.
    const MAX_WALK: usize = 64 * 1024;
    if offset > MAX_WALK {
        return None;
    }
    let (mut line, mut column) = (start.line as usize, start.column as usize);
    let mut t = offset_of(text, line, column);
    // A block scalar's start is its first line of text, whose indentation
    // (as that of the lines after it) is white space that the value folds.
    match start.style {
        Style::Plain | Style::Block => {}
        Style::Single | Style::Double => {
            t += text[t..].chars().next()?.len_utf8();
            column += 1;
        }
    }
    let mut v = 0;
    while v < offset {
        let vc = value[v..].chars().next()?;
        let tc = text[t..].chars().next()?;
        if vc.is_whitespace() && tc.is_whitespace() {
            while let Some(c) = value[v..].chars().next().filter(|c| c.is_whitespace()) {
                v += c.len_utf8();
            }
            while let Some(c) = text[t..].chars().next().filter(|c| c.is_whitespace()) {
                t += c.len_utf8();
                if c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
            if v > offset {
                return None;
            }
            continue;
        }
        let taken = match (start.style, tc) {
            (Style::Single, '\'') if text[t..].starts_with("''") && vc == '\'' => 2,
            (Style::Double, '\\') => {
                let (decoded, len) = double_quoted_escape(&text[t..])?;
                if decoded != vc {
                    return None;
                }
                len
            }
            _ if tc == vc => 1,
            _ => return None,
        };
        for _ in 0..taken {
            let c = text[t..].chars().next()?;
            t += c.len_utf8();
        }
        column += taken;
        v += vc.len_utf8();
    }
    Some((line, column))
}

/// The character a YAML (or JSON) escape at the start of `s` stands for,
/// and its length in chars; `None` for an escape not decoded here.
fn double_quoted_escape(s: &str) -> Option<(char, usize)> {
    let mut chars = s.chars().skip(1);
    let c = chars.next()?;
    let hex = |n: usize| {
        let digits: String = s.chars().skip(2).take(n).collect();
        let code = u32::from_str_radix(&digits, 16).ok()?;
        (digits.len() == n).then_some(())?;
        char::from_u32(code).map(|ch| (ch, n + 2))
    };
    match c {
        '"' | '\\' | '/' | ' ' => Some((c, 2)),
        'n' => Some(('\n', 2)),
        't' => Some(('\t', 2)),
        'r' => Some(('\r', 2)),
        'x' => hex(2),
        'u' => hex(4),
        'U' => hex(8),
        _ => None,
    }
}

/// True for text with nothing but blank lines, comments and document markers.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

pub(crate) fn duplicate_error(
    path: &str,
    line: usize,
    column: usize,
    first_line: Option<usize>,
) -> Error {
    let (task, field) = split_path(path);
    let first = first_line
        .map(|l| format!(" (first at line {l})"))
        .unwrap_or_default();
    let message = match (&task, &field) {
        (Some(t), None) => {
            format!("task `{t}` is defined twice{first}: rename or remove one of them")
        }
        _ => format!(
            "duplicate key `{}`{first}: each key may appear once; remove one",
            last_segment(path)
        ),
    };
    let mut e = Error::new(ErrorKind::Schema, message).with_location(Location {
        file: None,
        line: Some(line),
        column: Some(column),
    });
    if let Some(t) = task {
        e = e.with_task(t);
    }
    if let Some(f) = field {
        e = e.with_field(f);
    }
    e
}

/// The error for YAML text that the scanner of the source map cannot read:
/// it stopped at `stop` (line, column), having checked the limits of
/// loading up to `checked`.
///
/// libyaml, behind serde, words syntax errors better, but it is only given
/// the text up to the end of the stop's line (at most 256 bytes past the
/// stop), and nothing from the first alias after `checked` on: libyaml
/// takes quadratic time on deep nesting, and serde would expand aliases
/// that no limit checked. An error libyaml finds before the cut is
/// reported; otherwise the scanner's own.
fn unreadable_yaml(
    text: &str,
    (line, column): (usize, usize),
    message: &str,
    checked: (usize, usize),
) -> Error {
    let stop = offset_of(text, line, column);
    let line_end = text[stop..].find('\n').map_or(text.len(), |i| stop + i);
    let mut cut = line_end.min(stop.saturating_add(256));
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let checked = offset_of(text, checked.0, checked.1).min(cut);
    if let Some(alias) = text[checked..cut].find('*') {
        cut = checked + alias;
    }
    let cut_at = crate::json_text::line_column(text, cut);
    if let Err(e) = parse_yaml(&text[..cut], None) {
        if let (Some(l), Some(c)) = (e.line(), e.column()) {
            if (l, c) < cut_at {
                return e;
            }
        }
    }
    // The scanner is a port of libyaml and words its errors alike, with
    // the context first: `while parsing X, PROBLEM`.
    let raw = match message.split_once(", ") {
        Some((context, problem)) if context.starts_with("while ") => {
            format!("{problem} at line {line} column {column}, {context}")
        }
        _ => format!("{message} at line {line} column {column}"),
    };
    let location = at(line, column.max(1));
    let (message, moved) = match LibyamlError::parse(&raw) {
        Some(syntax) => syntax.explain(text, &location),
        None => (message.to_owned(), None),
    };
    Error::new(ErrorKind::Syntax, message).with_location(moved.unwrap_or(location))
}

/// The byte offset of a 1-based line and column (in chars).
pub(crate) fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match text[offset..].find('\n') {
            Some(i) => offset += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[offset..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    offset
        + rest[..line_len]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_len, |(i, _)| i)
}

fn parse_yaml(text: &str, source: Option<&SourceMap>) -> Result<WorkflowDef> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = path_string(e.path());
        let inner = e.into_inner();
        let mut location = inner
            .location()
            .map(|l| Location {
                file: None,
                line: Some(l.line()),
                column: Some(l.column().max(1)),
            })
            .unwrap_or_default();
        let raw = inner.to_string();
        let (kind, message) = if let Some(syntax) = LibyamlError::parse(&raw) {
            let (message, at) = syntax.explain(text, &location);
            if let Some(at) = at {
                location = at;
            }
            (ErrorKind::Syntax, message)
        } else if raw.starts_with("recursion limit exceeded") {
            (ErrorKind::Limit, crate::json_text::too_deep_message())
        } else if raw.starts_with("repetition limit exceeded") {
            (
                ErrorKind::Limit,
                "aliases (`*name`) are followed too many times: write the values out, or use fewer aliases"
                    .to_owned(),
            )
        } else if raw.starts_with("deserializing from YAML containing more than one document") {
            if let Some(line) = second_document(text) {
                location = at(line, 1);
            }
            (ErrorKind::Syntax, second_document_error(1).message().to_owned())
        } else {
            let message = strip_yaml_path(&strip_position(&raw));
            let (message, at) = explain_shape(&message, &path, source);
            if let Some(at) = at {
                location = at;
            }
            (ErrorKind::Schema, message)
        };
        let (message, location) = unquoted_expression(text, message, location);
        shape_error(kind, message, &path, location).with_source(inner)
    })
}

fn parse_json(text: &str, source: Option<&SourceMap>) -> Result<WorkflowDef> {
    let json_error = |kind: Option<ErrorKind>, path: &str, inner: serde_json::Error| {
        let mut location = at(inner.line(), inner.column().max(1));
        let syntax = inner.is_syntax() || inner.is_eof();
        let kind = kind.unwrap_or(if syntax {
            ErrorKind::Syntax
        } else {
            ErrorKind::Schema
        });
        let raw = strip_position(&inner.to_string());
        let message = if kind == ErrorKind::Syntax {
            let (message, moved) = explain_json_syntax(&raw, text, &location);
            if let Some(m) = moved {
                location = m;
            }
            message
        } else {
            let (message, moved) = explain_shape(&raw, path, source);
            if let Some(m) = moved {
                location = m;
            }
            message
        };
        shape_error(kind, message, path, location).with_source(inner)
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let def: WorkflowDef = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = path_string(e.path());
        json_error(None, &path, e.into_inner())
    })?;
    de.end()
        .map_err(|e| json_error(Some(ErrorKind::Syntax), "", e))?;
    Ok(def)
}

/// A serde_json error for a value (not a workflow), explained and located.
pub(crate) fn json_syntax_error(text: &str, e: serde_json::Error) -> Error {
    let mut location = at(e.line(), e.column().max(1));
    let raw = strip_position(&e.to_string());
    let (message, moved) = explain_json_syntax(&raw, text, &location);
    if let Some(m) = moved {
        location = m;
    }
    let kind = if e.is_data() {
        ErrorKind::Schema
    } else {
        ErrorKind::Syntax
    };
    Error::new(kind, message)
        .with_location(location)
        .with_source(e)
}

fn at(line: usize, column: usize) -> Location {
    Location {
        file: None,
        line: Some(line),
        column: Some(column),
    }
}

/// The path of a task in error paths and in the source map.
pub(crate) fn task_path(name: &str) -> String {
    join_key("tasks", name)
}

/// A serde path as our paths are written: `tasks.build.next[0].do`. The
/// path stops at the first step serde could not name.
fn path_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => out = join_key(&out, key),
            Segment::Enum { variant } => out = join_key(&out, variant),
            Segment::Unknown => break,
        }
    }
    out
}

/// A libyaml error message taken apart: `PROBLEM at line L column C,
/// CONTEXT at line L2 column C2` (each position optional).
struct LibyamlError<'a> {
    problem: &'a str,
    context: Option<&'a str>,
    context_mark: Option<(usize, usize)>,
}

const LIBYAML_PROBLEMS: [&str; 13] = [
    "did not find expected",
    "found unexpected",
    "mapping values are not allowed",
    "block sequence entries are not allowed",
    "found character that cannot start any token",
    "found a tab character",
    "could not find expected",
    "found undefined tag handle",
    "found unknown escape character",
    "found incompatible YAML document",
    "found duplicate",
    "found unexpected end of stream",
    "control characters are not allowed",
];

impl<'a> LibyamlError<'a> {
    fn parse(raw: &'a str) -> Option<LibyamlError<'a>> {
        if !LIBYAML_PROBLEMS.iter().any(|p| raw.starts_with(p)) && !raw.contains(", while ") {
            return None;
        }
        let (problem, rest) = match raw.find(" at line ") {
            Some(i) => {
                let rest = &raw[i + " at line ".len()..];
                let after_mark = rest.find(", ").map(|j| &rest[j..]).unwrap_or("");
                (&raw[..i], after_mark)
            }
            None => match raw.find(", while ") {
                Some(i) => (&raw[..i], &raw[i..]),
                None => (raw, ""),
            },
        };
        let context = rest.strip_prefix(", ");
        let (context, context_mark) = match context {
            Some(c) => match c.find(" at line ") {
                Some(i) => (Some(&c[..i]), parse_mark(&c[i + " at line ".len()..])),
                None => (Some(c), None),
            },
            None => (None, None),
        };
        Some(LibyamlError {
            problem,
            context,
            context_mark,
        })
    }

    /// A message that says what to do, and a better place than the
    /// problem's when the cause is elsewhere (where a bracket was opened).
    fn explain(&self, text: &str, location: &Location) -> (String, Option<Location>) {
        let problem = self.problem;
        let context = self.context.unwrap_or("");
        let opened = self.context_mark.map(|(l, c)| at(l, c));
        let opened_line = self
            .context_mark
            .map(|(l, _)| format!(" (it starts at line {l})"))
            .unwrap_or_default();
        if problem.starts_with("did not find expected ',' or ']'") {
            return (
                "a `[` list is not closed: add the missing `]`, or a `,` between its items"
                    .to_owned(),
                opened,
            );
        }
        if problem.starts_with("did not find expected ',' or '}'") {
            return (
                "a `{` map is not closed: add the missing `}`, or a `,` between its entries"
                    .to_owned(),
                opened,
            );
        }
        if context.contains("quoted scalar") && problem.contains("end of stream") {
            return (
                "a quoted string is not closed: add the closing quote".to_owned(),
                opened,
            );
        }
        if problem.starts_with("found unknown escape character") {
            return (
                "unknown `\\` escape in a double-quoted string: use single quotes, or write `\\\\`"
                    .to_owned(),
                None,
            );
        }
        if problem.starts_with("mapping values are not allowed") {
            return (
                "unexpected `:`: check this line's indentation, or quote a value that contains `: `"
                    .to_owned(),
                None,
            );
        }
        if problem.starts_with("found a tab character") {
            return (
                "a tab in the indentation: YAML indents with spaces only".to_owned(),
                None,
            );
        }
        if problem.starts_with("found character that cannot start any token") {
            let ch = char_at(text, location);
            return match ch {
                Some('\t') => (
                    "a tab in the indentation: YAML indents with spaces only".to_owned(),
                    None,
                ),
                Some(c) => (
                    format!("a value cannot start with `{c}`: put the value in quotes"),
                    None,
                ),
                None => (
                    "unexpected character: put the value in quotes".to_owned(),
                    None,
                ),
            };
        }
        if problem.starts_with("did not find expected key") {
            return (
                format!(
                    "this line is not indented like the keys of its map{opened_line}: line it up with them"
                ),
                None,
            );
        }
        if problem.starts_with("did not find expected '-' indicator") {
            return (
                format!(
                    "this line is not indented like the items of its list{opened_line}: line it up with them"
                ),
                None,
            );
        }
        if problem.starts_with("could not find expected ':'") {
            return (
                "a line that is neither `key: value` nor a `- ` list item: add `: ` after the key, or join it to the line above"
                    .to_owned(),
                opened,
            );
        }
        if problem.starts_with("block sequence entries are not allowed") {
            return (
                "a `- ` list item where a value was expected: start the list on a new line, indented under its key"
                    .to_owned(),
                None,
            );
        }
        let mut m = problem.to_owned();
        if !context.is_empty() {
            m.push_str(", ");
            m.push_str(context);
        }
        (m, None)
    }
}

fn parse_mark(s: &str) -> Option<(usize, usize)> {
    let (line, rest) = s.split_once(" column ")?;
    let col: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, col.parse::<usize>().ok()?.max(1)))
}

/// The character at a 1-based line and column.
fn char_at(text: &str, location: &Location) -> Option<char> {
    let line = text.lines().nth(location.line?.checked_sub(1)?)?;
    line.chars().nth(location.column?.checked_sub(1)?)
}

/// A second document in a workflow file, starting on `line`.
fn second_document_error(line: usize) -> Error {
    Error::new(
        ErrorKind::Syntax,
        "a second YAML document (`---`): a file holds one workflow; remove the second document",
    )
    .with_location(at(line, 1))
}

/// The 1-based line of a second `---` document marker, if any.
fn second_document(text: &str) -> Option<usize> {
    let mut content = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t.starts_with("---") && content {
            return Some(i + 1);
        }
        let t = t.trim_start();
        if !t.is_empty() && !t.starts_with('#') && !t.starts_with("---") && !t.starts_with('%') {
            content = true;
        }
    }
    None
}

/// In YAML, a value that starts with `{` is a map, so an unquoted
/// `{{ expr }}` never reaches the template engine. Whatever the parser made
/// of it, the fix is to quote it.
fn unquoted_expression(text: &str, message: String, location: Location) -> (String, Location) {
    let Some(line_no) = location.line else {
        return (message, location);
    };
    let Some(line) = text.lines().nth(line_no.saturating_sub(1)) else {
        return (message, location);
    };
    let Some(start) = line.find("{{") else {
        return (message, location);
    };
    let before = line[..start].trim_end();
    let starts_value =
        before.is_empty() || before.ends_with([':', '-', '[', ',', '{']) || before.ends_with("- ");
    if !starts_value || before.ends_with(['"', '\'']) {
        return (message, location);
    }
    let expr = match line[start..].find("}}") {
        Some(end) => &line[start..start + end + 2],
        None => "{{ ... }}",
    };
    let column = line[..start].chars().count() + 1;
    (
        format!("the expression `{expr}` must be quoted: write \"{expr}\" (in YAML an unquoted `{{` starts a map)"),
        Location {
            file: location.file,
            line: Some(line_no),
            column: Some(column),
        },
    )
}

fn explain_json_syntax(raw: &str, text: &str, location: &Location) -> (String, Option<Location>) {
    let m = match raw {
        "trailing comma" => {
            return (
                "a comma before a closing bracket: remove it".to_owned(),
                comma_before(text, location),
            )
        }
        "EOF while parsing an object" => "the text ends inside a `{` map: add the missing `}`",
        "EOF while parsing a list" => "the text ends inside a `[` list: add the missing `]`",
        "EOF while parsing a string" => "a string is not closed: add the closing `\"`",
        "EOF while parsing a value" => "the text ends where a value was expected",
        "expected `,` or `}`" => {
            "expected `,` or `}`: add a comma between entries, or close the map"
        }
        "expected `,` or `]`" => {
            "expected `,` or `]`: add a comma between items, or close the list"
        }
        "key must be a string" => "keys must be in double quotes, as in `\"tasks\"`",
        "expected value" => {
            "expected a value: strings need double quotes, and JSON has no comments"
        }
        "trailing characters" => {
            "text after the end of the workflow: a file holds one workflow; remove it"
        }
        "expected `:`" => "expected `:` after a key",
        _ if raw.starts_with("control character") => {
            "a line break or control character inside a string: write `\\n` instead"
        }
        _ if raw.starts_with("invalid escape") => "unknown `\\` escape in a string: write `\\\\`",
        other => other,
    };
    (m.to_owned(), None)
}

/// The position of the comma that `location` (just after it) complains
/// about.
fn comma_before(text: &str, location: &Location) -> Option<Location> {
    let (line, column) = (location.line?, location.column?);
    let lines: Vec<&str> = text.lines().collect();
    let mut l = line.checked_sub(1)?;
    let mut upto = column.saturating_sub(1);
    loop {
        let chars: Vec<char> = lines.get(l)?.chars().collect();
        let upto_c = upto.min(chars.len());
        if let Some(i) = chars[..upto_c].iter().rposition(|c| !c.is_whitespace()) {
            return (chars[i] == ',').then(|| at(l + 1, i + 1));
        }
        l = l.checked_sub(1)?;
        upto = usize::MAX;
    }
}

fn strip_yaml_path(message: &str) -> String {
    // serde_yaml_ng puts its own path in front (`tasks.a.join: invalid
    // value ...`); ours is carried separately.
    if let Some((head, rest)) = message.split_once(": ") {
        if !head.is_empty()
            && !head.contains(char::is_whitespace)
            && !head.contains('`')
            && !rest.is_empty()
        {
            return rest.to_owned();
        }
    }
    message.to_owned()
}

/// Removes the " at line X column Y" suffix that serde backends append, since
/// the location is carried separately.
fn strip_position(message: &str) -> String {
    let cut = [" at line ", " at position "]
        .iter()
        .filter_map(|p| message.rfind(p))
        .min();
    let mut m = match cut {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    };
    if let Some(rest) = m.strip_prefix(": ") {
        m = rest.to_owned();
    }
    m
}

/// Names in backticks, in order.
fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// Keys people carry over from other engines, and what weft calls them.
const KEY_SYNONYMS: [(&str, &str); 26] = [
    ("parameters", "input"),
    ("params", "input"),
    ("inputs", "input"),
    ("args", "input"),
    ("arguments", "input"),
    ("variables", "vars"),
    ("steps", "tasks"),
    ("jobs", "tasks"),
    ("outputs", "output"),
    ("if", "when"),
    ("condition", "when"),
    ("then", "do"),
    ("goto", "do"),
    ("on-success", "next"),
    ("on_success", "next"),
    ("on-failure", "next"),
    ("on_failure", "next"),
    ("on-complete", "next"),
    ("on_complete", "next"),
    ("attempts", "count"),
    ("retries", "count"),
    ("parallel", "concurrency"),
    ("parallelism", "concurrency"),
    ("with_items", "with"),
    ("wait", "delay"),
    ("interval", "delay"),
];

fn suggest_key<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    KEY_SYNONYMS
        .iter()
        .find(|(from, to)| *from == key && candidates.contains(to))
        .and_then(|(_, to)| candidates.iter().find(|c| *c == to).copied())
        .or_else(|| crate::plan::suggest(key, candidates.iter().copied()))
}

fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => format!(
            "{} or `{last}`",
            init.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// How to write the value at the end of `path`, for type errors.
fn shape_hint(path: &str) -> Option<&'static str> {
    let (task, field) = split_path(path);
    let field = field.unwrap_or_default();
    let last = field
        .rsplit(['.', '['])
        .find(|s| !s.ends_with(']'))
        .unwrap_or("");
    Some(match (task.is_some(), field.as_str(), last) {
        (false, "tasks", _) => "write `tasks` as a map of task name to task",
        (false, "input", _) => "write `input` as a list: `[name, {name: default}]`",
        (true, "input", _) => "write `input` as a map: `{name: value}`",
        (true, "next", _) => "write `next` as a list of transitions: `[{when: ..., do: [task]}]`",
        (true, f, "next") if f.starts_with("next[") => {
            "write each transition as a map, such as `- do: [task]`"
        }
        (true, _, "do") => "write `do` as a list of task names, or as a string `\"a, b\"`",
        (true, "with", _) => {
            "write `with: \"{{ list }}\"`, or `with: {items: \"{{ list }}\", concurrency: 2}`"
        }
        (true, "retry", _) => "write `retry` as a map, such as `{count: 3, delay: 1}`",
        (_, _, "publish" | "vars" | "output") => {
            "write a list of `- name: value` entries, or a map"
        }
        _ => return None,
    })
}

/// Rewords serde's type and key errors; returns the message and, when the
/// source map knows a better place (the key itself), that place.
fn explain_shape(
    message: &str,
    path: &str,
    source: Option<&SourceMap>,
) -> (String, Option<Location>) {
    let place = |p: &str| source.and_then(|s| s.exact(p));
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = backticked(rest);
        let Some((key, expected)) = names.split_first() else {
            return (message.to_owned(), None);
        };
        let in_task = expected.contains(&"action");
        let m = match suggest_key(key, expected) {
            _ if in_task && matches!(*key, "do" | "when" | "publish") => format!(
                "unknown key `{key}` in a task: `{key}` belongs in a transition, as in `next: [{{{key}: ...}}]`"
            ),
            Some(s) => format!("unknown key `{key}`: did you mean `{s}`?"),
            None if expected.is_empty() => format!("unknown key `{key}`: remove it"),
            None => format!(
                "unknown key `{key}`: remove it, or use {}",
                or_list(expected)
            ),
        };
        return (m, place(path));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names = backticked(rest);
        if let Some((value, expected)) = names.split_first() {
            let m = match crate::plan::suggest(value, expected.iter().copied()) {
                Some(s) => format!("unknown value `{value}`: did you mean `{s}`?"),
                None => format!("unknown value `{value}`: use {}", or_list(expected)),
            };
            return (m, None);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let key = backticked(rest).first().copied().unwrap_or("");
        let what = match key {
            "tasks" => "add a `tasks` map with at least one task",
            "count" => "add `count`, the number of retries",
            "items" => "add `items`, such as `items: \"{{ parameters.hosts }}\"`",
            _ => "add it",
        };
        return (format!("missing key `{key}`: {what}"), place(path));
    }
    if let Some(key) = message
        .strip_prefix(crate::def::ONE_ENTRY_PREFIX)
        .and_then(|rest| backticked(rest).first().copied())
    {
        let moved = place(&join_key(path, key));
        return (message.to_owned(), moved);
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.split_once(", expected ") {
                let found = describe_unexpected(found);
                let expected = expected.replace("a sequence", "a list");
                let mut m = format!("expected {expected}, found {found}");
                if prefix == "invalid type: " {
                    if let Some(h) = shape_hint(path) {
                        m = format!("{m}: {h}");
                    }
                }
                return (m, None);
            }
        }
    }
    (message.to_owned(), None)
}

/// serde's description of a value (`integer \`5\``, `sequence`) in words.
fn describe_unexpected(found: &str) -> String {
    let tick = || backticked(found).first().map(|s| (*s).to_owned());
    if found == "sequence" {
        "a list".to_owned()
    } else if found == "map" {
        "a map".to_owned()
    } else if found == "unit value" {
        "an empty value".to_owned()
    } else if found.starts_with("integer") || found.starts_with("floating point") {
        tick().unwrap_or_else(|| found.to_owned())
    } else if found.starts_with("boolean") {
        tick()
            .map(|b| format!("`{b}`"))
            .unwrap_or_else(|| found.to_owned())
    } else if let Some(s) = found.strip_prefix("string ") {
        format!("the text {s}")
    } else {
        found.to_owned()
    }
}

fn shape_error(kind: ErrorKind, message: String, path: &str, location: Location) -> Error {
    let mut e = Error::new(kind, message).with_location(location);
    if path != "." && !path.is_empty() {
        let (task, field) = split_path(path);
        if let Some(t) = task {
            e = e.with_task(t);
        }
        if let Some(f) = field {
            e = e.with_field(f);
        }
    }
    e
}

/// Splits `tasks.NAME.rest` (or `tasks["NAME"].rest`) into task `NAME` and
/// field `rest`; other paths are a field alone.
pub(crate) fn split_path(path: &str) -> (Option<String>, Option<String>) {
    let (task, rest) = if let Some(rest) = path.strip_prefix("tasks.") {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        (rest[..end].to_owned(), &rest[end..])
    } else if let Some(quoted) = path.strip_prefix("tasks[\"") {
        match unquote(quoted) {
            Some((name, rest)) => (name, rest.strip_prefix(']').unwrap_or(rest)),
            None => return (None, Some(path.to_owned())),
        }
    } else {
        return (None, (!path.is_empty()).then(|| path.to_owned()));
    };
    let field = rest.trim_start_matches('.');
    let field = (!field.is_empty()).then(|| field.to_owned());
    (Some(task), field)
}

/// A field path cut to a length that fits in a message: the paths of
/// deeply nested values (or of long keys) keep their start and their end.
pub(crate) fn shorten_field(field: &str) -> String {
    const HEAD: usize = 60;
    const TAIL: usize = 40;
    let count = field.chars().count();
    if count <= HEAD + TAIL + 1 {
        return field.to_owned();
    }
    let head: String = field.chars().take(HEAD).collect();
    let tail: String = field.chars().skip(count - TAIL).collect();
    format!("{head}…{tail}")
}

/// Reads a `"`-terminated string with `\"` and `\\` escapes (the opening
/// quote already consumed); returns it and the text after the closing quote.
pub(crate) fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

fn last_segment(path: &str) -> String {
    if path.ends_with("\"]") {
        if let Some(i) = path.rfind("[\"") {
            if let Some((name, _)) = unquote(&path[i + 2..]) {
                return name;
            }
        }
    }
    path.rsplit('.').next().unwrap_or(path).to_owned()
}

/// Appends a key to a path: `parent.key`, or `parent["key"]` when the key
/// itself holds `.`, brackets or quotes (task names may hold dots).
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && !key.contains(['.', '[', ']', '"', '\\']);
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => {
            // By hand: this runs for every key of every workflow compiled.
            let mut s = String::with_capacity(parent.len() + 1 + key.len());
            s.push_str(parent);
            s.push('.');
            s.push_str(key);
            s
        }
        (_, false) => format!(
            "{parent}[\"{}\"]",
            key.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    }
}

impl<'de> Deserialize<'de> for Workflow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        WorkflowDef::deserialize(d).map(Workflow::from_def)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_task_and_field() {
        let split = |p: &str| split_path(p);
        assert_eq!(
            split("tasks.build.next[0].do"),
            (Some("build".into()), Some("next[0].do".into()))
        );
        assert_eq!(split("tasks.build"), (Some("build".into()), None));
        assert_eq!(
            split("tasks.build[2]"),
            (Some("build".into()), Some("[2]".into()))
        );
        assert_eq!(split("input[2]"), (None, Some("input[2]".into())));
        assert_eq!(split("tasks"), (None, Some("tasks".into())));
        assert_eq!(split(""), (None, None));
    }

    #[test]
    fn task_names_with_dots_and_quotes_survive_a_path() {
        for name in ["deploy.eu", "a[1]", "say \"hi\"", "back\\slash", "plain"] {
            let path = format!("{}.input.message", task_path(name));
            assert_eq!(
                split_path(&path),
                (Some(name.to_owned()), Some("input.message".to_owned())),
                "{path}"
            );
            assert_eq!(last_segment(&task_path(name)), name);
        }
        assert_eq!(task_path("deploy.eu"), "tasks[\"deploy.eu\"]");
        assert_eq!(task_path("build"), "tasks.build");
    }

    #[test]
    fn libyaml_messages_are_taken_apart() {
        let raw = "did not find expected ',' or ']' at line 8 column 7, while parsing a flow sequence at line 7 column 13";
        let e = LibyamlError::parse(raw).expect("a libyaml message");
        assert_eq!(e.problem, "did not find expected ',' or ']'");
        assert_eq!(e.context, Some("while parsing a flow sequence"));
        assert_eq!(e.context_mark, Some((7, 13)));
        let (message, moved) = e.explain("", &at(8, 7));
        assert!(message.contains("not closed"), "{message}");
        assert_eq!(moved.and_then(|l| l.line), Some(7));

        let e = LibyamlError::parse(
            "mapping values are not allowed in this context at line 4 column 12",
        )
        .expect("a libyaml message");
        assert_eq!(e.context, None);
        assert!(LibyamlError::parse("tasks.a: invalid type: map, expected a string").is_none());
    }

    #[test]
    fn serde_messages_lose_their_own_path_and_position() {
        assert_eq!(
            strip_yaml_path(&strip_position(
                "tasks.a.join: invalid value: integer `0`, expected `all` at line 3 column 9"
            )),
            "invalid value: integer `0`, expected `all`"
        );
        assert_eq!(
            strip_yaml_path("invalid type: sequence, expected a map"),
            "invalid type: sequence, expected a map"
        );
        assert_eq!(describe_unexpected("integer `5`"), "5");
        assert_eq!(describe_unexpected("string \"x\""), "the text \"x\"");
        assert_eq!(describe_unexpected("boolean `true`"), "`true`");
        assert_eq!(describe_unexpected("unit value"), "an empty value");
    }

    #[test]
    fn helpers_find_commas_documents_and_unquoted_expressions() {
        let text = "{\n  \"a\": 1,\n}\n";
        assert_eq!(comma_before(text, &at(3, 1)), Some(at(2, 9)));
        assert_eq!(comma_before("{\"a\": 1 }", &at(1, 9)), None);

        assert_eq!(second_document("# c\n---\ntasks: {}\n---\nx: 1\n"), Some(4));
        assert_eq!(second_document("---\ntasks: {}\n"), None);

        let (m, loc) = unquoted_expression(
            "tasks:\n  a:\n    input: {x: {{ y }}}\n",
            "whatever".to_owned(),
            at(3, 17),
        );
        assert!(m.contains("must be quoted"), "{m}");
        assert_eq!(loc.column, Some(16));
        let (m, _) = unquoted_expression("a: \"{{ y }}\"\n", "kept".to_owned(), at(1, 4));
        assert_eq!(m, "kept");
        let (m, _) = unquoted_expression("a: hi {{ y }}\n", "kept".to_owned(), at(1, 4));
        assert_eq!(m, "kept", "text before the braces makes a plain scalar");
    }

    #[test]
    fn blank_text_is_recognised() {
        assert!(is_blank(""));
        assert!(is_blank("  \n# only a comment\n---\n"));
        assert!(!is_blank("tasks: {}"));
    }
}
