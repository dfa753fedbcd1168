//! The built-in `core.local` action: runs a command.
//!
//! Two forms, exactly one per task:
//!
//! * `args: [program, arg, ...]` runs the program directly, found through
//!   `PATH`, with each element as one argument. No shell is involved, so a
//!   templated value is passed as it is, whatever it contains. This is the
//!   form to use with values from outside.
//! * `cmd: "a shell command line"` runs `sh -c cmd`. A value templated into
//!   it is shell syntax: quote it with `| shell_quote`, or pass it in `env`
//!   and write `"$NAME"` in the command.
//!
//! Guarantees the code below keeps:
//!
//! * **The whole process group goes when the attempt goes.** The command
//!   runs in a process group of its own. If the attempt's future is dropped
//!   before the command has finished (task timeout, [`Run::abort`], the
//!   runtime shutting down), every process still in that group gets
//!   `SIGKILL`, and the command itself is reaped by tokio in the
//!   background. The group is signalled while its leader is not yet reaped,
//!   so its id cannot have been reused. Processes that left the group
//!   (`setsid`, daemons) are not reached.
//! * **The command dies with the process that started it** (Linux). It gets
//!   a parent-death signal (`SIGTERM`, set between fork and exec through
//!   `cap-std-ext`), so a weft process killed outright (`kill -9`, the OOM
//!   killer), whose drops never run, still takes its commands along, and a
//!   run resumed elsewhere does not overlap with them. The signal follows
//!   the *thread* that forked, not the process, so every command is started
//!   from one thread that lives as long as the process ([`spawn`]), never
//!   from a runtime worker that may go away. It reaches the command itself
//!   (for `cmd`, the shell, which runs a lone command in its own place), not
//!   processes the command started; a command that ignores `SIGTERM`
//!   survives. Elsewhere there is no such signal.
//! * **A command that finishes leaves its background processes alone**, as a
//!   shell does: `server > log 2>&1 &` keeps running. The command has
//!   finished once it has exited *and* its stdout and stderr are closed, so a
//!   background process that keeps them open keeps the task running (and is
//!   killed with the group if the task times out).
//! * **Output kept in memory is capped**: at most `max_output_bytes` of
//!   stdout (its first bytes) and of stderr (its last bytes), 1 MiB each by
//!   default. The rest is read and counted, so the command never blocks on a
//!   full pipe; the result says what was dropped.
//!
//! [`Run::abort`]: crate::Run::abort

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::process::Stdio;

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use weft_core::engine::json_type_name;

use crate::action::{Action, ActionError, ActionInput, ActionResult};
use crate::fields::{self, FieldInfo};

/// Bytes of stdout, and of stderr, kept in the result unless the task's
/// `max_output_bytes` says otherwise. [`INPUTS`] states the same
/// number; a test keeps the two together.
pub(crate) const DEFAULT_MAX_OUTPUT_BYTES: usize = 1 << 20;

/// The size of one read from a pipe (Linux's default pipe buffer).
const CHUNK: usize = 64 * 1024;

pub(crate) struct Local;

/// The input fields of `core.local`, as `builtin_actions()` describes them.
pub(crate) const INPUTS: &[FieldInfo] = &[
    FieldInfo {
        name: "args",
        kind: "list of strings",
        required: false,
        description: "program (found in PATH) and its arguments, run without a shell; \
                      numbers and booleans become strings; give this or `cmd`",
    },
    FieldInfo {
        name: "cmd",
        kind: "string",
        required: false,
        description: "command line run by `sh -c`; quote templated values with \
                      `| shell_quote` or pass them in `env`; give this or `args`",
    },
    FieldInfo {
        name: "cwd",
        kind: "string",
        required: false,
        description: "working directory",
    },
    FieldInfo {
        name: "env",
        kind: "map of strings",
        required: false,
        description: "extra environment variables; the safe way to hand values to `cmd` \
                      (write \"$NAME\" in it)",
    },
    FieldInfo {
        name: "max_output_bytes",
        kind: "number",
        required: false,
        description: "bytes of stdout (its first) and of stderr (its last) kept in the \
                      result, each; default 1048576; the rest is read and counted",
    },
];

