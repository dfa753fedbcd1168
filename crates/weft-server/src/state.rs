//! The state every handler shares: one `Arc`.

use std::sync::Arc;

use crate::config::{Mode, ServerConfig};
use crate::events::Hub;
use crate::snapshot::Snapshots;

/// The server's shared state, cheap to clone.
#[derive(Clone)]
pub(crate) struct App(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) config: ServerConfig,
    pub(crate) mode: Mode,
    pub(crate) snapshots: Arc<Snapshots>,
    pub(crate) hub: Arc<Hub>,
    /// `Bearer <token>`, as the header must read.
    pub(crate) bearer: Option<String>,
}

impl std::ops::Deref for App {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    pub(crate) fn new(config: ServerConfig) -> App {
        let mode = config.mode();
        let snapshots = Arc::new(Snapshots::new(config.executor.clone()));
        let hub = Arc::new(Hub::new(snapshots.clone(), config.poll_interval));
        let bearer = config.token.as_ref().map(|t| format!("Bearer {t}"));
        App(Arc::new(Inner {
            config,
            mode,
            snapshots,
            hub,
            bearer,
        }))
    }
}
