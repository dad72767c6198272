//! Quality returns, on both backends: a card made for real (chip written by the encoding
//! station, posted) comes back with its coupon. The coupon opens a case, the chip is read and
//! judged by the service (passive authentication, files as written, DG1 against the
//! production record and the validated request), the analyst's findings go through the
//! attribution rules, and the verdict makes a free replacement, asks the holder to correct
//! and pay, or waits for a second person to waive the fee.
//!
//! The last test is the quality station end to end: a pseudo-terminal plays the scanner, the
//! chip sits in a vpcd reader behind the real pcscd, the `cqcfab` binary is the station and
//! talks to a real service on loopback.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::TestDb;
use common::http::{Server, TOKEN, send};
use common::production::{MASTER, Posted, encoded_and_posted};
use common::station_io::{PTY_CHILDREN, StationOutput, plug_scanner, send_scan};
use cqcfab::chip::data_groups::{FID_DG1, FID_DG5, FID_DG6, FID_SOD};
use cqcfab::chip::pki::TestPki;
use cqcfab::chip::script;
use cqcfab::chip::signer::FileSigner;
use cqcfab::chip::sod;
use cqcfab::clock::Clock;
use cqcfab::domain::card_number::{CardNumber, HolderNumber};
use cqcfab::intake::Intake;
use cqcfab::post::coupon::CouponCode;
use cqcfab::quality::desk::{self, Reading};
use cqcfab::quality::diagnostic::FILES;
use cqcfab::service::{AppState, Token};
use cqcfab::store::quality::QualityError;
use cqcfab_drivers::transport::TransportError;
use cqcfab_simulator::card::{CardSpec, Fault, VirtualCard};
use cqcfab_simulator::inprocess::InProcessReader;
use cqcfab_simulator::vpcd::{self, Ended};
use serde_json::{Value, json};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    a_coupon_opens_one_case_and_a_card_never_posted_is_refused,
    an_intact_chip_with_a_print_defect_is_replaced_free_at_once,
    a_corrupted_data_group_is_our_fault_and_an_unknown_signer_is_not_ours,
    a_card_pulled_out_mid_read_records_nothing_and_reads_whole_again,
    data_as_submitted_is_the_holders_fault_and_the_correction_makes_the_paid_card,
    a_fee_waiver_needs_a_second_person,
    the_quality_station_reads_the_scanner_and_the_chip_through_pcscd,
);

const DATE: &str = "2026-11-27";
const STATION: &str = "quality-1";
const STATION_TOKEN: &str = "quality-1-token-0123456789";

fn state(db: &TestDb, posted: &Posted) -> AppState {
    AppState::new(db.store.clone(), Some(Token::new(TOKEN)))
        .with_stations(&[(STATION.to_string(), STATION_TOKEN.to_string())])
        .with_csca(posted.pki.csca().unwrap())
}

fn coupon(card: &str) -> String {
    CouponCode::for_card(CardNumber::parse(card).unwrap()).to_string()
}

async fn station_post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {STATION_TOKEN}");
    send(
        server.addr,
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        body.to_string().into_bytes(),
    )
    .await
}

async fn open_case(server: &Server, card: &str) -> i64 {
    let (status, a) = station_post(
        server,
        "/v1/stations/quality/scans",
        json!({ "code": coupon(card), "analyst": "Inès" }),
    )
    .await;
    assert_eq!((status, &a["outcome"]), (200, &json!("opened")), "{a}");
    a["case_id"].as_i64().unwrap()
}

/// Reads `chip` in an in-process reader, as the station does on a PC/SC reader.
fn read(chip: VirtualCard) -> (Value, VirtualCard) {
    let mut reader = InProcessReader::new("desk", chip);
    let r = script::read_application(&mut reader, &FILES).expect("read");
    (Reading::of(&r), reader.into_card())
}

async fn diagnose(server: &Server, case: i64, reading: Value) -> (u16, Value) {
    station_post(
        server,
        &format!("/v1/stations/quality/cases/{case}/diagnostic"),
        json!({ "analyst": "Inès", "reading": reading }),
    )
    .await
}

