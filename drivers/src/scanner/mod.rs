//! Serial barcode scanners (RS-232, or USB in CDC-ACM "virtual COM" mode).
//!
//! A scanner is a device path (`/dev/ttyACM0`, better a stable `/dev/serial/by-id/...`
//! link), a line setting (baud, data bits, parity, stop bits) and a framing ([`Framing`]):
//! what the scanner was programmed to send around each code. [`Scanner::start`] reads it on
//! its own thread (the `serialport` crate is blocking) and hands out [`ScanEvent`]s on a
//! channel. The thread survives the device going away: it reports the loss, discards any half
//! received code, reopens the path until the scanner is back and says so, because a mailroom
//! clerk unplugs a handheld scanner to move it and expects it to work when plugged back.

pub mod framing;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use framing::{Code, Frame, Framer, Framing, Noise, NoiseKind, Symbology, Terminator};

/// Character format of the serial line, as written on the scanner's setup sheet (`8N1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFormat {
    pub data_bits: DataBits,
    pub parity: Parity,
    pub stop_bits: StopBits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataBits {
    Seven,
    Eight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    None,
    Even,
    Odd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopBits {
    One,
    Two,
}

impl Default for LineFormat {
    fn default() -> Self {
        LineFormat {
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
        }
    }
}

impl std::str::FromStr for LineFormat {
    type Err = String;
    /// `8N1`, `7E1`, `8N2`...: data bits, parity (N, E, O), stop bits.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "line format {s:?} not understood: expected data bits (7 or 8), parity (N, E or O) \
                 and stop bits (1 or 2), as in 8N1"
            )
        };
        let b = s.as_bytes();
        if b.len() != 3 {
            return Err(bad());
        }
        let data_bits = match b[0] {
            b'7' => DataBits::Seven,
            b'8' => DataBits::Eight,
            _ => return Err(bad()),
        };
        let parity = match b[1].to_ascii_uppercase() {
            b'N' => Parity::None,
            b'E' => Parity::Even,
            b'O' => Parity::Odd,
            _ => return Err(bad()),
        };
        let stop_bits = match b[2] {
            b'1' => StopBits::One,
            b'2' => StopBits::Two,
            _ => return Err(bad()),
        };
        Ok(LineFormat {
            data_bits,
            parity,
            stop_bits,
        })
    }
}

impl std::fmt::Display for LineFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = match self.data_bits {
            DataBits::Seven => '7',
            DataBits::Eight => '8',
        };
        let p = match self.parity {
            Parity::None => 'N',
            Parity::Even => 'E',
            Parity::Odd => 'O',
        };
        let s = match self.stop_bits {
            StopBits::One => '1',
            StopBits::Two => '2',
        };
        write!(f, "{d}{p}{s}")
    }
}

/// Everything needed to read one scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerConfig {
    pub device: PathBuf,
    pub baud: u32,
    pub line: LineFormat,
    pub framing: Framing,
    /// Silence after which an unfinished code is dropped as noise. A scanner sends a whole
    /// code in a burst (13 characters take 14 ms at 9600 baud), so 200 ms is generous.
    pub quiet: Duration,
    /// Pause between attempts to reopen a device that went away.
    pub reconnect_every: Duration,
}

impl ScannerConfig {
    /// A scanner on `device` at the usual factory setting: 9600 baud, 8N1, CR.
    pub fn new(device: impl Into<PathBuf>) -> ScannerConfig {
        ScannerConfig {
            device: device.into(),
            baud: 9600,
            line: LineFormat::default(),
            framing: Framing::default(),
            quiet: Duration::from_millis(200),
            reconnect_every: Duration::from_millis(250),
        }
    }
}

/// What the scanner thread reports, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEvent {
    /// The device is open (at start, and again after it came back).
    Connected { device: String },
    /// The device cannot be opened; said once per outage, retried every `reconnect_every`.
    Unavailable { device: String, reason: String },
    /// A code was read.
    Code(Code),
    /// Bytes that were not a code (see [`NoiseKind`]).
    Noise(Noise),
    /// The open device failed (unplugged, hung up): a half received code was dropped.
    Disconnected { device: String, reason: String },
}

/// A running scanner reader. Dropping it stops the thread.
#[derive(Debug)]
pub struct Scanner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    events: Receiver<ScanEvent>,
}

