//! Durable runs: the journal a run writes, and the [`Store`] that keeps it.
//!
//! A durable run's journal records what its scheduler *handled*, in the
//! order it handled it: the run's start (the workflow's text and the
//! inputs), each attempt's outcome, each command (cancel, pause, resume,
//! re-run) and the run's end. Nothing derived is stored: the scheduler is
//! deterministic, so feeding it the same records through the same code
//! path rebuilds the same state. That is how a run resumes after a crash:
//! the journal is replayed, attempts whose outcome is recorded are not run
//! again, and those that were in flight run again (actions are therefore
//! run *at least once*; see
//! [`ActionInput::idempotency_key`](crate::ActionInput::idempotency_key)).
//!
//! Records reach the store in batches, written behind the scheduler by one
//! writer per executor ([`JournalConfig`]); with [`Durability::Sync`] a run
//! starts no task before the records that caused it are committed.
//!
//! A store implements [`Store`]: append a batch of entries atomically, load
//! one run's journal, list and purge runs. [`MemoryStore`] keeps them in
//! memory (for tests, and as the reference the conformance suite checks
//! every store against); the SQLite store lives in the `weft-store-sqlite`
//! crate, the Postgres store in `weft-store-postgres`. A store that several
//! processes share implements [`SharedStore`] as well (leases, fencing,
//! submitted runs, commands across processes). What only a store's
//! implementation needs (the helpers the SQLite and Postgres stores are
//! written on and, with the `conformance` feature, the tests every store
//! must pass) is in [`driver`].

pub mod driver;
mod kv;
mod memory;
mod shared;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use kv::{KvEntry, KvStore, KV_SCOPES};
pub use memory::MemoryStore;
pub use shared::{Claimed, Notice, SharedStore};

use crate::id::RunId;
use crate::outcome::{RunError, RunStatus};

/// How long a run's records may wait before they are on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Records are committed in batches behind the run (every
    /// [`JournalConfig::batch_records`] records or
    /// [`JournalConfig::batch_interval`], whichever comes first). A crash
    /// loses the last batch: the attempts it recorded run again on resume.
    #[default]
    WriteBehind,
    /// No task starts before the records that caused it are committed.
    /// Runs waiting at the same moment share one commit (group commit).
    Sync,
}

/// How the journal writer batches records.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalConfig {
    /// Commit once this many records wait. Default 1024: a run of many
    /// records has them committed while it goes on (each commit takes
    /// whatever waits when it starts, up to four batches and at least
    /// 32,768 records), so that what is left to commit
    /// after its last action is the records of about one commit, not most
    /// of the run's.
    pub batch_records: usize,
    /// Commit at the latest this long after the first record of a batch
    /// arrived. Default 10 ms.
    pub batch_interval: Duration,
    /// Records that may wait to be committed, across all runs; a run that
    /// would go over waits (back-pressure). Default 262,144.
    pub backlog_records: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            batch_records: 1024,
            batch_interval: Duration::from_millis(10),
            backlog_records: 1 << 18,
        }
    }
}

impl JournalConfig {
    /// The defaults.
    pub fn new() -> JournalConfig {
        JournalConfig::default()
    }

    /// Sets [`JournalConfig::batch_records`].
    #[must_use]
    pub fn batch_records(mut self, n: usize) -> JournalConfig {
        self.batch_records = n.max(1);
        self
    }

    /// Sets [`JournalConfig::batch_interval`].
    #[must_use]
    pub fn batch_interval(mut self, d: Duration) -> JournalConfig {
        self.batch_interval = d;
        self
    }

    /// Sets [`JournalConfig::backlog_records`].
    #[must_use]
    pub fn backlog_records(mut self, n: usize) -> JournalConfig {
        self.backlog_records = n.max(1);
        self
    }
}

/// Milliseconds since the Unix epoch, as records store times.
pub type Millis = u64;

pub(crate) fn millis(t: SystemTime) -> Millis {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn from_millis(ms: Millis) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// One record of a run's journal, with its place: the run and its
/// sequence number (from 0, without gaps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The run.
    pub run: RunId,
    /// The record's number in the run's journal.
    pub seq: u64,
    /// What happened.
    pub record: Record,
}

/// What a run's scheduler handled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Record {
    /// The run began: always the first record.
    Started(Box<RunStart>),
    /// An attempt ended, and the scheduler handled it.
    Attempt(AttemptRecord),
    /// A command was handled.
    Command {
        /// Work items the scheduler had done when it handled it.
        step: u64,
        /// Which.
        command: Command,
    },
    /// The run ended (a re-run may follow).
    Ended(Box<RunEnd>),
}

