//! The intake write: everything a batch of new cards needs, in one statement.
//!
//! Each round trip to the database costs far more than the rows it carries once the CPU is
//! busy decoding pictures (measured: a dozen statements per batch kept the single SQLite writer
//! at 280 requests/s while the CPU idled). So the rows of every table go in one combined
//! statement ([`super::Parts`]).

use sqlx::QueryBuilder;

use super::audit::{self, Chained};
use super::cards::{self, NewCard};
use super::jobs::{self, NewJob};
use super::outbox::{self, NewEvent};
use super::requests::{self, NewMedia, NewRequest};
use super::{Parts, StoreError, Tx};

/// The rows of a batch. The audit records come chained from [`audit::reserve`], taken in the
/// same transaction.
pub struct NewIntake<'a> {
    pub requests: &'a [NewRequest<'a>],
    pub cards: &'a [NewCard],
    pub media: &'a [NewMedia<'a>],
    pub audit: &'a [Chained],
    pub events: &'a [NewEvent],
    pub jobs: &'a [NewJob],
}

/// Inserts the batch and moves the audit head, in one round trip.
pub async fn insert(tx: &mut Tx, now: i64, rows: &NewIntake<'_>) -> Result<(), StoreError> {
    if rows.requests.is_empty() {
        return Ok(());
    }
    let Some(last) = rows.audit.last() else {
        return Err(StoreError::Corrupt(
            "an intake batch without audit records".into(),
        ));
    };
    let payloads: Vec<String> = rows.jobs.iter().map(|j| j.payload.to_string()).collect();
    on_tx!(tx, |c, pg| {
        let mut q = QueryBuilder::new("");
        let mut parts = Parts::new(pg);
        parts.next(&mut q);
        requests::push_insert(&mut q, rows.requests);
        parts.next(&mut q);
        cards::push_insert(&mut q, now, rows.cards);
        if !rows.media.is_empty() {
            parts.next(&mut q);
            requests::push_media(&mut q, rows.media);
        }
        parts.next(&mut q);
        audit::push_insert(&mut q, rows.audit);
        if !rows.events.is_empty() {
            parts.next(&mut q);
            outbox::push_insert(&mut q, now, rows.events);
        }
        if !rows.jobs.is_empty() {
            parts.next(&mut q);
            jobs::push_insert(&mut q, now, rows.jobs, &payloads);
        }
        parts.last(&mut q);
        audit::push_head(&mut q, last);
        q.build().execute(&mut *c).await?;
    });
    Ok(())
}
