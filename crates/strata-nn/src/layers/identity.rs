//! `Identity`: returns its input (a placeholder, e.g. a removed classifier head).

use crate::{hooks, Forward, Module, Result, Visitor};
use strata_core::Tensor;

/// Returns its input unchanged; useful as a placeholder when replacing a layer
/// (`Sequential::replace(i, Identity::new())`). Appears in summaries like any layer.
///
/// ```
/// use strata_nn::{Forward, Identity};
/// use strata_core::Tensor;
/// let x = Tensor::ones(&[2, 3]);
/// assert_eq!(Identity::new().forward(&x)?.to_vec::<f32>()?, vec![1.0; 6]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Identity {
    // Not zero-sized, so every instance has its own address (hooks tell layers apart by it).
    _id: u8,
}

impl Identity {
    pub fn new() -> Identity {
        Identity::default()
    }
}

impl Module for Identity {
    fn visit(&self, _: &mut dyn Visitor) {}
}

impl Forward for Identity {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        hooks::emit(self, input);
        Ok(input.clone())
    }
}
