//! Shared pieces of the fused updates: running an update over matching chunks of the
//! weight, gradient and state slices (in parallel for large tensors), and hyperparameter
//! checks.

use crate::{Error, Result};
use strata_core::kernels::parallel::for_each_item;
use strata_core::num_threads;

/// Elements below which an update stays on the calling thread (the scheduling overhead would
/// cost more than it saves).
const PAR_MIN_ELEMS: usize = 1 << 15;

/// One fused update over a chunk: `(weights, gradients, state buffers)`, all the same length.
pub(crate) type ChunkUpdate<'a, T> = dyn Fn(&mut [T], &[T], &mut [&mut [T]]) + Sync + 'a;

/// Calls `update` on matching chunks of `w`, `g` and every buffer in `bufs` (all of the same
/// length). Large tensors are split into up to two chunks per thread and run in parallel;
/// each element is visited exactly once, so the result does not depend on the split.
pub(crate) fn for_chunks<T: Send + Sync>(
    w: &mut [T],
    g: &[T],
    bufs: &mut [&mut [T]],
    update: &ChunkUpdate<'_, T>,
) {
    debug_assert!(g.len() == w.len() && bufs.iter().all(|b| b.len() == w.len()));
    let threads = num_threads();
    let pieces = (w.len() / PAR_MIN_ELEMS).clamp(1, 2 * threads);
    if pieces <= 1 || threads == 1 {
        update(w, g, bufs);
        return;
    }
    let chunk = w.len().div_ceil(pieces);
    // Chunk `i` of every buffer goes with chunk `i` of the weights.
    let mut buf_chunks: Vec<_> = bufs.iter_mut().map(|b| b.chunks_mut(chunk)).collect();
    let parts: Vec<(_, _, Vec<_>)> = w
        .chunks_mut(chunk)
        .zip(g.chunks(chunk))
        .map(|(w, g)| {
            (
                w,
                g,
                buf_chunks.iter_mut().filter_map(Iterator::next).collect(),
            )
        })
        .collect();
    for_each_item(parts, |(w, g, mut bufs)| update(w, g, &mut bufs));
}

/// A learning rate (or any non-negative rate): finite and `>= 0`.
pub(crate) fn check_non_negative(what: &'static str, name: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            what,
            format!("{name} must be a finite number >= 0, got {value}"),
        ))
    }
}

/// A decay rate such as Adam's betas or RMSprop's alpha: in `[0, 1)`.
pub(crate) fn check_unit_interval(what: &'static str, name: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::config(
            what,
            format!("{name} must be in [0, 1), got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_element_once() {
        let n = 5 * PAR_MIN_ELEMS + 17;
        let mut w = vec![0.0f64; n];
        let g: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut m = vec![1.0f64; n];
        let mut bufs: Vec<&mut [f64]> = vec![&mut m];
        for_chunks(&mut w, &g, &mut bufs, &|w, g, bufs| {
            for ((w, g), m) in w.iter_mut().zip(g).zip(bufs[0].iter_mut()) {
                *w += g;
                *m += g + 1.0;
            }
        });
        assert!(w.iter().enumerate().all(|(i, &x)| x == i as f64));
        // Each buffer chunk is the one that matches its weight chunk.
        assert!(m.iter().enumerate().all(|(i, &x)| x == i as f64 + 2.0));
    }

    #[test]
    fn checks_name_the_value() {
        let e = check_non_negative("SGD", "lr", -0.1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SGD: invalid configuration: lr must be a finite number >= 0, got -0.1"
        );
        assert!(check_non_negative("SGD", "lr", f64::NAN).is_err());
        assert!(check_unit_interval("Adam", "beta1", 1.0).is_err());
        assert!(check_unit_interval("Adam", "beta1", 0.0).is_ok());
    }
}
