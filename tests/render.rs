//! Rendering, end to end: requests taken in, the render worker on the job queue, the stored
//! proof and bitmaps; golden previews a person has looked at; the proof checked by
//! independent tools (poppler's pdfinfo, pdffonts, pdftoppm and qpdf).

mod common;

use std::sync::Arc;

use common::golden::assert_close;
use common::pdf::tool;
use common::{TestDb, repo_path, valid_fixtures};
use cqcfab::clock::Clock;
use cqcfab::intake::{Intake, Submission};
use cqcfab::render::card_data::{CardData, DEFAULT_AUTHORITY};
use cqcfab::render::scene::{Layer, Primitive, Scene};
use cqcfab::render::worker::{self, Done, ENCODE_JOB};
use cqcfab::render::{
    BACK_PERSONALISATION, BACK_PREVIEW, CHIP_PORTRAIT, CHIP_SIGNATURE, CardRender,
    FRONT_PERSONALISATION, FRONT_PREVIEW, PROOF, Renderer, raster,
};
use image::RgbImage;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 26))
}

fn renderer() -> Arc<Renderer> {
    Arc::new(Renderer::new(DEFAULT_AUTHORITY).expect("shipped layouts"))
}

fn fixture(id: &str) -> Value {
    valid_fixtures()
        .iter()
        .find(|f| f["request_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no fixture {id}"))
}

/// A fixture with both qualification groups and all eight categories.
fn eight_categories() -> Value {
    let mut doc = valid_fixtures()
        .iter()
        .find(|f| f["qualifications"].as_array().map(Vec::len) == Some(2))
        .cloned()
        .expect("a fixture with two qualifications");
    doc["request_id"] = json!("GOLD-EIGHT-CATEGORIES");
    doc["holder"]["licence_number"] = json!("13AB00077");
    for q in doc["qualifications"].as_array_mut().expect("array") {
        q["categories"] = if q["group"] == "goods" {
            json!(["C1", "C1E", "C", "CE"])
        } else {
            json!(["D1", "D1E", "D", "DE"])
        };
    }
    doc
}

/// A two-group driver whose groups end on different dates: goods by a FIMO of October 2026
/// (95 until 2031), passengers by a FIMO of February 2023 (95 until 2028). Each category on
/// side 2 carries its own group's date.
fn two_groups() -> Value {
    let mut doc = eight_categories();
    doc["request_id"] = json!("GOLD-TWO-GROUPS");
    doc["holder"]["licence_number"] = json!("13AB00078");
    doc.as_object_mut()
        .expect("object")
        .remove("expected_expiry");
    for q in doc["qualifications"].as_array_mut().expect("array") {
        let goods = q["group"] == "goods";
        q["categories"] = if goods {
            json!(["C", "CE"])
        } else {
            json!(["D"])
        };
        q["training"] = json!("fimo");
        q["training_end"] = json!(if goods { "2026-10-01" } else { "2023-02-10" });
    }
    doc
}

async fn take_in(db: &TestDb, docs: &[Value]) {
    let intake = Intake::new(db.store.clone());
    for doc in docs {
        let s = intake.submit(doc.clone(), "test").await.expect("intake");
        assert!(
            matches!(s, Submission::Created(_)),
            "{} not created: {s:?}",
            doc["request_id"]
        );
    }
}

async fn render_all(db: &TestDb, renderer: &Arc<Renderer>) -> Vec<Done> {
    worker::drain(&db.store, renderer, "test", 2, |_| {})
        .await
        .into_iter()
        .map(|r| r.expect("render job"))
        .collect()
}

