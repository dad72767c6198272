//! Counts for the operators' gauges (`/metrics`, and the console's dashboard to come).

use super::{Store, StoreError};

/// Rows per state of the main tables, read in one go at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub cards: Vec<(String, i64)>,
    /// (kind, state, rows)
    pub jobs: Vec<(String, String, i64)>,
    /// pending, delivered or dead
    pub events: Vec<(String, i64)>,
    pub quality_cases: Vec<(String, i64)>,
    /// Returned cards in a numbered storage slot.
    pub held_in_slots: i64,
}

impl Store {
    pub async fn counts(&self) -> Result<Counts, StoreError> {
        Ok(on_read!(self, |p, pg| {
            let cards =
                sqlx::query_as("SELECT state, COUNT(*) FROM cards GROUP BY state ORDER BY state")
                    .fetch_all(p)
                    .await?;
            let jobs = sqlx::query_as(
                "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
            )
            .fetch_all(p)
            .await?;
            let events = sqlx::query_as(
                "SELECT CASE WHEN delivered_at IS NOT NULL THEN 'delivered' \
                 WHEN dead_at IS NOT NULL THEN 'dead' ELSE 'pending' END AS status, COUNT(*) \
                 FROM outbox GROUP BY 1 ORDER BY 1",
            )
            .fetch_all(p)
            .await?;
            let quality_cases = sqlx::query_as(
                "SELECT state, COUNT(*) FROM quality_cases GROUP BY state ORDER BY state",
            )
            .fetch_all(p)
            .await?;
            let (held_in_slots,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM mail_returns WHERE slot IS NOT NULL")
                    .fetch_one(p)
                    .await?;
            Counts {
                cards,
                jobs,
                events,
                quality_cases,
                held_in_slots,
            }
        }))
    }
}
