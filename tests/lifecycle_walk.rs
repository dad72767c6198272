//! The life cycle as documented: every transition listed in docs/lifecycle.md is applied by
//! production code, on both backends (issue 18 §3, "no state exists only on paper").
//!
//! The tables are parsed from the markdown file itself. First, each machine's table must be
//! exactly its `next` function (no row the code refuses, no transition the doc omits). Then
//! cards are driven through the paths production uses — the portal API and the mailroom
//! station over HTTP, the render worker, the encoding station on simulated chips, the
//! inserting and batch calls of the post, the retention sweep, the quality desk, the daily
//! expiry job, and the `cqcfab` binary for the supervisor's commands (authority decisions, a
//! damaged card, destructions under dual control) — never `cards::apply` with a chosen event.
//! At the end every documented transition must be in the audit trail: `card.<event>` records
//! with their before and after states (intake writes its two as `request.accepted` and
//! `request.held`), and for pieces the records that name them.
//!
//! The day, on one clock: day 0 takes in, renders, encodes (one blank fails), damages three
//! cards before they leave, posts, takes losses, thefts, a renewal of a card in the post whose
//! piece then comes back, undelivered returns and the holders' answers; day 22 presumes
//! delivery, takes a late return, quality returns, a renewal, the authority's decisions; day
//! 41 expires two cards, renews one late and destroys what is left in the trays.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use common::TestDb;
use common::http::{Server, TOKEN};
use cqcfab::clock::Clock;
use cqcfab::domain::lifecycle::{CardEvent, CardState, PieceEvent, PieceState};
use cqcfab::post::s10::ServiceIndicator;
use cqcfab::render::Renderer;
use cqcfab::render::card_data::DEFAULT_AUTHORITY;
use cqcfab::render::worker;
use cqcfab::service::{AppState, Token};
use cqcfab::station::encode::{self, Mode};
use cqcfab::station::readers::{Hopper, InProcessSlot, ReaderSlot};
use cqcfab::store::insertion::CardKey;
use cqcfab::store::retention::Retention;
use cqcfab_simulator::blanks::Blanks;
use cqcfab_simulator::card::Fault;
use serde_json::{Value, json};
use time::Duration;
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    every_documented_transition_is_applied_by_production_code,
    a_renewal_supersedes_its_predecessor_when_personalised_wherever_it_is,
    expiry_runs_from_cron_and_in_serve_and_the_supervisor_commands_refuse_what_the_table_refuses,
);

const STATION: &str = "mailroom-walk";
const STATION_TOKEN: &str = "mailroom-walk-token-0123456789";
const PRODUCT: &str = common::production::PRODUCT;
const FIRST_SERIAL: u64 = 0x0B0B_0000_0000_0001;

type Triple = (String, String, String);

/// The transitions table of the section that starts with `heading`: (from, event, to), one per
/// source state.
fn documented(heading: &str) -> BTreeSet<Triple> {
    let text = std::fs::read_to_string(common::repo_path("docs/lifecycle.md")).unwrap();
    let section = &text[text.find(heading).unwrap_or_else(|| panic!("no {heading}"))..];
    let header = section
        .find("| From | Event | To | Applied by |")
        .unwrap_or_else(|| panic!("no transitions table after {heading}"));
    let mut out = BTreeSet::new();
    for line in section[header..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 4, "{line}");
        assert!(!cells[3].is_empty(), "no code path named: {line}");
        let event = cells[1].trim_matches('`');
        for from in cells[0].split(", ") {
            let triple = (from.to_string(), event.to_string(), cells[2].to_string());
            assert!(out.insert(triple), "row listed twice: {line}");
        }
    }
    assert!(!out.is_empty(), "empty table after {heading}");
    out
}

fn card_table() -> BTreeSet<Triple> {
    documented("## 1. The card")
}

fn piece_table() -> BTreeSet<Triple> {
    documented("## 2. The mail piece")
}

#[test]
fn the_documented_card_table_is_the_machine() {
    let mut code = BTreeSet::new();
    for s in CardState::ALL {
        for e in CardEvent::ALL {
            if let Some(to) = s.next(e) {
                code.insert((s.to_string(), e.to_string(), to.to_string()));
            }
        }
    }
    let doc = card_table();
    assert_eq!(
        doc.difference(&code).collect::<Vec<_>>(),
        Vec::<&Triple>::new(),
        "documented, refused by CardState::next"
    );
    assert_eq!(
        code.difference(&doc).collect::<Vec<_>>(),
        Vec::<&Triple>::new(),
        "accepted by CardState::next, not documented"
    );
}

#[test]
fn the_documented_piece_table_is_the_machine() {
    let mut code = BTreeSet::new();
    for s in PieceState::ALL {
        for e in PieceEvent::ALL {
            if let Some(to) = s.next(e) {
                code.insert((s.to_string(), e.to_string(), to.to_string()));
            }
        }
    }
    assert_eq!(piece_table(), code);
}

/// The production line around one test database.
struct Walk<'a> {
    db: &'a TestDb,
    server: Server,
    renderer: Arc<Renderer>,
    station: encode::Station,
    blanks: Arc<Mutex<Blanks>>,
    hopper: Hopper,
    ee: ServiceIndicator,
    /// The binary's data folder (its keys, nothing else).
    data: tempfile::TempDir,
    _pki: tempfile::TempDir,
    /// Every card made, with the request it came from.
    cards: Vec<(String, Value)>,
}

