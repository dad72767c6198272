//! Picture preparation for personalisation: the holder's photo (field 6) and signature (field 7)
//! become exactly-sized greyscale bitmaps at 300 dpi, and then the 1-bit form the laser engraver
//! takes.
//!
//! Intake (`domain::images`) already proved the stored bytes are a whole JPEG or PNG of an
//! acceptable size and shape. This module re-checks what it relies on (truncation, CMYK, size)
//! because it reads those bytes again, possibly months later, and a picture that goes wrong here
//! goes wrong on polycarbonate: an engraved card cannot be corrected, only destroyed and
//! accounted for. Every rule, constant and error is explained in `docs/pictures.md`.
//!
//! The work is done on one 8-bit luma plane from decoding on: the photo is the largest piece of
//! work per card (benchmark goal 400 cards/s on two cores), and colour is never printed.

use crate::domain::exif::{Orientation, exif_orientation, png_orientation};
use std::io::Cursor;
use std::sync::LazyLock;

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// What can go wrong while preparing a picture. Each message says what is wrong and by how
/// much, because an operator reads it on a held card and must decide alone whether to ask the
/// driver for a new picture.
///
/// `Eq` is implemented by hand: the two `f32` fields are computed from pixel counts and are
/// never NaN, so equality is reflexive and tests can compare errors whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrepareError {
    /// The bytes do not decode, or the JPEG stops before its end-of-image marker.
    #[error("the {what} cannot be decoded: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// Neither JPEG nor PNG: intake lets nothing else in, so the stored bytes were swapped or
    /// damaged.
    #[error("the {what} is neither a JPEG nor a PNG (it starts with {first_bytes})")]
    NotJpegOrPng {
        what: &'static str,
        first_bytes: String,
    },
    /// Larger than anything intake accepts: refused before a pixel buffer is allocated.
    #[error(
        "the {what} is {width} x {height} pixels; at most {max_side} per side and {max_mp} megapixels are prepared",
        max_side = MAX_SIDE,
        max_mp = MAX_PIXELS / 1_000_000
    )]
    TooLarge {
        what: &'static str,
        width: u32,
        height: u32,
    },
    /// A CMYK or YCCK JPEG (print workflows): its colours need an ICC conversion we do not do.
    #[error("the {what} is a CMYK JPEG; send it in sRGB or greyscale")]
    Cmyk { what: &'static str },
    /// The photo (`width` x `height` as displayed, after its EXIF orientation) would have to be
    /// enlarged more than 1.5 times to fill the box: both sides must reach 2/3 of the box's.
    #[error(
        "the {what} is {width} x {height} pixels; at least {min_width} x {min_height} are needed to fill the box without enlarging it more than 1.5 times, which blurs it"
    )]
    TooSmall {
        what: &'static str,
        width: u32,
        height: u32,
        min_width: u32,
        min_height: u32,
    },
    /// Cropping the photo to the box's shape would cut more than 15 % of its area.
    #[error(
        "the {what} has a width/height ratio of {aspect:.3}; cropping it to the box would cut {crop_percent:.1} % of the picture, more than the {max} % allowed",
        max = MAX_CROP_PERCENT
    )]
    AspectFarOff {
        what: &'static str,
        aspect: f32,
        crop_percent: f32,
    },
    /// No ink once the signature is thresholded (blank paper, scanner noise, a speck of dust).
    #[error("the signature has no ink left after thresholding")]
    BlankSignature,
    /// The caller asked for an empty or absurd bitmap: a layout error, not a picture error.
    #[error(
        "the target size {width} x {height} pixels is not possible; each side must be 1 to {max}",
        max = MAX_TARGET_SIDE
    )]
    InvalidTarget { width: u32, height: u32 },
    /// The grey JPEG for the PDF proof could not be written.
    #[error("the grey JPEG cannot be encoded: {detail}")]
    Encode { detail: String },
}

impl Eq for PrepareError {}

/// Largest side decoded: intake's photo limit, the larger of its two (signatures stop at 4000).
const MAX_SIDE: u32 = 6000;
/// Largest picture decoded, in pixels: intake's photo limit.
const MAX_PIXELS: u64 = 24_000_000;
/// Largest bitmap asked for: 4000 px is 34 cm at 300 dpi, far beyond any box on a card.
const MAX_TARGET_SIDE: u32 = 4000;
/// Enlarging a photo by more than 3/2 visibly blurs a face at 300 dpi.
const MAX_UPSCALE: (u64, u64) = (3, 2);
/// Cropping more than this share of the area to reach the box's shape would change the
/// framing the driver chose (intake's 0.72-0.84 range costs at most 7.4 %).
const MAX_CROP_PERCENT: f32 = 15.0;
/// Share of a too-tall photo's surplus height cut above the head: 2/5, the other 3/5 below.
const TOP_CUT: (usize, usize) = (2, 5);

/// Prepares the holder's photo for a `w` x `h` box (300 dpi pixels).
///
/// Steps, each explained in `docs/pictures.md`: decode to BT.601 luma (transparent pixels on
/// white); read the EXIF orientation (JPEG APP1, or PNG eXIf) so the face is upright as the
/// driver saw it in the browser; crop to the box's aspect, horizontally centred and with
/// 2/5 of any surplus height taken from the top and 3/5 from the bottom (the head sits high
/// in an ID photo, the chest can go); refuse a crop over 15 % of the area or an enlargement over
/// 1.5 times; resample with Catmull-Rom (sharp, little ringing) straight from the uncropped
/// plane; then apply the engraving tone curve. Orientation is applied last, to the small
/// result, since flips and quarter turns commute with resampling.
pub fn prepare_photo(bytes: &[u8], w: u32, h: u32) -> Result<GrayImage, PrepareError> {
    const WHAT: &str = "photo";
    check_target(w, h)?;
    let picture = decode(bytes, WHAT)?;
    let o = picture.orientation;
    let (dw, dh) = o.display_dims(picture.width, picture.height);
    let crop = photo_crop(dw, dh, w as usize, h as usize)?;
    let stored = stored_rect(o, crop, picture.width, picture.height);
    let (rw, rh) = if o.swaps_axes() {
        (h as usize, w as usize)
    } else {
        (w as usize, h as usize)
    };
    let mut small = resample(
        &picture.luma,
        picture.width,
        picture.height,
        stored,
        rw,
        rh,
        Kernel::CatmullRom,
    );
    let lut = &*TONE_CURVE;
    for v in &mut small {
        *v = lut[usize::from(*v)];
    }
    Ok(orient(&small, rw, rh, o))
}

/// Prepares the holder's signature for a `w` x `h` box (300 dpi pixels): pure black ink
/// (0) on white (255).
///
/// Steps: decode to luma (transparent counts as paper, so ink drawn only in the alpha channel
/// shows), apply the EXIF orientation, choose the ink/paper threshold by Otsu's method (it
/// adapts to grey scanner paper and to pencil), refuse when the two classes are not really
/// different (scanner noise on blank paper) or when no ink is left once lone specks are
/// removed, trim to the ink's bounding box plus a margin of 4 % of its longer side, and scale to
/// fit inside the box, centred, keeping the signature's proportions. The scaled ink is
/// thresholded again at one third coverage, so strokes thinner than an output pixel survive a
/// large reduction instead of fading out.
pub fn prepare_signature(bytes: &[u8], w: u32, h: u32) -> Result<GrayImage, PrepareError> {
    const WHAT: &str = "signature";
    check_target(w, h)?;
    let picture = decode(bytes, WHAT)?;
    let o = picture.orientation;
    let (pw, ph) = o.display_dims(picture.width, picture.height);
    let luma = if o == Orientation::NORMAL {
        picture.luma
    } else {
        orient_vec(&picture.luma, picture.width, picture.height, o)
    };

    let mut histogram = [0u64; 256];
    for &v in &luma {
        histogram[usize::from(v)] += 1;
    }
    let split = ink_split(&histogram).ok_or(PrepareError::BlankSignature)?;
    let ink: Vec<bool> = luma.iter().map(|&v| v <= split.threshold).collect();
    let ink = without_lone_pixels(&ink, pw, ph);
    let bbox = ink_box(&ink, pw, ph).ok_or(PrepareError::BlankSignature)?;

    // The trimmed region: ink box plus margin, white where the margin leaves the picture.
    let margin = ((bbox.w.max(bbox.h) * SIGNATURE_MARGIN_PERCENT + 50) / 100).max(2);
    let (tw, th) = (bbox.w + 2 * margin, bbox.h + 2 * margin);
    let mut region = vec![PAPER; tw * th];
    for y in 0..bbox.h {
        let src = &ink[(bbox.y + y) * pw + bbox.x..][..bbox.w];
        let dst = &mut region[(y + margin) * tw + margin..][..bbox.w];
        for (d, &is_ink) in dst.iter_mut().zip(src) {
            if is_ink {
                *d = INK;
            }
        }
    }

    // Fit inside the box: the binding side fills it, the other is centred.
    let (bw, bh) = (w as usize, h as usize);
    let (sw, sh) = if tw * bh >= th * bw {
        (bw, ((th * bw + tw / 2) / tw).clamp(1, bh))
    } else {
        (((tw * bh + th / 2) / th).clamp(1, bw), bh)
    };
    let scaled = resample(
        &region,
        tw,
        th,
        Rect {
            x: 0,
            y: 0,
            w: tw,
            h: th,
        },
        sw,
        sh,
        Kernel::Triangle,
    );
    let mut out = GrayImage::from_pixel(w, h, image::Luma([PAPER]));
    let (x0, y0) = ((bw - sw) / 2, (bh - sh) / 2);
    let mut inked = false;
    let buf: &mut [u8] = &mut out;
    for y in 0..sh {
        let src = &scaled[y * sw..][..sw];
        let dst = &mut buf[(y0 + y) * bw + x0..][..sw];
        for (d, &v) in dst.iter_mut().zip(src) {
            if v < INK_COVERAGE_LEVEL {
                *d = INK;
                inked = true;
            }
        }
    }
    if !inked {
        return Err(PrepareError::BlankSignature);
    }
    Ok(out)
}

