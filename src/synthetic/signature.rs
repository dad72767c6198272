//! Synthetic handwritten signatures: connected cursive strokes drawn with a round pen whose width
//! follows the speed of the hand, black ink on white.
//!
//! The card prints the signature small (field 7) and the chip stores it (DG5), so a fixture needs
//! something with the look and the statistics of a scanned signature: thin anti-aliased strokes,
//! loops, pen lifts and mostly white paper. The shape loosely follows the letters of `name` (tall
//! loops for ascenders, descending loops for g, j, p, q, y), then trails off and often ends with
//! an underline flourish, as real signatures do. Nothing is copied from a real signature.

use image::{GrayImage, Luma};

use super::paint::{clamp01, length, segment};
use super::rng::{Rng, derive, noise};

/// A signature for `name`, `width` x `height` pixels (landscape, e.g. 600 x 200), deterministic
/// in (`name`, `seed`).
pub fn signature(name: &str, seed: u64, width: u32, height: u32) -> GrayImage {
    let mut rng = Rng::new(derive(seed, 0x5167));
    let strokes = compose(name, &mut rng);
    render(&strokes, &mut rng, seed, width, height)
}

/// Points of one pen-down movement, in "x-height" units (baseline y = 0, up is negative).
type Path = Vec<(f32, f32)>;

#[derive(Clone, Copy)]
enum Shape {
    Small,
    Tall,
    Deep,
}

fn shape_of(c: char) -> Shape {
    match c.to_ascii_lowercase() {
        'b' | 'd' | 'f' | 'h' | 'k' | 'l' | 't' => Shape::Tall,
        'g' | 'j' | 'p' | 'q' | 'y' | 'z' => Shape::Deep,
        _ => Shape::Small,
    }
}

