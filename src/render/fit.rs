//! Fitting a field's text into its box: the rule for text that does not fit at the layout's
//! size (`docs/text-fitting.md`).
//!
//! A card is an identity document: text is never clipped and a surname is never shortened,
//! because a reader (a roadside check, a border guard) must see the holder's name as the
//! register holds it. What the rule may change, in this order, is the size (down to the
//! layout's minimum), the number of lines (at spaces or after hyphens) and, for given names
//! only, the given names after the first, then the first, down to initials. When nothing
//! works the card is refused with the width it would need, so that an operator decides
//! (new layout, or a different form of the name) rather than a printer truncating silently.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::fonts::Fonts;
use super::scene::Face;

/// Sizes are tried in steps this big: fine enough that a name is not shrunk much more than
/// needed, coarse enough that the glyph cache sees few distinct sizes (one per step).
pub const SIZE_STEP_PT: f32 = 0.25;

/// Largest size a box may ask for: a 72-pt letter is already taller than half the card,
/// and the bound keeps the list of sizes to try short.
pub const MAX_SIZE_PT: f32 = 72.0;

/// Tolerance of the width and height comparisons (0.1 µm): absorbs float noise so that a
/// text measured at exactly the box width is accepted, far below what a printer resolves.
const EPS_MM: f32 = 1e-4;

/// Where one field's text goes, and how far the rule may go to fit it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    pub width_mm: f32,
    pub height_mm: f32,
    /// Size the layout designed for; the rule starts here.
    pub size_pt: f32,
    /// Smallest size still legible on the card; the rule never goes below it.
    pub min_size_pt: f32,
    /// At most this many lines (1 = never break).
    pub max_lines: u8,
    pub face: Face,
    pub names: NameRule,
}

/// Whether the text may be abbreviated as a last resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameRule {
    /// Never abbreviated (surnames, places, numbers, everything but given names).
    None,
    /// Given names, separated by spaces (optionally commas): may be cut to initials.
    GivenNames,
}

/// The text as it will be printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// Chosen size, on the [`SIZE_STEP_PT`] grid below the box's size (or its minimum).
    pub size_pt: f32,
    /// Lines top to bottom; empty when the text is empty (nothing to draw).
    pub lines: Vec<String>,
    /// True when given names were cut to initials: the card then differs from the register
    /// and production may want to tell the holder.
    pub abbreviated: bool,
    /// Width of each line at `size_pt`, exactly as [`Fonts::width_mm`] measures it.
    pub widths_mm: Vec<f32>,
}

/// Why a text cannot go on the card as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// A character the bundled font cannot draw (it would print as an empty box).
    #[error("no glyph for {ch:?} (U+{code:04X}) in {text:?}", code = u32::from(*ch))]
    MissingGlyph { ch: char, text: String },
    /// Even at the minimum size, on the allowed lines, after every allowed abbreviation.
    #[error(
        "{text:?} does not fit: needs {needed_mm:.2} mm on the widest of {lines} line(s) at \
         {min_size_pt} pt, the box is {available_mm:.2} mm wide"
    )]
    DoesNotFit {
        /// The text as given (NFC), not its abbreviation: the operator searches for it.
        text: String,
        /// Width of the widest line of the narrowest arrangement of the last form tried
        /// (the most abbreviated one for given names), at the minimum size.
        needed_mm: f32,
        available_mm: f32,
        min_size_pt: f32,
        /// The most lines the box allows at the minimum size (its height may allow fewer
        /// than `max_lines`).
        lines: u8,
    },
    /// The box itself is inconsistent: a layout error, reported before looking at the text.
    #[error("invalid text box: {reason}")]
    InvalidBox { reason: String },
}

