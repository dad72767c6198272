//! The postal address block of the card's carrier letter, per NF Z10-011 (domain.md §5).
//!
//! The portal sends the address as separate fields; this module turns them into the block of
//! at most 6 lines (7 abroad) of at most 38 characters that La Poste's sorting machines read,
//! or lists every reason it cannot. It is pure: no I/O, no address database. A request whose
//! address cannot be printed compliantly is rejected at intake (portal contract), because a
//! card that comes back as *pli non distribué* costs a reprint and exposes the holder's data.
//!
//! What each rule is and why is documented in `docs/address.md`; the short version:
//! lines 1 to 3 keep accents and punctuation but are set in capitals; from line 4 down the text
//! is capitals without accents or punctuation; the street line is abbreviated only when it
//! exceeds 32 characters, the other lines only when they exceed 38.

mod abbreviations;
mod countries;

use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization;

use super::text;
use super::violation::{Code, Violation};
use abbreviations::{SAINTS, STREET_TYPES, WORDS};

/// Longest line NF Z10-011 allows, spaces included, in characters.
pub const MAX_LINE: usize = 38;

/// A street line longer than this is abbreviated (NF Z10-011 keeps street names whole up to
/// 32 characters, which leaves room for the number).
const ABBREVIATE_STREET_ABOVE: usize = 32;

/// Longest raw field we look at. Far above any real address part, it bounds the work an
/// absurd request can cause (the abbreviation pass is quadratic in the number of words).
const MAX_INPUT: usize = 200;

/// Longest postcode abroad (the longest national formats have 10 characters).
const MAX_FOREIGN_POSTCODE: usize = 10;

/// What the portal sent, after JSON type checks (strings untrimmed, as received).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressInput {
    pub recipient: String,
    /// Line 2: flat, floor, staircase.
    pub delivery_point: Option<String>,
    /// Line 3: building, residence.
    pub building: Option<String>,
    /// Line 4: number and street.
    pub street: Option<String>,
    /// Line 5: lieu-dit, BP, TSA, hamlet.
    pub locality: Option<String>,
    pub postcode: String,
    pub city: String,
    /// `None`: ordinary address. `""` or `"CEDEX"`: CEDEX without office number. `"3"`: CEDEX 3.
    pub cedex: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `"FR"`.
    pub country: String,
}

/// Which NF Z10-011 line a text is; the carrier-letter layout may style roles differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRole {
    Recipient,
    DeliveryPoint,
    Building,
    Street,
    Locality,
    PostcodeCity,
    Country,
}

/// One printed line of the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressLine {
    pub role: LineRole,
    pub text: String,
}

/// An address block that complies with NF Z10-011. It can only be built by [`format`], so
/// holding one proves every line fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalAddress {
    lines: Vec<AddressLine>,
    country: String,
    postcode: String,
    city: String,
}

impl PostalAddress {
    /// The lines, top to bottom, none empty.
    pub fn lines(&self) -> &[AddressLine] {
        &self.lines
    }

    /// ISO 3166-1 alpha-2 code of the destination; `"FR"` for every domestic address,
    /// including the overseas territories sent with their own code (GP, RE, NC...).
    pub fn country_code(&self) -> &str {
        &self.country
    }

    /// Whether La Poste carries it as domestic mail (no country line).
    pub fn is_domestic(&self) -> bool {
        self.country == "FR"
    }

    /// The postcode as printed: the CEDEX code for a CEDEX address, empty abroad where the
    /// country has none.
    pub fn postcode(&self) -> &str {
        &self.postcode
    }

    /// The town as printed on the postcode line (capitals, no accents), without the CEDEX
    /// mention.
    pub fn city(&self) -> &str {
        &self.city
    }

    /// The block as printed: lines joined with `'\n'`, no trailing newline.
    pub fn to_block(&self) -> String {
        let texts: Vec<&str> = self.lines.iter().map(|l| l.text.as_str()).collect();
        texts.join("\n")
    }
}

