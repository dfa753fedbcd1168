//! The commands on runs kept in a store: `runs`, `show`, `resume`,
//! `rerun` and `purge`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use weft_runtime::store::{Command, Notice, RunFilter, RunSummary, StoreError};
use weft_runtime::{Executor, ResumeError, RunId, RunOutcome, RunStatus};

use crate::limits::LimitArgs;
use crate::observe::ObserveArgs;
use crate::run::{drive, finish, outcome_json, show, show_as, Mode};
use crate::store::{self, Access};
use crate::Exit;

/// `weft runs`.
#[derive(clap::Args, Debug)]
pub(crate) struct RunsArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// Only runs with this status (repeat for more): queued (submitted, not
    /// yet claimed by a worker), running, pausing, paused, canceling,
    /// succeeded, failed, canceled.
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    status: Vec<RunStatus>,
    /// Only runs of this workflow.
    #[arg(long, value_name = "NAME")]
    workflow: Option<String>,
    /// At most this many, newest first.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// One JSON list on stdout.
    #[arg(long)]
    json: bool,
}

/// `weft show`.
#[derive(clap::Args, Debug)]
pub(crate) struct ShowArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// The run.
    #[arg(value_name = "RUN_ID", value_parser = parse_id)]
    id: RunId,
    /// Wait until the run has ended (another process runs it).
    #[arg(long)]
    wait: bool,
    /// Print exactly one JSON object, as `weft run --json` does.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    #[command(flatten)]
    pub(crate) secret: crate::secret_key::SecretKeyArgs,
}

/// `weft resume`.
#[derive(clap::Args, Debug)]
pub(crate) struct ResumeArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// The run to resume (interrupted or paused); without it, every run
    /// that was interrupted (paused ones stay paused), up to --max-runs.
    #[arg(value_name = "RUN_ID", value_parser = parse_id)]
    id: Option<RunId>,
    /// Without RUN_ID: resume at most this many runs, oldest first (paused
    /// ones do not count); the others are left for a worker or a later
    /// `weft resume`. Runs submitted and not yet claimed (queued) are left
    /// to workers.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_runs: u64,
    /// A directory of workflow files that tasks run as sub-workflows, as
    /// for `weft run`.
    #[arg(long, value_name = "DIR")]
    workflows: Option<PathBuf>,
    #[command(flatten)]
    packs: crate::packs::PackArgs,
    /// Print JSON: the run's object as `weft run --json` does, or a list of
    /// them without RUN_ID.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    #[command(flatten)]
    pub(crate) observe: ObserveArgs,
    #[command(flatten)]
    pub(crate) secret: crate::secret_key::SecretKeyArgs,
}

/// `weft rerun`.
#[derive(clap::Args, Debug)]
pub(crate) struct RerunArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// The run, which must have ended.
    #[arg(value_name = "RUN_ID", value_parser = parse_id)]
    id: RunId,
    /// Re-run from this task (repeat for more); without it, from the tasks
    /// that failed the run or were canceled.
    #[arg(long = "from", value_name = "TASK")]
    from: Vec<String>,
    /// A directory of workflow files that tasks run as sub-workflows.
    #[arg(long, value_name = "DIR")]
    workflows: Option<PathBuf>,
    #[command(flatten)]
    packs: crate::packs::PackArgs,
    /// Print exactly one JSON object, as `weft run --json` does.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    #[command(flatten)]
    pub(crate) observe: ObserveArgs,
    #[command(flatten)]
    pub(crate) secret: crate::secret_key::SecretKeyArgs,
}

/// `weft purge`.
#[derive(clap::Args, Debug)]
pub(crate) struct PurgeArgs {
    /// The store of the runs: a SQLite file, or a Postgres URL
    /// (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    #[arg(long, value_name = "PATH|URL")]
    db: String,
    /// Delete the runs that ended longer ago than this: 30d, 12h, 45m, 90s.
    #[arg(long, value_name = "DURATION", value_parser = store::parse_duration)]
    older_than: Duration,
}

fn parse_id(s: &str) -> Result<RunId, String> {
    s.parse().map_err(|e| format!("{e}"))
}

fn parse_status(s: &str) -> Result<RunStatus, String> {
    s.parse()
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the tokio runtime: {e}");
            Exit::Failed
        })
}

/// An executor on the store `db`, with the built-in actions, the packs'
/// and the workflows of `workflows`.
fn executor(
    rt: &tokio::runtime::Runtime,
    db: &str,
    access: Access,
    workflows: Option<&std::path::Path>,
    packs: &crate::packs::PackArgs,
    secret: &crate::secret_key::SecretKeyArgs,
) -> Result<Executor, Exit> {
    let builder = crate::packs::builder_with_secret(workflows, packs, secret)?;
    let store = store::open(rt, db, access).map_err(Exit::invalid)?;
    Ok(builder.store(store).build())
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// A time as people read it, in UTC: `2026-11-29 16:04:05`.
pub(crate) fn when(ms: u64) -> String {
    let t = UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH);
    // From `2026-11-29T16:04:05.000000Z`.
    let text = weft_runtime::Rfc3339(t).to_string();
    let seconds = text.split('.').next().unwrap_or(&text);
    seconds.replacen('T', " ", 1)
}

