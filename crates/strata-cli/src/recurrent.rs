//! A recurrent layer in a `Sequential`: batch-first `[B, T, F]` in, the last step's output
//! `[B, H]` or the whole sequence `[B, T, H]` out. Transparent in state dicts: its
//! parameters keep the layer's own PyTorch names (`2.weight_ih_l0`).

use strata_core::Tensor;
use strata_nn::{Forward, Module, Visitor};

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