/// Via points of the whole signature: one path per word (pen lifted in between), i dots, and
/// the final flourish.
fn compose(name: &str, rng: &mut Rng) -> Vec<Path> {
    let words: Vec<Vec<char>> = name
        .split(|c: char| c.is_whitespace() || c == '-' || c == '\'' || c == '.')
        .map(|w| w.chars().filter(|c| c.is_alphabetic()).collect::<Vec<_>>())
        .filter(|w| !w.is_empty())
        .collect();
    let words: Vec<Vec<char>> = if words.is_empty() {
        vec![vec!['x']]
    } else {
        // Long names: the first word shrinks to its initial, as people sign "J. Dupont".
        let n = words.len();
        words
            .into_iter()
            .enumerate()
            .filter(|(i, _)| n <= 2 || *i == 0 || *i >= n - 2)
            .map(|(i, w)| {
                if n > 1 && i == 0 && w.len() > 3 && n > 2 {
                    w[..1].to_vec()
                } else {
                    w
                }
            })
            .collect()
    };
    let slant = rng.range(0.15, 0.45);
    let tilt = rng.range(-0.06, 0.015);
    let size = rng.range(0.9, 1.15);
    let mut x = 0.0f32;
    let mut paths = Vec::new();
    let mut dots = Vec::new();
    let x_start = x;
    for (wi, word) in words.iter().enumerate() {
        let mut p: Path = Vec::new();
        x = capital(&mut p, x, rng);
        // Letters after the first few degrade into a trailing wave: signatures are rarely legible
        // to the end.
        let legible = rng.between(3, 6) as usize;
        let mut amp = 1.0f32;
        for (li, &ch) in word.iter().skip(1).take(10).enumerate() {
            if li >= legible {
                amp *= 0.78;
            }
            let shape = if li >= legible {
                Shape::Small
            } else {
                shape_of(ch)
            };
            let jx = |r: &mut Rng| r.range(-0.06, 0.06);
            let jy = |r: &mut Rng| r.range(-0.1, 0.1);
            match shape {
                Shape::Small => {
                    let w = rng.range(0.55, 0.75) * amp.max(0.6);
                    p.push((x + w * 0.45 + jx(rng), -amp + jy(rng)));
                    p.push((x + w + jx(rng), 0.0 + jy(rng) * 0.5));
                    x += w;
                }
                Shape::Tall => {
                    let h = rng.range(2.0, 2.6);
                    p.push((x + 0.45 + jx(rng), -h * 0.6));
                    p.push((x + 0.42 + jx(rng), -h + jy(rng)));
                    p.push((x + 0.22 + jx(rng), -h * 0.85));
                    p.push((x + 0.38, -0.25 + jy(rng) * 0.5));
                    p.push((x + 0.7 + jx(rng), 0.0));
                    x += 0.7;
                }
                Shape::Deep => {
                    let d = rng.range(1.2, 1.6);
                    p.push((x + 0.3 + jx(rng), -0.95 + jy(rng)));
                    p.push((x + 0.45, 0.1));
                    p.push((x + 0.4 + jx(rng), d + jy(rng)));
                    p.push((x + 0.15 + jx(rng), d * 0.9));
                    p.push((x + 0.45, 0.25));
                    p.push((x + 0.75 + jx(rng), -0.1));
                    x += 0.75;
                }
            }
            if matches!(ch, 'i' | 'j') && li < legible {
                let (dx, dy) = (x - 0.2 + rng.range(0.0, 0.3), -1.9 + rng.range(-0.2, 0.2));
                dots.push(vec![(dx, dy), (dx + 0.08, dy - 0.03)]);
            }
        }
        // A short exit stroke.
        p.push((x + rng.range(0.2, 0.4), rng.range(-0.5, -0.2)));
        x += 0.4;
        paths.push(p);
        if wi + 1 < words.len() {
            x += rng.range(0.5, 0.9);
        }
    }
    // Flourish: an underline sweeping back under the name, or a short tail, or nothing.
    let choice = rng.weighted(&[6.0, 2.5, 1.5]);
    if choice < 2
        && let Some(last) = paths.last_mut()
    {
        let (ex, ey) = last.last().copied().unwrap_or((x, 0.0));
        if choice == 0 {
            let depth = rng.range(0.9, 1.5);
            last.push((ex + rng.range(0.3, 0.7), ey + depth * 0.7));
            last.push(((ex + x_start) / 2.0, depth + rng.range(-0.1, 0.2)));
            last.push((x_start + rng.range(-0.6, 0.6), depth + rng.range(0.0, 0.4)));
            if rng.chance(0.4) {
                last.push((x_start + rng.range(-0.9, -0.4), depth - rng.range(0.2, 0.6)));
            }
        } else {
            last.push((ex + rng.range(0.6, 1.2), ey + rng.range(0.3, 0.8)));
            last.push((ex + rng.range(1.4, 2.2), ey + rng.range(-0.2, 0.4)));
        }
    }
    paths.extend(dots);
    // Slant and baseline drift, applied to every point.
    for p in &mut paths {
        for pt in p.iter_mut() {
            let (px, py) = *pt;
            *pt = ((px - py * slant) * size, (py + px * tilt) * size);
        }
    }
    paths
}

