//! The result of `backward()`: gradients keyed by tensor id.

use super::id_hash::IdMap;
use crate::{Tensor, TensorId};

/// Gradients of a backward pass: one per leaf tensor that requires grad (and per tensor
/// marked with [`Tensor::retain_grad`]).
///
/// ```
/// use strata_core::Tensor;
/// let a = Tensor::from_vec(vec![2.0f32], &[1])?.requires_grad_();
/// let b = Tensor::from_vec(vec![5.0f32], &[1])?.requires_grad_();
/// let grads = a.mul(&b)?.sum_all()?.backward()?;
/// assert_eq!(grads.get(&a).unwrap().to_vec::<f32>()?, vec![5.0]);
/// assert_eq!(grads.get(&b).unwrap().to_vec::<f32>()?, vec![2.0]);
/// assert_eq!(grads.len(), 2);
/// # Ok::<(), strata_core::Error>(())
/// ```
#[derive(Clone, Default, Debug)]
pub struct Gradients {
    map: IdMap<Tensor>,
}

impl Gradients {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The gradient of `tensor`, if it received one.
    pub fn get(&self, tensor: &Tensor) -> Option<&Tensor> {
        self.map.get(&tensor.id())
    }

    /// The gradient of the tensor with this id.
    pub fn get_id(&self, id: TensorId) -> Option<&Tensor> {
        self.map.get(&id)
    }

    /// Sets (replaces) the gradient of `tensor`, e.g. after clipping.
    pub fn insert(&mut self, tensor: &Tensor, grad: Tensor) {
        self.map.insert(tensor.id(), grad);
    }

    pub(crate) fn insert_id(&mut self, id: TensorId, grad: Tensor) {
        self.map.insert(id, grad);
    }

    /// Removes and returns the gradient of `tensor`.
    pub fn remove(&mut self, tensor: &Tensor) -> Option<Tensor> {
        self.map.remove(&tensor.id())
    }

    pub(crate) fn remove_id(&mut self, id: TensorId) -> Option<Tensor> {
        self.map.remove(&id)
    }

    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All (id, gradient) pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (TensorId, &Tensor)> {
        self.map.iter().map(|(&id, g)| (id, g))
    }

    /// Adds `grad` to the gradient held for `id` (or stores it).
    pub(crate) fn accumulate(&mut self, id: TensorId, grad: Tensor) -> crate::Result<()> {
        match self.map.remove(&id) {
            Some(prev) => {
                let sum = add_into(prev, &grad)?;
                self.map.insert(id, sum);
            }
            None => {
                self.map.insert(id, grad);
            }
        }
        Ok(())
    }
}

/// `prev + grad`, written into `prev`'s own buffer when nothing else can see it (no other
/// handle to the tensor or its storage), else a fresh tensor. A weight used at every step
/// of a recurrence, or by every op of a chain, receives a gradient per use: summing them in
/// place saves a buffer, a tensor and their allocations per use. The sums are the same
/// either way (`prev[i] + grad[i]`, the same order).
fn add_into(prev: Tensor, grad: &Tensor) -> crate::Result<Tensor> {
    let sole = std::sync::Arc::strong_count(&prev.0) == 1
        && std::sync::Arc::strong_count(&prev.0.storage) == 1
        && !std::sync::Arc::ptr_eq(&prev.0.storage, &grad.0.storage)
        && prev.grad_fn().is_none()
        && prev.shape() == grad.shape()
        && prev.dtype() == grad.dtype()
        && prev.is_contiguous();
    if !sole {
        return prev.add(grad);
    }
    let grad = grad.contiguous();
    match prev.dtype() {
        crate::DType::F32 => add_slices(&mut prev.write::<f32>()?, &grad.read::<f32>()?),
        crate::DType::F64 => add_slices(&mut prev.write::<f64>()?, &grad.read::<f64>()?),
        _ => return prev.add(&grad),
    }
    Ok(prev)
}

fn add_slices<T: Copy + std::ops::AddAssign>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}
