//! Runs shared by several processes: submitting a run for any process to
//! take ([`Executor::submit`]), the worker that claims and runs them
//! ([`Executor::worker`]), and commands that reach a run wherever it runs
//! ([`Executor::command`]).
//!
//! The worker is event-driven like the rest of the runtime: it claims when
//! the store says a run was submitted or handed back, when one of its own
//! runs ends (a slot is free), and when the earliest lease of another
//! process expires (the store says when). A fallback poll
//! ([`WorkerConfig::poll_interval`]) covers notices lost with a
//! connection.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;
use weft_core::{Error, Plan};

use crate::durable::{start_record, ResumeError};
use crate::executor::{Executor, ExecutorInner};
use crate::id::RunId;
use crate::run::msg::{Control, Msg};
use crate::run::RunOptions;
use crate::store::{Command, Entry, Notice, SharedStore, StoreError};

/// Why [`Executor::submit`] or [`Executor::command`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharedError {
    /// The executor has no store that several processes can share.
    #[error(
        "this executor has no shared store: give it one that several processes \
         can share (a Postgres store) with ExecutorBuilder::store"
    )]
    NotShared,
    /// The inputs do not fit the workflow, or the plan keeps no text.
    #[error(transparent)]
    Workflow(#[from] Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command cannot be sent to a run (a re-run is started with
    /// [`Executor::rerun`]).
    #[error("{0}")]
    Command(String),
}

/// How a worker claims runs ([`Executor::worker`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Runs this process runs at once, at most. Default 64. Paused runs
    /// (and pausing ones, whose running actions finish but start nothing
    /// new) do not count: a worker claims more while some of its runs are
    /// paused, so resuming them may take it over this number for a while.
    pub max_runs: usize,
    /// Runs one claim takes, at most. Default 16: a bigger batch takes a
    /// burst of submissions in fewer queries, and leaves less for other
    /// workers to share.
    pub claim_batch: usize,
    /// The longest the worker goes without looking for work, when nothing
    /// wakes it. Default 5 s: it covers notices lost while the connection
    /// that listens was being re-established.
    pub poll_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            max_runs: 64,
            claim_batch: 16,
            poll_interval: Duration::from_secs(5),
        }
    }
}

impl WorkerConfig {
    /// The defaults.
    pub fn new() -> WorkerConfig {
        WorkerConfig::default()
    }

    /// Sets [`WorkerConfig::max_runs`] (at least 1).
    #[must_use]
    pub fn max_runs(mut self, n: usize) -> WorkerConfig {
        self.max_runs = n.max(1);
        self
    }

    /// Sets [`WorkerConfig::claim_batch`] (at least 1).
    #[must_use]
    pub fn claim_batch(mut self, n: usize) -> WorkerConfig {
        self.claim_batch = n.max(1);
        self
    }

    /// Sets [`WorkerConfig::poll_interval`].
    #[must_use]
    pub fn poll_interval(mut self, d: Duration) -> WorkerConfig {
        self.poll_interval = d.max(Duration::from_millis(10));
        self
    }
}

/// What a worker did, when it stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerReport {
    /// Runs it claimed.
    pub claimed: usize,
    /// Runs that ended while it ran them, their end committed by it.
    pub ended: usize,
    /// Runs it stopped holding before their end was committed by it: taken
    /// over, a lease it could not renew in time, a commit the store
    /// refused because the run was no longer this process's (fenced), or
    /// given up because their journal could not be written (their lease
    /// then lapses), or because they did not stop in time to be handed
    /// back. The actions they had in flight run again in their next owner.
    pub lost: usize,
    /// Runs it handed back when it stopped.
    pub released: usize,
}

/// Claims runs from a shared store and runs them; see
/// [`Executor::worker`].
#[derive(Debug)]
#[must_use = "a worker does nothing until `run` is awaited"]
pub struct Worker {
    executor: Executor,
    config: WorkerConfig,
}

impl Executor {
    /// Stores a run of `plan` with `inputs` as *submitted*: owned by no
    /// process, for a worker ([`Executor::worker`]) of any process that
    /// shares the store to claim. Returns its id at once.
    ///
    /// # Errors
    ///
    /// The executor's store is not shared, the inputs do not fit the
    /// workflow, the plan keeps no text, or the store failed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave the run submitted or not.
    pub async fn submit(&self, plan: &Plan, inputs: Value) -> Result<RunId, SharedError> {
        let shared = self.shared()?;
        let parameters = plan.bind_inputs(inputs)?;
        let id = RunId::new();
        let record = start_record(
            plan,
            &parameters,
            &RunOptions::default(),
            self.inner.durability,
            id,
            self.inner.journal.as_deref(),
        )?;
        shared
            .submit(&Entry {
                run: id,
                seq: 0,
                record,
            })
            .await?;
        Ok(id)
    }

