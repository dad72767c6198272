//! The rule table of docs/validity.md is this test's data: every row of the document is
//! computed and compared, so the document cannot say what the code does not do.

use time::Date;
use time::macros::date;

use super::*;
use crate::domain::qualification::{Group, Training};

const DOC: &str = include_str!("../../../docs/validity.md");

/// What a row expects: dates with their rules and doubts, or the errors (code, group).
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    Dates(Validity),
    Errors(Vec<(String, Option<Group>)>),
}

fn day(s: &str) -> Date {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|e| panic!("{s:?} is not a date: {e}"))
}

fn group(s: &str) -> Option<Group> {
    match s {
        "-" => None,
        other => Some(Group::parse(other).unwrap_or_else(|| panic!("{other:?} is not a group"))),
    }
}

fn tokens(cell: &str) -> Vec<Vec<&str>> {
    cell.trim()
        .trim_matches('`')
        .split(" · ")
        .map(|t| t.split_whitespace().collect())
        .collect()
}

fn basis(cell: &str) -> Basis {
    let parts = tokens(cell);
    if parts[0][0] == "replace" {
        let reason = ReplacementReason::parse(parts[0][1]).expect("replacement reason");
        let groups = parts[1..]
            .iter()
            .map(|t| (group(t[0]).expect("a group"), day(t[1])))
            .collect();
        return Basis::Replacement {
            reason,
            previous_expiry: day(parts[0][2]),
            groups,
        };
    }
    Basis::Trained(
        parts
            .iter()
            .map(|t| GroupBasis {
                group: group(t[0]).expect("a group"),
                training: Training::parse(t[1]).expect("a training"),
                training_end: day(t[2]),
                previous: (t.get(3) == Some(&"prev")).then(|| day(t[4])),
            })
            .collect(),
    )
}

fn expected(cell: &str, today: Date) -> Expected {
    let parts = tokens(cell);
    if parts[0][0] == "!" {
        return Expected::Errors(
            parts
                .iter()
                .map(|t| (t[1].to_string(), t.get(2).and_then(|g| group(g))))
                .collect(),
        );
    }
    let mut v = Validity {
        issue: today,
        expiry: today,
        groups: Vec::new(),
        doubts: Vec::new(),
    };
    for t in parts {
        match t[0] {
            "4b" => v.expiry = day(t[1]),
            "?" => {
                let (chosen, other) = t[3].split_once('/').expect("chosen/other");
                v.doubts.push(Doubt {
                    kind: DoubtKind::parse(t[1]).expect("a doubt kind"),
                    group: group(t[2]),
                    chosen: day(chosen),
                    other: day(other),
                });
            }
            g => v.groups.push(GroupValidity {
                group: group(g).expect("a group"),
                expiry: day(t[1]),
                rule: Rule::parse(t[2]).expect("a rule"),
            }),
        }
    }
    Expected::Dates(v)
}

/// (number, case, today, basis, expected) for every numbered row of the document's table.
fn rows() -> Vec<(String, String, Date, Basis, Expected)> {
    DOC.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 7 || cells[1].parse::<u32>().is_err() || !cells[4].starts_with('`') {
                return None;
            }
            let today = day(cells[3]);
            Some((
                cells[1].to_string(),
                cells[2].to_string(),
                today,
                basis(cells[4]),
                expected(cells[5], today),
            ))
        })
        .collect()
}

fn outcome(basis: &Basis, today: Date) -> Expected {
    match compute(basis, today) {
        Ok(v) => Expected::Dates(v),
        Err(errors) => Expected::Errors(
            errors
                .iter()
                .map(|e| (e.code().as_str().to_string(), e.group()))
                .collect(),
        ),
    }
}

#[test]
fn every_row_of_the_documented_table_holds() {
    let rows = rows();
    assert!(
        rows.len() >= 35,
        "only {} rows read from docs/validity.md",
        rows.len()
    );
    let mut failures = Vec::new();
    for (n, case, today, basis, expected) in rows {
        let got = outcome(&basis, today);
        if got != expected {
            failures.push(format!(
                "row {n} ({case}):\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_every_rule_doubt_and_error() {
    let rows = rows();
    let dates: Vec<&Validity> = rows
        .iter()
        .filter_map(|r| match &r.4 {
            Expected::Dates(v) => Some(v),
            Expected::Errors(_) => None,
        })
        .collect();
    for rule in Rule::ALL {
        assert!(
            dates
                .iter()
                .any(|v| v.groups.iter().any(|g| g.rule == rule)),
            "no row shows rule {}",
            rule.as_str()
        );
    }
    for kind in DoubtKind::ALL {
        assert!(
            dates
                .iter()
                .any(|v| v.doubts.iter().any(|d| d.kind == kind)),
            "no row shows doubt {}",
            kind.as_str()
        );
    }
    let codes: Vec<String> = rows
        .iter()
        .flat_map(|r| match &r.4 {
            Expected::Errors(e) => e.iter().map(|(c, _)| c.clone()).collect(),
            Expected::Dates(_) => Vec::new(),
        })
        .collect();
    for code in [
        "date_in_future",
        "training_too_old",
        "previous_card_expired",
        "invalid_date",
    ] {
        assert!(codes.iter().any(|c| c == code), "no row shows error {code}");
    }
}

#[test]
fn an_expiry_past_the_calendar_is_an_error_not_a_panic() {
    let today = date!(9996 - 06 - 01);
    let basis = Basis::Trained(vec![GroupBasis {
        group: Group::Goods,
        training: Training::Fimo,
        training_end: today,
        previous: None,
    }]);
    assert_eq!(
        compute(&basis, today),
        Err(vec![ValidityError::OutOfRange(today)])
    );
    assert_eq!(
        compute(&Basis::Trained(Vec::new()), today),
        Err(vec![ValidityError::NoQualification])
    );
}

#[test]
fn code_95_prints_day_month_year() {
    assert_eq!(code_95(date!(2029 - 06 - 01)), "95.01.06.2029");
    let g = GroupValidity {
        group: Group::Passengers,
        expiry: date!(2031 - 10 - 30),
        rule: Rule::InitialQualification,
    };
    assert_eq!(g.code_95(), "95.30.10.2031");
}

#[test]
fn names_round_trip() {
    for r in Rule::ALL {
        assert_eq!(Rule::parse(r.as_str()), Some(r));
        assert!(r.source().contains("R. 3314") || r == Rule::Replacement);
    }
    for k in DoubtKind::ALL {
        assert_eq!(DoubtKind::parse(k.as_str()), Some(k));
    }
}

#[test]
fn each_error_says_why_and_names_its_group() {
    let today = date!(2026 - 04 - 20);
    let too_old = Basis::Trained(vec![GroupBasis {
        group: Group::Passengers,
        training: Training::Fimo,
        training_end: date!(2020 - 01 - 01),
        previous: None,
    }]);
    let Err(errors) = compute(&too_old, today) else {
        panic!("accepted");
    };
    assert_eq!(errors[0].group(), Some(Group::Passengers));
    assert!(
        errors[0]
            .to_string()
            .contains("passengers qualification would expire")
    );
    let expired = Basis::Replacement {
        reason: ReplacementReason::Loss,
        previous_expiry: date!(2026 - 01 - 01),
        groups: vec![(Group::Goods, date!(2026 - 01 - 01))],
    };
    let Err(errors) = compute(&expired, today) else {
        panic!("accepted");
    };
    assert!(errors[0].to_string().contains("must be renewed"));
}
