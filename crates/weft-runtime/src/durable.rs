//! Durable runs from the executor's side: making a run that records into
//! the store, and bringing runs back from it (resume after a crash, resume
//! a paused run, re-run an ended one).

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;
use weft_core::{Error, ErrorKind, Format, Plan, Workflow};

use crate::executor::{Executor, ExecutorInner};
use crate::id::RunId;
use crate::journal::Journal;
use crate::outcome::RunStatus;
use crate::run::msg::{Control, Msg};
use crate::run::{Recorded, Run, RunOptions};
use crate::scheduler::{Actions, RunJournal, Scheduler};
use crate::store::{
    from_millis, millis, source_hash, Durability, Entry, Record, RunFilter, RunStart, RunSummary,
    Store, StoreError,
};

/// Why a run could not be brought back from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The executor has no store.
    #[error("this executor keeps no runs: give it a store (ExecutorBuilder::store)")]
    NoStore,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run is going on in this executor already.
    #[error("run {0} is going on in this executor already (pause, resume or cancel it by id)")]
    Live(RunId),
    /// The run ended; only [`Executor::rerun`] brings it back.
    #[error("run {0} has ended ({1}): re-run it to run it again")]
    Ended(RunId, RunStatus),
    /// The run has not ended, so it cannot be re-run.
    #[error("run {0} has not ended ({1}): only an ended run can be re-run")]
    NotEnded(RunId, RunStatus),
    /// The journal is not one this executor can continue: its first record
    /// is missing, or its workflow text no longer compiles here (an action
    /// that is not registered any more).
    #[error("run {0} cannot be resumed: {1}")]
    Unusable(RunId, String),
    /// Not called from within a tokio runtime, which the run needs.
    #[error("resuming a run must be done from within a tokio runtime (#[tokio::main], Runtime::block_on)")]
    NoRuntime,
    /// A re-run that cannot be carried out (a task the workflow does not
    /// have, or that never ran; nothing to re-run): refused before anything
    /// is recorded, so the run is left as it was.
    #[error("run {0} was not re-run: {1}; the run is unchanged")]
    Rerun(RunId, String),
    /// The run's secret values are encrypted in the store, and the
    /// executor has no key, or not the key they were encrypted with
    /// ([`ExecutorBuilder::secret_key`](crate::ExecutorBuilder::secret_key)).
    #[error("run {0} cannot be read: {1}")]
    SecretKey(RunId, String),
}

/// What [`Executor::recover`] brought back.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Recovered {
    /// The runs resumed (the paused ones stay paused).
    pub runs: Vec<Run>,
    /// Runs that could not be resumed, and why.
    pub failed: Vec<(RunId, ResumeError)>,
    /// Runs left alone because [`Executor::recover_at_most`] had resumed
    /// as many as it was allowed; oldest first.
    pub left: Vec<RunId>,
}

impl ExecutorInner {
    /// A new run's scheduler and handle, journaled when the executor keeps
    /// runs (and `options` does not say otherwise).
    pub(crate) fn new_run(
        self: &Arc<Self>,
        plan: &Plan,
        parameters: Value,
        id: RunId,
        started_sys: std::time::SystemTime,
        options: RunOptions,
    ) -> Result<(Box<Scheduler>, Run), Error> {
        let durability = options.durability.unwrap_or(self.durability);
        let journal = self
            .journal
            .as_ref()
            .filter(|_| !options.in_memory)
            .cloned();
        let start = match &journal {
            Some(j) => Some(start_record(
                plan,
                &parameters,
                &options,
                durability,
                id,
                Some(j),
            )?),
            None => None,
        };
        let (env, buffers) = self.run_env(plan, id, &options, Actions::Run)?;
        let (scheduler, mut run) =
            Scheduler::new(env, buffers, parameters, id, started_sys, &options);
        let scheduler = match (journal, start) {
            (Some(journal), Some(start)) => {
                let (recorded, rx) = tokio::sync::watch::channel(None);
                run.recorded = Recorded::Pending(rx.clone(), journal.clone());
                scheduler.with_new_journal(
                    journal,
                    durability == Durability::Sync,
                    options.recorded_first,
                    start,
                    recorded,
                    rx,
                )
            }
            _ => scheduler,
        };
        Ok((scheduler, run))
    }

