//! AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's
//! `torch.optim.AdamW`. The rule and the shared settings are Adam's (`adam.rs`).

use super::adam::AdamRule;
use super::rule::Optim;
use super::IntoParamGroups;
use crate::Result;

/// Adam with decoupled weight decay: each step first shrinks the weights,
/// `w ← w · (1 − lr · weight_decay)`, then applies the plain Adam update (see [`Adam`](super::Adam)).
/// Unlike Adam's L2 term, the decay is not rescaled by the adaptive denominator.
///
/// Defaults as PyTorch: betas (0.9, 0.999), eps 1e-8, weight decay 0.01, no AMSGrad.
///
/// ```
/// use strata_nn::optim::{AdamW, Optimizer};
/// use strata_nn::Param;
/// use strata_core::{Gradients, Tensor};
/// let w = Param::new(Tensor::from_vec(vec![2.0f64], &[1])?);
/// let mut opt = AdamW::new(vec![w.clone()], 0.1)?.weight_decay(0.5)?;
/// let mut grads = Gradients::new();
/// grads.insert(&w, Tensor::from_vec(vec![0.0f64], &[1])?); // zero gradient: decay only
/// opt.step(&grads)?;
/// assert_eq!(w.to_vec::<f64>()?, vec![2.0 * (1.0 - 0.1 * 0.5)]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub type AdamW = Optim<AdamRule<true>>;

impl AdamW {
    /// AdamW over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with learning
    /// rate `lr` (finite, `>= 0`) and PyTorch's defaults (weight decay 0.01).
    pub fn new(params: impl IntoParamGroups, lr: f64) -> Result<AdamW> {
        Optim::build(params, lr, 1e-2, AdamRule::defaults())
    }
}
