//! Command and response APDUs (ISO/IEC 7816-4 §5.1).
//!
//! A command is encoded in the shortest form that carries it: short (Lc, Le one byte each)
//! when the data fit in 255 bytes and the expected answer in 256, extended (a zero byte, then
//! two-byte Lc/Le) otherwise. Whether a card accepts extended length is the caller's business:
//! it reads the card's capabilities first (docs/chip-profile.md) and sizes its commands.

use std::fmt;

/// Largest data field of a short command.
pub const SHORT_MAX_DATA: usize = 255;
/// Largest answer a short command can ask for (Le = 00 means 256).
pub const SHORT_MAX_LE: usize = 256;
/// Largest data field of an extended command.
pub const EXTENDED_MAX_DATA: usize = 65_535;
/// Largest answer an extended command can ask for (Le = 0000 means 65,536).
pub const EXTENDED_MAX_LE: usize = 65_536;

/// A command APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length; `None` when no data is expected.
    pub le: Option<usize>,
}

/// A command that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("command data of {0} bytes exceed the 65,535 of an extended APDU")]
    DataTooLong(usize),
    #[error("an expected length of {0} exceeds the 65,536 of an extended APDU")]
    LeTooLarge(usize),
    #[error("expected length 0: leave Le out when no data is expected")]
    LeZero,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Command {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Command {
        self.data = data.into();
        self
    }

    pub fn with_le(mut self, le: usize) -> Command {
        self.le = Some(le);
        self
    }

    /// True when this command needs the extended form.
    pub fn is_extended(&self) -> bool {
        self.data.len() > SHORT_MAX_DATA || self.le.is_some_and(|le| le > SHORT_MAX_LE)
    }

    /// The bytes sent to the card (cases 1 to 4, short or extended).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let n = self.data.len();
        if n > EXTENDED_MAX_DATA {
            return Err(EncodeError::DataTooLong(n));
        }
        match self.le {
            Some(0) => return Err(EncodeError::LeZero),
            Some(le) if le > EXTENDED_MAX_LE => return Err(EncodeError::LeTooLarge(le)),
            _ => {}
        }
        let mut out = Vec::with_capacity(n + 9);
        out.extend([self.cla, self.ins, self.p1, self.p2]);
        if self.is_extended() {
            out.push(0);
            if n > 0 {
                out.extend((n as u16).to_be_bytes());
                out.extend(&self.data);
            }
            if let Some(le) = self.le {
                // 65,536 is written as 0000.
                out.extend(((le % 65_536) as u16).to_be_bytes());
            }
        } else {
            if n > 0 {
                out.push(n as u8);
                out.extend(&self.data);
            }
            if let Some(le) = self.le {
                out.push((le % 256) as u8);
            }
        }
        Ok(out)
    }

    /// Parses command bytes (the card side of the link uses this).
    pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
        let header: [u8; 4] = bytes
            .get(..4)
            .and_then(|h| h.try_into().ok())
            .ok_or(DecodeError::TooShort(bytes.len()))?;
        let [cla, ins, p1, p2] = header;
        let body = &bytes[4..];
        let mut cmd = Command::new(cla, ins, p1, p2);
        match body.len() {
            0 => {}
            1 => {
                cmd.le = Some(if body[0] == 0 {
                    256
                } else {
                    usize::from(body[0])
                })
            }
            _ if body[0] != 0 => {
                let lc = usize::from(body[0]);
                let rest = &body[1..];
                match rest.len().checked_sub(lc) {
                    Some(0) => cmd.data = rest.to_vec(),
                    Some(1) => {
                        cmd.data = rest[..lc].to_vec();
                        let le = rest[lc];
                        cmd.le = Some(if le == 0 { 256 } else { usize::from(le) });
                    }
                    _ => return Err(DecodeError::Length(bytes.len())),
                }
            }
            // 00 then one byte: an extended-length marker with half a length.
            2 => return Err(DecodeError::Length(bytes.len())),
            3 => {
                let le = usize::from(u16::from_be_bytes([body[1], body[2]]));
                cmd.le = Some(if le == 0 { 65_536 } else { le });
            }
            _ => {
                let lc = usize::from(u16::from_be_bytes([body[1], body[2]]));
                let rest = &body[3..];
                if lc == 0 {
                    return Err(DecodeError::Length(bytes.len()));
                }
                match rest.len().checked_sub(lc) {
                    Some(0) => cmd.data = rest.to_vec(),
                    Some(2) => {
                        cmd.data = rest[..lc].to_vec();
                        let le = usize::from(u16::from_be_bytes([rest[lc], rest[lc + 1]]));
                        cmd.le = Some(if le == 0 { 65_536 } else { le });
                    }
                    _ => return Err(DecodeError::Length(bytes.len())),
                }
            }
        }
        Ok(cmd)
    }
}

