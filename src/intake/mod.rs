//! Intake: validated card requests from the driver portal become card records, exactly once.
//!
//! The same path serves `POST /v1/requests` and `cqcfab import`. Order of work:
//! 1. parse the JSON (malformed → one violation at `$`);
//! 2. if the `request_id` is known: same fingerprint → the first answer again, else 409;
//! 3. validate everything (pictures decoded), compute the validity, collect *all* violations;
//! 4. hand the request to the writer (`writer.rs`), which commits requests in batches: one
//!    transaction holds, for every request of the batch, its request row, card number, card
//!    row, pictures, audit record, portal event, render job and answer. A concurrent duplicate
//!    is found inside the transaction and replays or conflicts like step 2. A rejection stores
//!    nothing.

mod dates;
mod fingerprint;
pub mod import;
mod parse;
pub use parse::delivery_address_of;
mod walker;
mod writer;

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use serde_json::{Value, json};
use thiserror::Error;
use time::Date;
use tokio::sync::{Semaphore, mpsc, oneshot};

pub use dates::{Dates, dates};
pub use fingerprint::fingerprint;
pub use parse::parse_request;

use crate::clock::rfc3339;
use crate::domain::lifecycle::CardState;
use crate::domain::request::{CardRequest, PreviousNumber};
use crate::domain::review::PreviousRecord;
use crate::domain::violation::{Code, Violation};
use crate::store::card_groups::{code95_map, groups_json, review_json};
use crate::store::requests::StoredAnswer;
use crate::store::{Store, StoreError};

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

/// The intake service. Clones share the decoder bound and the writer.
#[derive(Clone, Debug)]
pub struct Intake {
    store: Store,
    /// Bounds picture decoding to one task per core: more only queue on the CPU and delay
    /// the database writer's thread, which must get its turn for every statement.
    decoders: Arc<Semaphore>,
    writer: Arc<OnceLock<mpsc::Sender<writer::Pending>>>,
}

/// A request after the work that needs no database.
struct Prepared {
    fingerprint: String,
    request_id: Option<String>,
    /// The day the request was validated on: its dates are computed for that day.
    today: Date,
    /// The parsed request and its document without pictures.
    parsed: Result<(CardRequest, String), Vec<Violation>>,
}

impl Intake {
    pub fn new(store: Store) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Intake {
            store,
            decoders: Arc::new(Semaphore::new(cores)),
            writer: Arc::new(OnceLock::new()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Takes a request body as bytes. `actor` is recorded in the audit trail.
    pub async fn submit_bytes(
        &self,
        body: impl Into<Bytes>,
        actor: &str,
    ) -> Result<Submission, IntakeError> {
        let body = body.into();
        let prepared = self
            .cpu(move |today| match parse_json(&body) {
                Ok(doc) => prepare(doc, today),
                Err(v) => Prepared {
                    fingerprint: String::new(),
                    request_id: None,
                    today,
                    parsed: Err(vec![v]),
                },
            })
            .await?;
        self.finish(prepared, actor).await
    }

    /// Takes a parsed request document.
    pub async fn submit(&self, doc: Value, actor: &str) -> Result<Submission, IntakeError> {
        let prepared = self.cpu(move |today| prepare(doc, today)).await?;
        self.finish(prepared, actor).await
    }

    /// Runs CPU work (parsing, hashing, decoding pictures) on the blocking pool, one task per
    /// core at most, so the async workers keep serving connections.
    async fn cpu(
        &self,
        work: impl FnOnce(Date) -> Prepared + Send + 'static,
    ) -> Result<Prepared, IntakeError> {
        let today = self.store.clock().today();
        let _permit = self
            .decoders
            .acquire()
            .await
            .map_err(|e| internal(format!("validation pool closed: {e}")))?;
        tokio::task::spawn_blocking(move || work(today))
            .await
            .map_err(|e| internal(format!("validation task failed: {e}")))
    }

    async fn finish(&self, prepared: Prepared, actor: &str) -> Result<Submission, IntakeError> {
        // A known id decides before validity: a changed body is a conflict even when invalid.
        if let Some(id) = &prepared.request_id
            && let Some(existing) = self.store.request_answer(id).await?
        {
            return replay(id, &prepared.fingerprint, existing);
        }
        let (request, document) = prepared.parsed.map_err(IntakeError::Invalid)?;
        let known = self.previous_record(&request).await?;
        let dates =
            dates(&request, prepared.today, known.as_ref()).map_err(IntakeError::Invalid)?;
        let checked = writer::Checked {
            request,
            dates,
            document,
        };
        let (reply, answer) = oneshot::channel();
        let pending = writer::Pending {
            checked,
            fingerprint: prepared.fingerprint,
            actor: actor.to_string(),
            reply,
        };
        let writer = self
            .writer
            .get_or_init(|| writer::spawn(self.store.clone()));
        writer
            .send(pending)
            .await
            .map_err(|_| internal("the intake writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| internal("the intake writer dropped a request".into()))?
    }

    /// Our record of the previous card, when it is one of ours and we still hold it: the
    /// dates we printed on it decide the anticipated FCO, not what the portal remembers.
    async fn previous_record(
        &self,
        request: &CardRequest,
    ) -> Result<Option<PreviousRecord>, StoreError> {
        let Some(PreviousNumber::Ours(number)) = request.basis.previous().map(|p| &p.number) else {
            return Ok(None);
        };
        let Some(card) = self.store.card_by_number(&number.to_string()).await? else {
            return Ok(None);
        };
        let expiry = Date::parse(
            &card.expiry_date,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|e| StoreError::Corrupt(format!("card {number}: expiry date: {e}")))?;
        let groups = card.groups()?.iter().map(|g| (g.group, g.expiry)).collect();
        Ok(Some(PreviousRecord { expiry, groups }))
    }

    /// The status of a request for `GET /v1/requests/{id}`: state, card number, dates (4a,
    /// 4b, each group's code-95 date), mail pieces and the history of changes.
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
        let groups = card.groups()?;
        let mut body = json!({
            "request_id": card.request_id,
            "kind": card.kind,
            "status": card.state,
            "card_number": card.card_number,
            "issue_date": card.issue_date,
            "expiry_date": card.expiry_date,
            "code95": code95_map(&groups),
            "groups": groups_json(&groups),
            "mail_pieces": [],
            "history": history,
        });
        if card.state == CardState::HeldForReview.as_str() {
            body["review"] = json!({
                "expected_expiry": card.expected_expiry,
                "computed_expiry": card.expiry_date,
                "reasons": review_json(&card.review_reasons()?),
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

/// Every check that needs no database: shape, fields, pictures, address, and the dates as far
/// as the request alone decides them (intake also reads our record of a previous card).
pub fn validate(doc: &Value, today: Date) -> Result<(CardRequest, Dates), Vec<Violation>> {
    let request = parse_request(doc, today)?;
    let dates = dates(&request, today, None)?;
    Ok((request, dates))
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

/// Parse, fingerprint and validate: everything that needs no database.
fn prepare(doc: Value, today: Date) -> Prepared {
    let fingerprint = fingerprint(&doc);
    let request_id = doc
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let parsed = parse_request(&doc, today).map(|r| (r, document_without_pictures(&doc)));
    Prepared {
        fingerprint,
        request_id,
        today,
        parsed,
    }
}

fn internal(message: String) -> IntakeError {
    IntakeError::Store(StoreError::Corrupt(message))
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
