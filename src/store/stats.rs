//! Counts for the operators' gauges (`/metrics`) and the console's dashboard.
//!
//! Cards by state and card bodies by lot come from the running tallies (migration 0016): a
//! million cards are not counted on every page load.

use super::{Store, StoreError};

/// Cards by state from the tallies and the moves not folded yet.
const TALLY_CARDS: &str = "SELECT key, CAST(SUM(n) AS BIGINT) AS n FROM \
     (SELECT key, n FROM tallies WHERE subject = 'cards' \
      UNION ALL SELECT key, n FROM tally_moves WHERE subject = 'cards') t \
     GROUP BY key HAVING SUM(n) <> 0 ORDER BY key";

/// Card bodies by "lot state", the same way.
const TALLY_BODIES: &str = "SELECT key, CAST(SUM(n) AS BIGINT) AS n FROM \
     (SELECT key, n FROM tallies WHERE subject = 'bodies' \
      UNION ALL SELECT key, n FROM tally_moves WHERE subject = 'bodies') t \
     GROUP BY key HAVING SUM(n) <> 0 ORDER BY key";

/// The production stages the dashboard follows through the day, by their audit action.
pub const STAGES: [(&str, &str); 6] = [
    ("request.accepted", "Demandes acceptées"),
    ("card.start_production", "Cartes imprimées"),
    ("card.personalise", "Puces écrites"),
    ("body.spoiled", "Corps gâchés"),
    ("card.insert", "Mises sous pli"),
    ("card.dispatch", "Expédiées"),
];

/// One lot's stock on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotStock {
    pub lot_id: String,
    pub received: i64,
    pub personalised: i64,
    pub spoiled: i64,
    /// Received and never drawn.
    pub on_hand: i64,
}

/// A job that needs a person: failed, or running past its lease, or queued long past due.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StuckJob {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// What the production dashboard shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dashboard {
    pub cards: Vec<(String, i64)>,
    /// (audit action, hour of the day 0-23, count) since midnight.
    pub today: Vec<(String, i64, i64)>,
    /// (kind, state, jobs) for jobs not done.
    pub open_jobs: Vec<(String, String, i64)>,
    pub stuck: Vec<StuckJob>,
    pub stock: Vec<LotStock>,
    pub dead_events: i64,
    pub held_in_slots: i64,
    /// Destructions and fee waivers waiting for a second person.
    pub approvals_waiting: i64,
}

impl Dashboard {
    /// Today's count of one stage.
    pub fn today_total(&self, action: &str) -> i64 {
        self.today
            .iter()
            .filter(|t| t.0 == action)
            .map(|t| t.2)
            .sum()
    }
}