async fn defect(server: &Server, case: i64, element: &str, cause: Option<&str>) -> Value {
    let (status, a) = station_post(
        server,
        &format!("/v1/stations/quality/cases/{case}/defects"),
        json!({ "analyst": "Inès", "element": element, "confirmed": cause.is_some(), "cause": cause }),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    a
}

async fn verdict(server: &Server, case: i64, waiver: Option<&str>) -> (u16, Value) {
    station_post(
        server,
        &format!("/v1/stations/quality/cases/{case}/verdict"),
        json!({ "analyst": "Inès", "waiver_reason": waiver }),
    )
    .await
}

async fn card_state(db: &TestDb, card: &str) -> String {
    db.store.card_by_number(card).await.unwrap().unwrap().state
}

async fn events(db: &TestDb, kind: &str) -> Vec<Value> {
    db.store
        .events(Some(kind))
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap()["data"].clone())
        .collect()
}

/// A card accepted but never made nor posted: the `skip`-th fixture's.
async fn unposted_card(db: &TestDb, skip: usize) -> String {
    let doc = common::valid_fixtures()[skip].clone();
    let s = Intake::new(db.store.clone())
        .submit(doc, "test")
        .await
        .unwrap();
    s.answer().body["card_number"].as_str().unwrap().to_string()
}

/// Every path must leave the stock ledger reconciled and the audit chain intact.
async fn assert_records_sound(db: &TestDb) {
    let report = db.store.stock_report(60_000).await.unwrap();
    assert!(report.reconciles(), "{:?}", report.problems);
    let audit = db.store.verify_audit().await.unwrap();
    assert!(audit.is_intact(), "{audit:?}");
}

async fn a_coupon_opens_one_case_and_a_card_never_posted_is_refused(db: &TestDb) {
    let posted = encoded_and_posted(db, 2, DATE).await;
    let server = Server::start_with(state(db, &posted)).await;
    let card = &posted.pairs[0].0;

    let case = open_case(&server, card).await;
    assert_eq!(card_state(db, card).await, "returned_defective");
    let opened = events(db, "quality.case_opened").await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["case_id"], json!(case.to_string()));
    assert_eq!(opened[0]["card_number"], json!(card));

    // The same coupon again: the same case, nothing changes.
    let (status, a) = station_post(
        &server,
        "/v1/stations/quality/scans",
        json!({ "code": coupon(card), "analyst": "Inès" }),
    )
    .await;
    assert_eq!((status, &a["outcome"]), (200, &json!("existing")), "{a}");
    assert_eq!(a["case_id"], json!(case));
    assert_eq!(events(db, "quality.case_opened").await.len(), 1);

    // A card that never left the bureau: refused, nothing recorded.
    let never = &unposted_card(db, posted.pairs.len()).await;
    let before = card_state(db, never).await;
    let (status, a) = station_post(
        &server,
        "/v1/stations/quality/scans",
        json!({ "code": coupon(never), "analyst": "Inès" }),
    )
    .await;
    assert_eq!(
        (status, &a["outcome"]),
        (200, &json!("never_posted")),
        "{a}"
    );
    assert_eq!(a["ok"], json!(false));
    assert!(
        a["lines"][0].as_str().unwrap().contains("never posted"),
        "{a}"
    );
    assert_eq!(card_state(db, never).await, before);

    // A coupon of a card nobody made, a code that is no coupon, a nameless analyst.
    let ghost = CouponCode::for_card(CardNumber::first(HolderNumber::new(987_654).unwrap()));
    let (_, a) = station_post(
        &server,
        "/v1/stations/quality/scans",
        json!({ "code": ghost.to_string(), "analyst": "Inès" }),
    )
    .await;
    assert_eq!(a["outcome"], json!("unknown_card"), "{a}");
    let (_, a) = station_post(
        &server,
        "/v1/stations/quality/scans",
        json!({ "code": posted.pairs[1].1, "analyst": "Inès" }),
    )
    .await;
    assert_eq!(a["outcome"], json!("unknown_code"), "{a}");
    let (status, _) = station_post(
        &server,
        "/v1/stations/quality/scans",
        json!({ "code": coupon(card), "analyst": " " }),
    )
    .await;
    assert_eq!(status, 422);
    // The portal's token is not a station's.
    let (status, _) = send(
        server.addr,
        "POST",
        "/v1/stations/quality/scans",
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {TOKEN}")),
        ],
        json!({ "code": coupon(card), "analyst": "Inès" })
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(events(db, "quality.case_opened").await.len(), 1);
    assert_records_sound(db).await;
    server.stop().await;
}

