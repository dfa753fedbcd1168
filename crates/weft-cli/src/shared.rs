//! The commands of runs shared through a Postgres database: `submit`
//! stores a run for a worker to take, `worker` claims and runs them.

use std::path::PathBuf;
use std::time::Duration;

use weft_runtime::WorkerConfig;
use weft_store_postgres::PostgresOptions;

use crate::durable::runtime;
use crate::limits::LimitArgs;
use crate::observe::ObserveArgs;
use crate::run::{plan_and_inputs, DurabilityArg};
use crate::store::{self, Access};
use crate::{inputs, report, Exit};

/// `weft submit`.
#[derive(clap::Args, Debug)]
pub(crate) struct SubmitArgs {
    /// The workflow file (YAML, or JSON when the name ends in .json).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The Postgres database the workers share
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "URL")]
    db: String,
    /// An input of the workflow, as for `weft run` (repeat for more).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "NAME=VALUE",
        value_parser = inputs::parse_assignment
    )]
    input: Vec<(String, String)>,
    /// A JSON file with a map of input name to value.
    #[arg(long, value_name = "FILE.json")]
    inputs: Option<PathBuf>,
    /// A directory of workflow files that tasks run as sub-workflows (the
    /// workers need the same).
    #[arg(long, value_name = "DIR")]
    workflows: Option<PathBuf>,
    /// `write-behind` (the default) or `sync`: how the worker that runs it
    /// commits its records.
    #[arg(long, value_enum, default_value_t = DurabilityArg::WriteBehind)]
    durability: DurabilityArg,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// StackStorm packs (the workers need the same).
    #[command(flatten)]
    packs: crate::packs::PackArgs,
    #[command(flatten)]
    pub(crate) secret: crate::secret_key::SecretKeyArgs,
}

/// `weft worker`.
#[derive(clap::Args, Debug)]
pub(crate) struct WorkerArgs {
    /// The Postgres database the workers share
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "URL")]
    db: String,
    /// Runs this worker runs at once, at most.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_runs: usize,
    /// Runs one claim takes, at most.
    #[arg(long, value_name = "N", default_value_t = 16)]
    claim_batch: usize,
    /// How long a lease lasts unrenewed: how soon another worker takes
    /// this one's runs over if it dies (30s, 5s, 1500ms).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = store::parse_duration)]
    lease: Duration,
    /// How often the leases are renewed; at most half the lease.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = store::parse_duration)]
    heartbeat: Duration,
    /// A directory of workflow files that tasks run as sub-workflows.
    #[arg(long, value_name = "DIR")]
    workflows: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    #[command(flatten)]
    pub(crate) observe: ObserveArgs,
    #[command(flatten)]
    packs: crate::packs::PackArgs,
    #[command(flatten)]
    pub(crate) secret: crate::secret_key::SecretKeyArgs,
}

fn postgres_only(db: &str, command: &str) -> Result<(), Exit> {
    if store::is_postgres(db) {
        return Ok(());
    }
    eprintln!(
        "error: `weft {command}` shares runs through a Postgres database: give --db \
         postgres://USER@HOST:PORT/DB (a SQLite file is for one process; use `weft run --db`)"
    );
    Err(Exit::Invalid)
}

/// What `submit` and `worker` start from: the database checked to be
/// Postgres, a tokio runtime, and the executor's builder.
fn prepare(
    db: &str,
    command: &str,
    workflows: Option<&std::path::Path>,
    packs: &crate::packs::PackArgs,
    secret: &crate::secret_key::SecretKeyArgs,
) -> Result<(tokio::runtime::Runtime, weft_runtime::ExecutorBuilder), Exit> {
    postgres_only(db, command)?;
    let rt = runtime()?;
    let builder = crate::packs::builder_with_secret(workflows, packs, secret)?;
    Ok((rt, builder))
}

pub(crate) fn submit(args: SubmitArgs) -> Exit {
    let (rt, builder) = match prepare(
        &args.db,
        "submit",
        args.workflows.as_deref(),
        &args.packs,
        &args.secret,
    ) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let store = match store::open(&rt, &args.db, Access::Write) {
        Ok(s) => s,
        Err(e) => return Exit::invalid(e),
    };
    let executor = builder
        .store(store)
        .durability(args.durability.into())
        .build();
    let (plan, inputs) =
        match plan_and_inputs(&args.file, args.inputs.as_deref(), &args.input, &executor) {
            Ok(found) => found,
            Err(exit) => return exit,
        };
    match rt.block_on(executor.submit(&plan, inputs)) {
        Ok(id) => {
            crate::out!("{id}");
            Exit::Ok
        }
        Err(weft_runtime::SharedError::Workflow(e)) => {
            for line in report::error_lines(&e, &args.file) {
                eprintln!("{line}");
            }
            Exit::Invalid
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

pub(crate) fn worker(args: WorkerArgs) -> Exit {
    let (rt, builder) = match prepare(
        &args.db,
        "worker",
        args.workflows.as_deref(),
        &args.packs,
        &args.secret,
    ) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let options = PostgresOptions::new()
        .lease(args.lease)
        .heartbeat(args.heartbeat);
    let store = match store::open_with(&rt, &args.db, Access::Write, &options) {
        Ok(s) => s,
        Err(e) => return Exit::invalid(e),
    };
    let owner = describe_owner(&store);
    let executor = builder.store(store).build();
    let config = WorkerConfig::new()
        .max_runs(args.max_runs)
        .claim_batch(args.claim_batch);
    eprintln!(
        "worker {owner}: running up to {} runs from {}",
        config.max_runs,
        executor.store().map(|s| s.describe()).unwrap_or_default()
    );
    let report = rt.block_on(executor.worker(config).run(stopped()));
    match report {
        Ok(r) => {
            eprintln!(
                "worker {owner}: stopped; {} runs claimed, {} ended here, {} lost, {} handed back",
                r.claimed, r.ended, r.lost, r.released
            );
            // Actions of runs handed back may still be running: the process
            // ends without waiting for them (they run again elsewhere).
            rt.shutdown_timeout(Duration::from_millis(100));
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

/// The owner name the worker's leases carry, for its messages.
fn describe_owner(store: &std::sync::Arc<dyn weft_runtime::Store>) -> String {
    store
        .shared()
        .map(|s| s.owner_name())
        .unwrap_or_else(|| "?".to_owned())
}

/// Completes at the first SIGTERM or Ctrl-C.
pub(crate) async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        match (term, int) {
            (Some(mut t), Some(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
