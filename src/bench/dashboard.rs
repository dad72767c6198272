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

/// A signed-in supervisor's session cookie on `store`.
pub async fn supervisor_cookie(store: &Store) -> Result<String, BenchError> {
    let fixture = |e: &dyn std::fmt::Display| BenchError::Fixture(e.to_string());
    let name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let user = store
        .add_user(
            &name,
            "Bench",
            Role::Supervisor,
            "bench-password-0123",
            "bench",
        )
        .await
        .map_err(|e| fixture(&e))?;
    let secret = store.open_session(&user).await.map_err(|e| fixture(&e))?;
    Ok(format!("{}={secret}", crate::console::session_cookie(true)))
}

/// A kept-alive connection to the service loading the dashboard.
struct Page {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    conn: tokio::task::JoinHandle<Result<(), hyper::Error>>,
}

impl Page {
    async fn open(addr: std::net::SocketAddr) -> Result<Page, BenchError> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?;
        Ok(Page {
            sender,
            conn: tokio::spawn(conn),
        })
    }

    /// One load of `/console`; its time.
    async fn load(&mut self, cookie: &str) -> Result<Duration, BenchError> {
        let req = hyper::Request::get("/console")
            .header("host", "localhost")
            .header("cookie", cookie)
            .body(Full::new(Bytes::new()))
            .map_err(|e| BenchError::Http(e.to_string()))?;
        self.sender
            .ready()
            .await
            .map_err(|e| BenchError::Http(format!("connection: {e:?}")))?;
        let t = Instant::now();
        let resp = match self.sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                let why = if self.conn.is_finished() {
                    "the connection closed"
                } else {
                    "the connection is open"
                };
                return Err(BenchError::Http(format!("GET /console: {e:?} ({why})")));
            }
        };
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| BenchError::Http(e.to_string()))?
            .to_bytes();
        let took = t.elapsed();
        if status != 200 || !body.windows(9).any(|w| w == b"Total</th") {
            return Err(BenchError::Http(format!("GET /console answered {status}")));
        }
        Ok(took)
    }
}

/// Loads the dashboard at `rate` per second until `done`: what the console's users add to a
/// service busy with something else. Times count from when a load was due.
pub async fn load_at(
    addr: std::net::SocketAddr,
    cookie: &str,
    rate: f64,
    done: &std::sync::atomic::AtomicBool,
) -> Result<Vec<Duration>, BenchError> {
    let mut page = Page::open(addr).await?;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut times = Vec::new();
    let start = Instant::now();
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let due = start + interval * times.len() as u32;
        tokio::time::sleep_until(due.into()).await;
        page.load(cookie).await?;
        times.push(due.elapsed());
    }
    Ok(times)
}

/// `samples` dashboard loads: the queries, then the page over HTTP.
pub async fn dashboard(
    store: &Store,
    backend: &str,
    cards: i64,
    samples: usize,
) -> Result<Vec<Row>, BenchError> {
    let now = store.clock().now_ms();
    let day_start = now - now.rem_euclid(DAY_MS);
    let mut times = Vec::with_capacity(samples);
    let started = Instant::now();
    for _ in 0..samples {
        let t = Instant::now();
        let d = store
            .dashboard(day_start)
            .await
            .map_err(|e| BenchError::Fixture(e.to_string()))?;
        times.push(t.elapsed());
        let total: i64 = d.cards.iter().map(|c| c.1).sum();
        if total != cards {
            return Err(BenchError::Fixture(format!(
                "the dashboard counts {total} cards, {cards} were seeded"
            )));
        }
    }
    let count = crate::console::html::count(cards);
    let mut rows = vec![row(
        format!("dashboard queries, {count} cards"),
        backend,
        &mut times,
        started.elapsed(),
    )];
    let cookie = supervisor_cookie(store).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, AppState::new(store.clone(), None), async {
        let _ = stopped.await;
    }));
    let mut page = Page::open(addr).await?;
    let mut times = Vec::with_capacity(samples);
    let started = Instant::now();
    for _ in 0..samples {
        times.push(page.load(&cookie).await?);
    }
    rows.push(row(
        format!("GET /console (whole page), {count} cards"),
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
