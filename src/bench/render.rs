//! Rendering benchmarks: the bitmaps of whole cards (both sides, colour preview and
//! personalisation layer, PNG-encoded, pictures prepared from the stored bytes) on several
//! threads, and one batch proof PDF of many cards.
//!
//! The cards are the embedded fixtures, taken in through intake into a scratch SQLite store,
//! so the data, names and pictures are the ones production renders.

use std::time::{Duration, Instant};

use super::{BenchError, Percentiles, Row};
use crate::clock::Clock;
use crate::intake::Intake;
use crate::render::card_data::CardData;
use crate::render::{Previews, Renderer, pdf};
use crate::store::{Location, Store};

/// One fixture card as the render worker sees it.
pub struct BenchCard {
    pub data: CardData,
    pub photo: Vec<u8>,
    pub signature: Vec<u8>,
}

/// The embedded fixture requests, accepted by intake into a throw-away store.
pub async fn fixture_cards(renderer: &Renderer) -> Result<Vec<BenchCard>, BenchError> {
    let fixture = |e: &dyn std::fmt::Display| BenchError::Fixture(e.to_string());
    let dir = tempfile::tempdir()?;
    let store = Store::open(
        &Location::SqliteFile(dir.path().join("render.sqlite3")),
        Clock::System,
    )
    .await
    .map_err(|e| fixture(&e))?;
    let intake = Intake::new(store.clone());
    let mut cards = Vec::new();
    let lines = crate::synthetic::embedded::VALID_JSONL
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty());
    for line in lines {
        let doc: serde_json::Value = serde_json::from_slice(line).map_err(|e| fixture(&e))?;
        let id = doc["request_id"].as_str().unwrap_or_default().to_string();
        intake.submit(doc, "bench").await.map_err(|e| fixture(&e))?;
        let card = store
            .card_by_request(&id)
            .await
            .map_err(|e| fixture(&e))?
            .ok_or_else(|| BenchError::Fixture(format!("no card for {id}")))?;
        let picture = |role: &str, found: Option<Vec<u8>>| {
            found.ok_or_else(|| BenchError::Fixture(format!("{id}: no {role}")))
        };
        let photo = picture(
            "photo",
            store
                .request_picture(&id, "photo")
                .await
                .map_err(|e| fixture(&e))?,
        )?;
        let signature = picture(
            "signature",
            store
                .request_picture(&id, "signature")
                .await
                .map_err(|e| fixture(&e))?,
        )?;
        let data =
            CardData::from_record(&card, renderer.authority(), None).map_err(|e| fixture(&e))?;
        cards.push(BenchCard {
            data,
            photo,
            signature,
        });
    }
    store.close().await;
    Ok(cards)
}

/// `count` cards rendered to their four PNG bitmaps (colour previews and personalisation
/// layers, both sides) on `threads` threads: layout fitting, picture preparation,
/// rasterisation and PNG encoding.
pub fn bitmaps(
    renderer: &Renderer,
    cards: &[BenchCard],
    threads: usize,
    count: usize,
) -> Result<Row, BenchError> {
    let mut row = run_cards(
        threads,
        count,
        |card| {
            let (front, back) = renderer.scenes(&card.data).map_err(|e| e.to_string())?;
            let prepared = renderer
                .prepare(&card.photo, &card.signature)
                .map_err(|e| e.to_string())?;
            let outputs = renderer
                .bitmaps(&front, &back, &prepared, Previews::Yes)
                .map_err(|e| e.to_string())?;
            std::hint::black_box(outputs);
            Ok(())
        },
        cards,
    )?;
    row.stage = format!("card bitmaps, both sides, PNG ({threads} threads)");
    row.goal = ">= 400 cards/s".into();
    Ok(row)
}

