//! Valid portal requests (portal contract v1, `POST /v1/requests`) for tests and benchmarks.
//!
//! Request `i` is a pure function of `i`: the same index always gives the same bytes, so the
//! committed `fixtures/requests/valid.jsonl` can be regenerated and diffed. The first indices are
//! hand-written edge cases (accents and other EU scripts, particles, very long names, CEDEX, BP,
//! lieu-dit, abbreviated streets, overseas and foreign addresses, every kind, reason and
//! training, leap-day expiries); the others are drawn from the pools of [`super::people`].
//! [`COVERAGE`] names what each fixture exercises, and the tests prove every item is covered.
//!
//! `expected_expiry` is computed here independently of the service (domain.md §2), so a
//! fixture that the service holds for review reveals a disagreement worth looking at.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use thiserror::Error;
use time::Date;
use time::macros::date;

use crate::domain::card_number::{CardNumber, CardNumberError, HolderNumber};
use crate::domain::request_kind::{ReplacementReason, RequestKind};
use crate::domain::text::fold_to_ascii;

use super::encode::{self, EncodeError};
use super::face::portrait_with;
use super::people::{
    Address, BIRTH_ABROAD, BUILDINGS, Civility, DELIVERY_POINTS, Person, STREETS, SURNAMES, TOWNS,
    given_names, licence_number, recipient,
};
use super::rng::{Rng, derive};
use super::signature::signature;

/// Number of fixtures in `fixtures/requests/valid.jsonl`.
pub const FIXTURE_COUNT: usize = 200;
/// The day the fixtures are valid on: births, trainings and expiries are chosen around it.
pub const REFERENCE_DAY: Date = date!(2026 - 11 - 26);
/// Earliest and latest `training_end` used: every training is recent and none is in the future.
pub const TRAINING_FIRST: Date = date!(2026 - 01 - 05);
pub const TRAINING_LAST: Date = date!(2026 - 11 - 20);
/// The ID-photo size the portal requires at minimum (35 x 45 mm at 300 dpi).
pub const PHOTO_SIZE: (u32, u32) = (413, 531);
pub const SIGNATURE_SIZE: (u32, u32) = (600, 200);
/// JPEG size window of fixture photos: small, so the committed file stays a few megabytes.
/// Benchmarks that need camera-like sizes re-encode with [`encode::jpeg_within`] at 30-60 KB.
pub const PHOTO_BYTES: (usize, usize) = (8_000, 14_000);
/// Validity of a card in years (domain.md §2).
const VALIDITY_YEARS: i32 = 5;
/// Root seed of the fixture set; changing it changes every fixture.
const SEED: u64 = 0x00C0_CFAB_2026;

/// Why a fixture could not be built. None happens with the shipped tables; the variants exist
/// because encoding and date arithmetic are fallible APIs and a library must not panic.
#[derive(Debug, Error)]
pub enum FixtureError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("date out of range: {0}")]
    Date(#[from] time::error::ComponentRange),
    #[error("card number: {0}")]
    CardNumber(#[from] CardNumberError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Qualification group as the contract spells it. Fixtures keep their own small enums rather
/// than the intake types, so generating data never depends on the parser it is meant to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Goods,
    Passengers,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Goods => "goods",
            Group::Passengers => "passengers",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Training {
    Fimo,
    Long,
    Fco,
    Passerelle,
}

impl Training {
    pub fn as_str(self) -> &'static str {
        match self {
            Training::Fimo => "fimo",
            Training::Long => "long",
            Training::Fco => "fco",
            Training::Passerelle => "passerelle",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualification {
    pub group: Group,
    pub categories: Vec<&'static str>,
    pub training: Training,
    pub training_end: Date,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousCard {
    pub number: String,
    pub expiry: Date,
}

/// Everything a fixture request says, before the pictures are rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub index: usize,
    pub kind: RequestKind,
    pub person: Person,
    pub qualifications: Vec<Qualification>,
    pub previous: Option<PreviousCard>,
    pub theft_declaration_ref: Option<String>,
    pub address: Address,
    /// What the holder "writes" when signing (drives the signature's letter shapes).
    pub signature_name: String,
    pub photo_seed: u64,
}

impl Fixture {
    pub fn request_id(&self) -> String {
        format!("FIX-2026-{:06}", self.index)
    }

    /// Each group's code-95 date, computed here independently of the service from the texts
    /// (docs/validity.md): an initial qualification or a passerelle runs five years from its
    /// end; an FCO completed within the year before the previous date keeps that date
    /// (R. 3314-12), else five years from its end; a passerelle that is the latest training
    /// puts both groups five years after it, an FCO that is the latest covers the group
    /// reached by the passerelle (R. 3314-13); a replacement keeps the previous date. The
    /// fixtures never fall on a date the texts leave open (those are the domain's table).
    pub fn expected_code95(&self) -> Result<Vec<(Group, Date)>, FixtureError> {
        let previous = self.previous.as_ref().map(|p| p.expiry);
        if let (RequestKind::Replacement(_), Some(p)) = (self.kind, previous) {
            return Ok(self.qualifications.iter().map(|q| (q.group, p)).collect());
        }
        let mut dates = Vec::new();
        for q in &self.qualifications {
            let date = match (q.training, previous) {
                (Training::Fco, Some(p)) if q.training_end < p => {
                    if q.training_end >= plus_years(p, -1)? {
                        plus_years(p, VALIDITY_YEARS)?
                    } else {
                        plus_years(q.training_end, VALIDITY_YEARS)?
                    }
                }
                _ => plus_years(q.training_end, VALIDITY_YEARS)?,
            };
            dates.push((q.group, date));
        }
        let latest = self.qualifications.iter().max_by_key(|q| q.training_end);
        if let (Some(latest), 2) = (latest, dates.len()) {
            let joined = match latest.training {
                Training::Passerelle => true,
                Training::Fco => self
                    .qualifications
                    .iter()
                    .any(|q| q.training == Training::Passerelle),
                _ => false,
            };
            if joined && let Some(&(_, date)) = dates.iter().find(|(g, _)| *g == latest.group) {
                for d in &mut dates {
                    d.1 = date;
                }
            }
        }
        Ok(dates)
    }

    /// Field 4b: the previous card's for a replacement, else the groups' date (the fixtures'
    /// groups end on one day; the domain's table covers two dates).
    pub fn expected_expiry(&self) -> Result<Date, FixtureError> {
        Ok(self
            .expected_code95()?
            .into_iter()
            .map(|(_, d)| d)
            .max()
            .unwrap_or(TRAINING_LAST))
    }

    /// The request document with the given picture bytes (base64, standard alphabet, padded).
    pub fn to_json(&self, photo: &[u8], signature: &[u8]) -> Result<Value, FixtureError> {
        let p = &self.person;
        let a = &self.address;
        let qualifications: Vec<Value> = self
            .qualifications
            .iter()
            .map(|q| {
                json!({
                    "group": q.group.as_str(),
                    "categories": q.categories,
                    "training": q.training.as_str(),
                    "training_end": iso(q.training_end),
                })
            })
            .collect();
        let previous = self
            .previous
            .as_ref()
            .map(|c| json!({ "number": c.number, "expiry": iso(c.expiry) }));
        let replacement = match self.kind {
            RequestKind::Replacement(reason) => {
                let mut r = Map::new();
                r.insert("reason".into(), json!(reason.as_str()));
                if let Some(reference) = &self.theft_declaration_ref {
                    r.insert("theft_declaration_ref".into(), json!(reference));
                }
                Value::Object(r)
            }
            _ => Value::Null,
        };
        Ok(json!({
            "request_id": self.request_id(),
            "kind": self.kind.wire_kind(),
            "holder": {
                "surname": p.surname,
                "given_names": p.given_names,
                "birth_date": iso(p.birth_date),
                "birth_place": p.birth_place,
                "licence_number": p.licence_number,
            },
            "qualifications": qualifications,
            "previous_card": previous,
            "replacement": replacement,
            "expected_expiry": iso(self.expected_expiry()?),
            "expected_code95": self
                .expected_code95()?
                .into_iter()
                .map(|(g, d)| (g.as_str().to_string(), json!(iso(d))))
                .collect::<Map<String, Value>>(),
            "photo": STANDARD.encode(photo),
            "signature": STANDARD.encode(signature),
            "delivery_address": {
                "recipient": a.recipient,
                "delivery_point": a.delivery_point,
                "building": a.building,
                "street": a.street,
                "locality": a.locality,
                "postcode": a.postcode,
                "city": a.city,
                "cedex": a.cedex,
                "country": a.country,
            },
        }))
    }

    /// The portrait, as a JPEG within [`PHOTO_BYTES`].
    pub fn photo_jpeg(&self) -> Result<Vec<u8>, FixtureError> {
        let (w, h) = PHOTO_SIZE;
        let img = portrait_with(self.photo_seed, self.person.civility.look(), w, h);
        Ok(encode::jpeg_within(&img, PHOTO_BYTES.0, PHOTO_BYTES.1)?)
    }

    /// The signature, as a grey PNG.
    pub fn signature_png(&self) -> Result<Vec<u8>, FixtureError> {
        let (w, h) = SIGNATURE_SIZE;
        Ok(encode::png_gray(&signature(
            &self.signature_name,
            self.photo_seed,
            w,
            h,
        ))?)
    }
}

/// The data of fixture `index` (no pictures rendered; cheap).
pub fn fixture(index: usize) -> Result<Fixture, FixtureError> {
    let mut rng = Rng::new(derive(SEED, index as u64));
    let mut f = filler(index, &mut rng)?;
    curate(&mut f)?;
    settle(&mut f, &mut rng)?;
    Ok(f)
}

/// The complete request `index`, pictures included.
pub fn valid_request(index: usize) -> Result<Value, FixtureError> {
    let f = fixture(index)?;
    f.to_json(&f.photo_jpeg()?, &f.signature_png()?)
}

/// Requests 0..n.
pub fn valid_requests(n: usize) -> Result<Vec<Value>, FixtureError> {
    (0..n).map(valid_request).collect()
}

/// Requests 0..n as JSON Lines: one compact document per line, keys in contract order, each line
/// ending with a newline. The key order is fixed here rather than left to `serde_json` (whose
/// map order depends on a cargo feature another crate may switch on), so the file is
/// byte-identical wherever it is generated.
pub fn valid_jsonl(n: usize) -> Result<String, FixtureError> {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&compact(&valid_request(i)?)?);
        out.push('\n');
    }
    Ok(out)
}

/// Key order of the contract, used when writing fixtures.
const KEY_ORDER: &[&str] = &[
    "request_id",
    "kind",
    "holder",
    "surname",
    "given_names",
    "birth_date",
    "birth_place",
    "licence_number",
    "qualifications",
    "group",
    "categories",
    "training",
    "training_end",
    "previous_card",
    "number",
    "expiry",
    "replacement",
    "reason",
    "theft_declaration_ref",
    "expected_expiry",
    "expected_code95",
    "goods",
    "passengers",
    "photo",
    "signature",
    "delivery_address",
    "recipient",
    "delivery_point",
    "building",
    "street",
    "locality",
    "postcode",
    "city",
    "cedex",
    "country",
];

/// Compact JSON with object keys in [`KEY_ORDER`] (unknown keys last, alphabetically).
pub fn compact(v: &Value) -> Result<String, FixtureError> {
    let mut out = String::new();
    write_compact(v, &mut out)?;
    Ok(out)
}

fn write_compact(v: &Value, out: &mut String) -> Result<(), FixtureError> {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| {
                (
                    KEY_ORDER
                        .iter()
                        .position(|o| o == k)
                        .unwrap_or(KEY_ORDER.len()),
                    k.as_str(),
                )
            });
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k)?);
                out.push(':');
                if let Some(child) = map.get(*k) {
                    write_compact(child, out)?;
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out)?;
            }
            out.push(']');
        }
        scalar => out.push_str(&serde_json::to_string(scalar)?),
    }
    Ok(())
}

