//! Photo (field 6) and signature (field 7) checks at intake.
//!
//! An image is accepted only after it has been *decoded*, not just sniffed: a truncated JPEG
//! must fail here, not at the printer. Dimensions are read from the header first so that a
//! decompression bomb (a 20000 x 20000 PNG of zeros is under 400 KB) is refused before any
//! pixel buffer is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use super::violation::{Code, Violation};

/// The two formats the portal contract allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PictureFormat {
    Jpeg,
    Png,
}

impl PictureFormat {
    pub fn mime(self) -> &'static str {
        match self {
            PictureFormat::Jpeg => "image/jpeg",
            PictureFormat::Png => "image/png",
        }
    }

    pub fn from_mime(s: &str) -> Option<Self> {
        match s {
            "image/jpeg" => Some(PictureFormat::Jpeg),
            "image/png" => Some(PictureFormat::Png),
            _ => None,
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            PictureFormat::Jpeg => ImageFormat::Jpeg,
            PictureFormat::Png => ImageFormat::Png,
        }
    }
}

/// Limits for one kind of picture.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// What the rules apply to, for messages ("photo", "signature").
    pub what: &'static str,
    pub max_bytes: usize,
    pub min_width: u32,
    pub min_height: u32,
    pub max_side: u32,
    pub max_pixels: u64,
    /// Accepted width / height range.
    pub aspect: (f64, f64),
    /// Minimum share of dark pixels (ink) for a signature; 0 for a photo.
    pub min_ink: f64,
}

/// Photo: JPEG or PNG, at most 2 MiB, at least 413 x 531 (35 x 45 mm at 300 dpi), portrait
/// about 35:45 (0.778). We accept 0.72-0.84 so that 3:4 (0.75) and 4:5 (0.80) camera crops pass
/// and are cropped at rendering, while a landscape or 2:3 picture is refused.
pub const PHOTO: Rules = Rules {
    what: "photo",
    max_bytes: 2 * 1024 * 1024,
    min_width: 413,
    min_height: 531,
    max_side: 6000,
    max_pixels: 24_000_000,
    aspect: (0.72, 0.84),
    min_ink: 0.0,
};

/// Signature: JPEG or PNG, at most 512 KiB, landscape or square, with visible ink.
pub const SIGNATURE: Rules = Rules {
    what: "signature",
    max_bytes: 512 * 1024,
    min_width: 100,
    min_height: 30,
    max_side: 4000,
    max_pixels: 8_000_000,
    aspect: (1.0, 10.0),
    min_ink: 0.001,
};

/// A picture that passed every check; its bytes are kept exactly as received.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub format: PictureFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Picture({:?} {}x{}, {} bytes)",
            self.format,
            self.width,
            self.height,
            self.bytes.len()
        )
    }
}

/// Names the format of bytes we refuse, so the message says what was actually sent.
fn sniff(bytes: &[u8]) -> Result<PictureFormat, &'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(PictureFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(PictureFormat::Png);
    }
    let other = if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "a GIF image"
    } else if bytes.starts_with(b"%PDF") {
        "a PDF document"
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "a WebP image"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "a TIFF image"
    } else if bytes.starts_with(b"BM") {
        "a BMP image"
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        "a HEIF/AVIF image"
    } else if bytes.is_empty() {
        "empty"
    } else {
        "not a known image format"
    };
    Err(other)
}

