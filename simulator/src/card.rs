//! A virtual CQC card body: the file system, access rules and life cycle of
//! docs/chip-profile.md, with its own buffer size, extended-length support, EEPROM capacity and
//! injected faults.
//!
//! The card only sees bytes: [`VirtualCard::process`] takes a command APDU and returns the
//! response APDU, exactly what travels over vpcd or the in-process link.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use cqcfab_drivers::apdu::{Command, Response, Sw};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The application identifier (docs/chip-profile.md).
pub const AID: [u8; 7] = [0xF0, 0x43, 0x51, 0x43, 0x46, 0x52, 0x01];
/// EF.ATR/INFO and EF.IDENT under the MF.
pub const FID_ATR_INFO: u16 = 0x2F01;
pub const FID_IDENT: u16 = 0x2F02;
/// The simulator's EJECT command (`80 EE 00 00`): the card leaves its reader, as a motorised
/// reader ejects it, and the simulator puts a fresh blank in. A real card answers 6E00 or
/// 6D00 and an operator takes it out instead (docs/chip-profile.md).
pub const EJECT: [u8; 4] = [0x80, 0xEE, 0x00, 0x00];
/// Tries of EXTERNAL AUTHENTICATE before the key is blocked.
pub const AUTH_TRIES: u8 = 3;

/// How this card body is built.
#[derive(Debug, Clone)]
pub struct CardSpec {
    /// The card body's serial (printed as 16 hex digits).
    pub serial: u64,
    /// Largest command data the card accepts, and largest response data it sends.
    pub max_command: usize,
    pub max_response: usize,
    /// Extended-length APDUs supported (announced in the ATR and EF.ATR/INFO).
    pub extended: bool,
    /// EEPROM left for the application's files.
    pub capacity: usize,
    /// Writes each 64-byte EEPROM page endures before it fails with 6581.
    pub endurance: u32,
}

impl CardSpec {
    /// A typical card: extended length, 1 KiB short buffer pieces, 64 KiB EEPROM.
    pub fn standard(serial: u64) -> CardSpec {
        CardSpec {
            serial,
            max_command: 4096,
            max_response: 4096,
            extended: true,
            capacity: 64 * 1024,
            endurance: 500_000,
        }
    }

    /// An older body: short APDUs only.
    pub fn short_only(serial: u64) -> CardSpec {
        CardSpec {
            max_command: 255,
            max_response: 256,
            extended: false,
            ..CardSpec::standard(serial)
        }
    }
}

/// A fault to inject (the station must end each with the card spoiled or the job resumed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The card is pulled out when the N-th APDU (1-based) arrives; it is not processed.
    RemovedAtApdu(u32),
    /// Any UPDATE BINARY touching this offset of this file answers 6581 and writes nothing.
    WriteFailAt { fid: u16, offset: usize },
    /// The N-th APDU, if it is an UPDATE BINARY, writes only its first half, then the card is
    /// pulled out (power lost mid-write).
    TornWriteAtApdu(u32),
    /// The historical bytes lack the CQC mark: another kind of card.
    WrongAtr,
    /// The card already holds an application in the operational state (personalised before).
    AlreadyPersonalised,
    /// The application was locked (operational) while still blank.
    Locked,
    /// Every APDU takes this many milliseconds more (an old or cold card).
    SlowMs(u32),
    /// The N-th APDU gets a one-byte answer: no status word (a garbled response).
    GarbledAt(u32),
    /// The N-th APDU is answered with a status word no ISO 7816 card sends (`9F 42`).
    OddStatusAt(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeCycle {
    Personalisation,
    Operational,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Mf,
    App,
}

#[derive(Debug, Clone)]
struct Ef {
    data: Vec<u8>,
}

/// Why the card stopped answering (what a reader sees as a removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    Removed,
}