impl<'a> Walk<'a> {
    async fn new(db: &'a TestDb) -> Walk<'a> {
        let state = AppState::new(db.store.clone(), Some(Token::new(TOKEN)))
            .with_stations(&[(STATION.to_string(), STATION_TOKEN.to_string())])
            .with_decision_days(30);
        let server = Server::start_with(state).await;
        db.store
            .receive_lot("LOT-WALK", FIRST_SERIAL, FIRST_SERIAL + 199, "walk")
            .await
            .unwrap();
        let ee = ServiceIndicator::new("LA").unwrap();
        db.store
            .add_s10_range("LA-WALK", ee, 10_000_000, 10_000_999, "walk")
            .await
            .unwrap();
        let pki_dir = tempfile::tempdir().unwrap();
        let pki = cqcfab::chip::pki::TestPki::ensure(pki_dir.path()).unwrap();
        let station = common::production::file_station(
            &db.store,
            &pki,
            common::production::MASTER,
            "encode-walk",
            3,
        );
        // The first blank's write fails: the station spoils it and goes on (in_production
        // --spoil--> in_production).
        let blanks = Blanks::new(FIRST_SERIAL, FIRST_SERIAL + 199, common::production::MASTER)
            .fault(
                0,
                vec![Fault::WriteFailAt {
                    fid: 0x0106,
                    offset: 0,
                }],
            );
        Walk {
            db,
            server,
            renderer: Arc::new(Renderer::new(DEFAULT_AUTHORITY).unwrap()),
            station,
            blanks: Arc::new(Mutex::new(blanks)),
            hopper: Hopper::default(),
            ee,
            data: tempfile::tempdir().unwrap(),
            _pki: pki_dir,
            cards: Vec::new(),
        }
    }

    fn today(&self) -> String {
        self.db.store.clock().today().to_string()
    }

    fn advance_days(&self, days: i64) {
        self.db.store.clock().advance(Duration::days(days));
    }

    /// A first-issue request of its own.
    fn first_issue(tag: &str) -> Value {
        let mut doc = common::fixture_of("first_issue");
        doc["request_id"] = json!(format!("WALK-{tag}"));
        doc["expected_expiry"] = Value::Null;
        doc["expected_code95"] = Value::Null;
        doc
    }

    /// A first issue whose initial qualification (FIMO) ended on `training_end`: the card
    /// expires five years later.
    fn first_issue_trained(tag: &str, training_end: &str) -> Value {
        let mut doc = Walk::first_issue(tag);
        doc["qualifications"][0]["training"] = json!("fimo");
        doc["qualifications"][0]["training_end"] = json!(training_end);
        doc
    }

    /// The request of card `number`, taken in earlier.
    fn request_of(&self, number: &str) -> Value {
        self.cards
            .iter()
            .find(|(n, _)| n == number)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no request for {number}"))
    }

    /// A renewal or replacement of card `number`, by its holder.
    async fn successor_of(&self, number: &str, tag: &str, replacement: Option<Value>) -> Value {
        let card = self.db.store.card_by_number(number).await.unwrap().unwrap();
        let mut doc = self.request_of(number);
        doc["request_id"] = json!(format!("WALK-{tag}"));
        doc["previous_card"] = json!({ "number": number, "expiry": card.expiry_date });
        doc["expected_expiry"] = Value::Null;
        doc["expected_code95"] = Value::Null;
        match replacement {
            Some(r) => {
                doc["kind"] = json!("replacement");
                doc["replacement"] = r;
            }
            None => {
                doc["kind"] = json!("renewal");
                doc["replacement"] = Value::Null;
                doc["qualifications"][0]["training"] = json!("fco");
                doc["qualifications"][0]["training_end"] = json!(self.today());
            }
        }
        doc
    }

    /// The portal sends `doc`: the card number of the accepted request.
    async fn take(&mut self, doc: Value) -> String {
        let (status, body) = common::http::post_json(
            self.server.addr,
            "/v1/requests",
            serde_json::to_vec(&doc).unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{} refused: {body}", doc["request_id"]);
        let number = body["card_number"].as_str().unwrap().to_string();
        self.cards.push((number.clone(), doc));
        number
    }

    async fn render(&self) -> Vec<worker::Done> {
        worker::drain(&self.db.store, &self.renderer, "walk", 1, |_| {})
            .await
            .into_iter()
            .map(|d| d.expect("render"))
            .collect()
    }

    /// The encoding station until no job is left.
    async fn encode(&self) -> Vec<encode::Event> {
        let station = self.station.clone();
        let slots: Vec<Box<dyn ReaderSlot>> = vec![Box::new(InProcessSlot::new(
            "sim walk",
            self.blanks.clone(),
            self.hopper.clone(),
        ))];
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let stop = AtomicBool::new(false);
            drop(encode::run_station(
                &station,
                slots,
                &rt,
                &stop,
                Mode::Drain,
                &|e| seen.lock().unwrap().push(e),
            ));
        })
        .await
        .unwrap();
        std::mem::take(&mut *events.lock().unwrap())
    }

    /// Carriers for every card waiting for one, as `cqcfab post letters` makes them.
    async fn letters(&self) -> Vec<(String, String)> {
        let mut made = Vec::new();
        for number in self.db.store.cards_awaiting_piece().await.unwrap() {
            let (piece, _) = self
                .db
                .store
                .piece_for(&number, self.ee, PRODUCT, "letters")
                .await
                .unwrap();
            made.push((number, piece.piece_id));
        }
        made
    }

    async fn insert(&self, card: &str, piece: &str) {
        self.db
            .store
            .insert_card(&CardKey::Number(card.to_string()), piece, "insert-walk")
            .await
            .unwrap_or_else(|e| panic!("insert {card} into {piece}: {e}"));
    }

    /// Every inserted piece into the day's batch (open, not closed): its id.
    async fn batch(&self) -> String {
        let (batch, _) = self
            .db
            .store
            .batch_inserted(PRODUCT, &self.today(), "post")
            .await
            .unwrap();
        batch.batch_id
    }