impl Action for Local {
    fn input_fields(&self) -> Option<Vec<weft_core::InputField>> {
        Some(fields::declared(INPUTS))
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let spec =
            fields::check("core.local", INPUTS, &input.input).and_then(|()| Spec::parse(&input));
        async move { spec?.run().await }.boxed()
    }
}

/// What to run.
enum Program {
    /// `sh -c` this command line.
    Shell(String),
    /// This program with these arguments, no shell; never empty.
    Args(Vec<String>),
}

impl Program {
    fn command(&self) -> Command {
        match self {
            Program::Shell(cmd) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(cmd);
                c
            }
            Program::Args(args) => {
                let mut c = Command::new(&args[0]);
                c.args(&args[1..]);
                c
            }
        }
    }

    /// The command as the messages show it.
    fn display(&self) -> String {
        match self {
            Program::Shell(cmd) => cmd.clone(),
            Program::Args(args) => {
                let mut s = String::new();
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        s.push(' ');
                    }
                    push_display_word(&mut s, a);
                }
                s
            }
        }
    }
}

/// Writes `word` so that a reader sees where it starts and ends: bare when
/// it holds only characters no shell treats specially, single-quoted
/// otherwise. For messages only; nothing runs it.
pub(crate) fn push_display_word(out: &mut String, word: &str) {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b));
    if plain {
        out.push_str(word);
    } else {
        let _ = write!(out, "'{}'", word.replace('\'', r"'\''"));
    }
}

/// A checked `core.local` input.
struct Spec {
    program: Program,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    max_output: usize,
}

impl Spec {
    fn parse(input: &ActionInput) -> Result<Spec, ActionError> {
        let program = match (input.get("cmd"), input.get("args")) {
            (Some(_), Some(_)) => {
                return Err(fail(
                    "give `cmd` or `args`, not both: `args` runs a program without a shell, \
                     `cmd` runs a shell command line",
                ))
            }
            (None, None) => {
                return Err(fail(
                    "missing input `args` (a program and its arguments, run without a shell) \
                     or `cmd` (a shell command line)",
                ))
            }
            (Some(Value::String(cmd)), None) => Program::Shell(cmd.clone()),
            (Some(other), None) => {
                return Err(fail(format!(
                    "input `cmd` must be a string, not {} (to run a program with a list of \
                     arguments, use `args`)",
                    json_type_name(other)
                )))
            }
            (None, Some(args)) => Program::Args(parse_args(args)?),
        };
        let cwd = match input.get("cwd") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(fail(format!(
                    "input `cwd` must be a string, not {}",
                    json_type_name(other)
                )))
            }
        };
        let mut env = Vec::new();
        match input.get("env") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let v = scalar_string(v).ok_or_else(|| {
                        fail(format!(
                            "`env.{k}` must be a string, not {}",
                            json_type_name(v)
                        ))
                    })?;
                    env.push((k.clone(), v));
                }
            }
            Some(other) => {
                return Err(fail(format!(
                    "input `env` must be a map of strings, not {}",
                    json_type_name(other)
                )))
            }
        }
        let max_output = match input.get("max_output_bytes") {
            None | Some(Value::Null) => DEFAULT_MAX_OUTPUT_BYTES,
            Some(v) => match v.as_u64() {
                // Beyond the address space means no cap.
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                None => {
                    let got = if v.is_number() {
                        v.to_string()
                    } else {
                        weft_core::engine::json_type_name(v).to_owned()
                    };
                    return Err(fail(format!(
                        "`max_output_bytes` must be a whole number of bytes, 0 or more, not {got}"
                    )));
                }
            },
        };
        Ok(Spec {
            program,
            cwd,
            env,
            max_output,
        })
    }

    async fn run(self) -> ActionResult {
        let shown = self.program.display();
        let mut command = self.program.command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .envs(self.env);
        // A process group of its own, for two reasons: a Ctrl-C meant for
        // the program that embeds weft (which cancels the run gracefully)
        // must not kill the commands that are still allowed to finish, and
        // the group is what `Running` kills.
        #[cfg(unix)]
        command.process_group(0);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let child = spawn(command).await.map_err(|e| {
            let place = match &self.cwd {
                Some(cwd) => format!(" in `{cwd}`"),
                None => String::new(),
            };
            fail(format!("cannot run `{shown}`{place}: {e}"))
        })?;
        let mut running = Running::new(child);
        let cap = self.max_output;
        let (out, err) = tokio::try_join!(
            capture(running.child.stdout.take(), cap, Keep::Head),
            capture(running.child.stderr.take(), cap, Keep::Tail),
        )
        .map_err(|e| fail(format!("cannot read the output of `{shown}`: {e}")))?;
        // Only now: until it is reaped, the leader holds the group's id.
        let status = running
            .child
            .wait()
            .await
            .map_err(|e| fail(format!("cannot wait for `{shown}`: {e}")))?;
        running.finished();
        let code = status.code();
        let result = json!({
            "stdout": out.text(),
            "stderr": err.text(),
            "return_code": code,
            "succeeded": status.success(),
            "stdout_truncated": out.truncated(),
            "stderr_truncated": err.truncated(),
            "stdout_total_bytes": out.total,
            "stderr_total_bytes": err.total,
        });
        if status.success() {
            Ok(result)
        } else {
            let why = match code {
                Some(c) => format!("exited with code {c}"),
                None => "was killed by a signal".to_owned(),
            };
            Err(ActionError::with_result(
                format!("core.local: `{shown}` {why}"),
                result,
            ))
        }
    }
}

