//! Intake: validated card requests from the driver portal become card records, exactly once.
//!
//! The same path serves `POST /v1/requests` and `cqcfab import`. Order of work:
//! 1. parse the JSON (malformed → one violation at `$`);
//! 2. if the `request_id` is known: same fingerprint → the first answer again, else 409;
//! 3. validate everything (pictures decoded), compute the validity, collect *all* violations;
//! 4. one transaction: request row (unique id), card number, card row, pictures, audit record,
//!    portal event, render job, answer. A concurrent duplicate finds the id taken inside the
//!    transaction and replays or conflicts like step 2. A rejection stores nothing.

mod fingerprint;
pub mod import;
mod parse;
mod walker;

use serde_json::{Value, json};
use thiserror::Error;
use time::Date;

pub use fingerprint::fingerprint;
pub use parse::parse_request;

use crate::clock::rfc3339;
use crate::domain::card_number::{CardNumber, HolderNumber};
use crate::domain::lifecycle::{CardEvent, CardState};
use crate::domain::request::{Basis, CardRequest, PreviousNumber, ReplacementCause};
use crate::domain::validity::{self, Validity};
use crate::domain::violation::{Code, Violation};
use crate::store::audit::{self, Entry};
use crate::store::cards::{self, NewCard};
use crate::store::jobs::{self, NewJob};
use crate::store::requests::{self, Inserted, NewRequest, StoredAnswer};
use crate::store::{Store, StoreError, Tx, outbox};

/// The job kind that renders an accepted card (consumed by the rendering capability).
pub const RENDER_JOB: &str = "render";

/// An answer to give the portal.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// What happened to a submission that was not refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    /// A new card record (201).
    Created(Answer),
    /// A retry of a request already taken: its first answer (200).
    Replayed(Answer),
}

impl Submission {
    pub fn answer(&self) -> &Answer {
        match self {
            Submission::Created(a) | Submission::Replayed(a) => a,
        }
    }
}