    async fn close_and_hand_over(&self, batch: &str) {
        self.db
            .store
            .close_batch(batch, "post", None)
            .await
            .unwrap();
        self.db.store.hand_over(batch, "post").await.unwrap();
    }

    async fn scan_return(&self, piece: &str) -> Value {
        let auth = format!("Bearer {STATION_TOKEN}");
        let (status, answer) = common::http::send(
            self.server.addr,
            "POST",
            "/v1/stations/mailroom/scans",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            json!({ "code": piece, "reason": "npai", "clerk": "Nadia" })
                .to_string()
                .into_bytes(),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    async fn decide(&self, piece: &str, body: Value) -> (u16, Value) {
        common::http::post_json(
            self.server.addr,
            &format!("/v1/returns/{piece}/decision"),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// The `cqcfab` binary on this database and data folder.
    fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"));
        common::child::isolate(&mut c)
            .args(self.db.cli_args())
            .arg("--data")
            .arg(self.data.path());
        c
    }

    /// `cqcfab <args>` as a supervisor runs it: its output, after checking it succeeded.
    fn cli(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "cqcfab {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// `cqcfab <args>` that must fail: its error output.
    fn cli_fails(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "cqcfab {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        text
    }

    /// Takes `tags` in as first issues, renders and encodes them; their card numbers.
    async fn made(&mut self, tags: &[&str]) -> Vec<String> {
        let mut numbers = Vec::new();
        for tag in tags {
            numbers.push(self.take(Walk::first_issue(tag)).await);
        }
        self.render().await;
        self.encode().await;
        numbers
    }

    /// Carriers for `numbers` (made now if needed), inserted, batched and handed to the post.
    async fn post(&self, numbers: &[String]) -> Vec<String> {
        let mut pieces = Vec::new();
        for n in numbers {
            let (piece, _) = self
                .db
                .store
                .piece_for(n, self.ee, PRODUCT, "letters")
                .await
                .unwrap();
            self.insert(n, &piece.piece_id).await;
            pieces.push(piece.piece_id);
        }
        let batch = self.batch().await;
        self.close_and_hand_over(&batch).await;
        pieces
    }

    fn authority(&self, verb: &str, card: &str) {
        self.cli(&[
            "lifecycle",
            verb,
            "--card",
            card,
            "--reference",
            &format!("DEC-{verb}-{card}"),
            "--by",
            "Sophie",
        ]);
    }

    /// Destroyed under dual control, through the command line.
    fn destroy(&self, card: &str, reason: &str) {
        let out = self.cli(&[
            "destruction",
            "request",
            "--card",
            card,
            "--reason",
            reason,
            "--by",
            "Alice",
        ]);
        let id = out
            .strip_prefix("destruction ")
            .and_then(|r| r.split(':').next())
            .unwrap_or_else(|| panic!("no destruction id in {out}"));
        self.cli(&["destruction", "approve", id, "--by", "Bruno"]);
    }

    async fn sweep(&self) {
        self.db
            .store
            .retention_sweep(Retention::default(), false, "retention-worker")
            .await
            .unwrap();
    }

    async fn state(&self, card: &str) -> String {
        common::card_state(self.db, card).await
    }

    async fn piece_state(&self, piece: &str) -> String {
        for (number, _) in &self.cards {
            let c = self.db.store.card_by_number(number).await.unwrap().unwrap();
            for p in self.db.store.pieces_of_card(c.id).await.unwrap() {
                if p.piece_id == piece {
                    return p.state;
                }
            }
        }
        panic!("no piece {piece}")
    }
}

fn json_of(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn state_in(v: &Value) -> Option<String> {
    v.get("state").and_then(Value::as_str).map(str::to_string)
}

async fn every_documented_transition_is_applied_by_production_code(db: &TestDb) {
    let s = &db.store;
    let mut w = Walk::new(db).await;

    // ---- Day 0: intake, production, the damaged cards, the post ----
    let tags = [
        "LOST-D",
        "STOLEN-D",
        "PND-RESEND",
        "PND-READDRESS",
        "PND-UNCLAIMED",
        "RENEW-INPOST",
        "LOST-H",
        "STOLEN-H",
        "LATE-RETURN",
        "Q-RETURNED",
        "Q-KEPT",
        "Q-COUPON",
        "RENEWED",
        "AUTH-1",
        "AUTH-2",
        "AUTH-3",
        "AUTH-4",
        "DAMAGED-1",
        "DAMAGED-2",
        "DAMAGED-3",
        "STOP-RENDER",
        "STOP-RENDER-2",
        "STOP-ENCODE",
    ];
    let mut card = std::collections::BTreeMap::new();
    for tag in tags {
        let n = w.take(Walk::first_issue(tag)).await;
        card.insert(tag, n);
    }
    // Two cards that expire on day 40: their training ended five years before that.
    for tag in ["EXP-1", "EXP-2"] {
        let n = w.take(Walk::first_issue_trained(tag, "2022-01-06")).await;
        card.insert(tag, n);
    }
    // The portal's expiry differs from ours: held for review.
    let mut held = Walk::first_issue("HELD");
    held["expected_expiry"] = json!("2030-01-01");
    let held = w.take(held).await;
    assert_eq!(w.state(&held).await, "held_for_review");
    let mut held_2 = Walk::first_issue("HELD-2");
    held_2["expected_expiry"] = json!("2030-01-01");
    held_2["holder"]["licence_number"] = json!("13WK00002");
    let held_2 = w.take(held_2).await;

    // An unusable photo (its stored bytes truncated): the render worker stops the card.
    let render_stop = w.request_of(&card["STOP-RENDER"])["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let truncate = if db.backend == "postgres" {
        "UPDATE request_media SET bytes = substring(bytes from 1 for 700) \
         WHERE request_id = $1 AND role = 'photo'"
    } else {
        "UPDATE request_media SET bytes = substr(bytes, 1, 700) \
         WHERE request_id = $1 AND role = 'photo'"
    };
    db.exec(truncate, &[&render_stop]).await.unwrap();
    let render_stop_2 = w.request_of(&card["STOP-RENDER-2"])["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    db.exec(truncate, &[&render_stop_2]).await.unwrap();
    let rendered = w.render().await;
    assert!(
        rendered.iter().any(|d| matches!(d, worker::Done::Stopped { card_number, .. } if *card_number == card["STOP-RENDER"])),
        "{rendered:?}"
    );
    assert_eq!(w.state(&card["STOP-RENDER"]).await, "stopped");

    // Its chip portrait lost after rendering: the encoding station stops the card.
    db.exec(
        "DELETE FROM card_artifacts WHERE name = 'chip-portrait.jpg' \
         AND card_id = (SELECT id FROM cards WHERE card_number = $1)",
        &[&card["STOP-ENCODE"]],
    )
    .await
    .unwrap();
    let events = w.encode().await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, encode::Event::Spoiled { .. })),
        "the faulty first blank is spoiled: {events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, encode::Event::Stopped { card_number, .. } if *card_number == card["STOP-ENCODE"])),
        "{events:?}"
    );
    assert_eq!(w.state(&card["STOP-ENCODE"]).await, "stopped");
    // Both stages tell the portal: the photo is the driver's to correct, the lost portrait
    // ours (no field).
    let stopped: Vec<Value> = s
        .events(Some("card.stopped"))
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap())
        .collect();
    let told = |n: &str| {
        stopped
            .iter()
            .find(|d| d["data"]["card_number"] == n || d["card_number"] == n)
            .cloned()
    };
    let render_told = told(&card["STOP-RENDER"]).expect("card.stopped for the photo");
    assert!(
        render_told.to_string().contains("\"photo\""),
        "{render_told}"
    );
    let encode_told = told(&card["STOP-ENCODE"]).expect("card.stopped at encoding");
    assert!(
        encode_told.to_string().contains("\"fields\":[]"),
        "{encode_told}"
    );
    assert_eq!(w.state(&card["LOST-D"]).await, "personalised");

    // Carriers; three cards found damaged before they leave, at three stages of the post.
    let pieces: std::collections::BTreeMap<String, String> =
        w.letters().await.into_iter().collect();
    assert_eq!(pieces.len(), 22, "every personalised card: {pieces:?}");
    let piece = |tag: &str| pieces[&card[tag]].clone();
    w.cli(&[
        "lifecycle",
        "damaged",
        "--card",
        &card["DAMAGED-1"],
        "--reason",
        "print scratched",
        "--by",
        "Marc",
    ]);
    assert_eq!(w.piece_state(&piece("DAMAGED-1")).await, "cancelled");
    w.insert(&card["DAMAGED-2"], &piece("DAMAGED-2")).await;
    w.cli(&[
        "lifecycle",
        "damaged",
        "--card",
        &card["DAMAGED-2"],
        "--reason",
        "body cracked at the inserting table",
        "--by",
        "Marc",
    ]);
    for (n, p) in &pieces {
        if ![&card["DAMAGED-1"], &card["DAMAGED-2"]].contains(&n) {
            w.insert(n, p).await;
        }
    }
    let batch = w.batch().await;
    w.cli(&[
        "lifecycle",
        "damaged",
        "--card",
        &card["DAMAGED-3"],
        "--reason",
        "chip lifted, seen in the open batch",
        "--by",
        "Marc",
    ]);
    w.close_and_hand_over(&batch).await;
    for tag in ["DAMAGED-1", "DAMAGED-2", "DAMAGED-3"] {
        assert_eq!(w.state(&card[tag]).await, "in_production", "{tag}");
    }
    assert_eq!(w.state(&card["LOST-D"]).await, "dispatched");
    // Written again on fresh blanks, under the same numbers.
    w.encode().await;
    for tag in ["DAMAGED-1", "DAMAGED-2", "DAMAGED-3"] {
        assert_eq!(w.state(&card[tag]).await, "personalised", "{tag}");
    }

    // Loss and theft while in the post: declared and revoked at intake.
    let lost_d = w
        .successor_of(
            &card["LOST-D"],
            "R-LOST-D",
            Some(json!({ "reason": "loss" })),
        )
        .await;
    w.take(lost_d).await;
    let stolen_d = w
        .successor_of(
            &card["STOLEN-D"],
            "R-STOLEN-D",
            Some(json!({ "reason": "theft", "theft_declaration_ref": "PV-2026-0001" })),
        )
        .await;
    w.take(stolen_d).await;
    assert_eq!(w.state(&card["LOST-D"]).await, "revoked");
    // A renewal made while the old card travels.
    let renewal = w
        .successor_of(&card["RENEW-INPOST"], "N-INPOST", None)
        .await;
    let renewal_inpost = w.take(renewal).await;
    w.render().await;
    w.encode().await;
    assert_eq!(w.state(&renewal_inpost).await, "personalised");
    assert_eq!(w.state(&card["LOST-D"]).await, "replaced");
    assert_eq!(w.state(&card["STOLEN-D"]).await, "replaced");
    assert_eq!(
        w.state(&card["RENEW-INPOST"]).await,
        "dispatched",
        "renewed only once delivered: `renew` is not accepted in the post"
    );

    // The post brings pieces back.
    for tag in ["PND-RESEND", "PND-READDRESS", "PND-UNCLAIMED"] {
        let a = w.scan_return(&piece(tag)).await;
        assert_eq!(a["outcome"], "held", "{tag}: {a}");
    }
    // The superseded card's piece goes to destruction, never to a resend.
    let a = w.scan_return(&piece("RENEW-INPOST")).await;
    assert_eq!(a["outcome"], "to_destruction", "{a}");
    assert_eq!(w.state(&card["RENEW-INPOST"]).await, "returned_undelivered");
    let (status, a) = w
        .decide(&piece("RENEW-INPOST"), json!({ "action": "resend" }))
        .await;
    assert_eq!(status, 409, "{a}");
    let (status, a) = w
        .decide(&piece("PND-RESEND"), json!({ "action": "resend" }))
        .await;
    assert_eq!(status, 200, "{a}");
    let (status, a) = w
        .decide(
            &piece("PND-READDRESS"),
            json!({ "action": "readdress", "payment_ref": "PAY-WALK-1", "delivery_address": {
                "recipient": "M JEAN DUPONT", "delivery_point": null, "building": null,
                "street": "4 QUAI JULES COURMONT", "locality": null, "postcode": "69002",
                "city": "LYON", "cedex": null, "country": "FR" } }),
        )
        .await;
    assert_eq!(status, 200, "{a}");
    // New carriers: the two answered returns, the three cards made again, the successors.
    let second: Vec<(String, String)> = w.letters().await;
    for tag in [
        "PND-RESEND",
        "PND-READDRESS",
        "DAMAGED-1",
        "DAMAGED-2",
        "DAMAGED-3",
    ] {
        assert!(
            second.iter().any(|(n, _)| *n == card[tag]),
            "{tag}: {second:?}"
        );
    }
    assert!(
        second.iter().any(|(n, _)| *n == renewal_inpost),
        "{second:?}"
    );
    for (n, p) in &second {
        w.insert(n, p).await;
    }
    let batch = w.batch().await;
    w.close_and_hand_over(&batch).await;
    assert_eq!(w.state(&card["PND-RESEND"]).await, "dispatched");
    w.destroy(&card["RENEW-INPOST"], "revoked_return");
    w.destroy(&card["LOST-D"], "replaced");

    // ---- Day 22: delivery presumed; what happens to cards with their holders ----
    w.advance_days(22);
    w.sweep().await;
    assert_eq!(w.state(&card["LATE-RETURN"]).await, "handed_over");
    let late = w.scan_return(&piece("LATE-RETURN")).await;
    assert_eq!(late["outcome"], "held", "{late}");
    let lost_h = w
        .successor_of(
            &card["LOST-H"],
            "R-LOST-H",
            Some(json!({ "reason": "loss" })),
        )
        .await;
    w.take(lost_h).await;
    let stolen_h = w
        .successor_of(
            &card["STOLEN-H"],
            "R-STOLEN-H",
            Some(json!({ "reason": "theft", "theft_declaration_ref": "PV-2026-0002" })),
        )
        .await;
    w.take(stolen_h).await;
    for tag in ["Q-RETURNED", "Q-KEPT"] {
        let q = w
            .successor_of(
                &card[tag],
                &format!("R-{tag}"),
                Some(json!({ "reason": "quality" })),
            )
            .await;
        w.take(q).await;
        assert_eq!(w.state(&card[tag]).await, "malfunctioning", "{tag}");
    }
    for tag in ["Q-RETURNED", "Q-COUPON"] {
        s.open_quality_case(&card[tag], "Quentin", "quality-walk")
            .await
            .unwrap();
        assert_eq!(w.state(&card[tag]).await, "returned_defective", "{tag}");
    }
    let renewal = w.successor_of(&card["RENEWED"], "N-RENEWED", None).await;
    w.take(renewal).await;
    w.authority("suspend", &card["AUTH-1"]);
    w.authority("reinstate", &card["AUTH-1"]);
    w.authority("withdraw", &card["AUTH-1"]);
    w.authority("suspend", &card["AUTH-2"]);
    w.authority("withdraw", &card["AUTH-2"]);
    w.authority("surrender", &card["AUTH-3"]);
    w.authority("suspend", &card["AUTH-4"]);
    w.authority("surrender", &card["AUTH-4"]);
    w.authority("suspend", &card["EXP-2"]);
    // The successors are made: each supersedes its predecessor.
    w.render().await;
    w.encode().await;
    assert_eq!(w.state(&card["RENEWED"]).await, "renewed");
    assert_eq!(w.state(&card["Q-RETURNED"]).await, "replaced");
    assert_eq!(w.state(&card["Q-KEPT"]).await, "replaced");
    assert_eq!(w.state(&card["LOST-H"]).await, "replaced");
    // Revoked by their replacements (reason `replaced`), or at intake (loss).
    let list = s.revocation_list().await.unwrap();
    let reason = |n: &str| {
        list.iter()
            .find(|r| r.card_number == n)
            .map(|r| r.reason.clone())
    };
    assert_eq!(reason(&card["Q-KEPT"]).as_deref(), Some("replaced"));
    assert_eq!(reason(&card["Q-RETURNED"]).as_deref(), Some("replaced"));
    assert_eq!(reason(&card["LOST-H"]).as_deref(), Some("lost"));
    assert_eq!(reason(&card["RENEWED"]), None, "a renewed card stays valid");
    // Bodies that came back, destroyed under dual control.
    w.destroy(&card["Q-RETURNED"], "quality_return");
    w.destroy(&card["Q-COUPON"], "quality_return");
    w.destroy(&card["RENEWED"], "revoked_return");
    w.destroy(&card["AUTH-1"], "revoked_return");
    w.destroy(&card["AUTH-3"], "revoked_return");

    // ---- Day 41: the daily expiry, a late renewal, the trays emptied ----
    w.advance_days(19);
    let run = s.expire_due(500, false, "expiry-worker").await.unwrap();
    let mut expired = run.expired.clone();
    expired.sort();
    let mut want = vec![card["EXP-1"].clone(), card["EXP-2"].clone()];
    want.sort();
    assert_eq!(expired, want, "{run:?}");
    assert!(
        s.expire_due(500, false, "expiry-worker")
            .await
            .unwrap()
            .expired
            .is_empty(),
        "a second run finds nothing"
    );
    let late_renewal = w.successor_of(&card["EXP-1"], "N-EXP-1", None).await;
    w.take(late_renewal).await;
    w.render().await;
    w.encode().await;
    assert_eq!(w.state(&card["EXP-1"]).await, "renewed");
    w.destroy(&card["EXP-2"], "revoked_return");
    let unclaimed = s.unclaimed_returns().await.unwrap();
    assert!(
        unclaimed
            .iter()
            .any(|(n, _, _)| *n == card["PND-UNCLAIMED"]),
        "{unclaimed:?}"
    );
    w.destroy(&card["PND-UNCLAIMED"], "unclaimed");

    // ---- Held and stopped requests leave by the supervisor's and the driver's paths ----
    w.cli(&["review", "release", &held, "--by", "Léa"]);
    assert_eq!(w.state(&held).await, "approved");
    w.cli(&[
        "review",
        "reject",
        &held_2,
        "--reason",
        "training_not_established",
        "--message",
        "Votre attestation ne permet pas d'établir la date attendue.",
        "--by",
        "Léa",
    ]);
    assert_eq!(w.state(&held_2).await, "rejected");
    // The driver sends a usable photo: the card goes back into the queue (stopped --correct).
    let photo = common::valid_fixtures()[3]["photo"].clone();
    let (status, body) = common::http::post_json(
        w.server.addr,
        &format!("/v1/requests/{render_stop}/correction"),
        json!({ "photo": photo }).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(w.state(&card["STOP-RENDER"]).await, "approved");
    // Ours to fix (the chip portrait is drawn again by a new render): released.
    w.cli(&["review", "release", &card["STOP-ENCODE"], "--by", "Léa"]);
    assert_eq!(w.state(&card["STOP-ENCODE"]).await, "approved");
    w.cli(&[
        "review",
        "cancel",
        &card["STOP-RENDER-2"],
        "--reason",
        "no_correction_received",
        "--message",
        "Sans nouvelle photo de votre part, la demande est annulée.",
        "--by",
        "Léa",
    ]);
    assert_eq!(w.state(&card["STOP-RENDER-2"]).await, "rejected");

    // ---- What the audit trail recorded ----
    let mut card_seen: BTreeSet<Triple> = BTreeSet::new();
    let mut piece_seen: BTreeSet<Triple> = BTreeSet::new();
    let mut all_cards: Vec<String> = w.cards.iter().map(|(n, _)| n.clone()).collect();
    all_cards.push(held.clone());
    all_cards.push(held_2.clone());
    let mut piece_ids = BTreeSet::new();
    for number in &all_cards {
        let c = s.card_by_number(number).await.unwrap().unwrap();
        for p in s.pieces_of_card(c.id).await.unwrap() {
            piece_ids.insert(p.piece_id);
        }
        for r in s.audit_history("card", number).await.unwrap() {
            let (before, after) = (json_of(r.before.as_deref()), json_of(r.after.as_deref()));
            let (Some(from), Some(to)) = (state_in(&before), state_in(&after)) else {
                continue;
            };
            let event = match r.action.as_str() {
                "request.accepted" => "approve".to_string(),
                "request.held" => "hold_for_review".to_string(),
                a => match a.strip_prefix("card.") {
                    Some(e) if CardEvent::parse(e).is_some() => e.to_string(),
                    _ => continue,
                },
            };
            card_seen.insert((from, event.clone(), to.clone()));
            // The piece the card moved with, named in the card's record.
            if let Some(p) = after.get("piece_id").and_then(Value::as_str) {
                let piece_move = match event.as_str() {
                    "insert" | "resend" => Some(("created", "insert", "inserted")),
                    "dispatch" => Some(("batched", "dispatch", "dispatched")),
                    "presume_delivered" => Some(("dispatched", "presume_delivered", "delivered")),
                    _ => None,
                };
                if let Some((f, e, t)) = piece_move {
                    assert!(
                        piece_ids.contains(p),
                        "{number} names {p}, not its own piece"
                    );
                    piece_seen.insert((f.into(), e.into(), t.into()));
                }
            }
        }
    }
    for piece_id in &piece_ids {
        for r in s.audit_history("mail_piece", piece_id).await.unwrap() {
            let (before, after) = (json_of(r.before.as_deref()), json_of(r.after.as_deref()));
            let (Some(from), Some(to)) = (state_in(&before), state_in(&after)) else {
                continue;
            };
            let event = match r.action.as_str() {
                "piece.batched" => "batch",
                "piece.cancelled" => "cancel",
                "piece.card_destroyed" => "destroy_card",
                "return.decided" => after["decision"].as_str().unwrap(),
                "piece.returned_undelivered" => {
                    piece_seen.insert((
                        from.clone(),
                        "return_undelivered".into(),
                        "returned_undelivered".into(),
                    ));
                    if to == "awaiting_decision" {
                        piece_seen.insert((
                            "returned_undelivered".into(),
                            "store".into(),
                            to.clone(),
                        ));
                    }
                    continue;
                }
                _ => continue,
            };
            piece_seen.insert((from, event.to_string(), to));
        }
    }
    let (cards_doc, pieces_doc) = (card_table(), piece_table());
    let missing: Vec<&Triple> = cards_doc
        .iter()
        .filter(|t| !card_seen.contains(*t))
        .collect();
    assert!(
        missing.is_empty(),
        "documented card transitions no code path applied: {missing:#?}"
    );
    let undocumented: Vec<&Triple> = card_seen.difference(&cards_doc).collect();
    assert!(
        undocumented.is_empty(),
        "applied but not documented: {undocumented:#?}"
    );
    let missing: Vec<&Triple> = pieces_doc
        .iter()
        .filter(|t| !piece_seen.contains(*t))
        .collect();
    assert!(
        missing.is_empty(),
        "documented piece transitions no code path applied: {missing:#?}"
    );

    // Everything on the way was kept straight.
    assert!(s.verify_audit().await.unwrap().is_intact());
    let stock = s.stock_report(3_600_000).await.unwrap();
    assert!(stock.reconciles(), "{:?}", stock.problems);
    w.server.stop().await;
}

/// Issue 18 §3: the predecessor becomes `renewed` when its renewal is personalised; a card in
/// the post is renewed once its delivery is presumed, and if its piece comes back instead it
/// goes to destruction, never to a resend; a card waiting in a slot is not sent again. The
/// portal hears of it in `card.personalised`.
async fn a_renewal_supersedes_its_predecessor_when_personalised_wherever_it_is(db: &TestDb) {
    let s = &db.store;
    let mut w = Walk::new(db).await;
    let old = w
        .made(&["IN-POST", "COMES-BACK", "IN-SLOT", "WITH-HOLDER"])
        .await;
    let (in_post, comes_back, in_slot, with_holder) = (&old[0], &old[1], &old[2], &old[3]);
    // One reached its holder long ago (its delivery presumed after the waiting period)...
    w.post(std::slice::from_ref(with_holder)).await;
    w.advance_days(22);
    w.sweep().await;
    assert_eq!(w.state(with_holder).await, "handed_over");
    // ...the others are posted now, and one of them is back already, waiting in a slot.
    let pieces = w
        .post(&[in_post.clone(), comes_back.clone(), in_slot.clone()])
        .await;
    assert_eq!(w.scan_return(&pieces[2]).await["outcome"], "held");
    assert_eq!(w.state(in_post).await, "dispatched");

    // The renewals are taken in and made.
    let mut renewal = std::collections::BTreeMap::new();
    for (i, n) in old.iter().enumerate() {
        let doc = w.successor_of(n, &format!("N-{i}"), None).await;
        renewal.insert(n.clone(), w.take(doc).await);
    }
    assert_eq!(
        w.state(with_holder).await,
        "handed_over",
        "requested is not superseded: only the personalisation supersedes"
    );
    w.render().await;
    w.encode().await;

    // With its holder: renewed at once, audited with the successor.
    assert_eq!(w.state(with_holder).await, "renewed");
    let history = s.audit_history("card", with_holder).await.unwrap();
    let renew = history.iter().find(|r| r.action == "card.renew").unwrap();
    assert!(
        renew
            .after
            .as_deref()
            .unwrap()
            .contains(&renewal[with_holder]),
        "{renew:?}"
    );
    assert!(renew.actor.starts_with("station:"), "{renew:?}");
    assert!(history.iter().any(|r| r.action == "card.superseded"));
    // In the post or in a slot: not renewed yet, but marked.
    assert_eq!(w.state(in_post).await, "dispatched");
    assert_eq!(w.state(in_slot).await, "held");
    for n in [in_post, comes_back, in_slot] {
        let c = s.card_by_number(n).await.unwrap().unwrap();
        assert_eq!(c.superseded_by.as_deref(), Some(renewal[n].as_str()));
    }
    // The portal is told, with the predecessor and where it stands.
    let events = s.events(Some("card.personalised")).await.unwrap();
    let told = |successor: &str| -> Value {
        events
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap())
            .find(|e| e["data"]["card_number"] == successor)
            .unwrap_or_else(|| panic!("no card.personalised for {successor}"))
    };
    let e = told(&renewal[with_holder]);
    assert_eq!(e["data"]["kind"], "renewal");
    assert_eq!(
        e["data"]["previous_card"],
        json!({ "card_number": with_holder, "state": "renewed" })
    );
    assert_eq!(
        told(&renewal[in_post])["data"]["previous_card"],
        json!({ "card_number": in_post, "state": "dispatched" })
    );

    // The old piece comes back: destruction tray, never a resend.
    let a = w.scan_return(&pieces[1]).await;
    assert_eq!(a["outcome"], "to_destruction", "{a}");
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains(&format!("remplacée par la carte {}", renewal[comes_back])),
        "{a}"
    );
    assert_eq!(w.state(comes_back).await, "returned_undelivered");
    assert_eq!(w.piece_state(&pieces[1]).await, "returned_undelivered");
    let (status, a) = w.decide(&pieces[1], json!({ "action": "resend" })).await;
    assert_eq!(status, 409, "{a}");
    let returned = s.events(Some("piece.returned_undelivered")).await.unwrap();
    let last: Value = serde_json::from_str(&returned.last().unwrap().payload).unwrap();
    assert_eq!(last["data"]["decision_expected"], false, "{last}");
    assert_eq!(last["data"]["superseded_by"], renewal[comes_back].as_str());
    // The one in a slot: its holder's answer is refused, no carrier is made, it is on the
    // destruction list at once.
    let (status, a) = w.decide(&pieces[2], json!({ "action": "resend" })).await;
    assert_eq!(status, 409, "{a}");
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("superseded by card"),
        "{a}"
    );
    let due = s.cards_awaiting_piece().await.unwrap();
    for n in [in_post, comes_back, in_slot] {
        assert!(!due.contains(n), "{n} must not get a carrier: {due:?}");
    }
    let unclaimed = s.unclaimed_returns().await.unwrap();
    assert!(
        unclaimed.iter().any(|(n, _, _)| n == in_slot),
        "{unclaimed:?}"
    );

