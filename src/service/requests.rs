//! `POST /v1/requests` and `GET /v1/requests/{id}` (portal contract v1); the correction of a
//! stopped card is in `corrections.rs`.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, MAX_BODY_BYTES, error};
use crate::domain::violation::Violation;
use crate::intake::{IntakeError, Submission};

const PORTAL: &str = "portal";

pub(super) fn unauthorised() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid portal bearer token is required",
    )
}

pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if !state.portal_admits(&headers).await {
        return unauthorised();
    }
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request as Content-Type: application/json",
        );
    }
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                &format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            );
        }
    };
    match state.intake.submit_bytes(bytes, PORTAL).await {
        Ok(Submission::Created(a)) => (StatusCode::CREATED, Json(a.body)).into_response(),
        Ok(Submission::Replayed(a)) => (StatusCode::OK, Json(a.body)).into_response(),
        Err(IntakeError::Invalid(violations)) => invalid(&violations),
        Err(IntakeError::Conflict { request_id }) => error(
            StatusCode::CONFLICT,
            "request_conflict",
            &format!("request {request_id} already exists with a different body"),
        ),
        Err(IntakeError::Store(e)) => {
            tracing::error!(error = %e, "intake failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the request could not be stored; retry later",
            )
        }
    }
}

/// 422 listing every problem: `{"errors": [{path, code, message}]}` (portal contract).
pub(super) fn invalid(violations: &[Violation]) -> Response {
    let errors: Vec<_> = violations
        .iter()
        .map(|v| json!({ "path": v.path, "code": v.code.as_str(), "message": v.message }))
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "errors": errors })),
    )
        .into_response()
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
) -> Response {
    if !state.portal_admits(&headers).await {
        return unauthorised();
    }
    match state.intake.status(&request_id).await {
        Ok(Some(body)) => (StatusCode::OK, Json(body)).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "unknown_request",
            &format!("no request {request_id}"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "status read failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "retry later",
            )
        }
    }
}
