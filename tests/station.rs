//! The encoding station with in-process readers: every card personalised, bound to its chip
//! and verifiable by passive authentication; every injected fault ends with the body spoiled
//! and the job resumed on a fresh blank; the stock ledger reconciles afterwards.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use common::TestDb;
use common::production::{file_station, rendered_cards};
use cqcfab::chip::data_groups::{FID_DG1, FID_SOD};
use cqcfab::chip::pki::TestPki;
use cqcfab::chip::{sod, tlv};
use cqcfab::clock::Clock;
use cqcfab::render::worker::ENCODE_JOB;
use cqcfab::station::encode::{self, Event, Mode};
use cqcfab::station::readers::{Hopper, InProcessSlot, ReaderSlot};
use cqcfab::store::jobs::NewJob;
use cqcfab::store::stock::StockError;
use cqcfab_simulator::blanks::Blanks;
use cqcfab_simulator::card::{Fault, LifeCycle, VirtualCard};
use serde_json::json;
use time::macros::date;

const MASTER: &[u8] = b"station test master";
const FIRST: u64 = 0x0C0C_0000_0000_0001;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 26))
}

struct Run {
    events: Vec<Event>,
    cards: Vec<VirtualCard>,
    pki: TestPki,
    _dir: tempfile::TempDir,
}

impl Run {
    fn personalised(&self) -> Vec<(&str, u64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Personalised {
                    card_number,
                    serial,
                    ..
                } => Some((card_number.as_str(), *serial)),
                _ => None,
            })
            .collect()
    }

    fn spoiled(&self) -> Vec<(u64, &str)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Spoiled { serial, reason, .. } => Some((*serial, reason.as_str())),
                _ => None,
            })
            .collect()
    }

    fn card(&self, serial: u64) -> &VirtualCard {
        self.cards
            .iter()
            .find(|c| c.serial() == serial)
            .unwrap_or_else(|| panic!("card {serial:016X} not in the hopper"))
    }
}

/// Runs a station with `readers` in-process readers fed by `blanks` until no job is ready.
async fn run_station(db: &TestDb, blanks: Blanks, readers: usize, blanks_per_job: u32) -> Run {
    run_station_unplugging(db, blanks, readers, blanks_per_job, None).await
}

/// The same, the first reader unplugged at the given APDU of its first card.
async fn run_station_unplugging(
    db: &TestDb,
    blanks: Blanks,
    readers: usize,
    blanks_per_job: u32,
    unplug_at: Option<u32>,
) -> Run {
    let dir = tempfile::tempdir().expect("tmp");
    let pki = TestPki::ensure(dir.path()).expect("pki");
    let station = file_station(&db.store, &pki, MASTER, "test-station", blanks_per_job);
    let blanks = Arc::new(Mutex::new(blanks));
    let hopper: Hopper = Arc::default();
    let slots: Vec<Box<dyn ReaderSlot>> = (0..readers)
        .map(|i| {
            let slot = InProcessSlot::new(format!("sim {i}"), blanks.clone(), hopper.clone());
            match unplug_at {
                Some(n) if i == 0 => Box::new(slot.unplug_at(n)) as Box<dyn ReaderSlot>,
                _ => Box::new(slot) as Box<dyn ReaderSlot>,
            }
        })
        .collect();
    let rt = tokio::runtime::Handle::current();
    let events = tokio::task::spawn_blocking(move || {
        let events = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        let slots = encode::run_station(&station, slots, &rt, &stop, Mode::Drain, &|e| {
            events.lock().expect("events").push(e)
        });
        drop(slots);
        events.into_inner().expect("events")
    })
    .await
    .expect("station thread");
    let cards = std::mem::take(&mut *hopper.lock().expect("hopper"));
    Run {
        events,
        cards,
        pki,
        _dir: dir,
    }
}

/// The card number DG1 of this chip holds.
fn dg1_card_number(card: &VirtualCard) -> String {
    let dg1 = tlv::parse(card.file(FID_DG1).expect("DG1")).expect("DG1 parses");
    dg1.find(0x5F0E).expect("5F0E").text()
}

/// What every run must leave: each personalised card bound to a chip that holds it, locked,
/// with an EF.SOD that verifies; the ledger reconciled.
async fn assert_sound(db: &TestDb, run: &Run) {
    let csca = run.pki.csca().expect("csca");
    for (number, serial) in run.personalised() {
        let card = db
            .store
            .card_by_number(number)
            .await
            .unwrap()
            .expect("card");
        assert_eq!(card.state, "personalised", "{number}");
        let chip = run.card(serial);
        assert_eq!(
            dg1_card_number(chip),
            number,
            "chip {serial:016X} holds its card"
        );
        assert_eq!(chip.life_cycle(), LifeCycle::Operational);
        let files: Vec<(u16, Vec<u8>)> = [0x0101, 0x0105, 0x0106]
            .iter()
            .map(|f| (*f, chip.file(*f).expect("DG").to_vec()))
            .collect();
        sod::verify(chip.file(FID_SOD).expect("SOD"), &files, &csca)
            .expect("passive authentication");
        let body = db.store.body(serial).await.unwrap().expect("body");
        assert_eq!(
            (body.state.as_str(), body.card_id),
            ("personalised", Some(card.id))
        );
    }
    let report = db.store.stock_report(60_000).await.unwrap();
    assert!(report.reconciles(), "{:?}", report.problems);
    assert!(db.store.verify_audit().await.unwrap().is_intact());
}

