//! Training-health monitors: gradient flow, update ratios, activation statistics, dead and
//! saturated units, histograms, and warnings when training goes wrong.
//!
//! The trainer calls a [`Monitor`] at fixed points of every optimiser step:
//!
//! ```text
//! let output = monitor.forward(step, || model.forward(&x));   // activations, when due
//! monitor.on_loss(step, epoch, loss);                          // every step
//! let grads = loss.backward()?;
//! monitor.after_backward(&model, &grads, step, epoch);         // norms, weight copy
//! optimizer.step(&grads)?;
//! if let Some(record) = monitor.after_update(&model, step, epoch) { /* log it */ }
//! for h in monitor.take_histograms() { /* histograms.jsonl, TensorBoard */ }
//! for w in monitor.take_new_warnings() { /* print */ }
//! ```
//!
//! and [`Monitor::on_epoch_end`] after each epoch. Off the monitored steps every call
//! returns at once, except `on_loss` (a few additions); on a monitored step the cost is a
//! pass over each layer's output, each gradient and each weight, plus one copy of the
//! weights for the update ratios.
//!
//! Each warning (see [`Thresholds`]) is raised once per kind and subject, with the figures
//! behind it in its message.

mod activations;
mod checks;
pub mod histogram;
mod params;
#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
pub mod warnings;

pub use warnings::Thresholds;

use crate::records::{ActivationStats, WarningKind};
use crate::records::{HistogramKind, HistogramRecord, MonitorRecord, ParamStats, Warning};
use activations::{layer_names, name_of, record_forward, ModuleKey, Recorded};
use checks::warning;
use histogram::{histogram, HistogramOf};
use params::ParamEntry;
use std::collections::{HashMap, VecDeque};
use strata_core::Gradients;
use strata_nn::Module;
use warnings::{Streaks, WarningLog};

/// How often the monitors look and when they warn.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorConfig {
    /// Monitored steps: the first, then every `every_steps` optimiser steps (default 50;
    /// 0 = never).
    pub every_steps: u64,
    /// Steps with weight, gradient and activation histograms: the first, then every
    /// `histogram_every_steps` (default 500; 0 = never). These steps are monitored too.
    pub histogram_every_steps: u64,
    /// Equal-width buckets per histogram (default 30).
    pub histogram_bins: usize,
    /// The warning rules' thresholds.
    pub thresholds: Thresholds,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            every_steps: 50,
            histogram_every_steps: 500,
            histogram_bins: 30,
            thresholds: Thresholds::default(),
        }
    }
}

/// The figures of a monitored step between the backward pass and the optimiser.
struct Pending {
    step: u64,
    epoch: u64,
    global_grad_norm: f64,
    params: Vec<ParamEntry>,
    activations: Vec<ActivationStats>,
}

/// Watches the health of training; see the [module docs](self) for the calling sequence.
///
/// ```
/// use strata_nn::{Forward, Linear, ModuleExt, Optimizer, ReLU, Sequential, SGD};
/// use strata_core::Tensor;
/// use strata_train::{Monitor, MonitorConfig};
/// let model = Sequential::new().push(Linear::new(3, 4)?).push(ReLU::new());
/// let mut opt = SGD::new(model.parameters(), 0.1)?;
/// let mut monitor = Monitor::new(&model, MonitorConfig::default());
/// let y = monitor.forward(1, || model.forward(&Tensor::ones(&[2, 3])))?;
/// let loss = y.sum_all()?;
/// let grads = loss.backward()?;
/// monitor.on_loss(1, 1, loss.item()?);
/// monitor.after_backward(&model, &grads, 1, 1);
/// opt.step(&grads)?;
/// let record = monitor.after_update(&model, 1, 1).unwrap();
/// assert_eq!(record.params[0].name, "0.weight");
/// assert_eq!(record.activations[1].layer_type, "ReLU");
/// assert!(record.activations[1].dead_fraction.is_some());
/// assert!(!monitor.is_due(2) && monitor.is_due(50));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct Monitor {
    config: MonitorConfig,
    /// Module identity → state-dict name, refreshed at every monitored step.
    names: HashMap<ModuleKey, String>,
    /// What the hook recorded during the last monitored forward pass, and at which step.
    recorded: Option<(u64, Recorded)>,
    pending: Option<Pending>,
    histograms: Vec<HistogramRecord>,
    /// The last few finite global gradient norms, for the exploding rule.
    grad_norms: VecDeque<f64>,
    /// The last few finite batch losses, for the loss-spike rule, and the mean of the
    /// first full window of them (the loss scale training started from).
    losses: VecDeque<f64>,
    start_loss: Option<f64>,
    /// `(epoch, train loss, val loss)` of every evaluation.
    evals: Vec<(u64, f64, f64)>,
    streaks: Streaks,
    log: WarningLog,
}