    /// Spawns a run rebuilt from the store, `then` taken after the replay.
    pub(crate) async fn load_and_spawn(
        self: &Arc<Self>,
        id: RunId,
        then: Option<Control>,
    ) -> Result<Run, ResumeError> {
        let journal = self.journal()?;
        let entries = journal.store.load(id).await?;
        let (scheduler, run) = self.resumed_run(id, entries, Actions::Run)?;
        if let Some(c) = then {
            // Taken after the replay, before anything else.
            let _ = run.handle.control.send(Msg::Control(c));
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|_| ResumeError::NoRuntime)?;
        self.live.insert(id, run.handle());
        self.watch_shared(&handle);
        scheduler.spawn(&handle);
        Ok(run)
    }

    /// A run rebuilt from its journal (`entries`, `Started` first), not yet
    /// spawned; with [`Actions::Inspect`], to be inspected only.
    pub(crate) fn resumed_run(
        self: &Arc<Self>,
        id: RunId,
        mut entries: Vec<Entry>,
        mode: Actions,
    ) -> Result<(Box<Scheduler>, Run), ResumeError> {
        let journal = self.journal.clone().ok_or(ResumeError::NoStore)?;
        crate::sealing::open_entries(journal.key.as_ref(), &mut entries)
            .map_err(|(_, e)| ResumeError::SecretKey(id, e.to_string()))?;
        // The `Started` record is taken out, not copied: its inputs may be
        // as long as the journal (a with-items list).
        let mut records = entries.into_iter();
        let Some(Record::Started(start)) = records.next().map(|e| e.record) else {
            return Err(ResumeError::Unusable(
                id,
                "its journal does not begin with a `started` record".to_owned(),
            ));
        };
        let plan = self.recorded_plan(id, &start, mode == Actions::Inspect)?;
        let options = RunOptions {
            depth: start.depth,
            parent: start.parent,
            durability: Some(start.durability),
            ..RunOptions::default()
        };
        let (env, buffers) = self
            .run_env(&plan, id, &options, mode)
            .map_err(|e| ResumeError::Unusable(id, e.to_string()))?;
        let (sync, started_at) = (start.durability == Durability::Sync, start.started_at);
        let (scheduler, mut run) = Scheduler::new(
            env,
            buffers,
            start.inputs,
            id,
            std::time::SystemTime::now(),
            &options,
        );
        run.recorded = Recorded::Stored;
        let scheduler = scheduler
            .began_at(from_millis(started_at))
            .with_journal(RunJournal::resumed(journal, sync, records));
        Ok((scheduler, run))
    }

    /// The plan of the workflow text a run recorded (the text it resumes
    /// with, whatever the workflow's file says now); with `any_action`,
    /// compiled without needing the actions it names.
    fn recorded_plan(
        self: &Arc<Self>,
        id: RunId,
        start: &RunStart,
        any_action: bool,
    ) -> Result<Plan, ResumeError> {
        let workflow = match start.format.as_str() {
            "json" => Workflow::from_json_str(&start.source),
            _ => Workflow::from_yaml_str(&start.source),
        };
        let catalog = crate::Executor {
            inner: self.clone(),
        };
        workflow
            .map(|w| w.with_name(start.workflow.clone()))
            .and_then(|w| {
                // Checks added since the run was recorded do not stop it.
                if any_action {
                    w.compile_recorded(&AnyAction)
                } else {
                    w.compile_recorded(&catalog)
                }
            })
            .map_err(|e| {
                ResumeError::Unusable(id, format!("its workflow does not compile here: {e}"))
            })
    }

    fn journal(&self) -> Result<&Arc<Journal>, ResumeError> {
        self.journal.as_ref().ok_or(ResumeError::NoStore)
    }
}