/// Fits `text` into `b` by the rule of `docs/text-fitting.md`:
/// NFC; (1) one line, shrinking by [`SIZE_STEP_PT`] down to the minimum; (2) up to
/// `max_lines` lines, largest size first; (3) given names only: later given names to
/// initials, then the first too, retrying (1) and (2) each time; (4) [`FitError::DoesNotFit`].
pub fn fit(fonts: &Fonts, text: &str, b: &TextBox) -> Result<Fitted, FitError> {
    check_box(fonts, b)?;
    // NFC first: the same name typed precomposed or decomposed must give the same card, and
    // DejaVu has precomposed glyphs where a decomposed mark would be drawn unpositioned.
    let nfc: String = text.nfc().collect();
    // Runs of whitespace (a tab, a double space from a form) become one space: a line can
    // only break at them, and a tab has no glyph to print.
    let text = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(ch) = fonts.missing_char(b.face, &text) {
        return Err(FitError::MissingGlyph { ch, text });
    }
    if text.is_empty() {
        return Ok(Fitted {
            size_pt: b.size_pt,
            lines: Vec::new(),
            abbreviated: false,
            widths_mm: Vec::new(),
        });
    }

    let sizes = sizes(b);
    let mut forms = vec![(text.clone(), false)];
    if b.names == NameRule::GivenNames {
        for keep_first in [true, false] {
            let short = abbreviate(&text, keep_first);
            if forms.last().is_none_or(|(last, _)| *last != short) {
                forms.push((short, true));
            }
        }
    }
    for (form, abbreviated) in &forms {
        if let Some((size_pt, lines)) =
            one_line(fonts, form, b, &sizes).or_else(|| several_lines(fonts, form, b, &sizes))
        {
            let widths_mm = lines
                .iter()
                .map(|l| fonts.width_mm(b.face, size_pt, l))
                .collect();
            return Ok(Fitted {
                size_pt,
                lines,
                abbreviated: *abbreviated,
                widths_mm,
            });
        }
    }

    let last = forms.last().map_or(text.as_str(), |(f, _)| f.as_str());
    let lines = lines_allowed(fonts, b, b.min_size_pt).max(1);
    let needed_mm = narrowest(fonts, last, b.face, b.min_size_pt, lines);
    Err(FitError::DoesNotFit {
        text,
        needed_mm,
        available_mm: b.width_mm,
        min_size_pt: b.min_size_pt,
        lines,
    })
}

/// Rejects boxes no text could ever fit, so a layout mistake is not reported as a name
/// that is too long.
fn check_box(fonts: &Fonts, b: &TextBox) -> Result<(), FitError> {
    let bad = |reason: String| Err(FitError::InvalidBox { reason });
    if !(b.width_mm.is_finite() && b.width_mm > 0.0 && b.height_mm.is_finite()) {
        return bad(format!("size {} × {} mm", b.width_mm, b.height_mm));
    }
    if !(b.min_size_pt > 0.0 && b.min_size_pt <= b.size_pt && b.size_pt <= MAX_SIZE_PT) {
        return bad(format!(
            "sizes {} pt down to {} pt (need 0 < min ≤ size ≤ {MAX_SIZE_PT})",
            b.size_pt, b.min_size_pt
        ));
    }
    if b.max_lines == 0 {
        return bad("max_lines is 0".to_owned());
    }
    let line = fonts.line_height_mm(b.face, b.min_size_pt);
    if b.height_mm + EPS_MM < line {
        return bad(format!(
            "{} mm high, one line at the minimum {} pt needs {line:.2} mm",
            b.height_mm, b.min_size_pt
        ));
    }
    Ok(())
}

/// Sizes to try, largest first: `size_pt`, then down in [`SIZE_STEP_PT`] steps (computed
/// from the start, not accumulated, so 7.25 is exactly 7.25), ending on `min_size_pt`.
fn sizes(b: &TextBox) -> Vec<f32> {
    let mut sizes = Vec::new();
    let mut step = 0u16;
    loop {
        let s = b.size_pt - SIZE_STEP_PT * f32::from(step);
        if s <= b.min_size_pt + 1e-4 {
            sizes.push(b.min_size_pt);
            return sizes;
        }
        sizes.push(s);
        step += 1;
    }
}

/// How many lines the box's height holds at `size_pt` (capped by `max_lines`). Public so
/// that the limits told to the portal (`printable::Limit`) are the ones the rule applies.
pub fn lines_allowed(fonts: &Fonts, b: &TextBox, size_pt: f32) -> u8 {
    let pitch = fonts.line_height_mm(b.face, size_pt);
    let mut n = 0u8;
    while n < b.max_lines && f32::from(n + 1) * pitch <= b.height_mm + EPS_MM {
        n += 1;
    }
    n
}

/// Step (1): the largest size at which the whole text fits on one line.
fn one_line(fonts: &Fonts, text: &str, b: &TextBox, sizes: &[f32]) -> Option<(f32, Vec<String>)> {
    let units = fonts.width_units(b.face, text);
    sizes
        .iter()
        .find(|&&s| {
            lines_allowed(fonts, b, s) >= 1
                && units * fonts.mm_per_unit(b.face, s) <= b.width_mm + EPS_MM
        })
        .map(|&s| (s, vec![text.to_owned()]))
}

