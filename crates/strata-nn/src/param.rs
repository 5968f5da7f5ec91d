//! Trainable parameters and persistent buffers.

use crate::Result;
use std::ops::Deref;
use strata_core::{Gradients, Tensor};

/// A trainable tensor: a leaf that requires grad. Clones share the same values, so the
/// optimiser that holds a clone updates the model's parameter in place.
///
/// Freezing (`set_trainable(false)`) turns gradient tracking off: ops record nothing for a
/// frozen parameter, it receives no gradient and optimisers leave it alone.
///
/// ```
/// use strata_nn::Param;
/// use strata_core::Tensor;
/// let w = Param::new(Tensor::ones(&[2, 3]));
/// assert!(w.requires_grad() && w.is_trainable());
/// let y = Tensor::ones(&[4, 2]).matmul(&w)?;     // a Param derefs to its Tensor
/// assert_eq!(y.shape(), &[4, 3]);
/// # Ok::<(), strata_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Param {
    tensor: Tensor,
}

impl Param {
    /// Wraps `values` as a trainable leaf: a fresh leaf sharing the values' storage when
    /// they are contiguous and start on a cache line, else over an aligned copy
    /// ([`Tensor::aligned`]: kernels that read weights in place load whole lines).
    pub fn new(values: Tensor) -> Param {
        let tensor = values.detach().aligned().detach();
        tensor.set_requires_grad(true);
        Param { tensor }
    }

    /// The parameter's tensor.
    pub fn tensor(&self) -> &Tensor {
        &self.tensor
    }

    /// Whether optimisers update it (and gradients reach it).
    pub fn is_trainable(&self) -> bool {
        self.tensor.requires_grad()
    }

    /// Freezes (`false`) or unfreezes (`true`) the parameter.
    pub fn set_trainable(&self, trainable: bool) {
        self.tensor.set_requires_grad(trainable);
    }

    /// Overwrites the values in place (same shape and dtype).
    pub fn assign(&self, values: &Tensor) -> Result<()> {
        Ok(self.tensor.copy_from(values)?)
    }

    /// This parameter's gradient in a backward pass's results.
    pub fn grad<'g>(&self, grads: &'g Gradients) -> Option<&'g Tensor> {
        grads.get(&self.tensor)
    }
}

impl Deref for Param {
    type Target = Tensor;
    fn deref(&self) -> &Tensor {
        &self.tensor
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({:?})", self.tensor)
    }
}

/// A persistent, non-trainable tensor of a module (BatchNorm's running statistics): saved in
/// the state dict, updated in place, never given a gradient.
#[derive(Clone)]
pub struct Buffer {
    tensor: Tensor,
}

impl Buffer {
    /// Wraps `values` as a buffer (own contiguous copy, no grad).
    pub fn new(values: Tensor) -> Buffer {
        Buffer {
            tensor: values.detach().copy().detach(),
        }
    }

    /// The buffer's tensor.
    pub fn tensor(&self) -> &Tensor {
        &self.tensor
    }

    /// Overwrites the values in place (same shape and dtype).
    pub fn assign(&self, values: &Tensor) -> Result<()> {
        Ok(self.tensor.copy_from(values)?)
    }
}

impl Deref for Buffer {
    type Target = Tensor;
    fn deref(&self) -> &Tensor {
        &self.tensor
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({:?})", self.tensor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_param_starts_on_a_cache_line_and_shares_what_already_does() {
        let base = Tensor::arange(0.0, 40.0, 1.0).unwrap().aligned();
        let off_line = base.narrow(0, 1, 32).unwrap();
        assert!(!off_line.is_line_aligned());
        let p = Param::new(off_line.clone());
        assert!(p.is_line_aligned() && p.is_contiguous() && p.is_trainable());
        assert_eq!(
            p.to_vec::<f32>().unwrap(),
            off_line.to_vec::<f32>().unwrap()
        );
        let on_line = base.narrow(0, 16, 16).unwrap();
        assert!(Param::new(on_line.clone()).shares_storage_with(&on_line));
    }
}
