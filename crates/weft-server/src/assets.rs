//! The dashboard: plain HTML, CSS and JavaScript modules, embedded in the
//! binary (no build step, no Node).
//!
//! Every page (`/`, `/runs/{id}`) is the same shell: a small loader that
//! fetches the modules and starts the app, which routes on the address
//! (`history.pushState`, no full reloads). Modules import each other by
//! bare names (`weft/api.js`) through an import map the loader writes:
//! to `/assets/` when the server has no token, and to `blob:` copies of
//! modules it fetched with the token when it has one — a browser cannot
//! add an `Authorization` header to the requests of `<script src>`, so
//! with a token every asset is fetched by the loader itself. The token is
//! asked for once and kept in the tab's `sessionStorage`; no cookie is
//! ever set, so no other site can make the browser use it.
//!
//! The shell's inline loader, and the import map and style it adds, carry
//! a nonce that is new for every answer; the Content-Security-Policy
//! allows scripts from those, from `/assets/` and from `blob:`, and
//! nothing else.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The shell, with `{{NONCE}}` and `{{MODULES}}` to fill in.
const SHELL: &str = include_str!("../assets/index.html");

/// The assets: name, type, text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css", include_str!("../assets/app.css")),
    (
        "app.js",
        "text/javascript",
        include_str!("../assets/app.js"),
    ),
    (
        "api.js",
        "text/javascript",
        include_str!("../assets/api.js"),
    ),
    (
        "util.js",
        "text/javascript",
        include_str!("../assets/util.js"),
    ),
    (
        "runs.js",
        "text/javascript",
        include_str!("../assets/runs.js"),
    ),
    (
        "run.js",
        "text/javascript",
        include_str!("../assets/run.js"),
    ),
    (
        "graph.js",
        "text/javascript",
        include_str!("../assets/graph.js"),
    ),
    (
        "timeline.js",
        "text/javascript",
        include_str!("../assets/timeline.js"),
    ),
    (
        "events.js",
        "text/javascript",
        include_str!("../assets/events.js"),
    ),
];

/// Whether `path` is a page of the dashboard (answered with the shell).
pub(crate) fn is_page(path: &str) -> bool {
    path == "/"
        || path
            .strip_prefix("/runs/")
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// The shell of every page, with a fresh nonce.
pub(crate) fn shell() -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let modules: Vec<String> = ASSETS
        .iter()
        .filter(|(name, _, _)| name.ends_with(".js"))
        .map(|(name, _, _)| format!("\"{name}\""))
        .collect();
    let html = SHELL
        .replace("{{NONCE}}", &nonce)
        .replace("{{MODULES}}", &modules.join(", "));
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}' 'self' blob:; \
         style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let mut r = (StatusCode::OK, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// `GET /` and `GET /runs/{id}`.
pub(crate) async fn page() -> Response {
    shell()
}

/// `GET /assets/{name}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, text)) => {
            let mut r = Response::new(Body::from(*text));
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            // The assets change with the binary only; a reload after an
            // upgrade asks again.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => crate::error::ApiError::not_found(format!("no asset `{name}`")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_the_list_and_runs() {
        assert!(is_page("/"));
        assert!(is_page("/runs/0190f1c2-7a4b-7cc3-9d2e-5b8f6a1c3d4e"));
        assert!(!is_page("/runs/"));
        assert!(!is_page("/runs/x/y"));
        assert!(!is_page("/api/v1/runs"));
        assert!(!is_page("/assets/app.js"));
    }

    #[test]
    fn every_module_the_app_imports_is_embedded() {
        for (name, _, text) in ASSETS {
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("import "))
            {
                if let Some(rest) = line.split("from \"weft/").nth(1) {
                    let module = rest.split('"').next().unwrap_or_default();
                    assert!(
                        ASSETS.iter().any(|(n, _, _)| *n == module),
                        "{name} imports {module}, which is not embedded"
                    );
                }
            }
        }
    }
}
