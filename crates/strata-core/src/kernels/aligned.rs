//! A buffer whose elements start on a 64-byte cache line.
//!
//! Matrix products split the columns of their output between threads. When the output's
//! rows do not start on a cache line, the line at a boundary between two threads' columns
//! holds both threads' elements, and the two cores pass it back and forth on every row (a
//! 256³ product ran 10 % slower with its output at malloc's 16-byte alignment). `matmul`
//! aligns its own outputs; kernels elsewhere that hand their own buffers to
//! [`gemm`](super::gemm::gemm) (recurrent gates, their gradients) use this type for them.

use std::ops::{Deref, DerefMut};

/// Bytes per cache line.
const LINE: usize = 64;

/// Elements of `T` to allocate beyond a buffer's length so that one of them starts a line.
pub(crate) fn line_pad<T>() -> usize {
    LINE.div_ceil(std::mem::size_of::<T>().max(1))
}

/// Elements from `ptr` to the first one that starts a line, at most [`line_pad`]. When no
/// offset can align the pointer (an element size that does not divide the line,
/// `align_offset` gives usize::MAX), the buffer starts at the pad instead: still in bounds.
pub(crate) fn line_offset<T>(ptr: *const T) -> usize {
    ptr.align_offset(LINE).min(line_pad::<T>())
}

/// A fixed-size buffer of `T` whose first element starts on a 64-byte line (for element
/// types whose size divides 64); it reads and writes as a slice.
///
/// ```
/// use strata_core::kernels::aligned::LineAligned;
/// let mut buf = LineAligned::<f32>::new(100);
/// assert_eq!(buf.len(), 100);
/// assert_eq!(buf.as_ptr() as usize % 64, 0);
/// buf[3] = 1.5;
/// assert_eq!(buf.iter().sum::<f32>(), 1.5);
/// ```
#[derive(Debug, Default)]
pub struct LineAligned<T> {
    data: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Copy + Default> LineAligned<T> {
    /// `len` elements, each `T::default()`.
    pub fn new(len: usize) -> LineAligned<T> {
        let data = vec![T::default(); len + line_pad::<T>()];
        let start = line_offset(data.as_ptr());
        LineAligned { data, start, len }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[T]) -> LineAligned<T> {
        let mut buf = LineAligned::new(values.len());
        buf.copy_from_slice(values);
        buf
    }

    /// The most elements [`set_len`](Self::set_len) can give this buffer.
    pub fn capacity(&self) -> usize {
        self.data.len() - self.start
    }

    /// Makes the buffer `len` elements long, keeping whatever values its memory holds (the
    /// values of earlier use, or `T::default()`). Returns `false`, changing nothing, when
    /// `len` exceeds [`capacity`](Self::capacity).
    pub fn set_len(&mut self, len: usize) -> bool {
        let fits = len <= self.capacity();
        if fits {
            self.len = len;
        }
        fits
    }
}

/// A copy with its own aligned start (a cloned `Vec` may sit elsewhere relative to a line).
impl<T: Copy + Default> Clone for LineAligned<T> {
    fn clone(&self) -> LineAligned<T> {
        LineAligned::from_slice(self)
    }
}

impl<T> Deref for LineAligned<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.data[self.start..self.start + self.len]
    }
}

impl<T> DerefMut for LineAligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.data[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_line_and_reads_like_a_slice() {
        for len in [0usize, 1, 15, 16, 17, 1000, 100_003] {
            let mut f = LineAligned::<f32>::new(len);
            assert_eq!(f.len(), len);
            assert_eq!(f.as_ptr() as usize % LINE, 0, "f32, {len}");
            assert!(f.iter().all(|&v| v == 0.0));
            for (i, v) in f.iter_mut().enumerate() {
                *v = i as f32;
            }
            let copy = LineAligned::from_slice(&f);
            assert_eq!(&copy[..], &f[..]);
            assert_eq!(copy.as_ptr() as usize % LINE, 0);
            let clone = f.clone();
            assert_eq!(&clone[..], &f[..]);
            assert_eq!(clone.as_ptr() as usize % LINE, 0);
            let d = LineAligned::<f64>::new(len);
            assert_eq!(d.as_ptr() as usize % LINE, 0, "f64, {len}");
        }
    }

    #[test]
    fn set_len_keeps_values_and_refuses_more_than_capacity() {
        let mut b = LineAligned::<i32>::new(10);
        b.copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert!(b.set_len(4));
        assert_eq!(&b[..], &[1, 2, 3, 4]);
        assert!(b.set_len(10));
        assert_eq!(b[9], 10, "values past a shorter length are kept");
        let cap = b.capacity();
        assert!(cap >= 10);
        assert!(!b.set_len(cap + 1));
        assert_eq!(b.len(), 10);
        // An element size that does not divide the line: usable, just not aligned.
        let odd = LineAligned::<[u8; 3]>::new(5);
        assert_eq!(odd.len(), 5);
    }
}
