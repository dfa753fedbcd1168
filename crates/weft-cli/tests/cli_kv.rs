//! `weft kv`: the datastore that workflows read with `st2kv`, set and read
//! from the command line, and read by StackStorm's `orquesta-st2kv-default`
//! example run against the same store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{json, Value};

fn weft() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.timeout(Duration::from_secs(120));
    cmd
}

fn st2(pack: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../weft-stackstorm/tests/st2")
        .join(pack)
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn keys_are_set_read_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let db = db.to_str().unwrap();
    ok(weft().args(["kv", "set", "--db", db, "app.region", "eu-west-1"]));
    ok(weft().args(["kv", "set", "--db", db, "app.token", "s3cret", "--secret"]));
    ok(weft().args([
        "kv", "set", "--db", db, "--scope", "user", "--user", "ops", "mine", "m",
    ]));
    assert_eq!(
        ok(weft().args(["kv", "get", "--db", db, "app.region"])),
        "eu-west-1\n"
    );
    assert_eq!(
        ok(weft().args(["kv", "get", "--db", db, "app.token"])),
        "********\n"
    );
    assert_eq!(
        ok(weft().args(["kv", "get", "--db", db, "app.token", "--decrypt"])),
        "s3cret\n"
    );
    assert_eq!(
        ok(weft().args(["kv", "list", "--db", db, "--prefix", "app."])),
        "app.region = eu-west-1\napp.token = ******** (secret)\n"
    );
    let listed: Value = serde_json::from_str(&ok(weft().args([
        "kv", "list", "--db", db, "--scope", "user", "--user", "ops", "--json",
    ])))
    .unwrap();
    assert_eq!(listed[0]["name"], "mine");
    assert_eq!(listed[0]["value"], "m");
    ok(weft().args(["kv", "delete", "--db", db, "app.region"]));
    let out = weft()
        .args(["kv", "get", "--db", db, "app.region"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no key `app.region` in the system scope"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = weft()
        .args(["kv", "set", "--db", db, "--scope", "global", "a", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// StackStorm's `orquesta-st2kv-default`: the key's value in both
/// dialects, the default when it is not set, and the run fails naming the
/// key when there is no default.
#[test]
fn the_st2kv_example_reads_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let db = db.to_str().unwrap();
    ok(weft().args(["kv", "set", "--db", db, "greeting", "hello"]));
    let run = |key: &str, default: Option<&str>| {
        let mut cmd = weft();
        cmd.args(["run", "-q", "--db", db, "--pack"])
            .arg(st2("core"))
            .arg("--pack")
            .arg(st2("examples"))
            .args(["examples.orquesta-st2kv-default", "-i"])
            .arg(format!("key_name={key}"))
            .args(["-i", "decrypt=false"]);
        if let Some(d) = default {
            cmd.args(["-i", d]);
        }
        cmd.output().unwrap()
    };
    let out = run("system.greeting", None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["result"]["output"],
        json!({"value_from_yaql": "hello", "value_from_jinja": "hello"})
    );
    let out = run("system.nope", Some("default=fallback"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["result"]["output"],
        json!({"value_from_yaql": "fallback", "value_from_jinja": "fallback"})
    );
}
