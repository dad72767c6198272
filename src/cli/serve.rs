//! `cqcfab serve`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use std::sync::Arc;

use crate::config::Config;
use crate::render::{Renderer, worker};
use crate::service::{AppState, Token, serve};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CQCFAB_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Render workers on this node (each renders one card at a time on its own core);
    /// 0 leaves rendering to other nodes [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub render_workers: Option<usize>,
    /// Seconds a render worker holds a job before another node may take it over: a node that
    /// dies leaves its jobs to the others after this long. Longer than any render (a card
    /// takes well under a second).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u32).range(5..=3600)
    )]
    pub render_lease_secs: u32,
}

pub async fn run(config: &Config, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let Some(token) = config.portal_token.as_deref() else {
        bail!(
            "no portal token is configured: set CQCFAB_PORTAL_TOKEN (or portal_token in the configuration file) \
             so that the portal can authenticate"
        );
    };
    let store = super::open_store(config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, database = %config.location().describe(), "cqcfab serving");
    let workers = args.render_workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let renderer = Arc::new(Renderer::new(&config.authority)?);
    if workers > 0 {
        let node = format!("{}-{}", hostname(), std::process::id());
        for i in 0..workers {
            tasks.spawn(worker::run(
                store.clone(),
                renderer.clone(),
                format!("{node}-render-{i}"),
                i64::from(args.render_lease_secs) * 1000,
                stopped.clone(),
            ));
        }
        tracing::info!(workers, "render workers started");
    }
    match &config.webhook {
        Some(w) => {
            let hook = crate::portal::webhook::Webhook::new(
                &w.url,
                &w.secret,
                w.max_attempts,
                w.ca_file.as_deref(),
            )?;
            tasks.spawn(crate::portal::webhook::run(
                store.clone(),
                hook,
                stopped.clone(),
            ));
        }
        None => tracing::warn!(
            "no webhook configured ([webhook] url, CQCFAB_WEBHOOK_URL): portal events wait in the outbox"
        ),
    }
    tasks.spawn(tally_worker(store.clone(), stopped.clone()));
    tasks.spawn(retention_worker(
        store.clone(),
        config.retention,
        stopped.clone(),
    ));
    tasks.spawn(expiry_worker(store.clone(), stopped.clone()));
    let csca = crate::chip::keys::csca(config)
        .context("the quality desk verifies chips with the CSCA certificate")?;
    serve(
        listener,
        AppState::new(store.clone(), Some(Token::new(token)))
            .with_stations(&config.stations)
            .with_decision_days(config.decision_days)
            .with_csca(csca)
            .with_console(config.console)
            .with_certificate_issuer(&config.certificate_issuer)
            .with_renderer(renderer),
        shutdown_signal(),
    )
    .await
    .context("the HTTP server stopped")?;
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Folds the dashboard's tally moves every few seconds (PostgreSQL; docs/console.md), so the
/// counts stay one small read however busy the day.
async fn tally_worker(store: crate::store::Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);
    loop {
        if let Err(e) = store.fold_tallies().await {
            tracing::warn!(error = %e, "folding the tallies failed; next try in 5 s");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Presumes delivery and purges personal data every hour (docs/retention.md); a failed
/// sweep is logged and tried again at the next hour, never taking the service down.
async fn retention_worker(
    store: crate::store::Store,
    policy: crate::store::retention::Retention,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
    loop {
        match store
            .retention_sweep(policy, false, "retention-worker")
            .await
        {
            Ok(s) => tracing::info!(
                delivered = s.delivered.len(),
                purged = s.purged.len(),
                "retention sweep"
            ),
            Err(e) => tracing::warn!(error = %e, "retention sweep failed; next try in an hour"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Expires the cards past their date of expiry (docs/lifecycle.md, docs/operations.md): at
/// start, then every hour, so the first run after midnight (Paris) does the day's work and
/// the others find nothing. A failed run is logged and tried again at the next hour.
async fn expiry_worker(store: crate::store::Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
    loop {
        match store
            .expire_due(crate::store::expiry::BATCH, false, "expiry-worker")
            .await
        {
            Ok(run) if run.expired.is_empty() => {}
            Ok(run) => tracing::info!(
                expired = run.expired.len(),
                skipped = run.skipped.len(),
                today = %run.today,
                "expiry run"
            ),
            Err(e) => tracing::warn!(error = %e, "expiry run failed; next try in an hour"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// This machine's name, for job lease owners (which node holds a job).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_string())
}
