//! Cosine annealing: once over `t_max` epochs, or with warm restarts (SGDR).

use super::LrSchedule;
use crate::{Error, Result};
use std::f64::consts::PI;

/// `eta_min + (base − eta_min) · (1 + cos(π · t / period)) / 2`.
fn cosine(base_lr: f64, eta_min: f64, t: f64, period: f64) -> f64 {
    eta_min + (base_lr - eta_min) * (1.0 + (PI * t / period).cos()) / 2.0
}

fn check_eta_min(what: &'static str, eta_min: f64) -> Result<()> {
    if eta_min.is_finite() && eta_min >= 0.0 {
        Ok(())
    } else {
        Err(Error::config(
            what,
            format!("eta_min must be a finite number >= 0, got {eta_min}"),
        ))
    }
}

/// Anneals from the base learning rate to `eta_min` along half a cosine over `t_max`
/// epochs (PyTorch's `CosineAnnealingLR`; past `t_max` the cosine continues, rising again,
/// as in PyTorch).
///
/// ```
/// use strata_nn::schedule::{CosineAnnealingLR, LrSchedule};
/// let s = CosineAnnealingLR::new(10, 0.001);
/// assert_eq!(s.lr_at(0.1, 0), 0.1);
/// assert!((s.lr_at(0.1, 5) - 0.0505).abs() < 1e-15);
/// assert!((s.lr_at(0.1, 10) - 0.001).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CosineAnnealingLR {
    pub t_max: usize,
    pub eta_min: f64,
}

impl CosineAnnealingLR {
    /// Half a cosine period of `t_max` (>= 1) epochs down to `eta_min` (PyTorch's default 0).
    pub fn new(t_max: usize, eta_min: f64) -> CosineAnnealingLR {
        CosineAnnealingLR { t_max, eta_min }
    }
}

impl LrSchedule for CosineAnnealingLR {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        cosine(
            base_lr,
            self.eta_min,
            epoch as f64,
            self.t_max.max(1) as f64,
        )
    }

    fn validate(&self) -> Result<()> {
        if self.t_max == 0 {
            return Err(Error::config(
                "CosineAnnealingLR",
                "t_max must be at least 1, got 0",
            ));
        }
        check_eta_min("CosineAnnealingLR", self.eta_min)
    }
}

/// Cosine annealing with warm restarts (SGDR, PyTorch's `CosineAnnealingWarmRestarts`): the
/// first cycle lasts `t_0` epochs, each next one `t_mult` times longer; every cycle starts
/// again at the base learning rate.
///
/// ```
/// use strata_nn::schedule::{CosineAnnealingWarmRestarts, LrSchedule};
/// let s = CosineAnnealingWarmRestarts::new(10, 2, 0.0);
/// assert_eq!(s.lr_at(0.1, 10), 0.1);          // restart after 10 epochs
/// assert_eq!(s.lr_at(0.1, 30), 0.1);          // then after 20 more
/// assert!((s.lr_at(0.1, 20) - 0.05).abs() < 1e-15); // half-way through the second cycle
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CosineAnnealingWarmRestarts {
    pub t_0: usize,
    pub t_mult: usize,
    pub eta_min: f64,
}

impl CosineAnnealingWarmRestarts {
    /// First cycle `t_0` (>= 1) epochs, growth `t_mult` (>= 1; PyTorch's default 1),
    /// minimum `eta_min` (default 0).
    pub fn new(t_0: usize, t_mult: usize, eta_min: f64) -> CosineAnnealingWarmRestarts {
        CosineAnnealingWarmRestarts {
            t_0,
            t_mult,
            eta_min,
        }
    }

    /// The position in the current cycle and the cycle's length at `epoch`.
    fn position(&self, epoch: usize) -> (usize, usize) {
        let (mut t_cur, mut t_i) = (epoch, self.t_0.max(1));
        if self.t_mult <= 1 {
            return (epoch % t_i, t_i);
        }
        while t_cur >= t_i {
            t_cur -= t_i;
            t_i = t_i.saturating_mul(self.t_mult.max(1));
        }
        (t_cur, t_i)
    }
}

impl LrSchedule for CosineAnnealingWarmRestarts {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        let (t_cur, t_i) = self.position(epoch);
        cosine(base_lr, self.eta_min, t_cur as f64, t_i as f64)
    }

    fn validate(&self) -> Result<()> {
        let what = "CosineAnnealingWarmRestarts";
        if self.t_0 == 0 {
            return Err(Error::config(what, "t_0 must be at least 1, got 0"));
        }
        if self.t_mult == 0 {
            return Err(Error::config(what, "t_mult must be at least 1, got 0"));
        }
        check_eta_min(what, self.eta_min)
    }
}