fn summary_json(r: &RunSummary, writer: Option<bool>) -> Value {
    json!({
        "run_id": r.id.to_string(),
        "workflow": r.workflow,
        "status": r.status.as_str(),
        "interrupted": interrupted(r.status, writer),
        "parent": r.parent.map(|p| p.to_string()),
        "started_at": seconds(r.started_at),
        "updated_at": seconds(r.updated_at),
        "ended_at": r.ended_at.map(seconds),
        "owner": r.owner,
    })
}

/// Whether a run in `status` was interrupted: its journal leaves it going
/// on, and no process writes its SQLite file (`writer`, asked before the
/// run was read). `None` where that cannot be told (Postgres, where a
/// worker takes such a run over once its lease lapses).
fn interrupted(status: RunStatus, writer: Option<bool>) -> Option<bool> {
    let going_on = matches!(
        status,
        RunStatus::Running | RunStatus::Pausing | RunStatus::Canceling
    );
    writer.map(|w| going_on && !w)
}

/// The exit code for a run that could not be resumed, re-run or shown:
/// 1 when the store failed, 2 when the request does not fit the run (an
/// unknown id, a run in another state, a workflow that does not compile
/// here, a task it does not have).
fn exit_for(e: &ResumeError) -> Exit {
    match e {
        ResumeError::Store(StoreError::Unavailable { .. }) | ResumeError::NoRuntime => Exit::Failed,
        _ => Exit::Invalid,
    }
}

pub(crate) fn runs(args: RunsArgs) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let store = match store::open(&rt, &args.db, Access::Read) {
        Ok(s) => s,
        Err(e) => return Exit::invalid(e),
    };
    let mut filter = RunFilter::all().statuses(args.status.iter().copied());
    filter.workflow = args.workflow.clone();
    filter.limit = args.limit;
    let writer = store::WriterProbe::new(&args.db).has_writer();
    let listed = match rt.block_on(store.list(&filter)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    if args.json {
        let list: Vec<Value> = listed.iter().map(|r| summary_json(r, writer)).collect();
        crate::out!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Exit::Ok;
    }
    if listed.is_empty() {
        eprintln!("no runs in {}", args.db);
        return Exit::Ok;
    }
    // A shared store says which process holds each run.
    let shared = store.shared().is_some();
    let owner_of = |r: &RunSummary| {
        if shared {
            format!("  {}", r.owner.as_deref().unwrap_or("-"))
        } else {
            String::new()
        }
    };
    crate::out!(
        "{:<36}  {:<11}  {:<20}  {:<19}  {:<19}{}",
        "RUN",
        "STATUS",
        "WORKFLOW",
        "STARTED",
        "ENDED",
        if shared { "  OWNER" } else { "" }
    );
    let mut any_interrupted = false;
    for r in &listed {
        let status = if interrupted(r.status, writer) == Some(true) {
            any_interrupted = true;
            "interrupted"
        } else {
            r.status.as_str()
        };
        let line = format!(
            "{:<36}  {:<11}  {:<20}  {:<19}  {:<19}{}",
            r.id.to_string(),
            status,
            r.workflow,
            when(r.started_at),
            r.ended_at.map(when).unwrap_or_else(|| "-".to_owned()),
            owner_of(r)
        );
        crate::out!("{}", line.trim_end());
    }
    if any_interrupted {
        eprintln!(
            "interrupted: no process runs them any more (the one that ran them stopped \
             without ending them): `weft resume --db {db}` continues them all, \
             `weft resume --db {db} RUN` one",
            db = args.db
        );
    }
    Exit::Ok
}

