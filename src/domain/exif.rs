//! EXIF orientation: how a photo's stored pixels must be turned to appear as the camera (and
//! every browser, hence the driver on the portal) shows them. Intake checks sizes and shape
//! as displayed; rendering turns the pixels (src/render/prepare.rs).

/// An EXIF orientation, 1 to 8: how the stored pixels must be turned or flipped to appear as
/// the camera saw them (and as every browser, hence the portal's preview, shows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation(pub u8);

impl Orientation {
    pub const NORMAL: Orientation = Orientation(1);

    /// 5 to 8 are quarter turns (with or without a flip): width and height swap.
    pub fn swaps_axes(self) -> bool {
        self.0 >= 5
    }

    pub fn display_dims(self, w: usize, h: usize) -> (usize, usize) {
        if self.swaps_axes() { (h, w) } else { (w, h) }
    }

    /// The stored pixel shown at display position (`dx`, `dy`) of a picture stored `w` x `h`.
    /// EXIF names where the stored row 0 and column 0 are shown: 2 mirror, 3 half turn,
    /// 4 upside-down mirror, 5 transpose, 6 needs a quarter turn clockwise, 7 transverse,
    /// 8 a quarter turn anticlockwise.
    pub fn to_stored(self, dx: usize, dy: usize, w: usize, h: usize) -> (usize, usize) {
        match self.0 {
            2 => (w - 1 - dx, dy),
            3 => (w - 1 - dx, h - 1 - dy),
            4 => (dx, h - 1 - dy),
            5 => (dy, dx),
            6 => (dy, h - 1 - dx),
            7 => (w - 1 - dy, h - 1 - dx),
            8 => (w - 1 - dy, dx),
            _ => (dx, dy),
        }
    }
}

/// The orientation (tag 0x0112) in IFD0 of a TIFF structure, the body of an EXIF block.
/// Both byte orders ("II" little endian, "MM" big endian); SHORT as the standard says, LONG as
/// some writers do. Anything unreadable or out of 1-8 counts as no rotation: a broken EXIF
/// block must not refuse a photo intake accepted, and the picture then shows as stored, like
/// most viewers show it.
pub fn exif_orientation(tiff: &[u8]) -> Option<Orientation> {
    let big_endian = match tiff.get(..2)? {
        b"II" => false,
        b"MM" => true,
        _ => return None,
    };
    let u16_at = |i: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(i..i.checked_add(2)?)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(i..i.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    for k in 0..entries {
        let entry = ifd.checked_add(2 + 12 * k)?;
        if u16_at(entry)? != 0x0112 {
            continue;
        }
        let value = match (u16_at(entry + 2)?, u32_at(entry + 4)?) {
            (3, 1) => u32::from(u16_at(entry + 8)?),
            (4, 1) => u32_at(entry + 8)?,
            _ => return None,
        };
        return u8::try_from(value)
            .ok()
            .filter(|v| (1..=8).contains(v))
            .map(Orientation);
    }
    None
}

/// The orientation in a PNG's eXIf chunk (before the image data, where the PNG extension puts
/// it); 1 when there is none. Browsers honour it, so the driver saw the picture turned.
pub fn png_orientation(b: &[u8]) -> Orientation {
    let mut pos = 8;
    while let Some(&[l0, l1, l2, l3, t0, t1, t2, t3]) = b.get(pos..pos + 8) {
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        let kind = [t0, t1, t2, t3];
        if &kind == b"IDAT" || &kind == b"IEND" {
            break;
        }
        let Some(data) = b.get(pos + 8..).and_then(|r| r.get(..len)) else {
            break;
        };
        if &kind == b"eXIf" {
            return exif_orientation(data).unwrap_or(Orientation::NORMAL);
        }
        pos += 12 + len;
    }
    Orientation::NORMAL
}

/// The orientation in a JPEG's first APP1 "Exif" segment (segments before the scan only);
/// 1 when there is none or the structure cannot be read (intake's other checks refuse a
/// broken JPEG with a better message).
pub fn jpeg_orientation(b: &[u8]) -> Orientation {
    let mut pos = 2;
    while let Some(&[0xFF, marker, l0, l1]) = b.get(pos..pos + 4) {
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(segment) = b.get(pos + 4..pos + 2 + len) else {
            break;
        };
        if marker == 0xE1
            && let Some(tiff) = segment.strip_prefix(b"Exif\0\0")
        {
            return exif_orientation(tiff).unwrap_or(Orientation::NORMAL);
        }
        pos += 2 + len;
    }
    Orientation::NORMAL
}

/// The orientation of a JPEG or PNG, by content.
pub fn orientation(bytes: &[u8]) -> Orientation {
    if bytes.starts_with(b"\x89PNG") {
        png_orientation(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_orientation(bytes)
    } else {
        Orientation::NORMAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG header with an APP1 Exif segment holding orientation `o` (big endian TIFF).
    fn jpeg_with(o: u16) -> Vec<u8> {
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend([0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1]);
        tiff.extend(o.to_be_bytes());
        tiff.extend([0, 0, 0, 0, 0, 0]);
        let mut seg = b"Exif\0\0".to_vec();
        seg.extend(tiff);
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE1];
        b.extend(((seg.len() + 2) as u16).to_be_bytes());
        b.extend(seg);
        b.extend([0xFF, 0xDA, 0, 2]);
        b
    }

    #[test]
    fn a_jpeg_turned_a_quarter_shows_with_width_and_height_swapped() {
        assert_eq!(orientation(&jpeg_with(6)), Orientation(6));
        assert_eq!(Orientation(6).display_dims(531, 413), (413, 531));
        assert_eq!(
            orientation(&jpeg_with(1)).display_dims(413, 531),
            (413, 531)
        );
        assert_eq!(
            orientation(&jpeg_with(9)),
            Orientation::NORMAL,
            "out of range"
        );
        assert_eq!(
            orientation(&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF]),
            Orientation::NORMAL
        );
        assert_eq!(orientation(b"GIF89a"), Orientation::NORMAL);
    }
}
