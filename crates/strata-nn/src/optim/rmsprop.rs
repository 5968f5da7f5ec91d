//! RMSprop (with momentum and the centered variant): PyTorch's `torch.optim.RMSprop`.

use super::adam::lerp;
use super::kernel::{check_non_negative, flush_below, for_chunks, Chunk, GradTerm};
use super::rule::{hyper_table, Optim, StepInfo, UpdateRule};
use super::IntoParamGroups;
use crate::Result;
use strata_core::FloatElement;

const WHAT: &str = "RMSprop";

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
/// let mut opt = RMSprop::new(vec![w.clone()], 0.01)?.alpha(0.9)?;
/// let grads = w.mul(&w)?.sum_all()?.backward()?; // g = 2
/// opt.step(&grads)?;
/// // s = 0.1 * 4 = 0.4; w = 1 - 0.01 * 2 / (√0.4 + 1e-8)
/// let want = 1.0 - 0.01 * 2.0 / (0.4f64.sqrt() + 1e-8);
/// assert!((w.to_vec::<f64>()?[0] - want).abs() < 1e-15);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub type RMSprop = Optim<RmspropRule>;

hyper_table! {
    /// RMSprop's hyperparameters besides learning rate and weight decay (which are per
    /// group), each set by the [`RMSprop`] builder setting of its name.
    pub struct RmspropRule {
        /// Smoothing constant of the squared-gradient average (default 0.99; finite, `>= 0`).
        pub alpha: f64 => checked,
        /// Added to the denominator for numerical stability (default 1e-8; finite, `>= 0`).
        pub eps: f64 => checked,
        /// Momentum factor (default 0; finite, `>= 0`).
        pub momentum: f64 => checked,
        /// Normalise by the estimated variance of the gradient instead of its second moment
        /// (default off).
        pub centered: bool => flag,
        /// Maximise the objective instead of minimising it (default off).
        pub maximize: bool => flag,
    }
}

impl RMSprop {
    /// RMSprop over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with learning
    /// rate `lr` (finite, `>= 0`) and PyTorch's defaults.
    pub fn new(params: impl IntoParamGroups, lr: f64) -> Result<RMSprop> {
        let rule = RmspropRule {
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
            maximize: false,
        };
        Optim::build(params, lr, 0.0, rule)
    }
}

impl UpdateRule for RmspropRule {
    const BUFFERS: &'static [&'static str] = &["square_avg", "momentum_buffer", "grad_avg"];
    const MOMENTUM: Option<&'static str> = Some("momentum");

    fn what(&self) -> &'static str {
        WHAT
    }

    fn validate(&self) -> Result<()> {
        check_non_negative(WHAT, "alpha", self.alpha)?;
        check_non_negative(WHAT, "eps", self.eps)?;
        check_non_negative(WHAT, "momentum", self.momentum)
    }

    /// `square_avg`, then `momentum_buffer` when momentum > 0, then `grad_avg` when
    /// centered.
    fn buffers(&self) -> &'static [usize] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &[0],
            (true, false) => &[0, 1],
            (false, true) => &[0, 2],
            (true, true) => &[0, 1, 2],
        }
    }

    fn apply<T: FloatElement>(&self, s: &StepInfo, w: &mut [T], g: &[T], b: &mut [&mut [T]]) {
        let c = Consts {
            grad: GradTerm::new(self.maximize, s.weight_decay),
            lr: T::from_f64(s.lr),
            alpha: T::from_f64(self.alpha),
            one_minus_alpha: T::from_f64(1.0 - self.alpha),
            eps: T::from_f64(self.eps),
            momentum: T::from_f64(self.momentum),
            tiny_b: T::min_positive_value(),
            // With eps = 0 a zero average would divide by zero: nothing in the denominator
            // is flushed then.
            tiny_s: if self.eps > 0.0 {
                T::min_positive_value()
            } else {
                T::zero()
            },
            // The gradient average below √(smallest normal), so its square is zero or
            // normal, never a subnormal taken from a square average flushed to zero.
            tiny_ga: if self.eps > 0.0 {
                T::min_positive_value().sqrt()
            } else {
                T::zero()
            },
        };
        let (momentum, centered) = (self.momentum > 0.0, self.centered);
        match s.weight_decay != 0.0 {
            false => c.dispatch::<false>(w, g, b, momentum, centered),
            true => c.dispatch::<true>(w, g, b, momentum, centered),
        }
    }
}

/// The scalars of one parameter's RMSprop step, in the parameter's dtype.
struct Consts<T> {
    grad: GradTerm<T>,
    lr: T,
    alpha: T,
    one_minus_alpha: T,
    eps: T,
    momentum: T,
    /// State below these is flushed to zero (see [`flush_below`]): the momentum buffer, the
    /// square average and the gradient average.
    tiny_b: T,
    tiny_s: T,
    tiny_ga: T,
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
            (false, false) => for_chunks(w, g, s, &|x| self.run::<DECAY, false, false>(x)),
            (false, true) => for_chunks(w, g, s, &|x| self.run::<DECAY, false, true>(x)),
            (true, false) => for_chunks(w, g, s, &|x| self.run::<DECAY, true, false>(x)),
            (true, true) => for_chunks(w, g, s, &|x| self.run::<DECAY, true, true>(x)),
        }
    }

    /// The update over one chunk; its buffers are `square_avg`, then the momentum buffer if
    /// `MOMENTUM`, then the gradient average if `CENTERED`.
    #[inline(always)]
    fn run<const DECAY: bool, const MOMENTUM: bool, const CENTERED: bool>(&self, c: Chunk<T>) {
        let Some((w, g, [square_avg, momentum_buf, grad_avg])) =
            c.split([true, MOMENTUM, CENTERED])
        else {
            return;
        };
        for i in 0..w.len() {
            let gi = self.grad.at::<DECAY>(g[i], w[i]);
            let s = square_avg[i] * self.alpha + self.one_minus_alpha * gi * gi;
            let s = flush_below(s, self.tiny_s);
            square_avg[i] = s;
            let avg = if CENTERED {
                let ga = flush_below(lerp(grad_avg[i], gi, self.one_minus_alpha), self.tiny_ga);
                grad_avg[i] = ga;
                (s - ga * ga).sqrt()
            } else {
                s.sqrt()
            } + self.eps;
            if MOMENTUM {
                let b = momentum_buf[i] * self.momentum + gi / avg;
                momentum_buf[i] = flush_below(b, self.tiny_b);
                w[i] -= self.lr * momentum_buf[i];
            } else {
                w[i] -= self.lr * gi / avg;
            }
        }
    }
}
