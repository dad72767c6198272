//! The post: item identifiers, carrier letters and return coupons, batch manifests and cover
//! sheets. Batches themselves (grouping, sealing, hand-over) live in the store (`store::batches`).

pub mod cell;
pub mod coupon;
pub mod cover;
pub mod letter;
pub mod manifest;
pub mod pnd;
pub mod product;
pub mod reason_sheet;
pub mod revocation_list;
pub mod s10;
pub mod sheet;