async fn an_intact_chip_with_a_print_defect_is_replaced_free_at_once(db: &TestDb) {
    let posted = encoded_and_posted(db, 1, DATE).await;
    let server = Server::start_with(state(db, &posted)).await;
    let card = posted.pairs[0].0.clone();
    let old = db.store.card_by_number(&card).await.unwrap().unwrap();
    let case = open_case(&server, &card).await;

    // The verdict needs the chip read first.
    let (status, a) = verdict(&server, case, None).await;
    assert_eq!(status, 409, "{a}");
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("no chip diagnostic")
    );

    let (reading, _) = read(posted.chips[0].clone());
    let (status, a) = diagnose(&server, case, reading).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["chip"], json!("intact"), "{a}");
    assert_eq!(a["data_vs_request"], json!("matches"), "{a}");
    assert_eq!(
        a["diagnostic"]["passive_authentication"]["result"],
        json!("verified")
    );
    for f in a["diagnostic"]["files"].as_array().unwrap() {
        assert_eq!(f["as_written"], json!(true), "{f}");
    }
    assert!(a["lines"][0].as_str().unwrap().starts_with("PUCE INTACTE"));

    let a = defect(&server, case, "photo", Some("print")).await;
    assert!(a["lines"][0].as_str().unwrap().contains("CONFIRMÉ"), "{a}");
    defect(&server, case, "nom", None).await;
    // A confirmed defect without a cause, or with a cause we do not know: refused.
    let (status, a) = station_post(
        &server,
        &format!("/v1/stations/quality/cases/{case}/defects"),
        json!({ "analyst": "Inès", "element": "verso", "confirmed": true }),
    )
    .await;
    assert_eq!((status, &a["error"]), (422, &json!("missing_cause")), "{a}");
    let (status, a) = station_post(
        &server,
        &format!("/v1/stations/quality/cases/{case}/defects"),
        json!({ "analyst": "Inès", "element": "verso", "confirmed": true, "cause": "coffee" }),
    )
    .await;
    assert_eq!((status, &a["error"]), (422, &json!("invalid_cause")), "{a}");

    let (status, a) = verdict(&server, case, None).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["verdict"], json!("manufacturer_fault"));
    assert_eq!(a["rule"], json!("manufacturing_defect"));
    // The free replacement: same data, renewal index + 1, the previous expiry kept.
    let new_number = a["replacement_card_number"].as_str().unwrap().to_string();
    let expected = CardNumber::parse(&card).unwrap().next_renewal().unwrap();
    assert_eq!(new_number, expected.to_string());
    let new = db.store.card_by_number(&new_number).await.unwrap().unwrap();
    assert_eq!(new.expiry_date, old.expiry_date);
    assert_eq!(
        (
            new.surname.clone(),
            new.given_names.clone(),
            new.birth_date.clone()
        ),
        (
            old.surname.clone(),
            old.given_names.clone(),
            old.birth_date.clone()
        )
    );
    assert_eq!(new.kind, "replacement_quality");
    assert_eq!(new.request_id, format!("quality-case-{case}"));
    let verdicts = events(db, "quality.verdict").await;
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0]["verdict"], json!("manufacturer_fault"));
    assert_eq!(verdicts[0]["free_replacement"], json!(true));
    assert_eq!(verdicts[0]["findings"]["because"], json!(["photo"]));

    // Decided: nothing more is recorded on it.
    let (status, _) = verdict(&server, case, None).await;
    assert_eq!(status, 409);
    // The service stopped between the verdict and the replacement: asking the verdict again
    // makes it, and intake's idempotency gives the same card, never a second one.
    let unlinked = db
        .exec(
            "UPDATE quality_cases SET replacement_request_id = NULL \
             WHERE replacement_request_id = $1",
            &[&format!("quality-case-{case}")],
        )
        .await
        .unwrap();
    assert_eq!(unlinked, 1);
    let cards_before = db.store.counts().await.unwrap().cards;
    let (status, a) = verdict(&server, case, None).await;
    assert_eq!(
        (status, &a["outcome"]),
        (200, &json!("replacement_resumed")),
        "{a}"
    );
    assert_eq!(a["replacement_card_number"], json!(new_number));
    assert_eq!(db.store.counts().await.unwrap().cards, cards_before);
    let (status, _) = verdict(&server, case, None).await;
    assert_eq!(status, 409, "owed nothing any more");
    let (status, _) = station_post(
        &server,
        &format!("/v1/stations/quality/cases/{case}/defects"),
        json!({ "analyst": "Inès", "element": "photo", "confirmed": false }),
    )
    .await;
    assert_eq!(status, 409);

    // The defective card is destroyed under dual control: revoked, the body out of stock.
    let id = db
        .store
        .request_destruction(
            &card,
            cqcfab::store::destruction::DestructionReason::QualityReturn,
            cqcfab::store::destruction::Method::CrossCutShredder,
            "Inès",
        )
        .await
        .unwrap();
    db.store.approve_destruction(id, "Marc").await.unwrap();
    assert_eq!(card_state(db, &card).await, "destroyed");
    assert!(db.store.is_revoked(&card).await.unwrap());
    // Its retention period over, the diagnostic (which names differing values) goes with the
    // rest of the personal data; the case and its verdict stay.
    db.store.clock().advance(time::Duration::days(91));
    db.store
        .retention_sweep(
            cqcfab::store::retention::Retention::default(),
            false,
            "test",
        )
        .await
        .unwrap();
    let purged = db.store.quality_case(case).await.unwrap();
    assert!(purged.diagnostic.is_none());
    assert_eq!(purged.verdict.as_deref(), Some("manufacturer_fault"));
    assert_records_sound(db).await;
    server.stop().await;
}

