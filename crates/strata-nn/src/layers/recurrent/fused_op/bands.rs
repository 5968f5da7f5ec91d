//! The batch cut into bands of rows, one per thread, each run through every time step on
//! its own (`steal.rs` runs them): a batch row's recurrence never reads another row, so the
//! threads need not meet between steps.
//!
//! With the steps' products split by columns and their gate kernels by rows (what a batch
//! too small for bands still does), every step was two parallel regions, and half of each
//! step's gate rows came from the other core's cache. W3's recurrent product on 16 rows
//! runs at the same rate per thread as on 32 (113 GFLOP/s on a Zen 4 core, 97 % of its
//! FMA ceiling), so a band loses nothing in its products.

use strata_core::num_threads;

/// Fewest batch rows a band is given. A batch under twice this keeps the per-step split
/// between threads, which also serves a batch of one; bands of 8 and 16 rows ran their
/// W3-shaped products at the same rate per thread.
const MIN_BAND_ROWS: usize = 8;

/// Row boundaries of the bands of a batch of `rows`: `[0, …, rows]`, one band (`[0, rows]`)
/// when the batch is too small to share.
pub(super) fn edges(rows: usize) -> Vec<usize> {
    let bands = num_threads().min(rows / MIN_BAND_ROWS).max(1);
    (0..=bands).map(|k| rows * k / bands).collect()
}

/// `buf` (`[rows, width]`) cut at the row `edges`; empty pieces for an empty buffer (one a
/// configuration does not use).
pub(super) fn cut<'a, T>(buf: &'a mut [T], width: usize, edges: &[usize]) -> Vec<&'a mut [T]> {
    let bands = edges.len() - 1;
    if buf.is_empty() {
        return (0..bands).map(|_| <&mut [T]>::default()).collect();
    }
    let mut out = Vec::with_capacity(bands);
    let mut rest = buf;
    for k in 0..bands {
        let (piece, tail) = rest.split_at_mut((edges[k + 1] - edges[k]) * width);
        out.push(piece);
        rest = tail;
    }
    out
}

/// One band's rows of a buffer that holds a `width`-wide row for every batch row at every
/// step, reached step by step.
pub(super) enum Steps<'a, T> {
    /// Time-major buffer (`[steps, batch, width]`): the band's rows of each step, one block
    /// per step.
    Blocks(Vec<&'a mut [T]>),
    /// Batch-first buffer (`[batch, steps, width]`): the band's rows of every step in one
    /// chunk, where the rows of one step lie `steps` rows apart.
    Chunk {
        chunk: &'a mut [T],
        steps: usize,
        width: usize,
    },
}

impl<T> Default for Steps<'_, T> {
    /// No rows (a buffer a configuration does not use).
    fn default() -> Self {
        Steps::Blocks(Vec::new())
    }
}

impl<T> Steps<'_, T> {
    /// The band's rows of step `t`: `rows` rows, [`Order::row_step`] rows apart (from the
    /// first element of the first to the last of the last); empty for an empty buffer.
    pub(super) fn at(&mut self, t: usize) -> &mut [T] {
        match self {
            Steps::Blocks(blocks) => blocks.get_mut(t).map_or(&mut [], |b| &mut **b),
            Steps::Chunk {
                chunk,
                steps,
                width,
            } => {
                let rows = chunk.len() / (*steps * *width).max(1);
                if rows == 0 {
                    return &mut [];
                }
                let len = ((rows - 1) * *steps + 1) * *width;
                &mut chunk[t * *width..t * *width + len]
            }
        }
    }
}

impl<'a, T> Steps<'a, T> {
    /// Keeps the first `at` of the band's `rows` rows and returns the others' rows.
    pub(super) fn split_off(&mut self, at: usize, rows: usize) -> Steps<'a, T> {
        match self {
            Steps::Blocks(blocks) => Steps::Blocks(
                blocks
                    .iter_mut()
                    .map(|block| split_rows(block, at, rows))
                    .collect(),
            ),
            Steps::Chunk {
                chunk,
                steps,
                width,
            } => Steps::Chunk {
                chunk: split_rows(chunk, at, rows),
                steps: *steps,
                width: *width,
            },
        }
    }
}

