//! Shared helpers: reading a `[C, H, W]` f32 tensor as a slice and building the result.

use crate::{DataError, Result};
use strata_core::{DType, Tensor};

/// The size of an image tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Dims {
    pub(crate) fn plane(&self) -> usize {
        self.h * self.w
    }
}

/// Runs `f` on the dims and the row-major elements of `image`, which must be an f32
/// tensor `[C, H, W]`.
pub(crate) fn with_image<R>(
    image: &Tensor,
    op: &'static str,
    f: impl FnOnce(Dims, &[f32]) -> Result<R>,
) -> Result<R> {
    if image.dtype() != DType::F32 || image.ndim() != 3 {
        return Err(DataError::invalid(
            op,
            format!(
                "expected an f32 image [C, H, W], got {} {:?}",
                image.dtype(),
                image.shape()
            ),
        ));
    }
    let dims = Dims {
        c: image.shape()[0],
        h: image.shape()[1],
        w: image.shape()[2],
    };
    if image.numel() == 0 {
        // strata-core reports empty tensors (a zero dim) as non-contiguous, so `read` fails.
        return f(dims, &[]);
    }
    let image = image.contiguous();
    let data = image.read::<f32>()?;
    f(dims, &data)
}

/// An f32 tensor `[C, H, W]` from its elements.
pub(crate) fn make(dims: Dims, data: Vec<f32>) -> Result<Tensor> {
    Ok(Tensor::from_vec(data, &[dims.c, dims.h, dims.w])?)
}

/// An error unless `lo <= hi` and both are finite.
pub(crate) fn check_range(op: &'static str, name: &str, lo: f64, hi: f64) -> Result<()> {
    if !lo.is_finite() || !hi.is_finite() || lo > hi {
        return Err(DataError::invalid(
            op,
            format!("{name} range needs finite low <= high, got ({lo}, {hi})"),
        ));
    }
    Ok(())
}

/// An error unless `p` is a probability.
pub(crate) fn check_probability(op: &'static str, p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(DataError::invalid(
            op,
            format!("probability {p} is not in [0, 1]"),
        ));
    }
    Ok(())
}

/// Uniform in `[lo, hi)` (exactly `lo` when the range is empty).
pub(crate) fn uniform_in(rng: &mut strata_core::Generator, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}

#[cfg(test)]
pub(crate) mod test_images {
    use strata_core::Tensor;

    /// A 1-channel image that is zero except for `value` at (`y`, `x`).
    pub fn dot(h: usize, w: usize, y: usize, x: usize, value: f32) -> Tensor {
        let mut v = vec![0.0f32; h * w];
        v[y * w + x] = value;
        Tensor::from_vec(v, &[1, h, w]).unwrap()
    }

    /// The (y, x) positions of elements of channel 0 above `threshold`.
    pub fn bright(t: &Tensor, threshold: f32) -> Vec<(usize, usize)> {
        let w = t.shape()[2];
        let h = t.shape()[1];
        let v = t.to_vec::<f32>().unwrap();
        (0..h * w)
            .filter(|&i| v[i] > threshold)
            .map(|i| (i / w, i % w))
            .collect()
    }
}
