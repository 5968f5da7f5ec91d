//! `PReLU`: leaky ReLU with a learnable negative slope.

use crate::{hooks, Error, Forward, Module, Param, Result, Visitor};
use strata_core::{DType, Tensor};

/// `PReLU(x) = x` where `x > 0`, else `a·x`, with a learnable slope `a`: one shared slope
/// (`num_parameters = 1`) or one per channel (`num_parameters = C`, the channel dim being
/// dim 1 of the input, as in PyTorch). Slopes start at 0.25; the parameter is named
/// `weight`.
///
/// ```
/// use strata_nn::{Forward, ModuleExt, PReLU};
/// use strata_core::Tensor;
/// let act = PReLU::new(1)?;
/// let y = act.forward(&Tensor::from_vec(vec![-2.0f32, 3.0], &[2])?)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![-0.5, 3.0]);
/// assert_eq!(act.named_parameters()[0].0, "weight");
/// let per_channel = PReLU::new(3)?;
/// assert_eq!(per_channel.forward(&Tensor::ones(&[2, 3, 4, 4]))?.shape(), &[2, 3, 4, 4]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct PReLU {
    weight: Param,
}

impl PReLU {
    /// `num_parameters` slopes (1, or the number of channels), each 0.25, in f32.
    pub fn new(num_parameters: usize) -> Result<PReLU> {
        PReLU::with_init(num_parameters, 0.25, DType::F32)
    }

    /// `num_parameters` slopes starting at `init`, in `dtype`.
    pub fn with_init(num_parameters: usize, init: f64, dtype: DType) -> Result<PReLU> {
        if num_parameters == 0 || !dtype.is_float() || !init.is_finite() {
            return Err(Error::config(
                "PReLU",
                format!(
                    "need num_parameters >= 1, a finite init and a float dtype, got {num_parameters}, {init}, {dtype}"
                ),
            ));
        }
        PReLU::from_weight(Tensor::try_full(&[num_parameters], init, dtype)?)
    }

    /// A layer with the given slopes (`[1]` or `[C]`, floating point).
    pub fn from_weight(weight: Tensor) -> Result<PReLU> {
        if weight.ndim() != 1 || weight.numel() == 0 || !weight.dtype().is_float() {
            return Err(Error::config(
                "PReLU",
                format!(
                    "weight must be a non-empty 1-d float tensor, got {} of shape {:?}",
                    weight.dtype(),
                    weight.shape()
                ),
            ));
        }
        Ok(PReLU {
            weight: Param::new(weight),
        })
    }

    /// The slopes, `[num_parameters]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    pub fn num_parameters(&self) -> usize {
        self.weight.numel()
    }
}

/// `param` (`[k]`) reshaped to broadcast over dim 1 of an input of rank `ndim`: `[1, k, 1, ...]`
/// (or all ones when `k = 1`). Shared by the per-channel learnable activations.
pub(crate) fn channel_view(layer: &str, param: &Tensor, input: &Tensor) -> Result<Tensor> {
    let k = param.numel();
    let ndim = input.ndim();
    if k == 1 {
        return Ok(param.reshape(&vec![1; ndim])?);
    }
    if ndim < 2 || input.shape()[1] != k {
        return Err(Error::Input {
            layer: layer.to_string(),
            expected: format!("input with {k} channels in dim 1"),
            got: input.shape().into(),
        });
    }
    let mut shape = vec![1; ndim];
    shape[1] = k;
    Ok(param.reshape(&shape)?)
}

impl Module for PReLU {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.param("weight", &self.weight);
    }

    fn extra_repr(&self) -> String {
        format!("num_parameters={}", self.num_parameters())
    }
}

impl Forward for PReLU {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let layer = format!("PReLU({})", self.extra_repr());
        let a = channel_view(&layer, &self.weight, input)?;
        // PyTorch's gradient convention: the slope applies where x <= 0.
        let y = input.where_(&input.gt_scalar(0.0)?, &input.mul(&a)?)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