// ---- dates ------------------------------------------------------------------------------------

/// `YYYY-MM-DD`, the contract's date format.
pub fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The same calendar day `years` later; 29 February becomes 28 February in a common year.
pub fn plus_years(d: Date, years: i32) -> Result<Date, FixtureError> {
    let year = d.year() + years;
    Ok(Date::from_calendar_date(year, d.month(), d.day())
        .or_else(|_| Date::from_calendar_date(year, d.month(), 28))?)
}

fn plus_days(d: Date, days: i32) -> Result<Date, FixtureError> {
    Ok(Date::from_julian_day(d.to_julian_day() + days)?)
}

fn random_date(rng: &mut Rng, from: Date, to: Date) -> Result<Date, FixtureError> {
    let jd = rng.between(
        i64::from(from.to_julian_day()),
        i64::from(to.to_julian_day()),
    );
    Ok(Date::from_julian_day(jd as i32)?)
}

// ---- building blocks ----------------------------------------------------------------------------

/// Holder number of fixture `index`: distinct per fixture, zero-padded to 8 digits when printed.
fn holder_number(index: usize) -> u32 {
    10_007 + index as u32 * 7_919
}

/// A card number of our scheme for the holder of fixture `index`, after the given number of
/// renewals and replacements, built with the domain's own type so the check character is right.
fn our_number(index: usize, renewals: u8, replacements: u8) -> Result<String, FixtureError> {
    let mut n = CardNumber::first(HolderNumber::new(holder_number(index))?);
    for _ in 0..renewals {
        n = n.next_renewal()?;
    }
    for _ in 0..replacements {
        n = n.next_replacement()?;
    }
    Ok(n.to_string())
}

fn qual(group: Group, categories: &[&'static str], training: Training, end: Date) -> Qualification {
    Qualification {
        group,
        categories: categories.to_vec(),
        training,
        training_end: end,
    }
}

const GOODS_SETS: &[&[&str]] = &[
    &["C", "CE"],
    &["C"],
    &["C", "CE"],
    &["C1"],
    &["C1", "C1E"],
    &["C1", "C1E", "C", "CE"],
    &["C1", "C"],
];

const PASSENGER_SETS: &[&[&str]] = &[
    &["D"],
    &["D", "DE"],
    &["D1"],
    &["D1", "D1E"],
    &["D1", "D"],
    &["D1", "D1E", "D", "DE"],
];

/// Foreign addresses: (street, postcode, city, ISO country).
const ABROAD: &[(&str, &str, &str, &str)] = &[
    ("Hauptstraße 12", "10115", "Berlin", "DE"),
    ("Rue des Tanneurs 58", "1000", "Bruxelles", "BE"),
    ("ul. Floriańska 15", "31-019", "Kraków", "PL"),
    ("Calle de Alcalá 48, 3º B", "28014", "Madrid", "ES"),
    ("Via del Corso 112", "00186", "Roma", "IT"),
    ("Strada Lipscani 21", "030031", "București", "RO"),
    ("Rue du Rhône 42", "1204", "Genève", "CH"),
    ("14 Station Road", "BS1 4DJ", "Bristol", "GB"),
    ("12 rue de l'Alzette", "4010", "Esch-sur-Alzette", "LU"),
    ("Rua de Santa Catarina 210", "4000-447", "Porto", "PT"),
    ("Kerkstraat 21", "1017 GB", "Amsterdam", "NL"),
];

/// Overseas départements and territories: (street, postcode, city, country code sent).
const OVERSEAS: &[(&str, &str, &str, &str)] = &[
    ("14 RUE DE PARIS", "97400", "SAINT-DENIS", "RE"),
    ("3 RUE SCHOELCHER", "97110", "POINTE-A-PITRE", "FR"),
    ("25 AVENUE DU GENERAL DE GAULLE", "97300", "CAYENNE", "FR"),
    ("8 RUE DU MARCHE", "97600", "MAMOUDZOU", "YT"),
    ("12 RUE VICTOR HUGO", "97200", "FORT-DE-FRANCE", "MQ"),
];

/// "SAINT-ETIENNE" → "Saint-Etienne": how people type a town name.
fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = !c.is_alphabetic();
    }
    out
}

