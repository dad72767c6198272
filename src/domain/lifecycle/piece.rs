//! Life cycle of one mail piece: a carrier letter and its card in an envelope, known by its
//! piece id (the barcode the mailroom scans).
//!
//! The piece has its own machine because a card can travel more than once (resend, readdress)
//! and a return can arrive months late (domain.md §5): keying returns and decisions to the
//! piece, not to the card, is what keeps a late return of an old piece from condemning the
//! holder's newer address. A piece is never reused: a resend or a readdress creates a new one
//! and ends the old one.

use std::fmt;

use super::{IllegalTransition, Machine};

/// Where a piece stands. The `snake_case` name ([`PieceState::as_str`]) is stored in the
/// database: never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PieceState {
    /// Carrier letter printed, no card in it yet.
    Created,
    /// The card the carrier names was scanned, matched and inserted (card-to-carrier match).
    Inserted,
    /// In an open postal batch; its manifest row exists.
    Batched,
    /// The batch was handed to the post.
    Dispatched,
    /// Presumed delivered: no return within the waiting period; a late return is still taken.
    Delivered,
    /// The post brought it back (PND) and the mailroom scanned it.
    ReturnedUndelivered,
    /// Its card sits in a numbered slot; the holder may answer `resend` or `readdress`
    /// (the only state in which the portal's decision is accepted).
    AwaitingDecision,
    /// Superseded by a new piece to the same address.
    Resent,
    /// Superseded by a new piece to a new address (the holder paid).
    Readdressed,
    /// Its card was destroyed (no decision in time, card revoked meanwhile, damaged in return).
    CardDestroyed,
    /// Printed but never posted (its card was spoiled, or the envelope damaged): the carrier is
    /// shredded and the piece id never reused.
    Cancelled,
}

/// What happens to a piece. The `snake_case` name is written to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PieceEvent {
    Insert,
    Batch,
    Dispatch,
    PresumeDelivered,
    ReturnUndelivered,
    Store,
    Resend,
    Readdress,
    DestroyCard,
    Cancel,
}

impl PieceState {
    /// Every state, in life-cycle order.
    pub const ALL: [PieceState; 11] = [
        PieceState::Created,
        PieceState::Inserted,
        PieceState::Batched,
        PieceState::Dispatched,
        PieceState::Delivered,
        PieceState::ReturnedUndelivered,
        PieceState::AwaitingDecision,
        PieceState::Resent,
        PieceState::Readdressed,
        PieceState::CardDestroyed,
        PieceState::Cancelled,
    ];

    /// The stable stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PieceState::Created => "created",
            PieceState::Inserted => "inserted",
            PieceState::Batched => "batched",
            PieceState::Dispatched => "dispatched",
            PieceState::Delivered => "delivered",
            PieceState::ReturnedUndelivered => "returned_undelivered",
            PieceState::AwaitingDecision => "awaiting_decision",
            PieceState::Resent => "resent",
            PieceState::Readdressed => "readdressed",
            PieceState::CardDestroyed => "card_destroyed",
            PieceState::Cancelled => "cancelled",
        }
    }

    /// The state stored under `name`, `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The transition table: the state after `event`, `None` when refused.
    pub fn next(self, event: PieceEvent) -> Option<Self> {
        use PieceEvent as E;
        use PieceState as S;
        let to = match (self, event) {
            (S::Created, E::Insert) => S::Inserted,
            (S::Inserted, E::Batch) => S::Batched,
            (S::Batched, E::Dispatch) => S::Dispatched,
            (S::Created | S::Inserted | S::Batched, E::Cancel) => S::Cancelled,
            (S::Dispatched, E::PresumeDelivered) => S::Delivered,
            (S::Dispatched | S::Delivered, E::ReturnUndelivered) => S::ReturnedUndelivered,
            (S::ReturnedUndelivered, E::Store) => S::AwaitingDecision,
            (S::AwaitingDecision, E::Resend) => S::Resent,
            (S::AwaitingDecision, E::Readdress) => S::Readdressed,
            (S::ReturnedUndelivered | S::AwaitingDecision, E::DestroyCard) => S::CardDestroyed,
            _ => return None,
        };
        Some(to)
    }

    /// The single transition function: the next state, or a refusal naming state and event.
    pub fn apply(self, event: PieceEvent) -> Result<Self, IllegalTransition<Self>> {
        super::apply(self, event)
    }

    /// Whether `event` is accepted here.
    pub fn accepts(self, event: PieceEvent) -> bool {
        self.next(event).is_some()
    }

    /// The events accepted in this state.
    pub fn accepted_events(self) -> impl Iterator<Item = PieceEvent> {
        PieceEvent::ALL
            .into_iter()
            .filter(move |&e| self.accepts(e))
    }

    /// The piece is finished: superseded, its card destroyed, or never used. `delivered` is
    /// not terminal, because the post may still bring it back.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PieceState::Resent
                | PieceState::Readdressed
                | PieceState::CardDestroyed
                | PieceState::Cancelled
        )
    }
}

impl PieceEvent {
    /// Every event.
    pub const ALL: [PieceEvent; 10] = [
        PieceEvent::Insert,
        PieceEvent::Batch,
        PieceEvent::Dispatch,
        PieceEvent::PresumeDelivered,
        PieceEvent::ReturnUndelivered,
        PieceEvent::Store,
        PieceEvent::Resend,
        PieceEvent::Readdress,
        PieceEvent::DestroyCard,
        PieceEvent::Cancel,
    ];

