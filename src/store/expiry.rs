//! The daily expiry job (docs/lifecycle.md, docs/operations.md): a card whose date of expiry
//! (field 4b, `cards.expiry_date`) is before today (the store's clock, the Paris calendar day)
//! moves `handed_over | suspended → expired`. A card is valid through its expiry date, so it
//! expires on the first run of the next day.
//!
//! Run by `cqcfab serve` (every hour: the first run after midnight does the day's work, the
//! others find nothing) and by `cqcfab lifecycle expire` for cron. Idempotent: an expired
//! card is no longer selected. Cards are moved in batches, one transaction each, so a
//! hundred thousand cards expiring the same day never hold one long transaction; two nodes
//! running it together each skip the cards the other moved first.

use serde_json::json;
use time::Date;

use super::cards::{self, TransitionError};
use super::{Store, StoreError, succession};
use crate::domain::lifecycle::CardEvent;

/// Cards moved per transaction by default.
pub const BATCH: i64 = 500;

/// What a run did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiryRun {
    /// The day the run compared expiry dates with.
    pub today: String,
    /// Cards expired, by card number, in the order they were moved.
    pub expired: Vec<String>,
    /// Cards another node moved first (nothing done to them here).
    pub skipped: Vec<String>,
}

impl Store {
    /// Expires every live card whose expiry date is before today, `batch` per transaction;
    /// with `dry`, only lists them.
    pub async fn expire_due(
        &self,
        batch: i64,
        dry: bool,
        actor: &str,
    ) -> Result<ExpiryRun, TransitionError> {
        let today = self.clock().today();
        let mut run = ExpiryRun {
            today: today.to_string(),
            ..ExpiryRun::default()
        };
        let batch = batch.max(1);
        // Past this id everything was seen: a card skipped (raced) is not read again.
        let mut after_id = 0i64;
        loop {
            let due = self.due_for_expiry(today, after_id, batch).await?;
            let Some(&(last, _)) = due.last() else {
                break;
            };
            after_id = last;
            if dry {
                run.expired.extend(due.into_iter().map(|(_, n)| n));
                continue;
            }
            let now = self.clock().now_ms();
            let mut tx = self.begin().await?;
            for (id, number) in due {
                let card = cards::by_id_in(&mut tx, id).await?;
                let details = json!({ "expiry_date": card.expiry_date, "today": run.today });
                match cards::apply(
                    &mut tx,
                    now,
                    &card,
                    CardEvent::Expire,
                    actor,
                    Some("past its date of expiry (field 4b)"),
                    details,
                )
                .await
                {
                    Ok(_) => {
                        // A renewal waiting for this card (suspended when its successor was
                        // personalised) is recorded now that it is expired.
                        succession::settle(&mut tx, now, id, actor).await?;
                        run.expired.push(number);
                    }
                    Err(TransitionError::Raced { .. } | TransitionError::Illegal(_)) => {
                        run.skipped.push(number);
                    }
                    Err(e) => return Err(e),
                }
            }
            tx.commit().await?;
        }
        Ok(run)
    }

    /// Up to `limit` live cards past their expiry on `today`, with ids above `after_id`, by id.
    async fn due_for_expiry(
        &self,
        today: Date,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT id, card_number FROM cards \
                 WHERE state IN ('handed_over', 'suspended') AND expiry_date < $1 AND id > $2 \
                 ORDER BY id LIMIT $3",
            )
            .bind(today.to_string())
            .bind(after_id)
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }
}
