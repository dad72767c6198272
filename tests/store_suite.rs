//! The store suite: the same tests on SQLite and on a real PostgreSQL.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::TestDb;
use cqcfab::clock::Clock;
use cqcfab::store::audit::{Entry, Problem};
use cqcfab::store::jobs::{FailOutcome, JobError, LeaseRefusal, NewJob};
use cqcfab::store::{Store, Tx, outbox};
use serde_json::json;
use time::Duration;
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 26))
}

on_both_backends!(clock();
    migrations_run_once_and_reopen_cleanly,
    enqueue_is_deduplicated_by_key,
    claim_complete_and_a_second_completion_is_refused,
    an_expired_lease_is_refused_and_the_job_is_claimed_again,
    a_foreign_lease_cannot_complete_or_heartbeat,
    heartbeat_extends_a_live_lease,
    a_released_job_is_claimable_at_once_without_spending_an_attempt,
    failures_back_off_then_the_job_dies_with_its_error,
    a_job_whose_last_lease_expires_ends_failed,
    concurrent_workers_do_every_job_exactly_once,
    a_rolled_back_enqueue_leaves_no_job,
    the_audit_chain_verifies_and_records_history,
    an_edited_audit_row_is_detected,
    a_deleted_audit_row_is_detected,
    a_truncated_audit_tail_is_detected,
    the_audit_log_refuses_updates_while_its_guard_is_on,
    concurrent_audit_appends_keep_a_dense_chain,
    outbox_events_commit_with_their_transaction,
);

async fn migrations_run_once_and_reopen_cleanly(db: &TestDb) {
    let again = Store::open(&db.location, clock())
        .await
        .expect("reopen runs no migration twice");
    assert_eq!(again.request_count().await.unwrap(), 0);
    again.close().await;
}

async fn enqueue_is_deduplicated_by_key(db: &TestDb) {
    let s = &db.store;
    let job = NewJob::new("render", json!({"card": "F1"})).dedup("render:F1");
    let (a, created_a) = s.enqueue(&job).await.unwrap();
    let (b, created_b) = s.enqueue(&job).await.unwrap();
    assert!(created_a);
    assert!(!created_b);
    assert_eq!(a, b);
    let (c, _) = s.enqueue(&NewJob::new("render", json!({}))).await.unwrap();
    let (d, _) = s.enqueue(&NewJob::new("render", json!({}))).await.unwrap();
    assert_ne!(c, d, "jobs without a key are never merged");
}

async fn claim_complete_and_a_second_completion_is_refused(db: &TestDb) {
    let s = &db.store;
    let (id, _) = s.enqueue(&NewJob::new("k", json!({"x": 1}))).await.unwrap();
    assert!(s.claim("other-kind", "w1", 10_000).await.unwrap().is_none());
    let job = s.claim("k", "w1", 10_000).await.unwrap().expect("a job");
    assert_eq!(
        (job.id, job.attempt, job.payload.clone()),
        (id, 1, json!({"x": 1}))
    );
    assert!(
        s.claim("k", "w2", 10_000).await.unwrap().is_none(),
        "a running job is not claimable"
    );
    s.complete(&job.lease).await.unwrap();
    assert_eq!(s.job(id).await.unwrap().state, "done");
    match s.complete(&job.lease).await {
        Err(JobError::Lease { reason, .. }) => assert_eq!(reason, LeaseRefusal::NotRunning),
        other => panic!("second completion accepted: {other:?}"),
    }
}

async fn an_expired_lease_is_refused_and_the_job_is_claimed_again(db: &TestDb) {
    let s = &db.store;
    let (id, _) = s.enqueue(&NewJob::new("k", json!({}))).await.unwrap();
    let first = s.claim("k", "slow", 5_000).await.unwrap().unwrap();
    s.clock().advance(Duration::seconds(6));
    match s.complete(&first.lease).await {
        Err(JobError::Lease { reason, .. }) => assert_eq!(reason, LeaseRefusal::Expired),
        other => panic!("stale completion accepted: {other:?}"),
    }
    let second = s
        .claim("k", "fast", 5_000)
        .await
        .unwrap()
        .expect("reclaimed after expiry");
    assert_eq!((second.id, second.attempt), (id, 2));
    let rec = s.job(id).await.unwrap();
    assert!(
        rec.last_error
            .unwrap_or_default()
            .contains("lease of slow expired")
    );
    match s.complete(&first.lease).await {
        Err(JobError::Lease { reason, .. }) => assert_eq!(reason, LeaseRefusal::Foreign),
        other => panic!("stale completion accepted: {other:?}"),
    }
    s.complete(&second.lease).await.unwrap();
}

