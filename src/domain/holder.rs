//! The holder: fields 1, 2, 3 and 5a of the card.

use time::Date;

use super::text::{char_len, collapse_spaces, nfc};
use super::violation::{Code, Violation};

/// Longest name we read at intake. Whether a name fits the card is decided by the layout
/// (shrink, second line, initials for given names) when the request comes in
/// (`intake::printable`): that is the real limit. This bound only stops absurd input before
/// it costs the fitting any work, and lies far above what people carry: 26 given names
/// (Hubert Blaine Wolfeschlegelsteinhausenbergerdorff's, 172 characters, print as initials).
pub const MAX_NAME_CHARS: usize = 255;
/// Longest place of birth we accept (field 3 shares a line with the date).
pub const MAX_BIRTH_PLACE_CHARS: usize = 60;
/// Youngest holder: a CQC needs a driving licence of group C or D, 18 at the earliest.
pub const MIN_AGE_YEARS: i32 = 18;
/// Oldest plausible holder at intake; anything older is a keying error.
pub const MAX_AGE_YEARS: i32 = 100;

/// A surname or the given names: Unicode letters (any script the EU uses), spaces, hyphens and
/// apostrophes, stored in NFC so that NFD and NFC input print the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// `field` is the path used in violations (`holder.surname`).
    pub fn parse(raw: &str, field: &str) -> Result<Self, Violation> {
        let s = collapse_spaces(&nfc(raw)).replace(['\u{2019}', '\u{02BC}'], "'");
        if s.is_empty() {
            return Err(Violation::new(field, Code::Empty, "the name is empty"));
        }
        if let Some(bad) = s.chars().find(|&c| !is_name_char(c)) {
            return Err(Violation::new(
                field,
                Code::InvalidCharacters,
                format!(
                    "{:?} (U+{:04X}) is not allowed in a name: letters, spaces, hyphens and apostrophes only",
                    bad, bad as u32
                ),
            ));
        }
        if !s.chars().any(char::is_alphabetic) {
            return Err(Violation::new(
                field,
                Code::InvalidCharacters,
                "a name needs at least one letter",
            ));
        }
        let n = char_len(&s);
        if n > MAX_NAME_CHARS {
            return Err(Violation::new(
                field,
                Code::TooLong,
                format!("the name has {n} characters; at most {MAX_NAME_CHARS} are accepted"),
            ));
        }
        Ok(PersonName(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Letters of Latin, Greek and Cyrillic scripts (the EU's three alphabets) and the separators a
/// name may carry; combining marks are allowed because NFC may leave some (rare letters without a
/// precomposed form).
fn is_name_char(c: char) -> bool {
    c.is_alphabetic() && !c.is_ascii_digit()
        || c == ' '
        || c == '-'
        || c == '\''
        || unicode_normalization::char::is_combining_mark(c)
}

/// Place of birth as printed after the date in field 3 ("LYON 3E (69)").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BirthPlace(String);

impl BirthPlace {
    pub fn parse(raw: &str, field: &str) -> Result<Self, Violation> {
        let s = collapse_spaces(&nfc(raw));
        if s.is_empty() {
            return Err(Violation::new(
                field,
                Code::Empty,
                "the place of birth is empty",
            ));
        }
        if let Some(bad) = s
            .chars()
            .find(|&c| !(c.is_alphanumeric() || " -'().,/".contains(c) || c == '\u{2019}'))
        {
            return Err(Violation::new(
                field,
                Code::InvalidCharacters,
                format!("{bad:?} is not allowed in a place of birth"),
            ));
        }
        let n = char_len(&s);
        if n > MAX_BIRTH_PLACE_CHARS {
            return Err(Violation::new(
                field,
                Code::TooLong,
                format!("the place of birth has {n} characters; at most {MAX_BIRTH_PLACE_CHARS}"),
            ));
        }
        Ok(BirthPlace(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Field 5a: a French card-format licence number (`13AA00002`) or an older 12-digit file
/// number (domain.md §2: accept both).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LicenceNumber(String);

impl LicenceNumber {
    pub fn parse(raw: &str, field: &str) -> Result<Self, Violation> {
        let b = raw.as_bytes();
        let card_format = b.len() == 9
            && b[..2].iter().all(u8::is_ascii_digit)
            && b[2..4].iter().all(u8::is_ascii_uppercase)
            && b[4..].iter().all(u8::is_ascii_digit);
        let file_number = b.len() == 12 && b.iter().all(u8::is_ascii_digit);
        if card_format || file_number {
            Ok(LicenceNumber(raw.to_string()))
        } else {
            Err(Violation::new(
                field,
                Code::InvalidLicenceNumber,
                format!(
                    "{raw:?} is not a driving-licence number: expected 2 digits, 2 capital letters, 5 digits (13AA00002) or 12 digits"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a birth date against `today`: not in the future, holder between 18 and 100.
pub fn check_birth_date(birth: Date, today: Date, field: &str) -> Result<Date, Violation> {
    if birth > today {
        return Err(Violation::new(
            field,
            Code::DateInFuture,
            format!("birth date {birth} is in the future"),
        ));
    }
    let age = age_on(birth, today);
    if !(MIN_AGE_YEARS..=MAX_AGE_YEARS).contains(&age) {
        return Err(Violation::new(
            field,
            Code::ImplausibleBirthDate,
            format!(
                "birth date {birth} makes the holder {age} years old; a CQC holder is {MIN_AGE_YEARS} to {MAX_AGE_YEARS}"
            ),
        ));
    }
    Ok(birth)
}

/// Age in whole years on `day`.
pub fn age_on(birth: Date, day: Date) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month() as u8, day.day()) < (birth.month() as u8, birth.day()) {
        age -= 1;
    }
    age
}

/// The holder as validated at intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub surname: PersonName,
    pub given_names: PersonName,
    pub birth_date: Date,
    pub birth_place: BirthPlace,
    pub licence_number: LicenceNumber,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn names_of_every_eu_latin_script_pass_and_are_stored_nfc() {
        for n in [
            "DUPONT-MARTIN",
            "de La Fontaine",
            "d'Alembert",
            "Łukasz Żółkiewski",
            "Ștefan Păun",
            "Zoltán Kővári",
            "Größmann",
            "Ærø",
        ] {
            assert_eq!(PersonName::parse(n, "p").unwrap().as_str(), n);
        }
        let nfd = PersonName::parse("Ele\u{0301}onore", "p").unwrap();
        let nfc = PersonName::parse("El\u{e9}onore", "p").unwrap();
        assert_eq!(nfd, nfc);
        assert_eq!(
            PersonName::parse("O\u{2019}Brien", "p").unwrap().as_str(),
            "O'Brien"
        );
    }

    #[test]
    fn names_with_digits_or_symbols_are_refused_with_the_character() {
        let e = PersonName::parse("Jean2", "holder.given_names").unwrap_err();
        assert_eq!(e.code, Code::InvalidCharacters);
        assert_eq!(e.path, "holder.given_names");
        assert!(e.message.contains("'2'"), "{}", e.message);
        assert_eq!(PersonName::parse("  ", "p").unwrap_err().code, Code::Empty);
        assert_eq!(
            PersonName::parse("--", "p").unwrap_err().code,
            Code::InvalidCharacters
        );
        assert_eq!(
            PersonName::parse(&"A".repeat(MAX_NAME_CHARS + 1), "p")
                .unwrap_err()
                .code,
            Code::TooLong
        );
    }

    #[test]
    fn licence_numbers_of_both_shapes() {
        assert!(LicenceNumber::parse("13AA00002", "l").is_ok());
        assert!(LicenceNumber::parse("123456789012", "l").is_ok());
        for bad in [
            "13aa00002",
            "13AA0002",
            "1AAA00002",
            "12345678901",
            "13AA000021",
        ] {
            assert_eq!(
                LicenceNumber::parse(bad, "l").unwrap_err().code,
                Code::InvalidLicenceNumber,
                "{bad}"
            );
        }
    }

    #[test]
    fn birth_dates() {
        let today = date!(2026 - 11 - 26);
        assert!(check_birth_date(date!(1984 - 04 - 12), today, "b").is_ok());
        assert_eq!(
            check_birth_date(date!(2027 - 01 - 01), today, "b")
                .unwrap_err()
                .code,
            Code::DateInFuture
        );
        assert_eq!(
            check_birth_date(date!(2010 - 01 - 01), today, "b")
                .unwrap_err()
                .code,
            Code::ImplausibleBirthDate
        );
        assert_eq!(age_on(date!(2008 - 11 - 27), today), 17);
        assert_eq!(age_on(date!(2008 - 11 - 26), today), 18);
    }
}
