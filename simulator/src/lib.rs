//! Hardware simulator of cqcfab.
//!
//! - [`card`]: a virtual CQC card body implementing docs/chip-profile.md, with fault
//!   injection.
//! - [`inprocess`]: a reader holding one virtual card, behind the same `Transport` trait as the
//!   PC/SC backend, for unit tests and the demo when no pcscd runs.
//!
//! The vpcd link (the card behind the real pcscd) comes with the PC/SC increment.
#![forbid(unsafe_code)]

pub mod card;
pub mod inprocess;
