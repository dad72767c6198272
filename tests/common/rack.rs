//! The simulator's rack seen from a test: which chips left the vpcd readers, holding what.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cqcfab::chip::data_groups::FID_DG1;
use cqcfab_simulator::blanks::Blanks;
use cqcfab_simulator::card::LifeCycle;
use cqcfab_simulator::rack::{self, RackEvent};

/// What left a reader of the rack: serial, life cycle, the card number its DG1 holds.
pub type LeftCard = (u64, LifeCycle, Option<String>);

/// Raises the flag when dropped: a thread serving virtual cards must end even when an
/// assertion fails, or the scope that runs it never returns.
pub struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The vpcd reader ports on loopback.
pub fn ports(ports: &[u16]) -> Vec<SocketAddr> {
    ports
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect()
}

/// Runs the rack on `ports` until `stop`, recording every card that leaves (the cards still
/// in the readers leave when it stops).
pub fn run(ports: &[SocketAddr], blanks: Blanks, stop: &AtomicBool, left: &Mutex<Vec<LeftCard>>) {
    rack::run(ports, Arc::new(Mutex::new(blanks)), stop, &|e| {
        if let RackEvent::Left { card, .. } = e {
            let number = card.file(FID_DG1).and_then(|f| {
                cqcfab::chip::tlv::parse(f)
                    .ok()?
                    .find(0x5F0E)
                    .map(|n| n.text())
            });
            left.lock()
                .expect("left")
                .push((card.serial(), card.life_cycle(), number));
        }
    });
}
