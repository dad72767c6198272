//! Life cycle of one card: from the accepted request to the holder, and back.
//!
//! The states of Reg. (EU) 2016/68 (application, approved, rejected, personalised, dispatched,
//! handed over, suspended, withdrawn, surrendered, lost, stolen, malfunctioning, expired,
//! replaced, renewed) are kept under their names so that reports read like the regulation;
//! production adds the steps it must be able to count and audit (domain.md §3, §6-7).
//! Two invariants are built into the table: a card is destroyed or replaced only once its serial
//! is revoked (a live serial must never outlive its card body, nor coexist with its
//! replacement), and only `rejected` and `destroyed` are terminal: every other end is
//! administrative, and the physical card may still come back to us.

use std::fmt;

use super::{IllegalTransition, Machine};

/// Where a card stands. The `snake_case` name ([`CardState::as_str`]) is stored in the
/// database: never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CardState {
    /// Request accepted from the portal, validity computed, not yet cleared for production.
    /// Never stored: intake approves or holds the card in the transaction that creates it (a
    /// request intake refuses gets its 422 and no card), so `application` only ever appears as
    /// the `before` of those two transitions.
    Application,
    /// The portal's `expected_expiry` differs from ours: a supervisor must compare both dates,
    /// because a portal miscalculation must not be printed.
    HeldForReview,
    /// Cleared for production, waiting for a render/encode job to claim it.
    Approved,
    /// Refused by a supervisor (after review, or once production stopped): no card will be
    /// made under this request.
    Rejected,
    /// Production found the request cannot be made as accepted (a name that does not fit the
    /// layout, a chip profile overflow). A supervisor retries it after a fix or rejects it.
    Stopped,
    /// Render and chip encoding under way on a drawn blank.
    InProduction,
    /// Chip write and print both verified: only now is the card bound to its holder (§7).
    Personalised,
    /// Matched to its carrier letter and enveloped (card-to-carrier match done).
    Inserted,
    /// Its piece left in a postal batch.
    Dispatched,
    /// Presumed delivered: no return within the waiting period. A late return is still
    /// possible (domain.md §5).
    HandedOver,
    /// The post brought it back (PND), scanned in the mailroom.
    ReturnedUndelivered,
    /// In a numbered storage slot, waiting for the holder's decision (resend or readdress).
    Held,
    /// Declared defective by the holder, card not (yet) received.
    Malfunctioning,
    /// Posted back with a return coupon, under quality analysis.
    ReturnedDefective,
    /// Declared lost by the holder (possibly lost in the post).
    Lost,
    /// Declared stolen by the holder.
    Stolen,
    /// Temporarily not valid by decision of the authority.
    Suspended,
    /// Withdrawn by the authority.
    Withdrawn,
    /// Handed back by the holder.
    Surrendered,
    /// Past its expiry date.
    Expired,
    /// Superseded by a renewal card (new training); its successor is another card record.
    Renewed,
    /// Serial revoked: the card must no longer be accepted, whatever its physical fate.
    Revoked,
    /// Superseded by a replacement card with the same data and expiry.
    Replaced,
    /// Physically destroyed under dual control: the end of every card body we hold.
    Destroyed,
}

/// What happens to a card. Verbs, applied by exactly one actor each (see docs/lifecycle.md).
/// The `snake_case` name is written to the audit log: never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CardEvent {
    Approve,
    HoldForReview,
    Release,
    Reject,
    /// The driver's correction of a stopped card arrived and passed intake's validation: the
    /// card goes back to production under the same number (the portal applies it, a supervisor
    /// `release`s).
    Correct,
    StartProduction,
    Stop,
    /// A blank was damaged: it is logged and destroyed in stock, production goes on with a
    /// fresh blank (a new body serial, never the spoiled one).
    Spoil,
    Personalise,
    Insert,
    Dispatch,
    PresumeDelivered,
    ReturnUndelivered,
    Store,
    /// The card leaves its slot in a new carrier (resend as is or to a new address).
    Resend,
    ReturnDefective,
    DeclareMalfunctioning,
    DeclareLost,
    DeclareStolen,
    Suspend,
    Reinstate,
    Withdraw,
    Surrender,
    Expire,
    Renew,
    Revoke,
    Replace,
    Destroy,
}

