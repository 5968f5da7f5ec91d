//! Learning-rate schedules with PyTorch's formulas and defaults.
//!
//! Two pieces:
//!
//! - A **schedule** ([`LrSchedule`]) is a rule: the learning rate at step `t` as a function
//!   of the base learning rate (`StepLR`, `CosineAnnealingLR`, `OneCycleLR`, ... and the
//!   combinators [`SequentialLR`] and [`ChainedScheduler`]). Rules are plain values.
//! - A **scheduler** ([`LrScheduler`]) keeps the clock: [`Scheduler`] runs a rule from the
//!   optimiser's learning rates at creation (one base per parameter group);
//!   [`ReduceLROnPlateau`] reacts to a metric instead.
//!
//! Like PyTorch, `step()` the scheduler after the optimiser's steps of an epoch (or
//! iteration, for `OneCycleLR`), then `apply` it to the optimiser. Creating a [`Scheduler`]
//! already sets the learning rate for step 0 (a warm-up starts low).
//!
//! ```
//! use strata_nn::optim::{Optimizer, SGD};
//! use strata_nn::schedule::{CosineAnnealingLR, LinearLR, LrScheduler, Scheduler, SequentialLR};
//! use strata_nn::{Linear, ModuleExt};
//!
//! let model = Linear::new(4, 2)?;
//! let mut opt = SGD::new(model.parameters(), 0.1)?.momentum(0.9)?;
//! // 5 epochs of linear warm-up from 0.01 to 0.1, then cosine decay to 0 over 45 epochs.
//! let warmup_then_cosine = SequentialLR::new(
//!     vec![Box::new(LinearLR::new(0.1, 1.0, 5)), Box::new(CosineAnnealingLR::new(45, 0.0))],
//!     vec![5],
//! );
//! let mut sched = Scheduler::new(&mut opt, warmup_then_cosine)?;
//! assert!((opt.lr() - 0.01).abs() < 1e-12);      // step 0 already warms up
//! for epoch in 0..50 {
//!     // ... forward, backward, opt.step(&grads)? for every batch ...
//!     sched.step();
//!     sched.apply(&mut opt)?;
//! }
//! assert!(opt.lr() < 1e-3);
//! # Ok::<(), strata_nn::Error>(())
//! ```

mod chain;
mod cosine;
mod exponential;
mod lambda;
mod linear;
mod one_cycle;
mod plateau;
mod step;

pub use chain::{ChainedScheduler, SequentialLR};
pub use cosine::{CosineAnnealingLR, CosineAnnealingWarmRestarts};
pub use exponential::ExponentialLR;
pub use lambda::LambdaLR;
pub use linear::{ConstantLR, LinearLR};
pub use one_cycle::{AnnealStrategy, OneCycleLR};
pub use plateau::{PlateauMode, PlateauOptions, ReduceLROnPlateau, ThresholdMode};
pub use step::{MultiStepLR, StepLR};

use crate::optim::Optimizer;
use crate::{Error, Result};
use strata_core::Tensor;

/// A learning-rate rule in closed form: the learning rate at step `epoch` (0 = before the
/// first `step()`) for a parameter group whose base learning rate is `base_lr`.
pub trait LrSchedule: Send + std::fmt::Debug {
    /// The learning rate at `epoch`.
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64;

    /// The momentum (or Adam's beta1) at `epoch`, for rules that cycle it (`OneCycleLR`).
    fn momentum_at(&self, epoch: usize) -> Option<f64> {
        let _ = epoch;
        None
    }

    /// Checks the rule's settings; [`Scheduler`] calls it on creation.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

impl LrSchedule for Box<dyn LrSchedule> {
    fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        (**self).lr_at(base_lr, epoch)
    }
    fn momentum_at(&self, epoch: usize) -> Option<f64> {
        (**self).momentum_at(epoch)
    }
    fn validate(&self) -> Result<()> {
        (**self).validate()
    }
}

