//! Single-precision matrix-vector products (`y (+)= x · B` for one row `x`: batch-1
//! inference) with AVX-512 kernels, split between threads by output columns.
//!
//! A packing kernel would copy the whole of `B` to use each element once; a product of one
//! row is bound by reading `B`, so these kernels read it in place, once, in whichever order
//! it is contiguous:
//! - columns contiguous (`B` is a transposed weight `Wᵀ`, the `Linear` case): eight dot
//!   products at a time, sharing each load of `x`;
//! - rows contiguous: `y` in blocks of 128 columns held in eight registers, adding
//!   `x[p] · B[p, block]` for every `p`.
//!
//! Each thread takes its own band of columns, so it reads its own part of `B`; on a machine
//! whose per-core L2 holds that part but not the whole (W5's 2.1 MB on a 2 MiB-L2 Xeon),
//! repeated calls then run from L2 instead of L3.

use super::sgemm::Src;
use crate::kernels::parallel::num_threads;
use crate::kernels::team;
use crate::ops::matmul::SendPtr;
use std::arch::x86_64::*;

/// Multiply-adds from which a product is split between threads: below it one region's
/// start (about a microsecond) costs more than half the product saves.
const PARALLEL_MACS: usize = 32 * 1024;
/// Columns per step of the dot-product kernel.
const DOT_COLS: usize = 8;
/// Columns per step of the row kernel: eight 16-lane registers.
const ROW_COLS: usize = 128;

/// `y[j] (+)= Σ_p x[p] · B[p, j]` for `j < n`, `p < k`; `y[j]` at `y + j * y_cs`, `x[p]` at
/// `x + p`. Returns false, computing nothing, where `B` is contiguous along neither side.
///
/// # Safety
/// [`super::sgemm::available`] must be true; `x` must hold `k` floats, `B` every element
/// `ptr + p * rs + j * cs`, `y` must be writable (and initialised when `accumulate`) and
/// must not overlap `x` or `B`.
pub(crate) unsafe fn sgemv(
    (n, k): (usize, usize),
    y: *mut f32,
    y_cs: usize,
    x: *const f32,
    b: Src,
    accumulate: bool,
    parallel: bool,
) -> bool {
    let (unit, kernel): (usize, unsafe fn(Job, usize, usize)) = if b.rs == 1 {
        (DOT_COLS, dot_columns)
    } else if b.cs == 1 {
        (ROW_COLS, row_blocks)
    } else {
        return false;
    };
    let job = Job {
        k,
        y: SendPtr(y),
        y_cs,
        x: SendPtr(x as *mut f32),
        b: SendPtr(b.ptr as *mut f32),
        b_rs: b.rs,
        b_cs: b.cs,
        accumulate,
    };
    let threads = if parallel && n * k >= PARALLEL_MACS {
        num_threads().min(n.div_ceil(unit))
    } else {
        1
    };
    if threads <= 1 {
        kernel(job, 0, n);
        return true;
    }
    // Bands of whole units, as even as the units allow.
    let units = n.div_ceil(unit);
    team::run(threads, &|t| {
        let start = (units * t / threads * unit).min(n);
        let end = (units * (t + 1) / threads * unit).min(n);
        // SAFETY: the bands are disjoint, so each piece writes its own outputs.
        unsafe { kernel(job, start, end) }
    });
    true
}

/// The operands of one product, as the pieces see them.
#[derive(Clone, Copy)]
struct Job {
    k: usize,
    y: SendPtr<f32>,
    y_cs: usize,
    x: SendPtr<f32>,
    b: SendPtr<f32>,
    b_rs: usize,
    b_cs: usize,
    accumulate: bool,
}

impl Job {
    #[inline(always)]
    unsafe fn store(&self, j: usize, v: f32) {
        let at = self.y.get().add(j * self.y_cs);
        *at = if self.accumulate { *at + v } else { v };
    }
}

/// Mask of the first `len < 16` lanes.
#[inline(always)]
fn tail_mask(len: usize) -> __mmask16 {
    ((1u32 << len) - 1) as __mmask16
}

/// Columns `start..end` when each is contiguous in `p` (`b_rs == 1`).
#[target_feature(enable = "avx512f")]
unsafe fn dot_columns(job: Job, start: usize, end: usize) {
    let (k, x) = (job.k, job.x.get() as *const f32);
    let col = |j: usize| job.b.get().add(j * job.b_cs) as *const f32;
    let full = k / 16 * 16;
    let mask = tail_mask(k % 16);
    let mut j = start;
    while j + DOT_COLS <= end {
        let c: [*const f32; DOT_COLS] = std::array::from_fn(|i| col(j + i));
        let mut acc = [_mm512_setzero_ps(); DOT_COLS];
        let mut p = 0;
        while p < full {
            let xv = _mm512_loadu_ps(x.add(p));
            for i in 0..DOT_COLS {
                acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(c[i].add(p)), xv, acc[i]);
            }
            p += 16;
        }
        if p < k {
            let xv = _mm512_maskz_loadu_ps(mask, x.add(p));
            for i in 0..DOT_COLS {
                acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, c[i].add(p)), xv, acc[i]);
            }
        }
        for (i, a) in acc.iter().enumerate() {
            job.store(j + i, _mm512_reduce_add_ps(*a));
        }
        j += DOT_COLS;
    }
    for j in j..end {
        let c = col(j);
        let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut p = 0;
        while p + 32 <= k {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(c.add(p)), _mm512_loadu_ps(x.add(p)), a0);
            a1 = _mm512_fmadd_ps(
                _mm512_loadu_ps(c.add(p + 16)),
                _mm512_loadu_ps(x.add(p + 16)),
                a1,
            );
            p += 32;
        }
        if p + 16 <= k {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(c.add(p)), _mm512_loadu_ps(x.add(p)), a0);
            p += 16;
        }
        if p < k {
            let m = tail_mask(k - p);
            let v = _mm512_maskz_loadu_ps(m, c.add(p));
            a1 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m, x.add(p)), a1);
        }
        job.store(j, _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)));
    }
}

