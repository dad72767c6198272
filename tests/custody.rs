//! The end of card bodies and numbers, on both backends: destruction under dual control
//! (the stock ledger, the revocation list and the returned piece follow), loss and theft
//! revoking the old number when the replacement is accepted, and the revocation list
//! exported as CSV and as a JWS that `openssl` verifies against the signer's certificate.

mod common;

use common::TestDb;
use cqcfab::clock::Clock;
use cqcfab::intake::{Intake, Submission};
use cqcfab::post::pnd::ReturnReason;
use cqcfab::store::destruction::{DestructionError, DestructionReason, Method};
use cqcfab::store::returns::Scanner;
use serde_json::{Value, json};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

const DAY: time::Duration = time::Duration::DAY;

on_both_backends!(clock();
    an_unclaimed_card_is_destroyed_by_two_people_never_one,
    a_lost_or_stolen_card_is_revoked_when_its_replacement_is_accepted,
    the_revocation_list_is_exported_and_its_signature_verifies,
    personal_data_is_purged_after_the_retention_period_but_not_from_held_cards,
);

const DATE: &str = "2026-11-27";

fn by() -> Scanner<'static> {
    Scanner {
        station: "mailroom-1",
        clerk: "Nadia",
    }
}

async fn state(db: &TestDb, card: &str) -> String {
    db.store.card_by_number(card).await.unwrap().unwrap().state
}

async fn an_unclaimed_card_is_destroyed_by_two_people_never_one(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::dispatched(db, 2, DATE).await;
    let (card, piece) = &pairs[0];
    // Bind a stock body to the card, as the encoding station does, so the ledger can follow.
    db.exec(
        "INSERT INTO stock_lots (lot_id, first_serial, last_serial, received_at, received_by) \
         VALUES ('LOT-T', 1000, 1999, 0, 'test')",
        &[],
    )
    .await
    .unwrap();
    db.exec(
        "INSERT INTO card_bodies (serial, lot_id, state, card_id, station, reader, drawn_at, updated_at) \
         SELECT 1000, 'LOT-T', 'personalised', id, 'encode-t', 'r0', 0, 0 FROM cards WHERE card_number = $1",
        &[card],
    )
    .await
    .unwrap();
    db.exec(
        "UPDATE cards SET chip_serial = 1000 WHERE card_number = $1",
        &[card],
    )
    .await
    .unwrap();
    // Returned, and the holder never answered (a decision window already over).
    s.record_return(piece, ReturnReason::Npai, by(), -1)
        .await
        .unwrap();
    let unclaimed = s.unclaimed_returns().await.unwrap();
    assert_eq!(unclaimed, [(card.clone(), piece.clone(), Some(1))]);

    // A card still on its way cannot be destroyed.
    let e = s
        .request_destruction(
            &pairs[1].0,
            DestructionReason::Damaged,
            Method::CardPunch,
            "Marc",
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DestructionError::NotDestroyable { .. }), "{e}");

    let id = s
        .request_destruction(
            card,
            DestructionReason::Unclaimed,
            Method::CrossCutShredder,
            "Marc",
        )
        .await
        .unwrap();
    let e = s
        .request_destruction(
            card,
            DestructionReason::Unclaimed,
            Method::CrossCutShredder,
            "Léa",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, DestructionError::AlreadyRequested { .. }),
        "{e}"
    );
    // The same person cannot be both pairs of eyes: refused, audited, nothing destroyed.
    for same in ["Marc", " marc "] {
        let e = s.approve_destruction(id, same).await.unwrap_err();
        assert!(matches!(e, DestructionError::SamePerson { .. }), "{e}");
        assert!(e.to_string().contains("four eyes"), "{e}");
    }
    assert_eq!(state(db, card).await, "held");
    assert!(!s.is_revoked(card).await.unwrap());
    let refused = s
        .audit_history("card", card)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "destruction.four_eyes_refused")
        .count();
    assert_eq!(refused, 2);
    // Even SQL that skips the code cannot make one person both.
    let e = db
        .exec(
            "UPDATE destructions SET state = 'done', approved_by = requested_by, approved_at = 1",
            &[],
        )
        .await;
    assert!(e.is_err(), "the database refuses a self-approval");

    s.approve_destruction(id, "Léa").await.unwrap();
    assert_eq!(state(db, card).await, "destroyed");
    assert!(s.is_revoked(card).await.unwrap());
    let list = s.revocation_list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reason, "destroyed");
    let body = s.body(1000).await.unwrap().unwrap();
    assert_eq!(body.state, "destroyed", "the stock ledger follows");
    let report = s.stock_report(i64::MAX).await.unwrap();
    assert!(report.reconciles(), "{:?}", report.problems);
    let c = s.card_by_number(card).await.unwrap().unwrap();
    assert_eq!(
        s.pieces_of_card(c.id).await.unwrap()[0].state,
        "card_destroyed"
    );
    assert!(
        s.held_in_slots().await.unwrap().is_empty(),
        "the slot is free"
    );
    assert!(s.unclaimed_returns().await.unwrap().is_empty());
    let e = s.approve_destruction(id, "Paul").await.unwrap_err();
    assert!(matches!(e, DestructionError::AlreadyDone(_)), "{e}");
    let events: Vec<String> = s
        .events(None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(events.contains(&"card.revoked".to_string()));
    assert!(events.contains(&"card.destroyed".to_string()));
    assert!(s.verify_audit().await.unwrap().is_intact());
}

