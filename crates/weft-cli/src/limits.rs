//! `--limit NAME=VALUE`: every limit of docs/limits.md that a library user
//! sets in code (`ExpressionLimits`, `Limits`), set from the command line,
//! and the library's messages told in the command line's words.

use std::sync::OnceLock;

use weft_core::ExpressionLimits;
use weft_runtime::{Limits, RunOutcome};

/// `--limit`, on the commands that compile or run workflows.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct LimitArgs {
    /// Set a limit (repeat for more): fuel, expr.max_value_bytes,
    /// max_depth, max_template_bytes, max_expressions (each expression);
    /// max_task_instances, max_retries, max_items, run.max_value_bytes,
    /// max_run_bytes, max_workflow_depth (each run). VALUE is a whole
    /// number; byte limits take KiB, MiB or GiB (16MiB). See docs/limits.md.
    #[arg(long = "limit", value_name = "NAME=VALUE", value_parser = parse_limit)]
    limit: Vec<Set>,
}

/// One `--limit`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Set {
    name: Name,
    value: u64,
}

/// A limit the command line sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Name {
    Fuel,
    ExprValueBytes,
    MaxDepth,
    MaxTemplateBytes,
    MaxExpressions,
    MaxTaskInstances,
    MaxRetries,
    MaxItems,
    RunValueBytes,
    MaxRunBytes,
    MaxWorkflowDepth,
}

/// Each limit: its group (`expr`, each expression; `run`, each run), its
/// name, the library setting it stands for, and whether it is a size in
/// bytes. A name is written alone, or after its group (`run.max_items`);
/// `max_value_bytes`, in both groups, needs its group.
const NAMES: [(&str, &str, Name, &str, bool); 11] = [
    ("expr", "fuel", Name::Fuel, "ExpressionLimits::fuel", false),
    (
        "expr",
        "max_value_bytes",
        Name::ExprValueBytes,
        "ExpressionLimits::max_value_bytes",
        true,
    ),
    (
        "expr",
        "max_depth",
        Name::MaxDepth,
        "ExpressionLimits::max_depth",
        false,
    ),
    (
        "expr",
        "max_template_bytes",
        Name::MaxTemplateBytes,
        "ExpressionLimits::max_template_bytes",
        true,
    ),
    (
        "expr",
        "max_expressions",
        Name::MaxExpressions,
        "ExpressionLimits::max_expressions",
        false,
    ),
    (
        "run",
        "max_task_instances",
        Name::MaxTaskInstances,
        "ExecutorBuilder::max_task_instances",
        false,
    ),
    (
        "run",
        "max_retries",
        Name::MaxRetries,
        "Limits::max_retries",
        false,
    ),
    (
        "run",
        "max_items",
        Name::MaxItems,
        "Limits::max_items",
        false,
    ),
    (
        "run",
        "max_value_bytes",
        Name::RunValueBytes,
        "Limits::max_value_bytes",
        true,
    ),
    (
        "run",
        "max_run_bytes",
        Name::MaxRunBytes,
        "Limits::max_run_bytes",
        true,
    ),
    (
        "run",
        "max_workflow_depth",
        Name::MaxWorkflowDepth,
        "Limits::max_workflow_depth",
        false,
    ),
];

/// The name of a limit as messages give it: alone where that is enough.
fn shown(group: &str, name: &str) -> String {
    if name == "max_value_bytes" {
        format!("{group}.{name}")
    } else {
        name.to_owned()
    }
}