    /// Sends `command` to a run: to it directly when it runs in this
    /// process, otherwise through the shared store to the process that runs
    /// it (or claims it next).
    ///
    /// # Errors
    ///
    /// A re-run (use [`Executor::rerun`]); a run that is not here when the
    /// store is not shared; the store failed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave the command sent or not.
    pub async fn command(&self, id: RunId, command: Command) -> Result<(), SharedError> {
        if matches!(command, Command::Rerun { .. }) {
            return Err(SharedError::Command(
                "a re-run is not a command to a running run: use Executor::rerun".to_owned(),
            ));
        }
        if let Some(h) = self.inner.live.get(&id) {
            deliver(h.value(), &command);
            return Ok(());
        }
        match self.shared() {
            Ok(shared) => Ok(shared.send_command(id, command).await?),
            Err(_) => Err(SharedError::Command(format!(
                "no run `{id}` is going on in this executor, and its store is not shared"
            ))),
        }
    }

    /// A worker that claims runs from this executor's shared store and runs
    /// them, up to [`WorkerConfig::max_runs`] at once.
    pub fn worker(&self, config: WorkerConfig) -> Worker {
        Worker {
            executor: self.clone(),
            config,
        }
    }

    fn shared(&self) -> Result<&dyn SharedStore, SharedError> {
        self.inner
            .journal
            .as_ref()
            .and_then(|j| j.store.shared())
            .ok_or(SharedError::NotShared)
    }
}

fn deliver(h: &crate::RunHandle, command: &Command) {
    match command {
        Command::Cancel => h.cancel(),
        Command::Abort => h.abort(),
        Command::Pause => h.pause(),
        Command::Resume => h.resume(),
        Command::Respond { .. } | Command::Signal { .. } => h.answer(command.clone(), None),
        // Recorded by the run itself; never sent.
        Command::Rerun { .. } | Command::Expire { .. } => {}
    }
}