/// Starts `command`; on Linux from the one thread that starts every
/// command, with a parent-death signal (see the module docs).
#[cfg(target_os = "linux")]
async fn spawn(mut command: Command) -> std::io::Result<Child> {
    use cap_std_ext::cmdext::CapStdExtCommandExt;
    use std::sync::{mpsc, OnceLock};

    type Job = Box<dyn FnOnce() + Send>;
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    let stopped = || std::io::Error::other("the thread that starts commands is not running");
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("weft-local-spawn".to_owned())
            // It never ends: the commands' parent-death signal is tied to it.
            .spawn(move || rx.into_iter().for_each(|job| job()))
            .ok()
            .map(|_| tx)
    });
    let spawner = spawner.as_ref().ok_or_else(stopped)?;
    command.as_std_mut().lifecycle_bind_to_parent_thread();
    // The child's pipes and its reaping belong to the caller's runtime.
    let runtime = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _entered = runtime.enter();
        let _ = tx.send(command.spawn());
    });
    spawner.send(job).map_err(|_| stopped())?;
    rx.await.map_err(|_| stopped())?
}

/// Starts `command`.
#[cfg(not(target_os = "linux"))]
async fn spawn(mut command: Command) -> std::io::Result<Child> {
    command.spawn()
}

fn fail(message: impl std::fmt::Display) -> ActionError {
    ActionError::new(format!("core.local: {message}"))
}

/// A string, or a number or boolean as JSON writes it.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