async fn submit(db: &TestDb, doc: &Value) -> Value {
    let intake = Intake::new(db.store.clone());
    match intake.submit(doc.clone(), "test").await.unwrap() {
        Submission::Created(a) | Submission::Replayed(a) => a.body,
    }
}

async fn a_lost_or_stolen_card_is_revoked_when_its_replacement_is_accepted(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::dispatched(db, 2, DATE).await;
    let mut revoked = Vec::new();
    for ((card, _), (id, replacement)) in pairs.iter().zip([
        ("LOSS-1", json!({ "reason": "loss" })),
        (
            "THEFT-1",
            json!({ "reason": "theft", "theft_declaration_ref": "PV-2026-118822" }),
        ),
    ]) {
        let c = s.card_by_number(card).await.unwrap().unwrap();
        let mut doc = common::valid_fixtures()
            .iter()
            .find(|f| f["request_id"] == json!(c.request_id))
            .unwrap()
            .clone();
        doc["request_id"] = json!(id);
        doc["kind"] = json!("replacement");
        doc["previous_card"] = json!({ "number": card, "expiry": c.expiry_date });
        doc["replacement"] = replacement;
        doc["expected_expiry"] = Value::Null;
        let answer = submit(db, &doc).await;
        assert!(answer["card_number"].is_string(), "{answer}");
        revoked.push(card.clone());
    }
    // A legacy card (previous system) is listed too.
    let mut legacy = common::fixture_of("first_issue");
    legacy["request_id"] = json!("LOSS-LEGACY");
    legacy["kind"] = json!("replacement");
    legacy["previous_card"] = json!({ "number": "CQC0042424242", "expiry": "2027-05-01" });
    legacy["replacement"] = json!({ "reason": "loss" });
    legacy["expected_expiry"] = Value::Null;
    submit(db, &legacy).await;

    assert_eq!(state(db, &revoked[0]).await, "revoked");
    assert_eq!(state(db, &revoked[1]).await, "revoked");
    let list = s.revocation_list().await.unwrap();
    let reasons: Vec<(String, String, Option<String>)> = list
        .iter()
        .map(|r| {
            (
                r.card_number.clone(),
                r.reason.clone(),
                r.declaration_ref.clone(),
            )
        })
        .collect();
    assert!(
        reasons.contains(&(revoked[0].clone(), "lost".into(), None)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(
            revoked[1].clone(),
            "stolen".into(),
            Some("PV-2026-118822".into())
        )),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("CQC0042424242".into(), "lost".into(), None)),
        "{reasons:?}"
    );
    // Revoked before the replacement exists beyond an accepted request: its card has not
    // even been rendered.
    let history = s.audit_history("card", &revoked[0]).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|a| a.action.as_str()).collect();
    assert!(actions.contains(&"card.declare_lost"), "{actions:?}");
    assert!(actions.contains(&"card.revoke"), "{actions:?}");
    let revoked_events = s.events(Some("card.revoked")).await.unwrap();
    assert_eq!(revoked_events.len(), 3);

    // The lost card turns up in the mailroom later: straight to the destruction tray.
    let out = s
        .record_return(&pairs[0].1, ReturnReason::Npai, by(), 1)
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            cqcfab::store::returns::ReturnOutcome::ToDestruction { .. }
        ),
        "{out:?}"
    );
    // Replaying the replacement request revokes nothing twice.
    let mut again = common::fixture_of("first_issue");
    again["request_id"] = json!("LOSS-LEGACY");
    again["kind"] = json!("replacement");
    again["previous_card"] = json!({ "number": "CQC0042424242", "expiry": "2027-05-01" });
    again["replacement"] = json!({ "reason": "loss" });
    again["expected_expiry"] = Value::Null;
    submit(db, &again).await;
    assert_eq!(s.revocation_list().await.unwrap().len(), 3);
}

