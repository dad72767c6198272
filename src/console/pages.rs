//! The page frame (header, menu by role, sign-out) and the answers every page may give.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::html::{Markup, h};
use super::session::Signed;
use crate::domain::role::Permission;

/// The menu: path, label, who sees it.
const MENU: [(&str, &str, Permission); 9] = [
    ("/console", "Production", Permission::ViewProduction),
    ("/console/cards", "Cartes", Permission::ViewProduction),
    (
        "/console/batches",
        "Lots postaux",
        Permission::ViewProduction,
    ),
    (
        "/console/mailroom",
        "Courrier retourné",
        Permission::ScanReturns,
    ),
    ("/console/quality", "Qualité", Permission::AnalyseQuality),
    ("/console/approvals", "Approbations", Permission::Approve),
    ("/console/review", "Demandes à revoir", Permission::Approve),
    (
        "/console/events",
        "Événements portail",
        Permission::ViewAudit,
    ),
    ("/console/users", "Utilisateurs", Permission::ManageUsers),
];

/// French names of the roles.
pub fn role_fr(role: crate::domain::role::Role) -> &'static str {
    use crate::domain::role::Role;
    match role {
        Role::Operator => "opérateur",
        Role::Mailroom => "courrier",
        Role::Quality => "qualité",
        Role::Supervisor => "superviseur",
        Role::Admin => "administrateur",
    }
}

/// A whole page for a signed-in person; `current` is the menu entry to highlight.
pub fn page(who: &Signed, title: &str, current: &str, body: Markup) -> Html<String> {
    let mut nav = Markup::new();
    for (path, label, p) in MENU {
        if !who.may(p) {
            continue;
        }
        if path == current {
            h!(nav; "<a class=\"current\" aria-current=\"page\" href=\"" {path} "\">" {label} "</a>");
        } else {
            h!(nav; "<a href=\"" {path} "\">" {label} "</a>");
        }
    }
    let mut m = head(title);
    h!(m;
        "<script src=\"/console/static/console.js\" defer></script>"
        "</head><body><header><a class=\"brand\" href=\"/console\">Bureau CQC</a><nav>" [nav] "</nav>"
        "<form class=\"who\" method=\"post\" action=\"/console/logout\">"
        "<span>" {who.user.display_name} " · " {role_fr(who.user.role)} "</span>"
        "<input type=\"hidden\" name=\"csrf\" value=\"" {who.csrf()} "\">"
        "<button type=\"submit\">Se déconnecter</button></form></header>"
        "<main><h1>" {title} "</h1>" [body] "</main></body></html>"
    );
    Html(m.into_string())
}

/// The start of every page, up to the end of `<head>` (left open).
fn head(title: &str) -> Markup {
    let mut m = Markup::new();
    h!(m;
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>" {title} " · cqcfab</title>"
        "<link rel=\"stylesheet\" href=\"/console/static/console.css\">"
    );
    m
}

/// A page without a signed-in person (sign-in, errors before sign-in).
pub fn bare(title: &str, body: Markup) -> Html<String> {
    let mut m = head(title);
    h!(m;
        "</head><body class=\"bare\"><main><h1>" {title} "</h1>" [body] "</main></body></html>"
    );
    Html(m.into_string())
}

/// A short message in the frame.
pub fn message(who: &Signed, title: &str, text: &str) -> Html<String> {
    let mut m = Markup::new();
    h!(m; "<p class=\"notice bad\">" {text} "</p><p><a href=\"/console\">Retour</a></p>");
    page(who, title, "", m)
}

/// The role may not see or do this (403).
pub fn refused(who: &Signed) -> Response {
    (
        StatusCode::FORBIDDEN,
        message(
            who,
            "Accès refusé",
            "Votre rôle ne permet pas cette page ou cette action.",
        ),
    )
        .into_response()
}

/// A form that could not be read (400).
pub fn bad_form(who: &Signed, why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        message(who, "Formulaire illisible", why),
    )
        .into_response()
}

/// The database did not answer (503): nothing was done.
pub fn unavailable(why: &str) -> Response {
    let mut m = Markup::new();
    h!(m; "<p class=\"notice bad\">La base de données ne répond pas : rien n’a été fait. Réessayez dans un instant.</p><p class=\"small\">" {why} "</p>");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        bare("Service indisponible", m),
    )
        .into_response()
}

/// A store error seen by a signed-in person.
pub fn failed(who: &Signed, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(user = %who.user.username, error = %e, "console: request failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        message(who, "Échec", &format!("Rien n’a été enregistré : {e}")),
    )
        .into_response()
}

/// Not found (404) in the frame.
pub fn not_found(who: &Signed, what: &str) -> Response {
    (StatusCode::NOT_FOUND, message(who, "Introuvable", what)).into_response()
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(who: &Signed) -> Markup {
    let mut m = Markup::new();
    h!(m; "<input type=\"hidden\" name=\"csrf\" value=\"" {who.csrf()} "\">");
    m
}

/// A notice after an action (`?ok=` / `?err=` on the page it redirected to).
pub fn notice(ok: Option<&str>, err: Option<&str>) -> Markup {
    let mut m = Markup::new();
    if let Some(t) = ok {
        h!(m; "<p class=\"notice good\" role=\"status\">" {t} "</p>");
    }
    if let Some(t) = err {
        h!(m; "<p class=\"notice bad\" role=\"alert\">" {t} "</p>");
    }
    m
}

/// Redirects after a form (303: the browser then GETs), with a notice.
pub fn back(path: &str, ok: bool, text: &str) -> Response {
    let key = if ok { "ok" } else { "err" };
    let q: String = serde_urlencoded::to_string([(key, text)]).unwrap_or_default();
    axum::response::Redirect::to(&format!("{path}?{q}")).into_response()
}

/// The `?ok=`/`?err=` notice of a page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Notice {
    pub ok: Option<String>,
    pub err: Option<String>,
}

impl Notice {
    pub fn markup(&self) -> Markup {
        notice(self.ok.as_deref(), self.err.as_deref())
    }
}
