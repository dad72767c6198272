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
    /// Requests posted in the intake benchmark [default: 5000, quick: 500].
    #[arg(long, value_name = "N")]
    pub requests: Option<usize>,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub clients: usize,
    /// Jobs claimed in the claim benchmark [default: 4000, quick: 500].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Concurrent claiming workers.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub workers: usize,
    /// Cards seeded for the dashboard benchmark [default: 1,000,000, quick: 10,000].
    #[arg(long, value_name = "N")]
    pub dashboard_cards: Option<i64>,
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
    /// Chip personalisation: in-process simulator, and through pcscd with 1 and 2 readers.
    Chip,
    /// Carrier letters and coupons; manifest of a 100,000-piece batch (memory, SQLite,
    /// PostgreSQL with --database-url).
    Post,
    /// Mailroom scans answered through the service at 50 scans/s (SQLite, PostgreSQL with
    /// --database-url).
    Mailroom,
    /// The console's production dashboard on --dashboard-cards cards (SQLite, PostgreSQL with
    /// --database-url).
    Dashboard,
    /// Side by side with tools a bureau could use instead: card fronts against glabels-3-batch,
    /// coupon barcodes against zint, the manifest against sqlite3's and psql's CSV export.
    Peers,
}

pub async fn run(overrides: &Overrides, args: BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; benchmark with `cargo run --release -- bench`");
    }
    let wants = |s: Stage| args.only.is_empty() || args.only.contains(&s);
    let requests = args.requests.unwrap_or(if args.quick { 500 } else { 5000 });
    let jobs = args.jobs.unwrap_or(if args.quick { 500 } else { 4000 });
    let mut rows: Vec<Row> = Vec::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut bodies = Vec::new();
    // The fixture cards, taken in once for the render stage and the peers.
    let mut fixture = None;
    if wants(Stage::Intake) {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        eprintln!("preparing {requests} request bodies with 30-60 KB photos ...");
        bodies = bench::intake::bodies(requests, if args.quick { 16 } else { 64 }, &run_id)?;
        let per_thread = if args.quick { 200 } else { 1000 };
        eprintln!("picture checks ...");
        rows.push(bench::intake::picture_checks(1, per_thread)?);
        rows.push(bench::intake::picture_checks(cores, per_thread)?);
        eprintln!("text fitting ...");
        rows.extend(bench::printable::text_fitting(per_thread * 10)?);
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
        fixture = Some((renderer, cards));
    }
    let mut chip_notes = Vec::new();
    if wants(Stage::Chip) {
        let cards = if args.quick { 4 } else { 60 };
        let (chip_rows, notes) = chip(overrides, cards).await?;
        rows.extend(chip_rows);
        chip_notes = notes;
    }
    if wants(Stage::Post) {
        rows.extend(post(overrides, &args, cores).await?);
    }
    let mut peer_rows = Vec::new();
    if wants(Stage::Peers) {
        peer_rows = peers(overrides, &args, fixture.take()).await?;
    }
    if wants(Stage::Mailroom) {
        rows.extend(mailroom(overrides, &args).await?);
    }
    if wants(Stage::Dashboard) {
        rows.extend(dashboard(overrides, &args).await?);
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
    if !rows.is_empty() {
        println!("{}", bench::table(&rows));
    }
    if !peer_rows.is_empty() {
        println!("{}", bench::peers::table(&peer_rows));
    }
    for note in chip_notes {
        println!("{note}");
    }
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

/// Letters and coupons on one thread and on every core; the manifest of a 100,000-piece
/// batch written in memory, then closed and exported through SQLite (and PostgreSQL).
async fn post(overrides: &Overrides, args: &BenchArgs, cores: usize) -> anyhow::Result<Vec<Row>> {
    let letters = if args.quick { 100 } else { 600 };
    let pieces = bench::post::pieces(100_000)?;
    let mut rows = Vec::new();
    eprintln!("post: carrier letters and coupons ...");
    rows.push(bench::post::letters(&pieces, 1, letters / 2)?);
    rows.push(bench::post::letters(&pieces, cores, letters)?);
    eprintln!("post: manifest in memory ...");
    rows.push(bench::post::manifest_in_memory(
        &pieces,
        if args.quick { 2 } else { 5 },
    )?);
    let batch = if args.quick { 10_000 } else { 100_000 };
    let rounds = if args.quick { 2 } else { 5 };
    eprintln!("post: SQLite batch of {batch} pieces ...");
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let store = Store::open(
        &Location::SqliteFile(dir.path().join("post.sqlite3")),
        Clock::System,
    )
    .await?;
    rows.extend(bench::post::manifest_in_store(&store, "SQLite", &pieces[..batch], rounds).await?);
    store.close().await;
    let pg = on_scratch_postgres(overrides, "cqcfab_bench_post", |store| async move {
        eprintln!("post: PostgreSQL batch of {batch} pieces ...");
        Ok(bench::post::manifest_in_store(&store, "PostgreSQL", &pieces[..batch], rounds).await?)
    })
    .await?;
    rows.extend(pg.into_iter().flatten());
    Ok(rows)
}

/// Side by side with other tools (issue 8, docs/performance.md "Against other tools"): card
/// fronts against gLabels, coupon barcodes against zint, the manifest of a closed batch
/// against sqlite3's and (with --database-url) psql's CSV export, on the same data.
async fn peers(
    overrides: &Overrides,
    args: &BenchArgs,
    fixture: Option<(crate::render::Renderer, Vec<bench::render::BenchCard>)>,
) -> anyhow::Result<Vec<bench::peers::PeerRow>> {
    use bench::peers::Database;
    let quick = args.quick;
    let rounds = if quick { 1 } else { 3 };
    let (renderer, cards) = match fixture {
        Some(f) => f,
        None => {
            eprintln!("peers: taking in the fixture cards ...");
            let renderer =
                crate::render::Renderer::new(crate::render::card_data::DEFAULT_AUTHORITY)?;
            let cards = bench::render::fixture_cards(&renderer).await?;
            (renderer, cards)
        }
    };
    let mut rows = Vec::new();
    let fronts = if quick { 20 } else { 200 };
    eprintln!("peers: {fronts} card fronts, ours and glabels-3-batch ...");
    rows.extend(bench::peers::cards(
        &renderer, &cards, fronts, rounds, !quick,
    )?);
    let pieces = bench::post::pieces(if quick { 5_000 } else { 100_000 })?;
    let codes = if quick { 200 } else { 10_000 };
    let one_by_one = if quick { 20 } else { 500 };
    eprintln!("peers: {codes} coupon barcodes of each kind, ours and zint ...");
    rows.extend(bench::peers::barcodes(&pieces, codes, one_by_one, rounds)?);
    eprintln!(
        "peers: manifest of {} pieces on SQLite, ours and sqlite3 ...",
        pieces.len()
    );
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let file = dir.path().join("peers.sqlite3");
    let store = Store::open(&Location::SqliteFile(file.clone()), Clock::System).await?;
    let r =
        bench::peers::manifest(&store, "SQLite", Database::Sqlite(&file), &pieces, rounds).await;
    store.close().await;
    rows.extend(r?);
    if let Some(admin) = overrides
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
    {
        eprintln!("peers: manifest on PostgreSQL, ours and psql ...");
        let url = scratch::create(admin, "cqcfab_bench_peers")
            .await
            .context("cannot create a bench database")?;
        let r = async {
            let store = Store::open(&Location::Postgres(url.clone()), Clock::System).await?;
            let r = bench::peers::manifest(
                &store,
                "PostgreSQL",
                Database::Postgres(&url),
                &pieces,
                rounds,
            )
            .await;
            store.close().await;
            r
        }
        .await;
        scratch::drop(admin, &url)
            .await
            .context("cannot drop the bench database")?;
        rows.extend(r?);
    }
    bench::peers::set_ratios(&mut rows);
    Ok(rows)
}

/// Runs `f` on a fresh PostgreSQL database when `--database-url` names a server (`None`
/// otherwise), then closes and drops the database whatever `f` answered.
async fn on_scratch_postgres<T, Fut>(
    overrides: &Overrides,
    name: &str,
    f: impl FnOnce(Store) -> Fut,
) -> anyhow::Result<Option<T>>
where
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let Some(admin) = overrides
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
    else {
        return Ok(None);
    };
    let url = scratch::create(admin, name)
        .await
        .context("cannot create a bench database")?;
    let r = async {
        let store = Store::open(&Location::Postgres(url.clone()), Clock::System).await?;
        let r = f(store.clone()).await;
        store.close().await;
        r
    }
    .await;
    scratch::drop(admin, &url)
        .await
        .context("cannot drop the bench database")?;
    r.map(Some)
}

