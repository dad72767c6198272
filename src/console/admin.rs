//! The admin's pages: users (add, disable) and machine tokens (issue, revoke: rotation), and
//! the dead-letter view of portal events with its retry button.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::{Markup, h, when};
use super::pages::{Notice, back, csrf_field, failed, page, role_fr};
use super::session::{Signed, Submitted};
use crate::domain::role::{Permission, Role};
use crate::service::AppState;
use crate::store::sessions::{TokenError, TokenKind};
use crate::store::users::UserError;

async fn users_page(state: &AppState, who: &Signed, mut m: Markup) -> Response {
    let (users, tokens) = match tokio::try_join!(state.store.users(), state.store.tokens()) {
        Ok(t) => t,
        Err(e) => return failed(who, &e),
    };
    h!(m; "<section><h2>Utilisateurs</h2><table><thead><tr><th>Identifiant</th><th>Nom</th><th>Rôle</th><th>État</th><th></th></tr></thead><tbody>");
    for u in &users {
        h!(m; "<tr><td class=\"mono\">" {u.username} "</td><td>" {u.display_name} "</td><td>" {role_fr(u.role)} "</td><td>");
        if u.disabled {
            h!(m; "désactivé</td><td>");
        } else {
            h!(m; "actif</td><td><form method=\"post\" action=\"/console/users/" {u.username} "/disable\">" [csrf_field(who)] "<button type=\"submit\" class=\"secondary\">Désactiver</button></form>");
        }
        h!(m; "</td></tr>");
    }
    h!(m; "</tbody></table><h3>Ajouter</h3><form class=\"grid\" method=\"post\" action=\"/console/users\">" [csrf_field(who)]
        "<label>Identifiant <input name=\"username\" required pattern=\"[a-z0-9._\\-]{2,32}\"></label>"
        "<label>Nom affiché <input name=\"display_name\" required maxlength=\"64\"></label>"
        "<label>Rôle <select name=\"role\">");
    for r in Role::ALL {
        h!(m; "<option value=\"" {r.as_str()} "\">" {role_fr(r)} "</option>");
    }
    h!(m; "</select></label><label>Mot de passe (12 caractères au moins) <input name=\"password\" type=\"password\" required minlength=\"12\" autocomplete=\"new-password\"></label>"
        "<button type=\"submit\">Ajouter</button></form></section>");

    h!(m; "<section><h2>Jetons des postes et du portail</h2><p class=\"small\">Rotation : émettez un nouveau jeton, installez-le sur le poste, puis révoquez l’ancien. Le secret n’est montré qu’une fois.</p><table><thead><tr><th>N°</th><th>Nom</th><th>Type</th><th>Émis</th><th>Par</th><th>État</th><th></th></tr></thead><tbody>");
    for t in &tokens {
        h!(m; "<tr><td>" {t.id} "</td><td class=\"mono\">" {t.name} "</td><td>" {t.kind} "</td><td>" {when(t.created_at)} "</td><td>" {t.created_by} "</td><td>");
        match t.revoked_at {
            Some(at) => h!(m; "révoqué le " {when(at)} "</td><td>"),
            None => {
                h!(m; "valide</td><td><form method=\"post\" action=\"/console/tokens/" {t.id} "/revoke\">" [csrf_field(who)] "<button type=\"submit\" class=\"secondary\">Révoquer</button></form>")
            }
        }
        h!(m; "</td></tr>");
    }
    h!(m; "</tbody></table><form class=\"grid\" method=\"post\" action=\"/console/tokens\">" [csrf_field(who)]
        "<label>Nom du poste <input name=\"name\" required pattern=\"[a-z0-9._\\-]{2,32}\"></label>"
        "<label>Type <select name=\"kind\"><option value=\"station\">poste</option><option value=\"portal\">portail</option></select></label>"
        "<button type=\"submit\">Émettre un jeton</button></form></section>");
    page(who, "Utilisateurs et jetons", "/console/users", m).into_response()
}

pub async fn users(
    State(state): State<AppState>,
    who: Signed,
    Query(n): Query<Notice>,
) -> Response {
    if let Err(r) = who.require(Permission::ManageUsers) {
        return r;
    }
    users_page(&state, &who, n.markup()).await
}

#[derive(Deserialize)]
pub struct NewUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

