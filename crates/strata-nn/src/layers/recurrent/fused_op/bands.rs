//! The batch cut into bands of rows, one per thread, each run through every time step on
//! its own: a batch row's recurrence never reads another row, so the threads need not meet
//! between steps.
//!
//! With the steps' products split by columns and their gate kernels by rows (what a batch
//! too small for bands still does), every step was two parallel regions, and half of each
//! step's gate rows came from the other core's cache. W3's recurrent product on 16 rows
//! runs at the same rate per thread as on 32 (113 GFLOP/s on a Zen 4 core, 97 % of its
//! FMA ceiling), so a band loses nothing in its products.

use strata_core::kernels::parallel::for_each_item;
use strata_core::{num_threads, Result};

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

/// `buf` (`[steps, rows, width]`) cut into `[band][step]` pieces; empty pieces for an empty
/// buffer.
pub(super) fn cut_steps<'a, T>(
    buf: &'a mut [T],
    steps: usize,
    width: usize,
    edges: &[usize],
) -> Vec<Vec<&'a mut [T]>> {
    let bands = edges.len() - 1;
    let mut out: Vec<Vec<&mut [T]>> = (0..bands).map(|_| Vec::with_capacity(steps)).collect();
    if buf.is_empty() {
        for band in &mut out {
            band.extend((0..steps).map(|_| <&mut [T]>::default()));
        }
        return out;
    }
    let block = edges[bands] * width;
    for step in buf.chunks_mut(block.max(1)).take(steps) {
        for (band, piece) in out.iter_mut().zip(cut(step, width, edges)) {
            band.push(piece);
        }
    }
    out
}

/// Runs `f` on every band: directly when there is one (its products and gate kernels then
/// share their own work between threads), else one band per thread.
pub(super) fn run<X: Send>(bands: Vec<X>, f: impl Fn(X) -> Result<()> + Sync) -> Result<()> {
    if bands.len() == 1 {
        return bands.into_iter().try_for_each(f);
    }
    let mut results: Vec<Result<()>> = (0..bands.len()).map(|_| Ok(())).collect();
    let items: Vec<(X, &mut Result<()>)> = bands.into_iter().zip(results.iter_mut()).collect();
    // Inside a band the team is taken, so its products and kernels run on its own thread.
    for_each_item(items, |(band, slot)| *slot = f(band));
    results.into_iter().collect()
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
        let mut steps: Vec<u32> = (0..28).collect();
        let bands = cut_steps(&mut steps, 2, 2, &edges);
        assert_eq!(bands[0][1], &[14, 15, 16, 17, 18, 19]);
        assert_eq!(bands[1][0], &[6, 7, 8, 9, 10, 11, 12, 13]);
        let empty = cut_steps::<u32>(&mut [], 2, 2, &edges);
        assert!(empty
            .iter()
            .all(|b| b.len() == 2 && b.iter().all(|s| s.is_empty())));
    }

    #[test]
    fn every_band_runs_and_errors_come_back() {
        let ran = std::sync::atomic::AtomicUsize::new(0);
        let bands: Vec<usize> = (0..4).collect();
        let out = run(bands, |k| {
            ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if k == 2 {
                Err(strata_core::Error::InvalidArgument {
                    op: "test",
                    arg: "band",
                    reason: "band 2 fails".into(),
                })
            } else {
                Ok(())
            }
        });
        assert_eq!(ran.into_inner(), 4);
        assert!(out.is_err());
    }
}
