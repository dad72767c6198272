//! The production dashboard: what is where, what the day produced hour by hour, the yield of
//! each stage, the jobs that need someone, and the blank stock.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::html::{Markup, count, h, when};
use super::pages::{failed, page};
use super::session::Signed;
use crate::domain::role::Permission;
use crate::service::AppState;
use crate::store::stats::{Dashboard, STAGES};

const DAY_MS: i64 = 86_400_000;

/// French names of the card states (docs/lifecycle.md).
pub fn state_fr(state: &str) -> &str {
    match state {
        "application" => "demande",
        "held_for_review" => "en examen",
        "approved" => "acceptée",
        "rejected" => "rejetée",
        "stopped" => "arrêtée",
        "in_production" => "imprimée",
        "personalised" => "puce écrite",
        "inserted" => "sous pli",
        "dispatched" => "expédiée",
        "handed_over" => "remise au titulaire",
        "returned_undelivered" => "retour courrier",
        "held" => "en casier",
        "malfunctioning" => "défectueuse",
        "returned_defective" => "retour qualité",
        "lost" => "perdue",
        "stolen" => "volée",
        "suspended" => "suspendue",
        "withdrawn" => "retirée",
        "surrendered" => "restituée",
        "expired" => "expirée",
        "renewed" => "renouvelée",
        "revoked" => "révoquée",
        "replaced" => "remplacée",
        "destroyed" => "détruite",
        other => other,
    }
}

pub async fn show(State(state): State<AppState>, who: Signed) -> Response {
    if let Err(r) = who.require(Permission::ViewProduction) {
        return r;
    }
    let now = state.store.clock().now_ms();
    let day_start = now - now.rem_euclid(DAY_MS);
    let d = match state.store.dashboard(day_start).await {
        Ok(d) => d,
        Err(e) => return failed(&who, &e),
    };
    let hour_now = (now - day_start) / 3_600_000;
    page(
        &who,
        "Production du jour",
        "/console",
        body(&d, hour_now, now),
    )
    .into_response()
}

