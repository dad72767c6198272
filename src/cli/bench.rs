//! `cqcfab bench`: intake throughput and job-claim latency, on SQLite and (with
//! --database-url) PostgreSQL, each on a fresh database. Build with `--release`.

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
}

pub async fn run(overrides: &Overrides, args: BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; benchmark with `cargo run --release -- bench`");
    }
    let requests = args
        .requests
        .unwrap_or(if args.quick { 1000 } else { 5000 });
    let jobs = args.jobs.unwrap_or(if args.quick { 1000 } else { 4000 });
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    eprintln!("preparing {requests} request bodies with 30-60 KB photos ...");
    let bodies = bench::intake::bodies(requests, 64, &run_id)?;
    let mut rows: Vec<Row> = Vec::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let per_thread = if args.quick { 200 } else { 1000 };
    eprintln!("picture checks ...");
    rows.push(bench::intake::picture_checks(1, per_thread)?);
    rows.push(bench::intake::picture_checks(cores, per_thread)?);

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
    let store = Store::open(location, Clock::System).await?;
    eprintln!("{backend}: intake ...");
    let intake = bench::intake::run(&store, backend, bodies, args.clients).await?;
    eprintln!("{backend}: job claims ...");
    let claims = bench::claims::run(&store, backend, jobs, args.workers).await?;
    store.close().await;
    Ok(vec![intake, claims])
}
