//! Requests as received from the portal, their pictures, and the first answer given.

use std::collections::HashMap;

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{Store, StoreError, Tx};
use crate::domain::images::Picture;

/// The answer first given for a request id, replayed for every identical retry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredAnswer {
    pub fingerprint: String,
    pub answer_status: i64,
    pub answer_body: String,
}

/// A request row to insert, with the answer given (so a retry can replay it).
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub request_id: &'a str,
    pub fingerprint: &'a str,
    pub kind: &'a str,
    pub received_at: i64,
    pub received_by: &'a str,
    /// The request without its pictures, as JSON.
    pub document: &'a str,
    pub answer_status: u16,
    pub answer_body: &'a str,
}

/// A picture to store with its request, and its SHA-256.
#[derive(Debug, Clone)]
pub struct NewMedia<'a> {
    pub request_id: &'a str,
    pub role: &'a str,
    pub picture: &'a Picture,
    pub sha256: String,
}

impl<'a> NewMedia<'a> {
    pub fn new(request_id: &'a str, role: &'a str, picture: &'a Picture) -> Self {
        use sha2::{Digest, Sha256};
        NewMedia {
            request_id,
            role,
            picture,
            sha256: hex::encode(Sha256::digest(&picture.bytes)),
        }
    }
}

/// The answers already stored for those of `ids` that exist (read inside `tx`, so that the
/// writer decides on what it is about to insert).
pub async fn existing(
    tx: &mut Tx,
    ids: &[&str],
) -> Result<HashMap<String, StoredAnswer>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, i64, String)> = on_tx!(tx, |c, pg| {
        let mut q = QueryBuilder::new(
            "SELECT request_id, fingerprint, answer_status, answer_body FROM requests WHERE request_id IN (",
        );
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
        q.build_query_as().fetch_all(&mut *c).await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, fingerprint, answer_status, answer_body)| {
            (
                id,
                StoredAnswer {
                    fingerprint,
                    answer_status,
                    answer_body,
                },
            )
        })
        .collect())
}

/// Appends a multi-row insert of request rows (ids must be new: check with [`existing`] in the
/// same transaction).
pub(crate) fn push_insert<DB>(q: &mut QueryBuilder<DB>, rows: &[NewRequest<'_>])
where
    DB: Database,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
{
    q.push("INSERT INTO requests (request_id, fingerprint, kind, received_at, received_by, document, answer_status, answer_body) ");
    q.push_values(rows, |mut b, r| {
        b.push_bind(r.request_id)
            .push_bind(r.fingerprint)
            .push_bind(r.kind)
            .push_bind(r.received_at)
            .push_bind(r.received_by)
            .push_bind(r.document)
            .push_bind(i64::from(r.answer_status))
            .push_bind(r.answer_body);
    });
}

/// Appends a multi-row insert of pictures, kept exactly as received.
pub(crate) fn push_media<DB>(q: &mut QueryBuilder<DB>, rows: &[NewMedia<'_>])
where
    DB: Database,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> &'a [u8]: Encode<'a, DB> + Type<DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
{
    q.push("INSERT INTO request_media (request_id, role, mime, width, height, sha256, bytes) ");
    q.push_values(rows, |mut b, m| {
        b.push_bind(m.request_id)
            .push_bind(m.role)
            .push_bind(m.picture.format.mime())
            .push_bind(i64::from(m.picture.width))
            .push_bind(i64::from(m.picture.height))
            .push_bind(m.sha256.as_str())
            .push_bind(&m.picture.bytes[..]);
    });
}

/// Allocates `n` holder numbers in one statement. They are never reused, even if the
/// transaction rolls back on PostgreSQL, where sequences are not transactional: gaps are
/// harmless, repeats impossible.
pub async fn allocate_holder_numbers(tx: &mut Tx, n: usize) -> Result<Vec<i64>, StoreError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let count = i64::try_from(n)
        .map_err(|_| StoreError::Conflict(format!("{n} holder numbers at once")))?;
    on_tx!(tx, |c, pg| {
        if pg {
            let rows: Vec<(i64,)> =
                sqlx::query_as("SELECT nextval('holder_number_seq') FROM generate_series(1, $1)")
                    .bind(count)
                    .fetch_all(&mut *c)
                    .await?;
            Ok(rows.into_iter().map(|(v,)| v).collect())
        } else {
            let (last,): (i64,) =
                sqlx::query_as("UPDATE counters SET value = value + $1 WHERE name = 'holder_number' RETURNING value")
                    .bind(count)
                    .fetch_one(&mut *c)
                    .await?;
            Ok((last - count + 1..=last).collect())
        }
    })
}

/// A stored picture.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Media {
    pub role: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    pub sha256: String,
    pub bytes: Option<Vec<u8>>,
}

impl Store {
    /// The first answer given for `request_id`, if the id is known.
    pub async fn request_answer(
        &self,
        request_id: &str,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as("SELECT fingerprint, answer_status, answer_body FROM requests WHERE request_id = $1")
                .bind(request_id)
                .fetch_optional(p)
                .await?
        }))
    }

    pub async fn request_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT COUNT(*) FROM requests")
                .fetch_one(p)
                .await?
        });
        Ok(n)
    }

    pub async fn request_media(
        &self,
        request_id: &str,
        role: &str,
    ) -> Result<Option<Media>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT role, mime, width, height, sha256, bytes FROM request_media WHERE request_id = $1 AND role = $2",
            )
            .bind(request_id)
            .bind(role)
            .fetch_optional(p)
            .await?
        }))
    }

    /// The request as received, without its pictures (JSON text); `None` for an unknown
    /// request or once its personal data was purged.
    pub async fn request_document(&self, request_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT document FROM requests WHERE request_id = $1")
                .bind(request_id)
                .fetch_optional(p)
                .await?
        });
        Ok(row.and_then(|(d,)| d))
    }

    /// The stored bytes of a request's picture (`photo`, `signature`); `None` when there is
    /// none or it was purged.
    pub async fn request_picture(
        &self,
        request_id: &str,
        role: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .request_media(request_id, role)
            .await?
            .and_then(|m| m.bytes))
    }
}
