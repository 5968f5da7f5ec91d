//! Packing: copies of blocks of `A` and `B` laid out in the order the micro-kernel reads them.
//!
//! `A` (rows × kc) becomes panels of `MR` rows: for each `p`, the `MR` values `A[i.., p]`
//! side by side. `B` (kc × cols) becomes panels of `NR` columns: for each `p`, the `NR` values
//! `B[p, j..]`. Rows or columns past the edge are zero. Packing makes every kernel load
//! contiguous whatever the operands' strides (a transposed weight costs nothing extra).

use super::{EvenSplit, MR, NR};

/// A strided source block: element `(i, j)` at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
pub(crate) struct Src {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

// SAFETY: a `Src` only reads, and the product's caller guarantees the block stays alive and
// unmodified while any thread packs from it.
unsafe impl Send for Src {}
unsafe impl Sync for Src {}

impl Src {
    /// The block starting at row `i`, column `j`.
    ///
    /// # Safety
    /// The element `(i, j)` must lie inside the allocation `ptr` points into.
    pub(crate) unsafe fn offset(self, i: usize, j: usize) -> Src {
        Src {
            ptr: self.ptr.add(i * self.rs + j * self.cs),
            ..self
        }
    }
}

/// Packs row panels `first..last` of the block `a` (`kc` columns, rows cut as `panels`)
/// into `dst` (panel `q` at `dst + q * MR * kc`, `MR` values per step of `k`).
///
/// # Safety
/// Every element of the block must be readable and `dst` writable for `last · MR · kc` values.
pub(super) unsafe fn pack_a(
    dst: *mut f32,
    a: Src,
    panels: &EvenSplit,
    kc: usize,
    range: (usize, usize),
) {
    for q in range.0..range.1 {
        let d = dst.add(q * MR * kc);
        let r0 = panels.start(q);
        let live = panels.len(q);
        if a.rs == 1 {
            // Columns of A are contiguous: one masked vector move per step of k, which also
            // writes the zeros of rows past the panel's end (a variable-length copy would
            // call memcpy for every column).
            copy_columns(d, a.ptr.add(r0), a.cs, kc, live);
            continue;
        }
        if live < MR {
            std::ptr::write_bytes(d, 0, MR * kc);
        }
        for r in 0..live {
            let s = a.ptr.add((r0 + r) * a.rs);
            for p in 0..kc {
                *d.add(p * MR + r) = *s.add(p * a.cs);
            }
        }
    }
}

/// `MR` values per step of `k` from `live` contiguous ones at `src + p * stride` (the rest
/// zero) to `dst + p * MR`.
///
/// # Safety
/// The CPU must support AVX-512F (as for every kernel here); `live ≤ MR` values per step
/// must be readable and `MR · kc` writable.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn copy_columns(
    dst: *mut f32,
    src: *const f32,
    stride: usize,
    kc: usize,
    live: usize,
) {
    use std::arch::x86_64::*;
    let (load, store): (__mmask16, __mmask16) = ((1 << live) - 1, (1 << MR) - 1);
    for p in 0..kc {
        let v = _mm512_maskz_loadu_ps(load, src.add(p * stride));
        _mm512_mask_storeu_ps(dst.add(p * MR), store, v);
    }
}

/// Asks for the `MR` values at `src + p * stride`, for each step `p` in `steps`, to be
/// brought into the second-level cache (where the tiles of their panel will read them).
///
/// # Safety
/// None beyond a valid pointer computation: a prefetch never faults, and the addresses are
/// only formed, not read (`wrapping_add`).
pub(super) unsafe fn prefetch_columns(
    src: *const f32,
    stride: usize,
    steps: std::ops::Range<usize>,
) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
    for p in steps {
        let at = src.wrapping_add(p * stride) as *const i8;
        _mm_prefetch::<_MM_HINT_T1>(at);
        // `MR` floats span two lines unless they start among a line's first three values.
        _mm_prefetch::<_MM_HINT_T1>(at.wrapping_add(4 * MR - 4));
    }
}

/// Packs `NR`-column panels `first..last` of the `kc × cols` block `b` into `dst`
/// (panel `q` at `dst + q * NR * kc`).
///
/// # Safety
/// Every element of the block must be readable and `dst` writable for `last · NR · kc` values.
pub(super) unsafe fn pack_b(dst: *mut f32, b: Src, cols: usize, kc: usize, panels: (usize, usize)) {
    for q in panels.0..panels.1 {
        let d = dst.add(q * NR * kc);
        let c0 = q * NR;
        let live = (cols - c0).min(NR);
        if live < NR {
            std::ptr::write_bytes(d, 0, NR * kc);
        }
        if b.cs == 1 && live == NR {
            // A fixed-size copy compiles to two vector moves (a variable one calls memcpy).
            for p in 0..kc {
                let s = b.ptr.add(p * b.rs + c0) as *const [f32; NR];
                *(d.add(p * NR) as *mut [f32; NR]) = s.read_unaligned();
            }
        } else if b.cs == 1 {
            for p in 0..kc {
                std::ptr::copy_nonoverlapping(b.ptr.add(p * b.rs + c0), d.add(p * NR), live);
            }
        } else {
            for c in 0..live {
                let s = b.ptr.add((c0 + c) * b.cs);
                for p in 0..kc {
                    *d.add(p * NR + c) = *s.add(p * b.rs);
                }
            }
        }
    }
}
