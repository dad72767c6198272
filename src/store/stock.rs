//! The blank card stock ledger (docs/stock.md): lots received with their serial ranges, and
//! every card body drawn from them, by chip serial, until it is personalised, spoiled or
//! destroyed. Auditors count blanks: each one received must be accounted for.

use serde_json::json;

use super::audit::{self, Entry};
use super::{Store, StoreError, Tx};
use crate::domain::lifecycle::{CardEvent, CardState};

/// What may become of a body.
pub const DRAWN: &str = "drawn";
pub const PERSONALISED: &str = "personalised";
pub const SPOILED: &str = "spoiled";
pub const DESTROYED: &str = "destroyed";

/// Why a stock operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("lot {lot}: serials {first:016X}-{last:016X} overlap lot {other}")]
    Overlap {
        lot: String,
        first: u64,
        last: u64,
        other: String,
    },
    #[error("lot {0} was already received")]
    DuplicateLot(String),
    #[error("lot {lot}: the last serial is before the first")]
    EmptyRange { lot: String },
    #[error("serial {0:016X} is beyond this ledger's range (at most 7FFFFFFFFFFFFFFF)")]
    SerialRange(u64),
    #[error("card body {0:016X} is in no received lot: not our stock, put it aside")]
    NotInStock(u64),
    #[error(
        "card body {serial:016X} is already personalised as card {card_number}: take it out, it is a live card"
    )]
    AlreadyPersonalised { serial: u64, card_number: String },
    #[error("card body {serial:016X} was {state} before: it must not go back into a reader")]
    AlreadyUsed { serial: u64, state: String },
    #[error(
        "card {card_number} is already written to chip {serial:016X}: a card number is never written twice"
    )]
    CardAlreadyWritten { card_number: String, serial: u64 },
    #[error("card body {0:016X} is not drawn for writing")]
    NotDrawn(u64),
    #[error(transparent)]
    Transition(#[from] super::cards::TransitionError),
}

fn db(serial: u64) -> Result<i64, StockError> {
    i64::try_from(serial).map_err(|_| StockError::SerialRange(serial))
}

/// One body in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Body {
    pub serial: i64,
    pub lot_id: String,
    pub state: String,
    pub card_id: Option<i64>,
    pub station: String,
    pub reader: String,
    pub reason: Option<String>,
    pub drawn_at: i64,
    pub updated_at: i64,
}

/// One lot's line in the stock report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotLine {
    pub lot_id: String,
    pub first_serial: u64,
    pub last_serial: u64,
    pub received: i64,
    pub drawn: i64,
    pub in_progress: i64,
    pub personalised: i64,
    pub spoiled: i64,
    pub destroyed: i64,
    pub on_hand: i64,
}

/// The reconciled ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockReport {
    pub lots: Vec<LotLine>,
    /// Every count or binding that does not add up, in words. Empty when the ledger reconciles.
    pub problems: Vec<String>,
}

