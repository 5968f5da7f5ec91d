//! `LayerNorm`: normalisation over the trailing dims of each sample (the fused op is in
//! `layer_norm_op.rs`).

use super::layer_norm_op::layer_norm;
use crate::{hooks, Error, Forward, Module, Param, Result, Visitor};
use strata_core::{DType, Tensor};

/// Hyperparameters of [`LayerNorm`] (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormConfig {
    /// Added to the variance before the square root (default `1e-5`).
    pub eps: f64,
    /// Learnable elementwise `weight` (init 1) and `bias` (init 0) of shape
    /// `normalized_shape` (default `true`).
    pub elementwise_affine: bool,
    /// Dtype of the parameters (default `F32`).
    pub dtype: DType,
}

impl Default for LayerNormConfig {
    fn default() -> Self {
        LayerNormConfig {
            eps: 1e-5,
            elementwise_affine: true,
            dtype: DType::F32,
        }
    }
}

/// Layer normalisation: each sample is normalised over its trailing dims
/// `normalized_shape` (mean 0, variance 1, biased variance as PyTorch), then scaled and
/// shifted elementwise by `weight` and `bias`. Same in training and evaluation.
///
/// ```
/// use strata_nn::{Forward, LayerNorm, ModuleExt};
/// use strata_core::Tensor;
/// let ln = LayerNorm::new(&[4])?;
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0], &[2, 4])?;
/// let y = ln.forward(&x)?.to_vec::<f32>()?;
/// assert!((y[0] + 1.3416).abs() < 1e-3 && y[4] == 0.0);
/// assert_eq!(ln.num_parameters(), 8);
/// let err = ln.forward(&Tensor::zeros(&[2, 5])).unwrap_err();
/// assert_eq!(err.to_string(), "LayerNorm([4]): expected input ending in dims [4], got input of shape [2, 5]");
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct LayerNorm {
    normalized_shape: Vec<usize>,
    config: LayerNormConfig,
    weight: Option<Param>,
    bias: Option<Param>,
}

impl LayerNorm {
    /// A layer over the trailing dims `normalized_shape`, with PyTorch's defaults.
    pub fn new(normalized_shape: &[usize]) -> Result<LayerNorm> {
        LayerNorm::with_config(normalized_shape, LayerNormConfig::default())
    }

    /// A layer with the given hyperparameters.
    pub fn with_config(normalized_shape: &[usize], config: LayerNormConfig) -> Result<LayerNorm> {
        if normalized_shape.is_empty() || normalized_shape.contains(&0) {
            return Err(Error::config(
                "LayerNorm",
                format!("normalized_shape must be non-empty with positive sizes, got {normalized_shape:?}"),
            ));
        }
        if !(config.eps >= 0.0 && config.eps.is_finite()) {
            return Err(Error::config(
                "LayerNorm",
                format!("eps must be non-negative, got {}", config.eps),
            ));
        }
        if !config.dtype.is_float() {
            return Err(Error::config(
                "LayerNorm",
                format!("dtype must be f32 or f64, got {}", config.dtype),
            ));
        }
        let affine = config.elementwise_affine;
        let dtype = config.dtype;
        // An absurd shape is an error here, not an abort in the allocator.
        let full = |v: f64| {
            affine
                .then(|| Tensor::try_full(normalized_shape, v, dtype))
                .transpose()
        };
        Ok(LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            config,
            weight: full(1.0)?.map(Param::new),
            bias: full(0.0)?.map(Param::new),
        })
    }

    /// The normalised trailing dims.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// The hyperparameters.
    pub fn config(&self) -> LayerNormConfig {
        self.config
    }

    /// The elementwise scale (`None` without `elementwise_affine`).
    pub fn weight(&self) -> Option<&Param> {
        self.weight.as_ref()
    }

    /// The elementwise shift (`None` without `elementwise_affine`).
    pub fn bias(&self) -> Option<&Param> {
        self.bias.as_ref()
    }

    fn name(&self) -> String {
        format!("LayerNorm({:?})", self.normalized_shape)
    }
}

impl Module for LayerNorm {
    fn visit(&self, visitor: &mut dyn Visitor) {
        if let Some(w) = &self.weight {
            visitor.param("weight", w);
        }
        if let Some(b) = &self.bias {
            visitor.param("bias", b);
        }
    }

    fn extra_repr(&self) -> String {
        format!(
            "{:?}, eps={}, elementwise_affine={}",
            self.normalized_shape, self.config.eps, self.config.elementwise_affine
        )
    }
}

impl Forward for LayerNorm {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let nd = self.normalized_shape.len();
        if input.ndim() < nd || input.shape()[input.ndim() - nd..] != *self.normalized_shape {
            return Err(Error::Input {
                layer: self.name(),
                expected: format!("input ending in dims {:?}", self.normalized_shape),
                got: input.shape().into(),
            });
        }
        if input.dtype() != self.config.dtype {
            return Err(Error::Input {
                layer: self.name(),
                expected: format!(
                    "{} input like its parameters, not {} (convert with to_dtype)",
                    self.config.dtype,
                    input.dtype()
                ),
                got: input.shape().into(),
            });
        }
        let y = layer_norm(
            input,
            &self.normalized_shape,
            self.weight.as_deref(),
            self.bias.as_deref(),
            self.config.eps,
        )?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
