//! Callbacks: code the trainer calls at the start and end of training, of every epoch and
//! batch, after validation and at each save point, able to stop training.
//!
//! Built in: [`EarlyStopping`], [`ModelCheckpoint`]. The NaN/Inf guard and the loggers are
//! part of the trainer itself (always on; see [`crate::Trainer`]).

mod early_stopping;
mod model_checkpoint;

pub use early_stopping::{EarlyStopping, Mode};
pub use model_checkpoint::ModelCheckpoint;

use crate::records::{EpochRecord, MonitorRecord};
use crate::Result;
use std::collections::BTreeMap;
use std::path::Path;
use strata_core::Tensor;
use strata_nn::checkpoint::TrainingCheckpoint;
use strata_nn::optim::Optimizer;
use strata_nn::schedule::LrScheduler;
use strata_nn::Module;

/// What a callback tells the trainer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Finish the current epoch's bookkeeping and stop, for the given reason.
    Stop(String),
}

/// What a callback sees: the model, optimiser and scheduler, the progress so far and the
/// run directory (if the trainer writes one).
pub struct TrainContext<'a> {
    pub model: &'a dyn Module,
    pub optimizer: &'a dyn Optimizer,
    pub scheduler: Option<&'a dyn LrScheduler>,
    /// Epochs completed, counting from 1 at the end of the first.
    pub epoch: u64,
    /// Optimiser steps completed.
    pub step: u64,
    /// Every epoch record so far (the last one is the epoch just ended).
    pub history: &'a [EpochRecord],
    /// The run directory, if any.
    pub run_dir: Option<&'a Path>,
    /// The trainer's resumable state (history, callbacks' states, extra tensors), set at
    /// save points so [`TrainContext::checkpoint`] captures everything.
    pub(crate) resume_state: Option<ResumeState<'a>>,
}

/// The trainer's checkpoint metadata and extra tensors.
pub(crate) type ResumeState<'a> = (&'a BTreeMap<String, String>, &'a [(String, Tensor)]);

impl TrainContext<'_> {
    /// A [`TrainingCheckpoint`] of the model, optimiser, scheduler, random generator and
    /// (at save points) the trainer's own state, from which
    /// [`Trainer::resume`](crate::Trainer::resume) continues bit for bit.
    pub fn checkpoint(&self) -> TrainingCheckpoint {
        let mut ckpt = TrainingCheckpoint::capture(
            self.model,
            self.optimizer,
            self.scheduler,
            self.epoch,
            self.step,
        );
        if let Some((meta, extra)) = self.resume_state {
            ckpt.metadata = meta.clone();
            ckpt.extra = extra.to_vec();
        }
        ckpt
    }

    /// The latest value of a metric key (`"val_loss"`), if the last epoch recorded it.
    pub fn latest(&self, key: &str) -> Option<f64> {
        self.history.last()?.metrics.get(key).copied()
    }
}

/// Hooks into training. Every method has a default that does nothing, so a callback
/// implements only what it needs:
///
/// ```
/// use strata_train::callbacks::{Callback, Control, TrainContext};
/// use strata_train::records::EpochRecord;
/// /// Stops once the training loss is below a target.
/// struct StopBelow(f64);
/// impl Callback for StopBelow {
///     fn name(&self) -> String { "stop_below".into() }
///     fn on_epoch_end(&mut self, _: &TrainContext, rec: &EpochRecord) -> strata_train::Result<Control> {
///         Ok(match rec.metrics.get("train_loss") {
///             Some(&l) if l < self.0 => Control::Stop(format!("train_loss {l} < {}", self.0)),
///             _ => Control::Continue,
///         })
///     }
/// }
/// ```
pub trait Callback: Send {
    /// A name, unique among a trainer's callbacks, under which its state is saved.
    fn name(&self) -> String;

    /// Before the first epoch (also after a resume).
    fn on_train_begin(&mut self, ctx: &TrainContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Before each epoch; `epoch` counts from 1.
    fn on_epoch_begin(&mut self, ctx: &TrainContext, epoch: u64) -> Result<()> {
        let _ = (ctx, epoch);
        Ok(())
    }

    /// After each optimiser step, with the batch's loss.
    fn on_batch_end(&mut self, ctx: &TrainContext, loss: f64) -> Result<Control> {
        let _ = (ctx, loss);
        Ok(Control::Continue)
    }

    /// After each monitored step, with the monitors' figures.
    fn on_monitor(&mut self, ctx: &TrainContext, record: &MonitorRecord) -> Result<()> {
        let _ = (ctx, record);
        Ok(())
    }

    /// After each epoch, with its record (validation figures included when it ran).
    fn on_epoch_end(&mut self, ctx: &TrainContext, record: &EpochRecord) -> Result<Control> {
        let _ = (ctx, record);
        Ok(Control::Continue)
    }

    /// After every callback's `on_epoch_end`, when the whole state is final: where
    /// checkpoints are written ([`TrainContext::checkpoint`]).
    fn on_save_point(&mut self, ctx: &TrainContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// After the last epoch (or a stop).
    fn on_train_end(&mut self, ctx: &TrainContext) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// The callback's state to save in checkpoints, as JSON, plus tensors.
    fn state(&self) -> (serde_json::Value, Vec<(String, Tensor)>) {
        (serde_json::Value::Null, Vec::new())
    }

    /// Restores what [`Callback::state`] saved.
    fn load_state(
        &mut self,
        state: &serde_json::Value,
        tensors: &[(String, Tensor)],
    ) -> Result<()> {
        let _ = (state, tensors);
        Ok(())
    }
}
