//! The HTTP service: the portal API (and, with later capabilities, stations and the console).

mod auth;
mod requests;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub use auth::Token;

use crate::intake::Intake;
use crate::store::Store;

/// The largest request body the portal may send (contract: 413 above).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub intake: Intake,
    pub portal_token: Arc<Option<Token>>,
}

impl AppState {
    pub fn new(store: Store, portal_token: Option<Token>) -> Self {
        AppState {
            intake: Intake::new(store.clone()),
            store,
            portal_token: Arc::new(portal_token),
        }
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/requests", post(requests::create))
        .route("/v1/requests/{request_id}", get(requests::show))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state)
}

async fn ready(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            &e.to_string(),
        ),
    }
}

/// A JSON error answer `{ "error": code, "message": ... }`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": code, "message": message })),
    )
        .into_response()
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
