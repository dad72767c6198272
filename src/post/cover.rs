//! The batch cover sheet: an A4 page, in French, laid on top of the trays of a batch handed to
//! La Poste (docs/post.md, "The batch cover sheet").
//!
//! The agent who takes the trays checks the counts against the trays and the manifest, scans
//! the batch id (Code 128 for a handheld laser scanner, QR for a phone) and signs the box at
//! the bottom; the bureau keeps the signed sheet as its proof of hand-over. The manifest's
//! SHA-256 ties the paper to the one file that lists the pieces.

use std::collections::BTreeMap;

use crate::post::letter::{CODE128_HEIGHT, CODE128_MODULE, QR_MODULE};
use crate::post::manifest::Row;
use crate::post::sheet::{self, PAGE_H, PAGE_W};
use crate::render::build::{self, BuildError};
use crate::render::fonts::Fonts;
use crate::render::pdf::{self, PdfError};
use crate::render::scene::{Face, Item, Layer, Primitive, Rgb, Scene};

/// Left and right text margins (the letter's), in mm.
pub const LEFT: f32 = 20.0;
pub const RIGHT: f32 = PAGE_W - 20.0;
/// The signature box, at the foot of the page (x, y, w, h): what the agent fills in by hand.
pub const SIGNATURE_BOX: (f32, f32, f32, f32) = (LEFT, 250.0, RIGHT - LEFT, 30.0);

/// Where the values of the details block start, right of their labels.
const VALUE_X: f32 = 58.0;
/// Where the products table starts, right of the details block.
const PRODUCTS_X: f32 = 122.0;
const DETAIL_PT: f32 = 9.5;
const DETAIL_STEP: f32 = 5.2;
const TABLE_PT: f32 = 8.0;
const TABLE_STEP: f32 = 3.7;
/// Space between two columns of the départements table.
const COLUMN_GAP: f32 = 6.0;
/// Between a département and its count.
const COUNT_GAP: f32 = 4.0;
const GREY: Rgb = Rgb(120, 120, 120);

/// What one cover sheet says.
#[derive(Debug, Clone)]
pub struct Cover<'a> {
    /// `20261127-lettre-suivie-001`: printed, and encoded as Code 128 and QR.
    pub batch_id: &'a str,
    pub product: &'a str,
    /// "27 novembre 2026".
    pub dispatch_date_fr: &'a str,
    /// "27/11/2026 14:05": when the batch was closed (no piece can join it after).
    pub closed_at: &'a str,
    pub pieces: u64,
    pub weight_g: u64,
    /// Pieces per product (`manifest::Totals::by_product`), printed in the order given.
    pub by_product: &'a [(String, u64)],
    /// Pieces per département ([`by_departement`]), printed in the order given.
    pub by_departement: &'a [(String, u64)],
    /// SHA-256 of the manifest file, lower-case hex (`manifest::sha256`).
    pub manifest_sha256: &'a str,
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

/// "27 novembre 2026".
pub fn date_fr(d: time::Date) -> String {
    format!(
        "{} {} {}",
        d.day(),
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.year()
    )
}

/// The cover sheet of a closed batch, as a PDF (the CLI writes it beside the manifest; the
/// console serves it).
pub fn for_manifest(
    m: &crate::store::batches::Manifest,
    dispatch: time::Date,
) -> Result<Vec<u8>, CoverError> {
    let closed_at = m
        .batch
        .closed_at
        .and_then(|ms| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        })
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[day]/[month]/[year] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default();
    let cover = Cover {
        batch_id: &m.batch.batch_id,
        product: &m.batch.product,
        dispatch_date_fr: &date_fr(dispatch),
        closed_at: &closed_at,
        pieces: m.totals.pieces,
        weight_g: m.totals.weight_g,
        by_product: &m.totals.by_product,
        by_departement: &m.by_departement,
        manifest_sha256: &m.sha256,
    };
    let fonts = crate::render::fonts::fonts().map_err(|e| CoverError::Fonts(e.to_string()))?;
    pdf(&cover, fonts)
}