impl StockReport {
    pub fn reconciles(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn total(&self, f: impl Fn(&LotLine) -> i64) -> i64 {
        self.lots.iter().map(f).sum()
    }
}

/// What the stock report reads, query by query.
struct LedgerRows {
    /// lot, first serial, last serial
    lots: Vec<(String, i64, i64)>,
    /// lot, state, bodies
    counts: Vec<(String, String, i64)>,
    /// serial, lot
    outside: Vec<(i64, String)>,
    /// card number, chip serial
    card_side: Vec<(String, i64)>,
    /// serial, card id
    body_side: Vec<(i64, Option<i64>)>,
    /// serial, station, reader
    stale: Vec<(i64, String, String)>,
}

/// The body with this serial, inside `tx`.
async fn body_in(tx: &mut Tx, serial: i64) -> Result<Option<Body>, StoreError> {
    on_tx!(tx, |c, pg| {
        Ok(sqlx::query_as(
            "SELECT serial, lot_id, state, card_id, station, reader, reason, drawn_at, updated_at
             FROM card_bodies WHERE serial = $1",
        )
        .bind(serial)
        .fetch_optional(&mut *c)
        .await?)
    })
}

/// Moves a drawn body to personalised and binds it to its card, inside the transaction that
/// moves the card to `personalised`.
pub async fn bind(tx: &mut Tx, now: i64, serial: u64, card_id: i64) -> Result<(), StockError> {
    let s = db(serial)?;
    let n = on_tx!(tx, |c, pg| {
        let n = sqlx::query(
            "UPDATE card_bodies SET state = 'personalised', updated_at = $1
             WHERE serial = $2 AND state = 'drawn' AND card_id = $3",
        )
        .bind(now)
        .bind(s)
        .bind(card_id)
        .execute(&mut *c)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        sqlx::query("UPDATE cards SET chip_serial = $1 WHERE id = $2")
            .bind(s)
            .bind(card_id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        n
    });
    if n != 1 {
        return Err(StockError::NotDrawn(serial));
    }
    Ok(())
}

impl Store {
    /// Records a lot of blanks received; refuses a lot id seen before and overlapping ranges.
    pub async fn receive_lot(
        &self,
        lot_id: &str,
        first: u64,
        last: u64,
        actor: &str,
    ) -> Result<(), StockError> {
        if last < first {
            return Err(StockError::EmptyRange {
                lot: lot_id.to_string(),
            });
        }
        let (f, l) = (db(first)?, db(last)?);
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let clash: Option<(String,)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "SELECT lot_id FROM stock_lots
                 WHERE lot_id = $1 OR (first_serial <= $3 AND last_serial >= $2) LIMIT 1",
            )
            .bind(lot_id)
            .bind(f)
            .bind(l)
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        if let Some((other,)) = clash {
            return Err(if other == lot_id {
                StockError::DuplicateLot(other)
            } else {
                StockError::Overlap {
                    lot: lot_id.to_string(),
                    first,
                    last,
                    other,
                }
            });
        }
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO stock_lots (lot_id, first_serial, last_serial, received_at, received_by)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(lot_id)
            .bind(f)
            .bind(l)
            .bind(now)
            .bind(actor)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "stock.received",
                entity_type: "lot",
                entity_id: lot_id,
                before: None,
                after: Some(json!({
                    "first_serial": format!("{first:016X}"),
                    "last_serial": format!("{last:016X}"),
                    "count": last - first + 1,
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Bodies drawn from lot `lot_id` so far; None when the lot was never received.
    pub async fn lot_drawn(&self, lot_id: &str) -> Result<Option<u64>, StockError> {
        let row: Option<(i64,)> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM card_bodies b WHERE b.lot_id = l.lot_id)
                 FROM stock_lots l WHERE l.lot_id = $1",
            )
            .bind(lot_id)
            .fetch_optional(p)
            .await
            .map_err(StoreError::from)?
        });
        Ok(row.map(|(n,)| n as u64))
    }

    /// The highest serial drawn from lot `lot_id`, if any. Several readers draw out of order
    /// (reader B may draw N + 1 while reader A's N is never drawn), so the next blank to offer
    /// is this + 1, not the lot's first serial + the count drawn (which offers N + 1 again).
    pub async fn lot_highest_drawn(&self, lot_id: &str) -> Result<Option<u64>, StockError> {
        let row: (Option<i64>,) = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT MAX(serial) FROM card_bodies WHERE lot_id = $1")
                .bind(lot_id)
                .fetch_one(p)
                .await
                .map_err(StoreError::from)?
        });
        Ok(row.0.and_then(|s| u64::try_from(s).ok()))
    }

    /// The body with this serial, if it was ever drawn.
    pub async fn body(&self, serial: u64) -> Result<Option<Body>, StockError> {
        let mut tx = self.begin().await?;
        let b = body_in(&mut tx, db(serial)?).await?;
        tx.rollback().await?;
        Ok(b)
    }

    /// Takes the blank with `serial` from stock to write card `card_id` on it. Refuses a body
    /// outside every lot, a body used before (a live card or a spoiled one put back), and a
    /// card already written to another chip.
    pub async fn draw(
        &self,
        serial: u64,
        card_id: i64,
        card_number: &str,
        station: &str,
        reader: &str,
    ) -> Result<(), StockError> {
        let s = db(serial)?;
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        if let Some(b) = body_in(&mut tx, s).await? {
            return Err(match (b.state.as_str(), b.card_id) {
                (PERSONALISED, Some(id)) => {
                    let number: Option<(String,)> = on_tx!(&mut tx, |c, pg| {
                        sqlx::query_as("SELECT card_number FROM cards WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *c)
                            .await
                            .map_err(StoreError::from)?
                    });
                    StockError::AlreadyPersonalised {
                        serial,
                        card_number: number.map(|n| n.0).unwrap_or_default(),
                    }
                }
                _ => StockError::AlreadyUsed {
                    serial,
                    state: b.state,
                },
            });
        }
        let bound: Option<(Option<i64>,)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as("SELECT chip_serial FROM cards WHERE id = $1")
                .bind(card_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        });
        if let Some((Some(chip),)) = bound {
            return Err(StockError::CardAlreadyWritten {
                card_number: card_number.to_string(),
                serial: chip as u64,
            });
        }
        let lot: Option<(String,)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "SELECT lot_id FROM stock_lots WHERE first_serial <= $1 AND last_serial >= $1",
            )
            .bind(s)
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        let Some((lot,)) = lot else {
            return Err(StockError::NotInStock(serial));
        };
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO card_bodies (serial, lot_id, state, card_id, station, reader, drawn_at, updated_at)
                 VALUES ($1, $2, 'drawn', $3, $4, $5, $6, $6)",
            )
            .bind(s)
            .bind(&lot)
            .bind(card_id)
            .bind(station)
            .bind(reader)
            .bind(now)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// Marks a drawn body spoiled with the reason (its chip content is not what we want on a
    /// card): it goes to destruction, never back into a reader.
    pub async fn spoil(&self, serial: u64, reason: &str, actor: &str) -> Result<(), StockError> {
        let s = db(serial)?;
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let Some(b) = body_in(&mut tx, s).await? else {
            return Err(StockError::NotDrawn(serial));
        };
        if b.state != DRAWN {
            return Err(StockError::NotDrawn(serial));
        }
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE card_bodies SET state = 'spoiled', reason = $1, updated_at = $2 WHERE serial = $3",
            )
            .bind(reason)
            .bind(now)
            .bind(s)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "body.spoiled",
                entity_type: "card_body",
                entity_id: &format!("{serial:016X}"),
                before: Some(json!({ "state": DRAWN, "card_id": b.card_id })),
                after: Some(json!({ "state": SPOILED, "station": b.station, "reader": b.reader })),
                reason: Some(reason),
            },
        )
        .await?;
        // The card it was drawn for stays in production on a fresh blank: `spoil` in its
        // own trail, so the card's history shows every body it cost.
        if let Some(card_id) = b.card_id {
            let card = super::cards::by_id_in(&mut tx, card_id).await?;
            if card.state == CardState::InProduction.as_str() {
                super::cards::apply(
                    &mut tx,
                    now,
                    &card,
                    CardEvent::Spoil,
                    actor,
                    Some(reason),
                    json!({ "chip_serial": format!("{serial:016X}") }),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Bodies drawn for `card_id` whose write never ended (a station killed mid-write).
    pub async fn unfinished_bodies(&self, card_id: i64) -> Result<Vec<u64>, StockError> {
        let rows: Vec<(i64,)> = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT serial FROM card_bodies WHERE card_id = $1 AND state = 'drawn'")
                .bind(card_id)
                .fetch_all(p)
                .await
                .map_err(StoreError::from)?
        });
        Ok(rows.into_iter().map(|r| r.0 as u64).collect())
    }

    /// The ledger per lot, and every discrepancy: counts that do not add up, bodies outside
    /// their lot, bindings that disagree between the card and the body, bodies drawn more than
    /// `stale_ms` ago whose write never ended.
    pub async fn stock_report(&self, stale_ms: i64) -> Result<StockReport, StockError> {
        let now = self.clock().now_ms();
        let rows: LedgerRows = on_read!(self, |p, pg| {
            let lots = sqlx::query_as(
                "SELECT lot_id, first_serial, last_serial FROM stock_lots ORDER BY first_serial",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?;
            let counts = sqlx::query_as(
                "SELECT lot_id, state, COUNT(*) FROM card_bodies GROUP BY lot_id, state",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?;
            let outside = sqlx::query_as(
                "SELECT b.serial, b.lot_id FROM card_bodies b JOIN stock_lots l ON l.lot_id = b.lot_id
                 WHERE b.serial < l.first_serial OR b.serial > l.last_serial",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?;
            // A card bound to a chip that is not a personalised body of that card.
            let card_side = sqlx::query_as(
                "SELECT c.card_number, c.chip_serial FROM cards c
                 LEFT JOIN card_bodies b ON b.serial = c.chip_serial AND b.card_id = c.id
                     AND b.state IN ('personalised', 'destroyed')
                 WHERE c.chip_serial IS NOT NULL AND b.serial IS NULL",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?;
            // A personalised body whose card does not name it.
            let body_side = sqlx::query_as(
                "SELECT b.serial, b.card_id FROM card_bodies b
                 LEFT JOIN cards c ON c.id = b.card_id AND c.chip_serial = b.serial
                 WHERE b.state = 'personalised' AND c.id IS NULL",
            )
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?;
            let stale = sqlx::query_as(
                "SELECT serial, station, reader FROM card_bodies WHERE state = 'drawn' AND drawn_at <= $1",
            )
            .bind(now - stale_ms)
            .fetch_all(p)
            .await
            .map_err(StoreError::from)?;
            LedgerRows {
                lots,
                counts,
                outside,
                card_side,
                body_side,
                stale,
            }
        });
        let LedgerRows {
            lots,
            counts,
            outside,
            card_side,
            body_side,
            stale,
        } = rows;
        let mut problems = Vec::new();
        let mut lines = Vec::new();
        for (lot_id, first, last) in lots {
            let count = |state: &str| {
                counts
                    .iter()
                    .filter(|(l, s, _)| *l == lot_id && s == state)
                    .map(|c| c.2)
                    .sum::<i64>()
            };
            let drawn_all: i64 = counts.iter().filter(|c| c.0 == lot_id).map(|c| c.2).sum();
            let line = LotLine {
                received: last - first + 1,
                drawn: drawn_all,
                in_progress: count(DRAWN),
                personalised: count(PERSONALISED),
                spoiled: count(SPOILED),
                destroyed: count(DESTROYED),
                on_hand: last - first + 1 - drawn_all,
                first_serial: first as u64,
                last_serial: last as u64,
                lot_id,
            };
            let accounted = line.in_progress + line.personalised + line.spoiled + line.destroyed;
            if accounted != line.drawn {
                problems.push(format!(
                    "lot {}: {} bodies drawn but {} accounted for",
                    line.lot_id, line.drawn, accounted
                ));
            }
            if line.on_hand < 0 {
                problems.push(format!(
                    "lot {}: more bodies drawn ({}) than received ({})",
                    line.lot_id, line.drawn, line.received
                ));
            }
            lines.push(line);
        }
        let known: Vec<&str> = lines.iter().map(|l| l.lot_id.as_str()).collect();
        for (lot, _, n) in &counts {
            if !known.contains(&lot.as_str()) {
                problems.push(format!("{n} bodies in unknown lot {lot}"));
            }
        }
        for (serial, lot) in outside {
            problems.push(format!(
                "body {serial:016X} is outside the range of its lot {lot}"
            ));
        }
        for (number, serial) in card_side {
            problems.push(format!(
                "card {number} names chip {serial:016X}, which is not a personalised body of that card"
            ));
        }
        for (serial, card) in body_side {
            problems.push(format!(
                "body {serial:016X} is personalised but card id {card:?} does not name it"
            ));
        }
        for (serial, station, reader) in stale {
            problems.push(format!(
                "body {serial:016X} drawn by {station} on {reader:?} never finished: find it and spoil it"
            ));
        }
        Ok(StockReport {
            lots: lines,
            problems,
        })
    }
}