impl fmt::Debug for Command {
    /// Header and sizes only: command data may hold personal data or key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02X} {:02X} {:02X} {:02X} (Lc {}, Le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

/// Command bytes that are not an APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} bytes are too few for a command header")]
    TooShort(usize),
    #[error("a command of {0} bytes has inconsistent Lc/Le fields")]
    Length(usize),
    #[error("a response needs at least the two status bytes, got {0} bytes")]
    NoStatus(usize),
}

/// A status word (SW1 SW2).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sw(pub u16);

impl Sw {
    pub const OK: Sw = Sw(0x9000);
    pub const END_OF_FILE: Sw = Sw(0x6282);
    pub const MEMORY_FAILURE: Sw = Sw(0x6581);
    pub const WRONG_LENGTH: Sw = Sw(0x6700);
    pub const SECURITY_NOT_SATISFIED: Sw = Sw(0x6982);
    pub const AUTH_BLOCKED: Sw = Sw(0x6983);
    pub const CONDITIONS_NOT_SATISFIED: Sw = Sw(0x6985);
    pub const WRONG_DATA: Sw = Sw(0x6A80);
    pub const FILE_NOT_FOUND: Sw = Sw(0x6A82);
    pub const NOT_ENOUGH_MEMORY: Sw = Sw(0x6A84);
    pub const WRONG_P1P2: Sw = Sw(0x6A86);
    pub const FILE_EXISTS: Sw = Sw(0x6A89);
    pub const OFFSET_OUTSIDE: Sw = Sw(0x6B00);
    pub const INS_NOT_SUPPORTED: Sw = Sw(0x6D00);
    pub const CLA_NOT_SUPPORTED: Sw = Sw(0x6E00);

    pub fn is_ok(self) -> bool {
        self == Sw::OK
    }

    /// 63Cx: verification failed, `x` tries left.
    pub fn tries_left(self) -> Option<u8> {
        (self.0 & 0xFFF0 == 0x63C0).then_some((self.0 & 0x0F) as u8)
    }

    /// What ISO 7816-4 calls it, for messages an operator reads.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            0x9000 => "success",
            0x6282 => "end of file reached before Le bytes",
            0x6581 => "memory failure (EEPROM write failed)",
            0x6700 => "wrong length",
            0x6982 => "security status not satisfied",
            0x6983 => "authentication method blocked",
            0x6985 => "conditions of use not satisfied",
            0x6A80 => "incorrect data field",
            0x6A82 => "file or application not found",
            0x6A84 => "not enough memory space in the file",
            0x6A86 => "incorrect parameters P1-P2",
            0x6A89 => "file already exists",
            0x6B00 => "offset outside the file",
            0x6D00 => "instruction not supported",
            0x6E00 => "class not supported",
            x if x & 0xFF00 == 0x6100 => "more data available",
            x if x & 0xFF00 == 0x6C00 => "wrong Le",
            x if x & 0xFFF0 == 0x63C0 => "verification failed",
            _ => "unexpected status",
        }
    }
}

impl fmt::Debug for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Display for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.0, self.meaning())
    }
}

/// A response APDU: data, then the status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: Sw,
}

impl Response {
    pub fn ok(data: Vec<u8>) -> Response {
        Response { data, sw: Sw::OK }
    }

