//! Graph nodes: the backward rule of an op plus the inputs it was applied to.

use crate::autograd::is_grad_enabled;
use crate::{Result, Tensor};

/// The backward half of an op: given the gradient of the loss with respect to the op's
/// output, return the gradient with respect to each input.
///
/// Implement it to add a custom differentiable op (a fused kernel, say) from outside this
/// crate; attach it with [`Tensor::record`]. Saved tensors must be `detach()`ed so the graph
/// holds no cycles.
///
/// ```
/// use strata_core::{BackwardOp, Result, Tensor};
/// /// y = 3x, written as a custom op.
/// struct Triple;
/// impl BackwardOp for Triple {
///     fn name(&self) -> &'static str { "triple" }
///     fn backward(&self, grad: &Tensor, _inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
///         Ok(vec![Some(grad.mul_scalar(3.0)?)])
///     }
/// }
/// let x = Tensor::ones(&[2]).requires_grad_();
/// let y = strata_core::no_grad(|| x.mul_scalar(3.0))?.record(&[&x], Triple);
/// let g = y.sum_all()?.backward()?;
/// assert_eq!(g.get(&x).unwrap().to_vec::<f32>()?, vec![3.0, 3.0]);
/// # Ok::<(), strata_core::Error>(())
/// ```
pub trait BackwardOp: Send + Sync + 'static {
    /// The op's name, shown in graph introspection and error messages.
    fn name(&self) -> &'static str;

    /// Gradients for each input, in the order the inputs were recorded. `None` where an
    /// input needs no gradient (check `inputs[i].requires_grad()` to skip work).
    fn backward(&self, grad_output: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>>;
}

/// A recorded op: its backward rule and the tensors it consumed.
pub struct GradFn {
    pub(crate) op: Box<dyn BackwardOp>,
    pub(crate) inputs: Vec<Tensor>,
}

impl GradFn {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        self.op.name()
    }

    /// The op's inputs.
    pub fn inputs(&self) -> &[Tensor] {
        &self.inputs
    }
}

/// True when an op on these inputs must record a graph node.
pub(crate) fn needs_grad(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

impl Tensor {
    /// Attaches `op` as the producer of `self` if grad mode is on and any input requires
    /// grad; otherwise returns `self` unchanged. Used by every differentiable op.
    pub fn record(self, inputs: &[&Tensor], op: impl BackwardOp) -> Tensor {
        if !needs_grad(inputs) {
            return self;
        }
        self.set_grad_fn(GradFn {
            op: Box::new(op),
            inputs: inputs.iter().map(|&t| t.clone()).collect(),
        });
        self
    }

    /// Like [`Tensor::record`], building the op only when it is needed (for ops that save
    /// tensors).
    pub fn record_with<O: BackwardOp>(
        self,
        inputs: &[&Tensor],
        make: impl FnOnce() -> O,
    ) -> Tensor {
        if !needs_grad(inputs) {
            return self;
        }
        self.record(inputs, make())
    }
}
