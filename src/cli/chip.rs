//! `cqcfab station encode`, `cqcfab simulator`, `cqcfab stock …` and `cqcfab pki …`: the chip
//! bench of the production line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::chip::data_groups::FID_DG1;
use crate::chip::keys;
use crate::chip::pki::{self, TestPki};
use crate::chip::signer::{self, Pkcs11Location};
use crate::config::Config;
use crate::render::worker::ENCODE_JOB;
use crate::station::encode::{self, BLANKS_PER_JOB, Event, Mode, Station};
use crate::station::readers::{Hopper, InProcessSlot, PcscSlot, ReaderSlot};
use crate::store::Store;
use cqcfab_drivers::pcsc_reader;
use cqcfab_simulator::blanks::{Blanks, SIM_FIRST_SERIAL, SIM_LOT, SIM_LOT_SIZE};
use cqcfab_simulator::card::VirtualCard;
use cqcfab_simulator::rack::{self, RackEvent};
use cqcfab_simulator::vpcd;

#[derive(Debug, Subcommand)]
pub enum StationCommand {
    /// Personalise chips: claims encode jobs and writes each card's chip on the readers
    /// (one thread per reader), binding the chip serial to the card; a failed card body is
    /// spoiled and the job goes on with the next blank.
    Encode(EncodeArgs),
    /// Put each card into its own carrier: scan the card (printed number, or chip serial with
    /// --chip-reader) and the carrier's piece barcode, in either order; only a matching pair
    /// is inserted, a mismatch stops the line until a supervisor types `CLEAR <name>`.
    Insert(super::insert::InsertArgs),
    /// The mailroom: scan what the post brought back (the reason from the reason sheet, then
    /// each piece); the service records the return and answers which storage slot takes the
    /// card, or where else the piece goes. Reads a serial scanner; talks to `cqcfab serve`.
    Mailroom(super::mailroom::MailroomArgs),
    /// The quality desk: scan the return coupon of a card posted back defective, put the card
    /// in the reader (its chip is read and verified), type each declared defect with its
    /// cause, then `verdict`: our fault makes a free replacement at once.
    Quality(super::quality::QualityArgs),
}

/// Where the readers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Readers {
    /// PC/SC readers through pcscd (real readers, or vpcd with `cqcfab simulator`).
    Pcsc,
    /// Simulated readers inside this process, fed from the simulator's lot.
    Inprocess,
}

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// Reader kind [default: pcsc when pcscd lists readers, else inprocess].
    #[arg(long, value_enum)]
    pub readers: Option<Readers>,
    /// Use only this PC/SC reader (repeat for several) [default: every reader pcscd lists].
    #[arg(long = "reader", value_name = "NAME")]
    pub reader_names: Vec<String>,
    /// Number of in-process readers.
    #[arg(long, default_value_t = 2)]
    pub inprocess_readers: usize,
    /// Personalise one card and exit.
    #[arg(long)]
    pub once: bool,
    /// Exit when no encode job is ready (instead of waiting for more).
    #[arg(long)]
    pub drain: bool,
    /// Blanks one job may use before it goes back to the queue.
    #[arg(long, default_value_t = BLANKS_PER_JOB)]
    pub blanks_per_job: u32,
    /// This station's name in the ledger and the audit trail.
    #[arg(long, default_value = "encode-1")]
    pub name: String,
    /// First serial (hex) of the in-process readers' blanks [default: the simulator lot's
    /// next, after the bodies drawn so far]. In-process stations running at the same time on
    /// one database need disjoint ranges, or they offer each other's bodies.
    #[arg(long, value_parser = parse_hex, value_name = "SERIAL")]
    pub first_serial: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SimulatorArgs {
    /// vpcd reader ports to fill (repeat) [default: 35963 and 35964, the two readers of one
    /// vpcd block].
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,
    /// First serial of the blanks, in hex.
    #[arg(long, default_value = "0C0C000000000001", value_parser = parse_hex)]
    pub first_serial: u64,
    /// Number of blanks in the simulated lot.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Older card bodies: short APDUs only (no extended length).
    #[arg(long)]
    pub short_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Record a lot of blank card bodies received (serial range from the delivery note).
    Receive(ReceiveArgs),
    /// Per lot: received, drawn, personalised, spoiled, destroyed, on hand; reconciles the
    /// ledger with the cards and fails (exit 1) naming every discrepancy.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReceiveArgs {
    #[arg(long)]
    pub lot: String,
    /// First serial, in hex.
    #[arg(long, value_parser = parse_hex)]
    pub first: u64,
    /// Number of bodies in the lot.
    #[arg(long)]
    pub count: u64,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A body drawn longer ago than this without an outcome is a discrepancy.
    #[arg(long, default_value_t = 10)]
    pub stale_minutes: i64,
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create the test PKI (CSCA and file document signer) in the configured folder, if absent.
    Init,
    /// Generate a document-signer key inside a PKCS#11 token (it never leaves it) and issue
    /// its certificate from the test CSCA. The PIN comes from CQCFAB_PKCS11_PIN.
    HsmKey(HsmKeyArgs),
}

