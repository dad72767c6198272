//! The mailroom's scan page, for a keyboard-wedge scanner (it types the code and Enter into
//! the focused field). The answer is the service's own (src/station/mailroom.rs), as at a
//! serial-scanner station: what to do, which slot, in large type, green or red with a beep.
//!
//! With its script the page posts each scan without reloading (the field keeps the focus, the
//! next scan can follow at once); without it, the form posts and the page comes back with the
//! answer. The reason in force travels in a hidden field, as the station program keeps it.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::html::{Markup, h, when};
use super::pages::{csrf_field, failed, page};
use super::session::{Signed, Submitted};
use crate::domain::role::Permission;
use crate::post::pnd::ReturnReason;
use crate::service::AppState;
use crate::station::mailroom::{self, Answer};
use crate::store::returns::Scanner;

/// The station name the console's scans are recorded under (the clerk is the signed-in user).
pub const STATION: &str = "console";

const DAY_MS: i64 = 86_400_000;

pub async fn show(State(state): State<AppState>, who: Signed) -> Response {
    if let Err(r) = who.require(Permission::ScanReturns) {
        return r;
    }
    render(&state, &who, None, None).await
}

#[derive(Deserialize)]
pub struct Scan {
    #[serde(default)]
    code: String,
    #[serde(default)]
    reason: String,
}

pub async fn scan(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Submitted<Scan>,
) -> Response {
    let who = &s.who;
    if let Err(r) = who.require(Permission::ScanReturns) {
        return r;
    }
    let reason = ReturnReason::parse(s.form.reason.trim());
    let by = Scanner {
        station: STATION,
        clerk: &who.user.username,
    };
    let answer = match mailroom::handle(
        &state.store,
        by,
        &s.form.code,
        reason,
        state.decision_wait_ms,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "console mailroom scan failed");
            return failed(
                who,
                &format!("le scan n’a pas été enregistré ({e}) : scannez à nouveau"),
            );
        }
    };
    let outcome = serde_json::to_value(answer.outcome).unwrap_or_default();
    crate::service::scanned("mailroom", outcome.as_str().unwrap_or("?"));
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        let now = state.store.clock().now_ms();
        return axum::Json(json!({
            "answer": answer,
            "code": s.form.code.trim(),
            "at": when(now),
            "reason_label": answer.reason.and_then(ReturnReason::parse).map(ReturnReason::label_fr),
        }))
        .into_response();
    }
    let keep = answer.reason.or(reason.map(ReturnReason::as_str));
    render(&state, who, Some((&s.form.code, &answer)), keep).await
}

async fn render(
    state: &AppState,
    who: &Signed,
    last: Option<(&str, &Answer)>,
    reason: Option<&str>,
) -> Response {
    let now = state.store.clock().now_ms();
    let today = match state
        .store
        .returns_since(now - now.rem_euclid(DAY_MS), 50)
        .await
    {
        Ok(t) => t,
        Err(e) => return failed(who, &e),
    };
    let reason_label = reason
        .and_then(ReturnReason::parse)
        .map(ReturnReason::label_fr)
        .unwrap_or("aucun motif : scannez d’abord le motif sur la feuille des motifs");
    let mut m = Markup::new();
    h!(m; "<form id=\"scan\" class=\"scan\" method=\"post\" action=\"/console/mailroom/scan\" autocomplete=\"off\">" [csrf_field(who)]
        "<input type=\"hidden\" name=\"reason\" id=\"reason\" value=\"" {reason.unwrap_or("")} "\">"
        "<label for=\"code\">Scannez le motif, puis chaque pli</label>"
        "<input id=\"code\" name=\"code\" autofocus required spellcheck=\"false\" autocapitalize=\"characters\">"
        "<button type=\"submit\">Valider</button></form>"
        "<p class=\"reason\">Motif en cours : <b id=\"reason-label\">" {reason_label} "</b></p>");
    match last {
        Some((code, a)) => {
            let class = if a.ok { "answer good" } else { "answer bad" };
            h!(m; "<div id=\"answer\" class=\"" {class} "\" role=\"alert\" data-ok=\"" {a.ok} "\"><div class=\"code mono\">" {code.trim()} "</div><div class=\"what\">" {a.message} "</div>");
            if let Some(slot) = a.slot {
                h!(m; "<div class=\"slot\">Casier <b>" {slot} "</b></div>");
            }
            h!(m; "</div>");
        }
        None => {
            h!(m; "<div id=\"answer\" class=\"answer idle\" role=\"alert\"><div class=\"what\">En attente d’un scan…</div></div>")
        }
    }
    h!(m; "<h2>Retours enregistrés aujourd’hui</h2><table class=\"scans\"><thead><tr><th>Heure</th><th>Pli</th><th>Carte</th><th>Motif</th><th>Casier</th><th>Par</th></tr></thead><tbody id=\"today\">");
    for r in &today {
        let reason = ReturnReason::parse(&r.reason)
            .map(ReturnReason::label_fr)
            .unwrap_or(&r.reason);
        let slot = match (r.slot, r.outcome.as_str()) {
            (Some(s), _) => s.to_string(),
            (None, "to_destruction") => "destruction".to_string(),
            (None, _) => "sorti".to_string(),
        };
        h!(m; "<tr><td>" {when(r.returned_at)} "</td><td class=\"mono\">" {r.piece_id} "</td><td class=\"mono\">" {r.card_number} "</td><td>" {reason} "</td><td class=\"n\">" {slot} "</td><td>" {r.scanned_by} "</td></tr>");
    }
    h!(m; "</tbody></table>");
    page(who, "Courrier retourné", "/console/mailroom", m).into_response()
}
