//! `cqcfab lifecycle ...`: the card transitions no station applies (docs/lifecycle.md): the
//! daily expiry (also run by `cqcfab serve`), the authority's and the holder's decisions, and a
//! card found damaged before it leaves.
//!
//! People are named with `--by`, as in `cqcfab destruction`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::store::authority::Decision;
use crate::store::expiry::BATCH;

#[derive(Debug, Subcommand)]
pub enum LifecycleCommand {
    /// Expire the cards whose date of expiry (field 4b) is before today (Paris): handed over
    /// or suspended → expired. Idempotent; prints what it did. For cron: the service runs it
    /// every hour too.
    Expire(ExpireArgs),
    /// Record the authority's suspension of a card in its holder's hands.
    Suspend(DecisionArgs),
    /// Record that the authority lifted a suspension.
    Reinstate(DecisionArgs),
    /// Record the authority's withdrawal of a card.
    Withdraw(DecisionArgs),
    /// Record that the holder handed the card back (surrendered it).
    Surrender(DecisionArgs),
    /// A personalised card found damaged before it leaves: its carrier is cancelled, its body
    /// spoiled, and it goes back to production on a fresh blank under the same number.
    Damaged(DamagedArgs),
}

#[derive(Debug, Args)]
pub struct ExpireArgs {
    /// Say which cards would expire; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Cards moved per transaction.
    #[arg(long, default_value_t = BATCH, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch: i64,
}

#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// The card number.
    #[arg(long)]
    pub card: String,
    /// The reference of the decision or letter this is based on.
    #[arg(long)]
    pub reference: String,
    /// Who records it.
    #[arg(long)]
    pub by: String,
    /// Why, in words (kept in the audit trail).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct DamagedArgs {
    /// The card number.
    #[arg(long)]
    pub card: String,
    /// What is damaged.
    #[arg(long)]
    pub reason: String,
    /// Who found it.
    #[arg(long)]
    pub by: String,
}

pub async fn run(config: &Config, cmd: LifecycleCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    match cmd {
        LifecycleCommand::Expire(a) => {
            let run = store.expire_due(a.batch, a.dry_run, "expiry").await?;
            let verb = if a.dry_run { "would expire" } else { "expired" };
            println!(
                "{} card(s) {verb} (date of expiry before {})",
                run.expired.len(),
                run.today
            );
            for n in &run.expired {
                println!("  {n}");
            }
            if !run.skipped.is_empty() {
                println!(
                    "{} card(s) moved by another node meanwhile, left alone:",
                    run.skipped.len()
                );
                for n in &run.skipped {
                    println!("  {n}");
                }
            }
        }
        LifecycleCommand::Suspend(a) => decide(&store, Decision::Suspend, a).await?,
        LifecycleCommand::Reinstate(a) => decide(&store, Decision::Reinstate, a).await?,
        LifecycleCommand::Withdraw(a) => decide(&store, Decision::Withdraw, a).await?,
        LifecycleCommand::Surrender(a) => decide(&store, Decision::Surrender, a).await?,
        LifecycleCommand::Damaged(a) => {
            let d = store.card_damaged(&a.card, &a.reason, &a.by).await?;
            println!(
                "card {} back in production: body {} spoiled, carrier {} cancelled; the encoding \
                 station writes it again on a fresh blank",
                d.card_number,
                d.chip_serial
                    .map_or_else(|| "(none)".to_string(), |s| format!("{s:016X}")),
                d.cancelled_piece.as_deref().unwrap_or("(none)")
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn decide(
    store: &crate::store::Store,
    decision: Decision,
    a: DecisionArgs,
) -> anyhow::Result<()> {
    let state = store
        .record_authority_decision(&a.card, decision, &a.reference, &a.by, a.reason.as_deref())
        .await?;
    println!(
        "card {}: {} recorded by {} (reference {}); the card is now {state}",
        a.card,
        decision.event(),
        a.by,
        a.reference.trim()
    );
    Ok(())
}
