//! Revocation (domain.md §3): a card number that must no longer be accepted. A lost or
//! stolen card is revoked when its replacement is accepted, so always before the replacement
//! is personalised; a card replaced for quality when its replacement is personalised
//! (src/store/succession.rs); a destroyed card is revoked as it is destroyed. The list covers card
//! numbers of the previous system too (no card row), because a holder replacing an old card
//! is as likely as one replacing ours.

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, CardRecord, TransitionError};
use super::{Store, StoreError, Tx, outbox};
use crate::domain::lifecycle::{CardEvent, CardState};

/// Why a card number is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationReason {
    Lost,
    /// Stolen, on the holder's declaration to the police (its reference).
    Stolen {
        declaration_ref: String,
    },
    /// The card body was destroyed.
    Destroyed,
    /// Its replacement was personalised (a card replaced for quality, returned or not):
    /// the old serial never coexists with the new card (docs/lifecycle.md, invariant 1).
    Replaced,
}

impl RevocationReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            RevocationReason::Lost => "lost",
            RevocationReason::Stolen { .. } => "stolen",
            RevocationReason::Destroyed => "destroyed",
            RevocationReason::Replaced => "replaced",
        }
    }

    fn declaration_ref(&self) -> Option<&str> {
        match self {
            RevocationReason::Stolen { declaration_ref } => Some(declaration_ref),
            _ => None,
        }
    }
}

/// One line of the revocation list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Revocation {
    pub card_number: String,
    pub reason: String,
    pub declaration_ref: Option<String>,
    pub request_id: Option<String>,
    pub revoked_at: i64,
    pub revoked_by: String,
}

/// Revokes `card_number` inside `tx` (with its card, when it is one of ours: declared lost
/// or stolen first when it was out with its holder, then revoked). Returns false when the
/// number was already on the list: revoking is idempotent.
pub async fn revoke_in(
    tx: &mut Tx,
    now: i64,
    card_number: &str,
    card: Option<&CardRecord>,
    reason: &RevocationReason,
    request_id: Option<&str>,
    actor: &str,
) -> Result<bool, TransitionError> {
    let added = on_tx!(tx, |c, pg| {
        sqlx::query(
            "INSERT INTO revocations (card_number, card_id, reason, declaration_ref, request_id, \
             revoked_at, revoked_by) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (card_number) DO NOTHING",
        )
        .bind(card_number)
        .bind(card.map(|c| c.id))
        .bind(reason.as_str())
        .bind(reason.declaration_ref())
        .bind(request_id)
        .bind(now)
        .bind(actor)
        .execute(&mut *c)
        .await
        .map_err(StoreError::from)?
        .rows_affected()
    }) == 1;
    if !added {
        return Ok(false);
    }
    if let Some(card) = card {
        let declared = match reason {
            RevocationReason::Lost => Some(CardEvent::DeclareLost),
            RevocationReason::Stolen { .. } => Some(CardEvent::DeclareStolen),
            RevocationReason::Destroyed | RevocationReason::Replaced => None,
        };
        let details = json!({ "revocation": reason.as_str(), "request_id": request_id });
        let mut current = card.clone();
        if let Some(event) = declared
            && CardState::parse(&current.state).is_some_and(|s| s.accepts(event))
        {
            cards::apply(tx, now, &current, event, actor, None, details.clone()).await?;
            current = cards::by_id_in(tx, card.id).await?;
        }
        if CardState::parse(&current.state).is_some_and(|s| s.accepts(CardEvent::Revoke)) {
            cards::apply(tx, now, &current, CardEvent::Revoke, actor, None, details).await?;
        } else {
            // On the list all the same: the list is what readers check.
            tracing::warn!(card = %card_number, state = %current.state, "card revoked on the list; its state does not take a revocation");
        }
    }
    audit::append(
        tx,
        now,
        &Entry {
            actor,
            action: "card.number_revoked",
            entity_type: "card",
            entity_id: card_number,
            before: None,
            after: Some(json!({
                "reason": reason.as_str(),
                "declaration_ref": reason.declaration_ref(),
                "request_id": request_id,
                "ours": card.is_some(),
            })),
            reason: None,
        },
    )
    .await?;
    outbox::push(
        tx,
        now,
        "card.revoked",
        json!({
            "card_number": card_number,
            "reason": reason.as_str(),
            "request_id": request_id,
        }),
    )
    .await?;
    Ok(true)
}

impl Store {
    /// The revocation list, by card number.
    pub async fn revocation_list(&self) -> Result<Vec<Revocation>, StoreError> {
        on_read!(self, |p, pg| {
            Ok(sqlx::query_as(
                "SELECT card_number, reason, declaration_ref, request_id, revoked_at, revoked_by \
                 FROM revocations ORDER BY card_number",
            )
            .fetch_all(p)
            .await?)
        })
    }

    /// Whether `card_number` is revoked.
    pub async fn is_revoked(&self, card_number: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT card_number FROM revocations WHERE card_number = $1")
                .bind(card_number)
                .fetch_optional(p)
                .await?
        });
        Ok(row.is_some())
    }
}
