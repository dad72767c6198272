//! Text onto 300-dpi bitmaps, through a cache of rasterised glyphs.
//!
//! Production renders hundreds of cards a second and their text is mostly the same few
//! hundred glyphs at a handful of sizes (field labels, capitals, digits), so a glyph's
//! outline is rasterised once per (face, size, glyph, quarter-pixel phase) and later drawn
//! by blending its stored coverage. Each worker owns its [`GlyphCache`]: nothing is shared
//! or locked on the hot path, and a worker's cache warms up within its first card.
//!
//! Horizontal placement is exactly [`Fonts::layout`] (the widths the fitting rule decided
//! on), rounded to a quarter pixel: at 300 dpi that is 21 µm, far below what a card printer
//! resolves, and it keeps four bitmaps per glyph instead of one per position. Baselines are
//! rounded to whole pixels, so horizontal strokes stay sharp.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ab_glyph::{Font, GlyphId, point};
use image::{GrayImage, RgbImage};

use super::fonts::Fonts;
use super::scene::{Face, Rgb};

/// Horizontal positions are quantised to 1 / `SUBPIXELS` of a pixel.
pub const SUBPIXELS: u8 = 4;

/// Memory a cache may hold before it starts again from empty. A card needs well under a
/// megabyte of glyphs; the bound only protects a long-running worker fed odd sizes.
pub const MAX_CACHE_BYTES: usize = 32 << 20;

/// Where a rasterised glyph lies: a `width` × `height` block whose top-left pixel is at
/// (`left`, `top`) from the pen's whole-pixel origin on the baseline.
#[derive(Debug, Clone, Copy, Default)]
struct Placement {
    width: u32,
    height: u32,
    left: i32,
    top: i32,
}

/// A cached glyph: its placement and where its bytes start in the cache's arenas.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Placement,
    coverage: usize,
    spans: usize,
}

/// A freshly rasterised glyph: coverage (0 = none, 255 = full), row by row, and for each
/// row the columns `start..end` holding its non-zero coverage. Blending only walks the
/// spans, skipping the empty corners of the box (about a third of it for capitals).
#[derive(Debug, Default)]
struct Bitmap {
    at: Placement,
    coverage: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

/// A glyph ready to blend, borrowed from the cache or from a fresh [`Bitmap`].
#[derive(Debug, Clone, Copy)]
struct View<'a> {
    at: Placement,
    coverage: &'a [u8],
    spans: &'a [(u32, u32)],
}

/// Only the uncached reference drawing of the tests blends a fresh bitmap directly.
#[cfg(test)]
impl Bitmap {
    fn view(&self) -> View<'_> {
        View {
            at: self.at,
            coverage: &self.coverage,
            spans: &self.spans,
        }
    }
}

/// A multiplicative hash for the packed `u64` keys: the default SipHash guards against
/// hostile keys, which glyph ids are not, and costs more than the lookup it serves.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = (key ^ (key >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Rasterised glyphs of one resolution, keyed by face, size (1/100 pt), glyph id and
/// quarter-pixel phase. Owned, never shared: each rendering thread keeps its own, so the
/// hot path takes no lock (the glyphs are the same, the memory cost is a few hundred KiB).
#[derive(Debug)]
pub struct GlyphCache {
    dpi: f32,
    index: HashMap<u64, Entry, BuildHasherDefault<KeyHasher>>,
    /// All coverage bytes, entries one after another (fewer allocations, better locality).
    coverage: Vec<u8>,
    /// All row spans, likewise.
    spans: Vec<(u32, u32)>,
}

/// Sizes are cached in hundredths of a point (the fitting rule only produces quarter points).
fn centipoints(size_pt: f32) -> u32 {
    (size_pt * 100.0).round() as u32
}

fn key(face: Face, centi_pt: u32, id: GlyphId, phase: u8) -> u64 {
    let face_bit = match face {
        Face::Regular => 0u64,
        Face::Bold => 1,
    };
    (face_bit << 50)
        | (u64::from(centi_pt & 0xFF_FFFF) << 24)
        | (u64::from(id.0) << 8)
        | u64::from(phase)
}

