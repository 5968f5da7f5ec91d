//! AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's
//! `torch.optim.AdamW`.

use super::{Adam, IntoParamGroups, Optimizer, ParamGroups};
use crate::Result;
use strata_core::{Gradients, Tensor};

/// Adam with decoupled weight decay: each step first shrinks the weights,
/// `w ← w · (1 − lr · weight_decay)`, then applies the plain Adam update (see [`Adam`]).
/// Unlike Adam's L2 term, the decay is not rescaled by the adaptive denominator.
///
/// Defaults as PyTorch: betas (0.9, 0.999), eps 1e-8, weight decay 0.01, no AMSGrad.
///
/// ```
/// use strata_nn::optim::{AdamW, Optimizer};
/// use strata_nn::Param;
/// use strata_core::{Gradients, Tensor};
/// let w = Param::new(Tensor::from_vec(vec![2.0f64], &[1])?);
/// let mut opt = AdamW::new(vec![w.clone()], 0.1).weight_decay(0.5);
/// let mut grads = Gradients::new();
/// grads.insert(&w, Tensor::from_vec(vec![0.0f64], &[1])?); // zero gradient: decay only
/// opt.step(&grads)?;
/// assert_eq!(w.to_vec::<f64>()?, vec![2.0 * (1.0 - 0.1 * 0.5)]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdamW {
    inner: Adam,
}

impl AdamW {
    /// AdamW over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with learning
    /// rate `lr` and PyTorch's defaults (weight decay 0.01).
    pub fn new(params: impl IntoParamGroups, lr: f64) -> AdamW {
        AdamW {
            inner: Adam::with_mode(params, lr, 1e-2, true, "AdamW"),
        }
    }

    /// Decay rates of the moment estimates (default 0.9, 0.999), each in `[0, 1)`.
    pub fn betas(self, beta1: f64, beta2: f64) -> AdamW {
        AdamW {
            inner: self.inner.betas(beta1, beta2),
        }
    }

    /// Added to the denominator for numerical stability (default 1e-8).
    pub fn eps(self, eps: f64) -> AdamW {
        AdamW {
            inner: self.inner.eps(eps),
        }
    }

    /// Decoupled weight decay for groups without their own (default 0.01).
    pub fn weight_decay(self, weight_decay: f64) -> AdamW {
        AdamW {
            inner: self.inner.weight_decay(weight_decay),
        }
    }

    /// The AMSGrad variant (default off).
    pub fn amsgrad(self, amsgrad: bool) -> AdamW {
        AdamW {
            inner: self.inner.amsgrad(amsgrad),
        }
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(self, maximize: bool) -> AdamW {
        AdamW {
            inner: self.inner.maximize(maximize),
        }
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.inner.step(grads)
    }

    fn groups(&self) -> &ParamGroups {
        self.inner.groups()
    }

    fn groups_mut(&mut self) -> &mut ParamGroups {
        self.inner.groups_mut()
    }

    fn momentum_or_beta1(&self) -> Option<f64> {
        self.inner.momentum_or_beta1()
    }

    fn set_momentum_or_beta1(&mut self, beta1: f64) -> Result<()> {
        self.inner.set_momentum_or_beta1(beta1)
    }

    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.inner.state_dict()
    }

    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        self.inner.load_state_dict(entries)
    }
}