    /// The stable name written to the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            PieceEvent::Insert => "insert",
            PieceEvent::Batch => "batch",
            PieceEvent::Dispatch => "dispatch",
            PieceEvent::PresumeDelivered => "presume_delivered",
            PieceEvent::ReturnUndelivered => "return_undelivered",
            PieceEvent::Store => "store",
            PieceEvent::Resend => "resend",
            PieceEvent::Readdress => "readdress",
            PieceEvent::DestroyCard => "destroy_card",
            PieceEvent::Cancel => "cancel",
        }
    }

    /// The event logged under `name`, `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl Machine for PieceState {
    type Event = PieceEvent;
    const NAME: &'static str = "piece";

    const STATES: &'static [Self] = &PieceState::ALL;
    const EVENTS: &'static [PieceEvent] = &PieceEvent::ALL;

    fn next(self, event: PieceEvent) -> Option<Self> {
        PieceState::next(self, event)
    }

    fn state_name(self) -> &'static str {
        self.as_str()
    }

    fn event_name(event: PieceEvent) -> &'static str {
        event.as_str()
    }

    fn parse_state(name: &str) -> Option<Self> {
        PieceState::parse(name)
    }

    fn parse_event(name: &str) -> Option<PieceEvent> {
        PieceEvent::parse(name)
    }
}

impl fmt::Display for PieceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PieceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PieceEvent as E;
    use PieceState as S;

    /// The allowed transitions, written out independently of [`PieceState::next`].
    /// Mirrored in docs/lifecycle.md.
    const ALLOWED: &[(PieceState, PieceEvent, PieceState)] = &[
        (S::Created, E::Insert, S::Inserted),
        (S::Created, E::Cancel, S::Cancelled),
        (S::Inserted, E::Batch, S::Batched),
        (S::Inserted, E::Cancel, S::Cancelled),
        (S::Batched, E::Dispatch, S::Dispatched),
        (S::Batched, E::Cancel, S::Cancelled),
        (S::Dispatched, E::PresumeDelivered, S::Delivered),
        (S::Dispatched, E::ReturnUndelivered, S::ReturnedUndelivered),
        (S::Delivered, E::ReturnUndelivered, S::ReturnedUndelivered),
        (S::ReturnedUndelivered, E::Store, S::AwaitingDecision),
        (S::ReturnedUndelivered, E::DestroyCard, S::CardDestroyed),
        (S::AwaitingDecision, E::Resend, S::Resent),
        (S::AwaitingDecision, E::Readdress, S::Readdressed),
        (S::AwaitingDecision, E::DestroyCard, S::CardDestroyed),
    ];

    fn run(from: PieceState, events: &[PieceEvent]) -> PieceState {
        events.iter().fold(from, |s, &e| {
            s.apply(e).unwrap_or_else(|err| panic!("{err}"))
        })
    }

    #[test]
    fn every_state_event_pair_is_either_allowed_or_refused() {
        crate::domain::lifecycle::conformance::matches_table(ALLOWED);
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        crate::domain::lifecycle::conformance::names_round_trip::<PieceState>();
    }

    #[test]
    fn terminal_states_accept_nothing_and_every_other_state_something() {
        for s in PieceState::ALL {
            assert_eq!(s.accepted_events().next().is_none(), s.is_terminal(), "{s}");
            if s.is_terminal() {
                for e in PieceEvent::ALL {
                    assert!(s.apply(e).is_err(), "{s} accepted {e}");
                }
            }
        }
    }

    #[test]
    fn happy_path_from_carrier_to_delivery() {
        let end = run(
            S::Created,
            &[E::Insert, E::Batch, E::Dispatch, E::PresumeDelivered],
        );
        assert_eq!(end, S::Delivered);
    }

    #[test]
    fn returned_piece_is_stored_then_resent_or_readdressed() {
        let waiting = run(S::Dispatched, &[E::ReturnUndelivered, E::Store]);
        assert_eq!(waiting, S::AwaitingDecision);
        assert_eq!(waiting.apply(E::Resend), Ok(S::Resent));
        assert_eq!(waiting.apply(E::Readdress), Ok(S::Readdressed));
        // A late return after the presumed delivery is still accepted.
        assert_eq!(
            run(
                S::Delivered,
                &[E::ReturnUndelivered, E::Store, E::DestroyCard]
            ),
            S::CardDestroyed
        );
    }

    #[test]
    fn a_decision_is_accepted_only_while_awaiting_one() {
        // The portal's POST .../decision answers 409 in every other state (contract).
        for s in PieceState::ALL {
            for e in [E::Resend, E::Readdress] {
                assert_eq!(s.accepts(e), s == S::AwaitingDecision, "{s} + {e}");
            }
        }
    }

    #[test]
    fn a_piece_is_cancelled_only_before_it_leaves() {
        for s in PieceState::ALL {
            assert_eq!(
                s.accepts(E::Cancel),
                matches!(s, S::Created | S::Inserted | S::Batched),
                "{s}"
            );
        }
    }

    #[test]
    fn the_refusal_names_machine_state_and_event() {
        let err = S::Resent.apply(E::Readdress).unwrap_err();
        assert_eq!(
            err.to_string(),
            "illegal piece transition: event `readdress` is not allowed in state `resent`"
        );
    }
}