/// Checks `bytes` against `rules`. `path` is where the picture sits in the request.
pub fn check(bytes: Vec<u8>, rules: &Rules, path: &str) -> Result<Picture, Violation> {
    let what = rules.what;
    let v = |code, msg: String| Violation::new(path, code, msg);
    if bytes.len() > rules.max_bytes {
        return Err(v(
            Code::FileTooLarge,
            format!(
                "the {what} has {} bytes; at most {} are accepted",
                bytes.len(),
                rules.max_bytes
            ),
        ));
    }
    let format = sniff(&bytes).map_err(|other| {
        v(
            Code::UnsupportedImageFormat,
            format!("the {what} is {other}; only JPEG and PNG are accepted"),
        )
    })?;
    let header = ImageReader::with_format(Cursor::new(&bytes[..]), format.image_format());
    let (width, height) = header.into_dimensions().map_err(|e| {
        v(
            Code::CorruptImage,
            format!("the {what}'s header cannot be read: {e}"),
        )
    })?;
    // Sizes and shape as the picture is displayed (a phone photo stored on its side).
    let (width, height) = {
        let (w, h) = super::exif::orientation(&bytes).display_dims(width as usize, height as usize);
        (w as u32, h as u32)
    };
    if width > rules.max_side
        || height > rules.max_side
        || u64::from(width) * u64::from(height) > rules.max_pixels
    {
        return Err(v(
            Code::ImageTooLarge,
            format!(
                "the {what} is {width} x {height} pixels; at most {} per side and {} megapixels are accepted",
                rules.max_side,
                rules.max_pixels / 1_000_000
            ),
        ));
    }
    if width < rules.min_width || height < rules.min_height {
        return Err(v(
            Code::ImageTooSmall,
            format!(
                "the {what} is {width} x {height} pixels; at least {} x {} are needed",
                rules.min_width, rules.min_height
            ),
        ));
    }
    let aspect = f64::from(width) / f64::from(height);
    if aspect < rules.aspect.0 || aspect > rules.aspect.1 {
        return Err(v(
            Code::WrongAspectRatio,
            format!(
                "the {what} is {width} x {height} (width/height {aspect:.3}); accepted {:.2} to {:.2}",
                rules.aspect.0, rules.aspect.1
            ),
        ));
    }
    if format == PictureFormat::Jpeg {
        jpeg_is_complete(&bytes).map_err(|why| {
            v(
                Code::CorruptImage,
                format!("the {what} is not a whole JPEG: {why}"),
            )
        })?;
    }
    let pixels = match format {
        PictureFormat::Jpeg => decode_jpeg_luma(&bytes, rules)
            .map(Pixels::Luma)
            .map_err(|e| v(e.0, format!("the {what} {}", e.1)))?,
        PictureFormat::Png => decode_png(&bytes, rules).map(Pixels::Image).map_err(|e| {
            v(
                Code::CorruptImage,
                format!("the {what} cannot be decoded: {e}"),
            )
        })?,
    };
    if rules.min_ink > 0.0 {
        let ink = match &pixels {
            Pixels::Luma(l) => ink_share_luma(l),
            Pixels::Image(i) => ink_share(i),
        };
        if ink < rules.min_ink {
            return Err(v(
                Code::BlankSignature,
                format!("the {what} is blank ({:.3}% dark pixels)", ink * 100.0),
            ));
        }
    }
    Ok(Picture {
        format,
        width,
        height,
        bytes,
    })
}

/// Decoded pixels: the luminance plane of a JPEG, or a decoded PNG.
enum Pixels {
    Luma(Vec<u8>),
    Image(DynamicImage),
}

fn decode_png(bytes: &[u8], rules: &Rules) -> image::ImageResult<DynamicImage> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(rules.max_side);
    limits.max_image_height = Some(rules.max_side);
    // 16-bit RGBA is the widest buffer the decoder produces: 8 bytes a pixel.
    limits.max_alloc = Some(rules.max_pixels * 8 + (1 << 20));
    reader.limits(limits);
    reader.decode()
}

/// Decodes every scan of a JPEG in strict mode (corrupt entropy data is an error, not grey
/// blocks) into its luminance plane alone: the whole file is read and checked, and the colour
/// conversion nobody needs at intake is skipped (a quarter of the decoding time). CMYK files
/// are refused here: the printer pipeline is RGB or grey.
fn decode_jpeg_luma(bytes: &[u8], rules: &Rules) -> Result<Vec<u8>, (Code, String)> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(rules.max_side as usize)
        .set_max_height(rules.max_side as usize)
        .jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| (Code::CorruptImage, format!("cannot be decoded: {e}")))?;
    if let Some(cs @ (ColorSpace::CMYK | ColorSpace::YCCK)) = decoder.input_colorspace() {
        return Err((
            Code::UnsupportedImageFormat,
            format!("is a {cs:?} JPEG; send it in RGB (sRGB) or greyscale"),
        ));
    }
    decoder
        .decode()
        .map_err(|e| (Code::CorruptImage, format!("cannot be decoded: {e}")))
}