/// Formats the portal's address into an NF Z10-011 block, or returns every violation found
/// (paths relative to the address object, in field order).
pub fn format(input: &AddressInput) -> Result<PostalAddress, Vec<Violation>> {
    let mut errors = Errors::default();

    // The country decides the postcode, CEDEX and last-line rules, so it is read first.
    let destination = destination(&input.country, &mut errors);

    let recipient = match clean(Field::Recipient, Some(&input.recipient), &mut errors) {
        Cleaned::Text(s) => {
            let line = upper(&s);
            check_width(Field::Recipient, &line, "", &mut errors)
        }
        Cleaned::Absent => {
            errors.push(
                Field::Recipient,
                Code::Empty,
                "recipient is empty; line 1 of the address must name the addressee".to_string(),
            );
            None
        }
        Cleaned::Invalid => None,
    };

    let delivery_point = upper_optional(
        Field::DeliveryPoint,
        input.delivery_point.as_deref(),
        &mut errors,
    );
    let building = upper_optional(Field::Building, input.building.as_deref(), &mut errors);

    let street_raw = clean(Field::Street, input.street.as_deref(), &mut errors);
    let locality_raw = clean(Field::Locality, input.locality.as_deref(), &mut errors);
    if matches!(street_raw, Cleaned::Absent) && matches!(locality_raw, Cleaned::Absent) {
        errors.push(
            Field::Street,
            Code::MissingField,
            "street and locality are both missing; an address needs a street line (line 4) \
             or a lieu-dit, BP or TSA line (line 5)"
                .to_string(),
        );
    }
    let street = match street_raw {
        Cleaned::Text(s) => {
            let mut line = house_number_suffix(&plain(&s));
            if line.len() > ABBREVIATE_STREET_ABOVE {
                line =
                    abbreviations::shorten(&line, ABBREVIATE_STREET_ABOVE, &[STREET_TYPES, WORDS]);
            }
            check_width(Field::Street, &line, " after abbreviation", &mut errors)
        }
        _ => None,
    };
    let locality = match locality_raw {
        Cleaned::Text(s) => {
            let line = fit_by_abbreviation(&plain(&s));
            check_width(Field::Locality, &line, " after abbreviation", &mut errors)
        }
        _ => None,
    };

    let postcode = destination
        .as_ref()
        .and_then(|d| postcode(d, &input.postcode, &mut errors));
    let city = city(destination.as_ref(), &input.city, &mut errors);
    let cedex = cedex(
        destination.as_ref(),
        input.cedex.as_deref(),
        &input.country,
        &mut errors,
    );

    let last = match (&destination, postcode, city, cedex) {
        (Some(d), Some(p), Some(c), Some(x)) => postcode_city_line(d, p, c, x, &mut errors),
        _ => None,
    };

    if !errors.is_empty() {
        return Err(errors.into_sorted());
    }
    // Each part that is None recorded a violation, so all are Some here; the else branch
    // keeps the function total without a panic and is never taken.
    let (Some(recipient), Some((line6, postcode, city)), Some(destination)) =
        (recipient, last, destination)
    else {
        return Err(vec![Violation::new(
            "$",
            Code::InvalidValue,
            "the address could not be formatted",
        )]);
    };

    let mut lines = vec![AddressLine {
        role: LineRole::Recipient,
        text: recipient,
    }];
    let optional = [
        (LineRole::DeliveryPoint, delivery_point),
        (LineRole::Building, building),
        (LineRole::Street, street),
        (LineRole::Locality, locality),
    ];
    for (role, text) in optional {
        if let Some(text) = text {
            lines.push(AddressLine { role, text });
        }
    }
    lines.push(AddressLine {
        role: LineRole::PostcodeCity,
        text: line6,
    });
    let country = match destination {
        Destination::Domestic { .. } => "FR".to_string(),
        Destination::Abroad(country) => {
            lines.push(AddressLine {
                role: LineRole::Country,
                text: country.name.to_string(),
            });
            country.code.to_string()
        }
    };
    Ok(PostalAddress {
        lines,
        country,
        postcode,
        city,
    })
}

/// The address fields, in the order violations are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Recipient,
    DeliveryPoint,
    Building,
    Street,
    Locality,
    Postcode,
    City,
    Cedex,
    Country,
}

