//! Errors of strata-nn: tensor errors plus layer configuration, input shapes, state dicts
//! and checkpoint files.

use std::fmt;
use std::path::PathBuf;
use strata_core::ShapeDisplay;

/// A parameter whose stored shape differs from the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeConflict {
    pub name: String,
    pub expected: Vec<usize>,
    pub found: Vec<usize>,
}

impl fmt::Display for ShapeConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: model has {:?}, checkpoint has {:?}",
            self.name, self.expected, self.found
        )
    }
}

/// Problems found when loading a state dict strictly, all reported at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateDictProblems {
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub mismatched: Vec<ShapeConflict>,
}

impl StateDictProblems {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }
}

impl fmt::Display for StateDictProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing keys: {}", self.missing.join(", ")));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!("unexpected keys: {}", self.unexpected.join(", ")));
        }
        if !self.mismatched.is_empty() {
            let m: Vec<String> = self.mismatched.iter().map(|c| c.to_string()).collect();
            parts.push(format!("shape mismatches: {}", m.join("; ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Errors returned by strata-nn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] strata_core::Error),

    /// A layer, loss, optimiser or schedule was configured with invalid values.
    #[error("{what}: invalid configuration: {reason}")]
    Config { what: &'static str, reason: String },

    /// A layer received an input of the wrong shape.
    #[error("{layer}: expected {expected}, got input of shape {got}")]
    Input {
        layer: String,
        expected: String,
        got: ShapeDisplay,
    },

    /// A layer received an argument besides its input (an initial state `h0` or `c0`) of
    /// the wrong shape or dtype; the message names the argument.
    #[error("{layer}: argument {arg}: expected {expected}, got {got}")]
    Argument {
        layer: String,
        arg: &'static str,
        expected: String,
        got: String,
    },

    /// Strict loading found missing, unexpected or mis-shaped entries.
    #[error("state dict does not match the model: {0}")]
    StateDict(StateDictProblems),

    /// A checkpoint file is unreadable, truncated or corrupt.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    /// Strict loading of a checkpoint file found missing, unexpected or mis-shaped entries
    /// (all listed at once).
    #[error("checkpoint {path} does not match the model: {problems}")]
    CheckpointMismatch {
        path: PathBuf,
        problems: StateDictProblems,
    },

    /// An optimiser or learning-rate scheduler state dict does not fit the optimiser or
    /// scheduler it is loaded into (missing or unexpected keys, other group or parameter
    /// counts, other shapes).
    #[error("{what}: cannot load state dict: {reason}")]
    LoadState { what: String, reason: String },

    /// Exchanging values with the other ranks failed (a synchronised BatchNorm's
    /// [`BatchStatsSync`](crate::BatchStatsSync)); the reason names the rank and cause.
    #[error("collective communication failed: {reason}")]
    Collective { reason: String },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Result alias of strata-nn.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn config(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            what,
            reason: reason.into(),
        }
    }
}
