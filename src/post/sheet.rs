//! What the post's A4 sheets (carrier letter, return coupon) are drawn with: positioned text
//! measured with the bundled fonts, and barcode modules — the same scene primitives as the
//! cards, so the same PDF renderer draws them.

use crate::render::fonts::Fonts;
use crate::render::scene::{Face, Item, Layer, Line, Primitive, Rgb};

/// A4 portrait.
pub const PAGE_W: f32 = 210.0;
pub const PAGE_H: f32 = 297.0;
/// Millimetres per point.
pub const MM_PER_PT: f32 = 25.4 / 72.0;

/// The bureau as sender, printed at the top of every sheet it posts or hands over: its name
/// (set in bold), then its service and postal address. One copy, so that a move of the bureau
/// changes every sheet.
pub const SENDER: [&str; 3] = [
    "Bureau des cartes CQC",
    "Service de production des cartes",
    "TSA 10001 — 75000 PARIS",
];

/// Black text lines, each given as (x, baseline, text) in mm.
pub fn text(
    fonts: &Fonts,
    element: &str,
    face: Face,
    size: f32,
    at: Vec<(f32, f32, String)>,
) -> Item {
    let lines = at
        .into_iter()
        .map(|(x_mm, baseline_mm, text)| Line {
            x_mm,
            baseline_mm,
            width_mm: fonts.width_mm(face, size, &text),
            text,
        })
        .collect();
    Item {
        element: element.to_string(),
        layer: Layer::Personalisation,
        primitive: Primitive::Text {
            face,
            size_pt: size,
            color: Rgb::BLACK,
            lines,
        },
    }
}

/// One line of black text.
pub fn line(fonts: &Fonts, element: &str, face: Face, size: f32, x: f32, y: f32, s: &str) -> Item {
    text(fonts, element, face, size, vec![(x, y, s.to_string())])
}

/// Dark barcode modules (from `render::build::code128` or `qr`) in `color`.
pub fn modules(element: &str, rects: Vec<(f32, f32, f32, f32)>, color: Rgb) -> Item {
    Item {
        element: element.to_string(),
        layer: Layer::Personalisation,
        primitive: Primitive::Modules { rects, color },
    }
}

/// Greedy word wrap at `width_mm`. Each word is measured once and the line's width kept as
/// a running sum (a word plus the space before it): measuring every candidate line from its
/// start made wrapping quadratic and cost a tenth of a letter. Kerning across the space is
/// left out of the sum, which DejaVu does not kern.
pub fn wrap(fonts: &Fonts, face: Face, size: f32, text: &str, width_mm: f32) -> Vec<String> {
    let space = fonts.width_mm(face, size, " ");
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut current_w = 0.0;
    for word in text.split_whitespace() {
        let w = fonts.width_mm(face, size, word);
        if current.is_empty() {
            current.push_str(word);
            current_w = w;
        } else if current_w + space + w > width_mm {
            lines.push(std::mem::replace(&mut current, word.to_string()));
            current_w = w;
        } else {
            current.push(' ');
            current.push_str(word);
            current_w += space + w;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}
