//! Quality cases (docs/quality.md): a card posted back with its coupon, its chip diagnostic,
//! the analyst's finding for each declared defect, the verdict by the attribution rules, and
//! a fee waiver under dual control.

use serde_json::{Value, json};

use super::audit::{self, Entry};
use super::cards::{self, CardRecord, TransitionError};
use super::{Store, StoreError, Tx, outbox, same_person};
use crate::domain::lifecycle::{CardEvent, CardState};
use crate::quality::attribution::{self, Attribution, Cause, Defect, Finding, Verdict};
use crate::quality::diagnostic::{
    ChipState, DataVsRequest, Diagnostic, Expected, Fields, categories_field,
};

/// A case as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QualityCase {
    pub id: i64,
    pub card_id: i64,
    pub card_number: String,
    pub request_id: String,
    pub state: String,
    pub opened_at: i64,
    pub opened_by: String,
    pub station: String,
    pub diagnostic: Option<String>,
    pub chip: Option<String>,
    pub data_vs_request: Option<String>,
    pub verdict: Option<String>,
    pub findings: Option<String>,
    pub decided_by: Option<String>,
    pub fee_waived: bool,
    pub waiver_requested_by: Option<String>,
    pub waiver_reason: Option<String>,
    pub waiver_approved_by: Option<String>,
    pub replacement_request_id: Option<String>,
    pub correction_payment_ref: Option<String>,
}

macro_rules! select_case {
    ($rest:literal) => {
        concat!(
            "SELECT q.id, q.card_id, c.card_number, c.request_id, q.state, q.opened_at, \
             q.opened_by, q.station, q.diagnostic, q.chip, q.data_vs_request, q.verdict, \
             q.findings, q.decided_by, q.fee_waived, q.waiver_requested_by, q.waiver_reason, \
             q.waiver_approved_by, q.replacement_request_id, q.correction_payment_ref \
             FROM quality_cases q JOIN cards c ON c.id = q.card_id ",
            $rest
        )
    };
}

/// Why a quality step was refused; each says what and where.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("no card {0}")]
    NoCard(String),
    #[error(
        "card {card_number} was never posted (it is {state}): a coupon cannot come back with it"
    )]
    NeverPosted { card_number: String, state: String },
    #[error("card {card_number} is {state}: it cannot come back defective")]
    NotReturnable { card_number: String, state: String },
    #[error("no quality case {0}")]
    Unknown(i64),
    #[error("quality case {0} is decided already")]
    Decided(i64),
    #[error("quality case {0} has no chip diagnostic yet: put the card in the reader first")]
    NoDiagnostic(i64),
    #[error("quality case {0} waits for a supervisor to approve or refuse its fee waiver")]
    WaiverPending(i64),
    #[error("quality case {0} has no fee waiver waiting")]
    NoWaiver(i64),
    #[error("{person} asked for the waiver of case {id}: another person must approve it")]
    SamePerson { id: i64, person: String },
    #[error("quality case {id} is {verdict}: {what}")]
    WrongVerdict {
        id: i64,
        verdict: String,
        what: &'static str,
    },
    #[error("defect element must be 1 to 64 characters, not {0:?}")]
    BadElement(String),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What opening a case did.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOpened {
    Opened(QualityCase),
    /// The coupon was scanned before: its case, unchanged.
    Existing(QualityCase),
}

/// A verdict given.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Decided; a free replacement is due when `free_replacement`.
    Decided {
        attribution: Attribution,
        free_replacement: bool,
    },
    /// The rules say the holder pays; the analyst asked for the fee to be waived: the
    /// verdict waits for a supervisor.
    WaiverRequested { attribution: Attribution },
}

/// Card states from which a card may come back with its coupon: it reached its holder.
fn returnable(state: CardState) -> bool {
    matches!(
        state,
        CardState::Dispatched | CardState::HandedOver | CardState::Malfunctioning
    )
}

/// States where the card never reached its holder.
fn never_posted(state: CardState) -> bool {
    matches!(
        state,
        CardState::Application
            | CardState::HeldForReview
            | CardState::Approved
            | CardState::Rejected
            | CardState::Stopped
            | CardState::InProduction
            | CardState::Personalised
            | CardState::Inserted
    )
}

async fn case_in(tx: &mut Tx, id: i64) -> Result<QualityCase, QualityError> {
    let found: Option<QualityCase> = on_tx!(tx, |c, pg| {
        sqlx::query_as(select_case!("WHERE q.id = $1"))
            .bind(id)
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::from)?
    });
    found.ok_or(QualityError::Unknown(id))
}