/// A copy of `chip` whose EF.SOD is signed by another bureau's document signer.
fn foreign_copy(chip: &VirtualCard) -> (VirtualCard, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(dir.path()).unwrap();
    let signer = FileSigner::open(&pki.ds_key(), &pki.ds_cert()).unwrap();
    let files: Vec<(u16, Vec<u8>)> = [
        cqcfab::chip::data_groups::FID_COM,
        FID_DG1,
        FID_DG5,
        FID_DG6,
    ]
    .into_iter()
    .map(|fid| (fid, chip.file(fid).unwrap().to_vec()))
    .collect();
    let sod_file = sod::build(&files, &signer, 1_795_000_000).unwrap();
    let mut all = files;
    all.push((FID_SOD, sod_file));
    let mut reader = InProcessReader::new(
        "forger",
        VirtualCard::new(CardSpec::standard(chip.serial()), MASTER, vec![]),
    );
    script::personalise(&mut reader, MASTER, &all).unwrap();
    (reader.into_card(), dir)
}

async fn a_corrupted_data_group_is_our_fault_and_an_unknown_signer_is_not_ours(db: &TestDb) {
    let posted = encoded_and_posted(db, 2, DATE).await;
    let server = Server::start_with(state(db, &posted)).await;

    // A cell of DG6 (the portrait) lost: the hash no longer matches EF.SOD nor production.
    let (card, _) = &posted.pairs[0];
    let case = open_case(&server, card).await;
    let mut chip = posted.chips[0].clone();
    assert!(chip.corrupt(FID_DG6, 200, 0x10));
    let (reading, _) = read(chip);
    let (status, a) = diagnose(&server, case, reading).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["chip"], json!("altered"), "{a}");
    assert_eq!(
        a["diagnostic"]["passive_authentication"]["result"],
        json!("failed")
    );
    let detail = a["diagnostic"]["passive_authentication"]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains("DG6"), "{detail}");
    let dg6 = a["diagnostic"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "DG6")
        .unwrap();
    assert_eq!(dg6["as_written"], json!(false));
    // No defect declared on the chip, none found by use: the chip failed on its own.
    let (_, a) = verdict(&server, case, None).await;
    assert_eq!(
        (&a["verdict"], &a["rule"]),
        (
            &json!("manufacturer_fault"),
            &json!("chip_failed_without_damage")
        ),
        "{a}"
    );

    // The same card data, but EF.SOD signed by someone else's key: not a card we made.
    let (card, _) = &posted.pairs[1];
    let case = open_case(&server, card).await;
    let (forged, _pki) = foreign_copy(&posted.chips[1]);
    let (reading, _) = read(forged);
    let (_, a) = diagnose(&server, case, reading).await;
    assert_eq!(a["chip"], json!("not_ours"), "{a}");
    assert_eq!(
        a["diagnostic"]["passive_authentication"]["result"],
        json!("unknown_signer")
    );
    assert!(a["lines"][0].as_str().unwrap().contains("NON ÉMISE"), "{a}");
    defect(&server, case, "puce", Some("chip")).await;
    let (_, a) = verdict(&server, case, None).await;
    assert_eq!(
        (&a["verdict"], &a["rule"]),
        (&json!("holder_fault"), &json!("not_issued_by_bureau")),
        "{a}"
    );
    assert!(a["replacement_request_id"].is_null());

    // Another card's chip with this coupon: refused, nothing recorded.
    let (reading, _) = read(posted.chips[0].clone());
    let (status, a) = diagnose(&server, case, reading).await;
    assert_eq!((status, &a["outcome"]), (200, &json!("wrong_card")), "{a}");
    assert!(
        a["lines"][0]
            .as_str()
            .unwrap()
            .starts_with("MAUVAISE CARTE")
    );
    assert_records_sound(db).await;
    server.stop().await;
}