    // The one still in the post is renewed when its delivery is presumed.
    w.advance_days(22);
    w.sweep().await;
    assert_eq!(w.state(in_post).await, "renewed");
    let history = s.audit_history("card", in_post).await.unwrap();
    let actions: Vec<&str> = history.iter().map(|r| r.action.as_str()).collect();
    let delivered = actions
        .iter()
        .rposition(|a| *a == "card.presume_delivered")
        .unwrap();
    assert_eq!(actions[delivered + 1], "card.renew", "{actions:?}");
    assert_eq!(history[delivered + 1].actor, "retention-worker");
    // The renewals themselves go on as any card.
    for n in &old {
        assert_eq!(w.state(&renewal[n]).await, "personalised");
    }
    assert!(s.verify_audit().await.unwrap().is_intact());
    w.server.stop().await;
}

/// The daily expiry from the command line (cron) and in `cqcfab serve`; and the supervisor's
/// commands refuse, naming why, what the life cycle does not allow. The binary runs on the
/// wall clock: the cards that expire end on 1 December 2026, before any day this test runs.
async fn expiry_runs_from_cron_and_in_serve_and_the_supervisor_commands_refuse_what_the_table_refuses(
    db: &TestDb,
) {
    let s = &db.store;
    let mut w = Walk::new(db).await;
    let mut numbers = Vec::new();
    for tag in ["X-1", "X-2", "Z", "KEEP"] {
        let doc = if tag == "KEEP" {
            Walk::first_issue(tag)
        } else {
            Walk::first_issue_trained(tag, "2021-12-01")
        };
        numbers.push(w.take(doc).await);
    }
    let [x1, x2, z, keep] = [&numbers[0], &numbers[1], &numbers[2], &numbers[3]];
    w.render().await;
    w.encode().await;
    w.post(&[x1.clone(), x2.clone(), keep.clone()]).await;
    w.advance_days(22);
    w.sweep().await;
    w.authority("suspend", x2);

    // Refusals, each naming what is wrong.
    let e = w.cli_fails(&[
        "lifecycle",
        "reinstate",
        "--card",
        keep,
        "--reference",
        "DEC-1",
        "--by",
        "Sophie",
    ]);
    assert!(
        e.contains("is handed_over") && e.contains("accepted only from suspended"),
        "{e}"
    );
    let e = w.cli_fails(&[
        "lifecycle",
        "withdraw",
        "--card",
        keep,
        "--reference",
        "  ",
        "--by",
        "Sophie",
    ]);
    assert!(e.contains("reference"), "{e}");
    let e = w.cli_fails(&[
        "lifecycle",
        "damaged",
        "--card",
        keep,
        "--reason",
        "scratched",
        "--by",
        "Marc",
    ]);
    assert!(e.contains("only a personalised or inserted card"), "{e}");
    let e = w.cli_fails(&[
        "lifecycle",
        "suspend",
        "--card",
        "CQC9999999999",
        "--reference",
        "D",
        "--by",
        "S",
    ]);
    assert!(e.contains("does not exist"), "{e}");
    assert_eq!(w.state(keep).await, "handed_over");

    // Cron: a dry run lists, changes nothing.
    let out = w.cli(&["lifecycle", "expire", "--dry-run"]);
    assert!(out.starts_with("2 card(s) would expire"), "{out}");
    assert!(
        out.contains(x1.as_str()) && out.contains(x2.as_str()),
        "{out}"
    );
    assert_eq!(w.state(x1).await, "handed_over");
    // For real, one card per transaction: both expire, the others are left alone.
    let out = w.cli(&["lifecycle", "expire", "--batch", "1"]);
    let today = Clock::System.today().to_string();
    assert!(
        out.starts_with(&format!(
            "2 card(s) expired (date of expiry before {today})"
        )),
        "{out}"
    );
    assert_eq!(w.state(x1).await, "expired");
    assert_eq!(w.state(x2).await, "expired", "suspended cards expire too");
    assert_eq!(w.state(keep).await, "handed_over", "valid until 2031");
    assert_eq!(w.state(z).await, "personalised", "not with its holder");
    let history = s.audit_history("card", x2).await.unwrap();
    let expire = history.iter().find(|r| r.action == "card.expire").unwrap();
    assert_eq!(expire.actor, "expiry");
    let after = json_of(expire.after.as_deref());
    assert_eq!(after["expiry_date"], "2026-12-01");
    assert_eq!(json_of(expire.before.as_deref())["state"], "suspended");
    // Idempotent.
    let out = w.cli(&["lifecycle", "expire"]);
    assert!(out.starts_with("0 card(s) expired"), "{out}");

    // The service does it by itself: a card that reaches its holder later expires under
    // `cqcfab serve`, at its start and every hour after.
    w.post(std::slice::from_ref(z)).await;
    w.advance_days(22);
    w.sweep().await;
    assert_eq!(w.state(z).await, "handed_over");
    cqcfab::chip::pki::TestPki::ensure(&w.data.path().join("pki")).unwrap();
    let port = common::child::free_port();
    let mut serve = w
        .command()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--render-workers", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while w.state(z).await != "expired" {
        if let Ok(Some(status)) = serve.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(serve.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("serve ended ({status}): {err}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "serve did not expire {z}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    serve.kill().unwrap();
    serve.wait().unwrap();
    let history = s.audit_history("card", z).await.unwrap();
    let expire = history.iter().find(|r| r.action == "card.expire").unwrap();
    assert_eq!(expire.actor, "expiry-worker");
    assert_eq!(w.state(keep).await, "handed_over");
    assert!(s.verify_audit().await.unwrap().is_intact());
    w.server.stop().await;
}
