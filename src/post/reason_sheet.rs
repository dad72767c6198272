//! The reason sheet of the mailroom: one A4 page, laminated at the bench, with a Code 128 for
//! each PND reason code (src/post/pnd.rs). The clerk scans the reason ticked on La Poste's
//! label from it, then the pieces: no typing, and the scanner's own framing applies.

use crate::post::letter::{CODE128_HEIGHT, CODE128_MODULE};
use crate::post::pnd::ReturnReason;
use crate::post::sheet::{self, PAGE_H, PAGE_W};
use crate::render::build::{self, BuildError};
use crate::render::fonts::Fonts;
use crate::render::pdf::{self, PdfError};
use crate::render::scene::{Face, Rgb, Scene};

const LEFT: f32 = 20.0;
/// Where each code starts, right of its label.
const CODE_X: f32 = 110.0;
/// Room for a code: the longest (PND-NONRECLAME) needs ~70 mm with its quiet zones.
const CODE_W: f32 = 85.0;
const FIRST_ROW: f32 = 52.0;
const ROW_STEP: f32 = 31.0;

#[derive(Debug, thiserror::Error)]
pub enum ReasonSheetError {
    #[error("reason sheet: {0}")]
    Barcode(#[from] BuildError),
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// The page.
pub fn scene(fonts: &Fonts) -> Result<Scene, ReasonSheetError> {
    let mut items = vec![
        sheet::line(
            fonts,
            "title",
            Face::Bold,
            14.0,
            LEFT,
            25.0,
            "Courrier retour — feuille des motifs (plis non distribués)",
        ),
        sheet::text(
            fonts,
            "instructions",
            Face::Regular,
            9.5,
            vec![
                (LEFT, 33.0, "Scannez le motif coché sur l'étiquette de La Poste, puis chaque pli de ce motif.".to_string()),
                (LEFT, 38.0, "Le motif reste en vigueur, affiché à chaque réponse, jusqu'au scan d'un autre motif.".to_string()),
            ],
        ),
    ];
    for (i, reason) in ReturnReason::ALL.iter().enumerate() {
        let y = FIRST_ROW + ROW_STEP * i as f32;
        let code = reason.scan_code();
        items.push(sheet::line(
            fonts,
            &format!("label-{i}"),
            Face::Bold,
            10.5,
            LEFT,
            y + 4.5,
            reason.label_fr(),
        ));
        items.push(sheet::line(
            fonts,
            &format!("name-{i}"),
            Face::Regular,
            8.0,
            LEFT,
            y + 9.5,
            &format!("code enregistré : {}", reason.as_str()),
        ));
        let bars = build::code128(
            &format!("code-{i}"),
            code,
            CODE_X,
            y,
            CODE_W,
            CODE128_HEIGHT,
            CODE128_MODULE,
        )?;
        items.push(sheet::modules(&format!("code-{i}"), bars, Rgb::BLACK));
        items.push(sheet::line(
            fonts,
            &format!("code-text-{i}"),
            Face::Regular,
            8.0,
            CODE_X + (CODE_W - fonts.width_mm(Face::Regular, 8.0, code)) / 2.0,
            y + CODE128_HEIGHT + 3.5,
            code,
        ));
    }
    Ok(Scene {
        width_mm: PAGE_W,
        height_mm: PAGE_H,
        items,
    })
}

/// The page as a one-page PDF.
pub fn pdf(fonts: &Fonts) -> Result<Vec<u8>, ReasonSheetError> {
    let scene = scene(fonts)?;
    Ok(pdf::proof(&[(&scene, None)])?)
}