async fn a_foreign_lease_cannot_complete_or_heartbeat(db: &TestDb) {
    let s = &db.store;
    s.enqueue(&NewJob::new("k", json!({}))).await.unwrap();
    let job = s.claim("k", "w", 5_000).await.unwrap().unwrap();
    let mut forged = job.lease.clone();
    forged.token = "not-the-token".into();
    assert!(matches!(
        s.complete(&forged).await,
        Err(JobError::Lease {
            reason: LeaseRefusal::Foreign,
            ..
        })
    ));
    assert!(matches!(
        s.heartbeat(&forged, 5_000).await,
        Err(JobError::Lease {
            reason: LeaseRefusal::Foreign,
            ..
        })
    ));
    assert!(matches!(
        s.fail(&forged, "x").await,
        Err(JobError::Lease {
            reason: LeaseRefusal::Foreign,
            ..
        })
    ));
    s.complete(&job.lease).await.unwrap();
}

async fn heartbeat_extends_a_live_lease(db: &TestDb) {
    let s = &db.store;
    s.enqueue(&NewJob::new("k", json!({}))).await.unwrap();
    let job = s.claim("k", "w", 5_000).await.unwrap().unwrap();
    s.clock().advance(Duration::seconds(4));
    let lease = s.heartbeat(&job.lease, 5_000).await.unwrap();
    s.clock().advance(Duration::seconds(4));
    // 8 s after the claim: alive only thanks to the heartbeat.
    assert!(s.claim("k", "thief", 5_000).await.unwrap().is_none());
    s.complete(&lease).await.unwrap();
}

async fn a_released_job_is_claimable_at_once_without_spending_an_attempt(db: &TestDb) {
    let s = &db.store;
    let (id, _) = s
        .enqueue(&NewJob::new("k", json!({})).max_attempts(1))
        .await
        .unwrap();
    let job = s.claim("k", "w", 5_000).await.unwrap().unwrap();
    s.release(&job.lease, "pcscd went away").await.unwrap();
    let record = s.job(id).await.unwrap();
    assert_eq!(record.state.as_str(), "queued");
    assert_eq!(record.attempts, 0);
    assert_eq!(record.last_error.as_deref(), Some("pcscd went away"));
    // The old lease is dead, and the only attempt is still there to be used.
    assert!(s.release(&job.lease, "again").await.is_err());
    let again = s.claim("k", "w2", 5_000).await.unwrap().unwrap();
    assert_eq!(again.id, id);
    s.complete(&again.lease).await.unwrap();
}

async fn failures_back_off_then_the_job_dies_with_its_error(db: &TestDb) {
    let s = &db.store;
    let (id, _) = s
        .enqueue(&NewJob::new("k", json!({})).max_attempts(2))
        .await
        .unwrap();
    let job = s.claim("k", "w", 5_000).await.unwrap().unwrap();
    let now = s.clock().now_ms();
    assert_eq!(
        s.fail(&job.lease, "printer jammed").await.unwrap(),
        FailOutcome::Retry { at: now + 2_000 }
    );
    assert!(
        s.claim("k", "w", 5_000).await.unwrap().is_none(),
        "backoff not over"
    );
    s.clock().advance(Duration::seconds(2));
    let again = s.claim("k", "w", 5_000).await.unwrap().unwrap();
    assert_eq!(again.attempt, 2);
    assert_eq!(
        s.fail(&again.lease, "printer on fire").await.unwrap(),
        FailOutcome::Dead
    );
    let rec = s.job(id).await.unwrap();
    assert_eq!((rec.state.as_str(), rec.attempts), ("failed", 2));
    assert_eq!(rec.last_error.as_deref(), Some("printer on fire"));
    s.clock().advance(Duration::hours(1));
    assert!(s.claim("k", "w", 5_000).await.unwrap().is_none());
}

async fn a_job_whose_last_lease_expires_ends_failed(db: &TestDb) {
    let s = &db.store;
    let (id, _) = s
        .enqueue(&NewJob::new("k", json!({})).max_attempts(1))
        .await
        .unwrap();
    s.claim("k", "dies", 1_000).await.unwrap().unwrap();
    s.clock().advance(Duration::seconds(2));
    assert!(s.claim("k", "next", 1_000).await.unwrap().is_none());
    let rec = s.job(id).await.unwrap();
    assert_eq!(rec.state, "failed");
    assert!(rec.last_error.unwrap().contains("expired"));
}

