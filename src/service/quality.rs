//! The quality desk's routes (docs/quality.md). Stations, with their bearer token:
//! - `POST /v1/stations/quality/scans` `{code, analyst}`: a return coupon opens the card's case;
//! - `POST /v1/stations/quality/cases/{id}/diagnostic` `{analyst, reading}`: what the chip holds;
//! - `POST /v1/stations/quality/cases/{id}/defects` `{analyst, element, confirmed, cause?, note?}`;
//! - `POST /v1/stations/quality/cases/{id}/verdict` `{analyst, waiver_reason?}`.
//!
//! The portal: `POST /v1/quality-returns/{case_id}/holder-correction` (portal contract).
//! Every answer to a station carries `ok` and French `lines` to print as they are.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{AppState, error};
use crate::post::coupon::CouponCode;
use crate::quality::attribution::{Cause, Defect, Finding};
use crate::quality::desk::{self, DeskError, Reading};
use crate::store::quality::{CaseOpened, Decision, QualityError};

/// A chip reading carries the portrait and signature: well under this.
const MAX_STATION_BODY: usize = 1024 * 1024;
const MAX_CORRECTION_BODY: usize = 4 * 1024 * 1024;

fn answer(ok: bool, lines: Vec<String>, extra: Value) -> Response {
    if let Some(outcome) = extra.get("outcome").and_then(Value::as_str) {
        super::metrics::scanned("quality", outcome);
    }
    let mut body = json!({ "ok": ok, "lines": lines });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    (StatusCode::OK, Json(body)).into_response()
}

/// The body of a station call, or the response refusing it.
async fn station_body<T: DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, T), Response> {
    let Some(station) = state.station_of(headers).await else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid station bearer token is required",
        ));
    };
    let Ok(bytes) = to_bytes(body, MAX_STATION_BODY).await else {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("a quality-desk call is at most {MAX_STATION_BODY} bytes"),
        ));
    };
    serde_json::from_slice(&bytes)
        .map(|b| (station, b))
        .map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                &format!("{e} (line {}, column {})", e.line(), e.column()),
            )
        })
}

fn analyst_of(name: &str) -> Result<&str, Box<Response>> {
    let a = name.trim();
    if a.is_empty() || a.chars().count() > 64 {
        return Err(Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_analyst",
            "analyst: the analyst's name is required (1 to 64 characters)",
        )));
    }
    Ok(a)
}

fn refused(e: DeskError) -> Response {
    let (status, code) = match &e {
        DeskError::Quality(QualityError::Unknown(_)) => (StatusCode::NOT_FOUND, "unknown_case"),
        DeskError::Quality(QualityError::Store(_)) | DeskError::Store(_) => {
            tracing::error!(error = %e, "quality desk: database");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "nothing was recorded: send it again",
            );
        }
        DeskError::Quality(QualityError::BadElement(_)) | DeskError::BadReading(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
        }
        DeskError::Invalid(vs) => {
            let errors: Vec<_> = vs
                .iter()
                .map(|v| json!({ "path": v.path, "code": v.code.as_str(), "message": v.message }))
                .collect();
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "errors": errors })),
            )
                .into_response();
        }
        DeskError::WrongCard { .. } => (StatusCode::CONFLICT, "wrong_card"),
        DeskError::Purged(_) => (StatusCode::CONFLICT, "request_purged"),
        DeskError::Replacement(_) => (StatusCode::CONFLICT, "replacement_refused"),
        DeskError::Quality(_) => (StatusCode::CONFLICT, "not_now"),
    };
    error(status, code, &e.to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    code: String,
    analyst: String,
}

