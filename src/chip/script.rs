//! The personalisation script (docs/chip-profile.md): check the card body, authenticate with
//! its diversified key, create and write each file in the largest pieces the card takes, read
//! everything back and compare, then lock the application.
//!
//! The script talks to a [`Transport`], so the same code drives a PC/SC reader and the
//! in-process simulator. Every failure names the step and the file; the station decides what
//! becomes of the card body (spoiled) and of the job (retried on a fresh blank).

use cqcfab_drivers::apdu::{Command, SHORT_MAX_DATA, SHORT_MAX_LE, Sw};
use cqcfab_drivers::transport::{Transport, TransportError};
use cqcfab_simulator::card::{AID, FID_ATR_INFO, FID_IDENT, auth_response, card_key};
use sha2::{Digest, Sha256};

use super::atr::{self, AtrError};
use super::tlv;

/// Why a card could not be personalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersoError {
    #[error(transparent)]
    WrongCard(#[from] AtrError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{step}: the card answered {sw}")]
    Card { step: String, sw: Sw },
    #[error("{what} on the card is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("file {fid:04X} read back differs from what was written, first at byte {offset}")]
    ReadBack { fid: u16, offset: usize },
    #[error("file {fid:04X} of {size} bytes is larger than a file of this profile (32,767)")]
    FileTooLarge { fid: u16, size: usize },
}

/// What a successful personalisation proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personalised {
    /// The card body's serial (EF.IDENT), to bind to the card record.
    pub serial: u64,
    /// SHA-256 of each file as read back.
    pub hashes: Vec<(u16, [u8; 32])>,
    pub apdus: u32,
    /// Largest command data and response data used.
    pub chunk: (usize, usize),
}

/// A transport that counts round trips.
struct Counted<'a> {
    inner: &'a mut dyn Transport,
    apdus: u32,
}

impl Counted<'_> {
    fn send(&mut self, step: &str, cmd: Command) -> Result<Vec<u8>, PersoError> {
        self.apdus += 1;
        let r = self.inner.transmit(&cmd)?;
        if r.sw.is_ok() || (r.sw == Sw::END_OF_FILE && cmd.ins == 0xB0) {
            Ok(r.data)
        } else {
            Err(PersoError::Card {
                step: step.to_string(),
                sw: r.sw,
            })
        }
    }

    fn select_fid(&mut self, step: &str, fid: u16) -> Result<(), PersoError> {
        let p1 = if fid == 0x3F00 { 0x00 } else { 0x02 };
        self.send(
            step,
            Command::new(0, 0xA4, p1, 0x0C).with_data(fid.to_be_bytes().to_vec()),
        )?;
        Ok(())
    }

    /// Reads the selected file of `size` bytes in pieces of `max`.
    fn read(&mut self, what: &str, size: usize, max: usize) -> Result<Vec<u8>, PersoError> {
        self.read_from(what, 0, size, max)
    }

    /// Reads a whole BER-TLV file whose size is unknown: its header first, then the rest.
    fn read_tlv_file(&mut self, what: &'static str, max: usize) -> Result<Vec<u8>, PersoError> {
        // Small files come whole with the first READ BINARY (the card answers 6282 at the end).
        let head = self.read(what, max, max)?;
        let total = tlv_size(&head).ok_or_else(|| PersoError::Malformed {
            what,
            detail: format!("header {}", atr::hex_upper(&head)),
        })?;
        let mut all = head;
        if total > all.len() {
            let rest = self.read_from(what, all.len(), total, max)?;
            all.extend(rest);
        }
        all.truncate(total);
        Ok(all)
    }

    /// Reads bytes `from..size` of the selected file in pieces of `max`.
    fn read_from(
        &mut self,
        what: &str,
        from: usize,
        size: usize,
        max: usize,
    ) -> Result<Vec<u8>, PersoError> {
        let mut out = Vec::with_capacity(size - from);
        let mut at = from;
        while at < size {
            let le = (size - at).min(max);
            let [hi, lo] = (at as u16).to_be_bytes();
            let data = self.send(
                &format!("{what}: READ BINARY at {at}"),
                Command::new(0, 0xB0, hi, lo).with_le(le),
            )?;
            let short = data.len() < le;
            at += data.len();
            out.extend(data);
            if short {
                // The file ended first (6282): nothing more to ask for.
                break;
            }
        }
        Ok(out)
    }
}

/// Total size (header + value) of the BER-TLV object starting `head`, if the header is there.
fn tlv_size(head: &[u8]) -> Option<usize> {
    tlv::header(head, 0).ok().map(|h| h.end())
}

