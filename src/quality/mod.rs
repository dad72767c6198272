//! Quality returns (docs/quality.md): a holder posts a defective card back with its coupon;
//! the desk reads the chip, the analyst records each declared defect, and the attribution
//! rules say who pays for the replacement.

pub mod attribution;
pub mod desk;
pub mod diagnostic;