impl Field {
    fn path(self) -> &'static str {
        match self {
            Field::Recipient => "recipient",
            Field::DeliveryPoint => "delivery_point",
            Field::Building => "building",
            Field::Street => "street",
            Field::Locality => "locality",
            Field::Postcode => "postcode",
            Field::City => "city",
            Field::Cedex => "cedex",
            Field::Country => "country",
        }
    }
}

/// Collects violations from every field so the portal gets them all in one answer.
#[derive(Default)]
struct Errors(Vec<(Field, Violation)>);

impl Errors {
    fn push(&mut self, field: Field, code: Code, message: String) {
        self.0
            .push((field, Violation::new(field.path(), code, message)));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_sorted(mut self) -> Vec<Violation> {
        self.0.sort_by_key(|(field, _)| *field);
        self.0.into_iter().map(|(_, v)| v).collect()
    }
}

/// Where the card goes, which decides the postcode, CEDEX and last-line rules.
enum Destination {
    /// La Poste domestic mail; `territory` when the portal sent an overseas ISO code.
    Domestic {
        territory: Option<&'static countries::Territory>,
    },
    Abroad(&'static countries::Country),
}

fn destination(raw: &str, errors: &mut Errors) -> Option<Destination> {
    if raw == "FR" {
        return Some(Destination::Domestic { territory: None });
    }
    if let Some(territory) = countries::overseas(raw) {
        return Some(Destination::Domestic {
            territory: Some(territory),
        });
    }
    if let Some(country) = countries::abroad(raw) {
        return Some(Destination::Abroad(country));
    }
    if raw.trim().is_empty() {
        errors.push(
            Field::Country,
            Code::Empty,
            "country is empty; send an ISO 3166-1 alpha-2 code such as \"FR\"".to_string(),
        );
        return None;
    }
    let guess = raw.trim().to_ascii_uppercase();
    let hint = if guess == "FR"
        || countries::overseas(&guess).is_some()
        || countries::abroad(&guess).is_some()
    {
        format!("; did you mean {guess:?}?")
    } else {
        String::new()
    };
    errors.push(
        Field::Country,
        Code::UnknownCountry,
        format!(
            "country {} is not an ISO 3166-1 alpha-2 code (two capital letters) of a country \
             we can post to{hint}",
            show(raw)
        ),
    );
    None
}

/// A field after the checks every field shares.
enum Cleaned {
    /// Not sent, blank, or without a single letter or digit: nothing to print.
    Absent,
    /// A violation was recorded; the field is not looked at further.
    Invalid,
    /// NFC, white space collapsed and trimmed, only accepted characters.
    Text(String),
}

fn clean(field: Field, raw: Option<&str>, errors: &mut Errors) -> Cleaned {
    let Some(raw) = raw else {
        return Cleaned::Absent;
    };
    let s = text::nfc(raw);
    let n = s.chars().count();
    if n > MAX_INPUT {
        errors.push(
            field,
            Code::TooLong,
            format!(
                "{} has {n} characters; an address field may have at most {MAX_INPUT} \
                 (and a printed line at most {MAX_LINE})",
                field.path()
            ),
        );
        return Cleaned::Invalid;
    }
    let bad = invalid_characters(&s);
    if !bad.is_empty() {
        errors.push(
            field,
            Code::InvalidCharacters,
            format!(
                "{} {} contains {}, which cannot be printed on a French postal address \
                 (allowed: Latin letters, digits, spaces and common punctuation)",
                field.path(),
                show(&s),
                bad.join(", ")
            ),
        );
        return Cleaned::Invalid;
    }
    let s = text::collapse_spaces(&s);
    // The ordinal indicators º and ª are alphanumeric to Unicode but punctuation here: a
    // field of them alone would print as an empty line from line 4 down.
    let letter_or_digit = |c: char| c.is_alphanumeric() && !PUNCTUATION.contains(&c);
    if s.chars().any(letter_or_digit) {
        Cleaned::Text(s)
    } else {
        Cleaned::Absent
    }
}

/// Punctuation accepted on input. Lines 1 to 3 print it as sent; from line 4 down it becomes
/// a space (see [`plain`]).
const PUNCTUATION: &[char] = &[
    '.', ',', ';', ':', '!', '?', '\'', '"', '-', '/', '(', ')', '[', ']', '&', '#', '°', '’', '‘',
    'ʼ', '´', '`', '«', '»', '“', '”', '„', '‹', '›', '‐', '‑', '‒', '–', '—', '·', 'º', 'ª',
];

/// Whether `c` is a letter of a Latin script that has a plain capital form (`Ł` → L, `ß` →
/// SS). Letters without one (`ŋ`, `ĸ`) are refused on every line: lines 4 to 6 could not
/// print them, and a name on line 1 that the sorting office cannot read is no better.
fn is_latin_letter(c: char) -> bool {
    if c.is_ascii_alphabetic() {
        return true;
    }
    let latin_block = matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}');
    if !latin_block || !c.is_alphabetic() {
        return false;
    }
    let folded = text::fold_to_ascii(&c.to_string().nfkd().collect::<String>());
    !folded.is_empty() && folded.chars().all(|f| f.is_ascii_alphabetic())
}

/// Spaces of any width are white space; tab too (copied from spreadsheets). Line breaks are
/// not: a field holding two lines means the portal merged address lines, and we do not guess
/// where one ends.
fn is_space(c: char) -> bool {
    c == '\t' || (c.is_whitespace() && !c.is_control() && c != '\u{2028}' && c != '\u{2029}')
}

/// The distinct characters of `s` (NFC) that are not accepted, as printable descriptions.
fn invalid_characters(s: &str) -> Vec<String> {
    const SHOWN: usize = 5;
    let mut seen = BTreeSet::new();
    let mut bad = Vec::new();
    let mut after_letter = false;
    for c in s.chars() {
        let combining = unicode_normalization::char::is_combining_mark(c);
        let ok = if combining {
            // Left by NFC when no precomposed letter exists (`q̃`); only on a letter. U+0345
            // (Greek ypogegrammeni) is no accent: in capitals it becomes the letter IOTA.
            after_letter && ('\u{300}'..='\u{36F}').contains(&c) && c != '\u{345}'
        } else {
            is_latin_letter(c) || c.is_ascii_digit() || is_space(c) || PUNCTUATION.contains(&c)
        };
        after_letter = ok && (combining || is_latin_letter(c));
        if !ok && seen.insert(c) && bad.len() < SHOWN {
            bad.push(describe(c));
        }
    }
    if seen.len() > SHOWN {
        bad.push(format!("and {} more", seen.len() - SHOWN));
    }
    bad
}

/// `"Ж" (U+0416)`, or only the code point for characters that print badly (controls, marks).
fn describe(c: char) -> String {
    let code = format!("U+{:04X}", u32::from(c));
    if c.is_control() || c.is_whitespace() || unicode_normalization::char::is_combining_mark(c) {
        code
    } else {
        format!("\"{c}\" ({code})")
    }
}

/// Lines 1 to 3: capitals (La Poste reads capitals best), accents and punctuation kept.
fn upper(s: &str) -> String {
    text::nfc(&s.to_uppercase())
}

/// Lines 2 and 3: optional, in capitals, abbreviated only if over 38.
fn upper_optional(field: Field, raw: Option<&str>, errors: &mut Errors) -> Option<String> {
    match clean(field, raw, errors) {
        Cleaned::Text(s) => {
            let line = fit_by_abbreviation(&upper(&s));
            check_width(field, &line, " after abbreviation", errors)
        }
        _ => None,
    }
}

fn fit_by_abbreviation(line: &str) -> String {
    if text::char_len(line) > MAX_LINE {
        abbreviations::shorten(line, MAX_LINE, &[STREET_TYPES, WORDS])
    } else {
        line.to_string()
    }
}

/// Lines 4 to 7: capitals without accents, no punctuation. Every punctuation mark becomes a
/// space (`L'EGLISE` → `L EGLISE`, `SAINT-ETIENNE` → `SAINT ETIENNE`, as in La Poste's own
/// town names), `&` becomes ET, and the full stops of an initialism vanish (`B.P.` → `BP`),
/// since `B P` would no longer read as *boîte postale*.
fn plain(s: &str) -> String {
    // The ordinal indicators (`2º B`, Spanish and Portuguese floors) are marks like `°`, not
    // the letters o and a that compatibility decomposition would make of them.
    let marks_as_spaces: String = s
        .chars()
        .map(|c| if matches!(c, 'º' | 'ª') { ' ' } else { c })
        .collect();
    let folded = text::fold_to_ascii(&marks_as_spaces.nfkd().collect::<String>()).to_uppercase();
    let chars: Vec<char> = folded.chars().collect();
    let letter = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(char::is_ascii_alphabetic)
    };
    let alnum = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(char::is_ascii_alphanumeric)
    };
    let mut out = String::with_capacity(folded.len());
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if c == '&' {
            out.push_str(" ET ");
        } else {
            // A single letter, a dot, a single letter: the dot of an initialism is dropped.
            let initialism = c == '.'
                && letter(i.checked_sub(1))
                && !alnum(i.checked_sub(2))
                && letter(Some(i + 1))
                && !alnum(Some(i + 2));
            if !initialism {
                out.push(' ');
            }
        }
    }
    text::collapse_spaces(&out)
}

