//! `cqcfab station mailroom`: the mailroom bench. Reads a serial barcode scanner and sends
//! each code to the service, which records the return and answers what to do; the answer is
//! printed at once, in French, one line per scan (a bell on anything that needs attention).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use cqcfab_drivers::scanner::{Framing, LineFormat, ScanEvent, Scanner, ScannerConfig, Terminator};

use crate::post::pnd::ReturnReason;
use crate::station::client::ServiceClient;

/// The serial barcode scanner of a bench (the mailroom, the quality desk).
#[derive(Debug, Args)]
pub struct ScannerArgs {
    /// The scanner's serial device (e.g. /dev/serial/by-id/usb-...; a pseudo-terminal in tests).
    #[arg(long, value_name = "DEVICE")]
    pub scanner: PathBuf,
    /// Serial speed, as set in the scanner.
    #[arg(long, default_value_t = 9600)]
    pub baud: u32,
    /// Character format: data bits, parity (N, E, O), stop bits.
    #[arg(long, default_value = "8N1", value_parser = parse_line)]
    pub line: LineFormat,
    /// What ends each code: cr, lf, crlf or tab.
    #[arg(long, default_value = "cr", value_parser = parse_terminator)]
    pub terminator: Terminator,
    /// Text the scanner puts before each code (stripped; required).
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Text the scanner puts after each code (stripped; required).
    #[arg(long, default_value = "")]
    pub suffix: String,
    /// The scanner sends the AIM symbology identifier (]C0...) first.
    #[arg(long)]
    pub aim: bool,
}

impl ScannerArgs {
    /// Starts the scanner's reader thread; its events arrive on the returned channel.
    pub fn start(&self) -> anyhow::Result<tokio::sync::mpsc::UnboundedReceiver<ScanEvent>> {
        let config = ScannerConfig {
            baud: self.baud,
            line: self.line,
            framing: Framing {
                terminator: self.terminator,
                prefix: self.prefix.clone(),
                suffix: self.suffix.clone(),
                aim: self.aim,
                ..Framing::default()
            },
            ..ScannerConfig::new(&self.scanner)
        };
        let scanner = Scanner::start(config).context("cannot start the scanner thread")?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // The scanner's channel is blocking: one thread forwards it to the station's task.
        std::thread::spawn(move || {
            while let Ok(event) = scanner.events().recv() {
                if tx.send(event).is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

/// What a station prints for a scanner event that is not a code (`None` for a code).
pub fn scanner_news(event: &ScanEvent) -> Option<String> {
    match event {
        ScanEvent::Connected { device } => Some(format!("SCANNER PRÊT ({device})")),
        ScanEvent::Unavailable { device, reason } => Some(format!(
            "\x07XX SCANNER ABSENT ({device} : {reason}) — branchez-le, j'attends"
        )),
        ScanEvent::Disconnected { device, reason } => Some(format!(
            "\x07XX SCANNER DÉBRANCHÉ ({device} : {reason}) — rebranchez-le, j'attends"
        )),
        ScanEvent::Noise(noise) => {
            tracing::warn!(raw = %noise.raw_escaped(), kind = %noise.kind, "scanner noise");
            Some(format!(
                "\x07XX LECTURE ILLISIBLE ({}) : rien enregistré, rescannez",
                noise.kind
            ))
        }
        ScanEvent::Code(_) => None,
    }
}

#[derive(Debug, Args)]
pub struct MailroomArgs {
    #[command(flatten)]
    pub scanner: ScannerArgs,
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
    /// The clerk at the bench, recorded with every return.
    #[arg(long, env = "CQCFAB_CLERK")]
    pub clerk: String,
    /// The reason in force at start (npai, address_incomplete...); normally scanned.
    #[arg(long, value_parser = parse_reason)]
    pub reason: Option<ReturnReason>,
}

fn parse_line(s: &str) -> Result<LineFormat, String> {
    s.parse()
}

fn parse_terminator(s: &str) -> Result<Terminator, String> {
    s.parse()
}

fn parse_reason(s: &str) -> Result<ReturnReason, String> {
    ReturnReason::parse(s)
        .or_else(|| ReturnReason::from_scan(s))
        .ok_or_else(|| {
            let names: Vec<&str> = ReturnReason::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown reason {s:?}: one of {}", names.join(", "))
        })
}

const SCANS_PATH: &str = "/v1/stations/mailroom/scans";

pub async fn run(args: MailroomArgs) -> anyhow::Result<ExitCode> {
    let mut client = ServiceClient::new(&args.service, &args.token)?;
    let mut rx = args.scanner.start()?;
    let mut reason = args.reason;
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    println!(
        "Poste courrier retour — agent {} — service {} — motif : {}",
        args.clerk,
        client.addr(),
        reason.map(ReturnReason::label_fr).unwrap_or("(à scanner)")
    );
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => break },
            () = &mut stop => break,
        };
        if let Some(news) = scanner_news(&event) {
            if matches!(event, ScanEvent::Noise(_)) {
                *tally.entry("noise".into()).or_default() += 1;
            }
            println!("{news}");
            continue;
        }
        if let ScanEvent::Code(code) = event {
            let body = json!({
                "code": code.text,
                "reason": reason.map(ReturnReason::as_str),
                "clerk": args.clerk,
            });
            let started = Instant::now();
            let answer = client.post_json(SCANS_PATH, &body).await;
            let took = started.elapsed();
            match answer {
                Ok((200, a)) => {
                    let outcome = a["outcome"].as_str().unwrap_or("?").to_string();
                    if let Some(r) = a["reason"].as_str().and_then(ReturnReason::parse) {
                        reason = Some(r);
                    }
                    print_answer(&a, took);
                    *tally.entry(outcome).or_default() += 1;
                }
                Ok((401, _)) => {
                    bail!("the service refused this station's token: check CQCFAB_STATION_TOKEN")
                }
                Ok((status, a)) => {
                    *tally.entry("refused".into()).or_default() += 1;
                    println!(
                        "\x07XX SERVICE : {} ({status}) — rien enregistré, rescannez",
                        a["message"].as_str().unwrap_or("refus")
                    );
                }
                Err(e) => {
                    *tally.entry("service_unreachable".into()).or_default() += 1;
                    println!(
                        "\x07XX SERVICE INJOIGNABLE ({e}) — rien enregistré, rescannez quand il répond"
                    );
                }
            }
        }
    }
    let summary: Vec<String> = tally.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("Fin de poste : {}", summary.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn print_answer(a: &Value, took: Duration) {
    let ok = a["ok"].as_bool().unwrap_or(false);
    let message = a["message"].as_str().unwrap_or("");
    let mark = if ok { "OK" } else { "\x07XX" };
    println!("{mark} {message}  [{} ms]", took.as_millis());
}

/// Resolves on SIGINT or SIGTERM: the clerk ends the shift.
pub async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}
