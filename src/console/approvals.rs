//! The supervisor's inbox: what waits for a second person (destructions, fee waivers), and
//! the quality cases list. The store refuses the person who asked (four eyes); the page says
//! so rather than hiding the button, so the refusal is audited like any other attempt.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::{Markup, h, when};
use super::pages::{Notice, back, csrf_field, failed, page};
use super::session::{Signed, Submitted};
use crate::domain::role::Permission;
use crate::quality::desk::{self, DeskError};
use crate::service::AppState;
use crate::store::destruction::DestructionError;
use crate::store::quality::QualityError;

pub async fn inbox(
    State(state): State<AppState>,
    who: Signed,
    Query(n): Query<Notice>,
) -> Response {
    if let Err(r) = who.require(Permission::Approve) {
        return r;
    }
    let (destructions, waivers) = match tokio::try_join!(
        state.store.destructions(),
        state.store.quality_cases(true, 200)
    ) {
        Ok(t) => t,
        Err(e) => return failed(&who, &e),
    };
    let pending: Vec<_> = destructions
        .iter()
        .filter(|d| d.state == "pending")
        .collect();
    let mut m = n.markup();
    h!(m; "<section><h2>Destructions à constater</h2>");
    if pending.is_empty() {
        h!(m; "<p>Aucune.</p>");
    } else {
        h!(m; "<table><thead><tr><th>N°</th><th>Carte</th><th>Motif</th><th>Méthode</th><th>Demandée par</th><th></th></tr></thead><tbody>");
        for d in pending {
            h!(m; "<tr><td>" {d.id} "</td><td><a class=\"mono\" href=\"/console/cards/" {d.card_number} "\">" {d.card_number} "</a></td><td>" {reason_fr(&d.reason)} "</td><td>" {method_fr(&d.method)} "</td><td>" {d.requested_by} "</td><td>"
                "<form method=\"post\" action=\"/console/approvals/destructions/" {d.id} "\">" [csrf_field(&who)]
                "<button type=\"submit\">J’ai vu la carte détruite : approuver</button></form></td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    h!(m; "</section><section><h2>Gestes commerciaux (exonération des frais)</h2>");
    if waivers.is_empty() {
        h!(m; "<p>Aucun.</p>");
    } else {
        h!(m; "<table><thead><tr><th>Dossier</th><th>Carte</th><th>Demandé par</th><th>Raison</th><th></th></tr></thead><tbody>");
        for c in &waivers {
            h!(m; "<tr><td>" {c.id} "</td><td><a class=\"mono\" href=\"/console/cards/" {c.card_number} "\">" {c.card_number} "</a></td><td>" {c.waiver_requested_by.as_deref().unwrap_or("")} "</td><td>" {c.waiver_reason.as_deref().unwrap_or("")} "</td><td class=\"actions\">"
                "<form method=\"post\" action=\"/console/approvals/waivers/" {c.id} "\">" [csrf_field(&who)]
                "<button type=\"submit\" name=\"decision\" value=\"approve\">Accorder</button> "
                "<button type=\"submit\" name=\"decision\" value=\"refuse\" class=\"secondary\">Refuser</button></form></td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    h!(m; "</section>");
    page(&who, "Approbations", "/console/approvals", m).into_response()
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn destruction(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    s: Submitted<Nothing>,
) -> Response {
    if let Err(r) = s.who.require(Permission::Approve) {
        return r;
    }
    match state
        .store
        .approve_destruction(id, &s.who.user.username)
        .await
    {
        Ok(()) => back(
            "/console/approvals",
            true,
            &format!("Destruction {id} approuvée : la carte est détruite et son numéro révoqué."),
        ),
        Err(DestructionError::Store(e)) => failed(&s.who, &e),
        Err(e) => back("/console/approvals", false, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct Waiver {
    #[serde(default)]
    decision: String,
}

pub async fn waiver(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    s: Submitted<Waiver>,
) -> Response {
    if let Err(r) = s.who.require(Permission::Approve) {
        return r;
    }
    let approve = match s.form.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => {
            return back(
                "/console/approvals",
                false,
                "Choisissez Accorder ou Refuser.",
            );
        }
    };
    match desk::settle_waiver(&state.intake, id, &s.who.user.username, approve).await {
        Ok((case, Some((request_id, card)))) => back(
            "/console/approvals",
            true,
            &format!(
                "Geste accordé pour la carte {} : remplacement gratuit (demande {request_id}, carte {}).",
                case.card_number,
                card.unwrap_or_else(|| "à produire".to_string())
            ),
        ),
        Ok((case, None)) => back(
            "/console/approvals",
            true,
            &format!(
                "Geste refusé pour la carte {} : les frais restent dus.",
                case.card_number
            ),
        ),
        Err(DeskError::Store(e)) | Err(DeskError::Quality(QualityError::Store(e))) => {
            failed(&s.who, &e)
        }
        Err(e) => back("/console/approvals", false, &e.to_string()),
    }
}

fn reason_fr(r: &str) -> &str {
    match r {
        "unclaimed" => "non réclamée",
        "revoked_return" => "revenue après révocation",
        "replaced" => "remplacée",
        "quality_return" => "retour qualité",
        "damaged" => "abîmée chez nous",
        other => other,
    }
}

fn method_fr(m: &str) -> &str {
    match m {
        "cross_cut_shredder" => "broyeur à coupe croisée",
        "card_punch" => "poinçonneuse",
        "incineration" => "incinération",
        other => other,
    }
}

fn verdict_fr(v: Option<&str>) -> &str {
    match v {
        Some("our_fault") => "notre faute",
        Some("holder_fault") => "faute du titulaire",
        Some(other) => other,
        None => "—",
    }
}

fn case_state_fr(s: &str) -> &str {
    match s {
        "open" => "en analyse",
        "waiver_requested" => "geste demandé",
        "decided" => "décidé",
        other => other,
    }
}

/// The quality cases, newest first.
pub async fn quality(State(state): State<AppState>, who: Signed) -> Response {
    if let Err(r) = who.require(Permission::AnalyseQuality) {
        return r;
    }
    let cases = match state.store.quality_cases(false, 200).await {
        Ok(c) => c,
        Err(e) => return failed(&who, &e),
    };
    let mut m = Markup::new();
    if cases.is_empty() {
        h!(m; "<p>Aucun retour qualité.</p>");
    } else {
        h!(m; "<table><thead><tr><th>Dossier</th><th>Carte</th><th>Ouvert</th><th>Poste</th><th>Puce</th><th>Données</th><th>État</th><th>Verdict</th><th>Remplacement</th></tr></thead><tbody>");
        for c in &cases {
            h!(m; "<tr><td>" {c.id} "</td><td><a class=\"mono\" href=\"/console/cards/" {c.card_number} "\">" {c.card_number} "</a></td><td>" {when(c.opened_at)} "</td><td>" {c.station} " · " {c.opened_by} "</td><td>" {c.chip.as_deref().unwrap_or("—")} "</td><td>" {c.data_vs_request.as_deref().unwrap_or("—")} "</td><td>" {case_state_fr(&c.state)} "</td><td>" {verdict_fr(c.verdict.as_deref())});
            if c.fee_waived {
                h!(m; " (geste)");
            }
            h!(m; "</td><td>" {c.replacement_request_id.as_deref().unwrap_or("")} "</td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    page(&who, "Retours qualité", "/console/quality", m).into_response()
}
