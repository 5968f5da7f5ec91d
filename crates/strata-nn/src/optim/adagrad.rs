//! Adagrad: PyTorch's `torch.optim.Adagrad`.

use super::kernel::{check_non_negative, for_chunks};
use super::rule::{hyper_table, Optim, StepInfo, UpdateRule};
use super::IntoParamGroups;
use crate::Result;
use strata_core::FloatElement;

const WHAT: &str = "Adagrad";

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
/// let mut opt = Adagrad::new(vec![w.clone()], 0.1)?.initial_accumulator_value(5.0)?;
/// let grads = w.mul(&w)?.sum_all()?.backward()?; // g = 2, s = 5 + 4
/// opt.step(&grads)?;
/// assert!((w.to_vec::<f64>()?[0] - (1.0 - 0.1 * 2.0 / (3.0 + 1e-10))).abs() < 1e-15);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub type Adagrad = Optim<AdagradRule>;

hyper_table! {
    /// Adagrad's hyperparameters besides learning rate and weight decay (which are per group).
    pub struct AdagradRule {
        pub lr_decay: f64,
        pub eps: f64,
        pub initial_accumulator_value: f64,
        pub maximize: bool,
    }
}

impl Adagrad {
    /// Adagrad over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with
    /// learning rate `lr` (finite, `>= 0`) and PyTorch's defaults.
    pub fn new(params: impl IntoParamGroups, lr: f64) -> Result<Adagrad> {
        let rule = AdagradRule {
            lr_decay: 0.0,
            eps: 1e-10,
            initial_accumulator_value: 0.0,
            maximize: false,
        };
        Optim::build(params, lr, 0.0, rule)
    }

    /// Learning-rate decay per step (default 0; finite, `>= 0`).
    pub fn lr_decay(self, lr_decay: f64) -> Result<Adagrad> {
        self.with(|r| r.lr_decay = lr_decay)
    }

    /// Added to the denominator for numerical stability (default 1e-10; finite, `>= 0`).
    pub fn eps(self, eps: f64) -> Result<Adagrad> {
        self.with(|r| r.eps = eps)
    }

    /// Starting value of the squared-gradient sums (default 0; finite, `>= 0`).
    pub fn initial_accumulator_value(self, value: f64) -> Result<Adagrad> {
        self.with(|r| r.initial_accumulator_value = value)
    }

    /// Maximise the objective instead of minimising it (default off).
    pub fn maximize(self, maximize: bool) -> Adagrad {
        self.with_flag(|r| r.maximize = maximize)
    }
}

impl UpdateRule for AdagradRule {
    const BUFFERS: &'static [&'static str] = &["sum"];

    fn what(&self) -> &'static str {
        WHAT
    }

    fn validate(&self) -> Result<()> {
        check_non_negative(WHAT, "lr_decay", self.lr_decay)?;
        check_non_negative(WHAT, "eps", self.eps)?;
        let init = self.initial_accumulator_value;
        check_non_negative(WHAT, "initial_accumulator_value", init)
    }

    fn buffers(&self) -> &'static [usize] {
        &[0]
    }

    fn initial_value(&self) -> f64 {
        self.initial_accumulator_value
    }

    fn apply<T: FloatElement>(&self, s: &StepInfo, w: &mut [T], g: &[T], b: &mut [&mut [T]]) {
        let c = Consts {
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            clr: T::from_f64(s.lr / (1.0 + (s.step - 1) as f64 * self.lr_decay)),
            weight_decay: T::from_f64(s.weight_decay),
            eps: T::from_f64(self.eps),
        };
        match s.weight_decay != 0.0 {
            false => for_chunks(w, g, b, &|w, g, b| c.run::<false>(w, g, b)),
            true => for_chunks(w, g, b, &|w, g, b| c.run::<true>(w, g, b)),
        }
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
