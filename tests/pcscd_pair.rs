//! Stations on two pcscd daemons, and a pcscd stopped in the middle of a batch.
//!
//! One pcscd serves one vpcd block of two readers (hardware-lab.md: never two blocks in one
//! pcscd), so four readers need a second pcscd, started by `.ci/lib.sh` (`start_pcscd_second`)
//! in its own mount namespace. libpcsclite picks its daemon once per process (from
//! `PCSCLITE_CSOCK_NAME`), so each pcscd gets its own station process, both on one database:
//! this test's process for the first pcscd, `cqcfab station encode` for the second. The
//! simulator's rack, in this process, fills all four readers over TCP.
//!
//! Needs both pcscd (`.ci/test` starts them). Without them the tests say so and pass, unless
//! CQCFAB_REQUIRE_PCSC=1 (CI).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

mod common;

use common::TestDb;
use common::rack::{self, LeftCard, StopOnDrop};
use cqcfab::chip::pki::TestPki;
use cqcfab::clock::Clock;
use cqcfab::station::encode::{self, Event, Mode};
use cqcfab::station::readers::{PcscSlot, ReaderSlot};
use cqcfab_drivers::pcsc_reader;
use cqcfab_simulator::blanks::Blanks;
use cqcfab_simulator::card::{Fault, LifeCycle};
use cqcfab_simulator::vpcd;

const MASTER: &[u8] = b"pcscd pair test master key";
/// The second pcscd's vpcd readers (CHANNELID 0x8C7D).
const SECOND_PORTS: [u16; 2] = [35965, 35966];

/// The second pcscd's socket, when both daemons run.
fn second_pcscd() -> Option<String> {
    let required = std::env::var_os("CQCFAB_REQUIRE_PCSC").is_some();
    let first = pcsc_reader::readers()
        .map(|r| r.iter().any(|n| n == "Virtual PCD 00 00"))
        .unwrap_or(false);
    let second = std::env::var("CQCFAB_TEST_PCSCD2")
        .ok()
        .filter(|s| Path::new(s).exists());
    if !first || second.is_none() {
        assert!(
            !required,
            "CQCFAB_REQUIRE_PCSC is set but the two pcscd are not running (first: {first}, \
             CQCFAB_TEST_PCSCD2: {second:?})"
        );
        eprintln!("SKIPPED: needs both pcscd; run .ci/test to start them");
        return None;
    }
    second
}

/// The tests of this file share the readers: one at a time.
static READERS: Mutex<()> = Mutex::new(());

async fn database() -> TestDb {
    let clock = Clock::System;
    match TestDb::postgres(clock.clone()).await {
        Some(db) => db,
        None => TestDb::sqlite(clock).await,
    }
}

/// `cqcfab station encode --drain` on the second pcscd's readers, on the test's database and
/// test PKI (`data/pki`).
fn spawn_station(db: &TestDb, data: &Path, socket: &str, name: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .arg("--data")
        .arg(data)
        .args(db.cli_args())
        .args(["station", "encode", "--readers", "pcsc", "--drain"])
        .args(["--name", name, "--blanks-per-job", "5"])
        .env_remove("CQCFAB_CONFIG")
        .env("PCSCLITE_CSOCK_NAME", socket)
        .env("CQCFAB_PERSO_MASTER_KEY", hex::encode(MASTER))
        .env("CQCFAB_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cqcfab station encode")
}