/// A card body checked and identified, ready to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The card body's serial (EF.IDENT).
    pub serial: u64,
    /// Largest command data and response data the card takes.
    pub max_cmd: usize,
    pub max_resp: usize,
    /// APDUs spent so far.
    pub apdus: u32,
}

/// Checks the ATR (a wrong card type is refused before any write), learns the card's limits
/// (EF.ATR/INFO when it announces extended length) and reads its serial (EF.IDENT). The
/// station draws the body from stock with this serial before writing anything.
pub fn open(reader: &mut dyn Transport) -> Result<Opened, PersoError> {
    let caps = atr::check(reader.atr())?;
    let mut card = Counted {
        inner: reader,
        apdus: 0,
    };
    // Limits: short APDUs unless the card announces extended length and its buffer.
    card.select_fid("SELECT MF", 0x3F00)?;
    let (mut max_cmd, mut max_resp) = (SHORT_MAX_DATA, SHORT_MAX_LE);
    if caps.extended {
        card.select_fid("SELECT EF.ATR/INFO", FID_ATR_INFO)?;
        let info = card.read_tlv_file("EF.ATR/INFO", SHORT_MAX_LE)?;
        let node = tlv::parse(&info).map_err(|e| PersoError::Malformed {
            what: "EF.ATR/INFO",
            detail: e.to_string(),
        })?;
        let sizes: Vec<usize> = node
            .children
            .iter()
            .filter(|c| c.tag == 0x02 && c.value.len() == 2)
            .map(|c| usize::from(u16::from_be_bytes([c.value[0], c.value[1]])))
            .collect();
        if let [cmd, resp] = sizes[..] {
            max_cmd = cmd.max(1);
            max_resp = resp.max(1);
        }
    }
    card.select_fid("SELECT EF.IDENT", FID_IDENT)?;
    let ident = card.read_tlv_file("EF.IDENT", max_resp)?;
    let serial = tlv::parse(&ident)
        .ok()
        .filter(|n| n.tag == 0xC0 && n.value.len() == 8)
        .map(|n| u64::from_be_bytes(n.value[..8].try_into().unwrap_or_default()))
        .ok_or_else(|| PersoError::Malformed {
            what: "EF.IDENT",
            detail: atr::hex_upper(&ident),
        })?;

    Ok(Opened {
        serial,
        max_cmd,
        max_resp,
        apdus: card.apdus,
    })
}

/// One file of the application as the diagnostic found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRead {
    Read(Vec<u8>),
    /// The card has no such file (6A82).
    Missing,
    /// The file is there but its BER-TLV header is not: its length is unknown.
    Malformed(String),
}

/// What a card holds, read without any key: what the quality desk's diagnostic needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRead {
    /// The card body's serial (EF.IDENT).
    pub serial: u64,
    /// Each file asked for, in the order asked.
    pub files: Vec<(u16, FileRead)>,
    pub apdus: u32,
}

/// Reads the files `fids` of the application (a personalised card lets anyone read them;
/// only writing needs the card's key). A missing or malformed file is a finding, not an
/// error; a card pulled out or a reader gone is an error (the read is started again).
pub fn read_application(reader: &mut dyn Transport, fids: &[u16]) -> Result<CardRead, PersoError> {
    let opened = open(reader)?;
    let mut card = Counted {
        inner: reader,
        apdus: opened.apdus,
    };
    card.send(
        "SELECT application",
        Command::new(0, 0xA4, 0x04, 0x0C).with_data(AID.to_vec()),
    )?;
    let mut files = Vec::with_capacity(fids.len());
    for &fid in fids {
        let found = match card.select_fid(&format!("SELECT {fid:04X}"), fid) {
            Ok(()) => match card.read_tlv_file("a data group", opened.max_resp) {
                Ok(bytes) => FileRead::Read(bytes),
                Err(PersoError::Malformed { detail, .. }) => FileRead::Malformed(detail),
                Err(e) => return Err(e),
            },
            Err(PersoError::Card { sw, .. }) if sw == Sw::FILE_NOT_FOUND => FileRead::Missing,
            Err(e) => return Err(e),
        };
        files.push((fid, found));
    }
    Ok(CardRead {
        serial: opened.serial,
        files,
        apdus: card.apdus,
    })
}

