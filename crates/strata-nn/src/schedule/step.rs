//! Step decays: `StepLR` (every `step_size` epochs) and `MultiStepLR` (at given epochs).

use super::LrSchedule;
use crate::{Error, Result};

/// Multiplies the learning rate by `gamma` every `step_size` epochs:
/// `lr = base · gamma^⌊epoch / step_size⌋` (PyTorch's `StepLR`).
///
/// ```
/// use strata_nn::schedule::{LrSchedule, StepLR};
/// let s = StepLR::new(10, 0.5);
/// assert_eq!(s.lr_at(0.1, 9), 0.1);
/// assert_eq!(s.lr_at(0.1, 10), 0.05);
/// assert_eq!(s.lr_at(0.1, 25), 0.025);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct StepLR {
    pub step_size: usize,
    pub gamma: f64,
}

impl StepLR {
    /// Decay by `gamma` every `step_size` (>= 1) epochs. PyTorch's default gamma is 0.1.
    pub fn new(step_size: usize, gamma: f64) -> StepLR {
        StepLR { step_size, gamma }
    }
}

impl LrSchedule for StepLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr * self.gamma.powf((epoch / self.step_size.max(1)) as f64)
    }

    fn validate(&self) -> Result<()> {
        if self.step_size == 0 {
            return Err(Error::config(
                "StepLR",
                "step_size must be at least 1, got 0",
            ));
        }
        check_gamma("StepLR", self.gamma)
    }
}

/// Multiplies the learning rate by `gamma` at each milestone epoch:
/// `lr = base · gamma^(number of milestones <= epoch)` (PyTorch's `MultiStepLR`; a
/// milestone listed twice decays twice).
///
/// ```
/// use strata_nn::schedule::{LrSchedule, MultiStepLR};
/// let s = MultiStepLR::new(vec![30, 5, 15], 0.1);
/// assert_eq!(s.lr_at(1.0, 4), 1.0);
/// assert!((s.lr_at(1.0, 5) - 0.1).abs() < 1e-15);
/// assert!((s.lr_at(1.0, 29) - 0.01).abs() < 1e-15);
/// assert!((s.lr_at(1.0, 30) - 0.001).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStepLR {
    milestones: Vec<usize>,
    pub gamma: f64,
}

impl MultiStepLR {
    /// Decay by `gamma` at each of `milestones` (any order). PyTorch's default gamma is 0.1.
    pub fn new(mut milestones: Vec<usize>, gamma: f64) -> MultiStepLR {
        milestones.sort_unstable();
        MultiStepLR { milestones, gamma }
    }

    /// The milestones, sorted.
    pub fn milestones(&self) -> &[usize] {
        &self.milestones
    }
}

impl LrSchedule for MultiStepLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= epoch);
        base_lr * self.gamma.powf(passed as f64)
    }

    fn validate(&self) -> Result<()> {
        check_gamma("MultiStepLR", self.gamma)
    }
}

/// A decay factor: finite and `>= 0`.
pub(crate) fn check_gamma(what: &'static str, gamma: f64) -> Result<()> {
    if gamma.is_finite() && gamma >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            what,
            format!("gamma must be a finite number >= 0, got {gamma}"),
        ))
    }
}
