//! The one error type of strata-experiments.

use std::path::PathBuf;

/// Errors of running an experiment or writing its results.
///
/// ```
/// use strata_experiments::ExperimentError;
/// let err = ExperimentError::UnknownExperiment("depht".into());
/// assert!(err.to_string().contains("--list"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// No experiment has this name.
    #[error("unknown experiment `{0}` (see `strata experiment --list`)")]
    UnknownExperiment(String),

    /// A tensor operation failed.
    #[error(transparent)]
    Core(#[from] strata_core::Error),

    /// A layer, loss or optimiser failed.
    #[error(transparent)]
    Nn(#[from] strata_nn::Error),

    /// Loading data failed (MNIST missing from the data directory, mostly).
    #[error(transparent)]
    Data(#[from] strata_data::DataError),

    /// Rendering a plot failed.
    #[error(transparent)]
    Train(#[from] strata_train::TrainError),

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Serialising `results.json` failed.
    #[error("results.json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, ExperimentError>;

impl ExperimentError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ExperimentError {
        ExperimentError::Io {
            path: path.into(),
            source,
        }
    }
}
