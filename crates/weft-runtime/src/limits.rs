//! Limits that keep one run from exhausting the process that embeds it.
//!
//! Each limit turns a runaway workflow (a loop that never ends, a retry
//! count of `1e300`, a result of gigabytes) into a clear task or run error
//! that names the limit and how to raise it. See `docs/limits.md`.

use serde_json::Value;

/// Default cap on task instances per run, added to the number of tasks in
/// the plan: loops get this many iterations before the run fails.
pub const DEFAULT_EXTRA_INSTANCES: usize = 100_000;

/// Limits of every run of an executor.
///
/// # Examples
///
/// ```
/// use weft_runtime::{Executor, Limits};
///
/// let executor = Executor::builder()
///     .limits(Limits::default().max_retries(10).max_items(5_000))
///     .build();
/// # let _ = executor;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Task instances one run may create; `None` means the plan's number
    /// of tasks plus [`DEFAULT_EXTRA_INSTANCES`].
    pub max_task_instances: Option<usize>,
    /// Retries one attempt may be followed by (`retry.count` above it is an
    /// error). Default 1,000.
    pub max_retries: u32,
    /// Items one with-items task instance may have. Default 1,000,000.
    pub max_items: usize,
    /// Size of one value the run keeps: an action's result (or one item's),
    /// a published variable. Sizes are counted as the value's JSON text.
    /// Default 64 MiB.
    pub max_value_bytes: usize,
    /// Size of everything one run keeps: every task instance's result and
    /// the current value of every variable. Default 1 GiB.
    pub max_run_bytes: usize,
    /// How deep sub-workflows may nest: a run started by the caller is at
    /// depth 0, its children at 1. Default 10.
    pub max_workflow_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_task_instances: None,
            max_retries: 1_000,
            max_items: 1_000_000,
            max_value_bytes: 64 << 20,
            max_run_bytes: 1 << 30,
            max_workflow_depth: 10,
        }
    }
}

impl Limits {
    /// The defaults.
    pub fn new() -> Limits {
        Limits::default()
    }

    /// Sets [`Limits::max_task_instances`].
    #[must_use]
    pub fn max_task_instances(mut self, n: usize) -> Limits {
        self.max_task_instances = Some(n);
        self
    }

    /// Sets [`Limits::max_retries`].
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Limits {
        self.max_retries = n;
        self
    }

    /// Sets [`Limits::max_items`].
    #[must_use]
    pub fn max_items(mut self, n: usize) -> Limits {
        self.max_items = n;
        self
    }

    /// Sets [`Limits::max_value_bytes`].
    #[must_use]
    pub fn max_value_bytes(mut self, n: usize) -> Limits {
        self.max_value_bytes = n;
        self
    }

    /// Sets [`Limits::max_run_bytes`].
    #[must_use]
    pub fn max_run_bytes(mut self, n: usize) -> Limits {
        self.max_run_bytes = n;
        self
    }

    /// Sets [`Limits::max_workflow_depth`].
    #[must_use]
    pub fn max_workflow_depth(mut self, n: u32) -> Limits {
        self.max_workflow_depth = n;
        self
    }
}

/// The length of `v` as compact JSON text, counted without writing it, and
/// without going on once it is past `stop` (the result is then some number
/// above `stop`). Strings count their bytes plus quotes (escapes are not
/// counted: it is a measure of what is held, not an exact length).
#[inline]
pub(crate) fn json_bytes(v: &Value, stop: usize) -> usize {
    fn walk(v: &Value, total: &mut usize, stop: usize) {
        if *total > stop {
            return;
        }
        match v {
            Value::Null => *total += 4,
            Value::Bool(b) => *total += if *b { 4 } else { 5 },
            Value::Number(_) => *total += 8,
            Value::String(s) => *total += s.len() + 2,
            Value::Array(items) => {
                *total += 1 + items.len();
                for item in items {
                    walk(item, total, stop);
                }
            }
            Value::Object(map) => {
                *total += 1 + map.len();
                for (k, item) in map {
                    *total += k.len() + 3;
                    walk(item, total, stop);
                }
            }
        }
    }
    // A scalar, what most actions return (`null` above all), is counted
    // here without the walk.
    match v {
        Value::Null => 4,
        Value::Bool(b) => 4 + usize::from(!*b),
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(_) | Value::Object(_) => {
            let mut total = 0;
            walk(v, &mut total, stop);
            total
        }
    }
}

/// `n` bytes in the unit that reads best.
pub(crate) fn human_bytes(n: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    const GIB: usize = 1 << 30;
    match n {
        n if n >= GIB && n % GIB == 0 => format!("{} GiB", n / GIB),
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= KIB && n % KIB == 0 => format!("{} KiB", n / KIB),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_bytes_is_close_to_the_compact_text() {
        for v in [
            json!(null),
            json!("hello"),
            json!([1, 2, 3]),
            json!({"a": {"b": [true, false, null]}, "cc": "x"}),
        ] {
            let text = serde_json::to_string(&v).unwrap().len();
            let counted = json_bytes(&v, usize::MAX);
            assert!(
                counted + 8 >= text && counted <= text * 4 + 8,
                "{v}: {counted} vs {text}"
            );
        }
    }

    #[test]
    fn a_scalar_counts_alone_as_it_does_in_a_list() {
        // A scalar on its own is counted without the walk: the same bytes.
        for v in [
            json!(null),
            json!(true),
            json!(false),
            json!(12.5),
            json!("héllo"),
        ] {
            let alone = json_bytes(&v, usize::MAX);
            let listed = json_bytes(&json!([v.clone()]), usize::MAX);
            assert_eq!(listed, alone + 2, "{v}");
        }
        assert_eq!(json_bytes(&json!(null), 0), 4);
        assert_eq!(json_bytes(&json!(false), usize::MAX), 5);
    }

    #[test]
    fn json_bytes_stops_past_the_limit() {
        let big = json!(vec!["x".repeat(100); 10_000]);
        let n = json_bytes(&big, 1_000);
        assert!(n > 1_000 && n < 20_000, "{n}");
    }

    #[test]
    fn human_bytes_picks_a_unit() {
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(1 << 30), "1 GiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
