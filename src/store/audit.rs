//! The audit trail: append-only, hash-chained records of every state change.
//!
//! Each record's hash covers its fields and the previous record's hash, so editing or deleting
//! any row breaks every hash after it; `audit_head` holds the last sequence number and hash so
//! that cutting rows off the end is seen too. Triggers refuse UPDATE and DELETE; the chain is
//! what catches someone who drops the triggers or edits the file. Records carry identifiers
//! and states, never photos or addresses, so purging personal data never touches the chain.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{Parts, Store, StoreError, Tx};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const PAGE: i64 = 5_000;

/// What is being recorded.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<&'a str>,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Record {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl Record {
    fn computed_hash(&self) -> String {
        chain_hash(
            self.seq,
            self.at,
            [
                Some(self.actor.as_str()),
                Some(self.action.as_str()),
                Some(self.entity_type.as_str()),
                Some(self.entity_id.as_str()),
                self.before.as_deref(),
                self.after.as_deref(),
                self.reason.as_deref(),
            ],
            &self.prev_hash,
        )
    }
}

/// SHA-256 over a version tag, seq, time, each field length-prefixed (absent fields marked
/// apart from empty ones), and the previous hash. Length prefixes make the encoding
/// unambiguous: no two different records share an input.
fn chain_hash(seq: i64, at: i64, fields: [Option<&str>; 7], prev_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"cqcfab-audit-v1");
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    for f in fields {
        match f {
            Some(s) => {
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            None => h.update(u64::MAX.to_be_bytes()),
        }
    }
    h.update(prev_hash.as_bytes());
    hex::encode(h.finalize())
}

/// Appends `entry` inside `tx`; returns its sequence number and hash.
pub async fn append(tx: &mut Tx, at: i64, entry: &Entry<'_>) -> Result<(i64, String), StoreError> {
    let mut v = append_many(tx, at, std::slice::from_ref(entry)).await?;
    v.pop()
        .ok_or_else(|| StoreError::Corrupt("audit append returned nothing".into()))
}

/// Appends `entries` in order inside `tx`, in two round trips whatever their number:
/// [`reserve`] the sequence numbers, then the rows and the new head in one statement.
pub async fn append_many(
    tx: &mut Tx,
    at: i64,
    entries: &[Entry<'_>],
) -> Result<Vec<(i64, String)>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let (first, prev) = reserve(tx, entries.len()).await?;
    let rows = chain(at, first, prev, entries);
    let Some(last) = rows.last() else {
        return Ok(Vec::new());
    };
    on_tx!(tx, |c, pg| {
        let mut q = QueryBuilder::new("");
        let mut parts = Parts::new(pg);
        parts.next(&mut q);
        push_insert(&mut q, &rows);
        parts.last(&mut q);
        push_head(&mut q, last);
        q.build().execute(&mut *c).await?;
    });
    Ok(rows.into_iter().map(|r| (r.seq, r.hash)).collect())
}

