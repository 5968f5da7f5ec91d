//! `MaxPool2d` and `MaxPool1d`: max pooling layers (PyTorch's `nn.MaxPool2d`/`nn.MaxPool1d`).

use super::window::check_window;
use crate::{hooks, Forward, Module, Result, Visitor};
use strata_core::{MaxPool1dParams, MaxPool2dParams, Tensor};

/// 2-D max pooling over the last two dims of `[N, C, H, W]` or `[C, H, W]`. The stride
/// defaults to the kernel size; padding (at most half the kernel) counts as −∞.
///
/// ```
/// use strata_nn::{Forward, MaxPool2d};
/// use strata_core::{MaxPool2dParams, Tensor};
/// let x = Tensor::arange(0.0, 16.0, 1.0)?.reshape(&[1, 1, 4, 4])?;
/// assert_eq!(MaxPool2d::new(2)?.forward(&x)?.to_vec::<f32>()?, vec![5.0, 7.0, 13.0, 15.0]);
/// let overlapping = MaxPool2d::with_params(MaxPool2dParams {
///     stride: (2, 2), padding: (1, 1), ..MaxPool2dParams::new(3)
/// })?;
/// assert_eq!(overlapping.forward(&x)?.shape(), &[1, 1, 2, 2]);
/// assert!(MaxPool2d::new(0).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct MaxPool2d {
    params: MaxPool2dParams,
}

impl MaxPool2d {
    /// A `kernel × kernel` window with stride `kernel`.
    pub fn new(kernel: usize) -> Result<MaxPool2d> {
        MaxPool2d::with_params(MaxPool2dParams::new(kernel))
    }

    /// Any window: kernel, stride, padding, dilation, ceil mode.
    pub fn with_params(params: MaxPool2dParams) -> Result<MaxPool2d> {
        let p = params;
        check_window(
            "MaxPool2d",
            &[
                (p.kernel.0, p.stride.0, p.padding.0, p.dilation.0),
                (p.kernel.1, p.stride.1, p.padding.1, p.dilation.1),
            ],
        )?;
        Ok(MaxPool2d { params })
    }

    pub fn params(&self) -> &MaxPool2dParams {
        &self.params
    }
}

impl Module for MaxPool2d {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn extra_repr(&self) -> String {
        let p = &self.params;
        format!(
            "kernel_size={:?}, stride={:?}, padding={:?}, dilation={:?}, ceil_mode={}",
            p.kernel, p.stride, p.padding, p.dilation, p.ceil_mode
        )
    }
}

impl Forward for MaxPool2d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let y = input.max_pool2d(self.params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

/// 1-D max pooling over the last dim of `[N, C, L]` or `[C, L]` (stride defaults to the
/// kernel size).
///
/// ```
/// use strata_nn::{Forward, MaxPool1d};
/// use strata_core::Tensor;
/// let x = Tensor::from_vec(vec![1.0f32, 3.0, 2.0, 5.0, 4.0], &[1, 1, 5])?;
/// assert_eq!(MaxPool1d::new(2)?.forward(&x)?.to_vec::<f32>()?, vec![3.0, 5.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct MaxPool1d {
    params: MaxPool1dParams,
}

impl MaxPool1d {
    /// A window of `kernel` with stride `kernel`.
    pub fn new(kernel: usize) -> Result<MaxPool1d> {
        MaxPool1d::with_params(MaxPool1dParams::new(kernel))
    }

    /// Any window: kernel, stride, padding, dilation, ceil mode.
    pub fn with_params(params: MaxPool1dParams) -> Result<MaxPool1d> {
        let p = params;
        check_window("MaxPool1d", &[(p.kernel, p.stride, p.padding, p.dilation)])?;
        Ok(MaxPool1d { params })
    }

    pub fn params(&self) -> &MaxPool1dParams {
        &self.params
    }
}

impl Module for MaxPool1d {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn extra_repr(&self) -> String {
        let p = &self.params;
        format!(
            "kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}",
            p.kernel, p.stride, p.padding, p.dilation, p.ceil_mode
        )
    }
}

impl Forward for MaxPool1d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let y = input.max_pool1d(self.params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
