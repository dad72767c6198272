//! Console users (docs/users.md): added and disabled by an admin, passwords hashed with
//! argon2id, sign-in failures counted and locked out, every step audited.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde_json::json;

use super::audit::Entry;
use super::{Store, StoreError};
use crate::domain::role::Role;

/// Failed sign-ins in a row before the account is locked.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_MS: i64 = 15 * 60_000;
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// A user as stored (never with the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    password_hash: String,
    disabled_at: Option<i64>,
    failed_logins: i32,
    locked_until: Option<i64>,
}

impl Row {
    fn user(&self) -> Result<User, StoreError> {
        Ok(User {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: Role::parse(&self.role)
                .ok_or_else(|| StoreError::Corrupt(format!("user role {:?}", self.role)))?,
            disabled: self.disabled_at.is_some(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("username {0:?}: 2 to 32 characters among a-z, 0-9, '.', '-', '_'")]
    BadUsername(String),
    #[error("display name: 1 to 64 characters")]
    BadDisplayName,
    #[error("the password must be at least {MIN_PASSWORD} characters")]
    WeakPassword,
    #[error("user {0} exists already")]
    Exists(String),
    #[error("no user {0}")]
    Unknown(String),
    #[error("hashing the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a sign-in was refused. Unknown user and wrong password are one answer, so the form
/// does not tell which usernames exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("wrong username or password")]
    Wrong,
    #[error("this account is disabled")]
    Disabled,
    #[error("too many failed sign-ins: locked until {until}")]
    Locked { until: String },
}

fn valid_username(u: &str) -> bool {
    (2..=32).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// An argon2id PHC string of `password` with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

macro_rules! select_user {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, display_name, role, password_hash, disabled_at, failed_logins, \
             locked_until FROM users ",
            $rest
        )
    };
}

impl Store {
    /// Adds a user (`by`: the admin, audited).
    pub async fn add_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password: &str,
        by: &str,
    ) -> Result<User, UserError> {
        let username = username.trim().to_lowercase();
        if !valid_username(&username) {
            return Err(UserError::BadUsername(username));
        }
        let display = display_name.trim();
        if display.is_empty() || display.chars().count() > 64 {
            return Err(UserError::BadDisplayName);
        }
        if password.chars().count() < MIN_PASSWORD {
            return Err(UserError::WeakPassword);
        }
        let phc = hash_password(password)?;
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let inserted: Result<(i64,), sqlx::Error> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "INSERT INTO users (username, display_name, role, password_hash, created_at, \
                 created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&username)
            .bind(display)
            .bind(role.as_str())
            .bind(&phc)
            .bind(now)
            .bind(by)
            .fetch_one(&mut *c)
            .await
        });
        let (id,) = match inserted {
            Ok(r) => r,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(UserError::Exists(username));
            }
            Err(e) => return Err(StoreError::from(e).into()),
        };
        super::audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "user.added",
                entity_type: "user",
                entity_id: &username,
                before: None,
                after: Some(json!({ "role": role.as_str(), "display_name": display })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(User {
            id,
            username,
            display_name: display.to_string(),
            role,
            disabled: false,
        })
    }

    /// Disables a user: they can no longer sign in; their name stays in the audit trail.
    pub async fn disable_user(&self, username: &str, by: &str) -> Result<(), UserError> {
        let username = username.trim().to_lowercase();
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE users SET disabled_at = $1, disabled_by = $2 \
                 WHERE username = $3 AND disabled_at IS NULL",
            )
            .bind(now)
            .bind(by)
            .bind(&username)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        });
        if n == 0 {
            return Err(UserError::Unknown(username));
        }
        super::audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "user.disabled",
                entity_type: "user",
                entity_id: &username,
                before: None,
                after: None,
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every user, by username.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<Row> = on_read!(self, |p, pg| {
            sqlx::query_as(select_user!("ORDER BY username"))
                .fetch_all(p)
                .await?
        });
        rows.iter().map(Row::user).collect()
    }

    /// Checks a sign-in. Failures are counted and audited; after [`MAX_FAILED_LOGINS`] in a
    /// row the account is locked for [`LOCK_MS`], whatever password comes next.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Result<User, LoginError>, StoreError> {
        let username = username.trim().to_lowercase();
        let now = self.clock().now_ms();
        let row: Option<Row> = on_read!(self, |p, pg| {
            sqlx::query_as(select_user!("WHERE username = $1"))
                .bind(&username)
                .fetch_optional(p)
                .await?
        });
        let Some(row) = row else {
            // The same work as a real check, so timing does not tell which names exist.
            let _ = verify(password, dummy_hash());
            self.login_audit(&username, "user.login_failed", "unknown user")
                .await?;
            return Ok(Err(LoginError::Wrong));
        };
        if row.disabled_at.is_some() {
            self.login_audit(&username, "user.login_failed", "disabled")
                .await?;
            return Ok(Err(LoginError::Disabled));
        }
        if let Some(until) = row.locked_until.filter(|u| *u > now) {
            self.login_audit(&username, "user.login_failed", "locked")
                .await?;
            return Ok(Err(LoginError::Locked {
                until: crate::clock::rfc3339(until),
            }));
        }
        if verify(password, &row.password_hash) {
            on_write!(self, |p, pg| {
                sqlx::query(
                    "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1",
                )
                .bind(row.id)
                .execute(p)
                .await?;
            });
            self.login_audit(&username, "user.login", "ok").await?;
            return Ok(Ok(row.user()?));
        }
        let failures = i64::from(row.failed_logins) + 1;
        let lock = (failures >= MAX_FAILED_LOGINS).then_some(now + LOCK_MS);
        on_write!(self, |p, pg| {
            sqlx::query(
                "UPDATE users SET failed_logins = CASE WHEN $1 IS NULL THEN failed_logins + 1 ELSE 0 END, \
                 locked_until = $1 WHERE id = $2",
            )
            .bind(lock)
            .bind(row.id)
            .execute(p)
            .await?;
        });
        let why = if lock.is_some() {
            "wrong password; account locked"
        } else {
            "wrong password"
        };
        self.login_audit(&username, "user.login_failed", why)
            .await?;
        Ok(Err(match lock {
            Some(until) => LoginError::Locked {
                until: crate::clock::rfc3339(until),
            },
            None => LoginError::Wrong,
        }))
    }

    async fn login_audit(&self, username: &str, action: &str, why: &str) -> Result<(), StoreError> {
        self.audit(&Entry {
            actor: username,
            action,
            entity_type: "user",
            entity_id: username,
            before: None,
            after: None,
            reason: Some(why),
        })
        .await?;
        Ok(())
    }
}

/// An argon2id hash of a random password nobody knows, for unknown usernames.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let secret = SaltString::generate(&mut OsRng);
        hash_password(secret.as_str()).unwrap_or_default()
    })
}