/// A queued job this late is stuck (no worker takes its kind).
const LATE_MS: i64 = 15 * 60_000;

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
            let cards = sqlx::query_as(TALLY_CARDS).fetch_all(p).await?;
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

    /// The dashboard, for the day that started at `day_start` (Unix ms).
    pub async fn dashboard(&self, day_start: i64) -> Result<Dashboard, StoreError> {
        let now = self.clock().now_ms();
        let actions: Vec<&str> = STAGES.iter().map(|s| s.0).collect();
        let (cards, today, open_jobs, stuck, lots, bodies, singles) = on_read!(self, |p, pg| {
            let cards: Vec<(String, i64)> = sqlx::query_as(TALLY_CARDS).fetch_all(p).await?;
            let mut q = sqlx::QueryBuilder::new("SELECT action, (at - ");
            q.push_bind(day_start)
                .push(") / 3600000 AS hour, COUNT(*) FROM audit_log WHERE at >= ")
                .push_bind(day_start)
                .push(" AND at < ")
                .push_bind(day_start + 86_400_000)
                .push(" AND action IN (");
            let mut list = q.separated(", ");
            for a in &actions {
                list.push_bind(*a);
            }
            q.push(") GROUP BY action, hour ORDER BY action, hour");
            let today: Vec<(String, i64, i64)> = q.build_query_as().fetch_all(p).await?;
            let open_jobs: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT kind, state, COUNT(*) FROM jobs WHERE state <> 'done' \
                 GROUP BY kind, state ORDER BY kind, state",
            )
            .fetch_all(p)
            .await?;
            let stuck: Vec<StuckJob> = sqlx::query_as(
                "SELECT id, kind, state, attempts, lease_owner, last_error, updated_at FROM jobs \
                 WHERE state <> 'done' AND (state = 'failed' \
                 OR (state = 'running' AND lease_expires_at < $1) \
                 OR (state = 'queued' AND run_after < $2)) ORDER BY id LIMIT 20",
            )
            .bind(now)
            .bind(now - LATE_MS)
            .fetch_all(p)
            .await?;
            let lots: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT lot_id, first_serial, last_serial FROM stock_lots ORDER BY first_serial",
            )
            .fetch_all(p)
            .await?;
            let bodies: Vec<(String, i64)> = sqlx::query_as(TALLY_BODIES).fetch_all(p).await?;
            let singles: (i64, i64, i64) = sqlx::query_as(
                "SELECT \
                 (SELECT COUNT(*) FROM outbox WHERE dead_at IS NOT NULL AND delivered_at IS NULL), \
                 (SELECT COUNT(*) FROM mail_returns WHERE slot IS NOT NULL), \
                 (SELECT COUNT(*) FROM destructions WHERE state = 'pending') \
                 + (SELECT COUNT(*) FROM quality_cases WHERE state = 'waiver_requested')",
            )
            .fetch_one(p)
            .await?;
            (cards, today, open_jobs, stuck, lots, bodies, singles)
        });
        let stock = lots
            .into_iter()
            .map(|(lot_id, first, last)| {
                let of = |state: &str| {
                    let key = format!("{lot_id} {state}");
                    bodies
                        .iter()
                        .filter(|b| b.0 == key)
                        .map(|b| b.1)
                        .sum::<i64>()
                };
                let received = last - first + 1;
                let drawn: i64 = ["drawn", "personalised", "spoiled", "destroyed"]
                    .iter()
                    .map(|s| of(s))
                    .sum();
                LotStock {
                    personalised: of("personalised"),
                    spoiled: of("spoiled"),
                    on_hand: received - drawn,
                    received,
                    lot_id,
                }
            })
            .collect();
        Ok(Dashboard {
            cards,
            today,
            open_jobs,
            stuck,
            stock,
            dead_events: singles.0,
            held_in_slots: singles.1,
            approvals_waiting: singles.2,
        })
    }

    /// Folds the tally moves into the tallies (PostgreSQL; SQLite's triggers count in place).
    /// One node folds at a time (an advisory lock); returns the moves folded.
    pub async fn fold_tallies(&self) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let folded = on_tx!(&mut tx, |c, pg| {
            if !pg {
                return Ok(0);
            }
            let (mine,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock(7261001)")
                .fetch_one(&mut *c)
                .await?;
            if !mine {
                return Ok(0);
            }
            let (n,): (i64,) = sqlx::query_as(
                "WITH moved AS (DELETE FROM tally_moves WHERE id IN \
                 (SELECT id FROM tally_moves ORDER BY id LIMIT 200000) RETURNING subject, key, n), \
                 summed AS (SELECT subject, key, SUM(n)::BIGINT AS n, COUNT(*) AS moves \
                 FROM moved GROUP BY subject, key), \
                 upserted AS (INSERT INTO tallies (subject, key, n) \
                 SELECT subject, key, n FROM summed ORDER BY subject, key \
                 ON CONFLICT (subject, key) DO UPDATE SET n = tallies.n + EXCLUDED.n) \
                 SELECT COALESCE(SUM(moves), 0)::BIGINT FROM summed",
            )
            .fetch_one(&mut *c)
            .await?;
            n as u64
        });
        tx.commit().await?;
        Ok(folded)
    }
}

/// A statement over the numbers 1..=$1 (`s(i)`), on both backends.
macro_rules! series {
    ($sql:literal) => {
        concat!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1) ",
            $sql
        )
    };
}

