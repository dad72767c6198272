//! What operations and the portal's developers read from the service, on both backends:
//! `/metrics` (Prometheus text format, its gauges checked against the database, its counters
//! against the requests made) and `/v1/openapi.json` (every documented route exists).

mod common;

use std::collections::BTreeMap;

use common::TestDb;
use common::http::{Server, TOKEN, send};
use cqcfab::clock::Clock;
use serde_json::Value;
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    metrics_count_cards_jobs_events_and_requests,
    every_documented_route_exists,
);

async fn get_text(server: &Server, path: &str) -> (u16, String, String) {
    let addr = server.addr;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<axum::body::Bytes>::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    let status = res.status().as_u16();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    use http_body_util::BodyExt;
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8(body.to_vec()).unwrap())
}

/// `name{labels}` → value, every line checked against the text format's grammar.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "series before its TYPE: {line}");
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        out.insert(series.to_string(), v);
    }
    out
}

async fn metrics_count_cards_jobs_events_and_requests(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let fixtures = common::valid_fixtures();
    for doc in fixtures.iter().take(3) {
        let (status, _) = send(
            server.addr,
            "POST",
            "/v1/requests",
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {TOKEN}")),
            ],
            doc.to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, _) = send(server.addr, "GET", "/v1/requests/NOPE", &[], vec![]).await;
    assert_eq!(status, 401);

    let (status, ctype, text) = get_text(&server, "/metrics").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let m = parse_metrics(&text);
    // Gauges: what the database holds.
    let counts = db.store.counts().await.unwrap();
    let mut cards = 0.0;
    for (state, n) in &counts.cards {
        assert_eq!(m[&format!("cqcfab_cards{{state=\"{state}\"}}")], *n as f64);
        cards += *n as f64;
    }
    assert_eq!(cards, 3.0);
    assert_eq!(m["cqcfab_jobs{kind=\"render\",state=\"queued\"}"], 3.0);
    assert!(m["cqcfab_portal_events{status=\"pending\"}"] >= 3.0);
    assert_eq!(m["cqcfab_returns_held_in_slots"], 0.0);
    // Counters and histograms: the requests just made, by route pattern (never a raw path).
    assert!(
        m["cqcfab_http_requests_total{route=\"/v1/requests\",method=\"POST\",status=\"201\"}"]
            >= 3.0
    );
    assert!(
        m["cqcfab_http_requests_total{route=\"/v1/requests/{request_id}\",method=\"GET\",status=\"401\"}"]
            >= 1.0
    );
    assert!(!text.contains("NOPE"), "an id never becomes a label");
    let count = m["cqcfab_http_request_duration_seconds_count{route=\"/v1/requests\"}"];
    let inf = m["cqcfab_http_request_duration_seconds_bucket{route=\"/v1/requests\",le=\"+Inf\"}"];
    assert!(count >= 3.0 && inf == count);
    server.stop().await;
}

async fn every_documented_route_exists(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let (status, ctype, text) = get_text(&server, "/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "application/json");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 13);
    for (path, ops) in paths {
        let concrete = path
            .replace("{request_id}", "R-1")
            .replace("{piece_id}", "LA000000000FR")
            .replace("{case_id}", "1")
            .replace("{id}", "1");
        for method in ops.as_object().unwrap().keys() {
            let (status, body) = send(
                server.addr,
                &method.to_uppercase(),
                &concrete,
                &[("content-type", "application/json")],
                b"{}".to_vec(),
            )
            .await;
            assert!(
                !(status == 404 && body["message"] == "no such route"),
                "{method} {path} is documented but not served"
            );
            // A documented answer, or the refusal of a caller without a token.
            let documented = ops[method]["responses"]
                .as_object()
                .unwrap()
                .contains_key(&status.to_string());
            assert!(
                documented || status == 401,
                "{method} {path}: {status} {body}"
            );
        }
    }
    server.stop().await;
}
