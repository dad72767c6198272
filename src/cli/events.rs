//! `cqcfab events dead|retry`: the dead-letter view of the portal events (docs/portal-events.md).

use std::process::ExitCode;

use clap::Subcommand;

use crate::clock::rfc3339;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Events the portal did not acknowledge after every attempt, with the last error.
    Dead,
    /// Put dead events back in the queue (all, or `--seq N`): the worker sends them again.
    Retry {
        #[arg(long)]
        seq: Option<i64>,
        /// Who asks (audited).
        #[arg(long)]
        by: String,
    },
}

pub async fn run(config: &Config, cmd: EventsCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    match cmd {
        EventsCommand::Dead => {
            let dead = store.dead_events().await?;
            if dead.is_empty() {
                println!("no dead events");
            }
            for d in dead {
                println!(
                    "{:>6}  {}  {:<28} {} attempts, dead since {}: {}",
                    d.seq,
                    d.event_id,
                    d.event_type,
                    d.attempts,
                    rfc3339(d.dead_at),
                    d.last_error.as_deref().unwrap_or("-")
                );
            }
        }
        EventsCommand::Retry { seq, by } => {
            let n = store.retry_dead_events(seq, &by).await?;
            println!("{n} event(s) back in the queue");
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
