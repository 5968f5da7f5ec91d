//! Output buffers for kernels, with recycling of very large ones.
//!
//! Every op writes a fresh buffer. For buffers above glibc's largest mmap threshold (32 MiB)
//! each allocation is a new `mmap`, and writing it takes one page fault per 4 KiB: that
//! alone halves the speed of a large elementwise op. So storages of at least
//! [`RECYCLE_MIN_BYTES`] hand their buffer back here when dropped, and the next kernel that
//! needs a buffer of about that size takes it instead of mapping new memory. Smaller
//! buffers go straight to the allocator, which already reuses them well.

use crate::storage::StorageData;
use parking_lot::Mutex;

/// Buffers at least this large are recycled.
pub(crate) const RECYCLE_MIN_BYTES: usize = 16 << 20;
/// At most this many bytes wait in the pool; beyond it the oldest buffers are freed.
const POOL_MAX_BYTES: usize = 1 << 30;

static POOL: Mutex<Vec<StorageData>> = Mutex::new(Vec::new());

fn capacity_bytes(d: &StorageData) -> usize {
    match d {
        StorageData::F32(v) => v.capacity() * 4,
        StorageData::F64(v) => v.capacity() * 8,
        StorageData::I64(v) => v.capacity() * 8,
        StorageData::Bool(v) => v.capacity(),
    }
}

/// Takes back a storage's buffer (called when a storage is dropped).
pub(crate) fn recycle(data: StorageData) {
    let bytes = capacity_bytes(&data);
    if bytes < RECYCLE_MIN_BYTES {
        return;
    }
    let mut pool = POOL.lock();
    pool.push(data);
    let mut total: usize = pool.iter().map(capacity_bytes).sum();
    while total > POOL_MAX_BYTES && !pool.is_empty() {
        total -= capacity_bytes(&pool.remove(0));
    }
}

/// A buffer of the element type `T` with room for `n` elements and length 0: its contents
/// are uninitialised, so callers write every element (through `spare_capacity_mut`) and then
/// `set_len(n)`.
pub(crate) fn with_capacity<T: crate::Element>(n: usize) -> Vec<T> {
    if n * std::mem::size_of::<T>() >= RECYCLE_MIN_BYTES {
        let mut pool = POOL.lock();
        // The smallest pooled buffer of this type that fits without wasting half of it.
        let best = pool
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let cap = capacity_bytes(d) / std::mem::size_of::<T>().max(1);
                (d.dtype() == T::DTYPE && cap >= n && cap <= 2 * n).then_some((i, cap))
            })
            .min_by_key(|&(_, cap)| cap);
        if let Some((i, _)) = best {
            let data = pool.swap_remove(i);
            let mut v = T::take_vec(data);
            v.clear();
            return v;
        }
    }
    Vec::with_capacity(n)
}

/// Room for `n` elements starting on a cache line (why: `aligned.rs`), recycled like
/// [`with_capacity`]: the vector (length `offset`, its first `offset` elements zeroed) and
/// the `offset` at which the `n` elements go. Fill them with `spare_capacity_mut()[..n]`,
/// then `set_len(offset + n)`.
pub(crate) fn with_capacity_aligned<T: crate::Element>(n: usize) -> (Vec<T>, usize) {
    let mut v = with_capacity::<T>(n + super::aligned::line_pad::<T>());
    let offset = super::aligned::line_offset(v.as_ptr());
    v.resize(offset, T::default());
    (v, offset)
}

/// A buffer of `n` elements, every one written by `fill` (which receives the uninitialised
/// slots and must write all of them).
pub(crate) fn filled<T: crate::Element>(
    n: usize,
    fill: impl FnOnce(&mut [std::mem::MaybeUninit<T>]),
) -> Vec<T> {
    let mut v = with_capacity::<T>(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: `fill` wrote all `n` slots (every caller in this crate covers the whole slice
    // it is given: contiguous chunks or walks whose runs tile the output exactly).
    unsafe { v.set_len(n) };
    v
}

/// Zeroes `slots` and returns them as values: for a part of a [`filled`] buffer that one
/// thread clears and then accumulates into, while it is in that core's cache.
pub(crate) fn zeroed<T: crate::FloatElement>(slots: &mut [std::mem::MaybeUninit<T>]) -> &mut [T] {
    for s in slots.iter_mut() {
        s.write(T::zero());
    }
    // SAFETY: every slot was written just above, and `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(slots as *mut [std::mem::MaybeUninit<T>] as *mut [T]) }
}

/// Keeps freed memory in the process instead of handing it back to the kernel.
///
/// A training step frees and reallocates the same large buffers every iteration. glibc's
/// defaults return freed heap memory to the kernel (trimming) and map large blocks afresh,
/// so every step pays a page fault per 4 KiB again: 10% of the W3 benchmark's time. Raising
/// the trim threshold and fixing the mmap threshold at its maximum keeps that memory mapped
/// for reuse (the process keeps its peak heap size). Set `STRATA_KEEP_HEAP=0` to keep
/// glibc's defaults. Other platforms are left alone.
pub(crate) fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var("STRATA_KEEP_HEAP").is_ok_and(|v| v.trim() == "0") {
            return;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: `mallopt` only adjusts allocator tuning parameters; both values are
        // within the ranges glibc documents (the mmap threshold's maximum is 32 MiB on
        // 64-bit targets).
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}
