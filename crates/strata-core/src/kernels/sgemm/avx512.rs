//! The AVX-512 micro-kernel: one `R × 16·V` tile of `C` from a panel of `A` and a packed
//! panel of `B`.
//!
//! The tile's accumulators live in registers for the whole `k` loop (`R · V ≤ 28` of the 32
//! zmm registers); each step loads `V` vectors of `B`, broadcasts `R` values of `A` and does
//! `R · V` fused multiply-adds. `R` and `V` are constants so each size compiles to straight-line
//! code; the edge tiles of a product get their own exact size instead of computing padding.
//! `A` is read either packed (`pack.rs`) or in place when its rows are contiguous: twelve
//! sequential streams that the hardware prefetches well, so packing would only add work.

use super::{MR, NR};
use std::arch::x86_64::*;

/// Where one tile of `C` lives: `rows × cols` elements at `c + i * rs + j * cs`.
pub(super) struct Tile {
    pub c: *mut f32,
    pub rs: usize,
    pub cs: usize,
    pub rows: usize,
    pub cols: usize,
    /// Add to the existing values instead of overwriting them.
    pub add: bool,
}

/// How the kernel reads its `A` panel.
#[derive(Clone, Copy)]
pub(super) enum PanelA {
    /// Packed by `pack_a`: `MR` values per step of `k`.
    Packed(*const f32),
    /// In place, row-major: row `r` of the panel at `ptr + r * row_stride`, contiguous in `k`.
    Rows(*const f32, usize),
}

/// Computes one tile: `C[tile] (+)= A_panel · B_panel` over `kc` steps.
///
/// # Safety
/// The CPU must support AVX-512F. The `A` panel must hold `kc` readable steps for the tile's
/// rows and `b` `kc · NR` initialised values (the packed layout of `pack.rs`); the tile must
/// be writable (and initialised when `add`), with `1 ≤ rows ≤ MR` and `1 ≤ cols ≤ NR`.
pub(super) unsafe fn run_tile(kc: usize, a: PanelA, b: *const f32, t: &Tile) {
    macro_rules! dispatch {
        ($($r:literal)*) => {
            match (a, t.rows, t.cols.div_ceil(16)) {
                $((PanelA::Packed(p), $r, 1) => kernel::<$r, 1, true>(kc, p, 0, b, t),
                  (PanelA::Packed(p), $r, _) => kernel::<$r, 2, true>(kc, p, 0, b, t),
                  (PanelA::Rows(p, rs), $r, 1) => kernel::<$r, 1, false>(kc, p, rs, b, t),
                  (PanelA::Rows(p, rs), $r, _) => kernel::<$r, 2, false>(kc, p, rs, b, t),)*
                _ => unreachable!("tile rows are 1..=MR"),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14)
}

#[target_feature(enable = "avx512f")]
unsafe fn kernel<const R: usize, const V: usize, const PACKED: bool>(
    kc: usize,
    a: *const f32,
    a_rs: usize,
    b: *const f32,
    t: &Tile,
) {
    // The tile of C is touched only after the k loop; fetching it now hides its latency
    // (C is often larger than the caches) behind the loop.
    if t.cs == 1 {
        for r in 0..R {
            for v in 0..V {
                _mm_prefetch::<_MM_HINT_T0>(t.c.wrapping_add(r * t.rs + 16 * v) as *const i8);
            }
        }
    }
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    let (mut a, mut b) = (a, b);
    for _ in 0..kc {
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, x) in bv.iter_mut().enumerate() {
            *x = _mm512_loadu_ps(b.add(16 * v));
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let x = if PACKED { *a.add(r) } else { *a.add(r * a_rs) };
            let av = _mm512_set1_ps(x);
            for (acc, &bv) in row.iter_mut().zip(&bv) {
                *acc = _mm512_fmadd_ps(av, bv, *acc);
            }
        }
        a = a.add(if PACKED { MR } else { 1 });
        b = b.add(NR);
    }
    if t.cs == 1 {
        store_rows(&acc, t);
    } else {
        store_strided(&acc, t);
    }
}

/// Stores a tile whose rows are contiguous, masking the columns past `t.cols`.
#[target_feature(enable = "avx512f")]
unsafe fn store_rows<const R: usize, const V: usize>(acc: &[[__m512; V]; R], t: &Tile) {
    for (r, row) in acc.iter().enumerate() {
        let dst = t.c.add(r * t.rs);
        for (v, &x) in row.iter().enumerate() {
            let valid = t.cols.saturating_sub(16 * v).min(16);
            let mask = ((1u32 << valid) - 1) as __mmask16;
            let p = dst.add(16 * v);
            let x = if t.add {
                _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, p))
            } else {
                x
            };
            _mm512_mask_storeu_ps(p, mask, x);
        }
    }
}

/// Stores a tile with arbitrary strides through a scratch tile. Kept out of line so the
/// scratch tile is not set up on the common contiguous path.
#[inline(never)]
#[target_feature(enable = "avx512f")]
unsafe fn store_strided<const R: usize, const V: usize>(acc: &[[__m512; V]; R], t: &Tile) {
    let mut buf = [0f32; MR * NR];
    for (r, row) in acc.iter().enumerate() {
        for (v, &x) in row.iter().enumerate() {
            _mm512_storeu_ps(buf.as_mut_ptr().add(r * NR + 16 * v), x);
        }
    }
    for r in 0..t.rows {
        for j in 0..t.cols {
            let d = t.c.add(r * t.rs + j * t.cs);
            let v = buf[r * NR + j];
            *d = if t.add { *d + v } else { v };
        }
    }
}