impl GlyphCache {
    /// An empty cache for images of `dpi` dots per inch (300 for the card printer). A
    /// non-positive or non-finite resolution draws nothing.
    pub fn new(dpi: f32) -> Self {
        Self {
            dpi,
            index: HashMap::default(),
            coverage: Vec::new(),
            spans: Vec::new(),
        }
    }

    pub fn dpi(&self) -> f32 {
        self.dpi
    }

    /// Number of rasterised glyphs held (spaces and other blank glyphs included).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes of coverage and row spans held.
    pub fn bytes(&self) -> usize {
        self.coverage.len() + self.spans.len() * std::mem::size_of::<(u32, u32)>()
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.coverage.clear();
        self.spans.clear();
    }

    /// The glyph, rasterised on first use.
    fn glyph(
        &mut self,
        fonts: &Fonts,
        face: Face,
        centi_pt: u32,
        id: GlyphId,
        phase: u8,
    ) -> View<'_> {
        let k = key(face, centi_pt, id, phase);
        let entry = match self.index.get(&k) {
            Some(e) => *e,
            None => {
                let fresh = rasterise(fonts, self.dpi, face, centi_pt, id, phase);
                let size = fresh.coverage.len() + fresh.spans.len() * 8;
                if self.bytes() + size > MAX_CACHE_BYTES {
                    self.clear();
                }
                let entry = Entry {
                    at: fresh.at,
                    coverage: self.coverage.len(),
                    spans: self.spans.len(),
                };
                self.coverage.extend_from_slice(&fresh.coverage);
                self.spans.extend_from_slice(&fresh.spans);
                self.index.insert(k, entry);
                entry
            }
        };
        let len = entry.at.width as usize * entry.at.height as usize;
        View {
            at: entry.at,
            coverage: self
                .coverage
                .get(entry.coverage..entry.coverage + len)
                .unwrap_or(&[]),
            spans: self
                .spans
                .get(entry.spans..entry.spans + entry.at.height as usize)
                .unwrap_or(&[]),
        }
    }
}

/// Pixels per font unit at `size_pt` and `dpi`.
fn px_per_unit(fonts: &Fonts, face: Face, size_pt: f32, dpi: f32) -> f32 {
    size_pt * dpi / 72.0 / fonts.units_per_em(face)
}

