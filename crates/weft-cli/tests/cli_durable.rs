//! Durable runs from the command line: `weft run --db`, a SIGKILL in the
//! middle of a run and `weft resume`, Ctrl-C leaving a run paused, `weft
//! runs`, `show`, `rerun` and `purge`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};
use tempfile::TempDir;

fn weft() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.timeout(Duration::from_secs(60));
    cmd
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

struct Dir {
    dir: TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn db(&self) -> String {
        self.path("runs.db").display().to_string()
    }
}

/// `b` appends a line to `count` each time it runs, then sleeps.
fn workflow(dir: &Dir, sleep: f64) -> PathBuf {
    let count = dir.path("count");
    dir.write(
        "wf.yaml",
        &format!(
            "
input: [{{n: 3}}]
tasks:
  a: {{action: core.echo, input: {{message: '{{{{ parameters.n }}}}'}}, next: [{{do: b}}]}}
  b:
    action: core.local
    input: {{args: [sh, -c, 'echo b >> \"$0\"; sleep {sleep}', '{}']}}
    next: [{{when: '{{{{ succeeded() }}}}', do: c}}]
  c: {{action: core.echo, input: {{message: done}}}}
output: [{{c: '{{{{ task.c.message }}}}'}}]
",
            count.display()
        ),
    )
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn spawn_run(wf: &Path, db: &str) -> Child {
    StdCommand::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", "--json", "--db", db])
        .arg(wf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn only_run(db: &str, status: &str) -> String {
    let out = weft()
        .args(["runs", "--json", "--db", db, "--status", status])
        .output()
        .unwrap();
    let list = json_of(&out);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    list[0]["run_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_run_killed_with_sigkill_is_resumed_and_its_finished_tasks_do_not_run_again() {
    let dir = Dir::new();
    let wf = workflow(&dir, 0.6);
    let db = dir.db();
    let mut child = spawn_run(&wf, &db);
    wait_until("b started", || lines(&dir.path("count")) == 1);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let id = only_run(&db, "running");
    let shown = json_of(
        &weft()
            .args(["show", "--json", "--db", &db, &id])
            .output()
            .unwrap(),
    );
    assert_eq!(shown["status"], json!("running"));
    // No process holds the file: the run is said to be interrupted, with
    // the command that continues it.
    assert_eq!(shown["interrupted"], json!(true));
    weft()
        .args(["show", "--db", &db, &id])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains(format!("run {id} was interrupted"))
                .and(predicate::str::contains(format!(
                    "weft resume --db {db} {id}"
                )))
                .and(predicate::str::contains("INTERRUPTED")),
        );
    weft()
        .args(["runs", "--db", &db])
        .assert()
        .success()
        .stdout(predicate::str::contains("interrupted"))
        .stderr(predicate::str::contains(format!("weft resume --db {db}")));
    let listed = json_of(
        &weft()
            .args(["runs", "--json", "--db", &db])
            .output()
            .unwrap(),
    );
    assert_eq!(listed[0]["interrupted"], json!(true));
    // `--wait` does not wait for a run nothing runs.
    weft()
        .args(["show", "--wait", "--db", &db, &id])
        .timeout(Duration::from_secs(10))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("was interrupted"));
    assert_eq!(shown["tasks"][0]["name"], json!("a"));
    // Under write-behind, `a`'s end may not have been committed before the
    // kill: then it shows as running, and runs again on resume.
    assert!(
        ["succeeded", "running"].contains(&shown["tasks"][0]["status"].as_str().unwrap()),
        "{shown}"
    );

    let out = weft()
        .args(["resume", "--json", "--db", &db])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed = json_of(&out);
    assert_eq!(resumed[0]["run_id"], json!(id));
    assert_eq!(resumed[0]["status"], json!("succeeded"));
    assert_eq!(resumed[0]["output"], json!({"c": "done"}));
    // `b` was in flight at the kill: it ran again (at least once); `a` did
    // not (its echo leaves no trace, but its record does not repeat).
    assert_eq!(lines(&dir.path("count")), 2);
    let shown = json_of(
        &weft()
            .args(["show", "--json", "--db", &db, &id])
            .output()
            .unwrap(),
    );
    assert_eq!(shown["status"], json!("succeeded"));
    assert_eq!(shown["interrupted"], json!(false));
    let names: Vec<&str> = shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    // Nothing is left to resume.
    weft()
        .args(["resume", "--db", &db])
        .assert()
        .success()
        .stderr(predicate::str::contains("no interrupted runs"));
}

#[test]
#[cfg(unix)]
fn ctrl_c_leaves_a_durable_run_paused_and_resume_finishes_it() {
    let dir = Dir::new();
    let wf = workflow(&dir, 0.4);
    let db = dir.db();
    let child = spawn_run(&wf, &db);
    wait_until("b started", || lines(&dir.path("count")) == 1);
    let status = StdCommand::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("weft resume --db"), "{stderr}");
    let paused = json_of(&out);
    assert_eq!(paused["status"], json!("paused"));
    let id = only_run(&db, "paused");
    assert_eq!(paused["run_id"], json!(id));
    // `b` finished before the pause took hold; `c` has not started.
    assert_eq!(lines(&dir.path("count")), 1);

    let out = weft()
        .args(["resume", "--json", "--db", &db, &id])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = json_of(&out);
    assert_eq!(done["status"], json!("succeeded"));
    assert_eq!(done["output"], json!({"c": "done"}));
    assert_eq!(lines(&dir.path("count")), 1, "b did not run again");
}

#[test]
fn rerun_from_a_task_and_purge() {
    let dir = Dir::new();
    let wf = workflow(&dir, 0.0);
    let db = dir.db();
    let out = weft()
        .args(["run", "--json", "--db", &db])
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let first = json_of(&out);
    let id = first["run_id"].as_str().unwrap().to_owned();
    // `show` prints what `run` printed.
    let shown = json_of(
        &weft()
            .args(["show", "--json", "--db", &db, &id])
            .output()
            .unwrap(),
    );
    assert_eq!(shown["output"], first["output"]);
    // The store keeps times to the millisecond: durations read back from it
    // are rounded.
    let without_durations = |v: &Value| {
        let mut tasks = v["tasks"].clone();
        for t in tasks.as_array_mut().unwrap() {
            assert!(t["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{t}");
            t.as_object_mut().unwrap().remove("duration_ms");
        }
        tasks
    };
    assert_eq!(without_durations(&shown), without_durations(&first));

    let out = weft()
        .args(["rerun", "--json", "--db", &db, &id, "--from", "b"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = json_of(&out);
    assert_eq!(again["run_id"], json!(id));
    assert_eq!(again["tasks"].as_array().unwrap().len(), 5, "a, b, c, b, c");
    assert_eq!(lines(&dir.path("count")), 2);

    // A typo in --from is refused before anything is written: the run
    // stays as it was.
    weft()
        .args(["rerun", "--db", &db, &id, "--from", "nope"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            predicate::str::contains("no such task").and(predicate::str::contains("unchanged")),
        );
    let shown = json_of(
        &weft()
            .args(["show", "--json", "--db", &db, &id])
            .output()
            .unwrap(),
    );
    assert_eq!(shown["status"], json!("succeeded"));
    assert_eq!(shown["tasks"].as_array().unwrap().len(), 5);
    weft()
        .args(["purge", "--db", &db, "--older-than", "1h"])
        .assert()
        .success()
        .stdout(predicate::str::contains("purged 0 runs"));
    std::thread::sleep(Duration::from_millis(1100));
    weft()
        .args(["purge", "--db", &db, "--older-than", "1s"])
        .assert()
        .success()
        .stdout(predicate::str::contains("purged 1 run "));
    let out = weft()
        .args(["runs", "--json", "--db", &db])
        .output()
        .unwrap();
    assert_eq!(json_of(&out), json!([]));
}

#[test]
fn bad_databases_and_ids_are_clear_errors() {
    let dir = Dir::new();
    let junk = dir.write("junk.db", "this is not a database at all, just text\n");
    weft()
        .args(["runs", "--db"])
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("junk.db"));
    let db = dir.db();
    weft()
        .args(["run", "--db", &db])
        .arg(workflow(&dir, 0.0))
        .assert()
        .success();
    weft()
        .args(["show", "--db", &db, "not-a-uuid"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a run id"));
    // An id the store does not have is a bad run id, for every command
    // (docs/cli.md).
    for command in ["show", "resume", "rerun"] {
        weft()
            .args([command, "--db", &db, "0190f1c2-7a4b-7cc3-9d2e-5b8f6a1c3d4e"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("no run"));
    }
    // A directory is not a store.
    for args in [&["runs"][..], &["run", "-q"][..]] {
        let mut cmd = weft();
        cmd.args(args).arg("--db").arg(dir.dir.path());
        if args[0] == "run" {
            cmd.arg(workflow(&dir, 0.0));
        }
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains("is a directory"));
    }
    weft()
        .args(["purge", "--db", &db, "--older-than", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a duration"));
    // A database that is not there (or a server that is not): the message
    // names the store and says why.
    weft()
        .args(["runs", "--db", "postgres://127.0.0.1:5432/weft_no_such_db"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "postgres store 127.0.0.1:5432/weft_no_such_db",
        ));
    // A URL without a database is refused before any connection: the server
    // would otherwise pick the database named after the user.
    weft()
        .args(["runs", "--db", "postgres://postgres@127.0.0.1:5432"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("names no database").and(predicate::str::contains(
                "postgres://postgres@127.0.0.1:5432/DATABASE",
            )),
        );
    weft()
        .args(["submit", "--db", &db])
        .arg(Path::new("x.yaml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "shares runs through a Postgres database",
        ));
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
#[cfg(unix)]
fn runs_and_show_read_a_read_only_store_and_leave_nothing_that_breaks_writing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let wf = workflow(&dir, 0.0);
    let db = dir.db();
    let out = weft()
        .args(["run", "--json", "--db", &db])
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let id = json_of(&out)["run_id"].as_str().unwrap().to_owned();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();

    // A 0444 store in a writable directory: reading it makes no `-wal` or
    // `-shm` (which SQLite would make read-only, like the file), so the
    // next writer can write.
    let before = names_in(dir.dir.path());
    mode(Path::new(&db), 0o444);
    weft()
        .args(["runs", "--db", &db])
        .assert()
        .success()
        .stdout(predicate::str::contains(&id));
    weft().args(["show", "--db", &db, &id]).assert().success();
    assert_eq!(names_in(dir.dir.path()), before);
    mode(Path::new(&db), 0o644);
    weft()
        .args(["run", "--db", &db])
        .arg(&wf)
        .assert()
        .success();

    // A read-only copy in a read-only directory.
    let copy_dir = dir.path("copy");
    std::fs::create_dir(&copy_dir).unwrap();
    let copy = copy_dir.join("runs.db");
    std::fs::copy(&db, &copy).unwrap();
    mode(&copy, 0o444);
    mode(&copy_dir, 0o555);
    let copy_db = copy.display().to_string();
    let listed = json_of(
        &weft()
            .args(["runs", "--json", "--db", &copy_db])
            .output()
            .unwrap(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let shown = json_of(
        &weft()
            .args(["show", "--json", "--db", &copy_db, &id])
            .output()
            .unwrap(),
    );
    assert_eq!(shown["status"], json!("succeeded"));
    assert_eq!(names_in(&copy_dir), ["runs.db"]);
    mode(&copy_dir, 0o755);
}

#[test]
fn a_run_whose_first_record_is_refused_is_not_reported_as_kept() {
    // The store refuses the run's first record (a trigger here; a full disk
    // does the same, see weft-store-sqlite's tests): its id is not handed
    // out as a stored run, and the error says it was not kept.
    let dir = Dir::new();
    let wf = workflow(&dir, 0.0);
    let db = dir.db();
    weft()
        .args(["run", "-q", "--db", &db])
        .arg(&wf)
        .assert()
        .success();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_room BEFORE INSERT ON journal \
         BEGIN SELECT RAISE(ABORT, 'no room left for the journal'); END;",
    )
    .unwrap();
    drop(conn);

    let out = weft()
        .args(["run", "--json", "--db", &db])
        .arg(&wf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("(kept in"), "{stderr}");
    let shown = json_of(&out);
    assert_eq!(shown["run_id"], Value::Null, "{shown}");
    assert_eq!(shown["stats"]["actions_run"], json!(0));
    let message = shown["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("was not kept in {db}")),
        "{message}"
    );
    assert!(message.contains("no room left"), "{message}");
    assert!(message.contains("cannot be resumed"), "{message}");
    assert_eq!(lines(&dir.path("count")), 1, "b never ran");

    let out = weft().args(["run", "--db", &db]).arg(&wf).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("(kept in"), "{stderr}");
    assert!(stderr.contains("was not kept in"), "{stderr}");
    // Only the first run is in the store.
    let listed = json_of(
        &weft()
            .args(["runs", "--json", "--db", &db])
            .output()
            .unwrap(),
    );
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[test]
fn resuming_a_run_whose_workflows_this_process_lacks_says_why_and_nothing_else() {
    // A run that calls a sub-workflow from --workflows, killed mid-run and
    // resumed without --workflows: the error says why, and `no
    // interrupted runs` (which would contradict it) is not said.
    let dir = Dir::new();
    let subs = dir.path("subs");
    std::fs::create_dir(&subs).unwrap();
    std::fs::write(
        subs.join("slow.yaml"),
        "tasks:\n  s: {action: core.sleep, input: {seconds: 30}}\n",
    )
    .unwrap();
    let wf = dir.write("main.yaml", "tasks:\n  call: {action: slow}\n");
    let db = dir.db();
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", "--json", "--db", &db, "--workflows"])
        .arg(&subs)
        .arg(&wf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the run is kept", || {
        weft()
            .args(["runs", "--json", "--db", &db])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
            .is_some_and(|l| l.as_array().is_some_and(|l| !l.is_empty()))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let out = weft().args(["resume", "--db", &db]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot be resumed"), "{stderr}");
    assert!(stderr.contains("`slow`"), "{stderr}");
    assert!(!stderr.contains("no interrupted runs"), "{stderr}");
}

/// Whether process `pid` is gone (or a zombie nobody has reaped yet).
#[cfg(target_os = "linux")]
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_command_dies_with_the_weft_process_killed_under_it() {
    // `kill -9` of weft runs no drop: the command's parent-death signal
    // is what stops it, within a second, rather than letting it run on
    // beside the run's resumed attempt.
    let dir = Dir::new();
    let pid_file = dir.path("pid");
    let wf = dir.write(
        "wf.yaml",
        &format!(
            "tasks:\n  a:\n    action: core.local\n    input: {{args: [sh, -c, 'echo $$ > \"$0\"; exec sleep 30', '{}']}}\n",
            pid_file.display()
        ),
    );
    let db = dir.db();
    let mut child = spawn_run(&wf, &db);
    wait_until("the command started", || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    });
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(!gone(&pid), "the command runs");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let t0 = Instant::now();
    while !gone(&pid) {
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "the command {pid} outlived its weft process by a second"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
