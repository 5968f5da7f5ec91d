//! Building a trainer: the model, optimiser and step, then settings one call each.

use super::model::{BoundModel, WithLoss, WithStep};
use super::{Engine, Schedule, State, Trainer};
use crate::callbacks::Callback;
use crate::metrics::Metric;
use crate::monitor::MonitorConfig;
use crate::progress::ProgressMode;
use crate::{Result, TrainError, TrainStep};
use std::marker::PhantomData;
use std::path::PathBuf;
use strata_core::Tensor;
use strata_nn::optim::Optimizer;
use strata_nn::schedule::LrScheduler;
use strata_nn::{Forward, Module, ModuleExt};

/// Where a run writes its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunTarget {
    /// `<root>/<name>-<timestamp>` (the default: `runs/`).
    Under(PathBuf),
    /// Exactly this directory.
    At(PathBuf),
    /// No files at all.
    Nowhere,
}

/// What the model does, for the report and the main metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Classification,
    Regression,
    Language,
    Other,
}

impl Task {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
            Task::Language => "language",
            Task::Other => "other",
        }
    }
}

pub(crate) struct Settings {
    pub clip_norm: Option<f64>,
    pub accumulate: usize,
    pub eval_every: u64,
    pub progress: ProgressMode,
    pub log_every_steps: Option<u64>,
    pub seed: Option<u64>,
    pub name: String,
    pub run: RunTarget,
    pub hparams: serde_json::Value,
    pub checkpoints: bool,
    pub image_shape: Option<Vec<usize>>,
    pub class_names: Option<Vec<String>>,
    pub task: Task,
    pub main_metric: Option<String>,
    pub tensorboard: bool,
    pub report: bool,
    /// Data-parallel: all-reduce gradient buckets while the backward pass runs.
    pub overlap: bool,
}

impl<M: Forward + 'static> Trainer<M> {
    /// A trainer for a one-input model: each step runs `model.forward(&batch.inputs)` and
    /// `loss(&output, &batch.targets)`.
    ///
    /// ```
    /// use strata_train::{Trainer, metrics::Accuracy, RunTarget};
    /// use strata_nn::{loss::cross_entropy, Adam, Linear, ModuleExt};
    /// let model = Linear::new(4, 3)?;
    /// let opt = Adam::new(model.parameters(), 1e-2)?;
    /// let trainer = Trainer::new(model, opt, cross_entropy)
    ///     .metric(Accuracy::new())
    ///     .run_target(RunTarget::Nowhere);
    /// # let _ = trainer;
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn new<O, L>(model: M, optimizer: O, loss: L) -> Trainer<M>
    where
        O: Optimizer + 'static,
        L: Fn(&Tensor, &Tensor) -> strata_nn::Result<Tensor> + Send + 'static,
    {
        Trainer {
            engine: Engine::new(Box::new(WithLoss { model, loss }), Box::new(optimizer)),
            model_type: PhantomData,
        }
    }
}

