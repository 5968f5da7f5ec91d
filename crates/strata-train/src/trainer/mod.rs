//! The [`Trainer`]: fit, evaluate and predict for any model, with metrics, callbacks,
//! monitors, logs and a report. Split by phase: `builder.rs` (settings), `step.rs` (one
//! optimiser step), `epoch.rs` (epochs and `fit`), `eval.rs` (evaluation and prediction),
//! `finish.rs` (the run's closing files), `resume.rs` (checkpoints of the trainer's state).

/// The callbacks' view of a trainer (borrowing its fields, not the trainer, so the
/// callbacks themselves can be borrowed mutably beside it).
macro_rules! context {
    ($t:expr) => {
        $crate::callbacks::TrainContext {
            model: $t.model.module(),
            optimizer: &*$t.optimizer,
            scheduler: $t.schedule.as_ref().map(|s| s.scheduler()),
            epoch: $t.state.epoch,
            step: $t.state.step,
            history: &$t.state.history,
            run_dir: $t.logs.as_ref().map(|l| l.dir.path()),
            resume_state: None,
        }
    };
}

mod builder;
mod epoch;
mod eval;
mod finish;
mod model;
mod resume;
mod run;
mod step;

pub use builder::{RunTarget, Task};
pub use step::StepReport;

use crate::callbacks::Callback;
use crate::metrics::Metric;
use crate::monitor::{Monitor, MonitorConfig};
use crate::records::EpochRecord;
use crate::run_dir::RunDir;
use crate::tensorboard::EventWriter;
use model::BoundModel;
use std::marker::PhantomData;
use std::time::Instant;
use strata_core::{Gradients, Tensor};
use strata_data::Batch;
use strata_nn::optim::Optimizer;
use strata_nn::schedule::LrScheduler;
use strata_nn::{Module, ModuleExt};

/// Trains a model: `fit(train, val, epochs)`, `evaluate(loader)`, `predict(loader)`, or
/// step by step with [`Trainer::train_step`] / [`Trainer::end_epoch`] /
/// [`Trainer::finish`] in a loop of your own. See the crate docs for a full example.
///
/// Always on: the loss (count-weighted over each epoch), a NaN/Inf guard (a non-finite
/// loss or gradient stops training with [`TrainError::NonFinite`](crate::TrainError)
/// naming the first parameter concerned, before the optimiser applies it), and, unless
/// switched off, the training-health monitors and a run directory
/// (`runs/<name>-<timestamp>`) with metrics, warnings, checkpoints, TensorBoard events,
/// the final weights and `report.html`.
pub struct Trainer<M: Module + 'static> {
    engine: Engine,
    /// The model's type: the engine holds the model behind a trait object.
    model_type: PhantomData<fn() -> M>,
}

/// A trainer's state and work, whatever the model's type (see `model.rs`): compiled once,
/// in this crate.
struct Engine {
    model: Box<dyn BoundModel>,
    optimizer: Box<dyn Optimizer>,
    schedule: Option<Schedule>,
    settings: builder::Settings,
    train_metrics: Vec<Box<dyn Metric>>,
    val_metrics: Vec<Box<dyn Metric>>,
    callbacks: Vec<Box<dyn Callback>>,
    monitor_config: Option<MonitorConfig>,
    state: State,
    logs: Option<Logs>,
    /// Data parallelism: the other ranks.
    group: Option<Box<dyn crate::parallel::Collective>>,
}

/// When a learning-rate scheduler steps.
pub(crate) enum Schedule {
    PerBatch(Box<dyn LrScheduler>),
    PerEpoch(Box<dyn LrScheduler>),
    /// `ReduceLROnPlateau` (or any scheduler) stepped with an epoch metric.
    OnMetric(Box<dyn LrScheduler>, String),
}

impl Schedule {
    fn scheduler(&self) -> &dyn LrScheduler {
        match self {
            Schedule::PerBatch(s) | Schedule::PerEpoch(s) | Schedule::OnMetric(s, _) => &**s,
        }
    }
    fn scheduler_mut(&mut self) -> &mut dyn LrScheduler {
        match self {
            Schedule::PerBatch(s) | Schedule::PerEpoch(s) | Schedule::OnMetric(s, _) => &mut **s,
        }
    }
}

