//! Postal batches: the list, each closed batch's cover sheet and manifest, and the hand-over
//! to the post (the operator confirms the trays left with the agent).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::{count, h, when};
use super::pages::{Notice, back, csrf_field, failed, not_found, page};
use super::session::{Signed, Submitted};
use crate::domain::role::Permission;
use crate::service::AppState;
use crate::store::batches::BatchError;

fn state_fr(s: &str) -> &str {
    match s {
        "open" => "ouvert",
        "closed" => "fermé, à remettre",
        "handed_over" => "remis à La Poste",
        other => other,
    }
}

pub async fn list(State(state): State<AppState>, who: Signed, Query(n): Query<Notice>) -> Response {
    if let Err(r) = who.require(Permission::ViewProduction) {
        return r;
    }
    let batches = match state.store.batches().await {
        Ok(b) => b,
        Err(e) => return failed(&who, &e),
    };
    let mut m = n.markup();
    if batches.is_empty() {
        h!(m; "<p>Aucun lot postal.</p>");
    } else {
        h!(m; "<table class=\"batches\"><thead><tr><th>Lot</th><th>Produit</th><th>Dépôt</th><th>État</th><th>Plis</th><th>Poids</th><th>Documents</th><th></th></tr></thead><tbody>");
        for b in &batches {
            let id = &b.batch_id;
            h!(m; "<tr><td class=\"mono\">" {id} "</td><td>" {b.product} "</td><td>" {b.dispatch_date} "</td><td>" {state_fr(&b.state)} "</td><td class=\"n\">" {count(b.pieces.unwrap_or(0))} "</td><td class=\"n\">");
            if let Some(w) = b.weight_g {
                h!(m; {weight(w)});
            }
            h!(m; "</td><td>");
            if b.state != "open" {
                h!(m; "<a href=\"/console/batches/" {id} "/cover.pdf\">Bordereau</a> · <a href=\"/console/batches/" {id} "/manifest.csv\">Manifeste</a>");
            }
            h!(m; "</td><td>");
            if b.state == "closed" && who.may(Permission::RunProduction) {
                h!(m; "<form method=\"post\" action=\"/console/batches/" {id} "/hand-over\">" [csrf_field(&who)]
                    "<label class=\"confirm\"><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> bacs remis à l’agent</label>"
                    "<button type=\"submit\">Remettre à La Poste</button></form>");
            } else if let Some(at) = b.handed_over_at {
                h!(m; "le " {when(at)});
            }
            h!(m; "</td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    page(&who, "Lots postaux", "/console/batches", m).into_response()
}

/// The cover sheet (PDF) or the manifest (CSV) of a closed batch.
pub async fn document(
    State(state): State<AppState>,
    who: Signed,
    Path((batch_id, file)): Path<(String, String)>,
) -> Response {
    if let Err(r) = who.require(Permission::ViewProduction) {
        return r;
    }
    let manifest = match state.store.batch_manifest(&batch_id).await {
        Ok(m) => m,
        Err(BatchError::NoBatch(_)) => {
            return not_found(&who, &format!("Aucun lot {batch_id}."));
        }
        Err(e @ BatchError::WrongState { .. }) => return not_found(&who, &e.to_string()),
        Err(e) => return failed(&who, &e),
    };
    let disposition = |ext: &str| format!("attachment; filename=\"{}.{ext}\"", safe(&batch_id));
    match file.as_str() {
        "manifest.csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition("manifest.csv")),
            ],
            manifest.csv,
        )
            .into_response(),
        "cover.pdf" => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            let pdf = time::Date::parse(&manifest.batch.dispatch_date, fmt)
                .map_err(|e| e.to_string())
                .and_then(|d| {
                    crate::post::cover::for_manifest(&manifest, d).map_err(|e| e.to_string())
                });
            match pdf {
                Ok(bytes) => (
                    [
                        (header::CONTENT_TYPE, "application/pdf".to_string()),
                        (header::CONTENT_DISPOSITION, disposition("cover.pdf")),
                    ],
                    bytes,
                )
                    .into_response(),
                Err(e) => failed(&who, &e),
            }
        }
        _ => not_found(&who, "Documents d’un lot : cover.pdf, manifest.csv."),
    }
}

/// "28 g", "1,4 kg".
fn weight(grams: i64) -> String {
    if grams < 1000 {
        format!("{grams} g")
    } else {
        format!("{:.1} kg", grams as f64 / 1000.0).replace('.', ",")
    }
}

/// A batch id as a file name: nothing that ends the header's quoted string.
fn safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
        .collect()
}

#[derive(Deserialize)]
pub struct HandOver {
    #[serde(default)]
    confirm: String,
}

pub async fn hand_over(
    State(state): State<AppState>,
    Path(batch_id): Path<String>,
    s: Submitted<HandOver>,
) -> Response {
    if let Err(r) = s.who.require(Permission::RunProduction) {
        return r;
    }
    if s.form.confirm != "yes" {
        return back(
            "/console/batches",
            false,
            "Cochez « bacs remis à l’agent » pour confirmer la remise.",
        );
    }
    match state.store.hand_over(&batch_id, &s.who.user.username).await {
        Ok(n) => back(
            "/console/batches",
            true,
            &format!("Lot {batch_id} remis à La Poste : {n} pli(s) expédié(s)."),
        ),
        Err(BatchError::Store(e)) => failed(&s.who, &e),
        Err(e) => back("/console/batches", false, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn weights_in_french() {
        assert_eq!(super::weight(28), "28 g");
        assert_eq!(super::weight(1_450), "1,4 kg");
    }
}
