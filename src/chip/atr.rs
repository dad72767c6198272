//! Reading a card's answer to reset: is it our card body, and what can it do?

/// What the ATR says about the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Extended Lc/Le supported (card capabilities, third byte, b7).
    pub extended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtrError {
    #[error("ATR {0} is cut short")]
    Truncated(String),
    #[error(
        "ATR {0} is not a CQC card body (no CQC mark in the historical bytes): refused before any write"
    )]
    NotOurs(String),
}

/// The historical bytes of an ATR (ISO 7816-3 §8.2).
pub fn historical_bytes(atr: &[u8]) -> Option<&[u8]> {
    let t0 = *atr.get(1)?;
    let k = usize::from(t0 & 0x0F);
    let mut y = t0 >> 4;
    let mut i = 2;
    loop {
        let mut td = None;
        for bit in 0..4 {
            if y & (1 << bit) != 0 {
                if bit == 3 {
                    td = Some(*atr.get(i)?);
                }
                i += 1;
            }
        }
        match td {
            Some(b) => y = b >> 4,
            None => break,
        }
    }
    atr.get(i..i + k)
}

/// Checks the CQC mark and reads the capabilities.
pub fn check(atr: &[u8]) -> Result<Capabilities, AtrError> {
    let hex = hex_upper(atr);
    let hist = historical_bytes(atr).ok_or_else(|| AtrError::Truncated(hex.clone()))?;
    let Some((&0x80, mut rest)) = hist.split_first() else {
        return Err(AtrError::NotOurs(hex));
    };
    let (mut mark, mut extended) = (false, false);
    while let Some((&head, tail)) = rest.split_first() {
        let (tag, len) = (head >> 4, usize::from(head & 0x0F));
        // Not compact-TLV after all (a PC/SC storage-card ATR, say): not ours.
        let Some(value) = tail.get(..len) else {
            return Err(AtrError::NotOurs(hex));
        };
        match tag {
            0x7 if len == 3 => extended = value[2] & 0x40 != 0,
            0x5 => mark |= value == b"CQC",
            _ => {}
        }
        rest = &tail[len..];
    }
    if mark {
        Ok(Capabilities { extended })
    } else {
        Err(AtrError::NotOurs(hex))
    }
}

pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqcfab_simulator::card::{CardSpec, Fault, VirtualCard};

    #[test]
    fn our_cards_pass_and_others_are_refused() {
        let ext = VirtualCard::new(CardSpec::standard(1), b"k", vec![]);
        assert_eq!(check(&ext.atr()), Ok(Capabilities { extended: true }));
        let short = VirtualCard::new(CardSpec::short_only(1), b"k", vec![]);
        assert_eq!(check(&short.atr()), Ok(Capabilities { extended: false }));
        let other = VirtualCard::new(CardSpec::standard(1), b"k", vec![Fault::WrongAtr]);
        assert!(matches!(check(&other.atr()), Err(AtrError::NotOurs(_))));
        // A common contact card (no historical bytes of ours).
        let foreign = [
            0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0, 0, 3, 6, 3, 0, 1, 0, 0, 0, 0, 0x6A,
        ];
        assert!(matches!(check(&foreign), Err(AtrError::NotOurs(_))));
        assert!(matches!(check(&[0x3B]), Err(AtrError::Truncated(_))));
        assert!(matches!(
            check(&[0x3B, 0x89, 0x80]),
            Err(AtrError::Truncated(_))
        ));
    }
}