#[derive(Debug, Args)]
pub struct HsmKeyArgs {
    #[arg(long, default_value = "/usr/lib/softhsm/libsofthsm2.so")]
    pub module: PathBuf,
    #[arg(long)]
    pub token: String,
    #[arg(long, default_value = "cqcfab-ds")]
    pub label: String,
    /// Where to write the certificate (PEM).
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_hex(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .map_err(|e| format!("{s:?} is not a hex serial: {e}"))
}

pub async fn station(config: &Config, cmd: StationCommand) -> anyhow::Result<ExitCode> {
    let args = match cmd {
        StationCommand::Encode(args) => args,
        StationCommand::Insert(args) => return super::insert::run(config, args).await,
        StationCommand::Mailroom(args) => return super::mailroom::run(args).await,
        StationCommand::Quality(args) => return super::quality::run(args).await,
    };
    let store = super::open_store(config).await?;
    let mode = if args.once {
        Mode::Once
    } else if args.drain {
        Mode::Drain
    } else {
        Mode::Serve
    };
    let summary = encode_stage(&store, config, &args, mode, false).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Which readers to use, and why (printed: operators must know which path ran).
pub fn choose_readers(wanted: Option<Readers>, names: &[String]) -> (Readers, Vec<String>, String) {
    let listed = pcsc_reader::readers().unwrap_or_default();
    let pcsc = if names.is_empty() {
        listed.clone()
    } else {
        names.to_vec()
    };
    match wanted {
        Some(Readers::Pcsc) => (Readers::Pcsc, pcsc, "PC/SC (asked for)".into()),
        Some(Readers::Inprocess) => (
            Readers::Inprocess,
            vec![],
            "in-process simulator (asked for)".into(),
        ),
        None if !listed.is_empty() => (
            Readers::Pcsc,
            pcsc,
            "PC/SC through pcscd (it lists readers)".into(),
        ),
        None => (
            Readers::Inprocess,
            vec![],
            "in-process simulator (no pcscd readers found)".into(),
        ),
    }
}

/// The vpcd port behind a reader named "Virtual PCD 00 0N" of the first pcscd.
fn vpcd_port(name: &str) -> Option<u16> {
    let rest = name.strip_prefix("Virtual PCD 00 ")?;
    let n: u16 = rest.trim().parse().ok()?;
    Some(vpcd::DEFAULT_PORT + n)
}

/// Encodes with the chosen readers until `mode` says stop; returns a summary for reports.
/// With `fill_empty_vpcd`, empty vpcd readers get blanks from a simulator started here.
pub async fn encode_stage(
    store: &Store,
    config: &Config,
    args: &EncodeArgs,
    mode: Mode,
    fill_empty_vpcd: bool,
) -> anyhow::Result<serde_json::Value> {
    let on_card = Arc::new(|| {});
    Ok(
        encode_stage_keeping(store, config, args, mode, fill_empty_vpcd, 0, on_card)
            .await?
            .0,
    )
}

/// [`encode_stage`], keeping the first `keep` personalised chips that leave the readers (the
/// output hopper a demo takes a few cards from to post back to the quality desk); the others
/// are let go, so a long run's memory does not grow with its cards. `on_card` is called once
/// per card personalised.
pub async fn encode_stage_keeping(
    store: &Store,
    config: &Config,
    args: &EncodeArgs,
    mode: Mode,
    fill_empty_vpcd: bool,
    keep: usize,
    on_card: Arc<dyn Fn() + Send + Sync>,
) -> anyhow::Result<(serde_json::Value, Vec<VirtualCard>)> {
    let signer = keys::open_signer(config).context("opening the document signer")?;
    let master = keys::master_key()?;
    let (kind, names, why) = choose_readers(args.readers, &args.reader_names);
    if kind == Readers::Pcsc && names.is_empty() {
        anyhow::bail!("no PC/SC reader: is pcscd running with a reader attached?");
    }
    println!(
        "chip encoding: {why}{}; signer: {}",
        if names.is_empty() {
            String::new()
        } else {
            format!(" — readers {}", names.join(", "))
        },
        signer.describe()
    );
    let station = Station {
        store: store.clone(),
        signer,
        master: Arc::new(master.clone()),
        authority: config.authority.clone(),
        name: args.name.clone(),
        blanks_per_job: args.blanks_per_job,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        });
    }
    // Blanks for simulated cards come from the simulator's lot, after the last one drawn.
    let first = match args.first_serial {
        Some(serial) => serial,
        None => store
            .lot_highest_drawn(SIM_LOT)
            .await?
            .map_or(SIM_FIRST_SERIAL, |s| s + 1),
    };
    let blanks = Arc::new(Mutex::new(Blanks::new(
        first,
        SIM_FIRST_SERIAL + SIM_LOT_SIZE - 1,
        &master,
    )));
    let hopper: Hopper = Arc::default();
    let slots: Vec<Box<dyn ReaderSlot>> = match kind {
        Readers::Pcsc => names
            .iter()
            .map(|n| Box::new(PcscSlot::new(n.clone())) as Box<dyn ReaderSlot>)
            .collect(),
        Readers::Inprocess => (0..args.inprocess_readers.max(1))
            .map(|i| {
                Box::new(InProcessSlot::new(
                    format!("in-process {i}"),
                    blanks.clone(),
                    hopper.clone(),
                )) as Box<dyn ReaderSlot>
            })
            .collect(),
    };
    // Empty vpcd readers: this process plays the simulator for them.
    let rack_ports: Vec<SocketAddr> = if kind == Readers::Pcsc && fill_empty_vpcd {
        names
            .iter()
            .filter(|n| pcsc_reader::slot(n).is_ok_and(|s| !s.present))
            .filter_map(|n| vpcd_port(n))
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect()
    } else {
        Vec::new()
    };
    if !rack_ports.is_empty() {
        println!("  vpcd readers are empty: inserting simulated blanks from lot {SIM_LOT}");
    }
    let waiting = store
        .job_counts()
        .await?
        .iter()
        .filter(|(k, s, _)| k == ENCODE_JOB && s == "queued")
        .map(|(_, _, n)| *n as u64)
        .sum();
    let bar = super::progress(waiting, "encoding");
    let rt = tokio::runtime::Handle::current();
    let events = Arc::new(Mutex::new(Vec::<Event>::new()));
    let (ev, tick, stop2) = (events.clone(), bar.clone(), stop.clone());
    let hopper2 = hopper.clone();
    let rack_stop = Arc::new(AtomicBool::new(false));
    let rack_stop2 = rack_stop.clone();
    let rack_blanks = blanks.clone();
    let kept: Hopper = Arc::default();
    let rack_kept = kept.clone();
    let rack = (!rack_ports.is_empty()).then(|| {
        std::thread::spawn(move || {
            rack::run(&rack_ports, rack_blanks, &rack_stop2, &|e| match e {
                RackEvent::Waiting { reader, detail } => {
                    tracing::info!(reader, detail, "simulator waiting for pcscd");
                }
                RackEvent::Left {
                    card,
                    how: vpcd::Ended::Ejected,
                    ..
                } if card.file(FID_DG1).is_some() => {
                    if let Ok(mut k) = rack_kept.lock()
                        && k.len() < keep
                    {
                        k.push(card.clone());
                    }
                }
                _ => {}
            })
        })
    });
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || {
        let report = |e: Event| {
            match &e {
                Event::Personalised { .. } => {
                    tick.inc(1);
                    on_card();
                    // The in-process readers drop every card into the hopper: keep the first.
                    if let Ok(mut h) = hopper2.lock() {
                        h.truncate(keep);
                    }
                }
                Event::Spoiled {
                    reader,
                    serial,
                    reason,
                    ..
                } => tick.println(format!(
                    "  spoiled body {serial:016X} on {reader}: {reason}"
                )),
                Event::Refused { reader, reason, .. } => {
                    tick.println(format!("  {reader}: {reason}"))
                }
                Event::Failed { card_number, error } => {
                    tick.println(format!("  card {card_number} back to the queue: {error}"))
                }
                Event::ReaderLost { reader, error } => {
                    tick.println(format!("  reader {reader} lost: {error}"))
                }
                Event::Interrupted { reader, reason, .. } => tick.println(format!(
                    "  {reader}: {reason}; the job went back to the queue, waiting for the reader"
                )),
                Event::Skipped { .. } => {}
                Event::Stopped {
                    card_number,
                    reason,
                } => tick.println(format!("  card {card_number} stopped: {reason}")),
            }
            // A serving station runs for days: it logs each card instead of keeping it.
            if mode == Mode::Serve {
                tracing::info!(event = ?e, "station");
            } else if let Ok(mut v) = ev.lock() {
                v.push(e);
            }
        };
        let slots = encode::run_station(&station, slots, &rt, &stop2, mode, &report);
        drop(slots);
    })
    .await
    .context("the station's threads")?;
    rack_stop.store(true, Ordering::Relaxed);
    if let Some(r) = rack {
        let _ = r.join();
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let events = std::mem::take(&mut *events.lock().map_err(|_| anyhow::anyhow!("events lock"))?);
    let summary = summarise(&events, seconds, &why);
    println!(
        "personalised {} card(s) in {seconds:.1} s, {} body(ies) spoiled, {} refused, {} job(s) back in the queue",
        summary["personalised"], summary["spoiled"], summary["refused"], summary["failed"]
    );
    let lock = |h: &Hopper| {
        h.lock()
            .map(|mut v| std::mem::take(&mut *v))
            .map_err(|_| anyhow::anyhow!("hopper lock"))
    };
    let mut chips = lock(&hopper)?;
    chips.extend(lock(&kept)?);
    chips.truncate(keep);
    Ok((summary, chips))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Counts and per-card times of a station run.
pub fn summarise(events: &[Event], seconds: f64, readers: &str) -> serde_json::Value {
    let mut card_ms = Vec::new();
    let mut total_ms = Vec::new();
    let mut apdus = Vec::new();
    // Per card: the share of its station time spent outside card round trips.
    let mut outside = Vec::new();
    let (mut apdu_sum, mut minimum_sum) = (0u64, 0u64);
    let (mut spoiled, mut refused, mut failed, mut interrupted) = (0, 0, 0, 0);
    for e in events {
        match e {
            Event::Personalised {
                card_time,
                total_time,
                apdus: a,
                minimum_apdus,
                ..
            } => {
                apdu_sum += u64::from(*a);
                minimum_sum += u64::from(*minimum_apdus);
                card_ms.push(card_time.as_secs_f64() * 1000.0);
                total_ms.push(total_time.as_secs_f64() * 1000.0);
                if !total_time.is_zero() {
                    outside.push(1.0 - card_time.as_secs_f64() / total_time.as_secs_f64());
                }
                apdus.push(f64::from(*a));
            }
            Event::Spoiled { .. } => spoiled += 1,
            Event::Refused { .. } => refused += 1,
            Event::Failed { .. } => failed += 1,
            Event::Interrupted { .. } => interrupted += 1,
            _ => {}
        }
    }
    for v in [&mut card_ms, &mut total_ms, &mut apdus, &mut outside] {
        v.sort_by(f64::total_cmp);
    }
    let n = card_ms.len();
    json!({
        "readers": readers,
        "personalised": n,
        "spoiled": spoiled,
        "refused": refused,
        "failed": failed,
        "interrupted": interrupted,
        "seconds": seconds,
        "cards_per_minute": if seconds > 0.0 { n as f64 * 60.0 / seconds } else { 0.0 },
        "card_ms_median": percentile(&card_ms, 0.5),
        "card_ms_p99": percentile(&card_ms, 0.99),
        "total_ms_median": percentile(&total_ms, 0.5),
        "total_ms_p90": percentile(&total_ms, 0.9),
        "total_ms_p99": percentile(&total_ms, 0.99),
        "total_ms_max": total_ms.last().copied().unwrap_or(0.0),
        "apdus_median": percentile(&apdus, 0.5),
        "apdus_over_minimum": if minimum_sum > 0 { apdu_sum as f64 / minimum_sum as f64 - 1.0 } else { 0.0 },
        // Per card, then the median: one slow commit must not speak for sixty cards.
        "outside_card_share": percentile(&outside, 0.5),
    })
}

pub fn simulator(args: SimulatorArgs) -> anyhow::Result<ExitCode> {
    let master = keys::master_key()?;
    let ports = if args.ports.is_empty() {
        vec![vpcd::DEFAULT_PORT, vpcd::DEFAULT_PORT + 1]
    } else {
        args.ports.clone()
    };
    let addrs: Vec<SocketAddr> = ports
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect();
    let mut blanks = Blanks::new(
        args.first_serial,
        args.first_serial
            .saturating_add(args.count.saturating_sub(1)),
        &master,
    );
    if args.short_only {
        blanks = blanks.with_spec(cqcfab_simulator::card::CardSpec::short_only);
    }
    println!(
        "cqcfab simulator: blanks {:016X}.. ({} cards) into vpcd ports {:?}; Ctrl-C to stop",
        args.first_serial, args.count, ports
    );
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        // Ctrl-C: a small runtime of its own, this command is otherwise blocking.
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            let _ = rt.block_on(tokio::signal::ctrl_c());
            s.store(true, Ordering::Relaxed);
        }
    });
    rack::run(&addrs, Arc::new(Mutex::new(blanks)), &stop, &|e| match e {
        RackEvent::Inserted { reader, serial } => {
            println!("reader {reader}: blank {serial:016X} inserted")
        }
        RackEvent::Left { reader, card, how } => println!(
            "reader {reader}: card {:016X} left ({how:?}, {:?}, {} APDUs)",
            card.serial(),
            card.life_cycle(),
            card.apdu_count()
        ),
        RackEvent::Waiting { reader, detail } => {
            println!("reader {reader}: waiting for pcscd ({detail})")
        }
        RackEvent::Empty { reader } => println!("reader {reader}: no blanks left"),
    });
    Ok(ExitCode::SUCCESS)
}

