//! `Linear`: `y = x Wᵀ + b` over the last dimension, one fused op (`Tensor::linear`).

use crate::{hooks, init, Error, Forward, Module, Param, Result, Visitor};
use strata_core::Tensor;

/// A fully connected layer: `y = x Wᵀ + b` with `W: [out, in]`, `b: [out]`, applied over
/// the last dimension of inputs of any rank (`[N, in]`, `[N, T, in]`, ...).
///
/// Initialised like PyTorch: weight and bias uniform in `±1/√in`.
///
/// ```
/// use strata_nn::{Forward, Linear};
/// use strata_core::Tensor;
/// let layer = Linear::new(6, 2)?;
/// assert_eq!(layer.forward(&Tensor::ones(&[2, 3, 6]))?.shape(), &[2, 3, 2]);
/// let err = layer.forward(&Tensor::ones(&[2, 5])).unwrap_err();
/// assert_eq!(err.to_string(), "Linear(in=6, out=2): expected input with last dimension 6, got input of shape [2, 5]");
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct Linear {
    weight: Param,
    bias: Option<Param>,
    in_features: usize,
    out_features: usize,
}

impl Linear {
    /// A layer with bias.
    pub fn new(in_features: usize, out_features: usize) -> Result<Linear> {
        Linear::with_bias(in_features, out_features, true)
    }

    /// A layer with or without bias.
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::config(
                "Linear",
                format!("in_features and out_features must be positive, got {in_features} and {out_features}"),
            ));
        }
        let weight = Param::new(init::default_weight(&[out_features, in_features])?);
        let bias = if bias {
            Some(Param::new(init::default_bias(
                &[out_features],
                in_features,
            )?))
        } else {
            None
        };
        Ok(Linear {
            weight,
            bias,
            in_features,
            out_features,
        })
    }

    /// Builds a layer from existing weights (`[out, in]`) and optional bias (`[out]`).
    pub fn from_weights(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        if weight.ndim() != 2 {
            return Err(Error::config(
                "Linear",
                format!("weight must be [out, in], got shape {:?}", weight.shape()),
            ));
        }
        let (out_features, in_features) = (weight.shape()[0], weight.shape()[1]);
        if let Some(b) = &bias
            && b.shape() != [out_features]
        {
            return Err(Error::config(
                "Linear",
                format!("bias must have shape [{out_features}], got {:?}", b.shape()),
            ));
        }
        Ok(Linear {
            weight: Param::new(weight),
            bias: bias.map(Param::new),
            in_features,
            out_features,
        })
    }

    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Param> {
        self.bias.as_ref()
    }

    pub fn in_features(&self) -> usize {
        self.in_features
    }

    pub fn out_features(&self) -> usize {
        self.out_features
    }
}

impl Module for Linear {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            visitor.param("bias", b);
        }
    }

    fn extra_repr(&self) -> String {
        format!("in={}, out={}", self.in_features, self.out_features)
    }
}

impl Forward for Linear {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        if input.ndim() == 0 || input.shape()[input.ndim() - 1] != self.in_features {
            return Err(Error::Input {
                layer: format!("Linear({})", self.extra_repr()),
                expected: format!("input with last dimension {}", self.in_features),
                got: input.shape().into(),
            });
        }
        // One fused op: the bias written first and the product accumulated onto it.
        let y = input.linear(&self.weight, self.bias.as_deref())?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
