//! `Size2d`: a spatial size given as one number (square) or as `(height, width)`, the way
//! PyTorch's layers accept `kernel_size=3` or `kernel_size=(3, 5)`.

/// A 2-D size, stride or dilation: `3` means `(3, 3)`, `(3, 5)` means height 3, width 5.
///
/// ```
/// use strata_nn::Size2d;
/// assert_eq!(3.into_pair(), (3, 3));
/// assert_eq!((3, 5).into_pair(), (3, 5));
/// ```
pub trait Size2d {
    /// The `(height, width)` pair.
    fn into_pair(self) -> (usize, usize);
}

impl Size2d for usize {
    fn into_pair(self) -> (usize, usize) {
        (self, self)
    }
}

impl Size2d for (usize, usize) {
    fn into_pair(self) -> (usize, usize) {
        self
    }
}