/// The card.
#[derive(Debug, Clone)]
pub struct VirtualCard {
    spec: CardSpec,
    key: [u8; 32],
    faults: Vec<Fault>,
    mf: BTreeMap<u16, Ef>,
    app: BTreeMap<u16, Ef>,
    life: LifeCycle,
    dir: Dir,
    ef: Option<u16>,
    challenge: Option<[u8; 8]>,
    authenticated: bool,
    tries: u8,
    used: usize,
    page_writes: BTreeMap<(u16, usize), u32>,
    apdus: u32,
    removed: bool,
    ejected: bool,
}

/// The per-card personalisation key (docs/chip-profile.md): the station derives the same.
pub fn card_key(master: &[u8], serial: u64) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes any key");
    mac.update(b"CQC-PERSO");
    mac.update(&serial.to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// The answer to EXTERNAL AUTHENTICATE for a challenge.
pub fn auth_response(card_key: &[u8; 32], challenge: &[u8], serial: u64) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(card_key).expect("HMAC takes any key");
    mac.update(challenge);
    mac.update(&serial.to_be_bytes());
    mac.finalize().into_bytes().into()
}

/// Eight unpredictable bytes (the process's random hash keys, fresh per call).
fn random8() -> [u8; 8] {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5151);
    h.finish().to_be_bytes()
}

const PAGE: usize = 64;

impl VirtualCard {
    /// A blank card body made with the bureau's `master` key and these faults.
    pub fn new(spec: CardSpec, master: &[u8], faults: Vec<Fault>) -> VirtualCard {
        let mut mf = BTreeMap::new();
        let (cmd, resp) = (spec.max_command as u16, spec.max_response as u16);
        let mut info = vec![0x7F, 0x66, 0x08, 0x02, 0x02];
        info.extend(cmd.to_be_bytes());
        info.extend([0x02, 0x02]);
        info.extend(resp.to_be_bytes());
        mf.insert(FID_ATR_INFO, Ef { data: info });
        let mut ident = vec![0xC0, 0x08];
        ident.extend(spec.serial.to_be_bytes());
        mf.insert(FID_IDENT, Ef { data: ident });
        let key = card_key(master, spec.serial);
        let mut card = VirtualCard {
            spec,
            key,
            faults,
            mf,
            app: BTreeMap::new(),
            life: LifeCycle::Personalisation,
            dir: Dir::Mf,
            ef: None,
            challenge: None,
            authenticated: false,
            tries: AUTH_TRIES,
            used: 0,
            page_writes: BTreeMap::new(),
            apdus: 0,
            removed: false,
            ejected: false,
        };
        if card.faults.contains(&Fault::AlreadyPersonalised) {
            card.app.insert(
                0x011E,
                Ef {
                    data: vec![0x60, 0x03, 0x5C, 0x01, 0x61],
                },
            );
            card.app.insert(
                0x0101,
                Ef {
                    data: b"\x61\x05\x5F\x01\x02OK".to_vec(),
                },
            );
            card.life = LifeCycle::Operational;
        }
        if card.faults.contains(&Fault::Locked) {
            card.life = LifeCycle::Operational;
        }
        card
    }

    pub fn serial(&self) -> u64 {
        self.spec.serial
    }

    pub fn life_cycle(&self) -> LifeCycle {
        self.life
    }

    pub fn apdu_count(&self) -> u32 {
        self.apdus
    }

    /// True once the station asked for the card to be ejected.
    pub fn is_ejected(&self) -> bool {
        self.ejected
    }

    /// True once a fault pulled the card out.
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    /// The bytes of an application file, as stored (for tests and the diagnostic view).
    pub fn file(&self, fid: u16) -> Option<&[u8]> {
        self.app.get(&fid).map(|e| e.data.as_slice())
    }

