//! UPU S10 item-id ranges and their allocation (docs/post.md). The post allots a bureau blocks
//! of ids for one service indicator; each id is handed out once, in order, inside the
//! transaction that records the piece it names, so a rolled-back piece gives its id back and a
//! committed one can never be handed out again.

use serde_json::json;

use super::audit::{self, Entry};
use super::{Store, StoreError, Tx};
use crate::post::s10::{MAX_SERIAL, S10Id, ServiceIndicator};

/// Why a range could not be added or an id not allocated.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("range {0} was already added")]
    Duplicate(String),
    #[error(
        "range {range}: serials {first:08}-{last:08} overlap range {other} of service {service}"
    )]
    Overlap {
        range: String,
        service: String,
        first: u32,
        last: u32,
        other: String,
    },
    #[error("range {range}: {first:08}-{last:08} is empty or beyond 8 digits")]
    Bounds {
        range: String,
        first: u32,
        last: u32,
    },
    #[error("no S10 id left for service {0}: ask the post for a new range (cqcfab post range add)")]
    Exhausted(String),
}

/// One range and how far it is used.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RangeLine {
    pub range_id: String,
    pub service: String,
    pub first_serial: i64,
    pub last_serial: i64,
    pub next_serial: i64,
}

impl RangeLine {
    /// Ids not handed out yet.
    pub fn left(&self) -> i64 {
        self.last_serial + 1 - self.next_serial
    }
}

impl Store {
    /// Records a range allotted by the post. Refuses a range id used before and a range that
    /// overlaps another of the same service indicator.
    pub async fn add_s10_range(
        &self,
        range_id: &str,
        service: ServiceIndicator,
        first: u32,
        last: u32,
        actor: &str,
    ) -> Result<(), RangeError> {
        if last < first || last > MAX_SERIAL {
            return Err(RangeError::Bounds {
                range: range_id.to_string(),
                first,
                last,
            });
        }
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let clash: Option<(String,)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "SELECT range_id FROM s10_ranges
                 WHERE range_id = $1 OR (service = $2 AND first_serial <= $4 AND last_serial >= $3)
                 LIMIT 1",
            )
            .bind(range_id)
            .bind(service.as_str())
            .bind(i64::from(first))
            .bind(i64::from(last))
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        if let Some((other,)) = clash {
            return Err(if other == range_id {
                RangeError::Duplicate(other)
            } else {
                RangeError::Overlap {
                    range: range_id.to_string(),
                    service: service.to_string(),
                    first,
                    last,
                    other,
                }
            });
        }
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO s10_ranges
                 (range_id, service, first_serial, last_serial, next_serial, added_at, added_by)
                 VALUES ($1, $2, $3, $4, $3, $5, $6)",
            )
            .bind(range_id)
            .bind(service.as_str())
            .bind(i64::from(first))
            .bind(i64::from(last))
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
                action: "s10.range_added",
                entity_type: "s10_range",
                entity_id: range_id,
                before: None,
                after: Some(json!({
                    "service": service.as_str(),
                    "first": format!("{first:08}"),
                    "last": format!("{last:08}"),
                    "count": last - first + 1,
                })),
                reason: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every range, by service and first serial.
    pub async fn s10_ranges(&self) -> Result<Vec<RangeLine>, StoreError> {
        let rows: Vec<RangeLine> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT range_id, service, first_serial, last_serial, next_serial
                 FROM s10_ranges ORDER BY service, first_serial",
            )
            .fetch_all(p)
            .await?
        });
        Ok(rows)
    }
}

/// The next unused id of `service`, inside `tx`: from the oldest range with ids left. The
/// range row is updated in the same transaction, so two allocations never return the same id
/// (PostgreSQL serialises them on the row; SQLite has one writer).
pub async fn allocate(tx: &mut Tx, service: ServiceIndicator) -> Result<S10Id, RangeError> {
    // On PostgreSQL a concurrent allocation may use up the chosen range between our choice and
    // our update (the update then matches nothing): choose again, the next range has ids.
    for _ in 0..3 {
        let row: Option<(i64,)> = on_tx!(tx, |c, pg| {
            sqlx::query_as(
                "UPDATE s10_ranges SET next_serial = next_serial + 1
                 WHERE range_id = (SELECT range_id FROM s10_ranges
                                   WHERE service = $1 AND next_serial <= last_serial
                                   ORDER BY first_serial LIMIT 1)
                   AND next_serial <= last_serial
                 RETURNING next_serial - 1",
            )
            .bind(service.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(StoreError::from)?
        });
        if let Some((serial,)) = row {
            let serial =
                u32::try_from(serial).map_err(|_| RangeError::Exhausted(service.to_string()))?;
            return S10Id::new(service, serial)
                .map_err(|_| RangeError::Exhausted(service.to_string()));
        }
    }
    Err(RangeError::Exhausted(service.to_string()))
}
