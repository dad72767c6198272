//! The chip diagnostic of a card posted back with its coupon (docs/quality.md): what the chip
//! holds, whether passive authentication holds (EF.SOD signed under our CSCA, every data
//! group hashing as listed), whether each file is still the one production wrote (its SHA-256
//! in the audit trail), and DG1 compared field by field with the production record and with
//! the validated request.
//!
//! The station only reads the card; this module, run by the service, judges what was read, so
//! every station is judged by the same CSCA and the same records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::chip::data_groups::{FID_COM, FID_DG1, FID_DG5, FID_DG6, FID_SOD};
use crate::chip::script::FileRead;
use crate::chip::sod::{self, SodError};
use crate::chip::tlv;

/// The files the diagnostic reads, in order.
pub const FILES: [u16; 5] = [FID_COM, FID_DG1, FID_DG5, FID_DG6, FID_SOD];

/// A file's name for people.
pub fn file_name(fid: u16) -> String {
    match fid {
        FID_COM => "EF.COM".into(),
        FID_DG1 => "DG1".into(),
        FID_DG5 => "DG5".into(),
        FID_DG6 => "DG6".into(),
        FID_SOD => "EF.SOD".into(),
        other => format!("{other:04X}"),
    }
}

/// The fields of DG1 the diagnostic compares, by the portal's names.
pub type Fields = BTreeMap<String, String>;

/// What the chip says, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChipState {
    /// Passive authentication holds and every file is what production wrote.
    Intact,
    /// Signed by us, but a file is missing, malformed, differs from what was written, or
    /// fails its EF.SOD hash or signature.
    Altered,
    /// EF.SOD was not signed under our CSCA: not a chip this bureau made.
    NotOurs,
    /// The chip does not answer as a card of ours (mute, wrong ATR, refuses reading).
    Unreadable,
}

impl ChipState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChipState::Intact => "intact",
            ChipState::Altered => "altered",
            ChipState::NotOurs => "not_ours",
            ChipState::Unreadable => "unreadable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Intact, Self::Altered, Self::NotOurs, Self::Unreadable]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// The card's data against the validated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataVsRequest {
    /// What the card holds (face record and chip) is what the holder submitted.
    Matches,
    /// Production changed something the holder submitted.
    Differs,
    /// The request's personal data was purged (retention): nothing to compare with.
    Unavailable,
}

impl DataVsRequest {
    pub fn as_str(self) -> &'static str {
        match self {
            DataVsRequest::Matches => "matches",
            DataVsRequest::Differs => "differs",
            DataVsRequest::Unavailable => "unavailable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Matches, Self::Differs, Self::Unavailable]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Passive authentication's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PassiveAuth {
    Verified { signer: String },
    UnknownSigner { detail: String },
    Failed { detail: String },
    NotDone { detail: String },
}

/// One file as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    pub file: String,
    /// `read`, `missing` or `malformed`.
    pub state: String,
    pub size: Option<usize>,
    pub sha256: Option<String>,
    /// Whether its SHA-256 is the one production recorded (`None`: nothing recorded).
    pub as_written: Option<bool>,
    pub detail: Option<String>,
}

/// A field that differs: what the card holds, what it should hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub field: String,
    pub card: Option<String>,
    pub expected: Option<String>,
}

/// What production and the portal say the card should be.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    /// The production record's DG1 fields (`None` once purged).
    pub record: Option<Fields>,
    /// The validated request's fields (`None` once purged).
    pub request: Option<Fields>,
    /// SHA-256 of each file as production read it back after writing.
    pub written: BTreeMap<u16, [u8; 32]>,
}

/// The diagnostic, stored with the case and shown to the analyst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub chip: ChipState,
    pub data_vs_request: DataVsRequest,
    pub chip_serial: Option<String>,
    pub files: Vec<FileReport>,
    pub passive_authentication: PassiveAuth,
    pub dg1_vs_production: Vec<FieldDiff>,
    pub card_vs_request: Vec<FieldDiff>,
    pub unreadable: Option<String>,
}

fn ddmmyyyy_to_iso(s: &str) -> String {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &s[4..8], &s[2..4], &s[0..2])
    } else {
        s.to_string()
    }
}

/// Normalises a list of categories for comparison (order does not matter).
pub fn categories_field<'a>(cats: impl IntoIterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = cats.into_iter().map(str::trim).collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

