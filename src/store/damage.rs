//! A personalised card found damaged before it leaves (a scratched print, a cracked body seen
//! at the inserting table or in an open batch): `spoil` from `personalised` or `inserted` back
//! to `in_production` (docs/lifecycle.md). In one transaction, recorded by the supervisor
//! with `cqcfab lifecycle damaged`:
//!
//! - its carrier, if one was made, is cancelled (piece `cancel`; out of its batch when the
//!   batch is still open; a sealed batch's piece is refused: its manifest is signed);
//! - the body is spoiled in the stock ledger (it goes to destruction with the other spoiled
//!   bodies) and the card no longer names it, so the station may write the card again;
//! - the card goes back to `in_production` and a new encode job is queued: the station
//!   writes it on a fresh blank under the same card number, and its carrier is made again.

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, TransitionError};
use super::jobs::{self, NewJob};
use super::pieces::{self, Piece};
use super::{Store, StoreError};
use crate::domain::lifecycle::{CardEvent, CardState, PieceEvent, PieceState};
use crate::render::worker::ENCODE_JOB;

/// What the damage report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    pub card_number: String,
    /// The body spoiled (its chip serial), if the card named one.
    pub chip_serial: Option<i64>,
    /// The carrier cancelled, if one was made.
    pub cancelled_piece: Option<String>,
}

/// Why a damage report was refused.
#[derive(Debug, thiserror::Error)]
pub enum DamageError {
    #[error("card {0} does not exist")]
    NoCard(String),
    #[error(
        "card {card_number} is {state}: only a personalised or inserted card (not yet posted) \
         goes back to production"
    )]
    NotBeforePosting { card_number: String, state: String },
    #[error(
        "card {card_number} is in piece {piece_id} of batch {batch_id}, which is {batch_state}: \
         its manifest is sealed; hand the batch over and take the piece back as a return"
    )]
    SealedBatch {
        card_number: String,
        piece_id: String,
        batch_id: String,
        batch_state: String,
    },
    #[error("the reason is required (what is damaged)")]
    NoReason,
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Records that card `card_number` was found damaged before posting (`reason`), by `by`.
    pub async fn card_damaged(
        &self,
        card_number: &str,
        reason: &str,
        by: &str,
    ) -> Result<Damaged, DamageError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(DamageError::NoReason);
        }
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let card = cards::by_number_in(&mut tx, card_number)
            .await?
            .ok_or_else(|| DamageError::NoCard(card_number.to_string()))?;
        let state = CardState::parse(&card.state);
        if !matches!(state, Some(CardState::Personalised | CardState::Inserted)) {
            return Err(DamageError::NotBeforePosting {
                card_number: card.card_number,
                state: card.state,
            });
        }
        let live: Option<(Piece, Option<String>, Option<String>)> = on_tx!(&mut tx, |c, pg| {
            let piece: Option<Piece> = sqlx::query_as(select_piece!(
                "WHERE card_id = $1 AND state IN ('created', 'inserted', 'batched')"
            ))
            .bind(card.id)
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::from)?;
            match piece {
                None => None,
                Some(p) => {
                    let batch: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                        "SELECT m.batch_id, b.state FROM mail_pieces m \
                         LEFT JOIN postal_batches b ON b.batch_id = m.batch_id \
                         WHERE m.piece_id = $1",
                    )
                    .bind(&p.piece_id)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(StoreError::from)?;
                    let (batch_id, batch_state) = batch.unwrap_or((None, None));
                    Some((p, batch_id, batch_state))
                }
            }
        });
        let cancelled_piece = match live {
            None => None,
            Some((piece, batch_id, batch_state)) => {
                if let (Some(batch_id), Some(batch_state)) = (&batch_id, &batch_state)
                    && batch_state != "open"
                {
                    return Err(DamageError::SealedBatch {
                        card_number: card.card_number,
                        piece_id: piece.piece_id,
                        batch_id: batch_id.clone(),
                        batch_state: batch_state.clone(),
                    });
                }
                let to = PieceState::parse(&piece.state)
                    .and_then(|s| s.next(PieceEvent::Cancel))
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "piece {} in {} refuses cancel",
                            piece.piece_id, piece.state
                        ))
                    })?;
                if !pieces::set_state_in(&mut tx, now, &piece.piece_id, &piece.state, to.as_str())
                    .await?
                {
                    return Err(StoreError::Corrupt(format!(
                        "piece {} changed while its card was reported damaged",
                        piece.piece_id
                    ))
                    .into());
                }
                // Out of its open batch: the manifest is built from the batch's pieces.
                on_tx!(&mut tx, |c, pg| {
                    sqlx::query(
                        "UPDATE mail_pieces SET batch_id = NULL, sequence = NULL \
                         WHERE piece_id = $1",
                    )
                    .bind(&piece.piece_id)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::from)?;
                });
                audit::append(
                    &mut tx,
                    now,
                    &Entry {
                        actor: by,
                        action: "piece.cancelled",
                        entity_type: "mail_piece",
                        entity_id: &piece.piece_id,
                        before: Some(json!({ "state": piece.state, "batch_id": batch_id })),
                        after: Some(
                            json!({ "state": to.as_str(), "card_number": card.card_number }),
                        ),
                        reason: Some(reason),
                    },
                )
                .await?;
                Some(piece.piece_id)
            }
        };
        let chip_serial: Option<i64> = on_tx!(&mut tx, |c, pg| {
            let (serial,): (Option<i64>,) =
                sqlx::query_as("SELECT chip_serial FROM cards WHERE id = $1")
                    .bind(card.id)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(StoreError::from)?;
            if let Some(s) = serial {
                sqlx::query(
                    "UPDATE card_bodies SET state = 'spoiled', reason = $1, updated_at = $2 \
                     WHERE serial = $3 AND card_id = $4 AND state = 'personalised'",
                )
                .bind(format!("damaged before posting: {reason}"))
                .bind(now)
                .bind(s)
                .bind(card.id)
                .execute(&mut *c)
                .await
                .map_err(StoreError::from)?;
                sqlx::query("UPDATE cards SET chip_serial = NULL WHERE id = $1")
                    .bind(card.id)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::from)?;
            }
            serial
        });
        if let Some(s) = chip_serial {
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: by,
                    action: "body.spoiled",
                    entity_type: "card_body",
                    entity_id: &format!("{s:016X}"),
                    before: Some(json!({ "state": "personalised", "card_id": card.id })),
                    after: Some(json!({ "state": "spoiled" })),
                    reason: Some(reason),
                },
            )
            .await?;
        }
        cards::apply(
            &mut tx,
            now,
            &card,
            CardEvent::Spoil,
            by,
            Some(reason),
            json!({
                "chip_serial": chip_serial.map(|s| format!("{s:016X}")),
                "cancelled_piece": cancelled_piece,
            }),
        )
        .await?;
        // A new job, never the finished one again (its key is spent): keyed to the body.
        let key = format!(
            "{ENCODE_JOB}:{}:after-{}",
            card.card_number,
            chip_serial.map_or_else(|| now.to_string(), |s| format!("{s:016X}"))
        );
        jobs::enqueue(
            &mut tx,
            now,
            &NewJob::new(ENCODE_JOB, json!({ "card_number": card.card_number })).dedup(key),
        )
        .await?;
        tx.commit().await?;
        Ok(Damaged {
            card_number: card.card_number,
            chip_serial,
            cancelled_piece,
        })
    }
}
