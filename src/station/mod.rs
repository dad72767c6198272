//! Stations: the programs at the production line's benches. The encoding station
//! personalises chips on its readers ([`encode`]); [`readers`] says where its blanks come from
//! (PC/SC readers, or simulated ones in this process); [`insert`] puts each card into the
//! envelope of its own carrier letter; [`mailroom`] answers the scans of returned mail, sent
//! by the mailroom program through [`client`].

pub mod client;
pub mod encode;
pub mod insert;
pub mod mailroom;
pub mod readers;