pub async fn stock(config: &Config, cmd: StockCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    let code = match cmd {
        StockCommand::Receive(a) => {
            let last = a
                .first
                .checked_add(a.count.saturating_sub(1))
                .context("the serial range overflows")?;
            anyhow::ensure!(a.count > 0, "a lot holds at least one card body");
            store.receive_lot(&a.lot, a.first, last, "cli").await?;
            println!(
                "lot {} received: {:016X}-{last:016X} ({} bodies)",
                a.lot, a.first, a.count
            );
            ExitCode::SUCCESS
        }
        StockCommand::Report(a) => {
            let report = store.stock_report(a.stale_minutes * 60_000).await?;
            println!(
                "{:<14} {:>16} {:>16} {:>9} {:>9} {:>8} {:>13} {:>8} {:>10} {:>8}",
                "lot",
                "first",
                "last",
                "received",
                "drawn",
                "writing",
                "personalised",
                "spoiled",
                "destroyed",
                "on hand"
            );
            for l in &report.lots {
                println!(
                    "{:<14} {:016X} {:016X} {:>9} {:>9} {:>8} {:>13} {:>8} {:>10} {:>8}",
                    l.lot_id,
                    l.first_serial,
                    l.last_serial,
                    l.received,
                    l.drawn,
                    l.in_progress,
                    l.personalised,
                    l.spoiled,
                    l.destroyed,
                    l.on_hand
                );
            }
            if report.reconciles() {
                println!("the ledger reconciles");
                ExitCode::SUCCESS
            } else {
                eprintln!("THE LEDGER DOES NOT RECONCILE:");
                for p in &report.problems {
                    eprintln!("  - {p}");
                }
                ExitCode::FAILURE
            }
        }
    };
    store.close().await;
    Ok(code)
}

