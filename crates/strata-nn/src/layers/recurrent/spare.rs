//! Spare buffers for the recurrent op: the large per-call buffers (gate activations, saved
//! states, gate gradients) come back here when a call's graph is freed and serve the next
//! call, without being cleared.
//!
//! A training step allocates and frees the same buffers of several MiB each time. Fresh
//! zeroed buffers cost a full write pass over memory that is not in any cache (about a tenth
//! of an LSTM training step); a spare one costs nothing. The values a spare buffer holds are
//! stale but initialised: callers overwrite every element they later read, and clear what
//! they rely on being zero themselves.
//!
//! The buffers start on a cache line (`LineAligned`): products write them in bands of
//! columns from two threads, which would otherwise share the line at each band boundary.

use parking_lot::Mutex;
use std::any::Any;
use strata_core::kernels::aligned::LineAligned;

/// Most bytes kept waiting; beyond it the oldest spares are freed.
const MAX_BYTES: usize = 256 << 20;

struct Spare {
    bytes: usize,
    buf: Box<dyn Any + Send>,
}

static SPARES: Mutex<Vec<Spare>> = Mutex::new(Vec::new());

/// A buffer of `n` elements: a spare one (stale values) when one of this type can hold `n`
/// and at most `2n` elements, else a zeroed one.
pub(crate) fn take<T: Copy + Default + Send + 'static>(n: usize) -> LineAligned<T> {
    let mut spares = SPARES.lock();
    let fits = |s: &Spare| {
        s.buf
            .downcast_ref::<LineAligned<T>>()
            .map(|v| (v.capacity() >= n && v.capacity() <= 2 * n).then_some(v.capacity()))
    };
    let best = spares
        .iter()
        .enumerate()
        .filter_map(|(i, s)| fits(s).flatten().map(|cap| (i, cap)))
        .min_by_key(|&(_, cap)| cap);
    if let Some((i, _)) = best {
        let spare = spares.swap_remove(i);
        if let Ok(v) = spare.buf.downcast::<LineAligned<T>>() {
            let mut v = *v;
            if v.set_len(n) {
                return v;
            }
        }
    }
    drop(spares);
    LineAligned::new(n)
}

/// Keeps `v` for a later [`take`]. Small buffers are simply dropped.
pub(crate) fn give<T: Copy + Default + Send + 'static>(v: LineAligned<T>) {
    let bytes = std::mem::size_of::<T>() * v.capacity();
    if bytes < MIN_BYTES {
        return;
    }
    let mut spares = SPARES.lock();
    spares.push(Spare {
        bytes,
        buf: Box::new(v),
    });
    let mut total: usize = spares.iter().map(|s| s.bytes).sum();
    while total > MAX_BYTES {
        total -= spares.remove(0).bytes;
    }
}

/// Buffers smaller than this are cheap to allocate afresh.
const MIN_BYTES: usize = 256 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_with_the_requested_length() {
        // An unusual length and type, so parallel tests cannot take it first.
        let n = 200_017;
        let mut spare = LineAligned::new(n + 10);
        spare.fill(7u16);
        give(spare);
        let v: LineAligned<u16> = take(n);
        assert_eq!(v.len(), n);
        assert_eq!(v.as_ptr() as usize % 64, 0);
        assert!(v.iter().all(|&x| x == 7), "the spare itself, values kept");
        // Nothing of that type left: the next one is fresh and zeroed.
        let w: LineAligned<u16> = take(n);
        assert!(w.iter().all(|&x| x == 0));
    }

    #[test]
    fn buffers_of_another_type_or_far_larger_are_not_taken() {
        let n = 200_003;
        let mut spare = LineAligned::new(3 * n);
        spare.fill(1i32);
        give(spare);
        let v: LineAligned<i32> = take(n);
        assert!(v.iter().all(|&x| x == 0), "three times too large: fresh");
        let f: LineAligned<u64> = take(n);
        assert!(f.iter().all(|&x| x == 0));
        let u: LineAligned<i32> = take(3 * n);
        assert_eq!(u.len(), 3 * n);
        assert!(u.iter().all(|&x| x == 1));
    }

    #[test]
    fn small_buffers_are_not_kept() {
        let mut small = LineAligned::new(1000);
        small.fill(9i8);
        give(small);
        let v: LineAligned<i8> = take(1000);
        assert!(v.iter().all(|&x| x == 0));
    }
}