/// The dashboard on a seeded database, SQLite then PostgreSQL.
async fn dashboard(overrides: &Overrides, args: &BenchArgs) -> anyhow::Result<Vec<Row>> {
    let cards = args
        .dashboard_cards
        .unwrap_or(if args.quick { 10_000 } else { 1_000_000 });
    let samples = if args.quick { 10 } else { 100 };
    let mut rows = Vec::new();
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let store = Store::open(
        &Location::SqliteFile(dir.path().join("dashboard.sqlite3")),
        Clock::System,
    )
    .await?;
    eprintln!("dashboard: seeding {cards} cards into SQLite ...");
    let took = bench::dashboard::seed(&store, cards, 10_000).await?;
    eprintln!(
        "dashboard: seeded in {:.1} s; loading the page ...",
        took.as_secs_f64()
    );
    rows.extend(bench::dashboard::dashboard(&store, "SQLite", cards, samples).await?);
    rows.extend(intake_beside_console(&store, "SQLite", args).await?);
    store.close().await;
    let pg = on_scratch_postgres(overrides, "cqcfab_bench_dashboard", |store| async move {
        eprintln!("dashboard: seeding {cards} cards into PostgreSQL ...");
        let took = bench::dashboard::seed(&store, cards, 10_000).await?;
        eprintln!(
            "dashboard: seeded in {:.1} s; loading the page ...",
            took.as_secs_f64()
        );
        let mut rows = bench::dashboard::dashboard(&store, "PostgreSQL", cards, samples).await?;
        rows.extend(intake_beside_console(&store, "PostgreSQL", args).await?);
        Ok(rows)
    })
    .await?;
    rows.extend(pg.into_iter().flatten());
    Ok(rows)
}

