//! A local portal webhook receiver for the tests: it verifies every signature itself
//! (HMAC-SHA256 with the shared secret, not our code), answers from a script (to fail the first
//! attempts) and records what it got.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cqcfab::portal::webhook::Webhook;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

pub const SECRET: &str = "portal-shared-secret-0123456789";

/// What the receiver got, and what it answers next.
#[derive(Default)]
pub struct Receiver {
    /// Statuses to answer, in order; 200 when empty.
    pub script: VecDeque<u16>,
    /// (event id, body) of every POST, in order.
    pub got: Vec<(String, Value)>,
    /// POSTs whose signature did not verify.
    pub bad_signatures: usize,
    /// Answer this long after a POST arrives.
    pub delay_ms: u64,
}

pub type Shared = Arc<Mutex<Receiver>>;

pub async fn receive(State(r): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers
        .get("x-cqcfab-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let verified = sig
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .is_some_and(|h| mac.verify_slice(&h).is_ok());
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, delay) = {
        let mut r = r.lock().unwrap();
        if !verified {
            r.bad_signatures += 1;
        }
        let id = value["event_id"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            headers
                .get("x-cqcfab-event-id")
                .and_then(|v| v.to_str().ok()),
            Some(id.as_str())
        );
        r.got.push((id, value));
        (r.script.pop_front().unwrap_or(200), r.delay_ms)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(status).unwrap()
}

pub async fn start_receiver(r: Shared) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hooks/cqcfab", post(receive))
        .with_state(r);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

/// The webhook client pointed at a receiver on `addr`.
pub fn hook(addr: SocketAddr, attempts: i64) -> Webhook {
    Webhook::new(
        &format!("http://{addr}/hooks/cqcfab"),
        SECRET,
        attempts,
        None,
    )
    .unwrap()
}

/// The `data` of every event of type `kind` the receiver got, in order.
pub fn received(r: &Shared, kind: &str) -> Vec<Value> {
    r.lock()
        .unwrap()
        .got
        .iter()
        .filter(|(_, body)| body["type"] == kind)
        .map(|(_, body)| body["data"].clone())
        .collect()
}