/// Waits for the child (at most `limit`), returning its output.
fn finish(child: Child, limit: Duration) -> (bool, String) {
    let started = Instant::now();
    let mut child = child;
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => break,
            None if started.elapsed() > limit => {
                let _ = child.kill();
                break;
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every personalised card is bound to a body whose chip left its reader locked and holding
/// that card's number; the ledger reconciles. Returns the bodies per station.
async fn assert_no_mix_up(db: &TestDb, numbers: &[String], left: &[LeftCard]) -> Vec<String> {
    let mut stations = Vec::new();
    for number in numbers {
        let card = db
            .store
            .card_by_number(number)
            .await
            .expect("db")
            .expect("card");
        assert_eq!(card.state, "personalised", "{number}");
        // Exactly one chip holding this card is bound to it. Another locked chip with the same
        // data can exist only as a spoiled body: pcscd died after the card executed its last
        // command but before the answer came back; it is destroyed, never posted.
        let holding: Vec<&LeftCard> = left
            .iter()
            .filter(|l| l.2.as_deref() == Some(number.as_str()))
            .collect();
        let mut bound = Vec::new();
        for chip in &holding {
            let body = db.store.body(chip.0).await.expect("db").expect("body");
            match body.state.as_str() {
                "personalised" => {
                    assert_eq!(body.card_id, Some(card.id), "chip {:016X}", chip.0);
                    assert_eq!(chip.1, LifeCycle::Operational, "chip {:016X}", chip.0);
                    bound.push(body);
                }
                "spoiled" => {}
                other => panic!("chip {:016X} holding {number} is {other}", chip.0),
            }
        }
        assert_eq!(bound.len(), 1, "one bound chip holds {number}: {holding:?}");
        let body = bound.remove(0);
        stations.push(format!("{}/{}", body.station, body.reader));
    }
    let report = db.store.stock_report(60_000).await.expect("report");
    assert!(report.reconciles(), "{:?}", report.problems);
    assert!(db.store.verify_audit().await.expect("audit").is_intact());
    stations
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Four readers: two on the first pcscd driven by this process, two on the second driven by
/// a `cqcfab station encode` process; all cards correct, none mixed up.
#[test]
fn four_readers_on_two_pcscd_personalise_every_card_without_mix_up() {
    let _readers = READERS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(socket) = second_pcscd() else {
        return;
    };
    runtime().block_on(four_readers(socket));
}

async fn four_readers(socket: String) {
    let db = database().await;
    let numbers = common::production::rendered_cards(&db, 20).await;
    const FIRST: u64 = 0x0E0E_0000_0000_0001;
    db.store
        .receive_lot("LOT-4", FIRST, FIRST + 199, "test")
        .await
        .expect("lot");
    let data = tempfile::tempdir().expect("tmp");
    let pki = TestPki::ensure(&data.path().join("pki")).expect("pki");
    let station = common::production::file_station(&db.store, &pki, MASTER, "pair-1", 5);
    let child = spawn_station(&db, data.path(), &socket, "pair-2");
    let rt = tokio::runtime::Handle::current();
    let (events, left, child_out) = tokio::task::spawn_blocking(move || {
        let stop = AtomicBool::new(false);
        let rack_stop = AtomicBool::new(false);
        let left = Mutex::new(Vec::<LeftCard>::new());
        let events = Mutex::new(Vec::new());
        let ports = rack::ports(&[
            vpcd::DEFAULT_PORT,
            vpcd::DEFAULT_PORT + 1,
            SECOND_PORTS[0],
            SECOND_PORTS[1],
        ]);
        let child_out = std::thread::scope(|scope| {
            scope.spawn(|| {
                rack::run(
                    &ports,
                    Blanks::new(FIRST, FIRST + 199, MASTER),
                    &rack_stop,
                    &left,
                )
            });
            let _stop_rack = StopOnDrop(&rack_stop);
            let slots: Vec<Box<dyn ReaderSlot>> = vec![
                Box::new(PcscSlot::new("Virtual PCD 00 00")),
                Box::new(PcscSlot::new("Virtual PCD 00 01")),
            ];
            encode::run_station(&station, slots, &rt, &stop, Mode::Drain, &|e| {
                events.lock().expect("events").push(e)
            });
            finish(child, Duration::from_secs(120))
        });
        (
            events.into_inner().expect("events"),
            left.into_inner().expect("left"),
            child_out,
        )
    })
    .await
    .expect("stations");
    assert!(child_out.0, "the second station failed:\n{}", child_out.1);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Spoiled { .. } | Event::Failed { .. })),
        "{events:#?}"
    );
    let stations = assert_no_mix_up(&db, &numbers, &left).await;
    let readers: std::collections::BTreeSet<&String> = stations.iter().collect();
    assert_eq!(
        readers.len(),
        4,
        "all four readers worked: {readers:?}\n{}",
        child_out.1
    );
    db.cleanup().await;
}

/// pcscd is killed while a chip is being written, then started again: the station waits,
/// spoils the half-written body, gives the job back, and finishes every card.
#[test]
fn pcscd_stopped_mid_batch_the_station_waits_and_resumes_losing_nothing() {
    let _readers = READERS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(socket) = second_pcscd() else {
        return;
    };
    runtime().block_on(pcscd_stopped(socket));
}

