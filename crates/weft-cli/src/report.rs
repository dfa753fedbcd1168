//! Loading a workflow file for a command, and writing its errors for people.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_core::{Error, Plan, Workflow};
use weft_runtime::{Executor, ExecutorBuilder};

/// Loads `file` and compiles it against the built-in actions.
pub(crate) fn compile(file: &Path) -> Result<Plan, Error> {
    Workflow::from_file(file)?.compile(&Executor::new())
}

/// `builder` (the built-in actions, and those of `--pack`) with each
/// workflow file in `workflows` (`NAME.yaml`, `NAME.yml` or `NAME.json`) as
/// the action `NAME`, for tasks to run as a sub-workflow, and the command
/// line's `--limit`s. The workflows may use the actions already on
/// `builder`, and not take their names.
///
/// # Errors
///
/// The lines to print: a directory that cannot be read, a name taken by an
/// action or by two files, and every mistake in those files.
pub(crate) fn executor_builder_on(
    builder: ExecutorBuilder,
    workflows: Option<&Path>,
) -> Result<ExecutorBuilder, Vec<String>> {
    let mut builder = builder.limits(crate::limits::run_limits());
    for (name, plan) in workflow_plans_on(&builder, workflows)? {
        builder = builder.workflow(name, plan);
    }
    Ok(builder)
}

/// The workflow files in `workflows`, each compiled against the built-in
/// actions and the other workflows, with its name; none without a
/// directory.
///
/// # Errors
///
/// As for [`executor_builder_on`].
pub(crate) fn workflow_plans(workflows: Option<&Path>) -> Result<Vec<(String, Plan)>, Vec<String>> {
    workflow_plans_on(&Executor::builder(), workflows)
}

/// The workflow files in `workflows`, each compiled against the actions of
/// `builder` and the other workflows, with its name.
fn workflow_plans_on(
    builder: &ExecutorBuilder,
    workflows: Option<&Path>,
) -> Result<Vec<(String, Plan)>, Vec<String>> {
    let Some(dir) = workflows else {
        return Ok(Vec::new());
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![format!(
            "{}: cannot read the --workflows directory: {e}",
            dir.display()
        )]
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    files.sort();
    let builtins: Vec<String> = weft_core::ActionCatalog::action_names(builder);
    let mut names: Vec<String> = builtins.clone();
    let mut errors = Vec::new();
    let mut named: Vec<(String, PathBuf)> = Vec::new();
    for file in files {
        let Some(name) = file.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if builtins.contains(&name) {
            errors.push(format!(
                "{}: a workflow may not be named `{name}`: it is a built-in action (or a pack's); rename the file",
                file.display()
            ));
        } else if let Some((_, other)) = named.iter().find(|(n, _)| *n == name) {
            errors.push(format!(
                "{}: the workflow `{name}` is also defined by {}: keep one",
                file.display(),
                other.display()
            ));
        } else {
            names.push(name.clone());
            named.push((name, file));
        }
    }
    // Workflows may call each other (or themselves): each compiles against
    // every name, and the executor checks again when a run starts.
    let mut plans = Vec::new();
    for (name, file) in named {
        match Workflow::from_file(&file).and_then(|w| w.compile(&names)) {
            Ok(plan) => plans.push((name, plan)),
            Err(e) => errors.extend(error_lines(&e, &file)),
        }
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(errors)
    }
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
    let mut location = e.location().clone();
    if location.file.is_none() {
        location.file = Some(Arc::new(PathBuf::from(file)));
    }
    let mut one = Error::new(e.kind(), e.message()).with_location(location);
    if let Some(task) = e.task() {
        one = one.with_task(task);
    }
    if let Some(field) = e.field() {
        one = one.with_field(field);
    }
    crate::limits::cli_words(&one.to_string())
}
