//! The return coupon sent with each card: the holder posts it back with a defective card, and
//! the quality desk scans its code to open a case (docs/post.md, "The return coupon").
//!
//! An A4 sheet: instructions on the top half, a cut line, and the detachable coupon on the
//! bottom half (99 mm × 190 mm): the coupon code as Code 128 and QR, the card it belongs to,
//! a checklist of defects to tick, and the quality desk's address.

use std::fmt;
use std::str::FromStr;

use crate::domain::card_number::CardNumber;
use crate::post::letter::{CODE128_HEIGHT, CODE128_MODULE, PAGE_H, PAGE_W, QR_MODULE};
use crate::post::sheet;
use crate::render::build::{self, BuildError};
use crate::render::fonts::Fonts;
use crate::render::pdf::{self, PdfError};
use crate::render::scene::{Face, Item, Layer, Primitive, Rgb, Scene};

/// The code on a coupon: `RC` and the number of the card it came with. A card number is given
/// once, so the code names one card; a replacement card comes with its own coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CouponCode(CardNumber);

/// The prefix that tells a coupon from a piece id or a card number at the scanner.
pub const PREFIX: &str = "RC";

impl CouponCode {
    pub fn for_card(card: CardNumber) -> CouponCode {
        CouponCode(card)
    }

    pub fn card(&self) -> CardNumber {
        self.0
    }
}

impl fmt::Display for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponCodeError {
    #[error("{0:?} is not a return coupon code: it starts with RC")]
    Prefix(String),
    #[error("{code:?}: {detail}")]
    CardNumber { code: String, detail: String },
}

impl FromStr for CouponCode {
    type Err = CouponCodeError;

    fn from_str(s: &str) -> Result<CouponCode, CouponCodeError> {
        let rest = s
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| CouponCodeError::Prefix(s.to_string()))?;
        CardNumber::parse(rest)
            .map(CouponCode)
            .map_err(|e| CouponCodeError::CardNumber {
                code: s.to_string(),
                detail: e.to_string(),
            })
    }
}

/// The defects a holder can tick, in the order printed; the quality desk records each one
/// declared (with the cause codes of the returns issue).
pub const DEFECTS: [&str; 6] = [
    "Une information est fausse (nom, prénoms, date ou lieu de naissance, catégories)",
    "La photo ou la signature n'est pas la mienne ou est mal reproduite",
    "L'impression est défectueuse, effacée ou illisible",
    "La carte est abîmée (pliée, fendue, pelliculage décollé)",
    "La puce ne fonctionne pas (refusée par un lecteur ou un contrôle)",
    "Autre défaut (précisez) :",
];

/// The quality desk, where coupons and cards come back.
pub const RETURN_ADDRESS: [&str; 4] = [
    "BUREAU DES CARTES CQC",
    "SERVICE QUALITE",
    "TSA 10002",
    "75000 PARIS",
];

