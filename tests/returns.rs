//! Returned undelivered mail, on both backends: the mailroom's scans recorded against the
//! piece (slot, states, audit, portal event), the service route the stations call, and the
//! mailroom station program end to end: a pseudo-terminal plays the serial scanner, the
//! station talks to a real service on loopback.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::TestDb;
use common::http::{Server, TOKEN, send};
use common::station_io::{PTY_CHILDREN, StationOutput, plug_scanner, send_scan};
use cqcfab::clock::Clock;
use cqcfab::post::pnd::ReturnReason;
use cqcfab::service::{AppState, Token};
use cqcfab::store::returns::{ReturnError, ReturnOutcome, Scanner};
use serde_json::{Value, json};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    a_returned_piece_is_held_in_a_slot_and_the_portal_is_told,
    a_piece_that_never_left_or_is_unknown_changes_nothing,
    a_returned_card_that_was_revoked_goes_to_destruction,
    a_late_return_of_an_old_piece_never_touches_the_newer_one,
    the_scan_route_admits_stations_only_and_names_bad_input,
    the_mailroom_station_reads_a_serial_scanner_and_answers_through_the_service,
    the_holders_decision_sends_the_card_again_from_its_slot,
    a_decision_out_of_turn_is_refused_and_changes_nothing,
);

const DATE: &str = "2026-11-27";
const DAY_MS: i64 = 86_400_000;
const STATION: &str = "mailroom-1";
const STATION_TOKEN: &str = "mailroom-1-token-0123456789";

fn by() -> Scanner<'static> {
    Scanner {
        station: STATION,
        clerk: "Nadia",
    }
}

async fn card_state(db: &TestDb, card: &str) -> String {
    db.store.card_by_number(card).await.unwrap().unwrap().state
}

async fn piece_states(db: &TestDb, card: &str) -> Vec<(String, String)> {
    let c = db.store.card_by_number(card).await.unwrap().unwrap();
    db.store
        .pieces_of_card(c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.piece_id, p.state))
        .collect()
}

