//! `weft serve`: refuses to listen off loopback without a token, serves the
//! API over a SQLite file and runs what it is asked to, takes its token
//! from the environment, serves a file another process writes read-only,
//! and stops on SIGTERM with exit 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::{json, Value};

const HELLO: &str = "input:\n  - who: world\ntasks:\n  greet:\n    action: core.echo\n    input: {message: 'hello {{ parameters.who }}'}\noutput:\n  - said: '{{ task.greet.message }}'\n";

/// A `weft serve` child, killed if the test ends early.
struct Serve {
    child: Child,
    base: String,
    stderr: BufReader<std::process::ChildStderr>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str], env: &[(&str, &str)]) -> Serve {
    let mut cmd = Command::cargo_bin("weft").unwrap();
    cmd.arg("serve")
        .args(args)
        .env_remove("WEFT_SERVER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let base = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("weft serve stopped before listening: {seen}");
        }
        seen.push_str(&line);
        if let Some(rest) = line.strip_prefix("weft serve: ") {
            break rest.split('/').take(3).collect::<Vec<_>>().join("/");
        }
    };
    Serve {
        child,
        base,
        stderr,
    }
}

/// One HTTP/1.1 request; the status and the body as JSON.
fn http(
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status: u16 = out[9..12].parse().unwrap();
    let json = out
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

#[test]
fn off_loopback_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(["serve", "--db", db.to_str().unwrap(), "--bind", "0.0.0.0:0"])
        .env_remove("WEFT_SERVER_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--bind 0.0.0.0:0 is reachable from other machines")
            && err.contains("--token"),
        "{err}"
    );
    assert!(!db.exists(), "nothing was opened");
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(["serve", "--db", db.to_str().unwrap(), "--bind", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an address and port"));
}

#[test]
fn it_runs_a_registered_workflow_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join("workflows");
    std::fs::create_dir(&workflows).unwrap();
    std::fs::write(workflows.join("hello.yaml"), HELLO).unwrap();
    let db = dir.path().join("runs.db");
    let mut s = serve(
        &[
            "--db",
            db.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
            "--workflows",
            workflows.to_str().unwrap(),
        ],
        &[],
    );
    let (status, caps) = http(&s.base, "GET", "/api/v1", None, None);
    assert_eq!(status, 200);
    assert_eq!(caps["mode"], "local");
    assert_eq!(caps["workflows"], json!(["hello"]));
    let (status, started) = http(
        &s.base,
        "POST",
        "/api/v1/runs",
        Some(json!({"workflow": "hello", "inputs": {"who": "serve"}})),
        None,
    );
    assert_eq!(status, 202, "{started}");
    let id = started["run_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, run) = http(&s.base, "GET", &format!("/api/v1/runs/{id}"), None, None);
        if run["status"] == "succeeded" {
            assert_eq!(run["output"], json!({"said": "hello serve"}));
            break;
        }
        assert!(Instant::now() < deadline, "{run}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, page) = http(&s.base, "GET", "/", None, None);
    assert_eq!(status, 200);
    assert_eq!(page, Value::Null, "the dashboard's page is HTML");
    let killed = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let code = s.child.wait().unwrap();
    assert_eq!(code.code(), Some(0));
    let mut rest = String::new();
    let _ = s.stderr.read_to_string(&mut rest);
    // The run is in the file for the commands that read it.
    let out = Command::cargo_bin("weft")
        .unwrap()
        .args(["show", "--json", "--db", db.to_str().unwrap(), &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{rest}");
}

#[test]
fn the_token_comes_from_the_environment_and_a_locked_file_is_served_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    // Another process's writer holds the file.
    let writer = weft_store_sqlite::SqliteStore::open(&db).unwrap();
    let s = serve(
        &["--db", db.to_str().unwrap(), "--bind", "127.0.0.1:0"],
        &[("WEFT_SERVER_TOKEN", "from-env-token")],
    );
    let (status, body) = http(&s.base, "GET", "/api/v1", None, None);
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, caps) = http(&s.base, "GET", "/api/v1", None, Some("from-env-token"));
    assert_eq!(status, 200);
    assert_eq!(caps["mode"], "read_only");
    let (status, body) = http(
        &s.base,
        "POST",
        "/api/v1/purge",
        Some(json!({"older_than_seconds": 1})),
        Some("from-env-token"),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "read_only");
    drop(s);
    drop(writer);
}
