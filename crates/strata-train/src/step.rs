//! What one training or evaluation step hands to the trainer: the loss to differentiate,
//! and the outputs and targets that metrics read.

use crate::Result;
use strata_core::Tensor;
use strata_data::Batch;

/// The result of running a model on one batch.
///
/// `loss` is the mean loss over the batch (a scalar that `backward` runs on); `output` and
/// `target` are what metrics compare: class scores `[N, C]` with class indices `[N]` (i64)
/// for classification, or values of one shape for regression. `count` is how many items
/// the mean in `loss` was taken over (examples, or tokens for a language model whose logits
/// were reshaped to `[B·T, V]`); epoch losses are averages weighted by it.
///
/// ```
/// use strata_train::StepOutput;
/// use strata_core::Tensor;
/// let out = StepOutput::new(Tensor::scalar(0.5f32), Tensor::zeros(&[4, 3]), Tensor::zeros(&[4]));
/// assert_eq!(out.count, 4);
/// ```
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// The scalar mean loss.
    pub loss: Tensor,
    /// The model's predictions (logits or values), one row per item.
    pub output: Tensor,
    /// The targets, one row per item.
    pub target: Tensor,
    /// The number of items `loss` averages over.
    pub count: usize,
}

impl StepOutput {
    /// A step output whose `count` is the number of rows of `target` (1 for a scalar).
    pub fn new(loss: Tensor, output: Tensor, target: Tensor) -> StepOutput {
        let count = target.shape().first().copied().unwrap_or(1);
        StepOutput {
            loss,
            output,
            target,
            count,
        }
    }
}

/// Runs a model on a batch. Implemented for every closure `Fn(&M, &Batch) ->
/// Result<StepOutput>`, so a model with two inputs or a language model that reshapes its
/// logits supplies its own step:
///
/// ```
/// use strata_train::{StepOutput, TrainStep};
/// use strata_nn::{loss::cross_entropy, Forward, Linear};
/// use strata_data::Batch;
/// let step = |model: &Linear, batch: &Batch| -> strata_train::Result<StepOutput> {
///     let logits = model.forward(&batch.inputs)?;
///     let loss = cross_entropy(&logits, &batch.targets)?;
///     Ok(StepOutput::new(loss, logits, batch.targets.clone()))
/// };
/// fn takes_step(_: impl TrainStep<Linear>) {}
/// takes_step(step);
/// ```
pub trait TrainStep<M: ?Sized>: Send {
    /// The loss and outputs of `model` on `batch`.
    fn run(&self, model: &M, batch: &Batch) -> Result<StepOutput>;
}

impl<M: ?Sized, F> TrainStep<M> for F
where
    F: Fn(&M, &Batch) -> Result<StepOutput> + Send,
{
    fn run(&self, model: &M, batch: &Batch) -> Result<StepOutput> {
        self(model, batch)
    }
}
