//! Reduction kernels: rows of a (permuted) tensor reduced to one value each.

use super::map::collect;
use super::parallel::{for_each_item, for_each_part_mut, num_threads, PAR_MIN_ELEMS};
use crate::layout::Layout;
use crate::FloatElement;
use std::borrow::Cow;

/// Sum of a slice: blocks of 1,024 summed with 32 independent accumulators
/// (vectorisable), block totals accumulated in f64, so a million f32 values sum accurately.
#[inline]
pub(crate) fn sum_slice<T: FloatElement>(s: &[T]) -> T {
    if s.len() <= 1024 {
        return sum_block(s);
    }
    let total: f64 = s.chunks(1024).map(|b| sum_block(b).to_f64()).sum();
    T::from_f64(total)
}

/// [`sum_slice`] split across threads for long slices (a full reduction). The totals of
/// chunks of 65,536 values are added in chunk order, so the result does not depend on
/// timing or on the number of threads.
pub(crate) fn sum_slice_par<T: FloatElement>(s: &[T]) -> T {
    const CHUNK: usize = 1 << 16;
    if s.len() < 4 * PAR_MIN_ELEMS || num_threads() == 1 {
        return sum_slice(s);
    }
    let mut partials = vec![0.0f64; s.len().div_ceil(CHUNK)];
    for_each_part_mut(&mut partials, 1, |c, total| {
        total[0] = crate::Element::to_f64(sum_slice(&s[c * CHUNK..((c + 1) * CHUNK).min(s.len())]))
    });
    T::from_f64(partials.iter().sum())
}

#[inline]
fn sum_block<T: FloatElement>(s: &[T]) -> T {
    // Four vectors of eight: one chain of vector adds waits on the add's latency and reads
    // only about 8 bytes per cycle, less than the memory can deliver.
    const LANES: usize = 32;
    let mut acc = [T::zero(); LANES];
    let chunks = s.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    let mut total = pairwise(acc);
    for &v in tail {
        total += v;
    }
    total
}

/// The lanes of [`sum_block`] added pairwise (halves, then quarters ...), a fixed order.
/// Out of line: inlined, the compiler fuses this tree with the block's loop and vectorises
/// both two lanes at a time.
#[inline(never)]
fn pairwise<T: FloatElement>(mut acc: [T; 32]) -> T {
    let mut width = acc.len();
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0]
}

/// The input viewed as `[outer, inner]` rows, where `inner` covers the reduced dims: the
/// kept dims are moved to the front and the reduced dims to the back, copying only when
/// that permutation is not already contiguous. Returns the rows buffer and `inner`.
pub(crate) fn rows<'a, T: crate::Element>(
    src: &'a [T],
    layout: &Layout,
    reduced: &[usize],
) -> (Cow<'a, [T]>, usize) {
    let nd = layout.ndim();
    let mut perm: Vec<usize> = (0..nd).filter(|d| !reduced.contains(d)).collect();
    perm.extend_from_slice(reduced);
    let inner: usize = reduced.iter().map(|&d| layout.shape()[d]).product();
    let permuted = layout.permute(&perm);
    match permuted.contiguous_range() {
        Some(r) => (Cow::Borrowed(&src[r]), inner),
        None => (Cow::Owned(collect(src, &permuted)), inner),
    }
}

/// The column view of a reduction over the sorted `dims` of a contiguous layout when they
/// are consecutive and followed by more elements: the storage range and
/// `(outer, n, inner)`, where each of the `outer` blocks holds `n` rows of `inner` columns
/// and every column reduces to one value. Column kernels walk the rows in memory order,
/// vectorised across columns, instead of the transposing copy that [`rows`] would make.
/// `None` when [`rows`] needs no copy (`inner == 1`) or the view does not apply.
pub(crate) fn columns(
    layout: &Layout,
    dims: &[usize],
) -> Option<(std::ops::Range<usize>, (usize, usize, usize))> {
    let (&first, &last) = (dims.first()?, dims.last()?);
    if last - first + 1 != dims.len() {
        return None;
    }
    let shape = layout.shape();
    let n: usize = shape[first..=last].iter().product();
    let inner: usize = shape[last + 1..].iter().product();
    if inner <= 1 || n == 0 {
        return None;
    }
    let range = layout.contiguous_range()?;
    Some((range, (shape[..first].iter().product(), n, inner)))
}

/// Applies `f` to each of the `outer` rows of `inner` elements, in parallel when large
/// (runs of whole rows, a few per thread, each collecting its results in order).
pub(crate) fn map_rows<T: Sync, U: Send>(
    data: &[T],
    outer: usize,
    inner: usize,
    f: impl Fn(&[T]) -> U + Sync + Send,
) -> Vec<U> {
    if inner == 0 {
        // Reducing over an empty dimension: every row is empty.
        return (0..outer).map(|_| f(&[])).collect();
    }
    if data.len() >= PAR_MIN_ELEMS && outer > 1 && num_threads() > 1 {
        let rows = data.len().div_ceil(inner);
        let per = rows.div_ceil(4 * num_threads()).max(1);
        let mut results: Vec<Vec<U>> = Vec::new();
        results.resize_with(rows.div_ceil(per), Vec::new);
        let run_len = per * inner;
        for_each_part_mut(&mut results, 1, |r, out| {
            let run = &data[r * run_len..((r + 1) * run_len).min(data.len())];
            out[0] = run.chunks(inner).map(&f).collect()
        });
        results.into_iter().flatten().collect()
    } else {
        data.chunks(inner).map(f).collect()
    }
}

