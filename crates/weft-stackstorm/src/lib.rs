//! StackStorm compatibility for weft: a StackStorm *pack* as a source of
//! actions.
//!
//! A pack is a directory with `pack.yaml` and `actions/*.yaml`; each action
//! metadata file names a runner, an entry point and typed parameters. This
//! crate loads packs and registers each action as `PACK.NAME` on a weft
//! [`ExecutorBuilder`](weft_runtime::ExecutorBuilder), so that workflows
//! written for StackStorm call them as they are:
//!
//! * `orquesta` actions are weft sub-workflows;
//! * `local-shell-cmd` and `local-shell-script` run a child process, with
//!   StackStorm's argument rules and result shape, and `core.local`'s
//!   hardening (own process group killed with the attempt, output caps);
//! * `python-script` actions run their Python class through a small shim
//!   this crate carries (`st2common.runners.base_action.Action`);
//! * `http-request` actions go through weft's `core.http` (feature `http`);
//! * `noop` does nothing; `inquirer` is weft's `core.ask`: the task waits
//!   for an answer (`Executor::respond`).
//!
//! Parameters are checked when a workflow compiles (an unknown key, with
//! the closest name; a required one left out; an immutable one given) and
//! when the action runs (type, `enum`, limits), and defaults that are Jinja
//! templates are rendered against the pack's config and the other
//! parameters, as StackStorm renders them. A runner weft does not have
//! (`remote-shell-cmd`, `winrm-*`, `action-chain`, ...) does not stop the
//! pack from loading: a workflow that uses such an action does not compile,
//! and the error names the action's file and runner.
//!
//! # Examples
//!
//! ```
//! use serde_json::json;
//! use weft_core::Workflow;
//! use weft_runtime::Executor;
//! use weft_stackstorm::PackExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("pack.yaml"), "name: demo\nversion: 0.1.0\n")?;
//! std::fs::create_dir(dir.path().join("actions"))?;
//! std::fs::write(
//!     dir.path().join("actions/greet.yaml"),
//!     r#"
//! name: greet
//! runner_type: local-shell-cmd
//! parameters:
//!   who: {type: string, required: true}
//!   cmd: {default: 'echo "hello, {{ who }}"', immutable: true}
//! "#,
//! )?;
//!
//! let executor = Executor::builder().pack(dir.path())?.build();
//! let plan = Workflow::from_yaml_str(
//!     "tasks:\n  hi:\n    action: demo.greet\n    input: {who: ada}\n",
//! )?
//! .compile(&executor)?;
//! let outcome = executor.start(&plan, json!({}))?.await?;
//! let result = outcome.tasks[0].result.as_deref().unwrap();
//! assert_eq!(result["stdout"], "hello, ada");
//! assert_eq!(result["return_code"], 0);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod context;
mod datastore;
mod error;
mod functions;
mod pack;
mod params;
mod pyrepr;
mod register;
mod runners;
mod yaml;

pub use context::St2Context;
pub use datastore::{load_datastore, use_datastore};
pub use error::{PackError, PackErrorKind};
pub use functions::{function_names, install_functions};
pub use pack::{ActionMeta, Pack};
pub use params::{ParamType, Parameter};
pub use register::{PackExt, Packs};

/// The closest of `candidates` to `name`, if one is close enough to be a
/// likely typo (an edit distance of at most a third of the name, and 3).
pub(crate) fn suggest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = distance(name, c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The optimal-string-alignment distance: insertions, deletions,
/// substitutions and swaps of neighbours (`nmae` is one step from `name`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 3 || a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    // d[i][j]: the distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::Pack>();
        assert_send_sync::<crate::Packs>();
        assert_send_sync::<crate::PackError>();
        assert_send_sync::<crate::ActionMeta>();
        assert_send_sync::<crate::St2Context>();
    }

    #[test]
    fn typos_are_suggested() {
        let names = ["parameters", "runner_type", "entry_point"];
        assert_eq!(
            super::suggest("paramters", names.iter().copied()),
            Some("parameters")
        );
        assert_eq!(super::suggest("xyz", names.iter().copied()), None);
        assert_eq!(
            super::suggest("nmae", ["name", "cmd"].into_iter()),
            Some("name")
        );
    }
}
