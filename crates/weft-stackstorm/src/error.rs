//! The crate's one error type: what is wrong with a pack, and where.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_core::Location;

/// What kind of mistake a [`PackError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PackErrorKind {
    /// A file or directory could not be read.
    Io,
    /// A file is not valid YAML.
    Syntax,
    /// A metadata file is valid YAML but not valid metadata: a wrong type,
    /// an unknown or missing key, a bad value.
    Metadata,
    /// Two actions (or two packs) have the same name.
    Duplicate,
    /// An action's entry point is missing or outside its pack.
    EntryPoint,
    /// The pack's config cannot be used.
    Config,
    /// A loading limit was crossed (file size, nesting, aliases).
    Limit,
}

/// Something wrong with a pack, located: the file, and the line and column
/// when they are known. When several mistakes were found at once, the
/// first is this error and the rest are in [`PackError::others`].
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("pack.yaml"), "name: demo\nversion: 1.0.0\n")?;
/// std::fs::create_dir(dir.path().join("actions"))?;
/// std::fs::write(
///     dir.path().join("actions/hi.yaml"),
///     "name: hi\nrunner_type: local-shell-cmd\nparamters: {}\n",
/// )?;
/// let err = weft_stackstorm::Pack::load(dir.path()).unwrap_err();
/// assert_eq!(err.location().line, Some(3));
/// assert!(err.to_string().contains("unknown key `paramters`: did you mean `parameters`?"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PackError {
    inner: Box<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    kind: PackErrorKind,
    message: String,
    location: Location,
    field: Option<String>,
    others: Vec<PackError>,
}

impl PackError {
    /// At most this many errors are kept when a load's errors are combined
    /// into one; the rest are dropped.
    pub const MAX_KEPT: usize = 50;

    pub(crate) fn new(kind: PackErrorKind, message: impl Into<String>) -> PackError {
        PackError {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                location: Location::default(),
                field: None,
                others: Vec::new(),
            }),
        }
    }

    /// An error in `file`, at a line and column if known.
    pub(crate) fn at(
        kind: PackErrorKind,
        file: &Arc<PathBuf>,
        pos: Option<(u32, u32)>,
        message: impl Into<String>,
    ) -> PackError {
        let mut e = PackError::new(kind, message);
        e.inner.location = Location::new(
            Some(file.clone()),
            pos.map(|p| p.0 as usize),
            pos.map(|p| p.1 as usize),
        );
        e
    }

    /// An error reading `path`.
    pub(crate) fn io(path: &Path, what: &str, e: &std::io::Error) -> PackError {
        PackError::at(
            PackErrorKind::Io,
            &Arc::new(path.to_path_buf()),
            None,
            format!("cannot read {what}: {e}"),
        )
    }

    #[must_use]
    pub(crate) fn with_field(mut self, field: impl Into<String>) -> PackError {
        self.inner.field = Some(field.into());
        self
    }

    /// The first of `errors`, with the rest attached (at most
    /// [`PackError::MAX_KEPT`]); `None` when there are none.
    pub(crate) fn combine(errors: Vec<PackError>) -> Option<PackError> {
        let mut iter = errors.into_iter();
        let mut first = iter.next()?;
        for e in iter.take(Self::MAX_KEPT - 1) {
            first.inner.others.push(e);
        }
        Some(first)
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> PackErrorKind {
        self.inner.kind
    }

    /// The message alone, without the location.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The file, line and column.
    pub fn location(&self) -> &Location {
        &self.inner.location
    }

    /// The metadata field the mistake is in, if any (for example
    /// `parameters.count.type`).
    pub fn field(&self) -> Option<&str> {
        self.inner.field.as_deref()
    }

    /// Further errors found together with this one.
    pub fn others(&self) -> &[PackError] {
        &self.inner.others
    }

    /// This error followed by [`PackError::others`].
    pub fn all(&self) -> impl Iterator<Item = &PackError> {
        std::iter::once(self).chain(self.inner.others.iter())
    }

    fn label(&self) -> &'static str {
        match self.inner.kind {
            PackErrorKind::Io => "cannot read pack",
            PackErrorKind::Syntax => "syntax error",
            PackErrorKind::Metadata => "invalid metadata",
            PackErrorKind::Duplicate => "duplicate",
            PackErrorKind::EntryPoint => "invalid entry point",
            PackErrorKind::Config => "invalid pack config",
            PackErrorKind::Limit => "limit exceeded",
        }
    }

    /// One line for this error alone, without "(and N more)".
    pub fn line_text(&self) -> String {
        let mut s = String::new();
        if !self.inner.location.is_empty() {
            s.push_str(&self.inner.location.to_string());
            s.push_str(": ");
        }
        s.push_str(self.label());
        if let Some(field) = &self.inner.field {
            s.push_str(" in `");
            s.push_str(field);
            s.push('`');
        }
        s.push_str(": ");
        s.push_str(&self.inner.message);
        s
    }
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line_text())?;
        let more = self.inner.others.len();
        if more > 0 {
            write!(f, " (and {more} more)")?;
        }
        Ok(())
    }
}

impl std::error::Error for PackError {}
