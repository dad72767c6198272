//! The carrier letter: an A4 sheet, in French, that carries the card to its holder in a
//! window envelope (docs/post.md, "The carrier letter").
//!
//! Designed for a DL window envelope (110 × 220 mm) whose window is 100 × 45 mm, 20 mm from
//! the left edge and 15 mm from the bottom, with the sheet folded in three (thirds of 99 mm),
//! the top third facing the window. The window then shows the sheet's rectangle x 20-120 mm,
//! y 50-95 mm; everything the post reads sits 4 mm inside it, so the 3 mm play of a sheet in
//! its envelope never hides a character: the piece id as Code 128 (what the mailroom scans
//! when the piece comes back) and the NF Z10-011 address block.

use crate::post::s10::S10Id;
use crate::post::sheet::{self, MM_PER_PT};
use crate::render::build::{self, BuildError};
use crate::render::fonts::Fonts;
use crate::render::pdf::{self, PdfError};
use crate::render::scene::{Face, Item, Layer, Primitive, Rgb, Scene};

pub use crate::post::sheet::{PAGE_H, PAGE_W};

/// The envelope window on the folded sheet (x, y, w, h), in mm from the sheet's top left.
pub const WINDOW: (f32, f32, f32, f32) = (20.0, 50.0, 100.0, 45.0);
/// Kept clear inside the window's edges: the sheet moves about 3 mm in its envelope.
pub const WINDOW_MARGIN: f32 = 4.0;

/// Code 128 X-dimension and bar height (domain.md §5: 0.25-0.51 mm, at least 9 mm).
pub const CODE128_MODULE: f32 = 0.33;
pub const CODE128_HEIGHT: f32 = 9.5;
/// QR module size: 0.6 mm reads at arm's length with a handheld scanner.
pub const QR_MODULE: f32 = 0.6;

/// Text size of the address block (NF Z10-011 asks for a legible, left-aligned block); a
/// seven-line foreign address gets a little less, so that it stays inside the window.
const ADDRESS_PT: f32 = 9.0;

const BODY_PT: f32 = 9.5;

/// Where the card is glued: its outline on the bottom third (ID-1, 85.60 × 53.98 mm).
pub const CARD_ZONE: (f32, f32, f32, f32) = (62.2, 215.0, 85.6, 53.98);

