//! `cqcfab demo --out DIR`: a production run on the embedded defaults.
//!
//! For now the run starts a fresh embedded database, imports the fixture requests through the
//! same path as `cqcfab import`, renders every card (proof and bitmaps, stored with their
//! hashes) with one render worker per core, writes a few sample cards to look at, personalises
//! every chip (PC/SC through pcscd when it runs, else the in-process simulator), reconciles the
//! blank stock, then fulfils: carrier letters and return coupons, the inserting line (with a
//! card-to-carrier mismatch drill), the day's postal batch closed into its manifest, totals
//! and cover sheet and handed to the post. It verifies the audit chain and writes a summary by
//! state. Later capabilities extend it to a full production day.

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
    /// Chip readers [default: PC/SC when pcscd lists readers (filling empty vpcd readers with
    /// simulated blanks itself), else the in-process simulator].
    #[arg(long, value_enum)]
    pub readers: Option<super::chip::Readers>,
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
    // A fresh run: letters and batches of an earlier run would be mistaken for this one's.
    let post_dir = args.out.join("post");
    if post_dir.exists() {
        std::fs::remove_dir_all(&post_dir)
            .with_context(|| format!("cannot remove {}", post_dir.display()))?;
    }
    let requests = args.out.join("requests.jsonl");
    write_requests(&requests, args.cards)?;

    println!("cqcfab demo: database {}", config.location().describe());
    let store = super::open_store(&config).await?;
    let intake = Intake::new(store.clone());
    let report = super::import::import(&intake, &requests, None).await?;
    super::import::print_report(&report);

    let rendered = render_stage(&store, &config, &args.out).await?;

    super::chip::ensure_sim_lot(&store).await?;
    let encode_args = super::chip::EncodeArgs {
        readers: args.readers,
        reader_names: Vec::new(),
        inprocess_readers: 2,
        once: false,
        drain: true,
        blanks_per_job: crate::station::encode::BLANKS_PER_JOB,
        name: "demo-encode".into(),
        first_serial: None,
    };
    let encoded = super::chip::encode_stage(
        &store,
        &config,
        &encode_args,
        crate::station::encode::Mode::Drain,
        true,
    )
    .await?;
    let stock = store.stock_report(10 * 60_000).await?;
    println!(
        "blank stock: {} personalised, {} spoiled, {} on hand — {}",
        stock.total(|l| l.personalised),
        stock.total(|l| l.spoiled),
        stock.total(|l| l.on_hand),
        if stock.reconciles() {
            "the ledger reconciles"
        } else {
            "THE LEDGER DOES NOT RECONCILE"
        }
    );

    let post = super::fulfil::fulfil_stage(&store, &args.out).await?;
    let post_clean = post["refused"].as_array().is_some_and(|r| r.is_empty());

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
        "render": rendered,
        "encode": encoded,
        "post": post,
        "stock": { "personalised": stock.total(|l| l.personalised), "spoiled": stock.total(|l| l.spoiled), "on_hand": stock.total(|l| l.on_hand), "problems": stock.problems },
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
    Ok(
        if report.is_clean() && audit.is_intact() && stock.reconciles() && post_clean {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// Cards whose pictures the demo writes out for people to look at (when they are in the run):
/// a typical card, other EU scripts, long names.
const SAMPLES: [&str; 6] = [
    "FIX-2026-000000",
    "FIX-2026-000004",
    "FIX-2026-000005",
    "FIX-2026-000006",
    "FIX-2026-000019",
    "FIX-2026-000020",
];

/// Renders every approved card with one worker per core, then writes the proof and bitmaps of
/// a few cards to `out/cards/<card number>/`.
async fn render_stage(
    store: &crate::store::Store,
    config: &Config,
    out: &Path,
) -> anyhow::Result<serde_json::Value> {
    use crate::render::worker::{self, Done};
    let started = Instant::now();
    let renderer = std::sync::Arc::new(crate::render::Renderer::new(&config.authority)?);
    let waiting = store
        .job_counts()
        .await?
        .iter()
        .filter(|(kind, _, _)| kind == crate::intake::RENDER_JOB)
        .map(|(_, _, n)| *n as u64)
        .sum();
    let bar = super::progress(waiting, "rendering");
    let tick = bar.clone();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let outcomes = worker::drain(store, &renderer, "demo-render", workers, move |_| {
        tick.inc(1)
    })
    .await;
    bar.finish_and_clear();
    let (mut rendered, mut stopped, mut failed) = (0, Vec::new(), 0);
    for o in &outcomes {
        match o {
            Ok(Done::Rendered { .. }) => rendered += 1,
            Ok(Done::Stopped {
                card_number,
                reason,
            }) => stopped.push(json!({ "card": card_number, "reason": reason })),
            Ok(Done::Skipped { .. }) => {}
            Err(e) => {
                failed += 1;
                tracing::warn!(error = %e, "render job failed");
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rendered {rendered} card(s) in {seconds:.1} s ({:.0}/s), {} stopped, {failed} failed",
        rendered as f64 / seconds.max(1e-9),
        stopped.len()
    );
    let dir = out.join("cards");
    let mut samples = Vec::new();
    for id in SAMPLES {
        let Some(card) = store.card_by_request(id).await? else {
            continue;
        };
        let (Some(photo), Some(signature)) = (
            store.request_picture(id, "photo").await?,
            store.request_picture(id, "signature").await?,
        ) else {
            continue;
        };
        let data =
            crate::render::card_data::CardData::from_record(&card, renderer.authority(), None)?;
        let render = renderer.render(&data, &photo, &signature)?;
        let card_dir = dir.join(&card.card_number);
        std::fs::create_dir_all(&card_dir)
            .with_context(|| format!("cannot create {}", card_dir.display()))?;
        for o in &render.outputs {
            let path = card_dir.join(o.name);
            std::fs::write(&path, &o.bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        samples.push(card.card_number);
    }
    if !samples.is_empty() {
        println!("sample cards (proof.pdf and previews) in {}", dir.display());
    }
    Ok(json!({
        "rendered": rendered,
        "stopped": stopped,
        "failed": failed,
        "seconds": seconds,
        "samples": samples,
    }))
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
