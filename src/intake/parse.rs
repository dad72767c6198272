//! From the portal's JSON to a [`CardRequest`], listing every violation with its path.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;
use time::Date;

use super::walker::{Obj, Walker};
use crate::domain::address::{self, AddressInput};
use crate::domain::holder::{BirthPlace, Holder, LicenceNumber, PersonName, check_birth_date};
use crate::domain::images::{self, Picture};
use crate::domain::qualification::{Category, Group, Qualification, Qualifications, Training};
use crate::domain::request::{
    Basis, CardRequest, PreviousCard, PreviousNumber, ReplacementCause, RequestId,
};
use crate::domain::request_kind::ReplacementReason;
use crate::domain::violation::{Code, Violation};

const TOP: &[&str] = &[
    "request_id",
    "kind",
    "holder",
    "qualifications",
    "previous_card",
    "replacement",
    "expected_expiry",
    "expected_code95",
    "photo",
    "signature",
    "delivery_address",
];
const HOLDER: &[&str] = &[
    "surname",
    "given_names",
    "birth_date",
    "birth_place",
    "licence_number",
];
const QUALIFICATION: &[&str] = &[
    "group",
    "categories",
    "training",
    "training_end",
    "previous_expiry",
];
const GROUPS: &[&str] = &["goods", "passengers"];
const PREVIOUS: &[&str] = &["number", "expiry"];
const REPLACEMENT: &[&str] = &["reason", "theft_declaration_ref"];
const ADDRESS: &[&str] = &[
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
/// Longest police declaration reference we store.
const MAX_DECLARATION_REF: usize = 64;

/// Base64 as the portal may send it: standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses and checks a request document. `today` bounds the dates.
pub fn parse_request(doc: &Value, today: Date) -> Result<CardRequest, Vec<Violation>> {
    let mut w = Walker::default();
    let Some(root) = w.object(doc, "", TOP) else {
        return Err(w.errors);
    };

    let request_id = w
        .req_str(&root, "request_id")
        .and_then(|s| keep(&mut w, RequestId::parse(s)));
    let kind = w.enumerated(
        &root,
        "kind",
        &["first_issue", "renewal", "replacement"],
        |s| match s {
            "first_issue" | "renewal" | "replacement" => Some(s.to_string()),
            _ => None,
        },
    );
    let holder = w
        .required(&root, "holder")
        .and_then(|v| holder(&mut w, v, today));
    let qualifications = w
        .required(&root, "qualifications")
        .and_then(|v| qualifications(&mut w, v, today));
    let previous = w
        .optional(&root, "previous_card")
        .map(|v| previous_card(&mut w, v));
    let replacement = w
        .optional(&root, "replacement")
        .map(|v| replacement(&mut w, v));
    let expected_expiry = match w.opt_str(&root, "expected_expiry") {
        Some(Some(s)) => w.date(s, "expected_expiry").map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let expected_code95 = match w.optional(&root, "expected_code95") {
        None => Some(Vec::new()),
        Some(v) => expected_code95(&mut w, v, qualifications.as_ref()),
    };
    let photo = w
        .req_str(&root, "photo")
        .and_then(|s| picture(&mut w, s, "photo", &images::PHOTO));
    let signature = w
        .req_str(&root, "signature")
        .and_then(|s| picture(&mut w, s, "signature", &images::SIGNATURE));
    let address = w
        .required(&root, "delivery_address")
        .and_then(|v| delivery_address(&mut w, v));

    let basis = kind.and_then(|k| basis(&mut w, &root, &k, previous, replacement));

    match (
        request_id,
        basis,
        holder,
        qualifications,
        expected_expiry,
        expected_code95,
        photo,
        signature,
        address,
    ) {
        (
            Some(request_id),
            Some(basis),
            Some(holder),
            Some(qualifications),
            Some(expected_expiry),
            Some(expected_code95),
            Some(photo),
            Some(signature),
            Some((address_input, address)),
        ) if w.errors.is_empty() => Ok(CardRequest {
            request_id,
            basis,
            holder,
            qualifications,
            expected_expiry,
            expected_code95,
            photo,
            signature,
            address_input,
            address,
        }),
        _ => Err(w.errors),
    }
}

fn keep<T>(w: &mut Walker, r: Result<T, Violation>) -> Option<T> {
    r.map_err(|v| w.push(v)).ok()
}

fn holder(w: &mut Walker, v: &Value, today: Date) -> Option<Holder> {
    let o = w.object(v, "holder", HOLDER)?;
    let surname = w
        .req_str(&o, "surname")
        .and_then(|s| keep(w, PersonName::parse(s, &o.child("surname"))));
    let given_names = w
        .req_str(&o, "given_names")
        .and_then(|s| keep(w, PersonName::parse(s, &o.child("given_names"))));
    let birth_date = w
        .req_date(&o, "birth_date")
        .and_then(|d| keep(w, check_birth_date(d, today, &o.child("birth_date"))));
    let birth_place = w
        .req_str(&o, "birth_place")
        .and_then(|s| keep(w, BirthPlace::parse(s, &o.child("birth_place"))));
    let licence_number = w
        .req_str(&o, "licence_number")
        .and_then(|s| keep(w, LicenceNumber::parse(s, &o.child("licence_number"))));
    Some(Holder {
        surname: surname?,
        given_names: given_names?,
        birth_date: birth_date?,
        birth_place: birth_place?,
        licence_number: licence_number?,
    })
}

fn qualifications(w: &mut Walker, v: &Value, today: Date) -> Option<Qualifications> {
    let list = w.as_array(v, "qualifications")?;
    let mut out = Vec::new();
    let mut complete = true;
    for (i, item) in list.iter().enumerate() {
        match qualification(w, item, &format!("qualifications[{i}]"), today) {
            Some(q) => out.push(q),
            None => complete = false,
        }
    }
    if !complete {
        return None;
    }
    keep(w, Qualifications::new(out, "qualifications"))
}

fn qualification(w: &mut Walker, v: &Value, path: &str, today: Date) -> Option<Qualification> {
    let o = w.object(v, path, QUALIFICATION)?;
    let group = w.enumerated(&o, "group", &["goods", "passengers"], Group::parse);
    let categories = w.required(&o, "categories").and_then(|v| {
        let p = o.child("categories");
        let arr = w.as_array(v, &p)?;
        let mut cats = Vec::new();
        let mut ok = true;
        for (i, c) in arr.iter().enumerate() {
            let cp = format!("{p}[{i}]");
            match w.as_str(c, &cp) {
                Some(s) => match Category::parse(s) {
                    Some(cat) => cats.push(cat),
                    None => {
                        ok = false;
                        w.push(Violation::new(
                            cp,
                            Code::InvalidValue,
                            format!("{s:?} is not a category: C1 C1E C CE (goods), D1 D1E D DE (passengers)"),
                        ));
                    }
                },
                None => ok = false,
            }
        }
        ok.then_some(cats)
    });
    let training = w.enumerated(
        &o,
        "training",
        &["fimo", "long", "fco", "passerelle"],
        Training::parse,
    );
    let training_end = w.req_date(&o, "training_end").and_then(|d| {
        if d > today {
            w.push(Violation::new(
                o.child("training_end"),
                Code::DateInFuture,
                format!("training end {d} is in the future (today is {today})"),
            ));
            None
        } else {
            Some(d)
        }
    });
    let previous_expiry = match w.opt_str(&o, "previous_expiry") {
        Some(Some(s)) => w.date(s, &o.child("previous_expiry")).map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let (group, categories, training, training_end, previous_expiry) = (
        group?,
        categories?,
        training?,
        training_end?,
        previous_expiry?,
    );
    match Qualification::new(group, &categories, training, training_end, path) {
        Ok(q) => Some(q.with_previous_expiry(previous_expiry)),
        Err(vs) => {
            w.extend(vs);
            None
        }
    }
}

/// The portal's expected code-95 date per group: `{"goods": "YYYY-MM-DD", ...}`, each group
/// one the request carries (a date for a group the card will not show cannot be compared).
fn expected_code95(
    w: &mut Walker,
    v: &Value,
    qualifications: Option<&Qualifications>,
) -> Option<Vec<(Group, Date)>> {
    let o = w.object(v, "expected_code95", GROUPS)?;
    let mut out = Vec::new();
    let mut ok = true;
    for name in GROUPS {
        let s = match w.opt_str(&o, name) {
            Some(Some(s)) => s,
            Some(None) => continue,
            None => {
                ok = false;
                continue;
            }
        };
        let path = o.child(name);
        let (Some(group), Some(date)) = (Group::parse(name), w.date(s, &path)) else {
            ok = false;
            continue;
        };
        if qualifications.is_some_and(|q| q.of(group).is_none()) {
            ok = false;
            w.push(Violation::new(
                path,
                Code::InvalidValue,
                format!("the request has no {name} qualification to compare this date with"),
            ));
            continue;
        }
        out.push((group, date));
    }
    ok.then_some(out)
}

fn previous_card(w: &mut Walker, v: &Value) -> Option<PreviousCard> {
    let o = w.object(v, "previous_card", PREVIOUS)?;
    let number = w
        .req_str(&o, "number")
        .and_then(|s| keep(w, PreviousNumber::parse(s, &o.child("number"))));
    let expiry = w.req_date(&o, "expiry");
    Some(PreviousCard {
        number: number?,
        expiry: expiry?,
    })
}

/// The replacement object: its reason and, for a theft, the declaration reference.
struct ReplacementPart {
    reason: ReplacementReason,
    declaration_ref: Option<String>,
}

fn replacement(w: &mut Walker, v: &Value) -> Option<ReplacementPart> {
    let o = w.object(v, "replacement", REPLACEMENT)?;
    let reason = w.enumerated(
        &o,
        "reason",
        &["loss", "theft", "quality"],
        ReplacementReason::parse,
    );
    let declaration_ref = match w.opt_str(&o, "theft_declaration_ref") {
        Some(Some(s)) => {
            let s = s.trim();
            if s.is_empty()
                || s.chars().count() > MAX_DECLARATION_REF
                || s.chars().any(char::is_control)
            {
                w.push(Violation::new(
                    o.child("theft_declaration_ref"),
                    Code::InvalidValue,
                    format!("a declaration reference has 1 to {MAX_DECLARATION_REF} printable characters"),
                ));
                return None;
            }
            Some(s.to_string())
        }
        Some(None) => None,
        None => return None,
    };
    let reason = reason?;
    match (reason, &declaration_ref) {
        (ReplacementReason::Theft, None) => {
            w.push(Violation::new(
                o.child("theft_declaration_ref"),
                Code::TheftDeclarationRequired,
                "a replacement for theft needs the police declaration reference",
            ));
            None
        }
        (ReplacementReason::Loss | ReplacementReason::Quality, Some(_)) => {
            w.push(Violation::new(
                o.child("theft_declaration_ref"),
                Code::TheftDeclarationNotAllowed,
                format!(
                    "a declaration reference is only for a theft, not a {}",
                    reason.as_str()
                ),
            ));
            None
        }
        _ => Some(ReplacementPart {
            reason,
            declaration_ref,
        }),
    }
}

/// Checks that the kind, `previous_card` and `replacement` agree. `previous` and `replacement`
/// are `None` when absent, `Some(None)` when present but invalid (already reported).
fn basis(
    w: &mut Walker,
    root: &Obj<'_>,
    kind: &str,
    previous: Option<Option<PreviousCard>>,
    replacement: Option<Option<ReplacementPart>>,
) -> Option<Basis> {
    let needs_previous = kind != "first_issue";
    if !needs_previous && root.has("previous_card") {
        w.push(Violation::new(
            "previous_card",
            Code::PreviousCardNotAllowed,
            "a first issue has no previous card: send null",
        ));
    }
    if needs_previous && !root.has("previous_card") {
        w.push(Violation::new(
            "previous_card",
            Code::PreviousCardRequired,
            format!("a {kind} needs the previous card's number and expiry"),
        ));
    }
    if kind == "replacement" && !root.has("replacement") {
        w.push(Violation::new(
            "replacement",
            Code::ReplacementRequired,
            "a replacement needs its reason: loss, theft or quality",
        ));
    }
    if kind != "replacement" && root.has("replacement") {
        w.push(Violation::new(
            "replacement",
            Code::ReplacementNotAllowed,
            format!("only a replacement has a replacement reason, not a {kind}: send null"),
        ));
    }
    match kind {
        "first_issue" => (previous.is_none() && replacement.is_none()).then_some(Basis::FirstIssue),
        "renewal" => match (previous, replacement) {
            (Some(Some(previous)), None) => Some(Basis::Renewal { previous }),
            _ => None,
        },
        _ => match (previous, replacement) {
            (Some(Some(previous)), Some(Some(part))) => {
                let cause = match part.reason {
                    ReplacementReason::Loss => ReplacementCause::Loss,
                    ReplacementReason::Quality => ReplacementCause::Quality,
                    ReplacementReason::Theft => ReplacementCause::Theft {
                        declaration_ref: part.declaration_ref.unwrap_or_default(),
                    },
                };
                Some(Basis::Replacement { previous, cause })
            }
            _ => None,
        },
    }
}

fn picture(w: &mut Walker, b64: &str, path: &str, rules: &images::Rules) -> Option<Picture> {
    // Encoded size bounds the decoded size: refuse a huge string before allocating for it.
    if b64.len() / 4 * 3 > rules.max_bytes + 3 {
        w.push(Violation::new(
            path,
            Code::FileTooLarge,
            format!(
                "the {} has about {} bytes; at most {} are accepted",
                rules.what,
                b64.len() / 4 * 3,
                rules.max_bytes
            ),
        ));
        return None;
    }
    // Line-wrapped (MIME) base64 is accepted too; the common unwrapped case is decoded
    // without a scan for white space first.
    let decoded = BASE64.decode(b64).or_else(|e| {
        if b64.bytes().any(|b| b.is_ascii_whitespace()) {
            let compact: Vec<u8> = b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            BASE64.decode(compact)
        } else {
            Err(e)
        }
    });
    let bytes = match decoded {
        Ok(b) => b,
        Err(e) => {
            w.push(Violation::new(
                path,
                Code::InvalidBase64,
                format!("the {} is not base64: {e}", rules.what),
            ));
            return None;
        }
    };
    keep(w, images::check(bytes, rules, path))
}

/// A `delivery_address` object of the portal contract on its own (a readdress decision),
/// checked exactly as in a request; every problem is listed, paths under `delivery_address`.
pub fn delivery_address_of(v: &Value) -> Result<address::PostalAddress, Vec<Violation>> {
    let mut w = Walker::default();
    match delivery_address(&mut w, v) {
        Some((_, a)) if w.errors.is_empty() => Ok(a),
        _ => Err(w.errors),
    }
}

fn delivery_address(w: &mut Walker, v: &Value) -> Option<(AddressInput, address::PostalAddress)> {
    let o = w.object(v, "delivery_address", ADDRESS)?;
    let recipient = w.req_str(&o, "recipient");
    let delivery_point = w.opt_str(&o, "delivery_point");
    let building = w.opt_str(&o, "building");
    let street = w.opt_str(&o, "street");
    let locality = w.opt_str(&o, "locality");
    let postcode = w.req_str(&o, "postcode");
    let city = w.req_str(&o, "city");
    let cedex = w.opt_str(&o, "cedex");
    let country = w.req_str(&o, "country");
    let input = AddressInput {
        recipient: recipient?.to_string(),
        delivery_point: delivery_point?.map(str::to_string),
        building: building?.map(str::to_string),
        street: street?.map(str::to_string),
        locality: locality?.map(str::to_string),
        postcode: postcode?.to_string(),
        city: city?.to_string(),
        cedex: cedex?.map(str::to_string),
        country: country?.to_string(),
    };
    match address::format(&input) {
        Ok(a) => Some((input, a)),
        Err(vs) => {
            w.extend(vs.into_iter().map(|v| v.under("delivery_address")));
            None
        }
    }
}
