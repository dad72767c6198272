//! The supervisor's page of requests that left the line before their card was made
//! (docs/console.md, docs/corrections.md): requests held for review, with the portal's dates
//! beside ours, to release or reject; cards stopped in production, with what the driver was
//! asked to correct, to cancel or to release after a fix on our side. The decisions are
//! `crate::review`'s, the same as the CLI's.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::{Markup, h, when};
use super::pages::{Notice, back, csrf_field, failed, page};
use super::session::{Signed, Submitted};
use crate::domain::review::{DriverMessage, RequestField, ReviewReason, StopCode, Waiting};
use crate::domain::role::Permission;
use crate::review::{self, Decision, ReviewError};
use crate::service::AppState;
use crate::store::cards::CardRecord;

const PATH: &str = "/console/review";
/// Cards listed at most (oldest first): more would be a production incident, not a page.
const LIMIT: i64 = 200;

pub async fn show(State(state): State<AppState>, who: Signed, Query(n): Query<Notice>) -> Response {
    if let Err(r) = who.require(Permission::Approve) {
        return r;
    }
    let cards = match state.store.cards_waiting(LIMIT).await {
        Ok(c) => c,
        Err(e) => return failed(&who, &e),
    };
    let (held, stopped): (Vec<&CardRecord>, Vec<&CardRecord>) =
        cards.iter().partition(|c| c.state == "held_for_review");
    let mut m = n.markup();
    h!(m; "<section><h2>Demandes en examen : dates différentes du portail</h2>");
    if held.is_empty() {
        h!(m; "<p>Aucune.</p>");
    }
    for c in held {
        h!(m; [heading(c)] [differences(c)] "<div class=\"columns\">"
            "<form method=\"post\" action=\"" {PATH} "/" {c.card_number} "/release\">" [csrf_field(&who)]
            "<p>Nos dates sont justes : la carte est fabriquée avec elles.</p>"
            "<button type=\"submit\">Libérer : nos dates font foi</button></form>"
            [refusal(&who, c, Waiting::Review)]
            "</div></article>");
    }
    h!(m; "</section><section><h2>Cartes arrêtées en fabrication</h2>");
    if stopped.is_empty() {
        h!(m; "<p>Aucune.</p>");
    }
    for c in stopped {
        let stop = match state.store.last_stop(&c.card_number).await {
            Ok(s) => s,
            Err(e) => return failed(&who, &e),
        };
        h!(m; [heading(c)]);
        match stop {
            Some(s) => {
                let code = StopCode::parse(&s.code).map_or(s.code.clone(), |c| c.label_fr().into());
                let fields: Vec<String> = s
                    .fields
                    .iter()
                    .map(|f| RequestField::parse(f).map_or(f.clone(), |r| r.name_fr().into()))
                    .collect();
                h!(m; "<p>Arrêtée le " {when(s.at)} " : <b>" {code} "</b>. ");
                if fields.is_empty() {
                    h!(m; "Rien à demander au conducteur : à corriger de notre côté, puis relancer.</p>");
                } else {
                    h!(m; "Correction demandée au conducteur : " {fields.join(", ")} ".</p>");
                }
                if let Some(detail) = &s.reason {
                    h!(m; "<p class=\"small\">" {detail} "</p>");
                }
            }
            None => h!(m; "<p>Arrêtée (motif non enregistré).</p>"),
        }
        h!(m; "<div class=\"columns\">"
            "<form method=\"post\" action=\"" {PATH} "/" {c.card_number} "/release\">" [csrf_field(&who)]
            "<p>La cause était de notre côté et elle est corrigée (police, mise en page) : la carte est refabriquée telle quelle.</p>"
            "<button type=\"submit\">Relancer la fabrication</button></form>"
            [refusal(&who, c, Waiting::Correction)]
            "</div></article>");
    }
    h!(m; "</section>");
    page(&who, "Demandes à revoir", PATH, m).into_response()
}

/// A card's title line.
fn heading(c: &CardRecord) -> Markup {
    let holder = match (&c.surname, &c.given_names) {
        (Some(s), Some(g)) => format!("{s} {g}"),
        (Some(s), None) => s.clone(),
        _ => "(données personnelles purgées)".to_string(),
    };
    let mut m = Markup::new();
    h!(m; "<article class=\"review\"><h3><a class=\"mono\" href=\"/console/cards/" {c.card_number} "\">" {c.card_number} "</a> · <span class=\"holder\">" {holder} "</span></h3>"
        "<p class=\"small\">Demande " {c.request_id} " · en attente depuis le " {when(c.updated_at)} "</p>");
    m
}

