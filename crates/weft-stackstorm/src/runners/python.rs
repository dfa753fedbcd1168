//! `python-script`: a pack's Python action class, run by a shim of weft's
//! own in a child process.
//!
//! The shim (`python/` in this crate, embedded in the binary) is written
//! once per set of packs to a private temporary directory: a package
//! `st2common` with `st2common.runners.base_action.Action` (`self.config`,
//! `self.logger`, `self.action_service`), and a wrapper script. The
//! interpreter (`python3` unless told otherwise) runs
//! `wrapper ACTION_FILE RESULT_FILE` with `PYTHONPATH` set to the shim,
//! the pack's `actions/lib` and its `lib`; the action's parameters, the pack's config and
//! the log level go in as JSON on stdin, and the wrapper writes
//! `{"result", "status"}` as JSON to the result file. The result is
//! StackStorm's: `{result, stdout, stderr, exit_code}`, where `result` is
//! the string `"None"` when the action wrote none (it crashed, or was
//! killed), as under StackStorm.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use weft_runtime::process::Command;
use weft_runtime::ActionResult;

use super::{failed, Call};

const FILES: &[(&str, &str)] = &[
    (
        "st2common/__init__.py",
        include_str!("../../python/st2common/__init__.py"),
    ),
    (
        "st2common/runners/__init__.py",
        include_str!("../../python/st2common/runners/__init__.py"),
    ),
    (
        "st2common/runners/base_action.py",
        include_str!("../../python/st2common/runners/base_action.py"),
    ),
    (
        "weft_st2_wrapper.py",
        include_str!("../../python/weft_st2_wrapper.py"),
    ),
];

/// StackStorm's exit code for a `run()` whose status is neither `True`
/// nor `False`.
const INVALID_STATUS: i32 = 220;

/// The shim's directory, written the first time a python-script action
/// runs, removed when the last action holding it is dropped.
#[derive(Debug, Default)]
pub(crate) struct Shim {
    dir: OnceLock<Result<tempfile::TempDir, String>>,
}

impl Shim {
    fn dir(&self) -> Result<&Path, String> {
        self.dir
            .get_or_init(|| {
                let dir = tempfile::Builder::new()
                    .prefix("weft-st2-shim-")
                    .tempdir()
                    .map_err(|e| format!("cannot make a directory for the Python shim: {e}"))?;
                for (name, text) in FILES {
                    let path = dir.path().join(name);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            format!("cannot write the Python shim ({}): {e}", parent.display())
                        })?;
                    }
                    std::fs::write(&path, text).map_err(|e| {
                        format!("cannot write the Python shim ({}): {e}", path.display())
                    })?;
                }
                Ok(dir)
            })
            .as_ref()
            .map(|d| d.path())
            .map_err(Clone::clone)
    }
}

pub(super) async fn run(call: Call<'_>) -> ActionResult {
    call.refuse_unsupported(&[])?;
    let entry = call.entry_point()?.to_owned();
    let shim = call
        .action
        .runtime
        .shim
        .dir()
        .map_err(|e| call.error(e))?
        .to_owned();
    let scratch = tempfile::Builder::new()
        .prefix("weft-st2-result-")
        .tempdir()
        .map_err(|e| {
            call.error(format!(
                "cannot make a directory for the action's result: {e}"
            ))
        })?;
    let result_file = scratch.path().join("result.json");

    let parameters: Map<String, Value> = call
        .action_params()
        .map(|(p, v)| (p.name.clone(), v.clone()))
        .collect();
    let request = json!({
        "parameters": parameters,
        "config": call.action.pack.config,
        "pack": call.action.pack.reference,
        "log_level": call.str("log_level").unwrap_or("DEBUG"),
    });
    let python = &call.action.runtime.python;
    let mut command = Command::new(python)
        .arg("-B")
        .arg(shim.join("weft_st2_wrapper.py"))
        .arg(&entry)
        .arg(&result_file)
        .stdin(request.to_string())
        .env("PYTHONPATH", python_path(&shim, &call.action.pack.dir))
        // Python's own, so the action writes UTF-8 whatever the locale.
        .env("PYTHONIOENCODING", "utf-8");
    // StackStorm does not let an action set PYTHONPATH.
    command = command.envs(call.env(&["PYTHONPATH"])?);
    let timeout = call.timeout(600);
    let out = match tokio::time::timeout(timeout, command.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(call.error(format!(
                "cannot run the Python interpreter `{}`: not found; install Python 3, or name the interpreter (Packs::python, or WEFT_PYTHON for the weft command)",
                python.to_string_lossy()
            )))
        }
        Ok(Err(e)) => {
            return Err(call.error(format!(
                "cannot run `{}`: {e}",
                python.to_string_lossy()
            )))
        }
        Err(_) => {
            let secs = timeout.as_secs_f64();
            let text = crate::pyrepr::float(secs);
            let text = text.trim_end_matches(".0");
            let result = json!({
                "result": "None",
                "stdout": "",
                "stderr": "",
                "exit_code": -9,
                "error": format!("Action failed to complete in {text} seconds"),
            });
            return Err(failed(
                call.message(format!(
                    "{} did not finish within its timeout of {text} s and was killed",
                    entry.display()
                )),
                result,
            ));
        }
    };
    let code = out.code.or(out.signal.map(|s| -s)).unwrap_or(-1);
    if code == INVALID_STATUS {
        return Err(failed(
            call.message(format!(
                "run() in {} returned a status that is neither True nor False: return the result, or (True or False, result)",
                entry.display()
            )),
            json!({"result": "None", "stdout": out.stdout, "stderr": out.stderr, "exit_code": code}),
        ));
    }
    let written = std::fs::read_to_string(&result_file).ok();
    let (result, status) = match written.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(mut doc))) => (
            doc.remove("result").unwrap_or(Value::Null),
            doc.remove("status").and_then(|s| s.as_bool()),
        ),
        // No result written: StackStorm's `"None"`.
        _ => (Value::String("None".into()), None),
    };
    let result = json!({
        "result": result,
        "stdout": out.stdout,
        "stderr": out.stderr,
        "exit_code": code,
    });
    match (code, status) {
        (0, None | Some(true)) => Ok(result),
        (0, Some(false)) => Err(failed(
            call.message("run() returned (False, result): the action failed"),
            result,
        )),
        (code, _) => Err(failed(
            call.message(format!(
                "{} exited with code {code}{}",
                entry.display(),
                last_line(&out.stderr)
            )),
            result,
        )),
    }
}

/// `: LAST LINE OF STDERR` (the exception of a traceback), or nothing.
fn last_line(stderr: &str) -> String {
    match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(l) => format!(": {}", l.trim()),
        None => String::new(),
    }
}

/// The shim first, then the pack's `actions/lib` and `lib` (StackStorm's
/// "common libs"), then whatever the environment had.
fn python_path(shim: &Path, pack: &Path) -> std::ffi::OsString {
    let mut parts: Vec<PathBuf> = vec![
        shim.to_owned(),
        pack.join("actions").join("lib"),
        pack.join("lib"),
    ];
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        parts.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(parts).unwrap_or_else(|_| shim.as_os_str().to_owned())
}
