//! A real server on a loopback port and a small client for the tests.

use std::net::SocketAddr;

use cqcfab::service::{AppState, Token};
use cqcfab::store::Store;
use serde_json::Value;

pub const TOKEN: &str = "test-portal-token";

pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(store: &Store) -> Server {
        Server::start_with(AppState::new(store.clone(), Some(Token::new(TOKEN)))).await
    }

    /// A server with `state` (stations, settings) rather than the portal-only default.
    pub async fn start_with(state: AppState) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(cqcfab::service::serve(listener, state, async {
            let _ = rx.await;
        }));
        Server {
            addr,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// Sends one request on a new connection; returns the status and the body as JSON (or, when it
/// is not JSON, as a string).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
    let page = super::console::request(addr, method, path, headers, body).await;
    let json = serde_json::from_str(&page.body).unwrap_or(Value::String(page.body));
    (page.status, json)
}

/// POST with the portal token and a JSON content type.
pub async fn post_json(addr: SocketAddr, path: &str, body: Vec<u8>) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    send(
        addr,
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        body,
    )
    .await
}

pub async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    send(addr, "GET", path, &[("authorization", &auth)], Vec::new()).await
}
