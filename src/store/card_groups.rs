//! A card's qualification groups and review reasons: JSON columns in, domain types out.
//!
//! `cards.qualifications` holds each group's categories and code-95 date with how it was
//! reached; `cards.review` the reasons a request waits for a supervisor. Both are decoded
//! here, once, so no caller compares stored strings.

use serde_json::{Value, json};
use time::Date;
use time::macros::format_description;

use super::StoreError;
use super::cards::CardRecord;
use crate::domain::hold::HoldReason;
use crate::domain::qualification::{CardGroup, Category, Group, Training};
use crate::domain::validity::{Doubt, DoubtKind, Rule};

fn date(s: &str) -> Option<Date> {
    Date::parse(s, format_description!("[year]-[month]-[day]")).ok()
}

fn corrupt(card: &str, what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("card {card}: {what}: {detail}"))
}

/// The JSON stored for a card's groups.
pub fn encode_groups(groups: &[CardGroup]) -> String {
    let list: Vec<Value> = groups
        .iter()
        .map(|g| {
            json!({
                "group": g.group.as_str(),
                "categories": g.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "expiry": g.expiry.to_string(),
                "training": g.training.map(Training::as_str),
                "training_end": g.training_end.map(|d| d.to_string()),
                "rule": g.rule.map(Rule::as_str),
            })
        })
        .collect();
    Value::Array(list).to_string()
}

/// The JSON stored for review reasons, `None` when there are none.
pub fn encode_review(reasons: &[HoldReason]) -> Option<String> {
    if reasons.is_empty() {
        return None;
    }
    let list: Vec<Value> = reasons
        .iter()
        .map(|r| {
            let (ours, other) = r.dates();
            json!({
                "code": r.code(),
                "group": r.group().map(Group::as_str),
                "ours": ours.to_string(),
                "other": other.to_string(),
            })
        })
        .collect();
    Some(Value::Array(list).to_string())
}

impl CardRecord {
    /// The card's groups, goods first. A card stored before per-group dates has its
    /// categories under field 4b, as it was printed.
    pub fn groups(&self) -> Result<Vec<CardGroup>, StoreError> {
        let card = self.card_number.as_str();
        let Some(json) = &self.qualifications else {
            return self.legacy_groups();
        };
        let list: Vec<Value> =
            serde_json::from_str(json).map_err(|e| corrupt(card, "qualifications", e))?;
        let mut out = Vec::with_capacity(list.len());
        for v in &list {
            let text = |k: &str| v.get(k).and_then(Value::as_str);
            let group = text("group")
                .and_then(Group::parse)
                .ok_or_else(|| corrupt(card, "qualifications", "a group without a name"))?;
            let categories = v
                .get("categories")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| c.as_str().and_then(Category::parse))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| corrupt(card, "qualifications", "an unknown category"))?;
            let expiry = text("expiry")
                .and_then(date)
                .ok_or_else(|| corrupt(card, "qualifications", "a group without a date"))?;
            out.push(CardGroup {
                group,
                categories,
                expiry,
                training: text("training").and_then(Training::parse),
                training_end: text("training_end").and_then(date),
                rule: text("rule").and_then(Rule::parse),
            });
        }
        out.sort_by_key(|g| g.group);
        Ok(out)
    }

    fn legacy_groups(&self) -> Result<Vec<CardGroup>, StoreError> {
        let card = self.card_number.as_str();
        let expiry = date(&self.expiry_date)
            .ok_or_else(|| corrupt(card, "expiry date", &self.expiry_date))?;
        let names: Vec<String> =
            serde_json::from_str(&self.categories).map_err(|e| corrupt(card, "categories", e))?;
        let mut out: Vec<CardGroup> = Vec::new();
        for name in &names {
            let c = Category::parse(name).ok_or_else(|| corrupt(card, "categories", name))?;
            match out.iter_mut().find(|g| g.group == c.group()) {
                Some(g) => g.categories.push(c),
                None => out.push(CardGroup {
                    group: c.group(),
                    categories: vec![c],
                    expiry,
                    training: None,
                    training_end: None,
                    rule: None,
                }),
            }
        }
        out.sort_by_key(|g| g.group);
        Ok(out)
    }

    /// Why the request waits for review (empty when it does not).
    pub fn review_reasons(&self) -> Result<Vec<HoldReason>, StoreError> {
        let card = self.card_number.as_str();
        let Some(json) = &self.review else {
            return Ok(Vec::new());
        };
        let list: Vec<Value> =
            serde_json::from_str(json).map_err(|e| corrupt(card, "review", e))?;
        list.iter()
            .map(|v| {
                let text = |k: &str| v.get(k).and_then(Value::as_str);
                let group = text("group").and_then(Group::parse);
                let (Some(code), Some(ours), Some(other)) = (
                    text("code"),
                    text("ours").and_then(date),
                    text("other").and_then(date),
                ) else {
                    return Err(corrupt(card, "review", v));
                };
                let reason = match (code, group) {
                    ("expected_expiry_differs", _) => HoldReason::ExpectedExpiry {
                        expected: other,
                        computed: ours,
                    },
                    ("expected_code95_differs", Some(group)) => HoldReason::ExpectedCode95 {
                        group,
                        expected: other,
                        computed: ours,
                    },
                    ("previous_expiry_differs", _) => HoldReason::PreviousExpiry {
                        portal: other,
                        ours,
                    },
                    ("previous_code95_differs", Some(group)) => HoldReason::PreviousCode95 {
                        group,
                        portal: other,
                        ours,
                    },
                    (code, group) => HoldReason::Doubt(Doubt {
                        kind: DoubtKind::parse(code)
                            .ok_or_else(|| corrupt(card, "review", code))?,
                        group,
                        chosen: ours,
                        other,
                    }),
                };
                Ok(reason)
            })
            .collect()
    }
}

