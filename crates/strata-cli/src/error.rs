//! The command's errors and exit codes: 2 for usage and config errors (nothing ran), 1 for
//! failures at run time.

use crate::build::BuildError;
use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A config that parses but cannot be used with its data.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Train(#[from] strata_train::TrainError),
    #[error(transparent)]
    Data(#[from] strata_data::DataError),
    #[error(transparent)]
    Nn(#[from] strata_nn::Error),
    #[error(transparent)]
    Core(#[from] strata_core::Error),
    #[error(transparent)]
    Bench(#[from] strata_bench::BenchError),
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Experiment(#[from] strata_experiments::ExperimentError),
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    /// 2 when the command or config is at fault, 1 when running failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) | CliError::Build(_) | CliError::Usage(_) => 2,
            CliError::Experiment(strata_experiments::ExperimentError::UnknownExperiment(_)) => 2,
            _ => 1,
        }
    }
}
