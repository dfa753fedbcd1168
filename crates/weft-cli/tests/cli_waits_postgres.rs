//! An inquiry answered from another process on Postgres: `weft submit`
//! stores a run that asks, a `weft worker` process runs it, and `weft
//! respond` — a third process — answers it through the database; the
//! worker that holds the run takes the answer and finishes it.
//!
//! Needs `WEFT_TEST_POSTGRES_URL`; without it the test is ignored
//! (`build.rs`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_test_support::postgres::{url, Schemas};

const ASK: &str = r#"
version: 1.0
tasks:
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

fn weft(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .expect("run weft")
}

#[cfg_attr(
    not(weft_postgres_tests),
    ignore = "set WEFT_TEST_POSTGRES_URL to run against PostgreSQL (see README.md)"
)]
#[test]
fn an_inquiry_is_answered_from_another_process_through_the_database() {
    let schemas = Schemas::new(&url(), "ask");
    let db = schemas.fresh_url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ask.yaml");
    std::fs::write(&file, ASK).unwrap();
    let file = file.display().to_string();
    let mut worker = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let out = weft(&["submit", "--db", &db, &file]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        worker = Some(
            Command::new(env!("CARGO_BIN_EXE_weft"))
                .args(["worker", "--db", &db])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start weft worker"),
        );
        let began = Instant::now();
        loop {
            let out = weft(&["inquiries", "--json", "--db", &db]);
            let listed: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            if listed.as_array().is_some_and(|l| l.len() == 1) {
                assert_eq!(listed[0]["run_id"], json!(id));
                assert_eq!(listed[0]["task"], json!("ask"));
                break;
            }
            assert!(began.elapsed() < Duration::from_secs(20), "never asked");
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = weft(&[
            "respond",
            "--db",
            &db,
            &id,
            "ask",
            "--data",
            r#"{"approved": 1}"#,
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("does not match the schema"));
        let out = weft(&[
            "respond",
            "--db",
            &db,
            &id,
            "ask",
            "--data",
            r#"{"approved": true}"#,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = weft(&["show", "--wait", "--json", "--db", &db, &id]);
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["status"], json!("succeeded"), "{shown}");
        assert_eq!(shown["output"], json!({"approved": true}));
    }));
    if let Some(mut w) = worker {
        let _ = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status();
        let _ = w.wait();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(schemas.drop_all());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