/// A fixture drawn from the pools; [`curate`] then overrides the hand-written indices.
fn filler(index: usize, rng: &mut Rng) -> Result<Fixture, FixtureError> {
    let civility = if rng.chance(0.78) {
        Civility::Monsieur
    } else {
        Civility::Madame
    };
    let given = given_names(rng, civility);
    let raw_surname = *rng.pick(SURNAMES);
    let surname = if rng.chance(0.6) {
        raw_surname.to_uppercase()
    } else {
        raw_surname.to_string()
    };
    let birth_date = random_date(rng, date!(1963 - 01 - 01), date!(2004 - 06 - 30))?;
    let birth_place = if rng.chance(0.1) {
        rng.pick(BIRTH_ABROAD).to_string()
    } else {
        rng.pick(TOWNS).2.to_string()
    };
    let old_licence = rng.chance(0.3);
    let licence = licence_number(rng, birth_date.year(), old_licence);
    let person = Person {
        civility,
        surname,
        given_names: given,
        birth_date,
        birth_place,
        licence_number: licence,
    };

    let kind = match rng.weighted(&[50.0, 30.0, 8.0, 6.0, 6.0]) {
        0 => RequestKind::FirstIssue,
        1 => RequestKind::Renewal,
        2 => RequestKind::Replacement(ReplacementReason::Loss),
        3 => RequestKind::Replacement(ReplacementReason::Theft),
        _ => RequestKind::Replacement(ReplacementReason::Quality),
    };
    let groups: &[Group] = match rng.weighted(&[72.0, 18.0, 10.0]) {
        0 => &[Group::Goods],
        1 => &[Group::Passengers],
        _ => &[Group::Goods, Group::Passengers],
    };
    let first_end = random_date(rng, TRAINING_FIRST, plus_days(TRAINING_LAST, -40)?)?;
    let mut qualifications = Vec::new();
    for (i, &group) in groups.iter().enumerate() {
        let categories = match group {
            Group::Goods => *rng.pick(GOODS_SETS),
            Group::Passengers => *rng.pick(PASSENGER_SETS),
        };
        let initial = if rng.chance(0.8) {
            Training::Fimo
        } else {
            Training::Long
        };
        let (training, end) = match (kind, i) {
            (RequestKind::Renewal, _) => (Training::Fco, first_end),
            // A second group is opened by the bridge training, after the first.
            (_, 1) => (
                Training::Passerelle,
                random_date(rng, plus_days(first_end, 7)?, TRAINING_LAST)?,
            ),
            _ => (initial, first_end),
        };
        qualifications.push(qual(group, categories, training, end));
    }

    let address = filler_address(rng, &person)?;
    let signature_name = match rng.below(3) {
        0 => person.surname.clone(),
        1 => format!(
            "{} {}",
            person.given_names.chars().next().unwrap_or('X'),
            person.surname
        ),
        _ => format!("{} {}", person.given_names, person.surname),
    };
    Ok(Fixture {
        index,
        kind,
        person,
        qualifications,
        previous: None,
        theft_declaration_ref: None,
        address,
        signature_name,
        photo_seed: derive(SEED ^ 0xFACE, index as u64),
    })
}

fn filler_address(rng: &mut Rng, person: &Person) -> Result<Address, FixtureError> {
    let name = recipient(person.civility, &person.given_names, &person.surname);
    let place = rng.weighted(&[92.0, 4.0, 4.0]);
    if place == 1 {
        let (street, postcode, city, country) = *rng.pick(ABROAD);
        return Ok(Address::abroad(name, street, postcode, city, country));
    }
    if place == 2 {
        let (street, postcode, city, country) = *rng.pick(OVERSEAS);
        return Ok(Address {
            country: country.to_string(),
            ..Address::domestic(name, Some(street), postcode, city)
        });
    }
    let (postcode, town, _) = *rng.pick(TOWNS);
    let number = rng.between(1, 180);
    let suffix = [" ", " bis ", " ter "][rng.weighted(&[92.0, 5.0, 3.0])];
    let typed = format!("{number}{suffix}{}", rng.pick(STREETS));
    // How the portal user typed it: already in postal capitals, in capitals with accents, or
    // in ordinary case.
    let style = rng.weighted(&[5.0, 2.5, 2.5]);
    let (street, city) = match style {
        0 => (fold_to_ascii(&typed).to_uppercase(), town.to_string()),
        1 => (typed.to_uppercase(), town.to_string()),
        _ => (typed, title_case(town)),
    };
    let mut a = Address::domestic(name, Some(street.as_str()), postcode, &city);
    if rng.chance(0.25) {
        a.delivery_point = Some(rng.pick(DELIVERY_POINTS).to_string());
    }
    if rng.chance(0.18) {
        a.building = Some(rng.pick(BUILDINGS).to_string());
    }
    Ok(a)
}

/// Fills what the kind implies and the hand-written cases left open: a previous card for
/// renewals and replacements, a police reference for thefts, nothing of either otherwise.
fn settle(f: &mut Fixture, rng: &mut Rng) -> Result<(), FixtureError> {
    match f.kind {
        RequestKind::FirstIssue => f.previous = None,
        RequestKind::Renewal if f.previous.is_none() => {
            // An early FCO on a card we issued in 2022 or later (so it expires in 2027).
            let renewals = rng.below(2) as u8;
            let mut expiry = random_date(rng, date!(2027 - 02 - 01), date!(2027 - 12 - 31))?;
            // Never exactly one year after the FCO: the texts leave that first day of the
            // window open (a request the service holds; the domain's table covers it).
            if f.qualifications
                .iter()
                .any(|q| plus_years(expiry, -1).ok() == Some(q.training_end))
            {
                expiry = plus_days(expiry, 1)?;
            }
            f.previous = Some(PreviousCard {
                number: our_number(f.index, renewals, 0)?,
                expiry,
            });
        }
        RequestKind::Replacement(_) if f.previous.is_none() => {
            // The card being replaced was issued after the training in the request: its
            // expiry is the training end + 5 years, or, for a card renewed on an early FCO,
            // the previous card's expiry + 5 years.
            let end = f
                .qualifications
                .iter()
                .map(|q| q.training_end)
                .max()
                .unwrap_or(TRAINING_LAST);
            let renewed = f.qualifications.iter().all(|q| q.training == Training::Fco);
            let expiry = if renewed {
                let old = random_date(rng, plus_days(end, 1)?, date!(2027 - 11 - 30))?;
                plus_years(old, VALIDITY_YEARS)?
            } else {
                plus_years(end, VALIDITY_YEARS)?
            };
            f.previous = Some(PreviousCard {
                number: our_number(f.index, u8::from(renewed), 0)?,
                expiry,
            });
        }
        _ => {}
    }
    match f.kind {
        RequestKind::Replacement(ReplacementReason::Theft) => {
            if f.theft_declaration_ref.is_none() {
                f.theft_declaration_ref = Some(format!(
                    "PV-2026-{:04}-{:06}",
                    rng.between(1, 9_999),
                    rng.between(1, 999_999)
                ));
            }
        }
        _ => f.theft_declaration_ref = None,
    }
    Ok(())
}

fn set_person(
    f: &mut Fixture,
    civility: Civility,
    surname: &str,
    given_names: &str,
    birth_date: Date,
    birth_place: &str,
) {
    f.person.civility = civility;
    f.person.surname = surname.to_string();
    f.person.given_names = given_names.to_string();
    f.person.birth_date = birth_date;
    f.person.birth_place = birth_place.to_string();
    f.address.recipient = recipient(civility, given_names, surname);
    f.signature_name = format!("{given_names} {surname}");
    // A licence issued after the new birth date, in the format the old one had.
    let mut rng = Rng::new(derive(SEED ^ 0x11CE, f.index as u64));
    let old_format = f.person.licence_number.len() == 12;
    f.person.licence_number = licence_number(&mut rng, birth_date.year(), old_format);
}

fn previous(number: String, expiry: Date) -> Option<PreviousCard> {
    Some(PreviousCard { number, expiry })
}

