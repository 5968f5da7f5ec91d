//! Adagrad: PyTorch's `torch.optim.Adagrad`.

use super::group::{unsupported_dtype, IntoParamGroups, ParamGroups, Update};
use super::kernel::{check_non_negative, flag, for_chunks};
use super::state::{self, Loaded};
use super::Optimizer;
use crate::Result;
use strata_core::{DType, FloatElement, Gradients, Tensor};

const WHAT: &str = "Adagrad";
const BUFFERS: [&str; 1] = ["sum"];
const HYPERS: [&str; 4] = ["lr_decay", "eps", "initial_accumulator_value", "maximize"];

/// Adagrad (Duchi et al.), with PyTorch's update rule. For each parameter `w` with gradient
/// `g` (negated when maximising), at step `t`:
///
/// ```text
/// g ← g + weight_decay · w
/// η ← lr / (1 + (t − 1) · lr_decay)
/// s ← s + g²                        (s starts at initial_accumulator_value)
/// w ← w − η · g / (√s + eps)
/// ```
///
/// Defaults as PyTorch: no lr decay, no weight decay, initial accumulator 0, eps 1e-10.
///
/// ```
/// use strata_nn::optim::{Adagrad, Optimizer};
/// use strata_nn::Param;
/// use strata_core::Tensor;
/// let w = Param::new(Tensor::from_vec(vec![1.0f64], &[1])?);
/// let mut opt = Adagrad::new(vec![w.clone()], 0.1).initial_accumulator_value(5.0);
/// let grads = w.mul(&w)?.sum_all()?.backward()?; // g = 2, s = 5 + 4
/// opt.step(&grads)?;
/// assert!((w.to_vec::<f64>()?[0] - (1.0 - 0.1 * 2.0 / (3.0 + 1e-10))).abs() < 1e-15);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Adagrad {
    groups: ParamGroups,
    h: Hyper,
}

/// Adagrad's hyperparameters besides learning rate and weight decay (which are per group).
#[derive(Clone, Copy, Debug)]
struct Hyper {
    lr_decay: f64,
    eps: f64,
    initial_accumulator_value: f64,
    maximize: bool,
}

impl Hyper {
    fn validate(&self) -> Result<()> {
        check_non_negative(WHAT, "lr_decay", self.lr_decay)?;
        check_non_negative(WHAT, "eps", self.eps)?;
        check_non_negative(
            WHAT,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )
    }

    fn values(&self) -> [(&'static str, f64); 4] {
        [
            (HYPERS[0], self.lr_decay),
            (HYPERS[1], self.eps),
            (HYPERS[2], self.initial_accumulator_value),
            (HYPERS[3], flag(self.maximize)),
        ]
    }

    fn from_loaded(l: &Loaded) -> Hyper {
        Hyper {
            lr_decay: l.hyper(0),
            eps: l.hyper(1),
            initial_accumulator_value: l.hyper(2),
            maximize: l.hyper(3) != 0.0,
        }
    }
}

impl Adagrad {
    /// Adagrad over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with
    /// learning rate `lr` and PyTorch's defaults.
    pub fn new(params: impl IntoParamGroups, lr: f64) -> Adagrad {
        Adagrad {
            groups: ParamGroups::new(WHAT, params, lr, 0.0),
            h: Hyper {
                lr_decay: 0.0,
                eps: 1e-10,
                initial_accumulator_value: 0.0,
                maximize: false,
            },
        }
    }

    /// Learning-rate decay per step (default 0).
    pub fn lr_decay(mut self, lr_decay: f64) -> Adagrad {
        self.h.lr_decay = lr_decay;
        self
    }

    /// Added to the denominator for numerical stability (default 1e-10).
    pub fn eps(mut self, eps: f64) -> Adagrad {
        self.h.eps = eps;
        self
    }

    /// Starting value of the squared-gradient sums (default 0).
    pub fn initial_accumulator_value(mut self, value: f64) -> Adagrad {
        self.h.initial_accumulator_value = value;
        self
    }

    /// L2 penalty added to the gradient, for groups without their own (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Adagrad {
        self.groups.set_default_weight_decay(weight_decay);
        self
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(mut self, maximize: bool) -> Adagrad {
        self.h.maximize = maximize;
        self
    }

    /// One parameter's fused update in dtype `T` at step `t`.
    fn update<T: FloatElement>(&self, u: &Update, t: u64, sum: &Tensor) -> Result<()> {
        let h = self.h;
        let c = Consts {
            sign: T::from_f64(if h.maximize { -1.0 } else { 1.0 }),
            clr: T::from_f64(u.lr / (1.0 + (t - 1) as f64 * h.lr_decay)),
            weight_decay: T::from_f64(u.weight_decay),
            eps: T::from_f64(h.eps),
        };
        let mut w = u.param.write::<T>()?;
        let g = u.grad.read::<T>()?;
        let mut s = sum.write::<T>()?;
        let s = &mut [&mut *s];
        match u.weight_decay != 0.0 {
            false => for_chunks(&mut w, &g, s, &|w, g, b| c.run::<false>(w, g, b)),
            true => for_chunks(&mut w, &g, s, &|w, g, b| c.run::<true>(w, g, b)),
        }
        Ok(())
    }
}

/// The scalars of one parameter's Adagrad step, in the parameter's dtype. Maximising flips
/// the gradient's `sign`; `clr` is the decayed learning rate.
struct Consts<T> {
    sign: T,
    clr: T,
    weight_decay: T,
    eps: T,
}

impl<T: FloatElement> Consts<T> {
    /// The update over one chunk; `bufs[0]` is the running sum of squared gradients.
    #[inline(always)]
    fn run<const DECAY: bool>(&self, w: &mut [T], g: &[T], bufs: &mut [&mut [T]]) {
        let n = w.len();
        let g = &g[..n];
        let Some(sum) = bufs.first_mut() else {
            return;
        };
        let sum = &mut sum[..n];
        for i in 0..n {
            let mut gi = g[i] * self.sign;
            if DECAY {
                gi += self.weight_decay * w[i];
            }
            sum[i] += gi * gi;
            w[i] -= self.clr * gi / (sum[i].sqrt() + self.eps);
        }
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.h.validate()?;
        for u in self.groups.updates(grads)? {
            let state = self.groups.state_mut(u.group, u.index);
            state.step += 1;
            let t = state.step;
            let sum = state.buffer_filled(0, &u.param, self.h.initial_accumulator_value)?;
            match u.param.dtype() {
                DType::F32 => self.update::<f32>(&u, t, &sum)?,
                DType::F64 => self.update::<f64>(&u, t, &sum)?,
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

    fn state_dict(&self) -> Vec<(String, Tensor)> {
        state::save(&self.groups, &BUFFERS, &self.h.values())
    }

    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let loaded = state::parse(&self.groups, entries, &BUFFERS, &HYPERS)?;
        let h = Hyper::from_loaded(&loaded);
        h.validate()?;
        loaded.require_buffers(WHAT, &[0])?;
        loaded.commit(&mut self.groups);
        self.h = h;
        Ok(())
    }
}
