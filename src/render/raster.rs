//! 300-dpi bitmaps of a scene: the full-colour preview and the personalisation layer alone.
//!
//! The preprint layer is the same on every card of a layout, so it is drawn once and copied
//! ([`Preprint`]); a card costs only its own text, photo, signature and barcode. Shapes are
//! anti-aliased by exact area coverage (ab_glyph's rasteriser); barcode modules are snapped to
//! whole pixels so that bars keep their width (a scanner measures them).

use ab_glyph_rasterizer::{Rasterizer, point};
use image::{GrayImage, Luma, Rgb as Px, RgbImage};

use super::fonts::Fonts;
use super::glyphs::{self, GlyphCache};
use super::scene::{Item, Layer, Picture, Primitive, Rgb, Scene};

/// Printer resolution.
pub const DPI: f32 = 300.0;

/// Millimetres to pixels at [`DPI`].
pub fn px(mm: f32) -> f32 {
    mm * DPI / 25.4
}

/// Pixel size of a scene at [`DPI`].
pub fn size_px(scene: &Scene) -> (u32, u32) {
    (
        px(scene.width_mm).round() as u32,
        px(scene.height_mm).round() as u32,
    )
}

/// The prepared pictures of one card, each already at its box's pixel size.
pub struct Pictures<'a> {
    /// Greyscale photo for the preview.
    pub photo: &'a GrayImage,
    /// 1-bit (0/255) photo for the engraver.
    pub photo_dithered: &'a GrayImage,
    pub signature: &'a GrayImage,
}

/// A preprint layer drawn once per layout.
#[derive(Clone)]
pub struct Preprint(RgbImage);

impl Preprint {
    pub fn draw(scene: &Scene, fonts: &Fonts, cache: &mut GlyphCache) -> Preprint {
        let (w, h) = size_px(scene);
        let mut img = RgbImage::from_pixel(w, h, Px([255, 255, 255]));
        for item in scene.layer(Layer::Preprint) {
            draw_rgb(&mut img, item, fonts, cache, None);
        }
        Preprint(img)
    }

    pub fn image(&self) -> &RgbImage {
        &self.0
    }
}

/// The colour preview: the preprint with the personalisation drawn over it.
pub fn preview(
    scene: &Scene,
    preprint: &Preprint,
    pictures: &Pictures<'_>,
    fonts: &Fonts,
    cache: &mut GlyphCache,
) -> RgbImage {
    let mut img = preprint.0.clone();
    for item in scene.layer(Layer::Personalisation) {
        draw_rgb(&mut img, item, fonts, cache, Some(pictures));
    }
    img
}

/// What the printer or engraver adds to a pre-printed body: the personalisation layer alone,
/// in grey (0 = full ink), with the photo dithered to 1 bit.
pub fn personalisation(
    scene: &Scene,
    pictures: &Pictures<'_>,
    fonts: &Fonts,
    cache: &mut GlyphCache,
) -> GrayImage {
    let (w, h) = size_px(scene);
    let mut img = GrayImage::from_pixel(w, h, Luma([255]));
    for item in scene.layer(Layer::Personalisation) {
        match &item.primitive {
            Primitive::Text {
                face,
                size_pt,
                color,
                lines,
            } => {
                let ink = luma(*color);
                for l in lines {
                    glyphs::draw_gray(
                        cache,
                        fonts,
                        &mut img,
                        *face,
                        *size_pt,
                        px(l.x_mm),
                        px(l.baseline_mm),
                        &l.text,
                        ink,
                    );
                }
            }
            Primitive::Image { x, y, picture, .. } => {
                let src = match picture {
                    Picture::Photo => pictures.photo_dithered,
                    Picture::Signature => pictures.signature,
                };
                blit_gray(&mut img, src, px(*x).round() as i64, px(*y).round() as i64);
            }
            Primitive::Modules { rects, color } => {
                for &(x, y, w, h) in rects {
                    fill_snapped(&mut img, x, y, w, h, luma(*color));
                }
            }
            Primitive::Rect {
                x,
                y,
                w,
                h,
                fill: Some(c),
                ..
            } => {
                fill_snapped(&mut img, *x, *y, *w, *h, luma(*c));
            }
            _ => {}
        }
    }
    img
}

