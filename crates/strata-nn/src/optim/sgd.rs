//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and (coupled)
//! weight decay: PyTorch's `torch.optim.SGD`.

use super::group::{unsupported_dtype, IntoParamGroups, ParamGroups, Update};
use super::kernel::{check_non_negative, flag, for_chunks};
use super::state::{self, Loaded};
use super::Optimizer;
use crate::{Error, Result};
use strata_core::{DType, FloatElement, Gradients, Tensor};

const WHAT: &str = "SGD";
const BUFFERS: [&str; 1] = ["momentum_buffer"];
const HYPERS: [&str; 4] = ["momentum", "dampening", "nesterov", "maximize"];

/// Stochastic gradient descent, with PyTorch's update rule. For each parameter `w` with
/// gradient `g` (negated when maximising):
///
/// ```text
/// g ← g + weight_decay · w
/// if momentum ≠ 0:
///     b ← g                                   (first step)
///     b ← momentum · b + (1 − dampening) · g  (later steps)
///     g ← g + momentum · b   if nesterov, else   g ← b
/// w ← w − lr · g
/// ```
///
/// Defaults as PyTorch: no momentum, no dampening, no weight decay.
///
/// ```
/// use strata_nn::optim::{Optimizer, SGD};
/// use strata_nn::Param;
/// use strata_core::Tensor;
/// let w = Param::new(Tensor::from_vec(vec![1.0f64, -2.0], &[2])?);
/// let mut opt = SGD::new(vec![w.clone()], 0.1).momentum(0.9).nesterov(true);
/// let grads = w.mul(&w)?.sum_all()?.backward()?;   // gradient 2w
/// opt.step(&grads)?;
/// // b = g = 2w; w -= 0.1 * (g + 0.9 b) = 0.1 * 3.8 w
/// assert_eq!(w.to_vec::<f64>()?, vec![1.0 - 0.38, -2.0 + 0.76]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
#[derive(Clone, Debug)]
pub struct SGD {
    groups: ParamGroups,
    h: Hyper,
}

/// SGD's hyperparameters besides learning rate and weight decay (which are per group).
#[derive(Clone, Copy, Debug)]
struct Hyper {
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    maximize: bool,
}