#[derive(Debug, thiserror::Error)]
pub enum CoverError {
    #[error("the fonts: {0}")]
    Fonts(String),
    #[error("cover sheet of batch {batch}: {source}")]
    Barcode {
        batch: String,
        #[source]
        source: BuildError,
    },
    #[error(
        "cover sheet of batch {batch}: {what} is {width_mm:.1} mm wide, the room {room_mm:.1} mm"
    )]
    TooWide {
        batch: String,
        what: String,
        width_mm: f32,
        room_mm: f32,
    },
    #[error("cover sheet of batch {batch}: {value:?} is not a SHA-256 in lower-case hex")]
    Sha256 { batch: String, value: String },
    #[error(
        "cover sheet of batch {batch}: the {table} add up to {sum} pieces, the batch has {pieces}"
    )]
    Inconsistent {
        batch: String,
        table: &'static str,
        sum: u64,
        pieces: u64,
    },
    #[error(
        "cover sheet of batch {batch}: {count} départements do not fit on the page ({room} at most)"
    )]
    TooManyDepartements {
        batch: String,
        count: usize,
        room: usize,
    },
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// The French département a postcode is delivered in: its first two digits, but `2A` and `2B`
/// for Corse-du-Sud (20000-20199) and Haute-Corse (20200-20999), and three digits for the
/// overseas 97xxx and 98xxx. Abroad, `étranger (XX)` with the country code; a French postcode
/// that is not five digits gives `inconnu` (an address is validated long before it is posted,
/// so this only shows that something went wrong upstream, and is counted rather than lost).
pub fn departement(postcode: &str, country: &str) -> String {
    let country = country.trim();
    if !country.eq_ignore_ascii_case("FR") {
        return format!("étranger ({})", country.to_ascii_uppercase());
    }
    let postcode = postcode.trim();
    if postcode.len() != 5 || !postcode.bytes().all(|b| b.is_ascii_digit()) {
        return "inconnu".to_string();
    }
    match &postcode[..2] {
        "20" if postcode < "20200" => "2A".to_string(),
        "20" => "2B".to_string(),
        "97" | "98" => postcode[..3].to_string(),
        two => two.to_string(),
    }
}

