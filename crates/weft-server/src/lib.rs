//! weft's HTTP API and live web dashboard over a store of durable runs.
//!
//! [`router`] gives an [`axum::Router`] a host service can serve or mount
//! beside its own routes; the `weft serve` command serves it. It shows the
//! runs of the executor's store (SQLite or Postgres), rebuilt from their
//! journals the way `weft show` does, follows them live (Server-Sent
//! Events from the journal), and starts, cancels, pauses, resumes and
//! re-runs them through the executor.
//!
//! | path | what |
//! |---|---|
//! | `GET /api/v1` | what this server can do ([`model::Capabilities`]) |
//! | `GET /api/v1/runs` | runs, newest first, paged by cursor (`?status=&workflow=&since=&until=&top_level=&cursor=&limit=`) |
//! | `POST /api/v1/runs` | start a registered workflow by name, or YAML text when allowed |
//! | `GET /api/v1/runs/{id}` | one run: inputs (secrets masked), output, errors, tasks, sub-workflow runs |
//! | `GET /api/v1/runs/{id}/instances` | its task instances, paged; `/{n}` one whole, `/{n}/attempts` its attempts |
//! | `GET /api/v1/runs/{id}/graph` | its task graph, laid out |
//! | `GET /api/v1/runs/{id}/events` | its events, live (SSE), resumable with `Last-Event-ID` |
//! | `POST /api/v1/runs/{id}/cancel`, `pause`, `resume`, `rerun` | commands |
//! | `GET /api/v1/runs/{id}/inquiries` | its tasks that wait for an answer, with their schemas |
//! | `POST /api/v1/runs/{id}/tasks/{task}/respond` | answer one (`{"response": ...}`): 422 when the schema refuses it |
//! | `POST /api/v1/purge` | delete runs that ended long enough ago |
//! | `GET /api/v1/openapi.json` | the OpenAPI document of all of this |
//! | `GET /`, `GET /runs/{id}` | the dashboard |
//!
//! Errors are JSON, `{"error": {"code", "message", "details"}}`, with the
//! text the `weft` command prints ([`ApiError`]).
//!
//! # Security
//!
//! With [`ServerConfig::token`], every request (API, dashboard, assets,
//! event streams) must carry `Authorization: Bearer <token>`, else 401.
//! No cookie is ever set, so a page of another site cannot act with the
//! user's rights. Bodies are limited ([`ServerConfig::max_body_bytes`]).
//! Secret inputs are masked in everything served. Workflow text is run
//! only with [`ServerConfig::allow_yaml`]. Where to listen is the host's
//! choice; `weft serve` listens on loopback unless given a token.
//!
//! # Examples
//!
//! ```no_run
//! use std::sync::Arc;
//! use weft_runtime::Executor;
//! use weft_store_sqlite::SqliteStore;
//! use weft_server::ServerConfig;
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(SqliteStore::open("runs.db")?);
//! let executor = Executor::builder().store(store).build();
//! let app = weft_server::router(ServerConfig::new(executor));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod api;
mod assets;
mod auth;
mod config;
mod error;
mod events;
mod graph;
pub mod model;
mod snapshot;
mod state;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::{Mode, ServerConfig, DEFAULT_MAX_BODY_BYTES, DEFAULT_POLL_INTERVAL};
pub use error::{ApiError, ErrorBody, ErrorDetail, ErrorObject};

use state::App;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "weft",
        description = "The HTTP API of weft serve: runs of a store of durable runs, their \
                       events, and the commands on them. Errors are `{\"error\": {\"code\", \
                       \"message\", \"details\"}}`."
    ),
    modifiers(&BearerToken),
    tags(
        (name = "server", description = "What the server can do"),
        (name = "runs", description = "Runs, their tasks, graph and events"),
        (name = "commands", description = "Starting and steering runs"),
    )
)]
struct ApiDoc;

/// Declares the bearer token (required when the server has one).
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "token",
            Vec::<String>::new(),
        )]);
    }
}

/// The API's routes with their OpenAPI document.
fn api_router() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::runs::capabilities))
        .routes(routes!(api::runs::workflows))
        .routes(routes!(api::runs::list_runs, api::commands::submit_run))
        .routes(routes!(api::runs::get_run))
        .routes(routes!(api::runs::list_instances))
        .routes(routes!(api::runs::get_instance))
        .routes(routes!(api::runs::list_attempts))
        .routes(routes!(api::runs::get_graph))
        .routes(routes!(api::runs::events))
        .routes(routes!(api::commands::cancel_run))
        .routes(routes!(api::commands::pause_run))
        .routes(routes!(api::commands::resume_run))
        .routes(routes!(api::commands::rerun_run))
        .routes(routes!(api::commands::respond))
        .routes(routes!(api::commands::run_inquiries))
        .routes(routes!(api::commands::purge))
}

/// The OpenAPI document of the API, as `GET /api/v1/openapi.json` serves
/// it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// The API and the dashboard over `config`'s executor and its store (see
/// the [crate docs](crate) for the routes). Serve it with `axum::serve`,
/// or nest it in a router of your own (the dashboard expects to be at
/// `/`; behind a path prefix, serve the API alone with
/// [`ServerConfig::dashboard`]).
///
/// Must be called inside a tokio runtime (the event streams run tasks of
/// their own).
pub fn router(config: ServerConfig) -> Router {
    let dashboard = config.dashboard;
    let max_body = config.max_body_bytes;
    let app = App::new(config);
    let (api, doc) = api_router().split_for_parts();
    let doc = std::sync::Arc::new(doc);
    let mut router = api.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json((*doc).clone()) }
        }),
    );
    if dashboard {
        router = router
            .route("/", get(assets::page))
            .route("/runs/{id}", get(assets::page))
            .route("/assets/{name}", get(assets::asset));
    }
    router
        .fallback(|| async {
            ApiError::not_found("no such path: the API is under /api/v1 (see /api/v1/openapi.json)")
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn(auth::headers))
        .with_state(app)
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::ServerConfig>();
        assert_send_sync::<crate::ApiError>();
    }
}