/// How a line may end between two pieces of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// A space: dropped when the line breaks there.
    Space,
    /// After a hyphen, which stays at the end of the first line.
    Hyphen,
}

/// The text cut at every break opportunity: pieces, and what separates piece `i` from
/// piece `i + 1` (the hyphen itself ends piece `i`).
struct Pieces<'a> {
    pieces: Vec<&'a str>,
    seps: Vec<Sep>,
}

impl<'a> Pieces<'a> {
    fn new(text: &'a str) -> Self {
        let mut pieces = Vec::new();
        let mut seps = Vec::new();
        let mut start = 0;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            if c == ' ' {
                pieces.push(&text[start..i]);
                seps.push(Sep::Space);
                start = i + c.len_utf8();
            } else if is_hyphen(c) && i > start && next.is_some_and(|n| n != ' ') {
                let end = i + c.len_utf8();
                pieces.push(&text[start..end]);
                seps.push(Sep::Hyphen);
                start = end;
            }
        }
        pieces.push(&text[start..]);
        Self { pieces, seps }
    }

    /// The line made of pieces `from..to`.
    fn line(&self, from: usize, to: usize) -> String {
        let mut line = String::new();
        for i in from..to {
            line.push_str(self.pieces[i]);
            if i + 1 < to && self.seps[i] == Sep::Space {
                line.push(' ');
            }
        }
        line
    }

    /// Width in font units of every line `from..to` (`widths[from][to]`, 0 when `to <= from`).
    ///
    /// Built line by line from the pieces rather than by measuring each of the k²/2 lines:
    /// intake runs this on every long name (docs/text-fitting.md, "At intake"), and measuring
    /// each line cost O(k² × length). A line's width is the sum of its glyphs' advances and of
    /// the kerning of each adjacent pair, so appending piece `j` adds its own width plus
    /// [`Pieces::join`]: the same integers [`Fonts::layout`] sums for the whole line, exact in
    /// `f32`, so the result is bit for bit the width of `line(from, to)` (a test checks it).
    fn widths(&self, fonts: &Fonts, face: Face) -> Vec<Vec<f32>> {
        let k = self.pieces.len();
        let own: Vec<f32> = self
            .pieces
            .iter()
            .map(|p| fonts.width_units(face, p))
            .collect();
        let joins: Vec<f32> = (1..k).map(|j| self.join(fonts, face, j)).collect();
        let mut w = vec![vec![0.0; k + 1]; k];
        for (from, row) in w.iter_mut().enumerate() {
            let mut width = own[from];
            row[from + 1] = width;
            for to in from + 2..=k {
                width += joins[to - 2] + own[to - 1];
                row[to] = width;
            }
        }
        w
    }

    /// What joining piece `j` to a line ending with piece `j - 1` adds besides piece `j`'s own
    /// width: for a space, the kerning before it, its advance and the kerning after it; after
    /// a hyphen, the kerning of the two letters that meet.
    fn join(&self, fonts: &Fonts, face: Face, j: usize) -> f32 {
        let (Some(last), Some(first)) = (
            self.pieces[j - 1].chars().next_back(),
            self.pieces[j].chars().next(),
        ) else {
            return match self.seps[j - 1] {
                Sep::Space => fonts.width_units(face, " "),
                Sep::Hyphen => 0.0,
            };
        };
        let mut seam = String::with_capacity(12);
        seam.push(last);
        if self.seps[j - 1] == Sep::Space {
            seam.push(' ');
        }
        seam.push(first);
        fonts.width_units(face, &seam)
            - fonts.width_units(face, last.encode_utf8(&mut [0; 4]))
            - fonts.width_units(face, first.encode_utf8(&mut [0; 4]))
    }
}

fn is_hyphen(c: char) -> bool {
    c == '-' || c == '\u{2010}'
}

