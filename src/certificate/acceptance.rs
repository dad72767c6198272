//! Which requests get a certificate, and its date of establishment.
//!
//! A certificate says the holder is qualified while his card is made, so it is given only
//! for a request we accepted for production, and it must say the same thing every time it is
//! downloaded: its date of establishment is therefore a recorded fact, the day the card first
//! became `approved` in the audit trail, never the day of the download.

use crate::domain::lifecycle::CardState;
use crate::store::audit::Record;

/// Why a request has no certificate (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not yet decided.
    Undecided,
    /// Held for review: our dates differ from the portal's, a supervisor decides.
    HeldForReview,
    /// Rejected: no card will be made.
    Rejected,
    /// Stopped in production: data must be corrected, and the certificate would print it.
    Stopped,
    /// Suspended or withdrawn by the authority.
    Authority,
}

impl Refusal {
    /// For the portal (the 409's message).
    pub fn explain(self) -> &'static str {
        match self {
            Refusal::Undecided => "the request is not decided yet",
            Refusal::HeldForReview => {
                "the request is held for review (its dates differ from the portal's): a \
                 certificate is given once it is released"
            }
            Refusal::Rejected => "the request was rejected: no card and no certificate",
            Refusal::Stopped => {
                "the request is stopped until its data is corrected: a certificate is given \
                 with the corrected data"
            }
            Refusal::Authority => "the card was suspended or withdrawn by the authority",
        }
    }
}

/// Whether a card in `state` counts as an accepted request. Accepted: approved for
/// production and every state production and the post reach from there, including the ends
/// of a card's life (a certificate states the qualification and carries its own four-month
/// validity). Not accepted: see [`Refusal`].
pub fn accepted(state: CardState) -> Result<(), Refusal> {
    use CardState as S;
    match state {
        S::Application => Err(Refusal::Undecided),
        S::HeldForReview => Err(Refusal::HeldForReview),
        S::Rejected => Err(Refusal::Rejected),
        S::Stopped => Err(Refusal::Stopped),
        S::Suspended | S::Withdrawn => Err(Refusal::Authority),
        S::Approved
        | S::InProduction
        | S::Personalised
        | S::Inserted
        | S::Dispatched
        | S::HandedOver
        | S::ReturnedUndelivered
        | S::Held
        | S::Malfunctioning
        | S::ReturnedDefective
        | S::Lost
        | S::Stolen
        | S::Surrendered
        | S::Expired
        | S::Renewed
        | S::Revoked
        | S::Replaced
        | S::Destroyed => Ok(()),
    }
}

/// When the request was accepted: the time (ms) of the first audit record of the card that
/// put it in `approved` (intake's `request.accepted`, or the release of a held request),
/// whatever the record's action is called. `history` is the card's audit trail in order.
pub fn accepted_at(history: &[Record]) -> Option<i64> {
    history
        .iter()
        .find(|r| {
            r.after
                .as_deref()
                .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                .is_some_and(|a| a["state"] == CardState::Approved.as_str())
        })
        .map(|r| r.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: i64, action: &str, after: Option<&str>) -> Record {
        Record {
            seq: at,
            at,
            actor: "t".into(),
            action: action.into(),
            entity_type: "card".into(),
            entity_id: "F0000000100J".into(),
            before: None,
            after: after.map(str::to_string),
            reason: None,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn every_state_is_decided_and_held_and_rejected_are_not_accepted() {
        let refused: Vec<CardState> = CardState::ALL
            .into_iter()
            .filter(|s| accepted(*s).is_err())
            .collect();
        assert_eq!(
            refused,
            [
                CardState::Application,
                CardState::HeldForReview,
                CardState::Rejected,
                CardState::Stopped,
                CardState::Suspended,
                CardState::Withdrawn,
            ]
        );
        assert_eq!(
            accepted(CardState::HeldForReview),
            Err(Refusal::HeldForReview)
        );
        assert_eq!(accepted(CardState::Personalised), Ok(()));
    }

    #[test]
    fn the_date_is_the_first_approval_whatever_its_action() {
        let held_then_released = [
            record(10, "request.held", Some(r#"{"state":"held_for_review"}"#)),
            record(20, "card.release", Some(r#"{"state":"approved"}"#)),
            record(
                30,
                "card.start_production",
                Some(r#"{"state":"in_production"}"#),
            ),
            record(40, "card.release", Some(r#"{"state":"approved"}"#)),
        ];
        assert_eq!(accepted_at(&held_then_released), Some(20));
        let accepted_at_intake = [record(
            5,
            "request.accepted",
            Some(r#"{"state":"approved","kind":"first_issue"}"#),
        )];
        assert_eq!(accepted_at(&accepted_at_intake), Some(5));
        let never = [
            record(5, "request.held", Some(r#"{"state":"held_for_review"}"#)),
            record(6, "x", None),
        ];
        assert_eq!(accepted_at(&never), None);
    }
}
