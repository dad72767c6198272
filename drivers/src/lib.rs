//! Hardware boundary crates of cqcfab.
//!
//! This crate will hold the APDU transport trait with its PC/SC backend and the serial barcode
//! scanner driver (issues "Chip" and "Returns"). It is empty until those capabilities land, so the
//! workspace layout matches the design card from the first commit.
#![forbid(unsafe_code)]
