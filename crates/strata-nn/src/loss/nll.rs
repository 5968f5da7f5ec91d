//! Negative log-likelihood of log-probabilities (the output of a log-softmax): a row's loss
//! is `-w[y] x[y]`, 0 where `y` is the ignore index; the mean divides by `Σ w[y]` over the
//! rows not ignored. The gradient is `-w[y] g / denominator` at the target class and 0
//! elsewhere.

use super::class_target::{
    class_indices, class_rows, class_weights, weighted_count, ClassRows, DEFAULT_IGNORE_INDEX,
};
use super::common::{f64_of, with_float_type, OutGrad};
use super::Reduction;
use crate::Result;
use strata_core::{BackwardOp, FloatElement, Tensor};

const OP: &str = "nll_loss";

/// NLL loss of log-probabilities `input` (`[N, C]`, `[C]` or `[N, C, d1, ...]`) against
/// class indices `target` (i64, `[N]`, `[]` or `[N, d1, ...]`), averaged over samples. See
/// [`NLLLoss`] for weights, `ignore_index` and reductions.
///
/// ```
/// use strata_nn::nll_loss;
/// use strata_core::Tensor;
/// let log_probs = Tensor::from_vec(vec![-0.5f32, -1.0, -2.0, -0.1], &[2, 2])?.requires_grad_();
/// let target = Tensor::from_vec(vec![1i64, 0], &[2])?;
/// let loss = nll_loss(&log_probs, &target)?;
/// assert_eq!(loss.item()?, 1.5);
/// let g = loss.backward()?;
/// assert_eq!(g.get(&log_probs).unwrap().to_vec::<f32>()?, vec![0.0, -0.5, -0.5, 0.0]);
/// let err = nll_loss(&log_probs, &Tensor::from_vec(vec![1.0f32, 0.0], &[2])?).unwrap_err();
/// assert!(err.to_string().contains("nll_loss: expected dtype i64 for the target"));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn nll_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    NLLLoss::new().forward(input, target)
}

/// NLL loss with class `weight` (`[C]`), `ignore_index` (default -100) and a
/// [`Reduction`], as PyTorch's `NLLLoss`.
///
/// ```
/// use strata_nn::{NLLLoss, Reduction};
/// use strata_core::Tensor;
/// let log_probs = Tensor::from_vec(vec![-0.5f32, -1.0, -2.0, -0.1, -0.3, -0.7], &[3, 2])?;
/// let target = Tensor::from_vec(vec![1i64, 0, 1], &[3])?;
/// let weight = Tensor::from_vec(vec![2.0f32, 1.0], &[2])?;
/// let loss = NLLLoss::new().weight(weight).ignore_index(0).forward(&log_probs, &target)?;
/// // Rows 0 and 2 count, each with weight 1: (1.0 + 0.7) / 2.
/// assert!((loss.item()? - 0.85).abs() < 1e-6);
/// let each = NLLLoss::new().reduction(Reduction::None).forward(&log_probs, &target)?;
/// assert_eq!(each.to_vec::<f32>()?, vec![1.0, 2.0, 0.7]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct NLLLoss {
    weight: Option<Tensor>,
    ignore_index: i64,
    reduction: Reduction,
}

impl Default for NLLLoss {
    fn default() -> Self {
        NLLLoss {
            weight: None,
            ignore_index: DEFAULT_IGNORE_INDEX,
            reduction: Reduction::Mean,
        }
    }
}

impl NLLLoss {
    /// No weights, `ignore_index = -100`, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Weights the loss of each sample by the weight of its target class (`[C]`, float).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Targets equal to `index` are skipped.
    pub fn ignore_index(mut self, index: i64) -> Self {
        self.ignore_index = index;
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of log-probabilities `input` against class indices `target`.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let rows = class_rows(OP, input)?;
        let weights = class_weights(OP, self.weight.as_ref(), input.shape(), rows.classes)?;
        let targets = class_indices(OP, target, input.shape(), &rows, self.ignore_index)?;
        let denominator = weighted_count(&targets, weights.as_deref());
        with_float_type!(input.dtype(), T => {
            nll::<T>(rows, targets, weights, self.reduction, denominator)
        })
    }
}

fn nll<T: FloatElement>(
    rows: ClassRows,
    targets: Vec<Option<usize>>,
    weights: Option<Vec<f64>>,
    reduction: Reduction,
    denominator: f64,
) -> Result<Tensor> {
    let c = rows.classes;
    let weights: Option<Vec<T>> = weights.map(|w| w.into_iter().map(T::from_f64).collect());
    let weight = |y: usize| weights.as_ref().map_or(T::one(), |w| w[y]);
    let losses: Vec<T> = {
        let x = rows.rows.read::<T>()?;
        targets
            .iter()
            .enumerate()
            .map(|(r, t)| t.map_or(T::zero(), |y| -weight(y) * x[r * c + y]))
            .collect()
    };
    let out = match reduction {
        Reduction::None => Tensor::from_vec(losses, &rows.sample_shape)?,
        Reduction::Sum | Reduction::Mean => {
            let sum: f64 = losses.iter().map(|&l| f64_of(l)).sum();
            let value = if reduction == Reduction::Mean {
                sum / denominator
            } else {
                sum
            };
            Tensor::scalar(T::from_f64(value))
        }
    };
    Ok(out.record_with(&[&rows.rows], || NllBackward {
        targets,
        weights,
        reduction,
        denominator,
    }))
}

struct NllBackward<T> {
    targets: Vec<Option<usize>>,
    weights: Option<Vec<T>>,
    reduction: Reduction,
    denominator: f64,
}

impl<T: FloatElement> BackwardOp for NllBackward<T> {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(
        &self,
        grad: &Tensor,
        inputs: &[Tensor],
    ) -> strata_core::Result<Vec<Option<Tensor>>> {
        let rows = &inputs[0];
        let c = rows.shape()[1];
        let g = OutGrad::<T>::new(grad, self.reduction, self.denominator)?;
        let mut out = vec![T::zero(); rows.numel()];
        for (r, t) in self.targets.iter().enumerate() {
            if let Some(y) = *t {
                let w = self.weights.as_ref().map_or(T::one(), |w| w[y]);
                out[r * c + y] = -w * g.at(r);
            }
        }
        Ok(vec![Some(Tensor::from_vec(out, rows.shape())?)])
    }
}