pub(crate) fn show_run(args: ShowArgs) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let ex = match executor(
        &rt,
        &args.db,
        Access::Read,
        None,
        &Default::default(),
        &args.secret,
    ) {
        Ok(ex) => ex,
        Err(e) => return e,
    };
    let mode = Mode::of(args.json, false);
    let probe = store::WriterProbe::new(&args.db);
    let mut writer = probe.has_writer();
    let seen = rt.block_on(watch(&ex, args.id, args.wait, &mut writer, &probe));
    match seen {
        Ok((outcome, owner)) => {
            let stopped = interrupted(outcome.status, writer);
            if mode == Mode::Json {
                let mut shown = outcome_json(&outcome);
                shown["interrupted"] = json!(stopped);
                shown["owner"] = json!(owner);
                crate::out!(
                    "{}",
                    serde_json::to_string_pretty(&shown).unwrap_or_default()
                );
                return if outcome.succeeded() {
                    Exit::Ok
                } else {
                    Exit::Failed
                };
            }
            if stopped == Some(true) {
                eprintln!(
                    "run {id} was interrupted: its journal leaves it {status}, and no process \
                     runs it any more (the one that ran it stopped without ending it); \
                     `weft resume --db {db} {id}` continues it",
                    id = outcome.run_id,
                    status = outcome.status,
                    db = args.db
                );
            } else if outcome.status == RunStatus::Queued {
                eprintln!(
                    "run {} is queued: submitted, and no worker has claimed it yet",
                    outcome.run_id
                );
            } else if !outcome.status.is_terminal() {
                match &owner {
                    Some(owner) => eprintln!(
                        "run {} is {}, owned by {owner}",
                        outcome.run_id, outcome.status
                    ),
                    None => eprintln!("run {} is {}", outcome.run_id, outcome.status),
                }
            }
            show_as(&outcome, mode, stopped == Some(true))
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit_for(&e)
        }
    }
}

/// The run as its journal has it, and the process that holds it (on a
/// shared store); with `wait`, once it has ended (or, on a SQLite file,
/// once no process runs it: an interrupted run does not end by itself).
/// `writer` is asked again before each look. A submitted run that no
/// worker has claimed is `queued`, as the store lists it (its journal
/// alone would say `running`).
async fn watch(
    ex: &Executor,
    id: RunId,
    wait: bool,
    writer: &mut Option<bool>,
    probe: &store::WriterProbe,
) -> Result<(RunOutcome, Option<String>), ResumeError> {
    // A shared store says when a run ends; a SQLite file is looked at
    // five times a second.
    let shared = ex.store().filter(|s| s.shared().is_some());
    let mut notices = ex.store().and_then(|s| s.shared()).map(|s| s.notices());
    loop {
        let mut seen = ex.inspect(id).await?;
        let mut owner = None;
        if let Some(store) = shared {
            if let Some(summary) = store.get(id).await? {
                if summary.status == RunStatus::Queued && !seen.status.is_terminal() {
                    seen.status = RunStatus::Queued;
                }
                owner = summary.owner;
            }
        }
        if !wait || seen.status.is_terminal() || interrupted(seen.status, *writer) == Some(true) {
            return Ok((seen, owner));
        }
        match notices.as_mut() {
            Some(rx) => wait_for_end(rx, id).await,
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
        *writer = probe.has_writer();
    }
}

/// Waits for a notice that `id` ended, or that notices were missed (or
/// five seconds, should the store go quiet).
async fn wait_for_end(rx: &mut tokio::sync::broadcast::Receiver<Notice>, id: RunId) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(Notice::Ended(r))) if r == id => return,
            Ok(Ok(
                Notice::Ended(_)
                | Notice::Claimable
                | Notice::Command(_)
                | Notice::Lost
                | Notice::RunLost(_),
            )) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
            Ok(Ok(_)) | Ok(Err(_)) | Err(_) => return,
        }
    }
}

pub(crate) fn resume(args: ResumeArgs) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let ex = match executor(
        &rt,
        &args.db,
        Access::Write,
        args.workflows.as_deref(),
        &args.packs,
        &args.secret,
    ) {
        Ok(ex) => ex,
        Err(e) => return e,
    };
    let mode = Mode::of(args.json, false);
    let db = args.db.as_str();
    if let Some(id) = args.id {
        let result = match rt.block_on(ex.resume_run(id)) {
            Ok(run) => {
                eprintln!("resumed run {id} (kept in {db})");
                rt.block_on(drive(run, None, Some(db)))
            }
            Err(ResumeError::Store(StoreError::Fenced(_))) => {
                // A worker of the shared database holds it: resume it there.
                return resume_elsewhere(&rt, &ex, id, mode, db);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit_for(&e);
            }
        };
        return finish(&rt, &ex, result, mode);
    }
    // Every interrupted run, up to --max-runs.
    let max_runs = usize::try_from(args.max_runs).unwrap_or(usize::MAX);
    let recovered = match rt.block_on(ex.recover_at_most(max_runs)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    for (id, e) in &recovered.failed {
        eprintln!("error: run {id}: {e}");
    }
    let mut outcomes = Vec::new();
    let mut exit = if recovered.failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    };
    if !recovered.left.is_empty() {
        eprintln!(
            "{n} more interrupted run{s} left as they are (--max-runs {max_runs}): \
             `weft resume --db {db}` again{worker} takes them",
            n = recovered.left.len(),
            s = if recovered.left.len() == 1 { "" } else { "s" },
            worker = if ex.store().is_some_and(|s| s.shared().is_some()) {
                ", or a `weft worker`,"
            } else {
                ""
            },
        );
    }
    let runs = recovered.runs;
    if runs.is_empty() && recovered.failed.is_empty() && mode != Mode::Json {
        eprintln!("no interrupted runs in {db}");
    }
    let waited = rt.block_on(async {
        let mut out = Vec::new();
        for run in runs {
            let id = run.id();
            if run.status() == RunStatus::Paused {
                eprintln!("run {id} is paused: `weft resume --db {db} {id}` resumes it");
                continue;
            }
            eprintln!("resumed run {id}");
            out.push(drive(run, None, Some(db)).await);
        }
        out
    });
    for r in waited {
        match r {
            Ok(outcome) => {
                if !outcome.succeeded() {
                    exit = Exit::Failed;
                }
                outcomes.push(outcome);
            }
            Err(crate::run::Stop::Waiting(id)) => {
                eprintln!(
                    "run {id} waits for an answer: `weft respond --db {db} {id} TASK --data JSON`, \
                     then `weft resume --db {db} {id}`"
                );
                exit = Exit::Failed;
            }
            Err(_) => exit = Exit::Failed,
        }
    }
    if let Err(e) = rt.block_on(ex.flush()) {
        eprintln!("error: the journal could not be written: {e}");
        exit = Exit::Failed;
    }
    match mode {
        Mode::Json => {
            let list: Vec<Value> = outcomes.iter().map(outcome_json).collect();
            crate::out!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        _ => {
            for o in &outcomes {
                eprintln!("run {} {}", o.run_id, o.status);
            }
        }
    }
    exit
}