/// Pieces per département of a batch's rows, in the order a reader looks them up: `01` … `19`,
/// `2A`, `2B`, `21` … `95`, `971` …, then abroad by country, then `inconnu`.
pub fn by_departement(rows: &[Row<'_>]) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<(u8, String), (String, u64)> = BTreeMap::new();
    for row in rows {
        let d = departement(row.postcode, row.country);
        let key = order(&d);
        counts.entry(key).or_insert_with(|| (d, 0)).1 += 1;
    }
    counts.into_values().collect()
}

/// Sort key of a département: Corsica between 19 and 21, overseas after 95.
fn order(d: &str) -> (u8, String) {
    match d {
        "2A" => (0, "20A".into()),
        "2B" => (0, "20B".into()),
        "inconnu" => (2, String::new()),
        _ if d.starts_with("étranger") => (1, d.to_string()),
        _ => (0, d.to_string()),
    }
}

/// The cover sheet as a scene.
pub fn scene(c: &Cover<'_>, fonts: &Fonts) -> Result<Scene, CoverError> {
    check(c)?;
    let batch = c.batch_id;
    let too_wide = |what: &str, width_mm: f32, room_mm: f32| CoverError::TooWide {
        batch: batch.to_string(),
        what: what.to_string(),
        width_mm,
        room_mm,
    };
    let barcode = |source| CoverError::Barcode {
        batch: batch.to_string(),
        source,
    };
    let mut items = Vec::new();
    let t = |x: f32, y: f32, s: &str| (x, y, s.to_string());

    // Sender, top left, as on the carrier letter.
    items.push(sheet::line(
        fonts,
        "sender",
        Face::Bold,
        9.0,
        LEFT,
        18.0,
        sheet::SENDER[0],
    ));
    items.push(sheet::text(
        fonts,
        "sender-detail",
        Face::Regular,
        8.0,
        vec![
            t(LEFT, 22.5, sheet::SENDER[1]),
            t(LEFT, 26.5, sheet::SENDER[2]),
        ],
    ));

    // The batch id as QR, top right, for a phone.
    let qr =
        build::qr("batch-qr", batch, RIGHT - 30.0, 12.0, 30.0, 30.0, QR_MODULE).map_err(barcode)?;
    items.push(sheet::modules("batch-qr", qr, Rgb::BLACK));

    // Title: set smaller rather than run into the margin; refused below 10 pt.
    let title = format!("Bordereau de dépôt — lot {batch}");
    let room = RIGHT - LEFT;
    let size = [14.0, 13.0, 12.0, 11.0, 10.0]
        .into_iter()
        .find(|s| fonts.width_mm(Face::Bold, *s, &title) <= room)
        .ok_or_else(|| too_wide("the title", fonts.width_mm(Face::Bold, 10.0, &title), room))?;
    items.push(sheet::line(
        fonts,
        "title",
        Face::Bold,
        size,
        LEFT,
        52.0,
        &title,
    ));

    // The batch id as Code 128 (the letter's X-dimension and height), its text under it.
    let bars_y = 57.0;
    let bars = build::code128(
        "batch-code128",
        batch,
        LEFT,
        bars_y,
        room,
        CODE128_HEIGHT,
        CODE128_MODULE,
    )
    .map_err(barcode)?;
    items.push(sheet::modules("batch-code128", bars, Rgb::BLACK));
    let hw = fonts.width_mm(Face::Regular, 8.0, batch);
    items.push(sheet::line(
        fonts,
        "batch-text",
        Face::Regular,
        8.0,
        LEFT + (room - hw) / 2.0,
        bars_y + CODE128_HEIGHT + 3.2,
        batch,
    ));

    // Details, left; products table, right, from the same line.
    let top = 80.0;
    let details = [
        ("Produit", c.product.to_string()),
        ("Date de dépôt", c.dispatch_date_fr.to_string()),
        ("Lot clos le", c.closed_at.to_string()),
        ("Nombre de plis", thousands(c.pieces)),
        ("Poids total", weight(c.weight_g)),
    ];
    let value_room = PRODUCTS_X - 6.0 - VALUE_X;
    let mut labels = Vec::new();
    let mut values = Vec::new();
    let mut y = top;
    for (label, value) in &details {
        let w = fonts.width_mm(Face::Regular, DETAIL_PT, value);
        if w > value_room {
            return Err(too_wide(label, w, value_room));
        }
        labels.push(t(LEFT, y, label));
        values.push(t(VALUE_X, y, value));
        y += DETAIL_STEP;
    }
    let details_end = y - DETAIL_STEP;
    let products_end = products(c, fonts, top, &mut items)?;

    // The manifest's hash, across the page under both; in two halves if it does not fit.
    y = details_end.max(products_end) + DETAIL_STEP + 2.0;
    labels.push(t(LEFT, y, "SHA-256 du manifeste"));
    let hash_room = RIGHT - VALUE_X;
    let hash = c.manifest_sha256;
    let hash_lines = if fonts.width_mm(Face::Regular, 8.0, hash) <= hash_room {
        vec![t(VALUE_X, y, hash)]
    } else {
        vec![t(VALUE_X, y, &hash[..32]), t(VALUE_X, y + 3.8, &hash[32..])]
    };
    y = hash_lines.last().map_or(y, |l| l.1);
    items.push(sheet::text(fonts, "details-label", Face::Bold, 9.0, labels));
    items.push(sheet::text(
        fonts,
        "details-value",
        Face::Regular,
        DETAIL_PT,
        values,
    ));
    items.push(sheet::text(fonts, "sha256", Face::Regular, 8.0, hash_lines));

    // Pieces per département, in as many columns as it takes.
    departements(c, fonts, y + 11.0, &mut items)?;

    signature(fonts, &mut items);

    Ok(Scene {
        width_mm: PAGE_W,
        height_mm: PAGE_H,
        items,
    })
}

/// The cover sheet as a one-page PDF.
pub fn pdf(c: &Cover<'_>, fonts: &Fonts) -> Result<Vec<u8>, CoverError> {
    let scene = scene(c, fonts)?;
    Ok(pdf::proof(&[(&scene, None)])?)
}

/// Refuses a cover whose figures contradict each other: the agent counts trays against it.
fn check(c: &Cover<'_>) -> Result<(), CoverError> {
    let hash = c.manifest_sha256;
    if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(CoverError::Sha256 {
            batch: c.batch_id.to_string(),
            value: hash.to_string(),
        });
    }
    for (table, rows) in [
        ("products", c.by_product),
        ("départements", c.by_departement),
    ] {
        let sum: u64 = rows.iter().map(|r| r.1).sum();
        if sum != c.pieces {
            return Err(CoverError::Inconsistent {
                batch: c.batch_id.to_string(),
                table,
                sum,
                pieces: c.pieces,
            });
        }
    }
    Ok(())
}

