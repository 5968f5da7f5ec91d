//! The AVX-512 micro-kernel: one `R × 16·V` tile of `C` from a panel of `A` and a panel of
//! `B` (packed, or read in place and packed on the way).
//!
//! The tile's accumulators live in registers for the whole `k` loop (`R · V ≤ 28` of the 32
//! zmm registers); each step loads `V` vectors of `B`, broadcasts `R` values of `A` and does
//! `R · V` fused multiply-adds. `R` and `V` are constants so each size compiles to straight-line
//! code; the edge tiles of a product get their own exact size instead of computing padding.
//! `A` is read either packed (`pack.rs`) or in place: when its rows are contiguous, fourteen
//! sequential streams that the hardware prefetches well, so packing would only add work;
//! when its columns are, each step's values side by side as in a packed panel, a row
//! stride apart rather than `MR` (the caller prefetches them, `Block::compute`).
//! The full-width 14- and 13-row tiles of that case run their `k` loop in assembly
//! (`asm.rs`); the others, and every tile that packs `B`, run the compiled loop here.

use super::{asm, MR, NR};
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
    /// In place, column-major: the panel's values of step `p` side by side at
    /// `ptr + p * step`.
    Columns(*const f32, usize),
    /// In place, row-major: row `r` of the panel at `ptr + r * row_stride`, contiguous in `k`.
    Rows(*const f32, usize),
}

/// How the kernel reads its `B` panel.
#[derive(Clone, Copy)]
pub(super) enum PanelB {
    /// Packed by `pack_b`: `NR` values per step of `k`.
    Packed(*const f32),
    /// In place, `NR` contiguous columns with row `p` at `src + p * row_stride`, packed into
    /// `dst` on the way: the first tile of a panel packs it for the tiles after it, with the
    /// stores hidden among the multiply-adds instead of a separate pass over `B`.
    Pack {
        src: *const f32,
        row_stride: usize,
        dst: *mut f32,
    },
}