/// The hand-written cases. Each sets what it exercises; [`settle`] completes the rest. The
/// README's coverage table lists them.
fn curate(f: &mut Fixture) -> Result<(), FixtureError> {
    use Civility::{Madame as Mme, Monsieur as M};
    use Group::{Goods, Passengers};
    use ReplacementReason::{Loss, Quality, Theft};
    use RequestKind::{FirstIssue, Renewal, Replacement};
    use Training::{Fco, Fimo, Long, Passerelle};
    let i = f.index;
    let name = |f: &Fixture| f.address.recipient.clone();
    match i {
        0 => {
            // The contract's own example, photo and signature aside.
            set_person(
                f,
                M,
                "DUPONT-MARTIN",
                "Jean Pierre",
                date!(1984 - 04 - 12),
                "LYON 3E (69)",
            );
            f.person.licence_number = "13AA00002".into();
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 10 - 30))];
            f.address = Address {
                delivery_point: Some("APPARTEMENT 12 ESCALIER B".into()),
                building: Some("RESIDENCE LES TILLEULS".into()),
                ..Address::domestic(name(f), Some("12 BIS RUE DES LILAS"), "69003", "LYON")
            };
        }
        1 => {
            set_person(
                f,
                Mme,
                "Lefèvre",
                "Éloïse",
                date!(1991 - 06 - 23),
                "SAINT-ÉTIENNE (42)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Passengers, &["D"], Fimo, date!(2026 - 04 - 17))];
            f.address = Address {
                delivery_point: Some("Appartement 4, 2e étage".into()),
                ..Address::domestic(
                    name(f),
                    Some("8, rue de l'Église"),
                    "42000",
                    "Saint-Étienne",
                )
            };
        }
        2 => {
            set_person(
                f,
                M,
                "CRÉPIN-BÉNARD",
                "François",
                date!(1978 - 09 - 02),
                "ANNECY (74)",
            );
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 09 - 18))];
            f.previous = previous(our_number(i, 0, 0)?, date!(2027 - 03 - 14));
            f.address = Address {
                delivery_point: Some("SERVICE DU PERSONNEL".into()),
                building: Some("SOCIETE DE TRANSPORTS DU PLATEAU".into()),
                cedex: Some("3".into()),
                ..Address::domestic(name(f), Some("12 RUE DE L'INDUSTRIE"), "69441", "LYON")
            };
        }
        3 => {
            set_person(f, Mme, "Nœl", "Cécile", date!(1986 - 12 - 08), "ROUEN (76)");
            f.kind = Replacement(Loss);
            f.qualifications = vec![qual(Goods, &["C"], Fimo, date!(2026 - 02 - 10))];
            f.address = Address::domestic(name(f), Some("5 RUE DU CŒUR VOLANT"), "76000", "ROUEN");
        }
        4 => {
            set_person(
                f,
                M,
                "Żółkiewski",
                "Łukasz",
                date!(1990 - 03 - 15),
                "CRACOVIE (POLOGNE)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Long, date!(2026 - 05 - 29))];
            f.address = Address::abroad(name(f), "ul. Długa 15 m. 4", "31-147", "Kraków", "PL");
        }
        5 => {
            set_person(
                f,
                M,
                "PĂUN",
                "Ștefan",
                date!(1975 - 11 - 30),
                "BUCAREST (ROUMANIE)",
            );
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 06 - 19))];
            // Expired card of the previous issuer: the new card runs from the training.
            f.previous = previous("CQC0412887301".into(), date!(2026 - 03 - 02));
        }
        6 => {
            set_person(
                f,
                M,
                "Kővári",
                "Zoltán",
                date!(1969 - 07 - 21),
                "DEBRECEN (HONGRIE)",
            );
            f.kind = Replacement(Theft);
            f.qualifications = vec![qual(
                Goods,
                &["C1", "C1E", "C", "CE"],
                Fco,
                date!(2026 - 03 - 16),
            )];
            f.previous = previous(our_number(i, 1, 0)?, date!(2031 - 07 - 08));
            f.theft_declaration_ref = Some("PV-2026-0067-004512".into());
            f.address = Address::domestic(
                name(f),
                Some("3 TER AVENUE DE LA GARE"),
                "67000",
                "STRASBOURG",
            );
        }
        7 => {
            set_person(
                f,
                M,
                "Größmann",
                "Jürgen",
                date!(1982 - 01 - 09),
                "STUTTGART (ALLEMAGNE)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![
                qual(Goods, &["C", "CE"], Fimo, date!(2026 - 02 - 27)),
                qual(Passengers, &["D"], Passerelle, date!(2026 - 06 - 12)),
            ];
            f.address = Address::abroad(name(f), "Königstraße 28", "70173", "Stuttgart", "DE");
        }
        8 => {
            set_person(
                f,
                Mme,
                "WIŚNIEWSKA",
                "Dorota",
                date!(1988 - 05 - 05),
                "VARSOVIE (POLOGNE)",
            );
            f.kind = Renewal;
            f.qualifications = vec![qual(Passengers, &["D1", "D1E"], Fco, date!(2026 - 08 - 24))];
            // BP on the locality line, no street, no CEDEX.
            f.address = Address {
                locality: Some("BP 12".into()),
                ..Address::domestic(name(f), None, "24200", "SARLAT-LA-CANEDA")
            };
        }
        9 => {
            set_person(
                f,
                Mme,
                "Țurcanu",
                "Ana-Maria",
                date!(1993 - 10 - 14),
                "IASI (ROUMANIE)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C"], Fimo, date!(2026 - 07 - 03))];
            f.address = Address::abroad(
                name(f),
                "Strada Lăpușneanu 12, ap. 3",
                "700057",
                "Iași",
                "RO",
            );
        }
        10 => {
            set_person(
                f,
                M,
                "DVOŘÁK",
                "Tomáš",
                date!(1980 - 02 - 11),
                "BRNO (TCHEQUIE)",
            );
            f.kind = Replacement(Quality);
            f.qualifications = vec![qual(Passengers, &["D", "DE"], Fco, date!(2026 - 01 - 26))];
            f.previous = previous(our_number(i, 1, 0)?, date!(2031 - 10 - 02));
            f.address = Address::domestic(
                name(f),
                Some("147 AVENUE DU MARECHAL DE LATTRE DE TASSIGNY"),
                "94000",
                "CRETEIL",
            );
        }
        11 => {
            set_person(
                f,
                M,
                "Ærø",
                "Søren",
                date!(1985 - 08 - 19),
                "ODENSE (DANEMARK)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Passengers, &["D"], Long, date!(2026 - 09 - 04))];
            f.address = Address::abroad(name(f), "Vestergade 12, 2. tv", "5000", "Odense C", "DK");
        }
        12 => {
            set_person(
                f,
                M,
                "PETROVIĆ",
                "Đorđe",
                date!(1977 - 04 - 28),
                "BELGRADE (SERBIE)",
            );
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 05 - 11))];
            // CEDEX without office number, with a BP.
            f.address = Address {
                building: Some("PLATEFORME LOGISTIQUE DU PORT".into()),
                locality: Some("BP 40213".into()),
                cedex: Some(String::new()),
                ..Address::domestic(name(f), Some("ZI DU PORT"), "76601", "LE HAVRE")
            };
        }
        13 => {
            set_person(
                f,
                Mme,
                "DE LA FONTAINE",
                "Marie-Hélène",
                date!(1979 - 03 - 03),
                "PARIS 15E (75)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Passengers, &["D1"], Fimo, date!(2026 - 03 - 20))];
            f.address = Address {
                delivery_point: Some("ETAGE 5 PORTE DROITE".into()),
                ..Address::domestic(name(f), Some("64 RUE DE LA CONVENTION"), "75015", "PARIS")
            };
        }
        14 => {
            set_person(
                f,
                M,
                "d'Alembert",
                "Jean-Baptiste",
                date!(1970 - 11 - 16),
                "AJACCIO (2A)",
            );
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C"], Fco, date!(2026 - 02 - 23))];
            f.previous = previous("CQC9907345512".into(), date!(2025 - 11 - 30));
            f.address = Address::domestic(name(f), Some("9 cours Napoléon"), "20000", "Ajaccio");
        }
        15 => {
            set_person(
                f,
                M,
                "Le Goff",
                "Yann",
                date!(1983 - 06 - 01),
                "QUIMPER (29)",
            );
            f.kind = Replacement(Theft);
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fimo, date!(2026 - 04 - 03))];
            // Lieu-dit without street.
            f.address = Address {
                locality: Some("Lieu-dit Kerhuel".into()),
                ..Address::domestic(name(f), None, "29510", "Briec")
            };
        }
        16 => {
            set_person(
                f,
                M,
                "van der Berg",
                "Pieter",
                date!(1987 - 12 - 24),
                "ROTTERDAM (PAYS-BAS)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C1", "C1E"], Fimo, date!(2026 - 06 - 26))];
            f.address = Address::abroad(name(f), "Rue des Tanneurs 58", "1000", "Bruxelles", "BE");
        }
        17 => {
            // 37-character surname: line 1 can only hold the surname.
            set_person(
                f,
                M,
                "BOISSIERE-LAMARTINIERE DE CHATELVIEUX",
                "Charles",
                date!(1972 - 05 - 17),
                "BOURGES (18)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fimo, date!(2026 - 10 - 09))];
        }
        18 => {
            set_person(
                f,
                Mme,
                "ROY",
                "Marie-Christine Anne-Sophie Geneviève",
                date!(1968 - 09 - 27),
                "NANTES (44)",
            );
            f.kind = Renewal;
            f.qualifications = vec![qual(Passengers, &["D", "DE"], Fco, date!(2026 - 10 - 02))];
        }
        19 => {
            set_person(
                f,
                M,
                "de Sainte-Croix-Lavergne",
                "Jean-Baptiste Marie Joseph Emmanuel",
                date!(1965 - 02 - 14),
                "VERSAILLES (78)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C1"], Long, date!(2026 - 08 - 07))];
        }
        20 => {
            // 36-character surname: "M " + surname is exactly 38 characters.
            set_person(
                f,
                M,
                "SAINT-AUBIN-MONTAGNAC DE LA VERRIERE",
                "Hippolyte",
                date!(1976 - 10 - 10),
                "TOURS (37)",
            );
            f.kind = Replacement(Loss);
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fimo, date!(2026 - 01 - 30))];
        }
        21 => {
            f.address = Address {
                delivery_point: Some("SERVICE DES RESSOURCES HUMAINES".into()),
                locality: Some("TSA 70011".into()),
                cedex: Some(String::new()),
                ..Address::domestic(name(f), None, "69134", "DARDILLY")
            };
        }
        22 => {
            f.address = Address {
                building: Some("TOUR MONTPARNASSE SUD".into()),
                cedex: Some("15".into()),
                ..Address::domestic(name(f), Some("33 AVENUE DU MAINE"), "75755", "PARIS")
            };
        }
        23 => {
            f.address = Address::domestic(
                name(f),
                Some("21 bis, avenue Victor-Hugo"),
                "26000",
                "Valence",
            );
        }
        24 => {
            f.address = Address::domestic(
                name(f),
                Some("18 BOULEVARD DU PRESIDENT FRANKLIN ROOSEVELT"),
                "51100",
                "REIMS",
            );
        }
        25 => {
            f.address = Address {
                building: Some("Résidence « Les Mimosas », bât. C".into()),
                ..Address::domestic(
                    name(f),
                    Some("2 bis avenue du Général Leclerc de Hauteclocque"),
                    "92100",
                    "Boulogne-Billancourt",
                )
            };
        }
        26..=30 => {
            let (street, postcode, city, country) = OVERSEAS[i - 26];
            f.address = Address {
                country: country.to_string(),
                ..Address::domestic(name(f), Some(street), postcode, city)
            };
        }
        31..=39 => {
            let (street, postcode, city, country) = ABROAD[i - 29];
            f.address = Address::abroad(name(f), street, postcode, city, country);
        }
        40 => {
            set_person(
                f,
                M,
                "BENHAMOU",
                "Rayan",
                date!(1988 - 02 - 29),
                "ORAN (ALGÉRIE)",
            );
        }
        41 => {
            // An FCO more than a year before a leap-day expiry: outside the window of
            // R. 3314-12, it runs from its own end (2031-09-14), not from 29 February.
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 09 - 14))];
            f.previous = previous(our_number(i, 0, 0)?, date!(2028 - 02 - 29));
        }
        42 => {
            // A replacement keeps even a leap-day expiry.
            f.kind = Replacement(Loss);
            f.qualifications = vec![qual(Passengers, &["D"], Fco, date!(2026 - 05 - 04))];
            f.previous = previous(our_number(i, 1, 0)?, date!(2028 - 02 - 29));
        }
        43 => {
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C"], Fco, date!(2026 - 04 - 08))];
            f.previous = previous("CQC1904113378".into(), date!(2026 - 01 - 20));
        }
        44 => {
            // Training ends on the day the previous card expires: both rules give the same date.
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 07 - 03))];
            f.previous = previous("CQC2007021145".into(), date!(2026 - 07 - 03));
        }
        45 => {
            // The previous card was itself renewed and then replaced after a loss.
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 10 - 16))];
            f.previous = previous(our_number(i, 1, 1)?, date!(2027 - 04 - 30));
        }
        46 => {
            f.kind = Replacement(Theft);
            f.qualifications = vec![qual(
                Passengers,
                &["D1", "D1E", "D", "DE"],
                Fimo,
                date!(2026 - 06 - 05),
            )];
        }
        47 => {
            f.kind = Replacement(Quality);
            f.qualifications = vec![qual(Goods, &["C1", "C"], Fimo, date!(2026 - 03 - 09))];
        }
        48 => {
            // Second loss: the card being replaced was already a replacement.
            f.kind = Replacement(Loss);
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fimo, date!(2026 - 02 - 02))];
            f.previous = previous(our_number(i, 0, 1)?, date!(2031 - 02 - 02));
        }
        49 => {
            f.kind = FirstIssue;
            f.qualifications = vec![qual(
                Passengers,
                &["D1", "D1E"],
                Long,
                date!(2026 - 07 - 24),
            )];
        }
        50 => {
            f.kind = FirstIssue;
            f.qualifications = vec![
                qual(Goods, &["C", "CE"], Fimo, date!(2026 - 01 - 16)),
                qual(Passengers, &["D", "DE"], Passerelle, date!(2026 - 03 - 27)),
            ];
        }
        51 => {
            // One anticipated FCO for both groups: both keep the previous date.
            f.kind = Renewal;
            f.qualifications = vec![
                qual(Goods, &["C", "CE"], Fco, date!(2026 - 05 - 15)),
                qual(Passengers, &["D"], Fco, date!(2026 - 05 - 15)),
            ];
            f.previous = previous(our_number(i, 0, 0)?, date!(2026 - 06 - 30));
        }
        52 => {
            f.kind = Replacement(Theft);
            f.qualifications = vec![
                qual(Goods, &["C"], Fimo, date!(2026 - 02 - 13)),
                qual(Passengers, &["D1"], Passerelle, date!(2026 - 04 - 24)),
            ];
        }
        53 => {
            set_person(
                f,
                M,
                "FERREIRA DA SILVA",
                "José",
                date!(1966 - 08 - 12),
                "PORTO (PORTUGAL)",
            );
            f.person.licence_number = "870569123456".into();
        }
        54 => {
            // Replacement of a card issued in January 2022 by the previous issuer.
            f.kind = Replacement(Loss);
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 01 - 12))];
            f.previous = previous("CQC2201180457".into(), date!(2027 - 01 - 18));
        }
        55 => {
            // Lines 2 and 3 of exactly 38 characters.
            f.address = Address {
                delivery_point: Some("BATIMENT B ESCALIER 4 ETAGE 2 PORTE 12".into()),
                building: Some("RESIDENCE DES GRANDS CHENES DU LAC SUD".into()),
                ..Address::domestic(name(f), Some("7 ALLEE DES ROSIERS"), "44300", "NANTES")
            };
        }
        56 => {
            set_person(
                f,
                Mme,
                "MOREAU",
                "Inès",
                date!(2004 - 06 - 30),
                "TOURS (37)",
            );
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C"], Fimo, date!(2026 - 09 - 11))];
        }
        57 => {
            set_person(
                f,
                M,
                "GARNIER",
                "Gérard",
                date!(1963 - 01 - 02),
                "DIJON (21)",
            );
            f.kind = Renewal;
            f.qualifications = vec![qual(Passengers, &["D"], Fco, date!(2026 - 06 - 22))];
        }
        58 => {
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fimo, TRAINING_FIRST)];
        }
        59 => {
            f.kind = FirstIssue;
            f.qualifications = vec![qual(Passengers, &["D"], Fimo, TRAINING_LAST)];
        }
        60 => {
            f.kind = FirstIssue;
            f.qualifications = vec![qual(
                Passengers,
                &["D", "DE"],
                Passerelle,
                date!(2026 - 05 - 22),
            )];
        }
        61 => {
            // FCO one day before the previous expiry: still early.
            f.kind = Renewal;
            f.qualifications = vec![qual(Goods, &["C", "CE"], Fco, date!(2026 - 11 - 19))];
            f.previous = previous(our_number(i, 0, 0)?, date!(2026 - 11 - 20));
        }
        62 => {
            f.address = Address {
                locality: Some("BP 5".into()),
                cedex: Some("6".into()),
                ..Address::domestic(name(f), Some("40 BOULEVARD DE PARIS"), "13291", "MARSEILLE")
            };
        }
        63 => {
            set_person(
                f,
                M,
                "N'DIAYE",
                "Mamadou",
                date!(1989 - 04 - 04),
                "DAKAR (SÉNÉGAL)",
            );
        }
        64 => {
            set_person(
                f,
                Mme,
                "Dos Santos",
                "Ana Lúcia",
                date!(1984 - 07 - 07),
                "BRAGA (PORTUGAL)",
            );
        }
        65 => {
            set_person(
                f,
                M,
                "L'HÔTE-D'ESPÉRANCE",
                "Aimé",
                date!(1971 - 12 - 01),
                "METZ (57)",
            );
        }
        66 => {
            set_person(
                f,
                Mme,
                "O'Sullivan",
                "Siobhán",
                date!(1990 - 01 - 31),
                "CORK (IRLANDE)",
            );
            f.address = Address {
                building: Some("Résidence Les Hirondelles".into()),
                ..Address::domestic(name(f), Some("4, allée Saint-Éloi"), "33000", "Bordeaux")
            };
        }
        67 => {
            set_person(
                f,
                M,
                "Šimunović",
                "Krešimir",
                date!(1981 - 10 - 23),
                "ZAGREB (CROATIE)",
            );
        }
        68 => {
            set_person(
                f,
                Mme,
                "Virtanen-Äijälä",
                "Päivi",
                date!(1977 - 03 - 18),
                "TAMPERE (FINLANDE)",
            );
        }
        69 => {
            set_person(
                f,
                M,
                "Ó Briain",
                "Ciarán",
                date!(1986 - 11 - 11),
                "GALWAY (IRLANDE)",
            );
        }
        _ => {}
    }
    Ok(())
}