/// Columns `start..end` when each row of `B` is contiguous in `j` (`b_cs == 1`).
#[target_feature(enable = "avx512f")]
unsafe fn row_blocks(job: Job, start: usize, end: usize) {
    let mut j = start;
    while j + ROW_COLS <= end {
        row_block::<8>(&job, j, 0xffff);
        j += ROW_COLS;
    }
    while j + 16 <= end {
        row_block::<1>(&job, j, 0xffff);
        j += 16;
    }
    if j < end {
        row_block::<1>(&job, j, tail_mask(end - j));
    }
}

/// `V · 16` columns from `j` (the last vector masked by `last`), over every `p`.
#[target_feature(enable = "avx512f")]
unsafe fn row_block<const V: usize>(job: &Job, j: usize, last: __mmask16) {
    let (k, x) = (job.k, job.x.get() as *const f32);
    let b = job.b.get().add(j) as *const f32;
    let mask = |v: usize| if v + 1 == V { last } else { 0xffff };
    let mut acc = [_mm512_setzero_ps(); V];
    for p in 0..k {
        let xp = _mm512_set1_ps(*x.add(p));
        let row = b.add(p * job.b_rs);
        for (v, a) in acc.iter_mut().enumerate() {
            *a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask(v), row.add(16 * v)), xp, *a);
        }
    }
    let mut out = [0f32; 16];
    for (v, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(out.as_mut_ptr(), *a);
        let lanes = if v + 1 == V {
            last.count_ones() as usize
        } else {
            16
        };
        for (l, &o) in out[..lanes].iter().enumerate() {
            job.store(j + 16 * v + l, o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `y (+)= x · B` in f64, `B` given as a closure of `(p, j)`.
    fn reference(x: &[f32], b: impl Fn(usize, usize) -> f32, n: usize, y0: &[f32]) -> Vec<f64> {
        (0..n)
            .map(|j| {
                let dot: f64 = (0..x.len()).map(|p| x[p] as f64 * b(p, j) as f64).sum();
                y0[j] as f64 + dot
            })
            .collect()
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        // Small integers-and-halves, so sums are exact in f32 and any misplaced term shows.
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 27) as f32 / 2.0 - 7.0
            })
            .collect()
    }

    #[test]
    fn both_layouts_every_edge_accumulating_and_parallel() {
        if !crate::kernels::sgemm::available() {
            return;
        }
        for &k in &[1, 15, 16, 17, 33, 784] {
            for &n in &[1, 7, 8, 9, 17, 127, 128, 130, 300] {
                for &(parallel, accumulate) in &[(false, false), (true, true), (true, false)] {
                    let x = values(k, 1);
                    let data = values(k * n, 2);
                    let y0 = values(n, 3);
                    for &rows_contiguous in &[false, true] {
                        // Rows contiguous: B[p, j] at p * n + j; else at j * k + p.
                        let (rs, cs) = if rows_contiguous { (n, 1) } else { (1, k) };
                        let b = |p: usize, j: usize| data[p * rs + j * cs];
                        // Every other element of a doubled buffer: a strided output.
                        let mut y = vec![f32::NAN; 2 * n];
                        for j in 0..n {
                            y[2 * j] = if accumulate { y0[j] } else { f32::NAN };
                        }
                        let src = Src {
                            ptr: data.as_ptr(),
                            rs,
                            cs,
                        };
                        let ok = unsafe {
                            sgemv(
                                (n, k),
                                y.as_mut_ptr(),
                                2,
                                x.as_ptr(),
                                src,
                                accumulate,
                                parallel,
                            )
                        };
                        assert!(ok);
                        let zero = vec![0.0; n];
                        let want = reference(&x, b, n, if accumulate { &y0 } else { &zero });
                        for j in 0..n {
                            assert_eq!(
                                y[2 * j] as f64,
                                want[j],
                                "k {k} n {n} j {j} rows {rows_contiguous}"
                            );
                            assert!(y[2 * j + 1].is_nan(), "wrote outside its output");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn declines_a_matrix_contiguous_along_neither_side() {
        if !crate::kernels::sgemm::available() {
            return;
        }
        let (x, b, mut y) = ([1.0f32; 2], [1.0f32; 16], [0.0f32; 2]);
        let src = Src {
            ptr: b.as_ptr(),
            rs: 2,
            cs: 4,
        };
        assert!(!unsafe { sgemv((2, 2), y.as_mut_ptr(), 1, x.as_ptr(), src, false, false) });
    }
}
