//! The chip path through the real PC/SC stack: the simulator's virtual card behind pcscd and
//! vsmartcard's vpcd, personalised by our script over the `pcsc` backend, then read by a
//! third-party tool (OpenSC's `opensc-tool`), not by our code.
//!
//! Needs pcscd running with the vpcd readers (`.ci/test` starts it: `start_pcscd` in
//! `.ci/lib.sh`). Without it the test says so and passes, unless CQCFAB_REQUIRE_PCSC=1 (CI),
//! where a missing pcscd fails.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::rack::{self, LeftCard, StopOnDrop};
use cqcfab::chip::data_groups::{self, ChipData, FID_DG1, FID_SOD};
use cqcfab::chip::{script, sod};
use cqcfab::clock::Clock;
use cqcfab::station::encode::{self, Event, Mode};
use cqcfab::station::readers::{PcscSlot, ReaderSlot};
use cqcfab_drivers::pcsc_reader::{self, PcscReader};
use cqcfab_drivers::transport::TransportError;
use cqcfab_simulator::blanks::Blanks;
use cqcfab_simulator::card::{AID, CardSpec, VirtualCard};
use cqcfab_simulator::card::{Fault, LifeCycle};
use cqcfab_simulator::vpcd;
use sha2::{Digest, Sha256};
use time::macros::date;

const READER: &str = "Virtual PCD 00 00";
const READER_2: &str = "Virtual PCD 00 01";
const MASTER: &[u8] = b"pcsc test master key";

fn pcscd_available() -> bool {
    let wanted = std::env::var_os("CQCFAB_TEST_PCSC").is_some();
    let required = std::env::var_os("CQCFAB_REQUIRE_PCSC").is_some();
    let found = pcsc_reader::readers()
        .map(|r| r.iter().any(|n| n == READER))
        .unwrap_or(false);
    if !found {
        assert!(
            !required,
            "CQCFAB_REQUIRE_PCSC is set but pcscd with the vpcd reader {READER:?} is not running"
        );
        eprintln!(
            "SKIPPED: no pcscd with vpcd readers (wanted: {wanted}); run .ci/test to start one"
        );
    }
    found
}

