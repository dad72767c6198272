//! Hardware simulator of cqcfab.
//!
//! This crate will hold the virtual CQC chip card (reachable in-process and through pcscd via
//! vpcd) and the virtual serial scanner, with fault injection (issue "Chip"). It is empty until
//! that capability lands.
#![forbid(unsafe_code)]
