//! cqcfab: the production backend that personalises, posts and takes back the French driver
//! qualification card (CQC).
//!
//! Layout: `domain` (pure rules), `intake` (portal requests in), `store` (SQLite/PostgreSQL,
//! job queue, audit trail, outbox), `certificate` (the certificate of qualification), `service` (HTTP), `cli` (the binary's commands), `bench`
//! (measurements), `synthetic` (generated faces, signatures and requests for tests and demos).
#![forbid(unsafe_code)]

pub mod bench;
pub mod certificate;
pub mod chip;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod domain;
pub mod intake;
pub mod metrics;
pub mod portal;
pub mod post;
pub mod quality;
pub mod render;
pub mod report;
pub mod service;
pub mod station;
pub mod store;
pub mod synthetic;
