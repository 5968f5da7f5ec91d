//! # strata-core
//!
//! Tensors, CPU kernels and reverse-mode automatic differentiation: the foundation of the
//! Strata deep learning framework.
//!
//! - [`Tensor`]: a cheap-to-clone, strided view over shared storage, in `f32`, `f64`, `i64`
//!   or `bool`; views (reshape, transpose, narrow, expand, ...) never copy.
//! - Ops with NumPy broadcasting, reductions, indexing and matrix products (via `gemm`),
//!   each with its backward rule beside its forward kernel.
//! - Autodiff: ops record a graph when an input requires grad; [`Tensor::backward`] returns
//!   [`Gradients`]; [`no_grad`] turns recording off; [`gradcheck`] verifies backward rules.
//! - Every user mistake is an [`Error`] naming the op, the shapes and what was expected.
//!
//! ```
//! use strata_core::Tensor;
//! let w = Tensor::randn(&[3, 2]).requires_grad_();
//! let x = Tensor::ones(&[4, 3]);
//! let loss = x.matmul(&w)?.relu()?.mean_all()?;
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&w).unwrap().shape(), &[3, 2]);
//! # Ok::<(), strata_core::Error>(())
//! ```

mod autograd;
mod creation;
mod display;
mod dtype;
mod error;
pub mod kernels;
mod layout;
mod ops;
mod random;
mod size;
mod storage;
mod tensor;

pub use autograd::{
    gradcheck, is_grad_enabled, no_grad, BackwardOp, BackwardOptions, GradFn, GradcheckOptions,
    Gradients, GraphInput, GraphNode, NoGradGuard,
};
pub use dtype::{DType, Element, FloatElement};
pub use error::{Error, Result, ShapeDisplay};
pub use kernels::parallel::{num_threads, size_thread_pool};
pub use layout::{broadcast_shape, contiguous_strides, Dim, Dims, Layout};
pub use ops::avg_pool::{AvgPool1dParams, AvgPool2dParams};
pub use ops::conv::{Conv1dParams, Conv2dParams};
pub use ops::conv_transpose::{ConvTranspose1dParams, ConvTranspose2dParams};
pub use ops::max_pool::{MaxPool1dParams, MaxPool2dParams};
pub use random::{
    global_generator_state, manual_seed, set_global_generator_state, with_global_generator,
    Generator, GeneratorState,
};
pub use size::checked_numel;
pub use tensor::{Tensor, TensorId};
