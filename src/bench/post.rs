//! Fulfilment benchmarks: carrier letters with their return coupons (two PDFs per piece) on
//! several threads, and the manifest of a 100,000-piece batch: written from rows in memory,
//! and closed and re-exported through the store (numbering, reading the rows back, CSV,
//! SHA-256).

use std::time::{Duration, Instant};

use super::{BenchError, Percentiles, Row};
use crate::domain::card_number::{CardNumber, HolderNumber};
use crate::post::manifest;
use crate::post::product::{Catalogue, DEFAULT_PRODUCT};
use crate::post::s10::S10Id;
use crate::post::{coupon, letter};
use crate::store::Store;

/// Synthetic pieces: an S10 id, a card number and an NF Z10-011 block of 4 to 6 lines.
pub struct BenchPiece {
    pub piece: S10Id,
    pub card_number: String,
    pub address: Vec<String>,
    pub holder: String,
}

/// `n` distinct pieces with realistic addresses across the départements.
pub fn pieces(n: usize) -> Result<Vec<BenchPiece>, BenchError> {
    let fixture = |e: &dyn std::fmt::Display| BenchError::Fixture(e.to_string());
    let service = Catalogue::default()
        .get(DEFAULT_PRODUCT)
        .map_err(|e| fixture(&e))?
        .service();
    (0..n)
        .map(|i| {
            let serial = 20_000_000 + i as u32;
            let card = CardNumber::first(HolderNumber::new(i as u32 + 1).map_err(|e| fixture(&e))?);
            let mut address = vec![format!("MADAME CLAIRE MARTIN-{i}")];
            if i % 3 == 0 {
                address.push("APPARTEMENT 12 ETAGE 3".into());
            }
            if i % 5 == 0 {
                address.push("RESIDENCE LES TILLEULS".into());
            }
            address.push(format!("{} RUE DES LILAS", 1 + i % 180));
            address.push(format!("{:05} VILLE-{}", 1000 + (i * 7919) % 94000, i % 97));
            Ok(BenchPiece {
                piece: S10Id::new(service, serial).map_err(|e| fixture(&e))?,
                card_number: card.to_string(),
                address,
                holder: format!("Claire Martin-{i}"),
            })
        })
        .collect()
}

/// Carrier letter and return coupon PDFs of `count` pieces on `threads` threads.
pub fn letters(pieces: &[BenchPiece], threads: usize, count: usize) -> Result<Row, BenchError> {
    let fonts = crate::render::fonts::fonts().map_err(|e| BenchError::Fixture(e.to_string()))?;
    let mut row = super::render::run_cards(
        threads,
        count,
        |p: &BenchPiece| {
            let carrier = letter::Carrier {
                piece: p.piece,
                card_number: &p.card_number,
                address: &p.address,
                date_fr: "Paris, le 27 novembre 2026",
            };
            let card = CardNumber::parse(&p.card_number).map_err(|e| e.to_string())?;
            let sheet = coupon::Coupon {
                code: coupon::CouponCode::for_card(card),
                holder: &p.holder,
            };
            let a = letter::pdf(&carrier, fonts).map_err(|e| e.to_string())?;
            let b = coupon::pdf(&sheet, fonts).map_err(|e| e.to_string())?;
            std::hint::black_box((a, b));
            Ok(())
        },
        pieces,
    )?;
    row.stage = format!("carrier letter + return coupon PDFs ({threads} threads)");
    row.goal = ">= 300 pieces/s on 2 cores".into();
    Ok(row)
}

