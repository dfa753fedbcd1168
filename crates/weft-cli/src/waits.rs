//! The commands on waiting tasks: `respond` (and `signal`) answer one,
//! `inquiries` lists them.

use serde_json::{json, Value};
use weft_runtime::{Executor, PendingWait, RespondError, RunId};

use crate::durable::runtime;
use crate::store::{self, Access};
use crate::Exit;

/// `weft respond`.
#[derive(clap::Args, Debug)]
pub(crate) struct RespondArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// The run.
    #[arg(value_name = "RUN_ID", value_parser = parse_id)]
    id: RunId,
    /// The waiting task (`core.ask`).
    #[arg(value_name = "TASK")]
    task: String,
    /// The answer, as JSON: `--data '{"approved": true}'`.
    #[arg(long, value_name = "JSON", value_parser = parse_json)]
    data: Value,
}

/// `weft signal`.
#[derive(clap::Args, Debug)]
pub(crate) struct SignalArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL.
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// The run.
    #[arg(value_name = "RUN_ID", value_parser = parse_id)]
    id: RunId,
    /// The wait's key (`core.wait_event`'s `key`).
    #[arg(value_name = "KEY")]
    key: String,
    /// The signal's value, as JSON (default null).
    #[arg(long, value_name = "JSON", value_parser = parse_json, default_value = "null")]
    data: Value,
}

/// `weft inquiries`.
#[derive(clap::Args, Debug)]
pub(crate) struct InquiriesArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL.
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// One JSON list on stdout.
    #[arg(long)]
    json: bool,
}

fn parse_id(s: &str) -> Result<RunId, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn parse_json(s: &str) -> Result<Value, String> {
    serde_json::from_str(s).map_err(|e| {
        format!(
            "not JSON ({e}); quote it for the shell, for example --data '{{\"approved\": true}}'"
        )
    })
}

fn open(rt: &tokio::runtime::Runtime, db: &str, access: Access) -> Result<Executor, Exit> {
    let store = store::open(rt, db, access).map_err(Exit::invalid)?;
    Ok(Executor::builder().store(store).build())
}

pub(crate) fn respond(args: RespondArgs) -> Exit {
    answer(
        &args.db,
        args.id,
        &format!("task `{}`", args.task),
        |ex: Executor, id, data| async move { ex.respond(id, &args.task, data).await },
        args.data,
    )
}

pub(crate) fn signal(args: SignalArgs) -> Exit {
    answer(
        &args.db,
        args.id,
        &format!("key `{}`", args.key),
        |ex: Executor, id, data| async move { ex.signal(id, &args.key, data).await },
        args.data,
    )
}

fn answer<F, Fut>(db: &str, id: RunId, what: &str, send: F, data: Value) -> Exit
where
    F: FnOnce(Executor, RunId, Value) -> Fut,
    Fut: std::future::Future<Output = Result<(), RespondError>>,
{
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let ex = match open(&rt, db, Access::Write) {
        Ok(ex) => ex,
        Err(e) => return e,
    };
    let flushed = ex.clone();
    let result = rt.block_on(async move {
        send(ex, id, data).await?;
        flushed.flush().await?;
        Ok::<(), RespondError>(())
    });
    match result {
        Ok(()) => {
            let then = if store::is_postgres(db) {
                "the process that runs it goes on with it (or the next one to take it)".to_owned()
            } else {
                format!("it goes on when resumed: `weft resume --db {db} {id}`")
            };
            eprintln!("answered {what} of run {id}; {then}");
            Exit::Ok
        }
        Err(RespondError::Store(e)) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Invalid
        }
    }
}

fn wait_json(w: &PendingWait) -> Value {
    json!({
        "run_id": w.run.to_string(),
        "task": w.task,
        "instance": w.instance,
        "item": w.item,
        "key": w.wait.key,
        "schema": w.wait.schema,
        "details": w.wait.details,
        "since": w.since as f64 / 1000.0,
        "deadline_at": w.deadline_at.map(|d| d as f64 / 1000.0),
    })
}

pub(crate) fn inquiries(args: InquiriesArgs) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let ex = match open(&rt, &args.db, Access::Read) {
        Ok(ex) => ex,
        Err(e) => return e,
    };
    let waits = match rt.block_on(ex.inquiries()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    if args.json {
        let list: Vec<Value> = waits.iter().map(wait_json).collect();
        crate::out!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Exit::Ok;
    }
    if waits.is_empty() {
        eprintln!("nothing waits for an answer in {}", args.db);
        return Exit::Ok;
    }
    crate::out!("{:<36}  {:<20}  {:<19}  SCHEMA", "RUN", "TASK", "TIMES OUT");
    for w in &waits {
        let deadline = w
            .deadline_at
            .map(crate::durable::when)
            .unwrap_or_else(|| "never".to_owned());
        let schema = w
            .wait
            .schema
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_else(|| "any".to_owned());
        crate::out!(
            "{:<36}  {:<20}  {:<19}  {}",
            w.run.to_string(),
            w.task,
            deadline,
            schema
        );
    }
    eprintln!(
        "answer with `weft respond --db {} RUN TASK --data JSON`",
        args.db
    );
    Exit::Ok
}
