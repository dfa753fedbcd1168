//! `--pack DIR`: a StackStorm pack's actions from the command line — run
//! by reference, listed, used by workflow files, and kept by durable runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};

fn weft() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// The test pack of weft-stackstorm.
fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../weft-stackstorm/tests/packs/demo")
}

fn stdout_json(output: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn run_by_reference_runs_the_action_with_its_parameters() {
    let out = weft()
        .args(["run", "-q", "--pack"])
        .arg(demo())
        .args(["demo.greet", "-i", "name=123"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A string parameter takes the text as written.
    assert_eq!(
        stdout_json(&out),
        json!({"result": {"failed": false, "succeeded": true, "return_code": 0, "stdout": "Hello, 123", "stderr": ""}})
    );
}

#[test]
fn run_by_reference_applies_defaults_and_casts_values() {
    let out = weft()
        .args(["run", "-q", "--pack"])
        .arg(demo())
        .args(["demo.defaults", "-i", "count=5"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = &stdout_json(&out)["result"]["result"];
    assert_eq!(result["count"], 5);
    assert_eq!(result["label"], "eu-west-1-5");
}

#[test]
fn run_by_reference_checks_the_parameters_first() {
    weft()
        .args(["run", "--pack"])
        .arg(demo())
        .args(["demo.greet", "-i", "nmae=ada"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`demo.greet` has no parameter `nmae`: did you mean `name`?",
        ))
        .stderr(predicate::str::contains(
            "`demo.greet` needs parameter `name`",
        ));
    weft()
        .args(["run", "--pack"])
        .arg(demo())
        .args(["demo.greet", "-i", "name=a", "-i", "cmd=ls"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("immutable"));
    // An action that cannot be used is named, without a place in the
    // workflow made to run it.
    weft()
        .args(["run", "--pack"])
        .arg(demo())
        .args(["demo.remote", "-i", "hosts=a"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "demo.remote: invalid workflow in `action`: action `demo.remote` cannot be used: its runner `remote-shell-cmd`",
        ));
    // A value of the wrong type fails the run, naming the parameter.
    weft()
        .args(["run", "-q", "--pack"])
        .arg(demo())
        .args(["demo.types", "-i", "needed=x", "-i", "i=abc"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("parameter `i`"))
        .stderr(predicate::str::contains("must be an integer"));
}

#[test]
fn a_workflow_file_uses_the_packs_actions() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        "tasks:\n  a:\n    action: demo.hello\n    input: {name: grace}\noutput:\n  - said: \"{{ task.a.output.said }}\"\n",
    )
    .unwrap();
    let out = weft()
        .args(["run", "-q", "--pack"])
        .arg(demo())
        .arg(&wf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out), json!({"said": "Hello, grace!"}));
}

#[test]
fn validate_reports_pack_actions_that_cannot_be_used() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        "tasks:\n  a:\n    action: demo.remote\n    input: {hosts: h}\n",
    )
    .unwrap();
    weft()
        .args(["validate", "--pack"])
        .arg(demo())
        .arg(&wf)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("wf.yaml:3:5"))
        .stderr(predicate::str::contains("runner `remote-shell-cmd`"));
    // Without the pack, the action is unknown.
    weft()
        .arg("validate")
        .arg(&wf)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown action `demo.remote`"));
}

#[test]
fn a_pack_that_does_not_load_is_reported_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("p");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(pack.join("pack.yaml"), "name: p\n").unwrap();
    std::fs::write(pack.join("actions/a.yaml"), "name: a\nrunner_typ: noop\n").unwrap();
    weft()
        .args(["actions", "--pack"])
        .arg(&pack)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("actions/a.yaml:2:1"))
        .stderr(predicate::str::contains("did you mean `runner_type`?"));
}

#[test]
fn actions_lists_the_packs_actions_with_their_parameters() {
    let out = weft()
        .args(["actions", "--pack"])
        .arg(demo())
        .output()
        .unwrap();
    assert!(out.status.success());
    // Columns are aligned per action: compare with single spaces.
    let text: String = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let indent = l.len() - l.trim_start().len();
            format!(
                "{}{}\n",
                " ".repeat(indent),
                l.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
        .collect();
    for line in [
        "demo.greet says hello through the shell\n  runner: local-shell-cmd",
        "    name string required\n",
        "    greeting string optional default \"{{ config_context.greeting }}\"\n",
        "    cmd string immutable default \"echo \\\"{{ greeting }}, {{ name }}\\\"\" (runner)",
        "    timeout integer optional default 60 (runner)",
        "    password string required secret\n",
        "    colour string optional one of \"red\", \"green\"\n",
        "    pos_text string optional position 0\n",
        "demo.remote weft has no remote-shell-cmd runner\n  runner: remote-shell-cmd",
        "  cannot be used: its runner `remote-shell-cmd`",
        "  cannot be used: its workflow",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
}

#[test]
fn a_durable_run_by_reference_resumes_with_the_pack() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let out = weft()
        .args(["run", "-q", "--db"])
        .arg(&db)
        .arg("--pack")
        .arg(demo())
        .args(["demo.hello", "-i", "name=ada"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let id = stderr
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no run id in {stderr}"))
        .to_owned();
    // The ended run re-runs from its first task, with the pack.
    let out = weft()
        .args(["rerun", "--json", "--db"])
        .arg(&db)
        .arg("--pack")
        .arg(demo())
        .args([&id, "--from", "hello"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout_json(&out)["output"],
        json!({"result": {"output": {"said": "Hello, ada!"}}})
    );
}

/// The `weft` command speaks StackStorm's expression functions without
/// being asked: `task()`, `to_yaml_string`, `regex_match`, `version_*` as
/// functions and filters.
#[test]
fn stackstorm_functions_are_there_without_a_pack() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("functions.yaml");
    std::fs::write(
        &file,
        r#"version: 1.0
input:
  - version: "0.10.1"
tasks:
  first:
    action: core.echo
    input:
      message: '{{ ctx("version") | version_bump_minor }}'
    next:
      - publish:
          - me: '{{ task().task_id }}'
          - status: '{{ task("first").status }}'
          - echoed: '{{ task("first").result }}'
output:
  - yaml: '{{ to_yaml_string({"b": [1, 2], "a": ctx("version")}) }}'
  - matched: '{{ regex_match(ctx("version"), "^\d+\.\d+\.\d+$") }}'
  - me: '{{ ctx("me") }}'
  - status: '{{ ctx("status") }}'
  - echoed: '{{ ctx("echoed") }}'
"#,
    )
    .unwrap();
    let out = weft().args(["run", "--json"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let v = stdout_json(&out);
    assert_eq!(
        v["output"],
        json!({
            "yaml": "a: 0.10.1\nb:\n- 1\n- 2\n",
            "matched": true,
            "me": "first",
            "status": "succeeded",
            "echoed": {"message": "0.11.0"}
        })
    );
}
