//! Stations: the programs at the production line's benches. The encoding station
//! personalises chips on its readers ([`encode`]); [`readers`] says where its blanks come from
//! (PC/SC readers, or simulated ones in this process).

pub mod encode;
pub mod readers;