/// Requests taken in by the portal API while the console's dashboard is loaded twice a second
/// (supervisors refreshing it), on the seeded database.
async fn intake_beside_console(
    store: &Store,
    backend: &str,
    args: &BenchArgs,
) -> anyhow::Result<Vec<Row>> {
    let requests = if args.quick { 200 } else { 3000 };
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    eprintln!("dashboard: {requests} requests taken in while the console is in use ...");
    let bodies = bench::intake::bodies(requests, if args.quick { 16 } else { 64 }, &run_id)?;
    let cookie = bench::dashboard::supervisor_cookie(store).await?;
    let (intake, console) =
        bench::intake::run_beside(store, backend, bodies, args.clients, Some((cookie, 2.0)))
            .await?;
    Ok(std::iter::once(intake).chain(console).collect())
}

/// Mailroom scans at 50 per second through the service, on SQLite and PostgreSQL.
async fn mailroom(overrides: &Overrides, args: &BenchArgs) -> anyhow::Result<Vec<Row>> {
    const RATE: f64 = 50.0;
    let scans = if args.quick { 60 } else { 1500 };
    let mut rows = Vec::new();
    eprintln!("mailroom: SQLite, {scans} scans at {RATE} per second ...");
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let store = Store::open(
        &Location::SqliteFile(dir.path().join("mailroom.sqlite3")),
        Clock::System,
    )
    .await?;
    rows.push(bench::mailroom::scans(&store, "SQLite", scans, RATE).await?);
    store.close().await;
    let pg = on_scratch_postgres(overrides, "cqcfab_bench_mailroom", |store| async move {
        eprintln!("mailroom: PostgreSQL, {scans} scans at {RATE} per second ...");
        Ok(bench::mailroom::scans(&store, "PostgreSQL", scans, RATE).await?)
    })
    .await?;
    rows.extend(pg);
    Ok(rows)
}

