//! What every part of the store shares: the pool, the runs this process
//! holds, the notices; the store's parts (appending, reading, leases, the
//! key-value table) are `impl Inner` blocks of their own files, and
//! [`PostgresStore`](crate::PostgresStore) is a handle on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use deadpool_postgres::{Object, Pool};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use weft_runtime::store::{Millis, Notice, StoreError};
use weft_runtime::RunId;

use crate::error;
use crate::options::PostgresOptions;

/// A run this process owns: the epoch it holds, and the moment (on this
/// process's clock) after which it must assume the lease is gone.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    pub(crate) epoch: i64,
    pub(crate) deadline: Instant,
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) schema: String,
    /// `host:port/db (schema s)`, for messages.
    pub(crate) at: String,
    /// This store's name as an owner of leases: unique per store.
    pub(crate) me: String,
    pub(crate) options: PostgresOptions,
    /// The longest any call waits for the database: the connect timeout
    /// plus the statement timeout.
    pub(crate) patience: Duration,
    /// The notification channel of the schema.
    pub(crate) channel: String,
    pub(crate) owned: Mutex<HashMap<RunId, Held>>,
    pub(crate) lost: Mutex<Vec<RunId>>,
    pub(crate) notices: broadcast::Sender<Notice>,
    pub(crate) config: tokio_postgres::Config,
    pub(crate) listener: OnceLock<JoinHandle<()>>,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Inner {
    /// A connection from the pool, for `doing` (the error says what the
    /// store was doing, and keeps the pool's error as its source).
    pub(crate) async fn conn(&self, doing: &str) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| error::pool(&self.at, doing, e))
    }

    /// What a query's error becomes while `doing` something (the error is
    /// kept as the source).
    pub(crate) fn fail<'a>(
        &'a self,
        doing: &'a str,
    ) -> impl Fn(tokio_postgres::Error) -> StoreError + Copy + 'a {
        move |e| error::sql(&self.at, doing, e)
    }

    pub(crate) fn owned(&self) -> MutexGuard<'_, HashMap<RunId, Held>> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long after a renewal was sent this process still counts on its
    /// lease: half a heartbeat less than the lease, so that it stops before
    /// the database lets another process take over.
    pub(crate) fn local_lease(&self) -> Duration {
        self.options
            .lease
            .saturating_sub(self.options.heartbeat / 2)
    }

    /// Forgets runs this process owned, and tells.
    pub(crate) fn lose(&self, runs: &[RunId]) {
        if runs.is_empty() {
            return;
        }
        {
            let mut owned = self.owned();
            for r in runs {
                owned.remove(r);
            }
        }
        self.lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(runs);
        for r in runs {
            let _ = self.notices.send(Notice::RunLost(*r));
        }
        let _ = self.notices.send(Notice::Lost);
    }

    /// `op`, or an error saying the database did not answer, should it
    /// take longer than [`Inner::patience`].
    pub(crate) async fn bounded<T>(
        &self,
        doing: &str,
        op: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.patience, op)
            .await
            .unwrap_or_else(|_| Err(no_answer(&self.at, doing, self.patience)))
    }

    pub(crate) fn subscribe(self: &Arc<Self>) -> broadcast::Receiver<Notice> {
        let rx = self.notices.subscribe();
        self.listener.get_or_init(|| {
            self.runtime.spawn(crate::listen::listen_loop(
                self.config.clone(),
                self.patience,
                self.channel.clone(),
                self.notices.clone(),
            ))
        });
        rx
    }
}

/// The database did not answer `doing` within `patience`.
pub(crate) fn no_answer(at: &str, doing: &str, patience: Duration) -> StoreError {
    error::other(
        at,
        format!(
            "{doing}: no answer from the database within {:.1} s (its connect timeout \
             plus its statement timeout): the server, or the network to it, is down or \
             cut; check it and try again (`?connect_timeout=SECONDS` and \
             `?statement_timeout=SECONDS` in the URL set the two)",
            patience.as_secs_f64()
        ),
    )
}

pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn millis_now() -> Millis {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
