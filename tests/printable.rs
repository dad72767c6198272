//! Acceptance means printable (issue 18; docs/text-fitting.md, "At intake"): a request intake
//! accepts is a card the render worker draws, and a request it refuses for its text is one
//! the worker would have stopped. Checked with the long names people really carry in every
//! EU language (fixtures/names/long-eu-names.tsv), the longest names of the fixtures,
//! deliberately impossible names over HTTP, and random names; the front layout that holds
//! fields 1 to 3 on two lines is checked for overlaps and looked at (golden card).

mod common;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use common::golden::assert_close;
use common::http::{Server, post_json};
use common::{TestDb, fixture_of, repo_path, valid_fixtures};
use cqcfab::clock::Clock;
use cqcfab::domain::holder::{BirthPlace, PersonName};
use cqcfab::domain::qualification::Category;
use cqcfab::intake::{Intake, Submission, validate};
use cqcfab::render::card_data::{CardData, DEFAULT_AUTHORITY, birth_text};
use cqcfab::render::fit;
use cqcfab::render::fonts::fonts;
use cqcfab::render::layout::{Field, Kind, Layout};
use cqcfab::render::printable::{self, Limit};
use cqcfab::render::scene::{Layer, Primitive, Scene};
use cqcfab::render::worker::{self, Done};
use cqcfab::render::{FRONT_PREVIEW, RenderError, Renderer};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::Date;
use time::macros::date;
use unicode_normalization::UnicodeNormalization;

const TODAY: Date = date!(2026 - 11 - 26);

fn clock() -> Clock {
    Clock::fixed_on(TODAY)
}

fn renderer() -> Arc<Renderer> {
    Arc::new(Renderer::new(DEFAULT_AUTHORITY).expect("shipped layouts"))
}

/// The 24 official languages of the EU (ISO 639-1).
const LANGUAGES: [&str; 24] = [
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv",
    "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
];

/// A holder's printed texts, and where they come from.
#[derive(Debug, Clone)]
struct Name {
    origin: String,
    surname: String,
    given_names: String,
    /// `None`: the base request's place of birth.
    birth_place: Option<String>,
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {:?}",
            self.origin, self.surname, self.given_names
        )?;
        if let Some(p) = &self.birth_place {
            write!(f, " born in {p:?}")?;
        }
        Ok(())
    }
}

impl Name {
    /// A first-issue request for this holder; `i` makes its id and licence number unique.
    fn request(&self, i: usize) -> Value {
        let mut doc = fixture_of("first_issue");
        doc["request_id"] = json!(format!("PRINTABLE-{i:04}"));
        doc["holder"]["surname"] = json!(self.surname);
        doc["holder"]["given_names"] = json!(self.given_names);
        doc["holder"]["licence_number"] = json!(format!("77PR{i:05}"));
        if let Some(p) = &self.birth_place {
            doc["holder"]["birth_place"] = json!(p);
        }
        doc
    }
}

/// fixtures/names/long-eu-names.tsv, with each row's language and source.
fn long_eu_names() -> Vec<(String, Name, String)> {
    let text = std::fs::read_to_string(repo_path("fixtures/names/long-eu-names.tsv"))
        .expect("fixtures/names/long-eu-names.tsv");
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    assert_eq!(
        lines.next(),
        Some("language\tsurname\tgiven_names\tsource"),
        "header"
    );
    lines
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "four columns: {l}");
            let name = Name {
                origin: format!("long-eu-names.tsv ({})", cols[0]),
                surname: cols[1].to_string(),
                given_names: cols[2].to_string(),
                birth_place: None,
            };
            (cols[0].to_string(), name, cols[3].to_string())
        })
        .collect()
}