/// Chip personalisation on a fresh embedded database per run: the fixture cards taken in and
/// rendered, then encoded by a station on the in-process simulator and, when pcscd lists
/// vpcd readers, through pcscd with one and with two readers.
async fn chip(overrides: &Overrides, cards: usize) -> anyhow::Result<(Vec<Row>, Vec<String>)> {
    use super::chip::{EncodeArgs, Readers};
    use crate::station::encode::{BLANKS_PER_JOB, Mode};
    let pcsc: Vec<String> = cqcfab_drivers::pcsc_reader::readers()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.starts_with("Virtual PCD"))
        .collect();
    let mut runs = vec![(Readers::Inprocess, 1usize)];
    if !pcsc.is_empty() {
        runs.push((Readers::Pcsc, 1));
    }
    if pcsc.len() >= 2 {
        runs.push((Readers::Pcsc, 2));
    }
    // Readers 3 and 4 live on a second pcscd (one vpcd block per pcscd), driven by a second
    // station process: libpcsclite talks to one pcscd per process.
    let second = std::env::var(SECOND_PCSCD_ENV)
        .ok()
        .filter(|s| std::path::Path::new(s).exists());
    if pcsc.len() >= 2 && second.is_some() {
        runs.push((Readers::Pcsc, 4));
    }
    let mut rows = Vec::new();
    let mut notes = vec![String::from(
        "\n| chip run | cards/min | card time p50 / p99 ms | station time p50 / p99 ms | outside card round trips (median per card) | APDUs/card (over minimum) |\n|---|---:|---:|---:|---:|---:|",
    )];
    for (kind, readers) in runs {
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let mut o = overrides.clone();
        o.data_dir = Some(dir.path().to_path_buf());
        o.database_url = None;
        let config = crate::config::Config::load(&o)?;
        let store = super::open_store(&config).await?;
        let requests = dir.path().join("requests.jsonl");
        super::fixtures::write_jsonl(&requests, cards)?;
        let intake = crate::intake::Intake::new(store.clone());
        super::import::import(&intake, &requests, None).await?;
        let renderer = std::sync::Arc::new(crate::render::Renderer::new(&config.authority)?);
        crate::render::worker::drain(&store, &renderer, "bench", 2, |_| {}).await;
        super::chip::ensure_sim_lot(&store).await?;
        // The test PKI is made here, before a second process could race to make its own.
        drop(crate::chip::keys::open_signer(&config).context("opening the document signer")?);
        let helper = match (&second, readers) {
            (Some(socket), 4) => Some(SecondStation::start(dir.path(), socket)?),
            _ => None,
        };
        let args = EncodeArgs {
            readers: Some(kind),
            reader_names: pcsc.iter().take(readers.min(2)).cloned().collect(),
            inprocess_readers: readers,
            once: false,
            drain: true,
            blanks_per_job: BLANKS_PER_JOB,
            name: "bench".into(),
            first_serial: None,
        };
        let started = std::time::Instant::now();
        let mut s = super::chip::encode_stage(&store, &config, &args, Mode::Drain, true).await?;
        if let Some(h) = helper {
            // Four readers: the rate is every card over the time both stations took.
            h.finish()?;
            let seconds = started.elapsed().as_secs_f64();
            let report = store.stock_report(60_000).await?;
            let n = report.total(|l| l.personalised);
            s["personalised"] = serde_json::json!(n);
            s["seconds"] = serde_json::json!(seconds);
            s["cards_per_minute"] = serde_json::json!(n as f64 * 60.0 / seconds);
        }
        store.close().await;
        let label = match kind {
            Readers::Inprocess => format!("chip, {readers} in-process reader"),
            Readers::Pcsc => format!("chip, {readers} reader(s) via pcscd+vpcd"),
        };
        let f = |k: &str| s[k].as_f64().unwrap_or(0.0);
        let ms = |k: &str| std::time::Duration::from_secs_f64(f(k) / 1000.0);
        rows.push(Row {
            stage: label.clone(),
            backend: "SQLite".into(),
            count: s["personalised"].as_u64().unwrap_or(0) as usize,
            seconds: f("seconds"),
            per_second: f("cards_per_minute") / 60.0,
            latency: bench::Percentiles {
                p50: ms("total_ms_median"),
                p90: ms("total_ms_p90"),
                p99: ms("total_ms_p99"),
                max: ms("total_ms_max"),
            },
            cpu_ms_per_item: None,
            goal: if kind == Readers::Pcsc && readers == 2 {
                ">= 1.8x the 1-reader rate".into()
            } else {
                String::new()
            },
        });
        notes.push(format!(
            "| {label} | {:.0} | {:.2} / {:.2} | {:.2} / {:.2} | {:.0}% | {:.0} ({:+.1}%) |",
            f("cards_per_minute"),
            f("card_ms_median"),
            f("card_ms_p99"),
            f("total_ms_median"),
            f("total_ms_p99"),
            f("outside_card_share") * 100.0,
            f("apdus_median"),
            f("apdus_over_minimum") * 100.0,
        ));
    }
    Ok((rows, notes))
}

