//! The portal API's HTTP edges: authentication, media type, body limit, routes.

mod common;

use common::TestDb;
use common::http::{Server, TOKEN, get, post_json, send};
use cqcfab::clock::Clock;
use time::macros::date;

async fn server() -> (TestDb, Server) {
    let db = TestDb::sqlite(Clock::fixed_on(date!(2026 - 11 - 26))).await;
    let server = Server::start(&db.store).await;
    (db, server)
}

#[tokio::test]
async fn requests_without_the_portal_token_are_refused() {
    let (db, server) = server().await;
    let body = serde_json::to_vec(&common::fixture_of("first_issue")).unwrap();
    let (s, b) = send(
        server.addr,
        "POST",
        "/v1/requests",
        &[("content-type", "application/json")],
        body.clone(),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("unauthorized")));
    let (s, _) = send(
        server.addr,
        "POST",
        "/v1/requests",
        &[
            ("content-type", "application/json"),
            ("authorization", "Bearer wrong"),
        ],
        body,
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = send(server.addr, "GET", "/v1/requests/X", &[], Vec::new()).await;
    assert_eq!(s, 401);
    assert_eq!(db.store.request_count().await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let (db, server) = server().await;
    let auth = format!("Bearer {TOKEN}");
    let body = serde_json::to_vec(&common::fixture_of("first_issue")).unwrap();
    let (s, b) = send(
        server.addr,
        "POST",
        "/v1/requests",
        &[("content-type", "text/plain"), ("authorization", &auth)],
        body,
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    assert_eq!(db.store.request_count().await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_4_mib_is_413_and_stores_nothing() {
    let (db, server) = server().await;
    let mut doc = common::fixture_of("first_issue");
    doc["photo"] = serde_json::Value::String("A".repeat(4 * 1024 * 1024 + 1));
    let (s, b) = post_json(
        server.addr,
        "/v1/requests",
        serde_json::to_vec(&doc).unwrap(),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (413, Some("body_too_large")));
    assert_eq!(db.store.request_count().await.unwrap(), 0);
    server.stop().await;
}

#[tokio::test]
async fn unknown_requests_and_routes_are_404() {
    let (_db, server) = server().await;
    let (s, b) = get(server.addr, "/v1/requests/NOPE").await;
    assert_eq!((s, b["error"].as_str()), (404, Some("unknown_request")));
    let (s, _) = get(server.addr, "/v1/nothing-here").await;
    assert_eq!(s, 404);
    let (s, b) = send(server.addr, "GET", "/healthz", &[], Vec::new()).await;
    assert_eq!((s, b.as_str()), (200, Some("ok")));
    let (s, _) = send(server.addr, "GET", "/readyz", &[], Vec::new()).await;
    assert_eq!(s, 200);
    server.stop().await;
}