impl CardState {
    /// Every state, in life-cycle order: console counts and exhaustive tests iterate it.
    pub const ALL: [CardState; 24] = [
        CardState::Application,
        CardState::HeldForReview,
        CardState::Approved,
        CardState::Rejected,
        CardState::Stopped,
        CardState::InProduction,
        CardState::Personalised,
        CardState::Inserted,
        CardState::Dispatched,
        CardState::HandedOver,
        CardState::ReturnedUndelivered,
        CardState::Held,
        CardState::Malfunctioning,
        CardState::ReturnedDefective,
        CardState::Lost,
        CardState::Stolen,
        CardState::Suspended,
        CardState::Withdrawn,
        CardState::Surrendered,
        CardState::Expired,
        CardState::Renewed,
        CardState::Revoked,
        CardState::Replaced,
        CardState::Destroyed,
    ];

    /// The stable stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Application => "application",
            CardState::HeldForReview => "held_for_review",
            CardState::Approved => "approved",
            CardState::Rejected => "rejected",
            CardState::Stopped => "stopped",
            CardState::InProduction => "in_production",
            CardState::Personalised => "personalised",
            CardState::Inserted => "inserted",
            CardState::Dispatched => "dispatched",
            CardState::HandedOver => "handed_over",
            CardState::ReturnedUndelivered => "returned_undelivered",
            CardState::Held => "held",
            CardState::Malfunctioning => "malfunctioning",
            CardState::ReturnedDefective => "returned_defective",
            CardState::Lost => "lost",
            CardState::Stolen => "stolen",
            CardState::Suspended => "suspended",
            CardState::Withdrawn => "withdrawn",
            CardState::Surrendered => "surrendered",
            CardState::Expired => "expired",
            CardState::Renewed => "renewed",
            CardState::Revoked => "revoked",
            CardState::Replaced => "replaced",
            CardState::Destroyed => "destroyed",
        }
    }

    /// The state stored under `name`, `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The transition table: the state after `event`, `None` when refused.
    pub fn next(self, event: CardEvent) -> Option<Self> {
        use CardEvent as E;
        use CardState as S;
        let to = match (self, event) {
            (S::Application, E::Approve) => S::Approved,
            (S::Application, E::HoldForReview) => S::HeldForReview,
            (S::HeldForReview | S::Stopped, E::Reject) => S::Rejected,
            (S::HeldForReview | S::Stopped, E::Release) => S::Approved,
            (S::Stopped, E::Correct) => S::Approved,
            (S::Approved, E::StartProduction) => S::InProduction,
            (S::Approved | S::InProduction, E::Stop) => S::Stopped,
            (S::InProduction | S::Personalised | S::Inserted, E::Spoil) => S::InProduction,
            (S::InProduction, E::Personalise) => S::Personalised,
            (S::Personalised, E::Insert) => S::Inserted,
            (S::Held, E::Resend) => S::Inserted,
            (S::Inserted, E::Dispatch) => S::Dispatched,
            (S::Dispatched, E::PresumeDelivered) => S::HandedOver,
            (S::Dispatched | S::HandedOver, E::ReturnUndelivered) => S::ReturnedUndelivered,
            (S::ReturnedUndelivered, E::Store) => S::Held,
            (S::HandedOver | S::Malfunctioning, E::ReturnDefective) => S::ReturnedDefective,
            (S::HandedOver, E::DeclareMalfunctioning) => S::Malfunctioning,
            (S::Dispatched | S::HandedOver, E::DeclareLost) => S::Lost,
            (S::Dispatched | S::HandedOver, E::DeclareStolen) => S::Stolen,
            (S::HandedOver, E::Suspend) => S::Suspended,
            (S::Suspended, E::Reinstate) => S::HandedOver,
            (S::HandedOver | S::Suspended, E::Withdraw) => S::Withdrawn,
            (S::HandedOver | S::Suspended, E::Surrender) => S::Surrendered,
            (S::HandedOver | S::Suspended, E::Expire) => S::Expired,
            (S::HandedOver | S::Expired, E::Renew) => S::Renewed,
            (
                S::ReturnedUndelivered
                | S::Held
                | S::Malfunctioning
                | S::ReturnedDefective
                | S::Lost
                | S::Stolen
                | S::Withdrawn
                | S::Surrendered
                | S::Expired
                | S::Renewed,
                E::Revoke,
            ) => S::Revoked,
            (S::Revoked, E::Replace) => S::Replaced,
            (S::Revoked | S::Replaced, E::Destroy) => S::Destroyed,
            _ => return None,
        };
        Some(to)
    }

    /// The single transition function: the next state, or a refusal naming state and event.
    pub fn apply(self, event: CardEvent) -> Result<Self, IllegalTransition<Self>> {
        super::apply(self, event)
    }

    /// Whether `event` is accepted here (the console shows only the actions that are).
    pub fn accepts(self, event: CardEvent) -> bool {
        self.next(event).is_some()
    }

    /// The events accepted in this state.
    pub fn accepted_events(self) -> impl Iterator<Item = CardEvent> {
        CardEvent::ALL.into_iter().filter(move |&e| self.accepts(e))
    }

    /// Nothing can happen any more: a refused request, a destroyed card.
    pub fn is_terminal(self) -> bool {
        matches!(self, CardState::Rejected | CardState::Destroyed)
    }
}