/// The environment variable naming the second pcscd's socket (`.ci/lib.sh`,
/// `start_pcscd_second`); when set, the chip benchmark adds a four-reader run.
pub const SECOND_PCSCD_ENV: &str = "CQCFAB_TEST_PCSCD2";

/// The second pcscd's vpcd readers (CHANNELID 0x8C7D).
const SECOND_PCSCD_PORTS: [u16; 2] = [35965, 35966];

/// A `cqcfab station encode --drain` on the second pcscd, on the same data folder (database and
/// test PKI), with this process feeding its two vpcd readers from the far half of the
/// simulator's lot (so no serial is handed out twice).
struct SecondStation {
    child: std::process::Child,
    rack: std::thread::JoinHandle<()>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SecondStation {
    fn start(data: &std::path::Path, socket: &str) -> anyhow::Result<SecondStation> {
        use cqcfab_simulator::blanks::{Blanks, SIM_FIRST_SERIAL, SIM_LOT_SIZE};
        let master = crate::chip::keys::master_key()?;
        let first = SIM_FIRST_SERIAL + SIM_LOT_SIZE / 2;
        let blanks = Blanks::new(first, SIM_FIRST_SERIAL + SIM_LOT_SIZE - 1, &master);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ports: Vec<std::net::SocketAddr> = SECOND_PCSCD_PORTS
            .iter()
            .map(|p| std::net::SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect();
        let rack_stop = stop.clone();
        let rack = std::thread::spawn(move || {
            cqcfab_simulator::rack::run(
                &ports,
                std::sync::Arc::new(std::sync::Mutex::new(blanks)),
                &rack_stop,
                &|_| {},
            )
        });
        let child = std::process::Command::new(std::env::current_exe()?)
            .arg("--data")
            .arg(data)
            .args(["station", "encode", "--readers", "pcsc", "--drain"])
            .args(["--name", "bench-2"])
            .env("PCSCLITE_CSOCK_NAME", socket)
            .env_remove("CQCFAB_DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting the second station")?;
        Ok(SecondStation { child, rack, stop })
    }

    fn finish(mut self) -> anyhow::Result<()> {
        let status = self.child.wait()?;
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.rack.join();
        anyhow::ensure!(status.success(), "the second station failed: {status}");
        Ok(())
    }
}
