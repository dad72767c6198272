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

use std::fmt;

use thiserror::Error;

pub use card::{CardEvent, CardState};
pub use piece::{PieceEvent, PieceState};

/// What both machines share, so one error type, one store codec and one audit-log writer serve
/// them both.
pub trait Machine: Copy + Eq + fmt::Debug + fmt::Display + 'static {
    /// The events this machine reacts to.
    type Event: Copy + Eq + fmt::Debug + fmt::Display + 'static;
    /// Name of the machine in messages and in the audit log (`card`, `piece`).
    const NAME: &'static str;
    /// The state after `event`, or `None` when this state does not accept it.
    fn next(self, event: Self::Event) -> Option<Self>;
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
