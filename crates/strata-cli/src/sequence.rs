//! Sequence layers in a `Sequential`, batch first `[B, T, F]`.

use crate::config::PoolMode;
use strata_core::Tensor;
use strata_nn::{Forward, Module, Visitor};

/// A recurrent layer: the last step's output `[B, H]` or the whole sequence `[B, T, H]`
/// out. Transparent in state dicts: its parameters keep the layer's own PyTorch names
/// (`2.weight_ih_l0`).
pub struct SequenceLayer<L> {
    layer: L,
    last: bool,
}

impl<L: Forward> SequenceLayer<L> {
    pub fn new(layer: L, last: bool) -> Self {
        SequenceLayer { layer, last }
    }
}

impl<L: Forward> Module for SequenceLayer<L> {
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.layer.visit(visitor)
    }
    fn type_name(&self) -> &'static str {
        self.layer.type_name()
    }
    fn set_training(&self, training: bool) {
        self.layer.set_training(training)
    }
    fn is_training(&self) -> Option<bool> {
        self.layer.is_training()
    }
}

impl<L: Forward> Forward for SequenceLayer<L> {
    fn forward(&self, input: &Tensor) -> strata_nn::Result<Tensor> {
        let out = self.layer.forward(input)?;
        if !self.last {
            return Ok(out);
        }
        let steps = out.shape().get(1).copied().unwrap_or(0);
        if steps == 0 {
            return Ok(out);
        }
        Ok(out.select(1, steps - 1)?)
    }
}

/// `[B, T, F]` to `[B, F]`: the mean, the maximum or the last step over time, so a
/// sequence model (attention, a convolution over time) can end in a classifier.
pub struct PoolSequence {
    mode: PoolMode,
}

impl PoolSequence {
    pub fn new(mode: PoolMode) -> Self {
        PoolSequence { mode }
    }
}

impl Module for PoolSequence {
    fn visit(&self, _: &mut dyn Visitor) {}
    fn type_name(&self) -> &'static str {
        "PoolSequence"
    }
    fn extra_repr(&self) -> String {
        format!("mode={:?}", self.mode).to_lowercase()
    }
}

impl Forward for PoolSequence {
    fn forward(&self, input: &Tensor) -> strata_nn::Result<Tensor> {
        let steps = input.shape().get(1).copied().unwrap_or(0);
        if input.ndim() != 3 || steps == 0 {
            return Err(strata_nn::Error::Config {
                what: "PoolSequence",
                reason: format!(
                    "expects a non-empty batch of sequences [batch, time, features], got {:?}",
                    input.shape()
                ),
            });
        }
        Ok(match self.mode {
            PoolMode::Mean => input.mean(&[1], false)?,
            PoolMode::Max => input.max(1, false)?.0,
            PoolMode::Last => input.select(1, steps - 1)?,
        })
    }
}
