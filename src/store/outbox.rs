//! The outbox of events for the portal (`request.accepted`, `request.held` …).
//!
//! An event is written in the same transaction as the change it reports, so the portal can
//! never be told of a change that rolled back, nor miss one that committed. A delivery worker
//! (the service issue) posts them with retries; each has a unique `event_id` so that the portal
//! can drop the duplicates at-least-once delivery implies.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Store, StoreError, Tx};
use crate::clock::rfc3339;

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Event {
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// Writes an event inside `tx`; returns its id.
pub async fn push(
    tx: &mut Tx,
    now: i64,
    event_type: &str,
    data: Value,
) -> Result<String, StoreError> {
    let event_id = Uuid::new_v4().to_string();
    let payload = json!({
        "event_id": event_id,
        "type": event_type,
        "occurred_at": rfc3339(now),
        "data": data,
    })
    .to_string();
    on_tx!(tx, |c, pg| {
        sqlx::query(
            "INSERT INTO outbox (event_id, event_type, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&event_id)
        .bind(event_type)
        .bind(&payload)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    Ok(event_id)
}

impl Store {
    /// Events in order, optionally only those of one type (tests and the console).
    pub async fn events(&self, event_type: Option<&str>) -> Result<Vec<Event>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT seq, event_id, event_type, payload, created_at, delivered_at FROM outbox \
                 WHERE ($1 IS NULL OR event_type = $1) ORDER BY seq",
            )
            .bind(event_type)
            .fetch_all(p)
            .await?
        }))
    }
}
