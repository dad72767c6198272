//! Decisions about a card in its holder's hands that production does not take (Reg. (EU)
//! 2016/68's suspended, withdrawn and surrendered; docs/lifecycle.md): the authority suspends,
//! reinstates or withdraws a card, the holder surrenders it. They reach the bureau as a
//! document (a decision, a letter) that a supervisor records with `cqcfab lifecycle suspend |
//! reinstate | withdraw | surrender`, citing its reference; the card moves, audited with who
//! recorded it, the reference and the reason.
//!
//! The portal contract has no event for these, so the portal is not told; `GET
//! /v1/requests/{id}` shows the state and the history. The card number is not revoked here:
//! the authority's register says a card is withdrawn; the number goes on the revocation list
//! when the body is destroyed or replaced (the `revoke` of docs/lifecycle.md).

use serde_json::json;

use super::cards::{self, TransitionError};
use super::{Store, StoreError, succession};
use crate::domain::lifecycle::{CardEvent, CardState};

/// What is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The authority suspends the card (temporarily not valid).
    Suspend,
    /// The authority lifts a suspension.
    Reinstate,
    /// The authority withdraws the card.
    Withdraw,
    /// The holder hands the card back.
    Surrender,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Suspend,
        Decision::Reinstate,
        Decision::Withdraw,
        Decision::Surrender,
    ];

    pub fn event(self) -> CardEvent {
        match self {
            Decision::Suspend => CardEvent::Suspend,
            Decision::Reinstate => CardEvent::Reinstate,
            Decision::Withdraw => CardEvent::Withdraw,
            Decision::Surrender => CardEvent::Surrender,
        }
    }

    /// Whose decision it is, for the audit trail.
    pub fn decided_by(self) -> &'static str {
        match self {
            Decision::Surrender => "holder",
            _ => "authority",
        }
    }
}

/// Why a decision was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error("card {0} does not exist")]
    NoCard(String),
    #[error("the reference of the {0} (the decision or letter it is based on) is required")]
    NoReference(&'static str),
    #[error(
        "card {card_number} is {state}: `{event}` is accepted only from {accepted} \
         (docs/lifecycle.md)"
    )]
    NotNow {
        card_number: String,
        state: String,
        event: &'static str,
        accepted: String,
    },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Records `decision` on card `card_number`, based on document `reference`, recorded by
    /// `by`; returns the card's new state.
    pub async fn record_authority_decision(
        &self,
        card_number: &str,
        decision: Decision,
        reference: &str,
        by: &str,
        reason: Option<&str>,
    ) -> Result<CardState, AuthorityError> {
        let event = decision.event();
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(AuthorityError::NoReference(event.as_str()));
        }
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let card = cards::by_number_in(&mut tx, card_number)
            .await?
            .ok_or_else(|| AuthorityError::NoCard(card_number.to_string()))?;
        if !CardState::parse(&card.state).is_some_and(|s| s.accepts(event)) {
            let accepted: Vec<&str> = CardState::ALL
                .into_iter()
                .filter(|s| s.accepts(event))
                .map(CardState::as_str)
                .collect();
            return Err(AuthorityError::NotNow {
                card_number: card.card_number,
                state: card.state,
                event: event.as_str(),
                accepted: accepted.join(", "),
            });
        }
        let to = cards::apply(
            &mut tx,
            now,
            &card,
            event,
            by,
            reason,
            json!({ "reference": reference, "decided_by": decision.decided_by() }),
        )
        .await?;
        // A renewal personalised while the card was suspended is recorded once it is back.
        succession::settle(&mut tx, now, card.id, by).await?;
        let state = cards::by_id_in(&mut tx, card.id).await?.state;
        tx.commit().await?;
        Ok(CardState::parse(&state).unwrap_or(to))
    }
}
