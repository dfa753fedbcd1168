//! `weft run`: one run of a workflow file with the built-in actions.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Map, Value};
use weft_core::{Plan, TaskStatus, Workflow};
use weft_runtime::{
    Durability, EventStream, Executor, Run, RunId, RunOptions, RunOutcome, RunStatus,
};

use crate::inputs;
use crate::limits::LimitArgs;
use crate::observe::ObserveArgs;
use crate::progress::Progress;
use crate::report;
use crate::store::{self, Access};
use crate::Exit;

#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// The workflow file (YAML, or JSON when the name ends in .json); with
    /// --pack, also PACK.ACTION: that action once, -i giving its parameters.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// An input of the workflow. VALUE is JSON when it is valid JSON (3,
    /// true, ["eu","us"]), else text; text that starts with [, { or " must
    /// be valid JSON. For an input whose default is a string, VALUE is
    /// text as written. Repeat for more inputs; wins over --inputs.
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
    /// A directory of workflow files that tasks can run as sub-workflows:
    /// DIR/NAME.yaml (or .yml, .json) is the action NAME.
    #[arg(long, value_name = "DIR")]
    workflows: Option<PathBuf>,
    /// Print exactly one JSON object (status, output, tasks, errors, stats)
    /// on stdout, and no progress display.
    #[arg(long)]
    json: bool,
    /// No progress display and no summary: only the output on stdout, and
    /// the errors on stderr if the run did not succeed. --json wins over it.
    #[arg(short, long)]
    quiet: bool,
    /// Run durably: keep the run in this SQLite file (made if missing) or
    /// Postgres database (postgres://USER@HOST:PORT/DB[?schema=NAME]), so
    /// that it survives a crash (`weft resume`, or a `weft worker` of the
    /// same database) and can be listed, shown and re-run. The run's id is
    /// printed on stderr when it starts.
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
    /// With --db: `write-behind` (the default: records are committed in
    /// batches behind the run) or `sync` (no task starts before what caused
    /// it is committed).
    #[arg(long, value_enum, requires = "db", default_value_t = DurabilityArg::WriteBehind)]
    durability: DurabilityArg,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    #[command(flatten)]
    pub(crate) observe: ObserveArgs,
    #[command(flatten)]
    packs: crate::packs::PackArgs,
    #[command(flatten)]
    pub(crate) secret: crate::secret_key::SecretKeyArgs,
}

/// `--durability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DurabilityArg {
    /// Records are committed in batches behind the run.
    WriteBehind,
    /// No task starts before the records that caused it are committed.
    Sync,
}

impl From<DurabilityArg> for Durability {
    fn from(arg: DurabilityArg) -> Durability {
        match arg {
            DurabilityArg::WriteBehind => Durability::WriteBehind,
            DurabilityArg::Sync => Durability::Sync,
        }
    }
}

/// The workflow in `file` compiled for `executor`, and its inputs from
/// `--inputs` and `-i`; errors are printed, and the exit code returned.
pub(crate) fn plan_and_inputs(
    file: &std::path::Path,
    inputs_file: Option<&std::path::Path>,
    input: &[(String, String)],
    executor: &Executor,
) -> Result<(Plan, serde_json::Value), Exit> {
    let plan = match Workflow::from_file(file).and_then(|w| w.compile(executor)) {
        Ok(plan) => plan,
        Err(e) => {
            for line in report::error_lines(&e, file) {
                eprintln!("{line}");
            }
            return Err(Exit::Invalid);
        }
    };
    let from_file = match inputs_file {
        Some(path) => match inputs::read_file(path) {
            Ok(map) => map,
            Err(e) => {
                eprintln!("{e}");
                return Err(Exit::Invalid);
            }
        },
        None => Map::new(),
    };
    let assigned = match inputs::resolve(input, &plan) {
        Ok(assigned) => assigned,
        Err(e) => {
            eprintln!("{e}");
            return Err(Exit::Invalid);
        }
    };
    Ok((plan, inputs::merge(from_file, assigned)))
}

/// How the end of a run is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Json,
    Quiet,
    Human,
}

