//! A small anti-aliased painter on signed distance functions, shared by the portrait and the
//! signature.
//!
//! Shapes are described by a signed distance (negative inside) rather than rasterised polygons:
//! the coverage of a pixel then follows from one number, which gives clean anti-aliased edges
//! and, with a wider `soft` band, the blurred edges of shadows and highlights that make a
//! picture look photographed rather than drawn.
//!
//! The trigonometry is our own polynomial approximation: `f32::sin` and friends come from the
//! platform's maths library and may differ in the last bit between machines, which would change
//! committed fixture bytes.

use image::{Rgb, RgbImage};

pub type Rgbf = [f32; 3];

pub const PI: f32 = std::f32::consts::PI;
const TAU: f32 = std::f32::consts::TAU;
const HALF_PI: f32 = std::f32::consts::FRAC_PI_2;

/// Sine by range reduction to [-pi/2, pi/2] and a degree-9 Taylor polynomial (error < 4e-6).
pub fn sin(x: f32) -> f32 {
    let k = (x / TAU + 0.5).floor();
    let mut r = x - k * TAU;
    if r > HALF_PI {
        r = PI - r;
    } else if r < -HALF_PI {
        r = -PI - r;
    }
    let r2 = r * r;
    r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 / 362_880.0))))
}

/// Arc tangent of y/x in (-pi, pi], polynomial approximation (error < 1e-5 rad).
pub fn atan2(y: f32, x: f32) -> f32 {
    if x == 0.0 && y == 0.0 {
        return 0.0;
    }
    let (ax, ay) = (x.abs(), y.abs());
    let swap = ay > ax;
    let z = if swap { ax / ay } else { ay / ax };
    let z2 = z * z;
    let mut a = z
        * (0.999_977_26
            + z2 * (-0.332_623_47
                + z2 * (0.193_543_46
                    + z2 * (-0.116_432_87 + z2 * (0.052_653_32 - 0.011_721_2 * z2)))));
    if swap {
        a = HALF_PI - a;
    }
    if x < 0.0 {
        a = PI - a;
    }
    if y < 0.0 { -a } else { a }
}

pub fn clamp01(x: f32) -> f32 {
    x.clamp(0.0, 1.0)
}

/// Hermite smoothstep of `x` between `e0` and `e1` (either order).
pub fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = clamp01((x - e0) / (e1 - e0));
    t * t * (3.0 - 2.0 * t)
}