/// Moves the head forward by `count` and returns the first sequence number reserved and the
/// hash to chain from. The head row stays locked until the transaction ends, which orders
/// concurrent appenders (several nodes on PostgreSQL) without gaps: keep what follows short.
pub async fn reserve(tx: &mut Tx, count: usize) -> Result<(i64, String), StoreError> {
    let count =
        i64::try_from(count).map_err(|_| StoreError::Corrupt("too many audit records".into()))?;
    let (last, prev): (i64, String) = on_tx!(tx, |c, pg| {
        sqlx::query_as("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
            .bind(count)
            .fetch_one(&mut *c)
            .await?
    });
    Ok((last - count + 1, prev))
}

/// A record ready to insert: its place in the chain and its hash.
#[derive(Debug, Clone)]
pub struct Chained {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Chains `entries` from `prev` starting at sequence number `first`.
pub fn chain(at: i64, first: i64, mut prev: String, entries: &[Entry<'_>]) -> Vec<Chained> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let seq = first + i as i64;
        let before = e.before.as_ref().map(Value::to_string);
        let after = e.after.as_ref().map(Value::to_string);
        let hash = chain_hash(
            seq,
            at,
            [
                Some(e.actor),
                Some(e.action),
                Some(e.entity_type),
                Some(e.entity_id),
                before.as_deref(),
                after.as_deref(),
                e.reason,
            ],
            &prev,
        );
        out.push(Chained {
            seq,
            at,
            actor: e.actor.to_string(),
            action: e.action.to_string(),
            entity_type: e.entity_type.to_string(),
            entity_id: e.entity_id.to_string(),
            before,
            after,
            reason: e.reason.map(str::to_string),
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
    }
    out
}

/// Appends a multi-row insert of chained records.
pub(crate) fn push_insert<DB>(q: &mut QueryBuilder<DB>, rows: &[Chained])
where
    DB: Database,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
{
    q.push("INSERT INTO audit_log (seq, at, actor, action, entity_type, entity_id, before, after, reason, prev_hash, hash) ");
    q.push_values(rows, |mut b, r| {
        b.push_bind(r.seq)
            .push_bind(r.at)
            .push_bind(r.actor.as_str())
            .push_bind(r.action.as_str())
            .push_bind(r.entity_type.as_str())
            .push_bind(r.entity_id.as_str())
            .push_bind(r.before.as_deref())
            .push_bind(r.after.as_deref())
            .push_bind(r.reason.as_deref())
            .push_bind(r.prev_hash.as_str())
            .push_bind(r.hash.as_str());
    });
}

/// Appends the update of the chain head to `last`, the last record appended.
pub(crate) fn push_head<DB>(q: &mut QueryBuilder<DB>, last: &Chained)
where
    DB: Database,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
{
    q.push("UPDATE audit_head SET hash = ");
    q.push_bind(last.hash.as_str());
    q.push(" WHERE id = 1");
}

/// One broken link found by [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A sequence number is missing (a deleted row).
    Gap { expected: i64, found: i64 },
    /// A row's content no longer matches its hash (an edited row).
    HashMismatch { seq: i64 },
    /// A row does not point at the hash of the row before it.
    BrokenLink { seq: i64 },
    /// The head says the chain is longer or ends elsewhere (rows cut off the end, or the head
    /// edited).
    Head { head_seq: i64, last_seq: i64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Gap { expected, found } => {
                write!(f, "record {expected} is missing (next found: {found})")
            }
            Problem::HashMismatch { seq } => write!(
                f,
                "record {seq} was altered: its content does not match its hash"
            ),
            Problem::BrokenLink { seq } => {
                write!(f, "record {seq} does not chain to the record before it")
            }
            Problem::Head { head_seq, last_seq } => write!(
                f,
                "the chain head records {head_seq} entries ending with another hash, the log ends at {last_seq}"
            ),
        }
    }
}

/// Result of a full verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub records: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Appends one record in its own transaction (for callers that change nothing else).
    pub async fn audit(&self, entry: &Entry<'_>) -> Result<(i64, String), StoreError> {
        let mut tx = self.begin().await?;
        let r = append(&mut tx, self.clock().now_ms(), entry).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Walks the whole chain in pages and lists every problem found.
    pub async fn verify_audit(&self) -> Result<Report, StoreError> {
        let (head_seq, head_hash): (i64, String) = on_read!(self, |p, pg| {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(p)
                .await?
        });
        let mut problems = Vec::new();
        let mut expected = 1i64;
        let mut prev_hash = GENESIS.to_string();
        let mut last_seq = 0i64;
        let mut records = 0i64;
        loop {
            let page: Vec<Record> = on_read!(self, |p, pg| {
                sqlx::query_as(
                    "SELECT seq, at, actor, action, entity_type, entity_id, before, after, reason, prev_hash, hash \
                     FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(last_seq)
                .bind(PAGE)
                .fetch_all(p)
                .await?
            });
            if page.is_empty() {
                break;
            }
            for r in &page {
                records += 1;
                if r.seq != expected {
                    problems.push(Problem::Gap {
                        expected,
                        found: r.seq,
                    });
                } else if r.prev_hash != prev_hash {
                    problems.push(Problem::BrokenLink { seq: r.seq });
                }
                if r.computed_hash() != r.hash {
                    problems.push(Problem::HashMismatch { seq: r.seq });
                }
                prev_hash = r.hash.clone();
                expected = r.seq + 1;
                last_seq = r.seq;
            }
        }
        if head_seq != last_seq || head_hash != prev_hash {
            problems.push(Problem::Head { head_seq, last_seq });
        }
        Ok(Report {
            records,
            head_seq,
            head_hash,
            problems,
        })
    }

    /// Every record about one entity, oldest first (a card's timeline).
    pub async fn audit_history(
        &self,
        entity_type: &str,
        entity_id: &str,
    ) -> Result<Vec<Record>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT seq, at, actor, action, entity_type, entity_id, before, after, reason, prev_hash, hash \
                 FROM audit_log WHERE entity_type = $1 AND entity_id = $2 ORDER BY seq",
            )
            .bind(entity_type)
            .bind(entity_id)
            .fetch_all(p)
            .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let a = chain_hash(
            1,
            0,
            [Some("a"), Some("b"), Some("c"), Some("d"), None, None, None],
            GENESIS,
        );
        let b = chain_hash(
            1,
            0,
            [
                Some("a"),
                Some("b"),
                Some("c"),
                Some("d"),
                Some(""),
                None,
                None,
            ],
            GENESIS,
        );
        assert_ne!(a, b);
        // Moving a character from one field to the next changes the hash (length prefixes).
        let c = chain_hash(
            1,
            0,
            [
                Some("ab"),
                Some("c"),
                Some("c"),
                Some("d"),
                None,
                None,
                None,
            ],
            GENESIS,
        );
        let d = chain_hash(
            1,
            0,
            [
                Some("a"),
                Some("bc"),
                Some("c"),
                Some("d"),
                None,
                None,
                None,
            ],
            GENESIS,
        );
        assert_ne!(c, d);
    }
}
