//! The readers of an encoding station: where the next blank comes from.
//!
//! A station asks a reader for the next blank, writes it, and leaves the finished card in the
//! reader until it needs another blank; then it ejects the card. The simulator's cards leave on
//! the proprietary EJECT command; a real card ignores it (6D00) and an operator takes it out.
//! Either way the station waits until pcscd has seen the card swapped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cqcfab_drivers::pcsc_reader::{self, PcscReader};
use cqcfab_drivers::transport::{Transport, TransportError};
use cqcfab_simulator::blanks::Blanks;
use cqcfab_simulator::card::{EJECT, VirtualCard};
use cqcfab_simulator::inprocess::InProcessReader;

/// How long a station waits for pcscd to report a swap before it looks at the card itself.
pub const SWAP_LOOK: Duration = Duration::from_secs(2);

/// One reader of a station.
pub trait ReaderSlot: Send {
    fn name(&self) -> &str;
    /// Waits for a card that has not been used by this station yet and connects to it;
    /// `Ok(None)` when `stop` was raised or no blank will come.
    fn next_blank(
        &mut self,
        stop: &AtomicBool,
    ) -> Result<Option<&mut dyn Transport>, TransportError>;
    /// The card now in the reader has been touched (its serial, when it was read): the next
    /// call must eject it first.
    fn mark_used(&mut self, serial: Option<u64>);
    /// The serial of the last card marked used: a card showing it again was not swapped.
    fn last_serial(&self) -> Option<u64>;
    /// The card in the reader was used: the next blank comes by a swap (the station prepares
    /// the next job meanwhile).
    fn holds_used_card(&self) -> bool;
    /// The link to the card died with the reader service or the reader: the next call must
    /// connect afresh (and wait for them) instead of handing out the dead connection.
    fn link_lost(&mut self);
}

/// A PC/SC reader (a real one, or vpcd with `cqcfab simulator` behind it).
pub struct PcscSlot {
    name: String,
    conn: Option<PcscReader>,
    /// pcscd's card event count when this connection was made: a different count later means
    /// the card was swapped meanwhile (pulled out and a blank put in).
    connected_at: Option<u32>,
    used: bool,
    last_serial: Option<u64>,
    /// How long the station waits without news before it says again what it waits for.
    pub remind_every: Duration,
}

impl PcscSlot {
    pub fn new(name: impl Into<String>) -> PcscSlot {
        PcscSlot {
            name: name.into(),
            conn: None,
            connected_at: None,
            used: false,
            last_serial: None,
            remind_every: Duration::from_secs(10),
        }
    }

    /// Connects to whatever card is in the reader, waiting for pcscd, the reader and a card.
    fn connect(&mut self, stop: &AtomicBool) -> Result<bool, TransportError> {
        let mut said = None::<(String, Instant)>;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let wait = match PcscReader::connect(&self.name) {
                Ok(r) => {
                    self.conn = Some(r);
                    self.connected_at = pcsc_reader::slot(&self.name).ok().map(|s| s.events);
                    return Ok(true);
                }
                Err(TransportError::NoCard { .. } | TransportError::CardRemoved { .. }) => {
                    ("insert a blank card".to_string(), Duration::from_millis(10))
                }
                Err(
                    e @ (TransportError::ServiceDown { .. } | TransportError::ReaderGone { .. }),
                ) => (format!("{e}: waiting"), Duration::from_millis(250)),
                Err(e) => return Err(e),
            };
            let repeat = said
                .as_ref()
                .is_none_or(|(what, at)| *what != wait.0 || at.elapsed() > self.remind_every);
            if repeat {
                tracing::info!(reader = self.name, "{}", wait.0);
                said = Some((wait.0, Instant::now()));
            }
            std::thread::sleep(wait.1);
        }
    }

    /// Ejects the used card and waits until pcscd has seen a different card arrive. When
    /// pcscd stops or the reader vanishes meanwhile, waits for them to come back and starts
    /// again: the used card is still in the reader (or an operator swapped it; the serial
    /// check of the next attempt tells).
    fn eject(&mut self, stop: &AtomicBool) -> Result<bool, TransportError> {
        let mut said = false;
        loop {
            match self.eject_once(stop) {
                Err(
                    e @ (TransportError::ServiceDown { .. } | TransportError::ReaderGone { .. }),
                ) => {
                    if !said {
                        tracing::info!(reader = self.name, "{e}: waiting for it to come back");
                        said = true;
                    }
                    // The connection died with the service: connect afresh when it is back.
                    self.conn = None;
                    self.connected_at = None;
                    std::thread::sleep(Duration::from_millis(250));
                }
                other => return other,
            }
        }
    }

    fn eject_once(&mut self, stop: &AtomicBool) -> Result<bool, TransportError> {
        if self.conn.is_none() && !self.connect(stop)? {
            return Ok(false);
        }
        // Learn the current state first, then eject: the watch reports every change after.
        let mut watch = pcsc_reader::ReaderWatch::new(&self.name)?;
        let before = watch.wait(Duration::ZERO)?;
        if before.present && self.connected_at.is_some_and(|c| c != before.events) {
            // The used card was pulled out and a new one is in already: keep that one.
            if let Some(conn) = self.conn.take() {
                conn.leave();
            }
            return Ok(true);
        }
        if let Some(mut conn) = self.conn.take() {
            // A real card answers 6D00: then an operator takes it out.
            let _ = conn.transmit_raw(&EJECT);
            conn.leave();
        }
        let started = Instant::now();
        let mut reminded = Instant::now();
        let mut seen_empty = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            match watch.wait(Duration::from_millis(250)) {
                Ok(now) if !now.present => seen_empty = true,
                Ok(now) if seen_empty || now.events != before.events => return Ok(true),
                Ok(_) => {}
                // pcscd restarted or the reader was unplugged: start again with a new watch.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(250));
                    if let Ok(w) = pcsc_reader::ReaderWatch::new(&self.name) {
                        watch = w;
                        seen_empty = true;
                    }
                }
            }
            if started.elapsed() > SWAP_LOOK {
                // pcscd may have missed a quick swap: the station reads the card's serial and
                // compares it with the last one.
                return Ok(true);
            }
            if reminded.elapsed() > self.remind_every {
                tracing::info!(
                    reader = self.name,
                    waited_s = started.elapsed().as_secs(),
                    "take the finished card out and insert a blank"
                );
                reminded = Instant::now();
            }
        }
    }
}

