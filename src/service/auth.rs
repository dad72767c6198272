//! Bearer-token authentication of machine clients (the portal).
//!
//! Only the SHA-256 of a token is kept in memory and compared, in constant time, so the token
//! never appears in a log or a core dump of a long-running server, and timing tells nothing.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

use crate::store::sessions::TokenKind;

/// A configured token, held as its digest.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    pub fn new(secret: &str) -> Self {
        Token(Sha256::digest(secret.as_bytes()).into())
    }

    /// True when the `Authorization: Bearer …` header carries this token.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        bearer_digest(headers).is_some_and(|d| self.is(&d))
    }

    fn is(&self, digest: &[u8; 32]) -> bool {
        digest
            .iter()
            .zip(self.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// The bearer token presented, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim())
}

/// The digest of the bearer token presented, if any.
fn bearer_digest(headers: &HeaderMap) -> Option<[u8; 32]> {
    Some(Sha256::digest(bearer(headers)?.as_bytes()).into())
}

impl super::AppState {
    /// True when the request carries the portal's token: the configured one, or one issued
    /// with `cqcfab token issue --kind portal` (or in the console) and not revoked (rotation without a restart).
    pub(super) async fn portal_admits(&self, headers: &HeaderMap) -> bool {
        if self
            .portal_token
            .as_ref()
            .as_ref()
            .is_some_and(|t| t.admits(headers))
        {
            return true;
        }
        self.issued(TokenKind::Portal, headers).await.is_some()
    }

    /// The name of the station whose token the request carries (configured or issued).
    pub(super) async fn station_of(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(name) = self.stations.identify(headers) {
            return Some(name.to_string());
        }
        self.issued(TokenKind::Station, headers).await
    }

    async fn issued(&self, kind: TokenKind, headers: &HeaderMap) -> Option<String> {
        let secret = bearer(headers)?;
        match self.store.token_name(kind, secret).await {
            Ok(name) => name,
            Err(e) => {
                // Refused rather than let in: the caller retries once the database is back.
                tracing::warn!(error = %e, "token lookup failed");
                None
            }
        }
    }
}

/// The stations allowed to call the service, each known by the name of its token: the name is
/// the actor the audit trail records for what the station does.
#[derive(Debug, Clone, Default)]
pub struct Stations(Vec<(String, Token)>);

impl Stations {
    pub fn new(stations: &[(String, String)]) -> Stations {
        Stations(
            stations
                .iter()
                .map(|(name, secret)| (name.clone(), Token::new(secret)))
                .collect(),
        )
    }

    /// The station whose token the request carries. Every token is compared, so the time
    /// taken does not tell which one nearly matched.
    pub fn identify(&self, headers: &HeaderMap) -> Option<&str> {
        let digest = bearer_digest(headers)?;
        self.0.iter().fold(None, |found, (name, t)| {
            if t.is(&digest) {
                Some(name.as_str())
            } else {
                found
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_only_the_right_bearer() {
        let t = Token::new("s3cret");
        let mut h = HeaderMap::new();
        assert!(!t.admits(&h));
        h.insert(AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(t.admits(&h));
        h.insert(AUTHORIZATION, "Bearer s3cre".parse().unwrap());
        assert!(!t.admits(&h));
        h.insert(AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert!(!t.admits(&h));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn a_station_is_known_by_its_own_token_only() {
        let stations = Stations::new(&[
            ("mailroom-1".into(), "one-secret-of-16+".into()),
            ("mailroom-2".into(), "two-secret-of-16+".into()),
        ]);
        let mut h = HeaderMap::new();
        assert_eq!(stations.identify(&h), None);
        h.insert(AUTHORIZATION, "Bearer two-secret-of-16+".parse().unwrap());
        assert_eq!(stations.identify(&h), Some("mailroom-2"));
        h.insert(AUTHORIZATION, "Bearer one-secret-of-16".parse().unwrap());
        assert_eq!(stations.identify(&h), None);
        assert!(!format!("{stations:?}").contains("secret"));
    }
}
