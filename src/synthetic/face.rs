//! Synthetic ID-photo portraits: a stylised but photo-like face on a plain background.
//!
//! The fixtures must carry a picture that passes the photo checks and looks like an ID photo on
//! the rendered card (so that a layout review means something), yet shows no real person. Every
//! trait comes from the seed: skin tone, face shape, hair colour and style, eyes, eyebrows,
//! glasses, beard, clothes. Soft shading (a lit ellipsoid for the head, blurred shadows around
//! the eyes, nose and hairline) keeps the JPEG statistics closer to a photograph than flat
//! clip-art would, which matters for the size and compression benchmarks.
//!
//! Geometry is expressed in units of the picture height, centred horizontally (see
//! [`Canvas`]), so any size renders the same face; 413 x 531 (35 x 45 mm at 300 dpi) is the
//! reference.

use image::{Rgb, RgbImage};

use super::paint::{
    Bounds, Canvas, Rgbf, add, atan2, bump, circle, clamp01, ellipse, length, mix, quad_bezier,
    round_box, scale, sin, smin, smoothstep, stroke,
};
use super::rng::{Rng, derive, fbm, mix as hash, noise};

/// A hint for the presentation of the generated person, so that a fixture addressed to "MME"
/// does not systematically show a beard. It only shifts probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Any,
    Masculine,
    Feminine,
}

/// A portrait for `seed` with no presentation hint.
pub fn portrait(seed: u64, width: u32, height: u32) -> RgbImage {
    portrait_with(seed, Look::Any, width, height)
}

/// A portrait for `seed` with a presentation hint.
pub fn portrait_with(seed: u64, look: Look, width: u32, height: u32) -> RgbImage {
    let face = Face::from_seed(seed, look);
    let bg = face.background;
    let mut canvas = Canvas::new(width, height, |u, v| {
        // Studio backdrop: lighter behind the head, a little darker at the bottom and corners.
        let glow = bump(length(u * 1.1, v - 0.38) / 0.75);
        let k = 0.93 + 0.07 * glow - 0.05 * smoothstep(0.5, 1.0, v);
        scale(bg, k)
    });
    face.draw(&mut canvas);
    canvas.into_rgb()
}

