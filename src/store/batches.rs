//! Postal batches (docs/post.md, "Postal batches"): the inserted pieces of one product and
//! dispatch date, presorted by postcode, sealed with the SHA-256 of their manifest and handed
//! to the post together.
//!
//! A piece joins at most one batch (its `batch_id` is set once, by a conditional update that
//! only takes an inserted piece); closing numbers the pieces and seals the batch in one
//! transaction, so a crash while closing leaves the batch open and unnumbered, never half
//! closed. After that a database trigger refuses any change to the batch's pieces, whatever
//! code tries, and the manifest can be rebuilt byte for byte from the rows (its hash is
//! checked on every export).

use serde_json::json;
use sha2::{Digest, Sha256};

use super::audit::{self, Entry};
use super::cards::{self, TransitionError};
use super::{Store, StoreError, Tx, outbox};
use crate::domain::lifecycle::{CardEvent, PieceState};
use crate::post::manifest::{self, ManifestError, Row};

/// The weight of one piece as declared in the manifest: a DL envelope (5 g), the A4 carrier
/// letter and the A4 return coupon on 80 g/m² paper (5 g each) and the card (5 g).
pub const PIECE_WEIGHT_G: u32 = 20;

/// Pieces audited and announced per statement when a batch is handed over: keeps each
/// multi-row insert under the databases' bind-parameter limits.
const HAND_OVER_CHUNK: usize = 500;

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Pieces may join.
    Open,
    /// Numbered and sealed with its manifest's hash; waiting for the post.
    Closed,
    /// Taken by the post: every piece dispatched.
    HandedOver,
}

impl BatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Open => "open",
            BatchState::Closed => "closed",
            BatchState::HandedOver => "handed_over",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Closed, Self::HandedOver]
            .into_iter()
            .find(|b| b.as_str() == s)
    }
}

/// One batch as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Batch {
    pub batch_id: String,
    pub product: String,
    pub dispatch_date: String,
    pub state: String,
    pub pieces: Option<i64>,
    pub weight_g: Option<i64>,
    pub manifest_sha256: Option<String>,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub handed_over_at: Option<i64>,
}

impl Batch {
    pub fn state(&self) -> Option<BatchState> {
        BatchState::parse(&self.state)
    }
}

macro_rules! select_batch {
    ($rest:literal) => {
        concat!(
            "SELECT batch_id, product, dispatch_date, state, pieces, weight_g, manifest_sha256, \
             opened_at, closed_at, handed_over_at FROM postal_batches ",
            $rest
        )
    };
}

/// A manifest row as read back from the database: (piece id, product, address lines,
/// postcode, country).
type PieceLine = (String, String, Vec<String>, String, String);

/// A closed batch's manifest, its companion totals file and its hash.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub batch: Batch,
    pub csv: Vec<u8>,
    pub totals_csv: Vec<u8>,
    pub sha256: String,
    /// Pieces per département (cover sheet), in département order.
    pub by_departement: Vec<(String, u64)>,
    pub totals: manifest::Totals,
}

