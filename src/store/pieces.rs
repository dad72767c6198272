//! Mail pieces (docs/post.md): the envelope a card travels in, named by its UPU S10 id, with
//! the address block exactly as posted. A card has at most one live piece (created, inserted
//! or batched) at a time; the database holds that.

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, CardRecord};
use super::s10::{self, RangeError};
use super::{Store, StoreError, outbox};
use crate::post::s10::{S10Id, ServiceIndicator};

/// A new piece: its letters can be printed, the card is not in the envelope yet.
pub const CREATED: &str = "created";

/// Why a piece could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PieceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error("card {0} does not exist")]
    NoCard(String),
    #[error("card {card_number} is {state}: only a personalised card goes into an envelope")]
    NotPersonalised { card_number: String, state: String },
    #[error("card {0} has no postal address on record")]
    NoAddress(String),
    #[error(
        "card {card_number} was superseded by card {successor}: it goes to destruction, not back \
         to the post"
    )]
    Superseded {
        card_number: String,
        successor: String,
    },
}

/// One mail piece.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Piece {
    pub piece_id: String,
    pub card_id: i64,
    pub product: String,
    /// The address block as posted, as a JSON array of lines.
    pub address: String,
    pub postcode: String,
    pub country: String,
    pub state: String,
    pub created_at: i64,
}

impl Piece {
    /// The address block's lines.
    pub fn address_lines(&self) -> Vec<String> {
        serde_json::from_str(&self.address).unwrap_or_default()
    }
}

/// The piece columns, followed by a literal `WHERE` clause.
macro_rules! select_piece {
    ($rest:literal) => {
        concat!(
            "SELECT piece_id, card_id, product, address, postcode, country, state, created_at \
             FROM mail_pieces ",
            $rest
        )
    };
}

/// Moves piece `piece_id` from state `from` to `to` inside `tx`; false when it was no longer
/// in `from` (someone moved it first), so that callers refuse rather than overwrite.
pub async fn set_state_in(
    tx: &mut super::Tx,
    now: i64,
    piece_id: &str,
    from: &str,
    to: &str,
) -> Result<bool, StoreError> {
    on_tx!(tx, |c, pg| {
        let n = sqlx::query(
            "UPDATE mail_pieces SET state = $1, updated_at = $2 WHERE piece_id = $3 AND state = $4",
        )
        .bind(to)
        .bind(now)
        .bind(piece_id)
        .bind(from)
        .execute(&mut *c)
        .await?
        .rows_affected();
        Ok(n == 1)
    })
}

impl Store {
    /// The live piece of card `card_number`, made now if it has none: an S10 id from the
    /// ranges of `service`, the card's address as it stands. Idempotent: asking again returns
    /// the same piece (`false`: not made now).
    pub async fn piece_for(
        &self,
        card_number: &str,
        service: ServiceIndicator,
        product: &str,
        actor: &str,
    ) -> Result<(Piece, bool), PieceError> {
        let made = self
            .piece_for_with(card_number, service, product, actor, |_| {
                Ok::<(), std::convert::Infallible>(())
            })
            .await?;
        Ok(made.unwrap_or_else(|never| match never {}))
    }