/// The longest names of the fixtures: the 200 committed requests and the generator's first
/// 2,000 (src/synthetic), the ten longest surnames, given names and places of birth of each.
fn fixture_longest() -> Vec<Name> {
    let mut people: Vec<(String, String, String, String)> = valid_fixtures()
        .iter()
        .map(|f| {
            let h = &f["holder"];
            let s = |k: &str| h[k].as_str().expect("holder text").to_string();
            (
                format!("valid.jsonl {}", f["request_id"]),
                s("surname"),
                s("given_names"),
                s("birth_place"),
            )
        })
        .collect();
    for i in 0..2_000 {
        let p = cqcfab::synthetic::requests::fixture(i)
            .expect("synthetic fixture")
            .person;
        people.push((
            format!("synthetic fixture {i}"),
            p.surname,
            p.given_names,
            p.birth_place,
        ));
    }
    let mut chosen: Vec<Name> = Vec::new();
    let mut seen = BTreeSet::new();
    for key in 0..3 {
        let len = |p: &(String, String, String, String)| match key {
            0 => p.1.chars().count(),
            1 => p.2.chars().count(),
            _ => p.3.chars().count(),
        };
        let mut sorted = people.clone();
        sorted.sort_by_key(|p| std::cmp::Reverse(len(p)));
        for p in sorted.into_iter().take(10) {
            if seen.insert((p.1.clone(), p.2.clone(), p.3.clone())) {
                chosen.push(Name {
                    origin: p.0,
                    surname: p.1,
                    given_names: p.2,
                    birth_place: Some(p.3),
                });
            }
        }
    }
    chosen
}

/// Every name that must print: the real long names, then the fixtures' longest.
fn printable_names() -> Vec<Name> {
    long_eu_names()
        .into_iter()
        .map(|(_, n, _)| n)
        .chain(fixture_longest())
        .collect()
}

#[test]
fn the_long_names_cover_every_official_language_and_cite_their_source() {
    let names = long_eu_names();
    let languages: BTreeSet<&str> = names.iter().map(|(l, _, _)| l.as_str()).collect();
    for l in LANGUAGES {
        assert!(languages.contains(l), "no name for {l}");
    }
    for l in &languages {
        assert!(LANGUAGES.contains(l), "{l} is not an official EU language");
    }
    let mut pairs = BTreeSet::new();
    for (_, n, source) in &names {
        assert!(source.starts_with("https://"), "{n}: source {source:?}");
        assert!(pairs.insert((&n.surname, &n.given_names)), "{n} twice");
    }
    // Long means long: the set reaches what the card has to take.
    let longest = |f: fn(&Name) -> &str| {
        names
            .iter()
            .map(|(_, n, _)| f(n).chars().count())
            .max()
            .unwrap_or(0)
    };
    assert!(longest(|n| &n.surname) >= 35);
    assert!(longest(|n| &n.given_names) >= 150);
}

// ---------------------------------------------------------------- everything long prints

on_both_backends!(clock();
    every_long_name_is_accepted_and_renders,
    what_intake_refuses_the_render_worker_would_stop,
);

