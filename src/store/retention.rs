//! Retention (docs/retention.md): personal data is kept while it is needed and no longer
//! (GDPR; domain.md §6). Two sweeps, run by `cqcfab purge` and by the service's worker:
//!
//! 1. **Delivery presumed**: a piece handed to the post that has not come back after
//!    `presume_delivered_days` is presumed delivered (piece `delivered`, card `handed_over`).
//!    A later return is still taken (the mailroom accepts `delivered` pieces).
//! 2. **Purge**: `purge_after_days` after a card reached a final state of our custody
//!    (handed over, destroyed, rejected, replaced, and the states a handed-over card moves on
//!    to: renewed, expired, suspended, withdrawn, surrendered), its personal data is deleted: the
//!    request document and pictures, the names, birth data, licence number and address on the
//!    card row, the rendered artifacts (they show the photo), the address blocks of its mail
//!    pieces. What the record must keep stays: card number, dates, states, the audit trail
//!    (which never held the pictures or addresses). Held, returned or disputed cards are not
//!    in those states, so they keep their data until resolved.

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, CardRecord, TransitionError};
use super::{Store, StoreError, Tx, succession};
use crate::domain::lifecycle::CardEvent;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The retention periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub presume_delivered_days: u32,
    pub purge_after_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            presume_delivered_days: 21,
            purge_after_days: 90,
        }
    }
}

/// What a sweep did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Cards presumed delivered.
    pub delivered: Vec<String>,
    /// Cards whose personal data was purged.
    pub purged: Vec<String>,
}

/// Presumes card `card` delivered inside `tx`: its piece in the post becomes `delivered`, the
/// card `handed_over`. The caller settles a supersession waiting for this (the sweep at once;
/// the quality desk after the card's return is recorded).
pub(crate) async fn presume_delivered_in(
    tx: &mut Tx,
    now: i64,
    card: &CardRecord,
    actor: &str,
    reason: &str,
    details: serde_json::Value,
) -> Result<(), TransitionError> {
    let delivered: Vec<(String,)> = on_tx!(tx, |c, pg| {
        sqlx::query_as(
            "UPDATE mail_pieces SET state = 'delivered', updated_at = $1 \
             WHERE card_id = $2 AND state = 'dispatched' RETURNING piece_id",
        )
        .bind(now)
        .bind(card.id)
        .fetch_all(&mut *c)
        .await
        .map_err(StoreError::from)?
    });
    // The piece moves with its card (piece `presume_delivered`): the card's record names it.
    let mut details = details;
    if let (Some(d), Some((piece,))) = (details.as_object_mut(), delivered.first()) {
        d.insert("piece_id".into(), json!(piece));
    }
    cards::apply(
        tx,
        now,
        card,
        CardEvent::PresumeDelivered,
        actor,
        Some(reason),
        details,
    )
    .await?;
    Ok(())
}

impl Store {
    /// Runs both sweeps; with `dry`, only says which cards they would touch.
    pub async fn retention_sweep(
        &self,
        policy: Retention,
        dry: bool,
        actor: &str,
    ) -> Result<Swept, TransitionError> {
        let now = self.clock().now_ms();
        let delivered_before = now - i64::from(policy.presume_delivered_days) * DAY_MS;
        let purge_before = now - i64::from(policy.purge_after_days) * DAY_MS;
        let mut swept = Swept::default();

        let due: Vec<(String, i64)> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT c.card_number, c.id FROM cards c JOIN mail_pieces m ON m.card_id = c.id \
                 JOIN postal_batches b ON b.batch_id = m.batch_id \
                 WHERE c.state = 'dispatched' AND m.state = 'dispatched' \
                 AND b.handed_over_at <= $1 ORDER BY c.id",
            )
            .bind(delivered_before)
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?
        });
        for (number, id) in due {
            if !dry {
                let mut tx = self.begin().await?;
                let card = cards::by_id_in(&mut tx, id).await?;
                presume_delivered_in(
                    &mut tx,
                    now,
                    &card,
                    actor,
                    "no return within the waiting period",
                    json!({ "presume_delivered_days": policy.presume_delivered_days }),
                )
                .await?;
                // A renewal personalised while this card travelled: renewed now.
                succession::settle(&mut tx, now, id, actor).await?;
                tx.commit().await?;
            }
            swept.delivered.push(number);
        }

        let due: Vec<(String, i64, String)> = on_read!(self, |p, pg| {
            // The states after which a card's personal data has no further use.
            sqlx::query_as(
                "SELECT card_number, id, request_id FROM cards WHERE purged_at IS NULL \
                 AND updated_at <= $1 \
                 AND state IN ('handed_over', 'destroyed', 'rejected', 'replaced', 'renewed', \
                 'expired', 'suspended', 'withdrawn', 'surrendered') ORDER BY id",
            )
            .bind(purge_before)
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?
        });
        for (number, id, request_id) in due {
            if !dry {
                self.purge_card(now, id, &number, &request_id, actor)
                    .await?;
            }
            swept.purged.push(number);
        }
        Ok(swept)
    }

    /// Deletes the personal data of one card, in one transaction.
    async fn purge_card(
        &self,
        now: i64,
        card_id: i64,
        card_number: &str,
        request_id: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |c, pg| {
            sqlx::query("UPDATE requests SET document = NULL WHERE request_id = $1")
                .bind(request_id)
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE request_media SET bytes = NULL WHERE request_id = $1")
                .bind(request_id)
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE card_artifacts SET bytes = NULL WHERE card_id = $1")
                .bind(card_id)
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE mail_pieces SET address = '[]' WHERE card_id = $1")
                .bind(card_id)
                .execute(&mut *c)
                .await?;
            // A quality diagnostic names the fields that differed, with their values.
            sqlx::query("UPDATE quality_cases SET diagnostic = NULL WHERE card_id = $1")
                .bind(card_id)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "UPDATE cards SET surname = NULL, given_names = NULL, birth_date = NULL, \
                 birth_place = NULL, licence_number = NULL, address_lines = NULL, \
                 purged_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(card_id)
            .execute(&mut *c)
            .await?;
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "card.personal_data_purged",
                entity_type: "card",
                entity_id: card_number,
                before: None,
                after: Some(json!({ "request_id": request_id })),
                reason: Some("retention period over"),
            },
        )
        .await?;
        tx.commit().await
    }
}
