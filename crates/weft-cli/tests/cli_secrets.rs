//! Secret inputs at rest: `weft run --db` encrypts them with the key of
//! `WEFT_SECRET_KEY` or `--secret-key-file`, refuses such a run without a
//! key, `show` needs the same key, and `purge` leaves nothing readable in
//! the SQLite file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};

const SECRET: &str = "hunter2-correct-horse";
const NOTE: &str = "plain-note-7f3a9c";
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

const WORKFLOW: &str = r#"
input:
  - {name: token, secret: true}
  - note
tasks:
  login:
    action: core.echo
    input: {message: "token={{ ctx().token }} note={{ ctx().note }}"}
    next:
      - publish: [{said: "{{ result() }}"}]
output:
  - said: "{{ ctx().said }}"
"#;

fn weft() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.timeout(Duration::from_secs(60));
    cmd.env_remove("WEFT_SECRET_KEY");
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

/// Whether `needle` is anywhere in the store's files (the database and
/// its write-ahead log).
fn in_files(db: &Path, needle: &str) -> bool {
    let mut found = false;
    for suffix in ["", "-wal", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(PathBuf::from(p)) {
            found |= bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
    }
    found
}

#[test]
fn secret_inputs_are_encrypted_in_the_file_and_purge_scrubs_it() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("wf.yaml");
    std::fs::write(&wf, WORKFLOW).unwrap();
    let db = dir.path().join("runs.db");
    let db_s = db.display().to_string();
    let inputs = [
        "-i".to_owned(),
        format!("token={SECRET}"),
        "-i".to_owned(),
        format!("note={NOTE}"),
    ];

    // No key: refused before anything runs, saying how to give one.
    weft()
        .args(["run", "--db", &db_s])
        .arg(&wf)
        .args(&inputs)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("secret inputs (`token`)")
                .and(predicate::str::contains("WEFT_SECRET_KEY"))
                .and(predicate::str::contains("--secret-key-file")),
        );
    // A key that is not one is refused too, without repeating it.
    weft()
        .env("WEFT_SECRET_KEY", "not-a-key")
        .args(["run", "--db", &db_s])
        .arg(&wf)
        .args(&inputs)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("WEFT_SECRET_KEY: a secret key is 32 bytes")
                .and(predicate::str::contains("not-a-key").not()),
        );
    // Without a store no key is needed.
    weft().arg("run").arg(&wf).args(&inputs).assert().success();

    let out = weft()
        .env("WEFT_SECRET_KEY", KEY)
        .args(["run", "--json", "--db", &db_s])
        .arg(&wf)
        .args(&inputs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = json_of(&out);
    let id = first["run_id"].as_str().unwrap().to_owned();
    assert_eq!(
        first["output"],
        json!({"said": {"message": format!("token=******** note={NOTE}")}})
    );
    assert!(!in_files(&db, SECRET), "the secret is in the store's files");
    assert!(in_files(&db, NOTE), "what is not secret is kept as it was");

    // `show` needs the key: the same one (from a file), not another, not none.
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let out = weft()
        .args(["show", "--json", "--db", &db_s, &id, "--secret-key-file"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = json_of(&out);
    assert_eq!(shown["output"], first["output"]);
    assert!(!shown.to_string().contains(SECRET), "{shown}");
    weft()
        .env("WEFT_SECRET_KEY", OTHER_KEY)
        .args(["show", "--db", &db_s, &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "not the key the run was started with",
        ));
    weft()
        .args(["show", "--db", &db_s, &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no secret key was given"));

    // Purge leaves nothing of the run readable in the file.
    std::thread::sleep(Duration::from_millis(1100));
    weft()
        .args(["purge", "--db", &db_s, "--older-than", "1s"])
        .assert()
        .success()
        .stdout(predicate::str::contains("purged 1 run "));
    assert!(
        !in_files(&db, NOTE),
        "a purged run is still readable in the file"
    );
    assert!(!in_files(&db, SECRET));
}
