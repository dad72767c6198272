use super::*;
use crate::post::manifest::{self, Row};
use crate::render::fonts;

/// One postcode per département of France (metropolitan, Corsica, overseas) and a few
/// countries: a batch as spread out as a batch can be.
fn postcodes() -> Vec<(String, &'static str)> {
    let mut v: Vec<(String, &str)> = (1..=95)
        .filter(|d| *d != 20)
        .map(|d| (format!("{d:02}100"), "FR"))
        .collect();
    v.push(("20090".into(), "FR"));
    v.push(("20200".into(), "FR"));
    for d in [971, 972, 973, 974, 975, 976, 977, 978, 986, 987, 988] {
        v.push((format!("{d}00"), "FR"));
    }
    for c in ["BE", "DE", "ES", "IT", "CH", "GB", "PL", "RO", "PT", "LU"] {
        v.push(("1000".into(), c));
    }
    v
}

struct Batch {
    address: Vec<String>,
    postcodes: Vec<(String, &'static str)>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            address: vec!["A".into(), "B".into()],
            postcodes: postcodes(),
        }
    }

    fn rows(&self) -> Vec<Row<'_>> {
        self.postcodes
            .iter()
            .enumerate()
            .map(|(i, (postcode, country))| Row {
                sequence: i as u32 + 1,
                piece_id: "EE471108151FR",
                product: if i % 3 == 0 {
                    "lettre-recommandee"
                } else {
                    "lettre-suivie"
                },
                address: &self.address,
                postcode,
                city: "X",
                country,
                weight_g: 21 + (i as u32 % 5),
            })
            .collect()
    }
}

fn cover<'a>(
    totals: &'a manifest::Totals,
    by_departement: &'a [(String, u64)],
    sha: &'a str,
) -> Cover<'a> {
    Cover {
        batch_id: "20261127-lettre-suivie-001",
        product: "lettre-suivie",
        dispatch_date_fr: "27 novembre 2026",
        closed_at: "27/11/2026 14:05",
        pieces: totals.pieces,
        weight_g: totals.weight_g,
        by_product: &totals.by_product,
        by_departement,
        manifest_sha256: sha,
    }
}