async fn a_card_pulled_out_mid_read_records_nothing_and_reads_whole_again(db: &TestDb) {
    let posted = encoded_and_posted(db, 1, DATE).await;
    let server = Server::start_with(state(db, &posted)).await;
    let (card, _) = &posted.pairs[0];
    let case = open_case(&server, card).await;
    let mut chip = posted.chips[0].clone();
    chip.reinsert();
    chip.add_fault(Fault::RemovedAtApdu(chip.apdu_count() + 9));
    let mut reader = InProcessReader::new("desk", chip);
    let err = script::read_application(&mut reader, &FILES).unwrap_err();
    assert!(
        matches!(
            err,
            script::PersoError::Transport(TransportError::CardRemoved { .. })
        ),
        "{err:?}"
    );
    assert!(
        db.store
            .quality_case(case)
            .await
            .unwrap()
            .diagnostic
            .is_none(),
        "a half reading is never sent"
    );
    let mut chip = reader.into_card();
    chip.reinsert();
    let (reading, _) = read(chip);
    let (_, a) = diagnose(&server, case, reading).await;
    assert_eq!(a["chip"], json!("intact"), "{a}");

    // A malformed reading is refused with where.
    let (status, a) = diagnose(
        &server,
        case,
        json!({ "chip_serial": "00", "files": [{ "fid": "ZZZZ", "state": "read", "data": "" }] }),
    )
    .await;
    assert_eq!(status, 422, "{a}");
    assert!(
        a["message"].as_str().unwrap().contains("files[0].fid"),
        "{a}"
    );
    assert_eq!(
        db.store.quality_case(case).await.unwrap().chip.as_deref(),
        Some("intact")
    );

    // A chip that no longer answers as a card of ours (the station sends why): read again
    // until the verdict, the last reading counts; with no damage by use it is our fault.
    let (status, a) = diagnose(
        &server,
        case,
        json!({ "unreadable": "the card answers with a wrong ATR" }),
    )
    .await;
    assert_eq!((status, &a["chip"]), (200, &json!("unreadable")), "{a}");
    assert!(a["lines"][0].as_str().unwrap().contains("ILLISIBLE"), "{a}");
    let (_, a) = verdict(&server, case, None).await;
    assert_eq!(a["rule"], json!("chip_failed_without_damage"), "{a}");
    server.stop().await;
}

