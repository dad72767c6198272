//! Life cycles of a card and of a mail piece: typed states, typed events, one pure transition
//! function per machine.
//!
//! Every status the portal tracks, every count on the console and every audit-log line is a
//! state change of one of these two machines, so the rules live here once, without I/O: the
//! store persists [`CardState::as_str`] / [`PieceState::as_str`], and records each accepted
//! transition with actor and reason. An event a state does not accept is a typed
//! [`IllegalTransition`] (a double scan or a stale job must be refused, not silently applied).
//! Tables and diagrams: `docs/lifecycle.md`.

pub mod card;
pub mod piece;
pub mod succession;

use std::fmt;

use thiserror::Error;

pub use card::{CardEvent, CardState};
pub use piece::{PieceEvent, PieceState};
pub use succession::{Step, Supersession};

/// What both machines share, so one error type, one store codec and one audit-log writer serve
/// them both.
pub trait Machine: Copy + Eq + fmt::Debug + fmt::Display + 'static {
    /// The events this machine reacts to.
    type Event: Copy + Eq + fmt::Debug + fmt::Display + 'static;
    /// Name of the machine in messages and in the audit log (`card`, `piece`).
    const NAME: &'static str;
    /// Every state and every event, for exhaustive checks and console counts.
    const STATES: &'static [Self];
    const EVENTS: &'static [Self::Event];
    /// The state after `event`, or `None` when this state does not accept it.
    fn next(self, event: Self::Event) -> Option<Self>;
    /// Stored names, and back.
    fn state_name(self) -> &'static str;
    fn event_name(event: Self::Event) -> &'static str;
    fn parse_state(name: &str) -> Option<Self>;
    fn parse_event(name: &str) -> Option<Self::Event>;
}

/// An event the current state does not accept. It names the machine, the state and the event,
/// so an operator can search the log for exactly that refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("illegal {machine} transition: event `{event}` is not allowed in state `{state}`", machine = M::NAME)]
pub struct IllegalTransition<M: Machine> {
    pub state: M,
    pub event: M::Event,
}

/// The single transition function of any machine: the next state, or the typed refusal.
pub fn apply<M: Machine>(state: M, event: M::Event) -> Result<M, IllegalTransition<M>> {
    state.next(event).ok_or(IllegalTransition { state, event })
}

/// Checks both machines are held to: written once, run by each machine's tests.
#[cfg(test)]
pub(crate) mod conformance {
    use super::{IllegalTransition, Machine, apply};

    /// Every (state, event) pair is either a row of `allowed`, with that target, or refused
    /// with the typed error naming both; and `allowed` has no duplicate rows.
    pub fn matches_table<M: Machine>(allowed: &[(M, M::Event, M)]) {
        let mut hits = 0;
        for &s in M::STATES {
            for &e in M::EVENTS {
                let expected = allowed
                    .iter()
                    .find(|(from, ev, _)| *from == s && *ev == e)
                    .map(|&(_, _, to)| to);
                match (apply(s, e), expected) {
                    (Ok(to), Some(want)) => {
                        assert_eq!(to, want, "{s} + {e}");
                        hits += 1;
                    }
                    (Err(err), None) => assert_eq!(err, IllegalTransition { state: s, event: e }),
                    (got, want) => panic!("{s} + {e}: got {got:?}, table says {want:?}"),
                }
            }
        }
        assert_eq!(hits, allowed.len(), "duplicate rows in the table");
    }

    /// Stored names are unique and parse back to the same value; junk parses to nothing.
    pub fn names_round_trip<M: Machine>() {
        for &s in M::STATES {
            assert_eq!(M::parse_state(s.state_name()), Some(s));
            assert_eq!(
                M::STATES
                    .iter()
                    .filter(|o| o.state_name() == s.state_name())
                    .count(),
                1
            );
        }
        for &e in M::EVENTS {
            assert_eq!(M::parse_event(M::event_name(e)), Some(e));
            assert_eq!(
                M::EVENTS
                    .iter()
                    .filter(|&&o| M::event_name(o) == M::event_name(e))
                    .count(),
                1
            );
        }
        assert_eq!(M::parse_state(""), None);
        assert_eq!(M::parse_event("Dispatched"), None);
    }
}
