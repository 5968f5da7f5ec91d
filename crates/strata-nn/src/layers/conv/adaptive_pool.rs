//! `AdaptiveAvgPool2d` and `GlobalAvgPool2d`: average pooling to a fixed output size
//! (PyTorch's `nn.AdaptiveAvgPool2d`; global pooling is its `1 × 1` case).

use crate::{hooks, Error, Forward, Module, Result, Visitor};
use strata_core::Tensor;

/// Averages `[N, C, H, W]` (or `[C, H, W]`) down to `[N, C, out_h, out_w]` whatever `H × W`
/// is: output row `i` averages input rows `floor(i·H/out_h)..ceil((i+1)·H/out_h)`.
///
/// ```
/// use strata_nn::{AdaptiveAvgPool2d, Forward};
/// use strata_core::Tensor;
/// let pool = AdaptiveAvgPool2d::new((2, 3))?;
/// assert_eq!(pool.forward(&Tensor::randn(&[4, 8, 7, 9]))?.shape(), &[4, 8, 2, 3]);
/// assert_eq!(AdaptiveAvgPool2d::new(1)?.forward(&Tensor::ones(&[2, 3, 5, 5]))?.shape(), &[2, 3, 1, 1]);
/// assert!(AdaptiveAvgPool2d::new(0).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveAvgPool2d {
    output_size: (usize, usize),
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size` (`n` for `n × n`, or `(out_h, out_w)`).
    pub fn new(output_size: impl super::Size2d) -> Result<AdaptiveAvgPool2d> {
        let output_size = output_size.into_pair();
        if output_size.0 == 0 || output_size.1 == 0 {
            return Err(Error::config(
                "AdaptiveAvgPool2d",
                format!("output size must be positive, got {output_size:?}"),
            ));
        }
        Ok(AdaptiveAvgPool2d { output_size })
    }

    pub fn output_size(&self) -> (usize, usize) {
        self.output_size
    }
}

impl Module for AdaptiveAvgPool2d {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn extra_repr(&self) -> String {
        format!("output_size={:?}", self.output_size)
    }
}

impl Forward for AdaptiveAvgPool2d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let y = input.adaptive_avg_pool2d(self.output_size.0, self.output_size.1)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

/// Global average pooling: the mean of each channel's plane, `[N, C, H, W]` → `[N, C]`
/// (or `[C, H, W]` → `[C]`), ready for a `Linear` head. With `keep_dims` the result stays
/// `[N, C, 1, 1]`, as `AdaptiveAvgPool2d::new(1)`.
///
/// ```
/// use strata_nn::{Forward, GlobalAvgPool2d};
/// use strata_core::Tensor;
/// let x = Tensor::arange(0.0, 8.0, 1.0)?.reshape(&[1, 2, 2, 2])?;
/// let y = GlobalAvgPool2d::new().forward(&x)?;
/// assert_eq!((y.shape(), y.to_vec::<f32>()?), (&[1, 2][..], vec![1.5, 5.5]));
/// assert_eq!(GlobalAvgPool2d::keep_dims().forward(&x)?.shape(), &[1, 2, 1, 1]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct GlobalAvgPool2d {
    keep_dims: bool,
}

impl GlobalAvgPool2d {
    /// Pools to `[N, C]`.
    pub fn new() -> GlobalAvgPool2d {
        GlobalAvgPool2d { keep_dims: false }
    }

    /// Pools to `[N, C, 1, 1]`.
    pub fn keep_dims() -> GlobalAvgPool2d {
        GlobalAvgPool2d { keep_dims: true }
    }
}

impl Module for GlobalAvgPool2d {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn extra_repr(&self) -> String {
        format!("keep_dims={}", self.keep_dims)
    }
}

impl Forward for GlobalAvgPool2d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let pooled = input.global_avg_pool2d()?;
        let y = if self.keep_dims {
            pooled
        } else {
            let mut shape = pooled.shape().to_vec();
            shape.truncate(shape.len() - 2);
            pooled.reshape(&shape)?
        };
        hooks::emit(self, &y);
        Ok(y)
    }
}
