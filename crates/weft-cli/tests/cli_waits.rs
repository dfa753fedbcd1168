//! Waiting tasks from the command line: `weft run --db` lets go of a run
//! that only waits, `weft inquiries` lists what waits, `weft respond`
//! answers (a wrong answer is refused), and `weft resume` finishes the run
//! — also after a `kill -9` of the process that asked, and for
//! StackStorm's `orquesta-ask-basic` example.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};

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

fn inquiries(db: &str) -> Value {
    json_of(
        &weft()
            .args(["inquiries", "--json", "--db", db])
            .output()
            .unwrap(),
    )
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(20), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../weft-core/tests/stackstorm/examples")
        .join(name)
}

/// `ask` waits beside `slow`, a command that runs for a while, so that the
/// process is still at work when it is killed.
const ASK_BESIDE: &str = r#"
version: 1.0
tasks:
  start:
    action: core.noop
    next: [{do: [ask, slow]}]
  slow:
    action: core.local
    input: {args: [sleep, "3"]}
  ask:
    action: core.ask
    input:
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true}
    next:
      - when: "{{ succeeded() }}"
        publish: [{approved: "{{ result().response.approved }}"}]
output:
  - approved: "{{ ctx().approved }}"
"#;

#[test]
fn an_inquiry_is_answered_after_the_process_that_asked_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("ask.yaml");
    std::fs::write(&wf, ASK_BESIDE).unwrap();
    let db = dir.path().join("runs.db").display().to_string();
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", "--json", "--db", &db])
        .arg(&wf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The question is recorded while `slow` still runs.
    wait_until("the question is asked", || {
        // Until the run's process has made the file, there is nothing to read.
        let out = weft()
            .args(["inquiries", "--json", "--db", &db])
            .output()
            .unwrap();
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout)
                .ok()
                .and_then(|v| v.as_array().map(Vec::len))
                == Some(1)
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let waits = inquiries(&db);
    let id = waits[0]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(waits[0]["task"], json!("ask"));
    let listed = json_of(
        &weft()
            .args(["runs", "--json", "--db", &db])
            .output()
            .unwrap(),
    );
    assert_eq!(listed[0]["status"], json!("paused"));

    // A wrong answer is refused, and the question stays.
    weft()
        .args([
            "respond",
            "--db",
            &db,
            &id,
            "ask",
            "--data",
            r#"{"approved": "yes"}"#,
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("does not match the schema")
                .and(predicate::str::contains("/approved")),
        );
    weft()
        .args(["respond", "--db", &db, &id, "ask", "--data", "{not json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not JSON"));
    weft()
        .args(["respond", "--db", &db, &id, "other", "--data", "{}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no task `other` waiting"));
    assert_eq!(inquiries(&db).as_array().unwrap().len(), 1);

    weft()
        .args([
            "respond",
            "--db",
            &db,
            &id,
            "ask",
            "--data",
            r#"{"approved": true}"#,
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "weft resume --db {db} {id}"
        )));
    assert_eq!(inquiries(&db), json!([]));
    // Resumed: `slow` runs again (it was in flight at the kill), the
    // answer is taken, and the run ends.
    let out = weft()
        .args(["resume", "--json", "--db", &db, &id])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let shown = json_of(&out);
    assert_eq!(shown["status"], json!("succeeded"), "{shown}");
    assert_eq!(shown["output"], json!({"approved": true}));
}

#[test]
fn stackstorms_ask_basic_runs_to_its_result_when_answered_with_weft_respond() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db").display().to_string();
    // The run asks, and `weft run` lets go of it (SQLite has one writer).
    let out = weft()
        .args(["run", "--json", "--db", &db])
        .arg(example("orquesta-ask-basic.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let shown = json_of(&out);
    assert_eq!(shown["status"], json!("paused"));
    let id = shown["run_id"].as_str().unwrap().to_owned();
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("weft respond --db {db} {id}")));
    let task = |name: &str| {
        shown["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == json!(name))
            .cloned()
            .unwrap()
    };
    assert_eq!(task("start")["status"], json!("succeeded"));
    assert_eq!(task("get_approval")["status"], json!("pending"));
    let waits = inquiries(&db);
    assert_eq!(waits[0]["task"], json!("get_approval"));
    assert_eq!(
        waits[0]["schema"]["properties"]["approved"]["type"],
        json!("boolean")
    );

    weft()
        .args([
            "respond",
            "--db",
            &db,
            &id,
            "get_approval",
            "--data",
            r#"{"approved": true}"#,
        ])
        .assert()
        .success();
    let done = json_of(
        &weft()
            .args(["resume", "--json", "--db", &db, &id])
            .output()
            .unwrap(),
    );
    assert_eq!(done["status"], json!("succeeded"), "{done}");
    let names: Vec<&str> = done["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["start", "get_approval", "finish"]);
    let approval = &done["tasks"][1];
    assert_eq!(approval["result"]["response"], json!({"approved": true}));
}
