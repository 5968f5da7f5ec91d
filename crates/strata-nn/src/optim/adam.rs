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
        let step_size = T::from_f64(u.lr / bias_correction1);
        let bc2_sqrt = T::from_f64(bias_correction2.sqrt());
        let one_minus_beta1 = T::from_f64(1.0 - h.beta1);
        let beta2 = T::from_f64(h.beta2);
        let one_minus_beta2 = T::from_f64(1.0 - h.beta2);
        let eps = T::from_f64(h.eps);
        let wd = T::from_f64(u.weight_decay);
        let shrink = T::from_f64(1.0 - u.lr * u.weight_decay);
        let (coupled, decoupled) = match (u.weight_decay != 0.0, h.decoupled) {
            (false, _) => (false, false),
            (true, d) => (!d, d),
        };

        let mut w = u.param.write::<T>()?;
        let g = u.grad.read::<T>()?;
        let mut guards = Vec::with_capacity(bufs.len());
        for b in bufs {
            guards.push(b.write::<T>()?);
        }
        let mut slices: Vec<&mut [T]> = guards.iter_mut().map(|b| &mut **b).collect();
        // Weight decay and the moment updates; returns the new second moment.
        let moments = |w: &mut T, g: T, m: &mut T, v: &mut T| {
            let mut g = if h.maximize { -g } else { g };
            if decoupled {
                *w *= shrink;
            } else if coupled {
                g += wd * *w;
            }
            *m = lerp(*m, g, one_minus_beta1);
            *v = *v * beta2 + one_minus_beta2 * g * g;
            *v
        };
        let apply = |w: &mut T, m: T, second: T| {
            let denom = second.sqrt() / bc2_sqrt + eps;
            *w -= step_size * m / denom;
        };
        for_chunks(&mut w, &g, &mut slices, &|w, g, bufs| match bufs {
            [m, v] => {
                for ((w, &g), (m, v)) in w.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut())) {
                    let second = moments(w, g, m, v);
                    apply(w, *m, second);
                }
            }
            [m, v, vmax] => {
                let mv = m.iter_mut().zip(v.iter_mut());
                for (((w, &g), (m, v)), vmax) in w.iter_mut().zip(g).zip(mv).zip(vmax.iter_mut()) {
                    let second = moments(w, g, m, v);
                    if second > *vmax || second.is_nan() {
                        *vmax = second; // NaN propagates, like torch.maximum
                    }
                    apply(w, *m, *vmax);
                }
            }
            _ => {}
        });
        Ok(())
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
