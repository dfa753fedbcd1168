//! A task's timing: `retry` (or Orquesta's `do: retry`), `delay` and
//! `timeout`, and the numbers they are given as (a constant, checked
//! here, or an expression, evaluated by the run).

use crate::def::{Backoff, NumberOrExpr, TaskDef};
use crate::error::ErrorKind;
use crate::expr::Template;
use crate::plan::{Num, Retry};

use super::transitions::RetryCommand;
use super::{Compiler, TaskPath};

impl Compiler<'_> {
    /// The task's retry policy: from its `do: retry` transition if it has
    /// one, else from its `retry` key.
    pub(super) fn retry(
        &mut self,
        command: Option<RetryCommand>,
        t: &TaskDef,
        base: &TaskPath<'_>,
    ) -> Option<Retry> {
        if let Some((when, _)) = command {
            // Orquesta: up to 3 retries, no delay, while `when` holds.
            return Some(Retry {
                when,
                count: Num::Const(3.0),
                delay: None,
                backoff: Backoff::Constant,
                max_delay: None,
            });
        }
        let r = t.retry.as_ref()?;
        let rpath = base.key("retry");
        let when = match &r.when {
            Some(w) => self.condition(w, &format!("{rpath}.when"))?,
            None => Template::compile("{{ failed() }}").ok()?,
        };
        let count = self.num(
            &r.count,
            &format!("{rpath}.count"),
            "retry count",
            0.0,
            true,
        )?;
        let delay = match &r.delay {
            Some(d) => Some(self.num(d, &format!("{rpath}.delay"), "retry delay", 0.0, false)?),
            None => None,
        };
        let max_delay = match &r.max_delay {
            Some(d) => Some(self.num(d, &format!("{rpath}.max_delay"), "max_delay", 0.0, false)?),
            None => None,
        };
        Some(Retry {
            when,
            count,
            delay,
            backoff: r.backoff,
            max_delay,
        })
    }

    /// The task's `delay` and `timeout`, each in seconds.
    pub(super) fn timing(
        &mut self,
        t: &TaskDef,
        base: &TaskPath<'_>,
    ) -> (Option<Num>, Option<Num>) {
        let delay = t
            .delay
            .as_ref()
            .and_then(|d| self.num(d, &base.key("delay"), "delay", 0.0, false));
        let timeout = t.timeout.as_ref().and_then(|d| {
            let n = self.num(d, &base.key("timeout"), "timeout", 0.0, false)?;
            if let Num::Const(x) = n {
                if x <= 0.0 {
                    self.error(
                        ErrorKind::Validation,
                        &base.key("timeout"),
                        "timeout must be more than 0 seconds: remove it to wait without a limit",
                    );
                    return None;
                }
            }
            Some(n)
        });
        (delay, timeout)
    }

    /// A number (`what`, at `path`): a constant of at least `min` (whole
    /// when `whole`), or an expression.
    pub(super) fn num(
        &mut self,
        n: &NumberOrExpr,
        path: &str,
        what: &str,
        min: f64,
        whole: bool,
    ) -> Option<Num> {
        match n {
            NumberOrExpr::Number(x) => {
                if !x.is_finite() || *x < min || (whole && x.fract() != 0.0) {
                    let kind = if whole { "a whole number" } else { "a number" };
                    let unit = if whole { "" } else { " seconds" };
                    self.error(
                        ErrorKind::Validation,
                        path,
                        format!("{what} must be {kind} of at least {min}{unit}, not {x}"),
                    );
                    None
                } else {
                    Some(Num::Const(*x))
                }
            }
            NumberOrExpr::Expr(s) => self.template(s, path).map(Num::Expr),
        }
    }
}
