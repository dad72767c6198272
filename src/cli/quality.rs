//! `cqcfab station quality`: the quality desk. The analyst scans the return coupon (the case
//! opens), puts the card in the PC/SC reader (the chip is read and judged by the service),
//! then types one line per defect the holder declared and asks for the verdict:
//!
//! ```text
//! defaut photo print          a confirmed defect and its cause
//! defaut nom non              a declared defect not confirmed
//! verdict                     the verdict by the attribution rules
//! verdict geste RAISON        the holder's fault, fee waiver asked of a supervisor
//! relire                      read the chip again
//! ```
//!
//! `cqcfab quality waiver approve|refuse CASE --by SUPERVISOR` is the supervisor's side.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use cqcfab_drivers::pcsc_reader::{PcscReader, ReaderWatch};
use cqcfab_drivers::scanner::ScanEvent;
use cqcfab_drivers::transport::TransportError;

use super::mailroom::{ScannerArgs, scanner_news, shutdown};
use crate::chip::script::{self, CardRead, PersoError};
use crate::config::Config;
use crate::quality::attribution::Cause;
use crate::quality::desk::{self, Reading};
use crate::quality::diagnostic::FILES;
use crate::station::client::ServiceClient;

#[derive(Debug, Args)]
pub struct QualityArgs {
    #[command(flatten)]
    pub scanner: ScannerArgs,
    /// The PC/SC reader the analyst puts returned cards in.
    #[arg(long, value_name = "NAME")]
    pub reader: String,
    /// How long to wait for the card in the reader after a coupon, in seconds.
    #[arg(long, default_value_t = 120)]
    pub card_wait: u64,
    /// The service (`cqcfab serve`) this station talks to.
    #[arg(
        long,
        env = "CQCFAB_SERVICE_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub service: String,
    /// This station's bearer token (one of the service's CQCFAB_STATION_TOKENS).
    #[arg(long, env = "CQCFAB_STATION_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The analyst at the desk, recorded with every finding.
    #[arg(long, env = "CQCFAB_ANALYST")]
    pub analyst: String,
}

/// Readings of a card that stays in the reader before it is declared unreadable: a mute or
/// broken chip fails every time, a passing glitch once.
const READ_ATTEMPTS: u32 = 2;

/// How long pcscd needs to see a card leave (it polls vpcd and USB readers ~every 400 ms).
const REMOVAL_SETTLE: Duration = Duration::from_millis(900);

/// What became of a chip reading.
enum Chip {
    Read(CardRead),
    /// The card answers, but not as a readable card of ours.
    Unreadable(String),
    /// No card came within the wait.
    NoCard,
}