impl Worker {
    /// Claims and runs until `shutdown` completes, then hands its runs
    /// back: they are stopped here (the actions running at that moment are
    /// aborted, and run again elsewhere), what they recorded is committed,
    /// and their leases end, so that another process claims them and goes
    /// on from their journals. A run still going 5 s after it was stopped
    /// is not handed back: its lease is no longer renewed, and lapses.
    ///
    /// # Errors
    ///
    /// The executor's store is not shared.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops claiming, but leaves the runs it claimed
    /// going in this process; complete `shutdown` instead.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<WorkerReport, SharedError> {
        let executor = self.executor;
        let config = self.config;
        let shared = executor.shared()?;
        let mut notices = shared.notices();
        let _counting = executor.inner.lost.count_for_worker();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            executor.inner.watch_shared(&handle);
        }
        let mut report = WorkerReport::default();
        let mut mine: HashSet<RunId> = HashSet::new();
        let mut skip: Vec<RunId> = Vec::new();
        let (ended_tx, ended_rx) = flume::unbounded::<RunId>();
        let mut claim_due = true;
        let mut commands_due = true;
        let mut next_look = Instant::now() + config.poll_interval;
        tokio::pin!(shutdown);
        loop {
            // Lost runs are counted before anything is claimed: a run lost
            // here may be claimed here again once its lease lapses.
            let wake = take_notices(&mut notices, &mut mine, &mut report);
            claim_due |= wake.claim;
            commands_due |= wake.commands;
            // Stopped already (see `ExecutorInner::watch_shared`).
            for id in executor.inner.lost.take_seen() {
                report.lost += lose(&mut mine, id);
            }
            while let Ok(id) = ended_rx.try_recv() {
                // A run lost before it was said to end was told lost first.
                let wake = take_notices(&mut notices, &mut mine, &mut report);
                claim_due |= wake.claim;
                commands_due |= wake.commands;
                if mine.remove(&id) {
                    report.ended += 1;
                    claim_due = true;
                }
            }
            let busy = running(&executor.inner, &mine);
            if claim_due && busy < config.max_runs {
                claim_due = false;
                let room = (config.max_runs - busy).min(config.claim_batch);
                // Nor a run still going here (its lease lapsed before a
                // renewal came, or it is being stopped): a second scheduler
                // of it would run beside the first under the same owner.
                let not_now: Vec<RunId> = skip
                    .iter()
                    .copied()
                    .chain(executor.inner.live.iter().map(|e| *e.key()))
                    .collect();
                match shared.claim(room, &not_now).await {
                    Ok(claimed) => {
                        let full = claimed.runs.len() == room;
                        next_look = Instant::now()
                            + claimed.next_expiry.map_or(config.poll_interval, |d| {
                                (d + Duration::from_millis(5)).min(config.poll_interval)
                            });
                        for id in claimed.runs {
                            report.claimed += 1;
                            match executor.inner.load_and_spawn(id, None).await {
                                Ok(run) => {
                                    mine.insert(id);
                                    let tx = ended_tx.clone();
                                    let journal = executor.inner.journal.clone();
                                    tokio::spawn(async move {
                                        let _ = run.await;
                                        // Its last records (write-behind)
                                        // through a commit: a run whose end
                                        // the store refused is lost, and
                                        // told so, before it is said to end.
                                        if let Some(j) = journal {
                                            j.barrier().await;
                                        }
                                        let _ = tx.send(id);
                                    });
                                }
                                // The store failed to give the journal (a
                                // restart, a dropped connection): not the
                                // run's fault. Its lease, no longer
                                // renewed, lapses, and it is claimed again
                                // (here or elsewhere) once the store answers.
                                Err(ResumeError::Store(e @ StoreError::Unavailable { .. })) => {
                                    tracing::warn!(run_id = %id, error = %e, "a claimed run's journal cannot be read; it is claimed again once its lease lapses");
                                    shared.abandon(id);
                                    report.lost += 1;
                                }
                                Err(e) => {
                                    tracing::warn!(run_id = %id, error = %e, "a claimed run cannot run here; handing it back");
                                    skip.push(id);
                                    let _ = shared.release(id).await;
                                }
                            }
                        }
                        // Commands may wait for the runs just claimed.
                        commands_due = true;
                        // More may wait than one claim took.
                        claim_due = full;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim runs; trying again later");
                        next_look =
                            Instant::now() + config.poll_interval.min(Duration::from_secs(1));
                    }
                }
            }
            if commands_due {
                commands_due = false;
                match shared.take_commands().await {
                    Ok(commands) => {
                        for (id, command) in commands {
                            if let Some(h) = executor.inner.live.get(&id) {
                                deliver(h.value(), &command);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read commands; trying again later");
                        commands_due = true;
                    }
                }
            }
            if claim_due && running(&executor.inner, &mine) < config.max_runs {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                notice = notices.recv() => match notice {
                    Ok(Notice::Claimable) => claim_due = true,
                    Ok(Notice::Command(id)) => commands_due |= mine.contains(&id),
                    Ok(Notice::RunLost(id)) => {
                        report.lost += lose(&mut mine, id);
                    }
                    Ok(Notice::Ended(_)) | Ok(Notice::Lost) => {}
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        claim_due = true;
                        commands_due = true;
                    }
                    Err(RecvError::Closed) => {
                        // The store stopped telling: look by the clock.
                        tokio::time::sleep_until(next_look).await;
                        claim_due = true;
                        commands_due = true;
                    }
                },
                id = ended_rx.recv_async() => {
                    // A lost run ends once stopped: it counts as lost. The
                    // store told it lost before it was said to end.
                    let wake = take_notices(&mut notices, &mut mine, &mut report);
                    commands_due |= wake.commands;
                    for id in executor.inner.lost.take_seen() {
                        report.lost += lose(&mut mine, id);
                    }
                    if let Ok(id) = id {
                        if mine.remove(&id) {
                            report.ended += 1;
                        }
                    }
                    claim_due = true;
                }
                // A run of this process paused (its slot is free) or
                // resumed.
                () = executor.inner.lost.pauses.notified() => claim_due = true,
                () = tokio::time::sleep_until(next_look) => {
                    next_look = Instant::now() + config.poll_interval;
                    claim_due = true;
                    commands_due = true;
                }
            }
        }
        // Hand back: stop the runs here (their actions are aborted, and
        // nothing more of them is recorded), wait for them to be stopped,
        // commit what they recorded, then end the leases. In the other
        // order another process could claim a run while its actions still
        // ran here.
        let owned = shared.owned();
        for id in &owned {
            stop(&executor.inner, *id, "this process handed the run back");
        }
        let give_up = Instant::now() + HAND_BACK_WAIT;
        while owned.iter().any(|id| executor.inner.live.contains_key(id))
            && Instant::now() < give_up
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Err(e) = executor.flush().await {
            // The runs whose records it lost were abandoned by the writer
            // (their leases lapse, and they resume from what was kept).
            tracing::warn!(error = %e, "a commit failed while runs were handed back");
        }
        for id in owned {
            if executor.inner.live.contains_key(&id) {
                // Still going: left to its lease, which is no longer
                // renewed, rather than handed to another process now.
                tracing::warn!(run_id = %id, "the run did not stop in time to be handed back; its lease will expire");
                shared.abandon(id);
                report.lost += usize::from(mine.remove(&id));
                continue;
            }
            match shared.release(id).await {
                Ok(()) => report.released += usize::from(mine.contains(&id)),
                Err(e) => {
                    tracing::warn!(run_id = %id, error = %e, "cannot hand the run back; its lease will expire")
                }
            }
        }
        Ok(report)
    }
}

