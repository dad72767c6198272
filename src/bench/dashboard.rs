//! Dashboard benchmark: the console's production page on a database of `cards` cards (a
//! million for the goal), timed twice: the store's queries alone, and the whole page
//! through the service (session check, queries, HTML) on loopback, as a supervisor's browser
//! asks for it.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::intake::BenchError;
use super::{Percentiles, Row};
use crate::domain::role::Role;
use crate::service::{AppState, serve};
use crate::store::Store;

const DAY_MS: i64 = 86_400_000;
const GOAL: &str = "< 50 ms server time with 1 M cards (PostgreSQL)";

/// Seeds `cards` cards (and `today` records of today's work) into an empty `store`.
pub async fn seed(store: &Store, cards: i64, today: i64) -> Result<Duration, BenchError> {
    let started = Instant::now();
    let now = store.clock().now_ms();
    store
        .seed_dashboard_for_bench(cards, today, now - now.rem_euclid(DAY_MS))
        .await
        .map_err(|e| BenchError::Fixture(e.to_string()))?;
    Ok(started.elapsed())
}

/// `samples` dashboard loads: the queries, then the page over HTTP.
pub async fn dashboard(
    store: &Store,
    backend: &str,
    cards: i64,
    samples: usize,
) -> Result<Vec<Row>, BenchError> {
    let fixture = |e: &dyn std::fmt::Display| BenchError::Fixture(e.to_string());
    let now = store.clock().now_ms();
    let day_start = now - now.rem_euclid(DAY_MS);
    let mut times = Vec::with_capacity(samples);
    let started = Instant::now();
    for _ in 0..samples {
        let t = Instant::now();
        let d = store.dashboard(day_start).await.map_err(|e| fixture(&e))?;
        times.push(t.elapsed());
        let total: i64 = d.cards.iter().map(|c| c.1).sum();
        if total != cards {
            return Err(BenchError::Fixture(format!(
                "the dashboard counts {total} cards, {cards} were seeded"
            )));
        }
    }
    let mut rows = vec![row(
        format!(
            "dashboard queries, {} cards",
            crate::console::html::count(cards)
        ),
        backend,
        &mut times,
        started.elapsed(),
    )];

    let user = store
        .add_user(
            "bench-supervisor",
            "Bench",
            Role::Supervisor,
            "bench-password-0123",
            "bench",
        )
        .await
        .map_err(|e| fixture(&e))?;
    let secret = store.open_session(&user).await.map_err(|e| fixture(&e))?;
    let cookie = format!("{}={secret}", crate::console::session_cookie(true));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, AppState::new(store.clone(), None), async {
        let _ = stopped.await;
    }));
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| BenchError::Http(e.to_string()))?;
    let conn = tokio::spawn(conn);
    let mut times = Vec::with_capacity(samples);
    let started = Instant::now();
    for _ in 0..samples {
        let req = hyper::Request::get("/console")
            .header("host", "localhost")
            .header("cookie", &cookie)
            .body(Full::new(Bytes::new()))
            .map_err(|e| BenchError::Http(e.to_string()))?;
        sender
            .ready()
            .await
            .map_err(|e| BenchError::Http(format!("connection: {e:?}")))?;
        let t = Instant::now();
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                let why = match conn.await {
                    Ok(Err(c)) => format!("{c:?}"),
                    other => format!("{other:?}"),
                };
                return Err(BenchError::Http(format!(
                    "GET /console: {e:?}; connection: {why}"
                )));
            }
        };
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?
            .to_bytes();
        times.push(t.elapsed());
        if status != 200 || !body.windows(9).any(|w| w == b"Total</th") {
            return Err(BenchError::Http(format!("GET /console answered {status}")));
        }
    }
    rows.push(row(
        format!(
            "GET /console (whole page), {} cards",
            crate::console::html::count(cards)
        ),
        backend,
        &mut times,
        started.elapsed(),
    ));
    let _ = stop.send(());
    let _ = server.await;
    Ok(rows)
}

fn row(stage: String, backend: &str, times: &mut [Duration], took: Duration) -> Row {
    Row {
        stage,
        backend: backend.to_string(),
        count: times.len(),
        seconds: took.as_secs_f64(),
        per_second: times.len() as f64 / took.as_secs_f64(),
        latency: Percentiles::of(times),
        cpu_ms_per_item: None,
        goal: GOAL.into(),
    }
}
