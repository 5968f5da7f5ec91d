//! RMSprop (with momentum and the centered variant): PyTorch's `torch.optim.RMSprop`.

use super::adam::lerp;
use super::kernel::{check_non_negative, for_chunks};
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
    /// RMSprop's hyperparameters besides learning rate and weight decay (which are per group).
    pub struct RmspropRule {
        pub alpha: f64,
        pub eps: f64,
        pub momentum: f64,
        pub centered: bool,
        pub maximize: bool,
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

    /// Smoothing constant of the squared-gradient average (default 0.99; finite, `>= 0`).
    pub fn alpha(self, alpha: f64) -> Result<RMSprop> {
        self.with(|r| r.alpha = alpha)
    }

    /// Added to the denominator for numerical stability (default 1e-8; finite, `>= 0`).
    pub fn eps(self, eps: f64) -> Result<RMSprop> {
        self.with(|r| r.eps = eps)
    }

    /// Momentum factor (default 0; finite, `>= 0`).
    pub fn momentum(self, momentum: f64) -> Result<RMSprop> {
        self.with(|r| r.momentum = momentum)
    }

    /// Normalise by the estimated variance of the gradient instead of its second moment
    /// (default off).
    pub fn centered(self, centered: bool) -> RMSprop {
        self.with_flag(|r| r.centered = centered)
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(self, maximize: bool) -> RMSprop {
        self.with_flag(|r| r.maximize = maximize)
    }
}

impl UpdateRule for RmspropRule {
    const BUFFERS: &'static [&'static str] = &["square_avg", "momentum_buffer", "grad_avg"];

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
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            lr: T::from_f64(s.lr),
            weight_decay: T::from_f64(s.weight_decay),
            alpha: T::from_f64(self.alpha),
            one_minus_alpha: T::from_f64(1.0 - self.alpha),
            eps: T::from_f64(self.eps),
            momentum: T::from_f64(self.momentum),
        };
        let (momentum, centered) = (self.momentum > 0.0, self.centered);
        match s.weight_decay != 0.0 {
            false => c.dispatch::<false>(w, g, b, momentum, centered),
            true => c.dispatch::<true>(w, g, b, momentum, centered),
        }
    }

    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }

    fn set_momentum(&mut self, momentum: f64) -> bool {
        self.momentum = momentum;
        true
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
