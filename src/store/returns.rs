//! Returned undelivered mail (docs/returns.md): the mailroom scans a piece the post brought
//! back; the return is recorded against that piece (and so against the address it was posted
//! to), its card goes to a numbered storage slot to wait for the holder's decision, and the
//! portal is told.
//!
//! Everything is decided in one transaction keyed to the piece: a duplicate scan finds the
//! return already there and changes nothing; an old piece whose card has since gone elsewhere
//! never touches the card's newer piece or address; a card that was revoked meanwhile (lost,
//! stolen, replaced), or superseded by a renewal or replacement personalised while it was in
//! the post, is not stored for a decision but sent to the destruction tray.

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, CardRecord, TransitionError};
use super::pieces::{self, Piece};
use super::{Store, StoreError, Tx, outbox};
use crate::clock::rfc3339;
use crate::domain::address::PostalAddress;
use crate::domain::lifecycle::{CardEvent, CardState, PieceEvent, PieceState};
use crate::post::pnd::ReturnReason;

/// Who scanned, where.
#[derive(Debug, Clone, Copy)]
pub struct Scanner<'a> {
    /// The mailroom station (its token's name).
    pub station: &'a str,
    /// The clerk signed in at the station.
    pub clerk: &'a str,
}

/// What the mailroom does with a returned piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnOutcome {
    /// Put the card in storage slot `slot`; it waits there for the holder's decision.
    Held {
        piece_id: String,
        card_number: String,
        slot: i64,
        reason: ReturnReason,
        /// False when this piece was already scanned: nothing changed.
        now: bool,
    },
    /// The card is no longer valid (revoked, lost, stolen, replaced, or superseded by a
    /// renewal or replacement personalised while it travelled): destruction tray.
    ToDestruction {
        piece_id: String,
        card_number: String,
        card_state: String,
        /// The card that superseded this one, if any.
        superseded_by: Option<String>,
        now: bool,
    },
    /// The piece was returned and dealt with long ago (resent, readdressed, destroyed): an
    /// old envelope scanned again; nothing changes.
    AlreadySettled { piece_id: String, state: String },
}

/// Why a return was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    #[error("piece {0} is not known to the bureau")]
    UnknownPiece(String),
    #[error("piece {piece_id} never went to the post (it is {state}): give it to a supervisor")]
    NotPosted { piece_id: String, state: String },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored return.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReturnRecord {
    pub piece_id: String,
    pub card_id: i64,
    pub reason: String,
    pub slot: Option<i64>,
    pub outcome: String,
    pub returned_at: i64,
    pub decision_due_at: i64,
    pub decision: Option<String>,
    pub new_piece_id: Option<String>,
}

macro_rules! select_return {
    ($rest:literal) => {
        concat!(
            "SELECT piece_id, card_id, reason, slot, outcome, returned_at, decision_due_at, \
             decision, new_piece_id FROM mail_returns ",
            $rest
        )
    };
}

/// Attempts at a slot when another node took the same one at the same time.
const SLOT_ATTEMPTS: usize = 5;

impl Store {
    /// Records that the post brought back piece `piece_id` for `reason`. `decision_wait_ms`
    /// is how long the holder has to answer before the card goes to destruction.
    pub async fn record_return(
        &self,
        piece_id: &str,
        reason: ReturnReason,
        by: Scanner<'_>,
        decision_wait_ms: i64,
    ) -> Result<ReturnOutcome, ReturnError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_record_return(piece_id, reason, by, decision_wait_ms)
                .await
            {
                Err(ReturnError::Store(e))
                    if e.is_unique_violation() && attempt < SLOT_ATTEMPTS =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }

    async fn try_record_return(
        &self,
        piece_id: &str,
        reason: ReturnReason,
        by: Scanner<'_>,
        decision_wait_ms: i64,
    ) -> Result<ReturnOutcome, ReturnError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let piece: Piece = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(select_piece!("WHERE piece_id = $1"))
                .bind(piece_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        })
        .ok_or_else(|| ReturnError::UnknownPiece(piece_id.to_string()))?;
        let card = cards::by_id_in(&mut tx, piece.card_id).await?;

        if let Some(existing) = return_of(&mut tx, piece_id).await? {
            tx.rollback().await?;
            return Ok(settled(existing, &piece, &card));
        }
        let piece_state = PieceState::parse(&piece.state);
        let Some(returned) = piece_state.and_then(|s| s.next(PieceEvent::ReturnUndelivered)) else {
            return Err(ReturnError::NotPosted {
                piece_id: piece.piece_id,
                state: piece.state,
            });
        };
        let card_state = CardState::parse(&card.state);
        let in_post = matches!(
            card_state,
            Some(CardState::Dispatched | CardState::HandedOver)
        );
        // A card superseded while it travelled (its renewal or replacement is personalised)
        // is dead for its holder: it goes to destruction, never to a resend.
        let awaiting = in_post && card.superseded_by.is_none();
        let (piece_to, slot, outcome) = if awaiting {
            let slot = free_slot(&mut tx).await?;
            let stored = returned
                .next(PieceEvent::Store)
                .ok_or_else(|| StoreError::Corrupt("a returned piece cannot be stored".into()))?;
            (stored, Some(slot), "held")
        } else {
            (returned, None, "to_destruction")
        };
        if !pieces::set_state_in(
            &mut tx,
            now,
            &piece.piece_id,
            &piece.state,
            piece_to.as_str(),
        )
        .await?
        {
            return Err(StoreError::Corrupt(format!(
                "piece {} changed while its return was recorded: scan it again",
                piece.piece_id
            ))
            .into());
        }
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO mail_returns (piece_id, card_id, reason, slot, outcome, returned_at, \
                 scanned_by, station, decision_due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&piece.piece_id)
            .bind(piece.card_id)
            .bind(reason.as_str())
            .bind(slot)
            .bind(outcome)
            .bind(now)
            .bind(by.clerk)
            .bind(by.station)
            .bind(now + decision_wait_ms)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        let details =
            json!({ "piece_id": piece.piece_id, "reason": reason.as_str(), "slot": slot });
        if in_post && !awaiting {
            cards::apply(
                &mut tx,
                now,
                &card,
                CardEvent::ReturnUndelivered,
                by.clerk,
                Some(reason.label_fr()),
                details.clone(),
            )
            .await?;
            // A replacement waiting for this card to come back revokes and replaces it now.
            super::succession::settle(&mut tx, now, card.id, by.clerk).await?;
        }
        if awaiting {
            let card = {
                cards::apply(
                    &mut tx,
                    now,
                    &card,
                    CardEvent::ReturnUndelivered,
                    by.clerk,
                    Some(reason.label_fr()),
                    details.clone(),
                )
                .await?;
                cards::by_id_in(&mut tx, card.id).await?
            };
            cards::apply(
                &mut tx,
                now,
                &card,
                CardEvent::Store,
                by.clerk,
                None,
                details.clone(),
            )
            .await?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by.clerk,
                action: "piece.returned_undelivered",
                entity_type: "mail_piece",
                entity_id: &piece.piece_id,
                before: Some(json!({ "state": piece.state })),
                after: Some(json!({
                    "state": piece_to.as_str(),
                    "reason": reason.as_str(),
                    "slot": slot,
                    "outcome": outcome,
                    "station": by.station,
                })),
                reason: Some(reason.label_fr()),
            },
        )
        .await?;
        outbox::push(
            &mut tx,
            now,
            "piece.returned_undelivered",
            json!({
                "piece_id": piece.piece_id,
                "card_number": card.card_number,
                "request_id": card.request_id,
                "reason": reason.as_str(),
                // The address this piece was posted to: the portal asks the holder about
                // this one, whatever address the holder has given since.
                "posted_address": piece.address_lines(),
                "decision_expected": awaiting,
                "decision_due": awaiting.then(|| rfc3339(now + decision_wait_ms)),
                "superseded_by": card.superseded_by,
            }),
        )
        .await?;
        let card_state = cards::by_id_in(&mut tx, card.id).await?.state;
        tx.commit().await?;
        Ok(match slot {
            Some(slot) => ReturnOutcome::Held {
                piece_id: piece.piece_id,
                card_number: card.card_number,
                slot,
                reason,
                now: true,
            },
            None => ReturnOutcome::ToDestruction {
                piece_id: piece.piece_id,
                card_number: card.card_number,
                card_state,
                superseded_by: card.superseded_by,
                now: true,
            },
        })
    }

    /// The return recorded for piece `piece_id`, if any.
    pub async fn return_of_piece(
        &self,
        piece_id: &str,
    ) -> Result<Option<ReturnRecord>, StoreError> {
        on_read!(self, |p, pg| {
            Ok(sqlx::query_as(select_return!("WHERE piece_id = $1"))
                .bind(piece_id)
                .fetch_optional(p)
                .await?)
        })
    }

    /// For the new carrier `piece_id` of a decided return: the card it is for and the slot
    /// the card waits in, so that the mailroom takes the right card out.
    pub async fn retrieval_for(&self, piece_id: &str) -> Result<Option<(String, i64)>, StoreError> {
        on_read!(self, |p, pg| {
            Ok(sqlx::query_as(
                "SELECT c.card_number, r.slot FROM mail_returns r JOIN cards c ON c.id = r.card_id \
                 WHERE r.new_piece_id = $1 AND r.slot IS NOT NULL",
            )
            .bind(piece_id)
            .fetch_optional(p)
            .await?)
        })
    }

    /// Cards in storage slots, by slot: the tray inventory a supervisor checks.
    pub async fn held_in_slots(&self) -> Result<Vec<ReturnRecord>, StoreError> {
        on_read!(self, |p, pg| {
            Ok(
                sqlx::query_as(select_return!("WHERE slot IS NOT NULL ORDER BY slot"))
                    .fetch_all(p)
                    .await?,
            )
        })
    }
}