/// The first record of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStart {
    /// The workflow's name.
    pub workflow: String,
    /// The workflow's text, as it was loaded.
    pub source: String,
    /// `yaml` or `json`.
    pub format: String,
    /// SHA-256 of `source`, in hex.
    pub hash: String,
    /// The inputs, with defaults applied.
    pub inputs: Value,
    /// For a sub-workflow: the run whose task started it.
    pub parent: Option<RunId>,
    /// Sub-workflow depth (0 for a run started by the caller).
    pub depth: u32,
    /// The run's durability.
    pub durability: Durability,
    /// When the run started.
    pub started_at: Millis,
}

/// An attempt's outcome, as the scheduler handled it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Work items the scheduler had done when it handled it (this one
    /// included).
    pub step: u64,
    /// The task instance.
    pub instance: u32,
    /// The item, for a task with `with` items.
    pub item: Option<u32>,
    /// The attempt, from 1.
    pub attempt: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// When its action started, if it did.
    pub started_at: Option<Millis>,
    /// When it ended.
    pub ended_at: Millis,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The action returned a result.
    Ok {
        /// The result.
        #[serde(deserialize_with = "arc_value")]
        result: Arc<Value>,
    },
    /// The action returned an error.
    Err {
        /// Its message.
        message: String,
        /// The result it attached, if any (boxed: an error is rare, and a
        /// `Value` in place would make this outcome, and so every
        /// [`Record`] and journal entry, larger than a command's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Box<Value>>,
        /// The action was canceled (a sub-workflow's run was canceled).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        canceled: bool,
    },
    /// The attempt ran past its timeout.
    TimedOut {
        /// The timeout, in seconds.
        seconds: f64,
    },
    /// The action panicked.
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// The run stopped before the attempt started its action.
    Dropped,
    /// The action made its task wait for an answer (see
    /// [`Wait`](crate::Wait)); a `Respond`, `Signal` or `Expire` command
    /// ends the wait.
    Waiting {
        /// The task's name (for listing waits without the workflow).
        task: String,
        /// What it waits for (boxed, as an error's result).
        wait: Box<crate::wait::Wait>,
        /// When its timeout runs out, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_at: Option<Millis>,
    },
}

/// Decodes a result into its `Arc` directly: serde's own `Arc<T>` decodes
/// a `Box<T>` and moves it into a new allocation, one more per record read
/// back. A `null` result (an action that returns nothing) shares one `Arc`
/// per thread instead of allocating its own.
fn arc_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Arc<Value>, D::Error> {
    let value = Value::deserialize(d)?;
    Ok(match value {
        Value::Null => shared_null(),
        value => Arc::new(value),
    })
}

/// The `null` result that records read back on this thread share.
pub(crate) fn shared_null() -> Arc<Value> {
    thread_local! {
        static NULL: Arc<Value> = Arc::new(Value::Null);
    }
    NULL.with(Arc::clone)
}

/// A command a run handled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Nothing new starts; running actions finish.
    Cancel,
    /// Nothing new starts; running actions are stopped.
    Abort,
    /// Nothing new starts until resumed.
    Pause,
    /// Held work starts.
    Resume,
    /// An ended run runs again from the given tasks (or from those that
    /// failed or were canceled when `tasks` is empty).
    Rerun {
        /// Task names.
        tasks: Vec<String>,
    },
    /// An answer for the oldest task named `task` that waits (see
    /// [`Wait`](crate::Wait)).
    Respond {
        /// The waiting task's name.
        task: String,
        /// The answer.
        response: Value,
    },
    /// An answer for the oldest wait with this key.
    Signal {
        /// The wait's key.
        key: String,
        /// The answer.
        response: Value,
    },
    /// A wait's timeout ran out (recorded by the run itself).
    Expire {
        /// The waiting instance.
        instance: u32,
        /// Its item, for a task with `with` items.
        item: Option<u32>,
    },
}

/// The last record of a run (until a re-run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEnd {
    /// How it ended.
    pub status: RunStatus,
    /// Its output.
    pub output: Value,
    /// Its errors.
    pub errors: Vec<RunError>,
    /// When.
    pub ended_at: Millis,
}