#[derive(Debug, Error)]
pub enum IntakeError {
    /// Every problem found (422); nothing stored.
    #[error("request refused: {} problem(s)", .0.len())]
    Invalid(Vec<Violation>),
    /// The id is taken by a different body (409).
    #[error("request {request_id} already exists with a different body")]
    Conflict { request_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntakeError {
    fn invalid(v: Violation) -> Self {
        IntakeError::Invalid(vec![v])
    }
}

/// The intake service.
#[derive(Clone, Debug)]
pub struct Intake {
    store: Store,
}

impl Intake {
    pub fn new(store: Store) -> Self {
        Intake { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Takes a request body as bytes. `actor` is recorded in the audit trail.
    pub async fn submit_bytes(&self, body: &[u8], actor: &str) -> Result<Submission, IntakeError> {
        let doc = parse_json(body).map_err(IntakeError::invalid)?;
        self.submit(doc, actor).await
    }

    /// Takes a parsed request document.
    pub async fn submit(&self, doc: Value, actor: &str) -> Result<Submission, IntakeError> {
        let fp = fingerprint(&doc);
        if let Some(id) = doc.get("request_id").and_then(Value::as_str)
            && let Some(existing) = self.store.request_answer(id).await?
        {
            return replay(id, &fp, existing);
        }
        let today = self.store.clock().today();
        // Decoding pictures is CPU work: keep it off the async workers.
        let checked =
            tokio::task::spawn_blocking(move || validate(&doc, today).map(|(r, v)| (doc, r, v)))
                .await
                .map_err(|e| {
                    IntakeError::Store(StoreError::Corrupt(format!("validation task failed: {e}")))
                })?;
        let (doc, request, validity) = checked.map_err(IntakeError::Invalid)?;
        self.store_request(&doc, &fp, &request, validity, actor)
            .await
    }

    async fn store_request(
        &self,
        doc: &Value,
        fp: &str,
        request: &CardRequest,
        validity: Validity,
        actor: &str,
    ) -> Result<Submission, IntakeError> {
        let now = self.store.clock().now_ms();
        let id = request.request_id.as_str();
        let document = document_without_pictures(doc);
        let mut tx = self.store.begin().await?;
        let inserted = requests::insert(
            &mut tx,
            &NewRequest {
                request_id: id,
                fingerprint: fp,
                kind: &request.basis.kind().label(),
                received_at: now,
                received_by: actor,
                document: &document,
            },
        )
        .await?;
        if let Inserted::Existing(existing) = inserted {
            tx.rollback().await?;
            return replay(id, fp, existing);
        }
        let number = match card_number(&mut tx, request).await {
            Ok(n) => n,
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        };
        let held = request
            .expected_expiry
            .is_some_and(|e| e != validity.expiry);
        let event = if held {
            CardEvent::HoldForReview
        } else {
            CardEvent::Approve
        };
        let state = CardState::Application
            .apply(event)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let card = new_card(request, &number, validity, state);
        let card_id = match cards::insert(&mut tx, now, &card).await {
            Ok(id) => id,
            Err(e) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Err(superseded(request, &number));
            }
            Err(e) => return Err(e.into()),
        };
        requests::insert_media(&mut tx, id, "photo", &request.photo).await?;
        requests::insert_media(&mut tx, id, "signature", &request.signature).await?;

        let body = answer_body(request, &card, validity);
        let action = if held {
            "request.held"
        } else {
            "request.accepted"
        };
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action,
                entity_type: "card",
                entity_id: &card.card_number,
                before: None,
                after: Some(json!({
                    "state": card.state,
                    "request_id": id,
                    "kind": card.kind,
                    "card_id": card_id,
                    "issue_date": card.issue_date,
                    "expiry_date": card.expiry_date,
                    "fingerprint": fp,
                })),
                reason: held.then_some("expected_expiry differs from the computed expiry"),
            },
        )
        .await?;
        outbox::push(&mut tx, now, action, body.clone()).await?;
        if !held {
            jobs::enqueue(
                &mut tx,
                now,
                &NewJob::new(
                    RENDER_JOB,
                    json!({ "card_number": card.card_number, "request_id": id }),
                )
                .dedup(format!("{RENDER_JOB}:{}", card.card_number)),
            )
            .await?;
        }
        requests::set_answer(&mut tx, id, 201, &body.to_string()).await?;
        match tx.commit().await {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => return Err(superseded(request, &number)),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(request_id = id, card_number = %number, state = state.as_str(), "request taken");
        Ok(Submission::Created(Answer { status: 201, body }))
    }

    /// The status of a request for `GET /v1/requests/{id}`: state, card number, dates, mail
    /// pieces and the history of changes.
    pub async fn status(&self, request_id: &str) -> Result<Option<Value>, StoreError> {
        let Some(card) = self.store.card_by_request(request_id).await? else {
            return Ok(None);
        };
        let history: Vec<Value> = self
            .store
            .audit_history("card", &card.card_number)
            .await?
            .into_iter()
            .map(|r| {
                let state = r
                    .after
                    .as_deref()
                    .and_then(|a| serde_json::from_str::<Value>(a).ok())
                    .and_then(|a| a.get("state").cloned())
                    .unwrap_or(Value::Null);
                json!({ "at": rfc3339(r.at), "action": r.action, "status": state, "reason": r.reason })
            })
            .collect();
        let mut body = json!({
            "request_id": card.request_id,
            "kind": card.kind,
            "status": card.state,
            "card_number": card.card_number,
            "issue_date": card.issue_date,
            "expiry_date": card.expiry_date,
            "mail_pieces": [],
            "history": history,
        });
        if card.state == CardState::HeldForReview.as_str() {
            body["review"] = json!({
                "expected_expiry": card.expected_expiry,
                "computed_expiry": card.expiry_date,
            });
        }
        Ok(Some(body))
    }
}

/// Parses a body as JSON, naming line and column of a syntax error.
pub fn parse_json(body: &[u8]) -> Result<Value, Violation> {
    serde_json::from_slice(body).map_err(|e| {
        Violation::new(
            "$",
            Code::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// Every check that needs no database: shape, fields, pictures, address, validity.
pub fn validate(doc: &Value, today: Date) -> Result<(CardRequest, Validity), Vec<Violation>> {
    let request = parse_request(doc, today)?;
    let latest = request.qualifications.latest_training_end();
    let basis = match &request.basis {
        Basis::FirstIssue => validity::Basis::FirstIssue {
            training_end: latest,
        },
        Basis::Renewal { previous } => validity::Basis::Renewal {
            training_end: latest,
            previous_expiry: previous.expiry,
        },
        Basis::Replacement { previous, cause } => validity::Basis::Replacement {
            reason: cause.reason(),
            previous_expiry: previous.expiry,
        },
    };
    match validity::compute(&basis, today) {
        Ok(v) => Ok((request, v)),
        Err(e) => {
            let path = match e.code() {
                Code::PreviousCardExpired | Code::InvalidDate
                    if request.basis.previous().is_some() =>
                {
                    "previous_card.expiry".to_string()
                }
                _ => latest_training_path(&request),
            };
            Err(vec![Violation::new(path, e.code(), e.to_string())])
        }
    }
}

fn latest_training_path(request: &CardRequest) -> String {
    let latest = request.qualifications.latest_training_end();
    let i = request
        .qualifications
        .iter()
        .position(|q| q.training_end == latest)
        .unwrap_or(0);
    format!("qualifications[{i}].training_end")
}

fn replay(request_id: &str, fp: &str, existing: StoredAnswer) -> Result<Submission, IntakeError> {
    if existing.fingerprint != fp {
        return Err(IntakeError::Conflict {
            request_id: request_id.to_string(),
        });
    }
    let body = serde_json::from_str(&existing.answer_body)
        .map_err(|e| StoreError::Corrupt(format!("stored answer of {request_id}: {e}")))?;
    Ok(Submission::Replayed(Answer { status: 200, body }))
}

/// The number of the new card. A first issue (or a renewal of a card from the previous
/// issuer) opens a holder number; a renewal or replacement of one of ours moves an index.
async fn card_number(tx: &mut Tx, request: &CardRequest) -> Result<CardNumber, IntakeError> {
    let previous = match request.basis.previous() {
        Some(p) => match &p.number {
            PreviousNumber::Ours(n) => Some(*n),
            PreviousNumber::Legacy(_) => None,
        },
        None => None,
    };
    let Some(previous) = previous else {
        let n = requests::allocate_holder_number(tx).await?;
        let holder = u32::try_from(n)
            .ok()
            .and_then(|n| HolderNumber::new(n).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("holder number {n} out of range")))?;
        return Ok(CardNumber::first(holder));
    };
    // A previous card we issued must be the same holder's (its personal data may have been
    // purged since: then there is nothing left to compare).
    if let Some(old) = cards::by_number_in(tx, &previous.to_string()).await?
        && let (Some(licence), Some(birth)) =
            (old.licence_number.as_deref(), old.birth_date.as_deref())
        && (licence != request.holder.licence_number.as_str()
            || birth != request.holder.birth_date.to_string())
    {
        return Err(IntakeError::invalid(Violation::new(
            "previous_card.number",
            Code::PreviousCardMismatch,
            format!(
                "card {previous} belongs to another holder (licence number or birth date differ)"
            ),
        )));
    }
    let next = match &request.basis {
        Basis::Replacement {
            cause: ReplacementCause::Loss | ReplacementCause::Theft { .. },
            ..
        } => previous.next_replacement(),
        _ => previous.next_renewal(),
    }
    .map_err(|e| {
        IntakeError::invalid(Violation::new(
            "previous_card.number",
            Code::InvalidCardNumber,
            e.to_string(),
        ))
    })?;
    if cards::by_number_in(tx, &next.to_string()).await?.is_some() {
        return Err(superseded(request, &next));
    }
    Ok(next)
}

fn superseded(request: &CardRequest, next: &CardNumber) -> IntakeError {
    let previous = request
        .basis
        .previous()
        .map(|p| p.number.as_string())
        .unwrap_or_default();
    IntakeError::invalid(Violation::new(
        "previous_card.number",
        Code::PreviousCardSuperseded,
        format!("card {previous} was already renewed or replaced: card {next} exists"),
    ))
}

fn new_card(
    request: &CardRequest,
    number: &CardNumber,
    validity: Validity,
    state: CardState,
) -> NewCard {
    let categories: Vec<&str> = request
        .qualifications
        .categories()
        .iter()
        .map(|c| c.as_str())
        .collect();
    let lines: Vec<&str> = request
        .address
        .lines()
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    NewCard {
        card_number: number.to_string(),
        holder_number: i64::from(number.holder().value()),
        request_id: request.request_id.to_string(),
        kind: request.basis.kind().label(),
        state: state.as_str().to_string(),
        issue_date: validity.issue.to_string(),
        expiry_date: validity.expiry.to_string(),
        expected_expiry: request.expected_expiry.map(|d| d.to_string()),
        previous_card_number: request.basis.previous().map(|p| p.number.as_string()),
        surname: request.holder.surname.as_str().to_string(),
        given_names: request.holder.given_names.as_str().to_string(),
        birth_date: request.holder.birth_date.to_string(),
        birth_place: request.holder.birth_place.as_str().to_string(),
        licence_number: request.holder.licence_number.as_str().to_string(),
        categories: json!(categories).to_string(),
        address_lines: json!(lines).to_string(),
        postcode: request.address.postcode().to_string(),
        country: request.address.country_code().to_string(),
    }
}

fn answer_body(request: &CardRequest, card: &NewCard, validity: Validity) -> Value {
    let id = request.request_id.as_str();
    let mut body = json!({
        "request_id": id,
        "status": card.state,
        "card_number": card.card_number,
        "issue_date": validity.issue.to_string(),
        "expiry_date": validity.expiry.to_string(),
        "code_95": validity.code_95(),
        "links": { "self": format!("/v1/requests/{id}") },
    });
    if let Some(expected) = request.expected_expiry.filter(|e| *e != validity.expiry) {
        body["review"] = json!({
            "expected_expiry": expected.to_string(),
            "computed_expiry": validity.expiry.to_string(),
        });
    }
    body
}

/// The request as stored for reference: everything but the pictures (kept as bytes apart).
fn document_without_pictures(doc: &Value) -> String {
    match doc {
        Value::Object(o) => {
            let rest: serde_json::Map<String, Value> = o
                .iter()
                .filter(|(k, _)| *k != "photo" && *k != "signature")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(rest).to_string()
        }
        other => other.to_string(),
    }
}
