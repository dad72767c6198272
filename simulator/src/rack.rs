//! Fills vpcd readers with blank cards: one thread per reader, each serving a virtual card
//! over vpcd until the station ejects it (or a fault pulls it out), then the next blank.
//!
//! A personalised card stays in its reader until the station asks for the next blank, so a
//! third-party tool can read it meanwhile. When pcscd goes away the card stays "in the
//! reader" and the rack reconnects it when pcscd is back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::blanks::Blanks;
use crate::card::VirtualCard;
use crate::vpcd::{self, Ended};

/// How long a reader stays empty between two cards. pcscd learns of a card swap by polling
/// the vpcd driver (about every 400 ms); a card pulled out and replaced faster than that is
/// never seen to leave, and a station waiting for the swap would wait for ever. A motorised
/// reader needs about as long to eject a card and feed the next.
pub const SWAP_GAP: Duration = Duration::from_millis(600);

/// What happened in one reader.
#[derive(Debug)]
pub enum RackEvent<'a> {
    /// A blank went into the reader.
    Inserted { reader: usize, serial: u64 },
    /// The card left: ejected by the station, pulled out by a fault, or taken out when the
    /// rack stopped.
    Left {
        reader: usize,
        card: &'a VirtualCard,
        how: Ended,
    },
    /// pcscd is not there (or went away): waiting for it, the card kept.
    Waiting { reader: usize, detail: String },
    /// No blanks left.
    Empty { reader: usize },
}

/// Runs until `stop`; `report` sees every event (from the readers' threads).
pub fn run(
    readers: &[SocketAddr],
    blanks: Arc<Mutex<Blanks>>,
    stop: &AtomicBool,
    report: &(dyn Fn(RackEvent<'_>) + Sync),
) {
    std::thread::scope(|scope| {
        for (i, addr) in readers.iter().enumerate() {
            let blanks = blanks.clone();
            scope.spawn(move || serve_reader(i, *addr, &blanks, stop, report));
        }
    });
}

fn serve_reader(
    reader: usize,
    addr: SocketAddr,
    blanks: &Mutex<Blanks>,
    stop: &AtomicBool,
    report: &(dyn Fn(RackEvent<'_>) + Sync),
) {
    let mut card: Option<VirtualCard> = None;
    let mut waiting = false;
    while !stop.load(Ordering::Relaxed) {
        let Some(current) = card.as_mut() else {
            let next = blanks.lock().ok().and_then(|mut b| b.next_blank());
            match next {
                Some(c) => {
                    report(RackEvent::Inserted {
                        reader,
                        serial: c.serial(),
                    });
                    card = Some(c);
                }
                None => {
                    report(RackEvent::Empty { reader });
                    return;
                }
            }
            continue;
        };
        match vpcd::serve(addr, current, stop) {
            Ok(how @ (Ended::Ejected | Ended::CardRemoved)) => {
                waiting = false;
                report(RackEvent::Left {
                    reader,
                    card: current,
                    how,
                });
                card = None;
                std::thread::sleep(SWAP_GAP);
            }
            Ok(Ended::Stopped) => {
                // The rack is switched off: the card still in the reader is taken out.
                report(RackEvent::Left {
                    reader,
                    card: current,
                    how: Ended::Stopped,
                });
                return;
            }
            Ok(Ended::Closed) => {
                current.reset();
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => {
                if !waiting {
                    report(RackEvent::Waiting {
                        reader,
                        detail: e.to_string(),
                    });
                    waiting = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}
