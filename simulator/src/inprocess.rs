//! A reader with a virtual card in it, in the same process.

use cqcfab_drivers::transport::{Transport, TransportError};

use crate::card::{Gone, VirtualCard};

pub struct InProcessReader {
    name: String,
    atr: Vec<u8>,
    card: VirtualCard,
}

impl InProcessReader {
    pub fn new(name: impl Into<String>, card: VirtualCard) -> InProcessReader {
        InProcessReader {
            name: name.into(),
            atr: card.atr(),
            card,
        }
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
        self.card
            .process(command)
            .map_err(|Gone::Removed| TransportError::CardRemoved {
                reader: self.name.clone(),
            })
    }
}
