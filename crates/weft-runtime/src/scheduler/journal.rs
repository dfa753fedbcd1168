//! The journal of a durable run, from the scheduler's side: what it
//! records, when it hands records over, and how it replays them.
//!
//! # What is recorded, and where
//!
//! * `Started`, before the first turn (made by the executor);
//! * `Attempt`, in `completed`, for every outcome that came from an
//!   attempt's own task — at the step it is handled, so a replay handles it
//!   at the same point of the queue;
//! * `Command`, in `handle`, for cancel, abort, pause, resume and re-run, between
//!   two steps;
//! * `Ended`, in `finish`.
//!
//! Everything else the scheduler does follows from those and the plan
//! (the determinism replay rests on): instance numbers, item order, route
//! numbers, what the queue holds (never the clock: with-items fill by a
//! fixed chunk, not by the turn's budget), completions made by the
//! scheduler itself (tasks without an action, inputs that fail to render,
//! attempts dropped by an abort or a pause). No wall-clock or random value
//! takes part in a decision except through a recorded outcome.
//!
//! # Turns
//!
//! Records of a turn are handed to the journal writer when the turn ends
//! (before the loop waits or yields); write-behind, a few records of a
//! turn whose next message is here already wait for the next turn's, and
//! are handed over with them before the loop waits or yields. With `sync` durability the attempts
//! the turn launched are held until the writer says the records are
//! committed: no task starts before what caused it is on disk, and the
//! first turn's records go with the `Started` record, in one commit.
//! Write-behind, the `Started` record is handed to the writer by `start`
//! itself and the run does not wait for it: a short run commits once.
//! Either way `Run::recorded` is told how the `Started` record's commit
//! went, and a caller hands the run's id out once `recorded` says so.
//! Should that first commit fail, the run fails with an error saying that
//! it was not kept (nothing of it can be resumed); with `sync` durability
//! the attempts the first turn launched never start.
//!
//! # Replay
//!
//! A resumed run is rebuilt from the plan and inputs, and fed its records:
//! the queue is worked until the step an `Attempt` record names, and the
//! outcome is handled there; commands are applied between steps. Attempts
//! the replay launches are not spawned: for those whose outcome a record
//! gives, no launch is even built (the replay knows their keys from the
//! start, and keeps only the slot each holds); the others are held, and
//! were in flight when the process stopped: they run once the records run
//! out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::launch::Launch;
use super::scope::Scope;
use super::{Scheduler, Skipped, State, Work};
use crate::action::ActionError;
use crate::id::RunId;
use crate::journal::{FirstCommit, Journal};
use crate::run::msg::{AttemptKey, Done, InstanceId, ItemIndex, Outcome, SlotId};
use crate::store::{
    from_millis, millis, AttemptOutcome, AttemptRecord, Command, Entry, Record, RunEnd, StoreError,
};

/// The most records of write-behind turns that wait for the next turn's
/// instead of being handed over at their turn's end (see
/// `Scheduler::defers_records`): a chain's hops hand theirs over a few
/// at a time, not one a hop.
const DEFER_MOST: usize = 16;

/// A durable run's journal state.
pub(crate) struct RunJournal {
    journal: Arc<Journal>,
    /// The next record's sequence number.
    seq: u64,
    /// Records of this turn, not yet handed over.
    buf: Vec<Entry>,
    /// `sync` durability.
    sync: bool,
    /// The `Started` record of a `sync` run (or one started with
    /// `RunOptions::recorded_first`) is not yet committed: nothing starts
    /// before it is.
    unrecorded: bool,
    /// Told how the commit of such a run's `Started` record went
    /// (`Run::recorded`).
    recorded: Option<FirstCommit>,
    /// How the commit of a write-behind run's `Started` record went, as
    /// the writer tells it: a failure before that commit means the store
    /// never had the run.
    first: Option<tokio::sync::watch::Receiver<Option<Result<(), StoreError>>>>,
    /// Launches of this turn waiting for its records to be committed.
    held: Vec<Launch>,
    /// While the run is being rebuilt from its records.
    replay: Option<Box<Replay>>,
    /// The journal cannot be written any more (why).
    broken: Option<String>,
    /// How times on the run's clock become the milliseconds records
    /// store, once the first attempt record asked.
    clock: Option<RecordClock>,
}

/// Times on the run's clock as the milliseconds since the epoch that
/// records store: the run's start in nanoseconds since the epoch plus the
/// time since the start, taken once a run (the same milliseconds as
/// through `SystemTime`, which costs twice as much); and the moments of
/// the millisecond converted last, which the next records' times nearly
/// always fall in (an attempt's start and end, the next attempt's): a time
/// in them is that millisecond, two comparisons instead of a subtraction
/// of `Instant`s and a division.
#[derive(Clone, Copy)]
struct RecordClock {
    /// The run's start in nanoseconds since the epoch (`None`: not
    /// representable).
    base: Option<u64>,
    /// The moments `from..until` of the millisecond `ms`.
    last: Option<(Instant, Instant, u64)>,
}

impl RecordClock {
    fn new(started_sys: SystemTime) -> RecordClock {
        RecordClock {
            base: started_sys
                .duration_since(UNIX_EPOCH)
                .ok()
                .and_then(|d| u64::try_from(d.as_nanos()).ok()),
            last: None,
        }
    }

