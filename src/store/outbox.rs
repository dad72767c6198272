//! The outbox of events for the portal (`request.accepted`, `request.held` …).
//!
//! An event is written in the same transaction as the change it reports, so the portal can
//! never be told of a change that rolled back, nor miss one that committed. A delivery worker
//! (the service issue) posts them with retries; each has a unique `event_id` so that the portal
//! can drop the duplicates at-least-once delivery implies.

use serde_json::{Value, json};
use sqlx::{Database, Encode, QueryBuilder, Type};
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
    let mut ids = push_many(tx, now, &[(event_type, data)]).await?;
    ids.pop()
        .ok_or_else(|| StoreError::Corrupt("outbox push returned nothing".into()))
}

/// An event ready to insert.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
}

impl NewEvent {
    /// A new event with a fresh id; the payload is the envelope the portal receives.
    pub fn new(now: i64, event_type: &str, data: &Value) -> Self {
        let event_id = Uuid::new_v4().to_string();
        let payload = json!({
            "event_id": event_id,
            "type": event_type,
            "occurred_at": rfc3339(now),
            "data": data,
        })
        .to_string();
        NewEvent {
            event_id,
            event_type: event_type.to_string(),
            payload,
        }
    }
}

/// Writes events inside `tx` in one statement; returns their ids in order.
pub async fn push_many(
    tx: &mut Tx,
    now: i64,
    events: &[(&str, Value)],
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<NewEvent> = events
        .iter()
        .map(|(t, d)| NewEvent::new(now, t, d))
        .collect();
    if !rows.is_empty() {
        on_tx!(tx, |c, pg| {
            let mut q = QueryBuilder::new("");
            push_insert(&mut q, now, &rows);
            q.build().execute(&mut *c).await?;
        });
    }
    Ok(rows.into_iter().map(|e| e.event_id).collect())
}

/// Appends a multi-row insert of events.
pub(crate) fn push_insert<DB>(q: &mut QueryBuilder<DB>, now: i64, rows: &[NewEvent])
where
    DB: Database,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
{
    q.push("INSERT INTO outbox (event_id, event_type, payload, created_at, next_attempt_at) ");
    q.push_values(rows, |mut b, e| {
        b.push_bind(e.event_id.as_str())
            .push_bind(e.event_type.as_str())
            .push_bind(e.payload.as_str())
            .push_bind(now)
            .push_bind(now);
    });
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
