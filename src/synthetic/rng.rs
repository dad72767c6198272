//! A tiny seeded pseudo-random generator (SplitMix64) and the value noise built on it.
//!
//! The fixtures are committed and compared byte for byte, so every value must follow from the
//! seed alone: no `rand` (whose algorithms may change between versions), no OS entropy.
//! SplitMix64 (Steele, Lea & Flood, 2014) is fully defined by a few lines of integer arithmetic,
//! so its output cannot drift with a dependency upgrade or a platform.

/// The increment of SplitMix64: the odd integer closest to 2^64 / golden ratio.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a strong 64-bit mixer, also used to hash noise lattice points.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for an independent stream, so that adding a draw to one part of a picture (the hair)
/// does not shift every later part (the eyes) and change unrelated fixtures.
pub fn derive(seed: u64, salt: u64) -> u64 {
    mix(seed ^ mix(salt.wrapping_add(GOLDEN)))
}

/// SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in [0, 1), with 24 random bits (all an `f32` mantissa holds).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u32 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n (0 when n is 0). Multiply-shift instead of `%` keeps the bias negligible
    /// for the small tables we draw from.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform integer in lo..=hi (lo when hi < lo).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as i64
    }

    pub fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty table.
    ///
    /// # Panics
    /// On an empty slice; callers pass constant, non-empty tables.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index drawn with the given relative weights (the last index if all are zero).
    pub fn weighted(&mut self, weights: &[f32]) -> usize {
        let total: f32 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// Approximately normal (mean 0, deviation 1): the sum of four uniforms, enough for jitter.
    pub fn gauss(&mut self) -> f32 {
        let s = self.unit() + self.unit() + self.unit() + self.unit();
        (s - 2.0) * 1.732_050_8
    }
}

/// Smooth value noise in [-1, 1] on an integer lattice, hashed from `seed`.
///
/// Only integer hashing, `floor`, `+` and `*` are used: IEEE 754 makes them identical on every
/// platform, unlike `sin` or `exp` from the system maths library, so the pixels do not change
/// from one machine to another.
pub fn noise(seed: u64, x: f32, y: f32) -> f32 {
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let ix = x0 as i64;
    let iy = y0 as i64;
    let corner = |dx: i64, dy: i64| -> f32 {
        let h = mix(seed
            ^ ((ix + dx) as u64).wrapping_mul(0x8CB9_2BA7_2F3D_8DD7)
            ^ ((iy + dy) as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        (h >> 40) as f32 / (1u32 << 23) as f32 - 1.0
    };
    let sx = fx * fx * (3.0 - 2.0 * fx);
    let sy = fy * fy * (3.0 - 2.0 * fy);
    let top = corner(0, 0) + (corner(1, 0) - corner(0, 0)) * sx;
    let bottom = corner(0, 1) + (corner(1, 1) - corner(0, 1)) * sx;
    top + (bottom - top) * sy
}

/// Fractal noise: `octaves` layers of [`noise`], each twice as fine and half as strong.
pub fn fbm(seed: u64, x: f32, y: f32, octaves: u32) -> f32 {
    let mut sum = 0.0;
    let mut amp = 0.5;
    let mut f = 1.0;
    for o in 0..octaves {
        sum += amp * noise(derive(seed, u64::from(o)), x * f, y * f);
        f *= 2.0;
        amp *= 0.5;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (reference implementation by S. Vigna).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn ranges_hold() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(5) < 5);
            let b = r.between(-3, 3);
            assert!((-3..=3).contains(&b));
            let n = noise(9, r.range(-50.0, 50.0), r.range(-50.0, 50.0));
            assert!((-1.0..=1.0).contains(&n));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.between(4, 4), 4);
    }

    #[test]
    fn noise_is_continuous() {
        let a = noise(3, 10.499, 4.2);
        let b = noise(3, 10.501, 4.2);
        assert!((a - b).abs() < 0.01);
    }
}