    pub fn status(sw: Sw) -> Response {
        Response {
            data: Vec::new(),
            sw,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Response, DecodeError> {
        let n = bytes.len();
        if n < 2 {
            return Err(DecodeError::NoStatus(n));
        }
        Ok(Response {
            data: bytes[..n - 2].to_vec(),
            sw: Sw(u16::from_be_bytes([bytes[n - 2], bytes[n - 1]])),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend(&self.data);
        out.extend(self.sw.0.to_be_bytes());
        out
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} data bytes, SW {:?}", self.data.len(), self.sw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_cases_in_short_and_extended_form() {
        let c = |data: usize, le: Option<usize>| {
            let mut c = Command::new(0x00, 0xD6, 0x01, 0x02).with_data(vec![0xAB; data]);
            c.le = le;
            c
        };
        let table: [(Command, &[u8]); 8] = [
            (c(0, None), &[0x00, 0xD6, 0x01, 0x02]),
            (c(0, Some(256)), &[0x00, 0xD6, 0x01, 0x02, 0x00]),
            (c(2, None), &[0x00, 0xD6, 0x01, 0x02, 0x02, 0xAB, 0xAB]),
            (c(1, Some(16)), &[0x00, 0xD6, 0x01, 0x02, 0x01, 0xAB, 0x10]),
            (c(0, Some(257)), &[0x00, 0xD6, 0x01, 0x02, 0x00, 0x01, 0x01]),
            (
                c(0, Some(65_536)),
                &[0x00, 0xD6, 0x01, 0x02, 0x00, 0x00, 0x00],
            ),
            (c(0, Some(1)), &[0x00, 0xD6, 0x01, 0x02, 0x01]),
            (
                c(1, Some(300)),
                &[0x00, 0xD6, 0x01, 0x02, 0x00, 0x00, 0x01, 0xAB, 0x01, 0x2C],
            ),
        ];
        for (cmd, bytes) in table {
            assert_eq!(cmd.encode().unwrap(), bytes, "{cmd:?}");
            assert_eq!(Command::decode(bytes).unwrap(), cmd, "{cmd:?}");
        }
        let long = c(256, None).encode().unwrap();
        assert_eq!(&long[4..7], &[0x00, 0x01, 0x00]);
        assert_eq!(Command::decode(&long).unwrap().data.len(), 256);
    }

    #[test]
    fn impossible_commands_are_refused() {
        let big = Command::new(0, 0xD6, 0, 0).with_data(vec![0; 65_536]);
        assert_eq!(big.encode(), Err(EncodeError::DataTooLong(65_536)));
        assert_eq!(
            Command::new(0, 0xB0, 0, 0).with_le(0).encode(),
            Err(EncodeError::LeZero)
        );
        assert_eq!(Command::decode(&[0, 1, 2]), Err(DecodeError::TooShort(3)));
        // Lc says 5, 2 bytes follow.
        assert_eq!(
            Command::decode(&[0, 0xD6, 0, 0, 5, 1, 2]),
            Err(DecodeError::Length(7))
        );
        assert_eq!(Response::parse(&[0x90]), Err(DecodeError::NoStatus(1)));
    }

    #[test]
    fn status_words_say_what_they_mean() {
        assert_eq!(Sw(0x63C2).tries_left(), Some(2));
        assert_eq!(Sw::OK.tries_left(), None);
        assert_eq!(
            Sw::MEMORY_FAILURE.to_string(),
            "6581 (memory failure (EEPROM write failed))"
        );
        let r = Response::parse(&[1, 2, 0x90, 0x00]).unwrap();
        assert_eq!((r.data.as_slice(), r.sw), (&[1u8, 2][..], Sw::OK));
        assert_eq!(r.encode(), [1, 2, 0x90, 0x00]);
    }

    #[test]
    fn debug_output_never_shows_command_data() {
        let secret = Command::new(0, 0x82, 0, 1).with_data(b"KEY-MATERIAL".to_vec());
        assert!(!format!("{secret:?}").contains("4B"));
        assert_eq!(format!("{secret:?}"), "00 82 00 01 (Lc 12, Le None)");
    }
}
