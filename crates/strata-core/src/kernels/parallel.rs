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
    if num_threads() > 1 {
        crate::kernels::team::run(pieces, &f);
    } else {
        (0..pieces).for_each(f);
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
    let slots: Vec<parking_lot::Mutex<Option<I>>> = items
        .into_iter()
        .map(|i| parking_lot::Mutex::new(Some(i)))
        .collect();
    for_each_piece(slots.len(), |k| {
        if let Some(item) = slots[k].lock().take() {
            f(item);
        }
    });
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
    let parts: Vec<(usize, &mut [T])> = out
        .chunks_mut(chunk_len)
        .enumerate()
        .map(|(i, c)| (i * chunk_len, c))
        .collect();
    for_each_item(parts, |(start, c)| f(start, c));
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
    let runs: Vec<(usize, &mut [T])> = out
        .chunks_mut(per * item_len)
        .enumerate()
        .map(|(i, c)| (i * per, c))
        .collect();
    for_each_item(runs, |(first, run)| f(first, run));
}
