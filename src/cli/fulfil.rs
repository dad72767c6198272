//! The demo's fulfilment stage: every personalised card gets its carrier letter and return
//! coupon, goes through the inserting line (the real matching logic, fed the scans a bench
//! would make), joins the day's postal batch, which is closed (manifest, totals, cover sheet)
//! and handed to the post.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use crate::post::product::Catalogue;
use crate::station::insert::{Answer, Line, Scan};
use crate::store::Store;
use crate::store::batches::Manifest;

/// The demo's postal product (its S10 service indicator comes from the configuration).
const PRODUCT: &str = crate::post::product::DEFAULT_PRODUCT;
/// The serials the demo asks for when the database has no range of the product's service
/// indicator (a test allotment), recorded as range `<service>-DEMO`.
const DEMO_SERIALS: (u32, u32) = (10_000_000, 10_999_999);

/// What a fulfilment round did.
pub(crate) struct Fulfilled {
    /// (piece id, card number) of every letter made.
    pub pairs: Vec<(String, String)>,
    pub letters_seconds: f64,
    pub inserted: u64,
    pub refused: Vec<serde_json::Value>,
    pub insert_seconds: f64,
    /// When each card went into its carrier, in seconds since `since`.
    pub insert_times: Vec<f64>,
    /// The mismatch drill stopped the line (when asked for).
    pub drilled: bool,
    /// The batch closed and handed over, with its files.
    pub batch: Option<(Manifest, Vec<PathBuf>)>,
    pub batch_seconds: f64,
    /// Pieces handed to the post.
    pub dispatched: u64,
    pub seconds: f64,
}

impl Fulfilled {
    /// For the run's summary.json.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "letters": self.pairs.len(),
            "letters_seconds": self.letters_seconds,
            "inserted": self.inserted,
            "mismatch_drill_stopped_the_line": self.drilled,
            "refused": self.refused,
            "batches": self.batch.iter().map(|(m, files)| json!({
                "batch_id": m.batch.batch_id,
                "pieces": m.totals.pieces,
                "weight_g": m.totals.weight_g,
                "manifest_sha256": m.sha256,
                "dispatched": self.dispatched,
                "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "seconds": self.seconds,
        })
    }
}

/// Makes the carrier letter and return coupon of every card waiting for one into
/// `out/post/letters` (pictures of the first `previews` too): (piece id, card number) pairs
/// and the seconds it took.
pub(crate) async fn letters_stage(
    store: &Store,
    products: &Catalogue,
    out: &Path,
    previews: usize,
) -> anyhow::Result<(Vec<(String, String)>, f64)> {
    let started = Instant::now();
    let product = products.get(PRODUCT)?;
    let service = product.service();
    if !store
        .s10_ranges()
        .await?
        .iter()
        .any(|r| r.service == service.as_str())
    {
        let (first, last) = DEMO_SERIALS;
        store
            .add_s10_range(&format!("{service}-DEMO"), service, first, last, "demo")
            .await?;
    }
    let letters_dir = out.join("post").join("letters");
    let pairs =
        super::post::make_letters(store, &letters_dir, product, "demo-post", previews).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} carrier letter(s) and return coupon(s) in {} ({seconds:.1} s)",
        pairs.len(),
        letters_dir.display()
    );
    Ok((pairs, seconds))
}

/// The inserting line for the letters made (with a card-to-carrier mismatch drill when
/// `drill`), then the day's batch closed into `out/post/batches` and handed to the post.
pub(crate) async fn post_stage(
    store: &Store,
    out: &Path,
    (pairs, letters_seconds): (Vec<(String, String)>, f64),
    drill: bool,
    since: Instant,
) -> anyhow::Result<Fulfilled> {
    let started = Instant::now();
    // The inserting line. The first card is offered with the second card's carrier, as a
    // tired operator might: the line must stop, and a supervisor clears it.
    let inserting = Instant::now();
    let mut line = Line::new(store.clone(), "demo-insert");
    let mut drilled = false;
    if drill && let [(_, first_card), (second_piece, _), ..] = &pairs[..] {
        line.scan(Scan::read(first_card)).await;
        let stop = line.scan(Scan::read(second_piece)).await;
        println!("inserting drill: {stop}");
        drilled = matches!(stop, Answer::Stopped(_));
        let cleared = line.scan(Scan::read("CLEAR demo-supervisor")).await;
        println!("inserting drill: {cleared}");
    }
    let bar = super::progress(pairs.len() as u64, "inserting");
    let mut refused = Vec::new();
    let mut insert_times = Vec::with_capacity(pairs.len());
    for (piece, card) in &pairs {
        line.scan(Scan::read(card)).await;
        match line.scan(Scan::read(piece)).await {
            Answer::Inserted(_) | Answer::Already(_) => {
                insert_times.push(since.elapsed().as_secs_f64());
            }
            other => {
                refused.push(json!({ "card": card, "piece": piece, "answer": other.to_string() }))
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let insert_seconds = inserting.elapsed().as_secs_f64();
    let t = line.tally.clone();
    println!(
        "inserted {} card(s); {} mismatch(es) stopped the line, {} refused",
        t.inserted,
        t.mismatches,
        refused.len()
    );

    let closing = Instant::now();
    let mut batch = None;
    let mut dispatched = 0;
    if t.inserted > 0 {
        let day = store.clock().today();
        let (b, _) = store
            .batch_inserted(PRODUCT, &day.to_string(), "demo-post")
            .await?;
        let manifest = store.close_batch(&b.batch_id, "demo-post", None).await?;
        let dir = out.join("post").join("batches");
        let files = super::post::write_batch(&dir, &manifest, day)?;
        dispatched = store.hand_over(&b.batch_id, "demo-post").await?;
        println!(
            "batch {} closed ({} piece(s), {} g, SHA-256 {}) and handed to the post; files in {}",
            b.batch_id,
            manifest.totals.pieces,
            manifest.totals.weight_g,
            &manifest.sha256[..16],
            dir.display()
        );
        batch = Some((manifest, files));
    }
    Ok(Fulfilled {
        pairs,
        letters_seconds,
        inserted: t.inserted,
        refused,
        insert_seconds,
        insert_times,
        drilled,
        batch,
        batch_seconds: closing.elapsed().as_secs_f64(),
        dispatched,
        seconds: letters_seconds + started.elapsed().as_secs_f64(),
    })
}