pub(crate) fn run(args: RunArgs) -> Exit {
    let mut builder = match crate::packs::builder(args.workflows.as_deref(), &args.packs) {
        Ok(builder) => builder,
        Err(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
            return Exit::Invalid;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return Exit::Failed;
        }
    };
    if args.db.is_some() {
        builder = match args.secret.apply(builder) {
            Ok(b) => b,
            Err(e) => return Exit::invalid(e),
        };
    }
    if let Some(db) = &args.db {
        match store::open(&runtime, db, Access::Write) {
            Ok(s) => builder = builder.store(s).durability(args.durability.into()),
            Err(e) => {
                eprintln!("{e}");
                return Exit::Invalid;
            }
        }
    }
    let executor = builder.build();
    let by_reference = crate::packs::action_plan(
        &args.packs,
        &args.file,
        args.inputs.as_deref(),
        &args.input,
        &executor,
    );
    let found = by_reference.unwrap_or_else(|| {
        plan_and_inputs(&args.file, args.inputs.as_deref(), &args.input, &executor)
    });
    let (plan, inputs) = match found {
        Ok(found) => found,
        Err(exit) => return exit,
    };
    let mode = Mode::of(args.json, args.quiet);
    let live = mode == Mode::Human && std::io::stderr().is_terminal();

    let db = args.db.as_deref();
    let result = runtime.block_on(async {
        let started = executor
            .start_with(&plan, inputs, options(live, db.is_some()))
            .map_err(|e| match e.workflow() {
                Some(w) => {
                    for line in report::error_lines(w, &args.file) {
                        eprintln!("{line}");
                    }
                    Stop::Invalid
                }
                None => Stop::Lost(e.to_string()),
            });
        match started {
            Ok(run) => {
                // The id is handed out once the store has the run: a run
                // whose first record could not be committed fails, saying
                // it was not kept, and its id is not given as a stored one.
                let mut kept = true;
                if let Some(db) = db {
                    match run.recorded().await {
                        Ok(()) => eprintln!("run {} (kept in {db})", run.id()),
                        Err(_) => kept = false,
                    }
                }
                drive(run, live.then_some(&plan), db)
                    .await
                    .map(|outcome| (outcome, kept))
            }
            Err(stop) => Err(stop),
        }
    });
    let (result, kept) = match result {
        Ok((outcome, kept)) => (Ok(outcome), kept),
        Err(stop) => (Err(stop), true),
    };
    finish_kept(&runtime, &executor, result, mode, kept)
}

/// Options of a run started here. A run kept in a store starts nothing
/// before the store has it: a run the command does not report as kept has
/// done nothing.
fn options(live: bool, kept: bool) -> RunOptions {
    let options = if live {
        RunOptions::new().with_events()
    } else {
        RunOptions::new()
    };
    if kept {
        options.recorded_first()
    } else {
        options
    }
}

/// After a run (or several): commits what the journal still holds, shows
/// the outcome, and gives the exit code.
pub(crate) fn finish(
    runtime: &tokio::runtime::Runtime,
    executor: &Executor,
    result: Result<RunOutcome, Stop>,
    mode: Mode,
) -> Exit {
    finish_kept(runtime, executor, result, mode, true)
}

/// As [`finish`]; `kept` is false for a run of `--db` that the store never
/// had (its `--json` object then has no `run_id`).
fn finish_kept(
    runtime: &tokio::runtime::Runtime,
    executor: &Executor,
    result: Result<RunOutcome, Stop>,
    mode: Mode,
    kept: bool,
) -> Exit {
    let flushed = runtime.block_on(executor.flush());
    // On a shared database, a run left paused (or interrupted) is handed
    // back as the process ends, so that `weft resume` or a worker can take
    // it at once instead of after its lease.
    if let Some(shared) = executor.store().and_then(|s| s.shared()) {
        for id in shared.owned() {
            let _ = runtime.block_on(shared.release(id));
        }
    }
    let exit = match result {
        Ok(outcome) if !kept && mode == Mode::Json => {
            let mut shown = outcome_json(&outcome);
            shown["run_id"] = Value::Null;
            crate::out!("{}", pretty(&shown));
            Exit::Failed
        }
        Ok(outcome) => show(&outcome, mode),
        Err(Stop::Invalid) => Exit::Invalid,
        Err(Stop::Lost(why)) => {
            eprintln!("error: {why}");
            if mode == Mode::Json {
                // The contract holds even when the run's outcome is lost.
                crate::out!("{}", pretty(&lost_json(&why)));
            }
            Exit::Failed
        }
        Err(Stop::Waiting(id)) => {
            let db = db_of(executor);
            eprintln!(
                "run {id} waits for an answer: `weft inquiries --db {db}` lists what waits, \
                 `weft respond --db {db} {id} TASK --data JSON` answers, and \
                 `weft resume --db {db} {id}` continues it"
            );
            match runtime.block_on(executor.inspect(id)) {
                Ok(now) => {
                    show(&now, mode);
                }
                Err(e) => eprintln!("error: {e}"),
            }
            Exit::Failed
        }
        Err(Stop::Paused(id)) => {
            // The run stays in the store, paused: show it as it is now.
            match runtime.block_on(executor.inspect(id)) {
                Ok(now) => {
                    show(&now, mode);
                }
                Err(e) => eprintln!("error: {e}"),
            }
            Exit::Failed
        }
    };
    // Actions left running after an abort must not keep the process alive.
    if let Err(e) = flushed {
        eprintln!("error: the journal could not be written: {e}");
        return Exit::Failed;
    }
    exit
}

