//! `cqcfab station insert`: the inserting bench. Scans come one per line from a
//! keyboard-wedge scanner (standard input) or a file; with `--chip-reader`, every card put on
//! that PC/SC reader is identified by its chip serial instead of its print.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::station::insert::{Answer, CHIP_PREFIX, Line, Scan};

#[derive(Debug, Args)]
pub struct InsertArgs {
    /// Read scans from this file (or serial device in raw mode) instead of standard input.
    #[arg(long, value_name = "FILE")]
    pub scans: Option<std::path::PathBuf>,
    /// Identify each card by its chip serial, read on this PC/SC reader when a card is put on it.
    #[arg(long, value_name = "READER")]
    pub chip_reader: Option<String>,
    /// This station's name in the audit trail.
    #[arg(long, default_value = "insert-1")]
    pub name: String,
}

/// What reaches the line: a scanned line, or a reader's complaint.
enum Input {
    Line(String),
    Problem(String),
    /// The scans ended (end of file, or the operator closed standard input).
    End,
}

/// Exit code when the input ended on a stopped line: the mismatch is still unresolved.
const STOPPED: u8 = 3;

pub async fn run(config: &Config, args: InsertArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    let (tx, mut rx) = mpsc::channel::<Input>(64);
    let lines = tokio::spawn(read_lines(args.scans.clone(), tx.clone()));
    if let Some(reader) = args.chip_reader.clone() {
        let tx = tx.clone();
        std::thread::spawn(move || watch_chips(&reader, &tx));
    }
    drop(tx);
    println!(
        "poste d'insertion {} prêt : scanner une carte et son pli",
        args.name
    );
    let mut line = Line::new(store.clone(), args.name.clone());
    while let Some(input) = rx.recv().await {
        let text = match input {
            Input::Problem(p) => {
                println!("!! {p}");
                continue;
            }
            Input::Line(text) => text,
            Input::End => break,
        };
        if text.trim().is_empty() {
            continue;
        }
        let answer = line.scan(Scan::read(&text)).await;
        let mark = match answer {
            Answer::Inserted(_) | Answer::Cleared(_) => "OK",
            Answer::Waiting(_) | Answer::Already(_) => "..",
            Answer::Refused(_) => "!!",
            Answer::Stopped(_) => "XX",
        };
        println!("{mark} {answer}");
    }
    lines.await??;
    let t = &line.tally;
    println!(
        "\nce poste : {} insérée(s), {} déjà faite(s), {} discordance(s), {} refus, {} code(s) inconnu(s)",
        t.inserted, t.already, t.mismatches, t.refused, t.unknown
    );
    let counts = store.piece_counts().await?;
    let count = |s: &str| {
        counts
            .iter()
            .find(|(state, _)| state == s)
            .map_or(0, |(_, n)| *n)
    };
    println!(
        "plis : {} en attente de leur carte, {} insérés (pas encore en lot), {} en lot",
        count("created"),
        count("inserted"),
        count("batched")
    );
    for (piece, card) in store.pieces_in_state("created", 20).await? {
        println!("  non insérée : carte {card} (pli {piece})");
    }
    store.close().await;
    Ok(match line.stopped() {
        Some(why) => {
            eprintln!("error: the line is still stopped: {why}");
            ExitCode::from(STOPPED)
        }
        None => ExitCode::SUCCESS,
    })
}

async fn read_lines(
    path: Option<std::path::PathBuf>,
    tx: mpsc::Sender<Input>,
) -> anyhow::Result<()> {
    let reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match &path {
        Some(p) => Box::new(
            tokio::fs::File::open(p)
                .await
                .with_context(|| format!("cannot open the scans {}", p.display()))?,
        ),
        None => Box::new(tokio::io::stdin()),
    };
    let mut lines = BufReader::new(reader).lines();
    while let Some(l) = lines.next_line().await.context("reading scans")? {
        if tx.send(Input::Line(l)).await.is_err() {
            break;
        }
    }
    let _ = tx.send(Input::End).await;
    Ok(())
}

/// Reads the chip serial of every card put on `reader` and feeds it to the line as
/// `CHIP:<serial>`; stops when the line is gone.
fn watch_chips(reader: &str, tx: &mpsc::Sender<Input>) {
    use cqcfab_drivers::pcsc_reader::{PcscReader, ReaderWatch};
    let mut watch = match ReaderWatch::new(reader) {
        Ok(w) => w,
        Err(e) => {
            let _ = tx.blocking_send(Input::Problem(format!("lecteur {reader} : {e}")));
            return;
        }
    };
    let mut seen: Option<u32> = None;
    while !tx.is_closed() {
        let slot = match watch.wait(std::time::Duration::from_millis(500)) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.blocking_send(Input::Problem(format!("lecteur {reader} : {e}")));
                std::thread::sleep(std::time::Duration::from_secs(1));
                continue;
            }
        };
        if !slot.present || seen == Some(slot.events) {
            continue;
        }
        seen = Some(slot.events);
        let read = PcscReader::connect(reader)
            .map_err(|e| e.to_string())
            .and_then(|mut card| {
                let opened = crate::chip::script::open(&mut card).map_err(|e| e.to_string());
                card.leave();
                opened
            });
        let input = match read {
            Ok(o) => Input::Line(format!("{CHIP_PREFIX}{}", o.serial)),
            Err(e) => Input::Problem(format!(
                "la puce de la carte posée sur {reader} n'a pas pu être lue : {e}"
            )),
        };
        if tx.blocking_send(input).is_err() {
            break;
        }
    }
}
