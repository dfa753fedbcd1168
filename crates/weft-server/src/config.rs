//! What a server is given: the executor whose store it shows, and how it
//! may be used.

use std::collections::BTreeMap;
use std::time::Duration;

use weft_core::Plan;
use weft_runtime::Executor;

/// How the server reaches the runs, and so what it can do with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// The store is this process's own (a SQLite file it writes, a memory
    /// store): runs submitted here run in this process; cancel and pause
    /// reach the runs going on here; resume brings back interrupted and
    /// paused runs; re-run runs an ended run here.
    Local,
    /// The store is shared by several processes (Postgres): submitted runs
    /// go to the workers; cancel, pause and resume go to whichever process
    /// holds the run; a re-run runs here.
    Shared,
    /// The store is read here only (a SQLite file another process writes):
    /// runs can be listed, shown and followed, nothing else.
    ReadOnly,
}

impl Mode {
    /// `local`, `shared` or `read_only`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Shared => "shared",
            Mode::ReadOnly => "read_only",
        }
    }
}

/// The configuration of a server: see [`crate::router`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_runtime::{Executor, MemoryStore};
/// use weft_server::ServerConfig;
///
/// let executor = Executor::builder().store(Arc::new(MemoryStore::new())).build();
/// let config = ServerConfig::new(executor)
///     .token("s3cr3t-token")
///     .allow_yaml(true);
/// let app: axum::Router = weft_server::router(config);
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
#[must_use = "a ServerConfig does nothing until given to weft_server::router"]
pub struct ServerConfig {
    pub(crate) executor: Executor,
    pub(crate) token: Option<String>,
    pub(crate) allow_yaml: bool,
    pub(crate) read_only: bool,
    pub(crate) workflows: BTreeMap<String, Plan>,
    pub(crate) max_body_bytes: usize,
    pub(crate) poll_interval: Duration,
    pub(crate) dashboard: bool,
}

/// Request bodies above this are refused (413) unless set otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// How often a live event stream looks for new journal records, unless set
/// otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

impl ServerConfig {
    /// A server over `executor`'s store. The executor must have a store
    /// (`ExecutorBuilder::store`): every route but the dashboard's answers
    /// 503 otherwise. Its actions run the runs submitted or re-run here.
    pub fn new(executor: Executor) -> ServerConfig {
        ServerConfig {
            executor,
            token: None,
            allow_yaml: false,
            read_only: false,
            workflows: BTreeMap::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            poll_interval: DEFAULT_POLL_INTERVAL,
            dashboard: true,
        }
    }

    /// Every request must carry `Authorization: Bearer <token>` (the
    /// dashboard asks for it once and keeps it in the tab's session
    /// storage); any other gets 401. An empty token is ignored.
    pub fn token(mut self, token: impl Into<String>) -> ServerConfig {
        let token = token.into();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// Lets `POST /api/v1/runs` take a workflow's YAML text (off by
    /// default: only registered workflows can be submitted). The text is
    /// compiled against the executor's actions, so it can run any of them.
    pub fn allow_yaml(mut self, allow: bool) -> ServerConfig {
        self.allow_yaml = allow;
        self
    }

    /// Shows the store without changing it: no submissions, no commands,
    /// no purge. For a store opened read-only (a SQLite file that another
    /// process writes).
    pub fn read_only(mut self, read_only: bool) -> ServerConfig {
        self.read_only = read_only;
        self
    }

    /// Registers a workflow that `POST /api/v1/runs` can start by `name`.
    pub fn workflow(mut self, name: impl Into<String>, plan: Plan) -> ServerConfig {
        self.workflows.insert(name.into(), plan);
        self
    }

    /// Refuses request bodies larger than `bytes` with 413. Default 1 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> ServerConfig {
        self.max_body_bytes = bytes;
        self
    }

    /// How often a live event stream looks for new records in a run's
    /// journal. Default 250 ms; at least 10 ms.
    pub fn poll_interval(mut self, every: Duration) -> ServerConfig {
        self.poll_interval = every.max(Duration::from_millis(10));
        self
    }

    /// Serves the dashboard at `/` and `/runs/{id}` (default), or only the
    /// API.
    pub fn dashboard(mut self, on: bool) -> ServerConfig {
        self.dashboard = on;
        self
    }

    /// How the server reaches the runs (see [`Mode`]).
    pub fn mode(&self) -> Mode {
        if self.read_only {
            Mode::ReadOnly
        } else if self.executor.store().is_some_and(|s| s.shared().is_some()) {
            Mode::Shared
        } else {
            Mode::Local
        }
    }
}
