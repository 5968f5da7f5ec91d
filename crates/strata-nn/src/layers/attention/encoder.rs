//! `TransformerEncoder`: a stack of encoder layers with an optional final LayerNorm.

use super::encoder_layer::{EncoderMasks, TransformerEncoderLayer, TransformerEncoderLayerConfig};
use crate::{hooks, Error, Forward, LayerNorm, Module, Result, Visitor};
use strata_core::Tensor;

/// `N` [`TransformerEncoderLayer`]s applied in turn (`layers.0.…`, `layers.1.…`), then an
/// optional `norm` (use one with pre-norm layers). Each layer is initialised on its own
/// (PyTorch deep-copies one layer, so its layers start identical).
///
/// ```
/// use strata_nn::{Forward, LayerNorm, ModuleExt, TransformerEncoder, TransformerEncoderLayerConfig};
/// use strata_core::Tensor;
/// let config = TransformerEncoderLayerConfig { dim_feedforward: 32, norm_first: true, ..Default::default() };
/// let encoder = TransformerEncoder::new(16, 2, 3, config, Some(LayerNorm::new(&[16])?))?;
/// assert_eq!(encoder.forward(&Tensor::randn(&[7, 2, 16]))?.shape(), &[7, 2, 16]);
/// assert!(encoder.named_parameters().iter().any(|(n, _)| n == "layers.2.linear1.weight"));
/// assert!(encoder.named_parameters().iter().any(|(n, _)| n == "norm.weight"));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct TransformerEncoder {
    layers: Vec<TransformerEncoderLayer>,
    norm: Option<LayerNorm>,
}

impl TransformerEncoder {
    /// `num_layers` fresh layers of width `d_model` with `nhead` heads, and a final `norm`.
    pub fn new(
        d_model: usize,
        nhead: usize,
        num_layers: usize,
        config: TransformerEncoderLayerConfig,
        norm: Option<LayerNorm>,
    ) -> Result<TransformerEncoder> {
        let layers = (0..num_layers)
            .map(|_| TransformerEncoderLayer::new(d_model, nhead, config))
            .collect::<Result<Vec<_>>>()?;
        TransformerEncoder::from_layers(layers, norm)
    }

    /// From existing layers (at least one, all of one width).
    pub fn from_layers(
        layers: Vec<TransformerEncoderLayer>,
        norm: Option<LayerNorm>,
    ) -> Result<TransformerEncoder> {
        let widths: Vec<usize> = layers.iter().map(|l| l.self_attn().embed_dim()).collect();
        if widths.is_empty() || widths.iter().any(|&w| w != widths[0]) {
            return Err(Error::config(
                "TransformerEncoder",
                format!("needs at least one layer, all of one width, got widths {widths:?}"),
            ));
        }
        Ok(TransformerEncoder { layers, norm })
    }

    /// The layers.
    pub fn layers(&self) -> &[TransformerEncoderLayer] {
        &self.layers
    }

    /// The final norm, if any.
    pub fn norm(&self) -> Option<&LayerNorm> {
        self.norm.as_ref()
    }

    /// All layers with the same masks, then the final norm.
    pub fn forward_masked(&self, src: &Tensor, masks: &EncoderMasks) -> Result<Tensor> {
        let mut x = src.clone();
        for layer in &self.layers {
            x = layer.forward_masked(&x, masks)?;
        }
        if let Some(norm) = &self.norm {
            x = norm.forward(&x)?;
        }
        hooks::emit(self, &x);
        Ok(x)
    }
}

impl Module for TransformerEncoder {
    fn visit(&self, visitor: &mut dyn Visitor) {
        for (i, layer) in self.layers.iter().enumerate() {
            visitor.module(&format!("layers.{i}"), layer);
        }
        if let Some(norm) = &self.norm {
            visitor.module("norm", norm);
        }
    }

    fn extra_repr(&self) -> String {
        format!("num_layers={}", self.layers.len())
    }
}

impl Forward for TransformerEncoder {
    /// Without masks.
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        self.forward_masked(input, &EncoderMasks::default())
    }
}