/// Computes one tile: `C[tile] (+)= A_panel · B_panel` over `kc` steps.
///
/// # Safety
/// The CPU must support AVX-512F. The `A` panel must hold `kc` readable steps for the tile's
/// rows; a packed `B` panel `kc · NR` initialised values (the layout of `pack.rs`), a `B`
/// panel packed on the way `kc` readable rows of `NR` values and `kc · NR` writable ones (the
/// tile then spans all `NR` columns). The tile must be writable (and initialised when `add`),
/// with `1 ≤ rows ≤ MR` and `1 ≤ cols ≤ NR`.
pub(super) unsafe fn run_tile(kc: usize, a: PanelA, b: PanelB, t: &Tile) {
    let (a, packed_a) = match a {
        PanelA::Packed(p) => ((p, MR), true),
        PanelA::Columns(p, step) => ((p, step), true),
        PanelA::Rows(p, rs) => ((p, rs), false),
    };
    let (b, pack_b) = match b {
        PanelB::Packed(p) => ((p, 0, p as *mut f32), false),
        PanelB::Pack {
            src,
            row_stride,
            dst,
        } => ((src, row_stride, dst), true),
    };
    // Packing on the way happens on full-width tiles only.
    let wide = pack_b || t.cols > 16;
    macro_rules! dispatch {
        ($($r:literal)*) => {
            match (t.rows, wide, packed_a, pack_b) {
                $(($r, false, true, _) => kernel::<$r, 1, true, false>(kc, a, b, t),
                  ($r, false, false, _) => kernel::<$r, 1, false, false>(kc, a, b, t),
                  ($r, true, true, false) => kernel::<$r, 2, true, false>(kc, a, b, t),
                  ($r, true, false, false) => in_place_wide::<$r>(kc, a, b, t),
                  ($r, true, true, true) => kernel::<$r, 2, true, true>(kc, a, b, t),
                  ($r, true, false, true) => kernel::<$r, 2, false, true>(kc, a, b, t),)*
                _ => unreachable!("tile rows are 1..=MR"),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14)
}

/// A full-width tile with `A` in place and `B` packed: the assembly loop (`asm.rs`) for tiles
/// 10 to 14 rows high (the row panels of large products and of a batch of 32), the compiled
/// one for the others.
#[target_feature(enable = "avx512f")]
unsafe fn in_place_wide<const R: usize>(
    kc: usize,
    a: (*const f32, usize),
    b: (*const f32, usize, *mut f32),
    t: &Tile,
) {
    macro_rules! assembly {
        ($($r:literal => $tile:ident),*) => {
            match R {
                $($r => {
                    prefetch_c::<$r, 2>(t);
                    store(asm::$tile(kc, a.0, a.1, b.0), t);
                })*
                _ => kernel::<R, 2, false, false>(kc, a, b, t),
            }
        };
    }
    assembly!(
        14 => tile_14x32,
        13 => tile_13x32,
        12 => tile_12x32,
        11 => tile_11x32,
        10 => tile_10x32
    )
}

/// Steps of `k` ahead that a tile packing `B` on the way prefetches its rows.
const PACK_B_AHEAD: usize = 12;

/// The tile kernel: `A` with each step's values side by side (`COLUMNS`: packed, or
/// column-major in place; `a_rs` the distance between steps) or row-major in place (`a_rs`
/// its row stride), `B` packed or (with
/// `PACK_B`) read in place with row stride `b_rs` and copied to `b_dst`.
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const R: usize, const V: usize, const COLUMNS: bool, const PACK_B: bool>(
    kc: usize,
    (a, a_rs): (*const f32, usize),
    (b, b_rs, b_dst): (*const f32, usize, *mut f32),
    t: &Tile,
) {
    prefetch_c::<R, V>(t);
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    let (mut a, mut b, mut b_dst) = (a, b, b_dst);
    for _ in 0..kc {
        let mut bv = [_mm512_setzero_ps(); V];
        if PACK_B {
            // Rows of B far apart (often in different pages) defeat the hardware prefetcher,
            // and B may be past L2: fetch a few steps ahead.
            let ahead = b.wrapping_add(PACK_B_AHEAD * b_rs) as *const i8;
            for v in 0..V {
                _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64 * v));
            }
        }
        for (v, x) in bv.iter_mut().enumerate() {
            *x = _mm512_loadu_ps(b.add(16 * v));
            if PACK_B {
                _mm512_storeu_ps(b_dst.add(16 * v), *x);
            }
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let x = if COLUMNS { *a.add(r) } else { *a.add(r * a_rs) };
            let av = _mm512_set1_ps(x);
            for (acc, &bv) in row.iter_mut().zip(&bv) {
                *acc = _mm512_fmadd_ps(av, bv, *acc);
            }
        }
        a = a.add(if COLUMNS { a_rs } else { 1 });
        if PACK_B {
            // Wrapping: after the last step `b` is a row past the block, which may lie past
            // the end of the operand's buffer (it is never read there).
            b = b.wrapping_add(b_rs);
            b_dst = b_dst.add(NR);
        } else {
            b = b.add(NR);
        }
    }
    // By value: a reference would let the accumulators' address escape, and with the
    // stores of `PACK_B` in the loop the compiler would then keep them in memory.
    store(acc, t);
}

/// The tile of C is touched only after the k loop; fetching it first hides its latency
/// (C is often larger than the caches) behind the loop.
#[inline(always)]
unsafe fn prefetch_c<const R: usize, const V: usize>(t: &Tile) {
    if t.cs == 1 {
        for r in 0..R {
            for v in 0..V {
                _mm_prefetch::<_MM_HINT_T0>(t.c.wrapping_add(r * t.rs + 16 * v) as *const i8);
            }
        }
    }
}

/// Writes (or adds) the accumulators to the tile.
#[inline(always)]
unsafe fn store<const R: usize, const V: usize>(acc: [[__m512; V]; R], t: &Tile) {
    if t.cs == 1 {
        store_rows(acc, t);
    } else {
        store_strided(acc, t);
    }
}

/// Stores a tile whose rows are contiguous, masking the columns past `t.cols`.
#[target_feature(enable = "avx512f")]
unsafe fn store_rows<const R: usize, const V: usize>(acc: [[__m512; V]; R], t: &Tile) {
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
unsafe fn store_strided<const R: usize, const V: usize>(acc: [[__m512; V]; R], t: &Tile) {
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