/// Reads the card in `reader`, waiting up to `wait` for it. A card pulled out mid-read is
/// read again, whole, once it is back (`say` tells the analyst); a reader or pcscd that goes
/// away is waited for.
fn read_chip(reader: &str, wait: Duration, say: &dyn Fn(String)) -> Chip {
    let deadline = Instant::now() + wait;
    let mut told = None::<String>;
    let mut tell = |msg: String| {
        if told.as_deref() != Some(msg.as_str()) {
            say(msg.clone());
            told = Some(msg);
        }
    };
    let mut watch: Option<ReaderWatch> = None;
    let mut failures = 0;
    while Instant::now() < deadline {
        let present = match watch.as_mut().map(|w| w.wait(Duration::from_millis(500))) {
            Some(Ok(slot)) => slot.present,
            Some(Err(e)) => {
                tell(format!("\x07XX LECTEUR INDISPONIBLE ({e}) — j'attends"));
                watch = None;
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            None => {
                match ReaderWatch::new(reader) {
                    Ok(w) => watch = Some(w),
                    Err(e) => {
                        tell(format!("\x07XX LECTEUR INDISPONIBLE ({e}) — j'attends"));
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
                continue;
            }
        };
        if !present {
            continue;
        }
        let mut card = match PcscReader::connect(reader) {
            Ok(c) => c,
            Err(TransportError::NoCard { .. } | TransportError::CardRemoved { .. }) => continue,
            Err(e @ (TransportError::ReaderGone { .. } | TransportError::ServiceDown { .. })) => {
                tell(format!("\x07XX LECTEUR INDISPONIBLE ({e}) — j'attends"));
                watch = None;
                continue;
            }
            Err(e) => return Chip::Unreadable(e.to_string()),
        };
        let failure = match script::read_application(&mut card, &FILES) {
            Ok(read) => {
                card.leave();
                return Chip::Read(read);
            }
            Err(PersoError::Transport(
                e @ (TransportError::ReaderGone { .. } | TransportError::ServiceDown { .. }),
            )) => {
                tell(format!("\x07XX LECTEUR INDISPONIBLE ({e}) — j'attends"));
                watch = None;
                continue;
            }
            Err(e) => e,
        };
        card.leave();
        // A card pulled out mid-read shows as a removal, or as a broken answer when it went
        // in the middle of one: pcscd tells which once it has polled the reader again.
        std::thread::sleep(REMOVAL_SETTLE);
        let still_in = match ReaderWatch::new(reader).and_then(|mut w| w.wait(Duration::ZERO)) {
            Ok(slot) => slot.present,
            Err(_) => false,
        };
        if !still_in {
            tell("\x07XX CARTE RETIRÉE pendant le diagnostic — réinsérez-la, je relis tout".into());
            continue;
        }
        failures += 1;
        if failures >= READ_ATTEMPTS {
            return Chip::Unreadable(failure.to_string());
        }
    }
    Chip::NoCard
}

fn print_answer(a: &Value) {
    let ok = a["ok"].as_bool().unwrap_or(false);
    let lines: Vec<&str> = a["lines"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (i, line) in lines.iter().enumerate() {
        let mark = match (i, ok) {
            (0, true) => "OK ",
            (0, false) => "\x07XX ",
            _ => "   ",
        };
        println!("{mark}{line}");
    }
}

/// Sends `body` and prints the answer; the answer when the service took it.
async fn call(
    client: &mut ServiceClient,
    path: &str,
    body: &Value,
) -> anyhow::Result<Option<Value>> {
    match client.post_json(path, body).await {
        Ok((200, a)) => {
            print_answer(&a);
            Ok(Some(a))
        }
        Ok((401, _)) => {
            bail!("the service refused this station's token: check CQCFAB_STATION_TOKEN")
        }
        Ok((status, a)) => {
            println!(
                "\x07XX SERVICE : {} ({status}) — rien enregistré",
                a["message"].as_str().unwrap_or("refus")
            );
            Ok(None)
        }
        Err(e) => {
            println!("\x07XX SERVICE INJOIGNABLE ({e}) — rien enregistré, recommencez");
            Ok(None)
        }
    }
}

/// Reads the chip of case `case` and sends it to be judged.
async fn diagnose(client: &mut ServiceClient, args: &QualityArgs, case: i64) -> anyhow::Result<()> {
    println!("   Lecture de la puce sur « {} »…", args.reader);
    let reader = args.reader.clone();
    let wait = Duration::from_secs(args.card_wait);
    let chip =
        tokio::task::spawn_blocking(move || read_chip(&reader, wait, &|m| println!("{m}"))).await?;
    let reading = match chip {
        Chip::Read(read) => Reading::of(&read),
        Chip::Unreadable(why) => json!({ "unreadable": why }),
        Chip::NoCard => {
            println!("\x07XX PAS DE CARTE dans le lecteur — insérez-la puis tapez « relire »");
            return Ok(());
        }
    };
    let body = json!({ "analyst": args.analyst, "reading": reading });
    call(
        client,
        &format!("/v1/stations/quality/cases/{case}/diagnostic"),
        &body,
    )
    .await?;
    Ok(())
}

const HELP: &str =
    "commandes : defaut ÉLÉMENT CAUSE|non [note] · verdict · verdict geste RAISON · relire";

/// Runs one typed command for `case`.
async fn command(
    client: &mut ServiceClient,
    args: &QualityArgs,
    case: Option<i64>,
    line: &str,
) -> anyhow::Result<()> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(&verb) = words.first() else {
        return Ok(());
    };
    let Some(case) = case else {
        println!("\x07XX AUCUN DOSSIER : scannez d'abord le coupon retour");
        return Ok(());
    };
    match (verb, &words[1..]) {
        ("defaut" | "défaut", [element, finding, note @ ..]) => {
            let (confirmed, cause) = match *finding {
                "non" => (false, None),
                c => match Cause::parse(c) {
                    Some(c) => (true, Some(c.as_str())),
                    None => {
                        let all: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
                        println!("\x07XX CAUSE INCONNUE « {c} » : {} ou non", all.join(", "));
                        return Ok(());
                    }
                },
            };
            let note = (!note.is_empty()).then(|| note.join(" "));
            let body = json!({
                "analyst": args.analyst, "element": element, "confirmed": confirmed,
                "cause": cause, "note": note,
            });
            call(
                client,
                &format!("/v1/stations/quality/cases/{case}/defects"),
                &body,
            )
            .await?;
        }
        ("verdict", rest) => {
            let waiver = match rest {
                [] => None,
                ["geste", reason @ ..] if !reason.is_empty() => Some(reason.join(" ")),
                _ => {
                    println!("\x07XX {HELP}");
                    return Ok(());
                }
            };
            let body = json!({ "analyst": args.analyst, "waiver_reason": waiver });
            call(
                client,
                &format!("/v1/stations/quality/cases/{case}/verdict"),
                &body,
            )
            .await?;
        }
        ("relire", []) => diagnose(client, args, case).await?,
        _ => println!("\x07XX {HELP}"),
    }
    Ok(())
}

pub async fn run(args: QualityArgs) -> anyhow::Result<ExitCode> {
    let mut client = ServiceClient::new(&args.service, &args.token)?;
    let mut scans = args.scanner.start()?;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    println!(
        "Poste qualité — analyste {} — lecteur « {} » — service {}",
        args.analyst,
        args.reader,
        client.addr()
    );
    println!("   {HELP}");
    let mut case: Option<i64> = None;
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            e = scans.recv() => {
                let Some(event) = e else { break };
                if let Some(news) = scanner_news(&event) {
                    println!("{news}");
                    continue;
                }
                let ScanEvent::Code(code) = event else { continue };
                let body = json!({ "code": code.text, "analyst": args.analyst });
                let Some(a) = call(&mut client, "/v1/stations/quality/scans", &body).await? else {
                    continue;
                };
                if let Some(id) = a["case_id"].as_i64() {
                    case = Some(id);
                    if a["outcome"] == "opened" {
                        diagnose(&mut client, &args, id).await?;
                    }
                }
            }
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(l)) => command(&mut client, &args, case, l.trim()).await?,
                _ => stdin_open = false,
            },
            () = &mut stop => break,
        }
    }
    println!("Fin de poste qualité");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum QualityCommand {
    /// A supervisor's answer to a fee waiver asked at the desk (never the analyst who asked).
    #[command(subcommand)]
    Waiver(WaiverCommand),
    /// A case: its state, diagnostic conclusions, defects and verdict.
    Show { case: i64 },
}

