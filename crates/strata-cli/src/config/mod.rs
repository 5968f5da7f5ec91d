//! The config file: what to train on, the model, the loss, the optimiser, the schedule,
//! training and output. TOML, read strictly: unknown keys and wrong types are errors that
//! name the key path, its line and column, and what is allowed.

mod data;
mod layers;
mod load;

pub use data::{AugmentConfig, DataConfig, DatasetKind};

pub use layers::{Activation, LayerSpec, PoolMode, PositionKind, RecurrentSpec, SequenceOutput};
#[cfg(test)]
pub use load::parse;
pub use load::{load, ConfigError};

use serde::{Deserialize, Serialize};

/// A whole config file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data: DataConfig,
    pub model: ModelConfig,
    #[serde(default)]
    pub loss: LossConfig,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub training: TrainingConfig,
    #[serde(default)]
    pub output: OutputConfig,
}

/// The model: the shape of one input and a sequence of layers whose sizes are inferred.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub input: Vec<usize>,
    pub layers: Vec<LayerSpec>,
    /// Weights to start from (transfer learning): the `model.safetensors` of an earlier run.
    /// Entries whose name and shape fit are loaded; the rest start fresh.
    pub init_from: Option<String>,
    /// Load only entries under these prefixes, each optionally renamed: `"0."` or
    /// `"features.=0."` (default: everything).
    #[serde(default)]
    pub init_prefixes: Vec<String>,
    /// Parameters under these state-dict prefixes are frozen (`["0.", "3."]`).
    #[serde(default)]
    pub freeze: Vec<String>,
}

impl ModelConfig {
    /// Whether a recurrent layer carries its state from one training batch to the next.
    pub fn stateful(&self) -> bool {
        self.layers.iter().any(|l| match l {
            LayerSpec::Rnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) => r.stateful,
            _ => false,
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    #[default]
    CrossEntropy,
    Mse,
    L1,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    #[serde(default)]
    pub name: LossKind,
    /// Cross-entropy's label smoothing (default 0).
    #[serde(default)]
    pub label_smoothing: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    #[default]
    Adam,
    Adamw,
    Sgd,
    Rmsprop,
    Adagrad,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    #[serde(default)]
    pub name: OptimizerKind,
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// SGD's and RMSprop's momentum (default 0).
    #[serde(default)]
    pub momentum: f64,
    #[serde(default)]
    pub nesterov: bool,
    /// L2 weight decay (decoupled for AdamW; default 0, AdamW 0.01).
    pub weight_decay: Option<f64>,
    /// Adam's and AdamW's (beta1, beta2) (default [0.9, 0.999]).
    pub betas: Option<[f64; 2]>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            name: OptimizerKind::Adam,
            lr: default_lr(),
            momentum: 0.0,
            nesterov: false,
            weight_decay: None,
            betas: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    #[default]
    None,
    /// Cosine annealing to `min_lr` over the whole run.
    Cosine,
    /// Multiply by `gamma` every `step_size` epochs.
    Step,
    /// Multiply by `gamma` every epoch.
    Exponential,
    /// Multiply by `factor` when `monitor` has not improved for `patience` epochs.
    Plateau,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    /// Cosine's default: a smooth curve over every step.
    #[default]
    Batch,
    Epoch,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(default)]
    pub name: ScheduleKind,
    /// Cosine: per batch (default) or per epoch.
    #[serde(default)]
    pub per: Every,
    #[serde(default)]
    pub min_lr: f64,
    pub step_size: Option<usize>,
    pub gamma: Option<f64>,
    pub monitor: Option<String>,
    pub patience: Option<usize>,
    pub factor: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    #[serde(default = "val_loss")]
    pub monitor: String,
    #[serde(default = "five")]
    pub patience: u64,
    #[serde(default)]
    pub min_delta: f64,
    #[serde(default = "yes")]
    pub restore_best_weights: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    #[serde(default = "ten")]
    pub epochs: u64,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    #[serde(default)]
    pub seed: u64,
    pub early_stopping: Option<EarlyStoppingConfig>,
    pub clip_grad_norm: Option<f64>,
    #[serde(default = "one")]
    pub accumulate: usize,
    #[serde(default = "one_u64")]
    pub eval_every: u64,
    /// The monitors' interval in steps (default 50; 0 switches them off).
    #[serde(default = "fifty")]
    pub monitor_every: u64,
    /// Write `checkpoints/last.safetensors` and `best.safetensors` (default true).
    #[serde(default = "yes")]
    pub checkpoints: bool,
    /// With `--distributed`: BatchNorm statistics over every rank's batch (default false,
    /// each rank's own). A single process's statistics are already global: there it
    /// changes nothing.
    #[serde(default)]
    pub sync_batch_norm: bool,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            epochs: ten(),
            batch_size: default_batch(),
            seed: 0,
            early_stopping: None,
            clip_grad_norm: None,
            accumulate: 1,
            eval_every: 1,
            monitor_every: fifty(),
            checkpoints: true,
            sync_batch_norm: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Where run directories go (default `runs`).
    #[serde(default = "runs")]
    pub dir: String,
    /// The run's name (default: the config file's name).
    pub name: Option<String>,
    /// Write TensorBoard event files (default true).
    #[serde(default = "yes")]
    pub tensorboard: bool,
    /// Write `report.html` and its plots at the end (default true).
    #[serde(default = "yes")]
    pub report: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: runs(),
            name: None,
            tensorboard: true,
            report: true,
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn one_u64() -> u64 {
    1
}
fn five() -> u64 {
    5
}
fn ten() -> u64 {
    10
}
fn fifty() -> u64 {
    50
}
fn default_lr() -> f64 {
    1e-3
}
fn default_batch() -> usize {
    64
}
fn val_loss() -> String {
    "val_loss".into()
}
fn runs() -> String {
    "runs".into()
}