impl Scanner {
    /// Starts reading `config.device` on a new thread. Never fails: a device that is not
    /// there yet is reported as [`ScanEvent::Unavailable`] and waited for.
    pub fn start(config: ScannerConfig) -> std::io::Result<Scanner> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, events) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("scanner {}", config.device.display()))
            .spawn({
                let stop = Arc::clone(&stop);
                move || read_loop(&config, &stop, &tx)
            })?;
        Ok(Scanner {
            stop,
            thread: Some(thread),
            events,
        })
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Result<ScanEvent, RecvTimeoutError> {
        self.events.recv_timeout(timeout)
    }

    /// The channel itself, to iterate or select on.
    pub fn events(&self) -> &Receiver<ScanEvent> {
        &self.events
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn open(config: &ScannerConfig) -> Result<serialport::TTYPort, serialport::Error> {
    let poll = config.quiet.min(Duration::from_millis(50));
    serialport::new(config.device.to_string_lossy(), config.baud)
        .data_bits(match config.line.data_bits {
            DataBits::Seven => serialport::DataBits::Seven,
            DataBits::Eight => serialport::DataBits::Eight,
        })
        .parity(match config.line.parity {
            Parity::None => serialport::Parity::None,
            Parity::Even => serialport::Parity::Even,
            Parity::Odd => serialport::Parity::Odd,
        })
        .stop_bits(match config.line.stop_bits {
            StopBits::One => serialport::StopBits::One,
            StopBits::Two => serialport::StopBits::Two,
        })
        .flow_control(serialport::FlowControl::None)
        .timeout(poll)
        .open_native()
}

fn device_name(path: &Path) -> String {
    path.display().to_string()
}

/// The thread body: open, read until failure, report, reopen; until stopped or the receiver
/// is gone.
fn read_loop(config: &ScannerConfig, stop: &AtomicBool, tx: &Sender<ScanEvent>) {
    let device = device_name(&config.device);
    let mut framer = Framer::new(config.framing.clone());
    let mut outage_reported = false;
    while !stop.load(Ordering::Relaxed) {
        let mut port = match open(config) {
            Ok(port) => port,
            Err(e) => {
                if !outage_reported {
                    outage_reported = true;
                    let event = ScanEvent::Unavailable {
                        device: device.clone(),
                        reason: e.to_string(),
                    };
                    if tx.send(event).is_err() {
                        return;
                    }
                }
                pause(config.reconnect_every, stop);
                continue;
            }
        };
        outage_reported = false;
        if tx
            .send(ScanEvent::Connected {
                device: device.clone(),
            })
            .is_err()
        {
            return;
        }
        let reason = match read_port(&mut port, &mut framer, config, stop, tx) {
            Ended::Stopped => return,
            Ended::Failed(reason) => reason,
        };
        drop(port);
        if let Some(noise) = framer.flush_partial()
            && tx.send(ScanEvent::Noise(noise)).is_err()
        {
            return;
        }
        let event = ScanEvent::Disconnected {
            device: device.clone(),
            reason,
        };
        if tx.send(event).is_err() {
            return;
        }
        pause(config.reconnect_every, stop);
    }
}

enum Ended {
    Stopped,
    Failed(String),
}

fn read_port(
    port: &mut serialport::TTYPort,
    framer: &mut Framer,
    config: &ScannerConfig,
    stop: &AtomicBool,
    tx: &Sender<ScanEvent>,
) -> Ended {
    let mut buf = [0u8; 512];
    let mut last_byte = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ended::Stopped;
        }
        match port.read(&mut buf) {
            Ok(0) => return Ended::Failed("end of stream (device hung up)".into()),
            Ok(n) => {
                last_byte = Instant::now();
                for frame in framer.push(&buf[..n]) {
                    let event = match frame {
                        Ok(code) => ScanEvent::Code(code),
                        Err(noise) => ScanEvent::Noise(noise),
                    };
                    if tx.send(event).is_err() {
                        return Ended::Stopped;
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                if framer.has_partial()
                    && last_byte.elapsed() >= config.quiet
                    && let Some(noise) = framer.flush_partial()
                    && tx.send(ScanEvent::Noise(noise)).is_err()
                {
                    return Ended::Stopped;
                }
            }
            Err(e) => return Ended::Failed(e.to_string()),
        }
    }
}

/// Sleeps `total`, waking early when stopped.
fn pause(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
}
