//! `cqcfab user add|disable|list`: the people who sign in to the console (docs/users.md).
//! The new password comes from `CQCFAB_NEW_PASSWORD` or the first line of standard input,
//! never from a flag (flags end up in shell history and process lists).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::domain::role::Role;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from CQCFAB_NEW_PASSWORD or standard input.
    Add(AddArgs),
    /// Disable a user: no more sign-ins; their name stays in the audit trail.
    Disable {
        username: String,
        /// The admin doing it (audited).
        #[arg(long)]
        by: String,
    },
    /// Every user with role and status.
    List,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The sign-in name: 2 to 32 of a-z 0-9 . - _
    pub username: String,
    /// operator, mailroom, quality, supervisor or admin.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// The name shown in the console.
    #[arg(long)]
    pub display: String,
    /// The admin doing it (audited).
    #[arg(long)]
    pub by: String,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role {s:?}: one of {}", all.join(", "))
    })
}

fn new_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("CQCFAB_NEW_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        bail!("no password: set CQCFAB_NEW_PASSWORD or give it on standard input");
    }
    Ok(p)
}

pub async fn run(config: &Config, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    match cmd {
        UserCommand::Add(a) => {
            let password = new_password()?;
            let u = store
                .add_user(&a.username, &a.display, a.role, &password, &a.by)
                .await?;
            println!(
                "user {} ({}) added as {}",
                u.username,
                u.display_name,
                u.role.as_str()
            );
        }
        UserCommand::Disable { username, by } => {
            store.disable_user(&username, &by).await?;
            println!("user {username} disabled");
        }
        UserCommand::List => {
            for u in store.users().await? {
                println!(
                    "{:<24} {:<11} {}{}",
                    u.username,
                    u.role.as_str(),
                    u.display_name,
                    if u.disabled { "  (disabled)" } else { "" }
                );
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
