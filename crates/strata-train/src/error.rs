//! The one error type of strata-train.

use std::path::PathBuf;

/// Errors returned by the trainer, its metrics, callbacks, loggers and the report.
///
/// ```
/// use strata_train::TrainError;
/// let err = TrainError::config("EarlyStopping", "patience must be at least 1, got 0");
/// assert_eq!(err.to_string(), "EarlyStopping: patience must be at least 1, got 0");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A tensor operation failed.
    #[error(transparent)]
    Core(#[from] strata_core::Error),

    /// A layer, loss, optimiser, scheduler or checkpoint failed.
    #[error(transparent)]
    Nn(#[from] strata_nn::Error),

    /// Loading data failed.
    #[error(transparent)]
    Data(#[from] strata_data::DataError),

    /// A setting of the trainer, a metric or a callback is invalid.
    #[error("{what}: {reason}")]
    Config { what: String, reason: String },

    /// A file of the run directory could not be written or read.
    #[error("{}: {reason}", .path.display())]
    File { path: PathBuf, reason: String },

    /// A loss, gradient or parameter became NaN or infinite; training stopped before the
    /// optimiser applied it, so the last checkpoint holds finite weights.
    #[error("non-finite {what} at step {step} (epoch {epoch}): {detail}")]
    NonFinite {
        /// `"loss"`, `"gradient"` or `"value"`.
        what: &'static str,
        /// The optimiser step (counting from 1) during which it appeared.
        step: u64,
        /// The epoch (counting from 1).
        epoch: u64,
        /// Which parameter (its state-dict name) and what was found.
        detail: String,
    },

    /// A metric was given outputs it cannot use (wrong dtype, shape or class index).
    #[error("metric {metric}: {reason}")]
    Metric { metric: String, reason: String },

    /// Data-parallel training: the processes disagree (different models) or their
    /// communication failed.
    #[error("rank {rank} of {world}: {reason}")]
    Parallel {
        rank: usize,
        world: usize,
        reason: String,
    },
}

impl TrainError {
    /// A configuration error of `what`.
    pub fn config(what: impl Into<String>, reason: impl Into<String>) -> TrainError {
        TrainError::Config {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// A file error at `path`.
    pub fn file(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> TrainError {
        TrainError::File {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    /// A metric given unusable outputs.
    pub fn metric(metric: impl Into<String>, reason: impl Into<String>) -> TrainError {
        TrainError::Metric {
            metric: metric.into(),
            reason: reason.into(),
        }
    }
}

/// The result type of strata-train.
pub type Result<T> = std::result::Result<T, TrainError>;
