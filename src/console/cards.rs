//! A card's page: front and back as printed, the chip, its mail pieces and its whole audit
//! timeline. Found by card number (typed or scanned into the search field).

use crate::domain::qualification::Group;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::dashboard::state_fr;
use super::html::{Markup, h, when};
use super::pages::{failed, not_found, page};
use super::session::Signed;
use crate::domain::role::Permission;
use crate::service::AppState;

#[derive(Debug, Deserialize)]
pub struct Search {
    q: Option<String>,
}

/// The search form; a number goes straight to its card.
pub async fn search(
    State(state): State<AppState>,
    who: Signed,
    Query(s): Query<Search>,
) -> Response {
    if let Err(r) = who.require(Permission::ViewProduction) {
        return r;
    }
    let typed: String =
        s.q.unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
    let mut m = Markup::new();
    h!(m; "<form class=\"search\" method=\"get\" action=\"/console/cards\"><label>Numéro de carte <input name=\"q\" autofocus value=\"" {typed} "\" inputmode=\"text\" autocomplete=\"off\"></label><button type=\"submit\">Ouvrir</button></form>");
    if !typed.is_empty() {
        match state.store.card_by_number(&typed).await {
            Ok(Some(card)) => {
                let to: String = card
                    .card_number
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                return Redirect::to(&format!("/console/cards/{to}")).into_response();
            }
            Ok(None) => {
                h!(m; "<p class=\"notice bad\" role=\"alert\">Aucune carte n° " {typed} ".</p>")
            }
            Err(e) => return failed(&who, &e),
        }
    }
    page(&who, "Cartes", "/console/cards", m).into_response()
}

