//! Who is at the console, and whether a form really came from our page.
//!
//! - The session cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
//!   page sends it), `Secure` with the `__Host-` prefix unless the service runs on plain HTTP
//!   for a test bench (`[console] secure_cookies = false`).
//! - Every form carries a CSRF token derived from the session secret; [`Submitted`] refuses a
//!   form without the right one, so no handler can forget the check. A request whose `Origin`
//!   is another site is refused too.
//! - Sign-in always makes a new session and ends the one the browser had (session fixation).
//! - The sign-in form itself carries a token matched against a short-lived cookie (login CSRF).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::domain::role::Permission;
use crate::service::AppState;
use crate::store::users::User;

/// The largest form a console page posts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Cookie names: with `Secure`, the `__Host-` prefix also pins them to this host and path /.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-cqcfab-session"
    } else {
        "cqcfab-session"
    }
}

pub fn login_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-cqcfab-login"
    } else {
        "cqcfab-login"
    }
}

/// A `Set-Cookie` value; `max_age` 0 deletes it.
pub fn set_cookie(secure: bool, name: &str, value: &str, max_age: i64) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Constant-time equality of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A person signed in at the console.
#[derive(Debug, Clone)]
pub struct Signed {
    pub user: User,
    secret: String,
}

impl Signed {
    /// The CSRF token of this session: it cannot be made without the cookie's secret, which
    /// no script and no other site can read.
    pub fn csrf(&self) -> String {
        hex::encode(Sha256::digest(format!("csrf:{}", self.secret).as_bytes()))
    }

    pub fn may(&self, p: Permission) -> bool {
        self.user.role.may(p)
    }

    /// `Ok` when this person's role has `p`; otherwise the refusal page. (The error is a whole
    /// HTTP answer, made at most once per request: its size does not matter.)
    #[allow(clippy::result_large_err)]
    pub fn require(&self, p: Permission) -> Result<(), Response> {
        if self.may(p) {
            return Ok(());
        }
        tracing::warn!(user = %self.user.username, role = self.user.role.as_str(), permission = ?p, "console: refused by role");
        Err(super::pages::refused(self))
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let secure = state.console.secure_cookies;
        let Some(secret) = cookie(&parts.headers, session_cookie(secure)) else {
            return Err(to_login(parts));
        };
        match state.store.session_user(secret).await {
            Ok(Some(user)) => Ok(Signed {
                user,
                secret: secret.to_string(),
            }),
            Ok(None) => Err(to_login(parts)),
            Err(e) => {
                tracing::error!(error = %e, "console: session lookup failed");
                Err(super::pages::unavailable(&e.to_string()))
            }
        }
    }
}

/// Back to the sign-in page, coming back here afterwards (GET pages only).
fn to_login(parts: &Parts) -> Response {
    let next = if parts.method == axum::http::Method::GET {
        parts.uri.path().to_string()
    } else {
        "/console".to_string()
    };
    let next = next
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "/-_.".contains(*c))
        .collect::<String>();
    Redirect::to(&format!("/console/login?next={next}")).into_response()
}

/// The token a form sent.
#[derive(serde::Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// A form posted by a signed-in person from one of our pages: session, same origin and CSRF
/// token checked before the handler sees it.
pub struct Submitted<T> {
    pub who: Signed,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Submitted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let who = Signed::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(forbidden(&who, "la demande vient d’un autre site"));
        }
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            return Err(forbidden(&who, "formulaire trop grand"));
        };
        let parsed: WithCsrf<T> = match serde_urlencoded::from_bytes(&bytes) {
            Ok(p) => p,
            Err(e) => {
                return Err(super::pages::bad_form(&who, &e.to_string()));
            }
        };
        if !same_token(&parsed.csrf, &who.csrf()) {
            tracing::warn!(user = %who.user.username, path = %parts.uri.path(), "console: CSRF token missing or wrong");
            return Err(forbidden(
                &who,
                "jeton de formulaire absent ou périmé : rechargez la page",
            ));
        }
        Ok(Submitted {
            who,
            form: parsed.form,
        })
    }
}

/// No `Origin`, or ours: browsers send it on every POST, so another site's form is caught
/// even before the token is checked.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

fn forbidden(who: &Signed, why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        super::pages::message(who, "Refusé", why),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; __Host-cqcfab-session=abc; cqcfab-session=def"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookie(&h, "__Host-cqcfab-session"), Some("abc"));
        assert_eq!(cookie(&h, "cqcfab-session"), Some("def"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "bureau.example:8080".parse().unwrap());
        assert!(same_origin(&h), "no Origin: a non-browser client");
        h.insert(
            header::ORIGIN,
            "https://bureau.example:8080".parse().unwrap(),
        );
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "a"));
    }

    #[test]
    fn secure_cookies_carry_every_attribute() {
        let c = set_cookie(true, session_cookie(true), "v", 60);
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(c.starts_with("__Host-cqcfab-session=v"));
        assert!(!set_cookie(false, session_cookie(false), "v", 0).contains("Secure"));
    }
}
