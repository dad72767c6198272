//! `/metrics` (Prometheus text format): gauges read from the database at scrape time (cards
//! and jobs by state, portal events pending or dead, quality cases, held returns) and the
//! process's counters and histograms (HTTP requests by route and status with their latency,
//! station scans by outcome, job claim latency, webhook deliveries).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::{self, gauge, labels};

/// Counts and times every request by its route pattern (never the raw path: ids in paths
/// would make a series per card).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::count(
        "cqcfab_http_requests_total",
        "HTTP requests answered, by route pattern, method and status.",
        &[("route", &route), ("method", &method), ("status", &status)],
        1.0,
    );
    metrics::observe(
        "cqcfab_http_request_duration_seconds",
        "Time to answer an HTTP request, by route pattern.",
        &[("route", &route)],
        started.elapsed(),
    );
    response
}

/// Records a station scan's outcome.
pub fn scanned(station: &str, outcome: &str) {
    metrics::count(
        "cqcfab_station_scans_total",
        "Codes scanned at the stations, by kind of station and outcome.",
        &[("station", station), ("outcome", outcome)],
        1.0,
    );
}

pub async fn show(State(state): State<AppState>) -> Response {
    let counts = match state.store.counts().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "metrics: database");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    };
    let mut out = String::new();
    let one = |pairs: &[(&str, &str)], n: i64| (labels(pairs), n as f64);
    gauge(
        &mut out,
        "cqcfab_cards",
        "Card records by life-cycle state.",
        &counts
            .cards
            .iter()
            .map(|(s, n)| one(&[("state", s)], *n))
            .collect::<Vec<_>>(),
    );
    gauge(
        &mut out,
        "cqcfab_jobs",
        "Jobs by kind and state.",
        &counts
            .jobs
            .iter()
            .map(|(k, s, n)| one(&[("kind", k), ("state", s)], *n))
            .collect::<Vec<_>>(),
    );
    gauge(
        &mut out,
        "cqcfab_portal_events",
        "Portal events in the outbox: pending, delivered, dead.",
        &counts
            .events
            .iter()
            .map(|(s, n)| one(&[("status", s)], *n))
            .collect::<Vec<_>>(),
    );
    gauge(
        &mut out,
        "cqcfab_quality_cases",
        "Quality cases by state.",
        &counts
            .quality_cases
            .iter()
            .map(|(s, n)| one(&[("state", s)], *n))
            .collect::<Vec<_>>(),
    );
    gauge(
        &mut out,
        "cqcfab_returns_held_in_slots",
        "Returned cards waiting in a numbered storage slot.",
        &[(String::new(), counts.held_in_slots as f64)],
    );
    out.push_str(&metrics::render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
