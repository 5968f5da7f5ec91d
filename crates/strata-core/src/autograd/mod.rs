//! Reverse-mode automatic differentiation.
//!
//! An op records a [`GradFn`] on its output when any input requires grad and grad mode is
//! on ([`no_grad`] turns it off). [`Tensor::backward`](crate::Tensor::backward) walks the
//! recorded graph in reverse topological order (iteratively, so deep graphs are fine),
//! calling each op's [`BackwardOp::backward`] and summing gradients where a tensor is used
//! more than once.

mod engine;
mod grad_mode;
mod gradcheck;
mod gradients;
mod graph;
mod id_hash;
mod introspect;

pub use engine::BackwardOptions;
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use gradcheck::{gradcheck, GradcheckOptions};
pub use gradients::Gradients;
pub(crate) use graph::needs_grad;
pub use graph::{BackwardOp, GradFn};
pub use introspect::{GraphInput, GraphNode};