/// BT.601 luma of a colour: how dark the ink of that colour prints in grey.
fn luma(c: Rgb) -> u8 {
    ((299 * u32::from(c.0) + 587 * u32::from(c.1) + 114 * u32::from(c.2)) / 1000) as u8
}

fn draw_rgb(
    img: &mut RgbImage,
    item: &Item,
    fonts: &Fonts,
    cache: &mut GlyphCache,
    pictures: Option<&Pictures<'_>>,
) {
    match &item.primitive {
        Primitive::Rect {
            x,
            y,
            w,
            h,
            fill,
            stroke,
            radius,
        } => {
            if let Some(c) = fill {
                if *radius > 0.0 {
                    fill_path(img, &rounded_rect(*x, *y, *w, *h, *radius), *c);
                } else {
                    fill_path(img, &rect_path(*x, *y, *w, *h), *c);
                }
            }
            if let Some((c, width)) = stroke {
                for (sx, sy, sw, sh) in [
                    (*x, *y, *w, *width),
                    (*x, *y + *h - width, *w, *width),
                    (*x, *y, *width, *h),
                    (*x + *w - width, *y, *width, *h),
                ] {
                    fill_path(img, &rect_path(sx, sy, sw, sh), *c);
                }
            }
        }
        Primitive::Polygon { points, fill } => fill_path(img, points, *fill),
        Primitive::Text {
            face,
            size_pt,
            color,
            lines,
        } => {
            for l in lines {
                glyphs::draw_rgb(
                    cache,
                    fonts,
                    img,
                    *face,
                    *size_pt,
                    px(l.x_mm),
                    px(l.baseline_mm),
                    &l.text,
                    *color,
                );
            }
        }
        Primitive::Image {
            x,
            y,
            w,
            h,
            picture,
        } => match pictures {
            Some(p) => {
                let src = match picture {
                    Picture::Photo => p.photo,
                    Picture::Signature => p.signature,
                };
                // The photo covers its box; the signature's paper lets the card show through.
                let opaque = *picture == Picture::Photo;
                blit_gray_on_rgb(
                    img,
                    src,
                    px(*x).round() as i64,
                    px(*y).round() as i64,
                    opaque,
                );
            }
            None => fill_path(img, &rect_path(*x, *y, *w, *h), Rgb(0xDD, 0xDD, 0xDD)),
        },
        Primitive::Modules { rects, color } => {
            for &(x, y, w, h) in rects {
                let (x0, y0, x1, y1) = snap(x, y, w, h);
                for yy in y0..y1.min(img.height()) {
                    for xx in x0..x1.min(img.width()) {
                        img.put_pixel(xx, yy, Px([color.0, color.1, color.2]));
                    }
                }
            }
        }
    }
}

/// A rectangle snapped to whole pixels (barcode bars must not blur).
fn snap(x: f32, y: f32, w: f32, h: f32) -> (u32, u32, u32, u32) {
    let x0 = px(x).round().max(0.0) as u32;
    let y0 = px(y).round().max(0.0) as u32;
    let x1 = px(x + w).round().max(0.0) as u32;
    let y1 = px(y + h).round().max(0.0) as u32;
    (x0, y0, x1, y1)
}

fn fill_snapped(img: &mut GrayImage, x: f32, y: f32, w: f32, h: f32, ink: u8) {
    let (x0, y0, x1, y1) = snap(x, y, w, h);
    for yy in y0..y1.min(img.height()) {
        for xx in x0..x1.min(img.width()) {
            img.put_pixel(xx, yy, Luma([ink]));
        }
    }
}