/// What the render worker computes per card: the proof and the two personalisation bitmaps
/// (no previews), on `threads` threads.
pub fn production(
    renderer: &Renderer,
    cards: &[BenchCard],
    threads: usize,
    count: usize,
) -> Result<Row, BenchError> {
    let mut row = run_cards(
        threads,
        count,
        |card| {
            let render = renderer
                .render_for_production(&card.data, &card.photo, &card.signature)
                .map_err(|e| e.to_string())?;
            std::hint::black_box(render);
            Ok(())
        },
        cards,
    )?;
    row.stage = format!("production files: proof + personalisation PNGs ({threads} threads)");
    row.goal = "what the worker does".into();
    Ok(row)
}

/// Runs `work` `count` times over `cards` (round robin) on `threads` threads; one row with
/// the per-item latency and the CPU cost.
pub(super) fn run_cards<T: Sync>(
    threads: usize,
    count: usize,
    work: impl Fn(&T) -> Result<(), String> + Sync,
    cards: &[T],
) -> Result<Row, BenchError> {
    let threads = threads.max(1);
    let per_thread = count.div_ceil(threads);
    let cpu_before = super::process_cpu_seconds();
    let started = Instant::now();
    let work = &work;
    let results: Vec<Result<Vec<Duration>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut own = Vec::with_capacity(per_thread);
                    for i in 0..per_thread {
                        let card = &cards[(t * per_thread + i) % cards.len()];
                        let start = Instant::now();
                        work(card)?;
                        own.push(start.elapsed());
                    }
                    Ok(own)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a render thread panicked".into()))
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut samples = Vec::with_capacity(count);
    for r in results {
        samples.extend(r.map_err(BenchError::Fixture)?);
    }
    let n = samples.len();
    Ok(Row {
        stage: String::new(),
        backend: "-".into(),
        count: n,
        seconds,
        per_second: n as f64 / seconds,
        latency: Percentiles::of(&mut samples),
        cpu_ms_per_item: super::cpu_ms_per_item(cpu_before, super::process_cpu_seconds(), n),
        goal: String::new(),
    })
}

/// One proof PDF of `count` cards (two pages each, every card's own photo and signature),
/// from scenes and pictures prepared beforehand: what a batch proof for approval costs.
/// The row counts pages.
pub fn batch_proof(
    renderer: &Renderer,
    cards: &[BenchCard],
    count: usize,
) -> Result<(Row, usize), BenchError> {
    let fixture = |e: &dyn std::fmt::Display| BenchError::Fixture(e.to_string());
    let distinct = cards.len().min(count).max(1);
    let mut prepared = Vec::with_capacity(distinct);
    for card in &cards[..distinct] {
        let (front, back) = renderer.scenes(&card.data).map_err(|e| fixture(&e))?;
        let pictures = renderer
            .prepare(&card.photo, &card.signature)
            .map_err(|e| fixture(&e))?;
        prepared.push((front, back, pictures));
    }
    let proofs: Vec<pdf::ProofPictures<'_>> =
        prepared.iter().map(|(_, _, p)| p.for_proof()).collect();
    let mut pages = Vec::with_capacity(count * 2);
    for i in 0..count {
        let k = i % distinct;
        pages.push((&prepared[k].0, Some(&proofs[k])));
        pages.push((&prepared[k].1, Some(&proofs[k])));
    }
    let cpu_before = super::process_cpu_seconds();
    let started = Instant::now();
    let bytes = pdf::proof(&pages).map_err(|e| fixture(&e))?;
    let elapsed = started.elapsed();
    let seconds = elapsed.as_secs_f64();
    let n = pages.len();
    let mut one = vec![elapsed];
    Ok((
        Row {
            stage: format!("batch proof PDF, {count} cards, {distinct} distinct photos (1 thread)"),
            backend: "-".into(),
            count: n,
            seconds,
            per_second: n as f64 / seconds,
            latency: Percentiles::of(&mut one),
            cpu_ms_per_item: super::cpu_ms_per_item(cpu_before, super::process_cpu_seconds(), n),
            goal: ">= 700 pages/s".into(),
        },
        bytes.len(),
    ))
}
