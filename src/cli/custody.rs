//! `cqcfab destruction ...` and `cqcfab revocations export`: the end of card bodies, under
//! dual control, and the list of numbers that must no longer be accepted.
//!
//! People are named with `--by`; the console (service issue) puts the signed-in user there.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::post::revocation_list;
use crate::store::destruction::{DestructionReason, Method};

#[derive(Debug, Subcommand)]
pub enum DestructionCommand {
    /// Record that you will destroy a card body (first pair of eyes).
    Request(RequestArgs),
    /// Approve a destruction you witnessed (second pair of eyes: never the requester). The
    /// card is revoked and destroyed, the stock ledger and any returned piece updated.
    Approve(ApproveArgs),
    /// Pending and done destructions, and the returned cards nobody claimed in time.
    List,
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The card number printed on the body.
    #[arg(long)]
    pub card: String,
    /// unclaimed, revoked_return, replaced, quality_return or damaged.
    #[arg(long, value_parser = parse_reason)]
    pub reason: DestructionReason,
    /// cross_cut_shredder, card_punch or incineration.
    #[arg(long, value_parser = parse_method, default_value = "cross_cut_shredder")]
    pub method: Method,
    /// Who destroys.
    #[arg(long)]
    pub by: String,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The destruction number given by `request`.
    pub id: i64,
    /// The witness: a different person from the requester.
    #[arg(long)]
    pub by: String,
}

fn parse_reason(s: &str) -> Result<DestructionReason, String> {
    DestructionReason::parse(s).ok_or_else(|| {
        let all: Vec<&str> = DestructionReason::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown reason {s:?}: one of {}", all.join(", "))
    })
}

fn parse_method(s: &str) -> Result<Method, String> {
    Method::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
        format!("unknown method {s:?}: one of {}", all.join(", "))
    })
}

pub async fn destruction(config: &Config, cmd: DestructionCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    match cmd {
        DestructionCommand::Request(a) => {
            let id = store
                .request_destruction(&a.card, a.reason, a.method, &a.by)
                .await?;
            println!(
                "destruction {id}: card {} to be destroyed by {} ({}); a second person approves with `cqcfab destruction approve {id} --by NAME`",
                a.card,
                a.by,
                a.method.as_str()
            );
        }
        DestructionCommand::Approve(a) => {
            store.approve_destruction(a.id, &a.by).await?;
            println!(
                "destruction {} approved by {}: card revoked and destroyed",
                a.id, a.by
            );
        }
        DestructionCommand::List => {
            for d in store.destructions().await? {
                println!(
                    "{:>5}  {:<8}  card {}  {}  {}  requested by {}{}",
                    d.id,
                    d.state,
                    d.card_number,
                    d.reason,
                    d.method,
                    d.requested_by,
                    d.approved_by
                        .map(|a| format!(", approved by {a}"))
                        .unwrap_or_default()
                );
            }
            let unclaimed = store.unclaimed_returns().await?;
            if !unclaimed.is_empty() {
                println!("\nreturned cards not claimed in time (to destroy, reason unclaimed):");
                for (card, piece, slot) in unclaimed {
                    let slot = slot.map(|s| format!("slot {s}")).unwrap_or_default();
                    println!("  card {card}  piece {piece}  {slot}");
                }
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum RevocationsCommand {
    /// Write the revocation list: revocations.csv and revocations.jws.json (the same list
    /// signed ES256 by the document-signer key, certificate in x5c).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output folder.
    #[arg(long, default_value = "revocations")]
    pub out: PathBuf,
}

pub async fn revocations(config: &Config, cmd: RevocationsCommand) -> anyhow::Result<ExitCode> {
    let RevocationsCommand::Export(args) = cmd;
    let store = super::open_store(config).await?;
    let list = store.revocation_list().await?;
    let signer = crate::chip::keys::open_signer(config)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let csv = revocation_list::csv(&list)?;
    let payload = revocation_list::payload(&list, &config.authority, store.clock().now_ms());
    let jws = revocation_list::jws(&payload, signer.as_ref())?;
    let csv_path = args.out.join("revocations.csv");
    let jws_path = args.out.join("revocations.jws.json");
    std::fs::write(&csv_path, csv)
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    std::fs::write(&jws_path, serde_json::to_vec_pretty(&jws)?)
        .with_context(|| format!("cannot write {}", jws_path.display()))?;
    println!(
        "{} revoked card number(s): {} and {} (signed by {})",
        list.len(),
        csv_path.display(),
        jws_path.display(),
        signer.describe()
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
