//! The job queue with leases.
//!
//! A worker *claims* a job and receives a lease (a random token and an expiry). Only the holder
//! of a live lease may heartbeat, complete or fail the job; a worker that stalled past its
//! lease finds its result refused, because by then another worker may own the job. Jobs carry
//! a de-duplication key so that enqueuing the same work twice makes one job. Attempts count
//! claims; a job whose attempts are spent ends `failed` with its last error kept.
//!
//! Claims are one statement (`UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …`): on SQLite
//! that needs no read-then-write upgrade, on PostgreSQL the inner select takes
//! `FOR UPDATE SKIP LOCKED`, so concurrent claimers on several nodes never wait for or take the
//! same row.

use std::fmt;

use serde_json::Value;
use sqlx::{Database, Encode, QueryBuilder, Type};
use thiserror::Error;
use uuid::Uuid;

use super::{Store, StoreError, Tx};

/// States of a job row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Work to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    /// Enqueuing a second job with the same key returns the first one.
    pub dedup_key: Option<String>,
    pub max_attempts: u32,
    /// Not before this instant (Unix ms); `None` for now.
    pub run_after: Option<i64>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        NewJob {
            kind: kind.into(),
            payload,
            dedup_key: None,
            max_attempts: 5,
            run_after: None,
        }
    }

    pub fn dedup(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// Proof of ownership of a running job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: i64,
    pub token: String,
    pub expires_at: i64,
}

/// A job as handed to a worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: Value,
    /// This claim's attempt number, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub lease: Lease,
}

/// A job row, for status pages and tests.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub dedup_key: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub last_error: Option<String>,
}

/// Why a lease was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseRefusal {
    /// The lease ran out; the job may belong to someone else by now.
    Expired,
    /// Another claim holds the job (ours expired and it was claimed again).
    Foreign,
    /// The job is no longer running (completed or failed already).
    NotRunning,
    NoSuchJob,
}

#[derive(Debug, Error)]
pub enum JobError {
    #[error("lease on job {job_id} refused: {reason:?}")]
    Lease { job_id: i64, reason: LeaseRefusal },
    #[error("job payload is not JSON: {0}")]
    Payload(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Store(StoreError::Database(e))
    }
}

/// What `fail` did with the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again, not before this instant.
    Retry { at: i64 },
    /// Attempts spent: the job is `failed` for good.
    Dead,
}

/// Wait before attempt n+1: 2 s, 4 s, 8 s … capped at 15 minutes.
pub fn backoff_ms(attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    (2_000i64 << exp).min(15 * 60 * 1000)
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    kind: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
}

/// The claim, one statement: a job whose lease ran out (attempts left) first, else the oldest
/// runnable queued job. Each branch is a scalar subquery on its own partial index, so a claim
/// costs the same with a million finished jobs in the table. A queued job is runnable once
/// its `run_after` has passed, or at once if it was never put off (`run_after` no later than
/// its creation): a clock stepped back an hour must not hold up every job queued before the
/// step for that hour (drill in tests/drills_env.rs).
const CLAIM_SQLITE: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, \
     last_error = CASE WHEN state = 'running' \
         THEN COALESCE(last_error || '; ', '') || 'lease of ' || COALESCE(lease_owner, '?') || ' expired' \
         ELSE last_error END, \
     lease_token = $1, lease_owner = $2, lease_expires_at = $3, updated_at = $4 \
     WHERE id = COALESCE( \
         (SELECT id FROM jobs WHERE kind = $5 AND state = 'running' AND lease_expires_at <= $4 \
             AND attempts < max_attempts ORDER BY lease_expires_at LIMIT 1), \
         (SELECT id FROM jobs WHERE kind = $5 AND state = 'queued' \
             AND (run_after <= $4 OR run_after <= created_at) ORDER BY run_after, id LIMIT 1)) \
     RETURNING id, kind, payload, attempts, max_attempts";
