//! `core.http` (the `http` feature) against a local server that each test
//! starts on 127.0.0.1: requests, results, failures and the input checks.
mod common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};
use weft_core::TaskStatus;
use weft_runtime::{Executor, RunOutcome, RunStatus};

/// What the server saw, as JSON.
async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: String) -> Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    Json(json!({
        "method": method.as_str(),
        "query": uri.query(),
        "x_token": header("x-token"),
        "content_type": header("content-type"),
        "body": body,
    }))
}

async fn status(Path(code): Path<u16>) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
    (code, Json(json!({"error": "nope"}))).into_response()
}

/// A body that never ends: 64 KiB chunks for as long as the client reads.
async fn endless() -> Response {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures::stream::repeat_with(move || Ok::<_, Infallible>(chunk.clone()));
    Body::from_stream(stream).into_response()
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// Starts the server on a free port; returns its base URL.
async fn server() -> String {
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/text", get(|| async { "plain text" }))
        .route("/json-as-text", get(|| async { "[1, 2]" }))
        .route("/status/{code}", any(status))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/endless", get(endless))
        .route("/redirect", get(|| async { redirect("/echo") }))
        .route("/loop", get(|| async { redirect("/loop") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// One `core.http` task with `input` (JSON is YAML flow syntax).
async fn call(input: Value) -> RunOutcome {
    let ex = Executor::new();
    let yaml = format!("tasks:\n  t: {{action: core.http, input: {input}}}\n");
    // Names only: these tests check what the action itself rejects.
    let plan = common::plan_names_only(&ex, &yaml);
    common::run(&ex, &plan, json!({})).await
}

fn error(out: &RunOutcome) -> &str {
    out.tasks[0].error.as_deref().unwrap_or_default()
}

#[tokio::test]
async fn get_sends_the_query_and_headers() {
    let base = server().await;
    let out = call(json!({
        "url": format!("{base}/echo?a=1"),
        "query": {"b": 2, "c": "x y", "d": true, "left_out": null},
        "headers": {"X-Token": "t0k", "X-Count": 3, "X-Left-Out": null},
    }))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let r = common::result(&out, "t");
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["body_truncated"], false);
    assert_eq!(r["headers"]["content-type"], "application/json");
    assert_eq!(r["url"], format!("{base}/echo?a=1&b=2&c=x+y&d=true"));
    assert_eq!(r["json"]["method"], "GET");
    assert_eq!(r["json"]["query"], "a=1&b=2&c=x+y&d=true");
    assert_eq!(r["json"]["x_token"], "t0k");
    // `json` is the body, parsed.
    let body: Value = serde_json::from_str(r["body"].as_str().expect("text")).expect("json");
    assert_eq!(body, r["json"]);
}

#[tokio::test]
async fn post_sends_a_json_body() {
    let base = server().await;
    let out = call(json!({
        "url": format!("{base}/echo"),
        "method": "post",
        "json": {"a": [1, 2], "b": null},
    }))
    .await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let r = common::result(&out, "t");
    assert_eq!(r["json"]["method"], "POST");
    assert_eq!(r["json"]["content_type"], "application/json");
    let sent: Value =
        serde_json::from_str(r["json"]["body"].as_str().expect("text")).expect("json");
    assert_eq!(sent, json!({"a": [1, 2], "b": null}));
}

#[tokio::test]
async fn a_text_body_is_sent_as_text_unless_a_content_type_is_given() {
    let base = server().await;
    let out = call(json!({"url": format!("{base}/echo"), "method": "PUT", "body": "hello"})).await;
    let r = common::result(&out, "t");
    assert_eq!(r["json"]["method"], "PUT");
    assert_eq!(r["json"]["body"], "hello");
    assert_eq!(r["json"]["content_type"], "text/plain; charset=utf-8");

    let out = call(json!({
        "url": format!("{base}/echo"),
        "method": "POST",
        "body": "<a/>",
        "headers": {"Content-Type": "application/xml"},
    }))
    .await;
    let r = common::result(&out, "t");
    assert_eq!(r["json"]["body"], "<a/>");
    assert_eq!(r["json"]["content_type"], "application/xml");
}

#[tokio::test]
async fn a_response_that_is_not_json_has_a_body_and_no_json() {
    let base = server().await;
    let out = call(json!({"url": format!("{base}/text")})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let r = common::result(&out, "t");
    assert_eq!(r["body"], "plain text");
    assert!(r.get("json").is_none(), "{r}");

    // Only a JSON content type is parsed, whatever the body looks like.
    let out = call(json!({"url": format!("{base}/json-as-text")})).await;
    let r = common::result(&out, "t");
    assert_eq!(r["headers"]["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r["body"], "[1, 2]");
    assert!(r.get("json").is_none(), "{r}");
}

#[tokio::test]
async fn a_status_outside_2xx_fails_the_task_with_the_result_attached() {
    let base = server().await;
    let ex = Executor::new();
    // A transition on the failure reads the attached result.
    let yaml = format!(
        r#"
tasks:
  t:
    action: core.http
    input: {{url: "{base}/status/404", headers: {{Authorization: "Bearer s3cret"}}}}
    next:
      - when: "{{{{ failed() }}}}"
        publish:
          - code: "{{{{ result().status_code }}}}"
          - why: "{{{{ result().json.error }}}}"
        do: noop
output:
  - code: "{{{{ workflow.code }}}}"
  - why: "{{{{ workflow.why }}}}"
"#
    );
    let plan = common::plan(&ex, &yaml);
    let out = common::run(&ex, &plan, json!({})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    assert_eq!(out.tasks[0].status, TaskStatus::Failed);
    assert_eq!(
        error(&out),
        format!("core.http: GET {base}/status/404 returned 404 Not Found")
    );
    assert_eq!(out.output["code"], 404);
    assert_eq!(out.output["why"], "nope");
    assert_eq!(common::result(&out, "t")["status_code"], 404);

    let out = call(json!({"url": format!("{base}/status/503")})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        error(&out).ends_with("returned 503 Service Unavailable"),
        "{}",
        error(&out)
    );
}

#[tokio::test]
async fn a_slow_response_times_out() {
    let base = server().await;
    let started = Instant::now();
    let out = call(json!({"url": format!("{base}/slow"), "timeout": 0.2})).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        error(&out),
        format!("core.http: GET {base}/slow: no complete response within 0.2 s (raise `timeout`)")
    );
}

#[tokio::test]
async fn reading_stops_at_max_response_bytes() {
    let base = server().await;
    // A body that never ends: reading stops at the cap, and the task ends.
    let out = call(json!({"url": format!("{base}/endless"), "max_response_bytes": 100_000})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let r = common::result(&out, "t");
    assert_eq!(r["body"].as_str().map(str::len), Some(100_000));
    assert_eq!(r["body_truncated"], true);

    // Exactly at the cap is not truncated; one byte less is.
    let text = format!("{base}/text");
    let whole = call(json!({"url": text, "max_response_bytes": 10})).await;
    let r = common::result(&whole, "t");
    assert_eq!(
        (r["body"].clone(), r["body_truncated"].clone()),
        (json!("plain text"), json!(false))
    );
    let cut = call(json!({"url": text, "max_response_bytes": 9})).await;
    let r = common::result(&cut, "t");
    assert_eq!(
        (r["body"].clone(), r["body_truncated"].clone()),
        (json!("plain tex"), json!(true))
    );

    // A JSON body cut short is not parsed.
    let out = call(json!({"url": format!("{base}/echo"), "max_response_bytes": 5})).await;
    let r = common::result(&out, "t");
    assert_eq!(r["body_truncated"], true);
    assert!(r.get("json").is_none(), "{r}");
}

#[tokio::test]
async fn redirects_are_followed_up_to_a_limit() {
    let base = server().await;
    let out = call(json!({"url": format!("{base}/redirect")})).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let r = common::result(&out, "t");
    assert_eq!(r["status_code"], 200);
    assert_eq!(r["url"], format!("{base}/echo"));
    assert_eq!(r["json"]["method"], "GET");

    let out = call(json!({"url": format!("{base}/loop")})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert_eq!(
        error(&out),
        format!("core.http: GET {base}/loop: more than 10 redirects (set `follow_redirects: false` to get the first response)")
    );

    let out = call(json!({"url": format!("{base}/redirect"), "follow_redirects": false})).await;
    assert_eq!(out.status, RunStatus::Failed);
    let r = common::result(&out, "t");
    assert_eq!(r["status_code"], 302);
    assert_eq!(r["headers"]["location"], "/echo");
}

#[tokio::test]
async fn a_bad_url_is_an_error_naming_the_input() {
    for (url, expected) in [
        (json!("not a url"), "core.http: input `url` is not a valid URL (relative URL without a base): `not a url`"),
        (json!("ftp://127.0.0.1/x"), "core.http: input `url` must be an http:// or https:// URL, not ftp: `ftp://127.0.0.1/x`"),
        (json!("file:///etc/passwd"), "core.http: input `url` must be an http:// or https:// URL, not file: `file:///etc/passwd`"),
        (json!(42), "core.http: input `url` must be a string, not a number"),
    ] {
        let out = call(json!({"url": url})).await;
        assert_eq!(out.status, RunStatus::Failed);
        assert_eq!(error(&out), expected);
    }
    let out = call(json!({"method": "GET"})).await;
    assert!(
        error(&out).starts_with("core.http: missing input `url`"),
        "{}",
        error(&out)
    );
}

#[tokio::test]
async fn an_unknown_input_is_an_error_naming_it() {
    // Compiling against the executor finds it first.
    let err = weft_core::Workflow::from_yaml_str(
        "tasks:\n  t: {action: core.http, input: {url: 'http://127.0.0.1:9/', hedaers: {}}}\n",
    )
    .unwrap()
    .compile(&Executor::new())
    .unwrap_err();
    assert!(
        err.message()
            .contains("`core.http` has no input `hedaers`: did you mean `headers`?"),
        "{err}"
    );
    let out = call(json!({"url": "http://127.0.0.1:9/", "bogus": 1})).await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        error(&out).starts_with("core.http: unknown input `bogus` (it takes: url, method,"),
        "{}",
        error(&out)
    );
}

#[tokio::test]
async fn inputs_of_the_wrong_shape_are_errors_naming_them() {
    let url = "http://127.0.0.1:9/";
    for (input, expected) in [
        (json!({"url": url, "body": "a", "json": {}}), "core.http: give `body` (text) or `json`, not both"),
        (json!({"url": url, "body": {"a": 1}}), "core.http: input `body` must be a string (use `json` to send a JSON body), not a map"),
        (json!({"url": url, "method": "FETCH"}), "core.http: input `method` must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, not `FETCH`"),
        (json!({"url": url, "timeout": 0}), "core.http: input `timeout` must be more than 0 seconds, not 0"),
        (json!({"url": url, "timeout": "1"}), "core.http: input `timeout` must be a number of seconds, not a string"),
        (json!({"url": url, "max_response_bytes": -1}), "core.http: input `max_response_bytes` must be a whole number, 0 or more, not -1"),
        (json!({"url": url, "verify_tls": "no"}), "core.http: input `verify_tls` must be true or false, not a string"),
        (json!({"url": url, "headers": ["a"]}), "core.http: input `headers` must be a map of strings, not a list"),
        (json!({"url": url, "headers": {"a b": "x"}}), "core.http: `a b` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"),
        (json!({"url": url, "query": {"q": [1]}}), "core.http: `query.q` must be a string, number or bool, not a list"),
    ] {
        let out = call(input.clone()).await;
        assert_eq!(out.status, RunStatus::Failed, "{input}");
        assert_eq!(error(&out), expected, "{input}");
    }
}

#[tokio::test]
async fn errors_never_show_header_values_or_url_passwords() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let out = call(json!({
        "url": format!("http://ada:pa55word@{addr}/x"),
        "headers": {"Authorization": "Bearer s3cret-token"},
    }))
    .await;
    assert_eq!(out.status, RunStatus::Failed);
    let message = error(&out);
    assert!(
        message.starts_with(&format!(
            "core.http: GET http://ada:***@{addr}/x: cannot connect"
        )),
        "{message}"
    );
    assert!(
        !message.contains("s3cret") && !message.contains("pa55word"),
        "{message}"
    );

    let out = call(json!({
        "url": format!("http://{addr}/x"),
        "headers": {"X-Token": "s3cret\r\nInjected: yes"},
    }))
    .await;
    let message = error(&out);
    assert_eq!(
        message,
        "core.http: header `X-Token` has a value that cannot be sent (no line breaks or other control characters); the value is not shown"
    );
}
