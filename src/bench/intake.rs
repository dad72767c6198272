//! Intake throughput through HTTP: the real server on loopback, `clients` concurrent
//! keep-alive connections, every request fully validated (pictures decoded) and stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use thiserror::Error;

use super::{Percentiles, Row};
use crate::service::{AppState, Token};
use crate::store::Store;

const TOKEN: &str = "bench-portal-token";

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot build the request bodies: {0}")]
    Fixture(String),
    #[error("http: {0}")]
    Http(String),
    #[error("request {index} answered {status}: {body}")]
    Refused {
        index: usize,
        status: u16,
        body: String,
    },
}

/// Request bodies with distinct ids and realistic pictures (`photos` different 30-60 KB
/// JPEGs at 413 x 531, reused round-robin), built before the clock starts.
pub fn bodies(n: usize, photos: usize, run: &str) -> Result<Vec<Bytes>, BenchError> {
    let pictures: Vec<String> = (0..photos.max(1))
        .map(|i| {
            let face = crate::synthetic::portrait(1_000 + i as u64, 413, 531);
            crate::synthetic::jpeg_within(&face, 30_000, 60_000)
                .map(|jpeg| STANDARD.encode(jpeg))
                .map_err(|e| BenchError::Fixture(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    // First issues only: a renewal template reused under new ids would renew one card twice.
    let templates: Vec<Value> = crate::synthetic::embedded::valid_requests()
        .into_iter()
        .filter(|r| r["kind"] == "first_issue")
        .collect();
    if templates.is_empty() {
        return Err(BenchError::Fixture(
            "no first-issue fixture embedded".into(),
        ));
    }
    Ok((0..n)
        .map(|i| {
            let mut v: Value = templates[i % templates.len()].clone();
            v["request_id"] = Value::String(format!("BENCH-{run}-{i:07}"));
            v["photo"] = Value::String(pictures[i % pictures.len()].clone());
            Bytes::from(v.to_string())
        })
        .collect())
}

/// The CPU floor of intake: photo (30-60 KB JPEG) and signature (PNG) checks alone, on
/// `threads` threads at once, no HTTP and no database. Requests per second here bound what
/// the whole intake can reach on this machine.
pub fn picture_checks(threads: usize, per_thread: usize) -> Result<Row, BenchError> {
    use crate::domain::images::{self, PHOTO, SIGNATURE};
    let face = crate::synthetic::portrait(1_000, 413, 531);
    let photo = crate::synthetic::jpeg_within(&face, 30_000, 60_000)
        .map_err(|e| BenchError::Fixture(e.to_string()))?;
    let sig = crate::synthetic::signature("Jean Dupont", 3, 600, 200);
    let signature =
        crate::synthetic::png_gray(&sig).map_err(|e| BenchError::Fixture(e.to_string()))?;
    let cpu_before = super::process_cpu_seconds();
    let started = Instant::now();
    let samples: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut own = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let t = Instant::now();
                        let ok = images::check(photo.clone(), &PHOTO, "photo").is_ok()
                            && images::check(signature.clone(), &SIGNATURE, "signature").is_ok();
                        own.push(if ok { t.elapsed() } else { Duration::MAX });
                    }
                    own
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if samples.contains(&Duration::MAX) {
        return Err(BenchError::Fixture(
            "a benchmark picture failed its check".into(),
        ));
    }
    let seconds = started.elapsed().as_secs_f64();
    let count = samples.len();
    let mut samples = samples;
    Ok(Row {
        stage: format!("picture checks ({threads} threads, no I/O)"),
        backend: "-".to_string(),
        count,
        seconds,
        per_second: count as f64 / seconds,
        latency: Percentiles::of(&mut samples),
        cpu_ms_per_item: super::cpu_ms_per_item(cpu_before, super::process_cpu_seconds(), count),
        goal: "bounds intake".to_string(),
    })
}

/// Serves `store` on a loopback port and posts every body with `clients` connections.
pub async fn run(
    store: &Store,
    backend: &str,
    bodies: Vec<Bytes>,
    clients: usize,
) -> Result<Row, BenchError> {
    Ok(run_beside(store, backend, bodies, clients, None).await?.0)
}

/// [`run`], with the console in use at the same time when `console` is given (a session
/// cookie and page loads per second): the dashboard is loaded at that rate from the same
/// service until the last request is taken in. Returns the intake row and the dashboard's.
pub async fn run_beside(
    store: &Store,
    backend: &str,
    bodies: Vec<Bytes>,
    clients: usize,
    console: Option<(String, f64)>,
) -> Result<(Row, Option<Row>), BenchError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(store.clone(), Some(Token::new(TOKEN)));
    let server = tokio::spawn(crate::service::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = super::process_cpu_seconds();
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let bodies = bodies.clone();
        let next = next.clone();
        handles.push(tokio::spawn(
            async move { client(addr, bodies, next).await },
        ));
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = console.map(|(cookie, rate)| {
        let done = done.clone();
        tokio::spawn(async move { super::dashboard::load_at(addr, &cookie, rate, &done).await })
    });
    let mut samples = Vec::new();
    let mut first_error = None;
    for h in handles {
        match h.await {
            Ok(Ok(s)) => samples.extend(s),
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(e) => first_error = first_error.or(Some(BenchError::Http(e.to_string()))),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::SeqCst);
    let console_row = match loader {
        Some(h) => {
            let mut loads = h.await.map_err(|e| BenchError::Http(e.to_string()))??;
            Some(Row {
                stage: format!("GET /console during intake ({clients} clients)"),
                backend: backend.to_string(),
                count: loads.len(),
                seconds,
                per_second: loads.len() as f64 / seconds,
                latency: Percentiles::of(&mut loads),
                cpu_ms_per_item: None,
                goal: "< 50 ms".into(),
            })
        }
        None => None,
    };
    let _ = stop_tx.send(());
    let _ = server.await;
    if let Some(e) = first_error {
        return Err(e);
    }
    let with_console = if console_row.is_some() {
        ", console in use"
    } else {
        ""
    };
    let intake = Row {
        stage: format!("intake HTTP ({clients} clients{with_console})"),
        backend: backend.to_string(),
        count: bodies.len(),
        seconds,
        per_second: bodies.len() as f64 / seconds,
        latency: Percentiles::of(&mut samples),
        cpu_ms_per_item: super::cpu_ms_per_item(
            cpu_before,
            super::process_cpu_seconds(),
            bodies.len(),
        ),
        goal: if backend.starts_with("SQLite") {
            ">= 1000/s"
        } else {
            ">= 500/s"
        }
        .to_string(),
    };
    Ok((intake, console_row))
}

async fn client(
    addr: std::net::SocketAddr,
    bodies: Arc<Vec<Bytes>>,
    next: Arc<AtomicUsize>,
) -> Result<Vec<Duration>, BenchError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| BenchError::Http(e.to_string()))?;
    tokio::spawn(conn);
    let mut samples = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = bodies.get(i) else {
            return Ok(samples);
        };
        let req = Request::post("/v1/requests")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Full::new(body.clone()))
            .map_err(|e| BenchError::Http(e.to_string()))?;
        let t = Instant::now();
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let answer = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?
            .to_bytes();
        samples.push(t.elapsed());
        if status != 201 {
            return Err(BenchError::Refused {
                index: i,
                status,
                body: String::from_utf8_lossy(&answer).chars().take(400).collect(),
            });
        }
    }
}
