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
        let c = Consts {
            sign: T::from_f64(if h.maximize { -1.0 } else { 1.0 }),
            lr: T::from_f64(u.lr),
            weight_decay: T::from_f64(u.weight_decay),
            alpha: T::from_f64(h.alpha),
            one_minus_alpha: T::from_f64(1.0 - h.alpha),
            eps: T::from_f64(h.eps),
            momentum: T::from_f64(h.momentum),
        };
        let mut w = u.param.write::<T>()?;
        let g = u.grad.read::<T>()?;
        let mut guards = Vec::with_capacity(bufs.len());
        for b in bufs {
            guards.push(b.write::<T>()?);
        }
        let mut slices: Vec<&mut [T]> = guards.iter_mut().map(|b| &mut **b).collect();
        match u.weight_decay != 0.0 {
            false => c.dispatch::<false>(&mut w, &g, &mut slices, h.momentum > 0.0, h.centered),
            true => c.dispatch::<true>(&mut w, &g, &mut slices, h.momentum > 0.0, h.centered),
        }
        Ok(())
    }
}

/// The scalars of one parameter's RMSprop step, in the parameter's dtype. Maximising flips
/// the gradient's `sign`.
struct Consts<T> {
    sign: T,
    lr: T,
    weight_decay: T,
    alpha: T,
    one_minus_alpha: T,
    eps: T,
    momentum: T,
}

impl<T: FloatElement> Consts<T> {
    /// One specialised loop per combination of flags: no branches in the hot loop.
    fn dispatch<const DECAY: bool>(
        &self,
        w: &mut [T],
        g: &[T],
        s: &mut [&mut [T]],
        momentum: bool,
        centered: bool,
    ) {
        match (momentum, centered) {
            (false, false) => {
                for_chunks(w, g, s, &|w, g, b| self.run::<DECAY, false, false>(w, g, b))
            }
            (false, true) => {
                for_chunks(w, g, s, &|w, g, b| self.run::<DECAY, false, true>(w, g, b))
            }
            (true, false) => {
                for_chunks(w, g, s, &|w, g, b| self.run::<DECAY, true, false>(w, g, b))
            }
            (true, true) => for_chunks(w, g, s, &|w, g, b| self.run::<DECAY, true, true>(w, g, b)),
        }
    }

    /// The update over one chunk; `bufs` holds `square_avg`, then the momentum buffer if
    /// `MOMENTUM`, then the gradient average if `CENTERED`.
    #[inline(always)]
    fn run<const DECAY: bool, const MOMENTUM: bool, const CENTERED: bool>(
        &self,
        w: &mut [T],
        g: &[T],
        bufs: &mut [&mut [T]],
    ) {
        let n = w.len();
        let g = &g[..n];
        let Some((square_avg, rest)) = bufs.split_first_mut() else {
            return;
        };
        let square_avg = &mut square_avg[..n];
        let (momentum_buf, rest): (&mut [T], _) = match rest.split_first_mut() {
            Some((b, rest)) if MOMENTUM => (&mut b[..n], rest),
            _ => (&mut [], rest),
        };
        let grad_avg: &mut [T] = match rest.first_mut() {
            Some(b) if CENTERED => &mut b[..n],
            _ => &mut [],
        };
        for i in 0..n {
            let mut gi = g[i] * self.sign;
            if DECAY {
                gi += self.weight_decay * w[i];
            }
            let s = square_avg[i] * self.alpha + self.one_minus_alpha * gi * gi;
            square_avg[i] = s;
            let avg = if CENTERED {
                let ga = lerp(grad_avg[i], gi, self.one_minus_alpha);
                grad_avg[i] = ga;
                (s - ga * ga).sqrt()
            } else {
                s.sqrt()
            } + self.eps;
            if MOMENTUM {
                momentum_buf[i] = momentum_buf[i] * self.momentum + gi / avg;
                w[i] -= self.lr * momentum_buf[i];
            } else {
                w[i] -= self.lr * gi / avg;
            }
        }
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
