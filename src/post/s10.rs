//! UPU S10 item identifiers: the 13-character id of a tracked postal item, e.g.
//! `LA471108151FR` (domain.md §5): two service-indicator letters, an 8-digit serial, a check
//! digit, and the ISO 3166 code of the posting country.
//!
//! The check digit is computed over the serial with the weights 8 6 4 2 3 5 9 7:
//! c = 11 − (Σ mod 11), with 10 → 0 and 11 → 5. Service indicators starting with J, K, S, T or
//! W are refused (J and K are reserved by the UPU; S, T and W carry no meaning we could source).
//!
//! The first letter of the service indicator names the kind of item ([`ItemClass`], the S10
//! table in docs/post.md): a product may only use an indicator of its own kind
//! (`post::product`), so that an EMS `E…` id never goes on a tracked domestic letter.

use std::fmt;
use std::str::FromStr;

/// The country of origin of every item we post.
pub const COUNTRY: &str = "FR";

const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];

/// The largest 8-digit serial.
pub const MAX_SERIAL: u32 = 99_999_999;

/// A service indicator: two capital letters, not starting with a reserved letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceIndicator([u8; 2]);

impl ServiceIndicator {
    pub fn new(s: &str) -> Result<ServiceIndicator, S10Error> {
        let b = s.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(S10Error::ServiceIndicator(s.to_string()));
        }
        if matches!(b[0], b'J' | b'K' | b'S' | b'T' | b'W') {
            return Err(S10Error::Reserved(s.to_string()));
        }
        Ok(ServiceIndicator([b[0], b[1]]))
    }

    pub fn as_str(&self) -> &str {
        // Two ASCII capitals, checked in `new`.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The kind of item its first letter names in the S10 table, if it names one we know.
    pub fn class(&self) -> Option<ItemClass> {
        ItemClass::of_letter(char::from(self.0[0]))
    }
}

/// The kinds of postal item the first letter of an S10 service indicator names (UPU S10,
/// through the public copies listed in docs/post.md; the standard itself was not read). Only
/// the letters whose meaning is stable across the copies are here; a letter not listed names
/// nothing we can check a product against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemClass {
    /// `C`: parcel post.
    Parcel,
    /// `E`: EMS (Express Mail Service), the international express service.
    Ems,
    /// `H`: e-commerce parcels.
    EcommerceParcel,
    /// `L`: tracked letter post in the current (12th) edition; older editions read it as
    /// "express" letter post (docs/post.md says why this stays configurable).
    TrackedLetter,
    /// `R`: registered letter post (not insured).
    RegisteredLetter,
    /// `U`: other letter post items under customs control.
    CustomsLetter,
    /// `V`: insured letter post.
    InsuredLetter,
}

impl ItemClass {
    pub const ALL: [ItemClass; 7] = [
        ItemClass::Parcel,
        ItemClass::Ems,
        ItemClass::EcommerceParcel,
        ItemClass::TrackedLetter,
        ItemClass::RegisteredLetter,
        ItemClass::CustomsLetter,
        ItemClass::InsuredLetter,
    ];

    /// The first letter of every service indicator of this kind.
    pub fn letter(self) -> char {
        match self {
            ItemClass::Parcel => 'C',
            ItemClass::Ems => 'E',
            ItemClass::EcommerceParcel => 'H',
            ItemClass::TrackedLetter => 'L',
            ItemClass::RegisteredLetter => 'R',
            ItemClass::CustomsLetter => 'U',
            ItemClass::InsuredLetter => 'V',
        }
    }

    pub fn of_letter(c: char) -> Option<ItemClass> {
        Self::ALL.into_iter().find(|k| k.letter() == c)
    }

    /// The name used in configuration files (`[post.products.NAME] class`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemClass::Parcel => "parcel",
            ItemClass::Ems => "ems",
            ItemClass::EcommerceParcel => "ecommerce_parcel",
            ItemClass::TrackedLetter => "tracked_letter",
            ItemClass::RegisteredLetter => "registered_letter",
            ItemClass::CustomsLetter => "customs_letter",
            ItemClass::InsuredLetter => "insured_letter",
        }
    }

    pub fn parse(s: &str) -> Option<ItemClass> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What the S10 table says, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ItemClass::Parcel => "parcel post",
            ItemClass::Ems => "EMS (international express)",
            ItemClass::EcommerceParcel => "e-commerce parcels",
            ItemClass::TrackedLetter => "tracked letter post",
            ItemClass::RegisteredLetter => "registered letter post",
            ItemClass::CustomsLetter => "letter post under customs",
            ItemClass::InsuredLetter => "insured letter post",
        }
    }
}

impl fmt::Display for ItemClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ServiceIndicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid S10 id of an item posted in France.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S10Id {
    service: ServiceIndicator,
    serial: u32,
}

/// Why a string or a number is not an S10 id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S10Error {
    #[error("{0:?} is not 13 characters: 2 letters, 8 digits, a check digit, FR")]
    Shape(String),
    #[error("service indicator {0:?} is not two capital letters")]
    ServiceIndicator(String),
    #[error(
        "service indicator {0:?} starts with a letter refused here (J, K: reserved by the UPU; S, T, W: no known meaning)"
    )]
    Reserved(String),
    #[error("serial {0} has more than 8 digits")]
    Serial(u64),
    #[error("{id}: the check digit is {found}, it should be {expected}")]
    CheckDigit { id: String, found: u8, expected: u8 },
    #[error("{id}: country {country:?} is not {COUNTRY}")]
    Country { id: String, country: String },
}

