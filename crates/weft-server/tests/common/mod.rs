//! What the server's tests share: actions the test opens like gates, the
//! stores (a SQLite file, a Postgres schema), and requests to a router.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use weft_core::{Plan, Workflow};
use weft_runtime::{ActionInput, Executor, ExecutorBuilder, Store};

/// Named gates: the action `test.gate` waits until the test opens the gate
/// its `name` input names (a gate opened before stays open).
#[derive(Clone, Default)]
pub struct Gates {
    open: Arc<Mutex<HashMap<String, bool>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl Gates {
    pub fn new() -> Gates {
        Gates::default()
    }

    pub fn open(&self, name: &str) {
        self.open.lock().unwrap().insert(name.to_owned(), true);
        self.changed.notify_waiters();
    }

    async fn wait(&self, name: &str) {
        loop {
            let notified = self.changed.notified();
            if self
                .open
                .lock()
                .unwrap()
                .get(name)
                .copied()
                .unwrap_or(false)
            {
                return;
            }
            notified.await;
        }
    }

    /// An executor builder with `test.gate` (returns `{"gate": name}`,
    /// or fails when `fail` is true), the built-in actions, and the tests'
    /// secret key (their runs have secret inputs).
    pub fn builder(&self) -> ExecutorBuilder {
        let gates = self.clone();
        let builder = Executor::builder().action("test.gate", move |input: ActionInput| {
            let gates = gates.clone();
            async move {
                let name = input.require_str("name")?.to_owned();
                gates.wait(&name).await;
                if input.get("fail").and_then(Value::as_bool) == Some(true) {
                    return Err(weft_runtime::ActionError::new(format!(
                        "gate {name} failed as asked"
                    )));
                }
                Ok(json!({"gate": name, "echo": input.get("echo").cloned()}))
            }
        });
        builder.secret_key(weft_runtime::SecretKey::from_bytes([5; 32]))
    }
}

/// A workflow whose tasks wait for gates: `first` (gate a), then `second`
/// (gate b) and `third` (gate c), then `last` (join). Its secret input
/// `token` goes into `second`'s result.
pub const GATED: &str = r#"
description: tasks that end when the test says
input:
  - who: world
  - {name: token, secret: true}
tasks:
  first:
    action: test.gate
    input: {name: a}
    next: [{do: [second, third]}]
  second:
    action: test.gate
    input: {name: b, echo: "token={{ parameters.token }}"}
    next: [{do: last}]
  third:
    action: test.gate
    input: {name: c}
    next: [{do: last}]
  last:
    join: all
    action: core.echo
    input: {message: "hello {{ parameters.who }}"}
output:
  - said: "{{ task.last.message }}"
"#;

/// A workflow that fails at once.
pub const FAILING: &str = r#"
tasks:
  boom: {action: core.fail, input: {message: "it broke"}}
"#;

pub fn plan(text: &str, name: &str, executor: &impl weft_core::ActionCatalog) -> Plan {
    Workflow::from_yaml_str(text)
        .unwrap()
        .with_name(name)
        .compile(executor)
        .unwrap()
}

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A store of `kind`: a new SQLite file in `dir`, or a new schema on the
/// test server (`None` when `WEFT_TEST_POSTGRES_URL` is not set).
pub struct Stores {
    pub kind: Kind,
    dir: tempfile::TempDir,
    url: Option<String>,
    schemas: Mutex<Vec<String>>,
}

impl Stores {
    pub fn new(kind: Kind, test: &str) -> Option<Stores> {
        let url = match kind {
            Kind::Sqlite => None,
            Kind::Postgres => match std::env::var("WEFT_TEST_POSTGRES_URL") {
                Ok(u) if !u.is_empty() => Some(u),
                _ => {
                    eprintln!(
                        "skipped {test} on Postgres: WEFT_TEST_POSTGRES_URL is not set (such \
                         as postgres://postgres@127.0.0.1:5432/test)"
                    );
                    return None;
                }
            },
        };
        Some(Stores {
            kind,
            dir: tempfile::tempdir().unwrap(),
            url,
            schemas: Mutex::new(Vec::new()),
        })
    }

    /// A store in a new file or schema, and the URL of a second store on
    /// the same place (Postgres: for a worker of its own).
    pub async fn open(&self, name: &str) -> (Arc<dyn Store>, String) {
        match self.kind {
            Kind::Sqlite => {
                let path = self.dir.path().join(format!("{name}.db"));
                let store = weft_store_sqlite::SqliteStore::open(&path).unwrap();
                (Arc::new(store), path.display().to_string())
            }
            Kind::Postgres => {
                let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
                let schema = format!("wsrv_{name}_{tag}");
                self.schemas.lock().unwrap().push(schema.clone());
                let base = self.url.clone().unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}schema={schema}");
                let store = weft_store_postgres::PostgresStore::connect(&url)
                    .await
                    .unwrap();
                (Arc::new(store), url)
            }
        }
    }

    /// A second store on the place `url` names (a Postgres schema: another
    /// process's view of it).
    pub async fn again(&self, url: &str) -> Arc<dyn Store> {
        match self.kind {
            Kind::Sqlite => Arc::new(weft_store_sqlite::SqliteStore::open_read_only(url).unwrap()),
            Kind::Postgres => Arc::new(
                weft_store_postgres::PostgresStore::connect(url)
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Drops the Postgres schemas made.
    pub async fn clean(&self) {
        let Some(base) = &self.url else {
            return;
        };
        let names = std::mem::take(&mut *self.schemas.lock().unwrap());
        if names.is_empty() {
            return;
        }
        let store = weft_store_postgres::PostgresStore::connect(base)
            .await
            .unwrap();
        let client = store.pool().get().await.unwrap();
        for n in names {
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {n} CASCADE"))
                .await
                .unwrap();
        }
    }
}

impl Drop for Stores {
    /// Drops the schemas a test that failed before `clean` left behind.
    fn drop(&mut self) {
        if self.schemas.lock().map_or(true, |s| s.is_empty()) {
            return;
        }
        let names = std::mem::take(&mut *self.schemas.lock().unwrap_or_else(|p| p.into_inner()));
        let Some(base) = self.url.clone() else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(store) = weft_store_postgres::PostgresStore::connect(&base).await else {
                    return;
                };
                if let Ok(client) = store.pool().get().await {
                    for n in names {
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {n} CASCADE"))
                            .await;
                    }
                }
            });
        })
        .join();
    }
}

/// A response: status, headers, body as JSON (or text as a JSON string).
pub struct Got {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn call(app: &Router, method: &str, path: &str, body: Option<Value>) -> Got {
    call_with(app, method, path, body, &[]).await
}

pub async fn call_with(
    app: &Router,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Got {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let res = tokio::time::timeout(Duration::from_secs(30), app.clone().oneshot(req))
        .await
        .expect("the server answers within 30 s")
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    Got {
        status,
        headers,
        body,
        text,
    }
}

/// Waits until the run's status (as the API shows it) is `want`.
pub async fn wait_status(app: &Router, id: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = call(app, "GET", &format!("/api/v1/runs/{id}"), None).await;
        if got.status == StatusCode::OK && got.body["status"] == want {
            return got.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {id} did not become {want}: {}",
            got.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the task's status (as the run shows it) is `want`.
pub async fn wait_task(app: &Router, id: &str, task: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = call(app, "GET", &format!("/api/v1/runs/{id}"), None).await;
        let status = got.body["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["name"] == task))
            .map(|t| t["status"].clone());
        if status.as_ref().is_some_and(|s| s == want) {
            return got.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "task {task} of run {id} did not become {want}: {}",
            got.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
