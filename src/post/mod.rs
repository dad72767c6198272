//! The post: item identifiers, and (to come) carrier letters, batches and manifests.

pub mod cell;
pub mod coupon;
pub mod letter;
pub mod manifest;
pub mod s10;
pub mod sheet;