/// Personalises the card in `reader` with `files` (FID, bytes), the bureau's `master` key
/// deriving this card's key: open, then write.
pub fn personalise(
    reader: &mut dyn Transport,
    master: &[u8],
    files: &[(u16, Vec<u8>)],
) -> Result<Personalised, PersoError> {
    check_sizes(files)?;
    let opened = open(reader)?;
    write(reader, &opened, master, files)
}

/// Refuses a file larger than the profile allows, before the card is touched.
pub fn check_sizes(files: &[(u16, Vec<u8>)]) -> Result<(), PersoError> {
    for (fid, bytes) in files {
        if bytes.len() > 0x7FFF {
            return Err(PersoError::FileTooLarge {
                fid: *fid,
                size: bytes.len(),
            });
        }
    }
    Ok(())
}

/// Writes `files` to the opened card: authenticate with its diversified key, create and write
/// each file in the largest pieces it takes, read everything back and compare, lock.
pub fn write(
    reader: &mut dyn Transport,
    opened: &Opened,
    master: &[u8],
    files: &[(u16, Vec<u8>)],
) -> Result<Personalised, PersoError> {
    check_sizes(files)?;
    let Opened {
        serial,
        max_cmd,
        max_resp,
        apdus,
    } = *opened;
    let mut card = Counted {
        inner: reader,
        apdus,
    };
    card.send(
        "SELECT application",
        Command::new(0, 0xA4, 0x04, 0x0C).with_data(AID.to_vec()),
    )?;
    let challenge = card.send("GET CHALLENGE", Command::new(0, 0x84, 0, 0).with_le(8))?;
    let answer = auth_response(&card_key(master, serial), &challenge, serial);
    card.send(
        "EXTERNAL AUTHENTICATE",
        Command::new(0, 0x82, 0, 1).with_data(answer.to_vec()),
    )?;

    for (fid, bytes) in files {
        let [a, b] = fid.to_be_bytes();
        let [c, d] = (bytes.len() as u16).to_be_bytes();
        card.send(
            &format!("CREATE FILE {fid:04X}"),
            Command::new(0, 0xE0, 0, 0).with_data(vec![0x62, 8, 0x83, 2, a, b, 0x80, 2, c, d]),
        )?;
        for (i, piece) in bytes.chunks(max_cmd).enumerate() {
            let offset = i * max_cmd;
            let [hi, lo] = (offset as u16).to_be_bytes();
            card.send(
                &format!("UPDATE BINARY {fid:04X} at {offset}"),
                Command::new(0, 0xD6, hi, lo).with_data(piece.to_vec()),
            )?;
        }
    }

    let mut hashes = Vec::with_capacity(files.len());
    for (fid, bytes) in files {
        card.select_fid(&format!("SELECT {fid:04X}"), *fid)?;
        let back = card.read(&format!("file {fid:04X}"), bytes.len(), max_resp)?;
        if back != *bytes {
            let offset = back
                .iter()
                .zip(bytes)
                .position(|(x, y)| x != y)
                .unwrap_or(back.len().min(bytes.len()));
            return Err(PersoError::ReadBack { fid: *fid, offset });
        }
        hashes.push((*fid, Sha256::digest(&back).into()));
    }

    card.send(
        "SELECT application",
        Command::new(0, 0xA4, 0x04, 0x0C).with_data(AID.to_vec()),
    )?;
    card.send("ACTIVATE (lock)", Command::new(0, 0x44, 0, 0))?;
    Ok(Personalised {
        serial,
        hashes,
        apdus: card.apdus,
        chunk: (max_cmd, max_resp),
    })
}

