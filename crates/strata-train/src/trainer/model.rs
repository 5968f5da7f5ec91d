//! The model together with the code that runs it, behind one trait object.
//!
//! Everything else in a trainer is the same whatever the model's type, so the trainer's
//! engine holds a `Box<dyn BoundModel>` and is compiled once, here; only these few
//! methods are compiled again for each model type, in the program that names it. (When
//! the engine itself was generic over the model, a user's program compiled the whole
//! trainer again — its epochs, steps and closing files — at every rebuild.)

use crate::{Result, StepOutput, TrainStep};
use std::any::Any;
use strata_core::Tensor;
use strata_data::Batch;
use strata_nn::{Forward, Module};

/// A model and how to run it on a batch.
pub(super) trait BoundModel: Send {
    /// The model, for everything that only walks its parameters and modes.
    fn module(&self) -> &dyn Module;

    /// The loss and outputs on `batch`.
    fn step(&self, batch: &Batch) -> Result<StepOutput>;

    /// The model's output for `input`, for a one-input model (`None` for a trainer built
    /// with a step of its own).
    fn forward(&self, input: &Tensor) -> Option<Result<Tensor>>;

    /// The layer-by-layer summary for `input`, for a one-input model.
    fn summary(&self, input: &Tensor) -> Option<Result<String>>;

    /// The model as its own type, for [`super::Trainer::model`].
    fn model_any(&self) -> &dyn Any;

    /// The model as its own type, for [`super::Trainer::into_model`].
    fn into_model_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A one-input model trained with `loss(model.forward(inputs), targets)`.
pub(super) struct WithLoss<M, L> {
    pub model: M,
    pub loss: L,
}

impl<M, L> BoundModel for WithLoss<M, L>
where
    M: Forward + 'static,
    L: Fn(&Tensor, &Tensor) -> strata_nn::Result<Tensor> + Send + 'static,
{
    fn module(&self) -> &dyn Module {
        &self.model
    }

    fn step(&self, batch: &Batch) -> Result<StepOutput> {
        let output = self.model.forward(&batch.inputs)?;
        let value = (self.loss)(&output, &batch.targets)?;
        Ok(StepOutput::new(value, output, batch.targets.clone()))
    }

    fn forward(&self, input: &Tensor) -> Option<Result<Tensor>> {
        Some(self.model.forward(input).map_err(Into::into))
    }

    fn summary(&self, input: &Tensor) -> Option<Result<String>> {
        Some(
            strata_nn::summary_with_input(&self.model, input)
                .map(|s| s.to_string())
                .map_err(Into::into),
        )
    }

    fn model_any(&self) -> &dyn Any {
        &self.model
    }

    fn into_model_any(self: Box<Self>) -> Box<dyn Any> {
        Box::new(self.model)
    }
}

/// Any model with a step of the user's ([`TrainStep`]).
pub(super) struct WithStep<M, S> {
    pub model: M,
    pub step: S,
}

impl<M: Module + 'static, S: TrainStep<M> + 'static> BoundModel for WithStep<M, S> {
    fn module(&self) -> &dyn Module {
        &self.model
    }

    fn step(&self, batch: &Batch) -> Result<StepOutput> {
        self.step.run(&self.model, batch)
    }

    fn forward(&self, _input: &Tensor) -> Option<Result<Tensor>> {
        None
    }

    fn summary(&self, _input: &Tensor) -> Option<Result<String>> {
        None
    }

    fn model_any(&self) -> &dyn Any {
        &self.model
    }

    fn into_model_any(self: Box<Self>) -> Box<dyn Any> {
        Box::new(self.model)
    }
}