/// The compared fields of a DG1 file.
pub fn dg1_fields(dg1: &[u8]) -> Result<Fields, String> {
    let node = tlv::parse(dg1).map_err(|e| e.to_string())?;
    if node.tag != 0x61 {
        return Err(format!("tag {:X}, not 61", node.tag));
    }
    let mut f = Fields::new();
    for (tag, name, date) in [
        (0x5F04, "surname", false),
        (0x5F05, "given_names", false),
        (0x5F06, "birth_date", true),
        (0x5F07, "birth_place", false),
        (0x5F0A, "issue_date", true),
        (0x5F0B, "expiry_date", true),
        (0x5F0E, "card_number", false),
    ] {
        if let Some(n) = node.find(tag) {
            let text = n.text();
            f.insert(
                name.into(),
                if date { ddmmyyyy_to_iso(&text) } else { text },
            );
        }
    }
    // Category entries: `category;issue;expiry;code;sign;value` (docs/chip-profile.md).
    let entries: Vec<Vec<String>> = node
        .find(0x7F63)
        .map(|c| {
            c.children
                .iter()
                .filter(|e| e.tag == 0x87)
                .map(|e| e.text().split(';').map(str::to_string).collect())
                .collect()
        })
        .unwrap_or_default();
    let cats: Vec<&str> = entries
        .iter()
        .map(|e| e.first().map_or("", String::as_str))
        .collect();
    f.insert("categories".into(), categories_field(cats));
    let code95: Vec<String> = entries
        .iter()
        .map(|e| {
            let cat = e.first().map_or("", String::as_str);
            let expiry = e.get(2).map_or(String::new(), |d| ddmmyyyy_to_iso(d));
            format!("{cat}={expiry}")
        })
        .collect();
    f.insert(
        "code95".into(),
        categories_field(code95.iter().map(String::as_str)),
    );
    Ok(f)
}

/// Names differing between `card` and `expected`, over the fields `expected` has. Texts are
/// compared with surrounding and repeated spaces folded, never with case folded: a name
/// printed in the wrong case is a difference the holder can see.
pub fn compare(card: &Fields, expected: &Fields) -> Vec<FieldDiff> {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    expected
        .iter()
        .filter(|(k, v)| card.get(*k).map(|c| fold(c)) != Some(fold(v)))
        .map(|(k, v)| FieldDiff {
            field: k.clone(),
            card: card.get(k).cloned(),
            expected: Some(v.clone()),
        })
        .collect()
}

/// What a station read: the body serial and each file, or why the chip could not be read.
pub type ChipReading<'a> = Result<(u64, &'a [(u16, FileRead)]), &'a str>;

/// Judges what was read from the chip.
pub fn diagnose(read: ChipReading<'_>, expected: &Expected, csca: &Certificate) -> Diagnostic {
    let record_vs_request = match (&expected.record, &expected.request) {
        (Some(record), Some(request)) => Some(compare(record, request)),
        _ => None,
    };
    let (serial, files) = match read {
        Ok(r) => r,
        Err(why) => {
            let diffs = record_vs_request.clone().unwrap_or_default();
            return Diagnostic {
                chip: ChipState::Unreadable,
                data_vs_request: data_vs_request(record_vs_request.is_some(), &diffs),
                chip_serial: None,
                files: Vec::new(),
                passive_authentication: PassiveAuth::NotDone {
                    detail: "the chip could not be read".into(),
                },
                dg1_vs_production: Vec::new(),
                card_vs_request: diffs,
                unreadable: Some(why.to_string()),
            };
        }
    };

    let mut altered = false;
    let mut reports = Vec::with_capacity(files.len());
    let mut dg1 = None;
    for (fid, found) in files {
        let mut report = FileReport {
            file: file_name(*fid),
            state: "read".into(),
            size: None,
            sha256: None,
            as_written: None,
            detail: None,
        };
        match found {
            FileRead::Read(bytes) => {
                let hash: [u8; 32] = Sha256::digest(bytes).into();
                report.size = Some(bytes.len());
                report.sha256 = Some(hex::encode(hash));
                report.as_written = expected.written.get(fid).map(|w| *w == hash);
                if report.as_written == Some(false) {
                    altered = true;
                }
                if *fid == FID_DG1 {
                    match dg1_fields(bytes) {
                        Ok(f) => dg1 = Some(f),
                        Err(e) => {
                            altered = true;
                            report.detail = Some(format!("DG1 cannot be parsed: {e}"));
                        }
                    }
                }
            }
            FileRead::Missing => {
                altered = true;
                report.state = "missing".into();
            }
            FileRead::Malformed(detail) => {
                altered = true;
                report.state = "malformed".into();
                report.detail = Some(detail.clone());
            }
        }
        reports.push(report);
    }

    let data_groups: Vec<(u16, Vec<u8>)> = files
        .iter()
        .filter(|(fid, _)| sod::data_group_number(*fid).is_some())
        .filter_map(|(fid, f)| match f {
            FileRead::Read(b) => Some((*fid, b.clone())),
            _ => None,
        })
        .collect();
    let sod_file = files.iter().find_map(|(fid, f)| match f {
        FileRead::Read(b) if *fid == FID_SOD => Some(b),
        _ => None,
    });
    let passive = match sod_file {
        None => PassiveAuth::NotDone {
            detail: "EF.SOD could not be read".into(),
        },
        Some(s) => match sod::verify(s, &data_groups, csca) {
            Ok(v) => PassiveAuth::Verified { signer: v.signer },
            Err(SodError::UnknownSigner(d)) => PassiveAuth::UnknownSigner { detail: d },
            Err(e) => PassiveAuth::Failed {
                detail: e.to_string(),
            },
        },
    };
    if !matches!(passive, PassiveAuth::Verified { .. }) {
        altered = true;
    }

    let dg1_vs_production = match (&dg1, &expected.record) {
        (Some(card), Some(record)) => compare(card, record),
        _ => Vec::new(),
    };
    if !dg1_vs_production.is_empty() {
        altered = true;
    }
    // What the holder holds against what they submitted: the face (the record it was
    // printed from) and the chip.
    let mut card_vs_request = record_vs_request.clone().unwrap_or_default();
    if let (Some(card), Some(request)) = (&dg1, &expected.request) {
        for d in compare(card, request) {
            if !card_vs_request.iter().any(|x| x.field == d.field) {
                card_vs_request.push(d);
            }
        }
    }
    let chip = if matches!(passive, PassiveAuth::UnknownSigner { .. }) {
        ChipState::NotOurs
    } else if altered {
        ChipState::Altered
    } else {
        ChipState::Intact
    };
    Diagnostic {
        chip,
        data_vs_request: data_vs_request(expected.request.is_some(), &card_vs_request),
        chip_serial: Some(format!("{serial:016X}")),
        files: reports,
        passive_authentication: passive,
        dg1_vs_production,
        card_vs_request,
        unreadable: None,
    }
}

