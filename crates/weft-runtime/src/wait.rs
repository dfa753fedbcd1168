//! Durable waits: a task that waits for an answer from outside the run.
//!
//! An action makes its task wait by returning a [`Wait`] (as its error:
//! `Err(Wait::new("approval").into())`). The attempt ends, but the task
//! does not: it stays `pending`, holding no tokio task and no timer, while
//! the rest of the run goes on. When nothing else can run, the run shows
//! as `paused`. An answer — [`Executor::respond`](crate::Executor::respond)
//! by task name, [`Executor::signal`](crate::Executor::signal) by key —
//! is checked against the wait's JSON Schema (a rejected answer is an error
//! to the caller, and the task keeps waiting); an accepted one ends the task
//! `succeeded` with the wait's `details` and `{"response": answer}` as its
//! result. A wait whose timeout runs out ends its task `timed_out`.
//!
//! Waits are journaled like any outcome: the wait (with its deadline) is
//! the attempt's record, and an answer or an expiry is a command record, so
//! a wait survives a crash, and an answer given while no process holds the
//! run is applied when it is resumed.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action::ActionError;
use crate::id::RunId;
use crate::store::{AttemptOutcome, Command, Entry, Millis, Record};

/// What a waiting task waits for: returned by an action (see the module
/// docs), and kept in the run's journal.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use serde_json::json;
/// use weft_runtime::{ActionInput, Executor, Wait};
///
/// let executor = Executor::builder()
///     .action("approval", |input: ActionInput| async move {
///         Err(Wait::new(format!("approval/{}", input.run_id))
///             .timeout(Duration::from_secs(3600))
///             .schema(json!({"type": "object", "required": ["approved"]}))
///             .into())
///     })
///     .build();
/// # let _ = executor;
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Wait {
    /// The key a signal names it by ([`Executor::signal`](crate::Executor::signal)).
    pub key: String,
    /// How long it waits, in milliseconds (forever when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The JSON Schema an answer must pass (any answer when `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Fields of the task's result besides `response` (for `core.ask`,
    /// StackStorm's `schema`, `route`, `users`, `roles` and `ttl`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

impl Wait {
    /// A wait for an answer under `key`, without a timeout or a schema.
    pub fn new(key: impl Into<String>) -> Wait {
        Wait {
            key: key.into(),
            timeout_ms: None,
            schema: None,
            details: Map::new(),
        }
    }

    /// Ends the task `timed_out` when no answer came within `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Wait {
        self.timeout_ms = Some(timeout.as_millis().min(u128::from(u64::MAX)) as u64);
        self
    }

    /// Answers must pass this JSON Schema.
    #[must_use]
    pub fn schema(mut self, schema: Value) -> Wait {
        self.schema = Some(schema);
        self
    }

    /// Fields to put in the task's result beside `response`.
    #[must_use]
    pub fn details(mut self, details: Map<String, Value>) -> Wait {
        self.details = details;
        self
    }

    /// The task's result for `answer`.
    pub(crate) fn result(&self, answer: Value) -> Value {
        let mut result = self.details.clone();
        result.insert("response".to_owned(), answer);
        Value::Object(result)
    }

    /// Checks `answer` against the schema.
    ///
    /// # Errors
    ///
    /// Why the answer does not pass (each failing place and rule), or why
    /// the schema itself cannot be used.
    pub fn check(&self, answer: &Value) -> Result<(), String> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let schema = draft3_required(schema.clone());
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("the wait's schema cannot be used: {e}"))?;
        let problems: Vec<String> = validator
            .iter_errors(answer)
            .take(8)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("at `{at}`: {e}")
                }
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the answer does not match the schema: {}; send an answer that does (the task keeps waiting)",
            problems.join("; ")
        ))
    }
}

