//! Walking several strided operands of one shape in row-major order.
//!
//! Dimensions that are contiguous with each other in *every* operand are merged, so that the
//! walk is a sequence of "runs" along one innermost dimension with one stride per operand.
//! Kernels then specialise the inner loop for the common stride patterns (1 = contiguous,
//! 0 = broadcast), which the compiler vectorises.

use std::ops::Range;

/// A coalesced walk over `N` operands that share a shape (after broadcasting).
pub(crate) struct Walk<const N: usize> {
    /// Outer dimensions (all but the innermost), outermost first.
    dims: Vec<usize>,
    /// Per-operand strides of the outer dimensions.
    strides: [Vec<usize>; N],
    /// Length of one run along the innermost dimension.
    pub inner: usize,
    /// Per-operand stride along the innermost dimension.
    pub inner_strides: [usize; N],
    offsets: [usize; N],
}

impl<const N: usize> Walk<N> {
    pub fn new(shape: &[usize], strides: [&[usize]; N], offsets: [usize; N]) -> Self {
        // Drop size-1 dims, then merge neighbours that are contiguous in every operand.
        let mut dims: Vec<usize> = Vec::with_capacity(shape.len());
        let mut st: [Vec<usize>; N] = std::array::from_fn(|_| Vec::with_capacity(shape.len()));
        for (d, &size) in shape.iter().enumerate() {
            if size == 1 {
                continue;
            }
            let mergeable =
                !dims.is_empty() && (0..N).all(|k| st[k][st[k].len() - 1] == strides[k][d] * size);
            if mergeable {
                let last = dims.len() - 1;
                dims[last] *= size;
                for k in 0..N {
                    let l = st[k].len() - 1;
                    st[k][l] = strides[k][d];
                }
            } else {
                dims.push(size);
                for k in 0..N {
                    st[k].push(strides[k][d]);
                }
            }
        }
        let (inner, inner_strides) = match dims.pop() {
            Some(n) => (n, std::array::from_fn(|k| st[k].pop().unwrap_or(0))),
            None => (1, [0; N]),
        };
        Walk {
            dims,
            strides: st,
            inner,
            inner_strides,
            offsets,
        }
    }

    /// The outer dimensions (all but the innermost), outermost first.
    pub fn outer_dims(&self) -> &[usize] {
        &self.dims
    }

    /// Operand `k`'s strides of the outer dimensions.
    pub fn outer_strides(&self, k: usize) -> &[usize] {
        &self.strides[k]
    }

    /// Operand `k`'s base offset.
    pub fn offset(&self, k: usize) -> usize {
        self.offsets[k]
    }

    /// Number of runs (product of the outer dims).
    pub fn runs(&self) -> usize {
        self.dims.iter().product()
    }

    /// Calls `f(run, base_offsets)` for each run in `range`, in order.
    ///
    /// Every elementwise operation instantiates this loop, so it keeps only the common step
    /// (the innermost outer dimension moves on) and calls out for the rest.
    pub fn for_runs(&self, range: Range<usize>, mut f: impl FnMut(usize, [usize; N])) {
        if range.is_empty() {
            return;
        }
        let (mut idx, mut base) = self.start(range.start);
        let Some(last) = self.dims.len().checked_sub(1) else {
            // No outer dimensions: a single run.
            for run in range {
                f(run, base);
            }
            return;
        };
        for run in range {
            f(run, base);
            idx[last] += 1;
            for k in 0..N {
                base[k] += self.strides[k][last];
            }
            if idx[last] == self.dims[last] {
                self.carry(&mut idx, &mut base);
            }
        }
    }

    /// The multi-index of run `first` and each operand's offset of it.
    #[inline(never)]
    fn start(&self, first: usize) -> (Vec<usize>, [usize; N]) {
        let nd = self.dims.len();
        let mut idx = vec![0usize; nd];
        let mut rem = first;
        for d in (0..nd).rev() {
            idx[d] = rem % self.dims[d];
            rem /= self.dims[d];
        }
        let mut base = self.offsets;
        for d in 0..nd {
            for k in 0..N {
                base[k] += idx[d] * self.strides[k][d];
            }
        }
        (idx, base)
    }

    /// The innermost outer dimension has just passed its end: rewinds it and moves the
    /// dimensions outside it on, as an odometer does.
    #[inline(never)]
    fn carry(&self, idx: &mut [usize], base: &mut [usize; N]) {
        let mut d = idx.len() - 1;
        while idx[d] == self.dims[d] {
            for k in 0..N {
                base[k] -= idx[d] * self.strides[k][d];
            }
            idx[d] = 0;
            if d == 0 {
                // Past the last run: nothing reads the offsets any more.
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..N {
                base[k] += self.strides[k][d];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets_of(shape: &[usize], strides: &[usize], offset: usize) -> Vec<usize> {
        let w = Walk::<1>::new(shape, [strides], [offset]);
        let mut out = vec![];
        w.for_runs(0..w.runs(), |_, [b]| {
            for i in 0..w.inner {
                out.push(b + i * w.inner_strides[0]);
            }
        });
        out
    }

    #[test]
    fn contiguous_collapses_to_one_run() {
        let w = Walk::<1>::new(&[2, 3, 4], [&[12, 4, 1]], [5]);
        assert_eq!(w.runs(), 1);
        assert_eq!(w.inner, 24);
    }

    #[test]
    fn transposed_walk_visits_in_logical_order() {
        // [[0,1,2],[3,4,5]] transposed -> 0,3,1,4,2,5
        assert_eq!(offsets_of(&[3, 2], &[1, 3], 0), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn every_sub_range_matches_the_multi_index_definition() {
        // Three outer dims that cannot merge (a permuted view and a broadcast), so runs carry
        // over one and two dimensions; every start and end is tried.
        let shape = [2, 3, 4, 5];
        let a: [usize; 4] = [1, 40, 2, 8];
        let b: [usize; 4] = [0, 20, 5, 1];
        let w = Walk::<2>::new(&shape, [&a, &b], [7, 3]);
        assert_eq!((w.outer_dims().len(), w.runs(), w.inner), (3, 24, 5));
        let want = |run: usize| {
            let (i, j, k) = (run / 12, run / 4 % 3, run % 4);
            [
                7 + i * a[0] + j * a[1] + k * a[2],
                3 + i * b[0] + j * b[1] + k * b[2],
            ]
        };
        for start in 0..=24 {
            for end in start..=24 {
                let mut seen = vec![];
                w.for_runs(start..end, |r, base| seen.push((r, base)));
                let expected: Vec<_> = (start..end).map(|r| (r, want(r))).collect();
                assert_eq!(seen, expected, "runs {start}..{end}");
            }
        }
    }

    #[test]
    fn partial_range_starts_mid_way() {
        let w = Walk::<1>::new(&[3, 2, 2], [&[1, 6, 3]], [0]);
        let mut all = vec![];
        w.for_runs(0..w.runs(), |r, [b]| all.push((r, b)));
        let mut tail = vec![];
        w.for_runs(2..w.runs(), |r, [b]| tail.push((r, b)));
        assert_eq!(&all[2..], &tail[..]);
    }
}
