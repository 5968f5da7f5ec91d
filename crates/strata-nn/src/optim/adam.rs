//! Adam (with AMSGrad and coupled L2 weight decay): PyTorch's `torch.optim.Adam`, and the
//! same rule with decoupled weight decay, [`AdamW`](super::AdamW) (`adamw.rs`).

use super::kernel::{
    check_non_negative, check_unit_interval, flush_below, for_chunks, Chunk, GradTerm,
};
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
    /// Adam's hyperparameters besides learning rate and weight decay (which are per group),
    /// set by the [`Adam`] and [`AdamW`](super::AdamW) builder settings of their names
    /// (both betas by `betas`). `DECOUPLED`: AdamW's decoupled weight decay instead of
    /// Adam's L2 term in the gradient.
    pub struct AdamRule<const DECOUPLED: bool> {
        /// Decay rate of the first moment estimate (default 0.9; in `[0, 1)`).
        pub beta1: f64,
        /// Decay rate of the second moment estimate (default 0.999; in `[0, 1)`).
        pub beta2: f64,
        /// Added to the denominator for numerical stability (default 1e-8; finite, `>= 0`).
        pub eps: f64 => checked,
        /// The AMSGrad variant: divide by the running maximum of the second moment (default off).
        pub amsgrad: bool => flag,
        /// Maximise the objective instead of minimising it (default off).
        pub maximize: bool => flag,
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

/// The builder setting Adam and AdamW share besides those `hyper_table!` writes.
impl<const DECOUPLED: bool> Optim<AdamRule<DECOUPLED>> {
    /// Decay rates of the first and second moment estimates (default 0.9, 0.999), each in
    /// `[0, 1)`.
    pub fn betas(self, beta1: f64, beta2: f64) -> Result<Self> {
        self.with(|r| (r.beta1, r.beta2) = (beta1, beta2))
    }
}

impl<const DECOUPLED: bool> UpdateRule for AdamRule<DECOUPLED> {
    const BUFFERS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
    const MOMENTUM: Option<&'static str> = Some("beta1");

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
            grad: GradTerm::new(self.maximize, s.weight_decay),
            shrink: T::from_f64(if decay && DECOUPLED {
                1.0 - s.lr * s.weight_decay
            } else {
                1.0
            }),
            one_minus_beta1: T::from_f64(1.0 - self.beta1),
            beta2: T::from_f64(self.beta2),
            one_minus_beta2: T::from_f64(1.0 - self.beta2),
            inv_bc2_sqrt: T::from_f64(1.0 / bias_correction2.sqrt()),
            eps: T::from_f64(self.eps),
            step_size: T::from_f64(s.lr / bias_correction1),
            tiny_m: T::min_positive_value(),
            // With eps 0 a zero second moment would divide zero by zero: v is flushed only
            // when eps keeps the denominator positive.
            tiny_v: if self.eps > 0.0 {
                T::min_positive_value()
            } else {
                T::zero()
            },
        };
        // One specialised loop per combination of flags: no branches in the hot loop.
        match (decay && !DECOUPLED, self.amsgrad) {
            (false, false) => for_chunks(w, g, b, &|x| c.run::<false, false>(x)),
            (false, true) => for_chunks(w, g, b, &|x| c.run::<false, true>(x)),
            (true, false) => for_chunks(w, g, b, &|x| c.run::<true, false>(x)),
            (true, true) => for_chunks(w, g, b, &|x| c.run::<true, true>(x)),
        }
    }
}

/// The scalars of one parameter's Adam step, in the parameter's dtype. AdamW's decoupled
/// decay multiplies the weight by `shrink` (1 for Adam).
struct Consts<T> {
    grad: GradTerm<T>,
    shrink: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    /// `1 / sqrt(1 - β₂ᵗ)`: PyTorch divides by the square root, but the update is bound by
    /// the divider (a square root and two divisions per element took 10 % of a W1 step), and
    /// a multiplication by the reciprocal differs from it by at most one rounding.
    inv_bc2_sqrt: T,
    eps: T,
    step_size: T,
    /// Moments below these are flushed to zero (see [`flush_below`]).
    tiny_m: T,
    tiny_v: T,
}

impl<T: FloatElement> Consts<T> {
    /// The update over one chunk; `COUPLED`: Adam's L2 term, `AMSGRAD`: the third buffer
    /// holds the running maximum of the second moment.
    #[inline(always)]
    fn run<const COUPLED: bool, const AMSGRAD: bool>(&self, c: Chunk<T>) {
        let Some((w, g, [m, v, vmax])) = c.split([true, true, AMSGRAD]) else {
            return;
        };
        // Re-sliced here, next to the loop, so the compiler sees one length for all three
        // and drops the bounds checks (through `split`'s array it did not: AdamW's step
        // measured 5 % slower).
        let n = w.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        for i in 0..n {
            let wi = w[i] * self.shrink;
            let gi = self.grad.at::<COUPLED>(g[i], wi);
            m[i] = flush_below(lerp(m[i], gi, self.one_minus_beta1), self.tiny_m);
            v[i] = flush_below(
                v[i] * self.beta2 + self.one_minus_beta2 * gi * gi,
                self.tiny_v,
            );
            let mut second = v[i];
            if AMSGRAD {
                // NaN propagates, like torch.maximum.
                if second > vmax[i] || second.is_nan() {
                    vmax[i] = second;
                }
                second = vmax[i];
            }
            let denom = second.sqrt() * self.inv_bc2_sqrt + self.eps;
            w[i] = wi - self.step_size * m[i] / denom;
        }
    }
}
