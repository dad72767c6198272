//! The chip: data groups built from the card record (docs/chip-profile.md), the
//! personalisation script run through any card reader `Transport`, and the checks that let a
//! card leave only when what was written reads back.

pub mod atr;
pub mod data_groups;
pub mod script;
pub mod tlv;
