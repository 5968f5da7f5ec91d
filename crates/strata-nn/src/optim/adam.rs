//! Adam (with AMSGrad and coupled L2 weight decay): PyTorch's `torch.optim.Adam`. The same
//! update with decoupled weight decay is [`AdamW`](super::AdamW).

use super::group::{unsupported_dtype, IntoParamGroups, ParamGroups, Update};
use super::kernel::{check_non_negative, check_unit_interval, flag, for_chunks};
use super::state::{self, Loaded};
use super::Optimizer;
use crate::Result;
use strata_core::{DType, FloatElement, Gradients, Tensor};

const BUFFERS: [&str; 3] = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
const HYPERS: [&str; 5] = ["beta1", "beta2", "eps", "amsgrad", "maximize"];

/// Adam (Kingma & Ba), with PyTorch's update rule. For each parameter `w` with gradient `g`
/// (negated when maximising), at step `t`:
///
/// ```text
/// g ← g + weight_decay · w                    (Adam: coupled L2)
/// w ← w · (1 − lr · weight_decay)             (AdamW: decoupled, instead)
/// m ← m + (1 − β1) · (g − m)
/// v ← β2 · v + (1 − β2) · g²
/// v̂ ← max(v̂, v) if amsgrad, else v
/// w ← w − lr / (1 − β1ᵗ) · m / (√v̂ / √(1 − β2ᵗ) + eps)
/// ```
///
/// Defaults as PyTorch: betas (0.9, 0.999), eps 1e-8, no weight decay, no AMSGrad.
///
/// ```
/// use strata_nn::optim::{Adam, Optimizer};
/// use strata_nn::Param;
/// use strata_core::Tensor;
/// let w = Param::new(Tensor::from_vec(vec![1.0f64, -3.0], &[2])?);
/// let mut opt = Adam::new(vec![w.clone()], 0.1).betas(0.9, 0.999).amsgrad(true);
/// let grads = w.mul(&w)?.sum_all()?.backward()?;
/// opt.step(&grads)?;
/// // The first Adam step moves every weight by about lr against its gradient's sign.
/// let v = w.to_vec::<f64>()?;
/// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 2.9).abs() < 1e-6);
/// assert!(Adam::new(vec![w.clone()], 0.1).betas(1.0, 0.9).step(&grads).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    groups: ParamGroups,
    h: Hyper,
}

/// Adam's hyperparameters besides learning rate and weight decay (which are per group).
#[derive(Clone, Copy, Debug)]
struct Hyper {
    what: &'static str,
    /// AdamW's decoupled weight decay instead of Adam's L2 term in the gradient.
    decoupled: bool,
    beta1: f64,
    beta2: f64,
    eps: f64,
    amsgrad: bool,
    maximize: bool,
}

impl Hyper {
    fn validate(&self) -> Result<()> {
        check_unit_interval(self.what, "beta1", self.beta1)?;
        check_unit_interval(self.what, "beta2", self.beta2)?;
        check_non_negative(self.what, "eps", self.eps)
    }

    fn values(&self) -> [(&'static str, f64); 5] {
        [
            (HYPERS[0], self.beta1),
            (HYPERS[1], self.beta2),
            (HYPERS[2], self.eps),
            (HYPERS[3], flag(self.amsgrad)),
            (HYPERS[4], flag(self.maximize)),
        ]
    }

    fn with_loaded(self, l: &Loaded) -> Hyper {
        Hyper {
            beta1: l.hyper(0),
            beta2: l.hyper(1),
            eps: l.hyper(2),
            amsgrad: l.hyper(3) != 0.0,
            maximize: l.hyper(4) != 0.0,
            ..self
        }
    }
}

/// `a + weight · (b − a)`, computed as PyTorch's `lerp` does (exact at both ends).
#[inline(always)]
pub(crate) fn lerp<T: FloatElement>(a: T, b: T, weight: T) -> T {
    let half = T::from_f64(0.5);
    if weight.abs() < half {
        a + weight * (b - a)
    } else {
        b - (b - a) * (T::one() - weight)
    }
}

impl Adam {
    /// Adam over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with learning
    /// rate `lr` and PyTorch's defaults.
    pub fn new(params: impl IntoParamGroups, lr: f64) -> Adam {
        Adam::with_mode(params, lr, 0.0, false, "Adam")
    }

    /// Adam or (decoupled) AdamW.
    pub(crate) fn with_mode(
        params: impl IntoParamGroups,
        lr: f64,
        weight_decay: f64,
        decoupled: bool,
        what: &'static str,
    ) -> Adam {
        Adam {
            groups: ParamGroups::new(what, params, lr, weight_decay),
            h: Hyper {
                what,
                decoupled,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                amsgrad: false,
                maximize: false,
            },
        }
    }

    /// Decay rates of the first and second moment estimates (default 0.9, 0.999), each in
    /// `[0, 1)`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Adam {
        self.h.beta1 = beta1;
        self.h.beta2 = beta2;
        self
    }

    /// Added to the denominator for numerical stability (default 1e-8).
    pub fn eps(mut self, eps: f64) -> Adam {
        self.h.eps = eps;
        self
    }

    /// Weight decay for groups without their own: an L2 term added to the gradient for Adam,
    /// decoupled shrinking of the weights for AdamW (default 0 for Adam, 0.01 for AdamW).
    pub fn weight_decay(mut self, weight_decay: f64) -> Adam {
        self.groups.set_default_weight_decay(weight_decay);
        self
    }

