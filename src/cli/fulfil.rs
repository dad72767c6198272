//! The demo's fulfilment stage: every personalised card gets its carrier letter and return
//! coupon, goes through the inserting line (the real matching logic, fed the scans a bench
//! would make), joins the day's postal batch, which is closed (manifest, totals, cover sheet)
//! and handed to the post.

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::post::s10::ServiceIndicator;
use crate::station::insert::{Answer, Line, Scan};
use crate::store::Store;

/// The demo's postal product and its S10 service indicator.
const PRODUCT: &str = "lettre-suivie";
const SERVICE: &str = "EE";
/// The range the demo asks for when the database has none (serials of a test allotment).
const DEMO_RANGE: (&str, u32, u32) = ("EE-DEMO", 10_000_000, 10_999_999);

pub(crate) async fn fulfil_stage(store: &Store, out: &Path) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let service = ServiceIndicator::new(SERVICE)?;
    if !store
        .s10_ranges()
        .await?
        .iter()
        .any(|r| r.service == SERVICE)
    {
        let (id, first, last) = DEMO_RANGE;
        store
            .add_s10_range(id, service, first, last, "demo")
            .await?;
    }
    let letters_dir = out.join("post").join("letters");
    let pairs =
        super::post::make_letters(store, &letters_dir, service, PRODUCT, "demo-post").await?;
    let letters_s = started.elapsed().as_secs_f64();
    println!(
        "{} carrier letter(s) and return coupon(s) in {} ({letters_s:.1} s)",
        pairs.len(),
        letters_dir.display()
    );

    // The inserting line. The first card is offered with the second card's carrier, as a
    // tired operator might: the line must stop, and a supervisor clears it.
    let mut line = Line::new(store.clone(), "demo-insert");
    let mut drilled = false;
    if let [(_, first_card), (second_piece, _), ..] = &pairs[..] {
        line.scan(Scan::read(first_card)).await;
        let stop = line.scan(Scan::read(second_piece)).await;
        println!("inserting drill: {stop}");
        drilled = matches!(stop, Answer::Stopped(_));
        let cleared = line.scan(Scan::read("CLEAR demo-supervisor")).await;
        println!("inserting drill: {cleared}");
    }
    let bar = super::progress(pairs.len() as u64, "inserting");
    let mut refused = Vec::new();
    for (piece, card) in &pairs {
        line.scan(Scan::read(card)).await;
        match line.scan(Scan::read(piece)).await {
            Answer::Inserted(_) | Answer::Already(_) => {}
            other => {
                refused.push(json!({ "card": card, "piece": piece, "answer": other.to_string() }))
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let t = line.tally.clone();
    println!(
        "inserted {} card(s); {} mismatch(es) stopped the line, {} refused",
        t.inserted,
        t.mismatches,
        refused.len()
    );

    let mut batches = Vec::new();
    if t.inserted > 0 {
        let day = store.clock().today();
        let (batch, _) = store
            .batch_inserted(PRODUCT, &day.to_string(), "demo-post")
            .await?;
        let manifest = store
            .close_batch(&batch.batch_id, "demo-post", None)
            .await?;
        let dir = out.join("post").join("batches");
        let files = super::post::write_batch(&dir, &manifest, day)?;
        let handed = store.hand_over(&batch.batch_id, "demo-post").await?;
        println!(
            "batch {} closed ({} piece(s), {} g, SHA-256 {}) and handed to the post; files in {}",
            batch.batch_id,
            manifest.totals.pieces,
            manifest.totals.weight_g,
            &manifest.sha256[..16],
            dir.display()
        );
        batches.push(json!({
            "batch_id": batch.batch_id,
            "pieces": manifest.totals.pieces,
            "weight_g": manifest.totals.weight_g,
            "manifest_sha256": manifest.sha256,
            "dispatched": handed,
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({
        "letters": pairs.len(),
        "letters_seconds": letters_s,
        "inserted": t.inserted,
        "mismatch_drill_stopped_the_line": drilled,
        "refused": refused,
        "batches": batches,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}
