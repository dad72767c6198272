//! What differs between the portal's request and our computation, for a supervisor to judge a
//! held request. One function, read by the console page and the CLI alike, so a new reason to
//! hold (per-group code-95 dates, review notes) is shown everywhere by extending it here.

use crate::store::cards::CardRecord;

/// One thing the portal and we see differently, or a date the texts leave open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// What it is and why it holds the card, in French (the console's row label).
    pub what: String,
    /// The machine name (CLI, tests): the hold reason's code, with its group.
    pub key: String,
    /// Our value: what will be printed if the request is released.
    pub ours: String,
    /// The portal's value, or the other reading of the texts.
    pub portal: String,
}

/// The differences of a held card, in the order to show them: the reasons stored when it was
/// held (docs/validity.md, "Review reasons"). A card held before reasons were stored shows
/// its field 4b beside the portal's.
pub fn differences(card: &CardRecord) -> Vec<Difference> {
    match card.review_reasons() {
        Ok(reasons) if !reasons.is_empty() => reasons
            .iter()
            .map(|r| {
                let (ours, other) = r.dates();
                Difference {
                    what: r.explain_fr(),
                    key: match r.group() {
                        Some(g) => format!("{}:{}", r.code(), g.as_str()),
                        None => r.code().to_string(),
                    },
                    ours: ours.to_string(),
                    portal: other.to_string(),
                }
            })
            .collect(),
        _ => legacy(card),
    }
}

fn legacy(card: &CardRecord) -> Vec<Difference> {
    let mut out = Vec::new();
    if let Some(expected) = &card.expected_expiry
        && expected != &card.expiry_date
    {
        out.push(Difference {
            what: "Fin de validité (champ 4b)".into(),
            key: "expiry_date".into(),
            ours: card.expiry_date.clone(),
            portal: expected.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(expiry: &str, expected: Option<&str>) -> CardRecord {
        CardRecord {
            id: 1,
            card_number: "FR0000001A01".into(),
            holder_number: 1,
            request_id: "R-1".into(),
            kind: "first_issue".into(),
            state: "held_for_review".into(),
            version: 1,
            issue_date: "2026-11-27".into(),
            expiry_date: expiry.into(),
            expected_expiry: expected.map(str::to_string),
            previous_card_number: None,
            surname: None,
            given_names: None,
            birth_date: None,
            birth_place: None,
            licence_number: None,
            categories: "[]".into(),
            address_lines: None,
            postcode: None,
            country: None,
            qualifications: None,
            review: None,
            superseded_by: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_expiry_dates_side_by_side() {
        let d = differences(&card("2031-10-30", Some("2031-11-30")));
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].key.as_str(), d[0].ours.as_str(), d[0].portal.as_str()),
            ("expiry_date", "2031-10-30", "2031-11-30")
        );
        assert!(differences(&card("2031-10-30", Some("2031-10-30"))).is_empty());
        assert!(differences(&card("2031-10-30", None)).is_empty());
    }

    #[test]
    fn the_stored_reasons_with_both_dates() {
        let mut c = card("2031-10-01", None);
        c.review = Some(
            r#"[{"code":"expected_code95_differs","group":"passengers","ours":"2028-02-10","other":"2031-10-01"},{"code":"card_expiry_from_two_dates","group":null,"ours":"2031-10-01","other":"2028-02-10"}]"#.into(),
        );
        let d = differences(&c);
        let keys: Vec<(&str, &str, &str)> = d
            .iter()
            .map(|x| (x.key.as_str(), x.ours.as_str(), x.portal.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                (
                    "expected_code95_differs:passengers",
                    "2028-02-10",
                    "2031-10-01"
                ),
                ("card_expiry_from_two_dates", "2031-10-01", "2028-02-10"),
            ]
        );
        assert!(d[1].what.contains("4b"), "{}", d[1].what);
    }
}