fn parse_args(args: &Value) -> Result<Vec<String>, ActionError> {
    let Value::Array(items) = args else {
        return Err(fail(format!(
            "input `args` must be a list of strings (the program, then its arguments), not {}",
            json_type_name(args)
        )));
    };
    if items.is_empty() {
        return Err(fail(
            "input `args` is empty: give the program to run, then its arguments",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            scalar_string(v).ok_or_else(|| {
                fail(format!(
                    "`args[{i}]` must be a string, not {} (numbers and booleans are \
                     turned into strings; pass a list as several elements, or a map \
                     with `| tojson`)",
                    json_type_name(v)
                ))
            })
        })
        .collect()
}

/// A spawned command that kills its whole process group when dropped
/// before [`Running::finished`].
///
/// `Drop::drop` runs before the fields are dropped, so the group is
/// signalled while the leader is not yet reaped (its id cannot have been
/// reused); then `child` drops, and tokio kills the leader
/// (`kill_on_drop`) and reaps it in the background.
pub(crate) struct Running {
    pub(crate) child: Child,
    #[cfg(unix)]
    group: Option<rustix::process::Pid>,
}

impl Running {
    pub(crate) fn new(child: Child) -> Running {
        Running {
            // The leader's pid is the group's id (`process_group(0)`).
            #[cfg(unix)]
            group: child
                .id()
                .and_then(|p| i32::try_from(p).ok())
                .and_then(rustix::process::Pid::from_raw),
            child,
        }
    }

    /// The command has exited and been reaped: leave its group alone.
    pub(crate) fn finished(&mut self) {
        #[cfg(unix)]
        {
            self.group = None;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(group) = self.group.take() {
            // ESRCH (the group is already gone) is the expected failure.
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
}

/// Which end of an oversized stream to keep.
#[derive(Clone, Copy)]
pub(crate) enum Keep {
    Head,
    Tail,
}

/// What was kept of one output stream.
pub(crate) struct Captured {
    kept: Vec<u8>,
    /// Every byte the command wrote to the stream.
    pub(crate) total: u64,
    keep: Keep,
}

impl Captured {
    pub(crate) fn truncated(&self) -> bool {
        self.total > self.kept.len() as u64
    }

    /// The kept bytes as text. A cut can fall inside a UTF-8 character; the
    /// partial character at the cut is left out rather than shown as U+FFFD.
    pub(crate) fn text(&self) -> String {
        let bytes = if self.truncated() {
            match self.keep {
                Keep::Head => without_partial_end(&self.kept),
                Keep::Tail => without_partial_start(&self.kept),
            }
        } else {
            &self.kept
        };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Reads `stream` to its end, keeping at most `cap` bytes of it.
pub(crate) async fn capture<R: AsyncRead + Unpin>(
    stream: Option<R>,
    cap: usize,
    keep: Keep,
) -> std::io::Result<Captured> {
    let mut total = 0u64;
    let Some(mut stream) = stream else {
        return Ok(Captured {
            kept: Vec::new(),
            total,
            keep,
        });
    };
    let mut chunk = vec![0u8; CHUNK];
    let kept = match keep {
        Keep::Head => {
            let mut kept = Vec::new();
            loop {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            kept
        }
        Keep::Tail => {
            let mut kept = VecDeque::new();
            loop {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                let new = &chunk[n.saturating_sub(cap)..n];
                let over = (kept.len() + new.len()).saturating_sub(cap);
                kept.drain(..over);
                kept.extend(new);
            }
            Vec::from(kept)
        }
    };
    Ok(Captured { kept, total, keep })
}

/// `bytes` without a UTF-8 character cut off at its end.
fn without_partial_end(bytes: &[u8]) -> &[u8] {
    let n = bytes.len();
    for back in 1..=n.min(4) {
        let b = bytes[n - back];
        if b & 0xC0 != 0x80 {
            let len = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            return if len > back {
                &bytes[..n - back]
            } else {
                bytes
            };
        }
    }
    bytes
}

/// `bytes` without the continuation bytes of a character cut off at its
/// start.
fn without_partial_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|b| *b & 0xC0 == 0x80)
        .count();
    &bytes[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_character_is_left_out() {
        let s = "aé€😀".as_bytes();
        // every cut of the head and of the tail
        for i in 0..=s.len() {
            let head = String::from_utf8(without_partial_end(&s[..i]).to_vec()).unwrap();
            assert!("aé€😀".starts_with(&head) && i - head.len() < 4, "{i}");
            let tail = String::from_utf8(without_partial_start(&s[i..]).to_vec()).unwrap();
            assert!(
                "aé€😀".ends_with(&tail) && s.len() - i - tail.len() < 4,
                "{i}"
            );
        }
    }

    #[test]
    fn arguments_are_shown_quoted_where_needed() {
        let p = Program::Args(vec![
            "curl".into(),
            "-fsS".into(),
            "a b".into(),
            "it's".into(),
            String::new(),
        ]);
        assert_eq!(p.display(), r"curl -fsS 'a b' 'it'\''s' ''");
    }

    #[test]
    fn the_description_states_the_default_cap() {
        let cap = INPUTS
            .iter()
            .find(|f| f.name == "max_output_bytes")
            .unwrap();
        assert!(
            cap.description
                .contains(&DEFAULT_MAX_OUTPUT_BYTES.to_string()),
            "{}",
            cap.description
        );
    }
}
