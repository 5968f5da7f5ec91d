//! What a trainer does, as its users call it. Each method hands over to the engine, whose
//! code (`epoch.rs`, `step.rs`, `eval.rs`, `finish.rs`, `resume.rs`) does not depend on the
//! model's type.

use super::{StepReport, Trainer};
use crate::batches::Batches;
use crate::records::EpochRecord;
use crate::Result;
use std::collections::BTreeMap;
use std::path::Path;
use strata_core::Tensor;
use strata_data::Batch;
use strata_nn::Module;

impl<M: Module + 'static> Trainer<M> {
    /// Trains for `epochs` epochs in total (after a [`resume`](Self::resume), the
    /// remaining ones), validating on `val` every `eval_every` epochs and after the last,
    /// then writes the run's closing files. Returns every epoch's record.
    ///
    /// On a non-finite loss or gradient it stops with
    /// [`TrainError::NonFinite`](crate::TrainError::NonFinite), after writing the warnings
    /// and the report of the epochs done; the checkpoints written before stay as they were.
    pub fn fit(
        &mut self,
        train: &dyn Batches,
        val: Option<&dyn Batches>,
        epochs: u64,
    ) -> Result<Vec<EpochRecord>> {
        self.engine.fit(train, val, epochs)
    }

    /// Trains on one batch: the building block of `fit`, for loops of your own. Metrics,
    /// monitors, logs and callbacks see it exactly as in `fit`; call
    /// [`Trainer::end_epoch`] after each epoch's batches and [`Trainer::finish`] at the end.
    pub fn train_step(&mut self, batch: &Batch) -> Result<StepReport> {
        self.engine.train_step(batch)
    }

    /// Starts an epoch: resets the training metrics and sums, calls `on_epoch_begin`.
    /// `fit` calls it; a loop of your own may call it to give the progress bar its length.
    pub fn begin_epoch(&mut self, batches: Option<usize>) -> Result<()> {
        self.engine.begin_epoch(batches)
    }

    /// Ends an epoch: applies leftover accumulated gradients, computes the training
    /// metrics, validates on `val` when due, steps per-epoch schedules, records the
    /// epoch, runs the callbacks and the save point. Returns the epoch's record.
    pub fn end_epoch(&mut self, val: Option<&dyn Batches>) -> Result<EpochRecord> {
        self.engine.end_epoch(val)
    }

    /// Ends training: callbacks' `on_train_end` (early stopping restores its best weights
    /// here), then, with a run directory, `model.safetensors`, the confusion matrix,
    /// pictures, `warnings.json`, `meta.json` and `report.html`, whose path it prints.
    /// `fit` calls it; call it yourself after a loop of [`Trainer::train_step`]s.
    pub fn finish(&mut self) -> Result<()> {
        self.engine.finish()
    }

    /// The loss (key `"loss"`) and every metric over `loader`, in evaluation mode without
    /// recording a graph. Training mode is restored afterwards.
    pub fn evaluate(&mut self, loader: &dyn Batches) -> Result<BTreeMap<String, f64>> {
        self.engine.evaluate(loader)
    }

    /// The model's outputs for every batch of `loader`, concatenated along the first
    /// dimension (evaluation mode, no graph). One-input models run `forward` alone; a
    /// trainer built with a step runs the step and keeps its `output`.
    pub fn predict(&mut self, loader: &dyn Batches) -> Result<Tensor> {
        self.engine.predict(loader)
    }

    /// Continues from a checkpoint written by this trainer's checkpoints
    /// ([`ModelCheckpoint`](crate::callbacks::ModelCheckpoint)): restores the model, the
    /// optimiser, the scheduler, the random generator, the epoch and step counts, the
    /// history and every callback's state. Call it before `fit`; `fit(train, val, epochs)`
    /// then trains the remaining epochs, and the result is bit for bit that of a run that
    /// never stopped (same seed and thread count).
    ///
    /// ```no_run
    /// # use strata_train::Trainer;
    /// # fn demo(trainer: &mut Trainer<strata_nn::Linear>) -> strata_train::Result<()> {
    /// trainer.resume("runs/mnist-20261202-053000/checkpoints/last.safetensors")?;
    /// # Ok(()) }
    /// ```
    pub fn resume(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.engine.resume(path.as_ref())
    }
}