    /// The AMSGrad variant: divide by the running maximum of the second moment (default off).
    pub fn amsgrad(mut self, amsgrad: bool) -> Adam {
        self.h.amsgrad = amsgrad;
        self
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(mut self, maximize: bool) -> Adam {
        self.h.maximize = maximize;
        self
    }

    /// One parameter's fused update in dtype `T` at step `t`; `bufs` are `exp_avg`,
    /// `exp_avg_sq` and, with AMSGrad, `max_exp_avg_sq`.
    fn update<T: FloatElement>(&self, u: &Update, t: u64, bufs: &[Tensor]) -> Result<()> {
        let h = self.h;
        let t = t as f64;
        let bias_correction1 = 1.0 - h.beta1.powf(t);
        let bias_correction2 = 1.0 - h.beta2.powf(t);
        let decay = u.weight_decay != 0.0;
        let c = Consts {
            sign: T::from_f64(if h.maximize { -1.0 } else { 1.0 }),
            shrink: T::from_f64(if decay && h.decoupled {
                1.0 - u.lr * u.weight_decay
            } else {
                1.0
            }),
            weight_decay: T::from_f64(u.weight_decay),
            one_minus_beta1: T::from_f64(1.0 - h.beta1),
            beta2: T::from_f64(h.beta2),
            one_minus_beta2: T::from_f64(1.0 - h.beta2),
            bc2_sqrt: T::from_f64(bias_correction2.sqrt()),
            eps: T::from_f64(h.eps),
            step_size: T::from_f64(u.lr / bias_correction1),
        };
        let mut w = u.param.write::<T>()?;
        let g = u.grad.read::<T>()?;
        let mut guards = Vec::with_capacity(bufs.len());
        for b in bufs {
            guards.push(b.write::<T>()?);
        }
        let mut slices: Vec<&mut [T]> = guards.iter_mut().map(|b| &mut **b).collect();
        // One specialised loop per combination of flags: no branches in the hot loop.
        let s = &mut slices;
        match (decay && !h.decoupled, h.amsgrad) {
            (false, false) => for_chunks(&mut w, &g, s, &|w, g, b| c.run::<false, false>(w, g, b)),
            (false, true) => for_chunks(&mut w, &g, s, &|w, g, b| c.run::<false, true>(w, g, b)),
            (true, false) => for_chunks(&mut w, &g, s, &|w, g, b| c.run::<true, false>(w, g, b)),
            (true, true) => for_chunks(&mut w, &g, s, &|w, g, b| c.run::<true, true>(w, g, b)),
        }
        Ok(())
    }
}

/// The scalars of one parameter's Adam step, in the parameter's dtype. Maximising flips
/// the gradient's `sign`; AdamW's decoupled decay multiplies the weight by `shrink` (1 for
/// Adam).
struct Consts<T> {
    sign: T,
    shrink: T,
    weight_decay: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    bc2_sqrt: T,
    eps: T,
    step_size: T,
}

impl<T: FloatElement> Consts<T> {
    /// The update over one chunk; `COUPLED`: Adam's L2 term, `AMSGRAD`: `bufs[2]` holds the
    /// running maximum of the second moment.
    #[inline(always)]
    fn run<const COUPLED: bool, const AMSGRAD: bool>(
        &self,
        w: &mut [T],
        g: &[T],
        bufs: &mut [&mut [T]],
    ) {
        let n = w.len();
        let [m, v, rest @ ..] = bufs else {
            return;
        };
        // Slices of one known length let the compiler drop the bounds checks.
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        let vmax: &mut [T] = match rest.first_mut() {
            Some(s) if AMSGRAD => &mut s[..n],
            _ => &mut [],
        };
        for i in 0..n {
            let mut gi = g[i] * self.sign;
            let wi = w[i] * self.shrink;
            if COUPLED {
                gi += self.weight_decay * wi;
            }
            m[i] = lerp(m[i], gi, self.one_minus_beta1);
            v[i] = v[i] * self.beta2 + self.one_minus_beta2 * gi * gi;
            let mut second = v[i];
            if AMSGRAD {
                // NaN propagates, like torch.maximum.
                if second > vmax[i] || second.is_nan() {
                    vmax[i] = second;
                }
                second = vmax[i];
            }
            let denom = second.sqrt() / self.bc2_sqrt + self.eps;
            w[i] = wi - self.step_size * m[i] / denom;
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.h.validate()?;
        let n_bufs = if self.h.amsgrad { 3 } else { 2 };
        for u in self.groups.updates(grads)? {
            let state = self.groups.state_mut(u.group, u.index);
            state.step += 1;
            let t = state.step;
            let bufs: Vec<Tensor> = (0..n_bufs).map(|i| state.buffer(i, &u.param).0).collect();
            match u.param.dtype() {
                DType::F32 => self.update::<f32>(&u, t, &bufs)?,
                DType::F64 => self.update::<f64>(&u, t, &bufs)?,
                other => return Err(unsupported_dtype(self.h.what, other)),
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

    /// Adam's `beta1`, which a one-cycle schedule cycles.
    fn momentum_or_beta1(&self) -> Option<f64> {
        Some(self.h.beta1)
    }

    fn set_momentum_or_beta1(&mut self, beta1: f64) -> Result<()> {
        check_unit_interval(self.h.what, "beta1", beta1)?;
        self.h.beta1 = beta1;
        Ok(())
    }

    fn state_dict(&self) -> Vec<(String, Tensor)> {
        state::save(&self.groups, &BUFFERS, &self.h.values())
    }

    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let loaded = state::parse(&self.groups, entries, &BUFFERS, &HYPERS)?;
        let h = self.h.with_loaded(&loaded);
        h.validate()?;
        let required: &[usize] = if h.amsgrad { &[0, 1, 2] } else { &[0, 1] };
        loaded.require_buffers(h.what, required)?;
        loaded.commit(&mut self.groups);
        self.h = h;
        Ok(())
    }
}