    /// `at` in milliseconds since the epoch, for a run that started at
    /// `started` (`started_sys` on the system clock); a time before the
    /// start counts as the start.
    #[inline]
    fn millis(&mut self, started: Instant, started_sys: SystemTime, at: Instant) -> u64 {
        match self.last {
            Some((from, until, ms)) if from <= at && at < until => ms,
            _ => self.convert(started, started_sys, at),
        }
    }

    /// [`RecordClock::millis`] worked out, and its millisecond's moments
    /// kept.
    fn convert(&mut self, started: Instant, started_sys: SystemTime, at: Instant) -> u64 {
        let d = at.saturating_duration_since(started);
        let Some(base) = self.base else {
            return millis(started_sys + d);
        };
        let Some(ns) = u64::try_from(d.as_nanos())
            .ok()
            .and_then(|d| base.checked_add(d))
        else {
            return millis(started_sys + d);
        };
        let ms = ns / 1_000_000;
        // The millisecond's moments from the start on (a time before the
        // start is worked out again: it is not in them, though it counts
        // as the start): exactly the times whose nanoseconds since the
        // epoch fall in it.
        let from = (ms * 1_000_000).saturating_sub(base);
        let until = (ms + 1)
            .checked_mul(1_000_000)
            .map(|end| end - base)
            .and_then(|to| started.checked_add(Duration::from_nanos(to)));
        self.last = match (started.checked_add(Duration::from_nanos(from)), until) {
            (Some(from), Some(until)) => Some((from, until, ms)),
            _ => None,
        };
        ms
    }
}

/// Why a journal cannot be replayed: a record does not fit the run the
/// workflow makes now (it behaves differently from when it was recorded).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplayError {
    /// Record `seq` does not fit.
    #[error("record {seq}: {mismatch}")]
    Record { seq: u64, mismatch: Mismatch },
    /// A `started` record after the first.
    #[error("record {0}: a second `started` record")]
    SecondStart(u64),
}

/// How a record does not fit the run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Mismatch {
    /// The record is at a step the run never gets to.
    #[error(
        "the journal says step {step}, but the run has nothing left to do after step {done}: \
         the workflow (or weft) behaves differently from when it was recorded"
    )]
    NothingLeft { step: u64, done: u64 },
    /// The record ends an attempt the run did not start at that step.
    #[error(
        "the journal names attempt {} of instance {}{} at step {step}, which the run did not start there",
        key.attempt,
        key.instance.0,
        key.item.map(|i| format!(" item {}", i.0)).unwrap_or_default()
    )]
    NotStarted { key: AttemptKey, step: u64 },
    /// A command record cannot be applied (its error says why).
    #[error("{0}")]
    Command(String),
}

struct Replay {
    /// The records after `Started`, in order.
    records: std::vec::IntoIter<Entry>,
    /// The attempts whose outcome a record gives, and the slot each holds
    /// once the replay has started it.
    known: KnownAttempts,
    /// The attempt whose outcome is known, by the slot it holds.
    slot_keys: Vec<Option<AttemptKey>>,
    /// Launches of attempts no record ends (in flight when the process
    /// stopped), by slot.
    pending: HashMap<u32, Launch, foldhash::fast::RandomState>,
    /// The run had ended (a re-run follows).
    ended: bool,
    /// The run's start in milliseconds, the moment it stands for, and
    /// whether the start is on a whole millisecond (a resumed run's is:
    /// see `began_at`); set when `instant_of` is first asked.
    clock: Option<(u64, Instant, bool)>,
}

/// The attempts a journal ends, and where each stands in the replay: one
/// insert and two look-ups per attempt record. A table per instance and
/// attempt number, indexed by item, not one map of every attempt: the
/// items of a with-items task start and end nearly in order, so each
/// look-up touches memory next to the one before instead of a random
/// place in a map as large as the journal (at 100,000 records, most
/// look-ups of such a map missed the processor's caches). An item too far
/// beyond the number of records for a table (a damaged journal, or a few
/// stragglers of a long list) goes to a map of its own.
struct KnownAttempts {
    /// The table of each instance and attempt number.
    groups: HashMap<(u32, u32), usize, foldhash::fast::RandomState>,
    /// Indexed by item + 1 (0 for an attempt without items).
    tables: Vec<Vec<Known>>,
    /// Attempts whose item is at `dense` or beyond.
    sparse: HashMap<AttemptKey, Known, foldhash::fast::RandomState>,
    /// The table length no table grows to: a few times the records.
    dense: usize,
    /// The group looked up last, and its table: consecutive records are
    /// nearly always of one instance and attempt number.
    last: Option<((u32, u32), usize)>,
}

impl KnownAttempts {
    fn new(records: usize) -> KnownAttempts {
        KnownAttempts {
            groups: HashMap::default(),
            tables: Vec::new(),
            sparse: HashMap::default(),
            dense: records.saturating_mul(4).saturating_add(4096),
            last: None,
        }
    }

    /// The table of `group`, made if `make` and it has none.
    fn table(&mut self, group: (u32, u32), make: bool) -> Option<usize> {
        if let Some((g, t)) = self.last {
            if g == group {
                return Some(t);
            }
        }
        let t = match self.groups.get(&group) {
            Some(&t) => t,
            None if make => {
                self.tables.push(Vec::new());
                self.groups.insert(group, self.tables.len() - 1);
                self.tables.len() - 1
            }
            None => return None,
        };
        self.last = Some((group, t));
        Some(t)
    }

