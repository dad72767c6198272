//! The post: item identifiers, carrier letters and return coupons, batch manifests and cover
//! sheets (and, to come, batches themselves).

pub mod cell;
pub mod coupon;
pub mod cover;
pub mod letter;
pub mod manifest;
pub mod s10;
pub mod sheet;