impl Executor {
    /// The store this executor keeps its runs in, if it has one.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.inner.journal.as_ref().map(|j| &j.store)
    }

    /// Resumes every run the store says was going on (or paused) when the
    /// process that ran it stopped: each is rebuilt by replaying its
    /// journal, and continues. Attempts whose outcome is recorded do not
    /// run again; attempts that were in flight do. Paused runs stay paused
    /// (resume them by id). Sub-workflows are resumed by their parents.
    ///
    /// Call it once when a service starts, before it starts new runs, and
    /// only where no other process runs the same store's runs. On a shared
    /// store ([`SharedStore`](crate::store::SharedStore)) it takes over only
    /// the runs whose lease has expired; a worker
    /// ([`Executor::worker`]) does that continuously.
    ///
    /// # Errors
    ///
    /// The executor has no store, or the store cannot be read. A run that
    /// cannot be resumed is listed in [`Recovered::failed`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future part-way leaves the runs resumed so far going.
    pub async fn recover(&self) -> Result<Recovered, ResumeError> {
        self.recover_at_most(usize::MAX).await
    }

    /// [`Executor::recover`], resuming at most `max_runs` runs that are not
    /// paused, oldest first; the others are listed in [`Recovered::left`]
    /// and left as they are (a worker of a shared store, or a later call,
    /// takes them). Paused runs do not count, as they do not for a
    /// worker's [`WorkerConfig::max_runs`](crate::WorkerConfig::max_runs).
    /// Submitted runs that no process has claimed yet (`queued`) are left
    /// to workers.
    ///
    /// # Errors
    ///
    /// As for [`Executor::recover`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future part-way leaves the runs resumed so far going.
    pub async fn recover_at_most(&self, max_runs: usize) -> Result<Recovered, ResumeError> {
        let journal = self.inner.journal()?;
        let filter = RunFilter::all().statuses([
            RunStatus::Running,
            RunStatus::Pausing,
            RunStatus::Paused,
            RunStatus::Canceling,
        ]);
        let mut filter = filter;
        filter.top_level = true;
        let mut listed = journal.store.list(&filter).await?;
        // Oldest first, as they were started.
        listed.sort_by_key(|r| r.id);
        let mut out = Recovered::default();
        let mut going = 0;
        for summary in listed {
            if self.inner.live.contains_key(&summary.id) {
                continue;
            }
            let paused = crate::run::is_paused(summary.status);
            if !paused && going >= max_runs {
                out.left.push(summary.id);
                continue;
            }
            match self.acquire_and_spawn(summary.id, None).await {
                Ok(run) => {
                    going += usize::from(!paused);
                    out.runs.push(run);
                }
                // Going on in another process that shares the store.
                Err(ResumeError::Store(StoreError::Fenced(_))) => {}
                Err(e) => out.failed.push((summary.id, e)),
            }
        }
        Ok(out)
    }

    /// Resumes one run from the store: one that was going on when its
    /// process stopped, or a paused one (which is resumed too).
    ///
    /// # Errors
    ///
    /// See [`ResumeError`]: no store, no such run, a run going on here
    /// already, a run that has ended, a journal that cannot be continued.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it ends resumes nothing.
    pub async fn resume_run(&self, id: RunId) -> Result<Run, ResumeError> {
        let summary = self.settled_summary(id).await?;
        if summary.status.is_terminal() {
            return Err(ResumeError::Ended(id, summary.status));
        }
        let paused = matches!(summary.status, RunStatus::Paused | RunStatus::Pausing);
        self.acquire_and_spawn(id, paused.then_some(Control::Resume))
            .await
    }

    /// The summary of a run that is not going on here, read once every
    /// record this executor sent for it is in the store (a run that just
    /// ended may still have some on their way): what resuming and
    /// re-running check first.
    async fn settled_summary(&self, id: RunId) -> Result<RunSummary, ResumeError> {
        if self.inner.live.contains_key(&id) {
            return Err(ResumeError::Live(id));
        }
        let journal = self.inner.journal()?;
        // A run of this executor that just ended may still have records on
        // their way to the store: load what it recorded, not less.
        journal.barrier().await;
        let summary = journal
            .store
            .get(id)
            .await?
            .ok_or(StoreError::NotFound(id))?;
        Ok(summary)
    }

    /// Runs an ended run again (Orquesta's re-run): from `tasks`, by name,
    /// or — when `tasks` is empty — from the tasks that failed it or were
    /// canceled. Each starts again in the route it ran in; the results and
    /// published variables of everything that succeeded stay, and the run
    /// goes on from there under the same id, its journal continued.
    ///
    /// The request is checked against the run as its journal leaves it
    /// (replayed as [`Executor::inspect`] does) before anything is recorded.
    ///
    /// # Errors
    ///
    /// See [`ResumeError`]. A task the workflow does not have, a task that
    /// never ran, or — without `tasks` — a run that succeeded (nothing
    /// failed it) is [`ResumeError::Rerun`], and the run is left untouched.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it ends re-runs nothing.
    pub async fn rerun(&self, id: RunId, tasks: &[&str]) -> Result<Run, ResumeError> {
        let summary = self.settled_summary(id).await?;
        if !summary.status.is_terminal() {
            return Err(ResumeError::NotEnded(id, summary.status));
        }
        self.check_rerun(id, tasks).await?;
        let tasks = tasks.iter().map(|t| (*t).to_owned()).collect();
        self.acquire_and_spawn(id, Some(Control::Rerun(tasks)))
            .await
    }

    /// A run as its journal leaves it, without running anything: its
    /// status, its task records (attempts the journal does not end show as
    /// running), and, once it has ended, its output and errors. It works
    /// for any run in the store, going on here, elsewhere, interrupted or
    /// ended; actions this executor does not have are not needed.
    ///
    /// # Errors
    ///
    /// No store, no such run, or a journal that cannot be replayed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it changes nothing.
    pub async fn inspect(&self, id: RunId) -> Result<crate::RunOutcome, ResumeError> {
        let journal = self.inner.journal()?;
        let entries = journal.store.load(id).await?;
        self.inspect_entries(id, entries).await
    }

    /// Decrypts, in place, the secret values in `entries` read from this
    /// executor's store (see [`ExecutorBuilder::secret_key`](crate::ExecutorBuilder::secret_key)),
    /// for whoever reads a journal directly: a result in which a secret
    /// appeared is stored encrypted, and reads back whole here (mask it
    /// with [`SecretMask`](crate::SecretMask) before showing it). Entries
    /// without secrets are left as they are.
    ///
    /// # Errors
    ///
    /// [`ResumeError::SecretKey`]: the entries hold encrypted values and
    /// the executor has no key, or not the one they were encrypted with.
    pub fn open_secrets(&self, entries: &mut [Entry]) -> Result<(), ResumeError> {
        let key = self.inner.journal.as_ref().and_then(|j| j.key.as_ref());
        crate::sealing::open_entries(key, entries)
            .map_err(|(run, e)| ResumeError::SecretKey(run, e.to_string()))
    }

    /// Refuses a re-run of `id` from `tasks` that could not be carried
    /// out, before anything is recorded.
    async fn check_rerun(&self, id: RunId, tasks: &[&str]) -> Result<(), ResumeError> {
        let journal = self.inner.journal()?;
        let entries = journal.store.load(id).await?;
        let names: Vec<Arc<str>> = match entries.first().map(|e| &e.record) {
            Some(Record::Started(start)) => self
                .inner
                .recorded_plan(id, start, false)?
                .tasks()
                .iter()
                .map(|t| t.name.clone())
                .collect(),
            _ => Vec::new(),
        };
        let seen = self.inspect_entries(id, entries).await?;
        if tasks.is_empty() {
            if seen.status == RunStatus::Succeeded {
                return Err(ResumeError::Rerun(
                    id,
                    "nothing to re-run: no task failed the run or was canceled; name the \
                     tasks to re-run"
                        .to_owned(),
                ));
            }
            return Ok(());
        }
        for &name in tasks {
            if seen.tasks.iter().any(|t| &*t.name == name) {
                continue;
            }
            let why = if names.iter().any(|n| &**n == name) {
                format!("cannot re-run `{name}`: it never ran")
            } else {
                let mut known: Vec<&str> = names.iter().map(|n| &**n).take(20).collect();
                if names.len() > known.len() {
                    known.push("…");
                }
                format!(
                    "cannot re-run `{name}`: the workflow has no such task (its tasks: {})",
                    known.join(", ")
                )
            };
            return Err(ResumeError::Rerun(id, why));
        }
        Ok(())
    }

    /// [`Executor::inspect`] of a journal already loaded.
    async fn inspect_entries(
        &self,
        id: RunId,
        entries: Vec<Entry>,
    ) -> Result<crate::RunOutcome, ResumeError> {
        let mut status = RunStatus::Running;
        let mut end = None;
        for e in &entries {
            status = crate::store::status_after(status, &e.record);
            if let Record::Ended(x) = &e.record {
                end = Some((**x).clone());
            }
        }
        let (scheduler, _run) = self.inner.resumed_run(id, entries, Actions::Inspect)?;
        scheduler
            .inspect(status, end)
            .await
            .map_err(|e| ResumeError::Unusable(id, format!("its journal cannot be replayed: {e}")))
    }

    /// Takes the run over first on a shared store (refused while another
    /// process holds its lease), then spawns it from its journal.
    async fn acquire_and_spawn(
        &self,
        id: RunId,
        then: Option<Control>,
    ) -> Result<Run, ResumeError> {
        let journal = self.inner.journal()?;
        if let Some(shared) = journal.store.shared() {
            shared.acquire(id).await?;
        }
        self.inner.load_and_spawn(id, then).await
    }

    /// Waits until every record handed to the journal so far is committed
    /// (call it before the process exits, after the runs it waits for).
    ///
    /// # Errors
    ///
    /// A commit failed since the last flush (its runs were told, but one
    /// that had already ended, under write-behind durability, lost the
    /// records of its end).
    ///
    /// On a store that takes a commit with a callback
    /// ([`Store::submit_parts`](crate::store::Store::submit_parts), the
    /// SQLite store), a flush that finds no commit in flight commits what
    /// waits itself, and the store's thread answers it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only stops waiting: a commit it started goes
    /// on without it (nothing needs the future polled again).
    pub async fn flush(&self) -> Result<(), StoreError> {
        match &self.inner.journal {
            Some(j) => j.flush().await,
            None => Ok(()),
        }
    }
}