pub fn mix(a: Rgbf, b: Rgbf, t: f32) -> Rgbf {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

pub fn scale(c: Rgbf, k: f32) -> Rgbf {
    [c[0] * k, c[1] * k, c[2] * k]
}

pub fn add(c: Rgbf, d: Rgbf) -> Rgbf {
    [c[0] + d[0], c[1] + d[1], c[2] + d[2]]
}

/// A soft round falloff: 1 at the centre, 0 from distance 1 on (cheaper and more portable than a
/// Gaussian).
pub fn bump(t: f32) -> f32 {
    let t = clamp01(1.0 - t * t);
    t * t
}

// ---- signed distances, in whatever unit the caller uses --------------------------------------

pub fn length(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

pub fn circle(x: f32, y: f32, cx: f32, cy: f32, r: f32) -> f32 {
    length(x - cx, y - cy) - r
}

/// Approximate distance to an axis-aligned ellipse (Quilez): exact on the axes, good enough for
/// anti-aliasing everywhere else.
pub fn ellipse(x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> f32 {
    let (px, py) = (x - cx, y - cy);
    let k0 = length(px / rx, py / ry);
    let k1 = length(px / (rx * rx), py / (ry * ry));
    if k1 == 0.0 {
        -rx.min(ry)
    } else {
        k0 * (k0 - 1.0) / k1
    }
}

/// Distance to the segment a-b, and the position (0..1) of the nearest point along it.
pub fn segment(x: f32, y: f32, ax: f32, ay: f32, bx: f32, by: f32) -> (f32, f32) {
    let (pax, pay) = (x - ax, y - ay);
    let (bax, bay) = (bx - ax, by - ay);
    let l2 = bax * bax + bay * bay;
    let h = if l2 > 0.0 {
        clamp01((pax * bax + pay * bay) / l2)
    } else {
        0.0
    };
    (length(pax - bax * h, pay - bay * h), h)
}

/// Distance to a box of half sizes (hx, hy) with rounded corners of radius r.
pub fn round_box(x: f32, y: f32, cx: f32, cy: f32, hx: f32, hy: f32, r: f32) -> f32 {
    let qx = (x - cx).abs() - hx + r;
    let qy = (y - cy).abs() - hy + r;
    length(qx.max(0.0), qy.max(0.0)) + qx.max(qy).min(0.0) - r
}

/// Smooth union: joins two shapes with a fillet of size k, as a jaw joins a skull.
pub fn smin(a: f32, b: f32, k: f32) -> f32 {
    let h = clamp01(0.5 + 0.5 * (b - a) / k);
    b + (a - b) * h - k * h * (1.0 - h)
}

/// Distance to a thick polyline whose half-width varies along it (`radii` per point).
pub fn stroke(x: f32, y: f32, pts: &[(f32, f32)], radii: &[f32]) -> f32 {
    let mut best = f32::MAX;
    for i in 1..pts.len().min(radii.len()) {
        let (a, b) = (pts[i - 1], pts[i]);
        let (d, h) = segment(x, y, a.0, a.1, b.0, b.1);
        let r = radii[i - 1] + (radii[i] - radii[i - 1]) * h;
        best = best.min(d - r);
    }
    best
}

/// Points of a quadratic Bezier curve, for strokes (eyebrows, lid lines).
pub fn quad_bezier(p0: (f32, f32), p1: (f32, f32), p2: (f32, f32), n: usize) -> Vec<(f32, f32)> {
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            (
                u * u * p0.0 + 2.0 * u * t * p1.0 + t * t * p2.0,
                u * u * p0.1 + 2.0 * u * t * p1.1 + t * t * p2.1,
            )
        })
        .collect()
}

/// An RGB canvas in floating point, addressed in "units" of the canvas height, horizontally
/// centred: (0, 0) is the middle of the top edge, (0, 1) the middle of the bottom edge.
/// Describing the face in these units makes it independent of the output resolution.
pub struct Canvas {
    width: u32,
    height: u32,
    px: Vec<Rgbf>,
    unit: f32,
    origin_x: f32,
}

/// Bounds of a shape in canvas units: (left, top, right, bottom).
pub type Bounds = (f32, f32, f32, f32);

impl Canvas {
    /// A canvas painted by `background(u, v)`.
    pub fn new(width: u32, height: u32, background: impl Fn(f32, f32) -> Rgbf) -> Self {
        let unit = height.max(1) as f32;
        let origin_x = width as f32 / 2.0;
        let mut px = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            for x in 0..width {
                let (u, v) = ((x as f32 + 0.5 - origin_x) / unit, (y as f32 + 0.5) / unit);
                px.push(background(u, v));
            }
        }
        Canvas {
            width,
            height,
            px,
            unit,
            origin_x,
        }
    }

    /// Paints `colour` where `sdf` < 0, with an edge band `soft_px` pixels wide (1 for a crisp
    /// anti-aliased edge, more for a blurred one), at `opacity`.
    pub fn fill(
        &mut self,
        bounds: Bounds,
        sdf: impl Fn(f32, f32) -> f32,
        colour: impl Fn(f32, f32) -> Rgbf,
        opacity: f32,
        soft_px: f32,
    ) {
        let soft = soft_px.max(0.5);
        let pad = soft + 1.0;
        let x0 = ((self.origin_x + bounds.0 * self.unit - pad)
            .floor()
            .max(0.0)) as u32;
        let y0 = ((bounds.1 * self.unit - pad).floor().max(0.0)) as u32;
        let x1 =
            ((self.origin_x + bounds.2 * self.unit + pad).ceil().max(0.0) as u32).min(self.width);
        let y1 = ((bounds.3 * self.unit + pad).ceil().max(0.0) as u32).min(self.height);
        for y in y0..y1 {
            for x in x0..x1 {
                let u = (x as f32 + 0.5 - self.origin_x) / self.unit;
                let v = (y as f32 + 0.5) / self.unit;
                let d = sdf(u, v) * self.unit / soft;
                if d >= 0.5 {
                    continue;
                }
                let cov = smoothstep(0.5, -0.5, d) * opacity;
                if cov <= 0.0 {
                    continue;
                }
                let i = y as usize * self.width as usize + x as usize;
                self.px[i] = mix(self.px[i], colour(u, v), cov);
            }
        }
    }

    pub fn into_rgb(self) -> RgbImage {
        let w = self.width as usize;
        RgbImage::from_fn(self.width, self.height, |x, y| {
            let c = self.px[y as usize * w + x as usize];
            Rgb([to_u8(c[0]), to_u8(c[1]), to_u8(c[2])])
        })
    }
}

pub fn to_u8(c: f32) -> u8 {
    (clamp01(c) * 255.0 + 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigonometry_is_close_to_std() {
        let mut x = -20.0f32;
        while x < 20.0 {
            assert!((sin(x) - x.sin()).abs() < 1e-4, "sin {x}");
            assert!((sin(x + HALF_PI) - x.cos()).abs() < 1e-4, "cos {x}");
            x += 0.013;
        }
        for (y, x) in [
            (1.0f32, 2.0f32),
            (-1.0, 2.0),
            (1.0, -2.0),
            (-1.0, -2.0),
            (3.0, 0.5),
            (0.0, -1.0),
        ] {
            assert!((atan2(y, x) - y.atan2(x)).abs() < 1e-4, "atan2 {y} {x}");
        }
    }

    #[test]
    fn distances_have_the_right_sign() {
        assert!(circle(0.0, 0.0, 0.0, 0.0, 1.0) < 0.0);
        assert!((ellipse(3.0, 0.0, 0.0, 0.0, 2.0, 1.0) - 1.0).abs() < 1e-5);
        assert!(round_box(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.2) < 0.0);
        assert!(stroke(0.5, 0.0, &[(0.0, 0.0), (1.0, 0.0)], &[0.1, 0.1]) < 0.0);
    }
}
