//! `http-request` (feature `http`) against a local server: StackStorm's
//! parameters on weft's `core.http`, and StackStorm's result shape.
mod common;

use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};
use weft_runtime::RunStatus;

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: String) -> Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    Json(json!({
        "method": method.as_str(),
        "query": uri.query(),
        "authorization": header("authorization"),
        "x_token": header("x-token"),
        "body": body,
    }))
}

async fn status(Path(code): Path<u16>) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
    (code, "nope").into_response()
}

async fn server() -> String {
    let app = Router::new()
        .route("/echo", any(echo))
        .route("/status/{code}", any(status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_request_gives_stackstorms_result_with_a_parsed_json_body() {
    let base = server().await;
    let ex = common::executor();
    let input = format!(
        "{{url: \"{base}/echo\", method: POST, body: hello, params: {{q: 1}}, headers: {{X-Token: t}}, username: ada, password: pw}}"
    );
    let out = common::call(&ex, "demo.web", &input).await;
    assert_eq!(out.status, RunStatus::Succeeded, "{:?}", out.errors);
    let result = common::result(&out);
    assert_eq!(result["status_code"], 200);
    assert_eq!(result["parsed"], true);
    assert_eq!(
        result["body"],
        json!({
            "method": "POST",
            "query": "q=1",
            "authorization": "Basic YWRhOnB3",
            "x_token": "t",
            "body": "hello",
        })
    );
    assert!(result["headers"].is_object());
}

#[tokio::test]
async fn a_status_outside_200_to_206_fails_with_the_result_attached() {
    let base = server().await;
    let ex = common::executor();
    let out = common::call(&ex, "demo.web", &format!("{{url: \"{base}/status/503\"}}")).await;
    assert_eq!(out.status, RunStatus::Failed);
    let result = common::result(&out);
    assert_eq!(result["status_code"], 503);
    assert_eq!(result["body"], "nope");
    assert_eq!(result["parsed"], false);
}

#[tokio::test]
async fn what_weft_does_not_do_is_refused() {
    let ex = common::executor();
    let out = common::call(
        &ex,
        "demo.web",
        "{url: \"http://127.0.0.1:9/\", http_proxy: \"http://proxy:3128\"}",
    )
    .await;
    assert_eq!(out.status, RunStatus::Failed);
    assert!(
        common::error(&out).contains("`http_proxy` is not supported"),
        "{}",
        common::error(&out)
    );
}
