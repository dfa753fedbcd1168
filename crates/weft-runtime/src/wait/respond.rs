//! The executor's side of waits: answers by task name or by key, and the
//! waits of one run or of every run.

use serde_json::Value;

use crate::id::RunId;
use crate::store::{Command, Entry, Record};
use crate::wait::pending::{last_step, pending_waits, PendingWait, RespondError, Target};

impl crate::Executor {
    /// Answers the task `task` of run `run`, which waits (`core.ask`, or an
    /// action that returned a [`Wait`](crate::Wait)): `response` is checked against the
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
            if let Some(taken) = handle.reply(rx).await {
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
            if let Some(waits) = handle.reply(rx).await {
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
            if let Some(waits) = handle.reply(rx).await {
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