fn sample() -> ChipData {
    ChipData {
        surname: "KŐVÁRI".into(),
        given_names: "Zoltán".into(),
        birth_date: date!(1979 - 03 - 02),
        birth_place: "DEBRECEN (HONGRIE)".into(),
        issue_date: date!(2026 - 11 - 26),
        expiry_date: date!(2031 - 11 - 25),
        authority: "MINISTÈRE CHARGÉ DES TRANSPORTS".into(),
        admin_number: "00000006".into(),
        card_number: "F0000000600W".into(),
        categories: ["C1", "C1E", "C", "CE"]
            .into_iter()
            .map(|c| (c.to_string(), date!(2031 - 11 - 25)))
            .collect(),
        portrait_jpeg: vec![0xA5; 9_000],
        signature_png: vec![0x3C; 1_500],
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits for pcscd to see the virtual card in the reader, then connects.
fn connect() -> PcscReader {
    let started = Instant::now();
    loop {
        match PcscReader::connect(READER) {
            Ok(r) => return r,
            Err(e @ (TransportError::NoCard { .. } | TransportError::Other { .. }))
                if started.elapsed() < Duration::from_secs(10) =>
            {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot connect to {READER}: {e}"),
        }
    }
}

/// Reads `len` bytes of file `fid` with opensc-tool: SELECT application, SELECT file, then
/// short READ BINARY commands of 128 bytes, all in one opensc-tool session.
fn opensc_read(fid: u16, len: usize) -> Vec<u8> {
    let mut args = vec![
        "-r".to_string(),
        "0".into(),
        "-s".into(),
        format!("00 A4 04 0C 07 {}", hex(&AID)),
        "-s".into(),
        format!("00 A4 02 0C 02 {}", hex(&fid.to_be_bytes())),
    ];
    for at in (0..len).step_by(128) {
        let [hi, lo] = (at as u16).to_be_bytes();
        args.push("-s".into());
        args.push(format!(
            "00 B0 {hi:02X} {lo:02X} {:02X}",
            (len - at).min(128)
        ));
    }
    let out = Command::new("opensc-tool")
        .args(&args)
        .output()
        .expect("opensc-tool (apt-get install opensc)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // After each "Received" line: 16 bytes per line as "XX " (48 columns), then ASCII.
    let mut data = Vec::new();
    let mut blocks = 0;
    let mut in_block = false;
    for line in text.lines() {
        if line.starts_with("Received") {
            assert!(line.contains("SW1=0x90, SW2=0x00"), "{fid:04X}: {line}");
            blocks += 1;
            in_block = blocks > 2;
        } else if line.starts_with("Sending") {
            in_block = false;
        } else if in_block {
            let hexpart: String = line.chars().take(48).collect();
            data.extend(
                hexpart
                    .split_whitespace()
                    .map(|t| u8::from_str_radix(t, 16).expect("hex byte")),
            );
        }
    }
    assert_eq!(
        data.len(),
        len,
        "opensc-tool read {} of {len} bytes of {fid:04X}",
        data.len()
    );
    data
}

/// The test binary before this one (the demo) may have left its last card in the reader a
/// moment ago: wait until pcscd has seen it go, or we would connect to that ghost and lose
/// the transaction when pcscd notices.
fn wait_for_empty_reader() {
    let waited = Instant::now();
    while pcsc_reader::slot(READER).is_ok_and(|s| s.present) {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "{READER} still holds a card nobody serves"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The tests of this file share pcscd's two readers: one at a time.
static READERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_card_personalised_through_pcscd_reads_back_with_opensc() {
    let _readers = READERS.lock().unwrap_or_else(|e| e.into_inner());
    if !pcscd_available() {
        return;
    }
    wait_for_empty_reader();
    let stop = AtomicBool::new(false);
    let addr: SocketAddr = ([127, 0, 0, 1], vpcd::DEFAULT_PORT).into();
    let pki_dir = tempfile::tempdir().expect("tmp");
    let signer = common::hsm::any_signer(pki_dir.path());
    let mut files = data_groups::build(&sample()).expect("data groups").files;
    let sod_file = sod::build(&files, signer.as_ref(), 1_795_000_000).expect("EF.SOD");
    files.push((FID_SOD, sod_file.clone()));
    std::thread::scope(|scope| {
        let card_side = scope.spawn(|| {
            let mut card = VirtualCard::new(CardSpec::standard(0x00C0_FFEE_0001), MASTER, vec![]);
            let ended = vpcd::serve(addr, &mut card, &stop);
            (ended, card)
        });

        // Whatever happens below, the card thread must end, or the scope never returns.
        let _stop = StopOnDrop(&stop);
        let mut reader = connect();
        let done = script::personalise(&mut reader, MASTER, &files).expect("personalised");
        assert_eq!(done.serial, 0x00C0_FFEE_0001);
        assert_eq!(done.chunk, (4096, 4096), "extended length through pcscd");
        drop(reader);

        // EF.SOD and every data group as opensc-tool reads them: openssl verifies the signature
        // against the test CSCA, and each data group's hash is in the security object.
        let read_sod = opensc_read(FID_SOD, sod_file.len());
        assert_eq!(read_sod, sod_file);
        let csca = pki_dir.path().join("csca.pem");
        let lds =
            common::hsm::openssl_cms_verify(&sod::content_info(&read_sod).expect("ci"), &csca);
        let mut read_files = Vec::new();
        for (fid, bytes) in files
            .iter()
            .filter(|(f, _)| sod::data_group_number(*f).is_some())
        {
            let read = opensc_read(*fid, bytes.len());
            assert_eq!(&read, bytes, "opensc-tool read file {fid:04X} as written");
            let hash = Sha256::digest(&read);
            assert!(
                lds.windows(32).any(|w| w == &hash[..]),
                "hash of file {fid:04X} as read by opensc-tool is not in EF.SOD"
            );
            read_files.push((*fid, read));
        }
        let pki = cqcfab::chip::pki::TestPki::ensure(pki_dir.path()).expect("pki");
        let verified = sod::verify(&read_sod, &read_files, &pki.csca().expect("csca"))
            .expect("passive authentication");
        assert_eq!(verified.data_groups, vec![1, 5, 6]);

        stop.store(true, Ordering::Relaxed);
        let (ended, card) = card_side.join().expect("card thread");
        assert!(ended.is_ok(), "{ended:?}");
        let dg1 = &files.iter().find(|f| f.0 == FID_DG1).expect("DG1").1;
        assert_eq!(card.file(FID_DG1), Some(dg1.as_slice()));
    });
}

/// The encoding station on both vpcd readers of pcscd, the simulator's rack filling them with
/// blanks, some faulty: every card ends personalised on a chip holding its own data, every
/// failed body spoiled, the ledger reconciled.
#[test]
fn a_station_on_two_pcsc_readers_personalises_every_card_and_spoils_the_faulty_blanks() {
    let _readers = READERS.lock().unwrap_or_else(|e| e.into_inner());
    if !pcscd_available() {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(station_on_two_readers());
}

async fn station_on_two_readers() {
    let db = common::TestDb::sqlite(Clock::fixed_on(date!(2026 - 11 - 26))).await;
    let numbers = common::production::rendered_cards(&db, 8).await;
    const FIRST: u64 = 0x0D0D_0000_0000_0001;
    db.store
        .receive_lot("LOT-P", FIRST, FIRST + 99, "test")
        .await
        .expect("lot");
    let blanks = Blanks::new(FIRST, FIRST + 99, MASTER)
        .fault(1, vec![Fault::RemovedAtApdu(12)])
        .fault(
            3,
            vec![Fault::WriteFailAt {
                fid: 0x0106,
                offset: 4096,
            }],
        )
        .fault(4, vec![Fault::WrongAtr]);
    let pki_dir = tempfile::tempdir().expect("tmp");
    let pki = cqcfab::chip::pki::TestPki::ensure(pki_dir.path()).expect("pki");
    let station = common::production::file_station(&db.store, &pki, MASTER, "pcsc-test", 5);
    let rt = tokio::runtime::Handle::current();
    let (events, left) = tokio::task::spawn_blocking(move || {
        let stop = AtomicBool::new(false);
        let rack_stop = AtomicBool::new(false);
        let left = std::sync::Mutex::new(Vec::<LeftCard>::new());
        let events = std::sync::Mutex::new(Vec::new());
        let ports = rack::ports(&[vpcd::DEFAULT_PORT, vpcd::DEFAULT_PORT + 1]);
        std::thread::scope(|scope| {
            scope.spawn(|| rack::run(&ports, blanks, &rack_stop, &left));
            let _stop_rack = StopOnDrop(&rack_stop);
            let slots: Vec<Box<dyn ReaderSlot>> = vec![
                Box::new(PcscSlot::new("Virtual PCD 00 00")),
                Box::new(PcscSlot::new(READER_2)),
            ];
            let mut slots = encode::run_station(&station, slots, &rt, &stop, Mode::Drain, &|e| {
                events.lock().expect("events").push(e)
            });
            // Eject the last cards too, so the rack reports them.
            for slot in &mut slots {
                slot.mark_used(None);
                let _ = slot.next_blank(&stop);
            }
        });
        (
            events.into_inner().expect("events"),
            left.into_inner().expect("left"),
        )
    })
    .await
    .expect("station");

    let personalised: Vec<(String, u64, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Personalised {
                card_number,
                serial,
                reader,
                ..
            } => Some((card_number.clone(), *serial, reader.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(personalised.len(), numbers.len(), "{events:#?}");
    let readers: std::collections::BTreeSet<&str> =
        personalised.iter().map(|p| p.2.as_str()).collect();
    assert_eq!(readers.len(), 2, "both readers worked: {readers:?}");
    // No mix-up: every chip that left holds the card it is bound to.
    for (number, serial, _) in &personalised {
        let chip = left
            .iter()
            .find(|l| l.0 == *serial)
            .unwrap_or_else(|| panic!("chip {serial:016X} never left its reader"));
        assert_eq!(chip.1, LifeCycle::Operational);
        assert_eq!(
            chip.2.as_deref(),
            Some(number.as_str()),
            "chip {serial:016X}"
        );
        let card = db
            .store
            .card_by_number(number)
            .await
            .expect("db")
            .expect("card");
        assert_eq!(card.state, "personalised");
    }
    let spoiled: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Spoiled { serial, .. } => Some(*serial),
            _ => None,
        })
        .collect();
    assert_eq!(spoiled.len(), 2, "{events:#?}");
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Refused { reason, .. } if reason.contains("not a CQC blank"))
        )
    );
    let report = db.store.stock_report(60_000).await.expect("report");
    assert!(report.reconciles(), "{:?}", report.problems);
    assert_eq!(report.total(|l| l.spoiled), 2);
    assert_eq!(report.total(|l| l.personalised), 8);
    db.cleanup().await;
}

/// The inserting bench identifying the card by its chip through pcscd: `cqcfab station
/// insert --chip-reader` reads the serial of the card put on the vpcd reader (ATR checked,
/// EF.IDENT read) and pairs it with the carrier scanned on its standard input.
#[test]
fn the_inserting_bench_reads_the_chip_serial_through_pcscd() {
    use cqcfab::post::s10::ServiceIndicator;
    use std::io::{BufRead, Write};
    let _readers = READERS.lock().unwrap_or_else(|e| e.into_inner());
    if !pcscd_available() {
        return;
    }
    wait_for_empty_reader();
    const SERIAL: u64 = 0x00C0_FFEE_0042;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (db, card, piece) = rt.block_on(async {
        let db = common::TestDb::sqlite(Clock::fixed_on(date!(2026 - 11 - 27))).await;
        let numbers = common::production::rendered_cards(&db, 1).await;
        common::production::mark_personalised(&db, &numbers).await;
        // Test set-up: the binding of a chip to its card is the encoding station's, proven
        // above; here the card just has to be bound to the chip on the reader.
        db.exec(
            "UPDATE cards SET chip_serial = CAST($1 AS INTEGER) WHERE card_number = $2",
            &[&SERIAL.to_string(), &numbers[0]],
        )
        .await
        .expect("bind");
        let la = ServiceIndicator::new("LA").expect("LA");
        db.store
            .add_s10_range("LA-P", la, 30_000_000, 30_000_009, "test")
            .await
            .expect("range");
        let (piece, _) = db
            .store
            .piece_for(&numbers[0], la, "lettre-suivie", "test")
            .await
            .expect("piece");
        (db, numbers[0].clone(), piece.piece_id)
    });

    let stop = AtomicBool::new(false);
    let addr: SocketAddr = ([127, 0, 0, 1], vpcd::DEFAULT_PORT).into();
    std::thread::scope(|scope| {
        let card_side = scope.spawn(|| {
            let mut chip = VirtualCard::new(CardSpec::standard(SERIAL), MASTER, vec![]);
            vpcd::serve(addr, &mut chip, &stop)
        });
        let _stop = StopOnDrop(&stop);
        let mut child = Command::new(env!("CARGO_BIN_EXE_cqcfab"))
            .args(db.cli_args())
            .args(["station", "insert", "--chip-reader", READER])
            .env_remove("CQCFAB_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("station");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{piece}").expect("scan");
        // The answer comes once the chip is read: wait for it before ending the input.
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut seen = String::new();
        let want = format!("OK : carte {card} dans le pli {piece}");
        while !seen.contains(&want) {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).expect("read") > 0,
                "the station ended: {seen}"
            );
            seen += &line;
        }
        drop(stdin);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).expect("rest");
        assert!(child.wait().expect("wait").success(), "{seen}{rest}");
        assert!(rest.contains("1 insérée(s)"), "{rest}");
        stop.store(true, Ordering::Relaxed);
        let _ = card_side.join();
    });
    let state = rt.block_on(async {
        let c = db
            .store
            .card_by_number(&card)
            .await
            .expect("card")
            .expect("card");
        let history = db.store.audit_history("card", &card).await.expect("audit");
        db.cleanup().await;
        (c.state, history)
    });
    assert_eq!(state.0, "inserted");
    let insert = state
        .1
        .iter()
        .find(|r| r.action == "card.insert")
        .expect("audited");
    assert!(
        insert
            .after
            .as_deref()
            .unwrap_or("")
            .contains("chip_serial"),
        "{insert:?}"
    );
}