/// The same on PostgreSQL, where concurrent claimers skip rows another claimer holds.
const CLAIM_POSTGRES: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, \
     last_error = CASE WHEN state = 'running' \
         THEN COALESCE(last_error || '; ', '') || 'lease of ' || COALESCE(lease_owner, '?') || ' expired' \
         ELSE last_error END, \
     lease_token = $1, lease_owner = $2, lease_expires_at = $3, updated_at = $4 \
     WHERE id = COALESCE( \
         (SELECT id FROM jobs WHERE kind = $5 AND state = 'running' AND lease_expires_at <= $4 \
             AND attempts < max_attempts ORDER BY lease_expires_at LIMIT 1 FOR UPDATE SKIP LOCKED), \
         (SELECT id FROM jobs WHERE kind = $5 AND state = 'queued' \
             AND (run_after <= $4 OR run_after <= created_at) \
             ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED)) \
     RETURNING id, kind, payload, attempts, max_attempts";
/// Jobs whose last allowed lease ran out: failed for good, with the reason. Run when a claim
/// finds nothing to do (such a job is never claimed again, so only its label waits).
const SWEEP: &str = "UPDATE jobs SET state = 'failed', finished_at = $1, \
     last_error = COALESCE(last_error || '; ', '') || 'lease of ' || COALESCE(lease_owner, '?') \
         || ' expired after the last attempt', \
     lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
     WHERE kind = $2 AND state = 'running' AND lease_expires_at <= $1 AND attempts >= max_attempts";

/// Enqueues inside `tx` (so the job exists if and only if the change that needs it commits).
/// Returns the job id and whether it was created (false: the dedup key existed).
pub async fn enqueue(tx: &mut Tx, now: i64, job: &NewJob) -> Result<(i64, bool), StoreError> {
    let payload = job.payload.to_string();
    let run_after = job.run_after.unwrap_or(now);
    on_tx!(tx, |c, pg| {
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO jobs (kind, payload, dedup_key, state, attempts, max_attempts, run_after, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $6) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        )
        .bind(&job.kind)
        .bind(&payload)
        .bind(job.dedup_key.as_deref())
        .bind(i64::from(job.max_attempts))
        .bind(run_after)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?;
        match inserted {
            Some((id,)) => Ok((id, true)),
            None => {
                let (id,): (i64,) = sqlx::query_as("SELECT id FROM jobs WHERE dedup_key = $1")
                    .bind(job.dedup_key.as_deref())
                    .fetch_one(&mut *c)
                    .await?;
                Ok((id, false))
            }
        }
    })
}

/// Appends a multi-row insert of jobs; a job whose dedup key exists is skipped (the
/// existing one stands).
pub(crate) fn push_insert<DB>(
    q: &mut QueryBuilder<DB>,
    now: i64,
    jobs: &[NewJob],
    payloads: &[String],
) where
    DB: Database,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
{
    q.push("INSERT INTO jobs (kind, payload, dedup_key, state, attempts, max_attempts, run_after, created_at, updated_at) ");
    q.push_values(jobs.iter().zip(payloads), |mut b, (job, payload)| {
        b.push_bind(job.kind.as_str())
            .push_bind(payload.as_str())
            .push_bind(job.dedup_key.as_deref())
            .push_bind("queued")
            .push_bind(0i64)
            .push_bind(i64::from(job.max_attempts))
            .push_bind(job.run_after.unwrap_or(now))
            .push_bind(now)
            .push_bind(now);
    });
    q.push(" ON CONFLICT (dedup_key) DO NOTHING");
}

