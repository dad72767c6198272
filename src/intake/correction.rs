//! The driver's correction of a stopped card (`POST /v1/requests/{id}/correction`,
//! docs/corrections.md).
//!
//! Production stopped the card and told the portal which request fields the driver must
//! correct (`card.stopped`). The correction carries them in the shapes of a request (`holder`,
//! `photo`, `signature`). It is laid over the stored request ([`super::amend`]) and the whole
//! goes through intake's own validation ([`super::validate`]), as of the day the request was
//! received, so every problem is listed exactly as for a new request, and the parts the driver
//! did not touch validate as they did then. Then, in one transaction: the card's printed data,
//! the stored document and pictures are replaced; the card goes back to `approved` by the
//! life cycle's `correct`, audited with fingerprints and field paths only (never the names or
//! pictures); a render job is queued under a key of its own. The card keeps its number and
//! its dates.
//!
//! Idempotency: a correction is known by its request and the fingerprint of its body. The same
//! body sent again is answered as the first time (200) and queues nothing, whatever happened to
//! the card since; two identical bodies racing commit once (the database's unique key and the
//! card's version both refuse the second, which is then answered from the first).

use serde_json::{Map, Value, json};
use thiserror::Error;

use super::{Intake, IntakeError, amend, document_without_pictures, fingerprint, parse_json};
use crate::clock::paris_date;
use crate::domain::lifecycle::{CardEvent, CardState};
use crate::domain::request::CardRequest;
use crate::domain::review::RequestField;
use crate::domain::violation::{Code, Violation};
use crate::store::StoreError;
use crate::store::cards::{self, CardRecord, TransitionError};
use crate::store::corrections;
use crate::store::jobs;
use crate::store::requests::{self, NewMedia};

/// The top-level keys a correction may hold: everything production can stop on.
pub const CORRECTABLE: [&str; 3] = ["holder", "photo", "signature"];

