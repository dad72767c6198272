//! The scanner driver against pseudo-terminal pairs: the driver opens the slave side by its
//! path, exactly as it opens `/dev/ttyACM0`; the test plays the scanner on the master side.
//! The device path is a symbolic link (as `/dev/serial/by-id/...` is), so that "plugging the
//! scanner back" can make the same path lead to a new pseudo-terminal.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cqcfab_drivers::scanner::{
    Code, Framing, NoiseKind, ScanEvent, Scanner, ScannerConfig, Symbology, Terminator,
};
use serialport::{SerialPort, TTYPort};

const WAIT: Duration = Duration::from_secs(5);

/// A fake scanner: the master side of a pty, and the link the driver opens.
struct FakeScanner {
    master: TTYPort,
}

impl FakeScanner {
    /// Plugs a new pseudo-terminal in behind `link`.
    fn plug(link: &Path) -> FakeScanner {
        let (master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
        let slave_path = slave.name().expect("slave has a path");
        // The driver opens the path itself; the pair's own slave handle is not needed.
        drop(slave);
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&slave_path, link).expect("device link");
        FakeScanner { master }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("write to pty");
        self.master.flush().expect("flush pty");
    }
}

fn link_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("scanner-by-id")
}

fn config(link: &Path, framing: Framing) -> ScannerConfig {
    ScannerConfig {
        framing,
        quiet: Duration::from_millis(100),
        reconnect_every: Duration::from_millis(50),
        ..ScannerConfig::new(link)
    }
}

fn next(scanner: &Scanner) -> ScanEvent {
    scanner
        .next_event(WAIT)
        .expect("the scanner thread reports within 5 s")
}

fn expect_connected(scanner: &Scanner) {
    loop {
        match next(scanner) {
            ScanEvent::Connected { .. } => return,
            ScanEvent::Unavailable { .. } => continue,
            other => panic!("expected Connected, got {other:?}"),
        }
    }
}

fn expect_code(scanner: &Scanner) -> Code {
    match next(scanner) {
        ScanEvent::Code(code) => code,
        other => panic!("expected a code, got {other:?}"),
    }
}

#[test]
fn codes_arrive_stripped_with_their_symbology() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let mut fake = FakeScanner::plug(&link);
    let scanner = Scanner::start(config(
        &link,
        Framing {
            terminator: Terminator::CrLf,
            prefix: "#".into(),
            suffix: String::new(),
            aim: true,
            max_len: 64,
        },
    ))
    .unwrap();
    expect_connected(&scanner);
    // Sent in pieces, as a slow line delivers them.
    fake.send(b"#]C0EE4711");
    fake.send(b"08151FR\r");
    fake.send(b"\n#]Q1CQC-RET-7QF3K2\r\n");
    let code = expect_code(&scanner);
    assert_eq!(code.text, "EE471108151FR");
    assert_eq!(code.symbology, Some(Symbology::Code128));
    let code = expect_code(&scanner);
    assert_eq!(code.text, "CQC-RET-7QF3K2");
    assert_eq!(code.symbology, Some(Symbology::Qr));
}

#[test]
fn noise_is_reported_and_the_next_code_reads_clean() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let mut fake = FakeScanner::plug(&link);
    let scanner = Scanner::start(config(&link, Framing::default())).unwrap();
    expect_connected(&scanner);

    // A partial code, then silence: flushed after the quiet time, never glued to the next.
    fake.send(b"EE47110");
    match next(&scanner) {
        ScanEvent::Noise(noise) => {
            assert_eq!(noise.kind, NoiseKind::Partial);
            assert_eq!(noise.raw, b"EE47110");
        }
        other => panic!("expected a partial code, got {other:?}"),
    }
    // A scanner sending TAB to a station set for CR.
    fake.send(b"AB000717581FR\t");
    match next(&scanner) {
        ScanEvent::Noise(noise) => assert_eq!(noise.kind, NoiseKind::ControlCharacter(b'\t')),
        other => panic!("expected a wrong terminator, got {other:?}"),
    }
    fake.send(b"AB000717581FR\r");
    assert_eq!(expect_code(&scanner).text, "AB000717581FR");
}

#[test]
fn a_scanner_unplugged_mid_shift_is_reported_and_works_again_when_plugged_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let mut fake = FakeScanner::plug(&link);
    let scanner = Scanner::start(config(&link, Framing::default())).unwrap();
    expect_connected(&scanner);
    fake.send(b"EE471108151FR\r");
    assert_eq!(expect_code(&scanner).text, "EE471108151FR");

    // Unplugged in the middle of a code: the half code is dropped, the loss reported.
    fake.send(b"AB0007");
    std::thread::sleep(Duration::from_millis(20));
    drop(fake);
    let mut saw_partial = false;
    loop {
        match next(&scanner) {
            ScanEvent::Noise(noise) => {
                assert_eq!(noise.raw, b"AB0007");
                saw_partial = true;
            }
            ScanEvent::Disconnected { device, reason } => {
                assert!(device.ends_with("scanner-by-id"), "{device}");
                assert!(!reason.is_empty());
                break;
            }
            other => panic!("expected the loss of the device, got {other:?}"),
        }
    }
    assert!(saw_partial, "the half code is reported as noise");

    // While it is away, the path leads nowhere: one Unavailable, not one per retry.
    std::fs::remove_file(&link).unwrap();
    match next(&scanner) {
        ScanEvent::Unavailable { reason, .. } => assert!(!reason.is_empty()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        scanner.next_event(Duration::from_millis(10)).is_err(),
        "an outage is reported once"
    );

    // Plugged back: same path, a new device behind it.
    let mut fake = FakeScanner::plug(&link);
    expect_connected(&scanner);
    fake.send(b"AB000717581FR\r");
    let code = expect_code(&scanner);
    assert_eq!(
        code.text, "AB000717581FR",
        "nothing of the half code glued on"
    );
}

#[test]
fn a_scanner_missing_at_start_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let scanner = Scanner::start(config(&link, Framing::default())).unwrap();
    match next(&scanner) {
        ScanEvent::Unavailable { device, .. } => assert!(device.ends_with("scanner-by-id")),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let mut fake = FakeScanner::plug(&link);
    expect_connected(&scanner);
    fake.send(b"EE471108151FR\r");
    assert_eq!(expect_code(&scanner).text, "EE471108151FR");
}

#[test]
fn line_formats_parse_from_the_setup_sheet_notation() {
    use cqcfab_drivers::scanner::LineFormat;
    for s in ["8N1", "7E1", "8O2", "8n1"] {
        let format: LineFormat = s.parse().unwrap();
        assert_eq!(format.to_string(), s.to_ascii_uppercase());
    }
    for bad in ["", "9N1", "8X1", "8N3", "8N1x"] {
        let err = bad.parse::<LineFormat>().unwrap_err();
        assert!(err.contains("8N1"), "{err}");
    }
}