/// Adds fine, sensor-like noise (luminance plus a little chroma), `amount` being the largest
/// deviation in grey levels. A rendered picture is smoother than any camera output and
/// compresses far better; the noise restores realistic JPEG sizes. Deterministic in `seed`.
pub fn texture(img: &mut RgbImage, seed: u64, amount: u8) {
    if amount == 0 {
        return;
    }
    let a = f32::from(amount);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let h =
            hash(seed ^ (u64::from(x) << 32 | u64::from(y)).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Triangular distribution from two 16-bit uniforms; chroma from the remaining bits.
        let u1 = (h & 0xFFFF) as f32 / 65_535.0;
        let u2 = ((h >> 16) & 0xFFFF) as f32 / 65_535.0;
        let u3 = ((h >> 32) & 0xFFFF) as f32 / 65_535.0 - 0.5;
        let u4 = ((h >> 48) & 0xFFFF) as f32 / 65_535.0 - 0.5;
        let lum = (u1 + u2 - 1.0) * a;
        let deltas = [lum + u3 * a * 0.35, lum, lum + u4 * a * 0.35];
        for (c, d) in p.0.iter_mut().zip(deltas) {
            *c = (f32::from(*c) + d).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// A grid of pictures in reading order, separated by white gaps, for eyeballing the variety of
/// the generator. Cells take the size of the largest picture.
pub fn contact_sheet(pictures: &[RgbImage], columns: u32) -> RgbImage {
    let columns = columns.max(1);
    let rows = (pictures.len() as u32).div_ceil(columns).max(1);
    let cell_w = pictures.iter().map(RgbImage::width).max().unwrap_or(1);
    let cell_h = pictures.iter().map(RgbImage::height).max().unwrap_or(1);
    let gap = 8;
    let mut sheet = RgbImage::from_pixel(
        columns * (cell_w + gap) + gap,
        rows * (cell_h + gap) + gap,
        Rgb([255, 255, 255]),
    );
    for (i, picture) in pictures.iter().enumerate() {
        let i = i as u32;
        let ox = gap + (i % columns) * (cell_w + gap);
        let oy = gap + (i / columns) * (cell_h + gap);
        for (x, y, p) in picture.enumerate_pixels() {
            sheet.put_pixel(ox + x, oy + y, *p);
        }
    }
    sheet
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Hair {
    Short,
    SidePart,
    Buzz,
    Receding,
    Bob,
    Long,
    Bun,
    Curly,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Beard {
    None,
    Stubble,
    Short,
    Moustache,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Neckline {
    Crew,
    Vee,
    Jacket { tie: bool },
}

/// Every trait of one generated person, drawn from the seed.
struct Face {
    seed: u64,
    background: Rgbf,
    skin: Rgbf,
    hair_colour: Rgbf,
    iris: Rgbf,
    lips: Rgbf,
    clothes: Rgbf,
    shirt: Rgbf,
    glasses: Option<Rgbf>,
    hair: Hair,
    beard: Beard,
    neckline: Neckline,
    cx: f32,
    head_cy: f32,
    head_rx: f32,
    head_ry: f32,
    chin_y: f32,
    jaw_rx: f32,
    jaw_round: f32,
    eye_y: f32,
    eye_dx: f32,
    eye_w: f32,
    eye_up: f32,
    eye_down: f32,
    iris_r: f32,
    brow_y: f32,
    brow_th: f32,
    brow_arch: f32,
    nose_y: f32,
    nose_w: f32,
    mouth_y: f32,
    mouth_w: f32,
    lip_up: f32,
    lip_down: f32,
    ear_ry: f32,
    neck_w: f32,
    hair_volume: f32,
    hairline: f32,
    part: f32,
}

const SKIN: [Rgbf; 8] = [
    [0.97, 0.85, 0.77],
    [0.94, 0.79, 0.68],
    [0.89, 0.72, 0.58],
    [0.80, 0.61, 0.46],
    [0.69, 0.50, 0.35],
    [0.55, 0.38, 0.26],
    [0.42, 0.28, 0.19],
    [0.31, 0.20, 0.14],
];

const HAIR: [Rgbf; 9] = [
    [0.07, 0.06, 0.06],
    [0.17, 0.11, 0.08],
    [0.30, 0.19, 0.12],
    [0.46, 0.32, 0.20],
    [0.62, 0.48, 0.31],
    [0.80, 0.66, 0.44],
    [0.52, 0.23, 0.11],
    [0.52, 0.51, 0.50],
    [0.78, 0.77, 0.75],
];

const IRIS: [Rgbf; 6] = [
    [0.22, 0.13, 0.07],
    [0.36, 0.22, 0.11],
    [0.45, 0.36, 0.18],
    [0.30, 0.42, 0.30],
    [0.30, 0.45, 0.62],
    [0.45, 0.50, 0.55],
];

const CLOTHES: [Rgbf; 10] = [
    [0.10, 0.12, 0.20],
    [0.08, 0.08, 0.09],
    [0.35, 0.36, 0.38],
    [0.85, 0.85, 0.83],
    [0.45, 0.10, 0.14],
    [0.12, 0.28, 0.20],
    [0.25, 0.35, 0.55],
    [0.62, 0.55, 0.45],
    [0.55, 0.58, 0.62],
    [0.20, 0.22, 0.30],
];

const BACKGROUNDS: [Rgbf; 4] = [
    [0.89, 0.90, 0.91],
    [0.85, 0.89, 0.93],
    [0.93, 0.92, 0.90],
    [0.90, 0.91, 0.89],
];

/// Light direction (towards the light), from the upper left, normalised.
const LIGHT: [f32; 3] = [-0.45, -0.55, 0.70];

fn palette(colours: &[Rgbf], t: f32) -> Rgbf {
    let n = colours.len().saturating_sub(1);
    if n == 0 {
        return colours.first().copied().unwrap_or([0.5; 3]);
    }
    let x = clamp01(t) * n as f32;
    let i = (x.floor() as usize).min(n - 1);
    mix(colours[i], colours[i + 1], x - i as f32)
}

/// Lambert shading of an ellipsoid whose silhouette has normalised coordinates (nx, ny).
fn lambert(nx: f32, ny: f32) -> f32 {
    let r2 = (nx * nx + ny * ny).min(1.0);
    let nz = (1.0 - r2).sqrt();
    (nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2]).max(0.0)
}

impl Face {
    fn from_seed(seed: u64, look: Look) -> Self {
        let mut r = Rng::new(derive(seed, 1));
        let masc = match look {
            Look::Masculine => true,
            Look::Feminine => false,
            Look::Any => r.chance(0.55),
        };
        // Skin first: hair colour depends on it (dark skin with platinum hair is rare).
        let skin_t = r.weighted(&[3.0, 4.0, 4.0, 3.0, 2.0, 2.0, 1.5, 1.0]) as f32 / 7.0
            + r.range(-0.05, 0.05);
        let skin = palette(&SKIN, skin_t);
        let grey = r.chance(0.12);
        let hair_i = if grey {
            7 + r.below(2)
        } else if skin_t > 0.55 {
            r.weighted(&[6.0, 3.0, 1.0])
        } else {
            r.weighted(&[2.0, 3.0, 3.0, 2.0, 1.5, 1.0, 0.7])
        };
        let hair_colour = HAIR[hair_i];
        let iris_i = if skin_t > 0.5 {
            r.weighted(&[4.0, 3.0, 1.0])
        } else {
            r.weighted(&[2.0, 3.0, 2.0, 1.5, 2.0, 1.0])
        };
        let hair = if masc {
            *r.pick(&[
                Hair::Short,
                Hair::Short,
                Hair::SidePart,
                Hair::SidePart,
                Hair::Buzz,
                Hair::Receding,
                Hair::Curly,
            ])
        } else {
            *r.pick(&[
                Hair::Long,
                Hair::Long,
                Hair::Bob,
                Hair::Bun,
                Hair::Curly,
                Hair::SidePart,
                Hair::Long,
            ])
        };
        let beard = if masc {
            [Beard::None, Beard::Stubble, Beard::Short, Beard::Moustache]
                [r.weighted(&[5.0, 2.0, 1.5, 1.0])]
        } else {
            Beard::None
        };
        let neckline = match r.weighted(&[3.0, 2.0, 2.0]) {
            0 => Neckline::Crew,
            1 => Neckline::Vee,
            _ => Neckline::Jacket {
                tie: masc && r.chance(0.5),
            },
        };
        let glasses = if r.chance(0.22) {
            Some(*r.pick(&[
                [0.08, 0.07, 0.07],
                [0.25, 0.16, 0.10],
                [0.45, 0.46, 0.48],
                [0.62, 0.50, 0.28],
            ]))
        } else {
            None
        };
        let lip_base = mix(scale(skin, 0.9), [0.66, 0.26, 0.28], r.range(0.38, 0.55));
        let shirt = *r.pick(&[[0.95, 0.95, 0.94], [0.80, 0.87, 0.95], [0.93, 0.93, 0.90]]);

        let head_rx = r.range(0.225, 0.252) * if masc { 1.02 } else { 0.98 };
        let head_ry = r.range(0.270, 0.288);
        let head_cy = 0.415 + r.range(-0.010, 0.010);
        let eye_y = head_cy + r.range(0.045, 0.060);
        let nose_y = eye_y + r.range(0.118, 0.135);
        let mouth_y = nose_y + r.range(0.055, 0.066);
        let chin = mouth_y + r.range(0.110, 0.130);
        Face {
            seed,
            background: *r.pick(&BACKGROUNDS),
            skin,
            hair_colour,
            iris: IRIS[iris_i],
            lips: lip_base,
            clothes: *r.pick(&CLOTHES),
            shirt,
            glasses,
            hair,
            beard,
            neckline,
            cx: r.range(-0.008, 0.008),
            head_cy,
            head_rx,
            head_ry,
            chin_y: chin,
            jaw_rx: head_rx * r.range(0.78, if masc { 0.90 } else { 0.84 }),
            jaw_round: r.range(if masc { 0.6 } else { 0.7 }, 0.92),
            eye_y,
            eye_dx: r.range(0.092, 0.102),
            eye_w: r.range(0.039, 0.045),
            eye_up: r.range(0.0150, 0.0185),
            eye_down: r.range(0.0095, 0.0120),
            iris_r: r.range(0.0155, 0.0175),
            brow_y: eye_y - r.range(0.050, 0.060),
            brow_th: r.range(0.0055, 0.0085) * if masc { 1.25 } else { 0.9 },
            brow_arch: r.range(0.004, 0.012),
            nose_y,
            nose_w: r.range(0.040, 0.052),
            mouth_y,
            mouth_w: r.range(0.060, 0.074),
            lip_up: r.range(0.009, 0.013),
            lip_down: r.range(0.012, 0.017) * if masc { 0.9 } else { 1.1 },
            ear_ry: r.range(0.058, 0.070),
            neck_w: r.range(0.105, 0.120) * if masc { 1.12 } else { 1.0 },
            hair_volume: r.range(0.012, 0.035),
            hairline: head_cy - head_ry + r.range(0.085, 0.115),
            part: r.range(-1.0, 1.0),
        }
    }

    fn draw(&self, c: &mut Canvas) {
        self.draw_head_shadow(c);
        if matches!(self.hair, Hair::Long | Hair::Bob | Hair::Curly) {
            self.draw_back_hair(c);
        }
        self.draw_neck(c);
        self.draw_clothes(c);
        self.draw_ears(c);
        self.draw_head(c);
        self.draw_eyes(c);
        self.draw_brows(c);
        self.draw_nose(c);
        self.draw_beard(c);
        self.draw_mouth(c);
        self.draw_hair(c);
        if let Some(frame) = self.glasses {
            self.draw_glasses(c, frame);
        }
    }

    /// Signed distance to the face outline: a skull ellipse smoothly joined to the jaw.
    fn head_sdf(&self, u: f32, v: f32) -> f32 {
        let skull = ellipse(u, v, self.cx, self.head_cy, self.head_rx, self.head_ry);
        // The lower face as a box with round corners: straight cheeks, a jaw angle and a U chin,
        // which an ellipse alone (an egg) lacks.
        let half = (self.chin_y - self.eye_y) / 2.0;
        let jaw = round_box(
            u,
            v,
            self.cx,
            self.eye_y + half,
            self.jaw_rx,
            half,
            self.jaw_rx * self.jaw_round,
        );
        smin(skull, jaw, 0.05)
    }

    fn head_bounds(&self) -> Bounds {
        (
            self.cx - self.head_rx - 0.02,
            self.head_cy - self.head_ry - 0.02,
            self.cx + self.head_rx + 0.02,
            self.chin_y + 0.02,
        )
    }

    fn chin(&self) -> f32 {
        self.chin_y
    }

    /// Skin colour at (u, v) with the head lit as an ellipsoid, warm cheeks and faint mottling.
    fn skin_at(&self, u: f32, v: f32) -> Rgbf {
        let nx = (u - self.cx) / (self.head_rx * 1.1);
        let ny = (v - self.head_cy - 0.05) / (self.head_ry * 1.25);
        let light = lambert(nx, ny);
        let mut c = scale(self.skin, 0.66 + 0.42 * light);
        let r2 = (nx * nx + ny * ny).min(1.0);
        c = add(c, [0.035 * r2, -0.005 * r2, -0.02 * r2]);
        let cheek =
            bump(length((u - self.cx).abs() - 0.115, (v - self.nose_y + 0.03) * 1.3) / 0.07)
                * self.skin[1];
        c = add(c, [0.05 * cheek, -0.005 * cheek, -0.01 * cheek]);
        let mottling = fbm(derive(self.seed, 2), u * 55.0, v * 55.0, 3) * 0.02;
        add(c, [mottling, mottling, mottling])
    }

    fn draw_head_shadow(&self, c: &mut Canvas) {
        let (cx, cy, rx, ry) = (
            self.cx + 0.03,
            self.head_cy + 0.03,
            self.head_rx + 0.05,
            self.head_ry + 0.07,
        );
        let bg = scale(self.background, 0.78);
        c.fill(
            (cx - rx - 0.1, cy - ry - 0.1, cx + rx + 0.1, cy + ry + 0.1),
            |u, v| ellipse(u, v, cx, cy, rx, ry),
            |_, _| bg,
            0.22,
            45.0,
        );
    }

    fn draw_neck(&self, c: &mut Canvas) {
        let (w, top, bottom) = (self.neck_w, self.chin() - 0.12, 1.0);
        let skin = self.skin;
        let chin = self.chin();
        let cx = self.cx;
        c.fill(
            (cx - w - 0.02, top, cx + w + 0.02, bottom),
            |u, v| {
                round_box(
                    u,
                    v,
                    cx,
                    (top + bottom) / 2.0 + 0.02,
                    w,
                    (bottom - top) / 2.0,
                    0.02,
                )
            },
            |u, v| {
                let across = (u - cx) / w;
                let light = 0.62 + 0.2 * (1.0 - across * across) - 0.08 * across;
                let under_chin = smoothstep(chin + 0.06, chin - 0.01, v) * 0.22;
                scale(skin, light - under_chin)
            },
            1.0,
            1.2,
        );
    }

    fn clothes_sdf(&self, u: f32, v: f32) -> f32 {
        let shoulders = ellipse(u, v, self.cx, 1.21, 0.74, 0.33);
        let trapezius = round_box(
            u,
            v,
            self.cx,
            self.chin() + 0.16,
            self.neck_w * 1.6,
            0.07,
            0.06,
        );
        smin(shoulders, trapezius, 0.05)
    }

    fn draw_clothes(&self, c: &mut Canvas) {
        let neck_base = self.chin() + 0.075;
        let cx = self.cx;
        let nw = self.neck_w;
        let seed = derive(self.seed, 3);
        let fabric = |base: Rgbf, u: f32, v: f32| -> Rgbf {
            let nx = (u - cx) / 0.55;
            let ny = (v - 1.05) / 0.35;
            let light = lambert(nx, ny);
            let folds = fbm(seed, u * 9.0, v * 6.0, 3) * 0.08;
            scale(base, 0.72 + 0.38 * light + folds)
        };
        let clothes = self.clothes;
        let shirt = self.shirt;
        match self.neckline {
            Neckline::Crew => {
                let cut =
                    move |u: f32, v: f32| ellipse(u, v, cx, neck_base - 0.005, nw * 1.08, 0.03);
                c.fill(
                    (-0.6, neck_base - 0.1, 0.6, 1.0),
                    |u, v| self.clothes_sdf(u, v).max(-cut(u, v)),
                    |u, v| fabric(clothes, u, v),
                    1.0,
                    1.2,
                );
                // Ribbed collar band.
                c.fill(
                    (
                        cx - nw * 1.4,
                        neck_base - 0.05,
                        cx + nw * 1.4,
                        neck_base + 0.05,
                    ),
                    |u, v| self.clothes_sdf(u, v).max(cut(u, v).abs() - 0.008),
                    |u, v| scale(fabric(clothes, u, v), 0.85),
                    1.0,
                    1.2,
                );
            }
            Neckline::Vee => {
                let apex = neck_base + 0.09;
                let vee = move |u: f32, v: f32| ((u - cx).abs() - (apex - v) * 0.55) / 1.14;
                c.fill(
                    (-0.6, neck_base - 0.1, 0.6, 1.0),
                    |u, v| self.clothes_sdf(u, v).max(-vee(u, v)),
                    |u, v| fabric(clothes, u, v),
                    1.0,
                    1.2,
                );
                c.fill(
                    (cx - 0.15, neck_base - 0.05, cx + 0.15, apex + 0.01),
                    |u, v| self.clothes_sdf(u, v).max(vee(u, v).abs() - 0.006),
                    |u, v| scale(fabric(clothes, u, v), 0.8),
                    1.0,
                    1.2,
                );
            }
            Neckline::Jacket { tie } => {
                let apex = 1.04;
                let lapel = move |u: f32, v: f32| ((u - cx).abs() - (apex - v) * 0.62) / 1.18;
                // Shirt under the jacket, with its own small opening at the neck.
                let collar_open =
                    move |u: f32, v: f32| ((u - cx).abs() - (neck_base + 0.05 - v) * 0.9) / 1.35;
                c.fill(
                    (-0.6, neck_base - 0.1, 0.6, 1.0),
                    |u, v| self.clothes_sdf(u, v).max(-collar_open(u, v)),
                    |u, v| fabric(shirt, u, v),
                    1.0,
                    1.2,
                );
                if tie {
                    let tie_col = *Rng::new(derive(self.seed, 9)).pick(&[
                        [0.45, 0.08, 0.10],
                        [0.10, 0.15, 0.35],
                        [0.20, 0.20, 0.22],
                    ]);
                    c.fill(
                        (cx - 0.05, neck_base - 0.02, cx + 0.05, 1.0),
                        |u, v| {
                            let knot = round_box(u, v, cx, neck_base + 0.022, 0.018, 0.016, 0.008);
                            let blade = ((u - cx).abs() - 0.015 - (v - neck_base - 0.03) * 0.18)
                                .max(neck_base + 0.03 - v);
                            knot.min(blade)
                        },
                        |u, v| fabric(tie_col, u, v),
                        1.0,
                        1.2,
                    );
                }
                // Shirt collar points.
                for side in [-1.0f32, 1.0] {
                    let pts = [
                        (cx + side * nw * 0.95, neck_base - 0.035),
                        (cx + side * 0.012, neck_base + 0.045),
                        (cx + side * nw * 1.7, neck_base + 0.03),
                    ];
                    c.fill(
                        (cx - 0.2, neck_base - 0.06, cx + 0.2, neck_base + 0.08),
                        |u, v| triangle(u, v, pts),
                        |u, v| scale(fabric(shirt, u, v), 1.04),
                        1.0,
                        1.2,
                    );
                }
                c.fill(
                    (-0.6, neck_base - 0.1, 0.6, 1.0),
                    |u, v| self.clothes_sdf(u, v).max(-lapel(u, v)),
                    |u, v| fabric(clothes, u, v),
                    1.0,
                    1.2,
                );
                // Lapel edge shadow.
                c.fill(
                    (cx - 0.2, neck_base, cx + 0.2, 1.0),
                    |u, v| self.clothes_sdf(u, v).max(lapel(u, v).abs() - 0.004),
                    |u, v| scale(fabric(clothes, u, v), 0.7),
                    0.8,
                    1.5,
                );
            }
        }
    }

    fn draw_ears(&self, c: &mut Canvas) {
        let ey = (self.eye_y + self.nose_y) / 2.0;
        for side in [-1.0f32, 1.0] {
            let ex = self.cx + side * (self.head_rx * 0.96);
            let (rx, ry) = (0.032, self.ear_ry);
            let skin = self.skin;
            c.fill(
                (ex - rx, ey - ry, ex + rx, ey + ry),
                |u, v| ellipse(u, v, ex, ey, rx, ry),
                |u, v| {
                    let l =
                        0.68 + 0.2 * lambert((u - ex) / rx * 0.6 - side * 0.3, (v - ey) / ry * 0.7);
                    add(scale(skin, l), [0.03, 0.0, -0.01])
                },
                1.0,
                1.2,
            );
            let (ix, iy) = (ex + side * 0.006, ey - 0.004);
            c.fill(
                (ix - rx, iy - ry, ix + rx, iy + ry),
                |u, v| ellipse(u, v, ix, iy, rx * 0.5, ry * 0.62),
                |_, _| scale(skin, 0.55),
                0.45,
                3.0,
            );
        }
    }

    fn draw_head(&self, c: &mut Canvas) {
        c.fill(
            self.head_bounds(),
            |u, v| self.head_sdf(u, v),
            |u, v| self.skin_at(u, v),
            1.0,
            1.2,
        );
        // Soft darkening along the outline: the cheeks turn away from the camera.
        let dark = scale(self.skin, 0.6);
        c.fill(
            self.head_bounds(),
            |u, v| self.head_sdf(u, v).max(-(self.head_sdf(u, v) + 0.018)),
            |_, _| dark,
            0.25,
            6.0,
        );
    }

    fn draw_eyes(&self, c: &mut Canvas) {
        let iris_seed = derive(self.seed, 4);
        for side in [-1.0f32, 1.0] {
            let ex = self.cx + side * self.eye_dx;
            let ey = self.eye_y;
            let (w, up, down) = (self.eye_w, self.eye_up, self.eye_down);
            // Eye socket shadow, stronger on the side away from the light.
            let socket = scale(self.skin, 0.7);
            c.fill(
                (ex - 0.07, ey - 0.05, ex + 0.07, ey + 0.04),
                |u, v| ellipse(u, v, ex + side * 0.004, ey - 0.006, w * 1.55, 0.026),
                |_, _| socket,
                0.28 + 0.08 * side,
                14.0,
            );
            // Almond: intersection of two discs.
            let r_up = (w * w + up * up) / (2.0 * up);
            let r_down = (w * w + down * down) / (2.0 * down);
            let almond = move |u: f32, v: f32| {
                circle(u, v, ex, ey - up + r_up, r_up).max(circle(
                    u,
                    v,
                    ex,
                    ey + down - r_down,
                    r_down,
                ))
            };
            let bounds = (
                ex - w - 0.01,
                ey - up - 0.01,
                ex + w + 0.01,
                ey + down + 0.01,
            );
            c.fill(
                bounds,
                almond,
                |u, v| {
                    let corner = smoothstep(w * 0.3, w, (u - ex).abs());
                    let lid = smoothstep(ey - up, ey + down * 0.5, v);
                    scale([0.93, 0.91, 0.89], 0.72 + 0.18 * lid - 0.12 * corner)
                },
                1.0,
                1.0,
            );
            let iris = self.iris;
            let (ir, ix, iy) = (self.iris_r, ex, ey + 0.0008);
            c.fill(
                bounds,
                |u, v| circle(u, v, ix, iy, ir).max(almond(u, v)),
                |u, v| {
                    let d = length(u - ix, v - iy) / ir;
                    let a = atan2(v - iy, u - ix);
                    let streak = noise(iris_seed, a * 9.0, d * 3.0) * 0.18;
                    let ring = smoothstep(0.75, 1.0, d) * 0.45;
                    let top_shadow = smoothstep(iy, iy - ir, v) * 0.3;
                    scale(iris, 1.05 + streak - ring - top_shadow)
                },
                1.0,
                1.0,
            );
            c.fill(
                bounds,
                |u, v| circle(u, v, ix, iy, ir * 0.42).max(almond(u, v)),
                |_, _| [0.03, 0.03, 0.03],
                1.0,
                1.0,
            );
            c.fill(
                bounds,
                |u, v| circle(u, v, ix - ir * 0.35, iy - ir * 0.38, ir * 0.16),
                |_, _| [0.98, 0.98, 0.98],
                0.9,
                1.0,
            );
            // Upper lash line, thicker at the outer corner; faint lower lid; lid crease.
            let lash = scale(self.hair_colour, 0.5);
            let lash_pts = quad_bezier(
                (ex - w, ey + 0.001),
                (ex, ey - up * 2.0),
                (ex + w, ey + 0.001),
                16,
            );
            let radii: Vec<f32> = (0..lash_pts.len())
                .map(|i| {
                    let t = i as f32 / (lash_pts.len() - 1) as f32;
                    let outer = if side > 0.0 { t } else { 1.0 - t };
                    0.0016 + 0.0022 * outer
                })
                .collect();
            c.fill(
                bounds,
                |u, v| stroke(u, v, &lash_pts, &radii),
                |_, _| lash,
                0.9,
                1.0,
            );
            let low = quad_bezier(
                (ex - w * 0.9, ey + 0.002),
                (ex, ey + down * 2.1),
                (ex + w * 0.9, ey + 0.002),
                12,
            );
            let low_r = vec![0.0012; low.len()];
            c.fill(
                bounds,
                |u, v| stroke(u, v, &low, &low_r),
                |_, _| scale(self.skin, 0.6),
                0.35,
                1.5,
            );
            let crease = quad_bezier(
                (ex - w * 0.95, ey - 0.004),
                (ex, ey - up * 2.0 - 0.012),
                (ex + w * 1.05, ey - 0.002),
                12,
            );
            let crease_r = vec![0.0014; crease.len()];
            c.fill(
                (ex - w - 0.01, ey - up - 0.03, ex + w + 0.01, ey),
                |u, v| stroke(u, v, &crease, &crease_r),
                |_, _| scale(self.skin, 0.62),
                0.4,
                2.0,
            );
        }
    }

    fn draw_brows(&self, c: &mut Canvas) {
        let col = scale(
            self.hair_colour,
            if self.hair_colour[0] > 0.6 { 0.7 } else { 0.9 },
        );
        let seed = derive(self.seed, 5);
        for side in [-1.0f32, 1.0] {
            let ex = self.cx + side * self.eye_dx;
            let inner = (ex - side * self.eye_w * 1.05, self.brow_y + 0.004);
            let peak = (
                ex + side * self.eye_w * 0.3,
                self.brow_y - self.brow_arch * 2.0,
            );
            let outer = (ex + side * self.eye_w * 1.35, self.brow_y + 0.006);
            let pts = quad_bezier(inner, peak, outer, 20);
            let radii: Vec<f32> = (0..pts.len())
                .map(|i| {
                    let t = i as f32 / (pts.len() - 1) as f32;
                    self.brow_th * (1.0 - 0.65 * t * t)
                })
                .collect();
            c.fill(
                (ex - 0.07, self.brow_y - 0.04, ex + 0.07, self.brow_y + 0.03),
                |u, v| stroke(u, v, &pts, &radii),
                |u, v| {
                    let hairs = noise(seed, u * 900.0 * side, v * 120.0) * 0.25;
                    scale(col, 1.0 + hairs)
                },
                0.85,
                1.6,
            );
        }
    }

    fn draw_nose(&self, c: &mut Canvas) {
        let (cx, ny, nw) = (self.cx, self.nose_y, self.nose_w);
        let shadow = scale(self.skin, 0.6);
        let light = scale(self.skin, 1.12);
        let len = ny - self.eye_y;
        // Bridge: the side away from the light is shaded, the lit side and the tip catch light.
        for (side, opacity) in [(1.0f32, 0.32), (-1.0, 0.12)] {
            let pts = quad_bezier(
                (cx + side * 0.018, self.eye_y - 0.01),
                (cx + side * 0.016, ny - len * 0.4),
                (cx + side * nw * 0.55, ny - 0.018),
                12,
            );
            let r: Vec<f32> = (0..pts.len())
                .map(|i| 0.004 + 0.006 * i as f32 / 12.0)
                .collect();
            c.fill(
                (cx - 0.06, self.eye_y - 0.02, cx + 0.06, ny),
                |u, v| stroke(u, v, &pts, &r),
                |_, _| shadow,
                opacity,
                9.0,
            );
        }
        c.fill(
            (cx - 0.03, self.eye_y, cx + 0.02, ny),
            |u, v| ellipse(u, v, cx - 0.006, ny - len * 0.45, 0.006, len * 0.35),
            |_, _| light,
            0.3,
            7.0,
        );
        c.fill(
            (cx - 0.04, ny - 0.04, cx + 0.04, ny + 0.02),
            |u, v| ellipse(u, v, cx - 0.003, ny - 0.014, nw * 0.38, 0.016),
            |_, _| light,
            0.35,
            6.0,
        );
        // Wings (alae) as soft shading, small dark nostrils under the tip, then the shadow the
        // tip casts on the upper lip.
        for side in [-1.0f32, 1.0] {
            let wx = cx + side * nw * 0.74;
            c.fill(
                (wx - 0.04, ny - 0.04, wx + 0.04, ny + 0.02),
                |u, v| ellipse(u, v, wx + side * 0.004, ny - 0.006, nw * 0.28, 0.016),
                |_, _| shadow,
                0.38 + side * 0.1,
                7.0,
            );
            let nx = cx + side * nw * 0.4;
            c.fill(
                (nx - 0.03, ny - 0.02, nx + 0.03, ny + 0.02),
                |u, v| ellipse(u, v, nx, ny + 0.001, nw * 0.22, 0.0045),
                |_, _| scale(self.skin, 0.42),
                0.6,
                3.0,
            );
        }
        c.fill(
            (cx - 0.07, ny - 0.01, cx + 0.07, ny + 0.03),
            |u, v| ellipse(u, v, cx + 0.004, ny + 0.011, nw * 0.8, 0.006),
            |_, _| shadow,
            0.3,
            6.0,
        );
    }

    fn draw_mouth(&self, c: &mut Canvas) {
        let (cx, my, mw) = (self.cx, self.mouth_y, self.mouth_w);
        let lips = self.lips;
        let bounds = (cx - mw - 0.02, my - 0.03, cx + mw + 0.02, my + 0.04);
        // Philtrum groove shadow.
        c.fill(
            bounds,
            |u, v| ellipse(u, v, cx, my - 0.028, 0.006, 0.014),
            |_, _| scale(self.skin, 0.75),
            0.25,
            5.0,
        );
        let (up, down) = (self.lip_up, self.lip_down);
        // Upper lip with a slight Cupid's bow; lower lip fuller and lit from above.
        c.fill(
            bounds,
            |u, v| {
                let x = (u - cx) / mw;
                let bow = 0.25 * up * (1.0 - (x.abs() * 4.0 - 1.0).abs().min(1.0));
                let top = my - up * (1.0 - x * x).max(0.0) - bow;
                let d_edge = ((u - cx).abs() - mw) * 0.5;
                (top - v).max(v - my).max(d_edge)
            },
            |_, v| scale(lips, 0.85 + 0.1 * smoothstep(my - up, my, v)),
            1.0,
            1.4,
        );
        c.fill(
            bounds,
            |u, v| ellipse(u, v, cx, my, mw * 0.86, down).max(my - v),
            |u, v| {
                let hi = bump(length(
                    (u - cx) / (mw * 0.5),
                    (v - my - down * 0.45) / (down * 0.5),
                ));
                scale(
                    lips,
                    0.98 + 0.14 * hi - 0.12 * smoothstep(my + down * 0.3, my + down, v),
                )
            },
            1.0,
            1.4,
        );
        // Line between the lips, darker at the corners.
        let line = quad_bezier(
            (cx - mw, my - 0.001),
            (cx, my + 0.0025),
            (cx + mw, my - 0.001),
            16,
        );
        let radii: Vec<f32> = (0..line.len())
            .map(|i| {
                let t = i as f32 / (line.len() - 1) as f32;
                0.0012 + 0.0008 * (2.0 * t - 1.0).abs()
            })
            .collect();
        c.fill(
            bounds,
            |u, v| stroke(u, v, &line, &radii),
            |_, _| scale(lips, 0.4),
            0.85,
            1.2,
        );
        // Shadow under the lower lip.
        c.fill(
            bounds,
            |u, v| ellipse(u, v, cx, my + down + 0.008, mw * 0.55, 0.006),
            |_, _| scale(self.skin, 0.7),
            0.3,
            5.0,
        );
    }

    fn draw_beard(&self, c: &mut Canvas) {
        if self.beard == Beard::None {
            return;
        }
        let col = self.hair_colour;
        let seed = derive(self.seed, 6);
        let (cx, my) = (self.cx, self.mouth_y);
        let upper_face =
            |u: f32, v: f32| ellipse(u, v, cx, self.nose_y - 0.1, self.head_rx * 0.86, 0.15);
        let moustache = |u: f32, v: f32| {
            ellipse(
                u,
                v,
                cx,
                my - self.lip_up - 0.011,
                self.mouth_w * 1.1,
                0.013,
            )
        };
        let beard_region = |u: f32, v: f32| {
            self.head_sdf(u, v)
                .max(-upper_face(u, v))
                .max(self.eye_y + 0.04 - v)
        };
        let bounds = self.head_bounds();
        match self.beard {
            Beard::None => {}
            Beard::Stubble => {
                c.fill(
                    bounds,
                    |u, v| beard_region(u, v).min(moustache(u, v)),
                    |u, v| {
                        let dots = noise(seed, u * 700.0, v * 700.0) * 0.5 + 0.5;
                        mix(self.skin_at(u, v), col, 0.25 + 0.35 * dots)
                    },
                    0.6,
                    8.0,
                );
            }
            Beard::Short => {
                let beard_at = |u: f32, v: f32| {
                    let hairs = fbm(seed, u * 300.0, v * 120.0, 2) * 0.35;
                    let nx = (u - cx) / self.head_rx;
                    let shade = 0.85 + 0.25 * lambert(nx, (v - self.mouth_y) / 0.2);
                    scale(col, shade + hairs)
                };
                // A soft, thin growth on the cheeks, dense on the chin and the upper lip.
                c.fill(bounds, beard_region, beard_at, 0.45, 10.0);
                c.fill(
                    bounds,
                    |u, v| {
                        (beard_region(u, v) + 0.012)
                            .max(self.nose_y - 0.02 - v)
                            .min(moustache(u, v))
                    },
                    beard_at,
                    0.85,
                    4.0,
                );
            }
            Beard::Moustache => {
                c.fill(
                    (cx - 0.08, my - 0.05, cx + 0.08, my),
                    moustache,
                    |u, v| scale(col, 0.9 + fbm(seed, u * 300.0, v * 100.0, 2) * 0.35),
                    0.95,
                    2.0,
                );
            }
        }
    }

    /// Distance to the face window: the part of the head the hair leaves visible.
    fn window_sdf(&self, u: f32, v: f32) -> f32 {
        let shift = self.part * 0.01;
        let ry = 0.46;
        let rx = self.head_rx
            * match self.hair {
                Hair::Long | Hair::Bob => 0.86,
                Hair::Short | Hair::SidePart | Hair::Receding => 1.0,
                _ => 0.97,
            };
        ellipse(u, v, self.cx + shift, self.hairline + ry, rx, ry)
    }

    /// Distance to the outer envelope of the hair volume.
    fn hair_outer_sdf(&self, u: f32, v: f32) -> f32 {
        let vol = self.hair_volume;
        let (cx, cy, rx, ry) = (self.cx, self.head_cy, self.head_rx, self.head_ry);
        match self.hair {
            Hair::Buzz => {
                ellipse(u, v, cx, cy, rx + 0.006, ry + 0.006).max(v - (self.eye_y - 0.02))
            }
            Hair::Short | Hair::SidePart | Hair::Receding => {
                // Volume on top, close-cropped on the sides; the side hair ends above the ear and
                // a little lower at the sideburn, so the bottom edge slopes.
                let top = ellipse(
                    u,
                    v,
                    cx + self.part * 0.006,
                    cy - vol * 0.6,
                    rx + vol * 0.25,
                    ry + vol * 0.9,
                );
                let outward = ((u - cx).abs() - rx * 0.82).max(0.0);
                let slope = if self.hair == Hair::Receding {
                    0.0
                } else {
                    1.2
                };
                top.max(v - (self.eye_y - 0.012) + outward * slope)
            }
            Hair::Bun => {
                let cap = ellipse(u, v, cx, cy, rx + 0.008, ry + 0.01).max(v - (self.eye_y - 0.01));
                cap.min(circle(u, v, cx, cy - ry - 0.035, 0.06 + vol))
            }
            Hair::Bob => {
                let top = ellipse(u, v, cx, cy - 0.005, rx + vol, ry + vol * 0.8);
                let sides = round_box(u, v, cx, cy + 0.1, rx + vol * 0.9, 0.24, 0.09);
                smin(top, sides, 0.04)
            }
            Hair::Long => {
                let top = ellipse(u, v, cx, cy - 0.005, rx + vol * 0.8, ry + vol * 0.7);
                let sides = round_box(u, v, cx, cy + 0.23, rx + vol * 0.9 + 0.015, 0.36, 0.12);
                smin(top, sides, 0.04)
            }
            Hair::Curly => self.curls_sdf(u, v).max(v - (self.eye_y - 0.01)),
        }
    }

    /// The whole volume of curly hair, with a bumpy outline.
    fn curls_sdf(&self, u: f32, v: f32) -> f32 {
        let (cx, cy, rx, ry, vol) = (
            self.cx,
            self.head_cy,
            self.head_rx,
            self.head_ry,
            self.hair_volume,
        );
        let a = atan2(v - cy, u - cx);
        let bumps = 0.007 * sin(a * 17.0) + 0.005 * sin(a * 29.0 + 1.3);
        ellipse(u, v, cx, cy - 0.01, rx + 0.02 + vol, ry + 0.01 + vol * 0.8) + bumps
    }

    fn hair_colour_at(&self, u: f32, v: f32) -> Rgbf {
        let seed = derive(self.seed, 7);
        // Strands flow from a point above the parting; the angle is warped by low-frequency noise
        // so that they wave instead of radiating like spokes.
        let (pu, pv) = (
            self.cx + self.part * 0.06,
            self.head_cy - self.head_ry * 1.5,
        );
        let warp = fbm(derive(seed, 2), u * 7.0, v * 7.0, 2) * 0.12;
        let a = atan2(v - pv, u - pu) + warp;
        let r = length(u - pu, v - pv);
        let texture = if self.hair == Hair::Curly {
            fbm(seed, u * 140.0, v * 140.0, 3) * 0.5
        } else {
            let strands = fbm(seed, a * 60.0, r * 5.0, 2) * 0.35;
            strands + noise(derive(seed, 1), a * 180.0, r * 8.0) * 0.1
        };
        let nx = (u - self.cx) / (self.head_rx + 0.06);
        let ny = (v - self.head_cy) / (self.head_ry + 0.1);
        let light = lambert(nx, ny);
        // A sheen band on the lit side of the crown.
        let sheen = bump(length(nx + 0.35, ny + 0.55) / 0.35) * 0.35;
        let base = self.hair_colour;
        let lum = 0.55 + 0.55 * light + texture;
        add(
            scale(base, lum),
            scale([0.35, 0.33, 0.3], sheen * (0.3 + base[0])),
        )
    }

    fn draw_back_hair(&self, c: &mut Canvas) {
        let (cx, cy) = (self.cx, self.head_cy);
        let bottom = match self.hair {
            Hair::Long => 0.93,
            Hair::Bob => self.chin() - 0.01,
            _ => self.mouth_y + 0.06,
        };
        if self.hair == Hair::Curly {
            if self.hair_volume > 0.022 {
                c.fill(
                    (cx - 0.4, cy - 0.45, cx + 0.4, cy + 0.45),
                    |u, v| self.curls_sdf(u, v),
                    |u, v| scale(self.hair_colour_at(u, v), 0.75),
                    1.0,
                    2.0,
                );
            }
            return;
        }
        let w = self.head_rx + self.hair_volume + 0.02;
        c.fill(
            (cx - w - 0.02, cy - 0.1, cx + w + 0.02, bottom + 0.02),
            |u, v| round_box(u, v, cx, (cy + bottom) / 2.0, w, (bottom - cy) / 2.0, 0.08),
            |u, v| scale(self.hair_colour_at(u, v), 0.6),
            1.0,
            1.5,
        );
    }

    fn draw_hair(&self, c: &mut Canvas) {
        let bounds = (
            self.cx - self.head_rx - 0.1,
            self.head_cy - self.head_ry - 0.12,
            self.cx + self.head_rx + 0.1,
            0.98,
        );
        let receding = self.hair == Hair::Receding;
        let hair_sdf = |u: f32, v: f32| {
            let d = self.hair_outer_sdf(u, v).max(-self.window_sdf(u, v));
            if receding {
                // Only the sides remain, above the ears, with rounded ends.
                let sides = (self.head_rx * 0.7 - (u - self.cx).abs()).max(self.head_cy - 0.1 - v);
                -smin(-d, -sides, 0.02)
            } else {
                d
            }
        };
        // Shadow the hair casts on the forehead and temples.
        let shade = scale(self.skin, 0.55);
        c.fill(
            bounds,
            |u, v| (hair_sdf(u, v) - 0.01).max(self.head_sdf(u, v)),
            |_, _| shade,
            0.35,
            10.0,
        );
        let (opacity, soft) = match self.hair {
            Hair::Buzz => (0.8, 2.5),
            Hair::Curly => (1.0, 2.0),
            _ => (1.0, 1.6),
        };
        c.fill(
            bounds,
            hair_sdf,
            |u, v| self.hair_colour_at(u, v),
            opacity,
            soft,
        );
        if matches!(self.hair, Hair::SidePart | Hair::Short) && self.part.abs() > 0.3 {
            let px = self.cx + self.part.signum() * self.head_rx * 0.4;
            let pts = quad_bezier(
                (px, self.hairline - 0.005),
                (px + self.part.signum() * 0.005, self.hairline - 0.06),
                (
                    px + self.part.signum() * 0.015,
                    self.head_cy - self.head_ry - 0.005,
                ),
                10,
            );
            let r = vec![0.0018; pts.len()];
            let dark = scale(self.hair_colour, 0.45);
            c.fill(
                bounds,
                |u, v| stroke(u, v, &pts, &r).max(hair_sdf(u, v)),
                |_, _| dark,
                0.7,
                2.0,
            );
        }
    }

    fn draw_glasses(&self, c: &mut Canvas, frame: Rgbf) {
        let (hx, hy) = (self.eye_w * 1.45, 0.036);
        let ey = self.eye_y + 0.004;
        let t = 0.0028;
        for side in [-1.0f32, 1.0] {
            let gx = self.cx + side * self.eye_dx;
            c.fill(
                (
                    gx - hx - 0.01,
                    ey - hy - 0.01,
                    gx + hx + 0.01,
                    ey + hy + 0.01,
                ),
                |u, v| round_box(u, v, gx, ey, hx, hy, 0.018).abs() - t,
                |_, v| scale(frame, 0.8 + 0.5 * smoothstep(ey + hy, ey - hy, v)),
                1.0,
                1.0,
            );
            let (ox, tx) = (gx + side * hx, self.cx + side * (self.head_rx * 0.97));
            c.fill(
                (ox.min(tx) - 0.01, ey - hy - 0.01, ox.max(tx) + 0.01, ey),
                |u, v| {
                    super::paint::segment(u, v, ox, ey - hy * 0.6, tx, ey - hy * 0.5).0 - t * 0.8
                },
                |_, _| frame,
                1.0,
                1.0,
            );
        }
        let inner = self.eye_dx - hx;
        c.fill(
            (self.cx - inner - 0.01, ey - hy, self.cx + inner + 0.01, ey),
            |u, v| {
                let pts = [
                    (self.cx - inner, ey - hy * 0.35),
                    (self.cx, ey - hy * 0.55),
                    (self.cx + inner, ey - hy * 0.35),
                ];
                stroke(u, v, &pts, &[t, t, t])
            },
            |_, _| frame,
            1.0,
            1.0,
        );
    }
}

/// Distance (approximate outside the corners) to a triangle, for the shirt collar points.
fn triangle(u: f32, v: f32, p: [(f32, f32); 3]) -> f32 {
    let area = (p[1].0 - p[0].0) * (p[2].1 - p[0].1) - (p[1].1 - p[0].1) * (p[2].0 - p[0].0);
    let orient = if area >= 0.0 { 1.0 } else { -1.0 };
    let mut d = f32::MIN;
    for i in 0..3 {
        let (a, b) = (p[i], p[(i + 1) % 3]);
        let (ex, ey) = (b.0 - a.0, b.1 - a.1);
        let len = length(ex, ey).max(1e-6);
        // Outward normal for a counter-clockwise (in image space, clockwise) triangle.
        let side = ((u - a.0) * ey - (v - a.1) * ex) / len * orient;
        d = d.max(side);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_pixels() {
        let a = portrait(12345, 413, 531);
        let b = portrait(12345, 413, 531);
        assert_eq!(a.as_raw(), b.as_raw());
        assert_ne!(a.as_raw(), portrait(12346, 413, 531).as_raw());
    }

    #[test]
    fn portrait_has_the_requested_size() {
        let p = portrait(1, 413, 531);
        assert_eq!(p.dimensions(), (413, 531));
        let small = portrait(1, 120, 160);
        assert_eq!(small.dimensions(), (120, 160));
    }

    #[test]
    fn background_is_light_and_the_face_is_in_the_middle() {
        for seed in 0..8 {
            let p = portrait(seed, 413, 531);
            let corner = p.get_pixel(5, 5).0;
            assert!(
                corner.iter().all(|&c| c > 180),
                "seed {seed} corner {corner:?}"
            );
            // The centre is skin, not background.
            assert_ne!(p.get_pixel(206, 300).0, corner, "seed {seed}");
        }
    }

    #[test]
    fn texture_is_deterministic_and_bounded() {
        let mut a = portrait(3, 100, 128);
        let mut b = a.clone();
        let original = a.clone();
        texture(&mut a, 9, 6);
        texture(&mut b, 9, 6);
        assert_eq!(a.as_raw(), b.as_raw());
        assert_ne!(a.as_raw(), original.as_raw());
        for (x, y) in a.as_raw().iter().zip(original.as_raw()) {
            assert!((i16::from(*x) - i16::from(*y)).abs() <= 9);
        }
    }

    #[test]
    fn contact_sheet_has_the_grid_size() {
        let faces: Vec<RgbImage> = (1..=5).map(|s| portrait(s, 40, 52)).collect();
        let sheet = contact_sheet(&faces, 3);
        assert_eq!(sheet.dimensions(), (3 * 48 + 8, 2 * 60 + 8));
        assert_eq!(sheet.get_pixel(8, 8), faces[0].get_pixel(0, 0));
    }
}