impl ReaderSlot for PcscSlot {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_blank(
        &mut self,
        stop: &AtomicBool,
    ) -> Result<Option<&mut dyn Transport>, TransportError> {
        if self.used {
            if !self.eject(stop)? {
                return Ok(None);
            }
            self.used = false;
        }
        if self.conn.is_none() && !self.connect(stop)? {
            return Ok(None);
        }
        Ok(self.conn.as_mut().map(|c| c as &mut dyn Transport))
    }

    fn mark_used(&mut self, serial: Option<u64>) {
        self.used = true;
        if serial.is_some() {
            self.last_serial = serial;
        }
    }

    fn last_serial(&self) -> Option<u64> {
        self.last_serial
    }

    fn holds_used_card(&self) -> bool {
        self.used
    }

    fn link_lost(&mut self) {
        self.conn = None;
        self.connected_at = None;
    }
}

/// Where cards that left in-process readers end up, to be looked at.
pub type Hopper = Arc<Mutex<Vec<VirtualCard>>>;

/// A reader in this process, fed from a supply of simulated blanks.
pub struct InProcessSlot {
    name: String,
    blanks: Arc<Mutex<Blanks>>,
    current: Option<InProcessReader>,
    used: bool,
    hopper: Hopper,
    unplug_at: Option<u32>,
}

impl InProcessSlot {
    pub fn new(
        name: impl Into<String>,
        blanks: Arc<Mutex<Blanks>>,
        hopper: Hopper,
    ) -> InProcessSlot {
        InProcessSlot {
            name: name.into(),
            blanks,
            current: None,
            used: false,
            hopper,
            unplug_at: None,
        }
    }

    /// The next card's reader is unplugged at its `n`-th APDU (a drill: the station must
    /// spoil the half-written body, give the job back and carry on when the reader is back).
    pub fn unplug_at(mut self, n: u32) -> InProcessSlot {
        self.unplug_at = Some(n);
        self
    }

    fn empty_into_hopper(&mut self) {
        if let Some(r) = self.current.take()
            && let Ok(mut h) = self.hopper.lock()
        {
            h.push(r.into_card());
        }
    }
}

impl Drop for InProcessSlot {
    /// The end of the shift: the card still in the reader goes to the hopper too.
    fn drop(&mut self) {
        self.empty_into_hopper();
    }
}

impl ReaderSlot for InProcessSlot {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_blank(
        &mut self,
        _stop: &AtomicBool,
    ) -> Result<Option<&mut dyn Transport>, TransportError> {
        if self.used || self.current.as_ref().is_some_and(|r| r.card().is_removed()) {
            self.empty_into_hopper();
            self.used = false;
        }
        if self.current.is_none() {
            let next = self.blanks.lock().ok().and_then(|mut b| b.next_blank());
            match next {
                Some(card) => {
                    let mut reader = InProcessReader::new(self.name.clone(), card);
                    if let Some(n) = self.unplug_at.take() {
                        reader = reader.unplug_at(n);
                    }
                    self.current = Some(reader);
                }
                None => return Ok(None),
            }
        }
        Ok(self.current.as_mut().map(|c| c as &mut dyn Transport))
    }

    fn mark_used(&mut self, _serial: Option<u64>) {
        self.used = true;
    }

    fn last_serial(&self) -> Option<u64> {
        None
    }

    fn holds_used_card(&self) -> bool {
        self.used
    }

    /// The in-process reader is plugged back at once, its card still in it.
    fn link_lost(&mut self) {}
}
