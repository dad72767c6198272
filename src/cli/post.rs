//! `cqcfab post …`: the post's side of the bureau (S10 id ranges; batches and manifests to
//! come with the fulfilment issue).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::post::s10::ServiceIndicator;

#[derive(Debug, Subcommand)]
pub enum PostCommand {
    /// UPU S10 item-id ranges allotted by the post (docs/post.md).
    #[command(subcommand)]
    Range(RangeCommand),
    /// Give every personalised card without an envelope its mail piece (an S10 id from the
    /// ranges) and write its carrier letter and return coupon (PDF) into --out.
    Letters(LettersArgs),
}

#[derive(Debug, Args)]
pub struct LettersArgs {
    /// Where the PDFs go: <piece id>.carrier.pdf and <piece id>.coupon.pdf.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// The S10 service indicator of the product.
    #[arg(long, default_value = "EE")]
    pub service: String,
    /// The postal product, as named in the manifest.
    #[arg(long, default_value = "lettre-suivie")]
    pub product: String,
}

#[derive(Debug, Subcommand)]
pub enum RangeCommand {
    /// Record a range of 8-digit serials for a service indicator; refused when it overlaps a
    /// range of the same service indicator or reuses a range id.
    Add(RangeAddArgs),
    /// Every range: its serials, the next id to hand out, how many are left.
    List,
}

#[derive(Debug, Args)]
pub struct RangeAddArgs {
    /// The range's name, as on the post's allotment (e.g. EE-2026-1).
    #[arg(long)]
    pub id: String,
    /// Two capital letters, not starting with J, K, S, T or W (reserved by the UPU).
    #[arg(long)]
    pub service: String,
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
    };
    let store = super::open_store(config).await?;
    match cmd {
        RangeCommand::Add(a) => {
            let service = ServiceIndicator::new(&a.service)?;
            store
                .add_s10_range(&a.id, service, a.first, a.last, "cli")
                .await?;
            println!(
                "range {} added: {service}{:08}..{service}{:08} ({} ids)",
                a.id,
                a.first,
                a.last,
                a.last - a.first + 1
            );
        }
        RangeCommand::List => {
            println!(
                "{:<16} {:<7} {:>8} {:>8} {:>8} {:>8}",
                "range", "service", "first", "last", "next", "left"
            );
            for l in store.s10_ranges().await? {
                println!(
                    "{:<16} {:<7} {:>08} {:>08} {:>08} {:>8}",
                    l.range_id,
                    l.service,
                    l.first_serial,
                    l.last_serial,
                    l.next_serial,
                    l.left()
                );
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

async fn letters(config: &Config, args: LettersArgs) -> anyhow::Result<ExitCode> {
    use crate::domain::card_number::CardNumber;
    use crate::post::{coupon, letter};
    use anyhow::Context;

    let service = ServiceIndicator::new(&args.service)?;
    let store = super::open_store(config).await?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let fonts = crate::render::fonts::fonts()?;
    let today = store.clock().today();
    let date_fr = format!(
        "Paris, le {} {} {}",
        today.day(),
        MONTHS[usize::from(u8::from(today.month())) - 1],
        today.year()
    );
    let waiting = store.cards_awaiting_piece().await?;
    let bar = super::progress(waiting.len() as u64, "carrier letters");
    for number in &waiting {
        let (piece, _) = store
            .piece_for(number, service, &args.product, "cli")
            .await?;
        let card = store
            .card_by_number(number)
            .await?
            .with_context(|| format!("card {number} vanished"))?;
        let lines = piece.address_lines();
        let carrier = letter::Carrier {
            piece: piece.piece_id.parse()?,
            card_number: number,
            address: &lines,
            date_fr: &date_fr,
        };
        let holder = format!(
            "{} {}",
            card.given_names.as_deref().unwrap_or(""),
            card.surname.as_deref().unwrap_or("")
        );
        let sheet = coupon::Coupon {
            code: coupon::CouponCode::for_card(CardNumber::parse(number)?),
            holder: holder.trim(),
        };
        let base = args.out.join(&piece.piece_id);
        std::fs::write(
            base.with_extension("carrier.pdf"),
            letter::pdf(&carrier, fonts)?,
        )?;
        std::fs::write(
            base.with_extension("coupon.pdf"),
            coupon::pdf(&sheet, fonts)?,
        )?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{} carrier letter(s) and return coupon(s) written to {}",
        waiting.len(),
        args.out.display()
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
