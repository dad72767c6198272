//! The bundled fonts: DejaVu Sans Condensed, regular and bold (`layouts/fonts/`, licence
//! beside them), embedded in the binary so that every station renders the same glyphs.
//!
//! [`Fonts`] holds both faces parsed once, with the vertical metrics the layout needs, and
//! measures text exactly as the rasteriser (`glyphs.rs`) places it: the fitting rule
//! (`fit.rs`) decides on these widths, so a width measured here and the ink drawn there must
//! agree, or a name judged to fit would overflow its box on the card.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId};

use super::scene::{Face, PT_PER_MM};

/// DejaVu Sans Condensed 2.37.
pub const REGULAR: &[u8] = include_bytes!("../../layouts/fonts/DejaVuSansCondensed.ttf");
/// DejaVu Sans Condensed Bold 2.37.
pub const BOLD: &[u8] = include_bytes!("../../layouts/fonts/DejaVuSansCondensed-Bold.ttf");

/// The font file of a face.
pub fn bytes(face: Face) -> &'static [u8] {
    match face {
        Face::Regular => REGULAR,
        Face::Bold => BOLD,
    }
}

/// Why the embedded fonts could not be used. The files are compiled in, so this only happens
/// if someone replaces them with a broken or unsuitable file; it is still an error rather
/// than a panic so that a service reports it instead of dying mid-batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FontError {
    /// The file is not a font ab_glyph can parse.
    #[error("embedded font {face:?} cannot be parsed")]
    Invalid {
        face: Face,
        #[source]
        source: ab_glyph::InvalidFont,
    },
    /// The font declares no usable units-per-em, so nothing can be scaled.
    #[error("embedded font {face:?} has no usable units per em")]
    NoUnitsPerEm { face: Face },
    /// Neither an OS/2 cap height nor a capital H to measure it from.
    #[error("embedded font {face:?} has neither an OS/2 cap height nor a glyph for 'H'")]
    NoCapHeight { face: Face },
}

/// One parsed face and the metrics read once from it (font units).
#[derive(Debug)]
struct FaceMetrics {
    font: FontRef<'static>,
    units_per_em: f32,
    /// Above the baseline (positive).
    ascent: f32,
    /// Below the baseline (positive, unlike the font's own sign convention).
    descent: f32,
    line_gap: f32,
    cap_height: f32,
}

impl FaceMetrics {
    fn load(face: Face) -> Result<Self, FontError> {
        let data = bytes(face);
        let font =
            FontRef::try_from_slice(data).map_err(|source| FontError::Invalid { face, source })?;
        let units_per_em = font
            .units_per_em()
            .filter(|u| *u > 0.0)
            .ok_or(FontError::NoUnitsPerEm { face })?;
        let cap_height = match os2_cap_height(data) {
            Some(c) if c > 0 => f32::from(c),
            // OS/2 tables before version 2 (DejaVu 2.37 ships version 1) carry no cap height:
            // the top of the outline of 'H' is what the value would have said.
            _ => {
                let id = font.glyph_id('H');
                let outline = (id.0 != 0)
                    .then(|| font.outline(id))
                    .flatten()
                    .ok_or(FontError::NoCapHeight { face })?;
                // ab_glyph stores the unscaled box with `min.y` = the font's yMax.
                outline.bounds.min.y
            }
        };
        Ok(Self {
            ascent: font.ascent_unscaled(),
            descent: -font.descent_unscaled(),
            line_gap: font.line_gap_unscaled(),
            units_per_em,
            cap_height,
            font,
        })
    }
}