    /// A fault that strikes from now on (a returned card pulled out at the quality desk:
    /// `RemovedAtApdu(apdu_count() + n)`).
    pub fn add_fault(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// The card goes back into a reader after it was pulled out or ejected.
    pub fn reinsert(&mut self) {
        self.removed = false;
        self.ejected = false;
        self.reset();
    }

    /// Flips the bits of `mask` in byte `offset` of an application file: EEPROM that lost
    /// a cell, as a returned card can show. False when the file or byte is not there.
    pub fn corrupt(&mut self, fid: u16, offset: usize, mask: u8) -> bool {
        match self.app.get_mut(&fid).and_then(|e| e.data.get_mut(offset)) {
            Some(b) => {
                *b ^= mask;
                true
            }
            None => false,
        }
    }

    /// `3B 89 80 01` + historical bytes + TCK (docs/chip-profile.md).
    pub fn atr(&self) -> Vec<u8> {
        let caps = if self.spec.extended { 0x60 } else { 0x00 };
        let mark: [u8; 4] = if self.faults.contains(&Fault::WrongAtr) {
            [0x53, 0x58, 0x58, 0x58]
        } else {
            [0x53, 0x43, 0x51, 0x43]
        };
        let mut atr = vec![0x3B, 0x89, 0x80, 0x01, 0x80, 0x73, 0x00, 0x00, caps];
        atr.extend(mark);
        let tck = atr[1..].iter().fold(0u8, |a, b| a ^ b);
        atr.push(tck);
        atr
    }

    /// Powers the card up again (the session state is lost, the EEPROM kept).
    pub fn reset(&mut self) {
        self.dir = Dir::Mf;
        self.ef = None;
        self.challenge = None;
        self.authenticated = false;
    }

    /// One APDU in, one APDU out; `Err(Gone)` when the card is (or just got) pulled out.
    pub fn process(&mut self, bytes: &[u8]) -> Result<Vec<u8>, Gone> {
        if self.removed || self.ejected {
            return Err(Gone::Removed);
        }
        if bytes == EJECT {
            self.ejected = true;
            return Ok(Response::status(Sw::OK).encode());
        }
        self.apdus += 1;
        let n = self.apdus;
        for f in &self.faults {
            if let Fault::SlowMs(ms) = f {
                std::thread::sleep(std::time::Duration::from_millis(u64::from(*ms)));
            }
        }
        if self.faults.contains(&Fault::RemovedAtApdu(n)) {
            self.removed = true;
            return Err(Gone::Removed);
        }
        if self.faults.contains(&Fault::GarbledAt(n)) {
            return Ok(vec![0x90]);
        }
        if self.faults.contains(&Fault::OddStatusAt(n)) {
            return Ok(vec![0x9F, 0x42]);
        }
        let torn = self.faults.contains(&Fault::TornWriteAtApdu(n));
        let response = match Command::decode(bytes) {
            Ok(cmd) => self.command(&cmd, torn),
            Err(_) => Response::status(Sw::WRONG_LENGTH),
        };
        if torn && bytes.get(1) == Some(&0xD6) {
            self.removed = true;
            return Err(Gone::Removed);
        }
        Ok(response.encode())
    }

    fn command(&mut self, cmd: &Command, torn: bool) -> Response {
        let challenge = self.challenge.take();
        if cmd.cla != 0x00 {
            return Response::status(Sw::CLA_NOT_SUPPORTED);
        }
        if cmd.data.len() > self.spec.max_command || (cmd.is_extended() && !self.spec.extended) {
            return Response::status(Sw::WRONG_LENGTH);
        }
        match cmd.ins {
            0xA4 => self.select(cmd),
            0xB0 => self.read_binary(cmd),
            0x84 => self.get_challenge(cmd),
            0x82 => self.external_authenticate(cmd, challenge),
            0xE0 => self.create_file(cmd),
            0xD6 => self.update_binary(cmd, torn),
            0x44 => self.activate(cmd),
            _ => Response::status(Sw::INS_NOT_SUPPORTED),
        }
    }

    fn select(&mut self, cmd: &Command) -> Response {
        match (cmd.p1, cmd.data.as_slice()) {
            (0x00, [0x3F, 0x00]) => {
                self.dir = Dir::Mf;
                self.ef = None;
                Response::status(Sw::OK)
            }
            (0x04, aid) if aid == AID => {
                self.dir = Dir::App;
                self.ef = None;
                Response::status(Sw::OK)
            }
            (0x04, _) => Response::status(Sw::FILE_NOT_FOUND),
            (0x00 | 0x02, [hi, lo]) => {
                let fid = u16::from_be_bytes([*hi, *lo]);
                if self.files().contains_key(&fid) {
                    self.ef = Some(fid);
                    Response::status(Sw::OK)
                } else {
                    Response::status(Sw::FILE_NOT_FOUND)
                }
            }
            _ => Response::status(Sw::WRONG_P1P2),
        }
    }

    fn files(&self) -> &BTreeMap<u16, Ef> {
        match self.dir {
            Dir::Mf => &self.mf,
            Dir::App => &self.app,
        }
    }

    fn read_binary(&mut self, cmd: &Command) -> Response {
        if cmd.p1 & 0x80 != 0 {
            return Response::status(Sw::WRONG_P1P2);
        }
        let Some(ef) = self.ef.and_then(|f| self.files().get(&f)) else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        let le = cmd.le.unwrap_or(256).min(self.spec.max_response);
        if offset > ef.data.len() {
            return Response::status(Sw::OFFSET_OUTSIDE);
        }
        let end = (offset + le).min(ef.data.len());
        let data = ef.data[offset..end].to_vec();
        if end - offset < le && cmd.le.is_some_and(|l| l <= self.spec.max_response) {
            Response {
                data,
                sw: Sw::END_OF_FILE,
            }
        } else {
            Response::ok(data)
        }
    }

    fn get_challenge(&mut self, cmd: &Command) -> Response {
        if cmd.le != Some(8) {
            return Response::status(Sw::WRONG_LENGTH);
        }
        let c = random8();
        self.challenge = Some(c);
        Response::ok(c.to_vec())
    }

    fn external_authenticate(&mut self, cmd: &Command, challenge: Option<[u8; 8]>) -> Response {
        if self.tries == 0 {
            return Response::status(Sw::AUTH_BLOCKED);
        }
        let Some(challenge) = challenge else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        if cmd.data.len() != 32 {
            return Response::status(Sw::WRONG_LENGTH);
        }
        let expected = auth_response(&self.key, &challenge, self.spec.serial);
        // Constant-time comparison: a card must not leak how many bytes matched.
        let diff = expected
            .iter()
            .zip(&cmd.data)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            self.authenticated = true;
            self.tries = AUTH_TRIES;
            Response::status(Sw::OK)
        } else {
            self.authenticated = false;
            self.tries -= 1;
            if self.tries == 0 {
                Response::status(Sw::AUTH_BLOCKED)
            } else {
                Response::status(Sw(0x63C0 | u16::from(self.tries)))
            }
        }
    }