/// StackStorm's schemas (its default one among them) say `required: true`
/// inside a property, as JSON Schema draft 3 did; later drafts list the
/// required names in the object. This moves the first form to the second,
/// at every depth, so that both are checked.
pub(crate) fn draft3_required(mut schema: Value) -> Value {
    if let Value::Object(obj) = &mut schema {
        let mut required: Vec<Value> = Vec::new();
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            for (name, prop) in props.iter_mut() {
                if let Value::Object(p) = prop {
                    if let Some(Value::Bool(flag)) = p.get("required") {
                        if *flag {
                            required.push(Value::String(name.clone()));
                        }
                        p.remove("required");
                    }
                }
                *prop = draft3_required(std::mem::take(prop));
            }
        }
        if let Some(items) = obj.get_mut("items") {
            *items = draft3_required(std::mem::take(items));
        }
        if !required.is_empty() {
            match obj.get_mut("required") {
                Some(Value::Array(list)) => {
                    for r in required {
                        if !list.contains(&r) {
                            list.push(r);
                        }
                    }
                }
                _ => {
                    obj.insert("required".to_owned(), Value::Array(required));
                }
            }
        }
    }
    schema
}

impl From<Wait> for ActionError {
    /// The attempt ends and its task waits (see the module docs).
    fn from(wait: Wait) -> ActionError {
        ActionError::waiting(wait)
    }
}

/// A task waiting for an answer, as [`Executor::inquiries`](crate::Executor::inquiries)
/// lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PendingWait {
    /// The run.
    pub run: RunId,
    /// The waiting task.
    pub task: String,
    /// Its instance.
    pub instance: u32,
    /// Its item, for a task with `with` items.
    pub item: Option<u32>,
    /// What it waits for.
    pub wait: Wait,
    /// When it began to wait.
    pub since: Millis,
    /// When it times out, if it does.
    pub deadline_at: Option<Millis>,
}

/// Why an answer was not taken.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// No such run here or in the store.
    #[error("no run `{0}`: check the id (`weft runs`)")]
    UnknownRun(RunId),
    /// The run has no task waiting under that name or key (the message
    /// names those that wait).
    #[error("{0}")]
    NotWaiting(String),
    /// The answer does not pass the wait's schema; the task keeps waiting.
    #[error("{0}")]
    Rejected(String),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Which wait an answer is for.
pub(crate) enum Target<'a> {
    Task(&'a str),
    Key(&'a str),
}

impl Target<'_> {
    pub(crate) fn of(command: &Command) -> Option<Target<'_>> {
        match command {
            Command::Respond { task, .. } => Some(Target::Task(task)),
            Command::Signal { key, .. } => Some(Target::Key(key)),
            _ => None,
        }
    }

    pub(crate) fn matches(&self, task: &str, wait: &Wait) -> bool {
        match self {
            Target::Task(t) => *t == task,
            Target::Key(k) => *k == wait.key,
        }
    }

    /// The error for a run where nothing matches; `waiting` names what does wait.
    pub(crate) fn not_waiting<'w>(
        &self,
        run: RunId,
        waiting: impl Iterator<Item = (&'w str, &'w Wait)>,
    ) -> RespondError {
        let waiting: Vec<String> = waiting
            .map(|(t, w)| format!("`{t}` (key `{}`)", w.key))
            .collect();
        let what = match self {
            Target::Task(t) => format!("no task `{t}`"),
            Target::Key(k) => format!("no task with key `{k}`"),
        };
        let now = if waiting.is_empty() {
            "nothing waits in it".to_owned()
        } else {
            format!("waiting: {}", waiting.join(", "))
        };
        RespondError::NotWaiting(format!(
            "run {run} has {what} waiting for an answer ({now}); `weft inquiries` lists what waits"
        ))
    }
}

