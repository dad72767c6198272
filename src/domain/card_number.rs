//! The card number (field 5b): our scheme, modelled on the tachograph driver card.
//!
//! ```text
//!   F 00012345 0 1 K
//!   │ │        │ │ └─ check character, ISO/IEC 7064 MOD 37,36 over the 11 characters before it
//!   │ │        │ └─── renewal index     (0-9 then A-Z): +1 on renewal or a returned defective card
//!   │ │        └───── replacement index (0-9 then A-Z): +1 on a lost or stolen card
//!   │ └────────────── holder number, 8 digits, allocated once at the holder's first card
//!   └──────────────── issuing state (France)
//! ```
//! Indices only ever grow, so a number is never reused; the store also keeps a unique index on it.
//! The check character catches every single substitution and every adjacent transposition, which
//! is what a person keying a number from a card gets wrong. See `docs/card-number.md`.

use std::fmt;
use thiserror::Error;

/// Digits and capital letters in value order: the ISO 7064 alphanumeric set (values 0..=35).
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CardNumberError {
    #[error(
        "a card number has {LEN} characters (F, 8 digits, 2 indices, 1 check character), got {0}"
    )]
    Length(usize),
    #[error("a card number starts with F, the issuing state")]
    State,
    #[error("characters 2 to 9 of a card number are the 8-digit holder number")]
    HolderNumber,
    #[error("indices and check character are digits or capital letters, got {0:?}")]
    Character(char),
    #[error("wrong check character: expected {expected}, got {got} (mistyped number?)")]
    Check { expected: char, got: char },
    #[error(
        "the {0} index is exhausted (Z): this holder cannot receive another card under this number"
    )]
    IndexExhausted(&'static str),
    #[error("holder number {0} does not fit in 8 digits")]
    HolderOutOfRange(u32),
}

/// Holder identification: allocated once, kept by every later card of the same holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HolderNumber(u32);

impl HolderNumber {
    pub const MAX: u32 = 99_999_999;

    pub fn new(n: u32) -> Result<Self, CardNumberError> {
        if n == 0 || n > Self::MAX {
            return Err(CardNumberError::HolderOutOfRange(n));
        }
        Ok(HolderNumber(n))
    }

    pub fn value(self) -> u32 {
        self.0
    }
}

/// One base-36 index character (0..=35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Index(u8);

impl Index {
    pub const ZERO: Index = Index(0);

    fn next(self, which: &'static str) -> Result<Index, CardNumberError> {
        if usize::from(self.0) + 1 >= ALPHABET.len() {
            Err(CardNumberError::IndexExhausted(which))
        } else {
            Ok(Index(self.0 + 1))
        }
    }

    pub fn value(self) -> u8 {
        self.0
    }

    fn as_char(self) -> char {
        char::from(ALPHABET[usize::from(self.0)])
    }
}

/// A valid card number. It can only be built by parsing (check character verified) or by
/// deriving from another number, so an invalid one cannot exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardNumber {
    holder: HolderNumber,
    replacement: Index,
    renewal: Index,
}

impl CardNumber {
    /// The first card of a holder: both indices at 0.
    pub fn first(holder: HolderNumber) -> Self {
        CardNumber {
            holder,
            replacement: Index::ZERO,
            renewal: Index::ZERO,
        }
    }

    /// The number of the card that replaces a lost or stolen one (same expiry).
    pub fn next_replacement(self) -> Result<Self, CardNumberError> {
        Ok(CardNumber {
            replacement: self.replacement.next("replacement")?,
            ..self
        })
    }

    /// The number of the card that renews this one, or replaces it after it came back defective.
    pub fn next_renewal(self) -> Result<Self, CardNumberError> {
        Ok(CardNumber {
            renewal: self.renewal.next("renewal")?,
            ..self
        })
    }

    pub fn holder(self) -> HolderNumber {
        self.holder
    }

    pub fn replacement_index(self) -> Index {
        self.replacement
    }

    pub fn renewal_index(self) -> Index {
        self.renewal
    }

    /// Parses a number as printed (spaces are ignored, letters may be lower case).
    pub fn parse(s: &str) -> Result<Self, CardNumberError> {
        let cleaned: Vec<char> = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.len() != LEN {
            return Err(CardNumberError::Length(cleaned.len()));
        }
        if cleaned[0] != 'F' {
            return Err(CardNumberError::State);
        }
        let mut holder: u32 = 0;
        for &c in &cleaned[1..9] {
            let d = c.to_digit(10).ok_or(CardNumberError::HolderNumber)?;
            holder = holder * 10 + d;
        }
        let holder = HolderNumber::new(holder).map_err(|_| CardNumberError::HolderNumber)?;
        let replacement = Index(value_of(cleaned[9])?);
        let renewal = Index(value_of(cleaned[10])?);
        value_of(cleaned[11])?;
        let number = CardNumber {
            holder,
            replacement,
            renewal,
        };
        let expected = number.check_char();
        if cleaned[11] != expected {
            return Err(CardNumberError::Check {
                expected,
                got: cleaned[11],
            });
        }
        Ok(number)
    }