    /// Writes need: the application selected, the station authenticated, personalisation state.
    fn may_write(&self) -> Result<(), Sw> {
        if self.dir != Dir::App {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        if self.life != LifeCycle::Personalisation {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        }
        if !self.authenticated {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        Ok(())
    }

    fn create_file(&mut self, cmd: &Command) -> Response {
        if let Err(sw) = self.may_write() {
            return Response::status(sw);
        }
        let Some((fid, size)) = parse_fcp(&cmd.data) else {
            return Response::status(Sw::WRONG_DATA);
        };
        if self.app.contains_key(&fid) {
            return Response::status(Sw::FILE_EXISTS);
        }
        if self.used + size > self.spec.capacity {
            return Response::status(Sw::NOT_ENOUGH_MEMORY);
        }
        self.used += size;
        self.app.insert(
            fid,
            Ef {
                data: vec![0; size],
            },
        );
        self.ef = Some(fid);
        Response::status(Sw::OK)
    }

    fn update_binary(&mut self, cmd: &Command, torn: bool) -> Response {
        if let Err(sw) = self.may_write() {
            return Response::status(sw);
        }
        if cmd.p1 & 0x80 != 0 {
            return Response::status(Sw::WRONG_P1P2);
        }
        let Some(fid) = self.ef else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        let end = offset + cmd.data.len();
        let faults = &self.faults;
        if faults.iter().any(|f| {
            matches!(f, Fault::WriteFailAt { fid: ff, offset: o } if *ff == fid && (offset..end).contains(o))
        }) {
            return Response::status(Sw::MEMORY_FAILURE);
        }
        let endurance = self.spec.endurance;
        let Some(ef) = self.app.get_mut(&fid) else {
            return Response::status(Sw::CONDITIONS_NOT_SATISFIED);
        };
        if offset > ef.data.len() {
            return Response::status(Sw::OFFSET_OUTSIDE);
        }
        if end > ef.data.len() {
            return Response::status(Sw::NOT_ENOUGH_MEMORY);
        }
        for page in offset / PAGE..end.div_ceil(PAGE) {
            let writes = self.page_writes.entry((fid, page)).or_insert(0);
            *writes += 1;
            if *writes > endurance {
                return Response::status(Sw::MEMORY_FAILURE);
            }
        }
        let written = if torn {
            cmd.data.len() / 2
        } else {
            cmd.data.len()
        };
        ef.data[offset..offset + written].copy_from_slice(&cmd.data[..written]);
        Response::status(Sw::OK)
    }

    fn activate(&mut self, cmd: &Command) -> Response {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Response::status(Sw::WRONG_P1P2);
        }
        if let Err(sw) = self.may_write() {
            return Response::status(sw);
        }
        self.life = LifeCycle::Operational;
        Response::status(Sw::OK)
    }
}

/// `62 L { 83 02 FID, 80 02 size }` (the order of the two inside may vary).
fn parse_fcp(data: &[u8]) -> Option<(u16, usize)> {
    let (&tag, rest) = data.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x62 || usize::from(len) != body.len() {
        return None;
    }
    let (mut fid, mut size, mut i) = (None, None, 0);
    while i + 2 <= body.len() {
        let (t, l) = (body[i], usize::from(body[i + 1]));
        let v = body.get(i + 2..i + 2 + l)?;
        match (t, v) {
            (0x83, [a, b]) => fid = Some(u16::from_be_bytes([*a, *b])),
            (0x80, [a, b]) => size = Some(usize::from(u16::from_be_bytes([*a, *b]))),
            _ => {}
        }
        i += 2 + l;
    }
    (i == body.len()).then_some(())?;
    Some((fid?, size?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &[u8] = b"test master key, not for production";

    fn send(card: &mut VirtualCard, cmd: Command) -> Response {
        Response::parse(&card.process(&cmd.encode().unwrap()).unwrap()).unwrap()
    }

    fn authenticate(card: &mut VirtualCard) {
        let select = Command::new(0, 0xA4, 0x04, 0x0C).with_data(AID.to_vec());
        assert_eq!(send(card, select).sw, Sw::OK);
        let c = send(card, Command::new(0, 0x84, 0, 0).with_le(8));
        let key = card_key(MASTER, card.serial());
        let answer = auth_response(&key, &c.data, card.serial());
        let auth = Command::new(0, 0x82, 0, 1).with_data(answer.to_vec());
        assert_eq!(send(card, auth).sw, Sw::OK);
    }

    fn create(fid: u16, size: u16) -> Command {
        let [a, b] = fid.to_be_bytes();
        let [c, d] = size.to_be_bytes();
        Command::new(0, 0xE0, 0, 0).with_data(vec![0x62, 8, 0x83, 2, a, b, 0x80, 2, c, d])
    }

    #[test]
    fn the_atr_carries_the_mark_and_capabilities_and_a_valid_tck() {
        let card = VirtualCard::new(CardSpec::standard(7), MASTER, vec![]);
        let atr = card.atr();
        assert_eq!(&atr[..4], &[0x3B, 0x89, 0x80, 0x01]);
        assert_eq!(atr[1..].iter().fold(0, |a, b| a ^ b), 0, "TCK");
        assert_eq!(&atr[9..13], b"SCQC");
        let short = VirtualCard::new(CardSpec::short_only(7), MASTER, vec![]);
        assert_eq!(short.atr()[8], 0x00);
        let other = VirtualCard::new(CardSpec::standard(7), MASTER, vec![Fault::WrongAtr]);
        assert_ne!(&other.atr()[9..13], b"SCQC");
    }

    #[test]
    fn writes_need_authentication_and_stop_after_activation() {
        let mut card = VirtualCard::new(CardSpec::standard(42), MASTER, vec![]);
        let select = Command::new(0, 0xA4, 0x04, 0x0C).with_data(AID.to_vec());
        assert_eq!(send(&mut card, select).sw, Sw::OK);
        assert_eq!(
            send(&mut card, create(0x0101, 10)).sw,
            Sw::SECURITY_NOT_SATISFIED
        );
        authenticate(&mut card);
        assert_eq!(send(&mut card, create(0x0101, 10)).sw, Sw::OK);
        assert_eq!(send(&mut card, create(0x0101, 10)).sw, Sw::FILE_EXISTS);
        let update = Command::new(0, 0xD6, 0, 2).with_data(b"abc".to_vec());
        assert_eq!(send(&mut card, update.clone()).sw, Sw::OK);
        let past = Command::new(0, 0xD6, 0, 9).with_data(b"abc".to_vec());
        assert_eq!(send(&mut card, past).sw, Sw::NOT_ENOUGH_MEMORY);
        let read = send(&mut card, Command::new(0, 0xB0, 0, 0).with_le(10));
        assert_eq!(read.data, b"\0\0abc\0\0\0\0\0");
        let read = send(&mut card, Command::new(0, 0xB0, 0, 8).with_le(10));
        assert_eq!((read.data.len(), read.sw), (2, Sw::END_OF_FILE));
        assert_eq!(send(&mut card, Command::new(0, 0x44, 0, 0)).sw, Sw::OK);
        assert_eq!(card.life_cycle(), LifeCycle::Operational);
        assert_eq!(send(&mut card, update).sw, Sw::CONDITIONS_NOT_SATISFIED);
        assert_eq!(
            send(&mut card, create(0x0105, 10)).sw,
            Sw::CONDITIONS_NOT_SATISFIED
        );
    }

    #[test]
    fn a_wrong_key_costs_a_try_and_three_block_the_card() {
        let mut card = VirtualCard::new(CardSpec::standard(1), MASTER, vec![]);
        let other = card_key(b"another bureau", 1);
        for expected in [Sw(0x63C2), Sw(0x63C1), Sw::AUTH_BLOCKED, Sw::AUTH_BLOCKED] {
            let c = send(&mut card, Command::new(0, 0x84, 0, 0).with_le(8));
            let answer = auth_response(&other, &c.data, 1);
            let auth = Command::new(0, 0x82, 0, 1).with_data(answer.to_vec());
            assert_eq!(send(&mut card, auth).sw, expected);
        }
        // A challenge is good for one command only.
        let mut card = VirtualCard::new(CardSpec::standard(2), MASTER, vec![]);
        let c = send(&mut card, Command::new(0, 0x84, 0, 0).with_le(8));
        send(
            &mut card,
            Command::new(0, 0xA4, 0x04, 0x0C).with_data(AID.to_vec()),
        );
        let answer = auth_response(&card_key(MASTER, 2), &c.data, 2);
        let auth = Command::new(0, 0x82, 0, 1).with_data(answer.to_vec());
        assert_eq!(send(&mut card, auth).sw, Sw::CONDITIONS_NOT_SATISFIED);
    }

    #[test]
    fn buffer_and_extended_length_limits_answer_6700() {
        let mut card = VirtualCard::new(CardSpec::short_only(3), MASTER, vec![]);
        authenticate(&mut card);
        assert_eq!(send(&mut card, create(0x0106, 2000)).sw, Sw::OK);
        let big = Command::new(0, 0xD6, 0, 0).with_data(vec![1; 256]);
        assert_eq!(send(&mut card, big).sw, Sw::WRONG_LENGTH);
        let long_le = Command::new(0, 0xB0, 0, 0).with_le(1000);
        assert_eq!(send(&mut card, long_le).sw, Sw::WRONG_LENGTH);
        let ok = Command::new(0, 0xD6, 0, 0).with_data(vec![1; 255]);
        assert_eq!(send(&mut card, ok).sw, Sw::OK);
    }

    #[test]
    fn injected_faults_happen_where_asked() {
        let mut card = VirtualCard::new(
            CardSpec::standard(4),
            MASTER,
            vec![Fault::WriteFailAt {
                fid: 0x0101,
                offset: 5,
            }],
        );
        authenticate(&mut card);
        send(&mut card, create(0x0101, 10));
        let w = Command::new(0, 0xD6, 0, 0).with_data(vec![7; 4]);
        assert_eq!(send(&mut card, w).sw, Sw::OK);
        let w = Command::new(0, 0xD6, 0, 4).with_data(vec![7; 4]);
        assert_eq!(send(&mut card, w).sw, Sw::MEMORY_FAILURE);

        let mut card =
            VirtualCard::new(CardSpec::standard(5), MASTER, vec![Fault::RemovedAtApdu(2)]);
        assert!(card.process(&[0, 0xA4, 0, 0x0C, 2, 0x3F, 0]).is_ok());
        assert_eq!(
            card.process(&[0, 0xA4, 0, 0x0C, 2, 0x3F, 0]),
            Err(Gone::Removed)
        );
        assert!(card.is_removed());

        let mut card = VirtualCard::new(
            CardSpec::standard(6),
            MASTER,
            vec![Fault::TornWriteAtApdu(6)],
        );
        authenticate(&mut card); // 3 APDUs
        send(&mut card, create(0x0101, 8)); // 4
        let w = Command::new(0, 0xD6, 0, 0).with_data(vec![9; 8]);
        send(&mut card, w.clone()); // 5
        let w2 = Command::new(0, 0xD6, 0, 0).with_data(vec![1; 8]);
        assert_eq!(card.process(&w2.encode().unwrap()), Err(Gone::Removed)); // 6, torn
        assert_eq!(card.file(0x0101), Some(&[1, 1, 1, 1, 9, 9, 9, 9][..]));

        let card = VirtualCard::new(
            CardSpec::standard(8),
            MASTER,
            vec![Fault::AlreadyPersonalised],
        );
        assert_eq!(card.life_cycle(), LifeCycle::Operational);
        assert!(card.file(0x0101).is_some());
    }

    #[test]
    fn the_fcp_parser_refuses_what_it_cannot_read() {
        assert_eq!(
            parse_fcp(&[0x62, 8, 0x83, 2, 1, 1, 0x80, 2, 0, 10]),
            Some((0x0101, 10))
        );
        assert_eq!(parse_fcp(&[0x62, 4, 0x83, 2, 1, 1]), None, "no size");
        assert_eq!(
            parse_fcp(&[0x62, 9, 0x83, 2, 1, 1, 0x80, 2, 0, 10]),
            None,
            "length"
        );
        assert_eq!(
            parse_fcp(&[0x62, 3, 0x83, 5, 1]),
            None,
            "value past the end"
        );
        assert_eq!(parse_fcp(&[]), None);
    }
}
