//! `cqcfab bench`: intake throughput, card rendering and job-claim latency, on SQLite and
//! (with --database-url) PostgreSQL, each on a fresh database. Build with `--release`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::bench::{self, Row};
use crate::clock::Clock;
use crate::config::Overrides;
use crate::store::{Location, Store, scratch};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A reduced run (under 30 s).
    #[arg(long)]
    pub quick: bool,
    /// Requests posted in the intake benchmark [default: 5000, quick: 1000].
    #[arg(long, value_name = "N")]
    pub requests: Option<usize>,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub clients: usize,
    /// Jobs claimed in the claim benchmark [default: 4000, quick: 1000].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Concurrent claiming workers.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub workers: usize,
    /// Run only these groups (repeat the flag for several); all of them by default.
    #[arg(long, value_enum, value_name = "STAGE")]
    pub only: Vec<Stage>,
}

/// A group of benchmarks that `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    /// Picture checks and HTTP intake.
    Intake,
    /// Card bitmaps and the batch proof PDF.
    Render,
    /// Job claims with leases.
    Claims,
}

pub async fn run(overrides: &Overrides, args: BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; benchmark with `cargo run --release -- bench`");
    }
    let wants = |s: Stage| args.only.is_empty() || args.only.contains(&s);
    let requests = args
        .requests
        .unwrap_or(if args.quick { 1000 } else { 5000 });
    let jobs = args.jobs.unwrap_or(if args.quick { 1000 } else { 4000 });
    let mut rows: Vec<Row> = Vec::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut bodies = Vec::new();
    if wants(Stage::Intake) {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        eprintln!("preparing {requests} request bodies with 30-60 KB photos ...");
        bodies = bench::intake::bodies(requests, 64, &run_id)?;
        let per_thread = if args.quick { 200 } else { 1000 };
        eprintln!("picture checks ...");
        rows.push(bench::intake::picture_checks(1, per_thread)?);
        rows.push(bench::intake::picture_checks(cores, per_thread)?);
    }
    if wants(Stage::Render) {
        eprintln!("rendering: taking in the fixture cards ...");
        let renderer = crate::render::Renderer::new(crate::render::card_data::DEFAULT_AUTHORITY)?;
        let cards = bench::render::fixture_cards(&renderer).await?;
        let card_count = if args.quick { 200 } else { 1000 };
        eprintln!("rendering: card bitmaps ...");
        rows.push(bench::render::bitmaps(
            &renderer,
            &cards,
            1,
            card_count / 2,
        )?);
        rows.push(bench::render::bitmaps(
            &renderer, &cards, cores, card_count,
        )?);
        rows.push(bench::render::production(
            &renderer, &cards, cores, card_count,
        )?);
        eprintln!("rendering: batch proof ...");
        let (proof, proof_bytes) = bench::render::batch_proof(&renderer, &cards, card_count)?;
        rows.push(proof);
        eprintln!("batch proof: {:.1} MB", proof_bytes as f64 / 1e6);
    }
    if wants(Stage::Intake) || wants(Stage::Claims) {
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let sqlite = Location::SqliteFile(dir.path().join("bench.sqlite3"));
        rows.extend(stages(&sqlite, "SQLite", bodies.clone(), &args, jobs).await?);

        if let Some(admin) = overrides
            .database_url
            .as_deref()
            .filter(|u| u.starts_with("postgres"))
        {
            let url = scratch::create(admin, "cqcfab_bench")
                .await
                .context("cannot create a bench database")?;
            let r = stages(
                &Location::Postgres(url.clone()),
                "PostgreSQL",
                bodies,
                &args,
                jobs,
            )
            .await;
            scratch::drop(admin, &url)
                .await
                .context("cannot drop the bench database")?;
            rows.extend(r?);
        }
    }
    println!("{}", bench::table(&rows));
    println!(
        "machine: {} cores; build: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    Ok(ExitCode::SUCCESS)
}

async fn stages(
    location: &Location,
    backend: &str,
    bodies: Vec<axum::body::Bytes>,
    args: &BenchArgs,
    jobs: usize,
) -> anyhow::Result<Vec<Row>> {
    let wants = |s: Stage| args.only.is_empty() || args.only.contains(&s);
    let store = Store::open(location, Clock::System).await?;
    let mut rows = Vec::new();
    if wants(Stage::Intake) {
        eprintln!("{backend}: intake ...");
        rows.push(bench::intake::run(&store, backend, bodies, args.clients).await?);
    }
    if wants(Stage::Claims) {
        eprintln!("{backend}: job claims ...");
        rows.push(bench::claims::run(&store, backend, jobs, args.workers).await?);
    }
    store.close().await;
    Ok(rows)
}
