//! RMSprop (with momentum and the centered variant): PyTorch's `torch.optim.RMSprop`.

use super::adam::lerp;
use super::group::{unsupported_dtype, IntoParamGroups, ParamGroups, Update};
use super::kernel::{check_non_negative, flag, for_chunks};
use super::state::{self, Loaded};
use super::Optimizer;
use crate::Result;
use strata_core::{DType, FloatElement, Gradients, Tensor};

const WHAT: &str = "RMSprop";
const BUFFERS: [&str; 3] = ["square_avg", "momentum_buffer", "grad_avg"];
const HYPERS: [&str; 5] = ["alpha", "eps", "momentum", "centered", "maximize"];

/// RMSprop (Hinton), with PyTorch's update rule. For each parameter `w` with gradient `g`
/// (negated when maximising):
///
/// ```text
/// g ← g + weight_decay · w
/// s ← α · s + (1 − α) · g²
/// a ← √(s − ḡ²) + eps, with ḡ ← ḡ + (1 − α) · (g − ḡ)   if centered
/// a ← √s + eps                                          otherwise
/// b ← momentum · b + g / a,  w ← w − lr · b              if momentum > 0
/// w ← w − lr · g / a                                     otherwise
/// ```
///
/// Defaults as PyTorch: alpha 0.99, eps 1e-8, no momentum, not centered, no weight decay.
///
/// ```
/// use strata_nn::optim::{Optimizer, RMSprop};
/// use strata_nn::Param;
/// use strata_core::Tensor;
/// let w = Param::new(Tensor::from_vec(vec![1.0f64], &[1])?);
/// let mut opt = RMSprop::new(vec![w.clone()], 0.01).alpha(0.9);
/// let grads = w.mul(&w)?.sum_all()?.backward()?; // g = 2
/// opt.step(&grads)?;
/// // s = 0.1 * 4 = 0.4; w = 1 - 0.01 * 2 / (√0.4 + 1e-8)
/// let want = 1.0 - 0.01 * 2.0 / (0.4f64.sqrt() + 1e-8);
/// assert!((w.to_vec::<f64>()?[0] - want).abs() < 1e-15);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
#[derive(Clone, Debug)]
pub struct RMSprop {
    groups: ParamGroups,
    h: Hyper,
}

/// RMSprop's hyperparameters besides learning rate and weight decay (which are per group).
#[derive(Clone, Copy, Debug)]
struct Hyper {
    alpha: f64,
    eps: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
}

impl Hyper {
    fn validate(&self) -> Result<()> {
        check_non_negative(WHAT, "alpha", self.alpha)?;
        check_non_negative(WHAT, "eps", self.eps)?;
        check_non_negative(WHAT, "momentum", self.momentum)
    }

    fn values(&self) -> [(&'static str, f64); 5] {
        [
            (HYPERS[0], self.alpha),
            (HYPERS[1], self.eps),
            (HYPERS[2], self.momentum),
            (HYPERS[3], flag(self.centered)),
            (HYPERS[4], flag(self.maximize)),
        ]
    }

    fn from_loaded(l: &Loaded) -> Hyper {
        Hyper {
            alpha: l.hyper(0),
            eps: l.hyper(1),
            momentum: l.hyper(2),
            centered: l.hyper(3) != 0.0,
            maximize: l.hyper(4) != 0.0,
        }
    }
}

impl RMSprop {
    /// RMSprop over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with learning
    /// rate `lr` and PyTorch's defaults.
    pub fn new(params: impl IntoParamGroups, lr: f64) -> RMSprop {
        RMSprop {
            groups: ParamGroups::new(WHAT, params, lr, 0.0),
            h: Hyper {
                alpha: 0.99,
                eps: 1e-8,
                momentum: 0.0,
                centered: false,
                maximize: false,
            },
        }
    }

    /// Smoothing constant of the squared-gradient average (default 0.99).
    pub fn alpha(mut self, alpha: f64) -> RMSprop {
        self.h.alpha = alpha;
        self
    }

    /// Added to the denominator for numerical stability (default 1e-8).
    pub fn eps(mut self, eps: f64) -> RMSprop {
        self.h.eps = eps;
        self
    }

    /// Momentum factor (default 0).
    pub fn momentum(mut self, momentum: f64) -> RMSprop {
        self.h.momentum = momentum;
        self
    }

    /// Normalise by the estimated variance of the gradient instead of its second moment
    /// (default off).
    pub fn centered(mut self, centered: bool) -> RMSprop {
        self.h.centered = centered;
        self
    }

