//! The cost of "acceptance means printable": the text fitting intake runs on every request
//! (fields 1, 2, 3 and 5a through `render::printable::check_shipped`, the function intake
//! calls), alone, on one thread, no I/O. Two mixes: the fixture requests (ordinary names) and
//! the long real names of fixtures/names/long-eu-names.tsv (the expensive end: shrinking,
//! second lines, initials).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BenchError, Percentiles, Row};
use crate::render::card_data::birth_text;
use crate::render::layout::Field;
use crate::render::printable::check_shipped;

/// The long real names, embedded so that the bench runs anywhere (surname, given names).
const LONG_NAMES: &str = include_str!("../../fixtures/names/long-eu-names.tsv");

/// One request's printed texts, as intake judges them.
struct Texts {
    surname: String,
    given_names: String,
    birth: String,
    licence: String,
}

fn fixture_texts() -> Result<Vec<Texts>, BenchError> {
    let birth = |h: &Value| -> Option<String> {
        let d = time::Date::parse(
            h["birth_date"].as_str()?,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .ok()?;
        Some(birth_text(d, h["birth_place"].as_str()?))
    };
    crate::synthetic::embedded::valid_requests()
        .iter()
        .map(|r| {
            let h = &r["holder"];
            let text = |k: &str| h[k].as_str().map(str::to_string);
            Some(Texts {
                surname: text("surname")?,
                given_names: text("given_names")?,
                birth: birth(h)?,
                licence: text("licence_number")?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| BenchError::Fixture("a fixture lacks a holder field".into()))
}

fn long_name_texts() -> Vec<Texts> {
    LONG_NAMES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("language\t"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.len() == 4).then(|| Texts {
                surname: cols[1].to_string(),
                given_names: cols[2].to_string(),
                birth: "12.04.1984 SAINT-REMY-EN-BOUZEMONT-SAINT-GENEST-ET-ISSON (51)".into(),
                licence: "13AA00002".into(),
            })
        })
        .collect()
}

/// Fits the four texts of `requests` requests taken round-robin from each mix; one row per
/// mix. A text that does not fit is an error here: both mixes are printable.
pub fn text_fitting(requests: usize) -> Result<Vec<Row>, BenchError> {
    let mut rows = Vec::new();
    for (what, texts) in [
        ("fixture names", fixture_texts()?),
        ("long EU names", long_name_texts()),
    ] {
        if texts.is_empty() {
            return Err(BenchError::Fixture(format!("no {what}")));
        }
        let cpu_before = super::process_cpu_seconds();
        let started = Instant::now();
        let mut samples: Vec<Duration> = Vec::with_capacity(requests);
        for i in 0..requests {
            let t = &texts[i % texts.len()];
            let one = Instant::now();
            for (field, text) in [
                (Field::Surname, &t.surname),
                (Field::GivenNames, &t.given_names),
                (Field::Birth, &t.birth),
                (Field::LicenceNumber, &t.licence),
            ] {
                check_shipped(field, text)
                    .map_err(|e| BenchError::Fixture(format!("{what}: {text:?}: {e}")))?;
            }
            samples.push(one.elapsed());
        }
        let seconds = started.elapsed().as_secs_f64();
        rows.push(Row {
            stage: format!("text fitting, fields 1-3 and 5a ({what}, 1 thread, no I/O)"),
            backend: "-".to_string(),
            count: requests,
            seconds,
            per_second: requests as f64 / seconds,
            latency: Percentiles::of(&mut samples),
            cpu_ms_per_item: super::cpu_ms_per_item(
                cpu_before,
                super::process_cpu_seconds(),
                requests,
            ),
            goal: "a small part of intake".to_string(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_mixes_are_read_and_printable() {
        assert_eq!(fixture_texts().expect("fixtures").len(), 200);
        assert!(long_name_texts().len() > 100);
        let rows = text_fitting(50).expect("printable");
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.count == 50 && r.per_second > 0.0));
    }
}
