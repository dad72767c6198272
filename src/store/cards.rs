//! Card records: one per accepted request, with the data printed and encoded on it.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{Store, StoreError, Tx};
use crate::domain::lifecycle::{CardEvent, CardState, IllegalTransition};

/// A card row to insert.
#[derive(Debug, Clone)]
pub struct NewCard {
    pub card_number: String,
    pub holder_number: i64,
    pub request_id: String,
    pub kind: String,
    pub state: String,
    pub issue_date: String,
    pub expiry_date: String,
    pub expected_expiry: Option<String>,
    pub previous_card_number: Option<String>,
    pub surname: String,
    pub given_names: String,
    pub birth_date: String,
    pub birth_place: String,
    pub licence_number: String,
    /// JSON array of categories in card order.
    pub categories: String,
    /// JSON array of the NF Z10-011 lines.
    pub address_lines: String,
    pub postcode: String,
    pub country: String,
    /// JSON of the card's groups with their code-95 dates (`card_groups::encode_groups`).
    pub qualifications: String,
    /// JSON of the reasons it waits for review, if any (`card_groups::encode_review`).
    pub review: Option<String>,
}

/// A stored card.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CardRecord {
    pub id: i64,
    pub card_number: String,
    pub holder_number: i64,
    pub request_id: String,
    pub kind: String,
    pub state: String,
    pub version: i64,
    pub issue_date: String,
    pub expiry_date: String,
    pub expected_expiry: Option<String>,
    pub previous_card_number: Option<String>,
    pub surname: Option<String>,
    pub given_names: Option<String>,
    pub birth_date: Option<String>,
    pub birth_place: Option<String>,
    pub licence_number: Option<String>,
    pub categories: String,
    pub address_lines: Option<String>,
    pub postcode: Option<String>,
    pub country: Option<String>,
    /// Read with [`CardRecord::groups`]; `None` on cards stored before per-group dates.
    pub qualifications: Option<String>,
    /// Read with [`CardRecord::review_reasons`].
    pub review: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The renewal or replacement that superseded this card, recorded when that successor was
    /// personalised (docs/lifecycle.md; src/store/succession.rs).
    pub superseded_by: Option<String>,
}

/// The card columns, followed by a literal `WHERE` clause.
macro_rules! select_card {
    ($tail:literal) => {
        concat!(
            "SELECT id, card_number, holder_number, request_id, kind, state, version, issue_date, ",
            "expiry_date, expected_expiry, previous_card_number, surname, given_names, birth_date, birth_place, ",
            "licence_number, categories, address_lines, postcode, country, qualifications, review, ",
            "created_at, updated_at, superseded_by FROM cards ",
            $tail
        )
    };
}

/// Appends a multi-row insert of new cards (state version 1).
pub(crate) fn push_insert<DB>(q: &mut QueryBuilder<DB>, now: i64, cards: &[NewCard])
where
    DB: Database,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
{
    q.push(
        "INSERT INTO cards (card_number, holder_number, request_id, kind, state, version, issue_date, expiry_date, \
         expected_expiry, previous_card_number, surname, given_names, birth_date, birth_place, licence_number, \
         categories, address_lines, postcode, country, qualifications, review, created_at, updated_at) ",
    );
    q.push_values(cards, |mut b, card| {
        b.push_bind(card.card_number.as_str())
            .push_bind(card.holder_number)
            .push_bind(card.request_id.as_str())
            .push_bind(card.kind.as_str())
            .push_bind(card.state.as_str())
            .push_bind(1i64)
            .push_bind(card.issue_date.as_str())
            .push_bind(card.expiry_date.as_str())
            .push_bind(card.expected_expiry.as_deref())
            .push_bind(card.previous_card_number.as_deref())
            .push_bind(card.surname.as_str())
            .push_bind(card.given_names.as_str())
            .push_bind(card.birth_date.as_str())
            .push_bind(card.birth_place.as_str())
            .push_bind(card.licence_number.as_str())
            .push_bind(card.categories.as_str())
            .push_bind(card.address_lines.as_str())
            .push_bind(card.postcode.as_str())
            .push_bind(card.country.as_str())
            .push_bind(card.qualifications.as_str())
            .push_bind(card.review.as_deref())
            .push_bind(now)
            .push_bind(now);
    });
}

/// The card with this number, read inside `tx` (to decide on a renewal or replacement).
pub async fn by_number_in(
    tx: &mut Tx,
    card_number: &str,
) -> Result<Option<CardRecord>, StoreError> {
    on_tx!(tx, |c, pg| {
        Ok(sqlx::query_as(select_card!("WHERE card_number = $1"))
            .bind(card_number)
            .fetch_optional(&mut *c)
            .await?)
    })
}