impl Store {
    /// Enqueues in its own transaction.
    pub async fn enqueue(&self, job: &NewJob) -> Result<(i64, bool), StoreError> {
        let mut tx = self.begin().await?;
        let r = enqueue(&mut tx, self.clock().now_ms(), job).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Claims the oldest runnable job of `kind` for `owner`, leased for `lease_ms`.
    pub async fn claim(
        &self,
        kind: &str,
        owner: &str,
        lease_ms: i64,
    ) -> Result<Option<ClaimedJob>, JobError> {
        let now = self.clock().now_ms();
        let token = Uuid::new_v4().to_string();
        let expires_at = now + lease_ms;
        let started = std::time::Instant::now();
        let row: Option<Claimed> = on_write!(self, |p, pg| {
            sqlx::query_as(if pg { CLAIM_POSTGRES } else { CLAIM_SQLITE })
                .bind(&token)
                .bind(owner)
                .bind(expires_at)
                .bind(now)
                .bind(kind)
                .fetch_optional(p)
                .await?
        });
        crate::metrics::observe(
            "cqcfab_job_claim_seconds",
            "Time to claim the next job (or find none), by job kind.",
            &[("kind", kind)],
            started.elapsed(),
        );
        let Some(row) = row else {
            on_write!(self, |p, pg| {
                sqlx::query(SWEEP).bind(now).bind(kind).execute(p).await?;
            });
            return Ok(None);
        };
        let payload =
            serde_json::from_str(&row.payload).map_err(|e| JobError::Payload(e.to_string()))?;
        Ok(Some(ClaimedJob {
            id: row.id,
            kind: row.kind,
            payload,
            attempt: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(row.max_attempts).unwrap_or(u32::MAX),
            lease: Lease {
                job_id: row.id,
                token,
                expires_at,
            },
        }))
    }

    /// Extends a live lease by `lease_ms` from now.
    pub async fn heartbeat(&self, lease: &Lease, lease_ms: i64) -> Result<Lease, JobError> {
        let now = self.clock().now_ms();
        let expires_at = now + lease_ms;
        let n = on_write!(self, |p, pg| {
            sqlx::query(
                "UPDATE jobs SET lease_expires_at = $1, updated_at = $2 \
                 WHERE id = $3 AND lease_token = $4 AND state = 'running' AND lease_expires_at > $2",
            )
            .bind(expires_at)
            .bind(now)
            .bind(lease.job_id)
            .bind(&lease.token)
            .execute(p)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(self.refused(lease).await);
        }
        Ok(Lease {
            expires_at,
            ..lease.clone()
        })
    }

    /// The error for a lease that no longer holds, saying why.
    async fn refused(&self, lease: &Lease) -> JobError {
        let row: Result<Option<(String, Option<String>)>, sqlx::Error> = on_read!(self, |p, pg| {
            sqlx::query_as(LEASE_STATE)
                .bind(lease.job_id)
                .fetch_optional(p)
                .await
        });
        match row {
            Ok(row) => JobError::Lease {
                job_id: lease.job_id,
                reason: classify(row, lease),
            },
            Err(e) => e.into(),
        }
    }

    /// Marks the job done, if the lease is still ours and alive.
    pub async fn complete(&self, lease: &Lease) -> Result<(), JobError> {
        let now = self.clock().now_ms();
        let n = on_write!(self, |p, pg| {
            sqlx::query(COMPLETE)
                .bind(now)
                .bind(lease.job_id)
                .bind(&lease.token)
                .execute(p)
                .await?
                .rows_affected()
        });
        if n == 0 {
            return Err(self.refused(lease).await);
        }
        Ok(())
    }

    /// Gives the job back at once without counting the attempt: the worker, not the job, could
    /// not go on (a station whose card reader service went away). `why` is kept as the last
    /// error so the console shows what happened.
    pub async fn release(&self, lease: &Lease, why: &str) -> Result<(), JobError> {
        let now = self.clock().now_ms();
        let n = on_write!(self, |p, pg| {
            sqlx::query(
                "UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_after = $1, \
                 last_error = $2, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
                 updated_at = $1 \
                 WHERE id = $3 AND lease_token = $4 AND state = 'running' AND lease_expires_at > $1",
            )
            .bind(now)
            .bind(why)
            .bind(lease.job_id)
            .bind(&lease.token)
            .execute(p)
            .await?
            .rows_affected()
        });
        if n == 0 {
            return Err(self.refused(lease).await);
        }
        Ok(())
    }

    /// Records a failed attempt: the job is queued again after a backoff, or failed for good
    /// once its attempts are spent.
    pub async fn fail(&self, lease: &Lease, error: &str) -> Result<FailOutcome, JobError> {
        let now = self.clock().now_ms();
        let mut tx = self.begin().await?;
        let row: Option<(i64, i64)> = on_tx!(&mut tx, |c, pg| {
            sqlx::query_as(
                "SELECT attempts, max_attempts FROM jobs \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running' AND lease_expires_at > $3",
            )
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?
        });
        let Some((attempts, max_attempts)) = row else {
            let reason = refusal(&mut tx, lease).await?;
            return Err(JobError::Lease {
                job_id: lease.job_id,
                reason,
            });
        };
        let outcome = if attempts >= max_attempts {
            FailOutcome::Dead
        } else {
            FailOutcome::Retry {
                at: now + backoff_ms(u32::try_from(attempts).unwrap_or(u32::MAX)),
            }
        };
        let (state, run_after, finished) = match outcome {
            FailOutcome::Dead => ("failed", now, Some(now)),
            FailOutcome::Retry { at } => ("queued", at, None),
        };
        on_tx!(&mut tx, |c, pg| {
            sqlx::query(
                "UPDATE jobs SET state = $1, run_after = $2, finished_at = $3, last_error = $4, \
                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $5 WHERE id = $6",
            )
            .bind(state)
            .bind(run_after)
            .bind(finished)
            .bind(error)
            .bind(now)
            .bind(lease.job_id)
            .execute(&mut *c)
            .await?;
        });
        tx.commit().await?;
        Ok(outcome)
    }

    pub async fn job(&self, id: i64) -> Result<JobRecord, StoreError> {
        let row: Option<JobRecord> = on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT id, kind, payload, dedup_key, state, attempts, max_attempts, run_after, lease_owner, \
                 lease_expires_at, last_error FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?
        });
        row.ok_or(StoreError::NotFound {
            what: "job",
            id: id.to_string(),
        })
    }