/// Progress and running sums.
#[derive(Default)]
struct State {
    /// Epochs completed.
    epoch: u64,
    /// Optimiser steps completed.
    step: u64,
    history: Vec<EpochRecord>,
    /// Batches whose gradients are waiting in `pending` (gradient accumulation).
    micro: usize,
    pending: Option<Gradients>,
    /// Examples behind `pending` (their gradients are averaged across ranks by it).
    pending_examples: usize,
    /// True when `pending` was already averaged across ranks during the backward pass.
    pending_averaged: bool,
    /// This epoch's loss sum (weighted by counts), item count and examples.
    loss_sum: f64,
    loss_count: usize,
    examples: usize,
    epoch_started: Option<Instant>,
    started: Option<Instant>,
    started_at: Option<std::time::SystemTime>,
    stopped: Option<String>,
    monitor: Option<Monitor>,
    /// The last step's batch loss.
    last_loss: f64,
    /// Misclassified validation examples of the last evaluation: (input, label,
    /// predicted, confidence, dataset index).
    misclassified: Vec<(Tensor, i64, i64, f64, usize)>,
    /// One validation batch of a single example, for feature maps.
    probe: Option<Batch>,
    graph_written: bool,
    finished: bool,
    /// The model's parameters with their names, taken once when training starts.
    named: Vec<(String, strata_nn::Param)>,
    /// Set by `resume`: the seed is not applied again.
    resumed: bool,
    /// Callbacks' saved states and tensors, applied when training starts.
    restored_callbacks: Option<(serde_json::Value, Vec<(String, Tensor)>)>,
    /// Training seconds of the run before a resume.
    seconds_before: f64,
    target_epochs: Option<u64>,
    train_examples: Option<usize>,
    val_examples: Option<usize>,
    bar: Option<crate::progress::EpochProgress>,
}

/// The open run directory and TensorBoard writer.
struct Logs {
    dir: RunDir,
    events: Option<EventWriter>,
}

impl<M: Module + 'static> Trainer<M> {
    /// The model.
    pub fn model(&self) -> &M {
        match self.engine.model.model_any().downcast_ref() {
            Some(model) => model,
            None => unreachable!("a trainer holds the model type it was built with"),
        }
    }

    /// The model, when training is over (its BatchNorm layers no longer synchronised, the
    /// other ranks being gone).
    pub fn into_model(self) -> M {
        self.engine.model.module().sync_batch_norm(None);
        match self.engine.model.into_model_any().downcast() {
            Ok(model) => *model,
            Err(_) => unreachable!("a trainer holds the model type it was built with"),
        }
    }

    /// The optimiser.
    pub fn optimizer(&self) -> &dyn Optimizer {
        &*self.engine.optimizer
    }

    /// Every epoch's record so far.
    pub fn history(&self) -> &[EpochRecord] {
        &self.engine.state.history
    }

    /// Epochs and optimiser steps completed.
    pub fn completed(&self) -> (u64, u64) {
        (self.engine.state.epoch, self.engine.state.step)
    }

    /// The run directory, once training has started (`None` without one).
    pub fn run_path(&self) -> Option<&std::path::Path> {
        self.engine.logs.as_ref().map(|l| l.dir.path())
    }

    /// The training-health warnings raised so far.
    pub fn warnings(&self) -> Vec<crate::records::Warning> {
        self.engine.warnings()
    }

    /// Why training stopped early (a callback's reason), if it did.
    pub fn stop_reason(&self) -> Option<&str> {
        self.engine.state.stopped.as_deref()
    }

    /// This process's rank and the number of ranks (`(0, 1)` without data parallelism).
    pub fn rank(&self) -> (usize, usize) {
        self.engine.rank()
    }
}

impl Engine {
    fn warnings(&self) -> Vec<crate::records::Warning> {
        self.state
            .monitor
            .as_ref()
            .map(|m| m.warnings().to_vec())
            .unwrap_or_default()
    }

    fn rank(&self) -> (usize, usize) {
        self.group
            .as_ref()
            .map_or((0, 1), |g| (g.rank(), g.world()))
    }
}
