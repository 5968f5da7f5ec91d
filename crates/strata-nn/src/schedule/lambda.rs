//! `LambdaLR`: a factor given by a function of the epoch.

use super::LrSchedule;

/// Scales the base learning rate by `factor(epoch)` (PyTorch's `LambdaLR`), for schedules
/// the others do not cover.
///
/// ```
/// use strata_nn::schedule::{LambdaLR, LrSchedule};
/// // Inverse square-root decay after 4 warm-up epochs (the Transformer schedule's shape).
/// let s = LambdaLR::new(|e| {
///     let e = (e + 1) as f64;
///     (e / 4.0).min(2.0 / e.sqrt())
/// });
/// assert_eq!(s.lr_at(0.1, 0), 0.025);
/// assert_eq!(s.lr_at(0.1, 15), 0.05);
/// ```
pub struct LambdaLR {
    factor: Box<dyn Fn(usize) -> f64 + Send + Sync>,
}

impl LambdaLR {
    pub fn new(factor: impl Fn(usize) -> f64 + Send + Sync + 'static) -> LambdaLR {
        LambdaLR {
            factor: Box::new(factor),
        }
    }
}

impl std::fmt::Debug for LambdaLR {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LambdaLR(<fn>)")
    }
}

impl LrSchedule for LambdaLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr * (self.factor)(epoch)
    }
}