/// What one carrier letter says.
#[derive(Debug, Clone)]
pub struct Carrier<'a> {
    pub piece: S10Id,
    pub card_number: &'a str,
    /// The NF Z10-011 block as posted, one line per entry (`PostalAddress::lines`, or the
    /// snapshot kept with the mail piece).
    pub address: &'a [String],
    /// "26 novembre 2026": the date printed under the bureau's name.
    pub date_fr: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("carrier letter of piece {piece}: {source}")]
    Barcode {
        piece: String,
        #[source]
        source: BuildError,
    },
    #[error(
        "carrier letter of piece {piece}: address line {line:?} is wider than the window ({width_mm:.1} mm > {room_mm:.1} mm)"
    )]
    AddressTooWide {
        piece: String,
        line: String,
        width_mm: f32,
        room_mm: f32,
    },
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// The letter as a scene (the same primitives the card renderers draw).
pub fn scene(c: &Carrier<'_>, fonts: &Fonts) -> Result<Scene, LetterError> {
    let piece = c.piece.to_string();
    let mut items = Vec::new();
    let t = |x: f32, y: f32, s: &str| (x, y, s.to_string());

    // Sender, top left (above the window: the post never reads it through the envelope).
    items.push(sheet::line(
        fonts,
        "sender",
        Face::Bold,
        9.0,
        20.0,
        18.0,
        sheet::SENDER[0],
    ));
    items.push(sheet::text(
        fonts,
        "sender-detail",
        Face::Regular,
        8.0,
        vec![
            t(20.0, 22.5, sheet::SENDER[1]),
            t(20.0, 26.5, sheet::SENDER[2]),
            t(20.0, 32.0, c.date_fr),
        ],
    ));

    // The piece id through the window: Code 128 at the top of the window, its text below.
    let (wx, wy, ww, wh) = WINDOW;
    let (ix, iy, iw) = (
        wx + WINDOW_MARGIN,
        wy + WINDOW_MARGIN,
        ww - 2.0 * WINDOW_MARGIN,
    );
    let bars = build::code128(
        "piece-code128",
        &piece,
        ix,
        iy,
        iw,
        CODE128_HEIGHT,
        CODE128_MODULE,
    )
    .map_err(|source| LetterError::Barcode {
        piece: piece.clone(),
        source,
    })?;
    items.push(sheet::modules("piece-code128", bars, Rgb::BLACK));
    let human = spaced(&piece);
    let hw = fonts.width_mm(Face::Regular, 7.0, &human);
    items.push(sheet::line(
        fonts,
        "piece-text",
        Face::Regular,
        7.0,
        ix + (iw - hw) / 2.0,
        iy + CODE128_HEIGHT + 2.6,
        &human,
    ));

    // The address block, left aligned, under the barcode, inside the window.
    let first = iy + CODE128_HEIGHT + 2.6 + 1.5 + ADDRESS_PT * MM_PER_PT;
    let last_allowed = wy + wh - WINDOW_MARGIN - 1.0;
    let n = c.address.len().max(1);
    let step = if n > 1 {
        (ADDRESS_PT * MM_PER_PT * 1.2).min((last_allowed - first) / (n - 1) as f32)
    } else {
        0.0
    };
    let size = if n > 1 {
        ADDRESS_PT.min(step / (MM_PER_PT * 1.12))
    } else {
        ADDRESS_PT
    };
    let mut baseline = first;
    let mut lines = Vec::new();
    for l in c.address {
        let width = fonts.width_mm(Face::Regular, size, l);
        if width > iw {
            return Err(LetterError::AddressTooWide {
                piece,
                line: l.clone(),
                width_mm: width,
                room_mm: iw,
            });
        }
        lines.push((ix, baseline, l.clone()));
        baseline += step;
    }
    items.push(sheet::text(fonts, "address", Face::Regular, size, lines));

    // The piece id again as a QR code, top right, for a phone or a 2D scanner.
    let qr =
        build::qr("piece-qr", &piece, 168.0, 12.0, 30.0, 30.0, QR_MODULE).map_err(|source| {
            LetterError::Barcode {
                piece: piece.clone(),
                source,
            }
        })?;
    items.push(sheet::modules("piece-qr", qr, Rgb::BLACK));

    // The letter, in the middle third.
    let mut y = 110.0;
    items.push(sheet::line(
        fonts,
        "title",
        Face::Bold,
        12.0,
        20.0,
        y,
        "Votre carte de qualification de conducteur (CQC)",
    ));
    y += 8.0;
    let body = [
        format!(
            "Vous trouverez ci-dessous votre carte de qualification de conducteur n° {}. Elle atteste \
             votre qualification initiale ou votre formation continue (directive 2003/59/CE) ; \
             gardez-la sur vous lorsque vous conduisez.",
            c.card_number
        ),
        "Vérifiez dès maintenant votre nom, vos prénoms, votre date de naissance, votre photo et les \
         catégories inscrites au verso. Si une information est fausse ou si la carte est abîmée, ne \
         la modifiez pas : renvoyez-la avec le coupon-réponse joint, après avoir coché le défaut \
         constaté, à l'adresse indiquée sur le coupon. Nous analysons chaque retour ; si l'erreur \
         vient de nous, une nouvelle carte vous est envoyée sans frais."
            .to_string(),
        "En cas de perte ou de vol, déclarez-le sur le portail où vous avez fait votre demande : \
         l'ancienne carte sera invalidée avant qu'une nouvelle soit fabriquée."
            .to_string(),
        format!("Référence de l'envoi : {}.", spaced(&piece)),
    ];
    let step = BODY_PT * MM_PER_PT * 1.35;
    for paragraph in &body {
        let mut lines = Vec::new();
        for l in sheet::wrap(fonts, Face::Regular, BODY_PT, paragraph, PAGE_W - 40.0) {
            lines.push((20.0, y, l));
            y += step;
        }
        items.push(sheet::text(fonts, "body", Face::Regular, BODY_PT, lines));
        y += step * 0.6;
    }

    // Where the card goes.
    let (cx, cy, cw, ch) = CARD_ZONE;
    items.push(Item {
        element: "card-zone".into(),
        layer: Layer::Personalisation,
        primitive: Primitive::Rect {
            x: cx,
            y: cy,
            w: cw,
            h: ch,
            fill: None,
            stroke: Some((Rgb(150, 150, 150), 0.3)),
            radius: 3.18,
        },
    });
    let hint = "Emplacement de la carte";
    let hw = fonts.width_mm(Face::Regular, 8.0, hint);
    items.push(sheet::line(
        fonts,
        "card-zone-hint",
        Face::Regular,
        8.0,
        cx + (cw - hw) / 2.0,
        cy - 2.0,
        hint,
    ));

    Ok(Scene {
        width_mm: PAGE_W,
        height_mm: PAGE_H,
        items,
    })
}

/// The letter as a one-page PDF.
pub fn pdf(c: &Carrier<'_>, fonts: &Fonts) -> Result<Vec<u8>, LetterError> {
    let scene = scene(c, fonts)?;
    Ok(pdf::proof(&[(&scene, None)])?)
}