    fn place(key: &AttemptKey) -> ((u32, u32), usize) {
        let index = key.item.map_or(0, |i| i.index() + 1);
        ((key.instance.0, key.attempt), index)
    }

    /// Notes that a record ends `key`.
    fn insert(&mut self, key: AttemptKey) {
        let (group, index) = Self::place(&key);
        if index >= self.dense {
            self.sparse.insert(key, Known::Waiting);
            return;
        }
        let Some(t) = self.table(group, true) else {
            return;
        };
        let table = &mut self.tables[t];
        if table.len() <= index {
            table.resize(index + 1, Known::Absent);
        }
        table[index] = Known::Waiting;
    }

    /// Where `key` stands, if a record ends it.
    fn get_mut(&mut self, key: &AttemptKey) -> Option<&mut Known> {
        let (group, index) = Self::place(key);
        let known = if index >= self.dense {
            self.sparse.get_mut(key)?
        } else {
            let t = self.table(group, false)?;
            self.tables[t].get_mut(index)?
        };
        (!matches!(known, Known::Absent)).then_some(known)
    }
}

/// Where an attempt that a record ends stands in the replay.
#[derive(Clone, Copy)]
enum Known {
    /// No record ends it (a hole in a table).
    Absent,
    /// Not started yet.
    Waiting,
    /// Started, holding this slot until its record.
    Started(SlotId),
    /// Its record was handled (or an abort dropped it).
    Handled,
}

impl Replay {
    /// The slots of everything the replay holds, which are given up.
    fn into_slots(self) -> Vec<SlotId> {
        let known = self
            .slot_keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.is_some())
            .map(|(s, _)| SlotId(s as u32));
        known.chain(self.pending.into_keys().map(SlotId)).collect()
    }
}

impl RunJournal {
    /// Adds `record` of `run` to this turn's records, with the next number.
    #[inline]
    fn push(&mut self, run: RunId, record: Record) {
        self.buf.push(Entry {
            run,
            seq: self.seq,
            record,
        });
        self.seq += 1;
    }

    /// The journal of a run (`sync`, or one that asked for its first record
    /// first) whose `Started` record is `start`: it goes with the first
    /// turn's records, before anything starts.
    fn new_held(
        journal: Arc<Journal>,
        sync: bool,
        start: Entry,
        recorded: FirstCommit,
    ) -> RunJournal {
        RunJournal {
            journal,
            seq: 1,
            buf: vec![start],
            sync,
            unrecorded: true,
            recorded: Some(recorded),
            first: None,
            held: Vec::new(),
            replay: None,
            broken: None,
            clock: None,
        }
    }

    /// The journal of a write-behind run whose `Started` record has been
    /// handed over; `first` hears how its commit went.
    fn new_write_behind(
        journal: Arc<Journal>,
        first: tokio::sync::watch::Receiver<Option<Result<(), StoreError>>>,
    ) -> RunJournal {
        RunJournal {
            journal,
            seq: 1,
            buf: Vec::new(),
            sync: false,
            unrecorded: false,
            recorded: None,
            first: Some(first),
            held: Vec::new(),
            replay: None,
            broken: None,
            clock: None,
        }
    }

