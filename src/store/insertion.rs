//! Inserting: a card goes into its carrier's envelope only when the card offered and the
//! carrier scanned name each other (docs/post.md, "Inserting"). The card is known by its
//! printed number or by its chip serial, the carrier by its piece id; the database decides
//! whether they belong together, inside the same transaction that marks both inserted.
//!
//! A mismatch changes nothing but the audit trail: the record names the card offered, the
//! carrier scanned and the card that carrier is for, so that the supervisor who clears the
//! line knows which two items to look for.

use serde_json::json;

use super::audit::{self, Entry};
use super::cards::{self, CardRecord, TransitionError};
use super::pieces::Piece;
use super::{Store, StoreError};
use crate::domain::lifecycle::{CardEvent, PieceEvent, PieceState};

/// How the station knows the card in its hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardKey {
    /// The printed card number (typed, or read by a scanner or OCR).
    Number(String),
    /// The chip serial read through the card reader (EF.IDENT).
    ChipSerial(i64),
}

impl std::fmt::Display for CardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CardKey::Number(n) => write!(f, "card {n}"),
            CardKey::ChipSerial(s) => write!(f, "chip serial {s:010}"),
        }
    }
}

/// A card put in its envelope (or found already there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    pub card_number: String,
    pub piece_id: String,
    /// False when the pair was already inserted: the scan changed nothing.
    pub now: bool,
    /// The storage slot the card was taken from (a returned card sent again).
    pub from_slot: Option<i64>,
}

/// Why a card and a carrier were not put together.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error(
        "MISMATCH: card {offered} was offered with carrier {piece_id}, which is for card \
         {piece_card}; put both aside and call a supervisor"
    )]
    Mismatch {
        offered: String,
        piece_id: String,
        piece_card: String,
    },
    #[error("{0} is not known to the bureau")]
    UnknownCard(CardKey),
    #[error("carrier {0} is not known to the bureau")]
    UnknownPiece(String),
    #[error("carrier {piece_id} is {state}: only a new carrier takes a card")]
    PieceNotOpen { piece_id: String, state: String },
    #[error("card {card_number} is {state}: only a personalised card goes into an envelope")]
    CardNotReady { card_number: String, state: String },
    #[error(
        "card {card_number} was superseded by card {successor} while it waited in its slot: \
         do not post it, put it in the destruction tray"
    )]
    Superseded {
        card_number: String,
        successor: String,
    },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Puts the card `card` into the envelope of piece `piece_id` if, and only if, that piece
    /// was made for that card; `station` is the inserting station (actor in the audit trail).
    /// Offering the same pair again is harmless (`now: false`).
    pub async fn insert_card(
        &self,
        card: &CardKey,
        piece_id: &str,
        station: &str,
    ) -> Result<Inserted, InsertError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let offered = card_by_key(&mut tx, card)
            .await?
            .ok_or_else(|| InsertError::UnknownCard(card.clone()))?;
        let piece: Piece = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(select_piece!("WHERE piece_id = $1"))
                .bind(piece_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        })
        .ok_or_else(|| InsertError::UnknownPiece(piece_id.to_string()))?;
        if piece.card_id != offered.id {
            let piece_card: Option<(String,)> = on_tx!(&mut tx, |c, pg| {
                sqlx::query_as("SELECT card_number FROM cards WHERE id = $1")
                    .bind(piece.card_id)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(StoreError::from)?
            });
            let piece_card = piece_card.map(|(n,)| n).unwrap_or_default();
            audit::append(
                &mut tx,
                now,
                &Entry {
                    actor: station,
                    action: "insert.mismatch",
                    entity_type: "mail_piece",
                    entity_id: piece_id,
                    before: None,
                    after: Some(json!({
                        "card_offered": offered.card_number,
                        "identified_by": key_kind(card),
                        "piece_card": piece_card,
                    })),
                    reason: Some("card-to-carrier mismatch: line stopped"),
                },
            )
            .await?;
            tx.commit().await?;
            return Err(InsertError::Mismatch {
                offered: offered.card_number,
                piece_id: piece_id.to_string(),
                piece_card,
            });
        }
        let state = PieceState::parse(&piece.state);
        if state == Some(PieceState::Inserted) && offered.state == "inserted" {
            tx.rollback().await?;
            return Ok(Inserted {
                card_number: offered.card_number,
                piece_id: piece.piece_id,
                now: false,
                from_slot: None,
            });
        }
        let Some(to) = state.and_then(|s| s.next(PieceEvent::Insert)) else {
            return Err(InsertError::PieceNotOpen {
                piece_id: piece.piece_id,
                state: piece.state,
            });
        };
        // A personalised card goes in for the first time; a held card (returned, its holder
        // answered) leaves its storage slot for the new carrier made for it: this matched
        // pair is the confirming scan of its retrieval.
        let event = match offered.state.as_str() {
            "personalised" => CardEvent::Insert,
            "held" if offered.superseded_by.is_some() => {
                return Err(InsertError::Superseded {
                    card_number: offered.card_number,
                    successor: offered.superseded_by.unwrap_or_default(),
                });
            }
            "held" => CardEvent::Resend,
            _ => {
                return Err(InsertError::CardNotReady {
                    card_number: offered.card_number,
                    state: offered.state,
                });
            }
        };
        let from_slot: Option<i64> = if event == CardEvent::Resend {
            on_tx!(&mut tx, |c, pg| {
                let slot: Option<(Option<i64>,)> =
                    sqlx::query_as("SELECT slot FROM mail_returns WHERE new_piece_id = $1")
                        .bind(&piece.piece_id)
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(StoreError::from)?;
                sqlx::query(
                    "UPDATE mail_returns SET slot = NULL, retrieved_at = $1, retrieved_by = $2 \
                     WHERE new_piece_id = $3",
                )
                .bind(now)
                .bind(station)
                .bind(&piece.piece_id)
                .execute(&mut *c)
                .await
                .map_err(StoreError::from)?;
                slot.and_then(|(s,)| s)
            })
        } else {
            None
        };
        if !super::pieces::set_state_in(&mut tx, now, &piece.piece_id, &piece.state, to.as_str())
            .await?
        {
            return Err(InsertError::PieceNotOpen {
                piece_id: piece.piece_id,
                state: "changed meanwhile".into(),
            });
        }
        cards::apply(
            &mut tx,
            now,
            &offered,
            event,
            station,
            None,
            json!({
                "piece_id": piece.piece_id,
                "identified_by": key_kind(card),
                "from_slot": from_slot,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(Inserted {
            card_number: offered.card_number,
            piece_id: piece.piece_id,
            now: true,
            from_slot,
        })
    }
}

fn key_kind(key: &CardKey) -> &'static str {
    match key {
        CardKey::Number(_) => "printed_number",
        CardKey::ChipSerial(_) => "chip_serial",
    }
}

async fn card_by_key(tx: &mut super::Tx, key: &CardKey) -> Result<Option<CardRecord>, StoreError> {
    match key {
        CardKey::Number(n) => cards::by_number_in(tx, n).await,
        CardKey::ChipSerial(s) => cards::by_chip_serial_in(tx, *s).await,
    }
}
