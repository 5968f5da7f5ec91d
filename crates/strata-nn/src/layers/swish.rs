//! `Swish` with a learnable β: `x·σ(βx)`.

use super::prelu::channel_view;
use crate::{hooks, Error, Forward, Module, Param, Result, Visitor};
use strata_core::{DType, Tensor};

/// `Swish(x) = x·σ(βx)` with a learnable `β` (parameter `beta`): one shared β (shape
/// `[1]`) or one per channel (shape `[C]`, channel dim 1). β starts at 1, where Swish is
/// SiLU; β → ∞ approaches ReLU and β = 0 gives `x/2`.
///
/// ```
/// use strata_nn::{Forward, ModuleExt, Swish};
/// use strata_core::Tensor;
/// let act = Swish::new();
/// let x = Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3])?;
/// let silu = x.silu()?.to_vec::<f32>()?;
/// // The same function, up to rounding (Swish multiplies by a sigmoid tensor op).
/// for (s, t) in act.forward(&x)?.to_vec::<f32>()?.iter().zip(&silu) {
///     assert!((s - t).abs() <= 1e-6 * t.abs());
/// }
/// assert_eq!(Swish::per_channel(8)?.num_parameters(), 8);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct Swish {
    beta: Param,
}

impl Swish {
    /// One shared β = 1 (f32).
    pub fn new() -> Swish {
        Swish {
            beta: Param::new(Tensor::ones(&[1])),
        }
    }

    /// One β = 1 per channel (f32).
    pub fn per_channel(channels: usize) -> Result<Swish> {
        if channels == 0 {
            return Err(Error::config("Swish", "channels must be positive"));
        }
        Swish::from_beta(Tensor::try_full(&[channels], 1.0, DType::F32)?)
    }

    /// A layer with the given β values (`[1]` or `[C]`, floating point).
    pub fn from_beta(beta: Tensor) -> Result<Swish> {
        if beta.ndim() != 1 || beta.numel() == 0 || !beta.dtype().is_float() {
            return Err(Error::config(
                "Swish",
                format!(
                    "beta must be a non-empty 1-d float tensor, got {} of shape {:?}",
                    beta.dtype(),
                    beta.shape()
                ),
            ));
        }
        Ok(Swish {
            beta: Param::new(beta),
        })
    }

    /// The β values.
    pub fn beta(&self) -> &Param {
        &self.beta
    }
}

impl Default for Swish {
    fn default() -> Self {
        Swish::new()
    }
}

impl Module for Swish {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.param("beta", &self.beta);
    }

    fn extra_repr(&self) -> String {
        format!("num_parameters={}", self.beta.numel())
    }
}

impl Forward for Swish {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let layer = format!("Swish({})", self.extra_repr());
        let beta = channel_view(&layer, &self.beta, input)?;
        let y = input.mul(&input.mul(&beta)?.sigmoid()?)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