impl<M: Module + 'static> Trainer<M> {
    /// A trainer for any model: `step` computes the loss and outputs of a batch (see
    /// [`TrainStep`]).
    pub fn with_step<O, S>(model: M, optimizer: O, step: S) -> Trainer<M>
    where
        O: Optimizer + 'static,
        S: TrainStep<M> + 'static,
    {
        Trainer {
            engine: Engine::new(Box::new(WithStep { model, step }), Box::new(optimizer)),
            model_type: PhantomData,
        }
    }

    /// Adds a metric, computed on training and validation batches (keys `train_<key>`,
    /// `val_<key>`). Adding a classification metric makes the task a classification.
    pub fn metric(mut self, metric: impl Metric + 'static) -> Self {
        self.engine.add_metric(Box::new(metric));
        self
    }

    /// Adds several metrics (e.g. [`crate::metrics::classification_metrics`]).
    pub fn metrics(mut self, metrics: Vec<Box<dyn Metric>>) -> Self {
        for m in metrics {
            self.engine.add_metric(m);
        }
        self
    }

    /// Adds a callback (run in the order added).
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.engine.callbacks.push(Box::new(callback));
        self
    }

    /// Steps `scheduler` after every optimiser step (warm-up, one-cycle, cosine over steps).
    pub fn schedule_per_batch(mut self, scheduler: impl LrScheduler + 'static) -> Self {
        self.engine.schedule = Some(Schedule::PerBatch(Box::new(scheduler)));
        self
    }

    /// Steps `scheduler` after every epoch.
    pub fn schedule_per_epoch(mut self, scheduler: impl LrScheduler + 'static) -> Self {
        self.engine.schedule = Some(Schedule::PerEpoch(Box::new(scheduler)));
        self
    }

    /// Steps `scheduler` (`ReduceLROnPlateau`) with the epoch metric `monitor` after each
    /// epoch that recorded it.
    pub fn schedule_on_metric(
        mut self,
        scheduler: impl LrScheduler + 'static,
        monitor: impl Into<String>,
    ) -> Self {
        self.engine.schedule = Some(Schedule::OnMetric(Box::new(scheduler), monitor.into()));
        self
    }

    /// Clips the global L2 norm of the gradients to `max_norm` before each step.
    pub fn clip_grad_norm(mut self, max_norm: f64) -> Result<Self> {
        if !(max_norm > 0.0 && max_norm.is_finite()) {
            return Err(TrainError::config(
                "Trainer::clip_grad_norm",
                format!("max_norm must be a finite number > 0, got {max_norm}"),
            ));
        }
        self.engine.settings.clip_norm = Some(max_norm);
        Ok(self)
    }

    /// Sums the gradients of `batches` batches (each loss divided by `batches`) before
    /// each optimiser step: the step of a batch `batches` times larger.
    pub fn accumulate(mut self, batches: usize) -> Result<Self> {
        if batches == 0 {
            return Err(TrainError::config(
                "Trainer::accumulate",
                "the number of batches per step must be at least 1",
            ));
        }
        self.engine.settings.accumulate = batches;
        Ok(self)
    }

    /// Validates every `epochs` epochs (and after the last).
    pub fn eval_every(mut self, epochs: u64) -> Result<Self> {
        if epochs == 0 {
            return Err(TrainError::config(
                "Trainer::eval_every",
                "the evaluation interval must be at least 1 epoch",
            ));
        }
        self.engine.settings.eval_every = epochs;
        Ok(self)
    }

    /// How progress is shown.
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.engine.settings.progress = mode;
        self
    }

    /// Also writes each `steps`-th step's loss to `metrics.jsonl` and TensorBoard.
    pub fn log_every_steps(mut self, steps: u64) -> Self {
        self.engine.settings.log_every_steps = (steps > 0).then_some(steps);
        self
    }

    /// Seeds the global generator (dropout, random initialisation done later) when
    /// training starts, and records the seed. Seed loaders and initialisation with the
    /// same value for a fully reproducible run (see [`crate::seed_everything`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.engine.settings.seed = Some(seed);
        self
    }

    /// Data-parallel training over `group` (one process or thread per rank, each calling
    /// `fit` with its own shard of the data: `DataLoader::shard(rank, world)`). When
    /// training starts every rank checks that it holds rank 0's model and takes rank 0's
    /// weights; before each optimiser step the gradients are averaged over all ranks'
    /// examples; each epoch's training figures are combined over ranks (validation runs
    /// on every rank's full validation set, so its figures agree). Only rank 0 writes the
    /// run directory and prints progress; dropout draws differ per rank (seed + rank).
    ///
    /// ```
    /// use strata_train::{parallel::ThreadGroup, Trainer, RunTarget};
    /// use strata_nn::{loss::cross_entropy, Adam, Linear, ModuleExt};
    /// for group in ThreadGroup::new(1) {
    ///     let model = Linear::new(4, 3)?;
    ///     let opt = Adam::new(model.parameters(), 1e-2)?;
    ///     let trainer = Trainer::new(model, opt, cross_entropy).data_parallel(group);
    ///     # let _ = trainer;
    /// }
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn data_parallel(mut self, group: impl crate::parallel::Collective + 'static) -> Self {
        self.engine.group = Some(Box::new(group));
        self
    }

    /// Whether data-parallel training starts each gradient bucket's all-reduce during the
    /// backward pass, as soon as the bucket's gradients are final (the default, `true`),
    /// or after the pass. Both give the same gradients; overlapping hides communication
    /// behind computation where the network (or a spare core) can move data meanwhile.
    /// Batches whose gradients are accumulated ([`accumulate`](Self::accumulate)) are
    /// always reduced after the pass.
    ///
    /// ```
    /// use strata_train::{parallel::ThreadGroup, Trainer};
    /// use strata_nn::{loss::cross_entropy, Adam, Linear, ModuleExt};
    /// for group in ThreadGroup::new(1) {
    ///     let model = Linear::new(4, 3)?;
    ///     let opt = Adam::new(model.parameters(), 1e-2)?;
    ///     let trainer = Trainer::new(model, opt, cross_entropy)
    ///         .data_parallel(group)
    ///         .overlap_communication(false);
    ///     # let _ = trainer;
    /// }
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn overlap_communication(mut self, overlap: bool) -> Self {
        self.engine.settings.overlap = overlap;
        self
    }

    /// Synchronised BatchNorm (PyTorch's `SyncBatchNorm`), after
    /// [`data_parallel`](Trainer::data_parallel): every BatchNorm layer of the model
    /// computes its training statistics — and their gradients — over the union of all
    /// ranks' batches, through a channel of the group's own
    /// ([`Collective::batch_stats_sync`](crate::parallel::Collective::batch_stats_sync)), so
    /// N ranks with batch B train exactly like one process with batch N·B even with
    /// BatchNorm. Costs three small all-reduces per layer and step. Evaluation stays local
    /// (running statistics, which every rank updates alike). Without it each rank
    /// normalises with its own batch's statistics (the default, as DDP). Every rank calls
    /// it; an error without `data_parallel`. [`Trainer::into_model`] makes the layers
    /// local again.
    ///
    /// ```
    /// use strata_train::{parallel::ThreadGroup, Trainer};
    /// use strata_nn::{loss::cross_entropy, BatchNorm1d, Linear, ModuleExt, Sequential, SGD};
    /// for group in ThreadGroup::new(1) {
    ///     let model = Sequential::new().push(Linear::new(4, 3)?).push(BatchNorm1d::new(3)?);
    ///     let opt = SGD::new(model.parameters(), 0.1)?;
    ///     let trainer = Trainer::new(model, opt, cross_entropy)
    ///         .data_parallel(group)
    ///         .sync_batch_norm()?;
    ///     # let _ = trainer;
    /// }
    /// let model = Linear::new(4, 3)?;
    /// let opt = SGD::new(model.parameters(), 0.1)?;
    /// assert!(Trainer::new(model, opt, cross_entropy).sync_batch_norm().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sync_batch_norm(mut self) -> Result<Self> {
        let Some(group) = &mut self.engine.group else {
            return Err(TrainError::config(
                "sync_batch_norm",
                "synchronised BatchNorm needs data-parallel training: call data_parallel first",
            ));
        };
        let channel = group.batch_stats_sync()?;
        self.engine.model.module().sync_batch_norm(Some(channel));
        Ok(self)
    }

    /// The run's name (the run directory is `<root>/<name>-<timestamp>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.engine.settings.name = name.into();
        self
    }

    /// Where the run's files go (default: `runs/<name>-<timestamp>`).
    pub fn run_target(mut self, target: RunTarget) -> Self {
        self.engine.settings.run = target;
        self
    }

    /// Hyper-parameters to record in `config.json` (any JSON object).
    pub fn hparams(mut self, hparams: serde_json::Value) -> Self {
        self.engine.settings.hparams = hparams;
        self
    }

    /// Monitor settings, or `None` to switch the monitors off.
    pub fn monitor(mut self, config: Option<MonitorConfig>) -> Self {
        self.engine.monitor_config = config;
        self
    }

    /// Whether to write `checkpoints/last.safetensors` (every epoch) and
    /// `checkpoints/best.safetensors` (best main metric) in the run directory (default on).
    pub fn checkpoints(mut self, on: bool) -> Self {
        self.engine.settings.checkpoints = on;
        self
    }

    /// The shape of one input as an image (`[1, 28, 28]` for flattened MNIST), for the
    /// report's pictures. Four-dimensional inputs are images without it.
    pub fn image_shape(mut self, shape: &[usize]) -> Self {
        self.engine.settings.image_shape = Some(shape.to_vec());
        self
    }

    /// Names of the classes, for the confusion matrix and the report.
    pub fn class_names(mut self, names: Vec<String>) -> Self {
        self.engine.settings.class_names = Some(names);
        self
    }

    /// What the model does (default: guessed from the metrics).
    pub fn task(mut self, task: Task) -> Self {
        self.engine.settings.task = task;
        self
    }

    /// The metric key that decides the best epoch (default: `val_accuracy` for
    /// classification, else `val_loss`; `train_loss` without validation).
    pub fn main_metric(mut self, key: impl Into<String>) -> Self {
        self.engine.settings.main_metric = Some(key.into());
        self
    }

    /// Whether to write TensorBoard event files (default on).
    pub fn tensorboard(mut self, on: bool) -> Self {
        self.engine.settings.tensorboard = on;
        self
    }

    /// Whether to build `report.html` at the end (default on).
    pub fn report(mut self, on: bool) -> Self {
        self.engine.settings.report = on;
        self
    }
}