/// The groups and reasons as the portal reads them (`GET /v1/requests/{id}`, events).
pub fn groups_json(groups: &[CardGroup]) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|g| {
                json!({
                    "group": g.group.as_str(),
                    "categories": g.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                    "expiry": g.expiry.to_string(),
                    "code_95": crate::domain::validity::code_95(g.expiry),
                    "rule": g.rule.map(Rule::as_str),
                })
            })
            .collect(),
    )
}

/// Each group's code-95 date keyed by group, the shape of the request's `expected_code95`.
pub fn code95_map(groups: &[CardGroup]) -> Value {
    Value::Object(
        groups
            .iter()
            .map(|g| (g.group.as_str().to_string(), json!(g.expiry.to_string())))
            .collect(),
    )
}

/// Review reasons as the portal reads them.
pub fn review_json(reasons: &[HoldReason]) -> Value {
    Value::Array(
        reasons
            .iter()
            .map(|r| {
                let (ours, other) = r.dates();
                json!({
                    "code": r.code(),
                    "group": r.group().map(Group::as_str),
                    "computed": ours.to_string(),
                    "other": other.to_string(),
                    "message": r.explain_fr(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn record(qualifications: Option<String>, review: Option<String>) -> CardRecord {
        CardRecord {
            id: 1,
            card_number: "F0000000100J".into(),
            holder_number: 1,
            request_id: "R".into(),
            kind: "first_issue".into(),
            state: "approved".into(),
            version: 1,
            issue_date: "2026-11-26".into(),
            expiry_date: "2031-10-30".into(),
            expected_expiry: None,
            previous_card_number: None,
            surname: None,
            given_names: None,
            birth_date: None,
            birth_place: None,
            licence_number: None,
            categories: r#"["C","CE","D"]"#.into(),
            address_lines: None,
            postcode: None,
            country: None,
            qualifications,
            review,
            created_at: 0,
            updated_at: 0,
            superseded_by: None,
        }
    }

    #[test]
    fn groups_and_reasons_round_trip_through_their_columns() {
        let groups = vec![
            CardGroup {
                group: Group::Goods,
                categories: vec![Category::C, Category::CE],
                expiry: date!(2031 - 10 - 30),
                training: Some(Training::Fco),
                training_end: Some(date!(2026 - 10 - 30)),
                rule: Some(Rule::PeriodicFromTraining),
            },
            CardGroup {
                group: Group::Passengers,
                categories: vec![Category::D],
                expiry: date!(2027 - 05 - 10),
                training: Some(Training::Fimo),
                training_end: Some(date!(2022 - 05 - 10)),
                rule: Some(Rule::InitialQualification),
            },
        ];
        let reasons = vec![
            HoldReason::ExpectedCode95 {
                group: Group::Passengers,
                expected: date!(2031 - 10 - 30),
                computed: date!(2027 - 05 - 10),
            },
            HoldReason::PreviousExpiry {
                portal: date!(2026 - 01 - 01),
                ours: date!(2026 - 02 - 01),
            },
            HoldReason::Doubt(Doubt {
                kind: DoubtKind::CardExpiry,
                group: None,
                chosen: date!(2031 - 10 - 30),
                other: date!(2027 - 05 - 10),
            }),
        ];
        let r = record(Some(encode_groups(&groups)), encode_review(&reasons));
        assert_eq!(r.groups().unwrap(), groups);
        assert_eq!(r.review_reasons().unwrap(), reasons);
        assert_eq!(encode_review(&[]), None);
    }

    #[test]
    fn a_card_stored_before_per_group_dates_shows_field_4b_for_every_group() {
        let groups = record(None, None).groups().unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].categories, vec![Category::C, Category::CE]);
        assert_eq!(groups[1].categories, vec![Category::D]);
        assert!(groups.iter().all(|g| g.expiry == date!(2031 - 10 - 30)));
        assert!(record(None, None).review_reasons().unwrap().is_empty());
    }

    #[test]
    fn a_damaged_column_is_corruption_not_a_default() {
        let bad = record(
            Some(r#"[{"group":"goods","categories":["Z"],"expiry":"2031-01-01"}]"#.into()),
            None,
        );
        assert!(bad.groups().is_err());
        let bad = record(
            None,
            Some(r#"[{"code":"nonsense","ours":"2031-01-01","other":"2030-01-01"}]"#.into()),
        );
        assert!(bad.review_reasons().is_err());
    }
}