/// The `Started` record of a new run `id` of `plan`, its secret inputs
/// sealed with the key of `journal`. A run with secret inputs and no key
/// is refused: its journal would keep them in plain text.
pub(crate) fn start_record(
    plan: &Plan,
    parameters: &Value,
    options: &RunOptions,
    durability: Durability,
    id: RunId,
    journal: Option<&Journal>,
) -> Result<Record, Error> {
    let key = journal.and_then(|j| j.key.as_ref());
    let mut inputs = parameters.clone();
    match key {
        Some(key) => crate::sealing::seal_inputs(key, id, plan, &mut inputs),
        None => {
            let secret = crate::sealing::secret_inputs(plan, parameters);
            if !secret.is_empty() {
                return Err(Error::new(
                    ErrorKind::Input,
                    format!(
                        "the run has secret inputs ({}), and a durable run keeps its inputs in \
                         the store, which encrypts secret values with a key that was not given: \
                         give a secret key of 32 bytes (in the CLI, the WEFT_SECRET_KEY \
                         environment variable or --secret-key-file PATH, holding 64 hex digits \
                         or base64: make one with `head -c 32 /dev/urandom | base64`; in code, \
                         ExecutorBuilder::secret_key), or run it without a store",
                        secret
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
    let Some((text, format)) = plan.source() else {
        return Err(Error::new(
            ErrorKind::Input,
            "a durable run keeps its workflow's text, and this plan has none \
             (it was built in code): load the workflow from text \
             (Workflow::from_yaml_str(&workflow.to_yaml_string()?)), \
             or start the run with RunOptions::in_memory",
        ));
    };
    Ok(Record::Started(Box::new(RunStart {
        workflow: plan.name().to_string(),
        source: text.to_owned(),
        format: match format {
            Format::Json => "json".to_owned(),
            _ => "yaml".to_owned(),
        },
        hash: match journal {
            Some(j) => j.source_hash(plan, text),
            None => source_hash(text),
        },
        inputs,
        parent: options.parent,
        depth: options.depth,
        durability,
        started_at: millis(SystemTime::now()),
    })))
}

/// Every name is an action: for inspecting runs whose actions this
/// process does not have.
struct AnyAction;

impl weft_core::ActionCatalog for AnyAction {
    fn has_action(&self, _: &str) -> bool {
        true
    }

    fn action_names(&self) -> Vec<String> {
        Vec::new()
    }
}