/// Something that sets an optimiser's learning rates as training goes on: a [`Scheduler`]
/// running a rule, or [`ReduceLROnPlateau`]. Object safe.
pub trait LrScheduler: Send {
    /// Advances one step (an epoch, or an iteration for per-batch schedules).
    fn step(&mut self);

    /// Advances one step given a validation metric. Only [`ReduceLROnPlateau`] looks at
    /// the metric; the others just [`step`](LrScheduler::step).
    fn step_with_metric(&mut self, metric: f64) {
        let _ = metric;
        self.step();
    }

    /// The learning rate of every parameter group for the current step.
    fn lrs(&self) -> Vec<f64>;

    /// The learning rate of the first group for the current step.
    fn lr(&self) -> f64 {
        self.lrs().first().copied().unwrap_or(0.0)
    }

    /// The momentum to use for the current step, for schedules that cycle it.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// How many times [`step`](LrScheduler::step) has run (PyTorch's `last_epoch`).
    fn last_epoch(&self) -> usize;

    /// Sets the optimiser's group learning rates (and momentum, if scheduled) to the
    /// current values. The optimiser must have as many groups as the scheduler has base
    /// learning rates.
    fn apply(&self, opt: &mut dyn Optimizer) -> Result<()> {
        let lrs = self.lrs();
        let groups = opt.groups_mut();
        if lrs.len() != groups.len() {
            return Err(Error::config(
                "LR scheduler",
                format!(
                    "the scheduler has {} learning rate(s), one per parameter group it was \
                     created for, but the optimiser has {} group(s)",
                    lrs.len(),
                    groups.len()
                ),
            ));
        }
        for (g, lr) in lrs.into_iter().enumerate() {
            groups.set_lr(g, lr)?;
        }
        if let Some(m) = self.momentum() {
            opt.set_momentum_or_beta1(m)?;
        }
        Ok(())
    }

    /// The scheduler's progress as named f64 scalars.
    fn state_dict(&self) -> Vec<(String, Tensor)>;

    /// Restores progress saved by [`state_dict`](LrScheduler::state_dict); checks the
    /// names and the number of groups first and changes nothing on error.
    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()>;
}

/// Runs a closed-form rule ([`LrSchedule`]) from a base learning rate per parameter group.
///
/// ```
/// use strata_nn::schedule::{LrScheduler, Scheduler, StepLR};
/// let mut sched = Scheduler::with_base_lr(0.1, StepLR::new(2, 0.5))?;
/// let mut seen = Vec::new();
/// for _ in 0..5 {
///     seen.push(sched.lr());
///     sched.step();
/// }
/// assert_eq!(seen, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Scheduler<S> {
    schedule: S,
    base_lrs: Vec<f64>,
    last_epoch: usize,
}

impl<S: LrSchedule> Scheduler<S> {
    /// Runs `schedule` from the optimiser's current group learning rates (its base
    /// learning rates, PyTorch's `initial_lr`), and sets the optimiser to the learning
    /// rates (and momentum) of step 0. Create it before any other scheduler changes the
    /// optimiser's learning rates; to run several rules, combine them with
    /// [`SequentialLR`] or [`ChainedScheduler`].
    pub fn new(opt: &mut dyn Optimizer, schedule: S) -> Result<Scheduler<S>> {
        let sched = Scheduler::with_base_lrs(opt.groups().lrs(), schedule)?;
        sched.apply(opt)?;
        Ok(sched)
    }

    /// Runs `schedule` from one base learning rate, without an optimiser (its values can be
    /// read with [`LrScheduler::lr`] or applied to a one-group optimiser).
    pub fn with_base_lr(base_lr: f64, schedule: S) -> Result<Scheduler<S>> {
        Scheduler::with_base_lrs(vec![base_lr], schedule)
    }

