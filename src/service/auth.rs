//! Bearer-token authentication of machine clients (the portal).
//!
//! Only the SHA-256 of a token is kept in memory and compared, in constant time, so the token
//! never appears in a log or a core dump of a long-running server, and timing tells nothing.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

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
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some(presented) = value.strip_prefix("Bearer ") else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        digest
            .iter()
            .zip(self.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
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
}
