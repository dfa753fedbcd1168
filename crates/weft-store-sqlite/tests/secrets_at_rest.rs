//! Secret inputs at rest, through the library: a durable run's secret
//! values are encrypted in the file with the executor's key; a run
//! interrupted mid-way is resumed only with that key (another key, or
//! none, is a clear error), and its actions then see the real values.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use weft_core::Workflow;
use weft_runtime::{
    ActionInput, Durability, Executor, ExecutorBuilder, ResumeError, RunId, RunStatus, SecretKey,
};
use weft_store_sqlite::SqliteStore;

const SECRET: &str = "s3cret-token-4242";

/// `echo` gives back its input, so the secret reaches a recorded result;
/// `deploy` receives the secret and what was published from that result.
const WORKFLOW: &str = r#"
input:
  - {name: token, secret: true}
tasks:
  login:
    action: echo
    input: {header: "Bearer {{ ctx().token }}"}
    next:
      - publish: [{header: "{{ result().header }}"}]
        do: deploy
  deploy:
    action: deploy
    input: {token: "{{ ctx().token }}", header: "{{ ctx().header }}"}
"#;

/// What `deploy` received; with `hold`, it never returns (the run is
/// interrupted there).
struct Seen {
    inputs: Mutex<Vec<Value>>,
    reached: tokio::sync::Notify,
}

fn builder(seen: &Arc<Seen>, hold: bool) -> ExecutorBuilder {
    let seen = seen.clone();
    Executor::builder()
        .action("echo", |input: ActionInput| async move {
            Ok(input.input.clone())
        })
        .action("deploy", move |input: ActionInput| {
            let seen = seen.clone();
            async move {
                seen.inputs.lock().unwrap().push(input.input.clone());
                seen.reached.notify_one();
                if hold {
                    std::future::pending::<()>().await;
                }
                Ok(json!("deployed"))
            }
        })
        .durability(Durability::Sync)
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes([byte; 32])
}

fn contains(path: &Path, needle: &str) -> bool {
    let mut found = false;
    for suffix in ["", "-wal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(PathBuf::from(p)) {
            found |= bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
    }
    found
}

/// Starts the run and stops at `deploy` (the login result committed).
async fn start_and_stop(seen: &Arc<Seen>, path: &Path) -> RunId {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let ex = builder(seen, true).store(store).secret_key(key(7)).build();
    let plan = Workflow::from_yaml_str(WORKFLOW)
        .unwrap()
        .compile(&ex)
        .unwrap();
    let run = ex.start(&plan, json!({"token": SECRET})).unwrap();
    let id = run.id();
    tokio::time::timeout(Duration::from_secs(10), seen.reached.notified())
        .await
        .expect("deploy was reached");
    id
}

#[test]
fn an_interrupted_run_resumes_only_with_its_key_and_sees_the_real_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let seen = Arc::new(Seen {
        inputs: Mutex::default(),
        reached: tokio::sync::Notify::new(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let id = rt.block_on(start_and_stop(&seen, &path));
    drop(rt);
    assert!(!contains(&path, SECRET), "the secret is in the file");
    assert_eq!(
        seen.inputs.lock().unwrap().clone(),
        [json!({"token": SECRET, "header": format!("Bearer {SECRET}")})]
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        // Another key: refused, and nothing runs.
        let ex = builder(&seen, false)
            .store(store.clone())
            .secret_key(key(8))
            .build();
        let e = ex.resume_run(id).await.expect_err("another key");
        assert!(matches!(e, ResumeError::SecretKey(..)), "{e:?}");
        assert!(
            e.to_string()
                .contains("not the key the run was started with"),
            "{e}"
        );
        let e = ex.inspect(id).await.expect_err("another key");
        assert!(matches!(e, ResumeError::SecretKey(..)), "{e:?}");
        // No key.
        let ex = builder(&seen, false).store(store.clone()).build();
        let e = ex.resume_run(id).await.expect_err("no key");
        assert!(e.to_string().contains("no secret key was given"), "{e}");
        assert_eq!(seen.inputs.lock().unwrap().len(), 1, "nothing ran");

        // The key: the run goes on, `deploy` runs again (it was in flight)
        // with the real values, and `login` does not run again.
        let ex = builder(&seen, false)
            .store(store.clone())
            .secret_key(key(7))
            .build();
        let run = ex.resume_run(id).await.unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("the run ends")
            .expect("an outcome");
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.errors);
        let inputs = seen.inputs.lock().unwrap().clone();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0], inputs[1], "the resumed run sees the real values");
        let shown = ex.inspect(id).await.unwrap();
        assert_eq!(shown.status, RunStatus::Succeeded);
        ex.flush().await.unwrap();
    });
    drop(rt);
    assert!(!contains(&path, SECRET), "the secret is in the file");
}

#[tokio::test]
async fn runs_without_secrets_need_no_key_and_runs_with_them_are_refused_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("runs.db")).unwrap());
    let seen = Arc::new(Seen {
        inputs: Mutex::default(),
        reached: tokio::sync::Notify::new(),
    });
    let ex = builder(&seen, false).store(store).build();
    let plan = Workflow::from_yaml_str(WORKFLOW)
        .unwrap()
        .compile(&ex)
        .unwrap();
    let e = ex
        .start(&plan, json!({"token": SECRET}))
        .expect_err("no key");
    let e = e.workflow().expect("a workflow error");
    assert!(e.message().contains("ExecutorBuilder::secret_key"), "{e}");
    assert!(e.message().contains("WEFT_SECRET_KEY"), "{e}");
    assert!(seen.inputs.lock().unwrap().is_empty());
    // The same workflow without secret inputs runs without a key.
    let plain = Workflow::from_yaml_str(&WORKFLOW.replace("{name: token, secret: true}", "token"))
        .unwrap()
        .compile(&ex)
        .unwrap();
    let outcome = ex
        .start(&plain, json!({"token": "x"}))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.errors);
}
