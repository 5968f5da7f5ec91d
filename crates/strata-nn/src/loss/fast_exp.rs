//! The arithmetic of the softmax sweeps in cross-entropy, written so the compiler can
//! vectorise it: an f32 exp without a libm call, and row reductions over independent lanes
//! (a single running sum is a dependency chain the compiler must not reorder).
//!
//! Only the shifted arguments of a softmax reach `exp` here (`x - max <= 0`), so the f32
//! version needs no overflow handling: it returns 0 below `ln(f32::MIN_POSITIVE)` (where
//! the true value is a subnormal) and is otherwise within about 2 ulp of `f32::exp`. f64
//! keeps the libm exp, for full double precision.

use strata_core::FloatElement;

/// Lanes of the row reductions: enough independent accumulators for 512-bit vectors.
const LANES: usize = 16;

/// A float type with the exp the softmax sweeps use.
pub(crate) trait SoftmaxFloat: FloatElement {
    /// `e^x` for `x <= 0` (also correct, but not tuned, elsewhere for f64).
    fn softmax_exp(self) -> Self;
}

impl SoftmaxFloat for f64 {
    #[inline(always)]
    fn softmax_exp(self) -> f64 {
        self.exp()
    }
}

impl SoftmaxFloat for f32 {
    /// `e^x = 2^n e^r` with `n = round(x / ln 2)` and `|r| <= ln(2) / 2`; `e^r` by its Taylor
    /// polynomial of degree 7 (relative error below 1e-8 on that interval).
    #[inline(always)]
    fn softmax_exp(self) -> f32 {
        const LOG2_E: f32 = std::f32::consts::LOG2_E;
        // ln 2 = LN2_HI + LN2_LO, with LN2_HI short enough that n * LN2_HI is exact
        // (Cephes' split).
        const LN2_HI: f32 = 355.0 / 512.0;
        const LN2_LO: f32 = -2.121_944_4e-4;
        // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
        const ROUND: f32 = 12_582_912.0;
        const MIN_ARG: f32 = -87.336_55; // ln(f32::MIN_POSITIVE)
        let x = self;
        // NaN fails every comparison and stays NaN through the arithmetic below.
        let clamped = if x < MIN_ARG { MIN_ARG } else { x };
        let k = clamped * LOG2_E + ROUND;
        let n = k - ROUND;
        let r = (clamped - n * LN2_HI) - n * LN2_LO;
        let mut p = 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        // 2^n from exponent bits. The low bits of k hold n (its unit is 1), so n is read
        // from them with integer arithmetic, which vectorises (a float-to-int cast does not).
        // For NaN the scale is garbage but p is NaN, so the result is NaN.
        let n_bits = k.to_bits().wrapping_sub(ROUND.to_bits());
        let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
        if x < MIN_ARG {
            0.0
        } else {
            p * scale
        }
    }
}

/// `Σ f(v)` over `x`, accumulated in independent lanes.
#[inline(always)]
pub(crate) fn lane_sum<T: FloatElement>(x: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    let mut total = T::zero();
    for &v in rest {
        total += f(v);
    }
    acc.iter().fold(total, |s, &a| s + a)
}

/// `Σ f(v, u)` over pairs of `x` and `y` (equal lengths), accumulated in independent lanes.
#[inline(always)]
pub(crate) fn lane_sum2<T: FloatElement>(x: &[T], y: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let (cx, cy) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (rx, ry) = (cx.remainder(), cy.remainder());
    for (a_chunk, b_chunk) in cx.zip(cy) {
        for ((a, &v), &u) in acc.iter_mut().zip(a_chunk).zip(b_chunk) {
            *a += f(v, u);
        }
    }
    let mut total = T::zero();
    for (&v, &u) in rx.iter().zip(ry) {
        total += f(v, u);
    }
    acc.iter().fold(total, |s, &a| s + a)
}

/// The largest element of `x` (NaNs are skipped here; they reach the loss through `exp`).
#[inline(always)]
pub(crate) fn lane_max<T: FloatElement>(x: &[T]) -> T {
    let mut acc = [T::neg_infinity(); LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = if v > *a { v } else { *a };
        }
    }
    let mut m = T::neg_infinity();
    for &v in rest.iter().chain(acc.iter()) {
        m = if v > m { v } else { m };
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_exp_is_accurate_over_the_softmax_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let got = x.softmax_exp() as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.000_731;
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        assert_eq!(0.0f32.softmax_exp(), 1.0);
        assert_eq!(f32::NEG_INFINITY.softmax_exp(), 0.0);
        assert_eq!((-1e4f32).softmax_exp(), 0.0);
        assert!(f32::NAN.softmax_exp().is_nan());
        // Slightly positive arguments (rounding in `x - max - ln_sum`) stay accurate.
        let e = 1e-3f32.softmax_exp() as f64;
        assert!((e - 1e-3f64.exp()).abs() < 3e-7);
    }

    #[test]
    fn lane_reductions_match_plain_loops() {
        let x: Vec<f64> = (0..37).map(|i| ((i * 7919) % 23) as f64 - 11.0).collect();
        let y: Vec<f64> = (0..37).map(|i| (i % 5) as f64).collect();
        assert_eq!(
            lane_sum(&x, |v| v * 2.0),
            x.iter().map(|v| v * 2.0).sum::<f64>()
        );
        let dot: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert_eq!(lane_sum2(&x, &y, |a, b| a * b), dot);
        assert_eq!(lane_max(&x), 11.0);
        assert_eq!(lane_max::<f64>(&[]), f64::NEG_INFINITY);
        assert_eq!(
            lane_max(&x[..3]),
            x[..3].iter().cloned().fold(f64::MIN, f64::max)
        );
    }
}
