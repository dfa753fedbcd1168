//! `weft serve`: the HTTP API and the web dashboard over a store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use weft_server::ServerConfig;

use crate::durable::runtime;
use crate::store::{self, Access};
use crate::{report, Exit};

/// The environment variable that gives the token when `--token` does not.
const TOKEN_VAR: &str = "WEFT_SERVER_TOKEN";

/// `weft serve`.
#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// Where to listen. A loopback address unless a token is given.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    bind: String,
    /// The token every request must carry (`Authorization: Bearer TOKEN`);
    /// without it, the WEFT_SERVER_TOKEN environment variable's.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// A directory of workflow files (NAME.yaml, .yml or .json) that
    /// `POST /api/v1/runs` starts by name, and that tasks run as
    /// sub-workflows.
    #[arg(long, value_name = "DIR")]
    workflows: Option<PathBuf>,
    /// Accept a workflow's YAML text in `POST /api/v1/runs` (it can run any
    /// action this process has).
    #[arg(long)]
    allow_yaml: bool,
    /// Only show the store: no runs started, no commands. A SQLite file
    /// that another process writes is served so anyway.
    #[arg(long)]
    read_only: bool,
    /// The largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = weft_server::DEFAULT_MAX_BODY_BYTES)]
    max_body: usize,
    #[command(flatten)]
    pub(crate) secret: crate::secret_key::SecretKeyArgs,
}

pub(crate) fn serve(args: ServeArgs) -> Exit {
    let token = args
        .token
        .clone()
        .or_else(|| std::env::var(TOKEN_VAR).ok())
        .filter(|t| !t.is_empty());
    let addr: SocketAddr = match args.bind.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!(
                "error: --bind {}: not an address and port: write one such as 127.0.0.1:8080 \
                 or [::1]:8080",
                args.bind
            );
            return Exit::Invalid;
        }
    };
    if !addr.ip().is_loopback() && token.is_none() {
        eprintln!(
            "error: --bind {addr} is reachable from other machines, and without a token anyone \
             who reaches it could start and cancel runs: give --token (or {TOKEN_VAR}), or bind \
             a loopback address such as 127.0.0.1:{}",
            addr.port()
        );
        return Exit::Invalid;
    }
    let plans = match report::workflow_plans(args.workflows.as_deref()) {
        Ok(p) => p,
        Err(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
            return Exit::Invalid;
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let mut read_only = args.read_only;
    let opened = if read_only {
        store::open(&rt, &args.db, Access::Read)
    } else {
        match store::open(&rt, &args.db, Access::Write) {
            // Another process writes the file: show it, change nothing.
            Err(e) if !store::is_postgres(&args.db) && e.contains("in use by another process") => {
                eprintln!(
                    "note: {} is written by another process: serving it read-only (runs are \
                     shown and followed; starting and commands are off until that process \
                     stops)",
                    args.db
                );
                read_only = true;
                store::open(&rt, &args.db, Access::Read)
            }
            other => other,
        }
    };
    let store = match opened {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Invalid;
        }
    };
    let mut builder = match args.secret.apply(weft_runtime::Executor::builder()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Invalid;
        }
    };
    for (name, plan) in &plans {
        builder = builder.workflow(name.clone(), plan.clone());
    }
    let executor = builder.store(store).build();
    let mut config = ServerConfig::new(executor.clone())
        .allow_yaml(args.allow_yaml)
        .read_only(read_only)
        .max_body_bytes(args.max_body);
    if let Some(t) = &token {
        config = config.token(t.clone());
    }
    for (name, plan) in plans {
        config = config.workflow(name, plan);
    }
    let mode = config.mode();
    let described = executor.store().map(|s| s.describe()).unwrap_or_default();
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().unwrap_or(addr);
        let host = match bound.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        eprintln!(
            "weft serve: http://{host}:{}/ over {described} ({}{})",
            bound.port(),
            mode.as_str().replace('_', "-"),
            if token.is_some() {
                ", token required"
            } else {
                ""
            }
        );
        axum::serve(listener, weft_server::router(config))
            .with_graceful_shutdown(crate::shared::stopped())
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    });
    // Runs started here stay in the store as they are: interrupted ones
    // are resumed by `weft resume` or from the dashboard of a later
    // `weft serve`, and on Postgres a worker takes them over.
    let flushed = rt.block_on(executor.flush());
    if let Some(shared) = executor.store().and_then(|s| s.shared()) {
        for id in shared.owned() {
            let _ = rt.block_on(shared.release(id));
        }
    }
    rt.shutdown_timeout(Duration::from_millis(200));
    match (result, flushed) {
        (Err(e), _) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
        (Ok(()), Err(e)) => {
            eprintln!("error: the journal could not be written: {e}");
            Exit::Failed
        }
        (Ok(()), Ok(())) => Exit::Ok,
    }
}