/// Walks the JPEG marker structure up to EOI. JPEG decoders are lenient by design: a file cut
/// short decodes "successfully" with grey where the data stopped, so decoding alone does not
/// prove the photo is whole. Every segment must fit in the file, and the last scan must be
/// followed by an EOI marker (bytes after EOI, which some cameras append, are ignored).
fn jpeg_is_complete(b: &[u8]) -> Result<(), &'static str> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err("no start-of-image marker");
    }
    let mut i = 2;
    let mut seen_scan = false;
    loop {
        // Find the next marker (fill bytes 0xFF may repeat).
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return Err("the file ends before its end-of-image marker (truncated)");
        };
        i += 1;
        match marker {
            0xD9 => {
                return if seen_scan {
                    Ok(())
                } else {
                    Err("end of image before any scan")
                };
            }
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = match (b.get(i), b.get(i + 1)) {
            (Some(&h), Some(&l)) => usize::from(h) << 8 | usize::from(l),
            _ => return Err("a segment header is cut off (truncated)"),
        };
        if len < 2 || i + len > b.len() {
            return Err("a segment runs past the end of the file (truncated)");
        }
        i += len;
        if marker == 0xDA {
            seen_scan = true;
            // Entropy-coded data: skip to the next marker that is not a stuffed 0xFF00 or a
            // restart marker.
            loop {
                while i < b.len() && b[i] != 0xFF {
                    i += 1;
                }
                if i + 1 >= b.len() {
                    return Err(
                        "the image data is cut off before its end-of-image marker (truncated)",
                    );
                }
                match b[i + 1] {
                    0x00 | 0xD0..=0xD7 | 0xFF => i += 1,
                    _ => break,
                }
            }
        }
    }
}

/// Share of dark pixels in a luminance plane.
fn ink_share_luma(luma: &[u8]) -> f64 {
    if luma.is_empty() {
        return 0.0;
    }
    luma.iter().filter(|&&l| l < 128).count() as f64 / luma.len() as f64
}

/// Share of pixels darker than mid-grey once composed on white (transparent counts as paper).
fn ink_share(img: &DynamicImage) -> f64 {
    if let DynamicImage::ImageLuma8(g) = img {
        return ink_share_luma(g.as_raw());
    }
    let la = img.to_luma_alpha8();
    let total = u64::from(la.width()) * u64::from(la.height());
    if total == 0 {
        return 0.0;
    }
    let dark = la
        .pixels()
        .filter(|p| {
            let [l, a] = p.0;
            // composite over white: out = l*a + 255*(1-a)
            let out = (u32::from(l) * u32::from(a) + 255 * (255 - u32::from(a))) / 255;
            out < 128
        })
        .count() as u64;
    dark as f64 / total as f64
}

/// Helpers that build hostile pictures for tests (here and in the intake tests).
#[doc(hidden)]
pub mod testing {
    use image::{GrayImage, ImageFormat};
    use std::io::Cursor;

    /// A valid small grey PNG whose header claims `width` x `height` (CRC fixed up), the
    /// shape of a decompression bomb as far as any header reader can tell.
    pub fn png_with_header_size(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        // The pixels never get decoded: the header check must stop first.
        let _ = GrayImage::new(413, 531).write_to(&mut Cursor::new(&mut out), ImageFormat::Png);
        // IHDR data sits at bytes 16..29 (after signature, length, type); its CRC at 29..33.
        out[16..20].copy_from_slice(&width.to_be_bytes());
        out[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, RgbImage};

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .unwrap();
        out
    }