pub async fn scan(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let (station, scan): (String, ScanBody) = match station_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let analyst = match analyst_of(&scan.analyst) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let code = scan.code.trim();
    let Ok(coupon) = code.parse::<CouponCode>() else {
        tracing::warn!(station = %station, code = %code, "quality desk: not a coupon");
        return answer(
            false,
            vec![format!(
                "CODE INCONNU « {code} » : scannez le coupon retour (RC…), rien enregistré"
            )],
            json!({ "outcome": "unknown_code" }),
        );
    };
    let number = coupon.card().to_string();
    match state
        .store
        .open_quality_case(&number, analyst, &station)
        .await
    {
        Ok(CaseOpened::Opened(c)) => answer(
            true,
            vec![
                format!("DOSSIER QUALITÉ {} OUVERT — carte {}", c.id, c.card_number),
                "Insérez la carte dans le lecteur pour le diagnostic de la puce".into(),
            ],
            json!({ "outcome": "opened", "case_id": c.id, "card_number": c.card_number }),
        ),
        Ok(CaseOpened::Existing(c)) => answer(
            true,
            vec![format!(
                "DÉJÀ OUVERT : dossier {} ({}) — carte {}, rien de changé",
                c.id, c.state, c.card_number
            )],
            json!({ "outcome": "existing", "case_id": c.id, "card_number": c.card_number, "state": c.state }),
        ),
        Err(
            e @ (QualityError::NoCard(_)
            | QualityError::NeverPosted { .. }
            | QualityError::NotReturnable { .. }),
        ) => {
            let outcome = match e {
                QualityError::NoCard(_) => "unknown_card",
                QualityError::NeverPosted { .. } => "never_posted",
                _ => "not_returnable",
            };
            tracing::warn!(station = %station, code = %code, error = %e, "quality desk: coupon refused");
            answer(
                false,
                vec![format!(
                    "REFUSÉ : {e} — rien enregistré, mettez de côté pour le superviseur"
                )],
                json!({ "outcome": outcome, "card_number": number }),
            )
        }
        Err(e) => refused(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticBody {
    analyst: String,
    reading: Reading,
}

pub async fn diagnostic(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (_station, b): (String, DiagnosticBody) = match station_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let analyst = match analyst_of(&b.analyst) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let Some(csca) = state.csca.as_ref() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_csca",
            "the service has no CSCA certificate to verify chips with",
        );
    };
    match desk::diagnose(&state.store, csca, id, &b.reading, analyst).await {
        Ok(d) => answer(
            true,
            d.lines_fr(),
            json!({ "chip": d.chip, "data_vs_request": d.data_vs_request, "diagnostic": d }),
        ),
        Err(e @ DeskError::WrongCard { .. }) => answer(
            false,
            vec![format!("MAUVAISE CARTE : {e} — rien enregistré")],
            json!({ "outcome": "wrong_card" }),
        ),
        Err(e) => refused(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefectBody {
    analyst: String,
    element: String,
    confirmed: bool,
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

pub async fn defect(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (_station, b): (String, DefectBody) = match station_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let analyst = match analyst_of(&b.analyst) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let causes = || -> String {
        Cause::ALL
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let finding = match (b.confirmed, b.cause.as_deref()) {
        (false, _) => Finding::NotConfirmed,
        (true, Some(c)) => match Cause::parse(c) {
            Some(c) => Finding::Confirmed(c),
            None => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_cause",
                    &format!("cause: {c:?} is not a cause code: one of {}", causes()),
                );
            }
        },
        (true, None) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_cause",
                &format!(
                    "cause: a confirmed defect needs its cause: one of {}",
                    causes()
                ),
            );
        }
    };
    let defect = Defect {
        element: b.element.clone(),
        finding,
    };
    match state
        .store
        .record_defect(id, &defect, b.note.as_deref(), analyst)
        .await
    {
        Ok(()) => answer(
            true,
            vec![match finding {
                Finding::Confirmed(c) => {
                    format!(
                        "DÉFAUT « {} » CONFIRMÉ — cause {}",
                        defect.element.trim(),
                        c.as_str()
                    )
                }
                Finding::NotConfirmed => {
                    format!("DÉFAUT « {} » NON CONFIRMÉ", defect.element.trim())
                }
            }],
            json!({ "outcome": "recorded" }),
        ),
        Err(e) => refused(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictBody {
    analyst: String,
    #[serde(default)]
    waiver_reason: Option<String>,
}

pub async fn verdict(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (_station, b): (String, VerdictBody) = match station_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let analyst = match analyst_of(&b.analyst) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let waiver = b
        .waiver_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match desk::decide(&state.intake, id, analyst, waiver).await {
        Ok(v) => {
            let (lines, extra) = match &v.decision {
                Decision::Decided { attribution, .. } => {
                    let mut lines = vec![format!(
                        "VERDICT {} ({})",
                        match attribution.verdict {
                            crate::quality::attribution::Verdict::ManufacturerFault =>
                                "FAUTE FABRICANT : remplacement gratuit",
                            crate::quality::attribution::Verdict::HolderFault =>
                                "FAUTE TITULAIRE : le portail demande correction et paiement",
                        },
                        attribution.rule
                    )];
                    if let Some((rid, number)) = &v.replacement {
                        lines.push(format!(
                            "Remplacement lancé : demande {rid}, carte {}",
                            number.as_deref().unwrap_or("—")
                        ));
                    }
                    lines.push("Carte défectueuse : bac destruction (double contrôle)".into());
                    (
                        lines,
                        json!({
                            "outcome": "decided",
                            "verdict": attribution.verdict,
                            "rule": attribution.rule,
                            "replacement_request_id": v.replacement.as_ref().map(|r| &r.0),
                            "replacement_card_number": v.replacement.as_ref().and_then(|r| r.1.clone()),
                        }),
                    )
                }
                Decision::WaiverRequested { attribution } => (
                    vec![format!(
                        "GESTE COMMERCIAL DEMANDÉ ({}) : un superviseur doit l'approuver",
                        attribution.rule
                    )],
                    json!({ "outcome": "waiver_requested", "rule": attribution.rule }),
                ),
            };
            answer(true, lines, extra)
        }
        Err(DeskError::Quality(QualityError::Decided(_))) => {
            match desk::resume_replacement(&state.intake, id, analyst).await {
                Ok(Some((rid, number))) => answer(
                    true,
                    vec![format!(
                        "REMPLACEMENT REPRIS : demande {rid}, carte {}",
                        number.as_deref().unwrap_or("—")
                    )],
                    json!({
                        "outcome": "replacement_resumed",
                        "replacement_request_id": rid,
                        "replacement_card_number": number,
                    }),
                ),
                Ok(None) => refused(QualityError::Decided(id).into()),
                Err(e) => refused(e),
            }
        }
        Err(e) => refused(e),
    }
}

/// `POST /v1/quality-returns/{case_id}/holder-correction`: the holder corrected and paid.
pub async fn holder_correction(
    State(state): State<AppState>,
    Path(case_id): Path<String>,
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
            "send the correction as Content-Type: application/json",
        );
    }
    let Ok(id) = case_id.parse::<i64>() else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_case",
            &format!("{case_id:?} is not a quality case id"),
        );
    };
    let Ok(bytes) = to_bytes(body, MAX_CORRECTION_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("a correction is at most {MAX_CORRECTION_BODY} bytes"),
        );
    };
    let mut doc = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_type",
                "$: expected an object",
            );
        }
        Err(e) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_json",
                &format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
            );
        }
    };
    let payment_ref = match doc.remove("payment_ref") {
        Some(Value::String(p)) if !p.trim().is_empty() && p.len() <= 64 => p.trim().to_string(),
        _ => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_payment_ref",
                "payment_ref: the replacement is paid: 1 to 64 characters required",
            );
        }
    };
    const CORRECTABLE: [&str; 5] = [
        "holder",
        "qualifications",
        "photo",
        "signature",
        "delivery_address",
    ];
    if let Some(k) = doc.keys().find(|k| !CORRECTABLE.contains(&k.as_str())) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_field",
            &format!(
                "{k}: not a correctable field (allowed: payment_ref, {})",
                CORRECTABLE.join(", ")
            ),
        );
    }
    match desk::holder_correction(&state.intake, id, &doc, &payment_ref).await {
        Ok((request_id, number)) => (
            StatusCode::CREATED,
            Json(json!({
                "case_id": id.to_string(),
                "request_id": request_id,
                "card_number": number,
                "status": "replacement_accepted",
            })),
        )
            .into_response(),
        Err(e) => refused(e),
    }
}