impl Store {
    /// Fills an empty database for the dashboard benchmark (docs/performance.md): `cards`
    /// synthetic cards spread over the states as in a bureau's steady state, a body and two
    /// done jobs per card, a month of audit records (one per card) plus `today` records of
    /// today's work, a few open jobs. Not real cards: no pictures, no hash chain.
    pub async fn seed_dashboard_for_bench(
        &self,
        cards: i64,
        today: i64,
        day_start: i64,
    ) -> Result<(), StoreError> {
        let month_ago = day_start - 30 * 86_400_000;
        // (statement, rows, time); every statement numbers rows 1..=rows through `s`.
        let statements: [(&str, i64, i64); 8] = [
            (
                series!(
                    "INSERT INTO requests (request_id, fingerprint, kind, received_at, received_by, \
                 answer_status, answer_body) SELECT 'BENCH-' || i, 'bench', 'first_issue', $2, \
                 'bench', 200, '{}' FROM s"
                ),
                cards,
                month_ago,
            ),
            (
                series!(
                    "INSERT INTO cards (card_number, holder_number, request_id, kind, state, version, \
                 issue_date, expiry_date, categories, surname, given_names, created_at, updated_at) \
                 SELECT 'B' || i, i, 'BENCH-' || i, 'first_issue', CASE i % 50 \
                 WHEN 0 THEN 'approved' WHEN 1 THEN 'in_production' WHEN 2 THEN 'personalised' \
                 WHEN 3 THEN 'inserted' WHEN 4 THEN 'held' WHEN 5 THEN 'destroyed' \
                 WHEN 6 THEN 'returned_defective' ELSE 'dispatched' END, 1, '2026-11-01', \
                 '2031-11-01', '[\"C\"]', 'NOM', 'Prénom', $2, $2 FROM s"
                ),
                cards,
                month_ago,
            ),
            (
                series!(
                    "INSERT INTO stock_lots (lot_id, first_serial, last_serial, received_at, received_by) \
                 SELECT 'BENCH-LOT', 1, $1 * 2, $2, 'bench' FROM s WHERE i = 1"
                ),
                cards,
                month_ago,
            ),
            (
                series!(
                    "INSERT INTO card_bodies (serial, lot_id, state, station, reader, drawn_at, updated_at) \
                 SELECT i, 'BENCH-LOT', CASE WHEN i % 100 = 0 THEN 'spoiled' ELSE 'personalised' END, \
                 'bench', 'sim', $2, $2 FROM s"
                ),
                cards,
                month_ago,
            ),
            (
                series!(
                    "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_after, created_at, \
                 updated_at, finished_at) SELECT CASE WHEN i % 2 = 0 THEN 'render' ELSE 'encode' END, \
                 '{}', 'done', 1, 5, $2, $2, $2, $2 FROM s"
                ),
                cards * 2,
                month_ago,
            ),
            (
                series!(
                    "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_after, created_at, \
                 updated_at) SELECT 'encode', '{}', CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'queued' END, \
                 0, 5, $2, $2, $2 FROM s"
                ),
                200,
                day_start,
            ),
            (
                series!(
                    "INSERT INTO audit_log (seq, at, actor, action, entity_type, entity_id, prev_hash, hash) \
                 SELECT i, $2 + i, 'bench', 'card.dispatch', 'card', 'B' || i, '', '' FROM s"
                ),
                cards,
                month_ago,
            ),
            // Today's work, numbered after the month's records ($3).
            (
                series!(
                    "INSERT INTO audit_log (seq, at, actor, action, entity_type, entity_id, prev_hash, hash) \
                 SELECT $3 + i, $2 + i * 2000, 'bench', CASE i % 6 WHEN 0 THEN 'request.accepted' \
                 WHEN 1 THEN 'card.start_production' WHEN 2 THEN 'card.personalise' \
                 WHEN 3 THEN 'card.insert' WHEN 4 THEN 'card.dispatch' ELSE 'body.spoiled' END, \
                 'card', 'B' || i, '', '' FROM s"
                ),
                today,
                day_start,
            ),
        ];
        for (i, (sql, n, at)) in statements.into_iter().enumerate() {
            on_write!(self, |p, pg| {
                let q = sqlx::query(sql).bind(n).bind(at);
                let q = if i == 7 { q.bind(cards) } else { q };
                q.execute(p).await?;
            });
        }
        on_write!(self, |p, pg| {
            // The trail goes on after the seeded records (their hashes are not a chain).
            sqlx::query(
                "UPDATE audit_head SET seq = (SELECT MAX(seq) FROM audit_log) WHERE id = 1",
            )
            .execute(p)
            .await?;
        });
        while self.fold_tallies().await? > 0 {}
        on_write!(self, |p, pg| {
            sqlx::query(if pg { "VACUUM ANALYZE" } else { "ANALYZE" })
                .execute(p)
                .await?;
        });
        Ok(())
    }
}
