//! Portal events delivered to a webhook, on both backends: a local receiver that fails the
//! first attempts, verifies every signature itself (HMAC-SHA256 with the shared secret, not
//! our code) and records what it got. At least once, each event id acknowledged once, retries
//! after a growing wait, dead letters after the last attempt and their retry, two nodes
//! delivering at the same time without posting an event twice, and an https receiver.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use common::TestDb;
use common::webhook::{SECRET, Shared, hook, receive, start_receiver};
use cqcfab::clock::Clock;
use cqcfab::intake::Intake;
use cqcfab::portal::webhook::{self, Webhook};
use serde_json::Value;
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    events_reach_the_portal_signed_once_each_after_failed_attempts,
    an_event_the_portal_never_takes_goes_dead_and_is_retried,
    two_nodes_never_post_the_same_event_at_once,
    an_https_webhook_is_verified_against_its_ca,
    card_personalised_reaches_the_portal_when_the_chip_is_bound,
);

/// Takes in `n` fixture requests: their `request.accepted` events wait in the outbox.
async fn events_waiting(db: &TestDb, n: usize) -> usize {
    let intake = Intake::new(db.store.clone());
    for doc in common::valid_fixtures().iter().take(n) {
        intake.submit(doc.clone(), "test").await.unwrap();
    }
    db.store.events(None).await.unwrap().len()
}

fn ids_once(got: &[(String, Value)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (id, _) in got {
        *m.entry(id.clone()).or_insert(0) += 1;
    }
    m
}

async fn undelivered(db: &TestDb) -> usize {
    db.store
        .events(None)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.delivered_at.is_none())
        .count()
}

async fn events_reach_the_portal_signed_once_each_after_failed_attempts(db: &TestDb) {
    let n = events_waiting(db, 3).await;
    assert!(n >= 3);
    let r: Shared = Arc::default();
    r.lock().unwrap().script = VecDeque::from([500, 503]);
    let (addr, task) = start_receiver(r.clone()).await;
    let hook = hook(addr, 20);

    let round = webhook::deliver_due(&db.store, &hook).await.unwrap();
    assert_eq!((round.delivered, round.failed), (n as u64 - 2, 2));
    // Not due again until the first wait is over.
    let round = webhook::deliver_due(&db.store, &hook).await.unwrap();
    assert_eq!(round, webhook::Round::default());
    db.store.clock().advance(time::Duration::seconds(10));
    let round = webhook::deliver_due(&db.store, &hook).await.unwrap();
    assert_eq!(round.delivered, 2);
    assert_eq!(undelivered(db).await, 0);

    let r = r.lock().unwrap();
    assert_eq!(r.bad_signatures, 0);
    assert_eq!(
        r.got.len(),
        n + 2,
        "two failed attempts, then each event once"
    );
    let ids = ids_once(&r.got);
    assert_eq!(ids.len(), n, "every event, each with its own id");
    // The body is the event's envelope, as stored.
    for (id, body) in &r.got {
        assert_eq!(body["event_id"].as_str(), Some(id.as_str()));
        assert!(body["type"].is_string() && body["occurred_at"].is_string());
    }
    drop(r);
    task.abort();
}

/// `card.personalised` is written by the encoding station's transaction that binds the chip
/// (src/store/personalisation.rs) and reaches the portal like every other event, without the
/// holder's personal data.
async fn card_personalised_reaches_the_portal_when_the_chip_is_bound(db: &TestDb) {
    let posted = common::production::encoded_and_posted(db, 2, "2026-11-27").await;
    let r: Shared = Arc::default();
    let (addr, task) = start_receiver(r.clone()).await;
    webhook::deliver_due(&db.store, &hook(addr, 20))
        .await
        .unwrap();
    let personalised: Vec<Value> = {
        let r = r.lock().unwrap();
        assert_eq!(r.bad_signatures, 0);
        r.got
            .iter()
            .map(|(_, b)| b.clone())
            .filter(|b| b["type"] == "card.personalised")
            .collect()
    };
    assert_eq!(personalised.len(), 2, "one per card: {personalised:?}");
    for (card, _) in &posted.pairs {
        let c = db.store.card_by_number(card).await.unwrap().unwrap();
        let event = personalised
            .iter()
            .find(|b| b["data"]["card_number"] == card.as_str())
            .unwrap_or_else(|| panic!("no card.personalised for {card}"));
        let data = &event["data"];
        assert_eq!(data["request_id"], c.request_id.as_str());
        assert_eq!(data["kind"], "first_issue");
        assert_eq!(data["expiry_date"], c.expiry_date.as_str());
        assert_eq!(data["previous_card"], Value::Null);
        let groups = c.groups().unwrap();
        assert!(!groups.is_empty());
        for g in groups {
            assert_eq!(
                data["code95"][g.group.as_str()],
                g.expiry.to_string().as_str()
            );
        }
        // Personalised on the test's fixed clock, noon in Paris.
        assert_eq!(data["personalised_at"], "2026-11-27T11:00:00Z");
        for personal in [
            "surname",
            "given_names",
            "birth_date",
            "address_lines",
            "photo",
        ] {
            assert!(data.get(personal).is_none(), "{personal} in {data}");
        }
    }
    task.abort();
}

