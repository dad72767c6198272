//! The card-reader boundary: one trait, `transmit`, implemented by the PC/SC backend and by the
//! simulator's in-process link, so the station code cannot tell them apart.

use crate::apdu::{Command, DecodeError, EncodeError, Response};

/// Why an exchange with a card failed. A station acts differently on each: a removed card is
/// spoiled (or resumed if re-inserted), a vanished reader takes the station down until it is
/// back, a stopped service means waiting, a protocol error is a faulty card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the card was removed from reader {reader}")]
    CardRemoved { reader: String },
    #[error("there is no card in reader {reader}")]
    NoCard { reader: String },
    #[error("reader {reader} is gone")]
    ReaderGone { reader: String },
    #[error("the card reader service is not running: {detail}")]
    ServiceDown { detail: String },
    #[error("the card in reader {reader} answers with a wrong length or shape: {detail}")]
    Protocol { reader: String, detail: String },
    #[error("command not sent: {0}")]
    Encode(#[from] EncodeError),
    #[error("reader {reader}: {detail}")]
    Other { reader: String, detail: String },
}

/// A link to one card in one reader.
pub trait Transport: Send {
    /// The reader's name, for messages and the audit trail.
    fn reader(&self) -> &str;

    /// The card's answer to reset.
    fn atr(&self) -> &[u8];

    /// Sends command bytes, returns response bytes (data and status word).
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Sends a command and parses the answer. `61xx` (more data) is followed with GET RESPONSE
    /// and `6Cxx` (wrong Le) repeated with the right Le, as ISO 7816-3 T=0 requires, so callers
    /// see one response per command whatever the protocol.
    fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        let bytes = command.encode()?;
        let mut response = self.exchange(&bytes)?;
        if response.sw.0 & 0xFF00 == 0x6C00 {
            let mut again = command.clone();
            again.le = Some(match response.sw.0 & 0xFF {
                0 => 256,
                n => usize::from(n as u8),
            });
            response = self.exchange(&again.encode()?)?;
        }
        let mut data = std::mem::take(&mut response.data);
        let mut rounds = 0;
        while response.sw.0 & 0xFF00 == 0x6100 {
            rounds += 1;
            if rounds > 256 {
                return Err(TransportError::Protocol {
                    reader: self.reader().to_string(),
                    detail: "more than 256 GET RESPONSE rounds".into(),
                });
            }
            let le = match response.sw.0 & 0xFF {
                0 => 256,
                n => usize::from(n as u8),
            };
            let get = Command::new(command.cla & 0x03, 0xC0, 0, 0).with_le(le);
            response = self.exchange(&get.encode()?)?;
            data.append(&mut response.data);
        }
        response.data = data;
        Ok(response)
    }

    /// One round trip, parsed.
    fn exchange(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        let raw = self.transmit_raw(command)?;
        Response::parse(&raw).map_err(|e: DecodeError| TransportError::Protocol {
            reader: self.reader().to_string(),
            detail: e.to_string(),
        })
    }
}
