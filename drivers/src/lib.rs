//! Hardware boundary crates of cqcfab.
//!
//! - [`apdu`]: ISO/IEC 7816-4 command and response APDUs, short and extended length.
//! - [`transport`]: the one trait every card reader backend implements (`transmit`), and the
//!   error kinds a station must tell apart: a card pulled out, a reader gone, the PC/SC service
//!   down.
//! - [`pcsc_reader`]: the PC/SC backend (`pcsc`, through pcscd).
//! - [`scanner`]: serial barcode scanners: line settings, framing (terminator, prefix, suffix,
//!   AIM symbology identifier), noise reported rather than guessed at, reconnection.
#![forbid(unsafe_code)]

pub mod apdu;
pub mod pcsc_reader;
pub mod scanner;
pub mod transport;