async fn returned_events(db: &TestDb) -> Vec<Value> {
    db.store
        .events(Some("piece.returned_undelivered"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap()["data"].clone())
        .collect()
}

async fn a_returned_piece_is_held_in_a_slot_and_the_portal_is_told(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::dispatched(db, 3, DATE).await;
    let (card0, piece0) = &pairs[0];
    let (card1, piece1) = &pairs[1];

    let out = s
        .record_return(piece0, ReturnReason::Npai, by(), 90 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(
        out,
        ReturnOutcome::Held {
            piece_id: piece0.clone(),
            card_number: card0.clone(),
            slot: 1,
            reason: ReturnReason::Npai,
            now: true,
        }
    );
    assert_eq!(card_state(db, card0).await, "held");
    assert_eq!(
        piece_states(db, card0).await,
        [(piece0.clone(), "awaiting_decision".to_string())]
    );

    // The same piece scanned again: the same slot said, nothing else.
    let again = s
        .record_return(piece0, ReturnReason::Refused, by(), 90 * DAY_MS)
        .await
        .unwrap();
    assert!(
        matches!(
            &again,
            ReturnOutcome::Held {
                slot: 1,
                now: false,
                reason: ReturnReason::Npai,
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(returned_events(db).await.len(), 1, "one event per return");

    // The next return takes the next slot.
    let out = s
        .record_return(piece1, ReturnReason::NotCollected, by(), 90 * DAY_MS)
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            ReturnOutcome::Held {
                slot: 2,
                now: true,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(card_state(db, card1).await, "held");

    // The portal hears of it, with the address the piece was posted to.
    let events = returned_events(db).await;
    assert_eq!(events.len(), 2);
    let e = &events[0];
    assert_eq!(e["piece_id"], json!(piece0));
    assert_eq!(e["card_number"], json!(card0));
    assert_eq!(e["reason"], json!("npai"));
    assert_eq!(e["decision_expected"], json!(true));
    let posted = s
        .pieces_of_card(s.card_by_number(card0).await.unwrap().unwrap().id)
        .await
        .unwrap()[0]
        .address_lines();
    assert_eq!(e["posted_address"], json!(posted));
    assert!(
        e["decision_due"]
            .as_str()
            .unwrap()
            .starts_with("2027-02-25"),
        "{e}"
    );

    // The record: slot, reason, due date; the audit trail says who and why.
    let r = s.return_of_piece(piece0).await.unwrap().unwrap();
    assert_eq!(
        (r.slot, r.reason.as_str(), r.outcome.as_str()),
        (Some(1), "npai", "held")
    );
    assert_eq!(r.decision_due_at - r.returned_at, 90 * DAY_MS);
    let held: Vec<i64> = s
        .held_in_slots()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.slot)
        .collect();
    assert_eq!(held, [1, 2]);
    let mut actions: Vec<(String, String)> = Vec::new();
    for (kind, id) in [("mail_piece", piece0), ("card", card0)] {
        for a in s.audit_history(kind, id).await.unwrap() {
            actions.push((a.actor, a.action));
        }
    }
    for action in [
        "piece.returned_undelivered",
        "card.return_undelivered",
        "card.store",
    ] {
        assert!(
            actions.contains(&("Nadia".to_string(), action.to_string())),
            "{action} by the clerk in {actions:?}"
        );
    }
    let report = s.verify_audit().await.unwrap();
    assert!(report.is_intact(), "the audit chain verifies: {report:?}");
}

async fn a_piece_that_never_left_or_is_unknown_changes_nothing(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::cards_with_carriers(db, 1).await;
    let (card, piece) = &pairs[0];
    let e = s
        .record_return(piece, ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ReturnError::NotPosted { state, .. } if state == "created"),
        "{e}"
    );
    assert!(e.to_string().contains(piece.as_str()), "{e}");
    assert_eq!(card_state(db, card).await, "personalised");
    let e = s
        .record_return("LA999999995FR", ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap_err();
    assert!(matches!(e, ReturnError::UnknownPiece(_)), "{e}");
    assert!(s.return_of_piece(piece).await.unwrap().is_none());
    assert!(returned_events(db).await.is_empty());
}

async fn a_returned_card_that_was_revoked_goes_to_destruction(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::dispatched(db, 1, DATE).await;
    let (card, piece) = &pairs[0];
    // Declared lost while in the post, and revoked before its replacement was made.
    db.exec(
        "UPDATE cards SET state = 'revoked' WHERE card_number = $1",
        &[card],
    )
    .await
    .unwrap();
    let out = s
        .record_return(piece, ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap();
    assert!(
        matches!(&out, ReturnOutcome::ToDestruction { card_state, now: true, .. } if card_state == "revoked"),
        "{out:?}"
    );
    assert_eq!(
        card_state(db, card).await,
        "revoked",
        "no slot, no decision"
    );
    assert_eq!(piece_states(db, card).await[0].1, "returned_undelivered");
    let r = s.return_of_piece(piece).await.unwrap().unwrap();
    assert_eq!((r.slot, r.outcome.as_str()), (None, "to_destruction"));
    assert_eq!(
        returned_events(db).await[0]["decision_expected"],
        json!(false)
    );
    let again = s
        .record_return(piece, ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap();
    assert!(
        matches!(again, ReturnOutcome::ToDestruction { now: false, .. }),
        "{again:?}"
    );
}

async fn a_late_return_of_an_old_piece_never_touches_the_newer_one(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::dispatched(db, 1, DATE).await;
    let (card, old_piece) = &pairs[0];
    s.record_return(old_piece, ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap();
    // The holder gave a new address; the card left its slot in a new carrier. (Set up by
    // hand here: what matters is what a late scan of the old envelope does.)
    db.exec(
        "UPDATE mail_pieces SET state = 'readdressed' WHERE piece_id = $1",
        &[old_piece],
    )
    .await
    .unwrap();
    db.exec(
        "UPDATE mail_returns SET slot = NULL WHERE piece_id = $1",
        &[old_piece],
    )
    .await
    .unwrap();
    db.exec(
        "UPDATE cards SET state = 'personalised', address_lines = $1, postcode = '69002' \
         WHERE card_number = $2",
        &[
            r#"["M JEAN DUPONT","4 QUAI JULES COURMONT","69002 LYON"]"#,
            card,
        ],
    )
    .await
    .unwrap();
    let la = cqcfab::post::s10::ServiceIndicator::new("LA").unwrap();
    let (new_piece, _) = s
        .piece_for(card, la, common::production::PRODUCT, "test")
        .await
        .unwrap();
    common::production::post(
        db,
        &[(card.clone(), new_piece.piece_id.clone())],
        "2026-12-01",
    )
    .await;
    assert_eq!(card_state(db, card).await, "dispatched");

    // The old envelope turns up again in the mailroom.
    let out = s
        .record_return(old_piece, ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap();
    assert_eq!(
        out,
        ReturnOutcome::AlreadySettled {
            piece_id: old_piece.clone(),
            state: "readdressed".into()
        }
    );
    assert_eq!(
        card_state(db, card).await,
        "dispatched",
        "the card on its way is left alone"
    );
    let states = piece_states(db, card).await;
    assert!(
        states.contains(&(new_piece.piece_id.clone(), "dispatched".to_string())),
        "{states:?}"
    );
    assert_eq!(
        returned_events(db).await.len(),
        1,
        "no second return reported"
    );
}

fn station_state(db: &TestDb) -> AppState {
    AppState::new(db.store.clone(), Some(Token::new(TOKEN)))
        .with_stations(&[(STATION.to_string(), STATION_TOKEN.to_string())])
}

async fn scan(server: &Server, token: &str, body: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    send(
        server.addr,
        "POST",
        "/v1/stations/mailroom/scans",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

async fn the_scan_route_admits_stations_only_and_names_bad_input(db: &TestDb) {
    let pairs = common::production::dispatched(db, 1, DATE).await;
    let (card, piece) = &pairs[0];
    let server = Server::start_with(station_state(db)).await;
    let body = json!({ "code": piece, "reason": "npai", "clerk": "Nadia" }).to_string();

    // The portal's token is not a station's; no token is nobody's.
    assert_eq!(scan(&server, TOKEN, &body).await.0, 401);
    assert_eq!(scan(&server, "", &body).await.0, 401);
    assert_eq!(card_state(db, card).await, "dispatched");

    let (status, a) = scan(&server, STATION_TOKEN, "{\"code\": ").await;
    assert_eq!(status, 400, "{a}");
    assert!(a["message"].as_str().unwrap().contains("line 1"), "{a}");
    let (status, a) = scan(
        &server,
        STATION_TOKEN,
        &json!({ "code": piece, "reason": "lost", "clerk": "Nadia" }).to_string(),
    )
    .await;
    assert_eq!(status, 422, "{a}");
    assert!(a["message"].as_str().unwrap().contains("\"lost\""), "{a}");
    let (status, _) = scan(
        &server,
        STATION_TOKEN,
        &json!({ "code": piece, "clerk": " " }).to_string(),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        card_state(db, card).await,
        "dispatched",
        "nothing recorded by bad input"
    );

    // A piece before any reason: asked for the reason, nothing recorded.
    let (status, a) = scan(
        &server,
        STATION_TOKEN,
        &json!({ "code": piece, "clerk": "Nadia" }).to_string(),
    )
    .await;
    assert_eq!(
        (status, a["outcome"].as_str()),
        (200, Some("reason_needed")),
        "{a}"
    );
    assert_eq!(card_state(db, card).await, "dispatched");

    let (status, a) = scan(&server, STATION_TOKEN, &body).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["outcome"], json!("held"));
    assert_eq!(a["slot"], json!(1));
    assert_eq!(a["ok"], json!(true));
    assert!(a["message"].as_str().unwrap().starts_with("CASE 1"), "{a}");
    let audit = db.store.audit_history("mail_piece", piece).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "piece.returned_undelivered")
        .unwrap();
    assert!(
        entry.after.as_deref().unwrap_or("").contains(STATION),
        "{entry:?}"
    );
    server.stop().await;
}

async fn the_mailroom_station_reads_a_serial_scanner_and_answers_through_the_service(db: &TestDb) {
    let pairs = common::production::dispatched(db, 3, DATE).await;
    let server = Server::start_with(station_state(db)).await;
    let dir = tempfile::tempdir().unwrap();
    let link: PathBuf = dir.path().join("usb-scanner");
    // A child process inherits the pseudo-terminal masters open when it starts (they are not
    // close-on-exec), and an inherited master would keep an "unplugged" scanner alive: the
    // station starts before any scanner is plugged, and one such test runs at a time.
    let _one_at_a_time = PTY_CHILDREN.lock().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(["station", "mailroom", "--scanner"])
        .arg(&link)
        .args([
            "--service",
            &format!("http://{}", server.addr),
            "--clerk",
            "Nadia",
        ])
        .env("CQCFAB_STATION_TOKEN", STATION_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = StationOutput::of(&mut child);
    // Not plugged in yet: the station says so and waits.
    out.expect("SCANNER ABSENT");
    let mut scanner = plug_scanner(&link);
    out.expect("SCANNER PRÊT");

    let (card0, piece0) = &pairs[0];
    let (_, piece1) = &pairs[1];
    let (card2, piece2) = &pairs[2];
    send_scan(&mut scanner, format!("{piece0}\r").as_bytes());
    out.expect("MOTIF ?");
    send_scan(&mut scanner, b"PND-NPAI\r");
    out.expect("MOTIF : N'habite pas");
    send_scan(&mut scanner, format!("{piece0}\r").as_bytes());
    let line = out.expect("CASE");
    assert!(
        line.starts_with(&format!("OK CASE 1 — rangez la carte {card0}")),
        "{line}"
    );
    send_scan(&mut scanner, format!("{piece0}\r").as_bytes());
    out.expect("DÉJÀ ENREGISTRÉ");
    // Two codes glued (the terminator lost between them): neither is recorded.
    send_scan(&mut scanner, format!("{piece1}{piece2}\r").as_bytes());
    out.expect("DEUX CODES COLLÉS");
    // A partial code then silence; a code ended by the wrong terminator; garbage.
    send_scan(&mut scanner, b"LA1234");
    out.expect("LECTURE ILLISIBLE");
    send_scan(&mut scanner, format!("{piece1}\t").as_bytes());
    out.expect("LECTURE ILLISIBLE");
    send_scan(&mut scanner, b"HELLO-WORLD\r");
    out.expect("CODE INCONNU");
    send_scan(&mut scanner, b"LA999999995FR\r");
    out.expect("PLI INCONNU");

    // Unplugged mid-shift, plugged back: the station carries on.
    drop(scanner);
    out.expect("SCANNER DÉBRANCHÉ");
    let mut scanner = plug_scanner(&link);
    out.expect("SCANNER PRÊT");
    send_scan(&mut scanner, format!("{piece1}\r").as_bytes());
    let line = out.expect("CASE");
    assert!(line.contains("CASE 2"), "{line}");

    // The shift ends.
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let tally = out.expect("Fin de poste");
    assert!(tally.contains("held 2"), "{tally}");
    assert!(child.wait().unwrap().success());

    assert_eq!(card_state(db, card0).await, "held");
    assert_eq!(
        card_state(db, card2).await,
        "dispatched",
        "the glued code recorded nothing"
    );
    assert_eq!(returned_events(db).await.len(), 2);
    server.stop().await;
}

async fn decide(server: &Server, piece: &str, body: Value) -> (u16, Value) {
    common::http::post_json(
        server.addr,
        &format!("/v1/returns/{piece}/decision"),
        body.to_string().into_bytes(),
    )
    .await
}

fn new_address() -> Value {
    json!({
        "recipient": "M JEAN DUPONT",
        "delivery_point": null,
        "building": null,
        "street": "4 QUAI JULES COURMONT",
        "locality": null,
        "postcode": "69002",
        "city": "LYON",
        "cedex": null,
        "country": "FR"
    })
}

async fn the_holders_decision_sends_the_card_again_from_its_slot(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::dispatched(db, 2, DATE).await;
    let (card0, piece0) = &pairs[0];
    let (card1, piece1) = &pairs[1];
    for (_, piece) in &pairs {
        s.record_return(piece, ReturnReason::Npai, by(), 90 * DAY_MS)
            .await
            .unwrap();
    }
    let server = Server::start_with(station_state(db)).await;

    // Resend as is.
    let (status, a) = decide(&server, piece0, json!({ "action": "resend" })).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["decision"], json!("resend"));
    assert_eq!(a["card_number"], json!(card0));
    // Readdress: a bad address and no payment are refused with every problem named.
    let (status, a) = decide(
        &server,
        piece1,
        json!({ "action": "readdress", "delivery_address": { "recipient": "M JEAN DUPONT",
                "street": "4 QUAI JULES COURMONT", "postcode": "6900", "city": "LYON",
                "country": "FR" } }),
    )
    .await;
    assert_eq!(status, 422, "{a}");
    let paths: Vec<&str> = a["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"payment_ref"), "{a}");
    assert!(paths.contains(&"delivery_address.postcode"), "{a}");
    assert_eq!(piece_states(db, card1).await[0].1, "awaiting_decision");
    let (status, a) = decide(
        &server,
        piece1,
        json!({ "action": "readdress", "payment_ref": "PAY-778812",
                "delivery_address": new_address() }),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    let c1 = s.card_by_number(card1).await.unwrap().unwrap();
    assert_eq!(c1.postcode.as_deref(), Some("69002"));
    assert_eq!(
        c1.state, "held",
        "the card stays in its slot until it is taken out"
    );

    // Answered once: a second answer is a conflict.
    let (status, a) = decide(&server, piece0, json!({ "action": "resend" })).await;
    assert_eq!(status, 409, "{a}");
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("already answered resend"),
        "{a}"
    );
    let (status, _) = decide(&server, "LA999999995FR", json!({ "action": "resend" })).await;
    assert_eq!(status, 404);

    // Both cards are due for a new carrier; the readdressed one goes to the new address.
    let mut due = s.cards_awaiting_piece().await.unwrap();
    due.sort();
    assert_eq!(due, [card0.clone(), card1.clone()]);
    let la = cqcfab::post::s10::ServiceIndicator::new("LA").unwrap();
    let mut new_pieces = Vec::new();
    for card in [card0, card1] {
        let (p, made) = s
            .piece_for(card, la, common::production::PRODUCT, "test")
            .await
            .unwrap();
        assert!(made);
        new_pieces.push(p);
    }
    assert_eq!(new_pieces[1].postcode, "69002");
    assert_eq!(
        new_pieces[0].address,
        s.pieces_of_card(s.card_by_number(card0).await.unwrap().unwrap().id,)
            .await
            .unwrap()[0]
            .address,
        "a resend goes to the address it was posted to"
    );
    let resent: Vec<Value> = s
        .events(Some("piece.resent"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap()["data"].clone())
        .collect();
    assert_eq!(resent.len(), 2);
    assert_eq!(resent[0]["previous_piece_id"], json!(piece0));
    assert_eq!(resent[1]["decision"], json!("readdress"));
    assert!(s.cards_awaiting_piece().await.unwrap().is_empty());

    // At the mailroom, the new carrier letter tells which slot holds its card.
    let (status, a) = scan(
        &server,
        STATION_TOKEN,
        &json!({ "code": new_pieces[0].piece_id, "reason": "npai", "clerk": "Nadia" }).to_string(),
    )
    .await;
    assert_eq!(
        (status, a["outcome"].as_str(), a["slot"].as_i64()),
        (200, Some("retrieve"), Some(1)),
        "{a}"
    );
    assert!(
        a["message"].as_str().unwrap().contains(card0.as_str()),
        "{a}"
    );
    // Also before any reason is scanned (a clerk fetching cards for the inserting line).
    let (status, a) = scan(
        &server,
        STATION_TOKEN,
        &json!({ "code": new_pieces[1].piece_id, "clerk": "Nadia" }).to_string(),
    )
    .await;
    assert_eq!(
        (status, a["outcome"].as_str(), a["slot"].as_i64()),
        (200, Some("retrieve"), Some(2)),
        "{a}"
    );

    // The inserting station's card-to-carrier match takes each card out of its slot.
    let inserted = s
        .insert_card(
            &cqcfab::store::insertion::CardKey::Number(card0.clone()),
            &new_pieces[0].piece_id,
            "insert-t",
        )
        .await
        .unwrap();
    assert_eq!(inserted.from_slot, Some(1));
    let inserted = s
        .insert_card(
            &cqcfab::store::insertion::CardKey::Number(card1.clone()),
            &new_pieces[1].piece_id,
            "insert-t",
        )
        .await
        .unwrap();
    assert_eq!(inserted.from_slot, Some(2));
    assert!(
        s.held_in_slots().await.unwrap().is_empty(),
        "both slots are free"
    );
    let pairs: Vec<(String, String)> = vec![
        (card0.clone(), new_pieces[0].piece_id.clone()),
        (card1.clone(), new_pieces[1].piece_id.clone()),
    ];
    let (batch, _) = s
        .batch_inserted(common::production::PRODUCT, "2026-11-30", "test")
        .await
        .unwrap();
    s.close_batch(&batch.batch_id, "test", None).await.unwrap();
    s.hand_over(&batch.batch_id, "test").await.unwrap();
    for (card, piece) in &pairs {
        assert_eq!(card_state(db, card).await, "dispatched");
        assert!(
            piece_states(db, card)
                .await
                .contains(&(piece.clone(), "dispatched".to_string()))
        );
    }
    assert_eq!(
        piece_states(db, card0).await[0],
        (piece0.clone(), "resent".to_string())
    );
    assert_eq!(
        piece_states(db, card1).await[0],
        (piece1.clone(), "readdressed".to_string())
    );

    // The old envelope again, or a decision on it: nothing changes.
    let (status, _) = decide(&server, piece0, json!({ "action": "resend" })).await;
    assert_eq!(status, 409);
    let out = s
        .record_return(piece0, ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap();
    assert!(
        matches!(out, ReturnOutcome::AlreadySettled { .. }),
        "{out:?}"
    );
    assert_eq!(card_state(db, card0).await, "dispatched");
    server.stop().await;
}

async fn a_decision_out_of_turn_is_refused_and_changes_nothing(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::dispatched(db, 2, DATE).await;
    let (card0, piece0) = &pairs[0];
    let (card1, piece1) = &pairs[1];
    let server = Server::start_with(station_state(db)).await;
    // Not returned: nothing to decide.
    let (status, _) = decide(&server, piece0, json!({ "action": "resend" })).await;
    assert_eq!(status, 404);
    // Returned, but the time to answer is over.
    s.record_return(piece0, ReturnReason::Npai, by(), -1)
        .await
        .unwrap();
    let (status, a) = decide(&server, piece0, json!({ "action": "resend" })).await;
    assert_eq!(status, 409, "{a}");
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("time to answer is over"),
        "{a}"
    );
    assert_eq!(card_state(db, card0).await, "held");
    // Returned after the card was revoked: destruction, no decision.
    db.exec(
        "UPDATE cards SET state = 'revoked' WHERE card_number = $1",
        &[card1],
    )
    .await
    .unwrap();
    s.record_return(piece1, ReturnReason::Npai, by(), DAY_MS)
        .await
        .unwrap();
    let (status, a) = decide(&server, piece1, json!({ "action": "resend" })).await;
    assert_eq!(status, 409, "{a}");
    // Malformed and unknown actions and fields: 422 naming them; wrong token: 401.
    let (status, a) = decide(&server, piece0, json!({ "action": "burn" })).await;
    assert_eq!(status, 422, "{a}");
    let (status, a) = decide(&server, piece0, json!({ "action": "resend", "tip": 5 })).await;
    assert_eq!(
        (status, a["errors"][0]["path"].as_str()),
        (422, Some("tip")),
        "{a}"
    );
    let (status, _) = send(
        server.addr,
        "POST",
        &format!("/v1/returns/{piece0}/decision"),
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {STATION_TOKEN}")),
        ],
        br#"{"action":"resend"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 401, "a station token is not the portal's");
    assert_eq!(
        s.return_of_piece(piece0).await.unwrap().unwrap().decision,
        None
    );
    server.stop().await;
}
