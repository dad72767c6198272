//! The HTTP service: the portal API, the station API and the web console (src/console).

mod auth;
mod certificate;
mod mailroom;
mod metrics;
mod quality;
mod requests;
mod returns;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub use auth::{Stations, Token};
pub use metrics::scanned;

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
    /// The stations that may call the station routes (the mailroom).
    pub stations: Arc<Stations>,
    /// How long a returned card waits for its holder's decision, in milliseconds.
    pub decision_wait_ms: i64,
    /// The CSCA certificate the quality desk verifies chips with.
    pub csca: Arc<Option<x509_cert::Certificate>>,
    /// The web console's settings.
    pub console: crate::console::ConsoleSettings,
    /// Card previews drawn for the console; `None`: the card page shows none.
    pub previews: Option<crate::console::Previews>,
    /// Who establishes the certificates of qualification (printed on them).
    pub certificate_issuer: Arc<str>,
}

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

impl AppState {
    pub fn new(store: Store, portal_token: Option<Token>) -> Self {
        AppState {
            intake: Intake::new(store.clone()),
            store,
            portal_token: Arc::new(portal_token),
            stations: Arc::new(Stations::default()),
            decision_wait_ms: i64::from(crate::config::DEFAULT_DECISION_DAYS) * DAY_MS,
            csca: Arc::new(None),
            console: crate::console::ConsoleSettings::default(),
            previews: None,
            certificate_issuer: Arc::from(crate::certificate::DEFAULT_ISSUER),
        }
    }

    /// Certificates of qualification name `issuer` as the company that established them.
    pub fn with_certificate_issuer(mut self, issuer: &str) -> Self {
        self.certificate_issuer = Arc::from(issuer);
        self
    }

    /// The console draws card previews with this renderer.
    pub fn with_renderer(mut self, renderer: Arc<crate::render::Renderer>) -> Self {
        self.previews = Some(crate::console::Previews::new(renderer));
        self
    }

    /// The console runs with these settings.
    pub fn with_console(mut self, console: crate::console::ConsoleSettings) -> Self {
        self.console = console;
        self
    }

    /// Admits these stations (name, token).
    pub fn with_stations(mut self, stations: &[(String, String)]) -> Self {
        self.stations = Arc::new(Stations::new(stations));
        self
    }

    /// The quality desk verifies chips against this CSCA.
    pub fn with_csca(mut self, csca: x509_cert::Certificate) -> Self {
        self.csca = Arc::new(Some(csca));
        self
    }

    /// A returned card waits `days` for its holder's decision.
    pub fn with_decision_days(mut self, days: u32) -> Self {
        self.decision_wait_ms = i64::from(days) * DAY_MS;
        self
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/requests", post(requests::create))
        .route("/v1/requests/{request_id}", get(requests::show))
        .route(
            "/v1/requests/{request_id}/certificate.pdf",
            get(certificate::show),
        )
        .route("/v1/returns/{piece_id}/decision", post(returns::decide))
        .route("/v1/stations/mailroom/scans", post(mailroom::scan))
        .route("/v1/stations/quality/scans", post(quality::scan))
        .route(
            "/v1/stations/quality/cases/{id}/diagnostic",
            post(quality::diagnostic),
        )
        .route(
            "/v1/stations/quality/cases/{id}/defects",
            post(quality::defect),
        )
        .route(
            "/v1/stations/quality/cases/{id}/verdict",
            post(quality::verdict),
        )
        .route(
            "/v1/quality-returns/{case_id}/holder-correction",
            post(quality::holder_correction),
        )
        .route("/metrics", get(metrics::show))
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .merge(crate::console::router())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// The OpenAPI document of the portal and station routes (kept in docs/, where people read it).
const OPENAPI: &str = include_str!("../../docs/openapi.json");

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
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