/// A run as a store lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: RunId,
    /// The workflow's name.
    pub workflow: String,
    /// Its status as the journal last recorded it: `running`, `paused`,
    /// `canceling` (a cancel was recorded), or how it ended.
    pub status: RunStatus,
    /// For a sub-workflow: the run whose task started it.
    pub parent: Option<RunId>,
    /// When it started.
    pub started_at: Millis,
    /// When its last record was written.
    pub updated_at: Millis,
    /// When it ended, if it has.
    pub ended_at: Option<Millis>,
    /// The process that holds the run's lease now, in a store several
    /// processes share ([`SharedStore::owner_name`]); `None` when no
    /// process holds one that has not run out (a queued or ended run, a run
    /// whose owner died), and always in a store of one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl RunSummary {
    /// The summary of a run whose journal begins with `start`, written at
    /// `now`: running, without an end.
    pub fn started(id: RunId, start: &RunStart, now: Millis) -> RunSummary {
        RunSummary {
            id,
            workflow: start.workflow.clone(),
            status: RunStatus::Running,
            parent: start.parent,
            started_at: start.started_at,
            updated_at: now,
            ended_at: None,
            owner: None,
        }
    }

    /// Follows `record`, written at `now`: its status ([`status_after`]),
    /// its end (set by `Ended`, cleared when a command such as a re-run
    /// makes it go on again) and when it was last written. Every store
    /// keeps summaries by this rule.
    pub fn follow(&mut self, record: &Record, now: Millis) {
        self.status = status_after(self.status, record);
        self.updated_at = now;
        self.ended_at = match record {
            Record::Ended(end) => Some(end.ended_at),
            Record::Command { .. } if !self.status.is_terminal() => None,
            _ => self.ended_at,
        };
    }
}

/// Which runs [`Store::list`] returns, and from where: a page of a list
/// is the runs that pass the filter and sort after the last run of the page
/// before it ([`RunFilter::before`], keyset paging on the store's order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunFilter {
    /// Only runs with one of these statuses (any, when empty).
    pub statuses: Vec<RunStatus>,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only top-level runs (no sub-workflows).
    pub top_level: bool,
    /// Only runs that started at or after this time.
    pub started_after: Option<Millis>,
    /// Only runs that started before this time.
    pub started_before: Option<Millis>,
    /// Only runs whose id sorts before this one: the next page after a
    /// page that ended with this run. The run itself need not exist any
    /// more (a page stays valid across a purge).
    pub before: Option<RunId>,
    /// At most this many, newest first (all, when `None`).
    pub limit: Option<usize>,
}

impl RunFilter {
    /// Every run.
    pub fn all() -> RunFilter {
        RunFilter::default()
    }

    /// Runs with one of `statuses`.
    #[must_use]
    pub fn statuses(mut self, statuses: impl IntoIterator<Item = RunStatus>) -> RunFilter {
        self.statuses = statuses.into_iter().collect();
        self
    }

    /// Runs of the workflow `name`.
    #[must_use]
    pub fn workflow(mut self, name: impl Into<String>) -> RunFilter {
        self.workflow = Some(name.into());
        self
    }

    /// Top-level runs only (no sub-workflows).
    #[must_use]
    pub fn top_level(mut self) -> RunFilter {
        self.top_level = true;
        self
    }

    /// Runs that started at or after `after` (when given) and before
    /// `before` (when given), in milliseconds since the Unix epoch.
    #[must_use]
    pub fn started_between(mut self, after: Option<Millis>, before: Option<Millis>) -> RunFilter {
        self.started_after = after;
        self.started_before = before;
        self
    }

    /// The page after the run `last`: runs whose id sorts before it.
    #[must_use]
    pub fn before(mut self, last: RunId) -> RunFilter {
        self.before = Some(last);
        self
    }

    /// At most `n` runs.
    #[must_use]
    pub fn limit(mut self, n: usize) -> RunFilter {
        self.limit = Some(n);
        self
    }

    /// Whether `run` passes (every condition but `limit`).
    pub fn matches(&self, run: &RunSummary) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&run.status))
            && self.workflow.as_ref().is_none_or(|w| *w == run.workflow)
            && (!self.top_level || run.parent.is_none())
            && self.started_after.is_none_or(|t| run.started_at >= t)
            && self.started_before.is_none_or(|t| run.started_at < t)
            && self.before.is_none_or(|b| run.id < b)
    }
}

