//! Shared pieces of the fused updates: running an update over matching chunks of the
//! weight, gradient and state slices (in parallel for large tensors), and hyperparameter
//! checks.

use crate::{Error, Result};
use strata_core::kernels::parallel::for_each_item;
use strata_core::{num_threads, FloatElement};

/// Elements below which an update stays on the calling thread (the scheduling overhead would
/// cost more than it saves).
const PAR_MIN_ELEMS: usize = 1 << 15;

/// Matching runs of one parameter's weights, gradient and state buffers (those the rule's
/// configuration updates, in its order), all of one length: what an update loop works on.
pub(crate) struct Chunk<'a, 'b, T> {
    w: &'a mut [T],
    g: &'a [T],
    bufs: &'a mut [&'b mut [T]],
}

impl<'a, T> Chunk<'a, '_, T> {
    /// The weights, the gradient and `N` buffers, each sliced to the weights' length so the
    /// compiler can drop the bounds checks of a loop over it. Buffer `k` is the chunk's next
    /// buffer when `present[k]` and empty when not (one this configuration leaves out);
    /// `None` if the chunk holds fewer buffers or shorter slices than that.
    #[inline(always)]
    pub(crate) fn split<const N: usize>(self, present: [bool; N]) -> Option<SplitChunk<'a, T, N>> {
        let n = self.w.len();
        let g = self.g.get(..n)?;
        let mut rest = self.bufs.iter_mut();
        let mut complete = true;
        let bufs = present.map(|p| {
            if !p {
                return &mut [][..];
            }
            match rest.next().and_then(|b| b.get_mut(..n)) {
                Some(b) => b,
                None => {
                    complete = false;
                    &mut [][..]
                }
            }
        });
        complete.then_some((self.w, g, bufs))
    }
}

/// A chunk's weights, gradient and `N` buffers, from [`Chunk::split`].
pub(crate) type SplitChunk<'a, T, const N: usize> = (&'a mut [T], &'a [T], [&'a mut [T]; N]);

/// One fused update over a [`Chunk`].
pub(crate) type ChunkUpdate<'a, T> = dyn Fn(Chunk<'_, '_, T>) + Sync + 'a;

/// `x`, or zero when its magnitude is below `tiny` (pass `T::min_positive_value()` to flush
/// subnormals, zero to keep everything).
///
/// State that decays geometrically while its gradient is zero (Adam's moments, RMSprop's
/// averages, a momentum buffer: an MNIST pixel that is blank in every image of many
/// batches) enters the subnormal range after a few hundred steps, and arithmetic on
/// subnormals is many times slower on x86: W1-b16's Adam update took 243 µs a step at first
/// and 536 µs after 2,700 steps (AMD EPYC Zen 4, one thread); with this flush 280–380 µs
/// throughout (the compares cost a little before anything is subnormal), with the CPU's own
/// flush-to-zero mode 230 µs, but that mode is not Rust's to set. What a subnormal moment
/// or momentum would add to a weight (in f32 at most about 10⁻²⁸ with Adam's default
/// eps and a learning rate up to 1) is below the last bit of any weight above 10⁻²⁰.
#[inline(always)]
pub(crate) fn flush_below<T: FloatElement>(x: T, tiny: T) -> T {
    if x.abs() < tiny {
        T::zero()
    } else {
        x
    }
}

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
        update(Chunk { w, g, bufs });
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
    for_each_item(parts, |(w, g, mut bufs)| {
        update(Chunk {
            w,
            g,
            bufs: &mut bufs,
        })
    });
}

/// The gradient as every update rule first takes it, in the parameter's dtype: negated when
/// maximising, plus the coupled (L2) weight-decay term `weight_decay · w`.
#[derive(Clone, Copy)]
pub(crate) struct GradTerm<T> {
    sign: T,
    weight_decay: T,
}

impl<T: FloatElement> GradTerm<T> {
    pub(crate) fn new(maximize: bool, weight_decay: f64) -> GradTerm<T> {
        GradTerm {
            sign: T::from_f64(if maximize { -1.0 } else { 1.0 }),
            weight_decay: T::from_f64(weight_decay),
        }
    }

    /// `±g`, plus `weight_decay · w` when `DECAY` (a const, so the loops that call this
    /// have no branch).
    #[inline(always)]
    pub(crate) fn at<const DECAY: bool>(&self, g: T, w: T) -> T {
        let d = g * self.sign;
        if DECAY {
            d + self.weight_decay * w
        } else {
            d
        }
    }
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
        for_chunks(&mut w, &g, &mut bufs, &|c| {
            let (w, g, [m]) = c.split([true]).unwrap();
            for ((w, g), m) in w.iter_mut().zip(g).zip(m.iter_mut()) {
                *w += g;
                *m += g + 1.0;
            }
        });
        assert!(w.iter().enumerate().all(|(i, &x)| x == i as f64));
        // Each buffer chunk is the one that matches its weight chunk.
        assert!(m.iter().enumerate().all(|(i, &x)| x == i as f64 + 2.0));
    }

    #[test]
    fn split_gives_present_buffers_in_order_and_empty_absent_ones() {
        let (mut w, g) = ([1.0f32; 3], [2.0f32; 3]);
        let (mut a, mut b) = ([3.0f32; 3], [4.0f32; 3]);
        let mut bufs: Vec<&mut [f32]> = vec![&mut a, &mut b];
        let c = Chunk {
            w: &mut w,
            g: &g,
            bufs: &mut bufs,
        };
        let (w, g, [x, y, z]) = c.split([true, false, true]).unwrap();
        assert_eq!((w.len(), g.len()), (3, 3));
        assert_eq!((x[0], y.len(), z[0]), (3.0, 0, 4.0));
        // Asking for more buffers than the chunk holds is refused, not a panic.
        let mut c = [3.0f32; 3];
        let mut bufs: Vec<&mut [f32]> = vec![&mut c];
        let mut w = [1.0f32; 3];
        let chunk = Chunk {
            w: &mut w,
            g,
            bufs: &mut bufs,
        };
        assert!(chunk.split([true, true]).is_none());
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
