//! `cqcfab demo --out DIR`: a production day and the weeks after it, on the embedded
//! defaults, against the chip simulator, with a report to look at.
//!
//! Day J: a fresh database takes the requests in (the same path as `cqcfab import`), renders
//! every card with one worker per core, personalises every chip (PC/SC through pcscd when it
//! runs, else the in-process simulator), makes carrier letters and return coupons, runs the
//! inserting line (with a card-to-carrier mismatch drill), closes the day's postal batch and
//! hands it to the post. Day J+3: the post brings back one piece in twenty; the mailroom
//! scans them. J+5: the holders answer (readdress, resend, or nothing); the new carriers take
//! the cards out of their slots and go out in a new batch. J+10: three holders post their
//! card back defective; the quality desk reads each chip and gives its verdict; the
//! replacements are made and posted. When the time to answer is over, the unclaimed cards and
//! the analysed ones are destroyed under four eyes. The run ends with its checks (every
//! request one card, no job left, the blank stock ledger and the audit chain verified) and
//! writes `report.html`, `report.pdf` and `summary.json`.
//!
//! The store's clock is the system clock shifted forward between the days
//! ([`Clock::shifted`]): each day runs at wall-clock speed, the days between are skipped.

mod quality;
mod resources;
mod returns;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::fulfil::{self, Fulfilled};
use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::intake::Intake;
use crate::report::{self, BatchLine, Check, DayReport, SampleCard, SampleLetter, Stage, Yield};
use crate::station::encode::Mode;
use crate::store::{SQLITE_FILE, Store};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the run's outputs (report.html and report.pdf, sample cards, letters,
    /// postal batches, summary.json, the database unless --data).
    #[arg(long, default_value = "demo-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Number of requests: the 200 embedded fixtures by default; another number generates
    /// that many synthetic requests (10000 for a soak: the report then judges whether memory
    /// stayed flat and every file descriptor was closed).
    #[arg(long, value_name = "N")]
    pub cards: Option<usize>,
    /// Chip readers [default: PC/SC when pcscd lists readers (filling empty vpcd readers with
    /// simulated blanks itself), else the in-process simulator].
    #[arg(long, value_enum)]
    pub readers: Option<super::chip::Readers>,
}

const DAY: time::Duration = time::Duration::days(1);
/// Chips kept from the output hopper for the quality returns.
const KEEP_CHIPS: usize = 16;
/// Letters whose sheets are also drawn as pictures for the report.
const LETTER_PICTURES: usize = 2;
/// From this many cards on, the run is long enough to judge memory and descriptors.
const SOAK_CARDS: u64 = 1000;
/// How much a long stage's memory may grow from its first quarter to its end: a database's
/// page cache and the allocator settle by a few MiB; a leak of even 2 KiB a card is 15 MiB
/// over the last three quarters of 10,000 cards, and grows with them.
const MEMORY_SLACK_MIB: f64 = 16.0;
const MEMORY_SLACK_SHARE: f64 = 0.10;

/// When each unit of a stage was done, in seconds since the run started.
#[derive(Clone, Default)]
struct Times(Arc<Mutex<Vec<f64>>>);

impl Times {
    fn mark(&self, since: Instant) {
        if let Ok(mut v) = self.0.lock() {
            v.push(since.elapsed().as_secs_f64());
        }
    }

