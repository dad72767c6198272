//! `cqcfab token issue|revoke|list`: machine tokens for the stations and the portal, kept as
//! SHA-256 digests in the database (docs/console.md). Rotation: issue a new token, install it,
//! revoke the old one; nothing restarts.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::config::Config;
use crate::store::sessions::TokenKind;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A station (mailroom, quality desk): its name is recorded for what it does.
    Station,
    /// The driver portal.
    Portal,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token and print its secret once (it is never stored, only its SHA-256).
    Issue {
        /// The station's name (or the portal's): 2 to 32 of a-z 0-9 . - _
        name: String,
        #[arg(long, value_enum)]
        kind: Kind,
        /// The admin doing it (audited).
        #[arg(long)]
        by: String,
    },
    /// Revoke a token: the next request carrying it is refused.
    Revoke {
        id: i64,
        /// The admin doing it (audited).
        #[arg(long)]
        by: String,
    },
    /// Every issued token (never a secret).
    List,
}

pub async fn run(config: &Config, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    match cmd {
        TokenCommand::Issue { name, kind, by } => {
            let kind = match kind {
                Kind::Station => TokenKind::Station,
                Kind::Portal => TokenKind::Portal,
            };
            let (id, secret) = store.issue_token(kind, &name, &by).await?;
            eprintln!(
                "token {id} issued for {} {name}; its secret (shown once):",
                kind.as_str()
            );
            println!("{secret}");
        }
        TokenCommand::Revoke { id, by } => {
            store.revoke_token(id, &by).await?;
            println!("token {id} revoked");
        }
        TokenCommand::List => {
            for t in store.tokens().await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", crate::clock::rfc3339(at)),
                    None => "valid".to_string(),
                };
                println!(
                    "{:>4}  {:<8} {:<24} issued {} by {}  {state}",
                    t.id,
                    t.kind,
                    t.name,
                    crate::clock::rfc3339(t.created_at),
                    t.created_by
                );
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