/// Takes `id` out of `mine` when the store says it was lost; 1 if it was
/// there.
fn lose(mine: &mut HashSet<RunId>, id: RunId) -> usize {
    let lost = mine.remove(&id);
    if lost {
        tracing::warn!(run_id = %id, "lost the run: another process may run it now, and runs again the actions it had in flight here");
    }
    usize::from(lost)
}

/// What the notices already waiting ask the worker to do.
#[derive(Default)]
struct Wake {
    claim: bool,
    commands: bool,
}

/// Takes the notices already waiting, counting the runs of `mine` they say
/// were lost; says what else they ask for.
fn take_notices(
    notices: &mut tokio::sync::broadcast::Receiver<Notice>,
    mine: &mut HashSet<RunId>,
    report: &mut WorkerReport,
) -> Wake {
    let mut wake = Wake::default();
    loop {
        match notices.try_recv() {
            Ok(Notice::RunLost(id)) => report.lost += lose(mine, id),
            Ok(Notice::Claimable) => wake.claim = true,
            Ok(Notice::Command(id)) => wake.commands |= mine.contains(&id),
            Ok(Notice::Ended(_) | Notice::Lost) => {}
            Ok(_) | Err(TryRecvError::Lagged(_)) => {
                wake.claim = true;
                wake.commands = true;
            }
            Err(TryRecvError::Empty | TryRecvError::Closed) => return wake,
        }
    }
}

/// How many of `mine` take a slot: those going on here and not paused.
fn running(executor: &ExecutorInner, mine: &HashSet<RunId>) -> usize {
    mine.iter()
        .filter(|id| {
            !executor
                .live
                .get(id)
                .is_some_and(|h| crate::run::is_paused(h.value().status()))
        })
        .count()
}

/// How long a stopping worker waits for its runs to stop before it hands
/// them back; one still going after that keeps its lease until it lapses.
const HAND_BACK_WAIT: Duration = Duration::from_secs(5);

impl ExecutorInner {
    /// Starts, once, the task that stops the runs this executor's shared
    /// store says it lost, and delivers the commands other processes send
    /// to its runs: a run started here ([`Executor::start`],
    /// [`Executor::resume_run`]) is stopped as a worker's is (before
    /// another process may claim it, not only at its next commit), and is
    /// steered from any process, whether or not this one runs a worker.
    pub(crate) fn watch_shared(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let Some(shared) = self.journal.as_ref().and_then(|j| j.store.shared()) else {
            return;
        };
        self.lost.watching.get_or_init(|| {
            let mut notices = shared.notices();
            let inner = Arc::downgrade(self);
            runtime.spawn(async move {
                loop {
                    let notice = notices.recv().await;
                    if matches!(notice, Err(RecvError::Closed)) {
                        return;
                    }
                    let Some(inner) = inner.upgrade() else {
                        return;
                    };
                    let Some(shared) = inner.journal.as_ref().and_then(|j| j.store.shared()) else {
                        return;
                    };
                    let commands = match notice {
                        Ok(Notice::Command(id)) => inner.live.contains_key(&id),
                        Ok(Notice::Missed) | Err(RecvError::Lagged(_)) => true,
                        _ => false,
                    };
                    if commands {
                        match shared.take_commands().await {
                            Ok(commands) => {
                                for (id, command) in commands {
                                    if let Some(h) = inner.live.get(&id) {
                                        deliver(h.value(), &command);
                                    }
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot read commands; trying again at the next notice");
                            }
                        }
                    }
                    let lost = match notice {
                        // Heard by every executor that shares the store.
                        Ok(Notice::RunLost(id)) => vec![id],
                        // The runs were announced one by one before: the
                        // list is only emptied, so that it does not grow.
                        Ok(Notice::Lost) => {
                            let _ = shared.take_lost();
                            continue;
                        }
                        // Notices were dropped: the list says what was lost.
                        Err(RecvError::Lagged(_)) => shared.take_lost(),
                        _ => continue,
                    };
                    if inner.lost.workers.load(Ordering::SeqCst) > 0 {
                        inner
                            .lost
                            .seen
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend_from_slice(&lost);
                    }
                    for id in lost {
                        // Sub-workflows too: they are owned with their
                        // parents.
                        stop(
                            &inner,
                            id,
                            "another process owns the run now (its lease was lost)",
                        );
                    }
                }
            });
        });
    }
}

/// Stops a run here without recording anything more of it.
fn stop(executor: &ExecutorInner, id: RunId, why: &str) {
    if let Some(h) = executor.live.get(&id) {
        let _ = h
            .value()
            .control
            .send(Msg::Control(Control::LeaseLost(why.to_owned())));
    }
}
