//! Vectorisable f32 `exp`, `tanh` and `sigmoid`.
//!
//! The C library's `expf` is a scalar call, so a loop over it cannot use SIMD. These are the
//! Cephes single-precision approximations (relative error about 2 ulp over the whole range)
//! written as straight-line arithmetic with selects instead of branches, so a loop of them
//! compiles to vector instructions. f64 keeps the C library's functions (it serves
//! reference-precision work, where speed matters less).

// The Cephes coefficients are quoted to the digits they were published with.
#![allow(clippy::excessive_precision)]

const LOG2E: f32 = std::f32::consts::LOG2_E;
const EXP_HI: f32 = 88.376_26;
const EXP_LO: f32 = -87.336_55;
/// 1.5·2^23: adding it rounds an f32 of magnitude below 2^22 to an integer.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x` for f32: exact 0 below the smallest normal result, +inf above the largest, NaN
/// for NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let xc = x.clamp(EXP_LO, EXP_HI);
    // Adding 1.5·2^23 rounds x·log2(e) to the nearest integer n and leaves n in the low
    // mantissa bits of `t`, so the scale 2^n is built with integer ops. (A float-to-int `as`
    // cast saturates, and its extra checks stop the loop from vectorising: 3x slower.)
    let t = xc * LOG2E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC;
    // r = x - n ln2, with ln2 split in two for accuracy.
    let r = xc - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * r2 + r + 1.0;
    let scale = f32::from_bits(
        t.to_bits()
            .wrapping_sub(ROUND_MAGIC.to_bits())
            .wrapping_add(127)
            << 23,
    );
    let v = y * scale;
    let v = if x < EXP_LO { 0.0 } else { v };
    let v = if x > EXP_HI { f32::INFINITY } else { v };
    if x.is_nan() {
        x
    } else {
        v
    }
}

/// `tanh(x)` for f32: an odd polynomial near 0, `1 - 2 / (e^{2|x|} + 1)` elsewhere.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small =
        ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328_2e-1)
            * z
            * x
            + x;
    let e = exp_f32(2.0 * a.min(20.0));
    let large = 1.0 - 2.0 / (e + 1.0);
    let large = if x < 0.0 { -large } else { large };
    // NaN fails this test and takes the polynomial, which keeps it NaN.
    if a >= 0.625 {
        large
    } else {
        small
    }
}

/// The logistic function `1 / (1 + e^{-x})` for f32.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f32) -> f64 {
        ((a - b).abs() / b.abs().max(f32::MIN_POSITIVE)) as f64 / f32::EPSILON as f64
    }

    #[test]
    fn exp_is_accurate_over_the_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp() as f32;
            worst = worst.max(ulps(exp_f32(x), want));
            x += 0.0137;
        }
        assert!(worst < 4.0, "worst error {worst} ulp");
        assert_eq!(exp_f32(-100.0), 0.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn tanh_and_sigmoid_are_accurate() {
        let mut x = -12.0f32;
        while x < 12.0 {
            let t = (x as f64).tanh();
            assert!(
                ((tanh_f32(x) as f64) - t).abs()
                    <= 4.0 * f32::EPSILON as f64 * t.abs().max(1e-30) + 1e-30,
                "tanh({x})"
            );
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(
                ((sigmoid_f32(x) as f64) - s).abs() <= 4.0 * f32::EPSILON as f64 * s,
                "sigmoid({x})"
            );
            x += 0.00731;
        }
        assert_eq!(tanh_f32(50.0), 1.0);
        assert_eq!(tanh_f32(-50.0), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan(), "NaN in, NaN out");
        assert!(sigmoid_f32(f32::NAN).is_nan());
        assert_eq!(sigmoid_f32(-200.0), 0.0);
        assert_eq!(sigmoid_f32(200.0), 1.0);
    }
}
