//! Encoding the synthetic pictures: JPEG for photos, grey PNG for signatures, and a search that
//! lands a JPEG in a byte-size window.
//!
//! The size window exists for benchmarks: a photo from the portal is a camera JPEG of roughly
//! 30-60 KB at 413 x 531, and intake, storage and chip-writing costs scale with those bytes, so a
//! benchmark fed with 8 KB renders would flatter us.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{GrayImage, ImageEncoder, ImageError, RgbImage};
use thiserror::Error;

use super::face::texture;
use super::rng::mix;

#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("image encoding failed: {0}")]
    Image(#[from] ImageError),
    /// No quality and no amount of added texture put the JPEG inside the window: the window is
    /// too narrow or too far from what this picture size can give.
    #[error(
        "no JPEG of this picture falls within {min_bytes}-{max_bytes} bytes (closest: {closest} bytes)"
    )]
    OutOfWindow {
        min_bytes: usize,
        max_bytes: usize,
        closest: usize,
    },
}

/// Baseline JPEG at `quality` (clamped to 1-100).
pub fn jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100)).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// 8-bit grey PNG, best compression: signatures are mostly white and compress very well.
pub fn png_gray(img: &GrayImage) -> Result<Vec<u8>, EncodeError> {
    let mut out = Cursor::new(Vec::new());
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )?;
    Ok(out.into_inner())
}

/// Lowest and highest quality tried: below 20 blocking shows; above 95 bytes grow for nothing.
const QUALITY_RANGE: (u8, u8) = (20, 95);
/// Texture amounts tried, in grey levels, when even the best quality is too small.
const TEXTURE_STEPS: [u8; 12] = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 26];

/// A JPEG of `img` whose size is within `min_bytes..=max_bytes`.
///
/// First the highest quality that fits under `max_bytes` is searched (best picture for the
/// budget); if that is still below `min_bytes`, the picture is too smooth to reach the window,
/// so fine sensor-like noise ([`texture`]) is added, in growing amounts, until it does. The noise
/// seed is a hash of the pixels, so the same picture always gives the same bytes.
pub fn jpeg_within(
    img: &RgbImage,
    min_bytes: usize,
    max_bytes: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut sizes = Vec::new();
    if let Some(bytes) = best_quality_within(img, min_bytes, max_bytes, &mut sizes)? {
        return Ok(bytes);
    }
    let seed = pixel_hash(img);
    for amount in TEXTURE_STEPS {
        let mut noisy = img.clone();
        texture(&mut noisy, seed, amount);
        let before = sizes.len();
        if let Some(bytes) = best_quality_within(&noisy, min_bytes, max_bytes, &mut sizes)? {
            return Ok(bytes);
        }
        // More noise only makes files bigger: once even the lowest quality overshoots, stop.
        if sizes[before..].iter().all(|&n| n > max_bytes) {
            break;
        }
    }
    let distance = |n: usize| min_bytes.saturating_sub(n) + n.saturating_sub(max_bytes);
    Err(EncodeError::OutOfWindow {
        min_bytes,
        max_bytes,
        closest: sizes.into_iter().min_by_key(|&n| distance(n)).unwrap_or(0),
    })
}

/// Binary search for the highest quality whose JPEG is at most `max_bytes`; `Some` if that JPEG
/// is also at least `min_bytes`. Sizes grow with quality (not strictly, but closely enough for a
/// search that then checks the window on the actual bytes). Every size seen goes to `sizes`.
fn best_quality_within(
    img: &RgbImage,
    min_bytes: usize,
    max_bytes: usize,
    sizes: &mut Vec<usize>,
) -> Result<Option<Vec<u8>>, EncodeError> {
    let (mut lo, mut hi) = QUALITY_RANGE;
    let mut best: Option<Vec<u8>> = None;
    while lo <= hi {
        let q = lo + (hi - lo) / 2;
        let bytes = jpeg(img, q)?;
        sizes.push(bytes.len());
        if bytes.len() <= max_bytes {
            best = Some(bytes);
            lo = q + 1;
        } else {
            hi = q - 1;
        }
    }
    Ok(best.filter(|b| b.len() >= min_bytes))
}

/// FNV-style hash of the pixels, mixed: a seed that depends only on the picture.
fn pixel_hash(img: &RgbImage) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in img.as_raw() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h ^ (u64::from(img.width()) << 32 | u64::from(img.height())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::face::portrait;
    use crate::synthetic::signature::signature;

    #[test]
    fn jpeg_decodes_back_to_the_photo_size() {
        let bytes = jpeg(&portrait(7, 413, 531), 85).unwrap();
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF]);
        let back = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (413, 531));
    }

    #[test]
    fn encoding_is_deterministic() {
        let p = portrait(8, 413, 531);
        assert_eq!(jpeg(&p, 80).unwrap(), jpeg(&p, 80).unwrap());
        let s = signature("Dupont", 8, 600, 200);
        assert_eq!(png_gray(&s).unwrap(), png_gray(&s).unwrap());
    }

    #[test]
    fn png_gray_round_trips() {
        let s = signature("Lefèvre", 3, 600, 200);
        let bytes = png_gray(&s).unwrap();
        let back = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
        assert_eq!(back.to_luma8().as_raw(), s.as_raw());
    }

    #[test]
    fn realistic_photo_window_is_reached() {
        for seed in [1, 2, 3] {
            let p = portrait(seed, 413, 531);
            let bytes = jpeg_within(&p, 30_000, 60_000).unwrap();
            assert!(
                (30_000..=60_000).contains(&bytes.len()),
                "seed {seed}: {}",
                bytes.len()
            );
            assert_eq!(bytes, jpeg_within(&p, 30_000, 60_000).unwrap());
            let back = image::load_from_memory(&bytes).unwrap();
            assert_eq!((back.width(), back.height()), (413, 531));
        }
    }

    #[test]
    fn compact_fixture_window_is_reached() {
        let p = portrait(4, 413, 531);
        let bytes = jpeg_within(&p, 8_000, 20_000).unwrap();
        assert!((8_000..=20_000).contains(&bytes.len()), "{}", bytes.len());
    }

    #[test]
    fn an_impossible_window_is_an_error_not_a_loop() {
        let p = portrait(5, 413, 531);
        match jpeg_within(&p, 100, 200) {
            Err(EncodeError::OutOfWindow { closest, .. }) => assert!(closest > 200),
            other => panic!("expected OutOfWindow, got {other:?}"),
        }
    }
}
