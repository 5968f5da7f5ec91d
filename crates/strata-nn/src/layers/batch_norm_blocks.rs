//! The geometry of a contiguous `[N, C, S]` buffer (as the batch-normalisation op views
//! its input) and the parallel loops over its `(n, c)` blocks of `S` contiguous values.

use std::ops::Range;
use strata_core::kernels::parallel::for_each_item;
use strata_core::num_threads;

/// Elements below which the kernels stay on the calling thread.
const PAR_MIN_ELEMS: usize = 1 << 15;

/// The geometry of a contiguous `[N, C, S]` buffer and the parallel loops over its
/// `(n, c)` blocks of `S` contiguous values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blocks {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) s: usize,
}

impl Blocks {
    pub(crate) fn of(shape: &[usize]) -> Blocks {
        Blocks {
            n: shape[0],
            c: shape[1],
            s: shape[2..].iter().product(),
        }
    }

    pub(crate) fn numel(&self) -> usize {
        self.n * self.c * self.s
    }

    /// Values per channel (M).
    pub(crate) fn per_channel(&self) -> usize {
        self.n * self.s
    }

    /// How many parallel tasks the buffer is worth (1 = stay on this thread).
    fn tasks(&self) -> usize {
        let threads = num_threads();
        if threads == 1 {
            return 1;
        }
        (self.numel() / PAR_MIN_ELEMS).clamp(1, 2 * threads)
    }

    /// Per-channel pairs of sums: `f(acc, offset, channels)` adds the contributions of the
    /// contiguous run of `channels` of one row, starting at `offset`, into `acc[c]`.
    pub(crate) fn reduce(
        &self,
        f: impl Fn(&mut [(f64, f64)], usize, Range<usize>) + Sync,
    ) -> Vec<(f64, f64)> {
        let Blocks { n, c: ch, s } = *self;
        let run = |rows: Range<usize>, channels: Range<usize>| {
            let mut acc = vec![(0.0, 0.0); ch];
            for i in rows {
                f(&mut acc, (i * ch + channels.start) * s, channels.clone());
            }
            acc
        };
        let tasks = self.tasks();
        if tasks == 1 || self.numel() == 0 {
            return run(0..n, 0..ch);
        }
        // Many rows: split the rows; few rows: split the channels.
        let ranges: Vec<(Range<usize>, Range<usize>)> = if n >= tasks {
            split(n, tasks).into_iter().map(|r| (r, 0..ch)).collect()
        } else {
            split(ch, tasks).into_iter().map(|c| (0..n, c)).collect()
        };
        let mut partials = vec![Vec::new(); ranges.len()];
        let parts: Vec<_> = ranges.into_iter().zip(&mut partials).collect();
        for_each_item(parts, |((rows, channels), slot)| {
            *slot = run(rows, channels)
        });
        // Added in range order: the result does not depend on timing.
        let mut acc = vec![(0.0, 0.0); ch];
        for p in partials {
            for (x, y) in acc.iter_mut().zip(p) {
                x.0 += y.0;
                x.1 += y.1;
            }
        }
        acc
    }

    /// Calls `f(out_run, offset, channels)` for disjoint contiguous runs covering `out` (laid
    /// out like the input): whole rows, or single blocks when there are few rows.
    pub(crate) fn for_each_run_mut<T: Send>(
        &self,
        out: &mut [T],
        f: impl Fn(&mut [T], usize, Range<usize>) + Sync,
    ) {
        let Blocks { n, c: ch, s } = *self;
        let row_len = ch * s;
        if self.numel() == 0 {
            return;
        }
        let rows = |first: usize, chunk: &mut [T]| {
            for (k, row) in chunk.chunks_mut(row_len).enumerate() {
                f(row, (first + k) * row_len, 0..ch);
            }
        };
        let tasks = self.tasks();
        if tasks == 1 {
            rows(0, out);
        } else if n >= tasks {
            let per = n.div_ceil(tasks);
            let parts: Vec<_> = out.chunks_mut(per * row_len).enumerate().collect();
            for_each_item(parts, |(t, chunk)| rows(t * per, chunk));
        } else {
            // Runs of `min_blocks` consecutive `(n, c)` blocks.
            let min_blocks = (PAR_MIN_ELEMS / 4 / s).max(1);
            let parts: Vec<_> = out.chunks_mut(min_blocks * s).enumerate().collect();
            for_each_item(parts, |(t, run)| {
                for (j, block) in run.chunks_mut(s).enumerate() {
                    let b = t * min_blocks + j;
                    f(block, b * s, b % ch..b % ch + 1);
                }
            });
        }
    }
}

/// `0..len` cut into at most `parts` nearly equal non-empty ranges.
fn split(len: usize, parts: usize) -> Vec<Range<usize>> {
    let per = len.div_ceil(parts.max(1)).max(1);
    (0..len)
        .step_by(per)
        .map(|start| start..(start + per).min(len))
        .collect()
}