async fn render_again(db: &TestDb, renderer: &Renderer, request_id: &str) -> CardRender {
    let card = db
        .store
        .card_by_request(request_id)
        .await
        .unwrap()
        .expect("card");
    let picture = |found: Option<Vec<u8>>| found.expect("stored picture");
    let photo = picture(db.store.request_picture(request_id, "photo").await.unwrap());
    let signature = picture(
        db.store
            .request_picture(request_id, "signature")
            .await
            .unwrap(),
    );
    let data = CardData::from_record(&card, renderer.authority(), None).expect("card data");
    renderer.render(&data, &photo, &signature).expect("renders")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

on_both_backends!(clock();
    every_accepted_request_gets_its_proof_and_bitmaps_with_hashes_in_the_audit_trail,
    a_name_the_card_cannot_show_stops_production_with_the_reason,
);

async fn every_accepted_request_gets_its_proof_and_bitmaps_with_hashes_in_the_audit_trail(
    db: &TestDb,
) {
    let docs: Vec<Value> = valid_fixtures().iter().take(8).cloned().collect();
    take_in(db, &docs).await;
    let renderer = renderer();
    let done = render_all(db, &renderer).await;
    assert_eq!(done.len(), docs.len(), "one job per request: {done:?}");
    for doc in &docs {
        let id = doc["request_id"].as_str().unwrap();
        let card = db.store.card_by_request(id).await.unwrap().unwrap();
        assert_eq!(card.state, "in_production", "{id}");
        assert!(done.contains(&Done::Rendered {
            card_number: card.card_number.clone()
        }));
        let files = db.store.artifacts(card.id).await.unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                BACK_PERSONALISATION,
                CHIP_PORTRAIT,
                CHIP_SIGNATURE,
                FRONT_PERSONALISATION,
                PROOF
            ],
            "{id}"
        );
        let history = db
            .store
            .audit_history("card", &card.card_number)
            .await
            .unwrap();
        let started = history
            .iter()
            .find(|r| r.action == "card.start_production")
            .expect("the render is in the audit trail");
        let after: Value = serde_json::from_str(started.after.as_deref().unwrap()).unwrap();
        for f in &files {
            let bytes = f.bytes.as_deref().expect("stored bytes");
            assert_eq!(
                f.sha256,
                sha256(bytes),
                "{id} {}: hash of the bytes",
                f.name
            );
            assert_eq!(
                after["rendered"][&f.name], f.sha256,
                "{id} {}: the audit trail holds the hash",
                f.name
            );
        }
        // Rendering is deterministic: the same card gives the same printed bytes.
        let again = render_again(db, &renderer, id).await;
        for f in &files {
            assert_eq!(
                again.output(&f.name).expect("output").sha256,
                f.sha256,
                "{id} {} renders identically",
                f.name
            );
        }
    }
    let jobs = db.store.job_counts().await.unwrap();
    assert!(
        jobs.iter().any(|(kind, state, n)| kind == ENCODE_JOB
            && state == "queued"
            && *n == docs.len() as i64),
        "every rendered card waits for its chip: {jobs:?}"
    );
    assert!(
        render_all(db, &renderer).await.is_empty(),
        "nothing is rendered twice"
    );
    assert!(db.store.verify_audit().await.unwrap().is_intact());
}