/// A capital letter as a large loop, one of a few hand-drawn templates, starting the word path.
/// Returns the x where the lower-case letters continue.
fn capital(p: &mut Path, x: f32, rng: &mut Rng) -> f32 {
    let j = |r: &mut Rng| r.range(-0.12, 0.12);
    let h = rng.range(2.4, 3.1);
    match rng.below(4) {
        0 => {
            // Stem with a loop at the top and at the foot (L, J, D-like).
            p.push((x + 0.2, 0.2));
            p.push((x + 0.55 + j(rng), -h * 0.55));
            p.push((x + 0.9 + j(rng), -h));
            p.push((x + 0.45 + j(rng), -h * 0.95));
            p.push((x + 0.45, -h * 0.4));
            p.push((x + 0.2 + j(rng), 0.05));
            p.push((x + 0.7, -0.35));
            p.push((x + 1.1, -0.1));
            x + 1.1
        }
        1 => {
            // Large oval (O, C, G, Q-like), closed with a small loop.
            p.push((x + 1.3 + j(rng), -h * 0.8));
            p.push((x + 0.7 + j(rng), -h));
            p.push((x + 0.05 + j(rng), -h * 0.55));
            p.push((x + 0.3 + j(rng), 0.05));
            p.push((x + 1.2 + j(rng), -0.5));
            p.push((x + 1.4 + j(rng), -h * 0.7));
            p.push((x + 1.2, -h * 0.4));
            p.push((x + 1.6, -0.05));
            x + 1.6
        }
        2 => {
            // Two peaks (M, N, W-like).
            p.push((x, 0.1));
            p.push((x + 0.35 + j(rng), -h));
            p.push((x + 0.6 + j(rng), -0.2));
            p.push((x + 0.95 + j(rng), -h * 0.9));
            p.push((x + 1.2 + j(rng), -0.1));
            p.push((x + 1.5, -0.3));
            x + 1.5
        }
        _ => {
            // Cross bar then stem (T, F, P, R-like), written in one movement.
            p.push((x - 0.2, -h * 0.8));
            p.push((x + 0.6 + j(rng), -h * 1.02));
            p.push((x + 1.5 + j(rng), -h * 0.95));
            p.push((x + 0.9 + j(rng), -h * 0.9));
            p.push((x + 0.75, -h * 0.4));
            p.push((x + 0.5 + j(rng), 0.1));
            p.push((x + 0.4, -0.3));
            p.push((x + 0.9, -0.2));
            x + 0.9
        }
    }
}

/// Uniform Catmull-Rom spline through `via`, `per` samples per span. Its slight overshoot at
/// sharp turns is what makes the loops look written rather than plotted.
fn spline(via: &[(f32, f32)], per: usize) -> Vec<(f32, f32)> {
    if via.len() < 2 {
        return via.to_vec();
    }
    let at = |i: isize| via[i.clamp(0, via.len() as isize - 1) as usize];
    let mut out = Vec::with_capacity(via.len() * per + 1);
    for i in 0..via.len() as isize - 1 {
        let (p0, p1, p2, p3) = (at(i - 1), at(i), at(i + 1), at(i + 2));
        for s in 0..per {
            let t = s as f32 / per as f32;
            let (t2, t3) = (t * t, t * t * t);
            let f = |a: f32, b: f32, c: f32, d: f32| {
                0.5 * (2.0 * b
                    + (-a + c) * t
                    + (2.0 * a - 5.0 * b + 4.0 * c - d) * t2
                    + (-a + 3.0 * b - 3.0 * c + d) * t3)
            };
            out.push((f(p0.0, p1.0, p2.0, p3.0), f(p0.1, p1.1, p2.1, p3.1)));
        }
    }
    out.push(via[via.len() - 1]);
    out
}

