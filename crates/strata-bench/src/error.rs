//! The harness's errors.

/// Anything that stops a workload or the harness around it.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Core(#[from] strata_core::Error),
    #[error(transparent)]
    Nn(#[from] strata_nn::Error),
    #[error(transparent)]
    Data(#[from] strata_data::DataError),
    /// A workload name that is not one of [`crate::Workload::ALL`].
    #[error("unknown workload `{0}` (known: W1, W1-b16, W2, W3, W4, W5, W6)")]
    UnknownWorkload(String),
    /// Starting or reading the child process of a workload failed.
    #[error("workload {workload}: could not run a child process: {source}")]
    Spawn {
        workload: &'static str,
        source: std::io::Error,
    },
    /// The child process of a workload exited with a failure.
    #[error("workload {workload}: the child process failed ({status})")]
    ChildFailed {
        workload: &'static str,
        status: std::process::ExitStatus,
    },
    /// A line from a child process that is not a measurement.
    #[error("workload {workload}: unreadable line from the child process: {line:?}")]
    BadLine {
        workload: &'static str,
        line: String,
    },
}

/// The harness's result type.
pub type Result<T> = std::result::Result<T, BenchError>;