/// Step (2): the largest size at which the text breaks into 2..=`max_lines` lines that each
/// fit the width and together fit the height. At that size: the fewest lines, then breaks
/// at spaces rather than inside hyphenated compounds, then the most balanced lines
/// (smallest sum of squared widths).
fn several_lines(
    fonts: &Fonts,
    text: &str,
    b: &TextBox,
    sizes: &[f32],
) -> Option<(f32, Vec<String>)> {
    if b.max_lines < 2 {
        return None;
    }
    let pieces = Pieces::new(text);
    if pieces.pieces.len() < 2 {
        return None;
    }
    let widths = pieces.widths(fonts, b.face);
    for &s in sizes {
        // Compare in mm, as one_line and the final widths do, so the decision and the
        // reported widths agree to the last bit.
        let fits = |units: f32| units * fonts.mm_per_unit(b.face, s) <= b.width_mm + EPS_MM;
        for n in 2..=lines_allowed(fonts, b, s) {
            if let Some(breaks) = best_breaks(&pieces, &widths, usize::from(n), &fits) {
                let mut lines = Vec::with_capacity(breaks.len() + 1);
                let mut from = 0;
                for to in breaks.into_iter().chain([pieces.pieces.len()]) {
                    lines.push(pieces.line(from, to));
                    from = to;
                }
                return Some((s, lines));
            }
        }
    }
    None
}

/// Cost of an arrangement, compared lexicographically: breaks inside compounds, then the
/// sum of squared line widths (smaller = more balanced). Both add up line by line, so the
/// dynamic programme below finds the true optimum.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct Cost {
    hyphen_breaks: u32,
    squares: f64,
}

/// Break positions (piece indices where lines 2..=n start) for exactly `n` fitting lines,
/// or `None`. Dynamic programme over (lines used, pieces consumed).
fn best_breaks(
    pieces: &Pieces,
    widths: &[Vec<f32>],
    n: usize,
    fits: &dyn Fn(f32) -> bool,
) -> Option<Vec<usize>> {
    let k = pieces.pieces.len();
    if n > k {
        return None;
    }
    // best[m][j]: cheapest way to set pieces 0..j on m lines, and where its last line starts.
    let mut best: Vec<Vec<Option<(Cost, usize)>>> = vec![vec![None; k + 1]; n + 1];
    best[0][0] = Some((
        Cost {
            hyphen_breaks: 0,
            squares: 0.0,
        },
        0,
    ));
    for m in 1..=n {
        for j in m..=k {
            let mut here: Option<(Cost, usize)> = None;
            for i in (m - 1)..j {
                let Some((before, _)) = best[m - 1][i] else {
                    continue;
                };
                let w = widths[i][j];
                if !fits(w) {
                    continue;
                }
                let hyphen = j < k && pieces.seps[j - 1] == Sep::Hyphen;
                let cost = Cost {
                    hyphen_breaks: before.hyphen_breaks + u32::from(hyphen),
                    squares: before.squares + f64::from(w) * f64::from(w),
                };
                if here.is_none_or(|(c, _)| cost < c) {
                    here = Some((cost, i));
                }
            }
            best[m][j] = here;
        }
    }
    best[n][k]?;
    let mut breaks = Vec::with_capacity(n - 1);
    let mut j = k;
    for m in (1..=n).rev() {
        let (_, i) = best[m][j]?;
        if i > 0 {
            breaks.push(i);
        }
        j = i;
    }
    breaks.reverse();
    Some(breaks)
}

/// Width (mm, at `size_pt`) of the widest line of the narrowest arrangement of `text` on at
/// most `lines` lines: what the box would need to be for the text to fit there.
fn narrowest(fonts: &Fonts, text: &str, face: Face, size_pt: f32, lines: u8) -> f32 {
    let pieces = Pieces::new(text);
    let k = pieces.pieces.len();
    let widths = pieces.widths(fonts, face);
    let n = usize::from(lines).min(k).max(1);
    // widest[m][j]: smallest possible widest line setting pieces 0..j on at most m lines.
    let mut widest = vec![vec![f32::INFINITY; k + 1]; n + 1];
    widest[0][0] = 0.0;
    for m in 1..=n {
        widest[m][0] = 0.0;
        for j in 1..=k {
            let mut w = widest[m - 1][j];
            for i in 0..j {
                w = w.min(widest[m - 1][i].max(widths[i][j]));
            }
            widest[m][j] = w;
        }
    }
    widest[n][k] * fonts.mm_per_unit(face, size_pt)
}