/// The check digit of an 8-digit serial.
pub fn check_digit(serial: u32) -> u8 {
    let mut n = serial;
    let mut digits = [0u32; 8];
    for d in digits.iter_mut().rev() {
        *d = n % 10;
        n /= 10;
    }
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c as u8,
    }
}

impl S10Id {
    pub fn new(service: ServiceIndicator, serial: u32) -> Result<S10Id, S10Error> {
        if serial > MAX_SERIAL {
            return Err(S10Error::Serial(u64::from(serial)));
        }
        Ok(S10Id { service, serial })
    }

    pub fn service(&self) -> ServiceIndicator {
        self.service
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    pub fn check_digit(&self) -> u8 {
        check_digit(self.serial)
    }
}

impl fmt::Display for S10Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{:08}{}{COUNTRY}",
            self.service,
            self.serial,
            self.check_digit()
        )
    }
}

impl FromStr for S10Id {
    type Err = S10Error;

    /// Parses a scanned or typed id: spaces are ignored (ids are often printed in groups),
    /// letters must be capitals, the check digit must match.
    fn from_str(s: &str) -> Result<S10Id, S10Error> {
        let compact: String = s.chars().filter(|c| *c != ' ').collect();
        let b = compact.as_bytes();
        if b.len() != 13 || !compact.is_ascii() {
            return Err(S10Error::Shape(s.to_string()));
        }
        let service = ServiceIndicator::new(&compact[0..2])?;
        if !b[2..11].iter().all(u8::is_ascii_digit) {
            return Err(S10Error::Shape(s.to_string()));
        }
        let serial: u32 = compact[2..10]
            .parse()
            .map_err(|_| S10Error::Shape(s.to_string()))?;
        let found = b[10] - b'0';
        let expected = check_digit(serial);
        if found != expected {
            return Err(S10Error::CheckDigit {
                id: compact,
                found,
                expected,
            });
        }
        if &compact[11..] != COUNTRY {
            return Err(S10Error::Country {
                country: compact[11..].to_string(),
                id: compact,
            });
        }
        Ok(S10Id { service, serial })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_match_the_published_vectors() {
        for (serial, digit) in [
            (47110815, 1),
            (71758, 1),
            (96633102, 0),
            (76129403, 8),
            (12345678, 5),
        ] {
            assert_eq!(check_digit(serial), digit, "{serial:08}");
        }
    }

    #[test]
    fn the_example_id_round_trips() {
        let id: S10Id = "LA471108151FR".parse().unwrap();
        assert_eq!(id.serial(), 47110815);
        assert_eq!(id.service().as_str(), "LA");
        assert_eq!(id.to_string(), "LA471108151FR");
        let spaced: S10Id = "LA 4711 0815 1 FR".parse().unwrap();
        assert_eq!(spaced, id);
        // A scanned id of another kind (an EMS item) still parses: what a product may issue
        // is decided by `post::product`, not by the parser.
        let ems: S10Id = "EE471108151FR".parse().unwrap();
        assert_eq!(ems.service().class(), Some(ItemClass::Ems));
    }

    #[test]
    fn the_first_letter_names_the_kind_of_item() {
        let class = |s: &str| ServiceIndicator::new(s).unwrap().class();
        assert_eq!(class("LA"), Some(ItemClass::TrackedLetter));
        assert_eq!(class("RK"), Some(ItemClass::RegisteredLetter));
        assert_eq!(class("EE"), Some(ItemClass::Ems));
        assert_eq!(class("CP"), Some(ItemClass::Parcel));
        assert_eq!(class("VA"), Some(ItemClass::InsuredLetter));
        assert_eq!(class("UA"), Some(ItemClass::CustomsLetter));
        assert_eq!(class("HA"), Some(ItemClass::EcommerceParcel));
        // Letters without a meaning we could source name no class.
        assert_eq!(class("AA"), None);
        assert_eq!(class("ZZ"), None);
        for k in ItemClass::ALL {
            assert_eq!(ItemClass::of_letter(k.letter()), Some(k));
            assert_eq!(ItemClass::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn bad_ids_are_refused_saying_why() {
        let cases = [
            ("LA471108152FR", "check digit is 2, it should be 1"),
            ("LA47110815FR", "not 13 characters"),
            ("JA471108151FR", "reserved by the UPU"),
            ("la471108151FR", "not two capital letters"),
            ("LA471108151DE", "is not FR"),
            ("LA4711O8151FR", "not 13 characters"),
        ];
        for (input, why) in cases {
            let e = input.parse::<S10Id>().unwrap_err().to_string();
            assert!(e.contains(why), "{input}: {e}");
        }
        for reserved in ["JA", "KB", "SC", "TD", "WE"] {
            assert!(matches!(
                ServiceIndicator::new(reserved),
                Err(S10Error::Reserved(_))
            ));
        }
        assert!(S10Id::new(ServiceIndicator::new("LA").unwrap(), 100_000_000).is_err());
    }

    #[test]
    fn every_single_digit_error_is_caught() {
        // The weights are prime to 11, so one wrong digit always changes the sum mod 11; only
        // the residues 0 and 6 share a check digit (5). This id's check digit is 1: every
        // single-digit typo is caught.
        let id: S10Id = "LA471108151FR".parse().unwrap();
        let text = id.to_string();
        for pos in 2..10 {
            for d in b'0'..=b'9' {
                let mut b = text.clone().into_bytes();
                if b[pos] == d {
                    continue;
                }
                b[pos] = d;
                let typo = String::from_utf8(b).unwrap();
                assert!(typo.parse::<S10Id>().is_err(), "{typo} passed");
            }
        }
    }
}
