//! Thread count and parallel chunking.
//!
//! The number of threads comes from `STRATA_NUM_THREADS` (default: all cores) and sizes
//! rayon's global pool the first time a kernel runs. Kernels split work only above a size
//! threshold, below which the scheduling overhead would cost more than it saves.

use std::sync::{Once, OnceLock};

/// Elements below which elementwise kernels stay on the calling thread.
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 15;

/// The number of worker threads kernels use: `STRATA_NUM_THREADS` if set (even when rayon's
/// global pool was started first with another size), else the number of cores (or the size
/// of a rayon global pool the application built first).
///
/// ```
/// assert!(strata_core::num_threads() >= 1);
/// ```
pub fn num_threads() -> usize {
    static HEAP: Once = Once::new();
    // The first kernel to run also sets up the heap for the kernels' buffers.
    HEAP.call_once(crate::kernels::alloc::keep_freed_memory);
    size_thread_pool()
}

/// Sizes rayon's global pool by [`num_threads`]'s rule and returns the count, without the
/// heap set-up kernels do. Code that runs rayon before any kernel (a data loader reading
/// files in parallel) calls it first: otherwise rayon starts its pool at its default size,
/// every core, and a run told to use one thread would use them all.
///
/// ```
/// assert_eq!(strata_core::size_thread_pool(), strata_core::num_threads());
/// ```
pub fn size_thread_pool() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        let explicit = std::env::var("STRATA_NUM_THREADS")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        let wanted = explicit.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        // If the application (or a library) started rayon's global pool already, that pool
        // stays; the kernels still use the count the user set, since they split their work
        // by this number and run it on their own team of threads.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(wanted)
            .build_global();
        explicit.unwrap_or_else(|| rayon::current_num_threads().max(1))
    })
}

/// Runs `f(i)` for every `i in 0..pieces`, sharing the pieces between the calling thread
/// and Strata's helper threads (`num_threads() - 1` of them). Unlike a rayon parallel
/// iterator called from outside rayon's pool, the caller works too and never sleeps, so a
/// region of a few tens of microseconds (one recurrent step) still gains from it. Pieces
/// are claimed one at a time, so give each thread a few. Called from inside a piece, or
/// while another thread uses the helpers, it runs the pieces on the calling thread.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let total = AtomicUsize::new(0);
/// strata_core::kernels::parallel::for_each_piece(8, |i| {
///     total.fetch_add(i, Ordering::Relaxed);
/// });
/// assert_eq!(total.into_inner(), 28);
/// ```
pub fn for_each_piece(pieces: usize, f: impl Fn(usize) + Sync) {
    run_pieces(pieces, &f)
}

/// [`for_each_piece`] behind a `dyn` call, compiled once rather than for every caller.
fn run_pieces(pieces: usize, f: &(dyn Fn(usize) + Sync)) {
    if num_threads() > 1 {
        crate::kernels::team::run(pieces, f);
    } else {
        for i in 0..pieces {
            f(i);
        }
    }
}

/// Hands each of `items` to `f`, on the calling thread and the helper threads as
/// [`for_each_piece`] does. Items are typically disjoint `&mut` parts of one buffer.
///
/// ```
/// let mut data = vec![1.0f32; 1000];
/// let parts: Vec<&mut [f32]> = data.chunks_mut(250).collect();
/// strata_core::kernels::parallel::for_each_item(parts, |part| part.iter_mut().for_each(|v| *v *= 2.0));
/// assert!(data.iter().all(|&v| v == 2.0));
/// ```
pub fn for_each_item<I: Send>(items: Vec<I>, f: impl Fn(I) + Sync) {
    // Piece `k` moves item `k` out of the vector, so the vector must not drop its items:
    // its length is set to zero once every piece has run. Should a piece panic, the items
    // no piece reached are leaked, never dropped twice.
    let mut items = std::mem::ManuallyDrop::new(items);
    let slots = Shared::new(&mut items[..]);
    for_each_piece(slots.len, |k| {
        // SAFETY: each piece index is handed out once, so item `k` is read once.
        f(unsafe { slots.take(k) })
    });
    // SAFETY: every item has been moved out above.
    unsafe { items.set_len(0) };
    drop(std::mem::ManuallyDrop::into_inner(items));
}

