//! `cqcfab post …`: the post's side of the bureau (S10 id ranges; batches and manifests to
//! come with the fulfilment issue).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::post::s10::ServiceIndicator;

#[derive(Debug, Subcommand)]
pub enum PostCommand {
    /// UPU S10 item-id ranges allotted by the post (docs/post.md).
    #[command(subcommand)]
    Range(RangeCommand),
}

#[derive(Debug, Subcommand)]
pub enum RangeCommand {
    /// Record a range of 8-digit serials for a service indicator; refused when it overlaps a
    /// range of the same service indicator or reuses a range id.
    Add(RangeAddArgs),
    /// Every range: its serials, the next id to hand out, how many are left.
    List,
}

#[derive(Debug, Args)]
pub struct RangeAddArgs {
    /// The range's name, as on the post's allotment (e.g. EE-2026-1).
    #[arg(long)]
    pub id: String,
    /// Two capital letters, not starting with J, K, S, T or W (reserved by the UPU).
    #[arg(long)]
    pub service: String,
    /// First serial (up to 8 digits).
    #[arg(long)]
    pub first: u32,
    /// Last serial (up to 8 digits).
    #[arg(long)]
    pub last: u32,
}

pub async fn run(config: &Config, cmd: PostCommand) -> anyhow::Result<ExitCode> {
    let PostCommand::Range(cmd) = cmd;
    let store = super::open_store(config).await?;
    match cmd {
        RangeCommand::Add(a) => {
            let service = ServiceIndicator::new(&a.service)?;
            store
                .add_s10_range(&a.id, service, a.first, a.last, "cli")
                .await?;
            println!(
                "range {} added: {service}{:08}..{service}{:08} ({} ids)",
                a.id,
                a.first,
                a.last,
                a.last - a.first + 1
            );
        }
        RangeCommand::List => {
            println!(
                "{:<16} {:<7} {:>8} {:>8} {:>8} {:>8}",
                "range", "service", "first", "last", "next", "left"
            );
            for l in store.s10_ranges().await? {
                println!(
                    "{:<16} {:<7} {:>08} {:>08} {:>08} {:>8}",
                    l.range_id,
                    l.service,
                    l.first_serial,
                    l.last_serial,
                    l.next_serial,
                    l.left()
                );
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
