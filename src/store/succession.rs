//! A renewal or replacement supersedes its predecessor when the successor is personalised
//! (docs/lifecycle.md §1): the predecessor is marked (`cards.superseded_by`), audited
//! (`card.superseded`) and moved by `renew`, or revoked and `replace`d, as far as its state
//! allows ([`crate::domain::lifecycle::succession::step`]). A predecessor that cannot move yet
//! (a renewed card still in the post) is moved by [`settle`] when it reaches a state that takes
//! the event; the paths that can bring it there call it in their own transaction.
//!
//! Nothing here fails the successor's personalisation for the predecessor's sake: a refusal by
//! the machine, or a predecessor moved by someone else meanwhile, leaves the supersession on
//! record for the next move; only a database error (which fails the transaction anyway) is
//! returned.

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, CardRecord, TransitionError};
use super::revocations::{self, RevocationReason};
use super::{StoreError, Tx};
use crate::domain::lifecycle::{CardEvent, CardState, Step, Supersession, succession};

/// What became of a predecessor when its successor was personalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predecessor {
    pub card_number: String,
    /// Its state after the supersession was applied (or not).
    pub state: String,
}

/// What [`settle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The card is not superseded.
    NotSuperseded,
    /// These events were applied, in order.
    Applied(Vec<CardEvent>),
    /// The card cannot take its supersession yet (or was moved by someone else meanwhile).
    Later,
    /// The card ended another way; its supersession stays on record only.
    Never,
}

/// Records, inside the transaction that personalises `successor`, that it supersedes its
/// predecessor (when it has one of ours), and moves the predecessor as far as it can.
pub async fn successor_personalised(
    tx: &mut Tx,
    now: i64,
    successor: &CardRecord,
    actor: &str,
) -> Result<Option<Predecessor>, StoreError> {
    let (Some(previous), Some(how)) = (
        successor.previous_card_number.as_deref(),
        Supersession::of_kind(&successor.kind),
    ) else {
        return Ok(None);
    };
    // A number of the previous system has no card here: its revocation (loss, theft) was
    // recorded at intake; there is nothing else to move.
    let Some(old) = cards::by_number_in(tx, previous).await? else {
        return Ok(None);
    };
    // Personalised again (found damaged before it left, made on a fresh blank): recorded the
    // first time already.
    if old.superseded_by.as_deref() == Some(successor.card_number.as_str()) {
        settle(tx, now, old.id, actor).await?;
        let after = cards::by_id_in(tx, old.id).await?;
        return Ok(Some(Predecessor {
            card_number: after.card_number,
            state: after.state,
        }));
    }
    let marked = on_tx!(tx, |c, pg| {
        sqlx::query("UPDATE cards SET superseded_by = $1 WHERE id = $2 AND superseded_by IS NULL")
            .bind(&successor.card_number)
            .bind(old.id)
            .execute(&mut *c)
            .await?
            .rows_affected()
    }) == 1;
    let planned = match CardState::parse(&old.state) {
        Some(s) => match succession::step(how, s) {
            Step::Now(events) => {
                let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
                json!({ "now": names })
            }
            Step::Later => json!("later"),
            Step::Never => json!("never"),
        },
        None => json!("unknown state"),
    };
    audit::append(
        tx,
        now,
        &Entry {
            actor,
            action: "card.superseded",
            entity_type: "card",
            entity_id: &old.card_number,
            before: Some(json!({ "state": old.state, "superseded_by": old.superseded_by })),
            after: Some(json!({
                "successor": successor.card_number,
                "successor_request_id": successor.request_id,
                "supersession": how.as_str(),
                "step": planned,
                // A second successor (a renewal, then a replacement of the same card) is
                // recorded here; the first one stays the card's `superseded_by`.
                "superseded_by": if marked { &successor.card_number } else { old.superseded_by.as_deref().unwrap_or_default() },
            })),
            reason: None,
        },
    )
    .await?;
    settle(tx, now, old.id, actor).await?;
    let after = cards::by_id_in(tx, old.id).await?;
    Ok(Some(Predecessor {
        card_number: after.card_number,
        state: after.state,
    }))
}

/// Moves superseded card `card_id` as far as its current state allows; a no-op for a card
/// that is not superseded or has already taken its supersession. Called by every path that
/// can bring a waiting predecessor to a state that takes it (presumed delivery, a return, the
/// quality desk, reinstatement, expiry).
pub async fn settle(
    tx: &mut Tx,
    now: i64,
    card_id: i64,
    actor: &str,
) -> Result<Settled, StoreError> {
    let card = cards::by_id_in(tx, card_id).await?;
    let Some(successor_number) = card.superseded_by.clone() else {
        return Ok(Settled::NotSuperseded);
    };
    // Only a renewal or replacement marks a predecessor; anything else is a damaged record,
    // reported and left alone rather than failing the transaction that moved this card.
    let successor = cards::by_number_in(tx, &successor_number).await?;
    let Some((successor, how)) = successor.and_then(|s| {
        let how = Supersession::of_kind(&s.kind)?;
        Some((s, how))
    }) else {
        tracing::error!(card = %card.card_number, successor = %successor_number, "superseded by a card that is no renewal or replacement of it");
        return Ok(Settled::Later);
    };
    let Some(state) = CardState::parse(&card.state) else {
        tracing::warn!(card = %card.card_number, state = %card.state, "superseded card in an unknown state");
        return Ok(Settled::Later);
    };
    let events = match succession::step(how, state) {
        Step::Now(events) => events,
        Step::Later => return Ok(Settled::Later),
        Step::Never => return Ok(Settled::Never),
    };
    match apply_all(tx, now, &card, &successor, &events, actor).await {
        Ok(()) => Ok(Settled::Applied(events)),
        Err(TransitionError::Store(e)) => Err(e),
        Err(other) => {
            // Left for the next move: the successor is personalised whatever happens here.
            tracing::warn!(card = %card.card_number, successor = %successor_number, error = %other, "supersession not applied");
            Ok(Settled::Later)
        }
    }
}

async fn apply_all(
    tx: &mut Tx,
    now: i64,
    card: &CardRecord,
    successor: &CardRecord,
    events: &[CardEvent],
    actor: &str,
) -> Result<(), TransitionError> {
    let reason = format!("superseded by card {}", successor.card_number);
    let details = json!({
        "successor": successor.card_number,
        "successor_request_id": successor.request_id,
    });
    let mut current = card.clone();
    for &event in events {
        if event == CardEvent::Revoke {
            // On the revocation list first: the list is what readers check.
            revocations::revoke_in(
                tx,
                now,
                &current.card_number,
                Some(&current),
                &RevocationReason::Replaced,
                Some(successor.request_id.as_str()),
                actor,
            )
            .await?;
            current = cards::by_id_in(tx, current.id).await?;
            // Already on the list (an earlier revocation), but its card not moved: move it.
            if CardState::parse(&current.state).is_some_and(|s| s.accepts(CardEvent::Revoke)) {
                cards::apply(
                    tx,
                    now,
                    &current,
                    event,
                    actor,
                    Some(&reason),
                    details.clone(),
                )
                .await?;
            }
        } else {
            cards::apply(
                tx,
                now,
                &current,
                event,
                actor,
                Some(&reason),
                details.clone(),
            )
            .await?;
        }
        current = cards::by_id_in(tx, current.id).await?;
    }
    Ok(())
}
