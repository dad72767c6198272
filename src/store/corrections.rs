//! The driver's corrections of stopped cards (docs/corrections.md), and what production said
//! when it stopped them: rows in, rows out.

use serde_json::Value;

use super::{Store, StoreError, Tx};

/// Production's account of a stop, as the audit trail recorded it (`card.stop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStop {
    pub at: i64,
    /// The stop code (`text_does_not_fit` …).
    pub code: String,
    /// The request fields the driver must correct (`holder.surname` …), empty when the fault
    /// is ours.
    pub fields: Vec<String>,
    /// Code and detail as audited (no personal data).
    pub reason: Option<String>,
}

/// The answer given to the correction of `request_id` whose body has `fingerprint`, read
/// inside `tx` (the same body sent again is answered with it).
pub async fn answer_in(
    tx: &mut Tx,
    request_id: &str,
    fingerprint: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_tx!(tx, |c, pg| {
        sqlx::query_as(
            "SELECT answer_body FROM request_corrections WHERE request_id = $1 AND fingerprint = $2",
        )
        .bind(request_id)
        .bind(fingerprint)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(row.map(|(a,)| a))
}

/// Records a correction taken, with its answer, inside `tx`. A second row for the same body is
/// refused by the database (two identical corrections racing: one wins).
pub async fn record(
    tx: &mut Tx,
    now: i64,
    request_id: &str,
    fingerprint: &str,
    by: &str,
    answer: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, |c, pg| {
        sqlx::query(
            "INSERT INTO request_corrections (request_id, fingerprint, received_at, received_by, answer_body) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request_id)
        .bind(fingerprint)
        .bind(now)
        .bind(by)
        .bind(answer)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

impl Store {
    /// The answer given to an earlier correction of `request_id` with this body, if any.
    pub async fn correction_answer(
        &self,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT answer_body FROM request_corrections WHERE request_id = $1 AND fingerprint = $2",
            )
            .bind(request_id)
            .bind(fingerprint)
            .fetch_optional(p)
            .await?
        });
        Ok(row.map(|(a,)| a))
    }

    /// How many corrections were taken for `request_id`.
    pub async fn correction_count(&self, request_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT COUNT(*) FROM request_corrections WHERE request_id = $1")
                .bind(request_id)
                .fetch_one(p)
                .await?
        });
        Ok(n)
    }

    /// The last stop of card `card_number`, from its audit trail; `None` if it never stopped.
    pub async fn last_stop(&self, card_number: &str) -> Result<Option<StoredStop>, StoreError> {
        let history = self.audit_history("card", card_number).await?;
        Ok(history
            .into_iter()
            .rev()
            .find(|r| r.action == "card.stop")
            .map(|r| {
                let after: Value = r
                    .after
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok())
                    .unwrap_or(Value::Null);
                let stop = &after["stop"];
                StoredStop {
                    at: r.at,
                    code: stop["code"].as_str().unwrap_or("unknown").to_string(),
                    fields: stop["fields"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                    reason: r.reason,
                }
            }))
    }
}
