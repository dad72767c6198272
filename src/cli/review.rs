//! `cqcfab review ...`: a supervisor's decisions on held and stopped requests
//! (docs/corrections.md), the same as the console's "Demandes à revoir" page.
//!
//! People are named with `--by`, as for destructions and fee waivers; the console puts the
//! signed-in supervisor there.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::domain::review::{DriverMessage, ReviewReason, Waiting};
use crate::review::{self, Decision};

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Requests held for review (our dates beside the portal's) and stopped cards (what the
    /// driver was asked to correct).
    List,
    /// The reason codes for `reject` and `cancel`.
    Reasons,
    /// Let production go on: a held request under our dates, or a stopped card after a fix on
    /// our side (it is rendered again as it is).
    Release(ReleaseArgs),
    /// Refuse a held request: no card; the portal passes the message to the driver.
    Reject(RefuseArgs),
    /// Cancel a stopped card: no card; the portal passes the message to the driver.
    Cancel(RefuseArgs),
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The card number.
    pub card: String,
    /// The supervisor who decides.
    #[arg(long)]
    pub by: String,
}

#[derive(Debug, Args)]
pub struct RefuseArgs {
    /// The card number.
    pub card: String,
    /// A reason code (`cqcfab review reasons`).
    #[arg(long, value_parser = parse_reason)]
    pub reason: ReviewReason,
    /// The message for the driver, in French: what was decided and what to do next.
    #[arg(long, value_parser = parse_message)]
    pub message: DriverMessage,
    /// The supervisor who decides.
    #[arg(long)]
    pub by: String,
}

fn parse_reason(s: &str) -> Result<ReviewReason, String> {
    ReviewReason::parse(s).ok_or_else(|| {
        let all: Vec<&str> = ReviewReason::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown reason {s:?}: one of {}", all.join(", "))
    })
}

fn parse_message(s: &str) -> Result<DriverMessage, String> {
    DriverMessage::parse(s).map_err(|e| e.to_string())
}

pub async fn run(config: &Config, cmd: ReviewCommand) -> anyhow::Result<ExitCode> {
    let (card, decision, by) = match cmd {
        ReviewCommand::Reasons => {
            reasons();
            return Ok(ExitCode::SUCCESS);
        }
        ReviewCommand::List => {
            list(config).await?;
            return Ok(ExitCode::SUCCESS);
        }
        ReviewCommand::Release(a) => (a.card, Decision::Release, a.by),
        ReviewCommand::Reject(a) => (
            a.card,
            Decision::Reject {
                reason: a.reason,
                message: a.message,
            },
            a.by,
        ),
        ReviewCommand::Cancel(a) => (
            a.card,
            Decision::Cancel {
                reason: a.reason,
                message: a.message,
            },
            a.by,
        ),
    };
    let store = super::open_store(config).await?;
    let outcome = review::decide(&store, &card, &decision, &by).await;
    store.close().await;
    let d = outcome?;
    println!(
        "card {} ({}): {} -> {} by {by}; portal event {}",
        d.card_number, d.request_id, d.from, d.to, d.event
    );
    Ok(ExitCode::SUCCESS)
}

fn reasons() {
    for r in ReviewReason::ALL {
        let mut for_what = Vec::new();
        if r.fits(Waiting::Review) {
            for_what.push("reject");
        }
        if r.fits(Waiting::Correction) {
            for_what.push("cancel");
        }
        println!(
            "{:<28} {:<14} {}",
            r.as_str(),
            for_what.join("+"),
            r.label_fr()
        );
    }
}

async fn list(config: &Config) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    for c in store.cards_waiting(1000).await? {
        println!(
            "{}  {:<16}  request {}  since {}",
            c.card_number,
            c.state,
            c.request_id,
            crate::clock::rfc3339(c.updated_at)
        );
        if c.state == "held_for_review" {
            for d in review::differences(&c) {
                println!(
                    "    {:<12} ours {}  portal or other reading {}",
                    d.key, d.ours, d.portal
                );
            }
        } else if let Some(s) = store.last_stop(&c.card_number).await? {
            let fields = if s.fields.is_empty() {
                "nothing for the driver (ours to fix, then release)".to_string()
            } else {
                format!("driver to correct {}", s.fields.join(", "))
            };
            println!("    stopped: {}; {fields}", s.code);
        }
    }
    store.close().await;
    Ok(())
}
