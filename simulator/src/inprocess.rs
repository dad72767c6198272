//! A reader with a virtual card in it, in the same process.

use cqcfab_drivers::transport::{Transport, TransportError};

use crate::card::{Gone, VirtualCard};

pub struct InProcessReader {
    name: String,
    atr: Vec<u8>,
    card: VirtualCard,
    /// APDUs left before the reader is unplugged (once): the card keeps what it has and the
    /// station sees the reader vanish, as when a USB cable is pulled out mid-write.
    unplug_after: Option<u32>,
}

impl InProcessReader {
    pub fn new(name: impl Into<String>, card: VirtualCard) -> InProcessReader {
        InProcessReader {
            name: name.into(),
            atr: card.atr(),
            card,
            unplug_after: None,
        }
    }

    /// The reader is unplugged when the `n`-th APDU from now arrives (1-based); it is not
    /// sent to the card.
    pub fn unplug_at(mut self, n: u32) -> InProcessReader {
        self.unplug_after = Some(n);
        self
    }

    /// The card, to look at after a test.
    pub fn card(&self) -> &VirtualCard {
        &self.card
    }

    /// Takes the card out (what a station gives an operator).
    pub fn into_card(self) -> VirtualCard {
        self.card
    }
}

impl Transport for InProcessReader {
    fn reader(&self) -> &str {
        &self.name
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if let Some(left) = self.unplug_after.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.unplug_after = None;
                return Err(TransportError::ReaderGone {
                    reader: self.name.clone(),
                });
            }
        }
        self.card
            .process(command)
            .map_err(|Gone::Removed| TransportError::CardRemoved {
                reader: self.name.clone(),
            })
    }
}
