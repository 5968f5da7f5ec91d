//! `AvgPool2d` and `AvgPool1d`: average pooling layers (PyTorch's `nn.AvgPool2d`/`nn.AvgPool1d`).

use super::window::check_window;
use crate::{hooks, Forward, Module, Result, Visitor};
use strata_core::{AvgPool1dParams, AvgPool2dParams, Tensor};

/// 2-D average pooling over the last two dims of `[N, C, H, W]` or `[C, H, W]`. The stride
/// defaults to the kernel size; padding (at most half the kernel) adds zeros, which count
/// in the divisor unless `count_include_pad` is false (PyTorch's default: they count).
///
/// ```
/// use strata_nn::{Forward, AvgPool2d};
/// use strata_core::{AvgPool2dParams, Tensor};
/// let x = Tensor::arange(0.0, 16.0, 1.0)?.reshape(&[1, 1, 4, 4])?;
/// assert_eq!(AvgPool2d::new(2)?.forward(&x)?.to_vec::<f32>()?, vec![2.5, 4.5, 10.5, 12.5]);
/// let overlapping = AvgPool2d::with_params(AvgPool2dParams {
///     stride: (2, 2), padding: (1, 1), ..AvgPool2dParams::new(3)
/// })?;
/// assert_eq!(overlapping.forward(&x)?.shape(), &[1, 1, 2, 2]);
/// assert!(AvgPool2d::new(0).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AvgPool2d {
    params: AvgPool2dParams,
}

impl AvgPool2d {
    /// A `kernel × kernel` window with stride `kernel`.
    pub fn new(kernel: usize) -> Result<AvgPool2d> {
        AvgPool2d::with_params(AvgPool2dParams::new(kernel))
    }

    /// Any window: kernel, stride, padding, ceil mode, `count_include_pad`.
    pub fn with_params(params: AvgPool2dParams) -> Result<AvgPool2d> {
        let p = params;
        check_window(
            "AvgPool2d",
            &[
                (p.kernel.0, p.stride.0, p.padding.0, 1),
                (p.kernel.1, p.stride.1, p.padding.1, 1),
            ],
        )?;
        Ok(AvgPool2d { params })
    }

    pub fn params(&self) -> &AvgPool2dParams {
        &self.params
    }
}

impl Module for AvgPool2d {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn extra_repr(&self) -> String {
        let p = &self.params;
        format!(
            "kernel_size={:?}, stride={:?}, padding={:?}, ceil_mode={}, count_include_pad={}",
            p.kernel, p.stride, p.padding, p.ceil_mode, p.count_include_pad
        )
    }
}

impl Forward for AvgPool2d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let y = input.avg_pool2d(self.params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

/// 1-D average pooling over the last dim of `[N, C, L]` or `[C, L]` (stride defaults to the
/// kernel size).
///
/// ```
/// use strata_nn::{Forward, AvgPool1d};
/// use strata_core::Tensor;
/// let x = Tensor::from_vec(vec![1.0f32, 3.0, 2.0, 5.0, 4.0], &[1, 1, 5])?;
/// assert_eq!(AvgPool1d::new(2)?.forward(&x)?.to_vec::<f32>()?, vec![2.0, 3.5]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AvgPool1d {
    params: AvgPool1dParams,
}

impl AvgPool1d {
    /// A window of `kernel` with stride `kernel`.
    pub fn new(kernel: usize) -> Result<AvgPool1d> {
        AvgPool1d::with_params(AvgPool1dParams::new(kernel))
    }

    /// Any window: kernel, stride, padding, ceil mode, `count_include_pad`.
    pub fn with_params(params: AvgPool1dParams) -> Result<AvgPool1d> {
        let p = params;
        check_window("AvgPool1d", &[(p.kernel, p.stride, p.padding, 1)])?;
        Ok(AvgPool1d { params })
    }

    pub fn params(&self) -> &AvgPool1dParams {
        &self.params
    }
}

impl Module for AvgPool1d {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn extra_repr(&self) -> String {
        let p = &self.params;
        format!(
            "kernel_size={}, stride={}, padding={}, ceil_mode={}, count_include_pad={}",
            p.kernel, p.stride, p.padding, p.ceil_mode, p.count_include_pad
        )
    }
}

impl Forward for AvgPool1d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let y = input.avg_pool1d(self.params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
