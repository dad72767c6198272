//! Delivery of the outbox to the portal's webhook (portal contract, "Events sent to the
//! portal"): each event is POSTed as its JSON envelope with
//! `X-Cqcfab-Signature: sha256=<hex HMAC-SHA256 of the body>`, until the portal answers 2xx.
//!
//! At least once: an event is marked delivered only after the 2xx, so a crash between the two
//! sends it again; its unique `event_id` lets the portal drop the duplicate. A failure waits
//! 10 s, then twice as long each time (capped at an hour); after `max_attempts` the event is
//! set aside as dead (`cqcfab events dead`, `cqcfab events retry`). Events are leased while
//! being sent, so two nodes never post the same event at the same time.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use sha2::Sha256;

use crate::store::{Store, StoreError};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-cqcfab-signature";
/// The first wait after a failure; each next one doubles.
pub const FIRST_RETRY_MS: i64 = 10_000;
/// The longest wait between two attempts.
pub const MAX_RETRY_MS: i64 = 3_600_000;
/// How long a node holds the events it is sending.
const LEASE_MS: i64 = 60_000;
/// Events leased at a time.
const BATCH: i64 = 50;
/// An answer the portal does not give within this is a failure.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `attempts + 1`, after `attempts` failures.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = attempts.clamp(1, 30) - 1;
    FIRST_RETRY_MS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_MS)
}

/// Why the webhook cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook URL {0:?} is not http(s)://HOST[:PORT]/PATH")]
    Url(String),
    #[error(
        "the webhook needs its secret (CQCFAB_WEBHOOK_SECRET, at least 16 characters): events are never sent unsigned"
    )]
    Secret,
    #[error("webhook CA file {path}: {detail}")]
    Ca { path: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where and how events are sent.
#[derive(Clone)]
pub struct Webhook {
    host: String,
    port: u16,
    path: String,
    tls: Option<tokio_rustls::TlsConnector>,
    secret: Arc<Vec<u8>>,
    pub max_attempts: i64,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("Webhook")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook at `url` signed with `secret`; HTTPS trusts the public roots and, when
    /// given, the CA certificates in `ca_file` (PEM).
    pub fn new(
        url: &str,
        secret: &str,
        max_attempts: i64,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Webhook, WebhookError> {
        if secret.len() < 16 {
            return Err(WebhookError::Secret);
        }
        let bad = || WebhookError::Url(url.to_string());
        let uri: hyper::Uri = url.parse().map_err(|_| bad())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad()),
        };
        let host = uri.host().ok_or_else(bad)?.to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let tls = if https {
            Some(tls_connector(ca_file)?)
        } else {
            None
        };
        Ok(Webhook {
            host,
            port,
            path,
            tls,
            secret: Arc::new(secret.as_bytes().to_vec()),
            max_attempts: max_attempts.max(1),
        })
    }

    /// Posts one event body; `Ok(status)` when the portal answered.
    async fn post(&self, event_id: &str, body: &str) -> Result<u16, String> {
        let sig = signature(&self.secret, body.as_bytes());
        let request = Request::post(self.path.as_str())
            .header("host", &self.host)
            .header("content-type", "application/json")
            .header("user-agent", "cqcfab")
            .header(SIGNATURE_HEADER, sig)
            .header("x-cqcfab-event-id", event_id)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect {}:{}: {e}", self.host, self.port))?;
        let status = match &self.tls {
            None => send(TokioIo::new(stream), request).await?,
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| e.to_string())?;
                let stream = tls
                    .connect(name, stream)
                    .await
                    .map_err(|e| format!("TLS with {}: {e}", self.host))?;
                send(TokioIo::new(stream), request).await?
            }
        };
        Ok(status)
    }
}

async fn send<T>(io: TokioIo<T>, request: Request<Full<Bytes>>) -> Result<u16, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    // The body is read (and dropped) so the connection ends cleanly.
    let _ = response.into_body().collect().await;
    driver.abort();
    Ok(status)
}

fn tls_connector(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_rustls::TlsConnector, WebhookError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let ca_err = |detail: String| WebhookError::Ca {
            path: path.display().to_string(),
            detail,
        };
        let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| ca_err(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WebhookError::Ca {
            path: "-".into(),
            detail: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// What one round of delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub delivered: u64,
    pub failed: u64,
    pub dead: u64,
}

fn delivery(outcome: &str) {
    crate::metrics::count(
        "cqcfab_portal_event_attempts_total",
        "Webhook attempts by outcome: delivered, failed (retried later), dead.",
        &[("outcome", outcome)],
        1.0,
    );
}

/// Sends every event due now (one lease after another); returns what happened.
pub async fn deliver_due(store: &Store, hook: &Webhook) -> Result<Round, StoreError> {
    let mut round = Round::default();
    loop {
        let leased = store.lease_events(LEASE_MS, BATCH).await?;
        if leased.is_empty() {
            return Ok(round);
        }
        for e in leased {
            let outcome = tokio::time::timeout(TIMEOUT, hook.post(&e.event_id, &e.payload)).await;
            let error = match outcome {
                Ok(Ok(status)) if (200..300).contains(&status) => {
                    store.event_delivered(e.seq).await?;
                    delivery("delivered");
                    round.delivered += 1;
                    continue;
                }
                Ok(Ok(status)) => format!("the portal answered {status}"),
                Ok(Err(e)) => e,
                Err(_) => format!("no answer within {} s", TIMEOUT.as_secs()),
            };
            let attempts = e.attempts + 1;
            if attempts >= hook.max_attempts {
                tracing::error!(event_id = %e.event_id, attempts, error = %error, "portal event dead: retry it from the dead-letter view");
                store.event_failed(e.seq, &error, None).await?;
                delivery("dead");
                round.dead += 1;
            } else {
                let retry_at = store.clock().now_ms() + backoff_ms(attempts);
                tracing::warn!(event_id = %e.event_id, attempts, error = %error, "portal event not delivered; will retry");
                store.event_failed(e.seq, &error, Some(retry_at)).await?;
                delivery("failed");
                round.failed += 1;
            }
        }
    }
}

/// The service's delivery worker: a round every second until `stop`.
pub async fn run(store: Store, hook: Webhook, mut stop: tokio::sync::watch::Receiver<bool>) {
    tracing::info!(webhook = ?hook, "portal event delivery started");
    loop {
        if let Err(e) = deliver_due(&store, &hook).await {
            tracing::error!(error = %e, "portal event delivery: database");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 20_000);
        assert_eq!(backoff_ms(5), 160_000);
        assert_eq!(backoff_ms(12), MAX_RETRY_MS);
        assert_eq!(backoff_ms(500), MAX_RETRY_MS);
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        let s = "s".repeat(16);
        assert!(Webhook::new("http://portal.example:8443/hooks/cqc", &s, 5, None).is_ok());
        assert!(Webhook::new("https://portal.example/hooks", &s, 5, None).is_ok());
        assert!(matches!(
            Webhook::new("ftp://portal.example/", &s, 5, None),
            Err(WebhookError::Url(_))
        ));
        assert!(matches!(
            Webhook::new("http://portal.example/", "short", 5, None),
            Err(WebhookError::Secret)
        ));
        let w = Webhook::new("http://portal.example/h", &s, 5, None).unwrap();
        assert!(!format!("{w:?}").contains(&s), "the secret never shows");
    }
}
