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

/// An event leased for delivery.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Leased {
    pub seq: i64,
    pub event_id: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// An event that failed every attempt (the dead-letter view).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Dead {
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: i64,
}

impl Store {
    /// Leases up to `limit` events due for delivery at `now`, oldest first, until
    /// `now + lease_ms`. An event leased by another node is skipped until its lease ends (a
    /// node killed mid-delivery loses its lease and another delivers: at least once).
    pub async fn lease_events(&self, lease_ms: i64, limit: i64) -> Result<Vec<Leased>, StoreError> {
        let now = self.clock().now_ms();
        let mut rows: Vec<Leased> = on_write!(self, |p, pg| {
            sqlx::query_as(
                "UPDATE outbox SET leased_until = $1 WHERE seq IN ( \
                   SELECT seq FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL \
                   AND next_attempt_at <= $2 AND (leased_until IS NULL OR leased_until <= $2) \
                   ORDER BY seq LIMIT $3) \
                 AND delivered_at IS NULL AND (leased_until IS NULL OR leased_until <= $2) \
                 RETURNING seq, event_id, payload, attempts",
            )
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        rows.sort_by_key(|r| r.seq);
        Ok(rows)
    }

    /// The portal acknowledged event `seq`.
    pub async fn event_delivered(&self, seq: i64) -> Result<(), StoreError> {
        let now = self.clock().now_ms();
        on_write!(self, |p, pg| {
            sqlx::query(
                "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, \
                 leased_until = NULL, last_error = NULL WHERE seq = $2",
            )
            .bind(now)
            .bind(seq)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Event `seq` was not acknowledged: tried again at `retry_at`, or set aside as dead.
    pub async fn event_failed(
        &self,
        seq: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let now = self.clock().now_ms();
        on_write!(self, |p, pg| {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $1, leased_until = NULL, \
                 next_attempt_at = COALESCE($2, next_attempt_at), \
                 dead_at = CASE WHEN $2 IS NULL THEN $3 ELSE NULL END WHERE seq = $4",
            )
            .bind(error)
            .bind(retry_at)
            .bind(now)
            .bind(seq)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// The dead-letter view, oldest first.
    pub async fn dead_events(&self) -> Result<Vec<Dead>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT seq, event_id, event_type, attempts, last_error, dead_at FROM outbox \
                 WHERE dead_at IS NOT NULL ORDER BY seq",
            )
            .fetch_all(p)
            .await?
        }))
    }

    /// Puts dead events back in the queue (one, or all with `None`), their attempts counted
    /// afresh; audited with who asked. Returns how many.
    pub async fn retry_dead_events(&self, seq: Option<i64>, by: &str) -> Result<u64, StoreError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let n = on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = $1 \
                 WHERE dead_at IS NOT NULL AND ($2 IS NULL OR seq = $2)",
            )
            .bind(now)
            .bind(seq)
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        let which = seq.map_or_else(|| "all".to_string(), |s| s.to_string());
        super::audit::append(
            &mut tx,
            now,
            &super::audit::Entry {
                actor: by,
                action: "events.dead_retried",
                entity_type: "outbox",
                entity_id: &which,
                before: None,
                after: Some(json!({ "events": n })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}
