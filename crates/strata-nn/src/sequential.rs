//! `Sequential`: layers applied one after another.

use crate::{Forward, Module, Result, Visitor};
use strata_core::Tensor;

/// A chain of layers; child `i` is named `"i"` in the state dict (`0.weight`, `2.bias`),
/// exactly like PyTorch's `nn.Sequential`.
///
/// ```
/// use strata_nn::{Dropout, Forward, Linear, ModuleExt, ReLU, Sequential};
/// use strata_core::Tensor;
/// let model = Sequential::new()
///     .push(Linear::new(784, 512)?)
///     .push(ReLU::new())
///     .push(Dropout::new(0.2)?)
///     .push(Linear::new(512, 10)?);
/// assert_eq!(model.forward(&Tensor::zeros(&[32, 784]))?.shape(), &[32, 10]);
/// assert_eq!(model.named_parameters()[2].0, "3.weight");
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Forward>>,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Self {
        Sequential::default()
    }

    /// Appends a layer (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn push<L: Forward + 'static>(mut self, layer: L) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a layer in place.
    pub fn add<L: Forward + 'static>(&mut self, layer: L) {
        self.layers.push(Box::new(layer));
    }

    /// Appends an already boxed layer.
    pub fn push_boxed(mut self, layer: Box<dyn Forward>) -> Self {
        self.layers.push(layer);
        self
    }

    /// Replaces layer `index` (e.g. a new classifier head for transfer learning) and returns
    /// the old one, or `None` if `index` is out of range.
    pub fn replace<L: Forward + 'static>(
        &mut self,
        index: usize,
        layer: L,
    ) -> Option<Box<dyn Forward>> {
        let slot = self.layers.get_mut(index)?;
        Some(std::mem::replace(slot, Box::new(layer)))
    }

    /// Removes and returns the last layer.
    pub fn pop(&mut self) -> Option<Box<dyn Forward>> {
        self.layers.pop()
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Layer `index`.
    pub fn get(&self, index: usize) -> Option<&dyn Forward> {
        self.layers.get(index).map(|l| l.as_ref())
    }

    /// The layers in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Forward> {
        self.layers.iter().map(|l| l.as_ref())
    }
}

impl Module for Sequential {
    fn visit(&self, visitor: &mut dyn Visitor) {
        for (i, layer) in self.layers.iter().enumerate() {
            visitor.module(&i.to_string(), layer.as_ref());
        }
    }
}

impl Forward for Sequential {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let mut x = input.clone();
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }
}
