//! `TransformerEncoderLayer`: self-attention and a feed-forward block, each with dropout,
//! a residual connection and LayerNorm (PyTorch's `nn.TransformerEncoderLayer`).

use super::multihead::{MhaOptions, MultiheadAttention, MultiheadAttentionConfig};
use crate::{
    hooks, Dropout, Error, Forward, LayerNorm, LayerNormConfig, Linear, Module, Result, Visitor,
};
use strata_core::{DType, Tensor};

/// The feed-forward activation of a [`TransformerEncoderLayer`].
///
/// ```
/// use strata_nn::{FeedForwardActivation, TransformerEncoderLayerConfig};
/// let config = TransformerEncoderLayerConfig { activation: FeedForwardActivation::Gelu, ..Default::default() };
/// assert_eq!(config.activation, FeedForwardActivation::Gelu);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedForwardActivation {
    Relu,
    /// The exact (erf) GELU.
    Gelu,
}

/// Hyperparameters of [`TransformerEncoderLayer`] (PyTorch's defaults).
///
/// ```
/// use strata_nn::TransformerEncoderLayerConfig;
/// let c = TransformerEncoderLayerConfig::default();
/// assert_eq!((c.dim_feedforward, c.dropout, c.norm_first, c.batch_first), (2048, 0.1, false, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransformerEncoderLayerConfig {
    /// Hidden size of the feed-forward block (default 2048).
    pub dim_feedforward: usize,
    /// Dropout after attention, inside and after the feed-forward block, and on the
    /// attention weights (default 0.1).
    pub dropout: f64,
    /// Default ReLU.
    pub activation: FeedForwardActivation,
    /// LayerNorm epsilon (default 1e-5).
    pub layer_norm_eps: f64,
    /// `[batch, seq, d]` inputs (default `false`: `[seq, batch, d]`).
    pub batch_first: bool,
    /// Pre-norm `x + f(norm(x))` (default `false`: post-norm `norm(x + f(x))`).
    pub norm_first: bool,
    /// Biases in the Linear layers, attention and LayerNorms (default `true`). Without
    /// them the LayerNorms keep a `bias` frozen at zero (PyTorch drops it from the state
    /// dict).
    pub bias: bool,
    /// Dtype of the parameters (default `F32`).
    pub dtype: DType,
}

impl Default for TransformerEncoderLayerConfig {
    fn default() -> Self {
        TransformerEncoderLayerConfig {
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: FeedForwardActivation::Relu,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
            bias: true,
            dtype: DType::F32,
        }
    }
}

/// Masks of a Transformer encoder pass (see [`MhaOptions`] for shapes and meaning: bool
/// `true` = excluded).
///
/// ```
/// use strata_nn::{EncoderMasks, ModuleExt, TransformerEncoderLayer, TransformerEncoderLayerConfig};
/// use strata_core::Tensor;
/// let config = TransformerEncoderLayerConfig { dim_feedforward: 8, batch_first: true, ..Default::default() };
/// let layer = TransformerEncoderLayer::new(4, 2, config)?;
/// layer.eval();
/// let pad = Tensor::from_vec(vec![false, false, true], &[1, 3])?; // the last token is padding
/// let masks = EncoderMasks { key_padding_mask: Some(pad), ..Default::default() };
/// assert_eq!(layer.forward_masked(&Tensor::randn(&[1, 3, 4]), &masks)?.shape(), &[1, 3, 4]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct EncoderMasks {
    /// `[L, L]` or `[batch * heads, L, L]`.
    pub mask: Option<Tensor>,
    /// `[batch, L]`, `true` = padding.
    pub key_padding_mask: Option<Tensor>,
    /// Apply a causal mask (combined with `mask`).
    pub is_causal: bool,
}

/// One Transformer encoder layer with PyTorch's structure and names: `self_attn`
/// ([`MultiheadAttention`]), `linear1` `d → ff`, `dropout`, `linear2` `ff → d`, `norm1`,
/// `norm2`, `dropout1`, `dropout2`.
///
/// Post-norm (default): `x = norm1(x + dropout1(sa(x)))`, `x = norm2(x + dropout2(ff(x)))`;
/// pre-norm (`norm_first`): `x = x + dropout1(sa(norm1(x)))`, `x = x + dropout2(ff(norm2(x)))`,
/// with `ff(x) = linear2(dropout(act(linear1(x))))`.
///
/// ```
/// use strata_nn::{Forward, ModuleExt, TransformerEncoderLayer, TransformerEncoderLayerConfig};
/// use strata_core::Tensor;
/// let config = TransformerEncoderLayerConfig { dim_feedforward: 32, batch_first: true, ..Default::default() };
/// let layer = TransformerEncoderLayer::new(16, 4, config)?;
/// assert_eq!(layer.forward(&Tensor::randn(&[2, 5, 16]))?.shape(), &[2, 5, 16]);
/// let names: Vec<String> = layer.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[..3], ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight"]);
/// assert!(names.contains(&"linear1.weight".to_string()) && names.contains(&"norm2.bias".to_string()));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct TransformerEncoderLayer {
    self_attn: MultiheadAttention,
    linear1: Linear,
    dropout: Dropout,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    dropout1: Dropout,
    dropout2: Dropout,
    config: TransformerEncoderLayerConfig,
}

