//! `ExponentialLR`: decay by a constant factor every epoch.

use super::step::check_gamma;
use super::LrSchedule;
use crate::Result;

/// Multiplies the learning rate by `gamma` every epoch: `lr = base · gamma^epoch`
/// (PyTorch's `ExponentialLR`).
///
/// ```
/// use strata_nn::schedule::{ExponentialLR, LrSchedule};
/// let s = ExponentialLR::new(0.9);
/// assert!((s.lr_at(0.1, 2) - 0.081).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialLR {
    pub gamma: f64,
}

impl ExponentialLR {
    pub fn new(gamma: f64) -> ExponentialLR {
        ExponentialLR { gamma }
    }
}

impl LrSchedule for ExponentialLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr * self.gamma.powf(epoch as f64)
    }

    fn validate(&self) -> Result<()> {
        check_gamma("ExponentialLR", self.gamma)
    }
}
