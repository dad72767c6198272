//! Where a certificate's data comes from: the card record and the request as received.
//!
//! Kept to one function, [`from_records`], because its source of dates is about to change:
//! today every group's code-95 date is the card's single expiry (field 4b); once the card
//! record carries a code-95 date per group, only this function changes.

use serde_json::Value;
use time::Date;

use super::model::{Certificate, GroupEntry, Holder};
use crate::domain::qualification::{Category, Group, Training};
use crate::store::cards::CardRecord;

/// Why the records cannot make a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// The holder's personal data was purged (docs/retention.md): there is nothing to print.
    #[error("the personal data of request {request_id} was purged")]
    Purged { request_id: String },
    /// Stored data that intake validated no longer reads: corruption, never the holder's
    /// mistake.
    #[error("request {request_id}: {what}")]
    Corrupt { request_id: String, what: String },
}

/// The certificate of `card`, from its record (holder, categories, expiry) and `document`,
/// the request as received (the training of each group).
pub fn from_records(
    card: &CardRecord,
    document: Option<&Value>,
    established: Date,
    issuer: &str,
) -> Result<Certificate, FillError> {
    let purged = || FillError::Purged {
        request_id: card.request_id.clone(),
    };
    let corrupt = |what: String| FillError::Corrupt {
        request_id: card.request_id.clone(),
        what,
    };
    let (Some(surname), Some(given_names), Some(birth), Some(document)) = (
        card.surname.as_ref(),
        card.given_names.as_ref(),
        card.birth_date.as_ref(),
        document,
    ) else {
        return Err(purged());
    };
    let date = |s: &str, what: &str| {
        Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|e| corrupt(format!("{what} {s:?}: {e}")))
    };
    // One code-95 date for every group until the card record has one per group.
    let code95_expiry = date(&card.expiry_date, "expiry date")?;
    let categories: Vec<String> = serde_json::from_str(&card.categories)
        .map_err(|e| corrupt(format!("categories {:?}: {e}", card.categories)))?;
    let mut categories: Vec<Category> = categories
        .iter()
        .map(|c| Category::parse(c).ok_or_else(|| corrupt(format!("category {c:?}"))))
        .collect::<Result<_, _>>()?;
    categories.sort();
    let mut groups = Vec::new();
    for group in [Group::Goods, Group::Passengers] {
        let of_group: Vec<Category> = categories
            .iter()
            .copied()
            .filter(|c| c.group() == group)
            .collect();
        if of_group.is_empty() {
            continue;
        }
        let q = document["qualifications"]
            .as_array()
            .and_then(|list| list.iter().find(|q| q["group"] == group.as_str()))
            .ok_or_else(|| {
                corrupt(format!(
                    "no {} qualification in the request",
                    group.as_str()
                ))
            })?;
        let training = q["training"]
            .as_str()
            .and_then(Training::parse)
            .ok_or_else(|| corrupt(format!("training {}", q["training"])))?;
        let training_end = date(
            q["training_end"].as_str().unwrap_or_default(),
            "training end",
        )?;
        groups.push(GroupEntry {
            group,
            categories: of_group,
            training,
            training_end,
            code95_expiry,
        });
    }
    if groups.is_empty() {
        return Err(corrupt("the card has no category".into()));
    }
    Ok(Certificate {
        issuer: issuer.to_string(),
        holder: Holder {
            surname: surname.clone(),
            given_names: given_names.clone(),
            birth_date: date(birth, "birth date")?,
        },
        groups,
        established,
        request_id: card.request_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;

    fn card() -> CardRecord {
        CardRecord {
            id: 1,
            card_number: "F0000000700B".into(),
            holder_number: 7,
            request_id: "FIX-2026-000007".into(),
            kind: "first_issue".into(),
            state: "approved".into(),
            version: 1,
            issue_date: "2026-11-26".into(),
            expiry_date: "2031-06-12".into(),
            expected_expiry: None,
            previous_card_number: None,
            surname: Some("GRÖSSMANN".into()),
            given_names: Some("Jürgen".into()),
            birth_date: Some("1982-01-09".into()),
            birth_place: Some("BERLIN".into()),
            licence_number: Some("X".into()),
            categories: r#"["D","C","CE"]"#.into(),
            address_lines: None,
            postcode: None,
            country: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn document() -> Value {
        json!({ "qualifications": [
            { "group": "passengers", "categories": ["D"], "training": "passerelle", "training_end": "2026-06-12" },
            { "group": "goods", "categories": ["C", "CE"], "training": "fimo", "training_end": "2026-02-27" },
        ]})
    }

    #[test]
    fn each_group_gets_its_categories_training_and_the_card_expiry() {
        let c = from_records(&card(), Some(&document()), date!(2026 - 11 - 26), "Bureau").unwrap();
        assert_eq!(c.holder.surname, "GRÖSSMANN");
        assert_eq!(c.holder.birth_date, date!(1982 - 01 - 09));
        assert_eq!(c.issuer, "Bureau");
        assert_eq!(
            c.groups,
            vec![
                GroupEntry {
                    group: Group::Goods,
                    categories: vec![Category::C, Category::CE],
                    training: Training::Fimo,
                    training_end: date!(2026 - 02 - 27),
                    code95_expiry: date!(2031 - 06 - 12),
                },
                GroupEntry {
                    group: Group::Passengers,
                    categories: vec![Category::D],
                    training: Training::Passerelle,
                    training_end: date!(2026 - 06 - 12),
                    code95_expiry: date!(2031 - 06 - 12),
                },
            ]
        );
    }

    #[test]
    fn purged_and_broken_records_are_told_apart() {
        let mut purged = card();
        purged.surname = None;
        assert!(matches!(
            from_records(&purged, Some(&document()), date!(2026 - 11 - 26), "B"),
            Err(FillError::Purged { .. })
        ));
        assert!(matches!(
            from_records(&card(), None, date!(2026 - 11 - 26), "B"),
            Err(FillError::Purged { .. })
        ));
        let goods_only = json!({ "qualifications": [
            { "group": "goods", "categories": ["C", "CE"], "training": "fimo", "training_end": "2026-02-27" },
        ]});
        let e = from_records(&card(), Some(&goods_only), date!(2026 - 11 - 26), "B").unwrap_err();
        assert_eq!(
            e.to_string(),
            "request FIX-2026-000007: no passengers qualification in the request"
        );
        let mut bad = card();
        bad.categories = r#"["Z"]"#.into();
        let e = from_records(&bad, Some(&document()), date!(2026 - 11 - 26), "B").unwrap_err();
        assert!(e.to_string().contains("category \"Z\""), "{e}");
    }
}