/// Column sums of a contiguous `[outer, inner]` matrix: `out[j] = Σ_i x[i, j]`
/// (the reduction over leading dims, e.g. a bias gradient, without a transposing copy).
///
/// Large inputs are shared between threads in a way that depends on the shape only, so the
/// result does not depend on the thread count. Rows of up to `WIDE_ROW` elements go in runs
/// of about a megabyte whose column sums are added in order (each column is then summed in
/// blocks, which also keeps f32 rounding from growing with the row count): a thread reading
/// part of every such row would leave the hardware prefetchers short streams. Wider rows are
/// cut into bands of columns, one per thread, each a long stream per row.
pub(crate) fn sum_columns<T: FloatElement>(data: &[T], inner: usize) -> Vec<T> {
    const RUN_ELEMS: usize = 1 << 18;
    const WIDE_ROW: usize = 1 << 16;
    if inner == 0 {
        return Vec::new();
    }
    let parallel = data.len() >= PAR_MIN_ELEMS && num_threads() > 1;
    if inner >= WIDE_ROW {
        let bands = if parallel { num_threads() } else { 1 };
        let width = inner.div_ceil(bands).next_multiple_of(16);
        let mut out = vec![T::zero(); inner];
        let parts: Vec<(usize, &mut [T])> = out
            .chunks_mut(width)
            .enumerate()
            .map(|(b, o)| (b * width, o))
            .collect();
        run_items(parallel, parts, |(j0, sums)| {
            add_rows(data, inner, j0, sums)
        });
        return out;
    }
    let run_len = (RUN_ELEMS / inner).max(1) * inner;
    let runs: Vec<&[T]> = data.chunks(run_len).collect();
    // Each run's sums allocated by the thread that adds them: allocated together, two
    // runs' sums could share a cache line that two threads then write on every row.
    let mut sums: Vec<Vec<T>> = vec![Vec::new(); runs.len()];
    let parts: Vec<(&[T], &mut Vec<T>)> = runs.into_iter().zip(&mut sums).collect();
    run_items(parallel && parts.len() > 1, parts, |(run, out)| {
        let mut local = vec![T::zero(); inner];
        add_rows(run, inner, 0, &mut local);
        *out = local;
    });
    let mut runs = sums.into_iter();
    let mut total = runs.next().unwrap_or_else(|| vec![T::zero(); inner]);
    for run in runs {
        for (t, &v) in total.iter_mut().zip(&run) {
            *t += v;
        }
    }
    total
}

/// Adds columns `j0..j0 + sums.len()` of every row of `inner` elements in `data` to `sums`,
/// in row order.
fn add_rows<T: FloatElement>(data: &[T], inner: usize, j0: usize, sums: &mut [T]) {
    for row in data.chunks_exact(inner) {
        for (o, &v) in sums.iter_mut().zip(&row[j0..]) {
            *o += v;
        }
    }
}

/// Runs `f` on every item, on the threads when `parallel`.
fn run_items<I: Send>(parallel: bool, items: Vec<I>, f: impl Fn(I) + Sync) {
    if parallel {
        for_each_item(items, f);
    } else {
        items.into_iter().for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_f64_over_ragged_lengths() {
        for n in [0usize, 1, 31, 32, 33, 1023, 1024, 1025, 4097, 300_001] {
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
                .collect();
            let want: f64 = x.iter().map(|&v| v as f64).sum();
            let tol = 1e-6 * (n as f64).max(1.0);
            for got in [sum_slice(&x), sum_slice_par(&x)] {
                assert!(((got as f64) - want).abs() <= tol, "n={n}: {got} vs {want}");
            }
        }
        // Every element counts once: a single non-zero at each position of a block.
        for pos in [0, 5, 31, 32, 63, 1000, 1023] {
            let mut x = vec![0.0f32; 1024 + 17];
            x[pos] = 1.0;
            assert_eq!(sum_slice(&x), 1.0, "one at {pos}");
        }
    }

    #[test]
    fn column_sums_count_every_row_once_on_every_path() {
        // Small integers: every partial sum is exact in f32, so any row counted twice or
        // missed, in any run or band, changes the result.
        let shapes = [
            (5, 7),       // one pass
            (700, 1000),  // three runs of 262 rows, the last one short
            (300_001, 1), // one column, two runs
            (3, 70_000),  // wide rows: bands of columns
            (2, 65_537),  // wide rows, a ragged last band
            (1, 300_000), // one wide row
        ];
        for (outer, inner) in shapes {
            let x: Vec<f32> = (0..outer * inner)
                .map(|i| ((i * 7919 + i / inner) % 17) as f32 - 8.0)
                .collect();
            let mut want = vec![0.0f64; inner];
            for row in x.chunks(inner) {
                for (w, &v) in want.iter_mut().zip(row) {
                    *w += v as f64;
                }
            }
            let got = sum_columns(&x, inner);
            assert_eq!(got.len(), inner);
            for (j, (&g, &w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g as f64, w, "[{outer}, {inner}] column {j}");
            }
        }
        assert!(sum_columns::<f32>(&[], 0).is_empty());
        assert_eq!(sum_columns::<f32>(&[], 3), vec![0.0; 3]);
    }
}