/// What an earlier scan of the same piece decided, told again.
fn settled(existing: ReturnRecord, piece: &Piece, card: &CardRecord) -> ReturnOutcome {
    let card_number = card.card_number.clone();
    let reason = ReturnReason::parse(&existing.reason).unwrap_or(ReturnReason::Npai);
    match (existing.slot, existing.outcome.as_str()) {
        (Some(slot), _) => ReturnOutcome::Held {
            piece_id: existing.piece_id,
            card_number,
            slot,
            reason,
            now: false,
        },
        (None, "to_destruction") if piece.state == PieceState::ReturnedUndelivered.as_str() => {
            ReturnOutcome::ToDestruction {
                piece_id: existing.piece_id,
                card_number,
                card_state: card.state.clone(),
                superseded_by: card.superseded_by.clone(),
                now: false,
            }
        }
        _ => ReturnOutcome::AlreadySettled {
            piece_id: existing.piece_id,
            state: piece.state.clone(),
        },
    }
}

async fn return_of(tx: &mut Tx, piece_id: &str) -> Result<Option<ReturnRecord>, StoreError> {
    on_tx!(tx, |c, pg| {
        Ok(sqlx::query_as(select_return!("WHERE piece_id = $1"))
            .bind(piece_id)
            .fetch_optional(&mut *c)
            .await?)
    })
}

/// The lowest free slot number: slots emptied by resends are filled again, so the shelf stays
/// compact. Two nodes choosing the same slot at once meet the unique index; the caller retries.
async fn free_slot(tx: &mut Tx) -> Result<i64, StoreError> {
    on_tx!(tx, |c, pg| {
        let (slot,): (i64,) = sqlx::query_as(
            "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM mail_returns WHERE slot = 1) THEN 1 \
             ELSE (SELECT MIN(r.slot) + 1 FROM mail_returns r WHERE r.slot IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM mail_returns s WHERE s.slot = r.slot + 1)) END",
        )
        .fetch_one(&mut *c)
        .await?;
        Ok(slot)
    })
}

/// The holder's answer to a returned piece (portal contract, `POST /v1/returns/{piece_id}/
/// decision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send the card again to the address it was posted to.
    Resend,
    /// Send it to a new address, paid for (`payment_ref`).
    Readdress {
        payment_ref: String,
        address: PostalAddress,
    },
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Resend => "resend",
            Decision::Readdress { .. } => "readdress",
        }
    }
}