/// `12 BIS` / `12BIS` → `12 B`, and TER → T, QUATER → Q, QUINQUIES → C (La Poste's number
/// extensions), only right after the number that starts the street line: elsewhere the word
/// belongs to the street name.
fn house_number_suffix(line: &str) -> String {
    fn letter(word: &str) -> Option<&'static str> {
        match word {
            "BIS" => Some("B"),
            "TER" => Some("T"),
            "QUATER" => Some("Q"),
            "QUINQUIES" => Some("C"),
            _ => None,
        }
    }
    let mut words: Vec<&str> = line.split(' ').collect();
    let Some(first) = words.first().copied() else {
        return line.to_string();
    };
    let digits = first.len() - first.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return line.to_string();
    }
    let (number, glued) = first.split_at(digits);
    if !glued.is_empty() {
        if let Some(l) = letter(glued) {
            words.splice(0..1, [number, l]);
        }
    } else if let Some(l) = words.get(1).and_then(|w| letter(w)) {
        words[1] = l;
    }
    words.join(" ")
}

/// Returns `line` if it fits, else records LineTooLong on `field`.
fn check_width(field: Field, line: &str, after: &str, errors: &mut Errors) -> Option<String> {
    let n = text::char_len(line);
    if n <= MAX_LINE {
        return Some(line.to_string());
    }
    let never = if field == Field::Recipient {
        " and the recipient line is never abbreviated"
    } else {
        ""
    };
    errors.push(
        field,
        Code::LineTooLong,
        format!(
            "{} line {} has {n} characters{after}; NF Z10-011 allows {MAX_LINE}{never}",
            field.path(),
            show(line)
        ),
    );
    None
}

