//! Sixteen-lane AVX-512 `exp`, `sigmoid` and `tanh` for kernels that work on whole vectors
//! (the recurrent gate kernels): the same Cephes approximations as [`super::math`], with
//! the scale `2^n` applied by `vscalefps` (exact over the whole range, denormals included)
//! and reciprocals by `vrcp14ps` plus one Newton step instead of a division (the divider
//! takes about as long as all the other arithmetic of a sigmoid together).
//!
//! Every function needs AVX-512F at run time; callers check
//! `is_x86_feature_detected!("avx512f")` once and call them from a
//! `#[target_feature(enable = "avx512f")]` function so they inline.
//!
//! ```
//! # #[cfg(target_arch = "x86_64")]
//! # if std::arch::is_x86_feature_detected!("avx512f") {
//! use std::arch::x86_64::*;
//! use strata_core::kernels::math16;
//! let x = [0.5f32; 16];
//! let mut y = [0.0f32; 16];
//! // SAFETY: AVX-512F was detected above; both arrays hold 16 floats.
//! unsafe { _mm512_storeu_ps(y.as_mut_ptr(), math16::sigmoid(_mm512_loadu_ps(x.as_ptr()))) };
//! assert!((y[0] - 0.622_459_3).abs() < 1e-6);
//! # }
//! ```

// The Cephes coefficients are quoted to the digits they were published with.
#![allow(clippy::excessive_precision)]

use std::arch::x86_64::*;

/// Below this `e^x` is zero in f32 even as a denormal (e^-104 ≈ 6.8e-46).
const EXP_LO: f32 = -104.0;
/// Above this `e^x` overflows to +inf (e^88.73 > f32::MAX); clamping keeps `x - n·ln2`
/// finite for infinite inputs.
const EXP_HI: f32 = 89.0;

/// `e^x` per lane: 0 far below, +inf far above, NaN for NaN.
///
/// # Safety
/// The CPU must support AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub unsafe fn exp(x: __m512) -> __m512 {
    // `min`/`max` return their second operand when either is NaN, so NaN passes through.
    let xc = _mm512_max_ps(
        _mm512_set1_ps(EXP_LO),
        _mm512_min_ps(_mm512_set1_ps(EXP_HI), x),
    );
    // n = round(x·log2 e); r = x - n·ln2 with ln2 split in two for accuracy.
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(xc, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), xc);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm512_set1_ps(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5.000_000_1e-1,
    ] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let y = _mm512_fmadd_ps(
        p,
        _mm512_mul_ps(r, r),
        _mm512_add_ps(r, _mm512_set1_ps(1.0)),
    );
    _mm512_scalef_ps(y, n)
}

/// `1 / d` per lane to about one ulp, for finite positive `d` (+inf gives NaN).
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn reciprocal(d: __m512) -> __m512 {
    let r = _mm512_rcp14_ps(d);
    // One Newton step, r·(2 - d·r), takes the 14-bit estimate to full precision.
    _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0)))
}

/// The logistic function `1 / (1 + e^{-x})` per lane.
///
/// # Safety
/// The CPU must support AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub unsafe fn sigmoid(x: __m512) -> __m512 {
    // Below -88, e^{-x} is near or past f32::MAX and the reciprocal breaks down; the true
    // value there is below 6e-39, so those lanes are set to 0.
    let far_below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(-88.0));
    let e = exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
    let s = reciprocal(_mm512_add_ps(e, _mm512_set1_ps(1.0)));
    _mm512_mask_mov_ps(s, far_below, _mm512_setzero_ps())
}