/// The waits a journal leaves pending: those recorded and not yet answered,
/// expired or dropped by the run's end or a cancel. Scanned, not replayed:
/// the same rule as the scheduler's (an answer goes to the oldest wait that
/// matches).
pub fn pending_waits(entries: &[Entry]) -> Vec<PendingWait> {
    let mut pending: Vec<PendingWait> = Vec::new();
    for e in entries {
        match &e.record {
            Record::Attempt(a) => {
                if let AttemptOutcome::Waiting {
                    task,
                    wait,
                    deadline_at,
                } = &a.outcome
                {
                    pending.push(PendingWait {
                        run: e.run,
                        task: task.clone(),
                        instance: a.instance,
                        item: a.item,
                        wait: wait.clone(),
                        since: a.ended_at,
                        deadline_at: *deadline_at,
                    });
                }
            }
            Record::Command { command, .. } => match command {
                Command::Cancel | Command::Abort => pending.clear(),
                Command::Expire { instance, item } => {
                    pending.retain(|p| !(p.instance == *instance && p.item == *item));
                }
                other => {
                    if let Some(target) = Target::of(other) {
                        if let Some(i) = pending
                            .iter()
                            .position(|p| target.matches(&p.task, &p.wait))
                        {
                            pending.remove(i);
                        }
                    }
                }
            },
            Record::Ended(_) => pending.clear(),
            Record::Started(_) => {}
        }
    }
    pending
}