    fn png_gray(img: &GrayImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// `jpeg` with an APP1 Exif segment saying "turn a quarter clockwise" (orientation 6).
    fn turned(mut jpeg: Vec<u8>) -> Vec<u8> {
        let mut seg = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
        seg.extend([0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend(((seg.len() + 2) as u16).to_be_bytes());
        app1.extend(seg);
        jpeg.splice(2..2, app1);
        jpeg
    }

    #[test]
    fn a_photo_stored_on_its_side_is_judged_as_displayed() {
        let side = jpeg(531, 413);
        let e = check(side.clone(), &PHOTO, "photo").unwrap_err();
        assert_eq!(e.code, Code::ImageTooSmall, "{e:?}");
        let p = check(turned(side), &PHOTO, "photo").unwrap();
        assert_eq!((p.width, p.height), (413, 531), "as displayed");
    }

    #[test]
    fn a_photo_of_the_minimum_size_passes() {
        let p = check(jpeg(413, 531), &PHOTO, "photo").unwrap();
        assert_eq!(
            (p.format, p.width, p.height),
            (PictureFormat::Jpeg, 413, 531)
        );
    }

    #[test]
    fn other_formats_are_named() {
        for (bytes, name) in [
            (b"GIF89a\x01\x00\x01\x00".to_vec(), "GIF"),
            (b"%PDF-1.7\n".to_vec(), "PDF"),
            (b"RIFF\0\0\0\0WEBPVP8 ".to_vec(), "WebP"),
            (Vec::new(), "empty"),
        ] {
            let e = check(bytes, &PHOTO, "photo").unwrap_err();
            assert_eq!(e.code, Code::UnsupportedImageFormat);
            assert!(e.message.contains(name), "{}", e.message);
        }
    }

    #[test]
    fn a_truncated_jpeg_is_corrupt() {
        let whole = jpeg(413, 531);
        for keep in [
            whole.len() - 1,
            whole.len() - 2,
            whole.len() * 2 / 3,
            whole.len() / 2,
            700,
        ] {
            let e = check(whole[..keep].to_vec(), &PHOTO, "photo").unwrap_err();
            assert_eq!(e.code, Code::CorruptImage, "cut at {keep}: {}", e.message);
        }
        let mut trailing = whole.clone();
        trailing.extend_from_slice(b"camera trailer");
        assert!(
            check(trailing, &PHOTO, "photo").is_ok(),
            "bytes after EOI are tolerated"
        );
    }

    #[test]
    fn a_truncated_png_is_corrupt() {
        let img = GrayImage::from_fn(413, 531, |x, y| Luma([((x * y) % 256) as u8]));
        let whole = png_gray(&img);
        let e = check(whole[..whole.len() / 2].to_vec(), &PHOTO, "photo").unwrap_err();
        assert_eq!(e.code, Code::CorruptImage, "{}", e.message);
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        // A 20000 x 20000 picture: 400 MB of pixels, a few hundred bytes of header.
        let small = crate::domain::images::testing::png_with_header_size(20000, 20000);
        let e = check(small, &PHOTO, "photo").unwrap_err();
        assert_eq!(e.code, Code::ImageTooLarge, "{}", e.message);
        assert!(e.message.contains("20000 x 20000"));
    }

    #[test]
    fn size_and_shape_limits() {
        assert_eq!(
            check(jpeg(300, 400), &PHOTO, "photo").unwrap_err().code,
            Code::ImageTooSmall
        );
        assert_eq!(
            check(jpeg(800, 600), &PHOTO, "photo").unwrap_err().code,
            Code::WrongAspectRatio
        );
        assert!(check(jpeg(600, 800), &PHOTO, "photo").is_ok()); // 3:4
        let big = vec![0xFFu8; 2 * 1024 * 1024 + 1];
        assert_eq!(
            check(big, &PHOTO, "photo").unwrap_err().code,
            Code::FileTooLarge
        );
    }

    #[test]
    fn a_blank_signature_is_refused_and_ink_passes() {
        let blank = GrayImage::from_pixel(600, 200, Luma([255]));
        let e = check(png_gray(&blank), &SIGNATURE, "signature").unwrap_err();
        assert_eq!(e.code, Code::BlankSignature);
        let mut inked = blank.clone();
        for x in 50..550 {
            for y in 95..105 {
                inked.put_pixel(x, y, Luma([10]));
            }
        }
        assert!(check(png_gray(&inked), &SIGNATURE, "signature").is_ok());
    }
}
