//! Combining schedules: one after another (`SequentialLR`) or multiplied together
//! (`ChainedScheduler`).

use super::LrSchedule;
use crate::{Error, Result};

/// Runs schedules one after another: schedule `i + 1` takes over at epoch `milestones[i]`
/// and starts from its own epoch 0 (PyTorch's `SequentialLR`). The classic use is a
/// warm-up followed by a decay.
///
/// ```
/// use strata_nn::schedule::{CosineAnnealingLR, LinearLR, LrSchedule, SequentialLR};
/// let s = SequentialLR::new(
///     vec![Box::new(LinearLR::new(0.5, 1.0, 2)), Box::new(CosineAnnealingLR::new(4, 0.0))],
///     vec![2],
/// );
/// let lrs: Vec<f64> = (0..7).map(|e| s.lr_at(1.0, e)).collect();
/// let want = [0.5, 0.75, 1.0, 0.8535533905932737, 0.5, 0.14644660940672627, 0.0];
/// assert!(lrs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15), "{lrs:?}");
/// ```
#[derive(Debug)]
pub struct SequentialLR {
    schedules: Vec<Box<dyn LrSchedule>>,
    milestones: Vec<usize>,
}

impl SequentialLR {
    /// `schedules[0]` until `milestones[0]`, then `schedules[1]`, and so on; there is one
    /// milestone fewer than schedules, in increasing order.
    pub fn new(schedules: Vec<Box<dyn LrSchedule>>, milestones: Vec<usize>) -> SequentialLR {
        SequentialLR {
            schedules,
            milestones,
        }
    }

    /// The schedule in charge at `epoch` and the epoch it started.
    fn active(&self, epoch: usize) -> (usize, usize) {
        let i = self.milestones.partition_point(|&m| m <= epoch);
        let start = if i == 0 { 0 } else { self.milestones[i - 1] };
        (i, start)
    }
}

impl LrSchedule for SequentialLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        let (i, start) = self.active(epoch);
        self.schedules
            .get(i)
            .map_or(base_lr, |s| s.lr_at(base_lr, epoch - start))
    }

    fn momentum_at(&self, epoch: usize) -> Option<f64> {
        let (i, start) = self.active(epoch);
        self.schedules.get(i)?.momentum_at(epoch - start)
    }

    fn validate(&self) -> Result<()> {
        if self.schedules.is_empty() {
            return Err(Error::config("SequentialLR", "needs at least one schedule"));
        }
        if self.milestones.len() + 1 != self.schedules.len() {
            return Err(Error::config(
                "SequentialLR",
                format!(
                    "needs one milestone fewer than schedules, got {} schedule(s) and {} \
                     milestone(s)",
                    self.schedules.len(),
                    self.milestones.len()
                ),
            ));
        }
        if self.milestones.windows(2).any(|w| w[0] > w[1]) {
            return Err(Error::config(
                "SequentialLR",
                format!(
                    "milestones must be in increasing order, got {:?}",
                    self.milestones
                ),
            ));
        }
        self.schedules.iter().try_for_each(|s| s.validate())
    }
}

/// Applies several schedules at once by multiplying their factors:
/// `lr = base · Π (schedule_i(base, epoch) / base)` (PyTorch's `ChainedScheduler`). This
/// equals PyTorch's chained result for the multiplicative schedules (`StepLR`,
/// `MultiStepLR`, `ExponentialLR`, `LinearLR`, `ConstantLR`, `LambdaLR`) and for cosine
/// annealing to 0.
///
/// ```
/// use strata_nn::schedule::{ChainedScheduler, ConstantLR, ExponentialLR, LrSchedule};
/// let s = ChainedScheduler::new(vec![
///     Box::new(ConstantLR::new(0.1, 2)),
///     Box::new(ExponentialLR::new(0.5)),
/// ]);
/// let lrs: Vec<f64> = (0..4).map(|e| s.lr_at(1.0, e)).collect();
/// assert!((lrs[1] - 0.05).abs() < 1e-15 && (lrs[2] - 0.25).abs() < 1e-15, "{lrs:?}");
/// ```
#[derive(Debug)]
pub struct ChainedScheduler {
    schedules: Vec<Box<dyn LrSchedule>>,
}

impl ChainedScheduler {
    pub fn new(schedules: Vec<Box<dyn LrSchedule>>) -> ChainedScheduler {
        ChainedScheduler { schedules }
    }
}

impl LrSchedule for ChainedScheduler {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        if base_lr == 0.0 {
            return 0.0;
        }
        self.schedules
            .iter()
            .fold(base_lr, |lr, s| lr * (s.lr_at(base_lr, epoch) / base_lr))
    }

    /// The momentum of the last schedule that sets one.
    fn momentum_at(&self, epoch: usize) -> Option<f64> {
        self.schedules
            .iter()
            .rev()
            .find_map(|s| s.momentum_at(epoch))
    }

    fn validate(&self) -> Result<()> {
        self.schedules.iter().try_for_each(|s| s.validate())
    }
}
