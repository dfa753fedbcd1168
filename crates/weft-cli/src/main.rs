//! `weft`: run, check and draw weft workflow files from the command line.
//!
//! ```sh
//! weft run deploy.yaml -i regions='["eu", "us"]'
//! weft validate workflows/*.yaml
//! weft graph deploy.yaml --format dot | dot -Tsvg > deploy.svg
//! weft worker --db postgres://postgres@127.0.0.1/test &
//! weft show --wait --json --db postgres://postgres@127.0.0.1/test \
//!     "$(weft submit deploy.yaml --db postgres://postgres@127.0.0.1/test)"
//! weft actions
//! weft serve --db runs.db --workflows workflows/
//! ```
//!
//! Exit codes: 0 the command succeeded (for `run`: the workflow succeeded);
//! 1 the workflow failed, was canceled or is left paused, or a store failed
//! during the command; 2 the request is invalid and nothing ran or changed
//! (the workflow file, the inputs, the command line, a `--db` that cannot
//! be opened, an unknown run id, a run the command does not apply to). See
//! `docs/cli.md`.
#![forbid(unsafe_code)]

mod actions;
mod durable;
mod graph;
mod inputs;
mod kv;
mod limits;
mod observe;
mod packs;
mod progress;
mod report;
mod run;
mod secret_key;
mod serve;
mod shared;
mod store;
mod waits;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// `println!` for the command's results: a reader that went away (`weft
/// runs | head`) ends the output quietly instead of with a panic.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, $($arg)*).is_err() {
            // The reader is gone: nothing more can be said.
            std::process::exit(0);
        }
    }};
}

/// How a command ended, as the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: success.
    Ok,
    /// 1: the workflow ran and failed, was canceled or is left paused (or
    /// the run was lost), or a store failed during the command.
    Failed,
    /// 2: the request is invalid, and nothing ran or changed: the file, the
    /// inputs, the command line, the store, the run id, or the run's state.
    Invalid,
}

