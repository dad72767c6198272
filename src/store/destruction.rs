//! Destruction of card bodies under dual control (domain.md §6): returned cards nobody
//! claimed, cards revoked while in the post, replaced and quality-returned cards. The person
//! who destroys records the request (card, reason, method); a second, different person who
//! witnessed it approves; only the approval destroys the card in the records: the number is
//! revoked, the card `destroyed`, the stock ledger's body `destroyed`, a returned piece
//! closed, and the portal told (`card.destroyed`).

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, TransitionError};
use super::revocations::{self, RevocationReason};
use super::{Store, StoreError, outbox, pieces, same_person};
use crate::domain::lifecycle::{CardEvent, CardState, PieceEvent, PieceState};

/// Why a card body is destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestructionReason {
    /// Returned undelivered, no decision from the holder in time.
    Unclaimed,
    /// Returned by the post after it was revoked (lost, stolen) meanwhile.
    RevokedReturn,
    /// Superseded by a replacement.
    Replaced,
    /// Posted back defective, analysed.
    QualityReturn,
    /// Damaged in our hands.
    Damaged,
}

impl DestructionReason {
    pub const ALL: [DestructionReason; 5] = [
        DestructionReason::Unclaimed,
        DestructionReason::RevokedReturn,
        DestructionReason::Replaced,
        DestructionReason::QualityReturn,
        DestructionReason::Damaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DestructionReason::Unclaimed => "unclaimed",
            DestructionReason::RevokedReturn => "revoked_return",
            DestructionReason::Replaced => "replaced",
            DestructionReason::QualityReturn => "quality_return",
            DestructionReason::Damaged => "damaged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How it is destroyed (the bureau's equipment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    CrossCutShredder,
    CardPunch,
    Incineration,
}

impl Method {
    pub const ALL: [Method; 3] = [
        Method::CrossCutShredder,
        Method::CardPunch,
        Method::Incineration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::CrossCutShredder => "cross_cut_shredder",
            Method::CardPunch => "card_punch",
            Method::Incineration => "incineration",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A destruction record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Destruction {
    pub id: i64,
    pub card_number: String,
    pub reason: String,
    pub method: String,
    pub state: String,
    pub requested_by: String,
    pub approved_by: Option<String>,
}

/// Why a destruction was refused.
#[derive(Debug, thiserror::Error)]
pub enum DestructionError {
    #[error("card {0} does not exist")]
    NoCard(String),
    #[error("card {card_number} is {state}: it is not a card body we may destroy")]
    NotDestroyable { card_number: String, state: String },
    #[error("card {card_number} already has destruction {id} ({state})")]
    AlreadyRequested {
        card_number: String,
        id: i64,
        state: String,
    },
    #[error("destruction {0} does not exist")]
    Unknown(i64),
    #[error("destruction {0} is already approved")]
    AlreadyDone(i64),
    #[error(
        "four eyes: {person} asked for destruction {id} and cannot also approve it; a second \
         person must witness and approve"
    )]
    SamePerson { id: i64, person: String },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// States from which a card body may be destroyed: every state that a revocation reaches,
/// and the revoked and replaced states themselves.
fn destroyable(state: CardState) -> bool {
    state.accepts(CardEvent::Revoke) || state.accepts(CardEvent::Destroy)
}

macro_rules! select_destruction {
    ($rest:literal) => {
        concat!(
            "SELECT d.id, c.card_number, d.reason, d.method, d.state, d.requested_by, \
             d.approved_by FROM destructions d JOIN cards c ON c.id = d.card_id ",
            $rest
        )
    };
}

impl Store {
    /// Records that `by` will destroy card `card_number` (the first pair of eyes).
    pub async fn request_destruction(
        &self,
        card_number: &str,
        reason: DestructionReason,
        method: Method,
        by: &str,
    ) -> Result<i64, DestructionError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let card = cards::by_number_in(&mut tx, card_number)
            .await?
            .ok_or_else(|| DestructionError::NoCard(card_number.to_string()))?;
        if !CardState::parse(&card.state).is_some_and(destroyable) {
            return Err(DestructionError::NotDestroyable {
                card_number: card.card_number,
                state: card.state,
            });
        }
        let existing: Option<(i64, String)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as("SELECT id, state FROM destructions WHERE card_id = $1")
                .bind(card.id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        });
        if let Some((id, state)) = existing {
            return Err(DestructionError::AlreadyRequested {
                card_number: card.card_number,
                id,
                state,
            });
        }
        let (id,): (i64,) = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "INSERT INTO destructions (card_id, reason, method, state, requested_by, \
                 requested_at) VALUES ($1, $2, $3, 'pending', $4, $5) RETURNING id",
            )
            .bind(card.id)
            .bind(reason.as_str())
            .bind(method.as_str())
            .bind(by)
            .bind(now)
            .fetch_one(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: by,
                action: "destruction.requested",
                entity_type: "card",
                entity_id: card_number,
                before: Some(json!({ "state": card.state })),
                after: Some(json!({
                    "destruction": id,
                    "reason": reason.as_str(),
                    "method": method.as_str(),
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The second pair of eyes: `approver`, who is not the requester, saw the card destroyed.
    pub async fn approve_destruction(
        &self,
        id: i64,
        approver: &str,
    ) -> Result<(), DestructionError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let d: Destruction = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(select_destruction!("WHERE d.id = $1"))
                .bind(id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        })
        .ok_or(DestructionError::Unknown(id))?;
        if d.state == "done" {
            return Err(DestructionError::AlreadyDone(id));
        }
        if same_person(&d.requested_by, approver) {
            // Refused before the database's own check, and audited: an attempt to bypass
            // dual control is itself a fact an auditor wants to see.
            drop(tx);
            self.audit(&Entry {
                actor: approver,
                action: "destruction.four_eyes_refused",
                entity_type: "card",
                entity_id: &d.card_number,
                before: None,
                after: Some(json!({ "destruction": id })),
                reason: Some("the requester cannot approve"),
            })
            .await?;
            return Err(DestructionError::SamePerson {
                id,
                person: approver.to_string(),
            });
        }
        let card = cards::by_number_in(&mut tx, &d.card_number)
            .await?
            .ok_or_else(|| DestructionError::NoCard(d.card_number.clone()))?;
        revocations::revoke_in(
            &mut tx,
            now,
            &card.card_number,
            Some(&card),
            &RevocationReason::Destroyed,
            None,
            approver,
        )
        .await?;
        let card = cards::by_id_in(&mut tx, card.id).await?;
        let details =
            json!({ "destruction": id, "method": d.method, "requested_by": d.requested_by });
        cards::apply(
            &mut tx,
            now,
            &card,
            CardEvent::Destroy,
            approver,
            Some(&d.reason),
            details,
        )
        .await?;
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE destructions SET state = 'done', approved_by = $1, approved_at = $2 \
                 WHERE id = $3",
            )
            .bind(approver)
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
            // The stock ledger: the body that carried this card is destroyed.
            sqlx::query(
                "UPDATE card_bodies SET state = 'destroyed', reason = $1, updated_at = $2 \
                 WHERE card_id = $3 AND state = 'personalised'",
            )
            .bind(format!("destruction {id}: {}", d.reason))
            .bind(now)
            .bind(card.id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
            sqlx::query("UPDATE mail_returns SET slot = NULL WHERE card_id = $1")
                .bind(card.id)
                .execute(&mut *c)
                .await
                .map_err(StoreError::from)?;
        });
        // A returned piece waiting with this card is closed (piece machine: `destroy_card`).
        let returned: Vec<(String, String)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "SELECT piece_id, state FROM mail_pieces WHERE card_id = $1 \
                 AND state IN ('returned_undelivered', 'awaiting_decision') ORDER BY piece_id",
            )
            .bind(card.id)
            .fetch_all(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        for (piece_id, state) in returned {
            let to = PieceState::parse(&state)
                .and_then(|s| s.next(PieceEvent::DestroyCard))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("piece {piece_id} in {state} refuses destroy_card"))
                })?;
            if !pieces::set_state_in(&mut tx, now, &piece_id, &state, to.as_str()).await? {
                return Err(StoreError::Corrupt(format!(
                    "piece {piece_id} changed while its card was destroyed"
                ))
                .into());
            }
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: approver,
                    action: "piece.card_destroyed",
                    entity_type: "mail_piece",
                    entity_id: &piece_id,
                    before: Some(json!({ "state": state })),
                    after: Some(json!({
                        "state": to.as_str(),
                        "card_number": card.card_number,
                        "destruction": id,
                    })),
                    reason: Some(&d.reason),
                },
            )
            .await?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor: approver,
                action: "destruction.approved",
                entity_type: "card",
                entity_id: &card.card_number,
                before: Some(json!({ "destruction": id, "requested_by": d.requested_by })),
                after: Some(json!({ "state": "destroyed", "method": d.method })),
                reason: Some(&d.reason),
            },
        )
        .await?;
        outbox::push(
            &mut tx,
            now,
            "card.destroyed",
            json!({
                "card_number": card.card_number,
                "request_id": card.request_id,
                "reason": d.reason,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Destructions, pending first.
    pub async fn destructions(&self) -> Result<Vec<Destruction>, StoreError> {
        on_read!(self, |p, pg| {
            Ok(
                sqlx::query_as(select_destruction!("ORDER BY d.state DESC, d.id"))
                    .fetch_all(p)
                    .await?,
            )
        })
    }

    /// Returned cards whose holder did not answer in time, or that were superseded by a
    /// renewal or replacement while they waited: (card number, piece id, slot), the
    /// destruction list of the mailroom.
    pub async fn unclaimed_returns(
        &self,
    ) -> Result<Vec<(String, String, Option<i64>)>, StoreError> {
        let now = self.clock().now_ms();
        on_read!(self, |p, pg| {
            Ok(sqlx::query_as(
                "SELECT c.card_number, r.piece_id, r.slot FROM mail_returns r \
                 JOIN cards c ON c.id = r.card_id \
                 WHERE r.outcome = 'held' AND c.state = 'held' \
                 AND ((r.decision IS NULL AND r.decision_due_at < $1) \
                      OR c.superseded_by IS NOT NULL) ORDER BY r.slot",
            )
            .bind(now)
            .fetch_all(p)
            .await?)
        })
    }
}
