//! The `weft` binary from the outside: the JSON contract of `run --json`,
//! exit codes, error locations, `validate`, `graph`, `actions`, every
//! workflow in `examples/workflows/`, and the command lines of `docs/cli.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(120);

fn weft() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.timeout(TIMEOUT);
    cmd
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A workflow file written into a fresh temporary directory.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }
}

fn stdout_json(output: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON value ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    k.sort_unstable();
    k
}

/// Checks every field and type of the `--json` contract; returns the status.
fn check_contract(v: &Value) -> String {
    assert_eq!(
        keys(v),
        ["errors", "output", "routes", "run_id", "stats", "status", "tasks"],
        "top-level keys of {v}"
    );
    assert!(
        v["run_id"].as_str().is_some_and(|id| id.len() == 36),
        "run_id is a UUID: {v}"
    );
    let routes = v["routes"].as_array().expect("routes is a list");
    assert_eq!(routes.first(), Some(&json!([])), "route 0 is []: {v}");
    let status = v["status"].as_str().expect("status is a string");
    assert!(
        ["succeeded", "failed", "canceled"].contains(&status),
        "status {status}"
    );
    assert!(v["output"].is_object(), "output is a map: {v}");
    for t in v["tasks"].as_array().expect("tasks is a list") {
        assert_eq!(
            keys(t),
            [
                "attempts",
                "duration_ms",
                "error",
                "items",
                "name",
                "result",
                "route",
                "status"
            ],
            "task keys of {t}"
        );
        assert!(
            t["route"]
                .as_u64()
                .is_some_and(|r| (r as usize) < routes.len()),
            "{t}"
        );
        assert!(t["name"].is_string(), "{t}");
        let ts = t["status"].as_str().expect("task status is a string");
        assert!(
            [
                "pending",
                "running",
                "succeeded",
                "failed",
                "timed_out",
                "canceled"
            ]
            .contains(&ts),
            "task status {ts}"
        );
        assert!(t["attempts"].is_u64(), "{t}");
        assert!(t["items"].is_null() || t["items"].is_u64(), "{t}");
        assert!(t["error"].is_null() || t["error"].is_string(), "{t}");
        assert!(
            t["duration_ms"].is_null() || t["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
            "{t}"
        );
    }
    for e in v["errors"].as_array().expect("errors is a list") {
        assert_eq!(keys(e), ["message", "task"], "error keys of {e}");
        assert!(e["task"].is_null() || e["task"].is_string(), "{e}");
        assert!(e["message"].is_string(), "{e}");
    }
    let stats = &v["stats"];
    assert_eq!(
        keys(stats),
        ["actions_run", "duration_ms", "tasks_run"],
        "stats keys"
    );
    assert!(stats["tasks_run"].is_u64(), "{stats}");
    assert!(stats["actions_run"].is_u64(), "{stats}");
    assert!(
        stats["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{stats}"
    );
    status.to_owned()
}

fn task<'v>(v: &'v Value, name: &str) -> &'v Value {
    v["tasks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no task `{name}` in {v}"))
}

// ---- examples/workflows ---------------------------------------------------

#[test]
fn every_example_workflow_runs_with_the_json_contract() {
    let dir = repo_root().join("examples/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "examples/workflows/ holds no *.yaml file to run"
    );
    for file in files {
        let mut cmd = weft();
        cmd.arg("run").arg(&file).arg("--json");
        let inputs = file.with_extension("inputs.json");
        if inputs.exists() {
            cmd.arg("--inputs").arg(&inputs);
        }
        let output = cmd.output().expect("run weft");
        let code = output.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{}: exit {code:?}, expected 0 or 1 (does it need a NAME.inputs.json, or use actions \
             other than core.*?)\nstderr:\n{}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let status = check_contract(&stdout_json(&output));
        assert_eq!(
            code == Some(0),
            status == "succeeded",
            "{}: exit {code:?} with status {status}",
            file.display()
        );
    }
}

#[test]
fn a_hostile_input_reaches_the_commands_of_the_example_as_data() {
    let s = Scratch::new();
    let marker = s.dir.path().join("pwned");
    let name = format!(
        "x'; touch {m}; echo '$(touch {m})`touch {m}`\ntouch {m}",
        m = marker.display()
    );
    let output = weft()
        .arg("run")
        .arg("--json")
        .arg(repo_root().join("examples/workflows/untrusted_input.yaml"))
        .arg("-i")
        .arg(format!("name={name}"))
        .output()
        .expect("run weft");
    let v = stdout_json(&output);
    assert_eq!(output.status.code(), Some(0), "{v}");
    assert_eq!(v["output"]["as_argument"], name.as_str());
    assert_eq!(
        v["output"]["upper_case"],
        name.to_ascii_uppercase().as_str()
    );
    assert_eq!(v["output"]["bytes"], name.len());
    assert!(!marker.exists(), "the input ran as a command");
}

// ---- run --json -----------------------------------------------------------

const CONTRACT: &str = r#"
version: 1.0
input:
  - names
tasks:
  fan:
    with: {items: "{{ parameters.names }}", concurrency: 2}
    action: core.echo
    input: {message: "hi {{ item }}"}
    next:
      - when: "{{ succeeded() }}"
        publish: [{count: "{{ result() | length }}"}]
        do: flaky
  flaky:
    action: core.fail
    input: {message: "still broken"}
    retry: {count: 2, delay: 0}
    next:
      - when: "{{ failed() }}"
        do: noop