    fn body(self) -> String {
        format!(
            "F{:08}{}{}",
            self.holder.0,
            self.replacement.as_char(),
            self.renewal.as_char()
        )
    }

    /// ISO/IEC 7064 MOD 37,36 check character over the first 11 characters.
    pub fn check_char(self) -> char {
        check_character(&self.body())
    }
}

fn value_of(c: char) -> Result<u8, CardNumberError> {
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .and_then(|p| u8::try_from(p).ok())
        .ok_or(CardNumberError::Character(c))
}

/// ISO/IEC 7064 hybrid system MOD 37,36 (M = 36): the check character `c` makes the running
/// product end on 1. Input characters must be in [`ALPHABET`]; others count as 0 (callers
/// validate first).
fn check_character(body: &str) -> char {
    const M: u32 = 36;
    let mut p = M;
    for c in body.chars() {
        let v = value_of(c).map(u32::from).unwrap_or(0);
        let mut s = (p + v) % M;
        if s == 0 {
            s = M;
        }
        p = (2 * s) % (M + 1);
    }
    let c = (M + 1 - p) % M;
    char::from(ALPHABET[c as usize])
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.body(), self.check_char())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(n: u32) -> HolderNumber {
        HolderNumber::new(n).unwrap()
    }

    #[test]
    fn round_trips_through_its_printed_form() {
        let n = CardNumber::first(holder(12345));
        let s = n.to_string();
        assert_eq!(&s[..11], "F0001234500");
        assert_eq!(CardNumber::parse(&s).unwrap(), n);
        assert_eq!(CardNumber::parse(&s.to_lowercase()).unwrap(), n);
    }

    #[test]
    fn check_character_verifies_under_the_iso_7064_rule() {
        // Running the MOD 37,36 recurrence over body + check must end on s == 1.
        for h in [1, 42, 12345, 99_999_999] {
            let s = CardNumber::first(holder(h)).to_string();
            let mut p = 36u32;
            let mut last = 0;
            for c in s.chars() {
                let v = value_of(c).unwrap() as u32;
                let mut x = (p + v) % 36;
                if x == 0 {
                    x = 36;
                }
                last = x;
                p = (2 * x) % 37;
            }
            assert_eq!(last, 1, "{s}");
        }
    }

    #[test]
    fn every_single_substitution_and_adjacent_transposition_is_caught() {
        let good = CardNumber::first(holder(31_415_926))
            .next_renewal()
            .unwrap()
            .to_string();
        let chars: Vec<char> = good.chars().collect();
        for i in 1..LEN {
            for &a in ALPHABET.iter() {
                let a = char::from(a);
                if a == chars[i] || (i < 9 && !a.is_ascii_digit()) {
                    continue;
                }
                let mut bad = chars.clone();
                bad[i] = a;
                let bad: String = bad.into_iter().collect();
                assert!(CardNumber::parse(&bad).is_err(), "{bad} accepted");
            }
        }
        for i in 1..LEN - 1 {
            if chars[i] == chars[i + 1] {
                continue;
            }
            let mut bad = chars.clone();
            bad.swap(i, i + 1);
            let bad: String = bad.into_iter().collect();
            assert!(CardNumber::parse(&bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn indices_move_independently_and_never_repeat() {
        let first = CardNumber::first(holder(7));
        let renewed = first.next_renewal().unwrap();
        let replaced = renewed.next_replacement().unwrap();
        assert_eq!(renewed.renewal_index().value(), 1);
        assert_eq!(replaced.replacement_index().value(), 1);
        assert_eq!(replaced.renewal_index().value(), 1);
        let all = [first, renewed, replaced];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.to_string(), b.to_string());
            }
        }
    }

    #[test]
    fn an_exhausted_index_is_an_error_not_a_wrap() {
        let mut n = CardNumber::first(holder(7));
        for _ in 0..35 {
            n = n.next_replacement().unwrap();
        }
        assert_eq!(n.replacement_index().as_char(), 'Z');
        assert_eq!(
            n.next_replacement(),
            Err(CardNumberError::IndexExhausted("replacement"))
        );
    }

    #[test]
    fn malformed_numbers_say_what_is_wrong() {
        assert_eq!(CardNumber::parse("F123"), Err(CardNumberError::Length(4)));
        assert_eq!(
            CardNumber::parse("X0001234500K"),
            Err(CardNumberError::State)
        );
        assert_eq!(
            CardNumber::parse("F00A1234500K"),
            Err(CardNumberError::HolderNumber)
        );
        assert_eq!(
            CardNumber::parse("F00000000000"),
            Err(CardNumberError::HolderNumber)
        );
        assert_eq!(
            CardNumber::parse("F000123450-0"),
            Err(CardNumberError::Character('-'))
        );
    }
}
