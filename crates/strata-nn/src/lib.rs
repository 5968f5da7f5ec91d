//! # strata-nn
//!
//! Neural-network building blocks on top of `strata-core`: the [`Module`] and [`Forward`]
//! traits (with `#[derive(Module)]` for your own modules), [`Param`]eters, layers,
//! initialisers, losses, optimisers, learning-rate schedules and checkpoints. Names and
//! defaults follow PyTorch: state-dict names like `0.weight`, Kaiming-uniform Linear
//! weights, cross-entropy on logits.
//!
//! ```
//! use strata_nn::{Forward, Linear, ModuleExt, ReLU, Sequential};
//! use strata_core::Tensor;
//!
//! let model = Sequential::new()
//!     .push(Linear::new(4, 8)?)
//!     .push(ReLU::new())
//!     .push(Linear::new(8, 3)?);
//! let logits = model.forward(&Tensor::randn(&[5, 4]))?;
//! assert_eq!(logits.shape(), &[5, 3]);
//! assert_eq!(model.num_parameters(), 4 * 8 + 8 + 8 * 3 + 3);
//! # Ok::<(), strata_nn::Error>(())
//! ```

// Lets `#[derive(Module)]`, which names `::strata_nn`, serve inside this crate too.
extern crate self as strata_nn;

pub mod checkpoint;
pub mod clip;
mod error;
pub mod hooks;
pub mod init;
pub mod layers;
pub mod loss;
mod module;
pub mod optim;
mod param;
pub mod regularize;
pub mod sampling;
pub mod schedule;
mod sequential;
mod summary;

pub use checkpoint::{load_safetensors, save_safetensors, TrainingCheckpoint};
pub use error::{Error, Result, ShapeConflict, StateDictProblems};
pub use layers::*;
pub use loss::{
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss,
    mse_loss, nll_loss, smooth_l1_loss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
    L1Loss, MSELoss, NLLLoss, Reduction, SmoothL1Loss,
};
pub use module::{parameters_of, walk, Forward, LoadReport, Module, ModuleExt, Visit, Visitor};
pub use optim::{Adagrad, Adam, AdamW, Optimizer, ParamGroup, RMSprop, SGD};
pub use param::{Buffer, Param};
pub use sequential::Sequential;
/// `#[derive(Module)]`: see [`Module`].
pub use strata_derive::Module;
pub use summary::{summary, summary_with_input, Summary, SummaryExt, SummaryRow};
