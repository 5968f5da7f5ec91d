//! `OneCycleLR`: the 1cycle policy (Smith & Topin), per batch.

use super::LrSchedule;
use crate::{Error, Result};
use std::f64::consts::PI;

/// How `OneCycleLR` moves between its learning rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AnnealStrategy {
    /// Half a cosine (PyTorch's default).
    #[default]
    Cos,
    /// A straight line.
    Linear,
}

impl AnnealStrategy {
    /// From `start` at `pct = 0` to `end` at `pct = 1`.
    fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

/// The 1cycle policy, stepped once per batch (PyTorch's `OneCycleLR`): the learning rate
/// rises from `max_lr / div_factor` to `max_lr` over the first `pct_start` of
/// `total_steps`, then falls to `max_lr / (div_factor · final_div_factor)`; with
/// `three_phase`, it first comes back down to the initial value symmetrically and only then
/// falls to the minimum. The momentum (SGD/RMSprop momentum, Adam's beta1) moves the other
/// way between `max_momentum` and `base_momentum` unless `cycle_momentum(false)`.
///
/// The base learning rate of the optimiser is not used: `max_lr` sets the scale. Defaults
/// as PyTorch: `pct_start` 0.3, cosine annealing, `div_factor` 25, `final_div_factor` 1e4,
/// momentum cycled between 0.85 and 0.95. PyTorch raises an error when stepped more than
/// `total_steps` times; here the schedule stays at its last value.
///
/// ```
/// use strata_nn::schedule::{LrSchedule, OneCycleLR};
/// let s = OneCycleLR::new(1.0, 100);
/// assert!((s.lr_at(0.0, 0) - 0.04).abs() < 1e-15);   // max_lr / 25
/// assert_eq!(s.lr_at(0.0, 29), 1.0);                  // the peak, 30% in
/// assert!((s.lr_at(0.0, 99) - 4e-6).abs() < 1e-15);   // 0.04 / 1e4
/// assert_eq!(s.momentum_at(29), Some(0.85));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycleLR {
    pub max_lr: f64,
    pub total_steps: usize,
    pub pct_start: f64,
    pub anneal_strategy: AnnealStrategy,
    pub div_factor: f64,
    pub final_div_factor: f64,
    pub three_phase: bool,
    pub cycle_momentum: bool,
    pub base_momentum: f64,
    pub max_momentum: f64,
}

impl OneCycleLR {
    /// A cycle peaking at `max_lr` over `total_steps` (>= 1) steps, with PyTorch's defaults.
    pub fn new(max_lr: f64, total_steps: usize) -> OneCycleLR {
        OneCycleLR {
            max_lr,
            total_steps,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    /// Fraction of the cycle spent rising (default 0.3), in [0, 1].
    pub fn pct_start(mut self, pct_start: f64) -> OneCycleLR {
        self.pct_start = pct_start;
        self
    }

    /// Cosine (default) or linear annealing.
    pub fn anneal_strategy(mut self, strategy: AnnealStrategy) -> OneCycleLR {
        self.anneal_strategy = strategy;
        self
    }

    /// Initial learning rate = `max_lr / div_factor` (default 25).
    pub fn div_factor(mut self, div_factor: f64) -> OneCycleLR {
        self.div_factor = div_factor;
        self
    }

    /// Minimum learning rate = initial learning rate / `final_div_factor` (default 1e4).
    pub fn final_div_factor(mut self, final_div_factor: f64) -> OneCycleLR {
        self.final_div_factor = final_div_factor;
        self
    }

    /// Three phases (up, back down to the initial value, then to the minimum) instead of
    /// two (default off).
    pub fn three_phase(mut self, three_phase: bool) -> OneCycleLR {
        self.three_phase = three_phase;
        self
    }

    /// Cycle the momentum inversely to the learning rate (default on).
    pub fn cycle_momentum(mut self, cycle: bool) -> OneCycleLR {
        self.cycle_momentum = cycle;
        self
    }

    /// The momentum range (defaults 0.85 and 0.95).
    pub fn momentum_range(mut self, base_momentum: f64, max_momentum: f64) -> OneCycleLR {
        self.base_momentum = base_momentum;
        self.max_momentum = max_momentum;
        self
    }

    /// PyTorch's `_schedule_phases`.
    fn phases(&self) -> Vec<Phase> {
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        let (lo_m, hi_m) = (self.base_momentum, self.max_momentum);
        let total = self.total_steps as f64;
        let phase = |end_step, start, end| Phase {
            end_step,
            start,
            end,
        };
        let up = phase(
            self.pct_start * total - 1.0,
            (initial, hi_m),
            (self.max_lr, lo_m),
        );
        if self.three_phase {
            vec![
                up,
                phase(
                    2.0 * self.pct_start * total - 2.0,
                    (self.max_lr, lo_m),
                    (initial, hi_m),
                ),
                phase(total - 1.0, (initial, hi_m), (min, hi_m)),
            ]
        } else {
            vec![up, phase(total - 1.0, (self.max_lr, lo_m), (min, hi_m))]
        }
    }

    /// `(lr, momentum)` at `epoch`.
    fn at(&self, epoch: usize) -> (f64, f64) {
        let step = epoch.min(self.total_steps) as f64;
        let phases = self.phases();
        let mut start_step = 0.0;
        for (i, p) in phases.iter().enumerate() {
            if step <= p.end_step || i + 1 == phases.len() {
                let pct = (step - start_step) / (p.end_step - start_step);
                let a = self.anneal_strategy;
                return (
                    a.anneal(p.start.0, p.end.0, pct),
                    a.anneal(p.start.1, p.end.1, pct),
                );
            }
            start_step = p.end_step;
        }
        (self.max_lr, self.base_momentum)
    }
}

/// One phase of the cycle: it ends at step `end_step`, moving `(lr, momentum)` from `start`
/// to `end`.
struct Phase {
    end_step: f64,
    start: (f64, f64),
    end: (f64, f64),
}

impl LrSchedule for OneCycleLR {
    fn lr_at(&self, _base_lr: f64, epoch: usize) -> f64 {
        self.at(epoch).0
    }

    fn momentum_at(&self, epoch: usize) -> Option<f64> {
        self.cycle_momentum.then(|| self.at(epoch).1)
    }

    fn validate(&self) -> Result<()> {
        let what = "OneCycleLR";
        if self.total_steps == 0 {
            return Err(Error::config(what, "total_steps must be at least 1, got 0"));
        }
        if !(self.max_lr.is_finite() && self.max_lr >= 0.0) {
            return Err(Error::config(
                what,
                format!("max_lr must be a finite number >= 0, got {}", self.max_lr),
            ));
        }
        if !(0.0..=1.0).contains(&self.pct_start) {
            return Err(Error::config(
                what,
                format!("pct_start must be in [0, 1], got {}", self.pct_start),
            ));
        }
        for (name, v) in [
            ("div_factor", self.div_factor),
            ("final_div_factor", self.final_div_factor),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::config(
                    what,
                    format!("{name} must be a finite number > 0, got {v}"),
                ));
            }
        }
        let momentum_ok = |m: f64| (0.0..1.0).contains(&m);
        if self.cycle_momentum
            && !(momentum_ok(self.base_momentum) && momentum_ok(self.max_momentum))
        {
            return Err(Error::config(
                what,
                format!(
                    "base_momentum and max_momentum must be in [0, 1), got {} and {}",
                    self.base_momentum, self.max_momentum
                ),
            ));
        }
        Ok(())
    }
}