    /// Runs `schedule` from one base learning rate per parameter group.
    pub fn with_base_lrs(base_lrs: Vec<f64>, schedule: S) -> Result<Scheduler<S>> {
        schedule.validate()?;
        for (g, &lr) in base_lrs.iter().enumerate() {
            if !(lr.is_finite() && lr >= 0.0) {
                return Err(Error::config(
                    "LR scheduler",
                    format!(
                        "base learning rate of group {g} must be a finite number >= 0, got {lr}"
                    ),
                ));
            }
        }
        Ok(Scheduler {
            schedule,
            base_lrs,
            last_epoch: 0,
        })
    }

    /// The rule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// The base learning rate of every group.
    pub fn base_lrs(&self) -> &[f64] {
        &self.base_lrs
    }
}

impl<S: LrSchedule> LrScheduler for Scheduler<S> {
    fn step(&mut self) {
        self.last_epoch += 1;
    }

    fn lrs(&self) -> Vec<f64> {
        self.base_lrs
            .iter()
            .map(|&b| self.schedule.lr_at(b, self.last_epoch))
            .collect()
    }

    fn momentum(&self) -> Option<f64> {
        self.schedule.momentum_at(self.last_epoch)
    }

    fn last_epoch(&self) -> usize {
        self.last_epoch
    }

    /// `last_epoch` and `base_lrs.<g>`.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![(
            "last_epoch".to_string(),
            Tensor::scalar(self.last_epoch as f64),
        )];
        for (g, &b) in self.base_lrs.iter().enumerate() {
            out.push((format!("base_lrs.{g}"), Tensor::scalar(b)));
        }
        out
    }

    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let mut r = StateReader::new("Scheduler", entries);
        let last_epoch = r.count("last_epoch");
        let base_lrs = r.list("base_lrs", self.base_lrs.len());
        r.finish()?;
        self.last_epoch = last_epoch;
        self.base_lrs = base_lrs;
        Ok(())
    }
}

/// Reads a scheduler state dict, collecting every problem before reporting.
pub(crate) struct StateReader<'a> {
    what: &'static str,
    entries: &'a [(String, Tensor)],
    used: Vec<bool>,
    problems: Vec<String>,
}

impl<'a> StateReader<'a> {
    pub(crate) fn new(what: &'static str, entries: &'a [(String, Tensor)]) -> StateReader<'a> {
        StateReader {
            what,
            entries,
            used: vec![false; entries.len()],
            problems: Vec::new(),
        }
    }

    /// The number stored under `key` (NaN and a problem if missing or not one number).
    pub(crate) fn number(&mut self, key: &str) -> f64 {
        match self.entries.iter().position(|(k, _)| k == key) {
            None => {
                self.problems.push(format!("missing key {key}"));
                f64::NAN
            }
            Some(i) => {
                self.used[i] = true;
                let t = &self.entries[i].1;
                match t.item() {
                    Ok(v) => v,
                    Err(_) => {
                        self.problems.push(format!(
                            "{key} must hold one number, got shape {:?}",
                            t.shape()
                        ));
                        f64::NAN
                    }
                }
            }
        }
    }

    /// A whole number `>= 0` stored under `key`.
    pub(crate) fn count(&mut self, key: &str) -> usize {
        let v = self.number(key);
        if v.is_nan() {
            return 0;
        }
        if v >= 0.0 && v.fract() == 0.0 {
            v as usize
        } else {
            self.problems
                .push(format!("{key} must be a whole number >= 0, got {v}"));
            0
        }
    }

    /// `<prefix>.0` .. `<prefix>.<n-1>`; extra indices are reported as unexpected.
    pub(crate) fn list(&mut self, prefix: &str, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| self.number(&format!("{prefix}.{i}")))
            .collect()
    }

    /// Errors if any problem was found or any entry was not read.
    pub(crate) fn finish(self) -> Result<()> {
        let mut problems = self.problems;
        for ((k, _), used) in self.entries.iter().zip(&self.used) {
            if !used {
                problems.push(format!("unexpected key {k}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::LoadState {
                what: self.what.to_string(),
                reason: problems.join("; "),
            })
        }
    }
}
