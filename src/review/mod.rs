//! A supervisor's decisions on the cards that left the line before they were made
//! (docs/corrections.md): a request **held for review** (the portal's dates differ from ours)
//! is released (our dates stand) or rejected; a **stopped** card is cancelled, or released
//! after a fix on our side (a font that lacked a glyph). The driver's own way out of a stopped
//! card, the correction, is intake's (`crate::intake::correction`).
//!
//! Each decision is one transaction: the life cycle decides, the store applies it with its
//! audit record, the portal event goes to the outbox and, on a release, the render job to the
//! queue. The console and the CLI call the same functions.

mod differences;
mod stopped;

use serde_json::json;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use differences::{Difference, differences};
pub use stopped::stop_card;

use crate::domain::lifecycle::{CardEvent, CardState};
use crate::domain::review::{DriverMessage, ReviewReason, Waiting};
use crate::intake::render_job;
use crate::store::cards::{self, CardRecord, TransitionError};
use crate::store::{Store, StoreError, jobs, outbox};

/// What a supervisor decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Production goes on: for a held request, under our dates; for a stopped card, after a
    /// fix on our side.
    Release,
    /// A held request is refused: no card (`request.rejected`).
    Reject {
        reason: ReviewReason,
        message: DriverMessage,
    },
    /// A stopped card is given up: no card (`card.cancelled`).
    Cancel {
        reason: ReviewReason,
        message: DriverMessage,
    },
}

impl Decision {
    /// The cards this decision is for.
    fn for_cards(&self) -> &'static [CardState] {
        match self {
            Decision::Release => &[CardState::HeldForReview, CardState::Stopped],
            Decision::Reject { .. } => &[CardState::HeldForReview],
            Decision::Cancel { .. } => &[CardState::Stopped],
        }
    }
}

#[derive(Debug, Error)]
pub enum ReviewError {
    #[error("no card {0}")]
    UnknownCard(String),
    #[error("card {card_number} is {state}: {what}")]
    NotWaiting {
        card_number: String,
        state: String,
        what: &'static str,
    },
    #[error("reason {reason} is not one for a card that is {state} (offered: {offered})")]
    ReasonDoesNotFit {
        reason: ReviewReason,
        state: String,
        offered: String,
    },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub card_number: String,
    pub request_id: String,
    pub from: CardState,
    pub to: CardState,
    /// The portal event written.
    pub event: &'static str,
}

/// Applies `decision` to card `card_number` on behalf of `by` (the signed-in supervisor, or
/// `--by` on the command line).
pub async fn decide(
    store: &Store,
    card_number: &str,
    decision: &Decision,
    by: &str,
) -> Result<Decided, ReviewError> {
    let now = store.clock().now_ms();
    let mut tx = store.begin().await?;
    let card = cards::by_number_in(&mut tx, card_number)
        .await?
        .ok_or_else(|| ReviewError::UnknownCard(card_number.to_string()))?;
    let from = CardState::parse(&card.state);
    let Some(from) = from.filter(|s| decision.for_cards().contains(s)) else {
        return Err(ReviewError::NotWaiting {
            card_number: card.card_number,
            state: card.state,
            what: match decision {
                Decision::Release => "only a held or stopped card is released",
                Decision::Reject { .. } => "only a request held for review is rejected",
                Decision::Cancel { .. } => "only a stopped card is cancelled",
            },
        });
    };
    let waiting = if from == CardState::HeldForReview {
        Waiting::Review
    } else {
        Waiting::Correction
    };
    let (to, event) = match decision {
        Decision::Release => (
            release(&mut tx, now, &card, from, by).await?,
            "request.released",
        ),
        Decision::Reject { reason, message } | Decision::Cancel { reason, message } => {
            if !reason.fits(waiting) {
                return Err(ReviewError::ReasonDoesNotFit {
                    reason: *reason,
                    state: card.state,
                    offered: ReviewReason::offered(waiting)
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            let event = if from == CardState::HeldForReview {
                "request.rejected"
            } else {
                "card.cancelled"
            };
            let to = refuse(&mut tx, now, &card, event, *reason, message, by).await?;
            (to, event)
        }
    };
    tx.commit().await?;
    tracing::info!(card_number, by, event, "supervisor decision");
    Ok(Decided {
        card_number: card.card_number,
        request_id: card.request_id,
        from,
        to,
        event,
    })
}

/// Releases a held or stopped card: back to `approved`, the render job queued (a held card's
/// first, under intake's key; a stopped card's again, under a key of its own), the portal
/// told.
async fn release(
    tx: &mut crate::store::Tx,
    now: i64,
    card: &CardRecord,
    from: CardState,
    by: &str,
) -> Result<CardState, ReviewError> {
    let held = from == CardState::HeldForReview;
    let why = if held {
        "our dates stand"
    } else {
        "released after a fix on our side"
    };
    let to = cards::apply(
        tx,
        now,
        card,
        CardEvent::Release,
        by,
        Some(why),
        json!({
            "expected_expiry": card.expected_expiry,
            "expiry_date": card.expiry_date,
        }),
    )
    .await?;
    let again = (!held).then(|| format!("release:{}", card.version));
    jobs::enqueue(
        tx,
        now,
        &render_job(&card.card_number, &card.request_id, again.as_deref()),
    )
    .await?;
    outbox::push(
        tx,
        now,
        "request.released",
        json!({
            "request_id": card.request_id,
            "card_number": card.card_number,
            "status": to.as_str(),
            "released_from": from.as_str(),
            "issue_date": card.issue_date,
            "expiry_date": card.expiry_date,
            "expected_expiry": card.expected_expiry,
        }),
    )
    .await?;
    Ok(to)
}

/// Rejects a held request or cancels a stopped card: `rejected`, the portal told with the
/// reason and the message. The audit trail keeps the reason and the message's fingerprint,
/// not the message (it may name the person).
async fn refuse(
    tx: &mut crate::store::Tx,
    now: i64,
    card: &CardRecord,
    event: &str,
    reason: ReviewReason,
    message: &DriverMessage,
    by: &str,
) -> Result<CardState, ReviewError> {
    let to = cards::apply(
        tx,
        now,
        card,
        CardEvent::Reject,
        by,
        Some(reason.as_str()),
        json!({
            "reason": reason.as_str(),
            "message_sha256": hex::encode(Sha256::digest(message.as_str().as_bytes())),
        }),
    )
    .await?;
    outbox::push(
        tx,
        now,
        event,
        json!({
            "request_id": card.request_id,
            "card_number": card.card_number,
            "status": to.as_str(),
            "reason": reason.as_str(),
            "message": message.as_str(),
        }),
    )
    .await?;
    Ok(to)
}
