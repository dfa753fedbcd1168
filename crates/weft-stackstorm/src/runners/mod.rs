//! The runners: what a pack action does when a task runs it.
//!
//! Every pack action is one [`PackAction`]; it resolves the task's input
//! into the action's parameters (see `params`), then hands them to its
//! runner, which gives StackStorm's result shape:
//!
//! | runner | result |
//! |---|---|
//! | `local-shell-cmd`, `local-shell-script` | `{stdout, stderr, return_code, succeeded, failed}` |
//! | `python-script` | `{result, stdout, stderr, exit_code}` |
//! | `http-request` | `{status_code, body, parsed, headers}` |
//! | `noop` | `{failed: false, succeeded: true, return_code: 0}` |
//! | `orquesta` | `{output}` (a sub-workflow, see `orquesta.rs`) |
//!
//! A failure keeps the result attached, so `result()` in the task's
//! transitions sees it as StackStorm's workflows do.

pub(crate) mod kind;
mod orquesta;
mod python;
mod shell;

#[cfg(feature = "http")]
mod http;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Map, Value};
use weft_core::InputField;
use weft_runtime::{Action, ActionError, ActionInput, ActionResult};

use crate::pack::ActionMeta;
use crate::params;

pub(crate) use kind::Runner;
pub(crate) use orquesta::OrquestaAdapter;
pub(crate) use python::Shim;

/// What every action of one pack shares.
#[derive(Debug)]
pub(crate) struct PackShared {
    pub(crate) reference: String,
    pub(crate) dir: PathBuf,
    pub(crate) config: Value,
    /// The config's secret values, masked in every run of the pack's
    /// actions.
    pub(crate) config_secrets: Vec<Value>,
}

/// What every pack action of one set of packs shares.
#[derive(Debug)]
pub(crate) struct Runtime {
    /// The Python interpreter for `python-script` actions.
    pub(crate) python: OsString,
    pub(crate) shim: Shim,
}

/// A pack's action, registered as `PACK.NAME`.
#[derive(Clone)]
pub(crate) struct PackAction {
    pub(crate) meta: Arc<ActionMeta>,
    pub(crate) pack: Arc<PackShared>,
    pub(crate) runtime: Arc<Runtime>,
    /// Why it cannot be used, when the reason came after loading (its
    /// workflow does not compile); the metadata's own reason comes first.
    pub(crate) problem: Option<Arc<str>>,
}

impl PackAction {
    pub(crate) fn problem(&self) -> Option<String> {
        self.meta
            .problem
            .clone()
            .or_else(|| self.problem.as_deref().map(str::to_owned))
            .or_else(|| self.runner_problem())
    }