/// Turns a grey image into pure black (0) and white (255) by Floyd–Steinberg error diffusion,
/// the form the engraver takes.
///
/// Why error diffusion rather than ordered (Bayer) dithering: at 300 dpi one pixel is 85 µm, so
/// an 8 x 8 ordered matrix repeats every 0.68 mm, a visible cross-hatch over the face with only
/// 65 grey levels, and its fixed grid beats against fine detail (hair, eyelashes) into moiré.
/// Error diffusion carries each pixel's rounding error to its neighbours, so the local average
/// of black dots follows the tone everywhere, edges (eyes, mouth) stay sharp, and there is no
/// period to beat against. Rows are scanned alternately left to right and right to left
/// (serpentine), which breaks the diagonal "worms" a one-way scan draws in flat areas.
///
/// Deterministic: integer arithmetic only (errors in 1/16 of a grey level, the weights'
/// rounding remainder given to the last neighbour so no error is lost inside the image), the
/// same input always gives the same dots, which lets a quality analyst reproduce an engraving
/// bit for bit. Error that would fall outside the image is dropped.
pub fn dither(grey: &GrayImage) -> GrayImage {
    let w = grey.width() as usize;
    let mut out = GrayImage::new(grey.width(), grey.height());
    if w == 0 || grey.height() == 0 {
        return out;
    }
    let dst: &mut [u8] = &mut out;
    let mut above = vec![0i32; w];
    let mut below = vec![0i32; w];
    let rows = grey.as_raw().chunks_exact(w).zip(dst.chunks_exact_mut(w));
    for (y, (src_row, dst_row)) in rows.enumerate() {
        if y % 2 == 0 {
            diffuse_row::<true>(src_row, dst_row, &above, &mut below);
        } else {
            diffuse_row::<false>(src_row, dst_row, &above, &mut below);
        }
        std::mem::swap(&mut above, &mut below);
    }
    out
}

/// One row of Floyd–Steinberg, left to right when `FORWARD`, else right to left. `above` is
/// the error the previous row pushed down onto this one; `below` is overwritten with the error
/// this row pushes down. The error for the pixel ahead and the two partial sums for the row
/// below stay in registers, so each pixel costs one load and one store of error. Weights: 7/16
/// ahead, 3/16 below behind, 5/16 below, 1/16 below ahead (the remainder of the rounding).
fn diffuse_row<const FORWARD: bool>(src: &[u8], dst: &mut [u8], above: &[i32], below: &mut [i32]) {
    let w = src.len();
    // Error carried to the pixel ahead; partial sums for `below` at the pixel behind and here.
    let (mut ahead, mut behind_sum, mut here_sum) = (0i32, 0i32, 0i32);
    for i in 0..w {
        let x = if FORWARD { i } else { w - 1 - i };
        let value = i32::from(src[x]) * 16 + above[x] + ahead;
        let (level, printed) = if value < 128 * 16 {
            (0u8, 0)
        } else {
            (255u8, 255 * 16)
        };
        dst[x] = level;
        let e = value - printed;
        let (e7, e3, e5) = (e * 7 / 16, e * 3 / 16, e * 5 / 16);
        let e1 = e - e7 - e3 - e5;
        ahead = e7;
        if i > 0 {
            // The pixel behind, in the row below, gets nothing more after this one.
            below[if FORWARD { x - 1 } else { x + 1 }] = behind_sum + e3;
        }
        behind_sum = here_sum + e5;
        here_sum = e1;
    }
    // The last pixel's own share below; what would go beyond the edge is dropped.
    below[if FORWARD { w - 1 } else { 0 }] = behind_sum;
}

/// A greyscale JPEG (quality 90, one component, 300 dpi in its JFIF header) of a prepared
/// photo, embedded in PDF proofs as it is (DCTDecode): one component is a third of the data of
/// an RGB JPEG, and quality 90 keeps JPEG artefacts below what an operator can see on a proof.
pub fn grey_jpeg(grey: &GrayImage) -> Result<Vec<u8>, PrepareError> {
    if grey.width() == 0 || grey.height() == 0 {
        return Err(PrepareError::Encode {
            detail: format!(
                "the image is {} x {} pixels; a JPEG needs at least one",
                grey.width(),
                grey.height()
            ),
        });
    }
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
    encoder.set_pixel_density(PixelDensity::dpi(300));
    encoder
        .encode_image(grey)
        .map_err(|e| PrepareError::Encode {
            detail: e.to_string(),
        })?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Target and crop geometry

fn check_target(w: u32, h: u32) -> Result<(), PrepareError> {
    if w == 0 || h == 0 || w > MAX_TARGET_SIDE || h > MAX_TARGET_SIDE {
        return Err(PrepareError::InvalidTarget {
            width: w,
            height: h,
        });
    }
    Ok(())
}

/// A rectangle of pixels: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// The part of a `dw` x `dh` (display-oriented) photo that fills a `w` x `h` box.
///
/// Too wide: full height, width cut equally on both sides. Too tall: full width, 2/5 of the
/// surplus height cut at the top and 3/5 at the bottom, because in an ID photo the head sits in
/// the upper part and the margin above the crown is the smaller one; cutting equally would
/// take the crown before the chest. Widths and heights are rounded to the nearest pixel,
/// offsets down.
fn photo_crop(dw: usize, dh: usize, w: usize, h: usize) -> Result<Rect, PrepareError> {
    let (wide, tall) = (dw * h, w * dh); // compare dw/dh with w/h without division
    let mut crop = Rect {
        x: 0,
        y: 0,
        w: dw,
        h: dh,
    };
    if wide > tall {
        crop.w = ((dh * w + h / 2) / h).clamp(1, dw);
        crop.x = (dw - crop.w) / 2;
    } else if wide < tall {
        crop.h = ((dw * h + w / 2) / w).clamp(1, dh);
        crop.y = (dh - crop.h) * TOP_CUT.0 / TOP_CUT.1;
    }
    let kept = (crop.w * crop.h) as f64 / (dw * dh) as f64;
    let crop_percent = ((1.0 - kept) * 100.0) as f32;
    if crop_percent > MAX_CROP_PERCENT {
        return Err(PrepareError::AspectFarOff {
            what: "photo",
            aspect: (dw as f64 / dh as f64) as f32,
            crop_percent,
        });
    }
    // The crop has the box's shape, so the enlargement is max(w / dw, h / dh): the binding
    // side is the one the crop leaves whole. Testing the uncropped sides avoids refusing a
    // picture for the crop's rounding.
    let (num, den) = MAX_UPSCALE;
    let least = |need: usize| (need as u64 * den).div_ceil(num);
    let (min_width, min_height) = (least(w), least(h));
    if (dw as u64) < min_width || (dh as u64) < min_height {
        return Err(PrepareError::TooSmall {
            what: "photo",
            width: dw as u32,
            height: dh as u32,
            min_width: min_width as u32,
            min_height: min_height as u32,
        });
    }
    Ok(crop)
}

// ---------------------------------------------------------------------------------------------
// Tone curve

/// Input level mapped to black: darker shadows are noise, engraved solid.
const TONE_BLACK: f64 = 8.0;
/// Input level mapped to white: a studio background (JPEG noise around 250) must leave the
/// card clear instead of scattering stray dots over it.
const TONE_WHITE: f64 = 247.0;
/// Exponent below 1 lifts the mid-tones: laser-engraved polycarbonate darkens more than the
/// grey value asks for (each burnt spot spreads), so a face engraved linearly comes out heavy.
const TONE_GAMMA: f64 = 0.85;
/// Weight of the smoothstep S-curve: a gentle mid-tone contrast that keeps eyes, brows and
/// mouth distinct after dithering; 0 would be no S-curve, 1 a strong one.
const TONE_S: f64 = 0.3;

/// The engraving tone curve, one entry per input level (see [`tone`]); built once.
static TONE_CURVE: LazyLock<[u8; 256]> = LazyLock::new(|| {
    let mut lut = [0u8; 256];
    for (v, out) in (0u8..=255).zip(lut.iter_mut()) {
        *out = tone(v);
    }
    lut
});

/// Levels (8 → 0, 247 → 255), then gamma 0.85, then an S-curve `s = g + 0.3 (3g² - 2g³ - g)`.
/// Monotonic, with 0 → 0 and 255 → 255; a mid-grey 128 becomes 144.
fn tone(v: u8) -> u8 {
    let x = ((f64::from(v) - TONE_BLACK) / (TONE_WHITE - TONE_BLACK)).clamp(0.0, 1.0);
    let g = x.powf(TONE_GAMMA);
    let smooth = g * g * (3.0 - 2.0 * g);
    let s = g + TONE_S * (smooth - g);
    (s * 255.0).round().clamp(0.0, 255.0) as u8
}

// ---------------------------------------------------------------------------------------------
// Signature thresholding

/// Ink and paper levels in the signature bitmaps.
const INK: u8 = 0;
const PAPER: u8 = 255;
/// Least difference between the mean ink and mean paper levels Otsu finds: below it the
/// "ink" is scanner noise on blank paper (a few levels apart), not a pen (a pencil on white is
/// still 80 apart).
const MIN_INK_CONTRAST: f64 = 48.0;
/// A signature is mostly paper: when Otsu's dark class holds more than this share of the
/// pixels, it has split the paper itself (a shadow across a photographed sheet), and the split
/// is looked for again among the dark levels only.
const MAX_INK_SHARE: f64 = 0.4;
/// Fewer ink pixels than this, once lone specks are removed, is a blank signature with dust.
const MIN_INK_PIXELS: usize = 20;
/// White margin around the trimmed ink, in percent of the ink box's longer side (at least
/// 2 px): the engraving never touches the box's edge and resampling never clips a stroke.
const SIGNATURE_MARGIN_PERCENT: usize = 4;
/// After scaling the black-and-white signature, a pixel at least one third covered by ink is
/// ink: a stroke thinner than an output pixel survives a large reduction, at the cost of
/// strokes about a third of a pixel bolder.
const INK_COVERAGE_LEVEL: u8 = 170;

/// Otsu's split of a histogram: the threshold and the two classes' mean levels.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Levels `<= threshold` are ink.
    threshold: u8,
    ink_mean: f64,
    paper_mean: f64,
}