/// A decision taken: the card waits in `slot` for its new carrier letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub piece_id: String,
    pub card_number: String,
    pub decision: &'static str,
    pub slot: Option<i64>,
}

/// Why a decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("piece {0} is not known, or was never returned")]
    Unknown(String),
    #[error("piece {piece_id} is not waiting for a decision: {why}")]
    NotAwaiting { piece_id: String, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Records the holder's decision on returned piece `piece_id`: the piece is superseded
    /// (`resent` or `readdressed`), a readdress replaces the card's postal address, and the
    /// card becomes due for a new carrier letter (`post letters` makes it, the inserting
    /// station takes the card out of its slot into it). Accepted once.
    pub async fn decide(
        &self,
        piece_id: &str,
        decision: &Decision,
        actor: &str,
    ) -> Result<Decided, DecisionError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let Some(ret) = return_of(&mut tx, piece_id).await? else {
            return Err(DecisionError::Unknown(piece_id.to_string()));
        };
        let piece: Piece = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(select_piece!("WHERE piece_id = $1"))
                .bind(piece_id)
                .fetch_one(&mut *c)
                .await
                .map_err(StoreError::from)?
        });
        let refuse = |why: String| DecisionError::NotAwaiting {
            piece_id: piece_id.to_string(),
            why,
        };
        if let Some(d) = &ret.decision {
            return Err(refuse(format!("the holder already answered {d}")));
        }
        if ret.outcome != "held" || piece.state != PieceState::AwaitingDecision.as_str() {
            return Err(refuse(format!(
                "the piece is {} and its card {}",
                piece.state,
                if ret.outcome == "held" {
                    "left its slot"
                } else {
                    "is no longer valid (destruction)"
                }
            )));
        }
        if now > ret.decision_due_at {
            return Err(refuse(
                "the time to answer is over: the card goes to destruction".into(),
            ));
        }
        let card = cards::by_id_in(&mut tx, ret.card_id).await?;
        if let Some(successor) = &card.superseded_by {
            return Err(refuse(format!(
                "card {} was superseded by card {successor}: it goes to destruction, not back \
                 to the post",
                card.card_number
            )));
        }
        let event = match decision {
            Decision::Resend => PieceEvent::Resend,
            Decision::Readdress { .. } => PieceEvent::Readdress,
        };
        let piece_to = PieceState::AwaitingDecision
            .next(event)
            .ok_or_else(|| StoreError::Corrupt("decision refused by the piece machine".into()))?;
        let payment_ref = match decision {
            Decision::Resend => None,
            Decision::Readdress { payment_ref, .. } => Some(payment_ref.as_str()),
        };
        // Two answers racing (on PostgreSQL's read committed, both may have read "no
        // decision"): the guarded updates let only the first through.
        let decided = on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE mail_returns SET decision = $1, decided_at = $2, payment_ref = $3 \
                 WHERE piece_id = $4 AND decision IS NULL",
            )
            .bind(decision.as_str())
            .bind(now)
            .bind(payment_ref)
            .bind(piece_id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?
            .rows_affected()
        }) == 1;
        if !decided
            || !pieces::set_state_in(&mut tx, now, piece_id, &piece.state, piece_to.as_str())
                .await?
        {
            return Err(refuse(
                "another answer was recorded at the same time".into(),
            ));
        }
        if let Decision::Readdress { address, .. } = decision {
            let lines: Vec<&str> = address.lines().iter().map(|l| l.text.as_str()).collect();
            on_tx!(&mut tx, |c, pg| {
                sqlx::query(
                    "UPDATE cards SET address_lines = $1, postcode = $2, country = $3, \
                     version = version + 1, updated_at = $4 WHERE id = $5",
                )
                .bind(json!(lines).to_string())
                .bind(address.postcode())
                .bind(address.country_code())
                .bind(now)
                .bind(card.id)
                .execute(&mut *c)
                .await
                .map_err(StoreError::from)?;
            });
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "return.decided",
                entity_type: "mail_piece",
                entity_id: piece_id,
                before: Some(json!({ "state": piece.state })),
                after: Some(json!({
                    "state": piece_to.as_str(),
                    "decision": decision.as_str(),
                    "payment_ref": payment_ref,
                    // The new address itself stays out of the append-only trail (it is
                    // personal data that the purge must be able to delete): its postcode
                    // says enough for an audit.
                    "new_postcode": match decision {
                        Decision::Readdress { address, .. } => Some(address.postcode()),
                        Decision::Resend => None,
                    },
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Decided {
            piece_id: piece_id.to_string(),
            card_number: card.card_number,
            decision: decision.as_str(),
            slot: ret.slot,
        })
    }
}

impl Store {
    /// Benchmarks only: `n` cards posted in pieces of their own (service `EB`, serials from
    /// 70,000,000), with just the columns a return reads, so that the mailroom benchmark
    /// measures scans rather than a production run. Returns the piece ids.
    pub async fn seed_posted_for_bench(&self, n: u32) -> Result<Vec<String>, StoreError> {
        use crate::post::s10::{S10Id, ServiceIndicator};
        let now = self.clock().now_ms();
        let eb = ServiceIndicator::new("EB").map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut ids = Vec::with_capacity(n as usize);
        let mut tx = self.begin().await?;
        for i in 0..n {
            let piece = S10Id::new(eb, 70_000_000 + i)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .to_string();
            let request = format!("bench-{piece}");
            let card = format!("BENCH{i:07}");
            on_tx!(&mut tx, |c, pg| {
                sqlx::query(
                    "INSERT INTO requests (request_id, fingerprint, kind, received_at, received_by, \
                     answer_status, answer_body) VALUES ($1, '', 'first_issue', $2, 'bench', 201, '{}')",
                )
                .bind(&request)
                .bind(now)
                .execute(&mut *c)
                .await?;
                let (card_id,): (i64,) = sqlx::query_as(
                    "INSERT INTO cards (card_number, holder_number, request_id, kind, state, \
                     issue_date, expiry_date, categories, address_lines, postcode, country, \
                     created_at, updated_at) VALUES ($1, $2, $3, 'first_issue', 'dispatched', \
                     '2026-11-27', '2031-11-26', '[]', $4, '75011', 'FR', $5, $5) RETURNING id",
                )
                .bind(&card)
                .bind(i64::from(i) + 9_000_000)
                .bind(&request)
                .bind(r#"["MADAME CLAIRE MARTIN","12 RUE DES LILAS","75011 PARIS"]"#)
                .bind(now)
                .fetch_one(&mut *c)
                .await?;
                sqlx::query(
                    "INSERT INTO mail_pieces (piece_id, card_id, product, address, postcode, \
                     country, state, created_at, updated_at) VALUES ($1, $2, 'lettre-suivie', \
                     $3, '75011', 'FR', 'dispatched', $4, $4)",
                )
                .bind(&piece)
                .bind(card_id)
                .bind(r#"["MADAME CLAIRE MARTIN","12 RUE DES LILAS","75011 PARIS"]"#)
                .bind(now)
                .execute(&mut *c)
                .await?;
            });
            ids.push(piece);
        }
        tx.commit().await?;
        Ok(ids)
    }
}

/// A return recorded at the mailroom, for the day's list on the console's scan page.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecentReturn {
    pub piece_id: String,
    pub card_number: String,
    pub reason: String,
    pub slot: Option<i64>,
    pub outcome: String,
    pub returned_at: i64,
    pub scanned_by: String,
}

impl Store {
    /// The last `limit` returns recorded since `since` (Unix ms), newest first.
    pub async fn returns_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<RecentReturn>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT r.piece_id, c.card_number, r.reason, r.slot, r.outcome, r.returned_at, \
                 r.scanned_by FROM mail_returns r JOIN cards c ON c.id = r.card_id \
                 WHERE r.returned_at >= $1 ORDER BY r.returned_at DESC, r.piece_id LIMIT $2",
            )
            .bind(since)
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }
}
