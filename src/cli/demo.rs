//! `cqcfab demo --out DIR`: a production run on the embedded defaults.
//!
//! For now (foundation) the run starts a fresh embedded database, imports the fixture
//! requests through the same path as `cqcfab import`, verifies the audit chain and writes a
//! summary by state. Later capabilities extend it to a full production day.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::config::{Config, Overrides};
use crate::intake::Intake;
use crate::store::SQLITE_FILE;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the run's outputs (requests file, database unless --data, summary).
    #[arg(long, default_value = "demo-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Number of requests: the 200 embedded fixtures by default; another number generates
    /// that many synthetic requests.
    #[arg(long, value_name = "N")]
    pub cards: Option<usize>,
}

pub async fn run(overrides: &Overrides, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut o = overrides.clone();
    if o.data_dir.is_none() {
        let data = args.out.join("data");
        if o.database_url.is_none() {
            fresh_sqlite(&data)?;
        }
        o.data_dir = Some(data);
    }
    let config = Config::load(&o)?;
    let requests = args.out.join("requests.jsonl");
    write_requests(&requests, args.cards)?;

    println!("cqcfab demo: database {}", config.location().describe());
    let store = super::open_store(&config).await?;
    let intake = Intake::new(store.clone());
    let report = super::import::import(&intake, &requests, None).await?;
    super::import::print_report(&report);

    let counts = store.card_counts().await?;
    let jobs = store.job_counts().await?;
    let audit = store.verify_audit().await?;
    println!("\ncards by state:");
    for (state, n) in &counts {
        println!("  {state:<22} {n:>6}");
    }
    println!("jobs waiting:");
    for (kind, state, n) in &jobs {
        println!("  {kind:<12} {state:<10} {n:>6}");
    }
    println!(
        "audit trail: {} record(s), {}",
        audit.records,
        if audit.is_intact() {
            "chain intact"
        } else {
            "CHAIN BROKEN"
        }
    );
    let summary = json!({
        "database": config.location().describe(),
        "requests": { "lines": report.lines, "created": report.created, "replayed": report.replayed, "rejected": report.rejected.len() },
        "cards_by_state": counts.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "jobs": jobs.iter().map(|(k, s, n)| json!({ "kind": k, "state": s, "count": n })).collect::<Vec<_>>(),
        "audit": { "records": audit.records, "intact": audit.is_intact(), "head": audit.head_hash },
        "seconds": started.elapsed().as_secs_f64(),
    });
    let summary_path = args.out.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_vec_pretty(&summary)?)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    println!(
        "summary written to {} ({:.1} s)",
        summary_path.display(),
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(if report.is_clean() && audit.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Removes a previous demo database so that every run starts fresh.
fn fresh_sqlite(data: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let f = data.join(format!("{SQLITE_FILE}{suffix}"));
        if f.exists() {
            std::fs::remove_file(&f).with_context(|| format!("cannot remove {}", f.display()))?;
        }
    }
    Ok(())
}

fn write_requests(path: &Path, cards: Option<usize>) -> anyhow::Result<()> {
    match cards {
        None => std::fs::write(path, crate::synthetic::embedded::VALID_JSONL),
        Some(n) => super::fixtures::write_jsonl(path, n),
    }
    .with_context(|| format!("cannot write {}", path.display()))
}