    /// [`Store::piece_for`], calling `output` with the piece before it is returned; for a
    /// piece made now, after its S10 id is allocated and before anything is committed. If
    /// `output` fails (the carrier letter cannot be written: a full disk), the piece is
    /// rolled back with its id unspent: the card still waits for its carrier, rather than
    /// owning a piece whose letters do not exist and that no letters run would make again.
    /// The outer error is the store's, the inner one `output`'s.
    pub async fn piece_for_with<E>(
        &self,
        card_number: &str,
        service: ServiceIndicator,
        product: &str,
        actor: &str,
        output: impl FnOnce(&Piece) -> Result<(), E>,
    ) -> Result<Result<(Piece, bool), E>, PieceError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let card: CardRecord = cards::by_number_in(&mut tx, card_number)
            .await?
            .ok_or_else(|| PieceError::NoCard(card_number.to_string()))?;
        let live: Option<Piece> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(select_piece!(
                "WHERE card_id = $1 AND state IN ('created', 'inserted', 'batched')"
            ))
            .bind(card.id)
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        if let Some(p) = live {
            tx.rollback().await?;
            return Ok(output(&p).map(|()| (p, false)));
        }
        // A held card whose holder decided (resend, readdress) is due for a new carrier,
        // unless a renewal or replacement superseded it meanwhile: that one is destroyed.
        if card.state == "held"
            && let Some(successor) = &card.superseded_by
        {
            return Err(PieceError::Superseded {
                card_number: card_number.to_string(),
                successor: successor.clone(),
            });
        }
        let resend_of: Option<(String, String)> = if card.state == "held" {
            on_tx!(&mut tx, |c, pg| {
                sqlx::query_as(
                    "SELECT piece_id, decision FROM mail_returns WHERE card_id = $1 \
                     AND decision IS NOT NULL AND new_piece_id IS NULL",
                )
                .bind(card.id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
            })
        } else {
            None
        };
        if card.state != "personalised" && resend_of.is_none() {
            return Err(PieceError::NotPersonalised {
                card_number: card_number.to_string(),
                state: card.state,
            });
        }
        let (Some(address), Some(postcode), Some(country)) = (
            card.address_lines.clone(),
            card.postcode.clone(),
            card.country.clone(),
        ) else {
            return Err(PieceError::NoAddress(card_number.to_string()));
        };
        let id: S10Id = s10::allocate(&mut tx, service).await?;
        let piece = Piece {
            piece_id: id.to_string(),
            card_id: card.id,
            product: product.to_string(),
            address,
            postcode,
            country,
            state: CREATED.to_string(),
            created_at: now,
        };
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO mail_pieces
                 (piece_id, card_id, product, address, postcode, country, state, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(&piece.piece_id)
            .bind(piece.card_id)
            .bind(&piece.product)
            .bind(&piece.address)
            .bind(&piece.postcode)
            .bind(&piece.country)
            .bind(&piece.state)
            .bind(now)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        if let Some((previous, decision)) = &resend_of {
            on_tx!(&mut tx, |c, pg| {
                sqlx::query("UPDATE mail_returns SET new_piece_id = $1 WHERE piece_id = $2")
                    .bind(&piece.piece_id)
                    .bind(previous)
                    .execute(&mut *c)
                    .await
                    .map_err(StoreError::from)?;
            });
            outbox::push(
                &mut tx,
                now,
                "piece.resent",
                json!({
                    "piece_id": piece.piece_id,
                    "previous_piece_id": previous,
                    "decision": decision,
                    "card_number": card.card_number,
                    "request_id": card.request_id,
                }),
            )
            .await?;
        }
        // Before the audit record, whose head row stays locked until the commit.
        if let Err(e) = output(&piece) {
            tx.rollback().await?;
            return Ok(Err(e));
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "piece.created",
                entity_type: "mail_piece",
                entity_id: &piece.piece_id,
                before: None,
                after: Some(json!({
                    "card_number": card_number,
                    "product": product,
                    "postcode": piece.postcode,
                    "country": piece.country,
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Ok((piece, true)))
    }

    /// Cards due for a carrier letter, oldest first: personalised cards with no live piece
    /// yet, and held cards whose holder decided to have them sent again.
    pub async fn cards_awaiting_piece(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT card_number FROM cards c
                 WHERE (state = 'personalised'
                        OR (state = 'held' AND superseded_by IS NULL
                            AND EXISTS (SELECT 1 FROM mail_returns r
                            WHERE r.card_id = c.id AND r.decision IS NOT NULL
                              AND r.new_piece_id IS NULL)))
                 AND NOT EXISTS (SELECT 1 FROM mail_pieces m WHERE m.card_id = c.id
                                 AND m.state IN ('created', 'inserted', 'batched'))
                 ORDER BY id",
            )
            .fetch_all(p)
            .await?
        });
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    /// Every piece a card was ever sent in, oldest first.
    pub async fn pieces_of_card(&self, card_id: i64) -> Result<Vec<Piece>, StoreError> {
        let rows: Vec<Piece> = on_read!(self, |p, pg| {
            sqlx::query_as(select_piece!(
                "WHERE card_id = $1 ORDER BY created_at, piece_id"
            ))
            .bind(card_id)
            .fetch_all(p)
            .await?
        });
        Ok(rows)
    }

    /// Number of pieces in each state: the inserting line's accounting (a piece still
    /// `created` is a carrier whose card has not been inserted).
    pub async fn piece_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as("SELECT state, COUNT(*) FROM mail_pieces GROUP BY state ORDER BY state")
                .fetch_all(p)
                .await?
        }))
    }

    /// Pieces in `state` with their card numbers, oldest first, at most `limit`.
    pub async fn pieces_in_state(
        &self,
        state: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT m.piece_id, c.card_number FROM mail_pieces m JOIN cards c ON c.id = m.card_id
                 WHERE m.state = $1 ORDER BY m.created_at, m.piece_id LIMIT $2",
            )
            .bind(state)
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }
}