/// Why a correction was not taken.
#[derive(Debug, Error)]
pub enum CorrectionError {
    /// 404.
    #[error("no request {0}")]
    UnknownRequest(String),
    /// 409: only a stopped card waits for a correction.
    #[error("card {card_number} is {state}: it is not waiting for a correction")]
    NotWaiting { card_number: String, state: String },
    /// 409: the request's personal data is gone; nothing left to lay the correction over.
    #[error("request {0}: its personal data was purged; there is nothing to correct")]
    Purged(String),
    /// 422: every problem found; nothing stored.
    #[error("correction refused: {} problem(s)", .0.len())]
    Invalid(Vec<Violation>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A correction taken (202), or the same one again (200).
#[derive(Debug, Clone, PartialEq)]
pub struct Corrected {
    pub replayed: bool,
    pub body: Value,
}

/// A correction that passed validation, ready to write.
struct Checked {
    card: CardRecord,
    request: CardRequest,
    merged: Value,
    fingerprint: String,
    changed: Vec<RequestField>,
}

impl Intake {
    /// Takes the correction `body` for request `request_id`. `actor` is recorded in the audit
    /// trail.
    pub async fn correct(
        &self,
        request_id: &str,
        body: &[u8],
        actor: &str,
    ) -> Result<Corrected, CorrectionError> {
        let store = &self.store;
        let Some(card) = store.card_by_request(request_id).await? else {
            return Err(CorrectionError::UnknownRequest(request_id.to_string()));
        };
        let doc = parse_json(body).map_err(|v| CorrectionError::Invalid(vec![v]))?;
        let fp = fingerprint(&doc);
        if let Some(answer) = store.correction_answer(request_id, &fp).await? {
            return replay(request_id, &answer);
        }
        if card.state != CardState::Stopped.as_str() {
            return Err(not_waiting(&card));
        }
        let checked = self.check(card, doc, fp).await?;
        match write(self, &checked, actor).await {
            Err(Written::Race(why)) => {
                // Someone moved the card or took the same body meanwhile: answer from what won.
                match store
                    .correction_answer(request_id, &checked.fingerprint)
                    .await?
                {
                    Some(answer) => replay(request_id, &answer),
                    None => match store.card_by_request(request_id).await? {
                        Some(c) if c.state != CardState::Stopped.as_str() => Err(not_waiting(&c)),
                        _ => Err(StoreError::Conflict(why).into()),
                    },
                }
            }
            Err(Written::Failed(e)) => Err(e),
            Ok(done) => Ok(done),
        }
    }

    /// Lays the correction over the stored request and validates the whole, listing every
    /// problem: keys that are not correctable, intake's violations, identity fields changed,
    /// the fields production stopped on left as they were.
    async fn check(
        &self,
        card: CardRecord,
        doc: Value,
        fp: String,
    ) -> Result<Checked, CorrectionError> {
        let store = &self.store;
        let request_id = card.request_id.clone();
        let Value::Object(given) = doc else {
            return Err(CorrectionError::Invalid(vec![Violation::new(
                "$",
                Code::WrongType,
                "the correction must be a JSON object",
            )]));
        };
        let mut problems = Vec::new();
        let mut taken = Map::new();
        for (k, v) in given {
            if CORRECTABLE.contains(&k.as_str()) {
                taken.insert(k, v);
            } else {
                problems.push(Violation::new(
                    k.clone(),
                    Code::NotCorrectable,
                    format!(
                        "{k}: a correction holds only {} (what production can stop on)",
                        CORRECTABLE.join(", ")
                    ),
                ));
            }
        }
        let Some(stored) = amend::stored_request(store, &request_id).await? else {
            return Err(CorrectionError::Purged(request_id));
        };
        let mut merged = stored.document;
        amend::lay_over(&mut merged, &taken);
        let merged = Value::Object(merged);
        let (merged, validated) = self
            .cpu_on(paris_date(stored.received_at), move |day| {
                let v = super::validate(&merged, day);
                (merged, v)
            })
            .await
            .map_err(|e| match e {
                IntakeError::Store(e) => e,
                other => StoreError::Corrupt(other.to_string()),
            })?;
        let request = match validated {
            Ok((request, _)) => request,
            Err(v) => {
                problems.extend(v);
                return Err(CorrectionError::Invalid(problems));
            }
        };
        problems.extend(same_holder(&card, &request));
        let changed = changed(store, &card, &request).await?;
        let stop = store.last_stop(&card.card_number).await?;
        for path in stop.iter().flat_map(|s| &s.fields) {
            let untouched = RequestField::parse(path).is_some_and(|f| !changed.contains(&f));
            if untouched {
                problems.push(Violation::new(
                    path.clone(),
                    Code::NothingCorrected,
                    format!("production stopped on {path}: the correction must change it"),
                ));
            }
        }
        if changed.is_empty() && problems.is_empty() {
            problems.push(Violation::new(
                "$",
                Code::NothingCorrected,
                "the correction changes nothing the card prints",
            ));
        }
        if !problems.is_empty() {
            return Err(CorrectionError::Invalid(problems));
        }
        Ok(Checked {
            card,
            request,
            merged,
            fingerprint: fp,
            changed,
        })
    }
}

/// The birth date and licence number identify the holder (a renewal is matched on them): a
/// correction may not change them under the same card number.
fn same_holder(card: &CardRecord, request: &CardRequest) -> Vec<Violation> {
    let h = &request.holder;
    let mut v = Vec::new();
    if card.birth_date.as_deref() != Some(h.birth_date.to_string().as_str()) {
        v.push(Violation::new(
            "holder.birth_date",
            Code::NotCorrectable,
            "the birth date identifies the holder: it cannot be corrected under this card number; send a new request",
        ));
    }
    if card.licence_number.as_deref() != Some(h.licence_number.as_str()) {
        v.push(Violation::new(
            "holder.licence_number",
            Code::NotCorrectable,
            "the licence number identifies the holder: it cannot be corrected under this card number; send a new request",
        ));
    }
    v
}

/// The fields the corrected request prints differently from the card as it stands.
async fn changed(
    store: &crate::store::Store,
    card: &CardRecord,
    request: &CardRequest,
) -> Result<Vec<RequestField>, StoreError> {
    let h = &request.holder;
    let mut out = Vec::new();
    for (field, now, was) in [
        (RequestField::Surname, h.surname.as_str(), &card.surname),
        (
            RequestField::GivenNames,
            h.given_names.as_str(),
            &card.given_names,
        ),
        (
            RequestField::BirthPlace,
            h.birth_place.as_str(),
            &card.birth_place,
        ),
    ] {
        if was.as_deref() != Some(now) {
            out.push(field);
        }
    }
    for (field, role, picture) in [
        (RequestField::Photo, "photo", &request.photo),
        (RequestField::Signature, "signature", &request.signature),
    ] {
        let stored = store.request_media(&card.request_id, role).await?;
        let new = NewMedia::new(&card.request_id, role, picture);
        if stored.is_none_or(|m| m.sha256 != new.sha256) {
            out.push(field);
        }
    }
    Ok(out)
}

/// How a write ended without taking the correction.
enum Written {
    /// The card or the correction table changed under us: decide again from what is stored.
    Race(String),
    Failed(CorrectionError),
}

impl From<StoreError> for Written {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Database(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                Written::Race(d.to_string())
            }
            other => Written::Failed(other.into()),
        }
    }
}

