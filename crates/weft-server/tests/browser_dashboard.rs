//! The dashboard in a real browser: headless Chromium, driven through
//! chromedriver (WebDriver). A server over a fresh SQLite store runs
//! workflows whose tasks end when the test says; the browser opens the
//! runs, opens a running run, sees its graph's nodes change colour as the
//! tasks end, cancels another run and sees it canceled, answers a task
//! that waits (`core.ask`), and signs in to a server with a token.
//! Screenshots go to `target/screenshots/` (the docs use them).
//!
//! It needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's
//! `chromium` and `chromium-driver`; other paths with `WEFT_CHROMIUM` and
//! `WEFT_CHROMEDRIVER`); without them it is ignored, not passed.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::{json, Value};
use weft_runtime::Executor;
use weft_server::ServerConfig;

/// Tasks gated per lane (`{{ parameters.lane }}-a`, ...), so that each run
/// of it ends when the test opens its own gates.
const LANES: &str = r#"
description: build, test in two ways, then publish; each step waits for the test
input:
  - lane
tasks:
  build:
    action: test.gate
    input: {name: "{{ parameters.lane }}-a"}
    next: [{do: [unit_tests, integration_tests]}]
  unit_tests:
    action: test.gate
    input: {name: "{{ parameters.lane }}-b"}
    next: [{do: publish}]
  integration_tests:
    action: test.gate
    input: {name: "{{ parameters.lane }}-c"}
    next:
      - when: "{{ succeeded() }}"
        do: publish
      - when: "{{ failed() }}"
        do: [report, fail]
  publish:
    join: all
    action: core.echo
    input: {message: "published {{ parameters.lane }}"}
  report:
    action: core.echo
    input: {message: "integration tests failed"}
output:
  - published: "{{ task.publish.message }}"
"#;