fn render(paths: &[Path], rng: &mut Rng, seed: u64, width: u32, height: u32) -> GrayImage {
    let curves: Vec<Vec<(f32, f32)>> = paths.iter().map(|p| spline(p, 14)).collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in curves.iter().flatten() {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (w, h) = (width as f32, height as f32);
    let (bw, bh) = ((x1 - x0).max(1e-3), (y1 - y0).max(1e-3));
    let scale = (w * 0.88 / bw).min(h * 0.78 / bh);
    let ox = (w - bw * scale) / 2.0 - x0 * scale;
    let oy = (h - bh * scale) / 2.0 - y0 * scale;
    let pen = h * 0.008 * rng.range(0.85, 1.3);
    let ink_level = rng.range(12.0, 45.0);
    let mut ink = vec![0.0f32; width as usize * height as usize];
    let pressure_seed = derive(seed, 0x1e55);
    for (ci, curve) in curves.iter().enumerate() {
        let pts: Vec<(f32, f32)> = curve
            .iter()
            .map(|&(x, y)| (ox + x * scale, oy + y * scale))
            .collect();
        if pts.len() < 2 {
            continue;
        }
        // Speed per sample (samples are uniform in time within a span), smoothed; the pen is
        // thinner where the hand moves fast, thicker in slow turns.
        let steps: Vec<f32> = pts
            .windows(2)
            .map(|s| length(s[1].0 - s[0].0, s[1].1 - s[0].1))
            .collect();
        let mean = steps.iter().sum::<f32>() / steps.len() as f32;
        let n = pts.len();
        let radii: Vec<f32> = (0..n)
            .map(|i| {
                let lo = i.saturating_sub(3);
                let hi = (i + 3).min(steps.len());
                let window = &steps[lo.min(hi)..hi];
                let speed = if window.is_empty() {
                    mean
                } else {
                    window.iter().sum::<f32>() / window.len() as f32
                };
                let k = (1.3 - 0.45 * speed / mean.max(1e-3)).clamp(0.6, 1.4);
                let taper =
                    clamp01(i as f32 / 6.0).min(clamp01((n - 1 - i) as f32 / 8.0)) * 0.7 + 0.3;
                let pressure =
                    1.0 + 0.18 * noise(pressure_seed, ci as f32 * 17.0 + i as f32 * 0.05, 0.5);
                pen * k * taper * pressure
            })
            .collect();
        for i in 1..n {
            let (a, b) = (pts[i - 1], pts[i]);
            let (ra, rb) = (radii[i - 1], radii[i]);
            let r = ra.max(rb) + 1.5;
            let bx0 = (a.0.min(b.0) - r).floor().max(0.0) as u32;
            let by0 = (a.1.min(b.1) - r).floor().max(0.0) as u32;
            let bx1 = ((a.0.max(b.0) + r).ceil().max(0.0) as u32).min(width);
            let by1 = ((a.1.max(b.1) + r).ceil().max(0.0) as u32).min(height);
            for y in by0..by1 {
                for x in bx0..bx1 {
                    let (d, t) = segment(x as f32 + 0.5, y as f32 + 0.5, a.0, a.1, b.0, b.1);
                    let radius = ra + (rb - ra) * t;
                    let cov = clamp01(radius + 0.5 - d);
                    let idx = y as usize * width as usize + x as usize;
                    if cov > ink[idx] {
                        ink[idx] = cov;
                    }
                }
            }
        }
    }
    // Sixteen grey levels, as a 4-bit scan: the edges stay anti-aliased and the PNG is a third
    // smaller, which keeps the committed fixtures compact.
    GrayImage::from_fn(width, height, |x, y| {
        let k = ink[y as usize * width as usize + x as usize];
        let grey = (255.0 - k * (255.0 - ink_level)).clamp(0.0, 255.0);
        Luma([((grey / 17.0).round() * 17.0) as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(img: &GrayImage) -> (f64, f64) {
        let total = f64::from(img.width() * img.height());
        let dark = img.pixels().filter(|p| p.0[0] < 128).count() as f64 / total;
        let white = img.pixels().filter(|p| p.0[0] == 255).count() as f64 / total;
        (dark, white)
    }

    #[test]
    fn has_ink_but_is_mostly_white() {
        for (i, name) in [
            "Dupont-Martin",
            "Łukasz Żółkiewski",
            "d'Alembert",
            "O",
            "",
            "J Le Goff",
        ]
        .iter()
        .enumerate()
        {
            let s = signature(name, i as u64, 600, 200);
            assert_eq!(s.dimensions(), (600, 200));
            let (dark, white) = shares(&s);
            assert!(dark > 0.01, "{name}: ink share {dark}");
            assert!(white > 0.80, "{name}: white share {white}");
        }
    }

    #[test]
    fn same_inputs_same_pixels() {
        let a = signature("Lefèvre", 11, 600, 200);
        assert_eq!(a.as_raw(), signature("Lefèvre", 11, 600, 200).as_raw());
        assert_ne!(a.as_raw(), signature("Lefèvre", 12, 600, 200).as_raw());
        assert_ne!(a.as_raw(), signature("Dubois", 11, 600, 200).as_raw());
    }

    #[test]
    fn ink_stays_inside_a_margin() {
        let s = signature("Marie-Christine Anne-Sophie Geneviève Roy", 5, 600, 200);
        for x in 0..600 {
            assert_eq!(s.get_pixel(x, 0).0[0], 255);
            assert_eq!(s.get_pixel(x, 199).0[0], 255);
        }
    }
}
