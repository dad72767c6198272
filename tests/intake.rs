//! Intake: every fixture in, every bad input out with its exact errors and nothing stored,
//! idempotency, review holds, card numbering — on SQLite and PostgreSQL.

mod common;

use std::collections::HashSet;

use common::http::{Server, get, post_json};
use common::{TestDb, case_body, expected, fixture_of, invalid_cases, valid_fixtures};
use cqcfab::clock::Clock;
use cqcfab::domain::card_number::CardNumber;
use cqcfab::intake::{Intake, IntakeError, Submission};
use serde_json::{Value, json};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 26))
}

on_both_backends!(clock();
    every_valid_fixture_becomes_one_card,
    every_invalid_case_gives_its_exact_errors_and_stores_nothing,
    a_retry_gets_the_first_answer_and_a_changed_body_conflicts,
    the_same_request_sent_concurrently_makes_one_card,
    an_expiry_that_differs_from_ours_is_held_for_review,
    renewals_and_replacements_move_the_right_index,
    a_previous_card_cannot_be_renewed_twice_or_by_someone_else,
    requests_committed_together_are_each_answered_on_their_own,
    each_group_gets_its_own_date_and_our_record_of_the_previous_card_decides,
);

async fn assert_nothing_stored(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.request_count().await.unwrap(), 0, "no request row");
    assert_eq!(s.card_count().await.unwrap(), 0, "no card row");
    assert!(s.job_counts().await.unwrap().is_empty(), "no job");
    assert!(s.events(None).await.unwrap().is_empty(), "no portal event");
    assert_eq!(
        s.verify_audit().await.unwrap().records,
        0,
        "no audit record"
    );
}

async fn submit(intake: &Intake, doc: &Value) -> Result<Submission, IntakeError> {
    intake
        .submit_bytes(serde_json::to_vec(doc).unwrap(), "test")
        .await
}

async fn every_valid_fixture_becomes_one_card(db: &TestDb) {
    let intake = Intake::new(db.store.clone());
    let fixtures = valid_fixtures();
    assert!(fixtures.len() >= 200);
    let mut numbers = HashSet::new();
    for f in fixtures {
        match submit(&intake, f).await {
            Ok(Submission::Created(a)) => {
                assert_eq!(a.status, 201);
                assert_eq!(
                    a.body["status"], "approved",
                    "{}: {}",
                    f["request_id"], a.body
                );
                assert_eq!(a.body["expiry_date"], f["expected_expiry"]);
                let n = a.body["card_number"].as_str().unwrap();
                CardNumber::parse(n).expect("a valid card number");
                assert!(numbers.insert(n.to_string()), "card number {n} given twice");
            }
            other => panic!("{} refused: {other:?}", f["request_id"]),
        }
    }
    let s = &db.store;
    assert_eq!(s.card_count().await.unwrap(), fixtures.len() as i64);
    let jobs = s.job_counts().await.unwrap();
    assert_eq!(
        jobs,
        vec![(
            "render".to_string(),
            "queued".to_string(),
            fixtures.len() as i64
        )]
    );
    assert_eq!(
        s.events(Some("request.accepted")).await.unwrap().len(),
        fixtures.len()
    );
    // A replacement for a lost or stolen card revokes the previous number as it is
    // accepted: one more audit record each, and the number on the revocation list.
    let lost_or_stolen = fixtures
        .iter()
        .filter(|f| {
            f["kind"] == "replacement"
                && matches!(f["replacement"]["reason"].as_str(), Some("loss" | "theft"))
        })
        .count();
    assert!(lost_or_stolen > 0, "the fixtures hold losses and thefts");
    assert_eq!(s.revocation_list().await.unwrap().len(), lost_or_stolen);
    let audit = s.verify_audit().await.unwrap();
    assert!(audit.is_intact());
    assert_eq!(audit.records, (fixtures.len() + lost_or_stolen) as i64);
    // Pictures are kept byte for byte.
    let first = &fixtures[0];
    let media = s
        .request_media(first["request_id"].as_str().unwrap(), "photo")
        .await
        .unwrap()
        .unwrap();
    use base64::Engine;
    let sent = base64::engine::general_purpose::STANDARD
        .decode(first["photo"].as_str().unwrap())
        .unwrap();
    assert_eq!(media.bytes.unwrap(), sent);
}

