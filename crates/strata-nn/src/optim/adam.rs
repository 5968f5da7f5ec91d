//! Adam (with AMSGrad and coupled L2 weight decay): PyTorch's `torch.optim.Adam`, and the
//! same rule with decoupled weight decay, [`AdamW`](super::AdamW) (`adamw.rs`).

use super::kernel::{check_non_negative, check_unit_interval, for_chunks};
use super::rule::{hyper_table, Optim, StepInfo, UpdateRule};
use super::IntoParamGroups;
use crate::Result;
use strata_core::FloatElement;

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
/// let mut opt = Adam::new(vec![w.clone()], 0.1)?.betas(0.9, 0.999)?.amsgrad(true);
/// let grads = w.mul(&w)?.sum_all()?.backward()?;
/// opt.step(&grads)?;
/// // The first Adam step moves every weight by about lr against its gradient's sign.
/// let v = w.to_vec::<f64>()?;
/// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 2.9).abs() < 1e-6);
/// assert!(Adam::new(vec![w.clone()], 0.1)?.betas(1.0, 0.9).is_err()); // beta1 in [0, 1)
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub type Adam = Optim<AdamRule<false>>;

hyper_table! {
    /// Adam's hyperparameters besides learning rate and weight decay (which are per group).
    /// `DECOUPLED`: AdamW's decoupled weight decay instead of Adam's L2 term in the gradient.
    pub struct AdamRule<const DECOUPLED: bool> {
        pub beta1: f64,
        pub beta2: f64,
        pub eps: f64,
        pub amsgrad: bool,
        pub maximize: bool,
    }
}

impl<const DECOUPLED: bool> AdamRule<DECOUPLED> {
    /// PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no AMSGrad.
    pub(crate) fn defaults() -> AdamRule<DECOUPLED> {
        AdamRule {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            amsgrad: false,
            maximize: false,
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
    /// rate `lr` (finite, `>= 0`) and PyTorch's defaults.
    pub fn new(params: impl IntoParamGroups, lr: f64) -> Result<Adam> {
        Optim::build(params, lr, 0.0, AdamRule::defaults())
    }
}

/// The builder settings Adam and AdamW share.
impl<const DECOUPLED: bool> Optim<AdamRule<DECOUPLED>> {
    /// Decay rates of the first and second moment estimates (default 0.9, 0.999), each in
    /// `[0, 1)`.
    pub fn betas(self, beta1: f64, beta2: f64) -> Result<Self> {
        self.with(|r| (r.beta1, r.beta2) = (beta1, beta2))
    }

    /// Added to the denominator for numerical stability (default 1e-8; finite, `>= 0`).
    pub fn eps(self, eps: f64) -> Result<Self> {
        self.with(|r| r.eps = eps)
    }

    /// The AMSGrad variant: divide by the running maximum of the second moment (default off).
    pub fn amsgrad(self, amsgrad: bool) -> Self {
        self.with_flag(|r| r.amsgrad = amsgrad)
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(self, maximize: bool) -> Self {
        self.with_flag(|r| r.maximize = maximize)
    }
}

impl<const DECOUPLED: bool> UpdateRule for AdamRule<DECOUPLED> {
    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

    fn what(&self) -> &'static str {
        if DECOUPLED {
            "AdamW"
        } else {
            "Adam"
        }
    }

    fn validate(&self) -> Result<()> {
        check_unit_interval(self.what(), "beta1", self.beta1)?;
        check_unit_interval(self.what(), "beta2", self.beta2)?;
        check_non_negative(self.what(), "eps", self.eps)
    }

    fn buffers(&self) -> &'static [usize] {
        if self.amsgrad {
            &[0, 1, 2]
        } else {
            &[0, 1]
        }
    }

    fn apply<T: FloatElement>(&self, s: &StepInfo, w: &mut [T], g: &[T], b: &mut [&mut [T]]) {
        let t = s.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let decay = s.weight_decay != 0.0;
        let c = Consts {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            shrink: T::from_f64(if decay && DECOUPLED {
                1.0 - s.lr * s.weight_decay
            } else {
                1.0
            }),
            weight_decay: T::from_f64(s.weight_decay),
            one_minus_beta1: T::from_f64(1.0 - self.beta1),
            beta2: T::from_f64(self.beta2),
            one_minus_beta2: T::from_f64(1.0 - self.beta2),
            bc2_sqrt: T::from_f64(bias_correction2.sqrt()),
            eps: T::from_f64(self.eps),
            step_size: T::from_f64(s.lr / bias_correction1),
        };
        // One specialised loop per combination of flags: no branches in the hot loop.
        match (decay && !DECOUPLED, self.amsgrad) {
            (false, false) => for_chunks(w, g, b, &|w, g, b| c.run::<false, false>(w, g, b)),
            (false, true) => for_chunks(w, g, b, &|w, g, b| c.run::<false, true>(w, g, b)),
            (true, false) => for_chunks(w, g, b, &|w, g, b| c.run::<true, false>(w, g, b)),
            (true, true) => for_chunks(w, g, b, &|w, g, b| c.run::<true, true>(w, g, b)),
        }
    }

    /// Adam's `beta1`, which a one-cycle schedule cycles.
    fn momentum(&self) -> Option<f64> {
        Some(self.beta1)
    }

    fn set_momentum(&mut self, beta1: f64) -> bool {
        self.beta1 = beta1;
        true
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
