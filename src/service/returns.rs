//! `POST /v1/returns/{piece_id}/decision` (portal contract): the holder's answer to a card
//! the post brought back: `resend` to the same address, or `readdress` to a new, validated
//! address with the payment reference of the readdressing fee.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{AppState, error};
use crate::domain::violation::{Code, Violation};
use crate::store::returns::{Decision, DecisionError};

/// A decision is a small document; an address is well under this.
const MAX_DECISION_BODY: usize = 64 * 1024;

const PORTAL: &str = "portal";

fn invalid(violations: &[Violation]) -> Response {
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

/// The decision in `body`, or every problem found in it.
fn parse(body: &Value) -> Result<Decision, Vec<Violation>> {
    let Value::Object(map) = body else {
        return Err(vec![Violation::new(
            "$",
            Code::WrongType,
            "expected an object",
        )]);
    };
    let mut errors = Vec::new();
    let allowed: &[&str] = match map.get("action").and_then(Value::as_str) {
        Some("resend") => &["action"],
        Some("readdress") => &["action", "payment_ref", "delivery_address"],
        Some(other) => {
            return Err(vec![Violation::new(
                "action",
                Code::InvalidValue,
                format!("{other:?} is not a decision: resend or readdress"),
            )]);
        }
        None => {
            return Err(vec![Violation::new(
                "action",
                Code::MissingField,
                "action is required: resend or readdress",
            )]);
        }
    };
    for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errors.push(Violation::new(
            key.as_str(),
            Code::UnknownField,
            format!(
                "unknown field {key:?}; allowed here: {}",
                allowed.join(", ")
            ),
        ));
    }
    if map.get("action").and_then(Value::as_str) == Some("resend") {
        return if errors.is_empty() {
            Ok(Decision::Resend)
        } else {
            Err(errors)
        };
    }
    let payment_ref = match map.get("payment_ref") {
        Some(Value::String(p)) if !p.trim().is_empty() && p.len() <= 64 => Some(p.trim()),
        Some(Value::String(_)) => {
            errors.push(Violation::new(
                "payment_ref",
                Code::InvalidValue,
                "payment_ref must be 1 to 64 characters",
            ));
            None
        }
        Some(_) => {
            errors.push(Violation::new(
                "payment_ref",
                Code::WrongType,
                "expected a string",
            ));
            None
        }
        None => {
            errors.push(Violation::new(
                "payment_ref",
                Code::MissingField,
                "a readdress is paid: payment_ref is required",
            ));
            None
        }
    };
    let address = match map.get("delivery_address") {
        Some(v) => match crate::intake::delivery_address_of(v) {
            Ok(a) => Some(a),
            Err(vs) => {
                errors.extend(vs);
                None
            }
        },
        None => {
            errors.push(Violation::new(
                "delivery_address",
                Code::MissingField,
                "a readdress needs the new delivery_address",
            ));
            None
        }
    };
    match (payment_ref, address) {
        (Some(p), Some(address)) if errors.is_empty() => Ok(Decision::Readdress {
            payment_ref: p.to_string(),
            address,
        }),
        _ => Err(errors),
    }
}

pub async fn decide(
    State(state): State<AppState>,
    Path(piece_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.portal_admits(&headers).await {
        return super::requests::unauthorised();
    }
    if !super::requests::is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the decision as Content-Type: application/json",
        );
    }
    let Ok(bytes) = to_bytes(body, MAX_DECISION_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("a decision is at most {MAX_DECISION_BODY} bytes"),
        );
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return invalid(&[Violation::new(
                "$",
                Code::MalformedJson,
                format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
            )]);
        }
    };
    let decision = match parse(&value) {
        Ok(d) => d,
        Err(vs) => return invalid(&vs),
    };
    match state.store.decide(&piece_id, &decision, PORTAL).await {
        Ok(d) => (
            StatusCode::OK,
            Json(json!({
                "piece_id": d.piece_id,
                "card_number": d.card_number,
                "decision": d.decision,
                "status": "awaiting_new_carrier",
            })),
        )
            .into_response(),
        Err(DecisionError::Unknown(id)) => error(
            StatusCode::NOT_FOUND,
            "unknown_piece",
            &format!("piece {id} is not known, or was never returned"),
        ),
        Err(e @ DecisionError::NotAwaiting { .. }) => error(
            StatusCode::CONFLICT,
            "not_awaiting_decision",
            &e.to_string(),
        ),
        Err(DecisionError::Store(e)) => {
            tracing::error!(error = %e, piece_id = %piece_id, "decision not recorded");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the decision was not recorded: send it again",
            )
        }
    }
}