/// The products table from baseline `top`, right of the details; returns its last baseline.
fn products(
    c: &Cover<'_>,
    fonts: &Fonts,
    top: f32,
    items: &mut Vec<Item>,
) -> Result<f32, CoverError> {
    let count_right = RIGHT;
    let name_room = count_right - PRODUCTS_X - 18.0;
    let mut names = vec![(PRODUCTS_X, top, "Produit".to_string())];
    let mut counts = vec![right(fonts, Face::Bold, TABLE_PT, count_right, top, "Plis")];
    let mut y = top + 1.5;
    items.push(rule(
        "products-rule",
        PRODUCTS_X,
        y,
        count_right - PRODUCTS_X,
    ));
    let mut body = Vec::new();
    let mut body_counts = Vec::new();
    for (product, n) in c.by_product {
        y += TABLE_STEP + 0.6;
        let w = fonts.width_mm(Face::Regular, TABLE_PT, product);
        if w > name_room {
            return Err(CoverError::TooWide {
                batch: c.batch_id.to_string(),
                what: format!("product {product:?}"),
                width_mm: w,
                room_mm: name_room,
            });
        }
        body.push((PRODUCTS_X, y, product.clone()));
        body_counts.push(right(
            fonts,
            Face::Regular,
            TABLE_PT,
            count_right,
            y,
            &thousands(*n),
        ));
    }
    y += 1.5;
    items.push(rule(
        "products-rule",
        PRODUCTS_X,
        y,
        count_right - PRODUCTS_X,
    ));
    y += TABLE_STEP + 0.6;
    names.push((PRODUCTS_X, y, "Total".to_string()));
    counts.push(right(
        fonts,
        Face::Bold,
        TABLE_PT,
        count_right,
        y,
        &thousands(c.pieces),
    ));
    items.push(sheet::text(
        fonts,
        "products-head",
        Face::Bold,
        TABLE_PT,
        names,
    ));
    items.push(sheet::text(
        fonts,
        "products-count-head",
        Face::Bold,
        TABLE_PT,
        counts,
    ));
    items.push(sheet::text(
        fonts,
        "products",
        Face::Regular,
        TABLE_PT,
        body,
    ));
    items.push(sheet::text(
        fonts,
        "products-count",
        Face::Regular,
        TABLE_PT,
        body_counts,
    ));
    Ok(y)
}

