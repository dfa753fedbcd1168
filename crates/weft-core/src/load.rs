//! Loading: YAML or JSON text into a [`Workflow`], with positions kept for
//! error messages.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::def::WorkflowDef;
use crate::diag::path::{at, line_column, offset_of};
use crate::diag::{json, yaml};
use crate::error::{Error, ErrorKind, Location, Result};
use crate::limits;
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
    pub const MAX_FILE_BYTES: u64 = limits::MAX_FILE_BYTES;

    /// How deeply lists and maps may nest in a workflow, counted from the
    /// top-level map (which is level 1), aliases included. The same limit
    /// holds for [`json_from_str`](crate::json_from_str). It is below the
    /// 128 levels at which serde's parsers stop, so every format reports
    /// it the same way.
    pub const MAX_DEPTH: usize = limits::MAX_DEPTH;

    /// How much YAML aliases (`*name`) may copy into a document, in all:
    /// each copied value counts one, plus the bytes of its text. One MiB;
    /// a "billion laughs" file is stopped at the alias that crosses it.
    pub const MAX_ALIAS_EXPANSION: usize = limits::MAX_ALIAS_EXPANSION;

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
                let line = yaml::second_document(text).unwrap_or(line);
                return Err(located(yaml::second_document_error(line)));
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
    let cut_at = line_column(text, cut);
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
    let (message, moved) = match yaml::LibyamlError::parse(&raw) {
        Some(syntax) => syntax.explain(text, &location),
        None => (message.to_owned(), None),
    };
    Error::new(ErrorKind::Syntax, message).with_location(moved.unwrap_or(location))
}

fn parse_yaml(text: &str, source: Option<&SourceMap>) -> Result<WorkflowDef> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de)
        .map_err(|e| yaml::serde_error(text, e, &|p| source.and_then(|s| s.exact(p))))
}

fn parse_json(text: &str, source: Option<&SourceMap>) -> Result<WorkflowDef> {
    let place = |p: &str| source.and_then(|s| s.exact(p));
    let mut de = serde_json::Deserializer::from_str(text);
    let def: WorkflowDef = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = crate::diag::shape::path_string(e.path());
        json::serde_error(text, None, &path, e.into_inner(), &place)
    })?;
    de.end()
        .map_err(|e| json::serde_error(text, Some(ErrorKind::Syntax), "", e, &place))?;
    Ok(def)
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
    fn blank_text_is_recognised() {
        assert!(is_blank(""));
        assert!(is_blank("  \n# only a comment\n---\n"));
        assert!(!is_blank("tasks: {}"));
    }
}