/// Keeps the first `at` of the `rows` equal rows of `buf` and returns the others (nothing
/// for an empty buffer).
pub(super) fn split_rows<'a, T>(buf: &mut &'a mut [T], at: usize, rows: usize) -> &'a mut [T] {
    let all = std::mem::take(buf);
    let (kept, rest) = all.split_at_mut(all.len() / rows.max(1) * at);
    *buf = kept;
    rest
}

/// How the rows of all steps are laid out in the op's sequence buffers: the order of its
/// input (`[T, B, ·]`, or `[B, T, ·]` when batch-first), which its output, saved buffers and
/// gradients keep, so no transposition is ever needed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Order {
    pub steps: usize,
    pub batch: usize,
    pub batch_first: bool,
}

impl Order {
    /// Rows between batch rows `b` and `b + 1` of one step.
    pub(super) fn row_step(&self) -> usize {
        if self.batch_first {
            self.steps
        } else {
            1
        }
    }

    /// Index of the row of batch row `b` at step `t`.
    pub(super) fn row(&self, t: usize, b: usize) -> usize {
        if self.batch_first {
            b * self.steps + t
        } else {
            t * self.batch + b
        }
    }

    /// The elements of a `width`-wide sequence buffer that hold batch rows `first..first +
    /// rows` of step `t` (with other steps' rows between them when batch-first).
    pub(super) fn span(
        &self,
        t: usize,
        first: usize,
        rows: usize,
        width: usize,
    ) -> std::ops::Range<usize> {
        let start = self.row(t, first) * width;
        start..start + (rows.max(1) - 1) * self.row_step() * width + width
    }

    /// A sequence buffer (`width`-wide rows in this order) cut into the bands' [`Steps`];
    /// empty ones for an empty buffer.
    pub(super) fn cut<'a, T>(
        &self,
        buf: &'a mut [T],
        width: usize,
        edges: &[usize],
    ) -> Vec<Steps<'a, T>> {
        if self.batch_first {
            let steps = self.steps;
            return cut(buf, steps * width, edges)
                .into_iter()
                .map(|chunk| Steps::Chunk {
                    chunk,
                    steps,
                    width,
                })
                .collect();
        }
        let bands = edges.len() - 1;
        let mut out: Vec<Vec<&mut [T]>> = (0..bands).map(|_| Vec::new()).collect();
        if !buf.is_empty() {
            let block = edges[bands] * width;
            for step in buf.chunks_mut(block.max(1)).take(self.steps) {
                for (band, piece) in out.iter_mut().zip(cut(step, width, edges)) {
                    band.push(piece);
                }
            }
        }
        out.into_iter().map(Steps::Blocks).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_cover_every_row_once() {
        let edges = [0, 3, 7];
        let mut buf: Vec<u32> = (0..14).collect();
        let pieces = cut(&mut buf, 2, &edges);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], &[0, 1, 2, 3, 4, 5]);
        assert_eq!(pieces[1], &[6, 7, 8, 9, 10, 11, 12, 13]);
    }

    /// Every band reaches, at every step, exactly the rows `Order::row` puts there, in
    /// both layouts.
    #[test]
    fn steps_reach_the_rows_of_their_band() {
        let (steps, batch, width) = (3, 7, 2);
        let edges = [0, 3, 7];
        for batch_first in [false, true] {
            let order = Order {
                steps,
                batch,
                batch_first,
            };
            let mut buf: Vec<usize> = (0..steps * batch * width).collect();
            let mut bands = order.cut(&mut buf, width, &edges);
            for (k, band) in bands.iter_mut().enumerate() {
                for t in 0..steps {
                    let rows = band.at(t);
                    for b in edges[k]..edges[k + 1] {
                        let at = (b - edges[k]) * order.row_step() * width;
                        let row = order.row(t, b);
                        assert_eq!(rows[at..at + width], [row * width, row * width + 1]);
                        let span = order.span(t, edges[k], edges[k + 1] - edges[k], width);
                        assert!(span.contains(&(row * width)), "{batch_first} {t} {b}");
                    }
                    let last = (edges[k + 1] - edges[k] - 1) * order.row_step() * width;
                    assert_eq!(rows.len(), last + width);
                }
            }
            let mut empty = order.cut::<u32>(&mut [], width, &edges);
            assert!(empty.iter_mut().all(|b| b.at(1).is_empty()));
        }
    }
}