pub fn pki(config: &Config, cmd: PkiCommand) -> anyhow::Result<ExitCode> {
    let pki = TestPki::ensure(&config.pki_dir())?;
    match cmd {
        PkiCommand::Init => {
            println!("test PKI in {} (NOT for production):", pki.dir.display());
            println!("  CSCA certificate      {}", pki.csca_cert().display());
            println!(
                "  document signer       {} (key {})",
                pki.ds_cert().display(),
                pki.ds_key().display()
            );
        }
        PkiCommand::HsmKey(a) => {
            let loc = Pkcs11Location {
                module: a.module,
                token: a.token,
                key_label: a.label,
                pin: std::env::var(keys::PIN_ENV)
                    .with_context(|| format!("{} is not set", keys::PIN_ENV))?,
            };
            let point = signer::pkcs11_generate(&loc)?;
            let cert = pki::issue_document_signer(
                &pki.csca_signing_key()?,
                &pki.csca()?,
                &point,
                pki::DS_NAME,
            )?;
            pki::write_cert(&a.out, &cert)?;
            println!(
                "key {:?} generated in token {:?}; certificate {}",
                loc.key_label,
                loc.token,
                a.out.display()
            );
            println!(
                "use it with [chip] signer = \"pkcs11\", pkcs11_module, pkcs11_token, pkcs11_key_label, ds_cert"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Used by the demo: the simulator's lot must be in the ledger before its blanks are drawn.
pub async fn ensure_sim_lot(store: &Store) -> anyhow::Result<()> {
    if store.lot_drawn(SIM_LOT).await?.is_none() {
        store
            .receive_lot(
                SIM_LOT,
                SIM_FIRST_SERIAL,
                SIM_FIRST_SERIAL + SIM_LOT_SIZE - 1,
                "demo",
            )
            .await?;
    }
    Ok(())
}
