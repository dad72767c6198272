//! The `cqcfab` command line: the binary edge, where errors become messages and exit codes.

mod audit;
mod bench;
mod certificate;
pub mod chip;
mod custody;
mod demo;
mod events;
mod fixtures;
mod fulfil;
mod import;
mod insert;
mod lifecycle;
mod mailroom;
mod post;
mod purge;
mod quality;
mod render;
mod review;
mod serve;
mod status;
mod tokens;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::store::Store;

/// cqcfab — production backend of the French driver qualification card (CQC).
///
/// Takes validated card requests from the driver portal, personalises cards, posts them and
/// takes back what the post returns. Every subcommand reads the same configuration: built-in
/// defaults, then the TOML file (--config, or ./cqcfab.toml when present), then CQCFAB_*
/// environment variables, then flags.
#[derive(Debug, Parser)]
#[command(
    name = "cqcfab",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Configuration file (TOML: data_dir, database_url, listen, portal_token, log).
    #[arg(long, global = true, env = "CQCFAB_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder: the SQLite database and produced files [default: ./cqcfab-data].
    #[arg(long = "data", global = true, env = "CQCFAB_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Use PostgreSQL (postgres://user@host:port/db) instead of the SQLite file in the data folder.
    #[arg(
        long,
        global = true,
        env = "CQCFAB_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Log filter (error, warn, info, debug, or tracing directives such as cqcfab=debug).
    #[arg(long, global = true, env = "CQCFAB_LOG", value_name = "FILTER")]
    log: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service: the portal API (POST /v1/requests, GET /v1/requests/{id}).
    Serve(serve::ServeArgs),
    /// Import card requests from a JSON Lines file (one portal request per line, pictures in
    /// base64). Safe to run again after a crash: every request is taken exactly once.
    Import(import::ImportArgs),
    /// Render one card: the PDF proof and the 300-dpi bitmaps (previews and the personalisation
    /// layers that go to the printer), written to --out with their SHA-256.
    Render(render::RenderArgs),
    /// Write the certificate of qualification of an accepted request (A4 PDF, the same
    /// document the portal downloads): docs/certificate.md.
    Certificate(certificate::CertificateArgs),
    /// Show what the bureau holds: cards by state, jobs by kind and state, the audit chain head.
    Status,
    /// Audit trail tools.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// A production run on a fresh embedded database: imports the fixture requests, renders,
    /// encodes, posts (letters, inserting, batch, manifest, hand-over) and writes a summary
    /// into --out.
    Demo(demo::DemoArgs),
    /// Measure intake throughput over HTTP and job-claim latency; prints a table.
    Bench(bench::BenchArgs),
    /// Generate synthetic requests (faces and signatures drawn by code, no real person).
    Fixtures(fixtures::FixturesArgs),
    /// Production-line stations (chip encoding, inserting, the mailroom).
    #[command(subcommand)]
    Station(chip::StationCommand),
    /// The hardware simulator: keeps every vpcd reader of pcscd filled with a blank CQC card;
    /// a finished card stays in its reader until the station ejects it for the next blank.
    Simulator(chip::SimulatorArgs),
    /// The blank card stock ledger.
    #[command(subcommand)]
    Stock(chip::StockCommand),
    /// Certificates and keys of EF.SOD signing (test PKI, HSM document-signer key).
    #[command(subcommand)]
    Pki(chip::PkiCommand),
    /// The post: S10 id ranges, carrier letters and coupons, postal batches and manifests.
    #[command(subcommand)]
    Post(post::PostCommand),
    /// Destruction of card bodies under dual control (request, approve by a second person).
    #[command(subcommand)]
    Destruction(custody::DestructionCommand),
    /// The revocation list (lost, stolen and destroyed card numbers).
    #[command(subcommand)]
    Revocations(custody::RevocationsCommand),
    /// People who sign in to the console: add, disable, list (roles in docs/users.md).
    #[command(subcommand)]
    User(users::UserCommand),
    /// Machine tokens of the stations and the portal: issue, revoke (rotation), list.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Portal events: the dead-letter view and retrying what the portal did not take.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Quality returns: a supervisor's answer to fee waivers, a case's details.
    #[command(subcommand)]
    Quality(quality::QualityCommand),
    /// Held and stopped requests: list them; release, reject (held) or cancel (stopped).
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Presume delivery of pieces that did not come back and purge the personal data of
    /// cards past their retention period (the service does it hourly).
    Purge(purge::PurgeArgs),
    /// Card life-cycle steps no station applies: the daily expiry, the authority's and the
    /// holder's decisions, a card damaged before it leaves (docs/lifecycle.md).
    #[command(subcommand)]
    Lifecycle(lifecycle::LifecycleCommand),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter = cli
        .global
        .log
        .clone()
        .unwrap_or_else(|| default_log.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    // A station's stdin reader is a blocking read that only ends with its input: the work is
    // done, so the process must not wait for it.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        config: cli.global.config.clone(),
        data_dir: cli.global.data.clone(),
        database_url: cli.global.database_url.clone(),
        listen: match &cli.command {
            Command::Serve(a) => a.listen.clone(),
            _ => None,
        },
        portal_token: std::env::var("CQCFAB_PORTAL_TOKEN").ok(),
        station_tokens: std::env::var("CQCFAB_STATION_TOKENS").ok(),
        webhook_url: std::env::var("CQCFAB_WEBHOOK_URL").ok(),
        webhook_secret: std::env::var("CQCFAB_WEBHOOK_SECRET").ok(),
        log: cli.global.log.clone(),
    };
    match cli.command {
        Command::Serve(args) => serve::run(&load(&overrides)?, &args).await,
        Command::Import(args) => import::run(&load(&overrides)?, args).await,
        Command::Render(args) => render::run(&load(&overrides)?, args).await,
        Command::Certificate(args) => certificate::run(&load(&overrides)?, args).await,
        Command::Status => status::run(&load(&overrides)?).await,
        Command::Audit(cmd) => audit::run(&load(&overrides)?, cmd).await,
        Command::Demo(args) => demo::run(&overrides, args).await,
        Command::Bench(args) => bench::run(&overrides, args).await,
        Command::Fixtures(args) => fixtures::run(args),
        Command::Station(cmd) => chip::station(&load(&overrides)?, cmd).await,
        Command::Simulator(args) => {
            tokio::task::spawn_blocking(move || chip::simulator(args)).await?
        }
        Command::Stock(cmd) => chip::stock(&load(&overrides)?, cmd).await,
        Command::Pki(cmd) => chip::pki(&load(&overrides)?, cmd),
        Command::Post(cmd) => post::run(&load(&overrides)?, cmd).await,
        Command::Destruction(cmd) => custody::destruction(&load(&overrides)?, cmd).await,
        Command::Revocations(cmd) => custody::revocations(&load(&overrides)?, cmd).await,
        Command::User(cmd) => users::run(&load(&overrides)?, cmd).await,
        Command::Token(cmd) => tokens::run(&load(&overrides)?, cmd).await,
        Command::Events(cmd) => events::run(&load(&overrides)?, cmd).await,
        Command::Quality(cmd) => quality::quality(&load(&overrides)?, cmd).await,
        Command::Review(cmd) => review::run(&load(&overrides)?, cmd).await,
        Command::Purge(args) => purge::run(&load(&overrides)?, args).await,
        Command::Lifecycle(cmd) => lifecycle::run(&load(&overrides)?, cmd).await,
    }
}

fn load(o: &Overrides) -> anyhow::Result<Config> {
    Ok(Config::load(o)?)
}

/// Opens the configured store (creating and migrating it when new).
async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let location = config.location();
    Store::open(&location, Clock::System)
        .await
        .with_context(|| format!("cannot open the database ({})", location.describe()))
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_string());
    bar
}