/// The step a command appended to `entries` by a process that does not run
/// the run takes effect at: after everything recorded.
pub(crate) fn last_step(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .filter_map(|e| match &e.record {
            Record::Attempt(a) => Some(a.step),
            Record::Command { step, .. } => Some(*step),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

impl crate::Executor {
    /// Answers the task `task` of run `run`, which waits (`core.ask`, or an
    /// action that returned a [`Wait`]): `response` is checked against the
    /// wait's schema, and the task then succeeds with
    /// `{"response": response, ...}` and the run goes on. With several
    /// instances of `task` waiting, the oldest is answered.
    ///
    /// The run may go on in this executor, in another process sharing a
    /// Postgres store (the answer is sent to it as a command, or to the
    /// process that takes the run next), or nowhere (a process that stopped:
    /// the answer is journaled, and applied when the run is resumed).
    ///
    /// # Errors
    ///
    /// [`RespondError::Rejected`] when the answer does not pass the schema
    /// (the task keeps waiting); [`RespondError::NotWaiting`] when no task
    /// of that name waits; [`RespondError::UnknownRun`];
    /// [`RespondError::Store`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave the answer given or not.
    pub async fn respond(
        &self,
        run: RunId,
        task: &str,
        response: Value,
    ) -> Result<(), RespondError> {
        self.answer(
            run,
            Command::Respond {
                task: task.to_owned(),
                response,
            },
        )
        .await
    }

    /// Answers the oldest wait with key `key` in run `run` (a signal, as
    /// `core.wait_event` waits for); otherwise as [`Executor::respond`](crate::Executor::respond).
    ///
    /// # Errors
    ///
    /// As [`Executor::respond`](crate::Executor::respond).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave the answer given or not.
    pub async fn signal(&self, run: RunId, key: &str, response: Value) -> Result<(), RespondError> {
        self.answer(
            run,
            Command::Signal {
                key: key.to_owned(),
                response,
            },
        )
        .await
    }

    async fn answer(&self, run: RunId, command: Command) -> Result<(), RespondError> {
        let live = self.inner.live.get(&run).map(|h| h.value().clone());
        if let Some(handle) = live {
            let (tx, rx) = tokio::sync::oneshot::channel();
            handle.answer(command.clone(), Some(tx));
            if let Ok(taken) = rx.await {
                return taken;
            }
            // It ended meanwhile: the store says what is left.
        }
        let Some(journal) = self.inner.journal.as_ref() else {
            return Err(RespondError::UnknownRun(run));
        };
        journal.barrier().await;
        let store = &journal.store;
        let entries = match store.load(run).await {
            Ok(entries) if !entries.is_empty() => entries,
            Ok(_) | Err(crate::store::StoreError::NotFound(_)) => {
                return Err(RespondError::UnknownRun(run))
            }
            Err(e) => return Err(e.into()),
        };
        let pending = pending_waits(&entries);
        let (Some(target), Command::Respond { response, .. } | Command::Signal { response, .. }) =
            (Target::of(&command), &command)
        else {
            return Ok(());
        };
        let Some(wait) = pending.iter().find(|p| target.matches(&p.task, &p.wait)) else {
            return Err(target.not_waiting(run, pending.iter().map(|p| (&*p.task, &p.wait))));
        };
        wait.wait.check(response).map_err(RespondError::Rejected)?;
        if let Some(shared) = store.shared() {
            // To the process that holds the run, or takes it next.
            shared.send_command(run, command).await?;
            return Ok(());
        }
        // Nobody runs it here; a store that is not shared has one writer,
        // this process: journal the answer for whoever resumes the run.
        let seq = entries.last().map_or(0, |e| e.seq + 1);
        let entry = Entry {
            run,
            seq,
            record: Record::Command {
                step: last_step(&entries),
                command,
            },
        };
        store.append(std::slice::from_ref(&entry)).await?;
        Ok(())
    }

    /// The tasks of run `run` that wait for an answer: asked of the run
    /// when it goes on in this executor, else read from its journal.
    ///
    /// # Errors
    ///
    /// The store cannot be read; [`StoreError::NotFound`](crate::store::StoreError::NotFound)
    /// for a run that is neither here nor in the store.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn inquiries_of(
        &self,
        run: RunId,
    ) -> Result<Vec<PendingWait>, crate::store::StoreError> {
        let live = self.inner.live.get(&run).map(|h| h.value().clone());
        if let Some(handle) = live {
            let (tx, rx) = tokio::sync::oneshot::channel();
            handle.waits(tx);
            if let Ok(waits) = rx.await {
                return Ok(waits);
            }
        }
        match self.inner.journal.as_ref() {
            Some(journal) => {
                journal.barrier().await;
                Ok(pending_waits(&journal.store.load(run).await?))
            }
            None => Err(crate::store::StoreError::NotFound(run)),
        }
    }

    /// The tasks waiting for an answer: in this executor's runs, and in
    /// the runs its store has that have not ended (their journals are read,
    /// so this costs a journal load per run going on).
    ///
    /// # Errors
    ///
    /// The store cannot be read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn inquiries(&self) -> Result<Vec<PendingWait>, crate::store::StoreError> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let live: Vec<crate::RunHandle> =
            self.inner.live.iter().map(|h| h.value().clone()).collect();
        for handle in live {
            let (tx, rx) = tokio::sync::oneshot::channel();
            handle.waits(tx);
            if let Ok(waits) = rx.await {
                seen.insert(handle.id());
                out.extend(waits);
            }
        }
        if let Some(journal) = self.inner.journal.as_ref() {
            journal.barrier().await;
            let filter = crate::store::RunFilter::all().statuses([
                crate::RunStatus::Running,
                crate::RunStatus::Pausing,
                crate::RunStatus::Paused,
            ]);
            let mut listed = journal.store.list(&filter).await?;
            listed.sort_by_key(|r| r.id);
            for summary in listed {
                if seen.contains(&summary.id) {
                    continue;
                }
                match journal.store.load(summary.id).await {
                    Ok(entries) => out.extend(pending_waits(&entries)),
                    // Purged meanwhile.
                    Err(crate::store::StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn draft3_required_is_checked() {
        let wait = Wait::new("k").schema(json!({
            "type": "object",
            "properties": {"approved": {"type": "boolean", "required": true}}
        }));
        assert!(wait.check(&json!({"approved": true})).is_ok());
        let e = wait.check(&json!({})).unwrap_err();
        assert!(e.contains("approved"), "{e}");
        let e = wait.check(&json!({"approved": "yes"})).unwrap_err();
        assert!(e.contains("/approved"), "{e}");
    }

    #[test]
    fn no_schema_takes_anything() {
        assert!(Wait::new("k").check(&json!([1, 2])).is_ok());
    }
}
