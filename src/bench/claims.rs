//! Job claim latency: several workers claim and complete jobs as fast as they can.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Percentiles, Row};
use crate::store::jobs::NewJob;
use crate::store::{Store, StoreError};

/// Enqueues `jobs` jobs, then runs `workers` concurrent claim/complete loops until the queue
/// is empty. Latency is that of `claim` alone.
pub async fn run(
    store: &Store,
    backend: &str,
    jobs: usize,
    workers: usize,
) -> Result<Row, StoreError> {
    let mut tx = store.begin().await?;
    let now = store.clock().now_ms();
    for i in 0..jobs {
        crate::store::jobs::enqueue(&mut tx, now, &NewJob::new("bench", json!({ "i": i }))).await?;
    }
    tx.commit().await?;
    let cpu_before = super::process_cpu_seconds();
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let owner = format!("bench-worker-{w}");
            let mut samples = Vec::new();
            loop {
                let t = Instant::now();
                let claimed = store.claim("bench", &owner, 30_000).await;
                samples.push(t.elapsed());
                match claimed {
                    Ok(Some(job)) => {
                        if let Err(e) = store.complete(&job.lease).await {
                            return Err(StoreError::Conflict(e.to_string()));
                        }
                    }
                    Ok(None) => return Ok(samples),
                    Err(e) => return Err(StoreError::Conflict(e.to_string())),
                }
            }
        }));
    }
    let mut samples: Vec<Duration> = Vec::new();
    for h in handles {
        let s = h.await.map_err(|e| StoreError::Conflict(e.to_string()))??;
        samples.extend(s);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Row {
        stage: format!("job claim ({workers} workers)"),
        backend: backend.to_string(),
        count: jobs,
        seconds,
        per_second: jobs as f64 / seconds,
        latency: Percentiles::of(&mut samples),
        cpu_ms_per_item: super::cpu_ms_per_item(cpu_before, super::process_cpu_seconds(), jobs),
        goal: "p99 < 5 ms".to_string(),
    })
}