async fn every_card_is_personalised_bound_and_verifiable(db: &TestDb) {
    let numbers = rendered_cards(db, 6).await;
    db.store
        .receive_lot("LOT-A", FIRST, FIRST + 99, "test")
        .await
        .unwrap();
    let run = run_station(db, Blanks::new(FIRST, FIRST + 99, MASTER), 2, 3).await;
    let mut done: Vec<&str> = run.personalised().iter().map(|p| p.0).collect();
    done.sort();
    let mut want: Vec<&str> = numbers.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(done, want, "{:?}", run.events);
    assert!(run.spoiled().is_empty());
    assert_sound(db, &run).await;
    let report = db.store.stock_report(60_000).await.unwrap();
    assert_eq!(report.total(|l| l.personalised), 6);
    assert_eq!(report.total(|l| l.on_hand), 94);
    assert_eq!(db.store.lot_drawn("LOT-A").await.unwrap(), Some(6));
    assert_eq!(db.store.lot_drawn("NO-SUCH-LOT").await.unwrap(), None);
    assert_eq!(
        db.store.lot_highest_drawn("NO-SUCH-LOT").await.unwrap(),
        None
    );
    // Six drawn by two readers: the highest is at least the sixth serial of the lot.
    let highest = db.store.lot_highest_drawn("LOT-A").await.unwrap().unwrap();
    assert!((FIRST + 5..=FIRST + 99).contains(&highest), "{highest:X}");
}

async fn every_fault_ends_spoiled_and_the_job_resumes_on_a_fresh_blank(db: &TestDb) {
    let numbers = rendered_cards(db, 4).await;
    db.store
        .receive_lot("LOT-F", FIRST, FIRST + 49, "test")
        .await
        .unwrap();
    let blanks = Blanks::new(FIRST, FIRST + 49, MASTER)
        .fault(0, vec![Fault::RemovedAtApdu(12)])
        .fault(
            1,
            vec![Fault::WriteFailAt {
                fid: 0x0106,
                offset: 0,
            }],
        )
        .fault(2, vec![Fault::TornWriteAtApdu(14)])
        .fault(3, vec![Fault::WrongAtr])
        .fault(4, vec![Fault::AlreadyPersonalised])
        .fault(5, vec![Fault::Locked])
        .fault(6, vec![Fault::SlowMs(1)])
        .fault(7, vec![Fault::GarbledAt(13)])
        .fault(8, vec![Fault::OddStatusAt(10)]);
    let run = run_station(db, blanks, 1, 10).await;
    assert_eq!(run.personalised().len(), numbers.len(), "{:#?}", run.events);
    let spoiled: Vec<u64> = run.spoiled().iter().map(|s| s.0).collect();
    assert_eq!(
        spoiled,
        [
            FIRST,
            FIRST + 1,
            FIRST + 2,
            FIRST + 4,
            FIRST + 5,
            FIRST + 7,
            FIRST + 8
        ],
        "{:#?}",
        run.events
    );
    let reasons: Vec<&str> = run.spoiled().iter().map(|s| s.1).collect();
    assert!(reasons[0].contains("removed"), "{}", reasons[0]);
    assert!(reasons[1].contains("6581"), "{}", reasons[1]);
    assert!(
        reasons[5].contains("wrong length"),
        "garbled: {}",
        reasons[5]
    );
    assert!(
        reasons[6].contains("9F42"),
        "odd status word: {}",
        reasons[6]
    );
    let refused: Vec<&Event> = run
        .events
        .iter()
        .filter(|e| matches!(e, Event::Refused { .. }))
        .collect();
    assert_eq!(refused.len(), 1, "the wrong card type only: {refused:?}");
    assert!(format!("{refused:?}").contains("not a CQC blank"));
    // The slow card was personalised.
    assert!(run.personalised().iter().any(|p| p.1 == FIRST + 6));
    assert_sound(db, &run).await;
    let report = db.store.stock_report(60_000).await.unwrap();
    assert_eq!(report.total(|l| l.spoiled), 7);
    assert_eq!(report.total(|l| l.personalised), 4);
}

