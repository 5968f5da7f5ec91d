//! The plain 2×2 max pool (stride 2, no padding) of one f32 output row, up to sixteen outputs
//! at a time with AVX-512: a convolutional network pools tens of thousands of windows per
//! example, and one at a time they cost more than the convolution's own passes over the
//! same data (11 % of W2's step, measured).
//!
//! The rule is the scalar one of `ops/max_pool.rs`, lane by lane: the maximum is taken in
//! the order top-left, top-right, bottom-left, bottom-right, replacing only on a strictly
//! greater value, and its position is the first tap equal to it. Blocks holding a NaN are
//! left to the scalar code (PyTorch's NaN rule).

use std::arch::x86_64::*;

/// Pools `n ≤ 16` windows of one output row (a row of MNIST's 28 columns pools to 14):
/// `top` and `bottom` hold the `2n` input columns of its two input rows, `base` is the
/// position of `top[0]` in the plane and `w` the plane's width, so a window's position is
/// `base + 2·i + tap` with the tap's offset 0, 1, `w` or `w + 1`. Writes `vals[..n]` and
/// `idx[..n]` and returns true; returns false, writing nothing, where a value is NaN,
/// AVX-512 is missing, `n` is 0 or above 16, a slice is short or a position would not fit
/// in 32 bits.
pub(crate) fn max_2x2_block(
    (top, bottom): (&[f32], &[f32]),
    (base, w): (usize, usize),
    vals: &mut [f32],
    idx: &mut [u32],
) -> bool {
    let n = vals.len();
    let fits = (1..=16).contains(&n) && top.len() >= 2 * n && bottom.len() >= 2 * n;
    if !fits || idx.len() < n || base + 2 * n + w > u32::MAX as usize {
        return false;
    }
    if !super::sgemm::available() {
        return false;
    }
    // SAFETY: AVX-512 is available and every slice is long enough (checked above).
    unsafe {
        block(
            n,
            top.as_ptr(),
            bottom.as_ptr(),
            base as u32,
            w as u32,
            vals.as_mut_ptr(),
            idx.as_mut_ptr(),
        )
    }
}

/// `n` windows: `2n` columns of two rows, the lanes past `n` masked off. False (nothing
/// written) if any value is NaN.
#[target_feature(enable = "avx512f")]
unsafe fn block(
    n: usize,
    top: *const f32,
    bottom: *const f32,
    base: u32,
    w: u32,
    vals: *mut f32,
    idx: *mut u32,
) -> bool {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    // Masks of the input columns in each half and of the output lanes.
    let lanes = |len: usize| ((1u32 << len.min(16)) - 1) as __mmask16;
    let (m0, m1, out) = (lanes(2 * n), lanes(2 * n.saturating_sub(8)), lanes(n));
    let (t0, t1) = (
        _mm512_maskz_loadu_ps(m0, top),
        _mm512_maskz_loadu_ps(m1, top.add(16)),
    );
    let (b0, b1) = (
        _mm512_maskz_loadu_ps(m0, bottom),
        _mm512_maskz_loadu_ps(m1, bottom.add(16)),
    );
    let a = _mm512_permutex2var_ps(t0, even, t1);
    let b = _mm512_permutex2var_ps(t0, odd, t1);
    let c = _mm512_permutex2var_ps(b0, even, b1);
    let d = _mm512_permutex2var_ps(b0, odd, b1);
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b) | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(c, d);
    if nan != 0 {
        return false;
    }
    // `max_ps(x, m)` is `x > m ? x : m`: the scalar rule's order and tie-breaking.
    let m = _mm512_max_ps(b, a);
    let m = _mm512_max_ps(c, m);
    let m = _mm512_max_ps(d, m);
    // The first tap equal to the maximum, set in reverse order so earlier taps win.
    let eq = |x: __m512| _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(x, m);
    let mut off = _mm512_set1_epi32((w + 1) as i32);
    off = _mm512_mask_blend_epi32(eq(c), off, _mm512_set1_epi32(w as i32));
    off = _mm512_mask_blend_epi32(eq(b), off, _mm512_set1_epi32(1));
    off = _mm512_mask_blend_epi32(eq(a), off, _mm512_setzero_si512());
    let pos = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(base as i32), even), off);
    _mm512_mask_storeu_ps(vals, out, m);
    _mm512_mask_storeu_epi32(idx as *mut i32, out, pos);
    true
}
