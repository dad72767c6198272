//! Driving a station program from a test: its output line by line, and a pseudo-terminal
//! that plays the serial barcode scanner behind a /dev/serial/by-id-style link.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use serialport::SerialPort;

/// The station's output, line by line, as it comes.
pub struct StationOutput {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl StationOutput {
    pub fn of(child: &mut Child) -> StationOutput {
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        StationOutput {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (up to 20 s) for a line containing `text`; returns it.
    pub fn expect(&mut self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?}; the station said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

/// Held while a test has both a station child and pseudo-terminals.
pub static PTY_CHILDREN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A pseudo-terminal behind `link`, as a scanner behind /dev/serial/by-id.
pub fn plug_scanner(link: &Path) -> serialport::TTYPort {
    let (master, slave) = serialport::TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    drop(slave);
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(path, link).unwrap();
    master
}

pub fn send_scan(master: &mut serialport::TTYPort, bytes: &[u8]) {
    master.write_all(bytes).unwrap();
    master.flush().unwrap();
}