async fn an_event_the_portal_never_takes_goes_dead_and_is_retried(db: &TestDb) {
    let n = events_waiting(db, 1).await;
    let r: Shared = Arc::default();
    r.lock().unwrap().script = VecDeque::from(vec![500; 3 * n]);
    let (addr, task) = start_receiver(r.clone()).await;
    let hook = hook(addr, 3);
    let mut dead = 0;
    for wait in [0, 10, 20] {
        db.store.clock().advance(time::Duration::seconds(wait));
        dead += webhook::deliver_due(&db.store, &hook).await.unwrap().dead;
    }
    assert_eq!(dead, n as u64);
    let letters = db.store.dead_events().await.unwrap();
    assert_eq!(letters.len(), n);
    assert_eq!(letters[0].attempts, 3);
    assert_eq!(
        letters[0].last_error.as_deref(),
        Some("the portal answered 500")
    );
    // Dead events are not sent again by themselves.
    db.store.clock().advance(time::Duration::hours(2));
    assert_eq!(
        webhook::deliver_due(&db.store, &hook).await.unwrap(),
        webhook::Round::default()
    );

    // Someone retries them from the dead-letter view (through the binary): audited.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(db.cli_args())
        .args(["events", "retry", "--by", "Marc"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{n} event(s)")));
    // The binary ran on the wall clock: it made the events due at its own now, which may be
    // ahead of this test's fixed clock. Catch up with it, or the test depends on the hour.
    let wall = Clock::System.now_ms();
    let behind = wall - db.store.clock().now_ms();
    if behind > 0 {
        db.store
            .clock()
            .advance(time::Duration::milliseconds(behind + 1));
    }
    let round = webhook::deliver_due(&db.store, &hook).await.unwrap();
    assert_eq!(round.delivered, n as u64);
    assert!(db.store.dead_events().await.unwrap().is_empty());
    let audit = db.store.audit_history("outbox", "all").await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "Marc");

    // A portal that is not there at all: the error names where it tried.
    task.abort();
    let _ = task.await;
    events_waiting(db, 2).await;
    let round = webhook::deliver_due(&db.store, &hook).await.unwrap();
    assert!(round.failed >= 1, "{round:?}");
    let e = db
        .store
        .events(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.delivered_at.is_none())
        .count();
    assert!(e >= 1);
}

async fn two_nodes_never_post_the_same_event_at_once(db: &TestDb) {
    let n = events_waiting(db, 4).await;
    let r: Shared = Arc::default();
    r.lock().unwrap().delay_ms = 30;
    let (addr, task) = start_receiver(r.clone()).await;
    let (a, b) = (hook(addr, 20), hook(addr, 20));
    let (ra, rb) = tokio::join!(
        webhook::deliver_due(&db.store, &a),
        webhook::deliver_due(&db.store, &b)
    );
    assert_eq!(ra.unwrap().delivered + rb.unwrap().delivered, n as u64);
    let ids = ids_once(&r.lock().unwrap().got);
    assert_eq!(ids.len(), n);
    assert!(ids.values().all(|&c| c == 1), "{ids:?}");
    task.abort();
}

/// An https receiver whose certificate is issued by a CA made here with openssl.
async fn an_https_webhook_is_verified_against_its_ca(db: &TestDb) {
    let n = events_waiting(db, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let sh = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=portal test CA",
        "-days",
        "2",
    ]);
    sh(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(dir.path().join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);

    let certs: Vec<_> = rustls_pemfile::certs(
        &mut std::fs::read(dir.path().join("server.pem"))
            .unwrap()
            .as_slice(),
    )
    .map(Result::unwrap)
    .collect();
    let key = rustls_pemfile::private_key(
        &mut std::fs::read(dir.path().join("server.key"))
            .unwrap()
            .as_slice(),
    )
    .unwrap()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let r: Shared = Arc::default();
    let server = {
        let r = r.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let r = r.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let r = r.clone();
                            async move {
                                use http_body_util::BodyExt;
                                let (parts, body) = req.into_parts();
                                let bytes = body.collect().await?.to_bytes();
                                let status = receive(State(r), parts.headers, bytes).await;
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(http_body_util::Full::new(Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        })
    };

    let url = format!("https://localhost:{port}/hooks/cqcfab");
    // Without our CA the portal's certificate is not trusted: nothing is delivered.
    let untrusted = Webhook::new(&url, SECRET, 20, None).unwrap();
    let round = webhook::deliver_due(&db.store, &untrusted).await.unwrap();
    assert_eq!((round.delivered, round.failed), (0, n as u64));
    let error = db.store.events(None).await.unwrap();
    assert!(error.iter().all(|e| e.delivered_at.is_none()));
    db.store.clock().advance(time::Duration::seconds(10));
    let trusted = Webhook::new(&url, SECRET, 20, Some(&dir.path().join("ca.pem"))).unwrap();
    let round = webhook::deliver_due(&db.store, &trusted).await.unwrap();
    assert_eq!(round.delivered, n as u64);
    assert_eq!(r.lock().unwrap().bad_signatures, 0);
    server.abort();
}
