//! Loading: YAML or JSON text into a [`Workflow`], with positions kept for
//! error messages.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::def::WorkflowDef;
use crate::error::{Error, ErrorKind, Location, Result};

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
    def: WorkflowDef,
    name: Option<String>,
    source: Option<Arc<SourceMap>>,
    file: Option<Arc<PathBuf>>,
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
            def,
            name: None,
            source: None,
            file: None,
        }
    }

    /// Parses YAML text.
    ///
    /// # Errors
    ///
    /// A syntax error, a value of the wrong type, an unknown or missing key,
    /// or a duplicate key; the error names line, column and the field.
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

    /// Reads and parses a file: JSON when its name ends in `.json`, YAML otherwise.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or its text is not a valid workflow (see
    /// [`Workflow::from_yaml_str`]); errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Workflow> {
        let path = path.as_ref();
        let file = Some(Arc::new(path.to_path_buf()));
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(ErrorKind::Io, format!("{e}"))
                .with_location(Location {
                    file: file.clone(),
                    line: None,
                    column: None,
                })
                .with_source(e)
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
        let result = match format {
            Format::Yaml => parse_yaml(text),
            Format::Json => parse_json(text),
        };
        let mut def = match result {
            Ok(def) => def,
            Err(mut e) => {
                e.set_file(&file);
                return Err(e);
            }
        };
        // Positions are a convenience for messages: text that the YAML
        // scanner cannot map (rare JSON corner cases) simply has none.
        let source = match SourceMap::build(text) {
            Ok(map) => Some(Arc::new(map)),
            Err(SourceMapError::Duplicate { path, line, column }) => {
                let (task, field) = split_path(&path);
                let mut e = Error::new(
                    ErrorKind::Schema,
                    format!(
                        "duplicate key `{}`: each key may appear once",
                        last_segment(&path)
                    ),
                )
                .with_location(Location {
                    file: file.clone(),
                    line: Some(line),
                    column: Some(column),
                });
                if let Some(t) = task {
                    e = e.with_task(t);
                }
                if let Some(f) = field {
                    e = e.with_field(f);
                }
                return Err(e);
            }
            Err(SourceMapError::Unreadable) => None,
        };
        if def.tasks.is_empty() {
            let loc = source
                .as_ref()
                .map(|s| s.location("tasks", &file))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Schema,
                "a workflow needs at least one task under `tasks`",
            )
            .with_field("tasks")
            .with_location(loc));
        }
        def.tasks.shrink_to_fit();
        Ok(Workflow {
            def,
            name: None,
            source,
            file,
        })
    }

    /// The definition.
    pub fn def(&self) -> &WorkflowDef {
        &self.def
    }

    /// Consumes the workflow, returning its definition.
    pub fn into_def(self) -> WorkflowDef {
        self.def
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

fn parse_yaml(text: &str) -> Result<WorkflowDef> {
    if text.trim().is_empty() {
        return Err(Error::new(
            ErrorKind::Schema,
            "the workflow is empty: it needs a `tasks` map",
        ));
    }
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner.location().map(|l| Location {
            file: None,
            line: Some(l.line()),
            column: Some(l.column()),
        });
        let message = strip_position(&inner.to_string());
        let kind = if is_yaml_syntax(&message) {
            ErrorKind::Syntax
        } else {
            ErrorKind::Schema
        };
        shape_error(kind, message, &path, location.unwrap_or_default()).with_source(inner)
    })
}

fn parse_json(text: &str) -> Result<WorkflowDef> {
    let json_error = |kind: Option<ErrorKind>, path: &str, inner: serde_json::Error| {
        let location = Location {
            file: None,
            line: Some(inner.line()),
            column: Some(inner.column()),
        };
        let kind = kind.unwrap_or(if inner.is_syntax() || inner.is_eof() {
            ErrorKind::Syntax
        } else {
            ErrorKind::Schema
        });
        let message = strip_position(&inner.to_string());
        shape_error(kind, message, path, location).with_source(inner)
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let def: WorkflowDef = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(None, &path, e.into_inner())
    })?;
    de.end()
        .map_err(|e| json_error(Some(ErrorKind::Syntax), "", e))?;
    Ok(def)
}