fn data_vs_request(comparable: bool, diffs: &[FieldDiff]) -> DataVsRequest {
    if !comparable {
        DataVsRequest::Unavailable
    } else if diffs.is_empty() {
        DataVsRequest::Matches
    } else {
        DataVsRequest::Differs
    }
}

impl Diagnostic {
    /// One line per finding, in French, for the analyst's terminal.
    pub fn lines_fr(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(match self.chip {
            ChipState::Intact => {
                "PUCE INTACTE : authentification passive valide, fichiers tels qu'écrits".into()
            }
            ChipState::Altered => "PUCE ALTÉRÉE".into(),
            ChipState::NotOurs => "PUCE NON ÉMISE PAR LE BUREAU : signataire inconnu".into(),
            ChipState::Unreadable => format!(
                "PUCE ILLISIBLE : {}",
                self.unreadable.as_deref().unwrap_or("sans réponse")
            ),
        });
        match &self.passive_authentication {
            PassiveAuth::Verified { .. } | PassiveAuth::NotDone { .. } => {}
            PassiveAuth::UnknownSigner { detail } | PassiveAuth::Failed { detail } => {
                out.push(format!("  EF.SOD : {detail}"));
            }
        }
        for f in &self.files {
            if f.state != "read" {
                out.push(format!("  {} : {}", f.file, f.state));
            } else if f.as_written == Some(false) {
                out.push(format!(
                    "  {} : différent de ce que la production a écrit",
                    f.file
                ));
            }
        }
        for d in &self.dg1_vs_production {
            out.push(format!(
                "  DG1 {} : « {} » au lieu de « {} »",
                d.field,
                d.card.as_deref().unwrap_or("—"),
                d.expected.as_deref().unwrap_or("—")
            ));
        }
        out.push(match self.data_vs_request {
            DataVsRequest::Matches => "DONNÉES CONFORMES À LA DEMANDE VALIDÉE".into(),
            DataVsRequest::Differs => "DONNÉES DIFFÉRENTES DE LA DEMANDE VALIDÉE".into(),
            DataVsRequest::Unavailable => "DEMANDE PURGÉE : comparaison impossible".into(),
        });
        for d in &self.card_vs_request {
            out.push(format!(
                "  {} : « {} » au lieu de « {} »",
                d.field,
                d.card.as_deref().unwrap_or("—"),
                d.expected.as_deref().unwrap_or("—")
            ));
        }
        out
    }
}
