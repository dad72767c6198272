//! Mailroom benchmark: scan-to-answer latency through the service. A real `cqcfab serve`
//! router on loopback, the station's own HTTP client, and every scan a first return (the
//! write path: piece and card moved, slot taken, audit entries, portal event), sent at a
//! fixed rate. Latency is counted from when a scan was due, not from when it was sent, so a
//! service that falls behind is not flattered (no coordinated omission).

use std::time::{Duration, Instant};

use serde_json::json;

use super::{BenchError, Percentiles, Row};
use crate::service::{AppState, serve};
use crate::station::client::ServiceClient;
use crate::store::Store;

const TOKEN: &str = "bench-mailroom-token-0123456789";

/// `scans` returns at `rate` scans per second through a service on `store`.
pub async fn scans(store: &Store, backend: &str, scans: u32, rate: f64) -> Result<Row, BenchError> {
    let err = |e: &dyn std::fmt::Display| BenchError::Http(e.to_string());
    let pieces = store
        .seed_posted_for_bench(scans)
        .await
        .map_err(|e| BenchError::Fixture(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(store.clone(), None)
        .with_stations(&[("bench-mailroom".to_string(), TOKEN.to_string())]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));
    let mut client = ServiceClient::new(&format!("http://{addr}"), TOKEN).map_err(|e| err(&e))?;
    let path = "/v1/stations/mailroom/scans";
    let (status, answer) = client
        .post_json(path, &json!({ "code": "PND-NPAI", "clerk": "bench" }))
        .await
        .map_err(|e| err(&e))?;
    if status != 200 {
        return Err(BenchError::Http(format!(
            "reason scan answered {status}: {answer}"
        )));
    }
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut samples = Vec::with_capacity(pieces.len());
    let cpu = super::process_cpu_seconds();
    let start = Instant::now();
    for (i, piece) in pieces.iter().enumerate() {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (status, answer) = client
            .post_json(
                path,
                &json!({ "code": piece, "reason": "npai", "clerk": "bench" }),
            )
            .await
            .map_err(|e| err(&e))?;
        samples.push(due.elapsed());
        if status != 200 || answer["outcome"] != "held" {
            return Err(BenchError::Http(format!(
                "scan of {piece} answered {status}: {answer}"
            )));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_ms = super::cpu_ms_per_item(cpu, super::process_cpu_seconds(), pieces.len());
    let _ = stop.send(());
    let _ = server.await;
    Ok(Row {
        stage: format!("mailroom scan to answer, {rate:.0} scans/s (first returns)"),
        backend: backend.to_string(),
        count: pieces.len(),
        seconds,
        per_second: pieces.len() as f64 / seconds,
        latency: Percentiles::of(&mut samples),
        cpu_ms_per_item: cpu_ms,
        goal: "p99 < 20 ms at 50 scans/s".into(),
    })
}