/// The store's name as `--db` gave it, for the commands a message suggests.
fn db_of(executor: &Executor) -> String {
    executor
        .store()
        .map(|s| s.describe())
        .unwrap_or_else(|| "DB".to_owned())
}

/// Shows an outcome (or a run as its journal has it) as `mode` says; the
/// exit code for it.
pub(crate) fn show(outcome: &RunOutcome, mode: Mode) -> Exit {
    show_as(outcome, mode, false)
}

/// As [`show`]; `interrupted` for a run its journal leaves going on though
/// no process runs it any more (the summary says so instead of its
/// status).
pub(crate) fn show_as(outcome: &RunOutcome, mode: Mode, interrupted: bool) -> Exit {
    let outcome = &crate::limits::in_cli_words(outcome);
    match mode {
        Mode::Json => crate::out!("{}", pretty(&outcome_json(outcome))),
        Mode::Quiet => {
            if !outcome.succeeded() {
                for e in &outcome.errors {
                    eprintln!("error: {e}");
                }
            }
            crate::out!("{}", pretty(&output_of(outcome)));
        }
        Mode::Human => {
            eprint!("{}", summary(outcome, interrupted));
            crate::out!("{}", pretty(&output_of(outcome)));
        }
    }
    if outcome.succeeded() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

impl Mode {
    pub(crate) fn of(json: bool, quiet: bool) -> Mode {
        if json {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else {
            Mode::Human
        }
    }
}

/// Why [`drive`] has no outcome.
pub(crate) enum Stop {
    /// The inputs do not fit the workflow; the errors are printed.
    Invalid,
    /// The run ended without reporting (its scheduler panicked).
    Lost(String),
    /// Interrupted, a durable run was paused and stays in its store.
    Paused(RunId),
    /// A run kept in a SQLite file has nothing to do but wait for answers:
    /// it stays in the file, for `weft respond` and `weft resume`.
    Waiting(RunId),
}

/// Drives a run to its end: progress (when `display` gives the plan to
/// show), Ctrl-C. A run kept in a store
/// (`db`) is paused by the first Ctrl-C, so that it can be resumed later,
/// and canceled by a second; any other is canceled, then aborted.
pub(crate) async fn drive(
    mut run: Run,
    display: Option<&Plan>,
    db: Option<&str>,
) -> Result<RunOutcome, Stop> {
    let mut interrupts = Interrupts::new();
    let mut progress = display.map(Progress::stderr);
    let mut events: Option<EventStream> = display.map(|_| run.events());
    let mut interrupted = 0u32;
    let note = |progress: &Option<Progress>, line: &str| match progress {
        Some(p) => p.note(line),
        None => eprintln!("{line}"),
    };
    let mut pausing = false;
    // A SQLite file has one writer, this process: another cannot answer a
    // run that waits while it holds the file, so it lets go of the run.
    let sqlite = db.is_some_and(|d| !crate::store::is_postgres(d));
    let result = loop {
        let every = match (pausing, sqlite) {
            (true, _) => 20,
            (false, true) => 100,
            (false, false) => 3_600_000,
        };
        let poll = tokio::time::sleep(Duration::from_millis(every));
        tokio::select! {
            result = &mut run => break result,
            Some(()) = interrupts.recv() => {
                interrupted += 1;
                match (db, interrupted) {
                    (Some(db), 1) => {
                        run.pause();
                        pausing = true;
                        note(
                            &progress,
                            &format!(
                                "interrupted: pausing run {id}: tasks in flight finish, nothing new starts; \
                                 it stays in {db}, paused: `weft resume --db {db} {id}` continues it \
                                 (press Ctrl-C again to cancel it)",
                                id = run.id()
                            ),
                        );
                    }
                    (Some(_), _) => {
                        pausing = false;
                        run.cancel();
                        note(&progress, "interrupted again: canceling the run");
                    }
                    (None, 1) => {
                        run.cancel();
                        note(
                            &progress,
                            "interrupted: canceling the run; tasks in flight finish first \
                             (press Ctrl-C again to stop them now)",
                        );
                    }
                    (None, _) => {
                        run.abort();
                        note(&progress, "interrupted again: aborting the tasks in flight");
                    }
                }
            }
            Some(event) = next_event(&mut events) => {
                if let Some(p) = progress.as_mut() {
                    p.on_event(&event);
                }
            }
            () = poll => {
                if pausing && run.status() == RunStatus::Paused {
                    if let Some(p) = progress.as_mut() {
                        p.finish_and_clear();
                    }
                    return Err(Stop::Paused(run.id()));
                }
                // Paused without a Ctrl-C: only waits are left.
                if sqlite && !pausing && run.status() == RunStatus::Paused {
                    if let Some(p) = progress.as_mut() {
                        p.finish_and_clear();
                    }
                    return Err(Stop::Waiting(run.id()));
                }
            }
        }
    };
    if let Some(p) = progress.as_mut() {
        p.finish_and_clear();
    }
    result.map_err(|lost| Stop::Lost(lost.to_string()))
}

async fn next_event(events: &mut Option<EventStream>) -> Option<weft_runtime::Event> {
    match events {
        Some(stream) => {
            let event = stream.next().await;
            if event.is_none() {
                *events = None;
            }
            event
        }
        None => std::future::pending().await,
    }
}

/// Ctrl-C, as a stream of interrupts.
struct Interrupts {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn new() -> Interrupts {
        #[cfg(unix)]
        {
            // One registration for the whole run: a second Ctrl-C that comes
            // in while the first is being handled is not lost.
            use tokio::signal::unix::{signal, SignalKind};
            Interrupts {
                signal: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Interrupts {}
        }
    }

    /// The next interrupt; never resolves when none can be received.
    async fn recv(&mut self) -> Option<()> {
        #[cfg(unix)]
        {
            match self.signal.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Some(()),
                Err(_) => std::future::pending().await,
            }
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn output_of(outcome: &RunOutcome) -> Value {
    match &outcome.output {
        Value::Null => Value::Object(Map::new()),
        v => v.clone(),
    }
}

/// The `--json` contract, built field by field so that it does not change
/// when the library's own serde shape does.
pub(crate) fn outcome_json(outcome: &RunOutcome) -> Value {
    // The library's names of limits, as the command line sets them.
    let outcome = &crate::limits::in_cli_words(outcome);
    let tasks: Vec<Value> = outcome
        .tasks
        .iter()
        .map(|t| {
            json!({
                "name": &*t.name,
                "route": t.route,
                "status": t.status.as_str(),
                "attempts": t.attempts,
                "items": t.items,
                "result": t.result.as_deref().cloned().unwrap_or(Value::Null),
                "error": t.error,
                "duration_ms": t.duration().map(millis),
            })
        })
        .collect();
    let errors: Vec<Value> = outcome
        .errors
        .iter()
        .map(|e| json!({"task": e.task, "message": e.message}))
        .collect();
    json!({
        "run_id": outcome.run_id.to_string(),
        "status": outcome.status.as_str(),
        "output": output_of(outcome),
        "tasks": tasks,
        "routes": outcome.routes,
        "errors": errors,
        "stats": {
            "tasks_run": outcome.stats.tasks_run,
            "actions_run": outcome.stats.actions_run,
            "duration_ms": millis(outcome.stats.duration),
        },
    })
}

/// The `--json` object of a run whose outcome was lost.
fn lost_json(why: &str) -> Value {
    json!({
        "run_id": null,
        "status": "failed",
        "output": {},
        "tasks": [],
        "routes": [[]],
        "errors": [{"task": null, "message": why}],
        "stats": {"tasks_run": 0, "actions_run": 0, "duration_ms": 0.0},
    })
}

/// Milliseconds, to the microsecond (as the library serializes durations).
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The human summary written to stderr at the end of a run.
fn summary(outcome: &RunOutcome, interrupted: bool) -> String {
    let mut s = String::new();
    let verdict = match outcome.status {
        _ if interrupted => "INTERRUPTED",
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::Canceled => "CANCELED",
        other => other.as_str(),
    };
    s.push_str(&format!(
        "{} {verdict} in {:.2?}: {} task instance{}, {} action{} run\n",
        outcome.workflow,
        outcome.stats.duration,
        outcome.stats.tasks_run,
        plural(outcome.stats.tasks_run),
        outcome.stats.actions_run,
        plural(outcome.stats.actions_run),
    ));
    let width = outcome
        .tasks
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0);
    for t in &outcome.tasks {
        let mut line = format!(
            "  {} {:width$}  {:<9}",
            symbol(t.status),
            t.name,
            t.status.as_str()
        );
        if let Some(n) = t.items {
            line.push_str(&format!("  {n} item{}", plural(n)));
        }
        if t.attempts > 1 {
            line.push_str(&format!("  {} attempts", t.attempts));
        }
        let mut whole_error = None;
        if let Some(e) = &t.error {
            let shown = first_line(e, ERROR_CHARS);
            let in_errors = outcome
                .errors
                .iter()
                .any(|r| r.message == *e && r.task.as_deref() == Some(&*t.name));
            if shown != *e && !in_errors {
                whole_error = Some(e);
            }
            line.push_str(&format!("  {shown}"));
        }
        s.push_str(line.trim_end());
        s.push('\n');
        // An error cut to fit the line is given whole under it, so that no
        // part of it (the cause at its end, often) is lost.
        if let Some(e) = whole_error {
            for l in e.lines() {
                s.push_str(&format!("      | {l}\n"));
            }
        }
        if t.status != TaskStatus::Succeeded {
            if let Some(tail) = t.result.as_deref().and_then(stderr_tail) {
                s.push_str(&tail);
            }
        }
    }
    if !outcome.errors.is_empty() {
        s.push_str("errors:\n");
        for e in &outcome.errors {
            s.push_str(&format!("  {e}\n"));
        }
    }
    s
}

/// Lines of stderr shown under a failed task.
const STDERR_LINES: usize = 5;

/// Characters of a task's error on its line of the summary.
const ERROR_CHARS: usize = 100;

/// The end of the stderr of a failed command (a `core.local` result, or
/// the first failed item's of a `with` task), indented, to print under its
/// task; `None` when there is no stderr.
fn stderr_tail(result: &Value) -> Option<String> {
    fn failed_command(v: &Value) -> Option<&str> {
        let stderr = v.get("stderr")?.as_str()?;
        let failed = v.get("succeeded").and_then(Value::as_bool) == Some(false);
        (failed && !stderr.trim().is_empty()).then_some(stderr)
    }
    let stderr = match result {
        Value::Array(items) => items.iter().find_map(failed_command)?,
        other => failed_command(other)?,
    };
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    let shown = &lines[lines.len().saturating_sub(STDERR_LINES)..];
    let mut out = if shown.len() < lines.len() {
        format!(
            "      stderr, last {} of {} lines:\n",
            shown.len(),
            lines.len()
        )
    } else {
        "      stderr:\n".to_owned()
    };
    for line in shown {
        out.push_str(&format!("      | {}\n", first_line(line, 200)));
    }
    Some(out)
}

fn symbol(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Succeeded => "✓",
        TaskStatus::Failed => "✗",
        TaskStatus::TimedOut => "⏱",
        TaskStatus::Canceled => "-",
        _ => "…",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}…")
    } else if text.lines().nth(1).is_some() {
        format!("{line} …")
    } else {
        line.to_owned()
    }
}