/// Each item's extent (x0, y0, x1, y1) in mm; one per text line.
fn boxes(scene: &Scene, fonts: &Fonts) -> Vec<(String, (f32, f32, f32, f32))> {
    let mut out = Vec::new();
    for item in &scene.items {
        match &item.primitive {
            Primitive::Text {
                lines,
                face,
                size_pt,
                ..
            } => {
                for l in lines {
                    out.push((
                        format!("{} {:?}", item.element, l.text),
                        (
                            l.x_mm,
                            l.baseline_mm - fonts.ascent_mm(*face, *size_pt),
                            l.x_mm + l.width_mm,
                            l.baseline_mm + fonts.descent_mm(*face, *size_pt),
                        ),
                    ));
                }
            }
            Primitive::Modules { rects, .. } => {
                let x0 = rects.iter().map(|r| r.0).fold(f32::MAX, f32::min);
                let y0 = rects.iter().map(|r| r.1).fold(f32::MAX, f32::min);
                let x1 = rects.iter().map(|r| r.0 + r.2).fold(f32::MIN, f32::max);
                let y1 = rects.iter().map(|r| r.1 + r.3).fold(f32::MIN, f32::max);
                out.push((item.element.clone(), (x0, y0, x1, y1)));
            }
            Primitive::Rect { x, y, w, h, .. } => {
                out.push((item.element.clone(), (*x, *y, x + w, y + h)));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn departements_of_postcodes() {
    let cases = [
        ("75011", "FR", "75"),
        ("01000", "FR", "01"),
        ("69003", "fr", "69"),
        ("20000", "FR", "2A"),
        ("20090", "FR", "2A"),
        ("20199", "FR", "2A"),
        ("20200", "FR", "2B"),
        ("20600", "FR", "2B"),
        ("20999", "FR", "2B"),
        ("97100", "FR", "971"),
        ("97400", "FR", "974"),
        ("97600", "FR", "976"),
        ("98800", "FR", "988"),
        (" 13001 ", "FR", "13"),
        ("1000", "BE", "étranger (BE)"),
        ("SW1A 2AA", "gb", "étranger (GB)"),
        ("98000", "MC", "étranger (MC)"),
        ("7501", "FR", "inconnu"),
        ("7501A", "FR", "inconnu"),
        ("", "FR", "inconnu"),
    ];
    for (postcode, country, want) in cases {
        assert_eq!(
            departement(postcode, country),
            want,
            "{postcode:?} {country:?}"
        );
    }
}

#[test]
fn departements_are_counted_in_reading_order() {
    let address = vec!["A".to_string()];
    let row = |postcode, country| Row {
        sequence: 1,
        piece_id: "P",
        product: "lettre-suivie",
        address: &address,
        postcode,
        city: "X",
        country,
        weight_g: 20,
    };
    let rows = [
        row("97100", "FR"),
        row("21000", "FR"),
        row("1000", "BE"),
        row("20200", "FR"),
        row("19100", "FR"),
        row("20090", "FR"),
        row("21000", "FR"),
        row("95100", "FR"),
        row("x", "FR"),
        row("1000", "AT"),
    ];
    let got = by_departement(&rows);
    let names: Vec<&str> = got.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        names,
        [
            "19",
            "2A",
            "2B",
            "21",
            "95",
            "971",
            "étranger (AT)",
            "étranger (BE)",
            "inconnu"
        ]
    );
    assert_eq!(got[3], ("21".to_string(), 2));
}

#[test]
fn numbers_are_grouped_the_french_way() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1 000");
    assert_eq!(thousands(1234567), "1 234 567");
    assert_eq!(weight(68), "68 g (0,068 kg)");
    assert_eq!(weight(2_345_678), "2 345 678 g (2 345,678 kg)");
}

/// Every département of France and ten countries: everything stays on the page, inside its
/// margins and above the signature box, and no two things overlap.
#[test]
fn a_batch_to_every_departement_stays_on_the_page_without_overlap() {
    let fonts = fonts::fonts().expect("fonts");
    let batch = Batch::new();
    let rows = batch.rows();
    let totals = manifest::totals(&rows);
    let by_departement = by_departement(&rows);
    assert_eq!(by_departement.len(), 95 + 1 + 11 + 10);
    let sha = manifest::sha256(b"manifest");
    let scene = scene(&cover(&totals, &by_departement, &sha), fonts).expect("scene");
    let boxes = boxes(&scene, fonts);
    let (_, sig_top, _, sig_h) = SIGNATURE_BOX;
    for (what, (x0, y0, x1, y1)) in &boxes {
        assert!(
            *x0 >= LEFT - 1e-3 && *x1 <= RIGHT + 1e-3 && *y0 >= 10.0 && *y1 <= PAGE_H - 10.0,
            "{what} off the page or in the margin: {x0},{y0} - {x1},{y1}"
        );
        if what.starts_with("signature") {
            assert!(
                *y0 >= sig_top - 1e-3 && *y1 <= sig_top + sig_h + 1e-3,
                "{what}"
            );
        } else {
            assert!(*y1 < sig_top, "{what} reaches the signature box");
        }
    }
    // Text and barcodes: no two overlap (the signature box's frame holds its own text, and
    // a rule sits under its table's head, so rules and frames are left out).
    let solid: Vec<_> = boxes
        .iter()
        .filter(|(w, _)| !w.ends_with("-rule") && !w.starts_with("signature-b"))
        .collect();
    for (i, (a, ra)) in solid.iter().enumerate() {
        for (b, rb) in &solid[i + 1..] {
            let apart = ra.2 <= rb.0 || rb.2 <= ra.0 || ra.3 <= rb.1 || rb.3 <= ra.1;
            assert!(apart, "{a} {ra:?} overlaps {b} {rb:?}");
        }
    }
    // Every département and every count is printed.
    let printed: Vec<&str> = scene
        .items
        .iter()
        .filter(|i| i.element == "departements")
        .flat_map(|i| match &i.primitive {
            Primitive::Text { lines, .. } => lines.iter().map(|l| l.text.as_str()).collect(),
            _ => Vec::new(),
        })
        .collect();
    let want: Vec<&str> = by_departement.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(printed, want);
}

#[test]
fn a_small_batch_takes_one_column() {
    let fonts = fonts::fonts().expect("fonts");
    let by_product = vec![("lettre-suivie".to_string(), 3)];
    let by_departement = vec![("69".to_string(), 2), ("75".to_string(), 1)];
    let sha = manifest::sha256(b"m");
    let c = Cover {
        batch_id: "20261127-lettre-suivie-001",
        product: "lettre-suivie",
        dispatch_date_fr: "27 novembre 2026",
        closed_at: "27/11/2026 14:05",
        pieces: 3,
        weight_g: 63,
        by_product: &by_product,
        by_departement: &by_departement,
        manifest_sha256: &sha,
    };
    let scene = scene(&c, fonts).expect("scene");
    let heads = scene
        .items
        .iter()
        .find(|i| i.element == "departements-head")
        .expect("head");
    let Primitive::Text { lines, .. } = &heads.primitive else {
        panic!("text")
    };
    assert_eq!(lines.len(), 2, "one Département / Plis pair");
}

#[test]
fn contradictions_and_what_does_not_fit_are_refused() {
    let fonts = fonts::fonts().expect("fonts");
    let by_product = vec![("lettre-suivie".to_string(), 3)];
    let by_departement = vec![("69".to_string(), 3)];
    let sha = manifest::sha256(b"m");
    let good = Cover {
        batch_id: "20261127-lettre-suivie-001",
        product: "lettre-suivie",
        dispatch_date_fr: "27 novembre 2026",
        closed_at: "27/11/2026 14:05",
        pieces: 3,
        weight_g: 63,
        by_product: &by_product,
        by_departement: &by_departement,
        manifest_sha256: &sha,
    };
    scene(&good, fonts).expect("good");

    let e = scene(
        &Cover {
            pieces: 4,
            ..good.clone()
        },
        fonts,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            CoverError::Inconsistent {
                sum: 3,
                pieces: 4,
                ..
            }
        ),
        "{e}"
    );
    let short = sha[..40].to_string();
    let e = scene(
        &Cover {
            manifest_sha256: &short,
            ..good.clone()
        },
        fonts,
    )
    .unwrap_err();
    assert!(matches!(e, CoverError::Sha256 { .. }), "{e}");

    // Room for every département and forty countries.
    let wide: Vec<(String, u64)> = (0..140u8)
        .map(|i| {
            let code = [b'A' + i / 26, b'A' + i % 26].map(char::from);
            (format!("étranger ({}{})", code[0], code[1]), 1)
        })
        .collect();
    let by_product_wide = vec![("lettre-suivie".to_string(), 140)];
    scene(
        &Cover {
            pieces: 140,
            by_product: &by_product_wide,
            by_departement: &wide,
            ..good.clone()
        },
        fonts,
    )
    .expect("140 entries fit");
    let many: Vec<(String, u64)> = (0..400).map(|i| (format!("{i:03}"), 1)).collect();
    let by_product_many = vec![("lettre-suivie".to_string(), 400)];
    let e = scene(
        &Cover {
            pieces: 400,
            by_product: &by_product_many,
            by_departement: &many,
            ..good.clone()
        },
        fonts,
    )
    .unwrap_err();
    assert!(
        matches!(e, CoverError::TooManyDepartements { count: 400, .. }),
        "{e}"
    );

    let long = "20261127-lettre-suivie-avec-un-nom-beaucoup-trop-long-pour-la-page-001";
    let e = scene(
        &Cover {
            batch_id: long,
            ..good.clone()
        },
        fonts,
    )
    .unwrap_err();
    assert!(
        matches!(e, CoverError::TooWide { .. } | CoverError::Barcode { .. }),
        "{e}"
    );
}