/// Given names to initials, compounds kept: "Anne-Sophie Geneviève" → "A.-S. G.". With
/// `keep_first`, the first given name is left whole (the one the holder is called by).
/// Commas between given names (the French civil-status style) are kept.
fn abbreviate(names: &str, keep_first: bool) -> String {
    names
        .split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i == 0 && keep_first {
                word.to_owned()
            } else {
                let bare = word.trim_end_matches(',');
                let mut short = initials(bare);
                short.push_str(&word[bare.len()..]);
                short
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One given name (possibly hyphenated) to initials: each part keeps its first letter with
/// its combining marks (so an NFC-less letter like "L̥" keeps its mark) and gets a full stop.
/// A part that is a single letter, or already an initial, is left as it is.
fn initials(name: &str) -> String {
    let mut out = String::new();
    let mut part = String::new();
    let flush = |part: &mut String, out: &mut String| {
        let mut chars = part.char_indices();
        let first_end = chars
            .by_ref()
            .find(|&(i, c)| i > 0 && !is_combining_mark(c))
            .map_or(part.len(), |(i, _)| i);
        let rest = &part[first_end..];
        out.push_str(&part[..first_end]);
        if !part.is_empty() && !rest.is_empty() {
            out.push('.');
        } else {
            out.push_str(rest);
        }
        part.clear();
    };
    for c in name.chars() {
        if is_hyphen(c) {
            flush(&mut part, &mut out);
            out.push(c);
        } else {
            part.push(c);
        }
    }
    flush(&mut part, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fonts::fonts;

    fn f() -> &'static Fonts {
        fonts().expect("embedded fonts load")
    }

    /// A card field: 45 mm wide, one line high at the layout's size.
    fn field(size_pt: f32, max_lines: u8, names: NameRule) -> TextBox {
        let line = f().line_height_mm(Face::Regular, size_pt);
        TextBox {
            width_mm: 45.0,
            height_mm: line * f32::from(max_lines) + 0.05,
            size_pt,
            min_size_pt: 5.0,
            max_lines,
            face: Face::Regular,
            names,
        }
    }

    #[test]
    fn initials_keep_compounds_and_marks() {
        let cases = [
            ("Anne-Sophie", "A.-S."),
            ("Geneviève", "G."),
            ("Élodie", "É."),
            ("Łukasz", "Ł."),
            ("J.", "J."),
            ("J", "J"),
            ("Jean-", "J.-"),
            ("L\u{325}ena", "L\u{325}."),
        ];
        for (name, want) in cases {
            assert_eq!(initials(name), want, "{name}");
        }
        let full = "Marie-Christine Anne-Sophie Geneviève";
        assert_eq!(abbreviate(full, true), "Marie-Christine A.-S. G.");
        assert_eq!(abbreviate(full, false), "M.-C. A.-S. G.");
        assert_eq!(abbreviate("Marie, Anne, Zoé", true), "Marie, A., Z.");
    }

    #[test]
    fn pieces_break_at_spaces_and_after_hyphens() {
        let p = Pieces::new("DE LA TOUR D'AUVERGNE-LAURAGUAIS");
        assert_eq!(p.pieces, ["DE", "LA", "TOUR", "D'AUVERGNE-", "LAURAGUAIS"]);
        assert_eq!(p.line(0, 5), "DE LA TOUR D'AUVERGNE-LAURAGUAIS");
        assert_eq!(p.line(3, 5), "D'AUVERGNE-LAURAGUAIS");
        assert_eq!(p.line(2, 4), "TOUR D'AUVERGNE-");
        assert_eq!(Pieces::new("A -B").pieces, ["A", "-B"]);
        assert_eq!(Pieces::new("A--B").pieces, ["A-", "-B"]);
        assert_eq!(Pieces::new("A- B").pieces, ["A-", "B"]);
    }

    #[test]
    fn widths_built_piece_by_piece_are_the_measured_widths() {
        // Kerned pairs at the seams ("AV", "LT", "P."), hyphens, marks, three scripts.
        for text in [
            "AVANT-VOLTA LT P. AV",
            "DE LA TOUR D'AUVERGNE-LAURAGUAIS",
            "Marie-Christine A.-S. G.",
            "A -B A--B A- B",
            "L\u{325}ena Ștefan Păun Ωμέγα Жанна-Ёлка",
            "W",
        ] {
            let p = Pieces::new(text);
            for face in [Face::Regular, Face::Bold] {
                let w = p.widths(f(), face);
                for (from, row) in w.iter().enumerate() {
                    for (to, width) in row.iter().enumerate().skip(from + 1) {
                        assert_eq!(
                            width.to_bits(),
                            f().width_units(face, &p.line(from, to)).to_bits(),
                            "{text:?} {face:?} {from}..{to}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sizes_step_down_to_the_minimum() {
        let mut b = field(7.0, 1, NameRule::None);
        assert_eq!(sizes(&b), [7.0, 6.75, 6.5, 6.25, 6.0, 5.75, 5.5, 5.25, 5.0]);
        b.size_pt = 5.1;
        assert_eq!(sizes(&b), [5.1, 5.0]);
        b.size_pt = 5.0;
        assert_eq!(sizes(&b), [5.0]);
    }

    #[test]
    fn short_text_keeps_the_layout_size() {
        let b = field(8.0, 1, NameRule::None);
        let got = fit(f(), "DUPONT", &b).expect("fits");
        assert_eq!(got.size_pt, 8.0);
        assert_eq!(got.lines, ["DUPONT"]);
        assert!(!got.abbreviated);
        assert_eq!(got.widths_mm, [f().width_mm(Face::Regular, 8.0, "DUPONT")]);
    }

    /// Real long names through the whole rule, in realistic card boxes.
    #[test]
    fn long_names_table() {
        struct Case {
            text: &'static str,
            width_mm: f32,
            max_lines: u8,
            names: NameRule,
            size: f32,
            lines: &'static [&'static str],
            abbreviated: bool,
        }
        let cases = [
            // Fits on one line once shrunk a little.
            Case {
                text: "DE LA TOUR D'AUVERGNE-LAURAGUAIS",
                width_mm: 45.0,
                max_lines: 1,
                names: NameRule::None,
                size: 7.0,
                lines: &["DE LA TOUR D'AUVERGNE-LAURAGUAIS"],
                abbreviated: false,
            },
            // Too wide for one line at 5 pt: two lines, breaking at a space.
            Case {
                text: "DE LA TOUR D'AUVERGNE-LAURAGUAIS",
                width_mm: 25.0,
                max_lines: 2,
                names: NameRule::None,
                size: 5.75,
                lines: &["DE LA TOUR", "D'AUVERGNE-LAURAGUAIS"],
                abbreviated: false,
            },
            Case {
                text: "Wolfeschlegelsteinhausenbergerdorff",
                width_mm: 45.0,
                max_lines: 1,
                names: NameRule::None,
                size: 7.5,
                lines: &["Wolfeschlegelsteinhausenbergerdorff"],
                abbreviated: false,
            },
            Case {
                text: "Łukasz Żółkiewski",
                width_mm: 45.0,
                max_lines: 1,
                names: NameRule::None,
                size: 8.0,
                lines: &["Łukasz Żółkiewski"],
                abbreviated: false,
            },
            // Step (1) before step (2): one smaller line rather than two at full size.
            Case {
                text: "Ștefan Păun",
                width_mm: 12.0,
                max_lines: 2,
                names: NameRule::None,
                size: 6.25,
                lines: &["Ștefan Păun"],
                abbreviated: false,
            },
            Case {
                text: "Zoltán Kővári",
                width_mm: 18.0,
                max_lines: 1,
                names: NameRule::None,
                size: 8.0,
                lines: &["Zoltán Kővári"],
                abbreviated: false,
            },
            // Given names: later ones to initials first…
            Case {
                text: "Marie-Christine Anne-Sophie Geneviève",
                width_mm: 25.0,
                max_lines: 1,
                names: NameRule::GivenNames,
                size: 6.75,
                lines: &["Marie-Christine A.-S. G."],
                abbreviated: true,
            },
            // …then the first too.
            Case {
                text: "Marie-Christine Anne-Sophie Geneviève",
                width_mm: 12.0,
                max_lines: 1,
                names: NameRule::GivenNames,
                size: 5.5,
                lines: &["M.-C. A.-S. G."],
                abbreviated: true,
            },
            // Two lines are tried before abbreviating; the larger size wins over breaking
            // at a space ("Marie-Christine" / "Anne-Sophie Geneviève" needs 6.5 pt).
            Case {
                text: "Marie-Christine Anne-Sophie Geneviève",
                width_mm: 25.0,
                max_lines: 2,
                names: NameRule::GivenNames,
                size: 7.25,
                lines: &["Marie-Christine Anne-", "Sophie Geneviève"],
                abbreviated: false,
            },
            // A break after a hyphen when no space break fits.
            Case {
                text: "Marie-Christine",
                width_mm: 9.0,
                max_lines: 2,
                names: NameRule::None,
                size: 6.25,
                lines: &["Marie-", "Christine"],
                abbreviated: false,
            },
        ];
        for c in cases {
            let mut b = field(8.0, c.max_lines, c.names);
            b.width_mm = c.width_mm;
            let got = fit(f(), c.text, &b).unwrap_or_else(|e| panic!("{}: {e}", c.text));
            assert_eq!(
                (got.size_pt, got.lines.as_slice(), got.abbreviated),
                (
                    c.size,
                    c.lines
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .as_slice(),
                    c.abbreviated
                ),
                "{} in {} mm",
                c.text,
                c.width_mm
            );
            for (line, w) in got.lines.iter().zip(&got.widths_mm) {
                assert!(*w <= b.width_mm + EPS_MM, "{line} is {w} mm");
                assert_eq!(*w, f().width_mm(Face::Regular, got.size_pt, line));
            }
            let pitch = f().line_height_mm(Face::Regular, got.size_pt);
            assert!(pitch * got.lines.len() as f32 <= b.height_mm + EPS_MM);
        }
    }

    #[test]
    fn nfd_input_fits_like_nfc() {
        for text in [
            "Zoltán Kővári",
            "Ștefan Păun",
            "Łukasz Żółkiewski",
            "ÉLÉONORE",
        ] {
            let nfd: String = text.nfd().collect();
            assert_ne!(nfd, text);
            for width_mm in [45.0, 14.0, 9.0] {
                let mut b = field(8.0, 2, NameRule::GivenNames);
                b.width_mm = width_mm;
                assert_eq!(
                    fit(f(), &nfd, &b),
                    fit(f(), text, &b),
                    "{text} in {width_mm} mm"
                );
            }
        }
        let got = fit(
            f(),
            &"Kővári".nfd().collect::<String>(),
            &field(8.0, 1, NameRule::None),
        );
        assert_eq!(got.expect("fits").lines, ["Kővári"]);
    }

    #[test]
    fn missing_glyph_names_the_character() {
        let b = field(8.0, 2, NameRule::GivenNames);
        for (text, ch) in [("Li 李", '李'), ("Zoé 🙂", '🙂'), ("A\u{E000}", '\u{E000}')] {
            match fit(f(), text, &b) {
                Err(FitError::MissingGlyph { ch: got, text: t }) => {
                    assert_eq!((got, t.as_str()), (ch, text));
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = fit(f(), "Li 李", &b).expect_err("missing");
        assert_eq!(e.to_string(), "no glyph for '李' (U+674E) in \"Li 李\"");
    }

    #[test]
    fn whitespace_is_collapsed_and_empty_text_has_no_lines() {
        let b = field(8.0, 2, NameRule::None);
        let got = fit(f(), "  Jean\tPIERRE  ", &b).expect("fits");
        assert_eq!(got.lines, ["Jean PIERRE"]);
        let empty = fit(f(), " \t ", &b).expect("empty fits");
        assert!(empty.lines.is_empty() && empty.widths_mm.is_empty());
    }

    #[test]
    fn too_long_is_refused_with_the_width_needed() {
        // A surname is never abbreviated, however long.
        let mut b = field(8.0, 2, NameRule::None);
        b.width_mm = 25.0;
        let text = "Wolfeschlegelsteinhausenbergerdorff";
        match fit(f(), text, &b) {
            Err(FitError::DoesNotFit {
                text: t,
                needed_mm,
                available_mm,
                min_size_pt,
                lines,
            }) => {
                assert_eq!(t, text);
                assert_eq!(needed_mm, f().width_mm(Face::Regular, 5.0, text));
                assert!(needed_mm > 29.0 && needed_mm < 30.0, "{needed_mm}");
                assert_eq!((available_mm, min_size_pt, lines), (25.0, 5.0, 2));
            }
            other => panic!("{other:?}"),
        }
        // As a given name it may go down to its initial.
        b.names = NameRule::GivenNames;
        let got = fit(f(), text, &b).expect("initial fits");
        assert_eq!((got.lines, got.abbreviated), (vec!["W.".to_owned()], true));
        // Needed width of a multi-line text is its best arrangement's widest line.
        let text = "DE LA TOUR D'AUVERGNE-LAURAGUAIS";
        for (lines, widest) in [(2, "D'AUVERGNE-LAURAGUAIS"), (3, "D'AUVERGNE-")] {
            let mut b = field(8.0, lines, NameRule::None);
            b.width_mm = 8.0;
            let Err(FitError::DoesNotFit { needed_mm, .. }) = fit(f(), text, &b) else {
                panic!("fits in 8 mm?");
            };
            let best = f().width_mm(Face::Regular, 5.0, widest);
            assert!((needed_mm - best).abs() < 1e-4, "{needed_mm} vs {best}");
        }
        // Under NameRule::None a text stays whole even when its initials would fit.
        let mut b = field(8.0, 1, NameRule::None);
        b.width_mm = 20.0;
        assert!(matches!(
            fit(f(), "Marie-Christine Anne-Sophie Geneviève", &b),
            Err(FitError::DoesNotFit { lines: 1, .. })
        ));
    }

    #[test]
    fn height_limits_the_lines_and_the_size() {
        // A 2.5-mm field line holds one line of at most 6 pt (DejaVu: 1.164 em per line).
        let b = TextBox {
            width_mm: 45.0,
            height_mm: 2.5,
            size_pt: 8.0,
            min_size_pt: 5.0,
            max_lines: 2,
            face: Face::Regular,
            names: NameRule::None,
        };
        assert_eq!(fit(f(), "DUPONT", &b).expect("fits").size_pt, 6.0);
        // Two lines need room for two: 5 mm holds two at 6 pt (2 × 2.46 mm), not at 6.25.
        let b = TextBox {
            width_mm: 25.0,
            height_mm: 5.0,
            ..b
        };
        let got = fit(f(), "DE LA TOUR D'AUVERGNE-LAURAGUAIS", &b).expect("fits");
        assert_eq!((got.size_pt, got.lines.len()), (5.75, 2));
        // Three lines allowed by count but only two by height.
        let b = TextBox { max_lines: 3, ..b };
        let got = fit(f(), "DE LA TOUR D'AUVERGNE-LAURAGUAIS", &b).expect("fits");
        assert_eq!(got.lines.len(), 2);
    }

    #[test]
    fn fewest_lines_then_spaces_then_balance() {
        let fs = f();
        // One line would need 29.2 mm at 5 pt; two lines fit at 8 pt (after a hyphen, the
        // only two-line break that fits), so the more balanced three lines are not used.
        let mut b = field(8.0, 3, NameRule::None);
        b.width_mm = 29.0;
        let got = fit(fs, "JEAN DE LA FONTAINE-SAINT-MARTIN", &b).expect("fits");
        assert_eq!(got.size_pt, 8.0);
        assert_eq!(got.lines, ["JEAN DE LA FONTAINE-", "SAINT-MARTIN"]);

        // No shrinking allowed, so lines are chosen at 8 pt only.
        let fixed = |width_mm: f32| TextBox {
            width_mm,
            min_size_pt: 8.0,
            ..field(8.0, 2, NameRule::None)
        };
        // A break at a space beats a more balanced one inside a compound.
        let b = fixed(fs.width_mm(Face::Regular, 8.0, "ROUX-MARTINEAU") + 0.5);
        let got = fit(fs, "LE ROUX-MARTINEAU", &b).expect("fits");
        assert_eq!(got.lines, ["LE", "ROUX-MARTINEAU"]);
        // Among breaks at spaces, the most balanced.
        let got = fit(fs, "JEAN-PIERRE DE LA FONTAINE", &fixed(25.0)).expect("fits");
        assert_eq!(got.lines, ["JEAN-PIERRE DE", "LA FONTAINE"]);
    }

    #[test]
    fn inconsistent_boxes_are_layout_errors() {
        let good = field(8.0, 1, NameRule::None);
        let bad = [
            TextBox {
                min_size_pt: 9.0,
                ..good
            },
            TextBox {
                min_size_pt: 0.0,
                ..good
            },
            TextBox {
                size_pt: 500.0,
                ..good
            },
            TextBox {
                max_lines: 0,
                ..good
            },
            TextBox {
                width_mm: f32::NAN,
                ..good
            },
            TextBox {
                width_mm: 0.0,
                ..good
            },
            TextBox {
                height_mm: 1.0,
                ..good
            },
        ];
        for b in bad {
            assert!(
                matches!(fit(f(), "X", &b), Err(FitError::InvalidBox { .. })),
                "{b:?}"
            );
        }
    }
}
