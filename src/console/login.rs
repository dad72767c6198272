//! Sign-in and sign-out.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{Markup, h};
use super::pages::{bare, unavailable};
use super::session::{
    Submitted, cookie, login_cookie, same_origin, same_token, session_cookie, set_cookie,
};
use crate::service::AppState;
use crate::store::sessions::{MAX_AGE_MS, new_secret};
use crate::store::users::LoginError;

/// How long the sign-in form stays valid.
const LOGIN_FORM_SECONDS: i64 = 600;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only our own pages are places to go back to (no open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains("\\") => n,
        _ => "/console",
    }
}

fn form(token: &str, next: &str, username: &str, problem: Option<&str>) -> Markup {
    let mut m = Markup::new();
    if let Some(p) = problem {
        h!(m; "<p class=\"notice bad\" role=\"alert\">" {p} "</p>");
    }
    h!(m;
        "<form class=\"login\" method=\"post\" action=\"/console/login\">"
        "<input type=\"hidden\" name=\"token\" value=\"" {token} "\">"
        "<input type=\"hidden\" name=\"next\" value=\"" {next} "\">"
        "<label>Identifiant <input name=\"username\" autocomplete=\"username\" autofocus required value=\"" {username} "\"></label>"
        "<label>Mot de passe <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>"
        "<button type=\"submit\">Se connecter</button></form>"
        "<p class=\"small\">Après 5 échecs, le compte est bloqué 15 minutes. Chaque tentative est journalisée.</p>"
    );
    m
}

/// A fresh sign-in form with its cookie.
fn login_page(
    state: &AppState,
    status: StatusCode,
    next: &str,
    username: &str,
    problem: Option<&str>,
) -> Response {
    let secure = state.console.secure_cookies;
    let token = new_secret();
    (
        status,
        [(
            header::SET_COOKIE,
            set_cookie(secure, login_cookie(secure), &token, LOGIN_FORM_SECONDS),
        )],
        bare("Connexion", form(&token, next, username, problem)),
    )
        .into_response()
}

pub async fn show(State(state): State<AppState>, Query(q): Query<Next>) -> Response {
    login_page(
        &state,
        StatusCode::OK,
        safe_next(q.next.as_deref()),
        "",
        None,
    )
}

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(c): Form<Credentials>,
) -> Response {
    let secure = state.console.secure_cookies;
    let next = safe_next(Some(&c.next)).to_string();
    let expected = cookie(&headers, login_cookie(secure)).unwrap_or("");
    if !same_origin(&headers) || expected.is_empty() || !same_token(expected, &c.token) {
        tracing::warn!("console: sign-in form without its cookie token (login CSRF?)");
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            &next,
            "",
            Some("Formulaire périmé : saisissez à nouveau."),
        );
    }
    let user = match state.store.authenticate(&c.username, &c.password).await {
        Err(e) => return unavailable(&e.to_string()),
        Ok(Err(e)) => {
            let text = match e {
                LoginError::Wrong => "Identifiant ou mot de passe incorrect.".to_string(),
                LoginError::Disabled => "Ce compte est désactivé.".to_string(),
                LoginError::Locked { until } => {
                    format!("Trop d’échecs : compte bloqué jusqu’à {until}.")
                }
            };
            return login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                &next,
                &c.username,
                Some(&text),
            );
        }
        Ok(Ok(user)) => user,
    };
    // Whatever session this browser had ends here; the new one has a new secret.
    if let Some(old) = cookie(&headers, session_cookie(secure))
        && let Err(e) = state.store.end_session(old).await
    {
        return unavailable(&e.to_string());
    }
    let secret = match state.store.open_session(&user).await {
        Ok(s) => s,
        Err(e) => return unavailable(&e.to_string()),
    };
    let mut resp = Redirect::to(&next).into_response();
    let h = resp.headers_mut();
    for c in [
        set_cookie(secure, session_cookie(secure), &secret, MAX_AGE_MS / 1000),
        set_cookie(secure, login_cookie(secure), "", 0),
    ] {
        if let Ok(v) = c.parse() {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn logout(State(state): State<AppState>, s: Submitted<Nothing>) -> Response {
    let secure = state.console.secure_cookies;
    if let Err(e) = state.store.end_session(s.who.secret()).await {
        return unavailable(&e.to_string());
    }
    (
        [(
            header::SET_COOKIE,
            set_cookie(secure, session_cookie(secure), "", 0),
        )],
        Redirect::to("/console/login"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_pages_are_places_to_return_to() {
        assert_eq!(safe_next(Some("/console/cards/X")), "/console/cards/X");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console");
        assert_eq!(safe_next(Some("//evil.example")), "/console");
        assert_eq!(safe_next(Some("/console\\@evil")), "/console");
        assert_eq!(safe_next(None), "/console");
    }
}
