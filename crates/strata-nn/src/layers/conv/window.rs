//! The construction-time check shared by the pooling layers: PyTorch's rules for a window
//! (kernel, stride and dilation at least 1, padding at most half the kernel).

use crate::{Error, Result};

/// Errors unless every dim's `(kernel, stride, padding, dilation)` is a valid pooling
/// window; `what` names the layer.
pub(super) fn check_window(
    what: &'static str,
    dims: &[(usize, usize, usize, usize)],
) -> Result<()> {
    for &(k, s, p, d) in dims {
        if k == 0 || s == 0 || d == 0 {
            return Err(Error::config(
                what,
                format!("kernel size {k}, stride {s} and dilation {d} must all be at least 1"),
            ));
        }
        if p > k / 2 {
            return Err(Error::config(
                what,
                format!("padding {p} must be at most half the kernel size {k}"),
            ));
        }
    }
    Ok(())
}
