//! The chip: data groups built from the card record (docs/chip-profile.md), EF.SOD signed by
//! the document signer, the personalisation script run through any card reader `Transport`,
//! and the checks that let a card leave only when what was written reads back.

pub mod atr;
pub mod data_groups;
pub mod keys;
pub mod pki;
pub mod record;
pub mod script;
pub mod signer;
pub mod sod;
pub mod tlv;