async fn holder_correction(server: &Server, case: &str, body: Value) -> (u16, Value) {
    send(
        server.addr,
        "POST",
        &format!("/v1/quality-returns/{case}/holder-correction"),
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {TOKEN}")),
        ],
        body.to_string().into_bytes(),
    )
    .await
}

async fn data_as_submitted_is_the_holders_fault_and_the_correction_makes_the_paid_card(
    db: &TestDb,
) {
    let posted = encoded_and_posted(db, 1, DATE).await;
    let server = Server::start_with(state(db, &posted)).await;
    let (card, _) = &posted.pairs[0];
    let case = open_case(&server, card).await;
    let (reading, _) = read(posted.chips[0].clone());
    diagnose(&server, case, reading).await;
    defect(&server, case, "prénom", Some("data")).await;
    let (_, a) = verdict(&server, case, None).await;
    assert_eq!(
        (&a["verdict"], &a["rule"]),
        (&json!("holder_fault"), &json!("data_as_submitted")),
        "{a}"
    );
    assert!(a["replacement_request_id"].is_null());
    let v = events(db, "quality.verdict").await;
    assert_eq!(v[0]["verdict"], json!("holder_fault"));
    assert_eq!(v[0]["free_replacement"], json!(false));

    // The holder corrects the given names and pays.
    let id = case.to_string();
    let (status, a) = holder_correction(
        &server,
        &id,
        json!({ "holder": { "given_names": "Marie Claire" } }),
    )
    .await;
    assert_eq!(status, 422, "a paid replacement needs its payment: {a}");
    let (status, a) = holder_correction(
        &server,
        &id,
        json!({ "holder": { "given_names": "Marie Claire" }, "kind": "first_issue", "payment_ref": "PAY-1" }),
    )
    .await;
    assert_eq!((status, &a["error"]), (422, &json!("unknown_field")), "{a}");
    let (status, a) = holder_correction(
        &server,
        &id,
        json!({ "holder": { "birth_date": "1990-02-30" }, "payment_ref": "PAY-1" }),
    )
    .await;
    assert_eq!(status, 422, "{a}");
    assert_eq!(a["errors"][0]["path"], json!("holder.birth_date"), "{a}");
    let (status, a) = holder_correction(
        &server,
        &id,
        json!({ "holder": { "given_names": "Marie Claire" }, "payment_ref": "PAY-778812" }),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    let new = db
        .store
        .card_by_number(a["card_number"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.given_names.as_deref(), Some("Marie Claire"));
    let old = db.store.card_by_number(card).await.unwrap().unwrap();
    assert_eq!(new.surname, old.surname);
    assert_eq!(
        db.store
            .quality_case(case)
            .await
            .unwrap()
            .correction_payment_ref
            .as_deref(),
        Some("PAY-778812")
    );
    let (status, _) = holder_correction(&server, "99999", json!({ "payment_ref": "P" })).await;
    assert_eq!(status, 404);
    let (status, _) = holder_correction(&server, "abc", json!({ "payment_ref": "P" })).await;
    assert_eq!(status, 404);
    assert_records_sound(db).await;
    server.stop().await;
}

async fn a_fee_waiver_needs_a_second_person(db: &TestDb) {
    let posted = encoded_and_posted(db, 1, DATE).await;
    let server = Server::start_with(state(db, &posted)).await;
    let (card, _) = &posted.pairs[0];
    let case = open_case(&server, card).await;
    let (reading, _) = read(posted.chips[0].clone());
    diagnose(&server, case, reading).await;
    defect(&server, case, "recto", Some("wear")).await;
    let (status, a) = verdict(&server, case, Some("client fidèle, usure précoce")).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["outcome"], json!("waiver_requested"), "{a}");
    assert!(
        events(db, "quality.verdict").await.is_empty(),
        "nothing told before the supervisor"
    );
    let analyst = "Inès".to_string();
    let intake = Intake::new(db.store.clone());
    let err = desk::settle_waiver(&intake, case, &analyst.to_uppercase(), true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            desk::DeskError::Quality(QualityError::SamePerson { .. })
        ),
        "{err:?}"
    );
    let refused = db
        .store
        .audit_history("card", card)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "quality.four_eyes_refused")
        .count();
    assert_eq!(refused, 1);
    // The database refuses it too, whatever code writes the row.
    let bypass = db
        .exec(
            "UPDATE quality_cases SET waiver_approved_by = waiver_requested_by \
             WHERE waiver_requested_by = $1",
            &[&analyst],
        )
        .await;
    assert!(bypass.is_err(), "{bypass:?}");

    let (settled, replacement) = desk::settle_waiver(&intake, case, "Marc", true)
        .await
        .unwrap();
    assert_eq!(settled.verdict.as_deref(), Some("holder_fault"));
    assert!(settled.fee_waived);
    assert_eq!(settled.waiver_approved_by.as_deref(), Some("Marc"));
    let (_, number) = replacement.unwrap();
    assert!(number.is_some());
    let v = events(db, "quality.verdict").await;
    assert_eq!(
        (&v[0]["fee_waived"], &v[0]["free_replacement"]),
        (&json!(true), &json!(true))
    );
    // Settled once.
    assert!(
        desk::settle_waiver(&intake, case, "Marc", false)
            .await
            .is_err()
    );
    // A waived fee is not paid again by a correction.
    let (status, _) = holder_correction(
        &server,
        &case.to_string(),
        json!({ "payment_ref": "PAY-2" }),
    )
    .await;
    assert_eq!(status, 409);
    assert_records_sound(db).await;
    server.stop().await;
}

