//! The one error type of the language crate.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where in the workflow text something is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The file the text came from, if it came from a file.
    pub file: Option<Arc<PathBuf>>,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 1-based column, if known.
    pub column: Option<usize>,
}

impl Location {
    /// A location: the file the text came from (if any), and a 1-based
    /// line and column (if known).
    pub fn new(file: Option<Arc<PathBuf>>, line: Option<usize>, column: Option<usize>) -> Location {
        Location { file, line, column }
    }

    /// True when neither a file nor a position is known.
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.line.is_none()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.as_ref().map(|p| p.display().to_string());
        match (file, self.line, self.column) {
            (Some(file), Some(l), Some(c)) => write!(f, "{file}:{l}:{c}"),
            (Some(file), Some(l), None) => write!(f, "{file}:{l}"),
            (Some(file), None, _) => write!(f, "{file}"),
            (None, Some(l), Some(c)) => write!(f, "line {l}:{c}"),
            (None, Some(l), None) => write!(f, "line {l}"),
            (None, None, _) => Ok(()),
        }
    }
}

/// What kind of mistake an [`Error`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Io,
    /// The text is not valid YAML or JSON.
    Syntax,
    /// The text is valid YAML/JSON but does not have the shape of a workflow
    /// (wrong type, unknown key, missing key).
    Schema,
    /// The workflow is well formed but its parts do not fit together
    /// (unknown task, impossible join, unknown action, ...).
    Validation,
    /// A `{{ }}` expression does not parse.
    TemplateSyntax,
    /// An expression failed while it was evaluated.
    Evaluation,
    /// Inputs given to a run do not match the workflow's `input` section.
    Input,
    /// Context state could not be exported or imported.
    State,
    /// The text goes beyond a limit of loading: too large, nested too
    /// deeply, or aliases that expand too far (see `docs/limits.md`).
    Limit,
}

impl ErrorKind {
    fn label(self) -> &'static str {
        match self {
            ErrorKind::Io => "cannot read workflow",
            ErrorKind::Syntax => "syntax error",
            ErrorKind::Schema => "invalid workflow",
            ErrorKind::Validation => "invalid workflow",
            ErrorKind::TemplateSyntax => "template syntax error",
            ErrorKind::Evaluation => "expression error",
            ErrorKind::Input => "invalid input",
            ErrorKind::State => "invalid context state",
            ErrorKind::Limit => "limit exceeded",
        }
    }
}

/// An error from loading, compiling or evaluating a workflow.
///
/// It names where the mistake is (file, line, column, task and field, as far
/// as they are known) and what it is. When several mistakes were found at
/// once (compiling reports all of them), the first is this error and the rest
/// are in [`Error::others`].
#[derive(Debug, Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    location: Location,
    task: Option<String>,
    field: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    others: Vec<Error>,
    /// Errors found with this one but not kept (beyond [`Error::MAX_KEPT`]).
    omitted: usize,
    /// The text of the field the error is in, and the byte of it the
    /// error is at, so that a compile can point at the exact column.
    text_offset: Option<(Arc<str>, usize)>,
}

