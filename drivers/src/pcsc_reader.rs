//! The PC/SC backend: a card in a reader managed by pcscd (real readers, or vsmartcard's vpcd
//! with the simulator's virtual card). The pcsc API is blocking: a station gives each reader
//! its own thread.

use pcsc::{Context, Protocols, Scope, ShareMode};

use crate::transport::{Transport, TransportError};

/// One connected card.
pub struct PcscReader {
    name: String,
    atr: Vec<u8>,
    card: pcsc::Card,
    buffer: Vec<u8>,
    _context: Context,
}

/// The service's answer mapped to what a station must tell apart.
fn map(e: pcsc::Error, reader: &str) -> TransportError {
    let reader = reader.to_string();
    match e {
        pcsc::Error::RemovedCard | pcsc::Error::ResetCard => TransportError::CardRemoved { reader },
        pcsc::Error::NoSmartcard => TransportError::NoCard { reader },
        pcsc::Error::ReaderUnavailable | pcsc::Error::UnknownReader => {
            TransportError::ReaderGone { reader }
        }
        pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::CommError => {
            TransportError::ServiceDown {
                detail: e.to_string(),
            }
        }
        other => TransportError::Other {
            reader,
            detail: other.to_string(),
        },
    }
}

/// The readers pcscd knows, by name.
pub fn readers() -> Result<Vec<String>, TransportError> {
    let ctx = Context::establish(Scope::User).map_err(|e| map(e, "-"))?;
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(map(e, "-")),
    };
    Ok(names
        .iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect())
}

/// What pcscd says about a reader right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// A card is in the reader.
    pub present: bool,
    /// Card insertions and removals pcscd has counted in this reader (changes when a card is
    /// swapped, even faster than a poll could see it empty).
    pub events: u32,
}

/// The state of reader `name`, without waiting.
pub fn slot(name: &str) -> Result<Slot, TransportError> {
    ReaderWatch::new(name)?.wait(std::time::Duration::ZERO)
}

/// Watches one reader for card insertions and removals. Waiting happens inside pcscd (a
/// blocking SCardGetStatusChange): polling it in a tight loop instead starves the reader's
/// own presence polling, and a swapped vpcd card is then never seen.
pub struct ReaderWatch {
    ctx: Context,
    state: [pcsc::ReaderState; 1],
    name: String,
}

impl ReaderWatch {
    pub fn new(name: &str) -> Result<ReaderWatch, TransportError> {
        let ctx = Context::establish(Scope::User).map_err(|e| map(e, name))?;
        let cname = std::ffi::CString::new(name).map_err(|_| TransportError::ReaderGone {
            reader: name.to_string(),
        })?;
        Ok(ReaderWatch {
            ctx,
            state: [pcsc::ReaderState::new(cname, pcsc::State::UNAWARE)],
            name: name.to_string(),
        })
    }

    /// Returns as soon as the reader's state differs from what this watch last returned, or
    /// after `timeout` with the state unchanged.
    pub fn wait(&mut self, timeout: std::time::Duration) -> Result<Slot, TransportError> {
        match self.ctx.get_status_change(timeout, &mut self.state) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(map(e, &self.name)),
        }
        let st = &mut self.state[0];
        if st
            .event_state()
            .intersects(pcsc::State::UNKNOWN | pcsc::State::IGNORE)
        {
            return Err(TransportError::ReaderGone {
                reader: self.name.clone(),
            });
        }
        let slot = Slot {
            present: st.event_state().contains(pcsc::State::PRESENT),
            events: st.event_count(),
        };
        st.sync_current_state();
        Ok(slot)
    }
}

impl PcscReader {
    /// Connects to the card in reader `name` (exclusive: no other program may talk to it while
    /// a station writes).
    pub fn connect(name: &str) -> Result<PcscReader, TransportError> {
        let ctx = Context::establish(Scope::User).map_err(|e| map(e, name))?;
        let cname = std::ffi::CString::new(name).map_err(|_| TransportError::ReaderGone {
            reader: name.to_string(),
        })?;
        let card = ctx
            .connect(&cname, ShareMode::Exclusive, Protocols::ANY)
            .map_err(|e| map(e, name))?;
        let atr = card
            .status2_owned()
            .map_err(|e| map(e, name))?
            .atr()
            .to_vec();
        Ok(PcscReader {
            name: name.to_string(),
            atr,
            card,
            buffer: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
            _context: ctx,
        })
    }
}

impl PcscReader {
    /// Ends the connection without resetting the card: after an eject there is no card to
    /// reset, and a reset sent into vpcd's closed link leaves the reader confused.
    pub fn leave(self) {
        let _ = self.card.disconnect(pcsc::Disposition::LeaveCard);
    }
}

impl Transport for PcscReader {
    fn reader(&self) -> &str {
        &self.name
    }

    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let name = &self.name;
        let response = self
            .card
            .transmit(command, &mut self.buffer)
            .map_err(|e| map(e, name))?;
        Ok(response.to_vec())
    }
}