impl Engine {
    fn new(model: Box<dyn BoundModel>, optimizer: Box<dyn Optimizer>) -> Engine {
        Engine {
            model,
            optimizer,
            schedule: None,
            settings: Settings {
                clip_norm: None,
                accumulate: 1,
                eval_every: 1,
                progress: ProgressMode::Auto,
                log_every_steps: None,
                seed: None,
                name: "run".into(),
                run: RunTarget::Under(PathBuf::from("runs")),
                hparams: serde_json::Value::Object(Default::default()),
                checkpoints: true,
                image_shape: None,
                class_names: None,
                task: Task::Other,
                main_metric: None,
                tensorboard: true,
                report: true,
                overlap: true,
            },
            train_metrics: Vec::new(),
            val_metrics: Vec::new(),
            callbacks: Vec::new(),
            monitor_config: Some(MonitorConfig::default()),
            state: State::default(),
            logs: None,
            group: None,
        }
    }

    fn add_metric(&mut self, metric: Box<dyn Metric>) {
        if self.settings.task == Task::Other {
            self.settings.task = match metric.name().as_str() {
                "accuracy" | "confusion_matrix" => Task::Classification,
                "mse" | "mae" | "r2" => Task::Regression,
                "perplexity" | "bpc" => Task::Language,
                _ => Task::Other,
            };
        }
        self.val_metrics.push(metric.fresh());
        self.train_metrics.push(metric);
    }
}