/// Our values beside the portal's (the one place a new reason to hold is shown from).
fn differences(c: &CardRecord) -> Markup {
    let mut m = Markup::new();
    let rows = review::differences(c);
    if rows.is_empty() {
        h!(m; "<p>Plus aucune différence avec le portail.</p>");
        return m;
    }
    h!(m; "<table><thead><tr><th></th><th>Notre calcul (imprimé si libérée)</th><th>Portail ou autre lecture</th></tr></thead><tbody>");
    for d in rows {
        h!(m; "<tr><th>" {d.what} "</th><td class=\"mono\">" {d.ours} "</td><td class=\"mono\">" {d.portal} "</td></tr>");
    }
    h!(m; "</tbody></table>");
    m
}

/// The form that rejects a held request or cancels a stopped card.
fn refusal(who: &Signed, c: &CardRecord, what: Waiting) -> Markup {
    let (action, button) = match what {
        Waiting::Review => ("reject", "Rejeter la demande"),
        Waiting::Correction => ("cancel", "Annuler la carte"),
    };
    let mut m = Markup::new();
    h!(m; "<form class=\"decision\" method=\"post\" action=\"" {PATH} "/" {c.card_number} "/" {action} "\">" [csrf_field(who)]
        "<label>Motif <select name=\"reason\" required><option value=\"\">— choisir —</option>");
    for r in ReviewReason::offered(what) {
        h!(m; "<option value=\"" {r.as_str()} "\">" {r.label_fr()} "</option>");
    }
    h!(m; "</select></label><label>Message pour le conducteur (transmis par le portail) "
        "<textarea name=\"message\" required maxlength=\"1000\" rows=\"3\"></textarea></label>"
        "<button type=\"submit\" class=\"secondary\">" {button} "</button></form>");
    m
}

#[derive(Deserialize)]
pub struct Refusal {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn release(
    State(state): State<AppState>,
    Path(number): Path<String>,
    s: Submitted<Nothing>,
) -> Response {
    decide(&state, &s.who, &number, Ok(Decision::Release)).await
}

pub async fn reject(
    State(state): State<AppState>,
    Path(number): Path<String>,
    s: Submitted<Refusal>,
) -> Response {
    let decision =
        refusal_of(&s.form).map(|(reason, message)| Decision::Reject { reason, message });
    decide(&state, &s.who, &number, decision).await
}

pub async fn cancel(
    State(state): State<AppState>,
    Path(number): Path<String>,
    s: Submitted<Refusal>,
) -> Response {
    let decision =
        refusal_of(&s.form).map(|(reason, message)| Decision::Cancel { reason, message });
    decide(&state, &s.who, &number, decision).await
}

/// The reason and message of a refusal form, or what is wrong with them (in French).
fn refusal_of(f: &Refusal) -> Result<(ReviewReason, DriverMessage), String> {
    let reason = ReviewReason::parse(&f.reason).ok_or("Choisissez un motif dans la liste.")?;
    let message = DriverMessage::parse(&f.message).map_err(|e| {
        use crate::domain::review::MessageError as E;
        match e {
            E::Empty => {
                "Écrivez un message pour le conducteur : ce qui est décidé et que faire ensuite."
                    .to_string()
            }
            E::TooLong(n) => format!("Le message fait {n} caractères ; 1000 au plus."),
            E::Control(_) => {
                "Le message contient un caractère de contrôle (tabulation…) : retirez-le."
                    .to_string()
            }
        }
    })?;
    Ok((reason, message))
}

async fn decide(
    state: &AppState,
    who: &Signed,
    number: &str,
    decision: Result<Decision, String>,
) -> Response {
    if let Err(r) = who.require(Permission::Approve) {
        return r;
    }
    let decision = match decision {
        Ok(d) => d,
        Err(why) => return back(PATH, false, &why),
    };
    match review::decide(&state.store, number, &decision, &who.user.username).await {
        Ok(d) => back(
            PATH,
            true,
            &match d.event {
                "request.released" => format!(
                    "Carte {} libérée : elle part en fabrication ; le portail est prévenu.",
                    d.card_number
                ),
                "request.rejected" => format!(
                    "Demande {} rejetée ; le portail transmet votre message au conducteur.",
                    d.request_id
                ),
                _ => format!(
                    "Carte {} annulée ; le portail transmet votre message au conducteur.",
                    d.card_number
                ),
            },
        ),
        Err(ReviewError::Store(e)) => failed(who, &e),
        Err(ReviewError::UnknownCard(n)) => back(PATH, false, &format!("Aucune carte n° {n}.")),
        Err(ReviewError::NotWaiting { card_number, .. }) => back(
            PATH,
            false,
            &format!(
                "La carte {card_number} n’attend plus cette décision (quelqu’un l’a déjà prise ?)."
            ),
        ),
        Err(ReviewError::ReasonDoesNotFit { reason, .. }) => back(
            PATH,
            false,
            &format!(
                "Le motif « {} » ne convient pas à cette carte.",
                reason.label_fr()
            ),
        ),
        Err(ReviewError::Transition(e)) => back(
            PATH,
            false,
            &format!("La carte a changé entre-temps ; rien n’a été fait ({e})."),
        ),
    }
}