fn chromium() -> String {
    std::env::var("WEFT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn chromedriver() -> String {
    std::env::var("WEFT_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned())
}

/// Where screenshots go: `target/screenshots/`.
fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("screenshots"))
        .unwrap_or_else(|| PathBuf::from("screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chromedriver, stopped when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child, port);
    // Ready when it accepts connections.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium(),
            // As root on a machine without a network: no sandbox, no
            // background connections, a profile of its own.
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1360,980", "--force-device-scale-factor=1",
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a Chromium session")
}

/// Runs `body` with the browser, then ends the session whatever happened
/// (a session left open when an assertion fails would leave Chromium
/// running after chromedriver is stopped).
async fn with_browser<F>(c: Client, body: F)
where
    F: std::future::Future<Output = ()>,
{
    let result = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    let _ = c.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Serves `config` on a free loopback port; returns its base URL.
async fn serve(config: ServerConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = weft_server::router(config);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Waits until the JavaScript expression `test` is true in the page.
async fn until(c: &Client, what: &str, test: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = c
            .execute(&format!("return !!({test});"), vec![])
            .await
            .unwrap_or(Value::Bool(false));
        if got == Value::Bool(true) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let body = c
                .execute("return document.body.innerText.slice(0, 2000);", vec![])
                .await
                .unwrap_or_default();
            panic!("the page did not show {what} within 20 s; it shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn shot(c: &Client, name: &str) {
    // Let animations and the last frame settle.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(name), png).unwrap();
}

fn node_status(task: &str) -> String {
    format!("document.querySelector('g.node.task[data-task=\"{task}\"]')?.dataset.status")
}

/// Starts a run of `LANES` in `lane`; the run goes on without its handle.
fn start(executor: &Executor, lane: &str) -> String {
    let plan = plan(LANES, "release", executor);
    let run = executor.start(&plan, json!({"lane": lane})).unwrap();
    run.id().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(weft_browser),
    ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver)"
)]
async fn the_dashboard_follows_runs_live_and_cancels_one() {
    let dir = tempfile::tempdir().unwrap();
    let gates = Gates::new();
    let store = weft_store_sqlite::SqliteStore::open(dir.path().join("runs.db")).unwrap();
    let executor = gates.builder().store(std::sync::Arc::new(store)).build();
    let release = plan(LANES, "release", &executor);
    let config = ServerConfig::new(executor.clone())
        .workflow("release", release)
        .workflow("failing", plan(FAILING, "failing", &executor));
    let base = serve(config).await;

    // Some history: runs that succeeded and one that failed.
    for lane in ["mon", "tue", "wed"] {
        for g in ["a", "b", "c"] {
            gates.open(&format!("{lane}-{g}"));
        }
        start(&executor, lane);
    }
    gates.open("thu-a");
    gates.open("thu-b");
    start(&executor, "thu");
    let failing = plan(FAILING, "failing", &executor);
    drop(executor.start(&failing, json!({})).unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The runs the browser watches: one to follow, one to cancel.
    let canceled = start(&executor, "stop");
    let live = start(&executor, "live");
    executor.flush().await.unwrap();

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("profile")).await;
    with_browser(c.clone(), async {

    // The runs, newest first, with their status.
    c.goto(&format!("{base}/")).await.unwrap();
    until(
        &c,
        "the runs",
        "document.querySelectorAll('tr[data-run]').length >= 7",
    )
    .await;
    until(
        &c,
        "the live run as running",
        &format!("document.querySelector('tr[data-run=\"{live}\"]')?.dataset.status === 'running'"),
    )
    .await;
    shot(&c, "runs.png").await;

    // A running run: its graph, with `build` running.
    c.find(Locator::Css(&format!("a[href=\"/runs/{live}\"]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "the graph",
        "document.querySelectorAll('g.node.task').length === 5",
    )
    .await;
    until(
        &c,
        "build running",
        &format!("{} === 'running'", node_status("build")),
    )
    .await;
    until(
        &c,
        "publish not run",
        &format!("{} === 'none'", node_status("publish")),
    )
    .await;
    let url = c.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        format!("/runs/{live}"),
        "no full reload, the address follows"
    );

    // The nodes change colour as the tasks end.
    gates.open("live-a");
    until(
        &c,
        "build succeeded",
        &format!("{} === 'succeeded'", node_status("build")),
    )
    .await;
    until(
        &c,
        "unit_tests running",
        &format!("{} === 'running'", node_status("unit_tests")),
    )
    .await;
    until(
        &c,
        "integration_tests running",
        &format!("{} === 'running'", node_status("integration_tests")),
    )
    .await;
    gates.open("live-b");
    until(
        &c,
        "unit_tests succeeded",
        &format!("{} === 'succeeded'", node_status("unit_tests")),
    )
    .await;
    // Its side panel: the task's instance and attempt.
    c.execute(
        "document.querySelector('g.node.task[data-task=\"unit_tests\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}));",
        vec![],
    )
    .await
    .unwrap();
    until(
        &c,
        "the task panel",
        "document.querySelector('#task-panel details.instance')",
    )
    .await;
    c.execute(
        "document.querySelector('#task-panel details.instance summary').click();",
        vec![],
    )
    .await
    .unwrap();
    until(
        &c,
        "the attempt",
        "document.querySelector('#task-panel table.attempts')",
    )
    .await;
    shot(&c, "run-live.png").await;
    gates.open("live-c");
    until(
        &c,
        "publish succeeded",
        &format!("{} === 'succeeded'", node_status("publish")),
    )
    .await;
    until(
        &c,
        "the run succeeded",
        "document.querySelector('.title-row .pill')?.textContent === 'succeeded'",
    )
    .await;
    until(
        &c,
        "re-run offered",
        "!document.querySelector('#cmd-rerun').disabled",
    )
    .await;
    c.execute(
        "document.querySelector('[data-tab=\"tasks\"]').click();",
        vec![],
    )
    .await
    .unwrap();
    until(
        &c,
        "the task table",
        "document.querySelectorAll('table.tasks tbody tr').length === 4",
    )
    .await;
    c.execute(
        "document.querySelector('[data-tab=\"timeline\"]').click();",
        vec![],
    )
    .await
    .unwrap();
    until(
        &c,
        "the timeline",
        "document.querySelectorAll('svg.timeline rect.bar').length === 4",
    )
    .await;
    shot(&c, "run-succeeded.png").await;

    // Cancel a run from its page: the running task finishes, it ends
    // canceled, and nothing after it ran.
    c.goto(&format!("{base}/runs/{canceled}")).await.unwrap();
    until(
        &c,
        "build running",
        &format!("{} === 'running'", node_status("build")),
    )
    .await;
    let cancel = c.find(Locator::Id("cmd-cancel")).await.unwrap();
    cancel.click().await.unwrap();
    until(
        &c,
        "the confirmation",
        "document.querySelector('#cmd-cancel').textContent === 'Confirm cancel'",
    )
    .await;
    c.find(Locator::Id("cmd-cancel"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "the run canceling",
        "document.querySelector('.title-row .pill')?.textContent === 'canceling'",
    )
    .await;
    gates.open("stop-a");
    until(
        &c,
        "the run canceled",
        "document.querySelector('.title-row .pill')?.textContent === 'canceled'",
    )
    .await;
    until(
        &c,
        "build succeeded",
        &format!("{} === 'succeeded'", node_status("build")),
    )
    .await;
    until(
        &c,
        "unit_tests not run",
        &format!("{} === 'none'", node_status("unit_tests")),
    )
    .await;
    shot(&c, "run-canceled.png").await;

    // Back to the list: both show their end.
    c.find(Locator::Css(".crumbs a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "the canceled run in the list",
        &format!(
            "document.querySelector('tr[data-run=\"{canceled}\"]')?.dataset.status === 'canceled'"
        ),
    )
    .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(weft_browser),
    ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver)"
)]
async fn with_a_token_the_dashboard_asks_for_it_and_loads_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let gates = Gates::new();
    let store = weft_store_sqlite::SqliteStore::open(dir.path().join("runs.db")).unwrap();
    let executor = gates.builder().store(std::sync::Arc::new(store)).build();
    gates.open("x-a");
    start(&executor, "x");
    executor.flush().await.unwrap();
    let base = serve(ServerConfig::new(executor.clone()).token("correct-horse-battery")).await;

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("profile")).await;
    with_browser(c.clone(), async {
        c.goto(&format!("{base}/")).await.unwrap();
        until(
            &c,
            "the sign-in form",
            "!document.querySelector('#login').hidden",
        )
        .await;
        shot(&c, "sign-in.png").await;
        let field = c.find(Locator::Id("token")).await.unwrap();
        field.send_keys("wrong").await.unwrap();
        c.find(Locator::Id("sign-in"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(
            &c,
            "the refusal",
            "!document.querySelector('#login-error').hidden",
        )
        .await;
        field.clear().await.unwrap();
        field.send_keys("correct-horse-battery").await.unwrap();
        c.find(Locator::Id("sign-in"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // Every module and the stylesheet came with the token.
        until(
            &c,
            "the runs",
            "document.querySelectorAll('tr[data-run]').length === 1",
        )
        .await;
        until(
            &c,
            "the stylesheet applied",
            "getComputedStyle(document.querySelector('header.top')).position === 'sticky'",
        )
        .await;
        let cookies = c.get_all_cookies().await.unwrap();
        assert!(cookies.is_empty(), "no cookie is set: {cookies:?}");
        // A reload in the same tab keeps the token (session storage).
        c.refresh().await.unwrap();
        until(
            &c,
            "the runs again",
            "document.querySelectorAll('tr[data-run]').length === 1",
        )
        .await;
    })
    .await;
}

/// A deploy that asks before it goes on (`core.ask`).
const APPROVAL: &str = r#"
description: build, then ask a person before deploying
tasks:
  build:
    action: core.echo
    input: {message: built}
    next: [{do: approve}]
  approve:
    action: core.ask
    input:
      route: release-managers
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true}
          note: {type: string}
    next:
      - when: "{{ succeeded() and result().response.approved }}"
        do: deploy
  deploy:
    action: core.echo
    input: {message: deployed}
output:
  - approved: "{{ task.approve.response.approved }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(weft_browser),
    ignore = "needs chromium and chromedriver (apt-get install chromium chromium-driver)"
)]
async fn the_dashboard_answers_an_inquiry() {
    let dir = tempfile::tempdir().unwrap();
    let store = weft_store_sqlite::SqliteStore::open(dir.path().join("runs.db")).unwrap();
    let executor = Executor::builder()
        .store(std::sync::Arc::new(store))
        .build();
    let approval = plan(APPROVAL, "deploy", &executor);
    let base =
        serve(ServerConfig::new(executor.clone()).workflow("deploy", approval.clone())).await;
    let id = executor
        .start(&approval, json!({}))
        .unwrap()
        .id()
        .to_string();
    executor.flush().await.unwrap();

    let driver = start_driver().await;
    let c = browser(&driver, &dir.path().join("profile")).await;
    with_browser(c.clone(), async {
        c.goto(&format!("{base}/runs/{id}")).await.unwrap();
        until(
            &c,
            "the run paused with its question",
            "document.querySelector('.title-row .pill')?.textContent === 'paused' \
             && document.querySelector('form.inquiry[data-task=\"approve\"]')",
        )
        .await;
        until(
            &c,
            "approve pending in the graph",
            &format!("{} === 'pending'", node_status("approve")),
        )
        .await;
        // An answer the schema refuses: the server's message, still waiting.
        let answer = c
            .find(Locator::Css("form.inquiry[data-task=\"approve\"] textarea"))
            .await
            .unwrap();
        answer.clear().await.unwrap();
        answer.send_keys(r#"{"approved": "yes"}"#).await.unwrap();
        c.find(Locator::Css("form.inquiry[data-task=\"approve\"] button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(
            &c,
            "the refusal",
            "document.querySelector('.inquiry-result.error')?.textContent.includes('does not match the schema')",
        )
        .await;
        let answer = c
            .find(Locator::Css("form.inquiry[data-task=\"approve\"] textarea"))
            .await
            .unwrap();
        answer.clear().await.unwrap();
        answer
            .send_keys(r#"{"approved": true, "note": "ship it"}"#)
            .await
            .unwrap();
        shot(&c, "run-inquiry.png").await;
        c.find(Locator::Css("form.inquiry[data-task=\"approve\"] button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(
            &c,
            "the run succeeded",
            "document.querySelector('.title-row .pill')?.textContent === 'succeeded'",
        )
        .await;
        until(
            &c,
            "deploy succeeded",
            &format!("{} === 'succeeded'", node_status("deploy")),
        )
        .await;
        until(
            &c,
            "the question gone",
            "document.querySelector('#inquiries').hidden",
        )
        .await;
        shot(&c, "run-inquiry-answered.png").await;
    })
    .await;
    let shown = executor.inspect(id.parse().unwrap()).await.unwrap();
    assert_eq!(shown.output, json!({"approved": true}));
}