/// Sends a resume to a run that another process holds, and waits for it
/// to end. Should the holder be gone (a worker killed, no other worker
/// running), the run is resumed here once its lease lapses, rather than
/// waited for forever.
fn resume_elsewhere(
    rt: &tokio::runtime::Runtime,
    ex: &Executor,
    id: RunId,
    mode: Mode,
    db: &str,
) -> Exit {
    if let Err(e) = rt.block_on(ex.command(id, Command::Resume)) {
        eprintln!("error: {e}");
        return Exit::Failed;
    }
    eprintln!(
        "run {id} is held by another process: sent it `resume`; waiting for it to end \
         (a `weft worker` of this database runs it, or this command once the holder's \
         lease lapses)"
    );
    let mut notices = ex.store().and_then(|s| s.shared()).map(|s| s.notices());
    loop {
        let seen = match rt.block_on(ex.inspect(id)) {
            Ok(seen) => seen,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failed;
            }
        };
        if seen.status.is_terminal() {
            return show(&seen, mode);
        }
        match rt.block_on(ex.resume_run(id)) {
            Ok(run) => {
                eprintln!("the lease of run {id} lapsed: resumed it here (kept in {db})");
                let result = rt.block_on(drive(run, None, Some(db)));
                return finish(rt, ex, result, mode);
            }
            // Still held, or it ended meanwhile (shown next time round).
            Err(ResumeError::Store(StoreError::Fenced(_)) | ResumeError::Ended(..)) => {}
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failed;
            }
        }
        match notices.as_mut() {
            Some(rx) => rt.block_on(wait_for_end(rx, id)),
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

pub(crate) fn rerun(args: RerunArgs) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let ex = match executor(
        &rt,
        &args.db,
        Access::Write,
        args.workflows.as_deref(),
        &args.packs,
        &args.secret,
    ) {
        Ok(ex) => ex,
        Err(e) => return e,
    };
    let mode = Mode::of(args.json, false);
    let db = args.db.as_str();
    let tasks: Vec<&str> = args.from.iter().map(String::as_str).collect();
    let run = match rt.block_on(ex.rerun(args.id, &tasks)) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_for(&e);
        }
    };
    eprintln!("re-running run {} (kept in {db})", args.id);
    let result = rt.block_on(drive(run, None, Some(db)));
    finish(&rt, &ex, result, mode)
}

pub(crate) fn purge(args: PurgeArgs) -> Exit {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return e,
    };
    let store = match store::open(&rt, &args.db, Access::Write) {
        Ok(s) => s,
        Err(e) => return Exit::invalid(e),
    };
    let before = SystemTime::now()
        .checked_sub(args.older_than)
        .unwrap_or(UNIX_EPOCH);
    match rt.block_on(store.purge(before)) {
        Ok(n) => {
            crate::out!(
                "purged {n} run{} that ended before {}",
                if n == 1 { "" } else { "s" },
                when(
                    before
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64)
                )
            );
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn when_prints_a_utc_time_to_the_second() {
        assert_eq!(super::when(1_772_357_412_345), "2026-03-01 09:30:12");
        assert_eq!(super::when(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(super::when(0), "1970-01-01 00:00:00");
    }
}
