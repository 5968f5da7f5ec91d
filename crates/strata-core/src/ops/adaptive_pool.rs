//! Adaptive average pooling (`adaptive_avg_pool2d`, `global_avg_pool2d`): the window sizes
//! follow from the requested output size, with PyTorch's bins. Forward and backward are the
//! average-pool kernels of `avg_pool.rs`.

use super::avg_pool::{avg_pool, AvgWindows, Span};
use crate::{Error, Result, Tensor};

impl AvgWindows {
    /// Adaptive bins: output `i` of `n_out` averages `floor(i·size/n_out)..ceil((i+1)·size/n_out)`.
    pub(super) fn adaptive_spans(n_out: usize, size: usize) -> Vec<Span> {
        (0..n_out)
            .map(|i| {
                let start = i * size / n_out;
                let end = ((i + 1) * size).div_ceil(n_out);
                Span {
                    start,
                    end,
                    padded: end - start,
                }
            })
            .collect()
    }
}

impl Tensor {
    /// Adaptive average pooling (as `torch.nn.functional.adaptive_avg_pool2d`) of an input
    /// `[N, C, H, W]` or `[C, H, W]` to `out_h × out_w`: output row `i` averages input rows
    /// `floor(i·H/out_h)..ceil((i+1)·H/out_h)` (likewise for columns), so bins may overlap.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::arange(0.0, 6.0, 1.0)?.reshape(&[1, 1, 2, 3])?;
    /// let y = x.adaptive_avg_pool2d(1, 2)?; // column bins 0..2 and 1..3
    /// assert_eq!(y.to_vec::<f32>()?, vec![2.0, 3.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn adaptive_avg_pool2d(&self, out_h: usize, out_w: usize) -> Result<Tensor> {
        let op = "adaptive_avg_pool2d";
        let shape = self.shape();
        if shape.len() != 3 && shape.len() != 4 {
            return Err(Error::shape(
                op,
                shape,
                "expected an input [N, C, H, W] or unbatched [C, H, W]",
            ));
        }
        if !self.dtype().is_float() {
            return Err(Error::dtype(
                op,
                "a floating-point dtype (f32 or f64)",
                self.dtype(),
            ));
        }
        let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        if out_h == 0 || out_w == 0 || h == 0 || w == 0 {
            return Err(Error::shape(
                op,
                shape,
                format!("the input plane and the output size ({out_h}, {out_w}) must not be empty"),
            ));
        }
        let windows = AvgWindows {
            h,
            w,
            rows: AvgWindows::adaptive_spans(out_h, h),
            cols: AvgWindows::adaptive_spans(out_w, w),
            count_include_pad: false,
        };
        let mut out_shape = shape[..shape.len() - 2].to_vec();
        out_shape.extend_from_slice(&[out_h, out_w]);
        avg_pool(op, self, windows, &out_shape)
    }

    /// The mean of each plane: [`Tensor::adaptive_avg_pool2d`] to `1 × 1`, so `[N, C, H, W]`
    /// becomes `[N, C, 1, 1]` (flatten it for a classifier head).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::arange(0.0, 8.0, 1.0)?.reshape(&[1, 2, 2, 2])?;
    /// let y = x.global_avg_pool2d()?;
    /// assert_eq!((y.shape(), y.to_vec::<f32>()?), (&[1, 2, 1, 1][..], vec![1.5, 5.5]));
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn global_avg_pool2d(&self) -> Result<Tensor> {
        self.adaptive_avg_pool2d(1, 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    #[test]
    fn adaptive_pool_gradchecks() {
        let opts = GradcheckOptions::default();
        for (oh, ow) in [(1, 1), (2, 3), (3, 2), (7, 4)] {
            gradcheck(
                |t| t[0].adaptive_avg_pool2d(oh, ow),
                &[Tensor::randn(&[2, 2, 5, 4])],
                opts,
            )
            .unwrap_or_else(|e| panic!("adaptive {oh}x{ow}: {e}"));
        }
        gradcheck(
            |t| t[0].transpose(2, 3)?.global_avg_pool2d(),
            &[Tensor::randn(&[2, 3, 4, 5])],
            opts,
        )
        .unwrap();
    }

    #[test]
    fn adaptive_bins_follow_pytorch() {
        // Rows 0..5 into 3 bins: 0..2, 1..4, 3..5.
        let x = Tensor::arange(0.0, 5.0, 1.0)
            .unwrap()
            .reshape(&[1, 1, 5, 1])
            .unwrap();
        let y = x.adaptive_avg_pool2d(3, 1).unwrap();
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.5, 2.0, 3.5]);
        // Upsampling: every output averages one input element.
        let y = x.adaptive_avg_pool2d(10, 2).unwrap();
        assert_eq!(y.shape(), &[1, 1, 10, 2]);
        assert_eq!(y.to_vec::<f32>().unwrap()[..4], [0.0, 0.0, 0.0, 0.0]);
        assert!(x.adaptive_avg_pool2d(0, 1).is_err());
        assert!(Tensor::zeros(&[5, 1]).adaptive_avg_pool2d(1, 1).is_err());
    }
}