/// What one coupon says.
#[derive(Debug, Clone)]
pub struct Coupon<'a> {
    pub code: CouponCode,
    /// The holder's name as on the card (so the desk can check coupon and card belong).
    pub holder: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum CouponError {
    #[error("return coupon {code}: {source}")]
    Barcode {
        code: String,
        #[source]
        source: BuildError,
    },
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// Where the coupon starts: the cut line, at half the page.
pub const CUT_Y: f32 = 148.5;

/// The sheet as a scene.
pub fn scene(c: &Coupon<'_>, fonts: &Fonts) -> Result<Scene, CouponError> {
    let code = c.code.to_string();
    let mut items = Vec::new();
    let t = |x: f32, y: f32, s: &str| (x, y, s.to_string());

    // Instructions, top half.
    items.push(sheet::text(
        fonts,
        "title",
        Face::Bold,
        12.0,
        vec![t(
            20.0,
            25.0,
            "Votre carte CQC est défectueuse ? Renvoyez-la-nous",
        )],
    ));
    items.push(sheet::text(
        fonts,
        "instructions",
        Face::Regular,
        9.5,
        vec![
            t(20.0, 36.0, "1. Cochez sur le coupon ci-dessous le ou les défauts constatés."),
            t(20.0, 42.0, "2. Découpez le coupon le long du pointillé."),
            t(
                20.0,
                48.0,
                "3. Glissez le coupon et la carte dans une enveloppe, sans agrafe ni ruban adhésif sur la carte.",
            ),
            t(20.0, 54.0, "4. Envoyez l'enveloppe à l'adresse imprimée sur le coupon."),
            t(
                20.0,
                66.0,
                "Chaque carte retournée est analysée. Si le défaut vient de la fabrication ou si les données",
            ),
            t(
                20.0,
                71.5,
                "diffèrent de votre demande validée, une nouvelle carte vous est envoyée sans frais.",
            ),
            t(
                20.0,
                77.0,
                "Si les données imprimées sont celles que vous avez déclarées, ou si la carte a été abîmée à",
            ),
            t(
                20.0,
                82.5,
                "l'usage, le portail vous proposera de corriger votre demande et de régler la nouvelle carte.",
            ),
            t(
                20.0,
                94.0,
                "Ne renvoyez pas une carte perdue ou volée : déclarez la perte ou le vol sur le portail.",
            ),
        ],
    ));

    // The cut line: dashes across the page.
    let dashes: Vec<(f32, f32, f32, f32)> = (0..)
        .map(|i| 8.0 + i as f32 * 4.0)
        .take_while(|x| *x + 2.0 <= PAGE_W - 8.0)
        .map(|x| (x, CUT_Y - 0.15, 2.0, 0.3))
        .collect();
    items.push(sheet::modules("cut-line", dashes, Rgb(120, 120, 120)));
    items.push(sheet::text(
        fonts,
        "cut-hint",
        Face::Regular,
        7.0,
        vec![t(8.0, CUT_Y - 2.0, "✂ découper ici")],
    ));

    // The coupon, bottom half.
    let top = CUT_Y + 10.0;
    items.push(sheet::text(
        fonts,
        "coupon-title",
        Face::Bold,
        11.0,
        vec![t(
            20.0,
            top + 4.0,
            "Coupon-réponse — retour d'une carte CQC",
        )],
    ));
    let bars = build::code128(
        "coupon-code128",
        &code,
        20.0,
        top + 9.0,
        110.0,
        CODE128_HEIGHT,
        CODE128_MODULE,
    )
    .map_err(|source| CouponError::Barcode {
        code: code.clone(),
        source,
    })?;
    items.push(sheet::modules("coupon-code128", bars, Rgb::BLACK));
    let card = c.code.card().to_string();
    items.push(sheet::text(
        fonts,
        "coupon-text",
        Face::Regular,
        8.0,
        vec![
            t(
                20.0,
                top + 9.0 + CODE128_HEIGHT + 3.5,
                &format!("Référence : {code}"),
            ),
            t(
                20.0,
                top + 9.0 + CODE128_HEIGHT + 8.0,
                &format!("Carte n° {card} — {}", c.holder),
            ),
        ],
    ));
    let qr =
        build::qr("coupon-qr", &code, 160.0, top, 32.0, 32.0, QR_MODULE).map_err(|source| {
            CouponError::Barcode {
                code: code.clone(),
                source,
            }
        })?;
    items.push(sheet::modules("coupon-qr", qr, Rgb::BLACK));

    // The checklist: a box to tick per defect.
    let mut y = top + 40.0;
    let mut boxes = Vec::new();
    let mut labels = Vec::new();
    for defect in DEFECTS {
        boxes.push(Item {
            element: "checkbox".into(),
            layer: Layer::Personalisation,
            primitive: Primitive::Rect {
                x: 20.0,
                y: y - 3.5,
                w: 4.0,
                h: 4.0,
                fill: None,
                stroke: Some((Rgb::BLACK, 0.3)),
                radius: 0.0,
            },
        });
        labels.push(t(27.0, y, defect));
        y += 7.5;
    }
    items.extend(boxes);
    items.push(sheet::text(fonts, "checklist", Face::Regular, 9.0, labels));
    // A line to write on after "Autre défaut".
    items.push(Item {
        element: "other-line".into(),
        layer: Layer::Personalisation,
        primitive: Primitive::Rect {
            x: 27.0,
            y: y + 1.0,
            w: 160.0,
            h: 0.2,
            fill: Some(Rgb(120, 120, 120)),
            stroke: None,
            radius: 0.0,
        },
    });

    // Where to send it.
    let ay = y + 12.0;
    items.push(sheet::text(
        fonts,
        "return-label",
        Face::Bold,
        9.0,
        vec![t(20.0, ay, "À renvoyer avec la carte à :")],
    ));
    items.push(sheet::text(
        fonts,
        "return-address",
        Face::Regular,
        10.0,
        RETURN_ADDRESS
            .iter()
            .enumerate()
            .map(|(i, l)| t(20.0, ay + 6.0 + i as f32 * 4.5, l))
            .collect(),
    ));

    Ok(Scene {
        width_mm: PAGE_W,
        height_mm: PAGE_H,
        items,
    })
}

/// The coupon sheet as a one-page PDF.
pub fn pdf(c: &Coupon<'_>, fonts: &Fonts) -> Result<Vec<u8>, CouponError> {
    let scene = scene(c, fonts)?;
    Ok(pdf::proof(&[(&scene, None)])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupon_codes_round_trip_and_refuse_what_is_not_one() {
        let card = CardNumber::parse("F0000000600G").expect("card number");
        let code = CouponCode::for_card(card);
        assert_eq!(code.to_string(), "RCF0000000600G");
        assert_eq!("RCF0000000600G".parse::<CouponCode>(), Ok(code));
        assert!(matches!(
            "EE471108151FR".parse::<CouponCode>(),
            Err(CouponCodeError::Prefix(_))
        ));
        // A wrong check character in the card number part.
        assert!(matches!(
            "RCF0000000600X".parse::<CouponCode>(),
            Err(CouponCodeError::CardNumber { .. })
        ));
    }

    #[test]
    fn the_coupon_stays_below_the_cut_line_and_on_the_page() {
        let card = CardNumber::parse("F0000000600G").expect("card number");
        let coupon = Coupon {
            code: CouponCode::for_card(card),
            holder: "ZOLTÁN KŐVÁRI",
        };
        let scene = scene(&coupon, crate::render::fonts::fonts().expect("fonts")).expect("scene");
        for item in &scene.items {
            let coupon_part = item.element.starts_with("coupon")
                || item.element.starts_with("check")
                || item.element.starts_with("return");
            let ys: Vec<f32> = match &item.primitive {
                Primitive::Text { lines, .. } => lines.iter().map(|l| l.baseline_mm).collect(),
                Primitive::Modules { rects, .. } => {
                    rects.iter().flat_map(|r| [r.1, r.1 + r.3]).collect()
                }
                Primitive::Rect { y, h, .. } => vec![*y, y + h],
                _ => Vec::new(),
            };
            for y in ys {
                assert!(y <= PAGE_H - 10.0, "{} at {y}", item.element);
                if coupon_part {
                    assert!(y > CUT_Y + 5.0, "{} above the cut at {y}", item.element);
                }
            }
        }
    }
}
