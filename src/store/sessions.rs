//! Console sessions and machine tokens (docs/console.md).
//!
//! Both are random secrets handed out once and kept here only as their SHA-256, so a copy of
//! the database (a backup, a dump sent to support) signs nobody in.

use rand_core::{OsRng, RngCore};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::audit::Entry;
use super::users::User;
use super::{Store, StoreError};
use crate::domain::role::Role;

/// A session ends after this long without a request (a workstation left unlocked).
pub const IDLE_MS: i64 = 30 * 60_000;
/// And in any case after a shift.
pub const MAX_AGE_MS: i64 = 12 * 3_600_000;
/// `seen_at` is written at most this often, so reading pages does not write on each request.
const TOUCH_MS: i64 = 60_000;

/// A new random secret: 256 bits, hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The stored form of a secret.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    seen_at: i64,
}

/// Kinds of machine token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The driver portal.
    Portal,
    /// A station (mailroom, quality desk); its name is the actor of what it does.
    Station,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Portal => "portal",
            TokenKind::Station => "station",
        }
    }
}

/// An issued token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IssuedToken {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token name {0:?}: 2 to 32 characters among a-z, 0-9, '.', '-', '_'")]
    BadName(String),
    #[error("no live token {0}")]
    Unknown(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Opens a session for `user` and returns its secret (the cookie's value). Always a new
    /// secret: a session id that existed before sign-in is never promoted (session fixation).
    pub async fn open_session(&self, user: &User) -> Result<String, StoreError> {
        let secret = new_secret();
        let now = self.clock().now_ms();
        on_write!(self, |p, pg| {
            sqlx::query(
                "INSERT INTO console_sessions (id_hash, user_id, created_at, seen_at) \
                 VALUES ($1, $2, $3, $3)",
            )
            .bind(digest(&secret))
            .bind(user.id)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(secret)
    }

    /// The user of a live session: not ended, not idle too long, not too old, user enabled.
    pub async fn session_user(&self, secret: &str) -> Result<Option<User>, StoreError> {
        let now = self.clock().now_ms();
        let hash = digest(secret);
        let row: Option<SessionRow> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT u.id, u.username, u.display_name, u.role, s.seen_at \
                 FROM console_sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND s.ended_at IS NULL AND u.disabled_at IS NULL \
                 AND s.seen_at > $2 AND s.created_at > $3",
            )
            .bind(&hash)
            .bind(now - IDLE_MS)
            .bind(now - MAX_AGE_MS)
            .fetch_optional(p)
            .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        if now - row.seen_at > TOUCH_MS {
            on_write!(self, |p, pg| {
                sqlx::query("UPDATE console_sessions SET seen_at = $1 WHERE id_hash = $2")
                    .bind(now)
                    .bind(&hash)
                    .execute(p)
                    .await?;
            });
        }
        let role = Role::parse(&row.role)
            .ok_or_else(|| StoreError::Corrupt(format!("user role {:?}", row.role)))?;
        Ok(Some(User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role,
            disabled: false,
        }))
    }

    /// Ends a session (sign-out, or a new sign-in on the same browser).
    pub async fn end_session(&self, secret: &str) -> Result<(), StoreError> {
        let now = self.clock().now_ms();
        on_write!(self, |p, pg| {
            sqlx::query(
                "UPDATE console_sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL",
            )
            .bind(now)
            .bind(digest(secret))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Issues a machine token; the secret is returned once and never stored.
    pub async fn issue_token(
        &self,
        kind: TokenKind,
        name: &str,
        by: &str,
    ) -> Result<(i64, String), TokenError> {
        let name = name.trim();
        if !(2..=32).contains(&name.len())
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        {
            return Err(TokenError::BadName(name.to_string()));
        }
        let secret = new_secret();
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let (id,): (i64,) = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "INSERT INTO api_tokens (name, kind, sha256, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(name)
            .bind(kind.as_str())
            .bind(digest(&secret))
            .bind(now)
            .bind(by)
            .fetch_one(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        super::audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "token.issued",
                entity_type: "token",
                entity_id: &id.to_string(),
                before: None,
                after: Some(json!({ "name": name, "kind": kind.as_str() })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((id, secret))
    }

    /// Revokes a token: the next request carrying it is refused.
    pub async fn revoke_token(&self, id: i64, by: &str) -> Result<(), TokenError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 \
                 WHERE id = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(by)
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
        if n == 0 {
            return Err(TokenError::Unknown(id));
        }
        super::audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "token.revoked",
                entity_type: "token",
                entity_id: &id.to_string(),
                before: None,
                after: None,
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The name of the live token of this kind whose secret is `secret`.
    pub async fn token_name(
        &self,
        kind: TokenKind,
        secret: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT name FROM api_tokens WHERE sha256 = $1 AND kind = $2 AND revoked_at IS NULL",
            )
            .bind(digest(secret))
            .bind(kind.as_str())
            .fetch_optional(p)
            .await?
        });
        Ok(row.map(|(n,)| n))
    }

    /// Every issued token, newest first.
    pub async fn tokens(&self) -> Result<Vec<IssuedToken>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT id, name, kind, created_at, created_by, revoked_at FROM api_tokens \
                 ORDER BY id DESC",
            )
            .fetch_all(p)
            .await?
        }))
    }
}
