//! The batch cover sheet as La Poste's agent and independent tools see it.

mod common;

use cqcfab::post::cover::{self, Cover};
use cqcfab::post::manifest::{self, Row};

/// A batch to every département of France (Corsica and overseas included) and a few
/// countries, its manifest written, its cover sheet rendered: the PDF passes `qpdf --check`
/// and, rasterised at 300 dpi, zbarimg finds exactly a Code 128 and a QR code, both the batch
/// id.
#[test]
fn a_cover_sheet_scans_with_zbarimg_and_passes_qpdf() {
    let mut places: Vec<(String, &str)> = (1..=95)
        .filter(|d| *d != 20)
        .map(|d| (format!("{d:02}100"), "FR"))
        .collect();
    places.extend([("20090".to_string(), "FR"), ("20200".to_string(), "FR")]);
    places.extend([97100, 97200, 97300, 97400, 97600].map(|p| (p.to_string(), "FR")));
    places.extend(["BE", "DE", "ES", "IT", "CH"].map(|c| ("1000".to_string(), c)));
    let ids: Vec<String> = (0..places.len())
        .map(|i| {
            let serial = 47110815 + i as u32;
            format!("LA{serial:08}{}FR", cqcfab::post::s10::check_digit(serial))
        })
        .collect();
    let addresses: Vec<Vec<String>> = places
        .iter()
        .map(|(postcode, country)| {
            vec![
                "JEAN DUPONT".to_string(),
                "12 RUE DES LILAS".to_string(),
                format!("{postcode} VILLE"),
                if *country == "FR" { "" } else { "ETRANGER" }.to_string(),
            ]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect()
        })
        .collect();
    let cities: Vec<String> = places
        .iter()
        .zip(&addresses)
        .map(|((postcode, country), a)| manifest::city_of(a, postcode, country))
        .collect();
    let rows: Vec<Row<'_>> = places
        .iter()
        .enumerate()
        .map(|(i, (postcode, country))| Row {
            sequence: i as u32 + 1,
            piece_id: &ids[i],
            product: if i % 4 == 0 {
                "lettre-recommandee"
            } else {
                "lettre-suivie"
            },
            address: &addresses[i],
            postcode,
            city: &cities[i],
            country,
            weight_g: 21 + (i as u32 % 4),
        })
        .collect();
    let batch = "20261127-lettre-suivie-001";
    let csv = manifest::write(batch, &rows).expect("manifest");
    let sha = manifest::sha256(&csv);
    let totals = manifest::totals(&rows);
    let by_departement = cover::by_departement(&rows);
    assert!(by_departement.len() > 100);
    let sheet = Cover {
        batch_id: batch,
        product: "lettre-suivie",
        dispatch_date_fr: "27 novembre 2026",
        closed_at: "27/11/2026 14:05",
        pieces: totals.pieces,
        weight_g: totals.weight_g,
        by_product: &totals.by_product,
        by_departement: &by_departement,
        manifest_sha256: &sha,
    };
    let fonts = cqcfab::render::fonts::fonts().expect("fonts");
    let bytes = cover::pdf(&sheet, fonts).expect("cover sheet");
    // For a human to look at (docs/batch-cover-sheet.png was made from this, with
    // `pdftoppm -r 100 -png -singlefile`).
    if let Some(keep) = std::env::var_os("CQCFAB_KEEP_COVER") {
        std::fs::write(keep, &bytes).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (found, _) = common::scan::scan_pdf(&bytes, dir.path());
    assert_eq!(
        found,
        [format!("CODE-128:{batch}"), format!("QR-Code:{batch}")]
    );
}

/// The mailroom's reason sheet: every PND reason code decodes from the printed page, as the
/// clerk's scanner must read it, and each decoded code is one the station takes as a reason.
#[test]
fn the_reason_sheet_scans_to_every_reason_code() {
    use cqcfab::post::pnd::ReturnReason;
    let fonts = cqcfab::render::fonts::fonts().expect("fonts");
    let pdf = cqcfab::post::reason_sheet::pdf(fonts).expect("reason sheet");
    let dir = tempfile::tempdir().unwrap();
    let (codes, _) = common::scan::scan_pdf(&pdf, dir.path());
    let mut expected: Vec<String> = ReturnReason::ALL
        .iter()
        .map(|r| format!("CODE-128:{}", r.scan_code()))
        .collect();
    expected.sort();
    assert_eq!(codes, expected);
    for code in &codes {
        let text = code.trim_start_matches("CODE-128:");
        assert!(ReturnReason::from_scan(text).is_some(), "{text}");
    }
}