async fn defects_in(tx: &mut Tx, id: i64) -> Result<Vec<Defect>, StoreError> {
    let rows: Vec<(String, bool, Option<String>)> = on_tx!(tx, |c, pg| {
        sqlx::query_as(
            "SELECT element, confirmed, cause FROM quality_defects WHERE case_id = $1 \
             ORDER BY recorded_at, element",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(element, confirmed, cause)| Defect {
            element,
            finding: match (confirmed, cause.as_deref().and_then(Cause::parse)) {
                (true, Some(c)) => Finding::Confirmed(c),
                _ => Finding::NotConfirmed,
            },
        })
        .collect())
}

/// The record's fields as DG1 holds them (none once purged).
pub fn record_fields(card: &CardRecord) -> Option<Fields> {
    let mut f = Fields::new();
    f.insert("surname".into(), card.surname.clone()?);
    f.insert("given_names".into(), card.given_names.clone()?);
    f.insert("birth_date".into(), card.birth_date.clone()?);
    f.insert("birth_place".into(), card.birth_place.clone()?);
    f.insert("issue_date".into(), card.issue_date.clone());
    f.insert("expiry_date".into(), card.expiry_date.clone());
    f.insert("card_number".into(), card.card_number.clone());
    let cats: Vec<String> = serde_json::from_str(&card.categories).unwrap_or_default();
    f.insert(
        "categories".into(),
        categories_field(cats.iter().map(String::as_str)),
    );
    // Each category's code-95 date as the chip carries it; a record whose groups cannot be
    // read leaves the field out rather than inventing one.
    if let Ok(groups) = card.groups() {
        let code95: Vec<String> = crate::domain::qualification::CardGroup::per_category(&groups)
            .iter()
            .map(|(c, d)| format!("{c}={d}"))
            .collect();
        f.insert(
            "code95".into(),
            categories_field(code95.iter().map(String::as_str)),
        );
    }
    Some(f)
}

/// The holder's fields as the validated request gave them (none once purged).
pub fn request_fields(document: &Value) -> Option<Fields> {
    let h = document.get("holder")?;
    let text = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
    let mut f = Fields::new();
    for k in ["surname", "given_names", "birth_date", "birth_place"] {
        f.insert(k.into(), text(k)?);
    }
    let cats: Vec<&str> = document
        .get("qualifications")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|q| q.get("categories").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    f.insert("categories".into(), categories_field(cats));
    Some(f)
}

fn written_hashes(history: &[audit::Record]) -> std::collections::BTreeMap<u16, [u8; 32]> {
    let mut out = std::collections::BTreeMap::new();
    // The last personalisation is the chip the holder got.
    for r in history {
        let Some(after) = r
            .after
            .as_deref()
            .and_then(|a| serde_json::from_str::<Value>(a).ok())
        else {
            continue;
        };
        // `cards::apply` merges the event's details into `after`.
        let Some(map) = after.get("file_sha256").and_then(Value::as_object) else {
            continue;
        };
        out.clear();
        for (fid, h) in map {
            if let (Ok(fid), Some(Ok(bytes))) =
                (u16::from_str_radix(fid, 16), h.as_str().map(hex::decode))
                && let Ok(hash) = <[u8; 32]>::try_from(bytes.as_slice())
            {
                out.insert(fid, hash);
            }
        }
    }
    out
}

impl Store {
    /// A coupon was scanned at the quality desk: opens the card's case (the card moves to
    /// `returned_defective`, `quality.case_opened` goes to the portal), or finds it again.
    pub async fn open_quality_case(
        &self,
        card_number: &str,
        analyst: &str,
        station: &str,
    ) -> Result<CaseOpened, QualityError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let card = cards::by_number_in(&mut tx, card_number)
            .await?
            .ok_or_else(|| QualityError::NoCard(card_number.to_string()))?;
        let existing: Option<(i64,)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as("SELECT id FROM quality_cases WHERE card_id = $1")
                .bind(card.id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        });
        if let Some((id,)) = existing {
            return Ok(CaseOpened::Existing(case_in(&mut tx, id).await?));
        }
        let state = CardState::parse(&card.state);
        if state.is_some_and(never_posted) {
            return Err(QualityError::NeverPosted {
                card_number: card.card_number,
                state: card.state,
            });
        }
        if !state.is_some_and(returnable) {
            return Err(QualityError::NotReturnable {
                card_number: card.card_number,
                state: card.state,
            });
        }
        // Dispatched cards are presumed delivered first: one came back from its holder.
        let mut card = card;
        if state == Some(CardState::Dispatched) {
            super::retention::presume_delivered_in(
                &mut tx,
                now,
                &card,
                analyst,
                "returned by its holder with the coupon",
                json!({}),
            )
            .await?;
            card = cards::by_id_in(&mut tx, card.id).await?;
        }
        let (id,): (i64,) = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "INSERT INTO quality_cases (card_id, state, opened_at, opened_by, station) \
                 VALUES ($1, 'open', $2, $3, $4) RETURNING id",
            )
            .bind(card.id)
            .bind(now)
            .bind(analyst)
            .bind(station)
            .fetch_one(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        cards::apply(
            &mut tx,
            now,
            &card,
            CardEvent::ReturnDefective,
            analyst,
            Some("posted back with its return coupon"),
            json!({ "quality_case": id, "station": station }),
        )
        .await?;
        // Replaced for quality before it came back: revoked and replaced now.
        super::succession::settle(&mut tx, now, card.id, analyst).await?;
        outbox::push(
            &mut tx,
            now,
            "quality.case_opened",
            json!({
                "case_id": id.to_string(),
                "card_number": card.card_number,
                "request_id": card.request_id,
            }),
        )
        .await?;
        let case = case_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(CaseOpened::Opened(case))
    }

    /// The latest `limit` cases, newest first; `waiting` keeps only fee waivers waiting for
    /// a supervisor.
    pub async fn quality_cases(
        &self,
        waiting: bool,
        limit: i64,
    ) -> Result<Vec<QualityCase>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(select_case!(
                "WHERE ($1 = 0 OR q.state = 'waiver_requested') ORDER BY q.id DESC LIMIT $2"
            ))
            .bind(i64::from(waiting))
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }

    pub async fn quality_case(&self, id: i64) -> Result<QualityCase, QualityError> {
        let mut tx = self.begin().await?;
        case_in(&mut tx, id).await
    }

    pub async fn quality_defects(&self, id: i64) -> Result<Vec<Defect>, QualityError> {
        let mut tx = self.begin().await?;
        case_in(&mut tx, id).await?;
        Ok(defects_in(&mut tx, id).await?)
    }

    /// What the chip of case `id` should hold: the record's and the request's fields, and
    /// the hashes production read back. Also the serial of the body production bound.
    pub async fn quality_expected(
        &self,
        id: i64,
    ) -> Result<(QualityCase, Expected, Option<i64>), QualityError> {
        let (case, card, document) = self.quality_source(id).await?;
        let request = document.as_ref().and_then(request_fields);
        let (serial,): (Option<i64>,) = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT chip_serial FROM cards WHERE id = $1")
                .bind(card.id)
                .fetch_one(p)
                .await
                .map_err(StoreError::from)?
        });
        let history = self.audit_history("card", &card.card_number).await?;
        let expected = Expected {
            record: record_fields(&card),
            request,
            written: written_hashes(&history),
        };
        Ok((case, expected, serial))
    }

    /// Stores the chip diagnostic of case `id` (the last one counts: a card re-read after a
    /// removal replaces the earlier reading).
    pub async fn record_diagnostic(
        &self,
        id: i64,
        diagnostic: &Diagnostic,
        by: &str,
    ) -> Result<(), QualityError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let case = case_in(&mut tx, id).await?;
        if case.state != "open" {
            return Err(QualityError::Decided(id));
        }
        let body = serde_json::to_string(diagnostic)
            .map_err(|e| StoreError::Corrupt(format!("diagnostic: {e}")))?;
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE quality_cases SET diagnostic = $1, diagnosed_at = $2, chip = $3, \
                 data_vs_request = $4 WHERE id = $5",
            )
            .bind(&body)
            .bind(now)
            .bind(diagnostic.chip.as_str())
            .bind(diagnostic.data_vs_request.as_str())
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "quality.diagnosed",
                entity_type: "card",
                entity_id: &case.card_number,
                before: None,
                after: Some(json!({
                    "quality_case": id,
                    "chip": diagnostic.chip.as_str(),
                    "data_vs_request": diagnostic.data_vs_request.as_str(),
                    "chip_serial": diagnostic.chip_serial,
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records (or corrects, before the verdict) the analyst's finding on one declared defect.
    pub async fn record_defect(
        &self,
        id: i64,
        defect: &Defect,
        note: Option<&str>,
        by: &str,
    ) -> Result<(), QualityError> {
        let element = defect.element.trim();
        if element.is_empty() || element.chars().count() > 64 {
            return Err(QualityError::BadElement(defect.element.clone()));
        }
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let case = case_in(&mut tx, id).await?;
        if case.state != "open" {
            return Err(QualityError::Decided(id));
        }
        let (confirmed, cause) = match defect.finding {
            Finding::Confirmed(c) => (true, Some(c.as_str())),
            Finding::NotConfirmed => (false, None),
        };
        on_tx!(&mut tx, |c, pg| {
            sqlx::query("DELETE FROM quality_defects WHERE case_id = $1 AND element = $2")
                .bind(id)
                .bind(element)
                .execute(&mut *c)
                .await
                .map_err(StoreError::from)?;
            sqlx::query(
                "INSERT INTO quality_defects (case_id, element, confirmed, cause, note, \
                 recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(element)
            .bind(confirmed)
            .bind(cause)
            .bind(note)
            .bind(now)
            .bind(by)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "quality.defect_recorded",
                entity_type: "card",
                entity_id: &case.card_number,
                before: None,
                after: Some(json!({
                    "quality_case": id,
                    "element": element,
                    "confirmed": confirmed,
                    "cause": cause,
                    "note": note,
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The verdict by the attribution rules. A holder's fault with `waiver` (its reason) is
    /// not given yet: it waits for a supervisor's approval of the waiver.
    pub async fn decide_quality(
        &self,
        id: i64,
        by: &str,
        waiver: Option<&str>,
    ) -> Result<Decision, QualityError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let case = case_in(&mut tx, id).await?;
        match case.state.as_str() {
            "open" => {}
            "waiver_requested" => return Err(QualityError::WaiverPending(id)),
            _ => return Err(QualityError::Decided(id)),
        }
        let (Some(chip), Some(data)) = (
            case.chip.as_deref().and_then(ChipState::parse),
            case.data_vs_request
                .as_deref()
                .and_then(DataVsRequest::parse),
        ) else {
            return Err(QualityError::NoDiagnostic(id));
        };
        let defects = defects_in(&mut tx, id).await?;
        let attribution = attribution::attribute(chip, data, &defects);
        let findings = json!({
            "rule": attribution.rule,
            "because": attribution.because,
            "chip": chip.as_str(),
            "data_vs_request": data.as_str(),
            "defects": defects_json(&defects),
        })
        .to_string();
        if attribution.verdict == Verdict::HolderFault
            && let Some(reason) = waiver
        {
            guarded_update(
                &mut tx,
                id,
                "open",
                "UPDATE quality_cases SET state = 'waiver_requested', findings = $1, \
                 waiver_requested_by = $2, waiver_reason = $3 WHERE id = $4 AND state = 'open'",
                &[&findings, by, reason],
            )
            .await?;
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: by,
                    action: "quality.waiver_requested",
                    entity_type: "card",
                    entity_id: &case.card_number,
                    before: None,
                    after: Some(json!({ "quality_case": id, "rule": attribution.rule })),
                    reason: Some(reason),
                },
            )
            .await?;
            tx.commit().await?;
            return Ok(Decision::WaiverRequested { attribution });
        }
        give_verdict(
            &mut tx,
            now,
            &case,
            attribution.verdict,
            &findings,
            by,
            false,
        )
        .await?;
        tx.commit().await?;
        Ok(Decision::Decided {
            free_replacement: attribution.verdict == Verdict::ManufacturerFault,
            attribution,
        })
    }

    /// The second pair of eyes on a fee waiver: `supervisor` (not the requester) approves it
    /// (the holder's fault, the replacement free) or refuses it (the holder's fault, fee due).
    pub async fn settle_waiver(
        &self,
        id: i64,
        supervisor: &str,
        approve: bool,
    ) -> Result<QualityCase, QualityError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let case = case_in(&mut tx, id).await?;
        if case.state != "waiver_requested" {
            return Err(QualityError::NoWaiver(id));
        }
        let requester = case.waiver_requested_by.clone().unwrap_or_default();
        if same_person(&requester, supervisor) {
            drop(tx);
            self.audit(&Entry {
                actor: supervisor,
                action: "quality.four_eyes_refused",
                entity_type: "card",
                entity_id: &case.card_number,
                before: None,
                after: Some(json!({ "quality_case": id })),
                reason: Some("the requester cannot approve the waiver"),
            })
            .await?;
            return Err(QualityError::SamePerson {
                id,
                person: supervisor.to_string(),
            });
        }
        let findings = case.findings.clone().unwrap_or_else(|| "{}".into());
        give_verdict(
            &mut tx,
            now,
            &case,
            Verdict::HolderFault,
            &findings,
            supervisor,
            approve,
        )
        .await?;
        let case = case_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(case)
    }

    /// Links the replacement request made for case `id` (free, or after the holder's
    /// correction with its payment reference).
    pub async fn link_quality_replacement(
        &self,
        id: i64,
        request_id: &str,
        payment_ref: Option<&str>,
        by: &str,
    ) -> Result<(), QualityError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let case = case_in(&mut tx, id).await?;
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE quality_cases SET replacement_request_id = $1, \
                 correction_payment_ref = COALESCE($2, correction_payment_ref) WHERE id = $3",
            )
            .bind(request_id)
            .bind(payment_ref)
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "quality.replacement_requested",
                entity_type: "card",
                entity_id: &case.card_number,
                before: None,
                after: Some(json!({
                    "quality_case": id,
                    "replacement_request_id": request_id,
                    "payment_ref": payment_ref,
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The original request of case `id`: its document (`None` once purged) and pictures.
    pub async fn quality_source(
        &self,
        id: i64,
    ) -> Result<(QualityCase, CardRecord, Option<Value>), QualityError> {
        let case = self.quality_case(id).await?;
        let card = self
            .card_by_number(&case.card_number)
            .await?
            .ok_or_else(|| QualityError::NoCard(case.card_number.clone()))?;
        let doc = self
            .request_document(&card.request_id)
            .await?
            .and_then(|(d, _)| d);
        Ok((case, card, doc))
    }
}

fn defects_json(defects: &[Defect]) -> Vec<Value> {
    defects
        .iter()
        .map(|d| match d.finding {
            Finding::Confirmed(c) => {
                json!({ "element": d.element, "confirmed": true, "cause": c.as_str() })
            }
            Finding::NotConfirmed => json!({ "element": d.element, "confirmed": false }),
        })
        .collect()
}

/// Runs an update that must find the case still in `state` (a second analyst or supervisor
/// acting at the same moment loses, with nothing written).
async fn guarded_update(
    tx: &mut Tx,
    id: i64,
    state: &str,
    sql: &'static str,
    texts: &[&str],
) -> Result<(), QualityError> {
    let n = on_tx!(tx, |c, pg| {
        let mut q = sqlx::query(sql);
        for t in texts {
            q = q.bind(*t);
        }
        q.bind(id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
    });
    if n != 1 {
        tracing::warn!(case = id, state, "quality case changed meanwhile");
        return Err(QualityError::Decided(id));
    }
    Ok(())
}

/// Writes the verdict, audits it and tells the portal (`quality.verdict`).
async fn give_verdict(
    tx: &mut Tx,
    now: i64,
    case: &QualityCase,
    verdict: Verdict,
    findings: &str,
    by: &str,
    fee_waived: bool,
) -> Result<(), QualityError> {
    let from = case.state.clone();
    let n = on_tx!(tx, |c, pg| {
        sqlx::query(
            "UPDATE quality_cases SET state = 'decided', verdict = $1, findings = $2, \
             decided_at = $3, decided_by = $4, fee_waived = $5, \
             waiver_approved_by = CASE WHEN $5 THEN $4 ELSE NULL END \
             WHERE id = $6 AND state = $7",
        )
        .bind(verdict.as_str())
        .bind(findings)
        .bind(now)
        .bind(by)
        .bind(fee_waived)
        .bind(case.id)
        .bind(&from)
        .execute(&mut *c)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    });
    if n != 1 {
        return Err(QualityError::Decided(case.id));
    }
    let findings: Value = serde_json::from_str(findings).unwrap_or(Value::Null);
    let free = verdict == Verdict::ManufacturerFault || fee_waived;
    audit::append(
        tx,
        now,
        &Entry {
            actor: by,
            action: "quality.verdict",
            entity_type: "card",
            entity_id: &case.card_number,
            before: Some(json!({ "quality_case": case.id, "state": from })),
            after: Some(json!({
                "verdict": verdict.as_str(),
                "fee_waived": fee_waived,
                "free_replacement": free,
                "findings": findings,
            })),
            reason: None,
        },
    )
    .await?;
    outbox::push(
        tx,
        now,
        "quality.verdict",
        json!({
            "case_id": case.id.to_string(),
            "card_number": case.card_number,
            "request_id": case.request_id,
            "verdict": verdict.as_str(),
            "fee_waived": fee_waived,
            "free_replacement": free,
            "findings": findings,
        }),
    )
    .await?;
    Ok(())
}
