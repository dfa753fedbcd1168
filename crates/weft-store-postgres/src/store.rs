//! [`PostgresStore`]: the pool, the tasks that renew leases and listen for
//! notices, and the [`Store`] methods.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use weft_runtime::store::driver::group_batch;
use weft_runtime::store::{
    Appended, Claimed, Command, Entry, Notice, RunFilter, RunSummary, SharedStore, Store,
    StoreError,
};
use weft_runtime::RunId;

use crate::error;
use crate::inner::{no_answer, Inner};
use crate::options::{check_schema, parse_url, redact, PostgresOptions};
use crate::schema;

/// A [`Store`] in a Postgres database, which several processes can share
/// ([`SharedStore`]).
///
/// See the [crate docs](crate) for the tables, the leases and the costs.
pub struct PostgresStore {
    pub(crate) inner: Arc<Inner>,
    heartbeat: JoinHandle<()>,
}

#[cfg(test)]
impl PostgresStore {
    /// What the crate's own tests reach into.
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if let Some(l) = self.inner.listener.get() {
            l.abort();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("at", &self.inner.at)
            .field("owner", &self.inner.me)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database `url` names
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]`)
    /// with the default [`PostgresOptions`], and brings its tables up to
    /// date. Must be called inside a tokio runtime, which runs the store's
    /// background tasks (lease renewal, notices).
    ///
    /// # Errors
    ///
    /// The URL or the schema name is not valid (a URL must name its
    /// database: weft does not let the server pick the one named after the
    /// user), the server cannot be reached, or the schema was written by a
    /// newer weft.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave the migrations applied or not (each
    /// is one transaction).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(url, &PostgresOptions::default()).await
    }

    /// Like [`PostgresStore::connect`], with options.
    ///
    /// # Errors
    ///
    /// As for [`PostgresStore::connect`], and options that do not fit
    /// together (a heartbeat longer than half the lease).
    ///
    /// # Cancel safety
    ///
    /// As for [`PostgresStore::connect`].
    pub async fn connect_with(
        url: &str,
        options: &PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        let shown = redact(url);
        let parsed = parse_url(url).map_err(StoreError::unavailable)?;
        let schema = options
            .schema
            .clone()
            .or(parsed.schema)
            .unwrap_or_else(|| "public".to_owned());
        check_schema(&schema).map_err(|e| error::other(&shown, e))?;
        options.check().map_err(|e| error::other(&shown, e))?;
        let at = format!("{} (schema {schema})", parsed.display);
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            error::other(
                &at,
                "PostgresStore::connect must be called inside a tokio runtime",
            )
        })?;
        let mut config = parsed.config;
        let connect_timeout = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(options.connect_timeout);
        let statement_timeout = parsed
            .statement_timeout
            .unwrap_or(options.statement_timeout);
        config.connect_timeout(connect_timeout);
        // A connection cut while idle (the listening one, most of all) is
        // noticed within about 20 s by its keepalives.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(3))
            .keepalives_retries(3);
        config.options(format!(
            "-c statement_timeout={}",
            statement_timeout.as_millis().max(1)
        ));
        config.application_name("weft");
        let patience = connect_timeout + statement_timeout;
        // Linux: a connection whose data goes unacknowledged that long is
        // closed, so the pool drops it rather than handing it out again.
        config.tcp_user_timeout(patience);
        // The first connection migrates; it also shows a bad address early,
        // with the server's own words. `connect_timeout` bounds only the
        // TCP connection: a server that accepts and never answers is
        // bounded here.
        let first = async {
            let (mut client, connection) = config
                .connect(NoTls)
                .await
                .map_err(|e| error::sql(&at, "cannot connect", e))?;
            let driver = tokio::spawn(connection);
            let migrated = schema::migrate(&mut client, &schema, &at).await;
            drop(client);
            let _ = driver.await;
            migrated
        };
        tokio::time::timeout(patience, first)
            .await
            .map_err(|_| no_answer(&at, "cannot connect", patience))??;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .build()
            .map_err(|e| error::other(&at, format!("cannot make its pool ({e})")))?;
        let (notices, _) = broadcast::channel(1024);
        let me = format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let inner = Arc::new(Inner {
            pool,
            channel: format!("weft_{schema}"),
            schema,
            at,
            me,
            options: PostgresOptions {
                statement_timeout,
                connect_timeout,
                ..options.clone()
            },
            patience,
            owned: Mutex::new(HashMap::new()),
            lost: Mutex::new(Vec::new()),
            notices,
            config,
            listener: OnceLock::new(),
            runtime,
        });
        let heartbeat = tokio::spawn(crate::lease::heartbeat_loop(Arc::downgrade(&inner)));
        Ok(PostgresStore { inner, heartbeat })
    }

    /// This store's name as the owner of leases (`host:pid:random`), as
    /// the `owner` column shows it.
    pub fn owner(&self) -> &str {
        &self.inner.me
    }

    /// The schema the tables are in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The pool of connections, for statements of your own (the tables are
    /// in [`PostgresStore::schema`]).
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_owned())
}

/// Entries from which [`Store::append_owned`] encodes a commit on a thread
/// of tokio's blocking pool. Below it (a short run's commit, a sync run's
/// commit of one step) the encoding, some 800 instructions a record, costs
/// less than waking a thread to do it and waking the runtime again after.
const OFF_THREAD: usize = 256;

impl Store for PostgresStore {
    fn append<'a>(&'a self, entries: &'a [Entry]) -> BoxFuture<'a, Result<Appended, StoreError>> {
        self.inner
            .bounded("cannot append", self.inner.append(entries))
            .boxed()
    }

    /// A commit of [`OFF_THREAD`] entries or more is grouped and
    /// serialized on a thread of tokio's blocking pool, and dropped there
    /// once committed: the runtime's threads, which run the runs whose
    /// records they are, only send the rows. A smaller one is encoded
    /// where it is appended, as [`Store::append`] does (the hand-over to
    /// another thread and back would cost it more than the encoding).
    fn append_owned(
        &self,
        entries: Vec<Entry>,
    ) -> BoxFuture<'_, Result<Appended, (StoreError, Vec<Entry>)>> {
        async move {
            if entries.len() < OFF_THREAD {
                return match self.append(&entries).await {
                    Ok(done) => Ok(done),
                    Err(e) => Err((e, entries)),
                };
            }
            let name = error::store_name(&self.inner.at);
            let grouped = tokio::task::spawn_blocking(move || {
                let batch = group_batch(&name, &entries);
                (batch, entries)
            })
            .await;
            let (batch, entries) = match grouped {
                Ok(done) => done,
                // It panicked, and took the entries with it.
                Err(e) => {
                    return Err((
                        error::other(&self.inner.at, format!("cannot append: {e}")),
                        Vec::new(),
                    ))
                }
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => return Err((e, entries)),
            };
            let appending = self.inner.append_batch(&batch);
            match self.inner.bounded("cannot append", appending).await {
                Ok(done) => {
                    tokio::task::spawn_blocking(move || drop((batch, entries)));
                    Ok(done)
                }
                Err(e) => Err((e, entries)),
            }
        }
        .boxed()
    }

    fn load(&self, run: RunId) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.inner
            .bounded("cannot load a run", self.inner.load(run))
            .boxed()
    }

    fn load_from(&self, run: RunId, from: u64) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.inner
            .bounded("cannot load a run", self.inner.load_from(run, from))
            .boxed()
    }

    fn get(&self, run: RunId) -> BoxFuture<'_, Result<Option<RunSummary>, StoreError>> {
        self.inner
            .bounded("cannot read a run", self.inner.get(run))
            .boxed()
    }

    fn list<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunSummary>, StoreError>> {
        self.inner
            .bounded("cannot list runs", self.inner.list(filter))
            .boxed()
    }

    fn purge(&self, before: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        let cutoff = before
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.inner
            .bounded("cannot purge", self.inner.purge(cutoff))
            .boxed()
    }

    fn describe(&self) -> String {
        format!("postgres {}", self.inner.at)
    }

    fn shared(&self) -> Option<&dyn SharedStore> {
        Some(self)
    }

    fn kv(&self) -> Option<&dyn weft_runtime::store::KvStore> {
        Some(self)
    }
}

impl SharedStore for PostgresStore {
    fn submit<'a>(&'a self, entry: &'a Entry) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner
            .bounded("cannot submit a run", self.inner.submit(entry))
            .boxed()
    }

    fn claim<'a>(
        &'a self,
        limit: usize,
        skip: &'a [RunId],
    ) -> BoxFuture<'a, Result<Claimed, StoreError>> {
        self.inner
            .bounded("cannot claim runs", self.inner.claim(limit, skip))
            .boxed()
    }

    fn acquire(&self, run: RunId) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner
            .bounded("cannot take a run over", self.inner.acquire(run))
            .boxed()
    }

    fn release(&self, run: RunId) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner
            .bounded("cannot hand a run back", self.inner.release(run))
            .boxed()
    }

    fn abandon(&self, run: RunId) {
        // Given up: lost from here on, as a run whose lease lapsed is.
        let held = self.inner.owned().remove(&run).is_some();
        if held {
            self.inner.lose(&[run]);
        }
    }

    fn send_command(&self, run: RunId, command: Command) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let sending = self.inner.send_command(run, &command);
            self.inner.bounded("cannot send a command", sending).await
        }
        .boxed()
    }

    fn take_commands(&self) -> BoxFuture<'_, Result<Vec<(RunId, Command)>, StoreError>> {
        self.inner
            .bounded("cannot read commands", self.inner.take_commands())
            .boxed()
    }

    fn notices(&self) -> broadcast::Receiver<Notice> {
        self.inner.subscribe()
    }

    fn take_lost(&self) -> Vec<RunId> {
        std::mem::take(&mut *self.inner.lost.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn owned(&self) -> Vec<RunId> {
        self.inner.owned().keys().copied().collect()
    }

    fn owner_name(&self) -> String {
        self.inner.me.clone()
    }
}