    fn runner_problem(&self) -> Option<String> {
        match &self.meta.runner {
            #[cfg(not(feature = "http"))]
            Runner::HttpRequest => Some(
                "http-request actions need weft's `http` feature, which this build does not have"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// The action's values for one call, or the error that fails the task.
    pub(crate) fn resolve(&self, input: &ActionInput) -> Result<Map<String, Value>, ActionError> {
        resolve(&self.meta, &self.pack, &input.input, Some(input))
            .map_err(|e| ActionError::new(format!("`{}`: {}", self.meta.reference, e.message)))
    }
}

/// The parameters of a call to `meta` with `given`.
pub(crate) fn resolve(
    meta: &ActionMeta,
    pack: &PackShared,
    given: &Value,
    attempt: Option<&ActionInput>,
) -> Result<Map<String, Value>, params::ParamError> {
    let mut action = json!({"pack": pack.reference, "user": "weft"});
    if let (Some(a), Value::Object(m)) = (attempt, &mut action) {
        m.insert("run_id".into(), json!(a.run_id.to_string()));
        m.insert("task".into(), json!(&*a.task));
    }
    let ctx = params::Context {
        config: &pack.config,
        action,
    };
    params::resolve(&meta.params, given, &ctx)
}

/// The secret values of a call: those of its `secret` parameters, and the
/// pack config's.
pub(crate) fn secret_values(meta: &ActionMeta, pack: &PackShared, given: &Value) -> Vec<Value> {
    let mut out = pack.config_secrets.clone();
    if meta.params.iter().any(|p| p.secret) {
        // A call whose parameters do not resolve fails before it runs;
        // what it was given may still be secret.
        match resolve(meta, pack, given, None) {
            Ok(values) => {
                for p in meta.params.iter().filter(|p| p.secret) {
                    if let Some(v) = values.get(&p.name).filter(|v| !v.is_null()) {
                        out.push(v.clone());
                    }
                }
            }
            Err(_) => {
                for p in meta.params.iter().filter(|p| p.secret) {
                    if let Some(v) = given.get(&p.name).filter(|v| !v.is_null()) {
                        out.push(v.clone());
                    }
                }
            }
        }
    }
    out
}

/// The fields compiling checks a task's input against.
pub(crate) fn input_fields(meta: &ActionMeta) -> Vec<InputField> {
    meta.params
        .iter()
        .map(params::Parameter::input_field)
        .collect()
}

impl Action for PackAction {
    fn input_fields(&self) -> Option<Vec<InputField>> {
        match self.meta.runner {
            // Unknown parameters: anything goes, and the action cannot
            // run anyway.
            Runner::Unsupported(_) => None,
            _ => Some(input_fields(&self.meta)),
        }
    }

    fn unavailable(&self) -> Option<String> {
        self.problem()
    }

    fn secret_values(&self, input: &Value) -> Vec<Value> {
        secret_values(&self.meta, &self.pack, input)
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let this = self.clone();
        async move {
            if let Some(problem) = this.problem() {
                return Err(ActionError::new(format!(
                    "`{}` cannot be used: {problem}",
                    this.meta.reference
                )));
            }
            let params = this.resolve(&input)?;
            let call = Call {
                action: &this,
                input: &input,
                params,
            };
            match &this.meta.runner {
                Runner::LocalShellCmd | Runner::LocalShellScript => shell::run(call).await,
                Runner::PythonScript => python::run(call).await,
                #[cfg(feature = "http")]
                Runner::HttpRequest => http::run(call).await,
                Runner::Noop => Ok(json!({"failed": false, "succeeded": true, "return_code": 0})),
                Runner::Inquirer => inquirer(call).await,
                // Registered as sub-workflows, or refused by `problem`.
                other => Err(ActionError::new(format!(
                    "`{}`: runner `{}` cannot run here",
                    this.meta.reference,
                    other.name()
                ))),
            }
        }
        .boxed()
    }
}

/// An `inquirer` action: weft's `core.ask` with the runner's parameters
/// (`schema`, `route`, `users`, `roles`, `ttl`, defaults applied): the task
/// waits for an answer.
async fn inquirer(call: Call<'_>) -> ActionResult {
    let Some(ask) = weft_runtime::builtin_action("core.ask") else {
        return Err(call.error("weft's `core.ask` is missing"));
    };
    let mut input = call.input.clone();
    input.input = Value::Object(
        call.params
            .iter()
            .filter(|(k, v)| {
                matches!(k.as_str(), "schema" | "route" | "users" | "roles" | "ttl") && !v.is_null()
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    ask.call(input).await
}

/// One call of a pack action, its parameters resolved.
pub(crate) struct Call<'a> {
    pub(crate) action: &'a PackAction,
    pub(crate) input: &'a ActionInput,
    pub(crate) params: Map<String, Value>,
}

impl Call<'_> {
    /// `` `pack.action`: `` + message (the run names the task).
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> ActionError {
        ActionError::new(self.message(message))
    }

    pub(crate) fn message(&self, message: impl std::fmt::Display) -> String {
        format!("`{}`: {message}", self.action.meta.reference)
    }

    /// A parameter's value, `None` when it has none.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.params.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The runner's `timeout`, in seconds.
    pub(crate) fn timeout(&self, default: u64) -> std::time::Duration {
        let secs = self
            .get("timeout")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(default as f64);
        std::time::Duration::from_secs_f64(secs.min(1e9))
    }

    /// The parameters the action declares (not its runner's), in order.
    pub(crate) fn action_params(
        &self,
    ) -> impl Iterator<Item = (&crate::params::Parameter, &Value)> {
        self.action
            .meta
            .params
            .iter()
            .filter(|p| !p.runner)
            .map(|p| (p, self.params.get(&p.name).unwrap_or(&Value::Null)))
    }

    /// Refuses what weft does not do: `sudo`, `content_version`, and the
    /// given parameters in `names`.
    pub(crate) fn refuse_unsupported(&self, names: &[&str]) -> Result<(), ActionError> {
        if self.flag("sudo") {
            return Err(self.error(
                "`sudo: true` is not supported: weft does not run commands as another user; run weft itself with the rights the command needs, or drop sudo",
            ));
        }
        if self.get("content_version").is_some() {
            return Err(self
                .error("`content_version` is not supported: weft runs the pack as it is on disk"));
        }
        for n in names {
            if self.get(n).is_some() {
                return Err(self.error(format!("`{n}` is not supported by weft yet: leave it out")));
            }
        }
        Ok(())
    }

    /// The environment the runner adds: the action's `env` (scalars as
    /// Python writes them) and StackStorm's `ST2_ACTION_*` variables weft
    /// can fill.
    pub(crate) fn env(&self, skip: &[&str]) -> Result<Vec<(String, String)>, ActionError> {
        let mut out = Vec::new();
        match self.get("env") {
            None => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if skip.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                        continue;
                    }
                    let text = match v {
                        Value::Null => continue,
                        Value::String(s) => s.clone(),
                        Value::Number(_) | Value::Bool(_) => crate::pyrepr::str_of(v),
                        other => {
                            return Err(self.error(format!(
                                "`env.{k}` must be text, not {}",
                                weft_core::engine::json_type_name(other)
                            )))
                        }
                    };
                    out.push((k.clone(), text));
                }
            }
            Some(other) => {
                return Err(self.error(format!(
                    "`env` must be a map of names to text, not {}",
                    weft_core::engine::json_type_name(other)
                )))
            }
        }
        out.push((
            "ST2_ACTION_PACK_NAME".into(),
            self.action.pack.reference.clone(),
        ));
        out.push((
            "ST2_ACTION_EXECUTION_ID".into(),
            self.input.idempotency_key(),
        ));
        out.push((
            "ST2_ACTION_DEBUG".into(),
            if self.flag("debug") { "True" } else { "False" }.into(),
        ));
        Ok(out)
    }

    pub(crate) fn entry_point(&self) -> Result<&Path, ActionError> {
        self.action
            .meta
            .entry_point
            .as_deref()
            .ok_or_else(|| self.error("the action has no entry point"))
    }
}

/// A failure that keeps StackStorm's result.
pub(crate) fn failed(message: String, result: Value) -> ActionError {
    ActionError::with_result(message, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runner_weft_has_declares_its_parameters() {
        let (runners, errors) = super::kind::read_runner_parameters();
        assert!(errors.is_empty(), "{errors:?}");
        for r in [
            Runner::LocalShellCmd,
            Runner::LocalShellScript,
            Runner::PythonScript,
            Runner::Orquesta,
            Runner::HttpRequest,
            Runner::Noop,
            Runner::Inquirer,
        ] {
            assert!(runners.contains_key(r.name()), "{}", r.name());
            assert!(r.parameters().is_some(), "{}", r.name());
        }
        let cmd: Vec<&str> = runners["local-shell-cmd"]
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            cmd,
            [
                "cmd",
                "cwd",
                "env",
                "kwarg_op",
                "sudo",
                "sudo_password",
                "timeout"
            ]
        );
        assert!(Runner::parse("remote-shell-cmd").parameters().is_none());
    }
}