/// Stops the second pcscd the way a crash would (SIGKILL), waits, and starts it again with
/// the same script CI uses.
fn restart_second_pcscd(pause: Duration) {
    let pid_file = Path::new(&std::env::var("CQCFAB_TEST_PCSCD2").expect("socket"))
        .parent()
        .and_then(Path::parent)
        .expect("pcscd2 dir")
        .join("pcscd.pid");
    let pid = std::fs::read_to_string(&pid_file).expect("second pcscd pid file");
    let killed = Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .expect("kill");
    assert!(killed.success(), "kill -KILL {pid}");
    std::thread::sleep(pause);
    let lib = common::repo_path(".ci/lib.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && start_pcscd_second", lib.display()))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "restarting the second pcscd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `"interrupted": N` of the station's printed summary.
fn interrupted(output: &str) -> u64 {
    output
        .split("\"interrupted\": ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn pcscd_stopped(socket: String) {
    let db = database().await;
    let numbers = common::production::rendered_cards(&db, 6).await;
    const FIRST: u64 = 0x0F0F_0000_0000_0001;
    db.store
        .receive_lot("LOT-K", FIRST, FIRST + 99, "test")
        .await
        .expect("lot");
    // Slow cards (25 ms per APDU, ~1 s a card) so that the kill lands inside a write.
    let mut blanks = Blanks::new(FIRST, FIRST + 99, MASTER);
    for n in 0..40 {
        blanks = blanks.fault(n, vec![Fault::SlowMs(25)]);
    }
    let data = tempfile::tempdir().expect("tmp");
    TestPki::ensure(&data.path().join("pki")).expect("pki");
    let child = spawn_station(&db, data.path(), &socket, "drill");
    let store = db.store.clone();
    let rt = tokio::runtime::Handle::current();
    let (left, child_out, killed_during) = tokio::task::spawn_blocking(move || {
        let rack_stop = AtomicBool::new(false);
        let left = Mutex::new(Vec::<LeftCard>::new());
        let ports = rack::ports(&SECOND_PORTS);
        let (out, killed_during) = std::thread::scope(|scope| {
            scope.spawn(|| rack::run(&ports, blanks, &rack_stop, &left));
            let _stop_rack = StopOnDrop(&rack_stop);
            // Wait until two cards are done and a third body is being written, then kill.
            let started = Instant::now();
            let killed_during = loop {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "the station never got going"
                );
                let (done, writing) = rt.block_on(async {
                    let report = store.stock_report(60_000).await.expect("report");
                    let mut writing = Vec::new();
                    if report.total(|l| l.in_progress) > 0 {
                        for serial in FIRST..FIRST + 40 {
                            if let Some(b) = store.body(serial).await.expect("body")
                                && b.state == "drawn"
                            {
                                writing.push(serial);
                            }
                        }
                    }
                    (report.total(|l| l.personalised), writing)
                });
                if done >= 2 && !writing.is_empty() {
                    break writing;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            restart_second_pcscd(Duration::from_secs(2));
            (finish(child, Duration::from_secs(90)), killed_during)
        });
        (left.into_inner().expect("left"), out, killed_during)
    })
    .await
    .expect("drill");
    assert!(child_out.0, "the station failed:\n{}", child_out.1);
    assert_no_mix_up(&db, &numbers, &left).await;
    // The station resumed by itself and finished everything: each card personalised once
    // (one `card.personalise` record), every encode job done, none left or failed.
    for number in &numbers {
        let records = db
            .store
            .audit_history("card", number)
            .await
            .expect("audit")
            .iter()
            .filter(|r| r.action == "card.personalise")
            .count();
        assert_eq!(records, 1, "one personalisation record for {number}");
    }
    let jobs: Vec<(String, String, i64)> = db
        .store
        .job_counts()
        .await
        .expect("jobs")
        .into_iter()
        .filter(|j| j.0 == "encode")
        .collect();
    assert_eq!(
        jobs,
        [(
            "encode".to_string(),
            "done".to_string(),
            numbers.len() as i64
        )]
    );
    // The body being written when pcscd died holds an unknown part of a card: spoiled (it is
    // destroyed, never posted), and the station said why.
    for serial in killed_during {
        let body = db.store.body(serial).await.expect("db").expect("body");
        if body.state == "spoiled" {
            let reason = body.reason.unwrap_or_default();
            assert!(reason.contains("interrupted"), "{reason}");
            assert!(
                left.iter().any(|l| l.0 == serial),
                "the spoiled chip left its reader"
            );
            assert!(
                interrupted(&child_out.1) >= 1,
                "the station's summary counts the interruption: {}",
                child_out.1
            );
        } else {
            // pcscd died between the last APDU and the commit: written whole, bound.
            assert_eq!(body.state, "personalised");
        }
    }
    db.cleanup().await;
}
