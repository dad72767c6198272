//! The domain: pure types and rules of the CQC card, with no I/O.
//!
//! Everything that crosses intake is parsed into these types, so an invalid value cannot exist
//! past the edge (zero2prod's "parse, don't validate").

pub mod address;
pub mod card_number;
pub mod exif;
pub mod holder;
pub mod images;
pub mod lifecycle;
pub mod qualification;
pub mod request;
pub mod request_kind;
pub mod review;
pub mod role;
pub mod text;
pub mod validity;
pub mod violation;