impl CardEvent {
    /// Every event: exhaustive tests iterate it.
    pub const ALL: [CardEvent; 28] = [
        CardEvent::Approve,
        CardEvent::HoldForReview,
        CardEvent::Release,
        CardEvent::Reject,
        CardEvent::Correct,
        CardEvent::StartProduction,
        CardEvent::Stop,
        CardEvent::Spoil,
        CardEvent::Personalise,
        CardEvent::Insert,
        CardEvent::Dispatch,
        CardEvent::PresumeDelivered,
        CardEvent::ReturnUndelivered,
        CardEvent::Store,
        CardEvent::Resend,
        CardEvent::ReturnDefective,
        CardEvent::DeclareMalfunctioning,
        CardEvent::DeclareLost,
        CardEvent::DeclareStolen,
        CardEvent::Suspend,
        CardEvent::Reinstate,
        CardEvent::Withdraw,
        CardEvent::Surrender,
        CardEvent::Expire,
        CardEvent::Renew,
        CardEvent::Revoke,
        CardEvent::Replace,
        CardEvent::Destroy,
    ];

    /// The stable name written to the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            CardEvent::Approve => "approve",
            CardEvent::HoldForReview => "hold_for_review",
            CardEvent::Release => "release",
            CardEvent::Reject => "reject",
            CardEvent::Correct => "correct",
            CardEvent::StartProduction => "start_production",
            CardEvent::Stop => "stop",
            CardEvent::Spoil => "spoil",
            CardEvent::Personalise => "personalise",
            CardEvent::Insert => "insert",
            CardEvent::Dispatch => "dispatch",
            CardEvent::PresumeDelivered => "presume_delivered",
            CardEvent::ReturnUndelivered => "return_undelivered",
            CardEvent::Store => "store",
            CardEvent::Resend => "resend",
            CardEvent::ReturnDefective => "return_defective",
            CardEvent::DeclareMalfunctioning => "declare_malfunctioning",
            CardEvent::DeclareLost => "declare_lost",
            CardEvent::DeclareStolen => "declare_stolen",
            CardEvent::Suspend => "suspend",
            CardEvent::Reinstate => "reinstate",
            CardEvent::Withdraw => "withdraw",
            CardEvent::Surrender => "surrender",
            CardEvent::Expire => "expire",
            CardEvent::Renew => "renew",
            CardEvent::Revoke => "revoke",
            CardEvent::Replace => "replace",
            CardEvent::Destroy => "destroy",
        }
    }

    /// The event logged under `name`, `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl Machine for CardState {
    type Event = CardEvent;
    const NAME: &'static str = "card";

    const STATES: &'static [Self] = &CardState::ALL;
    const EVENTS: &'static [CardEvent] = &CardEvent::ALL;

    fn next(self, event: CardEvent) -> Option<Self> {
        CardState::next(self, event)
    }

    fn state_name(self) -> &'static str {
        self.as_str()
    }

    fn event_name(event: CardEvent) -> &'static str {
        event.as_str()
    }

    fn parse_state(name: &str) -> Option<Self> {
        CardState::parse(name)
    }

    fn parse_event(name: &str) -> Option<CardEvent> {
        CardEvent::parse(name)
    }
}