/// The text of one element of a scene, line by line.
fn lines_of(scene: &Scene, element: &str) -> Vec<String> {
    scene
        .items
        .iter()
        .filter(|i| i.element == element)
        .flat_map(|i| match &i.primitive {
            Primitive::Text { lines, .. } => lines.iter().map(|l| l.text.clone()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn without_spaces(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

async fn every_long_name_is_accepted_and_renders(db: &TestDb) {
    let names = printable_names();
    let intake = Intake::new(db.store.clone());
    let mut refused = Vec::new();
    for (i, n) in names.iter().enumerate() {
        match intake.submit(n.request(i), "test").await {
            Ok(Submission::Created(_)) => {}
            other => refused.push(format!("{n}: {other:?}")),
        }
    }
    assert!(
        refused.is_empty(),
        "{} of {} names refused:\n{}",
        refused.len(),
        names.len(),
        refused.join("\n")
    );

    let renderer = renderer();
    let done = worker::drain(&db.store, &renderer, "test", 2, |_| {}).await;
    let not_rendered: Vec<String> = done
        .iter()
        .filter(|d| !matches!(d, Ok(Done::Rendered { .. })))
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(
        not_rendered.is_empty(),
        "accepted but not rendered:\n{}",
        not_rendered.join("\n")
    );
    assert_eq!(done.len(), names.len(), "one render per accepted request");

    // What is printed is the holder's whole surname, in capitals, on the lines the rule chose.
    let (mut two_line_surnames, mut two_line_given, mut two_line_birth) = (0, 0, 0);
    for (i, n) in names.iter().enumerate() {
        let card = db
            .store
            .card_by_request(&format!("PRINTABLE-{i:04}"))
            .await
            .expect("store")
            .expect("card");
        assert_eq!(card.state, "in_production", "{n}");
        let data = CardData::from_record(&card, renderer.authority(), None).expect("data");
        let (front, _) = renderer.scenes(&data).expect("scenes");
        let surname = lines_of(&front, "surname");
        let stored = card.surname.as_deref().expect("surname");
        assert_eq!(
            without_spaces(&surname.concat()),
            without_spaces(&stored.to_uppercase()),
            "{n}: the surname is printed whole"
        );
        two_line_surnames += usize::from(surname.len() == 2);
        two_line_given += usize::from(lines_of(&front, "given-names").len() == 2);
        two_line_birth += usize::from(lines_of(&front, "birth").len() == 2);
    }
    eprintln!(
        "{} names printed ({} on {}): {two_line_surnames} surnames, {two_line_given} given \
         names and {two_line_birth} birth lines on two lines",
        names.len(),
        db.backend,
        db.store.clock().today()
    );
}

/// A request the card cannot print, where it breaks, and which card column holds that text
/// (to give the render worker the same text through a record, as if intake had let it in).
struct Impossible {
    what: &'static str,
    path: &'static str,
    code: &'static str,
    value: String,
    column: &'static str,
    element: &'static str,
}

fn impossible() -> Vec<Impossible> {
    vec![
        Impossible {
            what: "a 200-letter surname",
            path: "holder.surname",
            code: "name_does_not_fit",
            value: "W".repeat(200),
            column: "surname",
            element: "surname",
        },
        Impossible {
            what: "a surname of many words, too wide for two lines",
            path: "holder.surname",
            code: "name_does_not_fit",
            value: ["WOLFESCHLEGELSTEIN"; 8].join(" "),
            column: "surname",
            element: "surname",
        },
        Impossible {
            what: "a surname in Chinese characters",
            path: "holder.surname",
            code: "missing_glyph",
            value: "李".into(),
            column: "surname",
            element: "surname",
        },
        Impossible {
            what: "a CJK given name",
            path: "holder.given_names",
            code: "missing_glyph",
            value: "Wei 伟".into(),
            column: "given_names",
            element: "given-names",
        },
        Impossible {
            what: "120 given names: even their initials are too wide",
            path: "holder.given_names",
            code: "name_does_not_fit",
            value: ["W"; 120].join(" "),
            column: "given_names",
            element: "given-names",
        },
        Impossible {
            what: "a place of birth of one word wider than field 3",
            path: "holder.birth_place",
            code: "text_does_not_fit",
            value: "LLANFAIRPWLLGWYNGYLLGOGERYCHWYRNDROBWLLLLANTYSILIOGOGOGOCH".into(),
            column: "birth_place",
            element: "birth",
        },
    ]
}

async fn what_intake_refuses_the_render_worker_would_stop(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let cases = impossible();
    for (i, c) in cases.iter().enumerate() {
        let mut doc = fixture_of("first_issue");
        doc["request_id"] = json!(format!("IMPOSSIBLE-{i}"));
        common::set_path(&mut doc, c.path, json!(c.value));
        let (status, body) = post_json(server.addr, "/v1/requests", doc.to_string().into()).await;
        assert_eq!(status, 422, "{}: {body}", c.what);
        let errors = body["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{}: {body}", c.what);
        assert_eq!(errors[0]["path"], c.path, "{}: {body}", c.what);
        assert_eq!(errors[0]["code"], c.code, "{}: {body}", c.what);
        let message = errors[0]["message"].as_str().expect("message");
        let field = match c.element {
            "surname" => "field 1 (",
            "given-names" => "field 2 (",
            _ => "field 3 (",
        };
        assert!(message.contains(field), "{}: {message}", c.what);
        if c.code != "missing_glyph" {
            assert!(
                message.contains(" mm, one or two lines at ≥ ") && message.contains("would need"),
                "{}: the message gives the limit and the width needed: {message}",
                c.what
            );
        }
        assert!(
            db.store
                .card_by_request(&format!("IMPOSSIBLE-{i}"))
                .await
                .expect("store")
                .is_none(),
            "{}: nothing stored",
            c.what
        );
    }
    server.stop().await;

    // The renderer's verdict on the same texts: records that hold them are stopped.
    let intake = Intake::new(db.store.clone());
    for (i, c) in cases.iter().enumerate() {
        let mut doc = fixture_of("first_issue");
        let id = format!("FORCED-{i}");
        doc["request_id"] = json!(id);
        doc["holder"]["licence_number"] = json!(format!("78IM{i:05}"));
        let taken = intake.submit(doc, "test").await.expect("intake");
        assert!(matches!(taken, Submission::Created(_)), "{taken:?}");
        let sql = match c.column {
            "surname" => "UPDATE cards SET surname = $1 WHERE request_id = $2",
            "given_names" => "UPDATE cards SET given_names = $1 WHERE request_id = $2",
            _ => "UPDATE cards SET birth_place = $1 WHERE request_id = $2",
        };
        let n = db.exec(sql, &[&c.value, &id]).await.expect("edit");
        assert_eq!(n, 1);
    }
    let done = worker::drain(&db.store, &renderer(), "test", 2, |_| {}).await;
    assert_eq!(done.len(), cases.len());
    for (i, c) in cases.iter().enumerate() {
        let card = db
            .store
            .card_by_request(&format!("FORCED-{i}"))
            .await
            .expect("store")
            .expect("card");
        assert_eq!(card.state, "stopped", "{}", c.what);
        let reason = done
            .iter()
            .find_map(|d| match d {
                Ok(Done::Stopped {
                    card_number,
                    reason,
                }) if *card_number == card.card_number => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{} not stopped: {done:?}", c.what));
        assert!(
            reason.contains(&format!("element {:?}", c.element)),
            "{}: {reason}",
            c.what
        );
    }
}

// ---------------------------------------------------------------- the two verdicts agree

/// A card's data as the render worker reads it from the record of an accepted request.
fn card_data(surname: &str, given_names: &str, birth: Date, place: &str) -> CardData {
    let mut d = CardData::default();
    d.set(Field::Surname, surname);
    d.set(Field::GivenNames, given_names);
    d.set(Field::Birth, birth_text(birth, place));
    d.set(Field::IssueDate, "26.11.2026");
    d.set(Field::ExpiryDate, "30.10.2031");
    d.set(Field::Authority, DEFAULT_AUTHORITY);
    d.set(Field::AdminNumber, "00000001");
    d.set(Field::LicenceNumber, "13AA00002");
    d.set(Field::CardNumber, "F0000000100J");
    d.set_categories(
        &Category::ALL
            .iter()
            .map(|&c| (c, date!(2031 - 10 - 30)))
            .collect::<Vec<_>>(),
    );
    d
}

/// Intake's verdict on `doc` compared with the renderer's on the same texts: accepted ⇔
/// drawn. A refusal for another reason (a digit in a name) is not a printing question.
fn verdicts_agree(renderer: &Renderer, doc: &Value, path: &str) -> Result<(), String> {
    let holder = &doc["holder"];
    let raw = holder[path.trim_start_matches("holder.")]
        .as_str()
        .unwrap_or_default();
    match validate(doc, TODAY) {
        Ok((request, _)) => {
            let h = &request.holder;
            let data = card_data(
                h.surname.as_str(),
                h.given_names.as_str(),
                h.birth_date,
                h.birth_place.as_str(),
            );
            renderer
                .scenes(&data)
                .map(|_| ())
                .map_err(|e| format!("accepted but not drawn: {raw:?}: {e}"))
        }
        Err(errors) => {
            let printing = errors.iter().find(|v| {
                v.path == path
                    && matches!(
                        v.code.as_str(),
                        "name_does_not_fit" | "text_does_not_fit" | "missing_glyph"
                    )
            });
            let Some(v) = printing else {
                return Ok(());
            };
            let base = &fixture_of("first_issue")["holder"];
            let text = |k: &str| base[k].as_str().unwrap_or_default().to_string();
            let (mut surname, mut given, mut place) =
                (text("surname"), text("given_names"), text("birth_place"));
            // The text as the record would hold it: the domain type's normal form.
            match path {
                "holder.surname" => surname = stored_name(raw)?,
                "holder.given_names" => given = stored_name(raw)?,
                _ => {
                    place = BirthPlace::parse(raw, path)
                        .map_err(|e| format!("{e}"))?
                        .as_str()
                        .to_string()
                }
            }
            let data = card_data(&surname, &given, date!(1984 - 04 - 12), &place);
            match renderer.scenes(&data) {
                Err(RenderError::Build { .. }) => Ok(()),
                other => Err(format!(
                    "refused ({}) but drawn: {raw:?}: {other:?}",
                    v.code
                )),
            }
        }
    }
}

fn stored_name(raw: &str) -> Result<String, String> {
    PersonName::parse(raw, "p")
        .map(|n| n.as_str().to_string())
        .map_err(|e| e.to_string())
}

#[test]
fn intake_and_renderer_agree_on_every_listed_name() {
    let renderer = renderer();
    let mut names = printable_names();
    names.extend(impossible().into_iter().map(|c| {
        let mut n = Name {
            origin: c.what.to_string(),
            surname: "DUPONT".into(),
            given_names: "Jean".into(),
            birth_place: None,
        };
        match c.column {
            "surname" => n.surname = c.value,
            "given_names" => n.given_names = c.value,
            _ => n.birth_place = Some(c.value),
        }
        n
    }));
    let mut accepted = 0;
    for (i, n) in names.iter().enumerate() {
        let doc = n.request(i);
        for path in ["holder.surname", "holder.given_names", "holder.birth_place"] {
            if let Err(e) = verdicts_agree(&renderer, &doc, path) {
                panic!("{n}: {e}");
            }
        }
        accepted += usize::from(validate(&doc, TODAY).is_ok());
    }
    assert_eq!(accepted, names.len() - impossible().len());
}

/// Letters intake takes in names: Latin with diacritics, Greek, Cyrillic, wide and narrow,
/// and a few the card's font lacks (CJK, Georgian, Hangul).
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzÉÈÀÇÖÜßŁŃŚŻŹĄĘŞȘȚŐŰĞıÆØÅÞðŒ"
                .chars()
                .collect::<Vec<_>>()
        ),
        2 => prop::sample::select("ΑΒΓΔΩαβγδωάέήЖШЩЮЯжшщюяЁё".chars().collect::<Vec<_>>()),
        3 => prop::sample::select(vec![' ', ' ', '-', '\'']),
        1 => prop::sample::select("WMWM".chars().collect::<Vec<_>>()),
        1 => prop::sample::select("李ვ한".chars().collect::<Vec<_>>()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any name or place: intake accepts it exactly when the renderer can draw it.
    #[test]
    fn intake_and_renderer_agree_on_random_names(
        chars in prop::collection::vec(name_char(), 1..140),
        field in 0usize..3,
    ) {
        let raw: String = chars.into_iter().collect();
        let (path, value) = match field {
            0 => ("holder.surname", raw),
            1 => ("holder.given_names", raw),
            // A place: capitals, digits and the department in brackets.
            _ => ("holder.birth_place", format!("{} (69)", raw.to_uppercase().replace('\'', " "))),
        };
        let mut doc = fixture_of("first_issue");
        common::set_path(&mut doc, path, json!(value));
        let renderer = shared_renderer();
        prop_assert!(verdicts_agree(renderer, &doc, path).is_ok(), "{:?}", verdicts_agree(renderer, &doc, path));
    }
}

fn shared_renderer() -> &'static Renderer {
    static R: std::sync::OnceLock<Renderer> = std::sync::OnceLock::new();
    R.get_or_init(|| Renderer::new(DEFAULT_AUTHORITY).expect("shipped layouts"))
}

// ---------------------------------------------------------------- the front layout

/// Fields 1, 2 and 3 take two lines at their minimum size; no personalised text box, field
/// number or picture box overlaps another (the back is the lead's, issue 18 §1).
#[test]
fn the_front_holds_two_lines_without_overlap() {
    let layouts = printable::shipped().expect("layouts");
    let front: &Layout = &layouts.front;
    let fonts = fonts().expect("fonts");
    for name in ["surname", "given-names", "birth"] {
        let e = front
            .elements
            .iter()
            .find(|e| e.name == name)
            .expect("element");
        let Kind::Text(spec) = &e.kind else {
            panic!("{name} is text")
        };
        let b = printable::text_box(e, spec);
        assert_eq!(spec.max_lines, 2, "{name}");
        assert_eq!(
            fit::lines_allowed(fonts, &b, spec.min_size_pt),
            2,
            "{name}: {} mm high holds two lines at {} pt",
            e.h,
            spec.min_size_pt
        );
    }
    let boxes: Vec<_> = front
        .elements
        .iter()
        .filter(|e| {
            e.layer == Layer::Personalisation
                || (e.name.starts_with("label-") && matches!(e.kind, Kind::Text(_)))
        })
        .collect();
    assert!(boxes.len() >= 26, "{}", boxes.len());
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let apart = a.x + a.w <= b.x + 1e-3
                || b.x + b.w <= a.x + 1e-3
                || a.y + a.h <= b.y + 1e-3
                || b.y + b.h <= a.y + 1e-3;
            assert!(
                apart,
                "{} ({}, {}, {} x {}) overlaps {} ({}, {}, {} x {})",
                a.name, a.x, a.y, a.w, a.h, b.name, b.x, b.y, b.w, b.h
            );
        }
    }
    // Below the last field there is still card: 1.5 mm from the edge at least.
    for e in &boxes {
        assert!(e.y + e.h <= front.height_mm - 1.5, "{} too low", e.name);
    }
}

/// The portal contract states the limits the layout applies, in the words of the 422 answers.
#[test]
fn the_contract_documents_the_limits_the_layout_applies() {
    let layouts = printable::shipped().expect("layouts");
    let fonts = fonts().expect("fonts");
    let intake_md = std::fs::read_to_string(repo_path("docs/intake.md")).expect("docs/intake.md");
    let openapi = std::fs::read_to_string(repo_path("docs/openapi.json")).expect("openapi");
    for field in [
        Field::Surname,
        Field::GivenNames,
        Field::Birth,
        Field::LicenceNumber,
    ] {
        let limits: Vec<Limit> = printable::limits(&layouts.sides(), fonts, field);
        assert!(!limits.is_empty(), "{} is printed", field.key());
        for l in limits {
            let words = l.to_string();
            assert!(intake_md.contains(&words), "docs/intake.md lacks {words:?}");
            if matches!(field, Field::Surname | Field::GivenNames) {
                assert!(
                    openapi.contains(&words),
                    "docs/openapi.json lacks {words:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- looked at

/// A card whose fields 1, 2 and 3 all need their second line (invented names; a synthetic
/// face), against the golden picture a person approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_line_fields_look_as_approved() {
    let db = TestDb::sqlite(clock()).await;
    let name = Name {
        origin: "golden".into(),
        surname: "Fernández de Córdoba y Álvarez de Toledo-Montalvo".into(),
        given_names: "María del Pilar Teresa Cayetana Alfonsa Victoria Eugenia Francisca de \
                      Todos los Santos"
            .into(),
        birth_place: Some("SAINT-REMY-EN-BOUZEMONT-SAINT-GENEST-ET-ISSON (51)".into()),
    };
    let doc = name.request(0);
    let intake = Intake::new(db.store.clone());
    let taken = intake.submit(doc, "test").await.expect("intake");
    assert!(matches!(taken, Submission::Created(_)), "{taken:?}");
    let card = db
        .store
        .card_by_request("PRINTABLE-0000")
        .await
        .unwrap()
        .expect("card");
    let picture = |role: &'static str| {
        let store = db.store.clone();
        async move {
            store
                .request_picture("PRINTABLE-0000", role)
                .await
                .unwrap()
                .expect("picture")
        }
    };
    let (photo, signature) = (picture("photo").await, picture("signature").await);
    let renderer = renderer();
    let data = CardData::from_record(&card, renderer.authority(), None).expect("data");
    let render = renderer.render(&data, &photo, &signature).expect("renders");
    for element in ["surname", "given-names", "birth"] {
        assert_eq!(lines_of(&render.front, element).len(), 2, "{element}");
    }
    let png = &render.output(FRONT_PREVIEW).expect("preview").bytes;
    let img = image::load_from_memory(png).expect("PNG").to_rgb8();
    assert_close(
        "two-line fields front",
        &img,
        &repo_path("tests/golden/two-line-fields-front.png"),
    );
    // NFC and NFD input print the same card.
    let nfd = Name {
        surname: name.surname.nfd().collect(),
        ..name.clone()
    };
    let (request, _) = validate(&nfd.request(1), TODAY).expect("valid");
    assert_eq!(request.holder.surname.as_str(), name.surname);
    db.cleanup().await;
}