/// `tanh(x)` per lane: an odd polynomial below 0.625 in magnitude, `1 - 2 / (e^{2|x|} + 1)`
/// with the sign of `x` above.
///
/// # Safety
/// The CPU must support AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub unsafe fn tanh(x: __m512) -> __m512 {
    let sign = _mm512_set1_epi32(i32::MIN);
    let bits = _mm512_castps_si512(x);
    let a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, bits));
    let z = _mm512_mul_ps(x, x);
    let mut p = _mm512_set1_ps(-5.704_988_7e-3);
    for c in [
        2.063_908_9e-2,
        -5.373_971_6e-2,
        1.333_144_2e-1,
        -3.333_328_2e-1,
    ] {
        p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(c));
    }
    let small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    // Past |x| = 20 tanh is 1 in f32; the clamp keeps e^{2|x|} finite.
    let e = exp(_mm512_mul_ps(
        _mm512_set1_ps(2.0),
        _mm512_min_ps(a, _mm512_set1_ps(20.0)),
    ));
    let large = _mm512_fnmadd_ps(
        _mm512_set1_ps(2.0),
        reciprocal(_mm512_add_ps(e, _mm512_set1_ps(1.0))),
        _mm512_set1_ps(1.0),
    );
    // Give `large` the sign of x.
    let large = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(large),
        _mm512_and_si512(bits, sign),
    ));
    // NaN compares false, so a NaN lane takes `small`, which is NaN.
    let is_large = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, _mm512_set1_ps(0.625));
    _mm512_mask_mov_ps(small, is_large, large)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `f` to 16 lanes of `x`.
    fn lanes(f: unsafe fn(__m512) -> __m512, x: &[f32; 16]) -> [f32; 16] {
        let mut y = [0.0f32; 16];
        // SAFETY: the callers run only where AVX-512F was detected; both arrays hold 16.
        unsafe { _mm512_storeu_ps(y.as_mut_ptr(), f(_mm512_loadu_ps(x.as_ptr()))) };
        y
    }

    /// Checks `f` against the f64 `reference` on a fine grid over `[lo, hi)`, to within
    /// `ulps` relative error (plus `floor` absolute).
    fn check(f: unsafe fn(__m512) -> __m512, reference: fn(f64) -> f64, lo: f32, hi: f32) {
        let mut x = [0.0f32; 16];
        let mut v = lo;
        while v < hi {
            for (i, slot) in x.iter_mut().enumerate() {
                *slot = v + i as f32 * 0.000_37;
            }
            let y = lanes(f, &x);
            for (xi, yi) in x.iter().zip(y) {
                let want = reference(*xi as f64);
                let err = (yi as f64 - want).abs();
                assert!(
                    err <= 3.0 * f32::EPSILON as f64 * want.abs() + 1e-44,
                    "f({xi}) = {yi}, want {want}"
                );
            }
            v += 0.0173;
        }
    }

    #[test]
    fn exp_sigmoid_tanh_are_accurate_and_handle_the_edges() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        check(exp, f64::exp, -103.0, 88.7);
        check(sigmoid, |x| 1.0 / (1.0 + (-x).exp()), -87.0, 30.0);
        check(tanh, f64::tanh, -25.0, 25.0);
        let edges = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -200.0,
            200.0,
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            0.625,
            -0.625,
            89.0,
            -89.0,
            1e-45,
            88.0,
            -88.5,
        ];
        let (e, s, t) = (
            lanes(exp, &edges),
            lanes(sigmoid, &edges),
            lanes(tanh, &edges),
        );
        assert!(e[0].is_nan() && s[0].is_nan() && t[0].is_nan());
        assert_eq!((e[1], s[1], t[1]), (f32::INFINITY, 1.0, 1.0));
        assert_eq!((e[2], s[2], t[2]), (0.0, 0.0, -1.0));
        assert_eq!((e[3], s[3], t[3]), (0.0, 0.0, -1.0));
        assert_eq!((e[4], s[4], t[4]), (f32::INFINITY, 1.0, 1.0));
        assert_eq!((e[5], s[5], t[5]), (1.0, 0.5, 0.0));
        assert_eq!(t[7], 1e-30);
        assert_eq!(t[8], -1e-30);
        assert_eq!(e[11], f32::INFINITY);
        assert_eq!(s[15], 0.0);
        assert!(
            e[12] > 0.0 && e[12] < 2e-38,
            "exp(-89) = {} (a denormal)",
            e[12]
        );
    }
}