/// The manifest CSV of `pieces` written from rows in memory, and its SHA-256.
pub fn manifest_in_memory(pieces: &[BenchPiece], rounds: usize) -> Result<Row, BenchError> {
    let cities: Vec<String> = pieces
        .iter()
        .map(|p| manifest::city_of(&p.address, &p.address[p.address.len() - 1][..5], "FR"))
        .collect();
    let ids: Vec<String> = pieces.iter().map(|p| p.piece.to_string()).collect();
    let rows: Vec<manifest::Row<'_>> = pieces
        .iter()
        .zip(cities.iter().zip(&ids))
        .enumerate()
        .map(|(i, (p, (city, id)))| manifest::Row {
            sequence: i as u32 + 1,
            piece_id: id,
            product: "lettre-suivie",
            address: &p.address,
            postcode: &p.address[p.address.len() - 1][..5],
            city,
            country: "FR",
            weight_g: 20,
        })
        .collect();
    let mut samples = Vec::with_capacity(rounds);
    let started = Instant::now();
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let csv =
            manifest::write("bench", &rows).map_err(|e| BenchError::Fixture(e.to_string()))?;
        std::hint::black_box(manifest::sha256(&csv));
        samples.push(t.elapsed());
    }
    Ok(batch_row(
        format!(
            "manifest CSV + SHA-256 of {} pieces, in memory",
            pieces.len()
        ),
        "-",
        started.elapsed(),
        &mut samples,
    ))
}

/// A batch of `pieces` closed through the store (numbered in presort order, manifest written
/// and sealed), then exported again `rounds` times (rows read back, CSV rebuilt, hash
/// checked). Two rows: close, export.
pub async fn manifest_in_store(
    store: &Store,
    backend: &str,
    pieces: &[BenchPiece],
    rounds: usize,
) -> Result<Vec<Row>, BenchError> {
    let fail = |e: &dyn std::fmt::Display| BenchError::Fixture(e.to_string());
    // One real card (a fixture request taken in) carries every piece.
    let doc: serde_json::Value = crate::synthetic::embedded::VALID_JSONL
        .split(|b| *b == b'\n')
        .find(|l| !l.is_empty())
        .map(serde_json::from_slice)
        .transpose()
        .map_err(|e| fail(&e))?
        .ok_or_else(|| BenchError::Fixture("no embedded fixture".into()))?;
    let request_id = doc["request_id"].as_str().unwrap_or_default().to_string();
    crate::intake::Intake::new(store.clone())
        .submit(doc, "bench")
        .await
        .map_err(|e| fail(&e))?;
    let card = store
        .card_by_request(&request_id)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| BenchError::Fixture(format!("no card for {request_id}")))?;
    let batch_id = store
        .fill_batch_for_bench(
            "lettre-suivie",
            "2026-11-27",
            card.id,
            pieces
                .iter()
                .map(|p| (p.piece.to_string(), p.address.clone())),
        )
        .await
        .map_err(|e| fail(&e))?;
    let t = Instant::now();
    store
        .close_batch(&batch_id, "bench", None)
        .await
        .map_err(|e| fail(&e))?;
    let close = t.elapsed();
    let mut rows = vec![batch_row(
        format!(
            "batch close: number, manifest, seal ({} pieces)",
            pieces.len()
        ),
        backend,
        close,
        &mut [close],
    )];
    let mut samples = Vec::with_capacity(rounds);
    let started = Instant::now();
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let m = store
            .batch_manifest(&batch_id)
            .await
            .map_err(|e| fail(&e))?;
        std::hint::black_box(m);
        samples.push(t.elapsed());
    }
    let mut row = batch_row(
        format!(
            "manifest export of a closed batch ({} pieces)",
            pieces.len()
        ),
        backend,
        started.elapsed(),
        &mut samples,
    );
    row.goal = "< 1 s for 100,000 pieces".into();
    rows.push(row);
    Ok(rows)
}

/// A row whose items are whole batches: per second = batches per second, latency per batch.
fn batch_row(stage: String, backend: &str, total: Duration, samples: &mut [Duration]) -> Row {
    let n = samples.len();
    Row {
        stage,
        backend: backend.into(),
        count: n,
        seconds: total.as_secs_f64(),
        per_second: n as f64 / total.as_secs_f64().max(1e-9),
        latency: Percentiles::of(samples),
        cpu_ms_per_item: None,
        goal: "< 1 s for 100,000 pieces (export)".into(),
    }
}