    fn take(&self) -> Vec<f64> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

fn stage(name: &str, day: &str, done: u64, unit: &str, refused: u64, seconds: f64) -> Stage {
    Stage {
        name: name.to_string(),
        day: day.to_string(),
        done,
        unit: unit.to_string(),
        refused,
        seconds,
        note: String::new(),
    }
}

/// The report's lines for one fulfilment round.
fn post_lines(rep: &mut DayReport, out: &Path, day: &str, f: &Fulfilled) {
    rep.stages.push(stage(
        report::STAGE_LETTERS,
        day,
        f.pairs.len() as u64,
        "plis",
        0,
        f.letters_seconds,
    ));
    let mut insert = stage(
        report::STAGE_INSERT,
        day,
        f.inserted,
        "cartes",
        f.refused.len() as u64,
        f.insert_seconds,
    );
    if f.drilled {
        insert.note = "exercice : une carte présentée avec le pli d'une autre a arrêté la ligne                        jusqu'au déblocage par un superviseur"
            .into();
    }
    rep.stages.push(insert);
    if let Some((m, files)) = &f.batch {
        rep.stages.push(stage(
            report::STAGE_BATCH,
            day,
            m.totals.pieces,
            "plis",
            0,
            f.batch_seconds,
        ));
        rep.batches.push(BatchLine {
            batch_id: m.batch.batch_id.clone(),
            day: day.to_string(),
            pieces: m.totals.pieces,
            weight_g: m.totals.weight_g,
            sha256: m.sha256.clone(),
            files: files
                .iter()
                .map(|p| {
                    let label = match p.extension().and_then(|e| e.to_str()) {
                        Some("pdf") => "bordereau PDF",
                        _ if p.to_string_lossy().ends_with(".totals.csv") => "totaux CSV",
                        _ => "manifeste CSV",
                    };
                    (label.to_string(), relative(out, p))
                })
                .collect(),
        });
    }
}

/// `path` relative to the report's folder, with forward slashes.
fn relative(out: &Path, path: &Path) -> String {
    path.strip_prefix(out)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
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
    // A fresh run: letters, batches and samples of an earlier run would be mistaken for this
    // one's.
    for old in ["post", "cards"] {
        let dir = args.out.join(old);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
    }
    let requests = args.out.join("requests.jsonl");
    write_requests(&requests, args.cards)?;
    let decision_wait_ms = i64::from(config.decision_days) * DAY.whole_milliseconds() as i64;

    println!("cqcfab demo: database {}", config.location().describe());
    let clock = Clock::shifted();
    let store = Store::open(&config.location(), clock.clone())
        .await
        .with_context(|| {
            format!(
                "cannot open the database ({})",
                config.location().describe()
            )
        })?;
    let sampler = resources::Sampler::start(started, Duration::from_millis(250));
    let mut rep = DayReport {
        started: format!("{} UTC", crate::console::html::when(clock.now_ms())),
        database: config.location().describe(),
        ..DayReport::default()
    };

    // Day J.
    println!("\n== day J: production ==");
    let t = Instant::now();
    let intake = Intake::new(store.clone());
    let imported = super::import::import(&intake, &requests, None).await?;
    super::import::print_report(&imported);
    rep.requests = imported.lines as u64;
    rep.stages.push(stage(
        report::STAGE_INTAKE,
        "J",
        (imported.created + imported.replayed) as u64,
        "demandes",
        imported.rejected.len() as u64,
        t.elapsed().as_secs_f64(),
    ));

    let render_times = Times::default();
    let samples = sample_requests(&requests)?;
    // The day's long stages, (name, start, end) in seconds since the run started: where a
    // leak would show as memory growing with the cards.
    let mut windows: Vec<(&str, f64, f64)> = Vec::new();
    let at = || started.elapsed().as_secs_f64();
    let from = at();
    let rendered =
        render_stage(&store, &config, &args.out, &samples, &render_times, started).await?;
    windows.push((report::STAGE_RENDER, from, at()));
    rep.stages.push(stage(
        report::STAGE_RENDER,
        "J",
        rendered.0,
        "cartes",
        rendered.1,
        rendered.2,
    ));
    rep.samples = rendered.3;
    let fds_warm = resources::now().map(|r| r.1);

    super::chip::ensure_sim_lot(&store).await?;
    let chip_times = Times::default();
    let from = at();
    let (encoded, chips) = encode(&store, &config, &args, KEEP_CHIPS, &chip_times, started).await?;
    windows.push((report::STAGE_CHIP, from, at()));
    rep.readers = encoded["readers"].as_str().unwrap_or("").to_string();
    push_chip_stage(&mut rep, "J", &encoded);

    let from = at();
    let round = fulfil::letters_stage(&store, &config.products, &args.out, LETTER_PICTURES).await?;
    let day_j = fulfil::post_stage(&store, &args.out, round, true, started).await?;
    windows.push((report::STAGE_LETTERS, from, at()));
    post_lines(&mut rep, &args.out, "J", &day_j);
    for (piece, card) in day_j.pairs.iter().take(LETTER_PICTURES) {
        let at = |suffix: &str| format!("post/letters/{piece}.{suffix}");
        rep.letters.push(SampleLetter {
            piece_id: piece.clone(),
            card_number: card.clone(),
            carrier_pdf: at("carrier.pdf"),
            coupon_pdf: at("coupon.pdf"),
            carrier_png: Some(at("carrier.png")),
            coupon_png: Some(at("coupon.png")),
        });
    }
    let mut insert_times = day_j.insert_times.clone();

    // J+3: the post brings pieces back.
    clock.advance(DAY * 3);
    println!("\n== day J+3: returned mail ==");
    let back = returns::returned(&day_j.pairs);
    let scanned = returns::scan(&store, &back, decision_wait_ms).await?;
    let mut mailroom = stage(
        report::STAGE_MAILROOM,
        "J+3",
        scanned.held.len() as u64,
        "plis en casier",
        scanned.refused,
        scanned.seconds,
    );
    mailroom.note = format!(
        "{} scans, dont un pli scanné deux fois, un numéro de carte et un code illisible \
         (refusés, rien enregistré)",
        scanned.scans
    );
    rep.stages.push(mailroom);

    // J+5: the holders answer; the answered cards go out again.
    clock.advance(DAY * 2);
    println!("\n== day J+5: holders' answers, cards posted again ==");
    let t = Instant::now();
    let mut lines = returns::decide(&store, &scanned.held).await?;
    let answered = lines
        .iter()
        .filter(|l| l.decision != "pas de réponse")
        .count() as u64;
    rep.stages.push(stage(
        report::STAGE_DECISIONS,
        "J+5",
        answered,
        "réponses",
        0,
        t.elapsed().as_secs_f64(),
    ));
    let round = fulfil::letters_stage(&store, &config.products, &args.out, 0).await?;
    let retrieved = returns::retrieve(&store, &round.0, &mut lines, decision_wait_ms).await?;
    let day_5 = fulfil::post_stage(&store, &args.out, round, false, started).await?;
    post_lines(&mut rep, &args.out, "J+5", &day_5);
    insert_times.extend(&day_5.insert_times);
    rep.returns = lines;

    // J+10: quality returns, and their replacements.
    clock.advance(DAY * 5);
    println!("\n== day J+10: quality returns and replacements ==");
    let returned_cards: Vec<&String> = back.iter().map(|(_, c)| c).collect();
    let eligible: Vec<String> = day_j
        .pairs
        .iter()
        .map(|(_, c)| c.clone())
        .filter(|c| !returned_cards.contains(&c))
        .collect();
    let csca = crate::chip::keys::csca(&config)?;
    let cases = quality::run(&intake, &csca, chips, &eligible).await?;
    rep.stages.push(stage(
        report::STAGE_QUALITY,
        "J+10",
        cases.lines.len() as u64,
        "dossiers",
        0,
        cases.seconds,
    ));
    rep.quality = cases.lines.clone();
    let replaced = render_stage(&store, &config, &args.out, &[], &render_times, started).await?;
    rep.stages.push(stage(
        report::STAGE_RENDER,
        "J+10",
        replaced.0,
        "cartes",
        replaced.1,
        replaced.2,
    ));
    let (encoded_again, _) = encode(&store, &config, &args, 0, &chip_times, started).await?;
    push_chip_stage(&mut rep, "J+10", &encoded_again);
    let round = fulfil::letters_stage(&store, &config.products, &args.out, 0).await?;
    let day_10 = fulfil::post_stage(&store, &args.out, round, false, started).await?;
    post_lines(&mut rep, &args.out, "J+10", &day_10);
    insert_times.extend(&day_10.insert_times);

    // The time to answer is over: destruction of the unclaimed and the analysed cards.
    let last_day = 3 + config.decision_days + 1;
    clock.advance(DAY * i32::try_from(last_day - 10).unwrap_or(i32::MAX));
    let day = format!("J+{last_day}");
    println!("\n== day {day}: destructions ==");
    let t = Instant::now();
    let (destroyed, self_refused) = returns::destroy(&store, &cases.cards).await?;
    let mut d = stage(
        report::STAGE_DESTRUCTION,
        &day,
        destroyed.len() as u64,
        "cartes",
        self_refused,
        t.elapsed().as_secs_f64(),
    );
    d.note = "chaque approbation par le demandeur lui-même refusée par la base et tracée".into();
    rep.stages.push(d);
    rep.destructions = destroyed;

    // The checks, then the report.
    rep.series = vec![
        report::Series {
            name: "cartes rendues".into(),
            times: render_times.take(),
        },
        report::Series {
            name: "puces personnalisées".into(),
            times: chip_times.take(),
        },
        report::Series {
            name: "cartes mises sous pli".into(),
            times: insert_times,
        },
    ];
    let counts = store.card_counts().await?;
    rep.states = counts
        .iter()
        .map(|(state, n)| (crate::console::dashboard::state_fr(state).to_string(), *n))
        .collect();
    let jobs = store.job_counts().await?;
    let audit = store.verify_audit().await?;
    let stock = store.stock_report(10 * 60_000).await?;
    let made_cards: i64 = counts.iter().map(|(_, n)| n).sum();
    let replacements = rep
        .quality
        .iter()
        .filter(|q| q.replacement.is_some())
        .count();
    let personalised = stock.total(|l| l.personalised);
    let chips_written = [&encoded, &encoded_again]
        .iter()
        .map(|e| e["personalised"].as_i64().unwrap_or(0))
        .sum::<i64>();
    let posted: u64 = rep.batches.iter().map(|b| b.pieces).sum();
    let letters = day_j.pairs.len() + day_5.pairs.len() + day_10.pairs.len();
    rep.yields = vec![
        Yield {
            what: "Corps de carte personnalisés / tirés du stock".into(),
            good: personalised as u64,
            total: (personalised + stock.total(|l| l.spoiled)) as u64,
        },
        Yield {
            what: "Cartes mises sous pli / lettres faites".into(),
            good: day_j.inserted + day_5.inserted + day_10.inserted,
            total: letters as u64,
        },
        Yield {
            what: "Plis distribués (non revenus) / plis remis le jour J".into(),
            good: day_j.pairs.len().saturating_sub(back.len()) as u64,
            total: day_j.pairs.len() as u64,
        },
    ];
    let open_jobs: i64 = jobs
        .iter()
        .filter(|(_, state, _)| state != "done")
        .map(|(_, _, n)| n)
        .sum();
    rep.checks = vec![
        Check {
            what: "Chaque demande a sa carte, une seule".into(),
            ok: made_cards == (imported.created + replacements) as i64,
            detail: format!(
                "{made_cards} cartes pour {} demandes et {replacements} remplacements",
                imported.created
            ),
        },
        Check {
            what: "Aucune tâche en suspens ni en échec".into(),
            ok: open_jobs == 0,
            detail: format!("{open_jobs} tâche(s) non terminée(s)"),
        },
        Check {
            what: "Chaque carte personnalisée une fois".into(),
            ok: chips_written == made_cards,
            detail: format!("{chips_written} puces écrites pour {made_cards} cartes"),
        },
        Check {
            what: "Registre des corps de carte équilibré".into(),
            ok: stock.reconciles(),
            detail: if stock.problems.is_empty() {
                format!(
                    "{} personnalisés, {} gâchés, {} en stock",
                    personalised,
                    stock.total(|l| l.spoiled),
                    stock.total(|l| l.on_hand)
                )
            } else {
                stock.problems.join(" ; ")
            },
        },
        Check {
            what: "Chaîne d'audit intacte".into(),
            ok: audit.is_intact(),
            detail: format!(
                "{} enregistrements, tête {}",
                audit.records,
                &audit.head_hash[..audit.head_hash.len().min(16)]
            ),
        },
        Check {
            what: "Chaque lot clos porte tous les plis mis sous pli".into(),
            ok: posted == day_j.inserted + day_5.inserted + day_10.inserted,
            detail: format!("{posted} plis dans {} lots", rep.batches.len()),
        },
        Check {
            what: "Chaque carte revenue avec réponse a été reprise de son casier".into(),
            ok: retrieved == answered,
            detail: format!("{retrieved} reprises pour {answered} réponses"),
        },
        Check {
            what: "L'exercice de mise sous pli a arrêté la ligne".into(),
            ok: day_j.drilled || day_j.pairs.len() < 2,
            detail: "une carte présentée avec le pli d'une autre".into(),
        },
        Check {
            what: "Aucune demande rejetée à l'import".into(),
            ok: imported.is_clean(),
            detail: format!("{} rejetée(s)", imported.rejected.len()),
        },
    ];
    store.close().await;
    rep.seconds = started.elapsed().as_secs_f64();
    rep.resources = sampler.finish();
    resource_checks(&mut rep, made_cards as u64, fds_warm, &windows);

    let summary = json!({
        "database": config.location().describe(),
        "requests": { "lines": imported.lines, "created": imported.created, "replayed": imported.replayed, "rejected": imported.rejected.len() },
        "cards_by_state": counts.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "jobs": jobs.iter().map(|(k, s, n)| json!({ "kind": k, "state": s, "count": n })).collect::<Vec<_>>(),
        "render": { "rendered": rendered.0, "stopped": rendered.1, "seconds": rendered.2, "samples": rep.samples.iter().map(|s| s.card_number.clone()).collect::<Vec<_>>() },
        "encode": encoded,
        "post": day_j.json(),
        "returns": rep.returns.iter().map(|r| json!({ "piece": r.piece_id, "card": r.card_number, "slot": r.slot, "decision": r.decision, "new_piece": r.new_piece })).collect::<Vec<_>>(),
        "reposted": day_5.json(),
        "quality": rep.quality.iter().map(|q| json!({ "case": q.case_id, "card": q.card_number, "rule": q.rule, "replacement": q.replacement })).collect::<Vec<_>>(),
        "replacements_posted": day_10.json(),
        "destructions": rep.destructions.iter().map(|d| json!({ "card": d.card_number, "reason": d.reason })).collect::<Vec<_>>(),
        "stock": { "personalised": personalised, "spoiled": stock.total(|l| l.spoiled), "on_hand": stock.total(|l| l.on_hand), "problems": stock.problems },
        "audit": { "records": audit.records, "intact": audit.is_intact(), "head": audit.head_hash },
        "checks": rep.checks.iter().map(|c| json!({ "what": c.what, "ok": c.ok, "detail": c.detail })).collect::<Vec<_>>(),
        "resources": rep.resources.last().map(|r| json!({ "rss_kib": r.rss_kib, "fds": r.fds })),
        "seconds": rep.seconds,
    });
    let summary_path = args.out.join("summary.json");
    std::fs::write(&summary_path, serde_json::to_vec_pretty(&summary)?)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    let written = report::write(&args.out, &rep)?;

    println!("\ncards by state:");
    for (state, n) in &counts {
        println!("  {state:<22} {n:>6}");
    }
    println!(
        "blank stock: {} personalised, {} spoiled, {} on hand — {}",
        personalised,
        stock.total(|l| l.spoiled),
        stock.total(|l| l.on_hand),
        if stock.reconciles() {
            "the ledger reconciles"
        } else {
            "THE LEDGER DOES NOT RECONCILE"
        }
    );
    println!(
        "audit trail: {} record(s), {}",
        audit.records,
        if audit.is_intact() {
            "chain intact"
        } else {
            "CHAIN BROKEN"
        }
    );
    for c in &rep.checks {
        println!(
            "  [{}] {} — {}",
            if c.ok { "ok" } else { "FAILED" },
            c.what,
            c.detail
        );
    }
    for p in &written {
        println!("report: {}", p.display());
    }
    println!(
        "summary written to {} ({:.1} s)",
        summary_path.display(),
        rep.seconds
    );
    Ok(if rep.sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn push_chip_stage(rep: &mut DayReport, day: &str, encoded: &serde_json::Value) {
    let n = |k: &str| encoded[k].as_u64().unwrap_or(0);
    let mut s = stage(
        report::STAGE_CHIP,
        day,
        n("personalised"),
        "puces",
        n("spoiled") + n("failed"),
        encoded["seconds"].as_f64().unwrap_or(0.0),
    );
    s.note = format!("lecteurs : {}", encoded["readers"].as_str().unwrap_or("?"));
    rep.stages.push(s);
}

/// Memory and descriptors, judged when the run is long enough to mean something: within each
/// of the day's long stages (`windows`), from a quarter of the stage (caches warm) to its end,
/// memory must not grow with the cards; at the end, no more descriptors are open than after
/// the first stage (`fds_warm`: the database's connections open by then).
fn resource_checks(
    rep: &mut DayReport,
    cards: u64,
    fds_warm: Option<u64>,
    windows: &[(&str, f64, f64)],
) {
    let (Some(first), Some(last)) = (rep.resources.first(), rep.resources.last()) else {
        return;
    };
    if cards < SOAK_CARDS {
        rep.checks.push(Check {
            what: "Mémoire et descripteurs (à juger sur une longue journée)".into(),
            ok: true,
            detail: format!(
                "{cards} cartes : trop peu pour juger ; mémoire {} → {} Mio, descripteurs {} → {}",
                first.rss_kib / 1024,
                last.rss_kib / 1024,
                first.fds,
                last.fds
            ),
        });
        return;
    }
    for (name, from, to) in windows {
        let Some(d) = resources::Drift::between(&rep.resources, from + (to - from) / 4.0, *to)
        else {
            continue;
        };
        rep.checks.push(Check {
            what: format!("Mémoire stable pendant « {name} »"),
            ok: d.memory_flat(MEMORY_SLACK_MIB, MEMORY_SLACK_SHARE),
            detail: format!(
                "{:.0} → {:.0} Mio du quart à la fin de l'étape (tolérance : {MEMORY_SLACK_MIB:.0} Mio ou {:.0} %)",
                d.rss_mib.0,
                d.rss_mib.1,
                MEMORY_SLACK_SHARE * 100.0
            ),
        });
    }
    if let Some(warm) = fds_warm {
        rep.checks.push(Check {
            what: "Aucun descripteur de fichier perdu".into(),
            ok: last.fds <= warm + 2,
            detail: format!(
                "{warm} ouverts après le premier rendu, {} à la fin",
                last.fds
            ),
        });
    }
}

/// Encodes every waiting card (the demo's station), keeping `keep` chips.
async fn encode(
    store: &Store,
    config: &Config,
    args: &DemoArgs,
    keep: usize,
    times: &Times,
    since: Instant,
) -> anyhow::Result<(serde_json::Value, Vec<cqcfab_simulator::card::VirtualCard>)> {
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
    let t = times.clone();
    super::chip::encode_stage_keeping(
        store,
        config,
        &encode_args,
        Mode::Drain,
        true,
        keep,
        Arc::new(move || t.mark(since)),
    )
    .await
}

/// The request ids whose cards are drawn for people to look at: the fixtures' showcase when
/// it is in the run, else the first few requests of the file.
fn sample_requests(requests: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(requests)
        .with_context(|| format!("cannot read {}", requests.display()))?;
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["request_id"].as_str().map(str::to_string))
        .collect();
    let showcase: Vec<String> = SAMPLES
        .iter()
        .filter(|s| ids.iter().any(|i| i == *s))
        .map(|s| s.to_string())
        .collect();
    Ok(if showcase.is_empty() {
        ids.into_iter().take(4).collect()
    } else {
        showcase
    })
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
/// the `samples` requests' cards to `out/cards/<card number>/`. Returns the cards rendered,
/// stopped or failed, the seconds, and the samples written.
async fn render_stage(
    store: &Store,
    config: &Config,
    out: &Path,
    samples: &[String],
    times: &Times,
    since: Instant,
) -> anyhow::Result<(u64, u64, f64, Vec<SampleCard>)> {
    use crate::render::worker::{self, Done};
    let started = Instant::now();
    let renderer = std::sync::Arc::new(crate::render::Renderer::new(&config.authority)?);
    let waiting = store
        .job_counts()
        .await?
        .iter()
        .filter(|(kind, _, _)| kind == crate::intake::RENDER_JOB)
        .filter(|(_, state, _)| state == "queued")
        .map(|(_, _, n)| *n as u64)
        .sum();
    let bar = super::progress(waiting, "rendering");
    let tick = bar.clone();
    let t = times.clone();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let outcomes = worker::drain(store, &renderer, "demo-render", workers, move |_| {
        tick.inc(1);
        t.mark(since);
    })
    .await;
    bar.finish_and_clear();
    let (mut rendered, mut stopped, mut failed) = (0u64, 0u64, 0u64);
    for o in &outcomes {
        match o {
            Ok(Done::Rendered { .. }) => rendered += 1,
            Ok(Done::Stopped {
                card_number,
                reason,
            }) => {
                stopped += 1;
                println!("  card {card_number} stopped: {reason}");
            }
            Ok(Done::Skipped { .. }) => {}
            Err(e) => {
                failed += 1;
                tracing::warn!(error = %e, "render job failed");
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rendered {rendered} card(s) in {seconds:.1} s ({:.0}/s), {stopped} stopped, {failed} failed",
        rendered as f64 / seconds.max(1e-9),
    );
    let dir = out.join("cards");
    let mut written = Vec::new();
    for id in samples {
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
        written.push(SampleCard {
            holder: format!(
                "{} {}",
                card.given_names.as_deref().unwrap_or(""),
                card.surname.as_deref().unwrap_or("")
            )
            .trim()
            .to_string(),
            dir: relative(out, &card_dir),
            card_number: card.card_number,
        });
    }
    if !written.is_empty() {
        println!("sample cards (proof.pdf and previews) in {}", dir.display());
    }
    Ok((rendered, stopped + failed, seconds, written))
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
        None => std::fs::write(path, crate::synthetic::embedded::VALID_JSONL)
            .with_context(|| format!("cannot write {}", path.display())),
        Some(n) => super::fixtures::write_jsonl_pooled(path, n)
            .with_context(|| format!("cannot write {}", path.display())),
    }
}