impl TransformerEncoderLayer {
    /// A layer of width `d_model` with `nhead` attention heads.
    pub fn new(
        d_model: usize,
        nhead: usize,
        config: TransformerEncoderLayerConfig,
    ) -> Result<Self> {
        if !config.dtype.is_float() {
            return Err(Error::config(
                "TransformerEncoderLayer",
                format!("dtype must be f32 or f64, got {}", config.dtype),
            ));
        }
        let attn_config = MultiheadAttentionConfig {
            dropout: config.dropout,
            bias: config.bias,
            batch_first: config.batch_first,
            dtype: config.dtype,
        };
        let linear = |i: usize, o: usize| -> Result<Linear> {
            let l = Linear::with_bias(i, o, config.bias)?;
            Linear::from_weights(
                l.weight().to_dtype(config.dtype),
                l.bias().map(|b| b.to_dtype(config.dtype)),
            )
        };
        let norm = || {
            LayerNorm::with_config(
                &[d_model],
                LayerNormConfig {
                    eps: config.layer_norm_eps,
                    elementwise_affine: true,
                    dtype: config.dtype,
                },
            )
        };
        let layer = TransformerEncoderLayer {
            self_attn: MultiheadAttention::with_config(d_model, nhead, attn_config)?,
            linear1: linear(d_model, config.dim_feedforward)?,
            dropout: Dropout::new(config.dropout)?,
            linear2: linear(config.dim_feedforward, d_model)?,
            norm1: norm()?,
            norm2: norm()?,
            dropout1: Dropout::new(config.dropout)?,
            dropout2: Dropout::new(config.dropout)?,
            config,
        };
        if !config.bias {
            // PyTorch's LayerNorm(bias=False) has no bias; ours keeps it, frozen at zero.
            if let Some(b) = layer.norm1.bias() {
                b.set_trainable(false);
            }
            if let Some(b) = layer.norm2.bias() {
                b.set_trainable(false);
            }
        }
        Ok(layer)
    }

    /// The hyperparameters.
    pub fn config(&self) -> TransformerEncoderLayerConfig {
        self.config
    }

    /// The self-attention block.
    pub fn self_attn(&self) -> &MultiheadAttention {
        &self.self_attn
    }

    /// `d → dim_feedforward`.
    pub fn linear1(&self) -> &Linear {
        &self.linear1
    }

    /// `dim_feedforward → d`.
    pub fn linear2(&self) -> &Linear {
        &self.linear2
    }

    /// The norm around the attention block.
    pub fn norm1(&self) -> &LayerNorm {
        &self.norm1
    }

    /// The norm around the feed-forward block.
    pub fn norm2(&self) -> &LayerNorm {
        &self.norm2
    }

    /// The layer applied to `src` with masks.
    pub fn forward_masked(&self, src: &Tensor, masks: &EncoderMasks) -> Result<Tensor> {
        let x = src.clone();
        let y = if self.config.norm_first {
            let x = x.add(&self.attention_block(&self.norm1.forward(&x)?, masks)?)?;
            x.add(&self.feed_forward_block(&self.norm2.forward(&x)?)?)?
        } else {
            let x = self
                .norm1
                .forward(&x.add(&self.attention_block(&x, masks)?)?)?;
            self.norm2.forward(&x.add(&self.feed_forward_block(&x)?)?)?
        };
        hooks::emit(self, &y);
        Ok(y)
    }

    fn attention_block(&self, x: &Tensor, masks: &EncoderMasks) -> Result<Tensor> {
        let options = MhaOptions {
            key_padding_mask: masks.key_padding_mask.clone(),
            attn_mask: masks.mask.clone(),
            is_causal: masks.is_causal,
            need_weights: false,
            average_attn_weights: true,
        };
        let (a, _) = self.self_attn.attend(x, x, x, &options)?;
        self.dropout1.forward(&a)
    }

    fn feed_forward_block(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.linear1.forward(x)?;
        let h = match self.config.activation {
            FeedForwardActivation::Relu => h.relu()?,
            FeedForwardActivation::Gelu => h.gelu()?,
        };
        let h = self.linear2.forward(&self.dropout.forward(&h)?)?;
        self.dropout2.forward(&h)
    }
}

impl Module for TransformerEncoderLayer {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.module("self_attn", &self.self_attn);
        visitor.module("linear1", &self.linear1);
        visitor.module("dropout", &self.dropout);
        visitor.module("linear2", &self.linear2);
        visitor.module("norm1", &self.norm1);
        visitor.module("norm2", &self.norm2);
        visitor.module("dropout1", &self.dropout1);
        visitor.module("dropout2", &self.dropout2);
    }

    fn extra_repr(&self) -> String {
        format!(
            "d_model={}, nhead={}, dim_feedforward={}, norm_first={}",
            self.self_attn.embed_dim(),
            self.self_attn.num_heads(),
            self.config.dim_feedforward,
            self.config.norm_first
        )
    }
}

impl Forward for TransformerEncoderLayer {
    /// Without masks.
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        self.forward_masked(input, &EncoderMasks::default())
    }
}