/// Why a batch operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("postal batch {0} does not exist")]
    NoBatch(String),
    #[error("postal batch {batch_id} is {state}: {what}")]
    WrongState {
        batch_id: String,
        state: String,
        what: &'static str,
    },
    #[error("piece {0} does not exist")]
    NoPiece(String),
    #[error("piece {piece_id} is {state}: only an inserted piece joins a batch")]
    PieceNotInserted { piece_id: String, state: String },
    #[error("piece {piece_id} is a {piece_product} piece; batch {batch_id} is for {batch_product}")]
    WrongProduct {
        piece_id: String,
        piece_product: String,
        batch_id: String,
        batch_product: String,
    },
    #[error("postal batch {0} is empty: there is nothing to close")]
    Empty(String),
    #[error(
        "postal batch {batch_id}: the manifest rebuilt from the database hashes to {actual}, \
         not to the {sealed} it was sealed with"
    )]
    Tampered {
        batch_id: String,
        sealed: String,
        actual: String,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The open batch of `product` for `dispatch_date` (YYYY-MM-DD), opened now when there is
    /// none. Its id is `<date without dashes>-<product>-<nnn>`, numbered per product and day.
    pub async fn open_batch(
        &self,
        product: &str,
        dispatch_date: &str,
        actor: &str,
    ) -> Result<Batch, BatchError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        if let Some(b) = open_batch_in(&mut tx, product, dispatch_date).await? {
            tx.rollback().await?;
            return Ok(b);
        }
        let (n,): (i64,) = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "SELECT COUNT(*) FROM postal_batches WHERE product = $1 AND dispatch_date = $2",
            )
            .bind(product)
            .bind(dispatch_date)
            .fetch_one(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        let batch_id = format!("{}-{product}-{:03}", dispatch_date.replace('-', ""), n + 1);
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO postal_batches (batch_id, product, dispatch_date, state, opened_at, opened_by)
                 VALUES ($1, $2, $3, 'open', $4, $5)",
            )
            .bind(&batch_id)
            .bind(product)
            .bind(dispatch_date)
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
                action: "batch.opened",
                entity_type: "postal_batch",
                entity_id: &batch_id,
                before: None,
                after: Some(json!({ "product": product, "dispatch_date": dispatch_date })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        self.batch(&batch_id)
            .await?
            .ok_or(BatchError::NoBatch(batch_id))
    }

    /// One batch.
    pub async fn batch(&self, batch_id: &str) -> Result<Option<Batch>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(select_batch!("WHERE batch_id = $1"))
                .bind(batch_id)
                .fetch_optional(p)
                .await?
        }))
    }

    /// Every batch, newest first.
    pub async fn batches(&self) -> Result<Vec<Batch>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(select_batch!("ORDER BY opened_at DESC, batch_id DESC"))
                .fetch_all(p)
                .await?
        }))
    }

    /// Puts the inserted piece `piece_id` into the open batch `batch_id`. Refused when the
    /// batch is not open, the piece is not inserted (already batched included: a piece is
    /// in one batch) or belongs to another product.
    pub async fn add_to_batch(
        &self,
        batch_id: &str,
        piece_id: &str,
        actor: &str,
    ) -> Result<(), BatchError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let batch = lock_batch(&mut tx, batch_id).await?;
        expect_state(&batch, BatchState::Open, "no piece can join it")?;
        let piece: Option<(String, String)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as("SELECT state, product FROM mail_pieces WHERE piece_id = $1")
                .bind(piece_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        });
        let (state, product) = piece.ok_or_else(|| BatchError::NoPiece(piece_id.to_string()))?;
        if state != PieceState::Inserted.as_str() {
            return Err(BatchError::PieceNotInserted {
                piece_id: piece_id.to_string(),
                state,
            });
        }
        if product != batch.product {
            return Err(BatchError::WrongProduct {
                piece_id: piece_id.to_string(),
                piece_product: product,
                batch_id: batch.batch_id,
                batch_product: batch.product,
            });
        }
        let joined = join(&mut tx, now, &batch, Some(piece_id)).await?;
        if joined.len() != 1 {
            return Err(StoreError::Conflict(format!(
                "piece {piece_id} changed while joining batch {batch_id}"
            ))
            .into());
        }
        audit_join(
            &mut tx,
            now,
            actor,
            &batch.batch_id,
            &[piece_id.to_string()],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts every inserted piece of `product` into the open batch of `dispatch_date`
    /// (opening it when needed). Returns the batch and how many pieces joined now.
    pub async fn batch_inserted(
        &self,
        product: &str,
        dispatch_date: &str,
        actor: &str,
    ) -> Result<(Batch, u64), BatchError> {
        let batch = self.open_batch(product, dispatch_date, actor).await?;
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let batch = lock_batch(&mut tx, &batch.batch_id).await?;
        expect_state(&batch, BatchState::Open, "no piece can join it")?;
        let ids = join(&mut tx, now, &batch, None).await?;
        let n = ids.len() as u64;
        audit_join(&mut tx, now, actor, &batch.batch_id, &ids).await?;
        tx.commit().await?;
        Ok((batch, n))
    }

    /// Inserted pieces of `product` that no batch holds yet.
    pub async fn pieces_waiting(&self, product: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT COUNT(*) FROM mail_pieces \
                 WHERE state = 'inserted' AND batch_id IS NULL AND product = $1",
            )
            .bind(product)
            .fetch_one(p)
            .await?
        });
        Ok(n)
    }

    /// Closes batch `batch_id`: numbers its pieces in presort order (domestic pieces by
    /// postcode, then foreign ones by country and postcode; piece id last), writes its manifest and seals the batch with the manifest's SHA-256, all in one
    /// transaction. `pause` holds the transaction open before the seal (crash drill only).
    pub async fn close_batch(
        &self,
        batch_id: &str,
        actor: &str,
        pause: Option<std::time::Duration>,
    ) -> Result<Manifest, BatchError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let batch = lock_batch(&mut tx, batch_id).await?;
        expect_state(&batch, BatchState::Open, "it is already sealed")?;
        // Byte order on both backends (PostgreSQL would otherwise sort by its locale), so
        // that the same batch gives the same manifest wherever it is closed.
        on_tx!(&mut tx, |c, pg| {
            let sql = if pg {
                "UPDATE mail_pieces SET sequence = s.seq FROM (
                     SELECT piece_id AS pid, ROW_NUMBER() OVER (ORDER BY country <> 'FR',
                         country COLLATE \"C\", postcode COLLATE \"C\", piece_id COLLATE \"C\") AS seq
                     FROM mail_pieces WHERE batch_id = $1) AS s
                 WHERE mail_pieces.piece_id = s.pid"
            } else {
                "UPDATE mail_pieces SET sequence = s.seq FROM (
                     SELECT piece_id AS pid, ROW_NUMBER() OVER (ORDER BY country <> 'FR',
                         country, postcode, piece_id) AS seq
                     FROM mail_pieces WHERE batch_id = $1) AS s
                 WHERE mail_pieces.piece_id = s.pid"
            };
            sqlx::query(sql)
                .bind(batch_id)
                .execute(&mut *c)
                .await
                .map_err(StoreError::from)?;
        });
        let lines = lines_in(&mut tx, batch_id).await?;
        if lines.is_empty() {
            return Err(BatchError::Empty(batch_id.to_string()));
        }
        let mut sealed = batch.clone();
        let built = build(&sealed, &lines)?;
        if let Some(p) = pause {
            tracing::warn!(
                batch = batch_id,
                "crash drill: holding the closing transaction"
            );
            tokio::time::sleep(p).await;
        }
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE postal_batches SET state = 'closed', pieces = $1, weight_g = $2,
                     manifest_sha256 = $3, closed_at = $4, closed_by = $5
                 WHERE batch_id = $6 AND state = 'open'",
            )
            .bind(built.totals.pieces as i64)
            .bind(built.totals.weight_g as i64)
            .bind(&built.sha256)
            .bind(now)
            .bind(actor)
            .bind(batch_id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "batch.closed",
                entity_type: "postal_batch",
                entity_id: batch_id,
                before: Some(json!({ "state": "open" })),
                after: Some(json!({
                    "state": "closed",
                    "pieces": built.totals.pieces,
                    "weight_g": built.totals.weight_g,
                    "manifest_sha256": built.sha256,
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        sealed.state = BatchState::Closed.as_str().into();
        sealed.pieces = Some(built.totals.pieces as i64);
        sealed.weight_g = Some(built.totals.weight_g as i64);
        sealed.manifest_sha256 = Some(built.sha256.clone());
        sealed.closed_at = Some(now);
        Ok(Manifest {
            batch: sealed,
            ..built
        })
    }

    /// The manifest of a closed (or handed-over) batch, rebuilt from the database: the same
    /// bytes every time, checked against the hash the batch was sealed with.
    pub async fn batch_manifest(&self, batch_id: &str) -> Result<Manifest, BatchError> {
        let batch = self
            .batch(batch_id)
            .await?
            .ok_or_else(|| BatchError::NoBatch(batch_id.to_string()))?;
        let Some(sealed) = batch.manifest_sha256.clone() else {
            return Err(BatchError::WrongState {
                batch_id: batch.batch_id,
                state: batch.state,
                what: "close it first (cqcfab post batch close)",
            });
        };
        let lines = lines_read(self, batch_id).await?;
        let built = build(&batch, &lines)?;
        if built.sha256 != sealed {
            return Err(BatchError::Tampered {
                batch_id: batch_id.to_string(),
                sealed,
                actual: built.sha256,
            });
        }
        Ok(Manifest { batch, ..built })
    }

    /// Hands closed batch `batch_id` to the post: every piece dispatched, every card
    /// dispatched (audited), and a `piece.dispatched` event per piece for the portal.
    /// Returns the number of pieces.
    pub async fn hand_over(&self, batch_id: &str, actor: &str) -> Result<u64, BatchError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let batch = lock_batch(&mut tx, batch_id).await?;
        expect_state(
            &batch,
            BatchState::Closed,
            "only a closed batch goes to the post",
        )?;
        let pieces: Vec<(String, i64, i64)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "SELECT piece_id, card_id, sequence FROM mail_pieces WHERE batch_id = $1 \
                 ORDER BY sequence",
            )
            .bind(batch_id)
            .fetch_all(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE mail_pieces SET state = 'dispatched', updated_at = $1 \
                 WHERE batch_id = $2 AND state = 'batched'",
            )
            .bind(now)
            .bind(batch_id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
            sqlx::query(
                "UPDATE postal_batches SET state = 'handed_over', handed_over_at = $1, \
                 handed_over_by = $2 WHERE batch_id = $3",
            )
            .bind(now)
            .bind(actor)
            .bind(batch_id)
            .execute(&mut *c)
            .await
            .map_err(StoreError::from)?;
        });
        for chunk in pieces.chunks(HAND_OVER_CHUNK) {
            let mut events = Vec::with_capacity(chunk.len());
            for (piece_id, card_id, sequence) in chunk {
                let card = cards::by_id_in(&mut tx, *card_id).await?;
                cards::apply(
                    &mut tx,
                    now,
                    &card,
                    CardEvent::Dispatch,
                    actor,
                    None,
                    json!({ "piece_id": piece_id, "batch_id": batch_id }),
                )
                .await?;
                events.push((
                    "piece.dispatched",
                    json!({
                        "piece_id": piece_id,
                        "tracking_number": piece_id,
                        "card_number": card.card_number,
                        "request_id": card.request_id,
                        "product": batch.product,
                        "batch_id": batch_id,
                        "sequence": sequence,
                    }),
                ));
            }
            outbox::push_many(&mut tx, now, &events).await?;
        }
        audit::append(
            &mut tx,
            now,
            &Entry {
                actor,
                action: "batch.handed_over",
                entity_type: "postal_batch",
                entity_id: batch_id,
                before: Some(json!({ "state": "closed" })),
                after: Some(json!({ "state": "handed_over", "pieces": pieces.len() })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(pieces.len() as u64)
    }
}

impl Store {
    /// Benchmarks only: opens the batch of `product` and `dispatch_date` and fills it with
    /// `pieces` (piece id, address lines) of card `card_id`, already dispatched so that one
    /// card can carry them all (a card has one live piece). Returns the batch id.
    pub async fn fill_batch_for_bench(
        &self,
        product: &str,
        dispatch_date: &str,
        card_id: i64,
        pieces: impl Iterator<Item = (String, Vec<String>)>,
    ) -> Result<String, BatchError> {
        let batch = self.open_batch(product, dispatch_date, "bench").await?;
        let now = self.clock().now_ms();
        let rows: Vec<(String, String, String)> = pieces
            .map(|(id, lines)| {
                let postcode = lines
                    .last()
                    .map(|l| l.chars().take(5).collect())
                    .unwrap_or_default();
                let json = serde_json::to_string(&lines).unwrap_or_default();
                (id, json, postcode)
            })
            .collect();
        let mut tx = self.begin().await?;
        for chunk in rows.chunks(2000) {
            on_tx!(&mut tx, |c, pg| {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO mail_pieces (piece_id, card_id, product, address, postcode, \
                     country, state, created_at, updated_at, batch_id) ",
                );
                q.push_values(chunk, |mut b, (id, address, postcode)| {
                    b.push_bind(id.as_str())
                        .push_bind(card_id)
                        .push_bind(product)
                        .push_bind(address.as_str())
                        .push_bind(postcode.as_str())
                        .push_bind("FR")
                        .push_bind("dispatched")
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(batch.batch_id.as_str());
                });
                q.build().execute(&mut *c).await.map_err(StoreError::from)?;
            });
        }
        tx.commit().await?;
        Ok(batch.batch_id)
    }
}

/// Builds the manifest, its totals and hash from the batch's pieces in sequence order.
fn build(batch: &Batch, lines: &[PieceLine]) -> Result<Manifest, BatchError> {
    let cities: Vec<String> = lines
        .iter()
        .map(|(_, _, address, postcode, country)| manifest::city_of(address, postcode, country))
        .collect();
    let rows: Vec<Row<'_>> = lines
        .iter()
        .zip(&cities)
        .enumerate()
        .map(
            |(i, ((piece_id, product, address, postcode, country), city))| Row {
                sequence: i as u32 + 1,
                piece_id,
                product,
                address,
                postcode,
                city,
                country,
                weight_g: PIECE_WEIGHT_G,
            },
        )
        .collect();
    let csv = manifest::write(&batch.batch_id, &rows)?;
    let sha256 = hex::encode(Sha256::digest(&csv));
    let totals = manifest::totals(&rows);
    let totals_csv = manifest::totals_csv(&batch.batch_id, &totals, &sha256)?;
    let by_departement = crate::post::cover::by_departement(&rows);
    Ok(Manifest {
        batch: batch.clone(),
        csv,
        totals_csv,
        sha256,
        by_departement,
        totals,
    })
}

/// The batch's pieces in sequence order, read as one text value built by the database:
/// fields separated by the ASCII unit separator (0x1F), rows by the record separator (0x1E),
/// neither of which an address line can hold (intake refuses control characters). Fetched
/// row by row, 100,000 pieces took 1.2-1.6 s on SQLite (each row crosses sqlx's worker
/// channel); as one value, a fraction of that.
async fn lines_in(tx: &mut Tx, batch_id: &str) -> Result<Vec<PieceLine>, StoreError> {
    let rows: Vec<(String,)> = on_tx!(tx, |c, pg| {
        let sql = if pg { PG_LINES } else { SQLITE_LINES };
        sqlx::query_as(sql)
            .bind(batch_id)
            .fetch_all(&mut *c)
            .await?
    });
    parse_lines(batch_id, rows)
}

/// [`lines_in`] on the reader pool: a sealed batch never changes, so its export needs no
/// write transaction (and does not queue behind writers on SQLite).
async fn lines_read(store: &Store, batch_id: &str) -> Result<Vec<PieceLine>, StoreError> {
    let rows: Vec<(String,)> = on_read!(store, |p, pg| {
        let sql = if pg { PG_LINES } else { SQLITE_LINES };
        sqlx::query_as(sql).bind(batch_id).fetch_all(p).await?
    });
    parse_lines(batch_id, rows)
}

/// One text value per batch: fields joined by the ASCII unit separator (0x1F), rows by the
/// record separator (0x1E), neither of which an address line can hold (intake refuses
/// control characters). Fetched row by row, 100,000 pieces took 1.2-1.6 s on SQLite (each row
/// crosses sqlx's worker channel); as one value, about half of that.
const SQLITE_LINES: &str =
    "SELECT group_concat(piece_id || char(31) || product || char(31) || address
                                 || char(31) || postcode || char(31) || country, char(30)
                                 ORDER BY sequence)
             FROM mail_pieces WHERE batch_id = $1 HAVING COUNT(*) > 0";