    /// Number of jobs per (kind, state).
    pub async fn job_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(on_read!(self, |p, pg| {
            sqlx::query_as(
                "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
            )
            .fetch_all(p)
            .await?
        }))
    }
}

/// Completes inside `tx`, so that a worker's results and the completion commit together.
pub async fn complete(tx: &mut Tx, now: i64, lease: &Lease) -> Result<(), JobError> {
    let n = on_tx!(&mut *tx, |c, pg| {
        sqlx::query(COMPLETE)
            .bind(now)
            .bind(lease.job_id)
            .bind(&lease.token)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if n == 0 {
        let reason = refusal(tx, lease).await?;
        return Err(JobError::Lease {
            job_id: lease.job_id,
            reason,
        });
    }
    Ok(())
}

const COMPLETE: &str = "UPDATE jobs SET state = 'done', finished_at = $1, updated_at = $1, lease_token = NULL, \
     lease_expires_at = NULL WHERE id = $2 AND lease_token = $3 AND state = 'running' AND lease_expires_at > $1";

const LEASE_STATE: &str = "SELECT state, lease_token FROM jobs WHERE id = $1";

/// Tells why `lease` no longer holds, read inside `tx`.
async fn refusal(tx: &mut Tx, lease: &Lease) -> Result<LeaseRefusal, StoreError> {
    let row: Option<(String, Option<String>)> = on_tx!(tx, |c, pg| {
        sqlx::query_as(LEASE_STATE)
            .bind(lease.job_id)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(classify(row, lease))
}

/// Why a lease was refused, from the job's state and lease token as they are now.
fn classify(row: Option<(String, Option<String>)>, lease: &Lease) -> LeaseRefusal {
    match row {
        None => LeaseRefusal::NoSuchJob,
        // Still ours: the statement failed only because the lease ran out.
        Some((state, token))
            if state == "running" && token.as_deref() == Some(lease.token.as_str()) =>
        {
            LeaseRefusal::Expired
        }
        Some((state, _)) if state == "running" => LeaseRefusal::Foreign,
        // Taken back after expiry and waiting for the next claim.
        Some((state, _)) if state == "queued" => LeaseRefusal::Expired,
        Some(_) => LeaseRefusal::NotRunning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(1), 2_000);
        assert_eq!(backoff_ms(2), 4_000);
        assert_eq!(backoff_ms(3), 8_000);
        assert_eq!(backoff_ms(40), 15 * 60 * 1000);
    }
}