/// Parses `NAME=VALUE`.
///
/// # Errors
///
/// The message to print: an unknown or ambiguous name, a value that is not
/// a whole number in range.
fn parse_limit(text: &str) -> Result<Set, String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!(
            "`{text}`: write NAME=VALUE, such as fuel=1000000 (see docs/limits.md)"
        ));
    };
    let name = name.trim();
    let known = || {
        NAMES
            .iter()
            .map(|(group, n, ..)| shown(group, n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = NAMES.iter().find(|(group, n, ..)| {
        name == format!("{group}.{n}") || (name == *n && name != "max_value_bytes")
    });
    let Some(&(_, _, which, _, bytes)) = found else {
        if name == "max_value_bytes" {
            return Err(
                "`max_value_bytes` is two limits: write expr.max_value_bytes (what one \
                 expression may produce) or run.max_value_bytes (one value a run keeps)"
                    .to_owned(),
            );
        }
        return Err(format!(
            "`{name}` is not a limit: the limits are {}",
            known()
        ));
    };
    let value =
        parse_value(value.trim(), bytes).map_err(|why| format!("`--limit {text}`: {why}"))?;
    let max = match which {
        Name::MaxDepth | Name::MaxRetries | Name::MaxWorkflowDepth => u64::from(u32::MAX),
        _ => usize::MAX as u64,
    };
    if value == 0 && matches!(which, Name::Fuel | Name::MaxDepth | Name::ExprValueBytes) {
        return Err(format!("`--limit {text}`: must be more than 0"));
    }
    if value > max {
        return Err(format!("`--limit {text}`: at most {max}"));
    }
    Ok(Set { name: which, value })
}

/// A whole number (`_` between digits allowed), with `KiB`, `MiB` or `GiB`
/// when `bytes`.
fn parse_value(text: &str, bytes: bool) -> Result<u64, String> {
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: String = number.chars().filter(|&c| c != '_').collect();
    let n: u64 = number
        .parse()
        .map_err(|_| "write a whole number, such as 1000000".to_owned())?;
    let scale: u64 = match unit.trim() {
        "" => 1,
        "KiB" if bytes => 1 << 10,
        "MiB" if bytes => 1 << 20,
        "GiB" if bytes => 1 << 30,
        u if bytes => {
            return Err(format!("unknown unit `{u}`: use KiB, MiB or GiB, or none"));
        }
        u => {
            return Err(format!(
                "`{u}`: this limit is a count, write a whole number"
            ))
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| "too large a number".to_owned())
}

/// The run limits of this process, once [`LimitArgs::install`] ran.
static RUN_LIMITS: OnceLock<Limits> = OnceLock::new();

impl LimitArgs {
    /// Makes these the limits of this process: the expression limits
    /// (process-wide in the library too, so before anything compiles) and
    /// the run limits every executor of the command gets
    /// ([`run_limits`]).
    pub(crate) fn install(&self) {
        let mut expr = ExpressionLimits::default();
        let mut run = Limits::default();
        for set in &self.limit {
            let v = set.value;
            let size = usize::try_from(v).unwrap_or(usize::MAX);
            let small = u32::try_from(v).unwrap_or(u32::MAX);
            match set.name {
                Name::Fuel => expr.fuel = v,
                Name::ExprValueBytes => expr.max_value_bytes = size,
                Name::MaxDepth => expr.max_depth = small,
                Name::MaxTemplateBytes => expr.max_template_bytes = size,
                Name::MaxExpressions => expr.max_expressions = size,
                Name::MaxTaskInstances => run.max_task_instances = Some(size),
                Name::MaxRetries => run.max_retries = small,
                Name::MaxItems => run.max_items = size,
                Name::RunValueBytes => run.max_value_bytes = size,
                Name::MaxRunBytes => run.max_run_bytes = size,
                Name::MaxWorkflowDepth => run.max_workflow_depth = small,
            }
        }
        // Nothing has compiled yet: this is the first call, and it holds.
        let _ = expr.install();
        let _ = RUN_LIMITS.set(run);
    }
}

/// The run limits of this process (`--limit`), or the defaults.
pub(crate) fn run_limits() -> Limits {
    RUN_LIMITS.get().cloned().unwrap_or_default()
}

/// `message` with the library's names of limits (`raise
/// ExpressionLimits::fuel`) replaced by the `--limit` that sets each, and
/// its value now.
pub(crate) fn cli_words(message: &str) -> String {
    if !message.contains("Limits::") && !message.contains("ExecutorBuilder::max_task_instances") {
        return message.to_owned();
    }
    let expr = ExpressionLimits::current();
    let run = run_limits();
    let mut out = message.to_owned();
    for (group, name, which, library, _) in NAMES {
        if !out.contains(library) {
            continue;
        }
        let cli = shown(group, name);
        let now = match which {
            Name::Fuel => expr.fuel.to_string(),
            Name::ExprValueBytes => expr.max_value_bytes.to_string(),
            Name::MaxDepth => expr.max_depth.to_string(),
            Name::MaxTemplateBytes => expr.max_template_bytes.to_string(),
            Name::MaxExpressions => expr.max_expressions.to_string(),
            Name::MaxTaskInstances => run
                .max_task_instances
                .map_or_else(|| "the tasks + 100000".to_owned(), |n| n.to_string()),
            Name::MaxRetries => run.max_retries.to_string(),
            Name::MaxItems => run.max_items.to_string(),
            Name::RunValueBytes => run.max_value_bytes.to_string(),
            Name::MaxRunBytes => run.max_run_bytes.to_string(),
            Name::MaxWorkflowDepth => run.max_workflow_depth.to_string(),
        };
        out = out.replace(library, &format!("`--limit {cli}=N` (now {now})"));
    }
    out
}

/// The outcome with its messages in the command line's words.
pub(crate) fn in_cli_words(outcome: &RunOutcome) -> RunOutcome {
    let mut o = outcome.clone();
    for e in &mut o.errors {
        e.message = cli_words(&e.message);
    }
    for t in &mut o.tasks {
        let Some(e) = t.error.as_mut() else { continue };
        let said = cli_words(e);
        if said == *e {
            continue;
        }
        // A task that failed before its action ran (an expression out of
        // fuel) has `{"error": <its error>}` as its result: the same words.
        let same = t
            .result
            .as_deref()
            .and_then(|r| r.as_object())
            .is_some_and(|m| m.len() == 1 && m.get("error").and_then(|v| v.as_str()) == Some(e));
        if same {
            t.result = Some(std::sync::Arc::new(serde_json::json!({ "error": said })));
        }
        *e = said;
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_units_are_read() {
        let s = parse_limit("fuel=1_000_000").unwrap();
        assert_eq!((s.name, s.value), (Name::Fuel, 1_000_000));
        let s = parse_limit("run.max_value_bytes=16MiB").unwrap();
        assert_eq!((s.name, s.value), (Name::RunValueBytes, 16 << 20));
        let s = parse_limit("max_value_bytes=1").unwrap_err();
        assert!(s.contains("expr.max_value_bytes"), "{s}");
        assert!(parse_limit("fuel").unwrap_err().contains("NAME=VALUE"));
        assert!(parse_limit("fuell=3")
            .unwrap_err()
            .contains("the limits are fuel,"));
        assert!(parse_limit("fuel=3MiB").unwrap_err().contains("a count"));
        assert!(parse_limit("fuel=0").unwrap_err().contains("more than 0"));
        assert!(parse_limit("max_retries=99999999999")
            .unwrap_err()
            .contains("at most"));
        assert!(parse_limit("max_items=lots")
            .unwrap_err()
            .contains("whole number"));
    }

    #[test]
    fn library_names_become_flags() {
        let m = cli_words("it ran out of fuel: make it do less, or raise ExpressionLimits::fuel");
        assert!(m.ends_with("or raise `--limit fuel=N` (now 400000)"), "{m}");
        let m =
            cli_words("a loop that never ends? Raise it with ExecutorBuilder::max_task_instances");
        assert!(m.contains("`--limit max_task_instances=N`"), "{m}");
        assert_eq!(cli_words("nothing to say"), "nothing to say");
    }
}
