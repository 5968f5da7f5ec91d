//! Warm-up shapes: `LinearLR` (a linear ramp of the factor) and `ConstantLR` (a constant
//! factor for the first epochs).

use super::LrSchedule;
use crate::{Error, Result};

/// Scales the learning rate by a factor that moves linearly from `start_factor` to
/// `end_factor` over `total_iters` epochs, then stays at `end_factor`:
/// `lr = base · (start + (end − start) · min(epoch, total_iters) / total_iters)`
/// (PyTorch's `LinearLR`; its defaults are 1/3, 1.0 and 5, see [`LinearLR::default`]).
///
/// ```
/// use strata_nn::schedule::{LinearLR, LrSchedule};
/// let warmup = LinearLR::new(0.2, 1.0, 5);
/// let lrs: Vec<f64> = (0..7).map(|e| warmup.lr_at(0.1, e)).collect();
/// let want = [0.02, 0.036, 0.052, 0.068, 0.084, 0.1, 0.1];
/// assert!(lrs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LinearLR {
    pub start_factor: f64,
    pub end_factor: f64,
    pub total_iters: usize,
}

impl LinearLR {
    /// A ramp from `start_factor` (in (0, 1]) to `end_factor` (in [0, 1]) over
    /// `total_iters` (>= 1) epochs.
    pub fn new(start_factor: f64, end_factor: f64, total_iters: usize) -> LinearLR {
        LinearLR {
            start_factor,
            end_factor,
            total_iters,
        }
    }
}

impl Default for LinearLR {
    /// PyTorch's defaults: from 1/3 to 1 over 5 epochs.
    fn default() -> LinearLR {
        LinearLR::new(1.0 / 3.0, 1.0, 5)
    }
}

impl LrSchedule for LinearLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        let total = self.total_iters.max(1);
        let done = epoch.min(total) as f64 / total as f64;
        base_lr * (self.start_factor + (self.end_factor - self.start_factor) * done)
    }

    fn validate(&self) -> Result<()> {
        if !(self.start_factor > 0.0 && self.start_factor <= 1.0) {
            return Err(Error::config(
                "LinearLR",
                format!("start_factor must be in (0, 1], got {}", self.start_factor),
            ));
        }
        if !(0.0..=1.0).contains(&self.end_factor) {
            return Err(Error::config(
                "LinearLR",
                format!("end_factor must be in [0, 1], got {}", self.end_factor),
            ));
        }
        if self.total_iters == 0 {
            return Err(Error::config(
                "LinearLR",
                "total_iters must be at least 1, got 0",
            ));
        }
        Ok(())
    }
}

/// Scales the learning rate by `factor` for the first `total_iters` epochs, then uses the
/// base learning rate (PyTorch's `ConstantLR`; its defaults are 1/3 and 5).
///
/// ```
/// use strata_nn::schedule::{ConstantLR, LrSchedule};
/// let s = ConstantLR::new(0.5, 2);
/// assert_eq!([0, 1, 2].map(|e| s.lr_at(0.1, e)), [0.05, 0.05, 0.1]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ConstantLR {
    pub factor: f64,
    pub total_iters: usize,
}

impl ConstantLR {
    /// `factor` (in [0, 1]) for the first `total_iters` epochs.
    pub fn new(factor: f64, total_iters: usize) -> ConstantLR {
        ConstantLR {
            factor,
            total_iters,
        }
    }
}

impl Default for ConstantLR {
    /// PyTorch's defaults: a third of the learning rate for 5 epochs.
    fn default() -> ConstantLR {
        ConstantLR::new(1.0 / 3.0, 5)
    }
}

impl LrSchedule for ConstantLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        if epoch < self.total_iters {
            base_lr * self.factor
        } else {
            base_lr
        }
    }

    fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.factor) {
            return Err(Error::config(
                "ConstantLR",
                format!("factor must be in [0, 1], got {}", self.factor),
            ));
        }
        Ok(())
    }
}
