//! `cqcfab post …`: the post's side of the bureau: S10 id ranges, carrier letters and return
//! coupons, postal batches with their manifests and cover sheets, the hand-over.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::post::product::{DEFAULT_PRODUCT, Product};
use crate::post::s10::ServiceIndicator;

#[derive(Debug, Subcommand)]
pub enum PostCommand {
    /// UPU S10 item-id ranges allotted by the post (docs/post.md).
    #[command(subcommand)]
    Range(RangeCommand),
    /// Give every personalised card without an envelope its mail piece (an S10 id from the
    /// ranges) and write its carrier letter and return coupon (PDF) into --out.
    Letters(LettersArgs),
    /// Postal batches: close the day's inserted pieces into a batch (manifest CSV, totals,
    /// cover sheet), export a closed batch again, hand it to the post.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Write the mailroom's reason sheet (a Code 128 per PND reason, docs/returns.md) as a
    /// one-page PDF to print and laminate.
    ReasonSheet {
        /// The PDF to write.
        #[arg(long, default_value = "reason-sheet.pdf")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Put every inserted piece of --product into the open batch of --date, close it (pieces
    /// numbered in postcode order, sealed with the manifest's SHA-256) and write
    /// <batch>.manifest.csv, <batch>.totals.csv and <batch>.cover.pdf into --out.
    Close(BatchCloseArgs),
    /// Write a closed batch's files again: the same bytes, checked against the seal.
    Export(BatchExportArgs),
    /// Every batch: state, pieces, weight, seal.
    List,
    /// The post took the batch: every piece and card dispatched, the portal told
    /// (piece.dispatched events).
    HandOver(BatchIdArgs),
}

#[derive(Debug, Args)]
pub struct BatchCloseArgs {
    /// The postal product, as given to `post letters`.
    #[arg(long, default_value = "lettre-suivie")]
    pub product: String,
    /// Dispatch date (YYYY-MM-DD) [default: today in Paris].
    #[arg(long)]
    pub date: Option<String>,
    /// Where the manifest, totals and cover sheet go.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct BatchExportArgs {
    #[arg(long = "batch")]
    pub batch_id: String,
    #[arg(long)]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct BatchIdArgs {
    #[arg(long = "batch")]
    pub batch_id: String,
}

/// Crash drill only: hold the closing transaction open this many milliseconds before the
/// seal, so that a test can kill the process in the middle of a close.
pub const DRILL_CLOSE_PAUSE: &str = "CQCFAB_DRILL_CLOSE_PAUSE_MS";

#[derive(Debug, Args)]
pub struct LettersArgs {
    /// Where the PDFs go: <piece id>.carrier.pdf and <piece id>.coupon.pdf.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// The postal product, as named in the manifest; its ids take the product's S10 service
    /// indicator ([post.products] in the configuration, docs/post.md).
    #[arg(long, default_value = DEFAULT_PRODUCT)]
    pub product: String,
}

#[derive(Debug, Subcommand)]
pub enum RangeCommand {
    /// Record a range of 8-digit serials allotted for a postal product; refused when its
    /// service indicator does not fit the product, when it overlaps a range of the same
    /// service indicator or reuses a range id.
    Add(RangeAddArgs),
    /// Every range: its serials, the next id to hand out, how many are left.
    List,
}

#[derive(Debug, Args)]
pub struct RangeAddArgs {
    /// The range's name, as on the post's allotment (e.g. LA-2026-1).
    #[arg(long)]
    pub id: String,
    /// The postal product the range was allotted for.
    #[arg(long, default_value = DEFAULT_PRODUCT)]
    pub product: String,
    /// The range's S10 service indicator (two capitals) [default: the product's]; it must be
    /// of the product's kind (L… for lettre-suivie, R… for lettre-recommandee) and the one
    /// configured for it.
    #[arg(long)]
    pub service: Option<String>,
    /// First serial (up to 8 digits).
    #[arg(long)]
    pub first: u32,
    /// Last serial (up to 8 digits).
    #[arg(long)]
    pub last: u32,
}

pub async fn run(config: &Config, cmd: PostCommand) -> anyhow::Result<ExitCode> {
    let cmd = match cmd {
        PostCommand::Range(cmd) => cmd,
        PostCommand::Letters(args) => return letters(config, args).await,
        PostCommand::Batch(cmd) => return batch(config, cmd).await,
        PostCommand::ReasonSheet { out } => {
            let fonts = crate::render::fonts::fonts()?;
            let pdf = crate::post::reason_sheet::pdf(fonts)?;
            std::fs::write(&out, pdf)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            println!("reason sheet written to {}", out.display());
            return Ok(ExitCode::SUCCESS);
        }
    };
    let store = super::open_store(config).await?;
    match cmd {
        RangeCommand::Add(a) => {
            let product = config.products.get(&a.product)?;
            let service = match &a.service {
                Some(s) => product.range_service(ServiceIndicator::new(s)?)?,
                None => product.service(),
            };
            store
                .add_s10_range(&a.id, service, a.first, a.last, "cli")
                .await?;
            println!(
                "range {} added for {}: {service}{:08}..{service}{:08} ({} ids)",
                a.id,
                product.name(),
                a.first,
                a.last,
                a.last - a.first + 1
            );
        }
        RangeCommand::List => {
            println!(
                "{:<16} {:<7} {:>8} {:>8} {:>8} {:>8}  used by",
                "range", "service", "first", "last", "next", "left"
            );
            for l in store.s10_ranges().await? {
                let users: Vec<&str> = config
                    .products
                    .iter()
                    .filter(|p| p.service().as_str() == l.service)
                    .map(Product::name)
                    .collect();
                println!(
                    "{:<16} {:<7} {:>08} {:>08} {:>08} {:>8}  {}",
                    l.range_id,
                    l.service,
                    l.first_serial,
                    l.last_serial,
                    l.next_serial,
                    l.left(),
                    if users.is_empty() {
                        "(no product: check [post.products])".to_string()
                    } else {
                        users.join(", ")
                    }
                );
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn batch(config: &Config, cmd: BatchCommand) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let store = super::open_store(config).await?;
    match cmd {
        BatchCommand::Close(a) => {
            let date = match a.date {
                Some(d) => {
                    let fmt = time::macros::format_description!("[year]-[month]-[day]");
                    time::Date::parse(&d, fmt)
                        .with_context(|| format!("--date {d}: expected YYYY-MM-DD"))?
                }
                None => store.clock().today(),
            };
            let day = date.to_string();
            if let Some(sealed) = sealed_and_nothing_waits(&store, &a.product, &day).await? {
                // A close killed after its seal but before its files (docs/drills.md):
                // closing again writes them, rather than opening an empty batch and failing.
                let manifest = store.batch_manifest(&sealed).await?;
                let files = write_batch(&a.out, &manifest, date)?;
                println!(
                    "batch {sealed} was closed already and no inserted piece waits: its files \
                     written again, manifest SHA-256 {}",
                    manifest.sha256
                );
                for f in files {
                    println!("  {}", f.display());
                }
                store.close().await;
                return Ok(ExitCode::SUCCESS);
            }
            let (batch, joined) = store.batch_inserted(&a.product, &day, "cli").await?;
            println!("batch {}: {joined} piece(s) joined now", batch.batch_id);
            let pause = std::env::var(DRILL_CLOSE_PAUSE)
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(std::time::Duration::from_millis);
            if pause.is_some() {
                println!("closing batch {} (crash drill pause)", batch.batch_id);
            }
            let manifest = store.close_batch(&batch.batch_id, "cli", pause).await?;
            let files = write_batch(&a.out, &manifest, date).with_context(|| {
                format!(
                    "batch {id} is closed and sealed but its files are not all written; once \
                     there is room, close again or run: cqcfab post batch export --batch {id} --out {}",
                    a.out.display(),
                    id = manifest.batch.batch_id
                )
            })?;
            println!(
                "batch {} closed: {} piece(s), {} g, manifest SHA-256 {}",
                manifest.batch.batch_id,
                manifest.totals.pieces,
                manifest.totals.weight_g,
                manifest.sha256
            );
            for f in files {
                println!("  {}", f.display());
            }
        }
        BatchCommand::Export(a) => {
            let manifest = store.batch_manifest(&a.batch_id).await?;
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(&manifest.batch.dispatch_date, fmt)
                .with_context(|| format!("batch {}: stored dispatch date", a.batch_id))?;
            for f in write_batch(&a.out, &manifest, date)? {
                println!("{}", f.display());
            }
        }
        BatchCommand::List => {
            println!(
                "{:<32} {:<12} {:<11} {:>7} {:>9}  manifest SHA-256",
                "batch", "state", "dispatch", "pieces", "weight g"
            );
            for b in store.batches().await? {
                println!(
                    "{:<32} {:<12} {:<11} {:>7} {:>9}  {}",
                    b.batch_id,
                    b.state,
                    b.dispatch_date,
                    b.pieces.map_or("-".into(), |n| n.to_string()),
                    b.weight_g.map_or("-".into(), |n| n.to_string()),
                    b.manifest_sha256.as_deref().unwrap_or("-")
                );
            }
        }
        BatchCommand::HandOver(a) => {
            let n = store.hand_over(&a.batch_id, "cli").await?;
            println!(
                "batch {} handed to the post: {n} piece(s) dispatched, the portal told",
                a.batch_id
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The last batch of `product` for `day` when it is sealed (closed, not handed over), no
/// batch of that day is open and no inserted piece waits: all a close of that day has left
/// to do is to write that batch's files.
async fn sealed_and_nothing_waits(
    store: &crate::store::Store,
    product: &str,
    day: &str,
) -> anyhow::Result<Option<String>> {
    // Newest first.
    let days: Vec<crate::store::batches::Batch> = store
        .batches()
        .await?
        .into_iter()
        .filter(|b| b.product == product && b.dispatch_date == day)
        .collect();
    let Some(last) = days.first() else {
        return Ok(None);
    };
    if last.state != "closed"
        || days.iter().any(|b| b.state == "open")
        || store.pieces_waiting(product).await? > 0
    {
        return Ok(None);
    }
    Ok(Some(last.batch_id.clone()))
}

/// Width of the letters' pictures: a screen's reading size.
const PREVIEW_PX: u32 = 900;

/// Writes a batch's manifest, totals and cover sheet into `out`; returns their paths.
pub(crate) fn write_batch(
    out: &std::path::Path,
    m: &crate::store::batches::Manifest,
    dispatch: time::Date,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let id = &m.batch.batch_id;
    let files = [
        (format!("{id}.manifest.csv"), m.csv.clone()),
        (format!("{id}.totals.csv"), m.totals_csv.clone()),
        (
            format!("{id}.cover.pdf"),
            crate::post::cover::for_manifest(m, dispatch)?,
        ),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = out.join(name);
        write_whole(&path, &bytes)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed into place
/// once whole: the file under its name is complete or absent, never cut short (a full disk
/// stops the write, and the partial file is removed). The error names the path.
pub(crate) fn write_whole(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.partial"));
    let written = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        anyhow::bail!("cannot write {}: {e}", path.display());
    }
    Ok(())
}

async fn letters(config: &Config, args: LettersArgs) -> anyhow::Result<ExitCode> {
    let product = config.products.get(&args.product)?;
    let store = super::open_store(config).await?;
    let made = make_letters(&store, &args.out, product, "cli", 0).await?;
    println!(
        "{} carrier letter(s) and return coupon(s) written to {}",
        made.len(),
        args.out.display()
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Below this many S10 ids left after a run, the operator is warned to ask for a new range.
const LOW_WATER: usize = 1000;

/// Gives every personalised card without an envelope its piece of `product` (an id of the
/// product's service indicator) and writes its carrier letter and return coupon into `out`
/// (PDF; the first `previews` pieces also as PNG pictures of both sheets). Returns (piece id,
/// card number) pairs.
pub(crate) async fn make_letters(
    store: &crate::store::Store,
    out: &std::path::Path,
    product: &Product,
    actor: &str,
    previews: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    use crate::domain::card_number::CardNumber;
    use crate::post::{coupon, letter};
    use anyhow::Context;

    let service = product.service();

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let fonts = crate::render::fonts::fonts()?;
    let date_fr = format!(
        "Paris, le {}",
        crate::post::cover::date_fr(store.clock().today())
    );
    let waiting = store.cards_awaiting_piece().await?;
    // Refuse the whole run before the first letter rather than stop halfway with envelopes
    // for some cards and not for others.
    let left: i64 = store
        .s10_ranges()
        .await?
        .iter()
        .filter(|r| r.service == service.as_str())
        .map(|r| r.left())
        .sum();
    if (left as usize) < waiting.len() {
        anyhow::bail!(
            "{} card(s) wait for a carrier but only {left} S10 id(s) of service {service} are \
             left: nothing was made; record the post's next range first (cqcfab post range add)",
            waiting.len()
        );
    }
    if left as usize - waiting.len() < LOW_WATER {
        tracing::warn!(
            service = %service,
            left = left as usize - waiting.len(),
            "S10 ids are running out: ask the post for the next range"
        );
        eprintln!(
            "warning: after this run only {} S10 id(s) of service {service} are left: ask the \
             post for the next range",
            left as usize - waiting.len()
        );
    }
    let bar = super::progress(waiting.len() as u64, "letters");
    let mut made = Vec::with_capacity(waiting.len());
    for number in &waiting {
        let card = store
            .card_by_number(number)
            .await?
            .with_context(|| format!("card {number} vanished"))?;
        let holder = format!(
            "{} {}",
            card.given_names.as_deref().unwrap_or(""),
            card.surname.as_deref().unwrap_or("")
        );
        // The files are written before the piece commits: a letter that cannot be written
        // (a full disk) leaves no piece behind, so the next run makes it (drills_env.rs).
        let write = |piece: &crate::store::pieces::Piece| -> anyhow::Result<()> {
            let lines = piece.address_lines();
            let carrier = letter::Carrier {
                piece: piece.piece_id.parse()?,
                card_number: number,
                address: &lines,
                date_fr: &date_fr,
            };
            let sheet = coupon::Coupon {
                code: coupon::CouponCode::for_card(CardNumber::parse(number)?),
                holder: holder.trim(),
            };
            let mut files = vec![
                ("carrier.pdf", letter::pdf(&carrier, fonts)?),
                ("coupon.pdf", coupon::pdf(&sheet, fonts)?),
            ];
            if made.len() < previews {
                let png = |scene| crate::render::sheet_png(&scene, fonts, PREVIEW_PX);
                files.push(("carrier.png", png(letter::scene(&carrier, fonts)?)?));
                files.push(("coupon.png", png(coupon::scene(&sheet, fonts)?)?));
            }
            for (suffix, bytes) in files {
                write_whole(&out.join(format!("{}.{suffix}", piece.piece_id)), &bytes)?;
            }
            Ok(())
        };
        let (piece, _) = store
            .piece_for_with(number, service, product.name(), actor, write)
            .await??;
        made.push((piece.piece_id, number.clone()));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(made)
}
