//! The token every request must carry when the server has one, and the
//! headers every answer carries.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::App;

/// Compares in time that depends on the lengths only, not on where the
/// texts first differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// With a token: refuses (401) every request without `Authorization:
/// Bearer <token>`. A browser that opens a page of the dashboard gets the
/// page's shell with the 401: it asks for the token and loads the rest
/// with it.
pub(crate) async fn require_token(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(bearer) = &app.bearer else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if same(given, bearer.as_bytes()) {
        return next.run(req).await;
    }
    let page = req.method() == Method::GET
        && app.config.dashboard
        && crate::assets::is_page(req.uri().path());
    let mut response = if page {
        let mut r = crate::assets::shell();
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            if given.is_empty() {
                "this server needs a token: send `Authorization: Bearer <token>`"
            } else {
                "the token is not this server's: send `Authorization: Bearer <token>` with \
                 the token weft serve was given"
            },
        )
        .into_response()
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"weft\""),
    );
    response
}

/// Headers on every answer: nothing is sniffed, framed, cached or sent as
/// a referrer.
pub(crate) async fn headers(req: Request<Body>, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"Bearer abc", b"Bearer abc"));
        assert!(!same(b"Bearer abd", b"Bearer abc"));
        assert!(!same(b"Bearer ab", b"Bearer abc"));
        assert!(!same(b"", b"Bearer abc"));
    }
}
