//! `POST /v1/requests/{request_id}/correction`: the driver's correction of a stopped card
//! (docs/corrections.md). The work is intake's (`crate::intake::correction`); this is the
//! HTTP edge, with the same answers as `POST /v1/requests`.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::requests::{invalid, is_json, unauthorised};
use super::{AppState, MAX_BODY_BYTES, error};
use crate::intake::correction::CorrectionError;

pub async fn correct(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
    body: Body,
) -> Response {
    if !state.portal_admits(&headers).await {
        return unauthorised();
    }
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the correction as Content-Type: application/json",
        );
    }
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        );
    };
    match state.intake.correct(&request_id, &bytes, "portal").await {
        Ok(c) if c.replayed => (StatusCode::OK, Json(c.body)).into_response(),
        Ok(c) => (StatusCode::ACCEPTED, Json(c.body)).into_response(),
        Err(CorrectionError::UnknownRequest(id)) => error(
            StatusCode::NOT_FOUND,
            "unknown_request",
            &format!("no request {id}"),
        ),
        Err(e @ CorrectionError::NotWaiting { .. }) => error(
            StatusCode::CONFLICT,
            "not_waiting_for_correction",
            &e.to_string(),
        ),
        Err(e @ CorrectionError::Purged(_)) => {
            error(StatusCode::CONFLICT, "request_purged", &e.to_string())
        }
        Err(CorrectionError::Invalid(violations)) => invalid(&violations),
        Err(CorrectionError::Store(e)) => {
            tracing::error!(error = %e, "correction failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the correction could not be stored; retry later",
            )
        }
    }
}
