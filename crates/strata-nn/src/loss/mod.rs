//! Loss functions, with PyTorch's semantics and names.
//!
//! Each loss comes two ways: a plain function for the common case (`cross_entropy(&logits,
//! &target)`, mean reduction, no options) and an options struct for everything else
//! (`CrossEntropyLoss::new().weight(w).label_smoothing(0.1).forward(&logits, &target)`).
//!
//! Every loss is one fused op: the forward kernel computes the loss in a single pass over
//! its inputs and the backward kernel writes the gradient directly, without the graph of
//! intermediate tensors an unfused composition would record. Class weights, `pos_weight`
//! and BCE weights are constants (they receive no gradient). Backward rules are not
//! themselves differentiable (no double backward).
//!
//! | family | functions | options structs |
//! |---|---|---|
//! | regression | [`mse_loss`], [`l1_loss`], [`huber_loss`], [`smooth_l1_loss`] | [`MSELoss`], [`L1Loss`], [`HuberLoss`], [`SmoothL1Loss`] |
//! | classification | [`cross_entropy`], [`nll_loss`] | [`CrossEntropyLoss`], [`NLLLoss`] |
//! | binary | [`binary_cross_entropy`], [`binary_cross_entropy_with_logits`] | [`BCELoss`], [`BCEWithLogitsLoss`] |
//!
//! ```
//! use strata_nn::{cross_entropy, CrossEntropyLoss, Reduction};
//! use strata_core::Tensor;
//! let logits = Tensor::randn(&[4, 3]).requires_grad_();
//! let target = Tensor::from_vec(vec![0i64, 2, 1, 2], &[4])?;
//! let loss = cross_entropy(&logits, &target)?;
//! let per_sample = CrossEntropyLoss::new()
//!     .reduction(Reduction::None)
//!     .forward(&logits, &target)?;
//! assert_eq!(per_sample.shape(), &[4]);
//! assert!((per_sample.mean_all()?.item()? - loss.item()?).abs() < 1e-6);
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&logits).unwrap().shape(), &[4, 3]);
//! # Ok::<(), strata_nn::Error>(())
//! ```

mod binary;
mod class_target;
mod common;
mod cross_entropy;
mod nll;
mod pointwise;
mod regression;

pub use binary::{
    binary_cross_entropy, binary_cross_entropy_with_logits, BCELoss, BCEWithLogitsLoss,
};
pub use cross_entropy::{cross_entropy, CrossEntropyLoss};
pub use nll::{nll_loss, NLLLoss};
pub use regression::{
    huber_loss, l1_loss, mse_loss, smooth_l1_loss, HuberLoss, L1Loss, MSELoss, SmoothL1Loss,
};

/// How a loss combines its per-element (or per-sample) values.
///
/// ```
/// use strata_nn::{MSELoss, Reduction};
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![1.0f32, 2.0, 4.0], &[3])?;
/// let target = Tensor::zeros(&[3]);
/// let loss = |r| MSELoss::new().reduction(r).forward(&pred, &target);
/// assert_eq!(loss(Reduction::Mean)?.item()?, 7.0);
/// assert_eq!(loss(Reduction::Sum)?.item()?, 21.0);
/// assert_eq!(loss(Reduction::None)?.to_vec::<f32>()?, vec![1.0, 4.0, 16.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The average (PyTorch's default). For class-index targets with class weights or an
    /// `ignore_index`, the weighted average: divided by the sum of the weights of the
    /// targets that are not ignored.
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: one value per element (regression, binary losses) or per sample
    /// (classification losses).
    None,
}