// ---- coverage -------------------------------------------------------------------------------

/// What the fixture set exercises: (tag, meaning). Every tag has at least one fixture.
pub const COVERAGE: &[(&str, &str)] = &[
    ("kind:first_issue", "first card"),
    ("kind:renewal", "renewal"),
    ("replacement:loss", "replacement after a loss"),
    (
        "replacement:theft",
        "replacement after a theft, with theft_declaration_ref",
    ),
    ("replacement:quality", "replacement of a defective card"),
    ("group:goods", "goods qualification only"),
    ("group:passengers", "passengers qualification only"),
    ("group:both", "goods and passengers together"),
    ("training:fimo", "FIMO"),
    ("training:long", "long initial training"),
    ("training:fco", "FCO"),
    ("training:passerelle", "passerelle"),
    (
        "training:two_dates",
        "two qualifications ending on different days",
    ),
    (
        "training:first_day",
        "training_end on the earliest day used (2026-01-05)",
    ),
    (
        "training:last_day",
        "training_end on the latest day used (2026-11-20)",
    ),
    (
        "renewal:early",
        "FCO within the year before the previous expiry: runs from the previous expiry (R. 3314-12)",
    ),
    (
        "renewal:outside_window",
        "FCO more than a year before the previous expiry: runs from the training",
    ),
    (
        "renewal:late",
        "FCO after the previous expiry: runs from the training",
    ),
    ("renewal:same_day", "FCO on the previous expiry day"),
    (
        "expiry:keeps_feb29",
        "a replacement keeping a 29 February expiry",
    ),
    (
        "previous:ours",
        "previous card number in our scheme (F + 8 digits + indices + check)",
    ),
    (
        "previous:legacy",
        "previous card number of the former issuer (before 2022)",
    ),
    (
        "previous:renewed",
        "previous card already renewed (renewal index > 0)",
    ),
    (
        "previous:replaced",
        "previous card already a replacement (replacement index > 0)",
    ),
    ("holder:born_feb29", "born on 29 February"),
    ("holder:age_22_or_less", "holder aged 22 or less"),
    ("holder:age_63_or_more", "holder aged 63 or more"),
    ("holder:born_abroad", "place of birth abroad"),
    ("licence:9_chars", "licence number 13AA00002 style"),
    ("licence:12_digits", "licence number of 12 digits"),
    ("name:upper_surname", "surname in capitals"),
    ("name:mixed_surname", "surname in mixed case"),
    (
        "name:french_accents",
        "French accents or ligatures (é, ï, ç, œ)",
    ),
    (
        "name:other_eu_script",
        "letters beyond Latin-1 (Ł, Ș, Ő, Ț, ř, Đ...)",
    ),
    ("name:hyphen", "hyphenated name"),
    ("name:apostrophe", "apostrophe in a name"),
    ("name:particle", "surname with a space (de la, van der, Le)"),
    ("name:long_surname", "surname of 36 characters or more"),
    ("name:many_given", "three or more given names"),
    ("recipient:38", "recipient line of exactly 38 characters"),
    ("address:delivery_point", "line 2 present"),
    ("address:building", "line 3 present"),
    ("address:line_38", "line 2 or 3 of exactly 38 characters"),
    ("address:bis_ter", "house number with bis or ter"),
    (
        "address:punctuation",
        "punctuation to strip from the street line",
    ),
    ("address:mixed_case", "street typed in lower case"),
    (
        "address:long_street",
        "street line over 38 characters before abbreviation",
    ),
    ("address:lieu_dit", "locality line without street"),
    ("address:bp", "BP on the locality line"),
    ("address:tsa", "TSA on the locality line"),
    ("address:cedex_no_office", "CEDEX without office number"),
    ("address:cedex_office", "CEDEX with office number"),
    (
        "address:overseas",
        "overseas département or territory (97x postcode)",
    ),
    (
        "address:overseas_code",
        "overseas territory sent with its own ISO code (RE, YT, MQ)",
    ),
    ("address:corsica", "Corsican postcode (20xxx)"),
    ("address:leading_zero", "postcode starting with 0"),
    ("address:abroad", "address abroad"),
];

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn parse_date(s: Option<&str>) -> Option<Date> {
    let s = s?;
    let mut parts = s.split('-').map(|p| p.parse::<i32>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()
}

fn age_on(birth: Date, day: Date) -> i32 {
    let mut age = day.year() - birth.year();
    if (u8::from(day.month()), day.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

/// The [`COVERAGE`] tags request `v` exercises.
pub fn coverage_tags(v: &Value) -> Vec<&'static str> {
    let mut tags = Vec::new();
    let mut tag = |t: &'static str, on: bool| {
        if on {
            tags.push(t);
        }
    };
    let kind = text(v, &["kind"]).unwrap_or("");
    let reason = text(v, &["replacement", "reason"]).unwrap_or("");
    tag("kind:first_issue", kind == "first_issue");
    tag("kind:renewal", kind == "renewal");
    tag("replacement:loss", reason == "loss");
    tag(
        "replacement:theft",
        reason == "theft" && text(v, &["replacement", "theft_declaration_ref"]).is_some(),
    );
    tag("replacement:quality", reason == "quality");

    let quals: Vec<&Value> = v
        .get("qualifications")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let groups: Vec<&str> = quals.iter().filter_map(|q| text(q, &["group"])).collect();
    tag("group:goods", groups == ["goods"]);
    tag("group:passengers", groups == ["passengers"]);
    tag("group:both", groups.len() == 2);
    let trainings: Vec<&str> = quals
        .iter()
        .filter_map(|q| text(q, &["training"]))
        .collect();
    for (t, name) in [
        ("training:fimo", "fimo"),
        ("training:long", "long"),
        ("training:fco", "fco"),
        ("training:passerelle", "passerelle"),
    ] {
        tag(t, trainings.contains(&name));
    }
    let ends: Vec<Date> = quals
        .iter()
        .filter_map(|q| parse_date(text(q, &["training_end"])))
        .collect();
    tag("training:two_dates", ends.len() == 2 && ends[0] != ends[1]);
    tag("training:first_day", ends.contains(&TRAINING_FIRST));
    tag("training:last_day", ends.contains(&TRAINING_LAST));
    let latest = ends.iter().max().copied();
    let prev_expiry = parse_date(text(v, &["previous_card", "expiry"]));
    let expected = parse_date(text(v, &["expected_expiry"]));
    if let (true, Some(t), Some(p)) = (kind == "renewal", latest, prev_expiry) {
        let window = plus_years(p, -1).ok();
        tag("renewal:early", t < p && window.is_some_and(|w| t >= w));
        tag("renewal:outside_window", window.is_some_and(|w| t < w));
        tag("renewal:late", t > p);
        tag("renewal:same_day", t == p);
    }
    let feb29 = |d: Option<Date>| d.is_some_and(|d| u8::from(d.month()) == 2 && d.day() == 29);
    tag(
        "expiry:keeps_feb29",
        kind == "replacement" && feb29(expected),
    );
    if let Some(number) = text(v, &["previous_card", "number"]) {
        match CardNumber::parse(number) {
            Ok(n) => {
                tag("previous:ours", true);
                tag("previous:renewed", n.renewal_index().value() > 0);
                tag("previous:replaced", n.replacement_index().value() > 0);
            }
            Err(_) => tag("previous:legacy", true),
        }
    }

    let birth = parse_date(text(v, &["holder", "birth_date"]));
    tag("holder:born_feb29", feb29(birth));
    let age = birth.map(|b| age_on(b, REFERENCE_DAY));
    tag("holder:age_22_or_less", age.is_some_and(|a| a <= 22));
    tag("holder:age_63_or_more", age.is_some_and(|a| a >= 63));
    let place = text(v, &["holder", "birth_place"]).unwrap_or("");
    tag(
        "holder:born_abroad",
        place.ends_with(')')
            && !place
                .rsplit('(')
                .next()
                .unwrap_or("")
                .starts_with(|c: char| c.is_ascii_digit()),
    );
    let licence = text(v, &["holder", "licence_number"]).unwrap_or("");
    tag("licence:9_chars", licence.len() == 9);
    tag("licence:12_digits", licence.len() == 12);

    let surname = text(v, &["holder", "surname"]).unwrap_or("");
    let given = text(v, &["holder", "given_names"]).unwrap_or("");
    let both = format!("{surname} {given}");
    tag(
        "name:upper_surname",
        surname.chars().any(char::is_alphabetic) && surname == surname.to_uppercase(),
    );
    tag(
        "name:mixed_surname",
        surname.chars().any(char::is_lowercase),
    );
    tag(
        "name:french_accents",
        both.chars()
            .any(|c| "éèêëàâäîïôöùûüçœæÉÈÊËÀÂÎÏÔÖÙÛÜÇŒÆ".contains(c)),
    );
    tag(
        "name:other_eu_script",
        both.chars().any(|c| c as u32 > 0xFF && !"œŒ".contains(c)),
    );
    tag("name:hyphen", both.contains('-'));
    tag("name:apostrophe", both.contains('\''));
    tag("name:particle", surname.contains(' '));
    tag("name:long_surname", surname.chars().count() >= 36);
    tag("name:many_given", given.split([' ', '-']).count() >= 3);

    let a = |field: &str| text(v, &["delivery_address", field]);
    tag(
        "recipient:38",
        a("recipient").is_some_and(|r| r.chars().count() == 38),
    );
    tag("address:delivery_point", a("delivery_point").is_some());
    tag("address:building", a("building").is_some());
    tag(
        "address:line_38",
        [a("delivery_point"), a("building")]
            .iter()
            .any(|l| l.is_some_and(|l| l.chars().count() == 38)),
    );
    let street = a("street").unwrap_or("");
    let upper_street = street.to_uppercase();
    let words: Vec<&str> = upper_street
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .collect();
    tag(
        "address:bis_ter",
        words.get(1).is_some_and(|w| *w == "BIS" || *w == "TER"),
    );
    tag(
        "address:punctuation",
        street.contains([',', '\'', '-', '.']),
    );
    tag("address:mixed_case", street.chars().any(char::is_lowercase));
    tag("address:long_street", street.chars().count() > 38);
    tag(
        "address:lieu_dit",
        a("street").is_none()
            && a("locality").is_some_and(|l| !l.starts_with("BP") && !l.starts_with("TSA")),
    );
    let locality = a("locality").unwrap_or("");
    tag("address:bp", locality.starts_with("BP "));
    tag("address:tsa", locality.starts_with("TSA "));
    tag("address:cedex_no_office", a("cedex") == Some(""));
    tag(
        "address:cedex_office",
        a("cedex").is_some_and(|c| !c.is_empty()),
    );
    let postcode = a("postcode").unwrap_or("");
    let country = a("country").unwrap_or("");
    let domestic = country == "FR" || ["RE", "YT", "MQ", "GP", "GF"].contains(&country);
    tag("address:overseas", domestic && postcode.starts_with("97"));
    tag("address:overseas_code", domestic && country != "FR");
    tag(
        "address:corsica",
        country == "FR" && postcode.starts_with("20"),
    );
    tag(
        "address:leading_zero",
        domestic && postcode.starts_with('0'),
    );
    tag("address:abroad", !domestic);
    tags
}

/// For each [`COVERAGE`] tag, the indices of the requests that exercise it.
pub fn coverage(requests: &[Value]) -> BTreeMap<&'static str, Vec<usize>> {
    let mut map: BTreeMap<&'static str, Vec<usize>> =
        COVERAGE.iter().map(|(t, _)| (*t, Vec::new())).collect();
    for (i, r) in requests.iter().enumerate() {
        for t in coverage_tags(r) {
            map.entry(t).or_default().push(i);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed fixtures are exactly what the generator makes: a change of the rules
    /// (expected dates) shows as a diff of `fixtures/requests/valid.jsonl`. With
    /// `CQCFAB_BLESS=1` the file is written again, to be reviewed and committed.
    #[test]
    fn the_committed_fixtures_are_the_generator_output() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/requests/valid.jsonl");
        let made = valid_jsonl(FIXTURE_COUNT).unwrap();
        if std::env::var_os("CQCFAB_BLESS").is_some() {
            std::fs::write(path, &made).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        let differ: Vec<usize> = committed
            .lines()
            .zip(made.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i)
            .collect();
        assert!(
            differ.is_empty() && committed.lines().count() == made.lines().count(),
            "fixtures {differ:?} differ from the generator (CQCFAB_BLESS=1 writes them)"
        );
    }

    /// All fixtures as JSON with small stand-in pictures: the structure tests need no
    /// rendering, which keeps them fast in debug builds.
    fn skeletons() -> Vec<Value> {
        (0..FIXTURE_COUNT)
            .map(|i| fixture(i).unwrap().to_json(b"photo", b"signature").unwrap())
            .collect()
    }

    fn is_date(v: &Value) -> bool {
        parse_date(v.as_str()).is_some()
    }

    fn opt_str(v: &Value) -> bool {
        v.is_null() || v.is_string()
    }

    #[test]
    fn every_request_has_every_contract_field_with_its_type() {
        for (i, r) in skeletons().iter().enumerate() {
            let obj = r.as_object().unwrap();
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            for k in [
                "request_id",
                "kind",
                "holder",
                "qualifications",
                "previous_card",
                "replacement",
                "expected_expiry",
                "photo",
                "signature",
                "delivery_address",
            ] {
                assert!(keys.contains(&k), "{i}: {k} missing");
            }
            assert!(
                keys.contains(&"expected_code95"),
                "{i}: expected_code95 missing"
            );
            assert_eq!(keys.len(), 11, "{i}: unexpected keys {keys:?}");
            let id = r["request_id"].as_str().unwrap();
            assert!(!id.is_empty() && id.len() <= 64);
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{id}"
            );
            let kind = r["kind"].as_str().unwrap();
            assert!(["first_issue", "renewal", "replacement"].contains(&kind));

            let h = &r["holder"];
            assert_eq!(h.as_object().unwrap().len(), 5);
            for name in [&h["surname"], &h["given_names"]] {
                let s = name.as_str().unwrap();
                assert!(s.chars().any(char::is_alphabetic), "{i}: {s}");
                assert!(
                    s.chars().all(|c| c.is_alphabetic() || " -'".contains(c)),
                    "{i}: {s}"
                );
            }
            let birth = parse_date(h["birth_date"].as_str()).unwrap();
            let age = age_on(birth, REFERENCE_DAY);
            assert!((21..=65).contains(&age), "{i}: age {age}");
            let place = h["birth_place"].as_str().unwrap();
            assert!(
                place
                    .chars()
                    .all(|c| c.is_alphanumeric() || " -'()".contains(c)),
                "{place}"
            );
            let lic = h["licence_number"].as_str().unwrap().as_bytes();
            let nine = lic.len() == 9
                && lic[..2].iter().all(u8::is_ascii_digit)
                && lic[2..4].iter().all(u8::is_ascii_uppercase)
                && lic[4..].iter().all(u8::is_ascii_digit);
            let twelve = lic.len() == 12 && lic.iter().all(u8::is_ascii_digit);
            assert!(nine || twelve, "{i}: licence");

            let quals = r["qualifications"].as_array().unwrap();
            assert!((1..=2).contains(&quals.len()));
            let mut groups = Vec::new();
            for q in quals {
                assert_eq!(q.as_object().unwrap().len(), 4);
                let group = q["group"].as_str().unwrap();
                assert!(!groups.contains(&group), "{i}: duplicate group");
                groups.push(group);
                let allowed: &[&str] = match group {
                    "goods" => &["C1", "C1E", "C", "CE"],
                    "passengers" => &["D1", "D1E", "D", "DE"],
                    other => panic!("{i}: group {other}"),
                };
                let cats: Vec<&str> = q["categories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                assert!(!cats.is_empty());
                for (j, c) in cats.iter().enumerate() {
                    assert!(allowed.contains(c), "{i}: {c}");
                    assert!(!cats[..j].contains(c), "{i}: duplicate {c}");
                }
                assert!(
                    ["fimo", "long", "fco", "passerelle"]
                        .contains(&q["training"].as_str().unwrap())
                );
                let end = parse_date(q["training_end"].as_str()).unwrap();
                assert!(
                    (TRAINING_FIRST..=TRAINING_LAST).contains(&end),
                    "{i}: {end}"
                );
            }

            match kind {
                "first_issue" => {
                    assert!(
                        r["previous_card"].is_null() && r["replacement"].is_null(),
                        "{i}"
                    );
                }
                _ => {
                    let p = r["previous_card"].as_object().unwrap();
                    assert_eq!(p.len(), 2);
                    assert!(p["number"].is_string() && is_date(&p["expiry"]), "{i}");
                }
            }
            if kind == "replacement" {
                let rep = r["replacement"].as_object().unwrap();
                let reason = rep["reason"].as_str().unwrap();
                assert!(["loss", "theft", "quality"].contains(&reason));
                assert_eq!(
                    rep.contains_key("theft_declaration_ref"),
                    reason == "theft",
                    "{i}"
                );
                let expiry = parse_date(r["previous_card"]["expiry"].as_str()).unwrap();
                assert!(
                    expiry > date!(2026 - 12 - 31),
                    "{i}: replacement of a card ending {expiry}"
                );
            } else {
                assert!(r["replacement"].is_null(), "{i}");
            }
            assert!(is_date(&r["expected_expiry"]));
            assert!(r["photo"].is_string() && r["signature"].is_string());

            let a = r["delivery_address"].as_object().unwrap();
            assert_eq!(a.len(), 9, "{i}");
            for k in ["recipient", "postcode", "city", "country"] {
                assert!(a[k].as_str().is_some_and(|s| !s.is_empty()), "{i}: {k}");
            }
            for k in ["delivery_point", "building", "street", "locality", "cedex"] {
                assert!(opt_str(&a[k]), "{i}: {k}");
            }
            assert!(a["street"].is_string() || a["locality"].is_string(), "{i}");
            let country = a["country"].as_str().unwrap();
            assert!(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()));
            if a["cedex"].is_string() {
                assert_eq!(country, "FR", "{i}: CEDEX abroad");
            }
        }
    }

    #[test]
    fn request_ids_are_unique_and_numbered() {
        let ids: std::collections::BTreeSet<String> = (0..FIXTURE_COUNT)
            .map(|i| fixture(i).unwrap().request_id())
            .collect();
        assert_eq!(ids.len(), FIXTURE_COUNT);
        assert_eq!(fixture(7).unwrap().request_id(), "FIX-2026-000007");
    }

    #[test]
    fn every_coverage_item_has_a_fixture() {
        let map = coverage(&skeletons());
        let missing: Vec<&&str> = map
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(k, _)| k)
            .collect();
        assert!(missing.is_empty(), "uncovered: {missing:?}");
        // Every kind x reason appears several times, not only in the curated cases.
        for t in [
            "kind:first_issue",
            "kind:renewal",
            "replacement:loss",
            "replacement:theft",
            "replacement:quality",
        ] {
            assert!(map[t].len() >= 5, "{t}: {:?}", map[t]);
        }
        let legacy = map["previous:legacy"].len();
        assert!((4..=8).contains(&legacy), "legacy numbers: {legacy}");
    }

    #[test]
    fn expected_expiry_follows_the_rules() {
        let r = |i: usize| fixture(i).unwrap().expected_expiry().unwrap();
        assert_eq!(r(0), date!(2031 - 10 - 30)); // first issue: training + 5
        assert_eq!(r(2), date!(2032 - 03 - 14)); // early FCO: previous expiry + 5
        assert_eq!(r(5), date!(2031 - 06 - 19)); // late renewal: training + 5
        assert_eq!(r(41), date!(2031 - 09 - 14)); // more than a year early: from the FCO
        assert_eq!(r(42), date!(2028 - 02 - 29)); // replacement keeps it
        assert_eq!(r(7), date!(2031 - 06 - 12)); // two trainings: the latest
        assert_eq!(r(51), date!(2031 - 06 - 30)); // one anticipated FCO for both groups
        assert_eq!(r(44), date!(2031 - 07 - 03));
        assert_eq!(
            plus_years(date!(2024 - 02 - 29), 4).unwrap(),
            date!(2028 - 02 - 29)
        );
    }

    #[test]
    fn our_previous_numbers_carry_a_valid_check_character() {
        for i in 0..FIXTURE_COUNT {
            if let Some(p) = fixture(i).unwrap().previous {
                if p.number.starts_with('F') {
                    assert!(CardNumber::parse(&p.number).is_ok(), "{i}: {}", p.number);
                } else {
                    assert!(p.number.starts_with("CQC") && p.number.len() == 13, "{i}");
                }
            }
        }
    }

    /// A simplified NF Z10-011 pass (the real one is `domain::address`): every line fits in 38
    /// characters once set in capitals, with bis/ter shortened, punctuation removed from the
    /// street down, and the street abbreviated with the common words when over 32.
    #[test]
    fn every_address_line_fits_in_38() {
        fn plain(s: &str) -> String {
            let folded = fold_to_ascii(s).to_uppercase();
            let spaced: String = folded
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
                .collect();
            spaced.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        for (i, r) in skeletons().iter().enumerate() {
            let a = &r["delivery_address"];
            let recipient = a["recipient"].as_str().unwrap();
            assert!(
                crate::synthetic::people::upper_len(recipient) <= 38,
                "{i}: {recipient}"
            );
            for k in ["delivery_point", "building", "locality"] {
                if let Some(l) = a[k].as_str() {
                    assert!(crate::synthetic::people::upper_len(l) <= 38, "{i}: {k} {l}");
                }
            }
            if let Some(s) = a["street"].as_str() {
                let mut words: Vec<String> = plain(s).split(' ').map(str::to_string).collect();
                if words.len() > 1 && (words[1] == "BIS" || words[1] == "TER") {
                    words[1] = words[1][..1].to_string();
                }
                let mut line = words.join(" ");
                if line.len() > 32 {
                    for (long, short) in [
                        ("AVENUE", "AV"),
                        ("BOULEVARD", "BD"),
                        ("MARECHAL", "MAL"),
                        ("GENERAL", "GAL"),
                        ("PRESIDENT", "PDT"),
                    ] {
                        line = line
                            .split(' ')
                            .map(|w| if w == long { short } else { w })
                            .collect::<Vec<_>>()
                            .join(" ");
                    }
                }
                assert!(line.len() <= 38, "{i}: street {line}");
            }
            let mut last = format!(
                "{} {}",
                a["postcode"].as_str().unwrap(),
                plain(a["city"].as_str().unwrap())
            );
            if let Some(c) = a["cedex"].as_str() {
                last.push_str(" CEDEX");
                if !c.is_empty() {
                    last.push(' ');
                    last.push_str(c);
                }
            }
            assert!(last.len() <= 38, "{i}: {last}");
            if a["country"] == "FR" {
                let p = a["postcode"].as_str().unwrap();
                assert!(
                    p.len() == 5 && p.bytes().all(|b| b.is_ascii_digit()),
                    "{i}: {p}"
                );
            }
        }
    }

    #[test]
    fn same_index_same_bytes() {
        let a = compact(&valid_request(3).unwrap()).unwrap();
        let b = compact(&valid_request(3).unwrap()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, compact(&valid_request(4).unwrap()).unwrap());
    }

    #[test]
    fn pictures_decode_to_the_contract_sizes() {
        for i in [0, 7, 20] {
            let r = valid_request(i).unwrap();
            let photo = STANDARD.decode(r["photo"].as_str().unwrap()).unwrap();
            assert!(
                (PHOTO_BYTES.0..=PHOTO_BYTES.1).contains(&photo.len()),
                "{i}: {}",
                photo.len()
            );
            let img =
                image::load_from_memory_with_format(&photo, image::ImageFormat::Jpeg).unwrap();
            assert_eq!((img.width(), img.height()), PHOTO_SIZE);
            let sig = STANDARD.decode(r["signature"].as_str().unwrap()).unwrap();
            let img = image::load_from_memory_with_format(&sig, image::ImageFormat::Png).unwrap();
            assert_eq!((img.width(), img.height()), SIGNATURE_SIZE);
            assert_eq!(img.color(), image::ColorType::L8);
        }
    }

    #[test]
    fn jsonl_lines_parse_back_and_keep_the_contract_order() {
        let r = valid_request(1).unwrap();
        let line = compact(&r).unwrap();
        assert!(line.starts_with("{\"request_id\":\"FIX-2026-000001\",\"kind\":"));
        assert!(!line.contains('\n'));
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }
}
