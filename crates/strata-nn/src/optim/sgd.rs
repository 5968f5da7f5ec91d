//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and (coupled)
//! weight decay: PyTorch's `torch.optim.SGD`.

use super::kernel::{check_non_negative, flush_below, for_chunks, Chunk, GradTerm};
use super::rule::{hyper_table, Optim, StepInfo, UpdateRule};
use super::IntoParamGroups;
use crate::{Error, Result};
use strata_core::FloatElement;

const WHAT: &str = "SGD";

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
/// let mut opt = SGD::new(vec![w.clone()], 0.1)?.momentum(0.9)?.nesterov(true)?;
/// let grads = w.mul(&w)?.sum_all()?.backward()?;   // gradient 2w
/// opt.step(&grads)?;
/// // b = g = 2w; w -= 0.1 * (g + 0.9 b) = 0.1 * 3.8 w
/// assert_eq!(w.to_vec::<f64>()?, vec![1.0 - 0.38, -2.0 + 0.76]);
/// // Settings are checked as they are made.
/// assert!(SGD::new(vec![w.clone()], -0.1).is_err());
/// assert!(SGD::new(vec![w.clone()], 0.1)?.nesterov(true).is_err()); // needs momentum first
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[allow(clippy::upper_case_acronyms)] // PyTorch's name
pub type SGD = Optim<SgdRule>;

hyper_table! {
    /// SGD's hyperparameters besides learning rate and weight decay (which are per group),
    /// each set by the [`SGD`] builder setting of its name.
    pub struct SgdRule {
        /// Momentum factor (default 0; finite, `>= 0`).
        pub momentum: f64 => checked,
        /// Dampening for momentum (default 0; finite).
        pub dampening: f64 => checked,
        /// Nesterov momentum (default off; needs a momentum > 0, set first, and zero
        /// dampening).
        pub nesterov: bool => checked,
        /// Maximise the objective instead of minimising it (default off).
        pub maximize: bool => flag,
    }
}

impl SGD {
    /// Plain SGD over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with
    /// learning rate `lr` (finite, `>= 0`).
    pub fn new(params: impl IntoParamGroups, lr: f64) -> Result<SGD> {
        let rule = SgdRule {
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            maximize: false,
        };
        Optim::build(params, lr, 0.0, rule)
    }
}

impl UpdateRule for SgdRule {
    const BUFFERS: &'static [&'static str] = &["momentum_buffer"];
    const MOMENTUM: Option<&'static str> = Some("momentum");

    fn what(&self) -> &'static str {
        WHAT
    }

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

    fn buffers(&self) -> &'static [usize] {
        if self.momentum != 0.0 {
            &[0]
        } else {
            &[]
        }
    }

    /// The momentum buffer starts as the gradient, so a state without it is complete.
    fn required_on_load(&self) -> &'static [usize] {
        &[]
    }

    fn apply<T: FloatElement>(&self, s: &StepInfo, w: &mut [T], g: &[T], b: &mut [&mut [T]]) {
        let c = Consts {
            grad: GradTerm::new(self.maximize, s.weight_decay),
            lr: T::from_f64(s.lr),
            momentum: T::from_f64(self.momentum),
            // A fresh buffer (zeros) becomes 0·b + 1·d = d.
            keep_buf: T::from_f64(if s.fresh { 0.0 } else { self.momentum }),
            keep_grad: T::from_f64(if s.fresh { 1.0 } else { 1.0 - self.dampening }),
        };
        let decay = s.weight_decay != 0.0;
        // One specialised loop per combination of flags: no branches in the hot loop.
        match (decay, self.momentum != 0.0, self.nesterov) {
            (false, false, _) => for_chunks(w, g, b, &|x| c.run::<false, false, false>(x)),
            (true, false, _) => for_chunks(w, g, b, &|x| c.run::<true, false, false>(x)),
            (false, true, false) => for_chunks(w, g, b, &|x| c.run::<false, true, false>(x)),
            (false, true, true) => for_chunks(w, g, b, &|x| c.run::<false, true, true>(x)),
            (true, true, false) => for_chunks(w, g, b, &|x| c.run::<true, true, false>(x)),
            (true, true, true) => for_chunks(w, g, b, &|x| c.run::<true, true, true>(x)),
        }
    }
}

/// The scalars of one parameter's SGD step, in the parameter's dtype.
struct Consts<T> {
    grad: GradTerm<T>,
    lr: T,
    momentum: T,
    keep_buf: T,
    keep_grad: T,
}

impl<T: FloatElement> Consts<T> {
    /// The update over one chunk; its buffer is the momentum buffer when `MOMENTUM`.
    #[inline(always)]
    fn run<const DECAY: bool, const MOMENTUM: bool, const NESTEROV: bool>(&self, c: Chunk<T>) {
        let Some((w, g, [b])) = c.split([MOMENTUM]) else {
            return;
        };
        for i in 0..w.len() {
            let mut d = self.grad.at::<DECAY>(g[i], w[i]);
            if MOMENTUM {
                b[i] = flush_below(
                    self.keep_buf * b[i] + self.keep_grad * d,
                    T::min_positive_value(),
                );
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