#[derive(Debug, Subcommand)]
pub enum WaiverCommand {
    /// Waive the fee: the replacement is made free at once.
    Approve(WaiverArgs),
    /// Refuse: the holder's fault stands, the portal asks for the fee.
    Refuse(WaiverArgs),
}

#[derive(Debug, Args)]
pub struct WaiverArgs {
    pub case: i64,
    /// The supervisor: a different person from the analyst who asked.
    #[arg(long)]
    pub by: String,
}

pub async fn quality(config: &Config, cmd: QualityCommand) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    let intake = crate::intake::Intake::new(store.clone());
    match cmd {
        QualityCommand::Waiver(w) => {
            let (approve, a) = match w {
                WaiverCommand::Approve(a) => (true, a),
                WaiverCommand::Refuse(a) => (false, a),
            };
            let (case, replacement) = desk::settle_waiver(&intake, a.case, &a.by, approve).await?;
            match replacement {
                Some((rid, number)) => println!(
                    "case {}: fee waived by {}; free replacement {rid} (card {})",
                    case.id,
                    a.by,
                    number.as_deref().unwrap_or("-")
                ),
                None => println!(
                    "case {}: waiver refused by {}; the portal asks the holder to correct and pay",
                    case.id, a.by
                ),
            }
        }
        QualityCommand::Show { case } => {
            let c = store.quality_case(case).await?;
            println!(
                "case {}  card {}  {}  opened by {}  chip {}  data {}  verdict {}{}",
                c.id,
                c.card_number,
                c.state,
                c.opened_by,
                c.chip.as_deref().unwrap_or("-"),
                c.data_vs_request.as_deref().unwrap_or("-"),
                c.verdict.as_deref().unwrap_or("-"),
                if c.fee_waived { " (fee waived)" } else { "" }
            );
            for d in store.quality_defects(case).await? {
                println!("  defect {:?}", d);
            }
            if let Some(f) = c.findings {
                println!("  findings {f}");
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