/// The card with row id `card_id`, read inside `tx`; a dangling id is corruption.
pub async fn by_id_in(tx: &mut Tx, card_id: i64) -> Result<CardRecord, StoreError> {
    on_tx!(tx, |c, pg| {
        sqlx::query_as(select_card!("WHERE id = $1"))
            .bind(card_id)
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("card id {card_id} does not exist")))
    })
}

/// The card bound to chip serial `serial`, read inside `tx` (the inserting station reads
/// the chip rather than the print).
pub async fn by_chip_serial_in(tx: &mut Tx, serial: i64) -> Result<Option<CardRecord>, StoreError> {
    on_tx!(tx, |c, pg| {
        Ok(sqlx::query_as(select_card!("WHERE chip_serial = $1"))
            .bind(serial)
            .fetch_optional(&mut *c)
            .await?)
    })
}

/// Replaces the holder's printed names and place of birth on a card that has not been made
/// yet (a driver's correction of a stopped card), inside `tx`.
pub async fn correct_holder(
    tx: &mut Tx,
    now: i64,
    card_id: i64,
    surname: &str,
    given_names: &str,
    birth_place: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, |c, pg| {
        sqlx::query(
            "UPDATE cards SET surname = $1, given_names = $2, birth_place = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(surname)
        .bind(given_names)
        .bind(birth_place)
        .bind(now)
        .bind(card_id)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Moves a card to `to` if it is still at `version` (optimistic concurrency: two workers
/// racing on the same card cannot both win). Returns false when someone else moved it first.
pub async fn set_state(
    tx: &mut Tx,
    now: i64,
    card_id: i64,
    version: i64,
    to: &str,
) -> Result<bool, StoreError> {
    on_tx!(tx, |c, pg| {
        let n = sqlx::query(
            "UPDATE cards SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
        )
        .bind(to)
        .bind(now)
        .bind(card_id)
        .bind(version)
        .execute(&mut *c)
        .await?
        .rows_affected();
        Ok(n == 1)
    })
}

/// A change of state refused.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error(transparent)]
    Illegal(#[from] IllegalTransition<CardState>),
    #[error("card {card_number} is in an unknown state {state:?}")]
    UnknownState { card_number: String, state: String },
    #[error("card {card_number} changed meanwhile (another worker moved it); nothing done")]
    Raced { card_number: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves `card` by `event` inside `tx`: the life-cycle machine decides, the row changes only
/// if nobody moved it since it was read, and the audit trail records who, what and why.
pub async fn apply(
    tx: &mut Tx,
    now: i64,
    card: &CardRecord,
    event: CardEvent,
    actor: &str,
    reason: Option<&str>,
    details: serde_json::Value,
) -> Result<CardState, TransitionError> {
    let from = CardState::parse(&card.state).ok_or_else(|| TransitionError::UnknownState {
        card_number: card.card_number.clone(),
        state: card.state.clone(),
    })?;
    let to = from.apply(event)?;
    if !set_state(tx, now, card.id, card.version, to.as_str()).await? {
        return Err(TransitionError::Raced {
            card_number: card.card_number.clone(),
        });
    }
    let mut after = serde_json::json!({ "state": to.as_str() });
    if let (Some(a), serde_json::Value::Object(extra)) = (after.as_object_mut(), details) {
        a.extend(extra);
    }
    super::audit::append(
        tx,
        now,
        &super::audit::Entry {
            actor,
            action: &format!("card.{}", event.as_str()),
            entity_type: "card",
            entity_id: &card.card_number,
            before: Some(serde_json::json!({ "state": from.as_str() })),
            after: Some(after),
            reason,
        },
    )
    .await?;
    Ok(to)
}

impl Store {
    pub async fn card_by_request(
        &self,
        request_id: &str,
    ) -> Result<Option<CardRecord>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(select_card!("WHERE request_id = $1"))
                .bind(request_id)
                .fetch_optional(p)
                .await?
        }))
    }

    pub async fn card_by_number(
        &self,
        card_number: &str,
    ) -> Result<Option<CardRecord>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(select_card!("WHERE card_number = $1"))
                .bind(card_number)
                .fetch_optional(p)
                .await?
        }))
    }

    /// The cards a person must decide on: held for review (dates differ) or stopped in
    /// production, longest waiting first, at most `limit`.
    pub async fn cards_waiting(&self, limit: i64) -> Result<Vec<CardRecord>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(select_card!(
                "WHERE state IN ('held_for_review', 'stopped') ORDER BY updated_at, id LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }

    /// Number of cards in each state.
    pub async fn card_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as("SELECT state, COUNT(*) FROM cards GROUP BY state ORDER BY state")
                .fetch_all(p)
                .await?
        }))
    }

    pub async fn card_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT COUNT(*) FROM cards")
                .fetch_one(p)
                .await?
        });
        Ok(n)
    }
}
