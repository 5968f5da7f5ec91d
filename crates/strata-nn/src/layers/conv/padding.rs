//! `Padding`: explicit zero padding, none (`Valid`) or `Same` (output size equals input
//! size), as PyTorch's `padding=` argument of `nn.Conv1d`/`nn.Conv2d`.

/// The zero padding of a convolution.
///
/// `Same` keeps the spatial size (stride 1 only, like PyTorch). When the total padding
/// `dilation·(kernel − 1)` of a dim is odd, the extra zero goes at the end (bottom/right),
/// exactly as PyTorch does.
///
/// ```
/// use strata_nn::Padding;
/// assert_eq!(Padding::from(1), Padding::Explicit(1, 1));
/// assert_eq!(Padding::from((2, 0)), Padding::Explicit(2, 0));
/// // A kernel of 4 needs 3 zeros in total: 1 before, 2 after.
/// assert_eq!(Padding::same_split(4, 1), (1, 2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Padding {
    /// No padding (PyTorch's `padding='valid'`, the same as `Explicit(0, 0)`).
    #[default]
    Valid,
    /// Pads so that the output has the input's spatial size (stride 1 only).
    Same,
    /// Zeros on both sides of each dim: `(height, width)`; a 1-D layer uses only the width.
    Explicit(usize, usize),
}

impl Padding {
    /// The `(before, after)` zeros that keep a dim's size for a kernel `kernel` with
    /// `dilation`: `dilation·(kernel − 1)` in total, the odd one at the end.
    pub fn same_split(kernel: usize, dilation: usize) -> (usize, usize) {
        let total = dilation.saturating_mul(kernel.saturating_sub(1));
        let before = total / 2;
        (before, total - before)
    }
}

impl From<usize> for Padding {
    fn from(p: usize) -> Padding {
        Padding::Explicit(p, p)
    }
}

impl From<(usize, usize)> for Padding {
    fn from((h, w): (usize, usize)) -> Padding {
        Padding::Explicit(h, w)
    }
}