impl fmt::Display for CardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CardEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CardEvent as E;
    use CardState as S;

    /// The allowed transitions, written out independently of [`CardState::next`]: a change to
    /// either must be made to both, on purpose. Mirrored in docs/lifecycle.md.
    const ALLOWED: &[(CardState, CardEvent, CardState)] = &[
        (S::Application, E::Approve, S::Approved),
        (S::Application, E::HoldForReview, S::HeldForReview),
        (S::HeldForReview, E::Release, S::Approved),
        (S::HeldForReview, E::Reject, S::Rejected),
        (S::Approved, E::StartProduction, S::InProduction),
        (S::Approved, E::Stop, S::Stopped),
        (S::Stopped, E::Release, S::Approved),
        (S::Stopped, E::Correct, S::Approved),
        (S::Stopped, E::Reject, S::Rejected),
        (S::InProduction, E::Personalise, S::Personalised),
        (S::InProduction, E::Spoil, S::InProduction),
        (S::InProduction, E::Stop, S::Stopped),
        (S::Personalised, E::Insert, S::Inserted),
        (S::Personalised, E::Spoil, S::InProduction),
        (S::Inserted, E::Dispatch, S::Dispatched),
        (S::Inserted, E::Spoil, S::InProduction),
        (S::Dispatched, E::PresumeDelivered, S::HandedOver),
        (S::Dispatched, E::ReturnUndelivered, S::ReturnedUndelivered),
        (S::Dispatched, E::DeclareLost, S::Lost),
        (S::Dispatched, E::DeclareStolen, S::Stolen),
        (S::HandedOver, E::ReturnUndelivered, S::ReturnedUndelivered),
        (S::HandedOver, E::ReturnDefective, S::ReturnedDefective),
        (S::HandedOver, E::DeclareMalfunctioning, S::Malfunctioning),
        (S::HandedOver, E::DeclareLost, S::Lost),
        (S::HandedOver, E::DeclareStolen, S::Stolen),
        (S::HandedOver, E::Suspend, S::Suspended),
        (S::HandedOver, E::Withdraw, S::Withdrawn),
        (S::HandedOver, E::Surrender, S::Surrendered),
        (S::HandedOver, E::Expire, S::Expired),
        (S::HandedOver, E::Renew, S::Renewed),
        (S::ReturnedUndelivered, E::Store, S::Held),
        (S::ReturnedUndelivered, E::Revoke, S::Revoked),
        (S::Held, E::Resend, S::Inserted),
        (S::Held, E::Revoke, S::Revoked),
        (S::Malfunctioning, E::ReturnDefective, S::ReturnedDefective),
        (S::Malfunctioning, E::Revoke, S::Revoked),
        (S::ReturnedDefective, E::Revoke, S::Revoked),
        (S::Lost, E::Revoke, S::Revoked),
        (S::Stolen, E::Revoke, S::Revoked),
        (S::Suspended, E::Reinstate, S::HandedOver),
        (S::Suspended, E::Withdraw, S::Withdrawn),
        (S::Suspended, E::Surrender, S::Surrendered),
        (S::Suspended, E::Expire, S::Expired),
        (S::Withdrawn, E::Revoke, S::Revoked),
        (S::Surrendered, E::Revoke, S::Revoked),
        (S::Expired, E::Renew, S::Renewed),
        (S::Expired, E::Revoke, S::Revoked),
        (S::Renewed, E::Revoke, S::Revoked),
        (S::Revoked, E::Replace, S::Replaced),
        (S::Revoked, E::Destroy, S::Destroyed),
        (S::Replaced, E::Destroy, S::Destroyed),
    ];

    fn run(from: CardState, events: &[CardEvent]) -> CardState {
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
        crate::domain::lifecycle::conformance::names_round_trip::<CardState>();
    }

    #[test]
    fn terminal_states_accept_nothing_and_every_other_state_something() {
        for s in CardState::ALL {
            assert_eq!(s.accepted_events().next().is_none(), s.is_terminal(), "{s}");
        }
        let terminal: Vec<_> = CardState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, [S::Rejected, S::Destroyed]);
    }

    #[test]
    fn every_state_is_reachable_from_an_application() {
        let mut seen = vec![S::Application];
        let mut i = 0;
        while i < seen.len() {
            for e in seen[i].accepted_events().collect::<Vec<_>>() {
                if let Some(to) = seen[i].next(e)
                    && !seen.contains(&to)
                {
                    seen.push(to);
                }
            }
            i += 1;
        }
        for s in CardState::ALL {
            assert!(seen.contains(&s), "{s} unreachable");
        }
    }

    #[test]
    fn happy_path_from_application_to_handed_over() {
        let end = run(
            S::Application,
            &[
                E::Approve,
                E::StartProduction,
                E::Spoil,
                E::Personalise,
                E::Insert,
                E::Dispatch,
                E::PresumeDelivered,
            ],
        );
        assert_eq!(end, S::HandedOver);
    }

    #[test]
    fn a_held_request_is_released_or_rejected() {
        assert_eq!(
            run(S::Application, &[E::HoldForReview, E::Release]),
            S::Approved
        );
        assert_eq!(
            run(S::Application, &[E::HoldForReview, E::Reject]),
            S::Rejected
        );
        assert!(S::HeldForReview.apply(E::StartProduction).is_err());
    }

    #[test]
    fn a_stopped_request_can_be_retried_after_a_fix() {
        let stopped = run(S::Application, &[E::Approve, E::StartProduction, E::Stop]);
        assert_eq!(stopped, S::Stopped);
        assert_eq!(
            run(stopped, &[E::Release, E::StartProduction]),
            S::InProduction
        );
        // The driver's correction puts it back in the queue; only a stopped card takes one.
        assert_eq!(
            run(stopped, &[E::Correct, E::StartProduction]),
            S::InProduction
        );
        assert!(S::HeldForReview.apply(E::Correct).is_err());
        assert!(S::Approved.apply(E::Correct).is_err());
    }

    #[test]
    fn undelivered_card_is_held_then_resent() {
        let end = run(
            S::Dispatched,
            &[E::ReturnUndelivered, E::Store, E::Resend, E::Dispatch],
        );
        assert_eq!(end, S::Dispatched);
        // A return months after the presumed delivery is still taken back.
        assert_eq!(
            run(S::HandedOver, &[E::ReturnUndelivered, E::Store]),
            S::Held
        );
        // A held card nobody claims is revoked, then destroyed.
        assert_eq!(run(S::Held, &[E::Revoke, E::Destroy]), S::Destroyed);
    }

    #[test]
    fn quality_return_ends_destroyed_with_or_without_replacement() {
        assert_eq!(
            run(
                S::HandedOver,
                &[E::ReturnDefective, E::Revoke, E::Replace, E::Destroy]
            ),
            S::Destroyed
        );
        assert_eq!(
            run(
                S::HandedOver,
                &[
                    E::DeclareMalfunctioning,
                    E::ReturnDefective,
                    E::Revoke,
                    E::Destroy
                ]
            ),
            S::Destroyed
        );
        // Defective and not returned: replaced, once revoked.
        assert_eq!(
            run(
                S::HandedOver,
                &[E::DeclareMalfunctioning, E::Revoke, E::Replace]
            ),
            S::Replaced
        );
    }

    #[test]
    fn a_lost_or_stolen_card_is_revoked_before_it_is_replaced() {
        assert_eq!(run(S::HandedOver, &[E::DeclareLost, E::Revoke]), S::Revoked);
        assert_eq!(
            run(S::Dispatched, &[E::DeclareStolen, E::Revoke, E::Replace]),
            S::Replaced
        );
        assert!(S::Lost.apply(E::Replace).is_err());
        assert!(S::Stolen.apply(E::Destroy).is_err());
        // Found again and posted back after its replacement: destroyed.
        assert_eq!(S::Replaced.apply(E::Destroy), Ok(S::Destroyed));
    }

    #[test]
    fn renewal_expiry_and_damage_paths() {
        assert_eq!(
            run(S::HandedOver, &[E::Renew, E::Revoke, E::Destroy]),
            S::Destroyed
        );
        assert_eq!(run(S::Suspended, &[E::Expire, E::Renew]), S::Renewed);
        assert_eq!(
            run(
                S::Personalised,
                &[E::Spoil, E::Personalise, E::Insert, E::Spoil]
            ),
            S::InProduction
        );
        // An application is never stored: nothing but intake's two decisions leave it.
        let from_application: Vec<_> = S::Application.accepted_events().collect();
        assert_eq!(from_application, [E::Approve, E::HoldForReview]);
    }

    #[test]
    fn no_card_is_destroyed_or_replaced_while_its_serial_is_live() {
        for s in CardState::ALL {
            for e in [E::Destroy, E::Replace] {
                if s.accepts(e) {
                    assert!(matches!(s, S::Revoked | S::Replaced), "{s} + {e}");
                }
            }
        }
    }

    #[test]
    fn the_refusal_names_machine_state_and_event() {
        let err = S::Application.apply(E::Dispatch).unwrap_err();
        assert_eq!(err.state, S::Application);
        assert_eq!(err.event, E::Dispatch);
        assert_eq!(
            err.to_string(),
            "illegal card transition: event `dispatch` is not allowed in state `application`"
        );
        let err = S::Destroyed.apply(E::Destroy).unwrap_err();
        assert!(err.to_string().contains("`destroyed`"));
    }
}
