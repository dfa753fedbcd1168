//! `weft run`: one run of a workflow file with the built-in actions.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Map, Value};
use weft_core::{Plan, TaskStatus, Workflow};
use weft_runtime::{EventStream, Executor, RunOptions, RunOutcome, RunStatus};

use crate::inputs;
use crate::progress::Progress;
use crate::report;
use crate::Exit;

#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// The workflow file (YAML, or JSON when the name ends in .json).
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
}

/// How the end of a run is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Json,
    Quiet,
    Human,
}

pub(crate) fn run(args: RunArgs) -> Exit {
    let executor = match report::executor(args.workflows.as_deref()) {
        Ok(executor) => executor,
        Err(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
            return Exit::Invalid;
        }
    };
    let plan = match Workflow::from_file(&args.file).and_then(|w| w.compile(&executor)) {
        Ok(plan) => plan,
        Err(e) => {
            for line in report::error_lines(&e, &args.file) {
                eprintln!("{line}");
            }
            return Exit::Invalid;
        }
    };
    let from_file = match &args.inputs {
        Some(path) => match inputs::read_file(path) {
            Ok(map) => map,
            Err(e) => {
                eprintln!("{e}");
                return Exit::Invalid;
            }
        },
        None => Map::new(),
    };
    let assigned = match inputs::resolve(&args.input, &plan) {
        Ok(assigned) => assigned,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Invalid;
        }
    };
    let inputs = inputs::merge(from_file, assigned);
    let mode = if args.json {
        Mode::Json
    } else if args.quiet {
        Mode::Quiet
    } else {
        Mode::Human
    };
    let live = mode == Mode::Human && std::io::stderr().is_terminal();

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
    let result = runtime.block_on(execute(&executor, &plan, &args.file, inputs, live));
    // Actions left running after an abort must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(100));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(Stop::Invalid) => return Exit::Invalid,
        Err(Stop::Lost(why)) => {
            eprintln!("error: {why}");
            if mode == Mode::Json {
                // The contract holds even when the run's outcome is lost.
                println!("{}", pretty(&lost_json(&why)));
            }
            return Exit::Failed;
        }
    };

    match mode {
        Mode::Json => println!("{}", pretty(&outcome_json(&outcome))),
        Mode::Quiet => {
            if !outcome.succeeded() {
                for e in &outcome.errors {
                    eprintln!("error: {e}");
                }
            }
            println!("{}", pretty(&output_of(&outcome)));
        }
        Mode::Human => {
            eprint!("{}", summary(&outcome));
            println!("{}", pretty(&output_of(&outcome)));
        }
    }
    if outcome.succeeded() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// Why [`execute`] has no outcome.
enum Stop {
    /// The inputs do not fit the workflow; the errors are printed.
    Invalid,
    /// The run ended without reporting (its scheduler panicked).
    Lost(String),
}

/// Starts the run and drives it to its end: progress, Ctrl-C.
async fn execute(
    executor: &Executor,
    plan: &Plan,
    file: &Path,
    inputs: Value,
    live: bool,
) -> Result<RunOutcome, Stop> {
    // Listen before the run starts, so no interrupt falls between the two.
    let mut interrupts = Interrupts::new();
    let options = if live {
        RunOptions::new().with_events()
    } else {
        RunOptions::new()
    };
    let mut run = match executor.start_with(plan, inputs, options) {
        Ok(run) => run,
        Err(e) => {
            for line in report::error_lines(&e, file) {
                eprintln!("{line}");
            }
            return Err(Stop::Invalid);
        }
    };
    let mut progress = live.then(|| Progress::stderr(plan));
    let mut events: Option<EventStream> = live.then(|| run.events());
    let mut interrupted = 0u32;
    let note = |progress: &Option<Progress>, line: &str| match progress {
        Some(p) => p.note(line),
        None => eprintln!("{line}"),
    };

    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            Some(()) = interrupts.recv() => {
                interrupted += 1;
                if interrupted == 1 {
                    run.cancel();
                    note(
                        &progress,
                        "interrupted: canceling the run; tasks in flight finish first \
                         (press Ctrl-C again to stop them now)",
                    );
                } else {
                    run.abort();
                    note(&progress, "interrupted again: aborting the tasks in flight");
                }
            }
            Some(event) = next_event(&mut events) => {
                if let Some(p) = progress.as_mut() {
                    p.on_event(&event);
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
        "stats": {"tasks_run": 0, "duration_ms": 0.0},
    })
}

/// Milliseconds, to the microsecond.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The human summary written to stderr at the end of a run.
fn summary(outcome: &RunOutcome) -> String {
    let mut s = String::new();
    let verdict = match outcome.status {
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
        if let Some(e) = &t.error {
            line.push_str(&format!("  {}", first_line(e, 100)));
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    if !outcome.errors.is_empty() {
        s.push_str("errors:\n");
        for e in &outcome.errors {
            s.push_str(&format!("  {e}\n"));
        }
    }
    s
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