/// Intake refuses a name the card cannot show (tests/printable.rs). A card record that holds
/// one anyway (taken in before the check, or edited in the database) is still stopped by the
/// render worker with the reason, never printed clipped.
async fn a_name_the_card_cannot_show_stops_production_with_the_reason(db: &TestDb) {
    let mut missing_glyph = fixture("FIX-2026-000000");
    missing_glyph["request_id"] = json!("RENDER-MISSING-GLYPH");
    missing_glyph["holder"]["licence_number"] = json!("13AC00001");
    let mut too_long = fixture("FIX-2026-000000");
    too_long["request_id"] = json!("RENDER-TOO-LONG");
    too_long["holder"]["licence_number"] = json!("13AC00002");
    take_in(db, &[missing_glyph, too_long]).await;
    for (id, surname) in [
        ("RENDER-MISSING-GLYPH", "Li 李"),
        (
            "RENDER-TOO-LONG",
            "WOLFESCHLEGELSTEINHAUSENBERGERDORFFVORALTERNWARENGEWISSENHAFTSCHAFERSWESSENSCHAFEWARENWOHLGEPFLEGE",
        ),
    ] {
        let n = db
            .exec(
                "UPDATE cards SET surname = $1 WHERE request_id = $2",
                &[surname, id],
            )
            .await
            .expect("edit the record");
        assert_eq!(n, 1, "{id}");
    }
    let renderer = renderer();
    let done = render_all(db, &renderer).await;
    assert_eq!(done.len(), 2);
    // (request, words of the operator's reason, the audited code and detail, the name text the
    // audit trail must not hold)
    let expect = [
        (
            "RENDER-MISSING-GLYPH",
            "'李' (U+674E)",
            "missing_glyph: front side, element \"surname\": no glyph for U+674E",
            "李",
        ),
        (
            "RENDER-TOO-LONG",
            "does not fit",
            "text_does_not_fit: front side, element \"surname\": needs",
            "WOLFESCHLEGEL",
        ),
    ];
    for (id, words, audited, name) in expect {
        let card = db.store.card_by_request(id).await.unwrap().unwrap();
        assert_eq!(card.state, "stopped", "{id}");
        let reason = done
            .iter()
            .find_map(|d| match d {
                Done::Stopped {
                    card_number,
                    reason,
                } if *card_number == card.card_number => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{id} stopped: {done:?}"));
        assert!(reason.contains(words), "{id}: {reason}");
        assert!(
            reason.contains("surname"),
            "{id}: the reason names the element: {reason}"
        );
        assert!(db.store.artifacts(card.id).await.unwrap().is_empty());
        let history = db
            .store
            .audit_history("card", &card.card_number)
            .await
            .unwrap();
        let stop = history
            .iter()
            .find(|r| r.action == "card.stop")
            .expect("the stop is audited");
        // The trail names the code and the element, never the name (no personal data).
        let trail = stop.reason.as_deref().unwrap_or_default();
        assert!(trail.starts_with(audited), "{id}: {trail}");
        assert!(!trail.contains(name), "{id}: {trail}");
        let after = stop.after.as_deref().unwrap_or_default();
        assert!(
            after.contains("holder.surname") && !after.contains(name),
            "{after}"
        );
    }
}

// ---------------------------------------------------------------- golden previews

/// The golden cards: typical, other EU scripts, long names (shrunk, broken, abbreviated),
/// four categories and eight.
const GOLDEN: [(&str, &str); 8] = [
    ("FIX-2026-000000", "typical"),
    ("FIX-2026-000004", "polish"),
    ("FIX-2026-000005", "romanian"),
    ("FIX-2026-000006", "hungarian-four-categories"),
    ("FIX-2026-000019", "long-given-names"),
    ("FIX-2026-000020", "long-surname"),
    ("GOLD-EIGHT-CATEGORIES", "eight-categories"),
    ("GOLD-TWO-GROUPS", "two-groups"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cards_look_as_approved() {
    let db = TestDb::sqlite(clock()).await;
    let mut docs: Vec<Value> = GOLDEN[..6].iter().map(|(id, _)| fixture(id)).collect();
    docs.push(eight_categories());
    docs.push(two_groups());
    take_in(&db, &docs).await;
    let renderer = renderer();
    let dir = repo_path("tests/golden");
    for (id, name) in GOLDEN {
        let render = render_again(&db, &renderer, id).await;
        for (output, side) in [(FRONT_PREVIEW, "front"), (BACK_PREVIEW, "back")] {
            let png = &render.output(output).expect("preview").bytes;
            let img = image::load_from_memory(png).expect("PNG").to_rgb8();
            assert_eq!(img.dimensions(), (1011, 638), "85.60 x 53.98 mm at 300 dpi");
            assert_close(
                &format!("{name} {side}"),
                &img,
                &dir.join(format!("{name}-{side}.png")),
            );
        }
    }
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn side_2_shows_each_category_with_its_own_group_date() {
    let db = TestDb::sqlite(clock()).await;
    take_in(&db, &[two_groups()]).await;
    let card = db
        .store
        .card_by_request("GOLD-TWO-GROUPS")
        .await
        .unwrap()
        .expect("card");
    // Two dates on one card: field 4b waits for a supervisor (docs/validity.md).
    assert_eq!(card.state, "held_for_review");
    let data = CardData::from_record(&card, DEFAULT_AUTHORITY, None).expect("card data");
    use cqcfab::render::layout::Field;
    let rows: Vec<(Option<&str>, Option<&str>)> = (1..=4)
        .map(|n| {
            (
                data.get(Field::CategoryRow(n)),
                data.get(Field::Code95Row(n)),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some("C"), Some("95.01.10.2031")),
            (Some("CE"), Some("95.01.10.2031")),
            (Some("D"), Some("95.10.02.2028")),
            (None, None),
        ]
    );
    assert_eq!(data.get(Field::ExpiryDate), Some("01.10.2031"));
    db.cleanup().await;
}

/// Millimetres to the pixel grid of a 300-dpi bitmap.
fn px_box(x: f32, y: f32, w: f32, h: f32) -> (u32, u32, u32, u32) {
    let px = |mm: f32| raster::px(mm).max(0.0) as u32;
    (px(x), px(y), px(x + w), px(y + h))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personalisation_ink_falls_on_the_chip_contacts() {
    let db = TestDb::sqlite(clock()).await;
    let ids = [
        "GOLD-EIGHT-CATEGORIES",
        "FIX-2026-000019",
        "FIX-2026-000020",
    ];
    take_in(&db, &[eight_categories(), fixture(ids[1]), fixture(ids[2])]).await;
    let renderer = renderer();
    let layout = cqcfab::render::layout::Layout::parse(
        "card-back.toml",
        &std::fs::read_to_string(repo_path("layouts/card-back.toml")).unwrap(),
    )
    .unwrap();
    let chip = layout
        .elements
        .iter()
        .find(|e| e.kind == cqcfab::render::layout::Kind::Chip)
        .expect("the back reserves the chip's contacts");
    // ISO/IEC 7816-2: the contact field lies 10.25-19.87 mm from the left edge and
    // 19.23-28.55 mm from the top; the reserved plate must cover it.
    assert!(chip.x <= 10.25 && chip.x + chip.w >= 19.87, "{chip:?}");
    assert!(chip.y <= 19.23 && chip.y + chip.h >= 28.55, "{chip:?}");
    let (x0, y0, x1, y1) = px_box(chip.x, chip.y, chip.w, chip.h);
    for id in ids {
        let render = render_again(&db, &renderer, id).await;
        let png = &render.output(BACK_PERSONALISATION).unwrap().bytes;
        let ink = image::load_from_memory(png).unwrap().to_luma8();
        let mut dark = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                if ink.get_pixel(x, y).0[0] < 250 {
                    dark += 1;
                }
            }
        }
        assert_eq!(dark, 0, "{id}: {dark} inked pixels on the chip's contacts");
        // The personalisation does reach the rows around it: the test looks at real ink.
        let all_dark = ink.pixels().filter(|p| p.0[0] < 128).count();
        assert!(
            all_dark > 1000,
            "{id}: the back carries data ({all_dark} px)"
        );
        // And the preview shows the plate where the module goes.
        let preview = image::load_from_memory(&render.output(BACK_PREVIEW).unwrap().bytes)
            .unwrap()
            .to_rgb8();
        let centre = preview.get_pixel((x0 + x1) / 2 - 20, (y0 + y1) / 2 - 30).0;
        assert!(
            centre[0] > 150 && centre[2] < 120,
            "{id}: the preview shows the gold plate, got {centre:?}"
        );
    }
    db.cleanup().await;
}

// ---------------------------------------------------------------- independent tools

/// The ink of the card's data: dark and neutral (the field numbers and the background are
/// blue, the multilingual title pale).
fn is_ink(p: &image::Rgb<u8>) -> bool {
    let [r, g, b] = p.0;
    r.max(g).max(b) < 110 && r.max(g).max(b) - r.min(g).min(b) < 40
}

/// The bounding box (pixels, inclusive) of the ink inside a rectangle.
fn ink_box(img: &RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> Option<(u32, u32, u32, u32)> {
    let mut found: Option<(u32, u32, u32, u32)> = None;
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            if is_ink(img.get_pixel(x, y)) {
                found = Some(match found {
                    None => (x, y, x, y),
                    Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
                });
            }
        }
    }
    found
}

/// The text boxes of the personalised fields, as regions to search for ink (pixels).
fn text_regions(scene: &Scene) -> Vec<(String, u32, u32, u32, u32)> {
    let mut out = Vec::new();
    for item in scene.layer(Layer::Personalisation) {
        if let Primitive::Text { size_pt, lines, .. } = &item.primitive {
            for (i, line) in lines.iter().enumerate() {
                let em_mm = size_pt * 25.4 / 72.0;
                let x0 = raster::px(line.x_mm - 0.4).max(0.0) as u32;
                let x1 = raster::px(line.x_mm + line.width_mm + 0.4) as u32;
                let y0 = raster::px(line.baseline_mm - em_mm).max(0.0) as u32;
                let y1 = raster::px(line.baseline_mm + 0.3 * em_mm) as u32;
                out.push((format!("{} line {}", item.element, i + 1), x0, y0, x1, y1));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proof_passes_poppler_and_qpdf_and_agrees_with_the_bitmaps() {
    let db = TestDb::sqlite(clock()).await;
    take_in(&db, &[fixture("FIX-2026-000004"), eight_categories()]).await;
    let renderer = renderer();
    let dir = tempfile::tempdir().unwrap();
    for id in ["FIX-2026-000004", "GOLD-EIGHT-CATEGORIES"] {
        let render = render_again(&db, &renderer, id).await;
        let pdf = dir.path().join(format!("{id}.pdf"));
        std::fs::write(&pdf, &render.output(PROOF).unwrap().bytes).unwrap();
        let pdf_s = pdf.to_str().unwrap();

        let info = tool("pdfinfo", &["-f", "1", "-l", "2", pdf_s]);
        assert!(info.contains("Pages:           2"), "{info}");
        let sizes: Vec<(f64, f64)> = info
            .lines()
            .filter(|l| l.starts_with("Page") && l.contains(" size:"))
            .map(|l| {
                let v: Vec<f64> = l
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                (v[v.len() - 2], v[v.len() - 1])
            })
            .collect();
        assert_eq!(sizes.len(), 2, "{info}");
        for (w, h) in sizes {
            assert!(
                (w - 242.65).abs() <= 0.1 && (h - 153.01).abs() <= 0.1,
                "page {w} x {h} pt"
            );
        }

        common::pdf::assert_sound_with_fonts_embedded(pdf_s);

        let prefix = dir.path().join(id);
        tool(
            "pdftoppm",
            &["-r", "300", "-png", pdf_s, prefix.to_str().unwrap()],
        );
        for (page, scene, preview) in [
            (1, &render.front, FRONT_PREVIEW),
            (2, &render.back, BACK_PREVIEW),
        ] {
            let poppler = image::open(dir.path().join(format!("{id}-{page}.png")))
                .expect("pdftoppm page")
                .to_rgb8();
            let ours = image::load_from_memory(&render.output(preview).unwrap().bytes)
                .unwrap()
                .to_rgb8();
            let (pw, ph) = poppler.dimensions();
            assert!(
                pw.abs_diff(ours.width()) <= 1 && ph.abs_diff(ours.height()) <= 1,
                "page {page}: {pw}x{ph} vs {:?}",
                ours.dimensions()
            );
            let regions = text_regions(scene);
            let lines = if page == 1 { 10 } else { 3 };
            assert!(
                regions.len() >= lines,
                "page {page}: data lines {regions:?}"
            );
            let tolerance_px = raster::px(0.3);
            for (what, x0, y0, x1, y1) in regions {
                let a = ink_box(&ours, x0, y0, x1, y1);
                let b = ink_box(&poppler, x0, y0, x1, y1);
                let (Some(a), Some(b)) = (a, b) else {
                    panic!("{id} page {page} {what}: ink in ours {a:?}, in the PDF {b:?}");
                };
                let worst = [
                    a.0.abs_diff(b.0),
                    a.1.abs_diff(b.1),
                    a.2.abs_diff(b.2),
                    a.3.abs_diff(b.3),
                ]
                .into_iter()
                .max()
                .unwrap_or(0);
                assert!(
                    worst as f32 <= tolerance_px,
                    "{id} page {page} {what}: ours {a:?}, PDF {b:?}: {worst} px apart (> 0.3 mm)"
                );
            }
        }
    }
    db.cleanup().await;
}
