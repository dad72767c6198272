//! Requests as received from the portal, their pictures, and the first answer given.

use super::{Store, StoreError, Tx};
use crate::domain::images::Picture;

/// The answer first given for a request id, replayed for every identical retry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredAnswer {
    pub fingerprint: String,
    pub answer_status: i64,
    pub answer_body: String,
}

/// A request row to insert.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub request_id: &'a str,
    pub fingerprint: &'a str,
    pub kind: &'a str,
    pub received_at: i64,
    pub received_by: &'a str,
    /// The request without its pictures, as JSON.
    pub document: &'a str,
}

/// What inserting a request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The id was already there (a retry, a concurrent duplicate, or a changed body).
    Existing(StoredAnswer),
}

/// Inserts the request row, or reports the one already stored under that id. On PostgreSQL a
/// concurrent insert of the same id waits for the first transaction and then sees its row.
pub async fn insert(tx: &mut Tx, r: &NewRequest<'_>) -> Result<Inserted, StoreError> {
    on_tx!(tx, |c, pg| {
        let done = sqlx::query(
            "INSERT INTO requests (request_id, fingerprint, kind, received_at, received_by, document, answer_status, answer_body) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, '') ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(r.request_id)
        .bind(r.fingerprint)
        .bind(r.kind)
        .bind(r.received_at)
        .bind(r.received_by)
        .bind(r.document)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if done == 1 {
            return Ok(Inserted::New);
        }
        let existing: StoredAnswer = sqlx::query_as(
            "SELECT fingerprint, answer_status, answer_body FROM requests WHERE request_id = $1",
        )
        .bind(r.request_id)
        .fetch_one(&mut *c)
        .await?;
        Ok(Inserted::Existing(existing))
    })
}

/// Records the answer given, so that retries get the same one.
pub async fn set_answer(
    tx: &mut Tx,
    request_id: &str,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, |c, pg| {
        sqlx::query(
            "UPDATE requests SET answer_status = $1, answer_body = $2 WHERE request_id = $3",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(request_id)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Stores a picture exactly as received, with its SHA-256.
pub async fn insert_media(
    tx: &mut Tx,
    request_id: &str,
    role: &str,
    picture: &Picture,
) -> Result<(), StoreError> {
    use sha2::{Digest, Sha256};
    let sha = hex::encode(Sha256::digest(&picture.bytes));
    on_tx!(tx, |c, pg| {
        sqlx::query(
            "INSERT INTO request_media (request_id, role, mime, width, height, sha256, bytes) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(request_id)
        .bind(role)
        .bind(picture.format.mime())
        .bind(i64::from(picture.width))
        .bind(i64::from(picture.height))
        .bind(&sha)
        .bind(&picture.bytes[..])
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Allocates the next holder number (never reused, even if the transaction rolls back on
/// PostgreSQL, where sequences are not transactional: gaps are harmless, repeats are not).
pub async fn allocate_holder_number(tx: &mut Tx) -> Result<i64, StoreError> {
    on_tx!(tx, |c, pg| {
        let (n,): (i64,) = sqlx::query_as(if pg {
            "SELECT nextval('holder_number_seq')"
        } else {
            "UPDATE counters SET value = value + 1 WHERE name = 'holder_number' RETURNING value"
        })
        .fetch_one(&mut *c)
        .await?;
        Ok(n)
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
}