async fn a_reader_unplugged_mid_write_gives_the_job_back_and_the_station_carries_on(db: &TestDb) {
    let numbers = rendered_cards(db, 3).await;
    db.store
        .receive_lot("LOT-U", FIRST, FIRST + 19, "test")
        .await
        .unwrap();
    // The reader vanishes at the 15th APDU of the first card: inside the DG6 write.
    let run =
        run_station_unplugging(db, Blanks::new(FIRST, FIRST + 19, MASTER), 1, 1, Some(15)).await;
    assert_eq!(run.personalised().len(), numbers.len(), "{:#?}", run.events);
    assert_eq!(run.spoiled().len(), 1, "{:#?}", run.events);
    let (serial, reason) = run.spoiled()[0];
    assert_eq!(serial, FIRST);
    assert!(reason.contains("is gone"), "{reason}");
    let interrupted: Vec<&Event> = run
        .events
        .iter()
        .filter(|e| matches!(e, Event::Interrupted { .. }))
        .collect();
    assert_eq!(interrupted.len(), 1, "{:#?}", run.events);
    // One blank per job was allowed: had the unplug counted against the job, that job would
    // have failed. It was given back whole and finished on the next blank.
    assert!(
        !run.events.iter().any(|e| matches!(e, Event::Failed { .. })),
        "{:#?}",
        run.events
    );
    assert_eq!(run.card(FIRST).life_cycle(), LifeCycle::Personalisation);
    assert_sound(db, &run).await;
    assert_every_card_once(db, &numbers).await;
}

/// The after-checks of the drills (docs/drills.md): each of the cards `numbers` personalised
/// once (one `card.personalise` record) and every encode job done, none left or failed.
async fn assert_every_card_once(db: &TestDb, numbers: &[String]) {
    for number in numbers {
        assert_eq!(common::card_state(db, number).await, "personalised");
        let records = db
            .store
            .audit_history("card", number)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.action == "card.personalise")
            .count();
        assert_eq!(records, 1, "one personalisation record for {number}");
    }
    let jobs: Vec<(String, String, i64)> = db
        .store
        .job_counts()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.0 == ENCODE_JOB)
        .collect();
    assert_eq!(
        jobs,
        [(
            ENCODE_JOB.to_string(),
            "done".to_string(),
            numbers.len() as i64
        )]
    );
}

on_both_backends!(clock();
    every_card_is_personalised_bound_and_verifiable,
    every_fault_ends_spoiled_and_the_job_resumes_on_a_fresh_blank,
    a_reader_unplugged_mid_write_gives_the_job_back_and_the_station_carries_on,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_from_no_received_lot_is_refused_and_a_card_is_never_written_twice() {
    let db = TestDb::sqlite(clock()).await;
    let numbers = rendered_cards(&db, 3).await;
    // Only two bodies were received: the third card finds none of ours.
    db.store
        .receive_lot("LOT-S", FIRST, FIRST + 1, "test")
        .await
        .unwrap();
    let run = run_station(&db, Blanks::new(FIRST, FIRST + 9, MASTER), 1, 2).await;
    assert_eq!(run.personalised().len(), 2);
    let refusals: Vec<String> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Refused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(
        !refusals.is_empty() && refusals.iter().all(|r| r.contains("no received lot")),
        "{refusals:?}"
    );
    assert_sound(&db, &run).await;

    // A second encode job for a personalised card does nothing.
    let (number, serial) = run.personalised()[0];
    db.store
        .enqueue(&NewJob::new(ENCODE_JOB, json!({ "card_number": number })))
        .await
        .unwrap();
    let again = run_station(&db, Blanks::new(FIRST + 20, FIRST + 29, MASTER), 1, 2).await;
    assert!(
        again
            .events
            .iter()
            .any(|e| matches!(e, Event::Skipped { card_number, .. } if card_number == number)),
        "{:?}",
        again.events
    );
    let card = db
        .store
        .card_by_number(number)
        .await
        .unwrap()
        .expect("card");
    let err = db
        .store
        .draw(FIRST + 40, card.id, number, "s", "r")
        .await
        .expect_err("twice");
    assert!(
        matches!(err, StockError::CardAlreadyWritten { .. }),
        "{err}"
    );
    let err = db
        .store
        .draw(serial, card.id, number, "s", "r")
        .await
        .expect_err("a live card");
    assert!(err.to_string().contains("already personalised"), "{err}");
    assert_eq!(numbers.len(), 3);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_left_drawn_by_a_killed_station_is_spoiled_before_the_card_is_written_again() {
    let db = TestDb::sqlite(clock()).await;
    let numbers = rendered_cards(&db, 1).await;
    db.store
        .receive_lot("LOT-K", FIRST, FIRST + 9, "test")
        .await
        .unwrap();
    let card = db
        .store
        .card_by_number(&numbers[0])
        .await
        .unwrap()
        .expect("card");
    // A station drew FIRST + 9 and died mid-write.
    db.store
        .draw(FIRST + 9, card.id, &numbers[0], "dead", "r")
        .await
        .unwrap();
    let before = db.store.stock_report(0).await.unwrap();
    assert!(
        !before.reconciles(),
        "a body drawn and never finished is a discrepancy"
    );
    let run = run_station(&db, Blanks::new(FIRST, FIRST + 8, MASTER), 1, 2).await;
    assert_eq!(run.personalised().len(), 1);
    let body = db.store.body(FIRST + 9).await.unwrap().expect("body");
    assert_eq!(body.state, "spoiled");
    assert!(body.reason.unwrap_or_default().contains("interrupted"));
    assert_sound(&db, &run).await;
    assert_every_card_once(&db, &numbers).await;
    db.cleanup().await;
}
