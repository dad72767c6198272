//! Rendered files of a card (proof, personalisation bitmaps), with their hashes.

use super::{Store, StoreError, Tx};

/// A file to store.
#[derive(Debug, Clone, Copy)]
pub struct NewArtifact<'a> {
    pub name: &'a str,
    pub mime: &'a str,
    pub sha256: &'a str,
    pub bytes: &'a [u8],
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Artifact {
    pub name: String,
    pub mime: String,
    pub sha256: String,
    pub bytes: Option<Vec<u8>>,
}

/// Replaces the files of a card (a re-render after a correction supersedes the old ones; the
/// audit trail keeps every hash).
pub async fn replace(
    tx: &mut Tx,
    now: i64,
    card_id: i64,
    files: &[NewArtifact<'_>],
) -> Result<(), StoreError> {
    on_tx!(tx, |c, pg| {
        sqlx::query("DELETE FROM card_artifacts WHERE card_id = $1")
            .bind(card_id)
            .execute(&mut *c)
            .await?;
        for f in files {
            sqlx::query(
                "INSERT INTO card_artifacts (card_id, name, mime, sha256, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(card_id)
            .bind(f.name)
            .bind(f.mime)
            .bind(f.sha256)
            .bind(f.bytes)
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
    });
    Ok(())
}

impl Store {
    /// The files of a card, by name.
    pub async fn artifacts(&self, card_id: i64) -> Result<Vec<Artifact>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as("SELECT name, mime, sha256, bytes FROM card_artifacts WHERE card_id = $1 ORDER BY name")
                .bind(card_id)
                .fetch_all(p)
                .await?
        }))
    }
}