impl Hyper {
    fn validate(&self) -> Result<()> {
        check_non_negative(WHAT, "momentum", self.momentum)?;
        if !self.dampening.is_finite() {
            return Err(Error::config(
                WHAT,
                format!("dampening must be finite, got {}", self.dampening),
            ));
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::config(
                WHAT,
                format!(
                    "Nesterov momentum requires a momentum > 0 and zero dampening, got \
                     momentum {} and dampening {}",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(())
    }

    fn values(&self) -> [(&'static str, f64); 4] {
        [
            (HYPERS[0], self.momentum),
            (HYPERS[1], self.dampening),
            (HYPERS[2], flag(self.nesterov)),
            (HYPERS[3], flag(self.maximize)),
        ]
    }

    fn from_loaded(l: &Loaded) -> Hyper {
        Hyper {
            momentum: l.hyper(0),
            dampening: l.hyper(1),
            nesterov: l.hyper(2) != 0.0,
            maximize: l.hyper(3) != 0.0,
        }
    }
}

impl SGD {
    /// Plain SGD over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with
    /// learning rate `lr`.
    pub fn new(params: impl IntoParamGroups, lr: f64) -> SGD {
        SGD {
            groups: ParamGroups::new(WHAT, params, lr, 0.0),
            h: Hyper {
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
                maximize: false,
            },
        }
    }

    /// Momentum factor (default 0).
    pub fn momentum(mut self, momentum: f64) -> SGD {
        self.h.momentum = momentum;
        self
    }

    /// Dampening for momentum (default 0).
    pub fn dampening(mut self, dampening: f64) -> SGD {
        self.h.dampening = dampening;
        self
    }

    /// Nesterov momentum (default off; needs momentum > 0 and zero dampening).
    pub fn nesterov(mut self, nesterov: bool) -> SGD {
        self.h.nesterov = nesterov;
        self
    }

    /// L2 penalty added to the gradient, for groups without their own (default 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> SGD {
        self.groups.set_default_weight_decay(weight_decay);
        self
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(mut self, maximize: bool) -> SGD {
        self.h.maximize = maximize;
        self
    }

    /// One parameter's fused update in dtype `T`. `buf` is the momentum buffer and whether
    /// it was just created (then it starts as the gradient).
    fn update<T: FloatElement>(&self, u: &Update, buf: Option<(&Tensor, bool)>) -> Result<()> {
        let h = self.h;
        let first = buf.is_some_and(|(_, fresh)| fresh);
        let c = Consts {
            sign: T::from_f64(if h.maximize { -1.0 } else { 1.0 }),
            lr: T::from_f64(u.lr),
            weight_decay: T::from_f64(u.weight_decay),
            momentum: T::from_f64(h.momentum),
            // A fresh buffer (zeros) becomes 0·b + 1·d = d.
            keep_buf: T::from_f64(if first { 0.0 } else { h.momentum }),
            keep_grad: T::from_f64(if first { 1.0 } else { 1.0 - h.dampening }),
        };
        let decay = u.weight_decay != 0.0;
        let mut w = u.param.write::<T>()?;
        let g = u.grad.read::<T>()?;
        let Some((buf, _)) = buf else {
            let s = &mut [];
            match decay {
                false => for_chunks(&mut w, &g, s, &|w, g, b| {
                    c.run::<false, false, false>(w, g, b)
                }),
                true => for_chunks(&mut w, &g, s, &|w, g, b| {
                    c.run::<true, false, false>(w, g, b)
                }),
            }
            return Ok(());
        };
        let mut b = buf.write::<T>()?;
        let s = &mut [&mut *b];
        // One specialised loop per combination of flags: no branches in the hot loop.
        match (decay, h.nesterov) {
            (false, false) => for_chunks(&mut w, &g, s, &|w, g, b| {
                c.run::<false, true, false>(w, g, b)
            }),
            (false, true) => for_chunks(&mut w, &g, s, &|w, g, b| {
                c.run::<false, true, true>(w, g, b)
            }),
            (true, false) => for_chunks(&mut w, &g, s, &|w, g, b| {
                c.run::<true, true, false>(w, g, b)
            }),
            (true, true) => {
                for_chunks(&mut w, &g, s, &|w, g, b| c.run::<true, true, true>(w, g, b))
            }
        }
        Ok(())
    }
}

/// The scalars of one parameter's SGD step, in the parameter's dtype. Maximising flips the
/// gradient's `sign`.
struct Consts<T> {
    sign: T,
    lr: T,
    weight_decay: T,
    momentum: T,
    keep_buf: T,
    keep_grad: T,
}

impl<T: FloatElement> Consts<T> {
    /// The update over one chunk; `bufs[0]` is the momentum buffer when `MOMENTUM`.
    #[inline(always)]
    fn run<const DECAY: bool, const MOMENTUM: bool, const NESTEROV: bool>(
        &self,
        w: &mut [T],
        g: &[T],
        bufs: &mut [&mut [T]],
    ) {
        let n = w.len();
        let g = &g[..n];
        let b: &mut [T] = match bufs.first_mut() {
            Some(b) if MOMENTUM => &mut b[..n],
            _ => &mut [],
        };
        for i in 0..n {
            let mut d = g[i] * self.sign;
            if DECAY {
                d += self.weight_decay * w[i];
            }
            if MOMENTUM {
                b[i] = self.keep_buf * b[i] + self.keep_grad * d;
                d = if NESTEROV {
                    d + self.momentum * b[i]
                } else {
                    b[i]
                };
            }
            w[i] -= self.lr * d;
        }
    }
}

impl Optimizer for SGD {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.h.validate()?;
        for u in self.groups.updates(grads)? {
            let state = self.groups.state_mut(u.group, u.index);
            state.step += 1;
            let buf = (self.h.momentum != 0.0).then(|| state.buffer(0, &u.param));
            let buf = buf.as_ref().map(|(b, fresh)| (b, *fresh));
            match u.param.dtype() {
                DType::F32 => self.update::<f32>(&u, buf)?,
                DType::F64 => self.update::<f64>(&u, buf)?,
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
        // The momentum buffer is created lazily (from the gradient): it is optional.
        loaded.commit(&mut self.groups);
        self.h = h;
        Ok(())
    }
}
