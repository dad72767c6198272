//! `GET /v1/requests/{request_id}/certificate.pdf`: the certificate of qualification of an
//! accepted request, for the portal to hand to the driver (docs/certificate.md).

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::requests::unauthorised;
use super::{AppState, error};
use crate::certificate::fill::FillError;
use crate::certificate::{self, CertificateError};

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
) -> Response {
    if !state.portal_admits(&headers).await {
        return unauthorised();
    }
    let made = match certificate::for_request(&state.store, &request_id, &state.certificate_issuer)
        .await
    {
        Ok(c) => tokio::task::spawn_blocking(move || certificate::render(&c))
            .await
            .unwrap_or_else(|e| {
                Err(CertificateError::Corrupt {
                    request_id: request_id.clone(),
                    what: format!("the rendering task failed: {e}"),
                })
            }),
        Err(e) => Err(e),
    };
    match made {
        Ok(pdf) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, "application/pdf".to_string()),
                (
                    CONTENT_DISPOSITION,
                    format!("inline; filename=\"{}\"", file_name(&request_id)),
                ),
                // Personal data: no shared cache keeps a copy.
                (CACHE_CONTROL, "private, no-store".to_string()),
            ],
            pdf,
        )
            .into_response(),
        Err(e) => refusal(&e),
    }
}

/// `certificat-<request id>.pdf`, with anything but letters, digits, '-' and '_' replaced,
/// so that no request id can break the header.
pub fn file_name(request_id: &str) -> String {
    let safe: String = request_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("certificat-{safe}.pdf")
}

fn refusal(e: &CertificateError) -> Response {
    match e {
        CertificateError::UnknownRequest(_) => {
            error(StatusCode::NOT_FOUND, "unknown_request", &e.to_string())
        }
        CertificateError::NotAccepted { state, .. } => (
            StatusCode::CONFLICT,
            axum::Json(json!({
                "error": "request_not_accepted",
                "message": e.to_string(),
                "status": state,
            })),
        )
            .into_response(),
        CertificateError::Fill(FillError::Purged { .. }) => {
            error(StatusCode::GONE, "personal_data_purged", &e.to_string())
        }
        CertificateError::Store(_) => {
            tracing::error!(error = %e, "certificate: store unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "retry later",
            )
        }
        CertificateError::Fill(FillError::Corrupt { .. })
        | CertificateError::Corrupt { .. }
        | CertificateError::Page(_) => {
            tracing::error!(error = %e, "certificate could not be made");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "certificate_failed",
                &e.to_string(),
            )
        }
    }
}
