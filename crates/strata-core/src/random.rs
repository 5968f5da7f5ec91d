//! Seeded random number generation, reproducible across runs, platforms and versions.
//!
//! The generator is xoshiro256++ (seeded through SplitMix64) written out here rather than
//! taken from a crate so that its state can be saved in a checkpoint and restored exactly,
//! and so that a given seed yields the same numbers forever.

use parking_lot::Mutex;

/// A seeded pseudo-random generator (xoshiro256++).
///
/// ```
/// use strata_core::Generator;
/// let mut a = Generator::new(42);
/// let mut b = Generator::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let u = a.uniform();
/// assert!((0.0..1.0).contains(&u));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Generator {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

/// The complete state of a [`Generator`], for checkpoints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeneratorState {
    pub words: [u64; 4],
    pub spare_normal: Option<f64>,
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Generator {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Generator {
            s,
            spare_normal: None,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, 1)` as f32 with 24 random bits (never rounds up to 1.0).
    pub fn uniform_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Standard normal (Box-Muller; the second value of each pair is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u is in (0, 1], so the log is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// Uniform integer in `0..n` without modulo bias (`n` must be > 0; returns 0 for 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-and-reject method.
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }

    /// A new, independent generator seeded from this one (for worker threads).
    pub fn fork(&mut self) -> Generator {
        Generator::new(self.next_u64())
    }

    /// The full state, to save in a checkpoint.
    pub fn state(&self) -> GeneratorState {
        GeneratorState {
            words: self.s,
            spare_normal: self.spare_normal,
        }
    }

    /// Restores a state from [`Generator::state`].
    pub fn from_state(state: GeneratorState) -> Self {
        Generator {
            s: state.words,
            spare_normal: state.spare_normal,
        }
    }
}

/// PyTorch's default CPU seed: results are reproducible even without `manual_seed`.
const DEFAULT_SEED: u64 = 67_280_421_310_721;

static GLOBAL: Mutex<Option<Generator>> = Mutex::new(None);

/// Re-seeds the global generator used by `Tensor::rand`, `randn`, initialisers and dropout.
///
/// ```
/// use strata_core::{manual_seed, Tensor};
/// manual_seed(7);
/// let a = Tensor::randn(&[4]).to_vec::<f32>()?;
/// manual_seed(7);
/// let b = Tensor::randn(&[4]).to_vec::<f32>()?;
/// assert_eq!(a, b);
/// # Ok::<(), strata_core::Error>(())
/// ```
pub fn manual_seed(seed: u64) {
    *GLOBAL.lock() = Some(Generator::new(seed));
}

/// Runs `f` with the global generator.
pub fn with_global_generator<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut guard = GLOBAL.lock();
    let rng = guard.get_or_insert_with(|| Generator::new(DEFAULT_SEED));
    f(rng)
}

/// The global generator's state (for checkpoints).
pub fn global_generator_state() -> GeneratorState {
    with_global_generator(|g| g.state())
}

/// Restores the global generator's state.
pub fn set_global_generator_state(state: GeneratorState) {
    *GLOBAL.lock() = Some(Generator::from_state(state));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_state_round_trips() {
        let mut a = Generator::new(1);
        let _ = a.normal();
        let saved = a.state();
        let next: Vec<f64> = (0..5).map(|_| a.normal()).collect();
        let mut b = Generator::from_state(saved);
        let again: Vec<f64> = (0..5).map(|_| b.normal()).collect();
        assert_eq!(next, again);
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut g = Generator::new(3);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| g.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut g = Generator::new(5);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[g.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut g = Generator::new(9);
        let mut p = g.permutation(100);
        p.sort();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }
}
