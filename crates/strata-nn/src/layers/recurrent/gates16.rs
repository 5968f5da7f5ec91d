//! The f32 LSTM forward gate kernel in sixteen-lane AVX-512, one pass over the row: the
//! generic kernel in `gates.rs` compiles to 8-lane code with a division per sigmoid and
//! `tanh`, and was 7 % of a W3 training step; this one takes the bias, the five
//! activations, the state update, the output copy and the saving of the incoming state in
//! one loop, with `strata_core::kernels::math16`'s reciprocal-based functions. (The
//! backward kernel is bound by reading the saved activations; a sixteen-lane copy of it
//! measured no faster.)

use std::arch::x86_64::*;
use strata_core::kernels::math16::{sigmoid, tanh};

/// True when this CPU can run the kernels here.
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// One row's state, updated in place, and where the state the step starts from is saved for
/// backward (each destination empty when nothing is saved).
pub(crate) struct State<'a> {
    pub h: &'a mut [f32],
    pub c: &'a mut [f32],
    pub saved_h: &'a mut [f32],
    pub saved_c: &'a mut [f32],
}

/// As `gates::lstm_forward` for one row, with the bias added first, the incoming state
/// saved (where `state` says) and the new `h` also written to `out`. `bias` is `[4n]` or
/// empty (no bias).
///
/// # Safety
/// [`available`] must be true.
///
/// # Panics
/// If the slices are shorter than the row (an internal error).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn lstm_forward(
    pre: &mut [f32],
    bias: &[f32],
    state: State<'_>,
    tanh_c: &mut [f32],
    out: &mut [f32],
) {
    let State {
        h,
        c,
        saved_h,
        saved_c,
    } = state;
    let n = h.len();
    assert!(pre.len() >= 4 * n && c.len() >= n && tanh_c.len() >= n && out.len() >= n);
    assert!(bias.is_empty() || bias.len() >= 4 * n);
    assert!(saved_h.is_empty() || saved_h.len() >= n);
    assert!(saved_c.is_empty() || saved_c.len() >= n);
    let (p, b) = (pre.as_mut_ptr(), bias.as_ptr());
    for j in (0..n).step_by(16) {
        // Lanes past the row's end are masked off, loads and stores alike.
        let m: __mmask16 = if n - j >= 16 {
            0xffff
        } else {
            (1u16 << (n - j)) - 1
        };
        let gate = |g: usize| {
            // SAFETY: lanes `j..j + 16` under `m` lie inside gate `g` of the row (asserted).
            let x = _mm512_maskz_loadu_ps(m, p.add(g * n + j));
            if bias.is_empty() {
                x
            } else {
                _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, b.add(g * n + j)))
            }
        };
        let i = sigmoid(gate(0));
        let f = sigmoid(gate(1));
        let g = tanh(gate(2));
        let o = sigmoid(gate(3));
        let c_prev = _mm512_maskz_loadu_ps(m, c.as_ptr().add(j));
        if !saved_c.is_empty() {
            _mm512_mask_storeu_ps(saved_c.as_mut_ptr().add(j), m, c_prev);
        }
        if !saved_h.is_empty() {
            let h_prev = _mm512_maskz_loadu_ps(m, h.as_ptr().add(j));
            _mm512_mask_storeu_ps(saved_h.as_mut_ptr().add(j), m, h_prev);
        }
        let c_new = _mm512_fmadd_ps(f, c_prev, _mm512_mul_ps(i, g));
        let tc = tanh(c_new);
        let h_new = _mm512_mul_ps(o, tc);
        for (gi, v) in [i, f, g, o].into_iter().enumerate() {
            _mm512_mask_storeu_ps(p.add(gi * n + j), m, v);
        }
        _mm512_mask_storeu_ps(c.as_mut_ptr().add(j), m, c_new);
        _mm512_mask_storeu_ps(tanh_c.as_mut_ptr().add(j), m, tc);
        _mm512_mask_storeu_ps(h.as_mut_ptr().add(j), m, h_new);
        _mm512_mask_storeu_ps(out.as_mut_ptr().add(j), m, h_new);
    }
}
