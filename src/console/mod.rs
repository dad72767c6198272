//! The web console (docs/console.md): server-rendered French pages for operators, the
//! mailroom, quality analysts, supervisors and admins. No front-end build chain: HTML from
//! Rust, one stylesheet, one small script (the scan page's no-reload posting and beep).

pub mod html;

mod admin;
mod approvals;
mod batches;
mod cards;
pub mod dashboard;
mod login;
mod mailroom;
mod pages;
mod previews;
mod review;
mod session;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use previews::Previews;
pub use session::{login_cookie, session_cookie};

use crate::service::AppState;

/// Console settings.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleSettings {
    /// `Secure` cookies with the `__Host-` prefix: on, except on a plain-HTTP test bench.
    pub secure_cookies: bool,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            secure_cookies: true,
        }
    }
}

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The console's routes, under `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(dashboard::show))
        .route("/console/login", get(login::show).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/cards", get(cards::search))
        .route("/console/cards/{number}", get(cards::show))
        .route("/console/cards/{number}/files/{name}", get(cards::file))
        .route(
            "/console/cards/{number}/preview/{side}",
            get(cards::preview),
        )
        .route("/console/batches", get(batches::list))
        .route("/console/batches/{id}/{file}", get(batches::document))
        .route("/console/batches/{id}/hand-over", post(batches::hand_over))
        .route("/console/mailroom", get(mailroom::show))
        .route("/console/mailroom/scan", post(mailroom::scan))
        .route("/console/quality", get(approvals::quality))
        .route("/console/approvals", get(approvals::inbox))
        .route(
            "/console/approvals/destructions/{id}",
            post(approvals::destruction),
        )
        .route("/console/approvals/waivers/{id}", post(approvals::waiver))
        .route("/console/review", get(review::show))
        .route("/console/review/{number}/release", post(review::release))
        .route("/console/review/{number}/reject", post(review::reject))
        .route("/console/review/{number}/cancel", post(review::cancel))
        .route("/console/users", get(admin::users).post(admin::add_user))
        .route(
            "/console/users/{username}/disable",
            post(admin::disable_user),
        )
        .route("/console/tokens", post(admin::issue_token))
        .route("/console/tokens/{id}/revoke", post(admin::revoke_token))
        .route("/console/events", get(admin::events))
        .route("/console/events/retry", post(admin::retry))
        .route(
            "/console/static/console.css",
            get(|| asset("text/css; charset=utf-8", CSS)),
        )
        .route(
            "/console/static/console.js",
            get(|| asset("text/javascript; charset=utf-8", JS)),
        )
        .layer(axum::middleware::map_response(protect))
}

async fn asset(mime: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Headers on every console answer: no script but ours, no framing, nothing cached that
/// holds personal data, no MIME sniffing.
async fn protect(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    resp
}
