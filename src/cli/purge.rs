//! `cqcfab purge`: presumes delivery of pieces that did not come back, and deletes the
//! personal data of cards whose retention period is over (docs/retention.md). The service
//! runs the same sweep every hour; this command is for a supervisor who wants it now, or
//! wants to see first (`--dry-run`).

use std::process::ExitCode;

use clap::Args;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Say which cards would be touched; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(config: &Config, args: PurgeArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    let swept = store
        .retention_sweep(config.retention, args.dry_run, "purge")
        .await?;
    let verb = if args.dry_run { "would be" } else { "were" };
    println!(
        "{} card(s) {verb} presumed delivered (no return after {} days)",
        swept.delivered.len(),
        config.retention.presume_delivered_days
    );
    println!(
        "{} card(s) {verb} purged of personal data ({} days after their last custody state)",
        swept.purged.len(),
        config.retention.purge_after_days
    );
    for n in &swept.purged {
        println!("  {n}");
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