pub async fn add_user(State(state): State<AppState>, s: Submitted<NewUser>) -> Response {
    if let Err(r) = s.who.require(Permission::ManageUsers) {
        return r;
    }
    let f = &s.form;
    let Some(role) = Role::parse(&f.role) else {
        return back(
            "/console/users",
            false,
            &format!("Rôle inconnu : {}", f.role),
        );
    };
    match state
        .store
        .add_user(
            &f.username,
            &f.display_name,
            role,
            &f.password,
            &s.who.user.username,
        )
        .await
    {
        Ok(u) => back(
            "/console/users",
            true,
            &format!("Utilisateur {} ajouté ({}).", u.username, role_fr(u.role)),
        ),
        Err(UserError::Store(e)) => failed(&s.who, &e),
        Err(e) => back("/console/users", false, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn disable_user(
    State(state): State<AppState>,
    Path(username): Path<String>,
    s: Submitted<Nothing>,
) -> Response {
    if let Err(r) = s.who.require(Permission::ManageUsers) {
        return r;
    }
    if username.eq_ignore_ascii_case(&s.who.user.username) {
        return back(
            "/console/users",
            false,
            "Vous ne pouvez pas vous désactiver vous-même.",
        );
    }
    match state
        .store
        .disable_user(&username, &s.who.user.username)
        .await
    {
        Ok(()) => back(
            "/console/users",
            true,
            &format!("{username} est désactivé : ses sessions sont closes."),
        ),
        Err(UserError::Store(e)) => failed(&s.who, &e),
        Err(e) => back("/console/users", false, &e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct NewToken {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

pub async fn issue_token(State(state): State<AppState>, s: Submitted<NewToken>) -> Response {
    if let Err(r) = s.who.require(Permission::ManageUsers) {
        return r;
    }
    let kind = match s.form.kind.as_str() {
        "portal" => TokenKind::Portal,
        "station" => TokenKind::Station,
        other => {
            return back(
                "/console/users",
                false,
                &format!("Type de jeton inconnu : {other}"),
            );
        }
    };
    match state
        .store
        .issue_token(kind, &s.form.name, &s.who.user.username)
        .await
    {
        Ok((id, secret)) => {
            // Shown on this answer only (never in a URL, never again).
            let mut m = Markup::new();
            h!(m; "<div class=\"notice good secret\" role=\"status\">Jeton n° " {id} " pour " {s.form.name.trim()} " : <code id=\"secret\">" {secret} "</code><br>Copiez-le maintenant dans la configuration du poste : il ne sera plus affiché.</div>");
            users_page(&state, &s.who, m).await
        }
        Err(TokenError::Store(e)) => failed(&s.who, &e),
        Err(e) => back("/console/users", false, &e.to_string()),
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    s: Submitted<Nothing>,
) -> Response {
    if let Err(r) = s.who.require(Permission::ManageUsers) {
        return r;
    }
    match state.store.revoke_token(id, &s.who.user.username).await {
        Ok(()) => back("/console/users", true, &format!("Jeton {id} révoqué.")),
        Err(TokenError::Store(e)) => failed(&s.who, &e),
        Err(e) => back("/console/users", false, &e.to_string()),
    }
}

/// Portal events that could not be delivered.
pub async fn events(
    State(state): State<AppState>,
    who: Signed,
    Query(n): Query<Notice>,
) -> Response {
    if let Err(r) = who.require(Permission::ViewAudit) {
        return r;
    }
    let dead = match state.store.dead_events().await {
        Ok(d) => d,
        Err(e) => return failed(&who, &e),
    };
    let mut m = n.markup();
    if dead.is_empty() {
        h!(m; "<p class=\"notice good\">Aucun événement en échec : le portail reçoit tout.</p>");
    } else {
        h!(m; "<p>Ces événements n’ont pas été acceptés par le portail après tous les essais. Vérifiez que le portail répond, puis relancez.</p>"
            "<form method=\"post\" action=\"/console/events/retry\">" [csrf_field(&who)] "<button type=\"submit\">Tout relancer (" {dead.len()} ")</button></form>"
            "<table><thead><tr><th>N°</th><th>Événement</th><th>Type</th><th>Essais</th><th>Abandonné le</th><th>Dernière erreur</th><th></th></tr></thead><tbody>");
        for d in &dead {
            h!(m; "<tr><td>" {d.seq} "</td><td class=\"mono small\">" {d.event_id} "</td><td>" {d.event_type} "</td><td class=\"n\">" {d.attempts} "</td><td>" {when(d.dead_at)} "</td><td class=\"small\">" {d.last_error.as_deref().unwrap_or("")} "</td><td>"
                "<form method=\"post\" action=\"/console/events/retry\">" [csrf_field(&who)] "<input type=\"hidden\" name=\"seq\" value=\"" {d.seq} "\"><button type=\"submit\" class=\"secondary\">Relancer</button></form></td></tr>");
        }
        h!(m; "</tbody></table>");
    }
    page(&who, "Événements portail en échec", "/console/events", m).into_response()
}

#[derive(Deserialize)]
pub struct Retry {
    #[serde(default)]
    seq: String,
}

pub async fn retry(State(state): State<AppState>, s: Submitted<Retry>) -> Response {
    if let Err(r) = s.who.require(Permission::ViewAudit) {
        return r;
    }
    let seq = match s.form.seq.trim() {
        "" => None,
        n => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return back(
                    "/console/events",
                    false,
                    &format!("N° d’événement illisible : {n}"),
                );
            }
        },
    };
    match state
        .store
        .retry_dead_events(seq, &s.who.user.username)
        .await
    {
        Ok(n) => back(
            "/console/events",
            true,
            &format!("{n} événement(s) relancé(s) : ils repartent au prochain passage."),
        ),
        Err(e) => failed(&s.who, &e),
    }
}