/// The ink/paper split of a signature's histogram: Otsu's threshold, moved down into the dark
/// class while that class is too large to be ink (see [`MAX_INK_SHARE`]). `None` when no
/// split separates ink from paper by at least [`MIN_INK_CONTRAST`] levels: blank paper, whose
/// only "ink" is scanner noise a few levels darker than the rest.
fn ink_split(histogram: &[u64; 256]) -> Option<Split> {
    let total: u64 = histogram.iter().sum();
    let mut split = otsu(histogram, 255)?;
    loop {
        let ink: u64 = histogram[..=usize::from(split.threshold)].iter().sum();
        if ink as f64 <= MAX_INK_SHARE * total as f64 {
            break;
        }
        split = otsu(histogram, split.threshold)?;
    }
    (split.paper_mean - split.ink_mean >= MIN_INK_CONTRAST).then_some(split)
}

/// Otsu's method on the levels `0..=top`: the threshold that maximises the between-class
/// variance `w0 w1 (m0 - m1)²`, i.e. splits the levels into the two most distinct groups (ink,
/// paper) without assuming where either lies. When several thresholds tie (an empty gap
/// between ink and paper levels), the middle of the gap is taken, which is the most tolerant of
/// both. The threshold is always below `top`. `None` when those levels hold a single value.
fn otsu(histogram: &[u64; 256], top: u8) -> Option<Split> {
    let histogram = &histogram[..=usize::from(top)];
    let total: u64 = histogram.iter().sum();
    let weighted: f64 = (0u32..)
        .zip(histogram)
        .map(|(level, &n)| f64::from(level) * n as f64)
        .sum();
    let (mut w0, mut sum0) = (0u64, 0f64);
    let mut best: Option<(f64, u8, u8, Split)> = None; // variance, first, last, split at first
    for (level, &n) in (0u8..=top).zip(histogram) {
        w0 += n;
        sum0 += f64::from(level) * n as f64;
        if w0 == 0 {
            continue;
        }
        let w1 = total - w0;
        if w1 == 0 {
            break;
        }
        let m0 = sum0 / w0 as f64;
        let m1 = (weighted - sum0) / w1 as f64;
        let variance = w0 as f64 * w1 as f64 * (m1 - m0) * (m1 - m0);
        match &mut best {
            Some((v, _, last, _)) if variance == *v => *last = level,
            Some((v, ..)) if variance < *v => {}
            _ => {
                let split = Split {
                    threshold: level,
                    ink_mean: m0,
                    paper_mean: m1,
                };
                best = Some((variance, level, level, split));
            }
        }
    }
    // A tie means no level lies between `first` and `last`: the classes (and means) are the
    // same for every threshold in the gap, so only the threshold moves to its middle.
    best.map(|(_, first, last, split)| Split {
        threshold: ((u16::from(first) + u16::from(last)) / 2) as u8,
        ..split
    })
}

/// Removes ink pixels with no ink among their eight neighbours: scanner dust and JPEG specks,
/// which would otherwise stretch the bounding box to a corner. A pen stroke is never one
/// pixel alone.
fn without_lone_pixels(ink: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut out = ink.to_vec();
    for y in 0..h {
        for x in 0..w {
            if !ink[y * w + x] {
                continue;
            }
            let mut company = false;
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    if (nx, ny) != (x, y) && ink[ny * w + nx] {
                        company = true;
                    }
                }
            }
            out[y * w + x] = company;
        }
    }
    out
}

