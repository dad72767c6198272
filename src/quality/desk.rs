//! The quality desk's work that spans the store and intake: judging a chip reading sent by a
//! station, giving the verdict and making the free replacement, and the holder's correction.
//!
//! A replacement is an ordinary request through intake (`quality-case-N`), so it is validated,
//! numbered (renewal index + 1, the previous expiry kept: domain.md §3) and made like any
//! other; resubmitting it after a crash replays the first answer instead of a second card.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use x509_cert::Certificate;

use super::diagnostic::{self, Diagnostic};
use crate::chip::script::FileRead;
use crate::intake::{Intake, IntakeError, Submission, amend};
use crate::store::quality::{Decision, QualityCase, QualityError};
use crate::store::{Store, StoreError};

/// What a station read from a chip (`POST …/diagnostic`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// The card body's serial (EF.IDENT), 16 hex digits.
    #[serde(default)]
    pub chip_serial: Option<String>,
    #[serde(default)]
    pub files: Vec<ReadFile>,
    /// Why the chip could not be read at all (mute, not our card type …).
    #[serde(default)]
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadFile {
    /// The FID, 4 hex digits.
    pub fid: String,
    /// `read`, `missing` or `malformed`.
    pub state: String,
    /// The bytes (base64) of a file read.
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl Reading {
    /// The wire form of a card read by [`crate::chip::script::read_application`].
    pub fn of(read: &crate::chip::script::CardRead) -> Value {
        let files: Vec<Value> = read
            .files
            .iter()
            .map(|(fid, f)| match f {
                FileRead::Read(b) => {
                    json!({ "fid": format!("{fid:04X}"), "state": "read", "data": STANDARD.encode(b) })
                }
                FileRead::Missing => json!({ "fid": format!("{fid:04X}"), "state": "missing" }),
                FileRead::Malformed(d) => {
                    json!({ "fid": format!("{fid:04X}"), "state": "malformed", "detail": d })
                }
            })
            .collect();
        json!({ "chip_serial": format!("{:016X}", read.serial), "files": files })
    }

    /// The reading (or why the chip was unreadable); `Err` when the body is malformed.
    fn decode(&self) -> Result<Decoded, String> {
        if let Some(why) = &self.unreadable {
            return Ok(Err(why.clone()));
        }
        let serial = self
            .chip_serial
            .as_deref()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or("chip_serial: 16 hex digits are required when the chip was read")?;
        let mut files = Vec::with_capacity(self.files.len());
        for (i, f) in self.files.iter().enumerate() {
            let fid = u16::from_str_radix(&f.fid, 16)
                .map_err(|_| format!("files[{i}].fid: {:?} is not 4 hex digits", f.fid))?;
            let found = match (f.state.as_str(), &f.data) {
                ("read", Some(d)) => FileRead::Read(
                    STANDARD
                        .decode(d)
                        .map_err(|e| format!("files[{i}].data: not base64: {e}"))?,
                ),
                ("read", None) => return Err(format!("files[{i}].data: a file read has data")),
                ("missing", _) => FileRead::Missing,
                ("malformed", _) => FileRead::Malformed(f.detail.clone().unwrap_or_default()),
                (other, _) => {
                    return Err(format!(
                        "files[{i}].state: {other:?} is not read, missing or malformed"
                    ));
                }
            };
            files.push((fid, found));
        }
        Ok(Ok((serial, files)))
    }
}

/// The body serial and files read, or why the chip was unreadable.
type Decoded = Result<(u64, Vec<(u16, FileRead)>), String>;

/// Why a desk step failed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("{0}")]
    BadReading(String),
    /// The chip in the reader is another card than the coupon's.
    #[error("the card in the reader is not the coupon's card {expected}: its chip holds {found}")]
    WrongCard { expected: String, found: String },
    #[error(transparent)]
    Quality(#[from] QualityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the replacement request was refused: {0}")]
    Replacement(String),
    #[error("the correction is invalid")]
    Invalid(Vec<crate::domain::violation::Violation>),
    #[error(
        "the original request of case {0} was purged: the portal must send the replacement request"
    )]
    Purged(i64),
}

/// Judges a station's reading of the chip of case `id` and stores the diagnostic.
pub async fn diagnose(
    store: &Store,
    csca: &Certificate,
    id: i64,
    reading: &Reading,
    by: &str,
) -> Result<Diagnostic, DeskError> {
    let decoded = reading.decode().map_err(DeskError::BadReading)?;
    let (case, expected, serial) = store.quality_expected(id).await?;
    if let Ok((read_serial, files)) = &decoded {
        // The coupon's card, by its body serial or (a body we did not bind) by DG1's number.
        let dg1_number = files.iter().find_map(|(fid, f)| match f {
            FileRead::Read(b) if *fid == crate::chip::data_groups::FID_DG1 => {
                diagnostic::dg1_fields(b).ok()?.remove("card_number")
            }
            _ => None,
        });
        let same_body = serial.is_some_and(|s| s as u64 == *read_serial);
        if !same_body && dg1_number.as_deref() != Some(case.card_number.as_str()) {
            return Err(DeskError::WrongCard {
                expected: case.card_number.clone(),
                found: format!(
                    "card {} (body {read_serial:016X})",
                    dg1_number.as_deref().unwrap_or("unknown")
                ),
            });
        }
    }
    let read = match &decoded {
        Ok((s, f)) => Ok((*s, f.as_slice())),
        Err(why) => Err(why.as_str()),
    };
    let diagnostic = diagnostic::diagnose(read, &expected, csca);
    store.record_diagnostic(id, &diagnostic, by).await?;
    Ok(diagnostic)
}

