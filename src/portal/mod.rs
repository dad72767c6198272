//! The driver portal as a client of ours sees it through the API (`src/service/`); this module
//! is the other direction: what we send to the portal.

pub mod webhook;
