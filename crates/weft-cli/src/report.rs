//! Loading a workflow file for a command, and writing its errors for people.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_core::{Error, Location, Plan, Workflow};
use weft_runtime::Executor;

/// Loads `file` and compiles it against the built-in actions.
pub(crate) fn compile(file: &Path) -> Result<Plan, Error> {
    Workflow::from_file(file)?.compile(&Executor::new())
}

/// One line per error in `error` (the first and every other one kept with
/// it), each starting with where it is: `file:line:col`, or at least the
/// file; then, when more were found than kept, a line that counts them.
pub(crate) fn error_lines(error: &Error, file: &Path) -> Vec<String> {
    let mut lines: Vec<String> = error.all().map(|e| error_line(e, file)).collect();
    let omitted = error.omitted();
    if omitted > 0 {
        lines.push(format!(
            "{}: {omitted} more error{} not shown: fix the ones above first",
            file.display(),
            if omitted == 1 { "" } else { "s" }
        ));
    }
    lines
}

fn error_line(e: &Error, file: &Path) -> String {
    // Rebuilt without `others`, so each line says one thing and none ends in
    // "(and N more)"; the file is filled in where the library left it out
    // (input errors, for example, are about a run, not a place in the text).
    let location = e.location();
    let location = Location {
        file: location
            .file
            .clone()
            .or_else(|| Some(Arc::new(PathBuf::from(file)))),
        line: location.line,
        column: location.column,
    };
    let mut one = Error::new(e.kind(), e.message()).with_location(location);
    if let Some(task) = e.task() {
        one = one.with_task(task);
    }
    if let Some(field) = e.field() {
        one = one.with_field(field);
    }
    one.to_string()
}
