//! A store shared by several executor processes ([`SharedStore`]).
//!
//! With a shared store, a run is owned by one process at a time through a
//! *lease*: the process renews it by heartbeat, and each lease carries an
//! *epoch* (a fencing token) that grows every time the run changes hands.
//! The store accepts a run's journal entries only from the process that
//! holds the run's current epoch, so a process that was thought dead (a
//! long pause, a partition) cannot write after another took the run over:
//! its entries come back in [`Appended::fenced`](super::Appended), and the
//! run stops in that process.
//!
//! Runs can also be *submitted*: stored with their `Started` record and
//! owned by nobody, for a worker ([`Executor::worker`](crate::Executor::worker))
//! to claim. An expired lease makes a run claimable again; the process
//! that claims it replays its journal and goes on.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{Command, Entry, Store, StoreError};
use crate::id::RunId;

/// What a shared store tells the processes that watch it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A run was submitted or handed back: there is work to claim.
    Claimable,
    /// A command was recorded for this run.
    Command(RunId),
    /// This run ended.
    Ended(RunId),
    /// This process lost runs (see [`SharedStore::take_lost`]); each was
    /// announced by a [`Notice::RunLost`] just before.
    Lost,
    /// This process lost this run: taken over (found by a renewal, or by a
    /// commit the store refused as fenced), its lease could not be renewed
    /// in time, or it was given up ([`SharedStore::abandon`]). Every
    /// receiver hears it, so each executor that shares the store stops the
    /// run if the run is going on in it, and a worker counts it lost.
    RunLost(RunId),
    /// Notices may have been missed (the connection that listens was
    /// re-established, or a reader fell behind): look again at everything.
    Missed,
}

/// What [`SharedStore::claim`] got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claimed {
    /// The runs this process owns now.
    pub runs: Vec<RunId>,
    /// When the next lease of another process expires, if one is held:
    /// the earliest moment a claim could take a run over.
    pub next_expiry: Option<Duration>,
}

/// A [`Store`] several executor processes share (see the module docs).
pub trait SharedStore: Store {
    /// Stores a submitted run: its `Started` entry (sequence 0), owned by
    /// no process until one claims it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the run exists or the entry is not a
    /// `Started` record at 0; [`StoreError::Unavailable`] otherwise.
    fn submit<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Claims up to `limit` top-level runs that no process owns (submitted,
    /// handed back, or whose lease expired), skipping `skip`; this process
    /// owns them on return, with a new epoch.
    ///
    /// # Errors
    ///
    /// The store cannot be reached.
    fn claim<'a>(
        &'a self,
        limit: usize,
        skip: &'a [RunId],
    ) -> BoxFuture<'a, Result<Claimed, StoreError>>;

    /// Takes one run over now (to resume or re-run it by hand, or a
    /// sub-workflow whose parent was taken over), unless another process
    /// holds a lease on it that has not expired.
    ///
    /// # Errors
    ///
    /// [`StoreError::Fenced`] when another process owns it,
    /// [`StoreError::NotFound`], or the store cannot be reached.
    fn acquire(&self, run: RunId) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Hands a run back: this process stops writing its journal at once,
    /// and its lease ends, so another process may claim it.
    ///
    /// # Errors
    ///
    /// The store cannot be reached (the lease then ends when it expires).
    fn release(&self, run: RunId) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Stops holding a run without telling the store: this process writes
    /// no more of its journal and stops renewing its lease, which lapses,
    /// after which any process may claim the run. For a run whose records
    /// could not be committed: the store is failing, so the retry waits for
    /// the lease rather than coming back at once.
    ///
    /// A run this process held is lost from then on: it is told as one
    /// taken over is ([`Notice::RunLost`], [`SharedStore::take_lost`]).
    fn abandon(&self, run: RunId);

    /// Records a command (cancel, abort, pause, resume) for the process
    /// that owns the run, or claims it next.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], or the store cannot be reached.
    fn send_command(&self, run: RunId, command: Command) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Takes the commands recorded for the runs this process owns, oldest
    /// first.
    ///
    /// # Errors
    ///
    /// The store cannot be reached.
    fn take_commands(&self) -> BoxFuture<'_, Result<Vec<(RunId, Command)>, StoreError>>;

    /// The notices from now on (see [`Notice`]).
    fn notices(&self) -> tokio::sync::broadcast::Receiver<Notice>;

    /// The runs this process owned and has lost since the last call: taken
    /// over (found by a renewal or a fenced commit), their lease could not
    /// be renewed in time, or given up ([`SharedStore::abandon`]). Their
    /// journal is no longer written from here; they must stop.
    fn take_lost(&self) -> Vec<RunId>;

    /// The runs this process owns now.
    fn owned(&self) -> Vec<RunId>;

    /// This process's name as the owner of leases, for messages.
    fn owner_name(&self) -> String;
}
