//! # strata-train
//!
//! Strata's training engine: a [`Trainer`] that runs `fit`, `evaluate` and `predict` for
//! any model, streamed [`metrics`], [`callbacks`] (early stopping, checkpoints), a NaN/Inf
//! guard, training-health [`monitor`]s (gradient flow, update ratios, activation
//! statistics, dead and saturated units, warnings), and a run directory with
//! `metrics.jsonl`, `metrics.csv`, [`tensorboard`] event files, checkpoints, the final
//! weights and a self-contained HTML [`report`].
//!
//! ```no_run
//! use strata_core::manual_seed;
//! use strata_data::{DataLoader, Mnist, Split};
//! use strata_nn::{loss::cross_entropy, Adam, Linear, ModuleExt, ReLU, Sequential};
//! use strata_train::{callbacks::EarlyStopping, metrics::classification_metrics, Trainer};
//!
//! manual_seed(0); // initialisation
//! let train = DataLoader::new(Mnist::load("data/mnist", Split::Train)?.flattened()).batch_size(128).shuffle(0);
//! let test = DataLoader::new(Mnist::load("data/mnist", Split::Test)?.flattened()).batch_size(1000);
//! let model = Sequential::new().push(Linear::new(784, 256)?).push(ReLU::new()).push(Linear::new(256, 10)?);
//! let opt = Adam::new(model.parameters(), 1e-3)?;
//! let mut trainer = Trainer::new(model, opt, cross_entropy)
//!     .metrics(classification_metrics(10))
//!     .callback(EarlyStopping::new("val_loss").patience(2)?.restore_best_weights(true))
//!     .image_shape(&[1, 28, 28])
//!     .name("mnist-mlp")
//!     .seed(0);
//! trainer.fit(&train, Some(&test), 10)?; // prints `run: runs/mnist-mlp-...` and `report: .../report.html`
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batches;
pub mod callbacks;
mod error;
pub mod graph;
mod json;
pub mod metrics;
pub mod monitor;
pub mod parallel;
mod progress;
pub mod records;
pub mod report;
pub mod run_dir;
mod step;
pub mod tensor_stats;
pub mod tensorboard;
mod trainer;

pub use batches::{validation_split, Batches, SplitLoader};
pub use callbacks::{Callback, Control, EarlyStopping, ModelCheckpoint, TrainContext};
pub use error::{Result, TrainError};
pub(crate) use json::{f64_from_json, json_f64};
pub use metrics::{
    Accuracy, BitsPerCharacter, ClassScores, ConfusionMatrix, Mae, Metric, Mse, Perplexity,
    TopKAccuracy, R2,
};
pub use monitor::{Monitor, MonitorConfig};
pub use progress::ProgressMode;
pub use step::{StepOutput, TrainStep};
pub use trainer::{RunTarget, StepReport, Task, Trainer};

/// Seeds the global generator: parameter initialisation, dropout and anything else drawing
/// from it. Give loaders the same seed (`DataLoader::shuffle(seed)`) and the run is
/// reproducible bit for bit at a fixed thread count.
pub fn seed_everything(seed: u64) {
    strata_core::manual_seed(seed);
}