/// The error a store's driver reported, kept as the
/// [`source`](std::error::Error::source) of a [`StoreError::Unavailable`].
pub type DriverError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store failed.
///
/// Two errors are equal when they are the same variant with the same
/// message and run: the driver's error behind an
/// [`Unavailable`](StoreError::Unavailable) is not compared.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be opened or used (I/O, corruption, a newer schema);
    /// the message names the file or address. Made with
    /// [`StoreError::unavailable`] or, keeping the driver's error as the
    /// [`source`](std::error::Error::source), [`StoreError::unavailable_from`].
    Unavailable {
        /// What failed, naming the file or address, and what to do.
        message: String,
        /// The driver's error, when there was one: the error's `source()`.
        source: Option<DriverError>,
    },
    /// Entries do not follow on from the journal (a sequence number out of
    /// place), or break its rules (a first record that is not `Started`).
    Conflict(String),
    /// This process no longer owns the run: another took it over (a store
    /// shared by several processes).
    Fenced(RunId),
    /// No such run.
    NotFound(RunId),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable { message, .. } => f.write_str(message),
            StoreError::Conflict(message) => f.write_str(message),
            StoreError::Fenced(run) => write!(f, "run {run} is owned by another process now"),
            StoreError::NotFound(run) => write!(f, "no run `{run}` in the store"),
        }
    }
}

impl std::error::Error for StoreError {
    /// The driver's own error behind an [`StoreError::Unavailable`] (so
    /// that it can be downcast to its type), if there is one.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Unavailable {
                source: Some(source),
                ..
            } => Some(&**source),
            _ => None,
        }
    }
}

