//! Adagrad: PyTorch's `torch.optim.Adagrad`.

use super::kernel::{check_non_negative, for_chunks, Chunk, GradTerm};
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
    /// Adagrad's hyperparameters besides learning rate and weight decay (which are per
    /// group), each set by the [`Adagrad`] builder setting of its name.
    pub struct AdagradRule {
        /// Learning-rate decay per step (default 0; finite, `>= 0`).
        pub lr_decay: f64 => checked,
        /// Added to the denominator for numerical stability (default 1e-10; finite, `>= 0`).
        pub eps: f64 => checked,
        /// Starting value of the squared-gradient sums (default 0; finite, `>= 0`).
        pub initial_accumulator_value: f64 => checked,
        /// Maximise the objective instead of minimising it (default off).
        pub maximize: bool => flag,
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
            grad: GradTerm::new(self.maximize, s.weight_decay),
            clr: T::from_f64(s.lr / (1.0 + (s.step - 1) as f64 * self.lr_decay)),
            eps: T::from_f64(self.eps),
        };
        match s.weight_decay != 0.0 {
            false => for_chunks(w, g, b, &|x| c.run::<false>(x)),
            true => for_chunks(w, g, b, &|x| c.run::<true>(x)),
        }
    }
}

/// The scalars of one parameter's Adagrad step, in the parameter's dtype; `clr` is the
/// decayed learning rate.
struct Consts<T> {
    grad: GradTerm<T>,
    clr: T,
    eps: T,
}

impl<T: FloatElement> Consts<T> {
    /// The update over one chunk; its buffer is the running sum of squared gradients.
    #[inline(always)]
    fn run<const DECAY: bool>(&self, c: Chunk<T>) {
        let Some((w, g, [sum])) = c.split([true]) else {
            return;
        };
        for i in 0..w.len() {
            let gi = self.grad.at::<DECAY>(g[i], w[i]);
            sum[i] += gi * gi;
            w[i] -= self.clr * gi / (sum[i].sqrt() + self.eps);
        }
    }
}