/// The vpcd reader the station uses, and its port (.ci/lib.sh: one vpcd block, channel 0).
const READER: &str = "Virtual PCD 00 00";
const VPCD_PORT: u16 = 0x8C7B;

fn pcscd_available() -> bool {
    let found = cqcfab_drivers::pcsc_reader::readers()
        .map(|r| r.iter().any(|n| n == READER))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("CQCFAB_REQUIRE_PCSC").is_none(),
            "CQCFAB_REQUIRE_PCSC is set but pcscd with the vpcd reader {READER:?} is not running"
        );
        eprintln!("SKIPPED: no pcscd with vpcd readers; run .ci/test to start one");
    }
    found
}

/// Puts `chip` in the vpcd reader until `stop`; a card pulled out by a fault goes back in
/// after a moment (the analyst re-inserts it).
fn serve_chip(mut chip: VirtualCard, stop: &AtomicBool) -> VirtualCard {
    let addr = SocketAddr::from(([127, 0, 0, 1], VPCD_PORT));
    while !stop.load(Ordering::Relaxed) {
        match vpcd::serve(addr, &mut chip, stop) {
            Ok(Ended::Stopped) => break,
            Ok(Ended::CardRemoved | Ended::Ejected) => {
                std::thread::sleep(Duration::from_millis(1500));
                chip.reinsert();
            }
            Ok(Ended::Closed) => chip.reset(),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    chip
}

async fn the_quality_station_reads_the_scanner_and_the_chip_through_pcscd(db: &TestDb) {
    if !pcscd_available() {
        return;
    }
    let posted = encoded_and_posted(db, 2, DATE).await;
    let server = Server::start_with(state(db, &posted)).await;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-scanner");
    let _one_at_a_time = PTY_CHILDREN.lock().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(["station", "quality", "--scanner"])
        .arg(&link)
        .args([
            "--reader",
            READER,
            "--card-wait",
            "30",
            "--service",
            &format!("http://{}", server.addr),
            "--analyst",
            "Inès",
        ])
        .env("CQCFAB_STATION_TOKEN", STATION_TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = StationOutput::of(&mut child);
    out.expect("SCANNER ABSENT");
    let mut scanner = plug_scanner(&link);
    out.expect("SCANNER PRÊT");

    // Noise and a coupon of a card that never left: nothing opened.
    send_scan(&mut scanner, b"RCF00");
    out.expect("LECTURE ILLISIBLE");
    let never = &unposted_card(db, posted.pairs.len()).await;
    send_scan(&mut scanner, format!("{}\r", coupon(never)).as_bytes());
    out.expect("REFUSÉ");

    // The coupon of a posted card: the case opens and the station waits for the card.
    let (card, _) = &posted.pairs[0];
    send_scan(&mut scanner, format!("{}\r", coupon(card)).as_bytes());
    out.expect("DOSSIER QUALITÉ");
    // The analyst puts the card in; it slips out after a few APDUs, then goes back in.
    let mut chip = posted.chips[0].clone();
    chip.reinsert();
    chip.add_fault(Fault::RemovedAtApdu(chip.apdu_count() + 8));
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let serving = scope.spawn(|| serve_chip(chip, &stop));
        // A failed expectation must still take the card out, or the scope never ends.
        let _stop = common::rack::StopOnDrop(&stop);
        out.expect("CARTE RETIRÉE");
        out.expect("PUCE INTACTE");
        out.expect("DONNÉES CONFORMES");
        use std::io::Write;
        writeln!(stdin, "defaut photo print tache sur le visage").unwrap();
        out.expect("CONFIRMÉ");
        writeln!(stdin, "defaut nom coffee").unwrap();
        out.expect("CAUSE INCONNUE");
        writeln!(stdin, "verdict").unwrap();
        out.expect("FAUTE FABRICANT");
        out.expect("Remplacement lancé");
        stop.store(true, Ordering::Relaxed);
        serving.join().unwrap();
    });

    // The second card: worn by use, the analyst asks for the fee to be waived.
    let (card2, _) = &posted.pairs[1];
    send_scan(&mut scanner, format!("{}\r", coupon(card2)).as_bytes());
    out.expect("DOSSIER QUALITÉ 2");
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let serving = scope.spawn(|| serve_chip(posted.chips[1].clone(), &stop));
        let _stop = common::rack::StopOnDrop(&stop);
        out.expect("PUCE INTACTE");
        use std::io::Write;
        writeln!(stdin, "defaut recto wear").unwrap();
        out.expect("CONFIRMÉ");
        writeln!(stdin, "verdict geste client fidèle").unwrap();
        out.expect("GESTE COMMERCIAL DEMANDÉ (damage_by_use)");
        writeln!(stdin, "verdict").unwrap();
        out.expect("waits for a supervisor");
        stop.store(true, Ordering::Relaxed);
        serving.join().unwrap();
    });
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    out.expect("Fin de poste qualité");
    assert!(child.wait().unwrap().success());

    let case = db
        .store
        .audit_history("card", card)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "quality.verdict")
        .count();
    assert_eq!(case, 1);
    assert_eq!(card_state(db, card).await, "returned_defective");
    assert_eq!(events(db, "quality.verdict").await.len(), 1);

    // The supervisor's side, through the command line: never the analyst who asked.
    let waiver = |by: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
            .args(db.cli_args())
            .args(["quality", "waiver", "approve", "2", "--by", by])
            .output()
            .unwrap()
    };
    let same = waiver("INÈS");
    assert!(!same.status.success());
    let err = String::from_utf8_lossy(&same.stderr);
    assert!(err.contains("another person must approve"), "{err}");
    let done = waiver("Marc");
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(said.contains("fee waived by Marc"), "{said}");
    let v = events(db, "quality.verdict").await;
    assert_eq!(v.len(), 2);
    assert_eq!(
        (&v[1]["card_number"], &v[1]["fee_waived"]),
        (&json!(card2), &json!(true))
    );
    assert_records_sound(db).await;
    server.stop().await;
}