/// `n` zeros (`T::default()`), written by all threads when `n` is large: a serial fill of a
/// few MiB leaves the other cores waiting (the recurrent op's output and its input
/// gradient, 2.5 MiB a W3 step).
///
/// ```
/// let v: Vec<f32> = strata_core::kernels::parallel::zeros(100_000);
/// assert!(v.len() == 100_000 && v.iter().all(|&x| x == 0.0));
/// ```
pub fn zeros<T: crate::Element>(n: usize) -> Vec<T> {
    if n < 2 * PAR_MIN_ELEMS {
        return vec![T::default(); n];
    }
    crate::kernels::alloc::filled(n, |slots| {
        for_each_chunk_mut(slots, PAR_MIN_ELEMS, |_, chunk| {
            for slot in chunk {
                slot.write(T::default());
            }
        })
    })
}

/// Calls `f(i, part)` for each `part` of `out.chunks_mut(part_len)` (`i` counts the parts),
/// on the calling thread and the helper threads as [`for_each_piece`] does.
///
/// Unlike collecting the parts into a vector for [`for_each_item`], this allocates nothing
/// and is one small generic function per caller: the elementwise kernels instantiate it for
/// every operation, so its size is paid in compile time many times over.
///
/// ```
/// let mut data = vec![0usize; 10];
/// strata_core::kernels::parallel::for_each_part_mut(&mut data, 4, |i, part| part.fill(i));
/// assert_eq!(data, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
/// ```
pub fn for_each_part_mut<T: Send>(
    out: &mut [T],
    part_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let part_len = part_len.max(1);
    let parts = Shared::new(out);
    let len = parts.len;
    for_each_piece(len.div_ceil(part_len), |i| {
        let start = i * part_len;
        // SAFETY: each piece index is handed out once, and piece `i` owns its own range.
        f(i, unsafe {
            parts.range(start, (start + part_len).min(len))
        });
    });
}

/// A buffer whose disjoint parts are handed to different threads. The `for_each_*`
/// helpers above are the only users; each proves its parts disjoint.
struct Shared<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: `Shared` hands out each element to one thread only (see `range` and `take`), so it
// is as shareable as a `&mut [T]` split into parts: `T` must be `Send`.
unsafe impl<T: Send> Sync for Shared<'_, T> {}

impl<'a, T> Shared<'a, T> {
    fn new(s: &'a mut [T]) -> Self {
        Shared {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _borrow: std::marker::PhantomData,
        }
    }

    /// Elements `start..end`.
    ///
    /// # Safety
    /// No other live reference from this `Shared` may overlap the range.
    unsafe fn range(&self, start: usize, end: usize) -> &'a mut [T] {
        assert!(
            start <= end && end <= self.len,
            "part {start}..{end} of {}",
            self.len
        );
        std::slice::from_raw_parts_mut(self.ptr.add(start), end - start)
    }

    /// Moves element `k` out.
    ///
    /// # Safety
    /// Each element may be taken once, and not used through the buffer afterwards.
    unsafe fn take(&self, k: usize) -> T {
        assert!(k < self.len, "item {k} of {}", self.len);
        self.ptr.add(k).read()
    }
}

/// Splits `out` into contiguous chunks of at least `min_chunk` elements and calls
/// `f(start_index, chunk)` on each, in parallel when there is more than one chunk.
pub(crate) fn for_each_chunk_mut<T: Send>(
    out: &mut [T],
    min_chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let len = out.len();
    let threads = num_threads();
    let chunks = (len / min_chunk.max(1)).clamp(1, threads * 2);
    if chunks <= 1 || threads == 1 {
        f(0, out);
        return;
    }
    let chunk_len = len.div_ceil(chunks);
    for_each_part_mut(out, chunk_len, |i, c| f(i * chunk_len, c));
}

/// Splits `out` into runs of whole items of `item_len` elements, about four runs per thread,
/// and calls `f(first_item, run)` on each in parallel. Callers decide beforehand whether the
/// work is worth going parallel; grouping items into runs keeps the per-piece cost low when
/// there are many small items.
pub(crate) fn for_each_run_mut<T: Send>(
    out: &mut [T],
    item_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let item_len = item_len.max(1);
    let items = out.len().div_ceil(item_len);
    let per = items.div_ceil(4 * num_threads()).max(1);
    for_each_part_mut(out, per * item_len, |i, run| f(i * per, run));
}