/// Rasterises one glyph with its origin at (`phase` / [`SUBPIXELS`], 0) px. Glyphs without
/// an outline (space) give an empty bitmap, cached like any other so they are looked up once.
fn rasterise(fonts: &Fonts, dpi: f32, face: Face, centi_pt: u32, id: GlyphId, phase: u8) -> Bitmap {
    let font = fonts.font(face);
    let size_pt = centi_pt as f32 / 100.0;
    // ab_glyph's scale is the pixel height of ascent - descent, not of the em.
    let scale = px_per_unit(fonts, face, size_pt, dpi) * font.height_unscaled();
    let x = f32::from(phase) / f32::from(SUBPIXELS);
    let glyph = id.with_scale_and_position(scale, point(x, 0.0));
    let Some(outlined) = font.outline_glyph(glyph) else {
        return Bitmap::default();
    };
    let bounds = outlined.px_bounds();
    let (width, height) = (bounds.width() as u32, bounds.height() as u32);
    let mut coverage = vec![0u8; width as usize * height as usize];
    outlined.draw(|gx, gy, c| {
        if let Some(b) = coverage.get_mut(gy as usize * width as usize + gx as usize) {
            *b = (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        }
    });
    let spans = coverage
        .chunks_exact(width.max(1) as usize)
        .map(|row| {
            let start = row.iter().position(|&a| a > 0).unwrap_or(0);
            let end = row.iter().rposition(|&a| a > 0).map_or(start, |e| e + 1);
            (start as u32, end as u32)
        })
        .collect();
    Bitmap {
        at: Placement {
            width,
            height,
            left: bounds.min.x as i32,
            top: bounds.min.y as i32,
        },
        coverage,
        spans,
    }
}

/// Where each glyph of `text` goes: (glyph, pen x in whole pixels, quarter-pixel phase).
/// Positions come from [`Fonts::layout`], so kerning matches the measured width exactly.
fn place(
    fonts: &Fonts,
    face: Face,
    size_pt: f32,
    dpi: f32,
    x_px: f32,
    text: &str,
    mut each: impl FnMut(GlyphId, i32, u8),
) {
    let ppu = px_per_unit(fonts, face, size_pt, dpi);
    let sub = f32::from(SUBPIXELS);
    fonts.layout(face, text, |id, pen_units| {
        let x = x_px + pen_units * ppu;
        let mut whole = x.floor();
        let mut phase = ((x - whole) * sub).round();
        if phase >= sub {
            whole += 1.0;
            phase = 0.0;
        }
        each(id, whole as i32, phase as u8);
    });
}

/// Whether a draw call can produce anything: guards the arithmetic below against sizes and
/// positions a caller computed from bad data (NaN would otherwise land glyphs at pixel 0).
fn drawable(dpi: f32, size_pt: f32, x_px: f32, baseline_px: f32) -> bool {
    dpi.is_finite()
        && dpi > 0.0
        && size_pt.is_finite()
        && size_pt > 0.0
        && x_px.is_finite()
        && baseline_px.is_finite()
}

/// Blends a glyph whose block's top-left pixel is at (`x0`, `y0`) onto an interleaved
/// image with `N` channels, clipped to the image: `out = dst + (colour - dst) × coverage`,
/// rounded exactly. Only each row's span of non-zero coverage is visited.
fn blend<const N: usize>(
    buf: &mut [u8],
    (img_w, img_h): (u32, u32),
    glyph: View<'_>,
    (x0, y0): (i32, i32),
    colour: [u8; N],
) {
    let w = i64::from(glyph.at.width);
    let (x0, y0) = (i64::from(x0), i64::from(y0));
    let (img_w, img_h) = (i64::from(img_w), i64::from(img_h));
    for (row, &(start, end)) in glyph.spans.iter().enumerate() {
        let y = y0 + row as i64;
        if y < 0 || y >= img_h {
            continue;
        }
        let from = (x0 + i64::from(start)).max(0);
        let to = (x0 + i64::from(end)).min(img_w);
        if from >= to {
            continue;
        }
        let len = (to - from) as usize;
        let src_start = (row as i64 * w + (from - x0)) as usize;
        let dst_start = (y * img_w + from) as usize * N;
        let (Some(src), Some(dst)) = (
            glyph.coverage.get(src_start..src_start + len),
            buf.get_mut(dst_start..dst_start + len * N),
        ) else {
            return;
        };
        let (pixels, _) = dst.as_chunks_mut::<N>();
        for (&a, px) in src.iter().zip(pixels) {
            match a {
                0 => {}
                255 => *px = colour,
                _ => {
                    let (a, inv) = (u32::from(a), u32::from(255 - a));
                    for k in 0..N {
                        let t = u32::from(px[k]) * inv + u32::from(colour[k]) * a + 128;
                        px[k] = ((t + (t >> 8)) >> 8) as u8;
                    }
                }
            }
        }
    }
}

/// Draws every glyph of `text` onto `buf` with `N` channels per pixel.
#[allow(clippy::too_many_arguments)]
fn draw<const N: usize>(
    cache: &mut GlyphCache,
    fonts: &Fonts,
    buf: &mut [u8],
    dims: (u32, u32),
    face: Face,
    size_pt: f32,
    x_px: f32,
    baseline_px: f32,
    text: &str,
    colour: [u8; N],
) {
    if !drawable(cache.dpi, size_pt, x_px, baseline_px) {
        return;
    }
    let dpi = cache.dpi;
    let centi = centipoints(size_pt);
    let baseline = baseline_px.round() as i32;
    place(fonts, face, size_pt, dpi, x_px, text, |id, pen, phase| {
        let glyph = cache.glyph(fonts, face, centi, id, phase);
        let origin = (pen + glyph.at.left, baseline + glyph.at.top);
        blend(buf, dims, glyph, origin, colour);
    });
}

/// Draws `text` with its left end (pen origin) at (`x_px`, `baseline_px`) in colour `rgb`,
/// blending each glyph's coverage over what is already there; kerning as
/// [`Fonts::width_mm`] measures it. Ink falling outside the image is dropped (the layout,
/// not the rasteriser, guarantees that text stays in its box).
#[allow(clippy::too_many_arguments)]
pub fn draw_rgb(
    cache: &mut GlyphCache,
    fonts: &Fonts,
    img: &mut RgbImage,
    face: Face,
    size_pt: f32,
    x_px: f32,
    baseline_px: f32,
    text: &str,
    rgb: Rgb,
) {
    let dims = img.dimensions();
    let buf: &mut [u8] = img;
    let colour = [rgb.0, rgb.1, rgb.2];
    draw(
        cache,
        fonts,
        buf,
        dims,
        face,
        size_pt,
        x_px,
        baseline_px,
        text,
        colour,
    );
}

/// As [`draw_rgb`], onto a grey image (0 = black ink, 255 = paper) with grey level `ink`:
/// the mask a monochrome printer or laser engraver is driven from.
#[allow(clippy::too_many_arguments)]
pub fn draw_gray(
    cache: &mut GlyphCache,
    fonts: &Fonts,
    img: &mut GrayImage,
    face: Face,
    size_pt: f32,
    x_px: f32,
    baseline_px: f32,
    text: &str,
    ink: u8,
) {
    let dims = img.dimensions();
    let buf: &mut [u8] = img;
    draw(
        cache,
        fonts,
        buf,
        dims,
        face,
        size_pt,
        x_px,
        baseline_px,
        text,
        [ink],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fonts::fonts;
    use image::{Luma, Rgb as Px};

    const DPI: f32 = 300.0;
    /// ID-1 card at 300 dpi.
    const CARD: (u32, u32) = (1011, 638);

    fn f() -> &'static Fonts {
        fonts().expect("embedded fonts load")
    }

    /// Bounding box (x0, y0, x1, y1 exclusive) of pixels darker than paper.
    fn ink_box(img: &GrayImage) -> Option<(u32, u32, u32, u32)> {
        let mut b: Option<(u32, u32, u32, u32)> = None;
        for (x, y, p) in img.enumerate_pixels() {
            if p.0[0] < 255 {
                let (x0, y0, x1, y1) = b.unwrap_or((x, y, x + 1, y + 1));
                b = Some((x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)));
            }
        }
        b
    }

    /// The same layout, each glyph rasterised afresh (no cache at all).
    #[allow(clippy::too_many_arguments)]
    fn draw_gray_uncached(
        fonts: &Fonts,
        img: &mut GrayImage,
        face: Face,
        size_pt: f32,
        x_px: f32,
        baseline_px: f32,
        text: &str,
        ink: u8,
    ) {
        let dims = img.dimensions();
        let buf: &mut [u8] = img;
        let centi = centipoints(size_pt);
        let baseline = baseline_px.round() as i32;
        place(fonts, face, size_pt, DPI, x_px, text, |id, pen, phase| {
            let fresh = rasterise(fonts, DPI, face, centi, id, phase);
            let origin = (pen + fresh.at.left, baseline + fresh.at.top);
            blend(buf, dims, fresh.view(), origin, [ink]);
        });
    }

    #[test]
    fn eleonore_lands_where_its_metrics_say() {
        let fs = f();
        let face = Face::Regular;
        let (size, x, baseline) = (8.0, 100.3, 200.0);
        let mut img = GrayImage::from_pixel(600, 300, Luma([255]));
        let mut cache = GlyphCache::new(DPI);
        draw_gray(
            &mut cache,
            fs,
            &mut img,
            face,
            size,
            x,
            baseline,
            "ÉLÉONORE",
            0,
        );
        let (x0, y0, x1, y1) = ink_box(&img).expect("some ink");

        let ppu = px_per_unit(fs, face, size, DPI);
        let font = fs.font(face);
        let outline = |c: char| font.outline(font.glyph_id(c)).expect("outline");
        // Ink starts at the pen plus É's left side bearing (about 3 px at 8 pt).
        let left = x + outline('É').bounds.min.x * ppu;
        assert!(
            (x0 as f32 - left).abs() <= 1.0,
            "ink at {x0}, expected {left}"
        );
        // …and ends at the advance width minus the last E's right side bearing.
        let advance_px = fs.width_mm(face, size, "ÉLÉONORE") * DPI / 25.4;
        let last_pen = fs.width_units(face, "ÉLÉONOR") * ppu;
        let right = x + last_pen + outline('E').bounds.max.x * ppu;
        assert!(
            (x1 as f32 - right).abs() <= 1.0,
            "ink ends {x1}, expected {right}"
        );
        let bearings = (left - x) + (x + advance_px - right);
        let ink_w = (x1 - x0) as f32;
        assert!(
            (ink_w - (advance_px - bearings)).abs() <= 2.0,
            "ink {ink_w} px, advance {advance_px} px, bearings {bearings} px"
        );

        // Bottom on the baseline (O's overshoot is under a pixel); the L's stem is exactly
        // cap height tall; the accents rise above it.
        let cap_px = fs.cap_height_mm(face, size) * DPI / 25.4;
        assert!((y1 as f32 - baseline).abs() <= 1.0, "ink bottom {y1}");
        let l_pen = x + fs.width_units(face, "É") * ppu;
        let l_left = (l_pen + outline('L').bounds.min.x * ppu).ceil() as u32;
        let l_top = (0..300)
            .find(|&y| img.get_pixel(l_left + 1, y).0[0] < 128)
            .expect("L stem");
        let stem = baseline - l_top as f32;
        assert!(
            (stem - cap_px).abs() <= 1.0,
            "stem {stem} px, cap {cap_px} px"
        );
        assert!(
            (y0 as f32) < baseline - cap_px - 2.0,
            "accents above the capitals"
        );
        assert!(baseline - (y0 as f32) <= fs.ascent_mm(face, size) * DPI / 25.4 + 1.0);
    }

    #[test]
    fn cached_equals_uncached_and_reuses_glyphs() {
        let fs = f();
        let texts = [
            (Face::Bold, 8.0, "DE LA TOUR D'AUVERGNE"),
            (Face::Regular, 6.75, "Łukasz Żółkiewski 01.06.2029"),
            (Face::Regular, 5.25, "Ștefan Păun — Zoltán Kővári"),
        ];
        let mut cache = GlyphCache::new(DPI);
        let mut warm = GrayImage::from_pixel(CARD.0, CARD.1, Luma([255]));
        let mut cold = warm.clone();
        let mut fresh = warm.clone();
        for (i, (face, size, text)) in texts.iter().enumerate() {
            let (x, y) = (10.37 + i as f32 * 3.1, 40.0 + 30.0 * i as f32);
            draw_gray(&mut cache, fs, &mut cold, *face, *size, x, y, text, 20);
            draw_gray_uncached(fs, &mut fresh, *face, *size, x, y, text, 20);
        }
        let glyphs = cache.len();
        for (i, (face, size, text)) in texts.iter().enumerate() {
            let (x, y) = (10.37 + i as f32 * 3.1, 40.0 + 30.0 * i as f32);
            draw_gray(&mut cache, fs, &mut warm, *face, *size, x, y, text, 20);
        }
        assert_eq!(cache.len(), glyphs, "second pass rasterises nothing");
        assert!(cold == fresh, "cache changes pixels");
        assert!(warm == cold, "warm cache changes pixels");
        assert!(ink_box(&warm).is_some());
    }

    #[test]
    fn rgb_blends_and_matches_gray() {
        let fs = f();
        let mut cache = GlyphCache::new(DPI);
        let mut rgb = RgbImage::from_pixel(300, 80, Px([255, 255, 255]));
        let mut gray = GrayImage::from_pixel(300, 80, Luma([255]));
        draw_rgb(
            &mut cache,
            fs,
            &mut rgb,
            Face::Bold,
            8.0,
            5.5,
            50.0,
            "F 95",
            Rgb(0, 51, 153),
        );
        draw_gray(
            &mut cache,
            fs,
            &mut gray,
            Face::Bold,
            8.0,
            5.5,
            50.0,
            "F 95",
            0,
        );
        let mut full = 0;
        for (p, g) in rgb.pixels().zip(gray.pixels()) {
            let a = 255 - u32::from(g.0[0]);
            // Same coverage, same blend: red (0 like the grey ink) equals the grey.
            assert_eq!(p.0[0], g.0[0]);
            if a == 255 {
                assert_eq!(p.0, [0, 51, 153]);
                full += 1;
            }
        }
        assert!(full > 50, "solid stems");
        // Blending over ink already there never lightens it.
        let before = gray.clone();
        draw_gray(
            &mut cache,
            fs,
            &mut gray,
            Face::Bold,
            8.0,
            5.5,
            50.0,
            "F 95",
            0,
        );
        assert!(
            gray.pixels()
                .zip(before.pixels())
                .all(|(a, b)| a.0[0] <= b.0[0])
        );
    }

    #[test]
    fn clipped_and_degenerate_draws_do_not_panic() {
        let fs = f();
        let mut cache = GlyphCache::new(DPI);
        let mut img = GrayImage::from_pixel(40, 20, Luma([255]));
        for (x, y) in [
            (-30.0, 10.0),
            (35.0, 10.0),
            (5.0, -3.0),
            (5.0, 45.0),
            (1e12, 5.0),
        ] {
            draw_gray(
                &mut cache,
                fs,
                &mut img,
                Face::Regular,
                8.0,
                x,
                y,
                "WAWA",
                0,
            );
        }
        for (size, x) in [
            (f32::NAN, 0.0),
            (0.0, 0.0),
            (-8.0, 0.0),
            (8.0, f32::INFINITY),
        ] {
            draw_gray(
                &mut cache,
                fs,
                &mut img,
                Face::Regular,
                size,
                x,
                10.0,
                "X",
                0,
            );
        }
        let mut none = GlyphCache::new(0.0);
        let mut blank = GrayImage::from_pixel(40, 20, Luma([255]));
        draw_gray(
            &mut none,
            fs,
            &mut blank,
            Face::Regular,
            8.0,
            2.0,
            15.0,
            "X",
            0,
        );
        assert!(ink_box(&blank).is_none());
        let mut empty = GrayImage::new(0, 0);
        draw_gray(
            &mut cache,
            fs,
            &mut empty,
            Face::Regular,
            8.0,
            0.0,
            0.0,
            "X",
            0,
        );
    }

    #[test]
    fn caches_are_per_thread() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<GlyphCache>();
        sync::<Fonts>();
        let fs = f();
        let images: Vec<GrayImage> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(move || {
                        let mut cache = GlyphCache::new(DPI);
                        let mut img = GrayImage::from_pixel(200, 40, Luma([255]));
                        draw_gray(
                            &mut cache,
                            fs,
                            &mut img,
                            Face::Regular,
                            7.0,
                            3.0,
                            30.0,
                            "Kővári",
                            0,
                        );
                        img
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("worker"))
                .collect()
        });
        assert!(images[0] == images[1]);
    }
}