/// An S10 id grouped as the post prints it: `LA 4711 0815 1 FR`.
pub fn spaced(id: &str) -> String {
    if id.len() != 13 || !id.is_ascii() {
        return id.to_string();
    }
    format!(
        "{} {} {} {} {}",
        &id[0..2],
        &id[2..6],
        &id[6..10],
        &id[10..11],
        &id[11..13]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::address::{AddressInput, PostalAddress, format};
    use crate::render::fonts;

    fn block(a: &PostalAddress) -> Vec<String> {
        a.lines().iter().map(|l| l.text.clone()).collect()
    }

    fn address() -> Vec<String> {
        block(
            &format(&AddressInput {
                recipient: "Zoltán Kővári".into(),
                street: Some("12 rue des Lilas".into()),
                postcode: "69003".into(),
                city: "Lyon".into(),
                country: "FR".into(),
                ..Default::default()
            })
            .expect("address"),
        )
    }

    fn carrier(address: &[String]) -> Carrier<'_> {
        Carrier {
            piece: "LA471108151FR".parse().expect("id"),
            card_number: "F0000000600W",
            address,
            date_fr: "Paris, le 26 novembre 2026",
        }
    }

    fn rects(scene: &Scene, element: &str) -> Vec<(f32, f32, f32, f32)> {
        scene
            .items
            .iter()
            .filter(|i| i.element == element)
            .flat_map(|i| match &i.primitive {
                Primitive::Modules { rects, .. } => rects.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn what_the_post_reads_is_inside_the_window_with_its_margin() {
        let a = address();
        let scene = scene(&carrier(&a), fonts::fonts().expect("fonts")).expect("scene");
        let (wx, wy, ww, wh) = WINDOW;
        let inside = |x: f32, y: f32| {
            x >= wx + WINDOW_MARGIN - 1e-3
                && x <= wx + ww - WINDOW_MARGIN + 1e-3
                && y >= wy + WINDOW_MARGIN - 1e-3
                && y <= wy + wh - WINDOW_MARGIN + 1e-3
        };
        let bars = rects(&scene, "piece-code128");
        assert!(!bars.is_empty());
        for (x, y, w, h) in &bars {
            assert!(inside(*x, *y) && inside(x + w, y + h), "bar at {x},{y}");
            assert!((h - CODE128_HEIGHT).abs() < 1e-3);
        }
        // Quiet zones: 10 modules clear of the window margin on both sides.
        let left = bars.iter().map(|b| b.0).fold(f32::MAX, f32::min);
        let right = bars.iter().map(|b| b.0 + b.2).fold(f32::MIN, f32::max);
        assert!(left - (wx + WINDOW_MARGIN) >= 10.0 * CODE128_MODULE - 1e-3);
        assert!((wx + ww - WINDOW_MARGIN) - right >= 10.0 * CODE128_MODULE - 1e-3);
        let address = scene
            .items
            .iter()
            .find(|i| i.element == "address")
            .expect("address");
        let Primitive::Text { lines, .. } = &address.primitive else {
            panic!("text")
        };
        assert_eq!(lines.len(), a.len());
        for l in lines {
            assert!(inside(l.x_mm, l.baseline_mm), "{l:?}");
            assert!(inside(l.x_mm + l.width_mm, l.baseline_mm - 3.0), "{l:?}");
        }
    }

    #[test]
    fn a_seven_line_foreign_address_still_fits_the_window() {
        let a = format(&AddressInput {
            recipient: "Maria Kowalska".into(),
            delivery_point: Some("Mieszkanie 4".into()),
            building: Some("Osiedle Słoneczne".into()),
            street: Some("ul. Długa 15".into()),
            locality: Some("Śródmieście".into()),
            postcode: "00-950".into(),
            city: "Warszawa".into(),
            country: "PL".into(),
            ..Default::default()
        })
        .expect("address");
        assert_eq!(a.lines().len(), 7, "{a:?}");
        let a = block(&a);
        let scene = scene(&carrier(&a), fonts::fonts().expect("fonts")).expect("scene");
        let address = scene
            .items
            .iter()
            .find(|i| i.element == "address")
            .expect("address");
        let Primitive::Text { lines, size_pt, .. } = &address.primitive else {
            panic!("text")
        };
        let (_, wy, _, wh) = WINDOW;
        let last = lines.last().expect("lines");
        assert!(
            last.baseline_mm <= wy + wh - WINDOW_MARGIN - 0.9,
            "{last:?}"
        );
        assert!(*size_pt >= 7.5, "still legible: {size_pt} pt");
    }

    #[test]
    fn ids_are_grouped_as_the_post_prints_them() {
        assert_eq!(spaced("LA471108151FR"), "LA 4711 0815 1 FR");
    }
}
