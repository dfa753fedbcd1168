//! Child processes for action implementations, run the way `core.local`
//! runs its commands.
//!
//! An action that runs a program (a layer that runs another system's
//! scripts, say) gets the same guarantees as the built-in `core.local`:
//!
//! * the program is run from an argument vector, never through a shell
//!   unless the caller asks for one (`Command::new("sh").arg("-c")…`);
//! * it runs in a process group of its own, and **the whole group gets
//!   `SIGKILL` when the future of [`Command::output`] is dropped** before
//!   the program finished: a task's `timeout`, an aborted run, a runtime
//!   shutting down, or a `tokio::time::timeout` of the caller's own;
//! * at most [`Command::max_output_bytes`] of stdout (its head) and of
//!   stderr (its tail) are kept, the rest is read and counted, so the
//!   program never blocks on a full pipe;
//! * stdin is the bytes given to [`Command::stdin`], then closed (or
//!   nothing at all).
//!
//! # Examples
//!
//! ```
//! use weft_runtime::process::Command;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let out = Command::new("tr")
//!     .args(["a-z", "A-Z"])
//!     .stdin("hello")
//!     .output()
//!     .await?;
//! assert!(out.success);
//! assert_eq!(out.stdout, "HELLO");
//! # Ok(())
//! # }
//! ```

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::local::{capture, Keep, Running};

/// Bytes of stdout, and of stderr, that [`Command::output`] keeps unless
/// told otherwise: 1 MiB each, as `core.local`.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = crate::local::DEFAULT_MAX_OUTPUT_BYTES;

/// A program to run, its arguments, environment and stdin.
#[derive(Clone, Debug)]
#[must_use = "a Command does nothing until .output() is awaited"]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    clear_env: bool,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    max_output: usize,
}

/// How a program ended and what it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// The exit code; `None` when a signal ended the program.
    pub code: Option<i32>,
    /// The signal that ended the program, if one did (Unix).
    pub signal: Option<i32>,
    /// The program exited with code 0.
    pub success: bool,
    /// The first bytes of stdout, as text (invalid UTF-8 replaced; a
    /// character cut at the cap is left out).
    pub stdout: String,
    /// The last bytes of stderr, as text.
    pub stderr: String,
    /// Bytes of stdout were dropped at the cap.
    pub stdout_truncated: bool,
    /// Bytes of stderr were dropped at the cap.
    pub stderr_truncated: bool,
    /// Every byte the program wrote to stdout.
    pub stdout_total_bytes: u64,
    /// Every byte the program wrote to stderr.
    pub stderr_total_bytes: u64,
}

impl Command {
    /// Runs `program` (found through `PATH` unless it is a path), with no
    /// arguments, in the caller's environment and directory.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            clear_env: false,
            cwd: None,
            stdin: None,
            max_output: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }

    /// Adds one argument, passed as it is.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments, each passed as it is.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Removes an environment variable the program would inherit.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts from an empty environment instead of the caller's.
    pub fn env_clear(mut self) -> Command {
        self.clear_env = true;
        self.env.clear();
        self
    }

    /// Runs the program in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Command {
        self.cwd = Some(dir.into());
        self
    }

    /// Writes `bytes` to the program's stdin, then closes it. Without it,
    /// stdin is empty (`/dev/null`). A program that exits without reading
    /// all of it is not an error.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Command {
        self.stdin = Some(bytes.into());
        self
    }

    /// Keeps at most `bytes` of stdout and of stderr (default
    /// [`DEFAULT_MAX_OUTPUT_BYTES`]).
    pub fn max_output_bytes(mut self, bytes: usize) -> Command {
        self.max_output = bytes;
        self
    }

    /// The program and its arguments, each quoted where a reader would
    /// not see where it starts and ends. For messages only.
    pub fn display(&self) -> String {
        let mut s = String::new();
        for (i, a) in std::iter::once(&self.program).chain(&self.args).enumerate() {
            if i > 0 {
                s.push(' ');
            }
            crate::local::push_display_word(&mut s, &a.to_string_lossy());
        }
        s
    }

    /// Runs the program to its end: it has exited and closed its stdout
    /// and stderr.
    ///
    /// # Errors
    ///
    /// The program cannot be started (not found, not executable, a
    /// directory that does not exist), or its output cannot be read; the
    /// error is the operating system's.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes kills the program's whole
    /// process group (`SIGKILL`); the program is reaped in the background.
    pub async fn output(&self) -> std::io::Result<Output> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if self.clear_env {
            command.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => command.env(k, v),
                None => command.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        // A group of its own: what `Running` kills, and out of reach of a
        // Ctrl-C meant for the process that embeds weft.
        #[cfg(unix)]
        command.process_group(0);
        let child = command.spawn()?;
        let mut running = Running::new(child);
        let stdin = running.child.stdin.take();
        let feed = async {
            if let (Some(mut pipe), Some(bytes)) = (stdin, self.stdin.as_deref()) {
                // A program that does not read its stdin closes the pipe:
                // that is its business, not an error of the run.
                let _ = pipe.write_all(bytes).await;
                let _ = pipe.shutdown().await;
            }
            Ok(())
        };
        let cap = self.max_output;
        let ((), out, err) = tokio::try_join!(
            feed,
            capture(running.child.stdout.take(), cap, Keep::Head),
            capture(running.child.stderr.take(), cap, Keep::Tail),
        )?;
        // Only now: until it is reaped, the leader holds the group's id.
        let status = running.child.wait().await?;
        running.finished();
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        #[cfg(not(unix))]
        let signal = None;
        Ok(Output {
            code: status.code(),
            signal,
            success: status.success(),
            stdout: out.text(),
            stderr: err.text(),
            stdout_truncated: out.truncated(),
            stderr_truncated: err.truncated(),
            stdout_total_bytes: out.total,
            stderr_total_bytes: err.total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_quoted_where_needed() {
        let c = Command::new("/bin/echo").args(["a b", "it's", "--x=1"]);
        assert_eq!(c.display(), r"/bin/echo 'a b' 'it'\''s' --x=1");
    }
}