impl Monitor {
    /// A monitor for `model` (its layers and parameters are named by their state-dict
    /// paths, looked up again at every monitored step).
    pub fn new(model: &dyn Module, config: MonitorConfig) -> Monitor {
        Monitor {
            config,
            names: layer_names(model),
            recorded: None,
            pending: None,
            histograms: Vec::new(),
            grad_norms: VecDeque::new(),
            losses: VecDeque::new(),
            start_loss: None,
            evals: Vec::new(),
            streaks: Streaks::default(),
            log: WarningLog::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// Whether optimiser step `step` (counting from 1) is monitored: the first step, every
    /// `every_steps`-th, and every step with histograms.
    pub fn is_due(&self, step: u64) -> bool {
        every(step, self.config.every_steps) || self.histograms_due(step)
    }

    /// Whether step `step` records histograms: the first step and every
    /// `histogram_every_steps`-th.
    pub fn histograms_due(&self, step: u64) -> bool {
        every(step, self.config.histogram_every_steps)
    }

    /// Runs `f` (the model's training forward pass); on a monitored step, with a forward
    /// hook that records each reporting layer's activation figures (and histograms when
    /// due). Only the last call before [`Monitor::after_backward`] counts (with gradient
    /// accumulation, the last micro-batch). A layer called twice in one pass is one entry
    /// over both outputs; its histogram is of the first.
    pub fn forward<R>(&mut self, step: u64, f: impl FnOnce() -> R) -> R {
        self.recorded = None;
        if !self.is_due(step) {
            return f();
        }
        let bins = self
            .histograms_due(step)
            .then_some(self.config.histogram_bins.max(1));
        let (out, recorded) = record_forward(bins, step, f);
        self.recorded = Some((step, recorded));
        out
    }

    /// After the backward pass, before clipping and the optimiser: on a monitored step,
    /// each trainable parameter's gradient and weight norms, the global gradient norm, a
    /// copy of the weights for the update ratios, histograms when due, and the gradient
    /// and activation warnings.
    pub fn after_backward(&mut self, model: &dyn Module, grads: &Gradients, step: u64, epoch: u64) {
        self.pending = None;
        if !self.is_due(step) {
            return;
        }
        self.names = layer_names(model);
        let (params, global_grad_norm) = params::before_update(model, grads);
        let mut activations = Vec::new();
        if let Some((_, recorded)) = self.recorded.take().filter(|(s, _)| *s == step) {
            for layer in &recorded.layers {
                activations.push(layer.stats(name_of(&self.names, layer.key)));
            }
            for (key, mut h) in recorded.histograms {
                h.name = name_of(&self.names, key);
                h.epoch = epoch;
                self.histograms.push(h);
            }
        }
        if self.histograms_due(step) {
            self.param_histograms(&params, grads, step, epoch);
        }
        let pending = Pending {
            step,
            epoch,
            global_grad_norm,
            params,
            activations,
        };
        self.gradient_rules(&pending);
        self.activation_rules(&pending);
        self.pending = Some(pending);
    }

    /// After the optimiser step: on a monitored step (one that went through
    /// [`Monitor::after_backward`]), each parameter's update ratio, the update-ratio
    /// warnings, and the finished record.
    pub fn after_update(
        &mut self,
        _model: &dyn Module,
        step: u64,
        epoch: u64,
    ) -> Option<MonitorRecord> {
        let mut p = self.pending.take().filter(|p| p.step == step)?;
        params::after_update(&mut p.params);
        self.update_rules(&p, epoch);
        Some(MonitorRecord {
            step,
            epoch: p.epoch,
            global_grad_norm: p.global_grad_norm,
            params: p
                .params
                .into_iter()
                .map(|e| ParamStats {
                    name: e.name,
                    grad_norm: e.grad_norm.unwrap_or(0.0),
                    weight_norm: e.weight_norm,
                    update_ratio: e.update_ratio,
                })
                .collect(),
            activations: p.activations,
        })
    }

    /// The histograms recorded since the last call.
    pub fn take_histograms(&mut self) -> Vec<HistogramRecord> {
        std::mem::take(&mut self.histograms)
    }

    /// Every step: the batch loss, for the loss-spike rule.
    pub fn on_loss(&mut self, step: u64, epoch: u64, loss: f64) {
        let t = &self.config.thresholds;
        let previous: Vec<f64> = self.losses.iter().copied().collect();
        if let Some(start) = self.start_loss
            && let Some(message) = warnings::loss_spike(loss, &previous, start, t)
        {
            self.log
                .raise(warning(WarningKind::LossSpike, step, epoch, None, message));
        }
        if loss.is_finite() {
            self.losses.push_back(loss);
            while self.losses.len() > t.loss_spike_window.max(1) {
                self.losses.pop_front();
            }
            if self.start_loss.is_none() && self.losses.len() == t.loss_spike_window.max(1) {
                self.start_loss = Some(self.losses.iter().sum::<f64>() / self.losses.len() as f64);
            }
        }
    }

    /// The end of an epoch, with its training loss and, if it was evaluated, its
    /// validation loss: for the overfitting rule.
    pub fn on_epoch_end(&mut self, epoch: u64, step: u64, train_loss: f64, val_loss: Option<f64>) {
        let Some(val_loss) = val_loss else { return };
        self.evals.push((epoch, train_loss, val_loss));
        if let Some(message) = warnings::overfitting(&self.evals, &self.config.thresholds) {
            self.log.raise(warning(
                WarningKind::Overfitting,
                step,
                epoch,
                None,
                message,
            ));
        }
    }

    /// The warnings raised since the last call.
    pub fn take_new_warnings(&mut self) -> Vec<Warning> {
        self.log.take_new()
    }

    /// All warnings raised so far.
    pub fn warnings(&self) -> &[Warning] {
        self.log.all()
    }

    /// Adds a warning raised outside the monitors (the trainer's NaN/Inf guard), so the
    /// report lists it with the rest; once per kind and subject like the others.
    pub fn record_warning(&mut self, warning: Warning) {
        self.log.raise(warning);
    }

    fn param_histograms(
        &mut self,
        params: &[ParamEntry],
        grads: &Gradients,
        step: u64,
        epoch: u64,
    ) {
        let bins = self.config.histogram_bins.max(1);
        for e in params {
            let of = |kind| HistogramOf {
                name: &e.name,
                kind,
                step,
                epoch,
            };
            self.histograms
                .extend(histogram(&e.before, bins, of(HistogramKind::Weight)));
            if let Some(g) = e.param.grad(grads) {
                self.histograms
                    .extend(histogram(g, bins, of(HistogramKind::Gradient)));
            }
        }
    }
}

/// `step == 1` or a multiple of `every` (never when `every` is 0).
fn every(step: u64, every: u64) -> bool {
    every > 0 && (step == 1 || step.is_multiple_of(every))
}