async fn concurrent_workers_do_every_job_exactly_once(db: &TestDb) {
    let s = &db.store;
    let n = 300;
    let mut tx = s.begin().await.unwrap();
    for i in 0..n {
        cqcfab::store::jobs::enqueue(
            &mut tx,
            s.clock().now_ms(),
            &NewJob::new("k", json!({ "i": i })),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let done = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        let done = done.clone();
        handles.push(tokio::spawn(async move {
            while let Some(job) = s.claim("k", &format!("w{w}"), 30_000).await.unwrap() {
                s.complete(&job.lease).await.unwrap();
                done.lock()
                    .unwrap()
                    .push(job.payload["i"].as_i64().unwrap());
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let done = done.lock().unwrap();
    let unique: HashSet<_> = done.iter().collect();
    assert_eq!(done.len(), n, "every job done once");
    assert_eq!(unique.len(), n, "no job done twice");
}

async fn a_rolled_back_enqueue_leaves_no_job(db: &TestDb) {
    let s = &db.store;
    let mut tx = s.begin().await.unwrap();
    cqcfab::store::jobs::enqueue(&mut tx, 0, &NewJob::new("k", json!({})))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(s.claim("k", "w", 1_000).await.unwrap().is_none());
}

fn entry<'a>(id: &'a str, action: &'a str) -> Entry<'a> {
    Entry {
        actor: "test",
        action,
        entity_type: "card",
        entity_id: id,
        before: Some(json!({"state": "a"})),
        after: Some(json!({"state": "b"})),
        reason: Some("because"),
    }
}

async fn audit_rows(db: &TestDb, n: usize) {
    for i in 0..n {
        db.store
            .audit(&entry(&format!("F{i}"), "test.action"))
            .await
            .unwrap();
    }
}

async fn the_audit_chain_verifies_and_records_history(db: &TestDb) {
    audit_rows(db, 5).await;
    db.store.audit(&entry("F2", "second.look")).await.unwrap();
    let r = db.store.verify_audit().await.unwrap();
    assert!(r.is_intact(), "{:?}", r.problems);
    assert_eq!((r.records, r.head_seq), (6, 6));
    let h = db.store.audit_history("card", "F2").await.unwrap();
    let actions: Vec<_> = h.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["test.action", "second.look"]);
    assert_eq!(h[1].reason.as_deref(), Some("because"));
}

async fn an_edited_audit_row_is_detected(db: &TestDb) {
    audit_rows(db, 5).await;
    db.tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        .await;
    let r = db.store.verify_audit().await.unwrap();
    assert_eq!(r.problems, vec![Problem::HashMismatch { seq: 3 }]);
}

async fn a_deleted_audit_row_is_detected(db: &TestDb) {
    audit_rows(db, 5).await;
    db.tamper("DELETE FROM audit_log WHERE seq = 2").await;
    let r = db.store.verify_audit().await.unwrap();
    assert!(
        r.problems.contains(&Problem::Gap {
            expected: 2,
            found: 3
        }),
        "{:?}",
        r.problems
    );
}

async fn a_truncated_audit_tail_is_detected(db: &TestDb) {
    audit_rows(db, 5).await;
    db.tamper("DELETE FROM audit_log WHERE seq >= 4").await;
    let r = db.store.verify_audit().await.unwrap();
    assert_eq!(
        r.problems,
        vec![Problem::Head {
            head_seq: 5,
            last_seq: 3
        }]
    );
}

async fn the_audit_log_refuses_updates_while_its_guard_is_on(db: &TestDb) {
    audit_rows(db, 2).await;
    let mut tx = db.store.begin().await.unwrap();
    let err = match &mut tx {
        Tx::Sqlite(t) => sqlx::query("UPDATE audit_log SET actor = 'x'")
            .execute(&mut **t)
            .await
            .err(),
        Tx::Postgres(t) => sqlx::query("DELETE FROM audit_log")
            .execute(&mut **t)
            .await
            .err(),
    };
    assert!(err.expect("refused").to_string().contains("append-only"));
}

async fn concurrent_audit_appends_keep_a_dense_chain(db: &TestDb) {
    let mut handles = Vec::new();
    for w in 0..8 {
        let s = db.store.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..25 {
                s.audit(&entry(&format!("W{w}-{i}"), "concurrent"))
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let r = db.store.verify_audit().await.unwrap();
    assert!(r.is_intact(), "{:?}", r.problems);
    assert_eq!(r.records, 200);
}

async fn outbox_events_commit_with_their_transaction(db: &TestDb) {
    let s = &db.store;
    let mut tx = s.begin().await.unwrap();
    outbox::push(&mut tx, 1, "request.accepted", json!({"request_id": "A"}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = s.begin().await.unwrap();
    let id = outbox::push(&mut tx, 2, "request.held", json!({"request_id": "B"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let events = s.events(None).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, id);
    let payload: serde_json::Value = serde_json::from_str(&events[0].payload).unwrap();
    assert_eq!(payload["type"], "request.held");
    assert_eq!(payload["event_id"], id.as_str());
    assert_eq!(payload["data"]["request_id"], "B");
    assert_eq!(s.events(Some("request.accepted")).await.unwrap().len(), 0);
}
