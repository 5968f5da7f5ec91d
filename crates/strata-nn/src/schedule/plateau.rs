//! `ReduceLROnPlateau`: lower the learning rate when a metric stops improving.

use super::{LrScheduler, StateReader};
use crate::optim::Optimizer;
use crate::{Error, Result};
use strata_core::Tensor;

/// Whether a lower or a higher metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlateauMode {
    /// Lower is better (a loss). PyTorch's default.
    #[default]
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How much better a metric must be to count as an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThresholdMode {
    /// Relative: better than `best · (1 ∓ threshold)`. PyTorch's default.
    #[default]
    Rel,
    /// Absolute: better than `best ∓ threshold`.
    Abs,
}

/// Settings of [`ReduceLROnPlateau`], with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateauOptions {
    pub mode: PlateauMode,
    /// Multiplies the learning rate on a plateau (default 0.1), in [0, 1).
    pub factor: f64,
    /// Epochs without improvement tolerated before reducing (default 10).
    pub patience: usize,
    /// Minimum improvement (default 1e-4).
    pub threshold: f64,
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction before counting bad epochs again (default 0).
    pub cooldown: usize,
    /// Lower bound of every group's learning rate (default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
}

impl Default for PlateauOptions {
    fn default() -> PlateauOptions {
        PlateauOptions {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

impl PlateauOptions {
    pub fn mode(mut self, mode: PlateauMode) -> PlateauOptions {
        self.mode = mode;
        self
    }
    pub fn factor(mut self, factor: f64) -> PlateauOptions {
        self.factor = factor;
        self
    }
    pub fn patience(mut self, patience: usize) -> PlateauOptions {
        self.patience = patience;
        self
    }
    pub fn threshold(mut self, threshold: f64, mode: ThresholdMode) -> PlateauOptions {
        self.threshold = threshold;
        self.threshold_mode = mode;
        self
    }
    pub fn cooldown(mut self, cooldown: usize) -> PlateauOptions {
        self.cooldown = cooldown;
        self
    }
    pub fn min_lr(mut self, min_lr: f64) -> PlateauOptions {
        self.min_lr = min_lr;
        self
    }
    pub fn eps(mut self, eps: f64) -> PlateauOptions {
        self.eps = eps;
        self
    }

    fn validate(&self) -> Result<()> {
        let what = "ReduceLROnPlateau";
        if !(0.0..1.0).contains(&self.factor) {
            return Err(Error::config(
                what,
                format!("factor must be in [0, 1), got {}", self.factor),
            ));
        }
        for (name, v) in [
            ("threshold", self.threshold),
            ("min_lr", self.min_lr),
            ("eps", self.eps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::config(
                    what,
                    format!("{name} must be a finite number >= 0, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

/// Multiplies every group's learning rate by `factor` when the metric passed to
/// [`step_with_metric`](LrScheduler::step_with_metric) has not improved for more than
/// `patience` epochs (PyTorch's `ReduceLROnPlateau`). It keeps its own copy of the group
/// learning rates, starting from the optimiser's; `step()` without a metric only counts the
/// epoch.
///
/// ```
/// use strata_nn::schedule::{LrScheduler, PlateauOptions, ReduceLROnPlateau};
/// let opts = PlateauOptions::default().patience(1).factor(0.5);
/// let mut sched = ReduceLROnPlateau::with_base_lr(0.1, opts)?;
/// for loss in [1.0, 0.5, 0.5, 0.5, 0.5] {
///     sched.step_with_metric(loss);
/// }
/// // Two epochs without improvement (> patience 1) halve the rate; the count restarts.
/// assert_eq!(sched.lr(), 0.05);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLROnPlateau {
    options: PlateauOptions,
    lrs: Vec<f64>,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: usize,
}

impl ReduceLROnPlateau {
    /// Watches a metric for `opt`, starting from its current group learning rates.
    pub fn new(opt: &dyn Optimizer, options: PlateauOptions) -> Result<ReduceLROnPlateau> {
        ReduceLROnPlateau::with_base_lrs(opt.groups().lrs(), options)
    }

    /// Without an optimiser, from one learning rate.
    pub fn with_base_lr(lr: f64, options: PlateauOptions) -> Result<ReduceLROnPlateau> {
        ReduceLROnPlateau::with_base_lrs(vec![lr], options)
    }

    /// From one learning rate per parameter group.
    pub fn with_base_lrs(lrs: Vec<f64>, options: PlateauOptions) -> Result<ReduceLROnPlateau> {
        options.validate()?;
        if let Some((g, lr)) = lrs
            .iter()
            .enumerate()
            .find(|(_, lr)| !(lr.is_finite() && **lr >= 0.0))
        {
            return Err(Error::config(
                "ReduceLROnPlateau",
                format!("learning rate of group {g} must be a finite number >= 0, got {lr}"),
            ));
        }
        let best = match options.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        Ok(ReduceLROnPlateau {
            options,
            lrs,
            best,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
        })
    }

    /// The best metric seen so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Epochs since the last improvement (reset by a reduction and during cooldown).
    pub fn num_bad_epochs(&self) -> usize {
        self.num_bad_epochs
    }

    fn is_better(&self, a: f64) -> bool {
        let (t, best) = (self.options.threshold, self.best);
        match (self.options.mode, self.options.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (t + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + t,
        }
    }
}

impl LrScheduler for ReduceLROnPlateau {
    fn step(&mut self) {
        self.last_epoch += 1;
    }

    fn step_with_metric(&mut self, metric: f64) {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.options.patience {
            let o = &self.options;
            for lr in &mut self.lrs {
                let new_lr = (*lr * o.factor).max(o.min_lr);
                if *lr - new_lr > o.eps {
                    *lr = new_lr;
                }
            }
            self.cooldown_counter = o.cooldown;
            self.num_bad_epochs = 0;
        }
    }

    fn lrs(&self) -> Vec<f64> {
        self.lrs.clone()
    }

    fn last_epoch(&self) -> usize {
        self.last_epoch
    }

    /// `last_epoch`, `best`, `num_bad_epochs`, `cooldown_counter` and `lrs.<g>`.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = [
            ("last_epoch", self.last_epoch as f64),
            ("best", self.best),
            ("num_bad_epochs", self.num_bad_epochs as f64),
            ("cooldown_counter", self.cooldown_counter as f64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Tensor::scalar(v)))
        .collect();
        for (g, &lr) in self.lrs.iter().enumerate() {
            out.push((format!("lrs.{g}"), Tensor::scalar(lr)));
        }
        out
    }

    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let mut r = StateReader::new("ReduceLROnPlateau", entries);
        let last_epoch = r.count("last_epoch");
        let best = r.number("best");
        let num_bad_epochs = r.count("num_bad_epochs");
        let cooldown_counter = r.count("cooldown_counter");
        let lrs = r.list("lrs", self.lrs.len());
        r.finish()?;
        self.last_epoch = last_epoch;
        self.best = best;
        self.num_bad_epochs = num_bad_epochs;
        self.cooldown_counter = cooldown_counter;
        self.lrs = lrs;
        Ok(())
    }
}