    /// The error of a failed commit of the run's `Started` record, which
    /// the store therefore never had.
    fn first_failed(&self) -> Option<StoreError> {
        match &*self.first.as_ref()?.borrow() {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    /// The journal of a run being resumed from `records`: its whole
    /// journal after its `Started` record.
    pub(crate) fn resumed(
        journal: Arc<Journal>,
        sync: bool,
        records: std::vec::IntoIter<Entry>,
    ) -> RunJournal {
        let seq = records.len() as u64 + 1;
        let mut known = KnownAttempts::new(records.len());
        for e in records.as_slice() {
            if let Record::Attempt(a) = &e.record {
                known.insert(AttemptKey {
                    instance: InstanceId(a.instance),
                    item: a.item.map(ItemIndex),
                    attempt: a.attempt,
                });
            }
        }
        RunJournal {
            journal,
            seq,
            buf: Vec::new(),
            sync,
            unrecorded: false,
            recorded: None,
            first: None,
            held: Vec::new(),
            replay: Some(Box::new(Replay {
                records,
                known,
                slot_keys: Vec::new(),
                pending: HashMap::default(),
                ended: false,
                clock: None,
            })),
            broken: None,
            clock: None,
        }
    }

    /// Launches wait (for a commit, or for the replay) instead of starting.
    pub(super) fn holds_launches(&self) -> bool {
        self.replay.is_some() || ((self.sync || self.unrecorded) && self.broken.is_none())
    }

    pub(super) fn hold(&mut self, launch: Launch) {
        match &mut self.replay {
            Some(r) => {
                r.pending.insert(launch.slot.0, launch);
            }
            None => self.held.push(launch),
        }
    }

    /// In replay, the attempt `key` was started in `slot`: if a record
    /// gives its outcome, the slot is kept for that record and `true`
    /// says that nothing is to be launched.
    #[inline]
    pub(super) fn recorded_start(&mut self, key: AttemptKey, slot: SlotId) -> bool {
        let Some(r) = self.replay.as_deref_mut() else {
            return false;
        };
        let Some(known @ Known::Waiting) = r.known.get_mut(&key) else {
            // No record ends it (or it was started before): launched as
            // any other attempt.
            return false;
        };
        *known = Known::Started(slot);
        let i = slot.index();
        if r.slot_keys.len() <= i {
            r.slot_keys.resize(i + 1, None);
        }
        r.slot_keys[i] = Some(key);
        true
    }

    /// Whether the run is being replayed.
    pub(super) fn replaying(&self) -> bool {
        self.replay.is_some()
    }
}

impl Scheduler {
    /// Journals this new run: its `Started` record is `start`, and
    /// `recorded` (whose receiver `seen` is) hears how its commit went.
    /// Write-behind, the record is handed to the writer here, before the
    /// run is spawned: it is on its way before `start` returns, so a flush
    /// or `Run::recorded` right after commits it. `sync`, or with
    /// `recorded_first`, it goes with the first turn's records, and the
    /// turn's launches wait for their commit.
    pub(crate) fn with_new_journal(
        self: Box<Self>,
        journal: Arc<Journal>,
        sync: bool,
        recorded_first: bool,
        start: Record,
        recorded: FirstCommit,
        seen: tokio::sync::watch::Receiver<Option<Result<(), StoreError>>>,
    ) -> Box<Scheduler> {
        let start = Entry {
            run: self.run_id,
            seq: 0,
            record: start,
        };
        let j = if sync || recorded_first {
            RunJournal::new_held(journal, sync, start, recorded)
        } else {
            journal.hand_over_start(start, recorded, self.tx.clone());
            RunJournal::new_write_behind(journal, seen)
        };
        self.with_journal(j)
    }

    /// Adds a record to this turn's (a no-op without a journal, while
    /// replaying, or once the journal is broken). An attempt's record,
    /// which carries secrets to seal, goes through
    /// [`Scheduler::record_attempt`].
    fn record(&mut self, record: impl FnOnce() -> Record) {
        let Some(j) = self.journal.as_deref_mut() else {
            return;
        };
        if j.replay.is_some() || j.broken.is_some() {
            return;
        }
        j.push(self.run_id, record());
    }

    /// Records the outcome of an attempt handled at this step (nearly
    /// every record a run writes is one of these): made in the turn's
    /// buffer, through no closure and no box of its own.
    pub(super) fn record_attempt(&mut self, done: &Done) {
        let Some(j) = self.journal.as_deref_mut() else {
            return;
        };
        if j.replay.is_some() || j.broken.is_some() {
            return;
        }
        let (started, started_sys) = (self.started, self.started_sys);
        let clock = j.clock.get_or_insert_with(|| RecordClock::new(started_sys));
        let ended_at = clock.millis(started, started_sys, done.ended);
        let started_at = done
            .started
            .map(|at| clock.millis(started, started_sys, at));
        let mut outcome = match &done.outcome {
            Outcome::Ok(v) => AttemptOutcome::Ok { result: v.clone() },
            Outcome::Err(e) if e.wait().is_none() => AttemptOutcome::Err {
                message: e.message().to_owned(),
                result: e.result().cloned().map(Box::new),
                canceled: e.is_canceled(),
            },
            Outcome::TimedOut(d) => AttemptOutcome::TimedOut {
                seconds: d.as_secs_f64(),
            },
            Outcome::Err(e) => {
                let wait = Box::new(e.wait().cloned().unwrap_or_else(|| crate::Wait::new("")));
                AttemptOutcome::Waiting {
                    // Only a wait's record names its task (for listing
                    // waits).
                    task: self
                        .env
                        .plan
                        .task(self.graph.instances[done.key.instance.index()].task)
                        .name
                        .to_string(),
                    deadline_at: wait.timeout_ms.map(|t| ended_at.saturating_add(t)),
                    wait,
                }
            }
            Outcome::Panicked(m) => AttemptOutcome::Panicked { message: m.clone() },
            Outcome::Dropped => AttemptOutcome::Dropped,
        };
        if let (Some(key), Some(secrets)) = (j.journal.key.as_ref(), self.secrets.as_deref()) {
            crate::sealing::seal_attempt(key, self.run_id, secrets, &mut outcome);
        }
        // In the turn's buffer, not a box of its own: the buffer's records
        // are freed on the writer's thread, and a box freed there is not
        // in this thread's allocator cache for the next record.
        j.push(
            self.run_id,
            Record::Attempt(AttemptRecord {
                step: self.step,
                instance: done.key.instance.0,
                item: done.key.item.map(|i| i.0),
                attempt: done.key.attempt,
                outcome,
                started_at,
                ended_at,
            }),
        );
    }

    /// Records a command handled now, between two steps.
    pub(super) fn record_command(&mut self, command: Command) {
        let step = self.step;
        self.record(|| Record::Command { step, command });
    }

    /// Records the run's end.
    pub(super) fn record_end(&mut self, end: RunEnd) {
        self.record(|| Record::Ended(Box::new(end)));
    }

    /// Whether this turn's records may wait for the next turn's, if its
    /// message is here already: write-behind, fewer than [`DEFER_MOST`]
    /// of them, no launch held for a commit, no wait's deadline to keep.
    pub(super) fn defers_records(&self) -> bool {
        self.waits.is_empty()
            && self.journal.as_deref().is_some_and(|j| {
                !(j.sync || j.unrecorded)
                    && j.held.is_empty()
                    && j.broken.is_none()
                    && j.buf.len() < DEFER_MOST
            })
    }

    /// The end of a turn: hands this turn's records to the writer (waiting
    /// for room in its backlog), and with `sync` durability waits for the
    /// commit before starting the attempts the turn launched.
    pub(super) async fn end_turn(&mut self) {
        if !self.end_turn_at_once() {
            self.end_turn_waiting().await;
        }
    }

    /// The end of a turn that waits for nothing, the usual one: the
    /// gauges, and a write-behind run's records handed over while the
    /// backlog has room. `false`: the rest is [`Scheduler::end_turn_waiting`]'s
    /// (a commit to wait for, launches held for it, a full backlog). A
    /// plain function: a chain's every hop ends a turn, and the future of
    /// `end_turn` cost each of them its making, polling and dropping.
    pub(super) fn end_turn_at_once(&mut self) -> bool {
        if let Some(m) = self.metrics.as_deref_mut() {
            if m.due(self.turn.started) {
                m.turn(
                    self.in_flight,
                    self.turn.queue.len() + self.rx.len(),
                    self.held_bytes,
                );
            }
        }
        let Some(j) = self.journal.as_deref_mut() else {
            return true;
        };
        if j.buf.is_empty() && j.held.is_empty() {
            return true;
        }
        !(j.sync || j.unrecorded)
            && j.held.is_empty()
            && j.journal.try_send_behind(self.run_id, &mut j.buf, &self.tx)
    }

    /// The end of a turn that [`Scheduler::end_turn_at_once`] left: hands
    /// the turn's records over, waiting for room in the backlog, and for
    /// their commit with `sync` durability.
    pub(super) async fn end_turn_waiting(&mut self) {
        let Some(j) = self.journal.as_deref_mut() else {
            return;
        };
        if j.buf.is_empty() && j.held.is_empty() {
            return;
        }
        let mut failed = None;
        let mut first_failed = None;
        if !j.buf.is_empty() {
            if j.sync || j.unrecorded {
                // The next turn's buffer starts with this one's room: a
                // turn of many completions does not grow it again.
                let room = crate::journal::next_room(&j.buf);
                let entries = std::mem::replace(&mut j.buf, Vec::with_capacity(room));
                let first = std::mem::replace(&mut j.unrecorded, false);
                let (ack, done) = tokio::sync::oneshot::channel();
                j.journal
                    .send(self.run_id, entries, ack, self.tx.clone())
                    .await;
                let result = match done.await {
                    Ok(result) => result,
                    Err(_) => Err(StoreError::unavailable("the journal writer stopped")),
                };
                if first {
                    if let Some(tx) = j.recorded.take() {
                        tx.send_replace(Some(result.clone()));
                    }
                }
                if let Err(e) = result {
                    if first {
                        first_failed = Some(not_kept(&j.journal, &e));
                    }
                    failed = Some(e.to_string());
                }
            } else {
                // Moved into the batch of this run still waiting, if any,
                // the buffer kept; else handed over with a new one of the
                // same size.
                j.journal
                    .send_behind(self.run_id, &mut j.buf, &self.tx)
                    .await;
            }
        }
        if failed.is_none() && j.held.is_empty() {
            // Write-behind: nothing waited for the commit.
            return;
        }
        let held = std::mem::take(&mut j.held);
        if failed.is_some() {
            // Not committed: what the turn launched never starts (the run
            // is failing; see `journal_failed`), and is not counted as run.
            self.actions_run = self.actions_run.saturating_sub(held.len());
            if let Some(why) = first_failed {
                // Said now, in the words of a run the store never had
                // (the writer's own report of the failure comes after).
                self.journal_failed_unkept(why);
            }
            for launch in held {
                self.turn.queue.push_back(Work::Completed(Done {
                    slot: Some(launch.slot),
                    key: launch.key,
                    outcome: Outcome::Dropped,
                    started: None,
                    ended: Instant::now(),
                }));
            }
            return;
        }
        for launch in held {
            // An abort handled in this turn, after the launch was held, took
            // the attempt's slot and queued its end: its action never starts
            // (spawned now, nothing could stop it).
            match self.slots[launch.slot.index()].as_mut() {
                Some(s) if s.instance == launch.key.instance && s.item == launch.key.item => {
                    s.task = launch.spawn(&self.tx);
                }
                _ => self.actions_run = self.actions_run.saturating_sub(1),
            }
        }
    }

    /// Waits until everything recorded so far is committed (the end of a
    /// `sync` run: its outcome is reported only once its end is on disk).
    /// A barrier, not a flush: a commit of this run that fails is told to
    /// the run, and an earlier commit's failure (a write-behind run's, which
    /// has nobody else to hear of it) is left for `Executor::flush`.
    pub(super) async fn flush_journal(&mut self) {
        self.end_turn().await;
        if let Some(j) = self.journal.as_deref() {
            if j.sync && j.broken.is_none() {
                j.journal.barrier().await;
            }
        }
    }

    /// The journal could not be written: the run cannot go on being
    /// recorded, so it fails, and stops the actions running now.
    pub(super) fn journal_failed(&mut self, why: String) {
        if let Some(j) = self.journal.as_deref() {
            if let Some(e) = j.first_failed() {
                let why = not_kept(&j.journal, &e);
                return self.journal_failed_unkept(why);
            }
        }
        self.stop_recording(format!(
            "{why}; the run stops here, and can be resumed from its last recorded step"
        ));
    }

    /// The shared store gave the run to another process (its lease was
    /// lost or taken over): nothing more is recorded here, and the run
    /// stops here as it does when its journal fails (the process that owns
    /// it now goes on from its last recorded step).
    pub(super) fn lease_lost(&mut self, why: String) {
        self.stop_recording(format!(
            "{why}; the run stops here, and can be resumed from its last recorded step"
        ));
    }

    /// The first commit failed: the run fails with `why`, which says the
    /// store does not have it.
    fn journal_failed_unkept(&mut self, why: String) {
        self.stop_recording(why);
    }

    /// Nothing more is recorded; the run fails with `message` and stops the
    /// actions running now. Only the first failure counts.
    fn stop_recording(&mut self, message: String) {
        let Some(j) = self.journal.as_deref_mut() else {
            return;
        };
        if j.broken.is_some() {
            return;
        }
        j.broken = Some(message.clone());
        j.buf.clear();
        self.fail_run(None, message);
        self.cancel(true);
    }

    /// The moment a record's time names, on this run's clock.
    fn instant_of(&mut self, ms: u64) -> Instant {
        let (started_sys, started) = (self.started_sys, self.started);
        if let Some(r) = self.journal.as_deref_mut().and_then(|j| j.replay.as_mut()) {
            // In whole milliseconds from the start, when the start is on
            // one: the same moment, without going through the system
            // clock's type twice per record.
            let (base, at, whole) = *r.clock.get_or_insert_with(|| {
                let base = millis(started_sys);
                (base, started, from_millis(base) == started_sys)
            });
            if whole {
                return match ms.checked_sub(base) {
                    Some(d) => at + Duration::from_millis(d),
                    None => at
                        .checked_sub(Duration::from_millis(base - ms))
                        .unwrap_or(at),
                };
            }
        }
        let at: SystemTime = from_millis(ms);
        match at.duration_since(self.started_sys) {
            Ok(d) => self.started + d,
            Err(e) => self
                .started
                .checked_sub(e.duration())
                .unwrap_or(self.started),
        }
    }

    /// Rebuilds the run from its records (see the module docs); then
    /// starts the attempts that were in flight.
    ///
    /// # Errors
    ///
    /// The records do not fit the run: the workflow behaves differently
    /// from when they were written.
    pub(super) async fn replay(&mut self) -> Result<(), ReplayError> {
        self.replay_records().await?;
        // The records end here: what they do not say happens live.
        let Some(j) = self.journal.as_deref_mut() else {
            return Ok(());
        };
        let Some(replay) = j.replay.take() else {
            return Ok(());
        };
        self.ended_before = replay.ended;
        let mut pending: Vec<Launch> = replay.pending.into_values().collect();
        pending.sort_unstable_by_key(|l| l.slot);
        for launch in pending {
            self.launch(launch);
        }
        Ok(())
    }

    /// Replays every record, leaving held what they do not say.
    async fn replay_records(&mut self) -> Result<(), ReplayError> {
        let mut handled = 0u32;
        loop {
            let next = match self.journal.as_deref_mut().and_then(|j| j.replay.as_mut()) {
                Some(r) => r.records.next(),
                None => return Ok(()),
            };
            let Some(Entry { seq, record, .. }) = next else {
                break;
            };
            handled += 1;
            if handled.is_multiple_of(4096) {
                // A long journal does not hold the runtime's thread.
                tokio::task::yield_now().await;
            }
            match record {
                Record::Attempt(a) => {
                    let at = |mismatch| ReplayError::Record { seq, mismatch };
                    self.replay_until(a.step - 1).map_err(at)?;
                    self.step += 1;
                    self.replay_attempt(a).map_err(at)?;
                }
                Record::Ended(_) => {
                    // Work the queue to its end, as the run did before it
                    // ended; a re-run may follow.
                    while let Some(work) = self.turn.queue.pop_front() {
                        self.process(work);
                    }
                    if let Some(r) = self.journal.as_deref_mut().and_then(|j| j.replay.as_mut()) {
                        r.ended = true;
                    }
                }
                Record::Command {
                    command: Command::Rerun { tasks },
                    ..
                } => {
                    // A re-run follows an end: it applies at once.
                    if let Some(r) = self.journal.as_deref_mut().and_then(|j| j.replay.as_mut()) {
                        r.ended = false;
                    }
                    // A re-run that could not start failed the run when
                    // it was received (see `command`): it does so again.
                    if let Err(e) = self.rerun(&tasks) {
                        self.fail_run(None, e);
                    }
                }
                Record::Command { step, command } => {
                    let at = |mismatch| ReplayError::Record { seq, mismatch };
                    self.replay_until(step).map_err(at)?;
                    self.apply_command(&command)
                        .map_err(|e| at(Mismatch::Command(e)))?;
                }
                Record::Started(_) => return Err(ReplayError::SecondStart(seq)),
            }
        }
        Ok(())
    }

    /// Works the queue until `step` work items have been done.
    fn replay_until(&mut self, step: u64) -> Result<(), Mismatch> {
        while self.step < step {
            let Some(work) = self.turn.queue.pop_front() else {
                return Err(Mismatch::NothingLeft {
                    step,
                    done: self.step,
                });
            };
            self.process(work);
        }
        Ok(())
    }

    fn replay_attempt(&mut self, a: AttemptRecord) -> Result<(), Mismatch> {
        let key = AttemptKey {
            instance: InstanceId(a.instance),
            item: a.item.map(ItemIndex),
            attempt: a.attempt,
        };
        let slot = self
            .journal
            .as_deref_mut()
            .and_then(|j| j.replay.as_mut())
            .and_then(|r| {
                let known = r.known.get_mut(&key)?;
                let Known::Started(slot) = *known else {
                    return None;
                };
                *known = Known::Handled;
                r.slot_keys[slot.index()] = None;
                Some(slot)
            })
            .ok_or(Mismatch::NotStarted { key, step: a.step })?;
        let outcome = match a.outcome {
            AttemptOutcome::Ok { result } => Outcome::Ok(result),
            AttemptOutcome::Err {
                message,
                result,
                canceled,
            } => {
                let e = match result {
                    Some(r) => ActionError::with_result(message, *r),
                    None => ActionError::new(message),
                };
                Outcome::Err(if canceled { e.canceled() } else { e })
            }
            AttemptOutcome::TimedOut { seconds } => {
                Outcome::TimedOut(Duration::from_secs_f64(seconds.max(0.0)))
            }
            AttemptOutcome::Panicked { message } => Outcome::Panicked(message),
            AttemptOutcome::Dropped => Outcome::Dropped,
            AttemptOutcome::Waiting { wait, .. } => Outcome::Err(ActionError::waiting(*wait)),
        };
        let done = Done {
            slot: Some(slot),
            key,
            outcome,
            started: a.started_at.map(|ms| self.instant_of(ms)),
            ended: self.instant_of(a.ended_at),
        };
        self.completed(done);
        Ok(())
    }

    /// Applies a recorded (or newly received) command.
    pub(super) fn apply_command(&mut self, command: &Command) -> Result<(), String> {
        match command {
            Command::Cancel => self.cancel(false),
            Command::Abort => self.cancel(true),
            Command::Pause => self.pause(),
            Command::Resume => self.resume(),
            Command::Rerun { tasks } => self.rerun(tasks)?,
            Command::Respond { .. } | Command::Signal { .. } => self.apply_answer(command)?,
            Command::Expire { instance, item } => {
                self.apply_expire(InstanceId(*instance), item.map(ItemIndex));
            }
        }
        Ok(())
    }

    /// The slots of the launches a replay holds, which are given up.
    pub(super) fn take_pending(&mut self) -> Vec<SlotId> {
        match self.journal.as_deref_mut().and_then(|j| j.replay.take()) {
            Some(r) => r.into_slots(),
            None => Vec::new(),
        }
    }

    /// In replay, an abort drops the launches of the attempts it stops
    /// (and a record of one of them no longer finds it started).
    pub(super) fn forget_pending(&mut self, slot: SlotId) {
        if let Some(r) = self.journal.as_deref_mut().and_then(|j| j.replay.as_mut()) {
            r.pending.remove(&slot.0);
            if let Some(key) = r.slot_keys.get_mut(slot.index()).and_then(Option::take) {
                if let Some(known) = r.known.get_mut(&key) {
                    *known = Known::Handled;
                }
            }
        }
    }

    /// The output rendered at the end, with the errors, as `Ended` records it.
    pub(super) fn end_record(&self, status: crate::RunStatus, output: &Value) -> RunEnd {
        RunEnd {
            status,
            output: output.clone(),
            errors: self.errors.clone(),
            ended_at: millis(SystemTime::now()),
        }
    }

    /// The run as its records leave it, without running anything: for
    /// `Executor::inspect`. Attempts the records do not end show as running.
    pub(crate) async fn inspect(
        mut self: Box<Self>,
        status: crate::RunStatus,
        end: Option<RunEnd>,
    ) -> Result<crate::RunOutcome, ReplayError> {
        self.begin();
        self.replay_records().await?;
        // What the run did after its last record follows from it: work the
        // queue too (launches stay held; nothing runs).
        while let Some(work) = self.turn.queue.pop_front() {
            self.process(work);
        }
        let tasks_run = self.graph.instances.len();
        let (tasks, routes) = self.records(false);
        let (output, errors) = match end {
            Some(end) if status.is_terminal() => (end.output, end.errors),
            _ => (
                Value::Object(Default::default()),
                std::mem::take(&mut self.errors),
            ),
        };
        Ok(crate::RunOutcome {
            run_id: self.run_id,
            parent: self.parent,
            workflow: self.env.plan.name().clone(),
            status,
            output,
            tasks,
            routes,
            errors,
            stats: crate::RunStats {
                tasks_run,
                actions_run: self.actions_run,
                duration: SystemTime::now()
                    .duration_since(self.started_sys)
                    .unwrap_or_default(),
            },
        })
    }

    /// Whether a journal is kept and it is replaying.
    pub(super) fn replaying(&self) -> bool {
        self.journal.as_deref().is_some_and(RunJournal::replaying)
    }

    /// Runs the run again from `tasks` (by name), or from the instances
    /// that failed it or were canceled: each gets a new instance in the
    /// route it ran in; results and variables of everything else stay.
    pub(super) fn rerun(&mut self, tasks: &[String]) -> Result<(), String> {
        let mut again: Vec<(u32, u32, u32, Scope)> = Vec::new();
        let mut arrivals: Vec<Skipped> = Vec::new();
        // The instances run again: their terminal entries go (Orquesta
        // resets them), their new instances make their own.
        let mut replaced: Vec<InstanceId> = Vec::new();
        if tasks.is_empty() {
            for (i, inst) in self.graph.instances.iter().enumerate() {
                let failed_it = inst.unremediated;
                let stopped = inst.status == weft_core::TaskStatus::Canceled;
                if failed_it || stopped {
                    replaced.push(InstanceId(i as u32));
                    again.push((inst.task, inst.route, inst.level, inst.scope.clone()));
                }
            }
            for s in &self.graph.skipped {
                match s {
                    Skipped::Dispatch {
                        task,
                        route,
                        level,
                        scope,
                    } => again.push((*task, *route, *level, scope.clone())),
                    arrival => arrivals.push(arrival.clone()),
                }
            }
            if again.is_empty() && arrivals.is_empty() {
                return Err("nothing to re-run: no task failed the run or was canceled; name the tasks to re-run".to_owned());
            }
        } else {
            for name in tasks {
                let Some(t) = self.env.plan.task_id(name) else {
                    return Err(format!(
                        "cannot re-run `{name}`: the workflow has no such task"
                    ));
                };
                // The latest instance in each route it ran in, in the
                // scope it ran in.
                let mut latest: HashMap<u32, (u32, u32, Scope)> = HashMap::new();
                for (i, inst) in self.graph.instances.iter().enumerate() {
                    if inst.task == t {
                        latest.insert(inst.route, (inst.route, inst.level, inst.scope.clone()));
                        replaced.push(InstanceId(i as u32));
                    }
                }
                if latest.is_empty() {
                    return Err(format!("cannot re-run `{name}`: it never ran"));
                }
                let mut routes: Vec<(u32, u32, Scope)> = latest.into_values().collect();
                routes.sort_unstable_by_key(|&(r, l, _)| (r, l));
                again.extend(routes.into_iter().map(|(r, l, s)| (t, r, l, s)));
            }
        }
        again.sort_by_key(|&(t, r, _, _)| (r, t));
        again.dedup_by_key(|&mut (t, r, _, _)| (t, r));
        // The run goes on as if it had not stopped; old errors stay in the
        // journal's earlier `Ended` record.
        self.state = State::Running;
        self.errors.clear();
        self.stop = None;
        self.graph.skipped.clear();
        self.graph
            .terminal
            .retain(|t| t.instance.is_none_or(|i| !replaced.contains(&i)));
        self.graph.last_open = None;
        for inst in &mut self.graph.instances {
            inst.unremediated = false;
        }
        self.status.set(crate::RunStatus::Running);
        for (task, route, level, scope) in again {
            self.queue_dispatch(task, route, level, scope);
        }
        for a in arrivals {
            if let Skipped::Arrival {
                target,
                from,
                ti,
                route,
                level,
                scope,
            } = a
            {
                self.arrive(target, from, ti as usize, route, level, scope);
            }
        }
        Ok(())
    }
}

/// Why a run whose first record could not be committed (`e`) fails: the
/// store never had it.
fn not_kept(journal: &Journal, e: &StoreError) -> String {
    format!(
        "the run was not kept in {}: its first record could not be committed ({e}); nothing \
         of it was recorded, so it cannot be resumed: start it again once the store can be \
         written",
        journal.store.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's times are the milliseconds `SystemTime` gives, whether
    /// worked out or taken from the millisecond converted last: on both
    /// sides of each millisecond's edge, in order and out of it, before
    /// the run's start, and from a start that is not on a whole
    /// millisecond.
    #[test]
    fn record_times_are_the_system_clocks_milliseconds() {
        let started = Instant::now();
        for start_ns in [0u64, 1, 999_999, 1_700_000_000_123_456_789] {
            let started_sys = UNIX_EPOCH + Duration::from_nanos(start_ns);
            let expected =
                |at: Instant| millis(started_sys + at.saturating_duration_since(started));
            let mut clock = RecordClock::new(started_sys);
            let edge = 1_000_000 - start_ns % 1_000_000;
            let mut offsets: Vec<u64> = Vec::new();
            for ms in 0..4u64 {
                for d in [0, 1, 2, 500_000] {
                    let e = edge + ms * 1_000_000;
                    offsets.extend([e.saturating_sub(d), e + d]);
                }
            }
            offsets.extend([0, 1, 3_000_000_000]);
            let times: Vec<Instant> = offsets
                .iter()
                .map(|&ns| started + Duration::from_nanos(ns))
                .chain(started.checked_sub(Duration::from_nanos(3)))
                .collect();
            for at in times.iter().chain(times.iter().rev()) {
                for _ in 0..2 {
                    assert_eq!(
                        clock.millis(started, started_sys, *at),
                        expected(*at),
                        "start {start_ns} ns, {:?} after",
                        at.checked_duration_since(started)
                    );
                }
            }
        }
    }
}
