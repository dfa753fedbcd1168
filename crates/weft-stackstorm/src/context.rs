//! `ctx().st2`: the run's StackStorm context.

use serde_json::{Map, Value};
use weft_runtime::StartingRun;

/// What StackStorm's Orquesta runner puts in every workflow's context under
/// `st2`, as weft fills it for a run (see [`St2Context::value`]). The
/// `weft` command sets it on every executor, with `--st2-api-url` and
/// `--st2-user`; a program that embeds weft sets it with
/// [`PackExt::st2_context`](crate::PackExt::st2_context).
///
/// # Examples
///
/// ```
/// use weft_runtime::Executor;
/// use weft_stackstorm::{PackExt, St2Context};
///
/// weft_stackstorm::install_functions()?;
/// let executor = Executor::builder()
///     .st2_context(St2Context::new().api_url("https://st2.example.com/api/v1").user("ops"))
///     .build();
/// # let _ = executor;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct St2Context {
    api_url: Option<String>,
    user: String,
    api_user: Option<String>,
}

impl Default for St2Context {
    fn default() -> Self {
        St2Context::new()
    }
}

impl St2Context {
    /// No API URL (`api_url` is null), and the user `stanley`, StackStorm's
    /// default system user.
    pub fn new() -> St2Context {
        St2Context {
            api_url: None,
            user: "stanley".to_owned(),
            api_user: None,
        }
    }

    /// The public URL of the API that workflows hand out (StackStorm's
    /// `api_url`, such as `https://st2.example.com/api/v1`).
    #[must_use]
    pub fn api_url(mut self, url: impl Into<String>) -> St2Context {
        self.api_url = Some(url.into());
        self
    }

    /// The user runs are made for (`user`).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> St2Context {
        self.user = user.into();
        self
    }

    /// The API user (`api_user`, set only when given).
    #[must_use]
    pub fn api_user(mut self, user: impl Into<String>) -> St2Context {
        self.api_user = Some(user.into());
        self
    }

    /// `ctx().st2` for `run`, with StackStorm's keys:
    ///
    /// * `action_execution_id` and `workflow_execution_id`: the run's id
    ///   (StackStorm has two records where weft has one run; a
    ///   sub-workflow's run has its own id, as its execution has in
    ///   StackStorm);
    /// * `action`: the workflow's name (`examples.orquesta-st2-ctx` for a
    ///   pack's workflow action), `pack`: its part before the first `.`
    ///   (null when it has none), `runner`: `orquesta`;
    /// * `user`, `api_url` (null unless set) and `api_user` (when set).
    pub fn value(&self, run: &StartingRun<'_>) -> Value {
        let id = Value::String(run.run_id.to_string());
        let pack = match run.workflow.split_once('.') {
            Some((pack, _)) if !pack.is_empty() => Value::from(pack),
            _ => Value::Null,
        };
        let mut st2 = Map::new();
        st2.insert("action_execution_id".into(), id.clone());
        st2.insert("workflow_execution_id".into(), id);
        st2.insert(
            "api_url".into(),
            self.api_url.clone().map_or(Value::Null, Value::String),
        );
        st2.insert("user".into(), Value::from(self.user.as_str()));
        st2.insert("pack".into(), pack);
        st2.insert("action".into(), Value::from(run.workflow));
        st2.insert("runner".into(), Value::from("orquesta"));
        if let Some(u) = &self.api_user {
            st2.insert("api_user".into(), Value::from(u.as_str()));
        }
        Value::Object(st2)
    }
}