    /// L2 penalty added to the gradient, for groups without their own (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> RMSprop {
        self.groups.set_default_weight_decay(weight_decay);
        self
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(mut self, maximize: bool) -> RMSprop {
        self.h.maximize = maximize;
        self
    }

    /// One parameter's fused update in dtype `T`; `bufs` are `square_avg`, then
    /// `momentum_buffer` when momentum > 0, then `grad_avg` when centered.
    fn update<T: FloatElement>(&self, u: &Update, bufs: &[Tensor]) -> Result<()> {
        let h = self.h;
        let lr = T::from_f64(u.lr);
        let wd = T::from_f64(u.weight_decay);
        let alpha = T::from_f64(h.alpha);
        let one_minus_alpha = T::from_f64(1.0 - h.alpha);
        let eps = T::from_f64(h.eps);
        let momentum = T::from_f64(h.momentum);
        let has_momentum = h.momentum > 0.0;

        let mut w = u.param.write::<T>()?;
        let g = u.grad.read::<T>()?;
        let mut guards = Vec::with_capacity(bufs.len());
        for b in bufs {
            guards.push(b.write::<T>()?);
        }
        let mut slices: Vec<&mut [T]> = guards.iter_mut().map(|b| &mut **b).collect();
        for_chunks(&mut w, &g, &mut slices, &|w, g, bufs| {
            let Some((square_avg, rest)) = bufs.split_first_mut() else {
                return;
            };
            let (mut momentum_buf, rest) = match rest.split_first_mut() {
                Some((b, rest)) if has_momentum => (Some(b), rest),
                _ => (None, rest),
            };
            let mut grad_avg = if h.centered { rest.first_mut() } else { None };
            for i in 0..w.len() {
                let mut gi = if h.maximize { -g[i] } else { g[i] };
                if u.weight_decay != 0.0 {
                    gi += wd * w[i];
                }
                let s = &mut square_avg[i];
                *s = *s * alpha + one_minus_alpha * gi * gi;
                let avg = match grad_avg.as_deref_mut() {
                    Some(ga) => {
                        ga[i] = lerp(ga[i], gi, one_minus_alpha);
                        (*s - ga[i] * ga[i]).sqrt()
                    }
                    None => s.sqrt(),
                } + eps;
                match momentum_buf.as_deref_mut() {
                    Some(b) => {
                        b[i] = b[i] * momentum + gi / avg;
                        w[i] -= lr * b[i];
                    }
                    None => w[i] -= lr * gi / avg,
                }
            }
        });
        Ok(())
    }
}

impl Optimizer for RMSprop {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.h.validate()?;
        for u in self.groups.updates(grads)? {
            let state = self.groups.state_mut(u.group, u.index);
            state.step += 1;
            let mut bufs = vec![state.buffer(0, &u.param).0];
            if self.h.momentum > 0.0 {
                bufs.push(state.buffer(1, &u.param).0);
            }
            if self.h.centered {
                bufs.push(state.buffer(2, &u.param).0);
            }
            match u.param.dtype() {
                DType::F32 => self.update::<f32>(&u, &bufs)?,
                DType::F64 => self.update::<f64>(&u, &bufs)?,
                other => return Err(unsupported_dtype(WHAT, other)),
            }
        }
        Ok(())
    }

    fn groups(&self) -> &ParamGroups {
        &self.groups
    }

    fn groups_mut(&mut self) -> &mut ParamGroups {
        &mut self.groups
    }

    fn momentum_or_beta1(&self) -> Option<f64> {
        Some(self.h.momentum)
    }

    fn set_momentum_or_beta1(&mut self, momentum: f64) -> Result<()> {
        check_non_negative(WHAT, "momentum", momentum)?;
        self.h.momentum = momentum;
        Ok(())
    }

    fn state_dict(&self) -> Vec<(String, Tensor)> {
        state::save(&self.groups, &BUFFERS, &self.h.values())
    }

    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let loaded = state::parse(&self.groups, entries, &BUFFERS, &HYPERS)?;
        let h = Hyper::from_loaded(&loaded);
        h.validate()?;
        let mut required = vec![0];
        if h.momentum > 0.0 {
            required.push(1);
        }
        if h.centered {
            required.push(2);
        }
        loaded.require_buffers(WHAT, &required)?;
        loaded.commit(&mut self.groups);
        self.h = h;
        Ok(())
    }
}
