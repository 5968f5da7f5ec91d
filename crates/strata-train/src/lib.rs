//! # strata-train
//!
//! Strata's training engine: a [`Trainer`] that runs `fit`, `evaluate` and `predict` for
//! any model, streamed [`metrics`], [`callbacks`] (early stopping, checkpoints, a NaN
//! guard), training-health [`monitor`]s (gradient flow, update ratios, activation
//! statistics, dead and saturated units, warnings), a run directory with `metrics.jsonl`,
//! `metrics.csv`, [`tensorboard`] event files and a self-contained HTML [`report`].

mod error;
pub mod metrics;
pub mod records;
pub mod report;
mod step;
pub mod tensor_stats;

pub use error::{Result, TrainError};
pub use metrics::Metric;
pub use step::{StepOutput, TrainStep};