fn is_yaml_syntax(message: &str) -> bool {
    [
        "did not find",
        "found unexpected",
        "mapping values are not allowed",
        "found character",
        "could not find expected",
        "while parsing",
        "while scanning",
        "control characters",
    ]
    .iter()
    .any(|p| message.contains(p))
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

fn shape_error(kind: ErrorKind, message: String, path: &str, location: Location) -> Error {
    let message = hint(message);
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

fn hint(message: String) -> String {
    if message.starts_with("unknown field") {
        format!("{message}; remove it or fix its spelling")
    } else if message.starts_with("missing field `tasks`") {
        "missing field `tasks`: a workflow needs a `tasks` map".to_owned()
    } else {
        message
    }
}

/// Splits `tasks.NAME.rest` into task `NAME` and field `rest`; other paths
/// are a field alone.
pub(crate) fn split_path(path: &str) -> (Option<String>, Option<String>) {
    if let Some(rest) = path.strip_prefix("tasks.") {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let task = &rest[..end];
        let field = rest[end..].trim_start_matches('.');
        let field = (!field.is_empty()).then(|| field.to_owned());
        (Some(task.to_owned()), field)
    } else {
        (None, Some(path.to_owned()))
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// Positions of every key and list item in the text, by path.
#[derive(Debug, Default)]
pub(crate) struct SourceMap {
    positions: HashMap<String, (usize, usize)>,
}

enum SourceMapError {
    Duplicate {
        path: String,
        line: usize,
        column: usize,
    },
    Unreadable,
}

impl SourceMap {
    fn build(text: &str) -> std::result::Result<SourceMap, SourceMapError> {
        let mut builder = MapBuilder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Err(SourceMapError::Unreadable);
        }
        if let Some((path, line, column)) = builder.duplicate {
            return Err(SourceMapError::Duplicate { path, line, column });
        }
        Ok(SourceMap {
            positions: builder.positions,
        })
    }

    pub(crate) fn location(&self, path: &str, file: &Option<Arc<PathBuf>>) -> Location {
        let mut p = path;
        loop {
            if let Some(&(line, column)) = self.positions.get(p) {
                return Location {
                    file: file.clone(),
                    line: Some(line),
                    column: Some(column),
                };
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => {
                    return Location {
                        file: file.clone(),
                        line: None,
                        column: None,
                    }
                }
            }
        }
    }
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        seen: HashSet<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

#[derive(Default)]
struct MapBuilder {
    stack: Vec<Frame>,
    positions: HashMap<String, (usize, usize)>,
    duplicate: Option<(String, usize, usize)>,
}

fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl MapBuilder {
    /// Handles a node starting at `mark`; returns the path of the node when
    /// it is a value (not a key).
    fn node(&mut self, scalar: Option<&str>, mark: Marker) -> Option<String> {
        let pos = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { path, key, seen }) => match key {
                None => {
                    // A key. Complex (non-scalar) keys get no position.
                    let k = scalar.unwrap_or("?").to_owned();
                    let full = join_key(path, &k);
                    if !seen.insert(k.clone()) && self.duplicate.is_none() {
                        self.duplicate = Some((full.clone(), pos.0, pos.1));
                    }
                    self.positions.entry(full).or_insert(pos);
                    *key = Some(k);
                    None
                }
                Some(k) => Some(join_key(path, k)),
            },
            Some(Frame::Seq { path, index }) => {
                let full = format!("{path}[{index}]");
                self.positions.entry(full.clone()).or_insert(pos);
                Some(full)
            }
        }
    }

    fn value_done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for MapBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(s, ..) if self.node(Some(&s), mark).is_some() => self.value_done(),
            Event::Alias(_) if self.node(None, mark).is_some() => self.value_done(),
            Event::MappingStart(..) => {
                let path = self.node(None, mark).unwrap_or_default();
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    seen: HashSet::new(),
                });
            }
            Event::SequenceStart(..) => {
                let path = self.node(None, mark).unwrap_or_default();
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            _ => {}
        }
    }
}

impl<'de> Deserialize<'de> for Workflow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        WorkflowDef::deserialize(d).map(Workflow::from_def)
    }
}