pub async fn show(
    State(state): State<AppState>,
    who: Signed,
    Path(number): Path<String>,
) -> Response {
    if let Err(r) = who.require(Permission::ViewProduction) {
        return r;
    }
    let store = &state.store;
    let card = match store.card_by_number(&number).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(&who, &format!("Aucune carte n° {number}.")),
        Err(e) => return failed(&who, &e),
    };
    let (files, pieces, timeline) = match tokio::try_join!(
        store.artifacts(card.id),
        store.pieces_of_card(card.id),
        store.audit_history("card", &card.card_number),
    ) {
        Ok(t) => t,
        Err(e) => return failed(&who, &e),
    };
    let n = &card.card_number;
    let mut m = Markup::new();
    let holder = match (&card.surname, &card.given_names) {
        (Some(s), Some(g)) => format!("{s} {g}"),
        (Some(s), None) => s.clone(),
        _ => "(données personnelles purgées)".to_string(),
    };
    h!(m; "<div class=\"columns\"><section><h2>Titulaire</h2><dl>"
        "<dt>Nom</dt><dd class=\"holder\">" {holder} "</dd>"
        "<dt>État</dt><dd><span class=\"state\">" {state_fr(&card.state)} "</span></dd>"
        "<dt>Nature</dt><dd>" {kind_fr(&card.kind)} "</dd>"
        "<dt>Délivrée le</dt><dd>" {card.issue_date} "</dd>"
        "<dt>Valable jusqu’au</dt><dd>" {card.expiry_date} "</dd>"
        "<dt>Catégories</dt><dd>" {categories(&card.categories)} "</dd>");
    // Field 10: each group with its own code-95 date (docs/validity.md).
    for g in card.groups().unwrap_or_default() {
        let group = match g.group {
            Group::Goods => "Code 95 marchandises",
            Group::Passengers => "Code 95 voyageurs",
        };
        let cats: Vec<&str> = g.categories.iter().map(|c| c.as_str()).collect();
        let rule = g
            .rule
            .map(|r| format!(" ({})", r.source()))
            .unwrap_or_default();
        h!(m; "<dt>" {group} "</dt><dd>" {cats.join(", ")} " : " {g.code_95()} {rule} "</dd>");
    }
    for r in card.review_reasons().unwrap_or_default() {
        h!(m; "<dt>À examiner</dt><dd class=\"bad\">" {r.explain_fr()} "</dd>");
    }
    h!(m; "<dt>Demande</dt><dd>" {card.request_id} "</dd>");
    if let Some(prev) = &card.previous_card_number {
        h!(m; "<dt>Remplace</dt><dd>" {prev} "</dd>");
    }
    if let Some(next) = &card.superseded_by {
        h!(m; "<dt>Remplacée par</dt><dd>" {next} "</dd>");
    }
    h!(m; "</dl></section><section><h2>Puce</h2>");
    match timeline
        .iter()
        .rev()
        .find(|r| r.action == "card.personalise")
    {
        Some(r) => {
            let serial = r
                .after
                .as_deref()
                .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                .and_then(|v| v.get("chip_serial")?.as_str().map(str::to_string))
                .unwrap_or_else(|| "?".to_string());
            h!(m; "<p class=\"good\">Écrite et relue le " {when(r.at)} " par " {r.actor} " (puce n° " {serial} ").</p>");
        }
        None => h!(m; "<p>Pas encore écrite.</p>"),
    }
    h!(m; "</section></div><section><h2>Aperçus</h2>");
    let printed = files
        .iter()
        .any(|f| f.name == crate::render::FRONT_PERSONALISATION);
    if state.previews.is_some() && printed {
        h!(m; "<div class=\"previews\">");
        for (side, label) in [("front", "Recto"), ("back", "Verso")] {
            h!(m; "<figure><img alt=\"" {label} " de la carte " {n} "\" src=\"/console/cards/" {n} "/preview/" {side} ".png\"><figcaption>" {label} "</figcaption></figure>");
        }
        h!(m; "</div>");
    } else {
        h!(m; "<p>Pas encore imprimée (ou fichiers purgés).</p>");
    }
    if !files.is_empty() {
        h!(m; "<p class=\"files\">Fichiers de production : ");
        for f in &files {
            h!(m; "<a href=\"/console/cards/" {n} "/files/" {f.name} "\">" {f.name} "</a> ");
        }
        h!(m; "</p>");
    }
    h!(m; "</section><section><h2>Plis</h2>");
    if pieces.is_empty() {
        h!(m; "<p>Aucun pli.</p>");
    } else {
        h!(m; "<table><thead><tr><th>Envoi</th><th>Produit</th><th>Adresse</th><th>État</th><th>Créé le</th></tr></thead><tbody>");
        for p in &pieces {
            h!(m; "<tr><td class=\"mono\">" {p.piece_id} "</td><td>" {p.product} "</td><td>");
            for line in p.address_lines() {
                h!(m; {line} "<br>");
            }
            h!(m; "</td><td>" {piece_state_fr(&p.state)} "</td><td>" {when(p.created_at)} "</td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    h!(m; "</section><section><h2>Historique</h2><ol class=\"timeline\">");
    for r in &timeline {
        h!(m; "<li><time>" {when(r.at)} "</time> <b>" {r.action} "</b> par " {r.actor});
        if let Some(reason) = &r.reason {
            h!(m; " — " {reason});
        }
        if let Some(after) = &r.after {
            let short: String = after.chars().take(160).collect();
            h!(m; "<div class=\"small mono\">" {short} "</div>");
        }
        h!(m; "</li>");
    }
    h!(m; "</ol></section>");
    page(&who, &format!("Carte {n}"), "/console/cards", m).into_response()
}

fn kind_fr(kind: &str) -> &str {
    match kind {
        "first_issue" => "première délivrance",
        "renewal" => "renouvellement",
        "replacement" => "remplacement",
        other => other,
    }
}

fn piece_state_fr(state: &str) -> &str {
    match state {
        "created" => "créé",
        "inserted" => "sous pli",
        "batched" => "en lot",
        "dispatched" => "remis à La Poste",
        "delivered" => "distribué",
        "returned_undelivered" => "revenu (PND)",
        "awaiting_decision" => "attend le titulaire",
        "resent" => "renvoyé",
        "readdressed" => "réadressé",
        "card_destroyed" => "carte détruite",
        "cancelled" => "annulé",
        other => other,
    }
}

/// The stored categories (a JSON list) as a person reads them: "C, CE".
fn categories(stored: &str) -> String {
    serde_json::from_str::<Vec<String>>(stored)
        .map(|c| c.join(", "))
        .unwrap_or_else(|_| stored.to_string())
}

/// The colour preview of one side (`front.png`, `back.png`), drawn again from the card's
/// record and pictures.
pub async fn preview(
    State(state): State<AppState>,
    who: Signed,
    Path((number, side)): Path<(String, String)>,
) -> Response {
    if let Err(r) = who.require(Permission::ViewProduction) {
        return r;
    }
    let Some(previews) = &state.previews else {
        return not_found(&who, "Aperçus indisponibles sur ce nœud.");
    };
    let card = match state.store.card_by_number(&number).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(&who, &format!("Aucune carte n° {number}.")),
        Err(e) => return failed(&who, &e),
    };
    let pair = match previews.of(&state.store, &card).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(&who, "Photo ou signature purgées : plus d’aperçu."),
        Err(e) => return failed(&who, &e),
    };
    let bytes = match side.as_str() {
        "front.png" => pair.0.clone(),
        "back.png" => pair.1.clone(),
        _ => return not_found(&who, "Aperçus : front.png, back.png."),
    };
    // Not cached by the browser (`no-store` from the console's headers): a face and a name on
    // a shared workstation's disk; the node keeps the last previews drawn instead.
    ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
}

/// One of the card's stored files (the proof, the personalisation bitmaps).
pub async fn file(
    State(state): State<AppState>,
    who: Signed,
    Path((number, name)): Path<(String, String)>,
) -> Response {
    if let Err(r) = who.require(Permission::ViewProduction) {
        return r;
    }
    let card = match state.store.card_by_number(&number).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(&who, &format!("Aucune carte n° {number}.")),
        Err(e) => return failed(&who, &e),
    };
    let files = match state.store.artifacts(card.id).await {
        Ok(f) => f,
        Err(e) => return failed(&who, &e),
    };
    match files.into_iter().find(|f| f.name == name) {
        Some(f) => match f.bytes {
            Some(bytes) => ([(header::CONTENT_TYPE, f.mime)], bytes).into_response(),
            None => not_found(&who, "Fichier purgé."),
        },
        None => not_found(
            &who,
            &format!("La carte {number} n’a pas de fichier {name}."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_state_has_a_french_name() {
        for s in crate::domain::lifecycle::PieceState::ALL {
            assert_ne!(piece_state_fr(s.as_str()), s.as_str(), "{s:?}");
        }
    }

    #[test]
    fn categories_read_as_a_list() {
        assert_eq!(categories("[\"C\",\"CE\"]"), "C, CE");
        assert_eq!(categories("C"), "C", "anything else is shown as stored");
    }
}