impl Error {
    /// A new error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                location: Location::default(),
                task: None,
                field: None,
                source: None,
                others: Vec::new(),
                omitted: 0,
                text_offset: None,
            }),
        }
    }

    /// Records that the error is at byte `offset` of `text`, the value of
    /// the field it names.
    #[must_use]
    pub(crate) fn with_text_offset(mut self, text: &str, offset: usize) -> Error {
        self.inner.text_offset = Some((Arc::from(text), offset));
        self
    }

    /// The field's text and the byte of it the error is at, if known.
    pub(crate) fn text_offset(&self) -> Option<(&str, usize)> {
        self.inner.text_offset.as_ref().map(|(t, o)| (&**t, *o))
    }

    /// Sets the task the error concerns.
    #[must_use]
    pub fn with_task(mut self, task: impl Into<String>) -> Error {
        self.inner.task = Some(task.into());
        self
    }

    /// Sets the field the error concerns (a path such as `next[0].do`).
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Error {
        self.inner.field = Some(field.into());
        self
    }

    /// Sets the location in the text.
    #[must_use]
    pub fn with_location(mut self, location: Location) -> Error {
        self.inner.location = location;
        self
    }

    /// Sets the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// How many errors a combined error keeps: the first and the next
    /// `MAX_KEPT - 1` in [`Error::others`]; the rest are only counted
    /// ([`Error::omitted`]). A file with thousands of mistakes is reported
    /// in time linear in their number, and stays readable.
    pub const MAX_KEPT: usize = 100;

    /// Combines several errors into one: the first, with the rest attached.
    ///
    /// At most [`Error::MAX_KEPT`] errors are kept in all; the others are
    /// counted in [`Error::omitted`]. Returns `None` when `errors` is empty.
    pub fn combine(errors: Vec<Error>) -> Option<Error> {
        let mut iter = errors.into_iter();
        let mut first = iter.next()?;
        let mut omitted = first.inner.omitted;
        for e in iter {
            omitted += e.inner.omitted;
            if first.inner.others.len() + 1 < Error::MAX_KEPT {
                let mut e = e;
                e.inner.omitted = 0;
                first.inner.others.push(e);
            } else {
                omitted += 1;
            }
        }
        first.inner.omitted = omitted;
        Some(first)
    }

    /// Adds `n` to the count of errors found but not kept.
    pub(crate) fn add_omitted(&mut self, n: usize) {
        self.inner.omitted += n;
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message alone, without location.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Where in the text the mistake is.
    pub fn location(&self) -> &Location {
        &self.inner.location
    }

    /// 1-based line, if known.
    pub fn line(&self) -> Option<usize> {
        self.inner.location.line
    }

    /// 1-based column, if known.
    pub fn column(&self) -> Option<usize> {
        self.inner.location.column
    }

    /// The task the mistake is in, if any.
    pub fn task(&self) -> Option<&str> {
        self.inner.task.as_deref()
    }

    /// The field the mistake is in, if any (for example `next[0].do`).
    pub fn field(&self) -> Option<&str> {
        self.inner.field.as_deref()
    }

    /// Further errors found together with this one.
    pub fn others(&self) -> &[Error] {
        &self.inner.others
    }

    /// How many further errors were found but not kept (see
    /// [`Error::MAX_KEPT`]).
    pub fn omitted(&self) -> usize {
        self.inner.omitted
    }

    /// This error followed by [`Error::others`].
    pub fn all(&self) -> impl Iterator<Item = &Error> {
        std::iter::once(self).chain(self.inner.others.iter())
    }

    pub(crate) fn set_location_if_missing(&mut self, location: Location) {
        if self.inner.location.line.is_none() {
            let file = self.inner.location.file.take().or(location.file.clone());
            self.inner.location = location;
            self.inner.location.file = file;
        } else if self.inner.location.file.is_none() {
            self.inner.location.file = location.file;
        }
    }

    pub(crate) fn set_file(&mut self, file: &Option<Arc<PathBuf>>) {
        if self.inner.location.file.is_none() {
            self.inner.location.file = file.clone();
        }
        for other in &mut self.inner.others {
            other.set_file(file);
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.inner.location.is_empty() {
            write!(f, "{}: ", self.inner.location)?;
        }
        write!(f, "{}", self.inner.kind.label())?;
        match (&self.inner.task, &self.inner.field) {
            (Some(t), Some(fl)) => write!(f, " in task `{t}`, field `{fl}`")?,
            (Some(t), None) => write!(f, " in task `{t}`")?,
            (None, Some(fl)) => write!(f, " in `{fl}`")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.inner.message)?;
        let more = self.inner.others.len() + self.inner.omitted;
        if more > 0 {
            write!(f, " (and {more} more)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