impl StoreError {
    /// The store cannot be used, for a reason `message` gives (naming the
    /// file or address); no driver error lies behind it.
    pub fn unavailable(message: impl Into<String>) -> StoreError {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// The store cannot be used because its driver failed with `source`;
    /// `message` says what the store was doing (and usually repeats the
    /// driver's words, since many callers show only the message).
    pub fn unavailable_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Unavailable {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }
}

impl PartialEq for StoreError {
    fn eq(&self, other: &StoreError) -> bool {
        match (self, other) {
            (
                StoreError::Unavailable { message: a, .. },
                StoreError::Unavailable { message: b, .. },
            )
            | (StoreError::Conflict(a), StoreError::Conflict(b)) => a == b,
            (StoreError::Fenced(a), StoreError::Fenced(b))
            | (StoreError::NotFound(a), StoreError::NotFound(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for StoreError {}

/// What [`Store::append`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// Runs whose entries were *not* written because another process owns
    /// them now (a store shared by several processes); the entries of every
    /// other run were committed.
    pub fenced: Vec<RunId>,
}

impl Appended {
    /// Every entry was committed.
    pub fn all() -> Appended {
        Appended::default()
    }

    /// Every entry was committed but those of `runs`, which another
    /// process owns now.
    pub fn fenced(runs: Vec<RunId>) -> Appended {
        Appended { fenced: runs }
    }
}

/// What a store calls when a commit handed to [`Store::submit_parts`] is
/// done: as [`Store::append_parts`] answers.
pub type Submitted = Box<dyn FnOnce(Result<Appended, (StoreError, Vec<Entry>)>) + Send>;

/// Where durable runs are kept.
///
/// Every method is async, so a store may talk to a server; an embedded
/// store can answer from a thread of its own. Appends come from one
/// writer per executor, in order.
pub trait Store: Send + Sync + 'static {
    /// Appends `entries` atomically: all are committed, or none (except
    /// the entries of runs another process owns, which are left out and
    /// named in [`Appended::fenced`]). Entries of one run are in sequence
    /// order and follow on from its journal; they may belong to many runs.
    /// A run's summary follows its records: `Started` creates it, a
    /// `Pause`, `Resume`, `Cancel` or `Rerun` command and `Ended` change its
    /// status.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] for entries out of sequence,
    /// [`StoreError::Unavailable`] for anything else (the disk is full).
    fn append<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Appended, StoreError>>;

    /// [`Store::append`], given the entries to keep: the executor's journal
    /// writer commits through this, so that a store that writes on a
    /// thread of its own may turn the entries into rows there, and drop
    /// them there, rather than on the thread of the runs whose records
    /// they are. This default calls [`Store::append`].
    ///
    /// # Errors
    ///
    /// As [`Store::append`], with the entries given back (the journal
    /// tries each run of a failed commit of several again on its own); a
    /// store that no longer has them (its thread stopped) gives back none.
    fn append_owned(
        &self,
        entries: Vec<Entry>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        Box::pin(async move {
            match self.append(&entries).await {
                Ok(done) => Ok(done),
                Err(e) => Err((e, entries)),
            }
        })
    }

    /// [`Store::append_owned`], given the entries in parts whose order is
    /// theirs (the journal writer's commit of several turns' batches):
    /// a store that turns the entries into rows itself may read them part
    /// by part rather than copied into one vector first. This default
    /// joins them ([`join_parts`]) and calls [`Store::append_owned`].
    ///
    /// # Errors
    ///
    /// As [`Store::append_owned`], with the entries given back in one
    /// vector.
    fn append_parts(
        &self,
        parts: Vec<Vec<Entry>>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        self.append_owned(join_parts(parts))
    }

    /// [`Store::append_parts`] without a future: the store takes the
    /// parts and calls `done` exactly once, from a thread of its own, when
    /// the commit is done (committed, as [`Store::append`] says) or failed
    /// (with the entries given back, as [`Store::append_parts`] gives them;
    /// none if the store no longer has them). Nobody has to poll anything
    /// for the commit to go on, and whoever waits for it hears of it from
    /// the store's thread directly: the executor's journal commits a
    /// flush's records through this, when the store has it.
    ///
    /// `done` may be called before this returns, on the caller's thread
    /// (a store that fails at once): the caller must hold no lock that
    /// `done` takes. A store that drops a job unrun (its thread stopped)
    /// still calls `done`, with an error.
    ///
    /// This default has no such path: it gives both back, and the journal
    /// commits through [`Store::append_parts`] instead.
    ///
    /// # Errors
    ///
    /// The parts and `done`, untouched: the store has no such path.
    #[allow(clippy::type_complexity)]
    fn submit_parts(
        &self,
        parts: Vec<Vec<Entry>>,
        done: Submitted,
    ) -> Result<(), (Vec<Vec<Entry>>, Submitted)> {
        Err((parts, done))
    }

    /// One run's journal, in sequence order.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], or the store cannot be read.
    fn load(&self, run: RunId) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;

    /// One run's journal from the record numbered `from` on, in sequence
    /// order: what was appended since a reader last looked (an empty list
    /// when nothing was). A store should answer this without reading the
    /// records before `from`; this default loads the whole journal.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when the store has no such run, or the
    /// store cannot be read.
    fn load_from(&self, run: RunId, from: u64) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        let all = self.load(run);
        Box::pin(async move {
            let mut entries = all.await?;
            entries.retain(|e| e.seq >= from);
            Ok(entries)
        })
    }

    /// One run's summary, if the store has the run.
    ///
    /// # Errors
    ///
    /// The store cannot be read.
    fn get(&self, run: RunId) -> BoxFuture<'_, Result<Option<RunSummary>, StoreError>>;

    /// Runs that pass `filter`, newest first: in descending order of
    /// their ids, which sort by creation time (a sub-workflow's id is
    /// derived from its parent's, so sub-workflows sort apart from their
    /// time). A store pages with [`RunFilter::before`] on that order
    /// (keyset paging), so a page costs the same however deep it is.
    ///
    /// # Errors
    ///
    /// The store cannot be read.
    fn list<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunSummary>, StoreError>>;

    /// Deletes the runs that ended before `before` (their journals with
    /// them), and returns how many.
    ///
    /// # Errors
    ///
    /// The store cannot be written.
    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>>;

    /// A short description for messages (a file name, an address).
    fn describe(&self) -> String;

    /// The store as a [`SharedStore`], if several processes can share it.
    fn shared(&self) -> Option<&dyn SharedStore> {
        None
    }

    /// The store's key–value datastore, if it has one.
    fn kv(&self) -> Option<&dyn KvStore> {
        None
    }
}

impl fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Store({})", self.describe())
    }
}

/// The entries of `parts`, in order, in one vector: the first part's,
/// with room for the rest.
pub fn join_parts(parts: Vec<Vec<Entry>>) -> Vec<Entry> {
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else {
        return Vec::new();
    };
    let rest: Vec<Vec<Entry>> = parts.collect();
    all.reserve(rest.iter().map(Vec::len).sum());
    for mut part in rest {
        all.append(&mut part);
    }
    all
}

/// The status a run's records give it, applying `record` to `status`.
pub fn status_after(status: RunStatus, record: &Record) -> RunStatus {
    match record {
        Record::Started(_) => RunStatus::Running,
        Record::Command { command, .. } => match command {
            Command::Pause if !status.is_terminal() => RunStatus::Paused,
            Command::Resume if !status.is_terminal() => RunStatus::Running,
            Command::Cancel | Command::Abort if !status.is_terminal() => RunStatus::Canceling,
            Command::Rerun { .. } => RunStatus::Running,
            Command::Respond { .. } | Command::Signal { .. } | Command::Expire { .. }
                if status == RunStatus::Paused =>
            {
                RunStatus::Running
            }
            _ => status,
        },
        Record::Ended(end) => end.status,
        // A task waits for an answer: the run shows as paused (as a
        // StackStorm workflow with a pending inquiry does), though other
        // branches may still run.
        Record::Attempt(a)
            if matches!(a.outcome, AttemptOutcome::Waiting { .. }) && !status.is_terminal() =>
        {
            RunStatus::Paused
        }
        Record::Attempt(_) => status,
    }
}

/// SHA-256 of a workflow's text, in hex, as [`RunStart::hash`] holds it.
pub fn source_hash(source: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(source.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attempt records of every outcome, in the text journals hold: they
    /// read back, and are written again byte for byte (the boxed fields
    /// of an error and a wait are stored as they were before they were
    /// boxed).
    #[test]
    fn attempt_records_keep_their_stored_form() {
        let texts = [
            r#"{"attempt":{"step":1,"instance":0,"item":null,"attempt":1,"outcome":{"ok":{"result":{"a":[1,"x"]}}},"started_at":1700000000000,"ended_at":1700000000001}}"#,
            r#"{"attempt":{"step":2,"instance":1,"item":3,"attempt":2,"outcome":{"err":{"message":"no","result":{"code":2,"why":["a"]},"canceled":true}},"started_at":null,"ended_at":7}}"#,
            r#"{"attempt":{"step":3,"instance":1,"item":null,"attempt":1,"outcome":{"err":{"message":"boom"}},"started_at":5,"ended_at":6}}"#,
            r#"{"attempt":{"step":4,"instance":2,"item":null,"attempt":1,"outcome":{"timed_out":{"seconds":1.5}},"started_at":5,"ended_at":6}}"#,
            r#"{"attempt":{"step":5,"instance":2,"item":null,"attempt":2,"outcome":{"panicked":{"message":"oops"}},"started_at":5,"ended_at":6}}"#,
            r#"{"attempt":{"step":6,"instance":3,"item":0,"attempt":1,"outcome":"dropped","started_at":null,"ended_at":6}}"#,
            r#"{"attempt":{"step":7,"instance":4,"item":null,"attempt":1,"outcome":{"waiting":{"task":"ask","wait":{"key":"k","timeout_ms":5000,"schema":{"type":"object"},"details":{"route":"a"}},"deadline_at":1700000005000}},"started_at":1700000000000,"ended_at":1700000000000}}"#,
            r#"{"attempt":{"step":8,"instance":5,"item":null,"attempt":1,"outcome":{"waiting":{"task":"ask","wait":{"key":"k"}}},"started_at":1,"ended_at":2}}"#,
        ];
        for text in texts {
            let record: Record = serde_json::from_str(text).expect(text);
            assert_eq!(serde_json::to_string(&record).unwrap(), text);
        }
        let record: Record = serde_json::from_str(texts[1]).unwrap();
        let Record::Attempt(a) = record else {
            panic!("an attempt record")
        };
        let AttemptOutcome::Err { result, .. } = &a.outcome else {
            panic!("an error")
        };
        assert_eq!(
            result.as_deref(),
            Some(&serde_json::json!({"code": 2, "why": ["a"]}))
        );
    }

    /// An attempt record, held in place in a record (not boxed), makes a
    /// record no larger than a command's does: a journal's records are
    /// mostly attempts, and each is copied into the turn's buffer.
    #[test]
    fn an_attempt_record_is_no_larger_than_a_command() {
        use std::mem::size_of;
        eprintln!(
            "AttemptRecord {} AttemptOutcome {} Record {} Entry {}",
            size_of::<AttemptRecord>(),
            size_of::<AttemptOutcome>(),
            size_of::<Record>(),
            size_of::<Entry>()
        );
        assert!(size_of::<AttemptRecord>() <= size_of::<Command>() + size_of::<u64>());
        // What a turn's buffer holds a record in (docs/performance.md, "An
        // attempt record without a box of its own"): a change that grows
        // them shows here.
        #[cfg(target_pointer_width = "64")]
        {
            assert!(size_of::<Record>() <= 112, "{}", size_of::<Record>());
            assert!(size_of::<Entry>() <= 136, "{}", size_of::<Entry>());
        }
    }
}