output:
  - count: "{{ workflow.count }}"
  - first: "{{ task.fan[0].message }}"
"#;

#[test]
fn run_json_reports_status_output_tasks_errors_and_stats() {
    let s = Scratch::new();
    let file = s.file("contract.yaml", CONTRACT);
    let output = weft()
        .args(["run", "--json", "-i", r#"names=["a", "b", "c"]"#])
        .arg(&file)
        .output()
        .expect("run weft");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let v = stdout_json(&output);
    assert_eq!(check_contract(&v), "succeeded");
    assert_eq!(
        v["output"],
        serde_json::json!({"count": 3, "first": "hi a"})
    );

    let fan = task(&v, "fan");
    assert_eq!(fan["status"], "succeeded");
    assert_eq!(fan["items"], 3);
    assert_eq!(fan["attempts"], 1);
    assert_eq!(
        fan["result"],
        serde_json::json!([{"message": "hi a"}, {"message": "hi b"}, {"message": "hi c"}])
    );
    assert!(fan["error"].is_null());

    let flaky = task(&v, "flaky");
    assert_eq!(flaky["status"], "failed");
    assert_eq!(flaky["attempts"], 3);
    assert!(flaky["items"].is_null());
    assert!(flaky["error"]
        .as_str()
        .is_some_and(|e| e.contains("still broken")));

    assert_eq!(v["stats"]["tasks_run"], 2);
}

#[test]
fn run_json_of_a_failed_run_exits_1_and_names_the_task() {
    let s = Scratch::new();
    let file = s.file(
        "fails.yaml",
        "tasks:\n  ok: {action: core.noop, next: [{do: boom}]}\n  boom: {action: core.fail, input: {message: kaput}}\n",
    );
    let output = weft()
        .args(["run", "--json"])
        .arg(&file)
        .output()
        .expect("run weft");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let v = stdout_json(&output);
    assert_eq!(check_contract(&v), "failed");
    assert_eq!(task(&v, "boom")["status"], "failed");
    let errors = v["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["task"] == "boom"
                && e["message"].as_str().is_some_and(|m| m.contains("kaput"))),
        "{v}"
    );
}

#[test]
fn a_secret_input_never_reaches_the_terminal() {
    let s = Scratch::new();
    let file = s.file(
        "login.yaml",
        "input: [{name: password, secret: true}]\ntasks:\n  login:\n    action: core.local\n    input: {cmd: \"echo signing in with {{ ctx().password | shell_quote }} >&2; exit 3\"}\noutput:\n  - used: \"{{ ctx().password }}\"\n",
    );
    for json in [true, false] {
        let mut cmd = weft();
        cmd.arg("run");
        if json {
            cmd.arg("--json");
        }
        let output = cmd
            .args(["-i", "password=s3cret-pass"])
            .arg(&file)
            .output()
            .expect("run weft");
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // The command is in the error, with the password masked.
        assert!(all.contains("signing in with '********'"), "{all}");
        assert!(!all.contains("s3cret"), "the secret leaked: {all}");
    }
}

#[test]
fn inputs_file_is_read_and_dash_i_wins_over_it() {
    let s = Scratch::new();
    let file = s.file(
        "echo.yaml",
        "input: [a, b, {c: 3}]\ntasks:\n  t: {action: core.noop}\noutput:\n  - a: \"{{ parameters.a }}\"\n  - b: \"{{ parameters.b }}\"\n  - c: \"{{ parameters.c }}\"\n",
    );
    let inputs = s.file("in.json", r#"{"a": [1, 2], "b": "from file"}"#);
    let output = weft()
        .args(["run", "--json", "--inputs"])
        .arg(&inputs)
        .args(["-i", "b=plain text", "-i", "c=true"])
        .arg(&file)
        .output()
        .expect("run weft");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let v = stdout_json(&output);
    assert_eq!(
        v["output"],
        serde_json::json!({"a": [1, 2], "b": "plain text", "c": true})
    );
}

#[test]
fn run_without_json_prints_the_output_on_stdout_and_a_summary_on_stderr() {
    weft()
        .arg("run")
        .arg(data("hello.yaml"))
        .arg("--inputs")
        .arg(data("hello.inputs.json"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"hello, Ada!\""))
        .stderr(predicate::str::contains("succeeded").and(predicate::str::contains("greet")));

    weft()
        .args(["run", "--quiet", "-i", r#"names=["Lin"]"#])
        .arg(data("hello.yaml"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"hello, Lin!\""))
        .stderr(predicate::str::is_empty());
}

// ---- exit codes -----------------------------------------------------------

#[test]
fn exit_2_for_a_missing_file() {
    weft()
        .args(["run", "--json", "no/such/workflow.yaml"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("no/such/workflow.yaml"));
}

#[test]
fn exit_2_for_bad_yaml_with_file_line_and_column() {
    let s = Scratch::new();
    let file = s.file(
        "broken.yaml",
        "tasks:\n  a:\n    action: core.noop\n  b: {action: core.noop\n",
    );
    weft()
        .args(["run", "--json"])
        .arg(&file)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("{}:4:", file.display())));
}

#[test]
fn exit_2_for_a_missing_input_naming_it() {
    weft()
        .args(["run", "--json"])
        .arg(data("hello.yaml"))
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("names").and(predicate::str::contains("missing")));
}

#[test]
fn exit_2_for_an_undeclared_input() {
    weft()
        .args(["run", "-i", r#"names=["x"]"#, "-i", "colour=red"])
        .arg(data("hello.yaml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("colour"));
}

#[test]
fn exit_2_for_bad_dash_i_syntax() {
    weft()
        .args(["run", "-i", "names"])
        .arg(data("hello.yaml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("NAME=VALUE"));
    weft()
        .args(["run", "-i", "=3"])
        .arg(data("hello.yaml"))
        .assert()
        .code(2);
}

#[test]
fn exit_2_for_a_bad_inputs_file() {
    let s = Scratch::new();
    let not_json = s.file("bad.json", "{names: [}");
    let not_map = s.file("list.json", "[1, 2]");
    for (file, says) in [(&not_json, "not valid JSON"), (&not_map, "map")] {
        weft()
            .arg("run")
            .arg(data("hello.yaml"))
            .arg("--inputs")
            .arg(file)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn inputs_files_follow_the_rules_of_workflow_files() {
    let s = Scratch::new();
    let duplicate = s.file("dup.json", "{\"names\": [\"a\"],\n \"names\": [\"b\"]}");
    let f = duplicate.display().to_string();
    weft()
        .arg("run")
        .arg(data("hello.yaml"))
        .arg("--inputs")
        .arg(&duplicate)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(format!("{f}:2:2: invalid inputs in `names`")).and(
                predicate::str::contains("duplicate key `names` (first at line 1)"),
            ),
        );
    let big = s.file("big.json", &format!("{{\"names\": [{}]}}", "9".repeat(400)));
    weft()
        .arg("run")
        .arg(data("hello.yaml"))
        .arg("--inputs")
        .arg(&big)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is out of range"));
}

#[cfg(unix)]
#[test]
fn endless_files_are_read_only_up_to_the_limit() {
    weft()
        .arg("run")
        .arg(data("hello.yaml"))
        .args(["--inputs", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "/dev/zero: the inputs file is larger than 16777216 bytes",
        ));
    weft()
        .args(["validate", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "/dev/zero: limit exceeded: the file is larger than 16777216 bytes",
        ));
}

#[test]
fn dash_i_text_that_looks_like_json_must_be_json() {
    for (arg, says) in [
        (
            "names=[\"a\"",
            "`-i names=[\"a\"`: the value is read as JSON and is not valid",
        ),
        ("names={\"a\": 1, \"a\": 2}", "duplicate key `a`"),
        ("names=\"unclosed", "`-i names=\"unclosed`"),
        ("names=1e999", "out of range"),
    ] {
        weft()
            .arg("run")
            .arg(data("hello.yaml"))
            .args(["-i", arg])
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn dash_i_for_an_input_with_a_string_default_is_text_as_written() {
    // `greeting` defaults to "hello": `1.10` stays the text "1.10".
    let output = weft()
        .args([
            "run",
            "--json",
            "-i",
            "names=[\"Ada\"]",
            "-i",
            "greeting=1.10",
        ])
        .arg(data("hello.yaml"))
        .output()
        .expect("run weft");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let v = stdout_json(&output);
    assert_eq!(v["output"]["greetings"], serde_json::json!(["1.10, Ada!"]));
}

#[cfg(unix)]
#[test]
fn the_summary_shows_the_end_of_a_failed_commands_stderr() {
    let s = Scratch::new();
    let wf = s.file(
        "build.yaml",
        "tasks:\n  build:\n    action: core.local\n    input:\n      cmd: \"for i in 1 2 3 4 5 6 7; do echo line $i >&2; done; exit 3\"\n  \
         ok:\n    action: core.local\n    input: {args: [true]}\n",
    );
    let output = weft().arg("run").arg(&wf).output().expect("run weft");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.contains("✗ build"))
        .take(7)
        .collect();
    assert!(summary[0].contains("exited with code 3"), "{stderr}");
    assert_eq!(
        summary[1..],
        [
            "      stderr, last 5 of 7 lines:",
            "      | line 3",
            "      | line 4",
            "      | line 5",
            "      | line 6",
            "      | line 7",
        ],
        "{stderr}"
    );
    // A command that succeeded shows none.
    assert!(!stderr.contains("✓ ok\n      stderr"), "{stderr}");
}

#[test]
fn an_error_cut_to_fit_the_summary_is_shown_whole_under_its_task() {
    // A connection error names its cause at the end, past what fits on
    // the task's line; the failure is handled, so it is in no `errors:`.
    let s = Scratch::new();
    let wf = s.file(
        "http.yaml",
        "tasks:\n  get:\n    action: core.http\n    input: {url: 'http://127.0.0.1:1/x'}\n    \
         next: [{when: '{{ failed() }}', do: noop}]\n",
    );
    let db = s.dir.path().join("runs.db").display().to_string();
    let output = weft()
        .args(["run", "--db", &db])
        .arg(&wf)
        .output()
        .expect("run weft");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let whole = |text: &str| {
        text.lines().any(|l| {
            l.starts_with("      | core.http: GET http://127.0.0.1:1/x: cannot connect")
                && l.contains("Connection refused")
        })
    };
    assert!(whole(&stderr), "{stderr}");
    // `weft show` shows the same, and --json holds the message whole.
    let listed = stdout_json(
        &weft()
            .args(["runs", "--json", "--db", &db])
            .output()
            .unwrap(),
    );
    let id = listed[0]["run_id"].as_str().unwrap().to_owned();
    let shown = weft().args(["show", "--db", &db, &id]).output().unwrap();
    assert!(whole(&String::from_utf8_lossy(&shown.stderr)), "{shown:?}");
    let shown = stdout_json(
        &weft()
            .args(["show", "--json", "--db", &db, &id])
            .output()
            .unwrap(),
    );
    assert!(
        task(&shown, "get")["error"]
            .as_str()
            .is_some_and(|e| e.contains("Connection refused")),
        "{shown}"
    );
}

#[test]
fn ordinary_work_runs_at_the_default_limits_and_limit_sets_each() {
    let s = Scratch::new();
    // A list of 20,000 items made by an expression, for with-items.
    let items = s.file(
        "items.yaml",
        "tasks:\n  many:\n    with: {items: '{{ range(20000) | list }}'}\n    action: core.noop\n\
         output: [{n: '{{ task.many | length }}'}]\n",
    );
    let out = weft().args(["run", "--json"]).arg(&items).output().unwrap();
    let v = stdout_json(&out);
    assert_eq!(v["status"], json!("succeeded"), "{v}");
    assert_eq!(v["output"]["n"], json!(20000));

    // Each limit is set from the command line, and the message names the
    // flag (with the value in force), not the library's setting.
    let out = weft()
        .args(["run", "--json", "--limit", "fuel=1000"])
        .arg(&items)
        .output()
        .unwrap();
    let v = stdout_json(&out);
    assert_eq!(v["status"], json!("failed"), "{v}");
    let message = v["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("ran out of fuel"), "{message}");
    assert!(message.contains("`--limit fuel=N` (now 1000)"), "{message}");
    assert!(!message.contains("ExpressionLimits"), "{message}");
    let out = weft()
        .args(["run", "-q", "--limit", "max_items=100"])
        .arg(&items)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`--limit max_items=N` (now 100)"),
        "{stderr}"
    );
    assert!(!stderr.contains("Limits::"), "{stderr}");

    // An expression limit checked when compiling: validate takes it too.
    weft()
        .args(["validate", "--limit", "max_depth=2"])
        .arg(&items)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("more than the limit of 2"));
    weft()
        .args(["validate", "--limit", "max_depth=200"])
        .arg(&items)
        .assert()
        .success();

    // Mistakes are exit 2 and say what to write.
    for (limit, says) in [
        ("fuel", "NAME=VALUE"),
        ("fuell=3", "is not a limit"),
        ("max_value_bytes=1MiB", "run.max_value_bytes"),
        ("max_items=many", "whole number"),
        ("fuel=0", "more than 0"),
    ] {
        weft()
            .args(["run", "--limit", limit])
            .arg(&items)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    // Every command that compiles or runs takes it.
    for command in [
        "run", "validate", "graph", "show", "resume", "rerun", "submit", "worker",
    ] {
        weft()
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("--limit <NAME=VALUE>"));
    }
}

/// `GET /metrics` from `addr`, or `None` while nothing answers there.
fn scrape(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

#[test]
fn metrics_addr_serves_weft_metrics_while_the_run_goes_on() {
    let s = Scratch::new();
    let wf = s.file(
        "slow.yaml",
        "tasks:\n  wait: {action: core.sleep, input: {seconds: 3}, next: [{do: done}]}\n  \
         done: {action: core.echo, input: {message: done}}\n",
    );
    // A port free a moment ago.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", "--json", "--metrics-addr", &addr])
        .arg(&wf)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run weft");
    let t0 = std::time::Instant::now();
    let body = loop {
        match scrape(&addr) {
            Some(body) if body.contains("weft_runs_active") => break body,
            _ if t0.elapsed() > Duration::from_secs(20) => {
                let _ = child.kill();
                panic!("no metrics at {addr}");
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    // Mid-run: one run active, its action in flight, and the names
    // docs/observability.md lists.
    for name in [
        "weft_runs_started_total{workflow=\"slow\"} 1",
        "weft_runs_active{workflow=\"slow\"} 1",
        "weft_actions_in_flight{workflow=\"slow\"} 1",
        "weft_dispatch_latency_seconds_bucket",
    ] {
        assert!(body.contains(name), "no `{name}` in:\n{body}");
    }
    let out = child.wait_with_output().expect("weft ends");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["status"], json!("succeeded"));

    // An address that cannot be listened on is a clear error, exit 2.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let taken_addr = taken.local_addr().unwrap().to_string();
    weft()
        .args(["run", "--metrics-addr", &taken_addr])
        .arg(&wf)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "cannot serve metrics at {taken_addr}"
        )));
}

#[test]
fn log_format_json_writes_json_lines_filtered_by_rust_log() {
    let s = Scratch::new();
    let wf = s.file(
        "two.yaml",
        "tasks:\n  a: {action: core.echo, input: {message: hi}, next: [{do: b}]}\n  \
         b: {action: core.echo, input: {message: there}}\n",
    );
    let out = weft()
        .env("RUST_LOG", "info")
        .args(["run", "--json", "--log-format", "json"])
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["status"], json!("succeeded"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // A line per task attempt and one for the run, as each ends.
    let spans: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["span"]["name"].as_str())
        .collect();
    assert_eq!(spans, ["task", "task", "run"], "{stderr}");
    let run = &lines[2]["span"];
    assert_eq!(run["status"], json!("succeeded"), "{stderr}");
    assert_eq!(run["workflow"], json!("two"), "{stderr}");
    // Without RUST_LOG only warnings and errors are logged: none here.
    let out = weft()
        .env_remove("RUST_LOG")
        .args(["run", "--json", "--log-format", "json"])
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    weft()
        .env("RUST_LOG", "[")
        .args(["run", "--json"])
        .arg(&wf)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("RUST_LOG"));
}

#[test]
fn graph_never_gives_two_nodes_one_label() {
    let s = Scratch::new();
    let wf = s.file(
        "start.yaml",
        "tasks:\n  start:\n    action: core.noop\n    next: [{do: weft_start}, {when: '{{ failed() }}', do: fail}]\n  \
         weft_start: {action: core.noop}\n",
    );
    let mermaid = weft().args(["graph"]).arg(&wf).output().unwrap();
    assert_eq!(mermaid.status.code(), Some(0), "{mermaid:?}");
    let text = String::from_utf8_lossy(&mermaid.stdout).into_owned();
    // Node lines are `id<shape>"label"<shape>`; edges and classes are not.
    let labels: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.contains("-->") && !l.trim_start().starts_with("class"))
        .filter_map(|l| Some(&l[l.find('"')? + 1..l.rfind('"')?]))
        .collect();
    assert_eq!(
        labels,
        ["workflow start", "start", "weft_start", "fail"],
        "{text}"
    );
    let dot = weft()
        .args(["graph", "--format", "dot"])
        .arg(&wf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dot.stdout).into_owned();
    let mut labels: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("->"))
        .filter_map(|l| {
            let at = l.find("label=\"")? + 7;
            Some(&l[at..at + l[at..].find('"')?])
        })
        .collect();
    labels.sort_unstable();
    assert_eq!(
        labels,
        ["fail", "start", "weft_start", "workflow start"],
        "{text}"
    );
}

#[test]
fn thousands_of_errors_print_the_first_hundred_and_a_count() {
    let s = Scratch::new();
    let mut text = String::from("tasks:\n");
    for i in 0..1_000 {
        text.push_str(&format!(
            "  t{i}: {{action: core.noop, next: [{{do: [nowhere{i}]}}]}}\n"
        ));
    }
    let file = s.file("many.yaml", &text);
    let output = weft()
        .arg("validate")
        .arg(&file)
        .output()
        .expect("run weft");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 101, "{stderr}");
    assert!(lines[99].contains("nowhere99"), "{stderr}");
    assert_eq!(
        lines[100],
        format!(
            "{}: 900 more errors not shown: fix the ones above first",
            file.display()
        )
    );
}

#[test]
fn exit_2_for_command_line_mistakes() {
    weft().arg("frobnicate").assert().code(2);
    weft().assert().code(2);
    weft().args(["run"]).assert().code(2);
    weft()
        .args(["run", "--no-such-flag"])
        .arg(data("hello.yaml"))
        .assert()
        .code(2);
    weft()
        .args(["graph", "--format", "png"])
        .arg(data("pipeline.yaml"))
        .assert()
        .code(2);
    weft().args(["validate"]).assert().code(2);
}

#[test]
fn help_and_version_exit_0() {
    weft()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("run").and(predicate::str::contains("validate")));
    weft().arg("--version").assert().code(0);
    weft()
        .args(["run", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("NAME=VALUE"));
}

// ---- error text -------------------------------------------------------------

#[test]
fn every_compile_error_is_printed_with_file_line_column_and_task() {
    let s = Scratch::new();
    let file = s.file(
        "wrong.yaml",
        "tasks:\n  a:\n    action: core.noop\n    next:\n      - do: [bogus]\n  b:\n    action: core.ech\n    input:\n      message: \"{{ foo( }}\"\n",
    );
    let output = weft().arg("run").arg(&file).output().expect("run weft");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let f = file.display().to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].starts_with(&format!("{f}:5:")), "{stderr}");
    assert!(
        lines[0].contains("task `a`") && lines[0].contains("bogus"),
        "{stderr}"
    );
    assert!(lines[1].starts_with(&format!("{f}:7:")), "{stderr}");
    assert!(
        lines[1].contains("task `b`") && lines[1].contains("core.echo"),
        "{stderr}"
    );
    assert!(lines[2].starts_with(&format!("{f}:9:")), "{stderr}");
    assert!(
        lines[2].contains("task `b`") && lines[2].contains("input.message"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_key_names_its_task_field_and_place() {
    let s = Scratch::new();
    let file = s.file(
        "typo.yaml",
        "tasks:\n  first:\n    action: core.noop\n    nxt: [{do: first}]\n",
    );
    weft().arg("validate").arg(&file).assert().code(2).stderr(
        predicate::str::contains(format!("{}:4:5", file.display()))
            .and(predicate::str::contains("task `first`"))
            .and(predicate::str::contains("nxt")),
    );
}

#[test]
fn an_impossible_join_names_the_task() {
    let s = Scratch::new();
    let file = s.file(
        "join.yaml",
        "tasks:\n  a: {action: core.noop, next: [{do: c}]}\n  c:\n    join: 3\n    action: core.noop\n",
    );
    weft().arg("validate").arg(&file).assert().code(2).stderr(
        predicate::str::contains(format!("{}:4:", file.display()))
            .and(predicate::str::contains("`c`")),
    );
}

// ---- Ctrl-C -------------------------------------------------------------------

#[cfg(unix)]
mod interrupt {
    use super::*;
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Child, Stdio};
    use std::time::Instant;

    fn spawn(file: &Path) -> Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["run", "--json"])
            .arg(file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weft")
    }

    fn wait_for(path: &Path) {
        let until = Instant::now() + Duration::from_secs(30);
        while !path.exists() {
            assert!(Instant::now() < until, "{} never appeared", path.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn interrupt(child: &Child) {
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    fn workflow(s: &Scratch, marker: &Path, seconds: u32) -> PathBuf {
        s.file(
            "slow.yaml",
            &format!(
                "tasks:\n  first:\n    action: core.local\n    input: {{cmd: 'touch {} && exec sleep {seconds}'}}\n    next: [{{do: second}}]\n  second: {{action: core.noop}}\n",
                marker.display()
            ),
        )
    }

    #[test]
    fn ctrl_c_cancels_and_lets_the_task_in_flight_finish() {
        let s = Scratch::new();
        let marker = s.dir.path().join("started");
        let file = workflow(&s, &marker, 1);
        let child = spawn(&file);
        wait_for(&marker);
        interrupt(&child);
        let output = child.wait_with_output().expect("wait for weft");
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("cancel"));
        let v = stdout_json(&output);
        assert_eq!(check_contract(&v), "canceled");
        assert_eq!(task(&v, "first")["status"], "succeeded");
        assert!(
            v["tasks"]
                .as_array()
                .is_some_and(|ts| ts.iter().all(|t| t["name"] != "second")),
            "{v}"
        );
    }

    #[test]
    fn a_second_ctrl_c_aborts_the_task_in_flight() {
        let s = Scratch::new();
        let marker = s.dir.path().join("started");
        let file = workflow(&s, &marker, 60);
        let started = Instant::now();
        let mut child = spawn(&file);
        wait_for(&marker);
        interrupt(&child);
        // Wait until the first interrupt is handled, so the two are not
        // merged into one.
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("read stderr");
        assert!(first.contains("cancel"), "{first}");
        interrupt(&child);
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).expect("read stderr");
        let output = child.wait_with_output().expect("wait for weft");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "abort did not stop the sleep"
        );
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(rest.contains("abort"), "{rest}");
        let v = stdout_json(&output);
        assert_eq!(check_contract(&v), "canceled");
        assert_eq!(task(&v, "first")["status"], "canceled");
    }
}

// ---- validate -----------------------------------------------------------------

#[test]
fn workflows_dir_makes_each_file_an_action_for_sub_workflows() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.dir.path().join("lib")).unwrap();
    scratch.file(
        "lib/double.yaml",
        "input: [n]\ntasks:\n  t: {action: core.noop}\noutput: [{twice: '{{ parameters.n * 2 }}'}]\n",
    );
    let main = scratch.file(
        "main.yaml",
        "tasks:\n  each: {with: '{{ [1, 2, 3] }}', action: double, input: {n: '{{ item }}'}}\noutput: [{all: '{{ task.each }}'}]\n",
    );
    let lib = scratch.dir.path().join("lib");
    let out = weft()
        .arg("run")
        .arg(&main)
        .arg("--workflows")
        .arg(&lib)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    check_contract(&v);
    assert_eq!(
        v["output"]["all"],
        json!([{"twice": 2}, {"twice": 4}, {"twice": 6}])
    );
    // Without the directory the action is unknown, with a location.
    weft()
        .arg("validate")
        .arg(&main)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown action `double`"));
    weft()
        .arg("validate")
        .arg(&main)
        .arg("--workflows")
        .arg(&lib)
        .assert()
        .code(0);
    // A mistake in a sub-workflow file is reported with its own location.
    scratch.file("lib/broken.yaml", "tasks:\n  t: {action: core.nope}\n");
    weft()
        .arg("run")
        .arg(&main)
        .arg("--workflows")
        .arg(&lib)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("broken.yaml:2:")
                .and(predicate::str::contains("unknown action `core.nope`")),
        );
}

#[test]
fn validate_prints_ok_for_each_good_file() {
    let hello = data("hello.yaml");
    let pipeline = data("pipeline.yaml");
    weft()
        .arg("validate")
        .arg(&hello)
        .arg(&pipeline)
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains(format!("{}: ok", hello.display())).and(
                predicate::str::contains(format!("{}: ok", pipeline.display())),
            ),
        );
}

#[test]
fn validate_reports_each_bad_file_and_exits_2() {
    let s = Scratch::new();
    let bad = s.file(
        "bad.yaml",
        "tasks:\n  a: {action: core.noop, next: [{do: nowhere}]}\n",
    );
    let hello = data("hello.yaml");
    weft()
        .arg("validate")
        .arg(&hello)
        .arg(&bad)
        .assert()
        .code(2)
        .stdout(predicate::str::contains(format!("{}: ok", hello.display())))
        .stderr(
            predicate::str::contains(format!("{}:2:", bad.display()))
                .and(predicate::str::contains("nowhere")),
        );
}

// ---- graph ----------------------------------------------------------------------

const GRAPH: &str = r#"
tasks:
  a:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        do: [b, c]
      - when: "{{ failed() }}"
        do: fail
  b:
    with: "{{ [1, 2] }}"
    action: core.noop
    next: [{do: d}]
  c: {action: core.noop, next: [{do: d}, {when: "{{ failed() }}", do: noop}]}
  d: {join: all, action: core.noop}
"#;

#[test]
fn graph_mermaid_has_labelled_edges_joins_items_and_commands() {
    let s = Scratch::new();
    let file = s.file("g.yaml", GRAPH);
    weft().arg("graph").arg(&file).assert().code(0).stdout(
        predicate::str::starts_with("flowchart TD")
            .and(predicate::str::contains(r#"a -->|"{{ succeeded() }}"| b"#))
            .and(predicate::str::contains(r#"a -->|"{{ succeeded() }}"| c"#))
            .and(predicate::str::contains(
                r#"a -->|"{{ failed() }}"| cmd_fail"#,
            ))
            .and(predicate::str::contains("b --> d"))
            .and(predicate::str::contains(
                r#"c -->|"{{ failed() }}"| cmd_noop"#,
            ))
            .and(predicate::str::contains("d (join: all)"))
            .and(predicate::str::contains("b (with items)"))
            .and(predicate::str::contains(r#"cmd_fail{{"fail"}}"#)),
    );
}

#[test]
fn graph_dot_has_labelled_edges_joins_items_and_commands() {
    let s = Scratch::new();
    let file = s.file("g.yaml", GRAPH);
    weft()
        .args(["graph", "--format", "dot"])
        .arg(&file)
        .assert()
        .code(0)
        .stdout(
            predicate::str::starts_with("digraph \"g\" {")
                .and(predicate::str::contains(
                    r#""a" -> "b" [label="{{ succeeded() }}"];"#,
                ))
                .and(predicate::str::contains(
                    r#""a" -> fail [label="{{ failed() }}"];"#,
                ))
                .and(predicate::str::contains(r#""c" -> "d";"#))
                .and(predicate::str::contains(
                    r#""c" -> noop [label="{{ failed() }}"];"#,
                ))
                .and(predicate::str::contains(r#"label="d (join: all)""#))
                .and(predicate::str::contains(r#"label="b (with items)""#))
                .and(predicate::str::ends_with("}\n")),
        );
}

#[test]
fn graph_of_an_invalid_file_exits_2() {
    let s = Scratch::new();
    let file = s.file(
        "g.yaml",
        "tasks:\n  a: {action: core.noop, next: [{do: x}]}\n",
    );
    weft()
        .arg("graph")
        .arg(&file)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("{}:2:", file.display())));
}

// ---- actions --------------------------------------------------------------------

#[test]
fn actions_lists_the_five_builtins_with_fields_and_results() {
    let mut expected = predicate::str::contains("result:").boxed();
    for name in [
        "core.noop",
        "core.echo",
        "core.sleep",
        "core.fail",
        "core.local",
    ] {
        expected = expected.and(predicate::str::contains(name)).boxed();
    }
    for field in [
        "message", "seconds", "cmd", "cwd", "env", "required", "optional",
    ] {
        expected = expected.and(predicate::str::contains(field)).boxed();
    }
    weft().arg("actions").assert().code(0).stdout(expected);
}

/// `weft` is built with the `http` feature by default.
#[cfg(feature = "http")]
#[test]
fn actions_lists_core_http_with_its_inputs() {
    let mut expected = predicate::str::contains("core.http  sends an HTTP request").boxed();
    for field in [
        "    url                 string          required",
        "    method ",
        "    headers ",
        "    query ",
        "    body ",
        "    json ",
        "    timeout ",
        "    verify_tls ",
        "    max_response_bytes ",
        "    follow_redirects ",
        r#"result: {"status_code": number"#,
    ] {
        expected = expected.and(predicate::str::contains(field)).boxed();
    }
    weft().arg("actions").assert().code(0).stdout(expected);
}

// ---- docs/cli.md ----------------------------------------------------------------

/// Splits a shell command line into words: quotes, a trailing `# comment`,
/// and everything from an unquoted `|`, `>`, `<`, `;` or `&` on is left out.
/// Returns the words and the comment.
fn shell_words(line: &str) -> (Vec<String>, String) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut comment = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            '#' if !in_word => {
                comment = chars.collect();
                break;
            }
            '|' | '>' | '<' | ';' | '&' => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    (words, comment.trim().to_owned())
}

/// Which stream a sample output in the docs shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// A fenced block of Markdown: info string, body, and the command whose
/// output it shows, from an `<!-- output of: CMD -->` or
/// `<!-- stderr of: CMD -->` comment right before it.
type Block = (String, String, Option<(Stream, String)>);

fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    let mut last_comment: Option<(Stream, String)> = None;
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            let mut body = String::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            blocks.push((info.trim().to_owned(), body, last_comment.take()));
        } else if let Some(c) = trimmed
            .strip_prefix("<!-- output of:")
            .and_then(|c| c.strip_suffix("-->"))
        {
            last_comment = Some((Stream::Stdout, c.trim().to_owned()));
        } else if let Some(c) = trimmed
            .strip_prefix("<!-- stderr of:")
            .and_then(|c| c.strip_suffix("-->"))
        {
            last_comment = Some((Stream::Stderr, c.trim().to_owned()));
        } else if !trimmed.is_empty() {
            last_comment = None;
        }
    }
    blocks
}

/// The lines of a `sh` block joined where they end in `\`.
fn logical_lines(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in body.lines() {
        let line = line.trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(line);
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn docs() -> String {
    let path = repo_root().join("docs/cli.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn refers_to_a_checked_file(words: &[String]) -> bool {
    words
        .iter()
        .any(|w| w.contains("examples/workflows/") || w.contains("crates/weft-cli/tests/data/"))
}

fn run_doc_command(words: &[String]) -> std::process::Output {
    weft()
        .args(&words[1..])
        .current_dir(repo_root())
        .output()
        .expect("run weft")
}

#[test]
fn docs_command_lines_exit_as_documented() {
    let mut ran = 0;
    for (info, body, _) in fenced_blocks(&docs()) {
        if info != "sh" {
            continue;
        }
        for line in logical_lines(&body) {
            let line = line.trim().trim_start_matches("$ ");
            let (words, comment) = shell_words(line);
            if words.first().map(String::as_str) != Some("weft")
                || !refers_to_a_checked_file(&words)
            {
                continue;
            }
            // `# exits N` (and anything after N) documents the exit code.
            let expected = match comment.strip_prefix("exits ") {
                Some(rest) => {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<i32>().unwrap_or_else(|_| {
                        panic!("`{line}`: cannot read the exit code in `# {comment}`")
                    })
                }
                None => 0,
            };
            let output = run_doc_command(&words);
            assert_eq!(
                output.status.code(),
                Some(expected),
                "docs/cli.md: `{line}`\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 6, "only {ran} command lines of docs/cli.md were run");
}

/// Without the `duration_ms` fields and `run_id`, which differ from run to
/// run.
fn without_duration(mut v: Value) -> Value {
    if let Some(stats) = v.get_mut("stats").and_then(Value::as_object_mut) {
        stats.remove("duration_ms");
    }
    if let Some(tasks) = v.get_mut("tasks").and_then(Value::as_array_mut) {
        for t in tasks.iter_mut().filter_map(Value::as_object_mut) {
            t.remove("duration_ms");
        }
    }
    if let Some(map) = v.as_object_mut() {
        map.remove("run_id");
    }
    v
}

#[test]
fn docs_sample_outputs_match_the_commands() {
    let mut checked = 0;
    for (info, body, command) in fenced_blocks(&docs()) {
        let Some((stream, command)) = command else {
            continue;
        };
        let (words, _) = shell_words(&command);
        assert_eq!(words.first().map(String::as_str), Some("weft"), "{command}");
        let output = run_doc_command(&words);
        let printed = String::from_utf8_lossy(match stream {
            Stream::Stdout => &output.stdout,
            Stream::Stderr => &output.stderr,
        });
        if info == "json" {
            let documented: Value = serde_json::from_str(&body).unwrap_or_else(|e| {
                panic!("docs/cli.md: the output of `{command}` is not JSON: {e}")
            });
            let actual: Value = serde_json::from_str(&printed)
                .unwrap_or_else(|e| panic!("`{command}` did not print JSON: {e}\n{printed}"));
            assert_eq!(
                without_duration(documented),
                without_duration(actual),
                "docs/cli.md: the output of `{command}`"
            );
        } else {
            let body: String = body
                .lines()
                .map(|l| format!("{}\n", l.trim_end()))
                .collect();
            let printed: String = printed
                .lines()
                .map(|l| format!("{}\n", l.trim_end()))
                .collect();
            assert!(
                printed.contains(&body),
                "docs/cli.md: the output of `{command}` does not contain the documented text\n\
                 documented:\n{body}\nactual:\n{printed}"
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 2,
        "only {checked} sample outputs in docs/cli.md were checked"
    );
}

#[test]
fn shell_words_handles_quotes_comments_and_pipes() {
    let (w, c) = shell_words(r#"weft run x.yaml -i 'names=["a", "b"]' -i "g=hi there"  # exits 1"#);
    assert_eq!(
        w,
        [
            "weft",
            "run",
            "x.yaml",
            "-i",
            r#"names=["a", "b"]"#,
            "-i",
            "g=hi there"
        ]
    );
    assert_eq!(c, "exits 1");
    let (w, c) = shell_words("weft graph x.yaml --format dot | dot -Tsvg > x.svg");
    assert_eq!(w, ["weft", "graph", "x.yaml", "--format", "dot"]);
    assert_eq!(c, "");
}