/// The départements table: a heading at baseline `top`, then columns filled top to bottom,
/// as many as the entries need and no more than the page's width holds, balanced in height.
fn departements(
    c: &Cover<'_>,
    fonts: &Fonts,
    top: f32,
    items: &mut Vec<Item>,
) -> Result<(), CoverError> {
    items.push(sheet::line(
        fonts,
        "departements-title",
        Face::Bold,
        10.0,
        LEFT,
        top,
        "Plis par département",
    ));
    let head_y = top + 6.0;
    let first = head_y + 1.5 + TABLE_STEP + 0.4;
    let last = SIGNATURE_BOX.1 - 6.0;
    let rows_room = ((last - first) / TABLE_STEP).floor() as usize + 1;
    let label_w = c
        .by_departement
        .iter()
        .map(|(d, _)| fonts.width_mm(Face::Regular, TABLE_PT, d))
        .fold(
            fonts.width_mm(Face::Bold, TABLE_PT, "Département"),
            f32::max,
        );
    let count_w = c
        .by_departement
        .iter()
        .map(|(_, n)| fonts.width_mm(Face::Regular, TABLE_PT, &thousands(*n)))
        .fold(fonts.width_mm(Face::Bold, TABLE_PT, "Plis"), f32::max);
    let column_w = label_w + COUNT_GAP + count_w;
    let columns_room = (((RIGHT - LEFT) + COLUMN_GAP) / (column_w + COLUMN_GAP)).floor() as usize;
    let n = c.by_departement.len();
    if n > rows_room * columns_room {
        return Err(CoverError::TooManyDepartements {
            batch: c.batch_id.to_string(),
            count: n,
            room: rows_room * columns_room,
        });
    }
    let columns = n.div_ceil(rows_room).max(1);
    let rows = n.div_ceil(columns).max(1);
    let mut heads = Vec::new();
    let mut labels = Vec::new();
    let mut counts = Vec::new();
    for col in 0..columns {
        let x = LEFT + col as f32 * (column_w + COLUMN_GAP);
        let count_right = x + column_w;
        heads.push((x, head_y, "Département".to_string()));
        heads.push(right(
            fonts,
            Face::Bold,
            TABLE_PT,
            count_right,
            head_y,
            "Plis",
        ));
        items.push(rule("departements-rule", x, head_y + 1.5, column_w));
        for (i, (d, count)) in c
            .by_departement
            .iter()
            .skip(col * rows)
            .take(rows)
            .enumerate()
        {
            let y = first + i as f32 * TABLE_STEP;
            labels.push((x, y, d.clone()));
            counts.push(right(
                fonts,
                Face::Regular,
                TABLE_PT,
                count_right,
                y,
                &thousands(*count),
            ));
        }
    }
    items.push(sheet::text(
        fonts,
        "departements-head",
        Face::Bold,
        TABLE_PT,
        heads,
    ));
    items.push(sheet::text(
        fonts,
        "departements",
        Face::Regular,
        TABLE_PT,
        labels,
    ));
    items.push(sheet::text(
        fonts,
        "departements-count",
        Face::Regular,
        TABLE_PT,
        counts,
    ));
    Ok(())
}

/// The box the agent of La Poste fills in: date, name, signature.
fn signature(fonts: &Fonts, items: &mut Vec<Item>) {
    let (bx, by, bw, bh) = SIGNATURE_BOX;
    items.push(Item {
        element: "signature-box".into(),
        layer: Layer::Personalisation,
        primitive: Primitive::Rect {
            x: bx,
            y: by,
            w: bw,
            h: bh,
            fill: None,
            stroke: Some((Rgb::BLACK, 0.3)),
            radius: 0.0,
        },
    });
    let size = 9.5;
    let y = by + 9.0;
    let mut x = bx + 4.0;
    let mut words = Vec::new();
    for (word, blank) in [("Remis à La Poste le", 32.0), ("par", 70.0)] {
        words.push((x, y, word.to_string()));
        x += fonts.width_mm(Face::Regular, size, word) + 2.0;
        items.push(rule("signature-blank", x, y + 0.8, blank));
        x += blank + 3.0;
    }
    items.push(sheet::text(
        fonts,
        "signature-text",
        Face::Regular,
        size,
        words,
    ));
    items.push(sheet::line(
        fonts,
        "signature-hint",
        Face::Regular,
        8.0,
        bx + 4.0,
        y + 7.0,
        "(signature)",
    ));
}

/// A thin grey rule of width `w`, `y` its top.
fn rule(element: &str, x: f32, y: f32, w: f32) -> Item {
    sheet::modules(element, vec![(x, y, w, 0.2)], GREY)
}

/// A line of text ending at `right_x` (numbers line up on their units).
fn right(
    fonts: &Fonts,
    face: Face,
    size: f32,
    right_x: f32,
    y: f32,
    s: &str,
) -> (f32, f32, String) {
    (right_x - fonts.width_mm(face, size, s), y, s.to_string())
}

/// `12345` as `12 345`, the French grouping (with a plain space, which every font has).
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(d);
    }
    out
}

/// `12345` g as `12 345 g (12,345 kg)`: grams for the manifest, kilograms for the agent.
fn weight(grams: u64) -> String {
    format!(
        "{} g ({},{:03} kg)",
        thousands(grams),
        thousands(grams / 1000),
        grams % 1000
    )
}

#[cfg(test)]
mod tests;