fn postcode(destination: &Destination, raw: &str, errors: &mut Errors) -> Option<String> {
    let value = raw.trim();
    match destination {
        Destination::Domestic { territory } => {
            if value.len() != 5 || !value.bytes().all(|b| b.is_ascii_digit()) {
                let hint = if value.contains(['O', 'o']) {
                    " (is the letter O meant to be the digit 0?)"
                } else {
                    ""
                };
                errors.push(
                    Field::Postcode,
                    Code::InvalidPostcode,
                    format!(
                        "postcode {} is not 5 digits; a French postcode or CEDEX code has \
                         exactly 5 digits{hint}",
                        show(raw)
                    ),
                );
                return None;
            }
            if let Some(t) = territory
                && !value.starts_with(t.prefix)
            {
                errors.push(
                    Field::Postcode,
                    Code::InvalidPostcode,
                    format!(
                        "postcode {} is not in {} (country {:?}), whose postcodes start with {}",
                        show(raw),
                        t.name,
                        t.code,
                        t.prefix
                    ),
                );
                return None;
            }
            Some(value.to_string())
        }
        Destination::Abroad(country) => {
            let value = text::collapse_spaces(value).to_ascii_uppercase();
            let shape_ok = value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
                && (value.is_empty() || value.chars().any(|c| c.is_ascii_alphanumeric()));
            if !shape_ok || value.chars().count() > MAX_FOREIGN_POSTCODE {
                errors.push(
                    Field::Postcode,
                    Code::InvalidPostcode,
                    format!(
                        "postcode {} is not a postcode for {} ({}): up to \
                         {MAX_FOREIGN_POSTCODE} letters, digits, spaces or hyphens, or empty \
                         where the country has none",
                        show(raw),
                        country.name,
                        country.code
                    ),
                );
                return None;
            }
            Some(value)
        }
    }
}

