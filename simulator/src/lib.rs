//! Hardware simulator of cqcfab.
//!
//! - [`card`]: a virtual CQC card body implementing docs/chip-profile.md, with fault
//!   injection.
//! - [`inprocess`]: a reader holding one virtual card, behind the same `Transport` trait as the
//!   PC/SC backend, for unit tests and the demo when no pcscd runs.
//! - [`vpcd`]: the card behind the real pcscd, through vsmartcard's vpcd driver.
//! - [`blanks`] and [`rack`]: a lot of blank bodies, and the threads that keep every vpcd
//!   reader filled with one (`cqcfab simulator`).
#![forbid(unsafe_code)]

pub mod blanks;
pub mod card;
pub mod inprocess;
pub mod rack;
pub mod vpcd;