fn body(d: &Dashboard, hour_now: i64, now: i64) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section class=\"alerts\">");
    if d.approvals_waiting > 0 {
        h!(m; "<a class=\"tile warn\" href=\"/console/approvals\"><b>" {d.approvals_waiting} "</b> approbation(s) en attente</a>");
    }
    let to_review: i64 = d
        .cards
        .iter()
        .filter(|(s, _)| s == "held_for_review" || s == "stopped")
        .map(|c| c.1)
        .sum();
    if to_review > 0 {
        h!(m; "<a class=\"tile warn\" href=\"/console/review\"><b>" {to_review} "</b> demande(s) à revoir (en examen ou arrêtées)</a>");
    }
    if d.dead_events > 0 {
        h!(m; "<a class=\"tile bad\" href=\"/console/events\"><b>" {d.dead_events} "</b> événement(s) portail en échec</a>");
    }
    if !d.stuck.is_empty() {
        h!(m; "<a class=\"tile bad\" href=\"#bloques\"><b>" {d.stuck.len()} "</b> travail(aux) bloqué(s)</a>");
    }
    h!(m; "<span class=\"tile\"><b>" {count(d.held_in_slots)} "</b> carte(s) en casier</span></section>");

    h!(m; "<section><h2>Aujourd’hui, heure par heure</h2><table class=\"stages\"><thead><tr><th>Étape</th><th>Total</th><th>Dernière heure</th><th>Par heure</th></tr></thead><tbody>");
    for (action, label) in STAGES {
        let total = d.today_total(action);
        let last = d
            .today
            .iter()
            .find(|t| t.0 == action && t.1 == hour_now)
            .map(|t| t.2)
            .unwrap_or(0);
        h!(m; "<tr><th>" {label} "</th><td class=\"n\">" {count(total)} "</td><td class=\"n\">" {count(last)} "</td><td>" [sparkline(d, action, hour_now)] "</td></tr>");
    }
    h!(m; "</tbody></table>");
    let written = d.today_total("card.personalise");
    let spoiled = d.today_total("body.spoiled");
    let printed = d.today_total("card.start_production");
    h!(m; "<p class=\"yield\">Rendement de l’encodage : <b>" {percent(written, written + spoiled)} "</b> (" {count(written)} " puces écrites, " {count(spoiled)} " corps gâchés) · "
        "Mise sous pli : <b>" {percent(d.today_total("card.insert"), written)} "</b> des puces écrites · Impression → puce : <b>" {percent(written, printed)} "</b></p></section>");

    h!(m; "<div class=\"columns\"><section><h2>Cartes par état</h2><table><tbody>");
    for (state, n) in &d.cards {
        h!(m; "<tr><th>" {state_fr(state)} "</th><td class=\"n\">" {count(*n)} "</td></tr>");
    }
    let total: i64 = d.cards.iter().map(|c| c.1).sum();
    h!(m; "</tbody><tfoot><tr><th>Total</th><td class=\"n\">" {count(total)} "</td></tr></tfoot></table></section>");

    h!(m; "<section><h2>Files de travaux</h2>");
    if d.open_jobs.is_empty() {
        h!(m; "<p>Aucun travail en attente.</p>");
    } else {
        h!(m; "<table><thead><tr><th>Travail</th><th>État</th><th>Nombre</th></tr></thead><tbody>");
        for (kind, state, n) in &d.open_jobs {
            h!(m; "<tr><td>" {kind} "</td><td>" {job_state_fr(state)} "</td><td class=\"n\">" {count(*n)} "</td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    h!(m; "</section>");

    h!(m; "<section><h2>Stock de corps de carte</h2>");
    if d.stock.is_empty() {
        h!(m; "<p class=\"notice bad\">Aucun lot reçu : l’encodage ne peut pas tirer de corps.</p>");
    } else {
        h!(m; "<table><thead><tr><th>Lot</th><th>Reçus</th><th>Écrits</th><th>Gâchés</th><th>En stock</th></tr></thead><tbody>");
        for lot in &d.stock {
            let low = lot.on_hand * 10 < lot.received;
            if low {
                h!(m; "<tr class=\"low\">");
            } else {
                h!(m; "<tr>");
            }
            h!(m; "<td>" {lot.lot_id} "</td><td class=\"n\">" {count(lot.received)} "</td><td class=\"n\">" {count(lot.personalised)} "</td><td class=\"n\">" {count(lot.spoiled)} "</td><td class=\"n\">" {count(lot.on_hand)} "</td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    h!(m; "</section></div>");

    h!(m; "<section id=\"bloques\"><h2>Travaux bloqués</h2>");
    if d.stuck.is_empty() {
        h!(m; "<p>Aucun.</p>");
    } else {
        h!(m; "<table><thead><tr><th>N°</th><th>Travail</th><th>État</th><th>Essais</th><th>Poste</th><th>Depuis</th><th>Dernière erreur</th></tr></thead><tbody>");
        for j in &d.stuck {
            h!(m; "<tr><td>" {j.id} "</td><td>" {j.kind} "</td><td>" {job_state_fr(&j.state)} "</td><td class=\"n\">" {j.attempts} "</td><td>" {j.lease_owner.as_deref().unwrap_or("")} "</td><td>" {when(j.updated_at)} "</td><td class=\"small\">" {j.last_error.as_deref().unwrap_or("")} "</td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    h!(m; "</section><p class=\"small\">Mis à jour le " {when(now)} " (UTC).</p>");
    m
}

fn job_state_fr(s: &str) -> &str {
    match s {
        "queued" => "en attente",
        "running" => "en cours",
        "failed" => "en échec",
        "done" => "fait",
        other => other,
    }
}

fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "—".to_string();
    }
    format!("{:.1} %", part as f64 * 100.0 / whole as f64).replace('.', ",")
}

/// 24 bars, one per hour of the day so far, as inline SVG (no script, no image request).
fn sparkline(d: &Dashboard, action: &str, hour_now: i64) -> Markup {
    let per_hour: Vec<i64> = (0..24)
        .map(|h| {
            d.today
                .iter()
                .find(|t| t.0 == action && t.1 == h)
                .map(|t| t.2)
                .unwrap_or(0)
        })
        .collect();
    let max = per_hour.iter().copied().max().unwrap_or(0).max(1);
    let mut m = Markup::new();
    h!(m; "<svg class=\"spark\" viewBox=\"0 0 240 32\" width=\"240\" height=\"32\" role=\"img\" aria-label=\"par heure\">");
    for (h, n) in per_hour.iter().enumerate() {
        let height = (*n as f64 / max as f64 * 30.0).round() as i64;
        let class = if h as i64 == hour_now { "now" } else { "bar" };
        h!(m; "<rect class=\"" {class} "\" x=\"" {h * 10} "\" y=\"" {32 - height} "\" width=\"8\" height=\"" {height} "\"><title>" {h} " h : " {n} "</title></rect>");
    }
    h!(m; "</svg>");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_in_french() {
        assert_eq!(percent(1, 3), "33,3 %");
        assert_eq!(percent(5, 0), "—");
        assert_eq!(percent(10, 10), "100,0 %");
    }

    #[test]
    fn every_card_state_has_a_french_name() {
        for s in crate::domain::lifecycle::CardState::ALL {
            assert_ne!(state_fr(s.as_str()), s.as_str(), "{s:?}");
        }
    }
}
