//! A supply of blank card bodies: consecutive serials from one lot, some with planned faults,
//! as a card manufacturer delivers them (and as a test wants them).

use std::collections::BTreeMap;

use crate::card::{CardSpec, Fault, VirtualCard};

/// The simulator's lot: serials from here, as a card manufacturer's delivery note would list
/// them (the demo and `cqcfab stock receive` record the same range).
pub const SIM_LOT: &str = "SIM-0C0C";
pub const SIM_FIRST_SERIAL: u64 = 0x0C0C_0000_0000_0001;
pub const SIM_LOT_SIZE: u64 = 1_000_000;

/// Blank card bodies with serials `first..=last`.
pub struct Blanks {
    next: u64,
    last: u64,
    master: Vec<u8>,
    spec: fn(u64) -> CardSpec,
    faults: BTreeMap<u64, Vec<Fault>>,
    issued: u64,
}

impl Blanks {
    pub fn new(first: u64, last: u64, master: &[u8]) -> Blanks {
        Blanks {
            next: first,
            last,
            master: master.to_vec(),
            spec: CardSpec::standard,
            faults: BTreeMap::new(),
            issued: 0,
        }
    }

    /// Builds every body with `spec` (e.g. [`CardSpec::short_only`]).
    pub fn with_spec(mut self, spec: fn(u64) -> CardSpec) -> Blanks {
        self.spec = spec;
        self
    }

    /// The `nth` body handed out (0-based) carries `faults`.
    pub fn fault(mut self, nth: u64, faults: Vec<Fault>) -> Blanks {
        self.faults.insert(nth, faults);
        self
    }

    /// The next blank, or None when the lot is used up.
    pub fn next_blank(&mut self) -> Option<VirtualCard> {
        if self.next > self.last {
            return None;
        }
        let serial = self.next;
        self.next += 1;
        let faults = self.faults.remove(&self.issued).unwrap_or_default();
        self.issued += 1;
        Some(VirtualCard::new((self.spec)(serial), &self.master, faults))
    }

    /// Bodies handed out so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }
}