fn city(destination: Option<&Destination>, raw: &str, errors: &mut Errors) -> Option<String> {
    match clean(Field::City, Some(raw), errors) {
        Cleaned::Text(s) => {
            let city = plain(&s);
            let domestic = matches!(destination, Some(Destination::Domestic { .. }));
            if domestic && city.split(' ').any(|w| w == "CEDEX") {
                errors.push(
                    Field::City,
                    Code::InvalidValue,
                    format!(
                        "city {} contains CEDEX; send the town alone in city and the CEDEX \
                         office in cedex (\"\" or \"CEDEX\" without office number, \"3\" for \
                         CEDEX 3)",
                        show(&s)
                    ),
                );
                return None;
            }
            Some(city)
        }
        Cleaned::Absent => {
            errors.push(
                Field::City,
                Code::Empty,
                "city is empty; the last line of an address must name the town".to_string(),
            );
            None
        }
        Cleaned::Invalid => None,
    }
}

/// What follows the town on a domestic postcode line.
enum Cedex {
    None,
    /// `CEDEX`, with the office number when there is one (`CEDEX 3`).
    Office(Option<String>),
}

fn cedex(
    destination: Option<&Destination>,
    raw: Option<&str>,
    country: &str,
    errors: &mut Errors,
) -> Option<Cedex> {
    let Some(raw) = raw else {
        return Some(Cedex::None);
    };
    if let Some(Destination::Abroad(_)) = destination {
        errors.push(
            Field::Cedex,
            Code::InvalidCedex,
            format!(
                "cedex is {} but CEDEX exists only in France and the country is {}; send null",
                show(raw),
                show(country)
            ),
        );
        return None;
    }
    let value = raw.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("CEDEX") {
        return Some(Cedex::Office(None));
    }
    let digits = (1..=2).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit());
    if digits && value.bytes().any(|b| b != b'0') {
        return Some(Cedex::Office(Some(value.to_string())));
    }
    errors.push(
        Field::Cedex,
        Code::InvalidCedex,
        format!(
            "cedex {} is not understood; send null for an ordinary address, \"\" or \"CEDEX\" \
             for a CEDEX without office number, or the office number (1 or 2 digits, e.g. \"3\")",
            show(raw)
        ),
    );
    None
}

/// Line 6, with the postcode and town as printed. SAINT/SAINTE in the town become ST/STE only
/// if the line would not fit otherwise, as in La Poste's official town names.
fn postcode_city_line(
    destination: &Destination,
    postcode: String,
    city: String,
    cedex: Cedex,
    errors: &mut Errors,
) -> Option<(String, String, String)> {
    let tail = match (destination, cedex) {
        (Destination::Domestic { .. }, Cedex::Office(Some(office))) => format!(" CEDEX {office}"),
        (Destination::Domestic { .. }, Cedex::Office(None)) => " CEDEX".to_string(),
        _ => String::new(),
    };
    let head = if postcode.is_empty() {
        String::new()
    } else {
        format!("{postcode} ")
    };
    let room = MAX_LINE.saturating_sub(head.len() + tail.len());
    let city = if city.len() > room {
        abbreviations::shorten(&city, room, &[SAINTS])
    } else {
        city
    };
    let line = format!("{head}{city}{tail}");
    if line.len() > MAX_LINE {
        errors.push(
            Field::City,
            Code::LineTooLong,
            format!(
                "postcode and city line {} has {} characters even with SAINT written ST; \
                 NF Z10-011 allows {MAX_LINE}",
                show(&line),
                line.len()
            ),
        );
        return None;
    }
    Some((line, postcode, city))
}

/// A value quoted for a message, cut at 60 characters so one absurd field cannot flood the
/// answer.
fn show(s: &str) -> String {
    const MAX: usize = 60;
    let mut cut: String = s.chars().take(MAX).collect();
    if s.chars().count() > MAX {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests;
