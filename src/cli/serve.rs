//! `cqcfab serve`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use crate::config::Config;
use crate::service::{AppState, Token, serve};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CQCFAB_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
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
    serve(
        listener,
        AppState::new(store.clone(), Some(Token::new(token))),
        shutdown_signal(),
    )
    .await
    .context("the HTTP server stopped")?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
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
