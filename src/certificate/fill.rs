//! Where a certificate's data comes from: the card record and the request as received.
//!
//! Each group's categories, training and code-95 date come from the card record's groups
//! (docs/validity.md); a card stored before per-group dates knows neither its trainings nor a
//! date per group, so the request as received gives the training and field 4b the date.

use serde_json::Value;
use time::Date;

use super::model::{Certificate, GroupEntry, Holder};
use crate::domain::qualification::Training;
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
    let recorded = card.groups().map_err(|e| corrupt(e.to_string()))?;
    let mut groups = Vec::with_capacity(recorded.len());
    for g in recorded {
        let (training, training_end) = match (g.training, g.training_end) {
            (Some(t), Some(end)) => (t, end),
            _ => {
                let q = document["qualifications"]
                    .as_array()
                    .and_then(|list| list.iter().find(|q| q["group"] == g.group.as_str()))
                    .ok_or_else(|| {
                        corrupt(format!(
                            "no {} qualification in the request",
                            g.group.as_str()
                        ))
                    })?;
                let training = q["training"]
                    .as_str()
                    .and_then(Training::parse)
                    .ok_or_else(|| corrupt(format!("training {}", q["training"])))?;
                let end = date(
                    q["training_end"].as_str().unwrap_or_default(),
                    "training end",
                )?;
                (training, end)
            }
        };
        groups.push(GroupEntry {
            group: g.group,
            categories: g.categories,
            training,
            training_end,
            code95_expiry: g.expiry,
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
    use crate::domain::qualification::{Category, Group};

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
            qualifications: None,
            review: None,
            created_at: 0,
            updated_at: 0,
            superseded_by: None,
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
    fn each_group_prints_its_own_recorded_date() {
        let mut two = card();
        two.qualifications = Some(
            r#"[{"group":"goods","categories":["C","CE"],"expiry":"2031-06-12","training":"fimo","training_end":"2026-02-27","rule":"aligned_on_passerelle"},{"group":"passengers","categories":["D"],"expiry":"2028-02-10","training":"fimo","training_end":"2023-02-10","rule":"initial_qualification"}]"#.into(),
        );
        let c = from_records(&two, Some(&document()), date!(2026 - 11 - 26), "B").unwrap();
        let dates: Vec<(Group, Training, Date)> = c
            .groups
            .iter()
            .map(|g| (g.group, g.training, g.code95_expiry))
            .collect();
        assert_eq!(
            dates,
            [
                (Group::Goods, Training::Fimo, date!(2031 - 06 - 12)),
                (Group::Passengers, Training::Fimo, date!(2028 - 02 - 10)),
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
        assert!(e.to_string().contains("categories: Z"), "{e}");
    }
}
