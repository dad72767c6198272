//! Throw-away PostgreSQL databases for tests and benchmarks: each run gets an empty database
//! of its own on the server the given URL points at, and drops it afterwards.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

use super::StoreError;

/// Creates an empty database named `<prefix>_<random>`; returns its URL.
pub async fn create(admin_url: &str, prefix: &str) -> Result<String, StoreError> {
    let safe_prefix: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect();
    let name = format!(
        "{}_{}",
        safe_prefix.to_ascii_lowercase(),
        &Uuid::new_v4().simple().to_string()[..12]
    );
    let mut admin = PgConnection::connect_with(&PgConnectOptions::from_str(admin_url)?).await?;
    // The name is built from [a-z0-9_] only, so quoting it is enough.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(with_database(admin_url, &name))
}

/// Drops the database `url` names (connections to it are terminated first).
pub async fn drop(admin_url: &str, url: &str) -> Result<(), StoreError> {
    let Some(name) = database_of(url) else {
        return Ok(());
    };
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::Conflict(format!(
            "refusing to drop database {name:?}"
        )));
    }
    let mut admin = PgConnection::connect_with(&PgConnectOptions::from_str(admin_url)?).await?;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok(())
}

/// `url` with its database path replaced by `name`, query parameters kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..authority_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn database_of(url: &str) -> Option<String> {
    let base = url.split('?').next()?;
    let scheme_end = base.find("://")? + 3;
    let slash = base[scheme_end..].find('/')? + scheme_end;
    let name = &base[slash + 1..];
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_database_part() {
        assert_eq!(
            with_database("postgresql://postgres@127.0.0.1:55432/postgres", "t_1"),
            "postgresql://postgres@127.0.0.1:55432/t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            database_of("postgres://u@h:1/abc?x=1").as_deref(),
            Some("abc")
        );
    }
}
