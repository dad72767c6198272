//! What a card's personalised successor does to it: the rule of docs/lifecycle.md §1,
//! "recorded when the successor is personalised".
//!
//! A renewal supersedes its predecessor by `renew`, a replacement by `replace`, but the table
//! accepts `renew` only from `handed_over` and `expired`, and `replace` only from `revoked`.
//! When the successor is bound to its chip the predecessor may be anywhere: still in the post
//! (a renewal made while the old card travels), suspended, back in the mailroom, at the quality
//! desk, or already dead. This module decides, without I/O, what happens to it then and each
//! time it moves afterwards; the store applies the decision (src/store/succession.rs). The
//! successor's personalisation never depends on the outcome.

use super::{CardEvent, CardState};

/// How a successor supersedes its predecessor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supersession {
    /// A renewal (new training): the old card is `renewed`. It stays valid until its own expiry
    /// (an early FCO), so it is not revoked.
    Renewal,
    /// A replacement (loss, theft, quality) with the same data and expiry: the old serial must
    /// never coexist with it, so the old card is revoked first, then `replaced`.
    Replacement,
}

impl Supersession {
    /// The supersession of a successor whose stored kind is `kind` (`renewal`,
    /// `replacement_loss` ...); `None` for a first issue.
    pub fn of_kind(kind: &str) -> Option<Self> {
        if kind == "renewal" {
            Some(Supersession::Renewal)
        } else if kind.starts_with("replacement") {
            Some(Supersession::Replacement)
        } else {
            None
        }
    }

    /// The event that records the supersession on the predecessor.
    pub fn event(self) -> CardEvent {
        match self {
            Supersession::Renewal => CardEvent::Renew,
            Supersession::Replacement => CardEvent::Replace,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Supersession::Renewal => "renewal",
            Supersession::Replacement => "replacement",
        }
    }
}

/// What happens to a superseded predecessor in its current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Apply these events now, in this order (`[renew]`, `[replace]`, `[revoke, replace]`).
    Now(Vec<CardEvent>),
    /// Not yet: the card can still reach a state that takes the event (a card in the post
    /// becomes `handed_over` when its delivery is presumed, a suspended one is reinstated or
    /// expires, a live card replaced for quality comes back defective). The event is applied
    /// then. Meanwhile a returned piece of this card goes to destruction, never to a resend.
    Later,
    /// Never: the card ended another way (lost, stolen, returned and waiting in a slot,
    /// withdrawn, destroyed...). Its own end stands; the supersession stays on record
    /// (`cards.superseded_by`, audit `card.superseded`).
    Never,
}

/// The step for a predecessor in `state` superseded by `how`.
pub fn step(how: Supersession, state: CardState) -> Step {
    use CardState as S;
    let event = how.event();
    if state.accepts(event) {
        return Step::Now(vec![event]);
    }
    match how {
        Supersession::Renewal => match state {
            // On its way to the holder, or suspended: `handed_over` or `expired` may come.
            S::Application
            | S::HeldForReview
            | S::Approved
            | S::Stopped
            | S::InProduction
            | S::Personalised
            | S::Inserted
            | S::Dispatched
            | S::Suspended => Step::Later,
            _ => Step::Never,
        },
        Supersession::Replacement => {
            // The invariant of docs/lifecycle.md: revoked before replaced.
            if state.accepts(CardEvent::Revoke) {
                return Step::Now(vec![CardEvent::Revoke, event]);
            }
            match state {
                S::Replaced | S::Destroyed | S::Rejected => Step::Never,
                // Live or on its way: it reaches a revocable state later (declared, returned).
                _ => Step::Later,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CardEvent as E;
    use CardState as S;

    #[test]
    fn kinds_map_to_their_supersession() {
        assert_eq!(
            Supersession::of_kind("renewal"),
            Some(Supersession::Renewal)
        );
        for k in [
            "replacement_loss",
            "replacement_theft",
            "replacement_quality",
        ] {
            assert_eq!(Supersession::of_kind(k), Some(Supersession::Replacement));
        }
        assert_eq!(Supersession::of_kind("first_issue"), None);
    }

    #[test]
    fn every_planned_sequence_is_accepted_by_the_machine() {
        for how in [Supersession::Renewal, Supersession::Replacement] {
            for s in CardState::ALL {
                if let Step::Now(events) = step(how, s) {
                    let end = events
                        .iter()
                        .try_fold(s, |st, &e| st.apply(e))
                        .unwrap_or_else(|e| panic!("{how:?} from {s}: {e}"));
                    let want = match how {
                        Supersession::Renewal => S::Renewed,
                        Supersession::Replacement => S::Replaced,
                    };
                    assert_eq!(end, want, "{how:?} from {s}");
                }
            }
        }
    }

    #[test]
    fn a_renewal_waits_for_a_card_in_the_post_and_leaves_dead_cards_alone() {
        let r = Supersession::Renewal;
        assert_eq!(step(r, S::HandedOver), Step::Now(vec![E::Renew]));
        assert_eq!(step(r, S::Expired), Step::Now(vec![E::Renew]));
        assert_eq!(step(r, S::Dispatched), Step::Later);
        assert_eq!(step(r, S::Suspended), Step::Later);
        for dead in [
            S::Held,
            S::Lost,
            S::Revoked,
            S::Renewed,
            S::Destroyed,
            S::Withdrawn,
        ] {
            assert_eq!(step(r, dead), Step::Never, "{dead}");
        }
    }

    #[test]
    fn a_replacement_revokes_before_it_replaces() {
        let q = Supersession::Replacement;
        assert_eq!(step(q, S::Revoked), Step::Now(vec![E::Replace]));
        for s in [S::ReturnedDefective, S::Malfunctioning, S::Lost, S::Held] {
            assert_eq!(step(q, s), Step::Now(vec![E::Revoke, E::Replace]), "{s}");
        }
        assert_eq!(step(q, S::HandedOver), Step::Later);
        assert_eq!(step(q, S::Replaced), Step::Never);
        assert_eq!(step(q, S::Destroyed), Step::Never);
    }

    #[test]
    fn every_state_has_a_step_and_terminal_states_never_move() {
        for how in [Supersession::Renewal, Supersession::Replacement] {
            for s in CardState::ALL {
                if s.is_terminal() {
                    assert_eq!(step(how, s), Step::Never, "{how:?} {s}");
                }
            }
        }
    }
}