fn rect_path(x: f32, y: f32, w: f32, h: f32) -> Vec<(f32, f32)> {
    vec![(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
}

/// A rectangle with quarter-circle corners, as a polygon (8 segments per corner: at 300 dpi
/// a 3.18 mm corner is 37 px, and the chord error stays under a tenth of a pixel).
fn rounded_rect(x: f32, y: f32, w: f32, h: f32, r: f32) -> Vec<(f32, f32)> {
    let r = r.min(w / 2.0).min(h / 2.0);
    let mut pts = Vec::with_capacity(36);
    let corners = [
        (x + w - r, y + r, -90.0f32),
        (x + w - r, y + h - r, 0.0),
        (x + r, y + h - r, 90.0),
        (x + r, y + r, 180.0),
    ];
    for (cx, cy, start) in corners {
        for k in 0..=8 {
            let a = (start + 90.0 * k as f32 / 8.0).to_radians();
            pts.push((cx + r * a.cos(), cy + r * a.sin()));
        }
    }
    pts
}

/// Fills a closed polygon (mm coordinates) with exact area coverage.
fn fill_path(img: &mut RgbImage, points: &[(f32, f32)], c: Rgb) {
    if points.len() < 3 {
        return;
    }
    let (minx, miny, maxx, maxy) = points.iter().fold(
        (f32::MAX, f32::MAX, f32::MIN, f32::MIN),
        |(a, b, c, d), &(x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
    );
    let x0 = px(minx).floor().max(0.0);
    let y0 = px(miny).floor().max(0.0);
    let x1 = px(maxx).ceil().min(img.width() as f32);
    let y1 = px(maxy).ceil().min(img.height() as f32);
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let mut r = Rasterizer::new(w, h);
    for i in 0..points.len() {
        let (ax, ay) = points[i];
        let (bx, by) = points[(i + 1) % points.len()];
        r.draw_line(
            point(px(ax) - x0, px(ay) - y0),
            point(px(bx) - x0, px(by) - y0),
        );
    }
    let (ox, oy) = (x0 as u32, y0 as u32);
    r.for_each_pixel_2d(|x, y, cov| {
        let cov = cov.clamp(0.0, 1.0);
        if cov <= 0.0 {
            return;
        }
        let p = img.get_pixel_mut(ox + x, oy + y);
        for (ch, v) in p.0.iter_mut().zip([c.0, c.1, c.2]) {
            *ch = (f32::from(*ch) * (1.0 - cov) + f32::from(v) * cov).round() as u8;
        }
    });
}

fn blit_gray(dst: &mut GrayImage, src: &GrayImage, x: i64, y: i64) {
    for (sx, sy, p) in src.enumerate_pixels() {
        let (dx, dy) = (x + i64::from(sx), y + i64::from(sy));
        if dx >= 0 && dy >= 0 && (dx as u32) < dst.width() && (dy as u32) < dst.height() {
            // Darkest wins: ink adds, paper does not erase what is under it.
            let d = dst.get_pixel_mut(dx as u32, dy as u32);
            d.0[0] = d.0[0].min(p.0[0]);
        }
    }
}

/// Copies a grey picture onto a colour image: replacing what is there (`opaque`), or
/// multiplying, as ink on a printed card does.
fn blit_gray_on_rgb(dst: &mut RgbImage, src: &GrayImage, x: i64, y: i64, opaque: bool) {
    for (sx, sy, p) in src.enumerate_pixels() {
        let (dx, dy) = (x + i64::from(sx), y + i64::from(sy));
        if dx >= 0 && dy >= 0 && (dx as u32) < dst.width() && (dy as u32) < dst.height() {
            let v = p.0[0];
            let d = dst.get_pixel_mut(dx as u32, dy as u32);
            if opaque {
                *d = Px([v, v, v]);
            } else {
                for ch in d.0.iter_mut() {
                    *ch = ((u16::from(*ch) * u16::from(v)) / 255) as u8;
                }
            }
        }
    }
}