/// `sCapHeight` of the OS/2 table (version 2 and later), read straight from the file because
/// ab_glyph does not expose it. `None` when the table is absent, older, or truncated.
fn os2_cap_height(data: &[u8]) -> Option<i16> {
    let be16 = |at: usize| -> Option<u16> {
        let b = data.get(at..at.checked_add(2)?)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    };
    let be32 = |at: usize| -> Option<u32> {
        let b = data.get(at..at.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let tables = usize::from(be16(4)?);
    let (offset, length) = (0..tables).find_map(|i| {
        let record = 12 + 16 * i;
        (data.get(record..record + 4)? == b"OS/2")
            .then(|| Some((be32(record + 8)? as usize, be32(record + 12)? as usize)))
            .flatten()
    })?;
    if be16(offset)? < 2 || length < 90 {
        return None;
    }
    be16(offset.checked_add(88)?).map(|v| v as i16)
}

/// Both bundled faces, parsed once. Cheap to share: it only borrows the embedded bytes.
#[derive(Debug)]
pub struct Fonts {
    regular: FaceMetrics,
    bold: FaceMetrics,
}

/// The process-wide fonts, parsed on first use. The result (success or failure) is kept, so
/// a broken font is reported on every call rather than re-parsed.
pub fn fonts() -> Result<&'static Fonts, FontError> {
    static FONTS: OnceLock<Result<Fonts, FontError>> = OnceLock::new();
    FONTS
        .get_or_init(Fonts::load)
        .as_ref()
        .map_err(Clone::clone)
}

impl Fonts {
    /// Parses both embedded faces. Prefer [`fonts()`], which does it once per process.
    pub fn load() -> Result<Self, FontError> {
        Ok(Self {
            regular: FaceMetrics::load(Face::Regular)?,
            bold: FaceMetrics::load(Face::Bold)?,
        })
    }

    fn metrics(&self, face: Face) -> &FaceMetrics {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
        }
    }

    /// The parsed font, for the rasteriser.
    pub fn font(&self, face: Face) -> &FontRef<'static> {
        &self.metrics(face).font
    }

    /// Font units per em of a face (2048 for DejaVu).
    pub fn units_per_em(&self, face: Face) -> f32 {
        self.metrics(face).units_per_em
    }

    /// The first character of `text` the face has no glyph for (it would print as the empty
    /// ".notdef" box), so that the error shown to an operator can name it. The ordinary
    /// space is never reported: it is drawn as an advance only.
    pub fn missing_char(&self, face: Face, text: &str) -> Option<char> {
        let font = self.font(face);
        text.chars().find(|&c| c != ' ' && font.glyph_id(c).0 == 0)
    }

    /// Lays `text` out on one line: calls `place(glyph, pen_x)` for each character, with the
    /// pen position of its origin in font units, and returns the total advance. Advances and
    /// pair kerning (`kern` table, as ab_glyph reads it) are summed in this one place, used
    /// both to measure (fitting) and to draw (the rasteriser), so the width the fitting rule
    /// trusts is the width that is printed. No shaping: a DejaVu glyph per character, which
    /// is right for the precomposed (NFC) Latin, Greek and Cyrillic of names.
    pub fn layout(&self, face: Face, text: &str, mut place: impl FnMut(GlyphId, f32)) -> f32 {
        let font = self.font(face);
        let mut pen = 0.0;
        let mut previous: Option<GlyphId> = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                pen += font.kern_unscaled(p, id);
            }
            place(id, pen);
            pen += font.h_advance_unscaled(id);
            previous = Some(id);
        }
        pen
    }

    /// Width of `text` in font units (advances plus kerning, see [`Fonts::layout`]). Font
    /// units are integers, so these sums are exact in `f32` and independent of order.
    pub fn width_units(&self, face: Face, text: &str) -> f32 {
        self.layout(face, text, |_, _| {})
    }

    /// Millimetres per font unit at `size_pt`.
    pub fn mm_per_unit(&self, face: Face, size_pt: f32) -> f32 {
        size_pt / PT_PER_MM / self.metrics(face).units_per_em
    }

    /// Width of `text` set on one line at `size_pt`, in millimetres (1 pt = 25.4/72 mm).
    pub fn width_mm(&self, face: Face, size_pt: f32, text: &str) -> f32 {
        self.width_units(face, text) * self.mm_per_unit(face, size_pt)
    }

    /// Height above the baseline reserved for the tallest glyphs (accented capitals), mm.
    pub fn ascent_mm(&self, face: Face, size_pt: f32) -> f32 {
        self.metrics(face).ascent * self.mm_per_unit(face, size_pt)
    }

    /// Depth below the baseline reserved for descenders, in mm, as a positive number (the
    /// card's coordinates grow downwards, so a positive depth is added to the baseline).
    pub fn descent_mm(&self, face: Face, size_pt: f32) -> f32 {
        self.metrics(face).descent * self.mm_per_unit(face, size_pt)
    }

    /// Extra space the font asks for between lines, mm (0 for DejaVu's `hhea`).
    pub fn line_gap_mm(&self, face: Face, size_pt: f32) -> f32 {
        self.metrics(face).line_gap * self.mm_per_unit(face, size_pt)
    }

    /// Height of flat capitals above the baseline, mm: what a designer aligns a field's text
    /// on, and what a reader perceives as the text's size.
    pub fn cap_height_mm(&self, face: Face, size_pt: f32) -> f32 {
        self.metrics(face).cap_height * self.mm_per_unit(face, size_pt)
    }

    /// Baseline-to-baseline distance, mm: ascent + descent + line gap, or 1.15 × the size if
    /// the font's metrics are degenerate. Stacked lines never overlap at this pitch, which
    /// is why the fitting rule charges it per line against a box's height.
    pub fn line_height_mm(&self, face: Face, size_pt: f32) -> f32 {
        let m = self.metrics(face);
        let units = m.ascent + m.descent + m.line_gap;
        if units > 0.0 {
            units * self.mm_per_unit(face, size_pt)
        } else {
            1.15 * size_pt / PT_PER_MM
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> &'static Fonts {
        fonts().expect("embedded fonts load")
    }

    #[test]
    fn both_faces_load_with_sane_metrics() {
        for face in [Face::Regular, Face::Bold] {
            let fs = f();
            assert_eq!(fs.units_per_em(face), 2048.0);
            let cap = fs.cap_height_mm(face, 72.0);
            // DejaVu's capitals are 1493/2048 em high: 0.729 × 25.4 mm at 72 pt.
            assert!(
                (cap - 1493.0 / 2048.0 * 25.4).abs() < 0.01,
                "{face:?} cap {cap}"
            );
            assert!(fs.ascent_mm(face, 8.0) > fs.cap_height_mm(face, 8.0));
            assert!(fs.descent_mm(face, 8.0) > 0.0);
            assert!(fs.line_gap_mm(face, 8.0) >= 0.0);
            let lh = fs.line_height_mm(face, 8.0);
            assert!(lh > 8.0 / PT_PER_MM && lh < 1.25 * 8.0 / PT_PER_MM, "{lh}");
        }
    }

    #[test]
    fn dejavu_has_no_os2_cap_height_so_h_is_measured() {
        assert_eq!(os2_cap_height(REGULAR), None);
        assert_eq!(os2_cap_height(BOLD), None);
        assert_eq!(os2_cap_height(b"not a font"), None);
    }

    #[test]
    fn width_is_additive_in_points_and_kerned() {
        let fs = f();
        let w8 = fs.width_mm(Face::Regular, 8.0, "DUPONT");
        let w4 = fs.width_mm(Face::Regular, 4.0, "DUPONT");
        assert!((w8 - 2.0 * w4).abs() < 1e-5);
        assert_eq!(fs.width_mm(Face::Regular, 8.0, ""), 0.0);
        // One em at 72 pt is one inch.
        let em = fs.width_units(Face::Regular, "—") / 2048.0;
        assert!(em > 0.5 && em <= 1.0);
        // "AV" is kerned tighter than the two advances.
        let font = fs.font(Face::Regular);
        let (a, v) = (font.glyph_id('A'), font.glyph_id('V'));
        let plain = font.h_advance_unscaled(a) + font.h_advance_unscaled(v);
        assert!(fs.width_units(Face::Regular, "AV") < plain);
        assert!(fs.width_mm(Face::Bold, 8.0, "DUPONT") > w8);
    }

    #[test]
    fn missing_char_names_the_first_glyphless_character() {
        let fs = f();
        for face in [Face::Regular, Face::Bold] {
            assert_eq!(fs.missing_char(face, "Łukasz Żółkiewski"), None);
            assert_eq!(fs.missing_char(face, "Ștefan Păun Ωμέγα Жанна"), None);
            assert_eq!(fs.missing_char(face, "Li 李 🙂"), Some('李'));
            assert_eq!(fs.missing_char(face, "Ana 🙂"), Some('🙂'));
        }
    }
}