async fn every_invalid_case_gives_its_exact_errors_and_stores_nothing(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let cases = invalid_cases();
    assert!(cases.len() >= 40, "at least 40 invalid cases");
    for case in &cases {
        let name = case["case"].as_str().unwrap();
        let (status, body) = post_json(server.addr, "/v1/requests", case_body(case)).await;
        assert_eq!(status, 422, "{name}: {body}");
        let mut got: Vec<(String, String)> = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no errors array in {body}"))
            .iter()
            .map(|e| {
                assert!(
                    !e["message"].as_str().unwrap().is_empty(),
                    "{name}: empty message"
                );
                (
                    e["path"].as_str().unwrap().to_string(),
                    e["code"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, expected(case), "{name}: {body}");
    }
    server.stop().await;
    assert_nothing_stored(db).await;
}

async fn a_retry_gets_the_first_answer_and_a_changed_body_conflicts(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let doc = fixture_of("first_issue");
    let body = serde_json::to_vec(&doc).unwrap();
    let (s1, a1) = post_json(server.addr, "/v1/requests", body.clone()).await;
    assert_eq!(s1, 201, "{a1}");
    // Same content, other key order and spacing: a retry.
    let reordered = serde_json::to_vec_pretty(&doc).unwrap();
    let (s2, a2) = post_json(server.addr, "/v1/requests", reordered).await;
    assert_eq!((s2, &a2), (200, &a1));
    let mut changed = doc.clone();
    changed["holder"]["birth_place"] = json!("MARSEILLE (13)");
    let (s3, a3) = post_json(
        server.addr,
        "/v1/requests",
        serde_json::to_vec(&changed).unwrap(),
    )
    .await;
    assert_eq!(s3, 409, "{a3}");
    assert_eq!(a3["error"], "request_conflict");
    // Even an invalid body under a taken id is a conflict, not a validation answer.
    changed["photo"] = json!("@@@");
    let (s4, _) = post_json(
        server.addr,
        "/v1/requests",
        serde_json::to_vec(&changed).unwrap(),
    )
    .await;
    assert_eq!(s4, 409);
    let id = doc["request_id"].as_str().unwrap();
    let (s5, status) = get(server.addr, &format!("/v1/requests/{id}")).await;
    assert_eq!(s5, 200);
    assert_eq!(status["card_number"], a1["card_number"]);
    assert_eq!(status["status"], "approved");
    assert_eq!(status["history"][0]["action"], "request.accepted");
    server.stop().await;
    assert_eq!(db.store.card_count().await.unwrap(), 1);
}

async fn the_same_request_sent_concurrently_makes_one_card(db: &TestDb) {
    let intake = Intake::new(db.store.clone());
    let doc = fixture_of("first_issue");
    let mut handles = Vec::new();
    for _ in 0..8 {
        let intake = intake.clone();
        let body = serde_json::to_vec(&doc).unwrap();
        handles.push(tokio::spawn(async move {
            intake.submit_bytes(body, "test").await
        }));
    }
    let mut created = 0;
    let mut replayed = 0;
    let mut numbers = HashSet::new();
    for h in handles {
        match h.await.unwrap().unwrap() {
            Submission::Created(a) => {
                created += 1;
                numbers.insert(a.body["card_number"].to_string());
            }
            Submission::Replayed(a) => {
                replayed += 1;
                numbers.insert(a.body["card_number"].to_string());
            }
        }
    }
    assert_eq!((created, replayed), (1, 7));
    assert_eq!(numbers.len(), 1, "every answer names the same card");
    assert_eq!(db.store.card_count().await.unwrap(), 1);
    assert_eq!(db.store.verify_audit().await.unwrap().records, 1);
}

async fn an_expiry_that_differs_from_ours_is_held_for_review(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let mut doc = fixture_of("first_issue");
    let ours = doc["expected_expiry"].as_str().unwrap().to_string();
    doc["expected_expiry"] = json!("2035-01-01");
    let (status, answer) = post_json(
        server.addr,
        "/v1/requests",
        serde_json::to_vec(&doc).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["status"], "held_for_review");
    assert_eq!(answer["review"]["expected_expiry"], "2035-01-01");
    assert_eq!(answer["review"]["computed_expiry"], ours.as_str());
    let reasons = answer["review"]["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1, "{answer}");
    assert_eq!(reasons[0]["code"], "expected_expiry_differs");
    assert_eq!(reasons[0]["computed"], ours.as_str());
    assert_eq!(reasons[0]["other"], "2035-01-01");
    let id = doc["request_id"].as_str().unwrap();
    let (_, shown) = get(server.addr, &format!("/v1/requests/{id}")).await;
    assert_eq!(shown["status"], "held_for_review");
    assert_eq!(shown["review"]["computed_expiry"], ours.as_str());
    assert!(
        db.store.job_counts().await.unwrap().is_empty(),
        "nothing goes to production"
    );
    assert_eq!(
        db.store.events(Some("request.held")).await.unwrap().len(),
        1
    );
    server.stop().await;
}

async fn renewals_and_replacements_move_the_right_index(db: &TestDb) {
    let intake = Intake::new(db.store.clone());
    let first = fixture_of("first_issue");
    let a = submit(&intake, &first).await.unwrap();
    let number = CardNumber::parse(a.answer().body["card_number"].as_str().unwrap()).unwrap();
    let expiry = a.answer().body["expiry_date"].as_str().unwrap().to_string();

    let mut lost = first.clone();
    lost["request_id"] = json!("LOSS-1");
    lost["kind"] = json!("replacement");
    lost["previous_card"] = json!({ "number": number.to_string(), "expiry": expiry });
    lost["replacement"] = json!({ "reason": "loss" });
    let r = submit(&intake, &lost).await.unwrap();
    let replaced = CardNumber::parse(r.answer().body["card_number"].as_str().unwrap()).unwrap();
    assert_eq!(replaced, number.next_replacement().unwrap());
    assert_eq!(
        r.answer().body["expiry_date"],
        expiry.as_str(),
        "a replacement keeps the expiry"
    );

    let mut renewal = first.clone();
    renewal["request_id"] = json!("RENEW-1");
    renewal["kind"] = json!("renewal");
    renewal["previous_card"] = json!({ "number": replaced.to_string(), "expiry": expiry });
    renewal["expected_expiry"] = Value::Null;
    let n = submit(&intake, &renewal).await.unwrap();
    let renewed = CardNumber::parse(n.answer().body["card_number"].as_str().unwrap()).unwrap();
    assert_eq!(renewed, replaced.next_renewal().unwrap());
    assert_eq!(
        renewed.holder(),
        number.holder(),
        "the holder keeps their number"
    );
}

async fn a_previous_card_cannot_be_renewed_twice_or_by_someone_else(db: &TestDb) {
    let intake = Intake::new(db.store.clone());
    let first = fixture_of("first_issue");
    let a = submit(&intake, &first).await.unwrap();
    let number = a.answer().body["card_number"].as_str().unwrap().to_string();
    let expiry = a.answer().body["expiry_date"].as_str().unwrap().to_string();
    let renewal = |id: &str| {
        let mut r = first.clone();
        r["request_id"] = json!(id);
        r["kind"] = json!("renewal");
        r["previous_card"] = json!({ "number": number, "expiry": expiry });
        r["expected_expiry"] = Value::Null;
        r
    };
    submit(&intake, &renewal("R-1")).await.unwrap();
    match submit(&intake, &renewal("R-2")).await {
        Err(IntakeError::Invalid(v)) => {
            assert_eq!(v.len(), 1);
            assert_eq!(
                (v[0].path.as_str(), v[0].code.as_str()),
                ("previous_card.number", "previous_card_superseded")
            );
        }
        other => panic!("second renewal accepted: {other:?}"),
    }
    let mut stranger = renewal("R-3");
    stranger["holder"]["licence_number"] = json!("75ZZ99999");
    match submit(&intake, &stranger).await {
        Err(IntakeError::Invalid(v)) => assert_eq!(v[0].code.as_str(), "previous_card_mismatch"),
        other => panic!("renewal by another holder accepted: {other:?}"),
    }
    assert_eq!(db.store.card_count().await.unwrap(), 2);
    assert_eq!(
        db.store.request_count().await.unwrap(),
        2,
        "refused requests leave no row"
    );
}

async fn requests_committed_together_are_each_answered_on_their_own(db: &TestDb) {
    // Sent at once, these land in the same writer batches: new cards, a duplicate, a
    // conflicting body under a taken id, and two renewals of one card (one must lose).
    let intake = Intake::new(db.store.clone());
    let first = fixture_of("first_issue");
    let taken = submit(&intake, &first).await.unwrap();
    let number = taken.answer().body["card_number"]
        .as_str()
        .unwrap()
        .to_string();
    let expiry = taken.answer().body["expiry_date"]
        .as_str()
        .unwrap()
        .to_string();
    let firsts: Vec<&Value> = valid_fixtures()
        .iter()
        .filter(|f| f["kind"] == "first_issue")
        .take(6)
        .collect();
    let mut docs: Vec<(String, Value)> = Vec::new();
    for (i, f) in firsts.iter().enumerate() {
        let mut d = (*f).clone();
        d["request_id"] = json!(format!("MIX-{i}"));
        docs.push((format!("new-{i}"), d));
    }
    docs.push(("duplicate".into(), docs[0].1.clone()));
    let mut changed = docs[1].1.clone();
    changed["holder"]["birth_place"] = json!("NANTES (44)");
    docs.push(("conflict".into(), changed));
    for k in 0..2 {
        let mut r = first.clone();
        r["request_id"] = json!(format!("MIX-RENEW-{k}"));
        r["kind"] = json!("renewal");
        r["previous_card"] = json!({ "number": number, "expiry": expiry });
        r["expected_expiry"] = Value::Null;
        docs.push((format!("renewal-{k}"), r));
    }
    let mut handles = Vec::new();
    for (label, doc) in docs {
        let intake = intake.clone();
        handles.push(tokio::spawn(
            async move { (label, submit(&intake, &doc).await) },
        ));
    }
    let mut created = 0;
    let mut renewals_won = 0;
    let mut renewals_superseded = 0;
    let mut saw_conflict_or_replay = 0;
    for h in handles {
        let (label, outcome) = h.await.unwrap();
        match (label.as_str(), outcome) {
            // "duplicate" repeats "new-0": whichever is taken first is created, the other replays.
            (l, Ok(Submission::Created(_))) if l.starts_with("new-") || l == "duplicate" => {
                created += 1
            }
            ("duplicate" | "new-0", Ok(Submission::Replayed(_))) => saw_conflict_or_replay += 1,
            // "conflict" and "new-1" share an id: whichever is taken first wins, the other conflicts.
            ("conflict" | "new-1", Err(IntakeError::Conflict { .. })) => {
                saw_conflict_or_replay += 1
            }
            // The original of the changed body may itself have been taken second.
            ("conflict", Ok(Submission::Created(_))) => created += 1,
            (l, Ok(Submission::Created(_))) if l.starts_with("renewal-") => renewals_won += 1,
            (l, Err(IntakeError::Invalid(v))) if l.starts_with("renewal-") => {
                assert_eq!(v[0].code.as_str(), "previous_card_superseded");
                renewals_superseded += 1;
            }
            (l, other) => panic!("{l}: unexpected {other:?}"),
        }
    }
    assert_eq!((renewals_won, renewals_superseded), (1, 1));
    assert_eq!(created, 6, "every distinct id taken once");
    assert_eq!(saw_conflict_or_replay, 2, "one replay and one conflict");
    let cards = db.store.card_count().await.unwrap();
    assert_eq!(cards as usize, 1 + created + renewals_won);
    let audit = db.store.verify_audit().await.unwrap();
    assert!(audit.is_intact(), "{:?}", audit.problems);
    assert_eq!(audit.records, cards);
}

/// A request of `kind` with the given qualifications, expected dates removed.
fn with_groups(kind: &str, id: &str, licence: &str, qualifications: Value) -> Value {
    let mut doc = fixture_of(kind);
    doc["request_id"] = json!(id);
    doc["holder"]["licence_number"] = json!(licence);
    doc["qualifications"] = qualifications;
    let o = doc.as_object_mut().unwrap();
    o.remove("expected_expiry");
    o.remove("expected_code95");
    doc
}

fn codes(answer: &Value) -> Vec<String> {
    answer["review"]["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| x["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn each_group_gets_its_own_date_and_our_record_of_the_previous_card_decides(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let post = |doc: Value| {
        let addr = server.addr;
        async move { post_json(addr, "/v1/requests", serde_json::to_vec(&doc).unwrap()).await }
    };

    // Passengers by a FIMO of 2023, goods by a FIMO of October 2026: two dates, 4b in doubt.
    let mut two = with_groups(
        "first_issue",
        "PG-TWO-GROUPS",
        "13PG00001",
        json!([
            {"group": "goods", "categories": ["C", "CE"], "training": "fimo", "training_end": "2026-10-01"},
            {"group": "passengers", "categories": ["D"], "training": "fimo", "training_end": "2023-02-10"}
        ]),
    );
    two["expected_code95"] = json!({"goods": "2031-10-01", "passengers": "2031-10-01"});
    let (status, answer) = post(two).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["status"], "held_for_review");
    assert_eq!(
        answer["code95"],
        json!({"goods": "2031-10-01", "passengers": "2028-02-10"})
    );
    assert_eq!(answer["expiry_date"], "2031-10-01");
    assert_eq!(
        codes(&answer),
        ["expected_code95_differs", "card_expiry_from_two_dates"]
    );
    let (_, shown) = get(server.addr, "/v1/requests/PG-TWO-GROUPS").await;
    assert_eq!(shown["code95"], answer["code95"]);
    assert_eq!(shown["groups"][1]["code_95"], "95.10.02.2028");
    assert_eq!(shown["groups"][1]["rule"], "initial_qualification");
    assert_eq!(codes(&shown), codes(&answer));

    // A date for a group the request does not carry cannot be compared: 422.
    let mut stray = with_groups(
        "first_issue",
        "PG-STRAY",
        "13PG00002",
        json!([{"group": "goods", "categories": ["C"], "training": "fimo", "training_end": "2026-10-01"}]),
    );
    stray["expected_code95"] = json!({"passengers": "2031-10-01"});
    let (status, answer) = post(stray).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errors"][0]["path"], "expected_code95.passengers");

    // Our card: goods by a FIMO of June 2022, so 95 until 2027-06-10.
    let first = with_groups(
        "first_issue",
        "PG-FIRST",
        "13PG00003",
        json!([{"group": "goods", "categories": ["C"], "training": "fimo", "training_end": "2022-06-10"}]),
    );
    let holder = first["holder"].clone();
    let (status, answer) = post(first).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["status"], "approved");
    assert_eq!(answer["code95"], json!({"goods": "2027-06-10"}));
    let number = answer["card_number"].as_str().unwrap().to_string();

    // Its renewal by an FCO of 2026-11-20, within the year before 2027-06-10: the new five
    // years run from 2027-06-10 — from OUR record, although the portal remembers 2027-01-01.
    let mut renewal = with_groups(
        "renewal",
        "PG-RENEWAL",
        "13PG00003",
        json!([{"group": "goods", "categories": ["C"], "training": "fco",
                "training_end": "2026-11-20", "previous_expiry": "2027-01-01"}]),
    );
    renewal["holder"] = holder;
    renewal["previous_card"] = json!({"number": number, "expiry": "2027-06-10"});
    renewal["expected_code95"] = json!({"goods": "2032-06-10"});
    let (status, answer) = post(renewal).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["code95"], json!({"goods": "2032-06-10"}));
    assert_eq!(answer["groups"][0]["rule"], "periodic_anticipated");
    assert_eq!(
        answer["status"], "held_for_review",
        "the portal's date differs"
    );
    assert_eq!(codes(&answer), ["previous_code95_differs"]);
    let reason = &answer["review"]["reasons"][0];
    assert_eq!(
        (reason["computed"].as_str(), reason["other"].as_str()),
        (Some("2027-06-10"), Some("2027-01-01"))
    );
    server.stop().await;
}
