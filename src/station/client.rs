//! A station's link to the service: JSON over one kept-alive HTTP/1.1 connection, so that
//! a scan costs one round trip on loopback or the bureau's LAN, not a TCP handshake.
//!
//! A connection the service closed (restart, idle timeout) is opened again once per call;
//! the calls the stations make are idempotent (a scan recorded twice changes nothing), so
//! sending one again after a broken connection is safe.

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Why a call did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("service URL {0:?} is not http://HOST:PORT")]
    Url(String),
    #[error("cannot reach the service at {addr}: {detail}")]
    Unreachable { addr: String, detail: String },
    #[error("the service at {addr} answered {status} with a body that is not JSON")]
    NotJson { addr: String, status: u16 },
}

/// The service, as seen from a station.
pub struct ServiceClient {
    addr: String,
    authorization: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of logs.
        f.debug_struct("ServiceClient")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServiceClient {
    /// A client of the service at `url` (`http://host:port`, a trailing `/` allowed) that
    /// presents `token`.
    pub fn new(url: &str, token: &str) -> Result<ServiceClient, ClientError> {
        let addr = url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|a| !a.is_empty() && !a.contains('/') && a.contains(':'))
            .ok_or_else(|| ClientError::Url(url.to_string()))?;
        Ok(ServiceClient {
            addr: addr.to_string(),
            authorization: format!("Bearer {token}"),
            sender: None,
        })
    }

    /// The service's `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let unreachable = |detail: String| ClientError::Unreachable {
            addr: self.addr.clone(),
            detail,
        };
        let stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| unreachable(e.to_string()))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// POSTs `body` to `path`; returns the status and the JSON answer.
    pub async fn post_json(
        &mut self,
        path: &str,
        body: &Value,
    ) -> Result<(u16, Value), ClientError> {
        let bytes = Bytes::from(body.to_string());
        let mut last = None;
        for _ in 0..2 {
            let mut sender = match self.sender.take() {
                Some(s) if !s.is_closed() => s,
                _ => self.connect().await?,
            };
            let request = Request::post(path)
                .header("host", &self.addr)
                .header("content-type", "application/json")
                .header("authorization", &self.authorization)
                .body(Full::new(bytes.clone()))
                .map_err(|e| ClientError::Unreachable {
                    addr: self.addr.clone(),
                    detail: e.to_string(),
                })?;
            let sent = async {
                sender.ready().await?;
                sender.send_request(request).await
            };
            match sent.await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let collected = response.into_body().collect().await;
                    self.sender = Some(sender);
                    let body = collected.map_err(|e| ClientError::Unreachable {
                        addr: self.addr.clone(),
                        detail: e.to_string(),
                    })?;
                    let value = serde_json::from_slice(&body.to_bytes()).map_err(|_| {
                        ClientError::NotJson {
                            addr: self.addr.clone(),
                            status,
                        }
                    })?;
                    return Ok((status, value));
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        Err(ClientError::Unreachable {
            addr: self.addr.clone(),
            detail: last.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_host_port_urls_are_taken() {
        assert_eq!(
            ServiceClient::new("http://127.0.0.1:8080/", "t")
                .unwrap()
                .addr(),
            "127.0.0.1:8080"
        );
        for bad in [
            "127.0.0.1:8080",
            "https://x:1",
            "http://",
            "http://host",
            "http://h:1/v1",
        ] {
            assert!(ServiceClient::new(bad, "t").is_err(), "{bad}");
        }
        let c = ServiceClient::new("http://127.0.0.1:8080", "secret-token").unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