/// What a verdict led to.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    /// The free replacement's request and card number, when one was made.
    pub replacement: Option<(String, Option<String>)>,
}

/// Gives the verdict of case `id` by the rules; a manufacturer's fault makes the free
/// replacement at once.
pub async fn decide(
    intake: &Intake,
    id: i64,
    by: &str,
    waiver: Option<&str>,
) -> Result<Verdict, DeskError> {
    let decision = intake.store().decide_quality(id, by, waiver).await?;
    let replacement = match &decision {
        Decision::Decided {
            free_replacement: true,
            ..
        } => Some(replace(intake, id, None, None, by).await?),
        _ => None,
    };
    Ok(Verdict {
        decision,
        replacement,
    })
}

/// Makes the free replacement a decided case is owed but does not have: the service stopped
/// (or the database went away) between the verdict and the replacement. `None` when nothing
/// is owed. Asking the verdict again at the desk comes here.
pub async fn resume_replacement(
    intake: &Intake,
    id: i64,
    by: &str,
) -> Result<Option<(String, Option<String>)>, DeskError> {
    let case = intake.store().quality_case(id).await?;
    let owed = case.state == "decided"
        && (case.verdict.as_deref() == Some("manufacturer_fault") || case.fee_waived)
        && case.replacement_request_id.is_none();
    if !owed {
        return Ok(None);
    }
    Ok(Some(replace(intake, id, None, None, by).await?))
}

/// The supervisor's answer to a fee waiver; an approved one makes the free replacement.
pub async fn settle_waiver(
    intake: &Intake,
    id: i64,
    supervisor: &str,
    approve: bool,
) -> Result<(QualityCase, Option<(String, Option<String>)>), DeskError> {
    let case = intake
        .store()
        .settle_waiver(id, supervisor, approve)
        .await?;
    let replacement = if approve {
        Some(replace(intake, id, None, None, supervisor).await?)
    } else {
        None
    };
    Ok((case, replacement))
}

/// The holder corrected their data and paid (`POST /v1/quality-returns/{id}/holder-correction`):
/// the replacement is made with the corrections.
pub async fn holder_correction(
    intake: &Intake,
    id: i64,
    corrections: &serde_json::Map<String, Value>,
    payment_ref: &str,
) -> Result<(String, Option<String>), DeskError> {
    let case = intake.store().quality_case(id).await?;
    if case.verdict.as_deref() != Some("holder_fault") {
        return Err(QualityError::WrongVerdict {
            id,
            verdict: case.verdict.unwrap_or_else(|| case.state.clone()),
            what: "only a holder's fault is corrected and paid by the holder",
        }
        .into());
    }
    if case.fee_waived {
        return Err(QualityError::WrongVerdict {
            id,
            verdict: "holder_fault with the fee waived".into(),
            what: "its replacement is already free",
        }
        .into());
    }
    replace(intake, id, Some(corrections), Some(payment_ref), "portal").await
}

/// Submits the replacement request of case `id`: the original request (pictures included)
/// with the `corrections` laid over it, as a quality replacement of the returned card.
async fn replace(
    intake: &Intake,
    id: i64,
    corrections: Option<&serde_json::Map<String, Value>>,
    payment_ref: Option<&str>,
    by: &str,
) -> Result<(String, Option<String>), DeskError> {
    let store = intake.store();
    let (_, card, document) = store.quality_source(id).await?;
    let Some(Value::Object(mut doc)) = document else {
        return Err(DeskError::Purged(id));
    };
    let request_id = format!("quality-case-{id}");
    amend::with_pictures(store, &card.request_id, &mut doc).await?;
    if let Some(c) = corrections {
        amend::lay_over(&mut doc, c);
    }
    doc.insert("request_id".into(), Value::String(request_id.clone()));
    doc.insert("kind".into(), json!("replacement"));
    doc.insert(
        "previous_card".into(),
        json!({ "number": card.card_number, "expiry": card.expiry_date }),
    );
    doc.insert("replacement".into(), json!({ "reason": "quality" }));
    doc.remove("expected_expiry");
    let submitted = intake
        .submit(Value::Object(doc), &format!("quality:{by}"))
        .await;
    let answer = match submitted {
        Ok(Submission::Created(a) | Submission::Replayed(a)) => a,
        Err(IntakeError::Invalid(v)) => return Err(DeskError::Invalid(v)),
        Err(e) => return Err(DeskError::Replacement(e.to_string())),
    };
    let number = answer
        .body
        .get("card_number")
        .and_then(Value::as_str)
        .map(str::to_string);
    store
        .link_quality_replacement(id, &request_id, payment_ref, by)
        .await?;
    Ok((request_id, number))
}