impl From<TransitionError> for Written {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::Raced { card_number } => {
                Written::Race(format!("card {card_number} moved meanwhile"))
            }
            TransitionError::Illegal(i) => Written::Race(i.to_string()),
            TransitionError::UnknownState { card_number, state } => Written::Failed(
                StoreError::Corrupt(format!("card {card_number} in unknown state {state}")).into(),
            ),
            TransitionError::Store(e) => e.into(),
        }
    }
}

/// One transaction: card data, document, pictures, the state change with its audit record,
/// the correction's row and the render job.
async fn write(intake: &Intake, c: &Checked, actor: &str) -> Result<Corrected, Written> {
    let store = &intake.store;
    let id = c.card.request_id.as_str();
    let number = c.card.card_number.as_str();
    let now = store.clock().now_ms();
    let mut tx = store.begin().await?;
    if corrections::answer_in(&mut tx, id, &c.fingerprint)
        .await?
        .is_some()
    {
        return Err(Written::Race(
            "the same correction was taken meanwhile".into(),
        ));
    }
    let fresh = cards::by_id_in(&mut tx, c.card.id).await?;
    if fresh.state != CardState::Stopped.as_str() {
        return Err(Written::Failed(not_waiting(&fresh)));
    }
    let h = &c.request.holder;
    cards::correct_holder(
        &mut tx,
        now,
        fresh.id,
        h.surname.as_str(),
        h.given_names.as_str(),
        h.birth_place.as_str(),
    )
    .await?;
    requests::replace_document(&mut tx, id, &document_without_pictures(&c.merged)).await?;
    let mut details = json!({
        "correction": c.fingerprint,
        "corrected": c.changed.iter().map(|f| f.path()).collect::<Vec<_>>(),
    });
    for (field, role, picture) in [
        (RequestField::Photo, "photo", &c.request.photo),
        (RequestField::Signature, "signature", &c.request.signature),
    ] {
        if c.changed.contains(&field) {
            let media = NewMedia::new(id, role, picture);
            requests::replace_media(&mut tx, &media).await?;
            details[format!("{role}_sha256")] = json!(media.sha256);
        }
    }
    // `correct_holder` moved `updated_at` only: the version the card was read at still holds.
    cards::apply(
        &mut tx,
        now,
        &fresh,
        CardEvent::Correct,
        actor,
        Some("correction from the driver"),
        details,
    )
    .await?;
    let answer = json!({
        "request_id": id,
        "card_number": number,
        "status": CardState::Approved.as_str(),
        "corrected": c.changed.iter().map(|f| f.path()).collect::<Vec<_>>(),
        "links": { "self": format!("/v1/requests/{id}") },
    });
    corrections::record(&mut tx, now, id, &c.fingerprint, actor, &answer.to_string()).await?;
    let short = c.fingerprint.get(..16).unwrap_or(&c.fingerprint);
    let again = format!("correction:{short}");
    jobs::enqueue(&mut tx, now, &super::render_job(number, id, Some(&again))).await?;
    tx.commit().await?;
    tracing::info!(request_id = id, card_number = number, "correction taken");
    Ok(Corrected {
        replayed: false,
        body: answer,
    })
}

fn not_waiting(card: &CardRecord) -> CorrectionError {
    CorrectionError::NotWaiting {
        card_number: card.card_number.clone(),
        state: card.state.clone(),
    }
}

fn replay(request_id: &str, answer: &str) -> Result<Corrected, CorrectionError> {
    let body = serde_json::from_str(answer).map_err(|e| {
        StoreError::Corrupt(format!("stored correction answer of {request_id}: {e}"))
    })?;
    Ok(Corrected {
        replayed: true,
        body,
    })
}