const PG_LINES: &str =
    "SELECT string_agg(concat_ws(chr(31), piece_id, product, address, postcode, country),
                               chr(30) ORDER BY sequence)
             FROM mail_pieces WHERE batch_id = $1 HAVING COUNT(*) > 0";

fn parse_lines(batch_id: &str, rows: Vec<(String,)>) -> Result<Vec<PieceLine>, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("pieces of batch {batch_id}: {what}"));
    let Some((text,)) = rows.into_iter().next() else {
        return Ok(Vec::new());
    };
    text.split('\u{1e}')
        .map(|row| {
            let f: Vec<&str> = row.split('\u{1f}').collect();
            let [piece_id, product, address, postcode, country] = f[..] else {
                return Err(corrupt(&format!("a row of {} fields", f.len())));
            };
            let address: Vec<String> =
                serde_json::from_str(address).map_err(|e| corrupt(&e.to_string()))?;
            Ok((
                piece_id.to_string(),
                product.to_string(),
                address,
                postcode.to_string(),
                country.to_string(),
            ))
        })
        .collect()
}

/// Reads batch `batch_id` and, on PostgreSQL, locks its row until the transaction ends: a
/// piece joining and the batch closing take the same lock, so a piece can never join a batch
/// whose manifest is being written (SQLite has one writer, which gives the same order).
async fn lock_batch(tx: &mut Tx, batch_id: &str) -> Result<Batch, BatchError> {
    let b: Option<Batch> = on_tx!(tx, |c, pg| {
        if pg {
            sqlx::query_as(select_batch!("WHERE batch_id = $1 FOR UPDATE"))
                .bind(batch_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        } else {
            sqlx::query_as(select_batch!("WHERE batch_id = $1"))
                .bind(batch_id)
                .fetch_optional(&mut *c)
                .await
                .map_err(StoreError::from)?
        }
    });
    b.ok_or_else(|| BatchError::NoBatch(batch_id.to_string()))
}

async fn open_batch_in(
    tx: &mut Tx,
    product: &str,
    dispatch_date: &str,
) -> Result<Option<Batch>, StoreError> {
    Ok(on_tx!(tx, |c, pg| {
        sqlx::query_as(select_batch!(
            "WHERE product = $1 AND dispatch_date = $2 AND state = 'open'"
        ))
        .bind(product)
        .bind(dispatch_date)
        .fetch_optional(&mut *c)
        .await?
    }))
}

fn expect_state(batch: &Batch, want: BatchState, what: &'static str) -> Result<(), BatchError> {
    if batch.state() == Some(want) {
        Ok(())
    } else {
        Err(BatchError::WrongState {
            batch_id: batch.batch_id.clone(),
            state: batch.state.clone(),
            what,
        })
    }
}

/// Moves one inserted piece (or, with `None`, every inserted piece of the batch's product)
/// into `batch`; returns the pieces that joined, by piece id.
async fn join(
    tx: &mut Tx,
    now: i64,
    batch: &Batch,
    piece_id: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let mut ids: Vec<(String,)> = on_tx!(tx, |c, pg| {
        sqlx::query_as(
            "UPDATE mail_pieces SET batch_id = $1, state = 'batched', updated_at = $2 \
             WHERE state = 'inserted' AND batch_id IS NULL AND product = $3 \
               AND ($4 IS NULL OR piece_id = $4) RETURNING piece_id",
        )
        .bind(&batch.batch_id)
        .bind(now)
        .bind(&batch.product)
        .bind(piece_id)
        .fetch_all(&mut *c)
        .await?
    });
    ids.sort();
    Ok(ids.into_iter().map(|(p,)| p).collect())
}

async fn audit_join(
    tx: &mut Tx,
    now: i64,
    actor: &str,
    batch_id: &str,
    pieces: &[String],
) -> Result<(), StoreError> {
    for chunk in pieces.chunks(HAND_OVER_CHUNK) {
        let entries: Vec<Entry<'_>> = chunk
            .iter()
            .map(|p| Entry {
                actor,
                action: "piece.batched",
                entity_type: "mail_piece",
                entity_id: p,
                before: Some(json!({ "state": "inserted" })),
                after: Some(json!({ "state": "batched", "batch_id": batch_id })),
                reason: None,
            })
            .collect();
        audit::append_many(tx, now, &entries).await?;
    }
    Ok(())
}