/// The fewest APDUs that can personalise these files on a card with these limits: the
/// benchmark's yardstick (docs/chip-profile.md).
pub fn minimum_apdus(
    files: &[(u16, Vec<u8>)],
    max_cmd: usize,
    max_resp: usize,
    extended: bool,
) -> u32 {
    // SELECT MF, [SELECT + READ EF.ATR/INFO], SELECT + READ EF.IDENT, SELECT app, GET
    // CHALLENGE, EXTERNAL AUTHENTICATE, SELECT app, ACTIVATE.
    let fixed = if extended { 10 } else { 8 };
    let per_file: usize = files
        .iter()
        .map(|(_, b)| 1 + b.len().div_ceil(max_cmd) + 1 + b.len().div_ceil(max_resp))
        .sum();
    fixed + per_file as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqcfab_simulator::card::{CardSpec, Fault, LifeCycle, VirtualCard};
    use cqcfab_simulator::inprocess::InProcessReader;

    const MASTER: &[u8] = b"bureau master key (test)";

    fn files() -> Vec<(u16, Vec<u8>)> {
        vec![
            (
                0x011E,
                tlv::constructed(0x60, &[tlv::primitive(0x5C, &[0x61]).unwrap()]).unwrap(),
            ),
            (0x0101, (0..3000u32).map(|i| (i % 251) as u8).collect()),
            (0x0106, vec![0x5A; 12_345]),
        ]
    }

    fn reader(spec: CardSpec, faults: Vec<Fault>) -> InProcessReader {
        InProcessReader::new("test reader 0", VirtualCard::new(spec, MASTER, faults))
    }

    #[test]
    fn a_card_is_written_read_back_and_locked_in_the_fewest_apdus() {
        for spec in [
            CardSpec::standard(0xC0C0_0001),
            CardSpec::short_only(0xC0C0_0002),
        ] {
            let extended = spec.extended;
            let mut r = reader(spec.clone(), vec![]);
            let done = personalise(&mut r, MASTER, &files()).unwrap();
            assert_eq!(done.serial, spec.serial);
            let card = r.card();
            assert_eq!(card.life_cycle(), LifeCycle::Operational);
            for (fid, bytes) in files() {
                assert_eq!(card.file(fid), Some(bytes.as_slice()), "{fid:04X}");
            }
            let (c, s) = done.chunk;
            assert_eq!(
                done.apdus,
                minimum_apdus(&files(), c, s, extended),
                "extended {extended}"
            );
            assert_eq!(card.apdu_count(), done.apdus, "every APDU counted");
        }
    }

    #[test]
    fn a_foreign_card_is_refused_before_any_command() {
        let mut r = reader(CardSpec::standard(1), vec![Fault::WrongAtr]);
        assert!(matches!(
            personalise(&mut r, MASTER, &files()),
            Err(PersoError::WrongCard(_))
        ));
        assert_eq!(r.card().apdu_count(), 0);
    }

    #[test]
    fn another_bureaus_key_is_refused_by_the_card() {
        let mut r = reader(CardSpec::standard(2), vec![]);
        let e = personalise(&mut r, b"wrong master", &files()).unwrap_err();
        assert_eq!(
            e,
            PersoError::Card {
                step: "EXTERNAL AUTHENTICATE".into(),
                sw: Sw(0x63C2)
            }
        );
        assert_eq!(
            e.to_string(),
            "EXTERNAL AUTHENTICATE: the card answered 63C2 (verification failed)"
        );
    }

    #[test]
    fn faults_name_the_step_and_never_pass_as_success() {
        let cases: Vec<(Vec<Fault>, &str)> = vec![
            (
                vec![Fault::RemovedAtApdu(12)],
                "the card was removed from reader test reader 0",
            ),
            (
                vec![Fault::WriteFailAt {
                    fid: 0x0106,
                    offset: 9000,
                }],
                "UPDATE BINARY 0106 at 8192: the card answered 6581 (memory failure (EEPROM write failed))",
            ),
            (vec![Fault::TornWriteAtApdu(14)], "the card was removed"),
            (
                vec![Fault::Locked],
                "CREATE FILE 011E: the card answered 6985",
            ),
            (
                vec![Fault::AlreadyPersonalised],
                "CREATE FILE 011E: the card answered 6985",
            ),
        ];
        for (faults, words) in cases {
            let mut r = reader(CardSpec::standard(3), faults.clone());
            let e = personalise(&mut r, MASTER, &files()).unwrap_err();
            assert!(e.to_string().contains(words), "{faults:?}: {e}");
        }
    }

    #[test]
    fn a_file_past_the_profile_size_is_refused_before_the_card_is_touched() {
        let mut r = reader(CardSpec::standard(4), vec![]);
        let e = personalise(&mut r, MASTER, &[(0x0106, vec![0; 40_000])]).unwrap_err();
        assert_eq!(
            e,
            PersoError::FileTooLarge {
                fid: 0x0106,
                size: 40_000
            }
        );
        assert_eq!(r.card().apdu_count(), 0);
    }

    #[test]
    fn tlv_sizes_are_read_from_headers() {
        assert_eq!(tlv_size(&[0x60, 0x05]), Some(7));
        assert_eq!(tlv_size(&[0x7F, 0x66, 0x08]), Some(11));
        assert_eq!(tlv_size(&[0x75, 0x82, 0x01, 0x00]), Some(260));
        assert_eq!(tlv_size(&[0x75, 0x83]), None);
        assert_eq!(tlv_size(&[0x75]), None);
    }
}