async fn the_revocation_list_is_exported_and_its_signature_verifies(db: &TestDb) {
    let pairs = common::production::dispatched(db, 1, DATE).await;
    let (card, piece) = &pairs[0];
    db.store
        .record_return(piece, ReturnReason::Npai, by(), -1)
        .await
        .unwrap();
    // Through the command line, as a supervisor would: request, refused self-approval,
    // approval by a second person, export.
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
            .args(db.cli_args())
            .arg("--data")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = run(&[
        "destruction",
        "request",
        "--card",
        card,
        "--reason",
        "unclaimed",
        "--by",
        "Marc",
    ]);
    assert_eq!(code, Some(0), "{text}");
    let id = text
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let (code, text) = run(&["destruction", "approve", &id, "--by", "Marc"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("four eyes"), "{text}");
    let (code, text) = run(&["destruction", "approve", &id, "--by", "Léa"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&["destruction", "list"]);
    assert!(
        code == Some(0) && text.contains("approved by Léa"),
        "{text}"
    );
    let out = dir.path().join("revocations");
    let (code, text) = run(&["revocations", "export", "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");

    // The CSV, read by Python's csv module.
    let py = std::process::Command::new("python3")
        .arg("-c")
        .arg("import csv,sys; r=list(csv.DictReader(open(sys.argv[1], newline=''))); print(len(r), r[0]['card_number'], r[0]['reason'])")
        .arg(out.join("revocations.csv"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        format!("1 {card} destroyed"),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );

    // The JWS: its certificate's key verifies the ES256 signature (openssl, DER-wrapped r||s).
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let jws: Value =
        serde_json::from_slice(&std::fs::read(out.join("revocations.jws.json")).unwrap()).unwrap();
    let protected: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jws["protected"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(protected["alg"], json!("ES256"));
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jws["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["revoked"][0]["card_number"], json!(card));
    let cert_der = STANDARD
        .decode(protected["x5c"][0].as_str().unwrap())
        .unwrap();
    let raw = URL_SAFE_NO_PAD
        .decode(jws["signature"].as_str().unwrap())
        .unwrap();
    let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("cert.der"), cert_der).unwrap();
    std::fs::write(work.path().join("sig.der"), der.as_bytes()).unwrap();
    let input = format!(
        "{}.{}",
        jws["protected"].as_str().unwrap(),
        jws["payload"].as_str().unwrap()
    );
    std::fs::write(work.path().join("input"), &input).unwrap();
    let sh = |cmd: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(work.path())
            .output()
            .unwrap()
    };
    let pubkey = sh("openssl x509 -inform DER -in cert.der -pubkey -noout > pub.pem");
    assert!(
        pubkey.status.success(),
        "{}",
        String::from_utf8_lossy(&pubkey.stderr)
    );
    let ok = sh("openssl dgst -sha256 -verify pub.pem -signature sig.der input");
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("Verified OK"),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    std::fs::write(work.path().join("input"), input.replace('e', "f")).unwrap();
    let tampered = sh("openssl dgst -sha256 -verify pub.pem -signature sig.der input");
    assert!(!tampered.status.success(), "a changed list does not verify");
}

async fn personal_data_is_purged_after_the_retention_period_but_not_from_held_cards(db: &TestDb) {
    use cqcfab::store::retention::Retention;
    let s = &db.store;
    let policy = Retention {
        presume_delivered_days: 21,
        purge_after_days: 90,
    };
    let pairs = common::production::dispatched(db, 3, DATE).await;
    let (a, _) = &pairs[0];
    let (b, piece_b) = &pairs[1];
    let (c, piece_c) = &pairs[2];
    // B comes back and waits in its slot; C comes back unclaimed and is destroyed.
    s.record_return(piece_b, ReturnReason::Npai, by(), 365 * 86_400_000)
        .await
        .unwrap();
    s.record_return(piece_c, ReturnReason::Npai, by(), -1)
        .await
        .unwrap();
    let id = s
        .request_destruction(c, DestructionReason::Unclaimed, Method::CardPunch, "Marc")
        .await
        .unwrap();
    s.approve_destruction(id, "Léa").await.unwrap();

    // Three weeks on: A is presumed delivered; nothing is purged yet.
    s.clock().advance(22 * DAY);
    let swept = s.retention_sweep(policy, false, "test").await.unwrap();
    assert_eq!(swept.delivered, std::slice::from_ref(a));
    assert!(swept.purged.is_empty());
    assert_eq!(state(db, a).await, "handed_over");
    let ca = s.card_by_number(a).await.unwrap().unwrap();
    assert_eq!(s.pieces_of_card(ca.id).await.unwrap()[0].state, "delivered");

    // Three months more: A and C are due. A dry run names them and changes nothing.
    s.clock().advance(91 * DAY);
    let dry = s.retention_sweep(policy, true, "test").await.unwrap();
    assert_eq!(dry.purged, [a.clone(), c.clone()]);
    assert!(
        s.card_by_number(a)
            .await
            .unwrap()
            .unwrap()
            .surname
            .is_some()
    );
    let swept = s.retention_sweep(policy, false, "test").await.unwrap();
    assert_eq!(swept.purged, [a.clone(), c.clone()]);
    for card in [a, c] {
        let rec = s.card_by_number(card).await.unwrap().unwrap();
        assert_eq!(rec.card_number, *card, "the number stays");
        assert!(!rec.expiry_date.is_empty(), "the dates stay");
        assert_eq!(
            (
                rec.surname,
                rec.given_names,
                rec.birth_date,
                rec.licence_number,
                rec.address_lines
            ),
            (None, None, None, None, None),
            "card {card}"
        );
        assert_eq!(
            s.request_picture(&rec.request_id, "photo").await.unwrap(),
            None
        );
        assert_eq!(
            s.request_picture(&rec.request_id, "signature")
                .await
                .unwrap(),
            None
        );
        for art in s.artifacts(rec.id).await.unwrap() {
            assert!(
                art.bytes.is_none(),
                "artifact {} of {card} purged",
                art.name
            );
        }
        for p in s.pieces_of_card(rec.id).await.unwrap() {
            assert!(
                p.address_lines().is_empty(),
                "posted address of {} purged",
                p.piece_id
            );
        }
        let history = s.audit_history("card", card).await.unwrap();
        assert!(
            history
                .iter()
                .any(|e| e.action == "card.personal_data_purged")
        );
        assert!(history.len() > 3, "the trail stays");
    }
    // B is held, waiting for its holder: it keeps everything.
    let rb = s.card_by_number(b).await.unwrap().unwrap();
    assert_eq!(rb.state, "held");
    assert!(rb.surname.is_some() && rb.address_lines.is_some());
    assert!(
        s.request_picture(&rb.request_id, "photo")
            .await
            .unwrap()
            .is_some()
    );
    // Once is enough; the audit chain still verifies.
    let again = s.retention_sweep(policy, false, "test").await.unwrap();
    assert!(again.purged.is_empty() && again.delivered.is_empty());
    assert!(s.verify_audit().await.unwrap().is_intact());
}