/// The bounding box of the ink, or `None` when there is too little ink to be a signature.
fn ink_box(ink: &[bool], w: usize, h: usize) -> Option<Rect> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    let mut count = 0usize;
    for y in 0..h {
        for (x, &is_ink) in ink[y * w..][..w].iter().enumerate() {
            if is_ink {
                count += 1;
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    (count >= MIN_INK_PIXELS).then(|| Rect {
        x: x0,
        y: y0,
        w: x1 - x0 + 1,
        h: y1 - y0 + 1,
    })
}

// ---------------------------------------------------------------------------------------------
// Orientation

/// The stored rectangle that shows as `r` (display coordinates): the orientations only
/// flip and transpose, so the rectangle's two corners map to two corners.
fn stored_rect(o: Orientation, r: Rect, w: usize, h: usize) -> Rect {
    let (ax, ay) = o.to_stored(r.x, r.y, w, h);
    let (bx, by) = o.to_stored(r.x + r.w - 1, r.y + r.h - 1, w, h);
    Rect {
        x: ax.min(bx),
        y: ay.min(by),
        w: ax.abs_diff(bx) + 1,
        h: ay.abs_diff(by) + 1,
    }
}

/// The display-oriented copy of a stored `w` x `h` plane.
fn orient_vec(plane: &[u8], w: usize, h: usize, o: Orientation) -> Vec<u8> {
    if o == Orientation::NORMAL {
        return plane.to_vec();
    }
    let (dw, dh) = o.display_dims(w, h);
    let mut out = Vec::with_capacity(dw * dh);
    for dy in 0..dh {
        for dx in 0..dw {
            let (sx, sy) = o.to_stored(dx, dy, w, h);
            out.push(plane[sy * w + sx]);
        }
    }
    out
}

/// [`orient_vec`] into a `GrayImage`.
fn orient(plane: &[u8], w: usize, h: usize, o: Orientation) -> GrayImage {
    let (dw, dh) = o.display_dims(w, h);
    let mut out = GrayImage::new(dw as u32, dh as u32);
    let buf: &mut [u8] = &mut out;
    if o == Orientation::NORMAL {
        buf.copy_from_slice(plane);
    } else {
        for (i, d) in buf.iter_mut().enumerate() {
            let (sx, sy) = o.to_stored(i % dw, i / dw, w, h);
            *d = plane[sy * w + sx];
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A decoded picture: its BT.601 luma plane as stored (not yet oriented), composited on white.
struct Decoded {
    width: usize,
    height: usize,
    luma: Vec<u8>,
    orientation: Orientation,
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn decode(bytes: &[u8], what: &'static str) -> Result<Decoded, PrepareError> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes, what)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        decode_png(bytes, what)
    } else {
        let first_bytes = if bytes.is_empty() {
            "nothing: it is empty".to_owned()
        } else {
            bytes
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        Err(PrepareError::NotJpegOrPng { what, first_bytes })
    }
}

fn check_size(what: &'static str, width: usize, height: usize) -> Result<(), PrepareError> {
    let (w, h) = (width as u64, height as u64);
    if w > u64::from(MAX_SIDE) || h > u64::from(MAX_SIDE) || w * h > MAX_PIXELS {
        return Err(PrepareError::TooLarge {
            what,
            width: width as u32,
            height: height as u32,
        });
    }
    if w == 0 || h == 0 {
        return Err(PrepareError::Corrupt {
            what,
            detail: format!("it claims {width} x {height} pixels"),
        });
    }
    Ok(())
}

/// Decodes a JPEG with zune-jpeg in strict mode (image data that runs out, or meets a marker
/// where none belongs, is an error instead of grey blocks), after [`jpeg_structure`] proved
/// the file whole. JPEG has no checksum: data garbled in place but still well-formed decodes
/// into garbage that no decoder can tell from a picture. Grey and YCbCr files are decoded
/// straight to their Y plane, which *is* BT.601 luma (JFIF defines Y so), skipping chroma
/// upsampling and colour conversion; RGB-coded files are converted here. CMYK and YCCK are
/// refused: converting them needs the file's ICC profile, and a naive conversion gives wrong
/// skin tones.
fn decode_jpeg(bytes: &[u8], what: &'static str) -> Result<Decoded, PrepareError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;

    let corrupt = |detail: String| PrepareError::Corrupt { what, detail };
    let orientation = jpeg_structure(bytes).map_err(|d| corrupt(d.to_owned()))?;
    let options = DecoderOptions::default().set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| corrupt(e.to_string()))?;
    let (width, height) = decoder
        .dimensions()
        .ok_or_else(|| corrupt("no frame header".to_owned()))?;
    check_size(what, width, height)?;
    let components = decoder.info().map_or(0, |i| i.components);
    let input = decoder
        .input_colorspace()
        .ok_or_else(|| corrupt("no colour space".to_owned()))?;
    let output = match (input, components) {
        (ColorSpace::CMYK | ColorSpace::YCCK, 4) => return Err(PrepareError::Cmyk { what }),
        (ColorSpace::Luma, 1) | (ColorSpace::YCbCr, 3) => ColorSpace::Luma,
        (ColorSpace::RGB, 3) => ColorSpace::RGB,
        (other, n) => {
            return Err(corrupt(format!(
                "unsupported JPEG colour space {other:?} with {n} components"
            )));
        }
    };
    decoder.set_options(options.jpeg_set_out_colorspace(output));
    let pixels = decoder.decode().map_err(|e| corrupt(e.to_string()))?;
    let luma = if output == ColorSpace::RGB {
        pixels
            .chunks_exact(3)
            .map(|p| bt601(p[0].into(), p[1].into(), p[2].into(), 255) as u8)
            .collect()
    } else {
        pixels
    };
    if luma.len() != width * height {
        return Err(corrupt(format!(
            "the decoder returned {} pixels for {width} x {height}",
            luma.len()
        )));
    }
    Ok(Decoded {
        width,
        height,
        luma,
        orientation,
    })
}

/// Walks a JPEG's marker structure and returns the EXIF orientation of its first APP1 "Exif"
/// segment (1 when there is none).
///
/// Why walk it ourselves: JPEG decoders are lenient by design, and a file cut short often
/// decodes "successfully" with grey where the data stopped. A whole file has every segment
/// inside the file and an end-of-image marker (0xFFD9) after at least one scan; bytes after it
/// (camera trailers) are ignored.
fn jpeg_structure(b: &[u8]) -> Result<Orientation, &'static str> {
    const CUT: &str = "the file ends before its end-of-image marker (truncated)";
    let mut orientation = None;
    let mut scans = 0usize;
    let mut pos = 2; // after SOI, which `decode` checked
    loop {
        if b.get(pos) != Some(&0xFF) {
            return Err(if pos >= b.len() {
                CUT
            } else {
                "a byte that is not a marker where a segment should start"
            });
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1; // fill bytes
        }
        let marker = *b.get(pos).ok_or(CUT)?;
        pos += 1;
        match marker {
            0xD9 if scans > 0 => return Ok(orientation.unwrap_or(Orientation::NORMAL)),
            0xD9 => return Err("end-of-image marker before any image data"),
            0x01 | 0xD0..=0xD7 => continue, // markers without a length
            0x00 | 0xD8 => return Err("a misplaced marker"),
            _ => {}
        }
        let len = match b.get(pos..pos + 2) {
            Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => return Err(CUT),
        };
        if len < 2 {
            return Err("a segment with an impossible length");
        }
        let body = b.get(pos + 2..pos + len).ok_or(CUT)?;
        if marker == 0xE1
            && orientation.is_none()
            && let Some(tiff) = body.strip_prefix(b"Exif\0\0")
        {
            orientation = Some(exif_orientation(tiff).unwrap_or(Orientation::NORMAL));
        }
        pos += len;
        if marker == 0xDA {
            scans += 1;
            // Entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor
            // a restart marker.
            loop {
                pos += b
                    .get(pos..)
                    .and_then(|r| r.iter().position(|&x| x == 0xFF))
                    .ok_or(CUT)?;
                match b.get(pos + 1) {
                    None => return Err(CUT),
                    Some(0x00 | 0xD0..=0xD7) => pos += 2,
                    Some(0xFF) => pos += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

/// Decodes a PNG of any colour type and bit depth (palette, grey, grey + alpha, RGB, RGBA,
/// 1 to 16 bits, interlaced) under an allocation limit, then reduces it to luma on white.
fn decode_png(bytes: &[u8], what: &'static str) -> Result<Decoded, PrepareError> {
    let corrupt = |e: image::ImageError| PrepareError::Corrupt {
        what,
        detail: e.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    let mut limits = Limits::default();
    // 16-bit RGBA, the widest buffer the decoder makes, is 8 bytes a pixel.
    limits.max_alloc = Some(MAX_PIXELS * 8 + (1 << 20));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_size(what, width as usize, height as usize)?;
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok(Decoded {
        width: width as usize,
        height: height as usize,
        luma: luma_on_white(image),
        orientation: png_orientation(bytes),
    })
}

/// ITU-R BT.601 luma of gamma-encoded R'G'B' in `0..=max`, rounded: `0.299 R + 0.587 G +
/// 0.114 B`. The same weights JPEG uses for its Y, so a PNG and a JPEG of one photo give the
/// same grey. (`image`'s own `to_luma8` uses the BT.709 weights, which make red lips and skin
/// darker.)
fn bt601(r: u32, g: u32, b: u32, max: u32) -> u32 {
    ((299 * u64::from(r) + 587 * u64::from(g) + 114 * u64::from(b) + 500) / 1000)
        .min(u64::from(max)) as u32
}

/// `luma` seen through alpha `a` over white paper, both in `0..=max`.
fn over_white(luma: u32, a: u32, max: u32) -> u32 {
    let (l, a, m) = (u64::from(luma), u64::from(a), u64::from(max));
    ((l * a + m * (m - a.min(m)) + m / 2) / m) as u32
}

/// A 16-bit level to 8 bits, rounded (65535 → 255, 0x8080 → 128); taking the high byte
/// instead would shift every level down by up to one.
fn to_8(v: u32) -> u8 {
    ((u64::from(v) * 255 + 32767) / 65535) as u8
}

/// Reduces any decoded picture to 8-bit BT.601 luma, transparent pixels on white paper (a
/// transparent background is the card's, not black). 16-bit samples keep their precision
/// until the final rounding.
fn luma_on_white(image: DynamicImage) -> Vec<u8> {
    const M8: u32 = 255;
    const M16: u32 = 65535;
    match image {
        DynamicImage::ImageLuma8(g) => g.into_raw(),
        DynamicImage::ImageLumaA8(g) => g
            .as_raw()
            .chunks_exact(2)
            .map(|p| over_white(p[0].into(), p[1].into(), M8) as u8)
            .collect(),
        DynamicImage::ImageRgb8(g) => g
            .as_raw()
            .chunks_exact(3)
            .map(|p| bt601(p[0].into(), p[1].into(), p[2].into(), M8) as u8)
            .collect(),
        DynamicImage::ImageRgba8(g) => g
            .as_raw()
            .chunks_exact(4)
            .map(|p| {
                let l = bt601(p[0].into(), p[1].into(), p[2].into(), M8);
                over_white(l, p[3].into(), M8) as u8
            })
            .collect(),
        DynamicImage::ImageLuma16(g) => g.as_raw().iter().map(|&v| to_8(v.into())).collect(),
        DynamicImage::ImageLumaA16(g) => g
            .as_raw()
            .chunks_exact(2)
            .map(|p| to_8(over_white(p[0].into(), p[1].into(), M16)))
            .collect(),
        DynamicImage::ImageRgb16(g) => g
            .as_raw()
            .chunks_exact(3)
            .map(|p| to_8(bt601(p[0].into(), p[1].into(), p[2].into(), M16)))
            .collect(),
        other => other
            .to_rgba16()
            .as_raw()
            .chunks_exact(4)
            .map(|p| {
                let l = bt601(p[0].into(), p[1].into(), p[2].into(), M16);
                to_8(over_white(l, p[3].into(), M16))
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Resampling

/// Resampling kernels.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    /// Catmull-Rom cubic (Keys, a = -0.5): as sharp as Lanczos3 for a face, with half its
    /// support (4 taps instead of 6 at scale 1) and a smaller halo.
    CatmullRom,
    /// Tent: a coverage average for black-and-white signatures, no overshoot to threshold.
    Triangle,
}

impl Kernel {
    fn support(self) -> f64 {
        match self {
            Kernel::CatmullRom => 2.0,
            Kernel::Triangle => 1.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Kernel::CatmullRom if x < 1.0 => (1.5 * x - 2.5) * x * x + 1.0,
            Kernel::CatmullRom if x < 2.0 => ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0,
            Kernel::Triangle if x < 1.0 => 1.0 - x,
            _ => 0.0,
        }
    }
}

/// The taps of one axis: output `i` reads `stride` source samples from `starts[i]`, weighted by
/// `weights[i * stride..][..stride]` (zero-padded, so every output has the same tap count and
/// the inner loops have no bounds to test).
struct Axis {
    starts: Vec<usize>,
    stride: usize,
    weights: Vec<f32>,
}

/// Taps mapping the source span `off..off + span` (of a line of `src_len` samples) onto
/// `dst_len` outputs, pixel centres aligned. When shrinking, the kernel is widened by the
/// ratio so every source pixel contributes (no aliasing); taps outside the source are dropped
/// and the rest renormalised. Pixels outside the span but inside the source are used, as a
/// real edge would be.
fn axis(src_len: usize, off: usize, span: usize, dst_len: usize, kernel: Kernel) -> Axis {
    let ratio = span as f64 / dst_len as f64;
    let widen = ratio.max(1.0);
    let support = kernel.support() * widen;
    let stride = ((2.0 * support).ceil() as usize + 1).min(src_len);
    let mut starts = Vec::with_capacity(dst_len);
    let mut weights = vec![0f32; dst_len * stride];
    let mut raw = vec![0f64; stride];
    for (i, row) in weights.chunks_exact_mut(stride).enumerate() {
        let centre = off as f64 + (i as f64 + 0.5) * ratio - 0.5;
        let lo = ((centre - support).ceil().max(0.0) as usize).min(src_len - 1);
        let hi = ((centre + support).floor().max(0.0) as usize).clamp(lo, src_len - 1);
        let start = lo.min(src_len - stride);
        let taps = &mut raw[..hi - lo + 1];
        let mut sum = 0.0;
        for (k, t) in taps.iter_mut().enumerate() {
            *t = kernel.weight(((lo + k) as f64 - centre) / widen);
            sum += *t;
        }
        let out = &mut row[lo - start..][..taps.len()];
        if sum.abs() < 1e-9 {
            // Cannot happen with these kernels; the nearest sample is the safe answer.
            let nearest = (centre.round().max(0.0) as usize).clamp(lo, hi);
            out[nearest - lo] = 1.0;
        } else {
            for (o, &t) in out.iter_mut().zip(taps.iter()) {
                *o = (t / sum) as f32;
            }
        }
        starts.push(start);
    }
    Axis {
        starts,
        stride,
        weights,
    }
}

/// Resamples the `rect` part of a `src_w` x `src_h` plane to `dst_w` x `dst_h`.
///
/// Both passes have the same shape, a weighted sum of whole contiguous lines, a loop the
/// compiler vectorises, because the first pass writes its result transposed: pass 1 runs down
/// the source columns (only those the horizontal taps need) into an `f32` plane stored column
/// by column (Catmull-Rom overshoots below 0 and above 255 there; clamped only at the end);
/// pass 2 runs along that plane and writes back in row order. Per-pixel dot products of 5-7
/// taps, the obvious horizontal pass, were several times slower. `f32` rather than fixed point
/// because x86-64's baseline SIMD (SSE2) has float multiplies but no 32-bit integer one. The
/// result is still the same on every machine: each output is the same sequence of IEEE
/// operations (Rust never fuses a multiply and an add on its own).
fn resample(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    rect: Rect,
    dst_w: usize,
    dst_h: usize,
    kernel: Kernel,
) -> Vec<u8> {
    let ax = axis(src_w, rect.x, rect.w, dst_w, kernel);
    let ay = axis(src_h, rect.y, rect.h, dst_h, kernel);
    let x_lo = ax.starts.first().copied().unwrap_or(0);
    let x_hi = ax.starts.last().map_or(0, |s| s + ax.stride);
    let cols = x_hi - x_lo;

    // Pass 1 (vertical): `mid[c * dst_h + oy]`, column `c` counted from `x_lo`.
    let mut mid = vec![0f32; cols * dst_h];
    let mut acc = vec![0f32; cols];
    for (oy, taps) in ay.weights.chunks_exact(ay.stride).enumerate() {
        acc.fill(0.0);
        for (k, &wt) in taps.iter().enumerate() {
            if wt != 0.0 {
                let line = &src[(ay.starts[oy] + k) * src_w + x_lo..][..cols];
                for (a, &v) in acc.iter_mut().zip(line) {
                    *a += wt * f32::from(v);
                }
            }
        }
        for (column, &a) in mid.chunks_exact_mut(dst_h).zip(&acc) {
            column[oy] = a;
        }
    }

    // Pass 2 (horizontal): the output, row by row.
    let mut out = vec![0u8; dst_w * dst_h];
    let mut acc = vec![0f32; dst_h];
    for (ox, taps) in ax.weights.chunks_exact(ax.stride).enumerate() {
        acc.fill(0.0);
        for (k, &wt) in taps.iter().enumerate() {
            if wt != 0.0 {
                let column = &mid[(ax.starts[ox] - x_lo + k) * dst_h..][..dst_h];
                for (a, &v) in acc.iter_mut().zip(column) {
                    *a += wt * v;
                }
            }
        }
        for (row, &a) in out.chunks_exact_mut(dst_w).zip(&acc) {
            row[ox] = (a + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayAlphaImage, ImageBuffer, Luma, LumaA, Rgb, RgbImage, Rgba, RgbaImage};

    const BOX: (u32, u32) = (300, 386); // the card's photo box at 300 dpi (25.4 x 32.7 mm)
    const SIG_BOX: (u32, u32) = (354, 118);

    fn png(img: impl Into<DynamicImage>) -> Vec<u8> {
        let mut out = Vec::new();
        img.into()
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn jpeg(img: impl Into<DynamicImage>, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(&img.into())
            .unwrap();
        out
    }

    /// A face-like picture: background, head, eyes, some texture.
    fn face(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let fx = x as f32 / w as f32 - 0.5;
            let fy = y as f32 / h as f32 - 0.45;
            let head = (fx / 0.3).powi(2) + (fy / 0.38).powi(2) < 1.0;
            let eye = (fx.abs() - 0.12).powi(2) + (fy + 0.08).powi(2) < 0.0016;
            let v = if eye {
                30.0
            } else if head {
                170.0 - 80.0 * fy
            } else {
                235.0 - 20.0 * fx
            };
            let g = (v + ((x * 7 + y * 13) % 17) as f32 - 8.0).clamp(0.0, 255.0);
            Rgb([(g * 1.05).min(255.0) as u8, g as u8, (g * 0.9) as u8])
        })
    }

    /// A TIFF block holding IFD0 with an unrelated tag, then the orientation.
    fn tiff(orientation: u16, big_endian: bool) -> Vec<u8> {
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut t = Vec::new();
        t.extend(if big_endian { b"MM" } else { b"II" });
        t.extend(u16b(42));
        t.extend(u32b(8));
        t.extend(u16b(2)); // entries
        for (tag, value) in [(0x010F_u16, 7_u16), (0x0112, orientation)] {
            t.extend(u16b(tag));
            t.extend(u16b(3)); // SHORT
            t.extend(u32b(1));
            t.extend(u16b(value));
            t.extend([0, 0]);
        }
        t.extend(u32b(0)); // no next IFD
        t
    }

    /// Inserts an APP1 Exif segment right after SOI, by hand.
    fn with_exif(jpeg: &[u8], orientation: u16, big_endian: bool) -> Vec<u8> {
        let mut body = b"Exif\0\0".to_vec();
        body.extend(tiff(orientation, big_endian));
        let mut out = jpeg[..2].to_vec();
        out.extend([0xFF, 0xE1]);
        out.extend(((body.len() + 2) as u16).to_be_bytes());
        out.extend(body);
        out.extend(&jpeg[2..]);
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
        !crc
    }

    /// Inserts an eXIf chunk after a PNG's IHDR.
    fn png_with_exif(png: &[u8], orientation: u16) -> Vec<u8> {
        let data = tiff(orientation, true);
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        let mut typed = b"eXIf".to_vec();
        typed.extend(&data);
        chunk.extend(&typed);
        chunk.extend(crc32(&typed).to_be_bytes());
        let ihdr_end = 8 + 8 + 13 + 4;
        let mut out = png[..ihdr_end].to_vec();
        out.extend(chunk);
        out.extend(&png[ihdr_end..]);
        out
    }

    /// Bit writer for hand-built JPEG entropy data (with 0xFF byte stuffing).
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }

    impl Bits {
        fn put(&mut self, value: u32, len: u32) {
            for i in (0..len).rev() {
                self.acc = (self.acc << 1) | ((value >> i) & 1);
                self.n += 1;
                if self.n == 8 {
                    let byte = self.acc as u8;
                    self.out.push(byte);
                    if byte == 0xFF {
                        self.out.push(0);
                    }
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }

        /// A DC difference: its category (4-bit code, see the DHT below), then its bits.
        fn dc(&mut self, diff: i32) {
            let cat = 32 - diff.unsigned_abs().leading_zeros();
            self.put(cat, 4);
            let v = if diff < 0 {
                diff + (1 << cat) - 1
            } else {
                diff
            };
            self.put(v as u32, cat);
        }

        fn finish(mut self) -> Vec<u8> {
            while self.n != 0 {
                self.put(1, 1);
            }
            self.out
        }
    }

    fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
        out.extend([0xFF, marker]);
        out.extend(((body.len() + 2) as u16).to_be_bytes());
        out.extend(body);
    }

    /// A hand-built JPEG of flat 8 x 8 blocks (DC only, quantisation 1), `bw` x `bh` blocks,
    /// `comps` components sampled 1x1, `level(component, bx, by)`; with an optional Adobe APP14
    /// transform; baseline or progressive (one DC scan, then one AC scan per component, all
    /// end-of-block). It makes what `image`'s encoder cannot: CMYK, YCCK and progressive files.
    fn hand_jpeg(
        bw: usize,
        bh: usize,
        comps: u8,
        adobe: Option<u8>,
        progressive: bool,
        level: impl Fn(usize, usize, usize) -> u8,
    ) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        if let Some(t) = adobe {
            segment(
                &mut out,
                0xEE,
                &[b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, t],
            );
        }
        let mut dqt = vec![0u8];
        dqt.extend([1u8; 64]);
        segment(&mut out, 0xDB, &dqt);
        let mut sof = vec![8];
        sof.extend(((bh * 8) as u16).to_be_bytes());
        sof.extend(((bw * 8) as u16).to_be_bytes());
        sof.push(comps);
        for c in 0..comps {
            sof.extend([c + 1, 0x11, 0]);
        }
        segment(&mut out, if progressive { 0xC2 } else { 0xC0 }, &sof);
        // DC table 0: categories 0-11, 4-bit codes equal to the category; AC table 0: only
        // end-of-block, code "0".
        let mut dht = vec![0x00];
        let mut counts = [0u8; 16];
        counts[3] = 12;
        dht.extend(counts);
        dht.extend(0u8..12);
        dht.push(0x10);
        let mut counts = [0u8; 16];
        counts[0] = 1;
        dht.extend(counts);
        dht.push(0x00);
        segment(&mut out, 0xC4, &dht);
        let sos = |out: &mut Vec<u8>, ids: &[u8], se: u8| {
            let mut b = vec![ids.len() as u8];
            for &id in ids {
                b.extend([id, 0x00]);
            }
            b.extend([if se == 63 && progressive { 1 } else { 0 }, se, 0]);
            segment(out, 0xDA, &b);
        };
        let all: Vec<u8> = (1..=comps).collect();
        sos(&mut out, &all, if progressive { 0 } else { 63 });
        let mut bits = Bits::default();
        let mut pred = vec![0i32; usize::from(comps)];
        for by in 0..bh {
            for bx in 0..bw {
                for (c, p) in pred.iter_mut().enumerate() {
                    let dc = 8 * (i32::from(level(c, bx, by)) - 128);
                    bits.dc(dc - *p);
                    *p = dc;
                    if !progressive {
                        bits.put(0, 1);
                    }
                }
            }
        }
        out.extend(bits.finish());
        if progressive {
            for c in 1..=comps {
                sos(&mut out, &[c], 63);
                let mut bits = Bits::default();
                for _ in 0..bw * bh {
                    bits.put(0, 1);
                }
                out.extend(bits.finish());
            }
        }
        out.extend([0xFF, 0xD9]);
        out
    }

    fn px(img: &GrayImage, x: u32, y: u32) -> u8 {
        img.get_pixel(x, y).0[0]
    }

    fn mean(img: &GrayImage) -> f64 {
        img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / img.as_raw().len() as f64
    }

    /// Left, right, top, bottom white margins around the black pixels.
    fn ink_margins(img: &GrayImage) -> (u32, u32, u32, u32) {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in img.enumerate_pixels() {
            if p.0[0] == 0 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
        assert!(x0 <= x1, "no ink at all");
        (x0, img.width() - 1 - x1, y0, img.height() - 1 - y1)
    }

    fn only_black_and_white(img: &GrayImage) -> bool {
        img.as_raw().iter().all(|&v| v == 0 || v == 255)
    }

    // --- bad inputs -------------------------------------------------------------------------

    #[test]
    fn neither_jpeg_nor_png_is_named() {
        let e = prepare_photo(b"GIF89a\x01\x00\x01\x00", 300, 386).unwrap_err();
        assert_eq!(
            e,
            PrepareError::NotJpegOrPng {
                what: "photo",
                first_bytes: "47 49 46 38 39 61 01 00".into()
            }
        );
        let e = prepare_signature(b"", 354, 118).unwrap_err();
        assert!(matches!(
            e,
            PrepareError::NotJpegOrPng {
                what: "signature",
                ..
            }
        ));
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn a_truncated_jpeg_is_corrupt() {
        let whole = jpeg(face(413, 531), 90);
        for keep in [
            whole.len() - 1,
            whole.len() - 2,
            whole.len() * 3 / 4,
            whole.len() / 2,
            600,
            3,
        ] {
            let e = prepare_photo(&whole[..keep], BOX.0, BOX.1).unwrap_err();
            assert!(
                matches!(e, PrepareError::Corrupt { what: "photo", .. }),
                "cut at {keep}: {e}"
            );
        }
        let mut trailer = whole.clone();
        trailer.extend(b"camera trailer after EOI");
        assert!(prepare_photo(&trailer, BOX.0, BOX.1).is_ok());
    }

    #[test]
    fn a_broken_marker_inside_the_image_data_is_corrupt() {
        // A run of 0xFF then a stray marker in the middle of the scan: the file still ends
        // with EOI, but its structure no longer holds. (Garbled data that keeps a valid
        // structure decodes to garbage unnoticed: JPEG has no checksum; see docs/pictures.md.)
        let whole = jpeg(face(413, 531), 90);
        let mid = whole.len() / 2;
        let mut ff_run = whole.clone();
        ff_run[mid..mid + 64].fill(0xFF);
        let mut stray = whole.clone();
        stray[mid..mid + 2].copy_from_slice(&[0xFF, 0xC4]);
        for bad in [ff_run, stray] {
            let e = prepare_photo(&bad, BOX.0, BOX.1).unwrap_err();
            assert!(matches!(e, PrepareError::Corrupt { .. }), "{e}");
        }
    }

    #[test]
    fn a_truncated_png_is_corrupt() {
        let whole = png(face(413, 531));
        let e = prepare_photo(&whole[..whole.len() / 2], BOX.0, BOX.1).unwrap_err();
        assert!(
            matches!(e, PrepareError::Corrupt { what: "photo", .. }),
            "{e}"
        );
    }

    #[test]
    fn cmyk_and_ycck_jpegs_are_refused() {
        for adobe in [Some(0), Some(2), None] {
            let cmyk = hand_jpeg(4, 5, 4, adobe, false, |_, _, _| 128);
            assert_eq!(
                prepare_photo(&cmyk, 32, 40).unwrap_err(),
                PrepareError::Cmyk { what: "photo" },
                "Adobe transform {adobe:?}"
            );
        }
        // Three components with Adobe "transform 0" are RGB, which zune-jpeg labels CMYK:
        // refused as an unsupported colour space, not mistaken for a CMYK file.
        let rgb = hand_jpeg(4, 5, 3, Some(0), false, |_, _, _| 128);
        let e = prepare_photo(&rgb, 32, 40).unwrap_err();
        assert!(
            matches!(&e, PrepareError::Corrupt { detail, .. } if detail.contains("colour space")),
            "{e}"
        );
        let cmyk = hand_jpeg(20, 5, 4, Some(0), false, |_, _, _| 128);
        let e = prepare_signature(&cmyk, 354, 118).unwrap_err();
        assert_eq!(e, PrepareError::Cmyk { what: "signature" });
        assert_eq!(
            e.to_string(),
            "the signature is a CMYK JPEG; send it in sRGB or greyscale"
        );
    }

    #[test]
    fn a_huge_header_is_refused_before_decoding() {
        let mut bytes = jpeg(GrayImage::new(16, 16), 90);
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bytes[sof + 5..sof + 9].copy_from_slice(&[0x1B, 0x58, 0x1B, 0x58]); // 7000 x 7000
        assert_eq!(
            prepare_photo(&bytes, BOX.0, BOX.1).unwrap_err(),
            PrepareError::TooLarge {
                what: "photo",
                width: 7000,
                height: 7000
            }
        );
    }

    #[test]
    fn impossible_targets_are_refused() {
        let bytes = png(face(413, 531));
        for (w, h) in [(0, 386), (300, 0), (4001, 386)] {
            assert_eq!(
                prepare_photo(&bytes, w, h).unwrap_err(),
                PrepareError::InvalidTarget {
                    width: w,
                    height: h
                }
            );
        }
        assert!(matches!(
            prepare_signature(&bytes, 0, 0),
            Err(PrepareError::InvalidTarget { .. })
        ));
    }

    // --- orientation ------------------------------------------------------------------------

    /// A 12 x 12 black marker in the stored top-left corner, light elsewhere.
    fn marked(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| Luma([if x < 12 && y < 12 { 0 } else { 230 }]))
    }

    /// Which display corner is dark (inside the marker, 5 px from the corner).
    fn dark_corner(img: &GrayImage) -> &'static str {
        let (r, b) = (img.width() - 6, img.height() - 6);
        let corners = [
            ("top-left", px(img, 5, 5)),
            ("top-right", px(img, r, 5)),
            ("bottom-left", px(img, 5, b)),
            ("bottom-right", px(img, r, b)),
        ];
        let dark: Vec<_> = corners.iter().filter(|c| c.1 < 60).collect();
        assert_eq!(dark.len(), 1, "{corners:?}");
        assert!(corners.iter().all(|c| c.1 < 60 || c.1 > 200), "{corners:?}");
        dark[0].0
    }

    #[test]
    fn exif_orientation_turns_the_photo_upright() {
        let portrait = jpeg(marked(60, 80), 95);
        let landscape = jpeg(marked(80, 60), 95);
        let cases = [
            (&portrait, 1, false, "top-left"),
            (&portrait, 3, false, "bottom-right"),
            (&portrait, 3, true, "bottom-right"),
            (&landscape, 6, false, "top-right"),
            (&landscape, 6, true, "top-right"),
            (&landscape, 8, true, "bottom-left"),
            (&landscape, 8, false, "bottom-left"),
        ];
        for (bytes, o, big_endian, expected) in cases {
            let out = prepare_photo(&with_exif(bytes, o, big_endian), 60, 80).unwrap();
            assert_eq!(out.dimensions(), (60, 80));
            assert_eq!(
                dark_corner(&out),
                expected,
                "orientation {o}, MM {big_endian}"
            );
        }
        // No EXIF at all, and an orientation out of range, leave the picture as stored.
        let out = prepare_photo(&portrait, 60, 80).unwrap();
        assert_eq!(dark_corner(&out), "top-left");
        let out = prepare_photo(&with_exif(&portrait, 9, false), 60, 80).unwrap();
        assert_eq!(dark_corner(&out), "top-left");
    }

    #[test]
    fn png_exif_orientation_is_applied_too() {
        let bytes = png_with_exif(&png(marked(80, 60)), 6);
        let out = prepare_photo(&bytes, 60, 80).unwrap();
        assert_eq!(dark_corner(&out), "top-right");
        // A signature is turned as well: a bar along the stored top row with a block at its
        // left end becomes a vertical bar with the block at the bottom (8) or the top (6).
        let l_shape = GrayImage::from_fn(80, 60, |x, y| {
            Luma([if y < 4 || (x < 12 && y < 12) { 0 } else { 255 }])
        });
        for (o, bottom_heavy) in [(8, true), (6, false)] {
            let out = prepare_signature(&png_with_exif(&png(l_shape.clone()), o), 60, 80).unwrap();
            let ink_rows = |ys: std::ops::Range<u32>| {
                ys.flat_map(|y| (0..60).map(move |x| (x, y)))
                    .filter(|&(x, y)| px(&out, x, y) == 0)
                    .count()
            };
            let (top, bottom) = (ink_rows(0..20), ink_rows(60..80));
            assert_eq!(
                bottom > top,
                bottom_heavy,
                "orientation {o}: {top} {bottom}"
            );
        }
    }

    #[test]
    fn exif_parsing_reads_both_byte_orders_and_ignores_garbage() {
        for o in 1..=8u16 {
            for big in [false, true] {
                assert_eq!(exif_orientation(&tiff(o, big)), Some(Orientation(o as u8)));
            }
        }
        assert_eq!(exif_orientation(&tiff(0, false)), None);
        assert_eq!(exif_orientation(b"XX\0\0"), None);
        let mut cut = tiff(6, true);
        cut.truncate(20);
        assert_eq!(exif_orientation(&cut), None);
        let mut far = tiff(6, false);
        far[4..8].copy_from_slice(&u32::MAX.to_le_bytes()); // IFD offset past the end
        assert_eq!(exif_orientation(&far), None);
    }

    /// Orienting after cropping and resampling (what `prepare_photo` does) must equal
    /// orienting the whole stored plane first, then cropping, for all eight orientations.
    #[test]
    fn crop_rectangles_map_through_all_orientations() {
        let (w, h) = (7usize, 5usize);
        let plane: Vec<u8> = (0..(w * h) as u8).collect();
        for o in 1..=8 {
            let o = Orientation(o);
            let (dw, dh) = o.display_dims(w, h);
            let shown = orient_vec(&plane, w, h, o);
            let r = Rect {
                x: 1,
                y: 2,
                w: dw - 3,
                h: dh - 2,
            };
            let expected: Vec<u8> = (r.y..r.y + r.h)
                .flat_map(|y| shown[y * dw + r.x..][..r.w].to_vec())
                .collect();
            let s = stored_rect(o, r, w, h);
            let cut: Vec<u8> = (s.y..s.y + s.h)
                .flat_map(|y| plane[y * w + s.x..][..s.w].to_vec())
                .collect();
            let got = orient(&cut, s.w, s.h, o);
            assert_eq!(got.dimensions(), (r.w as u32, r.h as u32), "{o:?}");
            assert_eq!(got.into_raw(), expected, "{o:?}");
        }
    }

    // --- crop geometry, aspect and size -----------------------------------------------------

    #[test]
    fn a_too_tall_photo_loses_two_fifths_of_the_surplus_at_the_top() {
        // 350 x 500 into 350 x 450: 50 rows too many, 20 cut above, 30 below; scale 1.
        let img = GrayImage::from_fn(350, 500, |_, y| {
            Luma([match y {
                19 | 470 => 0, // just outside the crop
                20 => 50,      // first row kept
                25 => 0,       // marker
                469 => 100,    // last row kept
                _ => 200,
            }])
        });
        let out = prepare_photo(&png(img), 350, 450).unwrap();
        let lut = &*TONE_CURVE;
        for x in [0, 175, 349] {
            assert_eq!(px(&out, x, 0), lut[50]);
            assert_eq!(px(&out, x, 5), 0);
            assert_eq!(px(&out, x, 6), lut[200]);
            assert_eq!(px(&out, x, 449), lut[100]);
        }
    }

    #[test]
    fn a_too_wide_photo_is_cut_equally_on_both_sides() {
        // 400 x 450 into 350 x 450: 25 columns cut on each side.
        let img = GrayImage::from_fn(400, 450, |x, _| {
            Luma([match x {
                24 | 375 => 0,
                25 => 50,
                30 => 0,
                374 => 100,
                _ => 200,
            }])
        });
        let out = prepare_photo(&png(img), 350, 450).unwrap();
        let lut = &*TONE_CURVE;
        for y in [0, 200, 449] {
            assert_eq!(px(&out, 0, y), lut[50]);
            assert_eq!(px(&out, 5, y), 0);
            assert_eq!(px(&out, 349, y), lut[100]);
        }
    }

    #[test]
    fn markers_land_where_the_scale_puts_them() {
        // 700 x 900 (exactly 35:45) halved: a band at x 200..220 lands at 100..110, one at
        // y 300..320 at 150..160.
        let img = GrayImage::from_fn(700, 900, |x, y| {
            Luma([if (200..220).contains(&x) || (300..320).contains(&y) {
                0
            } else {
                220
            }])
        });
        let out = prepare_photo(&jpeg(img, 95), 350, 450).unwrap();
        for x in 101..109 {
            assert!(px(&out, x, 50) < 30, "x {x}: {}", px(&out, x, 50));
        }
        for x in [96, 113] {
            assert!(px(&out, x, 50) > 200, "x {x}: {}", px(&out, x, 50));
        }
        for y in 151..159 {
            assert!(px(&out, 300, y) < 30, "y {y}");
        }
        for y in [146, 163] {
            assert!(px(&out, 300, y) > 200, "y {y}");
        }
    }

    #[test]
    fn a_square_photo_is_refused_and_a_3_by_4_one_accepted() {
        let e = prepare_photo(&jpeg(face(600, 600), 90), BOX.0, BOX.1).unwrap_err();
        let PrepareError::AspectFarOff {
            what,
            aspect,
            crop_percent,
        } = e.clone()
        else {
            panic!("{e}");
        };
        assert_eq!((what, aspect), ("photo", 1.0));
        assert!((crop_percent - 22.33).abs() < 0.01, "{crop_percent}");
        assert_eq!(
            e.to_string(),
            "the photo has a width/height ratio of 1.000; cropping it to the box would cut 22.3 % of the picture, more than the 15 % allowed"
        );
        let out = prepare_photo(&jpeg(face(600, 800), 90), BOX.0, BOX.1).unwrap();
        assert_eq!(out.dimensions(), BOX);
        // A landscape picture tagged "turn a quarter" is a portrait: accepted.
        let turned = with_exif(&jpeg(face(800, 600), 90), 6, false);
        assert_eq!(
            prepare_photo(&turned, BOX.0, BOX.1).unwrap().dimensions(),
            BOX
        );
    }

    #[test]
    fn a_tiny_photo_is_refused() {
        let e = prepare_photo(&jpeg(face(150, 193), 90), BOX.0, BOX.1).unwrap_err();
        assert_eq!(
            e,
            PrepareError::TooSmall {
                what: "photo",
                width: 150,
                height: 193,
                min_width: 200,
                min_height: 258
            }
        );
        assert!(e.to_string().contains("at least 200 x 258"), "{e}");
        // Exactly 1.5 times is allowed, whatever the crop's rounding.
        assert!(prepare_photo(&jpeg(face(200, 258), 90), BOX.0, BOX.1).is_ok());
        assert!(prepare_photo(&jpeg(face(200, 257), 90), BOX.0, BOX.1).is_err());
    }

    // --- formats ------------------------------------------------------------------------------

    #[test]
    fn sixteen_bit_pngs_keep_their_levels_and_use_bt601() {
        // 70 x 90 (35:45) at scale 1: pixels come through exactly, then the tone curve.
        let img: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(70, 90, |x, _| {
            if x < 35 {
                Rgb([65535, 0, 0]) // BT.601: 76 (BT.709 would give 54)
            } else {
                Rgb([0x8080; 3]) // exactly 128 in 8 bits
            }
        });
        let out = prepare_photo(&png(DynamicImage::ImageRgb16(img)), 70, 90).unwrap();
        let lut = &*TONE_CURVE;
        assert_eq!(px(&out, 10, 45), lut[76]);
        assert_eq!(px(&out, 60, 45), lut[128]);

        let grey: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_fn(70, 90, |x, _| Luma([if x < 35 { 0x40FF } else { 0xFFFF }]));
        let out = prepare_photo(&png(DynamicImage::ImageLuma16(grey)), 70, 90).unwrap();
        assert_eq!(px(&out, 10, 45), lut[65]); // 16639 / 257 = 64.7: rounded, not truncated
        assert_eq!(px(&out, 60, 45), 255);
    }

    #[test]
    fn transparency_is_white_paper() {
        // Grey + alpha: transparent black, half-transparent black, opaque 100.
        let img = GrayAlphaImage::from_fn(70, 90, |x, _| match x {
            0..23 => LumaA([0, 0]),
            23..46 => LumaA([0, 128]),
            _ => LumaA([100, 255]),
        });
        let out = prepare_photo(&png(img), 70, 90).unwrap();
        let lut = &*TONE_CURVE;
        assert_eq!(px(&out, 10, 45), 255);
        assert_eq!(px(&out, 34, 45), lut[127]);
        assert_eq!(px(&out, 60, 45), lut[100]);

        let rgba = RgbaImage::from_fn(70, 90, |x, _| {
            if x < 35 {
                Rgba([255, 0, 0, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        });
        let out = prepare_photo(&png(rgba), 70, 90).unwrap();
        assert_eq!(px(&out, 10, 45), lut[76]);
        assert_eq!(px(&out, 60, 45), 255);

        let la16: ImageBuffer<LumaA<u16>, Vec<u16>> =
            ImageBuffer::from_pixel(2, 1, LumaA([0, 32768]));
        assert_eq!(
            luma_on_white(DynamicImage::ImageLumaA16(la16)),
            vec![127, 127]
        );
    }

    #[test]
    fn progressive_jpegs_decode() {
        // 32 x 40, one black block top-left, white elsewhere; grey and YCbCr.
        for comps in [1, 3] {
            let bytes = hand_jpeg(4, 5, comps, None, true, |c, bx, by| {
                if c > 0 {
                    128
                } else if (bx, by) == (0, 0) {
                    0
                } else {
                    255
                }
            });
            let out = prepare_photo(&bytes, 32, 40).unwrap();
            assert!(px(&out, 3, 3) < 5, "{comps} components");
            assert!(px(&out, 20, 20) > 250, "{comps} components");
            assert!(px(&out, 12, 3) > 250, "{comps} components");
        }
        // The same writer in baseline mode, as a control.
        let baseline = hand_jpeg(
            4,
            5,
            1,
            None,
            false,
            |_, bx, _| if bx == 0 { 0 } else { 255 },
        );
        let out = prepare_photo(&baseline, 32, 40).unwrap();
        assert!(px(&out, 3, 20) < 5 && px(&out, 20, 20) > 250);
    }

    // --- signature ----------------------------------------------------------------------------

    /// A wavy stroke, `thickness` px, from x 100 to 500 around y 100 (600 x 200 sheet).
    fn on_stroke(x: u32, y: u32, thickness: f32) -> bool {
        let centre = 100.0 + 40.0 * (x as f32 / 30.0).sin();
        (100..500).contains(&x) && (y as f32 - centre).abs() < thickness / 2.0
    }

    #[test]
    fn a_signature_drawn_in_the_alpha_channel_shows() {
        // Black everywhere in RGB; only alpha tells ink from paper.
        let img = RgbaImage::from_fn(600, 200, |x, y| {
            Rgba([0, 0, 0, if on_stroke(x, y, 6.0) { 255 } else { 0 }])
        });
        let out = prepare_signature(&png(img), SIG_BOX.0, SIG_BOX.1).unwrap();
        assert_eq!(out.dimensions(), SIG_BOX);
        assert!(only_black_and_white(&out));
        let ink = out.as_raw().iter().filter(|&&v| v == 0).count();
        assert!(ink > 1000 && ink < 10_000, "{ink} ink pixels");
        let (l, r, t, b) = ink_margins(&out);
        // Width-bound (the ink is wider than the box's shape): small equal side margins.
        assert!(l.abs_diff(r) <= 1 && (5..=20).contains(&l), "{l} {r}");
        assert!(t.abs_diff(b) <= 1, "{t} {b}");
    }

    #[test]
    fn a_grey_scan_becomes_clean_black_on_white_trimmed_and_centred() {
        // Paper around 220 with noise, ink around 40, JPEG artefacts.
        let img = GrayImage::from_fn(600, 200, |x, y| {
            let noise = ((x * 31 + y * 17) % 13) as i32 - 6;
            let v = if on_stroke(x, y, 5.0) { 40 } else { 220 };
            Luma([(v + noise) as u8])
        });
        let out = prepare_signature(&jpeg(img, 85), SIG_BOX.0, SIG_BOX.1).unwrap();
        assert!(only_black_and_white(&out));
        let (l, r, t, b) = ink_margins(&out);
        assert!(l.abs_diff(r) <= 1 && (5..=20).contains(&l), "{l} {r}");
        assert!(t.abs_diff(b) <= 1, "{t} {b}");
        // The stroke is continuous: every column between the ends has ink.
        let (x0, x1) = (l, SIG_BOX.0 - 1 - r);
        for x in x0..=x1 {
            assert!(
                (0..SIG_BOX.1).any(|y| px(&out, x, y) == 0),
                "gap at column {x}"
            );
        }
        // A tall narrow signature is height-bound instead.
        let tall = GrayImage::from_fn(300, 200, |x, y| {
            Luma([if (140..160).contains(&x) && (20..180).contains(&y) {
                30
            } else {
                230
            }])
        });
        let out = prepare_signature(&png(tall), SIG_BOX.0, SIG_BOX.1).unwrap();
        let (l, r, t, b) = ink_margins(&out);
        assert!(l.abs_diff(r) <= 1 && l > 100, "{l} {r}");
        assert!(t.abs_diff(b) <= 1 && t <= 6, "{t} {b}");
    }

    #[test]
    fn a_blank_signature_is_refused() {
        let white = GrayImage::from_pixel(600, 200, Luma([255]));
        assert_eq!(
            prepare_signature(&png(white.clone()), SIG_BOX.0, SIG_BOX.1).unwrap_err(),
            PrepareError::BlankSignature
        );
        // Grey paper with scanner noise only.
        let paper = GrayImage::from_fn(600, 200, |x, y| {
            Luma([(220 + ((x * 31 + y * 17) % 13) as i32 - 6) as u8])
        });
        assert_eq!(
            prepare_signature(&jpeg(paper, 85), SIG_BOX.0, SIG_BOX.1).unwrap_err(),
            PrepareError::BlankSignature
        );
        // A few specks of dust.
        let mut dusty = white;
        for (x, y) in [(10, 10), (300, 100), (590, 190)] {
            dusty.put_pixel(x, y, Luma([0]));
        }
        assert_eq!(
            prepare_signature(&png(dusty), SIG_BOX.0, SIG_BOX.1).unwrap_err(),
            PrepareError::BlankSignature
        );
        // Fully transparent.
        let clear = RgbaImage::from_pixel(600, 200, Rgba([0, 0, 0, 0]));
        assert_eq!(
            prepare_signature(&png(clear), SIG_BOX.0, SIG_BOX.1).unwrap_err(),
            PrepareError::BlankSignature
        );
    }

    #[test]
    fn a_speck_does_not_stretch_the_trim() {
        let mut img = GrayImage::from_fn(600, 200, |x, y| {
            Luma([if on_stroke(x, y, 6.0) { 0 } else { 255 }])
        });
        img.put_pixel(5, 5, Luma([0]));
        let out = prepare_signature(&png(img), SIG_BOX.0, SIG_BOX.1).unwrap();
        let (l, r, _, _) = ink_margins(&out);
        assert!(l.abs_diff(r) <= 1, "{l} {r}");
    }

    #[test]
    fn a_shadow_across_the_paper_is_not_taken_for_ink() {
        // A photographed sheet: paper from 170 (shadowed left) to 245 (right), a thin stroke.
        let img = GrayImage::from_fn(600, 200, |x, y| {
            let paper = 170 + (x * 75 / 599) as u8;
            Luma([if on_stroke(x, y, 3.0) { 30 } else { paper }])
        });
        let mut hist = [0u64; 256];
        for p in img.pixels() {
            hist[usize::from(p.0[0])] += 1;
        }
        let plain = otsu(&hist, 255).unwrap();
        assert!(
            plain.threshold > 150,
            "plain Otsu splits the paper: {plain:?}"
        );
        let split = ink_split(&hist).unwrap();
        assert!(split.threshold > 30 && split.threshold < 170, "{split:?}");
        let out = prepare_signature(&png(img), SIG_BOX.0, SIG_BOX.1).unwrap();
        let ink = out.as_raw().iter().filter(|&&v| v == 0).count();
        assert!(
            ink < out.as_raw().len() / 10,
            "{ink} ink pixels: the paper came out black"
        );
        let (l, r, t, b) = ink_margins(&out);
        assert!(l.abs_diff(r) <= 1 && t.abs_diff(b) <= 1, "{l} {r} {t} {b}");
    }

    /// A PNG written by hand: 1-bit grey (which `image` cannot write), deflate "stored" blocks.
    fn png_1bit(w: u32, h: u32, ink: impl Fn(u32, u32) -> bool) -> Vec<u8> {
        let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
            out.extend((data.len() as u32).to_be_bytes());
            let mut typed = kind.to_vec();
            typed.extend(data);
            out.extend(&typed);
            out.extend(crc32(&typed).to_be_bytes());
        };
        let mut raw = Vec::new();
        for y in 0..h {
            raw.push(0); // filter: none
            for bx in 0..w.div_ceil(8) {
                let mut byte = 0u8;
                for bit in 0..8 {
                    let x = bx * 8 + bit;
                    if x < w && !ink(x, y) {
                        byte |= 0x80 >> bit; // 1 = white
                    }
                }
                raw.push(byte);
            }
        }
        let mut zlib = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
        for (i, block) in blocks.iter().enumerate() {
            zlib.push(u8::from(i + 1 == blocks.len()));
            let len = block.len() as u16;
            zlib.extend(len.to_le_bytes());
            zlib.extend((!len).to_le_bytes());
            zlib.extend(*block);
        }
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in &raw {
            a = (a + u32::from(byte)) % 65_521;
            b = (b + a) % 65_521;
        }
        zlib.extend(((b << 16) | a).to_be_bytes());
        let mut out = PNG_SIGNATURE.to_vec();
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([1, 0, 0, 0, 0]); // 1 bit, grey, deflate, no filter, no interlace
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &zlib);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn a_one_bit_png_scan_is_read_with_white_as_white() {
        let bytes = png_1bit(600, 200, |x, y| on_stroke(x, y, 5.0));
        let out = prepare_signature(&bytes, SIG_BOX.0, SIG_BOX.1).unwrap();
        let ink = out.as_raw().iter().filter(|&&v| v == 0).count();
        assert!(ink > 1000 && ink < 10_000, "{ink} ink pixels");
        let photo = png_1bit(70, 90, |x, _| x < 35);
        let out = prepare_photo(&photo, 70, 90).unwrap();
        assert_eq!((px(&out, 10, 45), px(&out, 60, 45)), (0, 255));
    }

    #[test]
    fn otsu_splits_two_groups_in_the_middle_of_the_gap() {
        let mut hist = [0u64; 256];
        hist[30] = 100;
        hist[220] = 900;
        let s = otsu(&hist, 255).unwrap();
        assert_eq!(s.threshold, 124); // middle of 30..=219
        assert_eq!((s.ink_mean, s.paper_mean), (30.0, 220.0));
        let mut flat = [0u64; 256];
        flat[200] = 5;
        assert!(otsu(&flat, 255).is_none());
        assert!(otsu(&hist, 30).is_none(), "only one level at or below 30");
    }

    #[test]
    fn odd_sizes_give_an_answer_not_a_panic() {
        let sizes = [
            (1, 1),
            (1, 3),
            (3, 1),
            (8, 8),
            (7, 9),
            (35, 45),
            (300, 10),
            (10, 300),
        ];
        let targets = [
            (1, 1),
            (1, 2),
            (2, 1),
            (3, 4),
            (7, 9),
            (354, 118),
            (4000, 1),
        ];
        for (w, h) in sizes {
            let img =
                GrayImage::from_fn(w, h, |x, y| Luma([if (x + y) % 3 == 0 { 0 } else { 255 }]));
            for bytes in [png(img.clone()), jpeg(img, 90)] {
                for (tw, th) in targets {
                    if let Ok(out) = prepare_photo(&bytes, tw, th) {
                        assert_eq!(out.dimensions(), (tw, th));
                    }
                    if let Ok(out) = prepare_signature(&bytes, tw, th) {
                        assert_eq!(out.dimensions(), (tw, th));
                        assert!(only_black_and_white(&out));
                    }
                }
            }
        }
        // Every rectangle of a small plane, to every small size, with both kernels.
        let plane: Vec<u8> = (0..6 * 5).map(|i| (i * 37 % 256) as u8).collect();
        for x in 0..6 {
            for y in 0..5 {
                for (w, h) in [(1, 1), (6 - x, 5 - y), (1, 5 - y)] {
                    let r = Rect { x, y, w, h };
                    for (dw, dh) in [(1, 1), (2, 3), (13, 11)] {
                        for k in [Kernel::CatmullRom, Kernel::Triangle] {
                            assert_eq!(resample(&plane, 6, 5, r, dw, dh, k).len(), dw * dh);
                        }
                    }
                }
            }
        }
    }

    // --- tone, resampling, dithering, JPEG ------------------------------------------------------

    #[test]
    fn the_tone_curve_is_monotonic_and_keeps_black_and_white() {
        let lut = &*TONE_CURVE;
        assert_eq!((lut[0], lut[8], lut[247], lut[255]), (0, 0, 255, 255));
        assert!(lut.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(lut[128], 144, "the documented mid-grey");
        assert!(lut[64] > 64 && lut[192] > 192, "mid-tones are lifted");
    }

    #[test]
    fn resampling_keeps_flat_areas_flat_and_is_exact_at_scale_one() {
        let plane: Vec<u8> = (0..50 * 40).map(|i| (i * 7 % 256) as u8).collect();
        let r = Rect {
            x: 0,
            y: 0,
            w: 50,
            h: 40,
        };
        assert_eq!(
            resample(&plane, 50, 40, r, 50, 40, Kernel::CatmullRom),
            plane
        );
        let flat = vec![137u8; 413 * 531];
        let r = Rect {
            x: 0,
            y: 0,
            w: 413,
            h: 531,
        };
        for (w, h) in [(300, 386), (40, 50), (900, 1100)] {
            for k in [Kernel::CatmullRom, Kernel::Triangle] {
                let out = resample(&flat, 413, 531, r, w, h, k);
                assert!(out.iter().all(|&v| v == 137), "{w} x {h} {k:?}");
            }
        }
    }

    #[test]
    fn dithering_gives_pure_black_and_white_with_the_same_brightness() {
        let photo = prepare_photo(&jpeg(face(413, 531), 90), BOX.0, BOX.1).unwrap();
        let gradient = GrayImage::from_fn(300, 386, |x, y| Luma([((x + y) * 255 / 684) as u8]));
        let mut images = vec![photo, gradient];
        for level in [0, 1, 20, 64, 128, 200, 235, 254, 255] {
            images.push(GrayImage::from_pixel(300, 386, Luma([level])));
        }
        for img in &images {
            let out = dither(img);
            assert_eq!(out.dimensions(), img.dimensions());
            assert!(only_black_and_white(&out));
            let (before, after) = (mean(img), mean(&out));
            assert!(
                (after - before).abs() <= 0.02 * before.max(0.5 * 255.0 / 2.0),
                "mean {before:.2} -> {after:.2}"
            );
            assert!((after - before).abs() <= 0.02 * 255.0);
            assert_eq!(dither(img), out, "deterministic");
        }
        // Relative to the input's own mean for the photo and the gradient.
        for img in &images[..2] {
            let (before, after) = (mean(img), mean(&dither(img)));
            assert!((after / before - 1.0).abs() < 0.02, "{before} -> {after}");
        }
        assert_eq!(dither(&GrayImage::new(0, 0)).dimensions(), (0, 0));
    }

    #[test]
    fn the_grey_jpeg_has_one_component_and_decodes_back() {
        let photo = prepare_photo(&jpeg(face(413, 531), 90), BOX.0, BOX.1).unwrap();
        let bytes = grey_jpeg(&photo).unwrap();
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert_eq!(bytes[sof + 9], 1, "one component");
        let back = decode(&bytes, "proof").unwrap();
        assert_eq!((back.width, back.height), (300, 386));
        let diff: f64 = back
            .luma
            .iter()
            .zip(photo.as_raw())
            .map(|(&a, &b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / back.luma.len() as f64;
        assert!(diff < 2.0, "mean difference {diff}");
        assert!(matches!(
            grey_jpeg(&GrayImage::new(0, 5)),
            Err(PrepareError::Encode { .. })
        ));
    }

    // --- timing -------------------------------------------------------------------------------
}
