//! A real server on a loopback port and a small client for the tests.

use std::net::SocketAddr;

use axum::body::Bytes;
use cqcfab::service::{AppState, Token};
use cqcfab::store::Store;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
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

/// Sends one request on a new connection; returns status, headers' content type and body.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, json)
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