impl Exit {
    /// An invalid request: `message` (which says what is wrong) printed on
    /// stderr.
    pub(crate) fn invalid(message: impl std::fmt::Display) -> Exit {
        eprintln!("{message}");
        Exit::Invalid
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        match e {
            Exit::Ok => ExitCode::SUCCESS,
            Exit::Failed => ExitCode::from(1),
            Exit::Invalid => ExitCode::from(2),
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "weft",
    version,
    about = "Run, check and draw weft workflows (Orquesta dialect, Jinja expressions)",
    after_help = "Exit codes: 0 success; 1 the workflow failed, was canceled or is \
                  left paused, or a store failed; 2 invalid request, nothing ran or \
                  changed: workflow file, inputs, command line, --db, run id \
                  (docs/cli.md)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a workflow with the built-in core.* actions.
    Run(run::RunArgs),
    /// Load and compile workflow files; report every mistake with its location.
    Validate {
        /// Workflow files (YAML, or JSON when the name ends in .json).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// A directory of workflow files that tasks can run as
        /// sub-workflows: DIR/NAME.yaml (or .yml, .json) is the action NAME.
        #[arg(long, value_name = "DIR")]
        workflows: Option<PathBuf>,
        #[command(flatten)]
        limits: limits::LimitArgs,
        #[command(flatten)]
        packs: packs::PackArgs,
    },
    /// Print a workflow's task graph as Mermaid or Graphviz DOT text.
    Graph {
        /// The workflow file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        #[command(flatten)]
        limits: limits::LimitArgs,
    },
    /// List the built-in actions, their input fields and result shape; with
    /// --pack, the packs' actions and their parameters.
    Actions {
        #[command(flatten)]
        packs: packs::PackArgs,
    },
    /// List the runs kept in a store (`weft run --db`).
    Runs(durable::RunsArgs),
    /// Show one run kept in a store: status, tasks, output, errors.
    Show(durable::ShowArgs),
    /// Resume an interrupted or paused run, or every interrupted run, and
    /// wait for them.
    Resume(durable::ResumeArgs),
    /// Run an ended run again from its failed tasks, or from named ones.
    Rerun(durable::RerunArgs),
    /// Delete the runs that ended before a time.
    Purge(durable::PurgeArgs),
    /// Set, read, list and delete keys of the datastore workflows read with
    /// st2kv.
    Kv(kv::KvArgs),
    /// Answer a task that waits (`core.ask`): the answer is checked
    /// against its schema, and the run goes on.
    Respond(waits::RespondArgs),
    /// Send a signal to a `core.wait_event` task by its key.
    Signal(waits::SignalArgs),
    /// List the tasks that wait for an answer.
    Inquiries(waits::InquiriesArgs),
    /// Store a run in a Postgres database for a `weft worker` to run;
    /// print its id.
    Submit(shared::SubmitArgs),
    /// Claim runs from a Postgres database and run them until SIGTERM or
    /// Ctrl-C, then hand them back.
    Worker(shared::WorkerArgs),
    /// Serve the HTTP API and the web dashboard over a store (loopback
    /// only, unless given a token).
    Serve(serve::ServeArgs),
}

/// The text format of `weft graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    /// A Mermaid flowchart (renders on GitHub and in many editors).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

fn main() -> ExitCode {
    // Clap's own errors (unknown subcommand, bad flag, bad `-i`) exit 2;
    // `--help` and `--version` exit 0.
    let cli = Cli::parse();
    // Before anything compiles: the expression limits are the process's.
    match &cli.command {
        Command::Run(a) => a.limits.install(),
        Command::Validate { limits, .. } | Command::Graph { limits, .. } => limits.install(),
        Command::Show(a) => a.limits.install(),
        Command::Resume(a) => a.limits.install(),
        Command::Rerun(a) => a.limits.install(),
        Command::Submit(a) => a.limits.install(),
        Command::Worker(a) => a.limits.install(),
        Command::Actions { .. }
        | Command::Runs(_)
        | Command::Purge(_)
        | Command::Serve(_)
        | Command::Kv(_)
        | Command::Respond(_)
        | Command::Signal(_)
        | Command::Inquiries(_) => {}
    }
    // StackStorm's expression functions (`to_json_string`, `regex_match`,
    // `task()`, ...), also before anything compiles: the `weft` command
    // speaks StackStorm's dialect. Registering fails only if expressions
    // were compiled already, which nothing above does.
    if let Err(e) = weft_stackstorm::install_functions() {
        eprintln!("weft: {e}");
        return Exit::Invalid.into();
    }
    // Logs and metrics, before any run starts.
    let observe = match &cli.command {
        Command::Run(a) => Some(&a.observe),
        Command::Resume(a) => Some(&a.observe),
        Command::Rerun(a) => Some(&a.observe),
        Command::Worker(a) => Some(&a.observe),
        _ => None,
    };
    if let Some(Err(e)) = observe.map(observe::ObserveArgs::install) {
        eprintln!("{e}");
        return Exit::Invalid.into();
    }
    let exit = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate {
            files,
            workflows,
            packs,
            ..
        } => validate(&files, workflows.as_deref(), &packs),
        Command::Graph { file, format, .. } => graph::graph(&file, format),
        Command::Actions { packs } if !packs.packs.is_empty() => packs::actions(&packs),
        Command::Actions { .. } => actions::actions(),
        Command::Runs(args) => durable::runs(args),
        Command::Show(args) => durable::show_run(args),
        Command::Resume(args) => durable::resume(args),
        Command::Rerun(args) => durable::rerun(args),
        Command::Purge(args) => durable::purge(args),
        Command::Kv(args) => kv::kv(args),
        Command::Respond(args) => waits::respond(args),
        Command::Signal(args) => waits::signal(args),
        Command::Inquiries(args) => waits::inquiries(args),
        Command::Submit(args) => shared::submit(args),
        Command::Worker(args) => shared::worker(args),
        Command::Serve(args) => serve::serve(args),
    };
    exit.into()
}

fn validate(
    files: &[PathBuf],
    workflows: Option<&std::path::Path>,
    packs: &packs::PackArgs,
) -> Exit {
    let executor = match packs::builder(workflows, packs) {
        Ok(builder) => builder.build(),
        Err(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
            return Exit::Invalid;
        }
    };
    let mut exit = Exit::Ok;
    for file in files {
        match weft_core::Workflow::from_file(file).and_then(|w| w.compile(&executor)) {
            Ok(_) => out!("{}: ok", file.display()),
            Err(e) => {
                for line in report::error_lines(&e, file) {
                    eprintln!("{line}");
                }
                exit = Exit::Invalid;
            }
        }
    }
    exit
}
