//! `POST /v1/stations/mailroom/scans`: one code scanned at a mailroom station, answered with
//! what the clerk must do (src/station/mailroom.rs). The station authenticates with its own
//! bearer token; its name is the station recorded in the audit trail.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, error};
use crate::post::pnd::ReturnReason;
use crate::station::mailroom;
use crate::store::returns::Scanner;

/// A scan is a short text: anything larger is not one.
const MAX_SCAN_BODY: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanBody {
    /// The code as read (prefix, suffix, terminator and AIM identifier already stripped).
    code: String,
    /// The reason in force at the station (`npai`...), if one was scanned.
    #[serde(default)]
    reason: Option<String>,
    /// The clerk signed in at the station.
    clerk: String,
}

pub async fn scan(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let Some(station) = state.station_of(&headers).await else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid station bearer token is required",
        );
    };
    let Ok(bytes) = to_bytes(body, MAX_SCAN_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("a scan is at most {MAX_SCAN_BODY} bytes"),
        );
    };
    let scan: ScanBody = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed_scan",
                &format!(
                    "the body is not {{\"code\", \"clerk\", \"reason\"?}}: {e} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            );
        }
    };
    let clerk = scan.clerk.trim();
    if clerk.is_empty() || clerk.len() > 64 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_clerk",
            "clerk: the clerk's name is required (1 to 64 characters)",
        );
    }
    let reason = match scan.reason.as_deref() {
        None => None,
        Some(name) => match ReturnReason::parse(name) {
            Some(r) => Some(r),
            None => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_reason",
                    &format!("reason: {name:?} is not a return reason code (docs/returns.md)"),
                );
            }
        },
    };
    let by = Scanner {
        station: &station,
        clerk,
    };
    match mailroom::handle(&state.store, by, &scan.code, reason, state.decision_wait_ms).await {
        Ok(answer) => {
            let outcome = serde_json::to_value(answer.outcome).unwrap_or_default();
            super::metrics::scanned("mailroom", outcome.as_str().unwrap_or("?"));
            (StatusCode::OK, Json(answer)).into_response()
        }
        Err(e) => {
            tracing::error!(station = %station, error = %e, "mailroom scan failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "scan_not_recorded",
                &format!("the scan was not recorded ({e}): scan it again"),
            )
        }
    }
}
