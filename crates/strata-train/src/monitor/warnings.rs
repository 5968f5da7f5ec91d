//! The warning rules, as pure functions over the monitors' figures, and the log that
//! raises each warning once per (kind, subject).
//!
//! A rule returns the warning's message when its condition holds at one check; rules that
//! must hold on several consecutive checks are counted by [`Streaks`].

use crate::records::{ActivationStats, Warning, WarningKind};
use std::collections::{HashMap, HashSet};

/// When the monitors warn. Counts of checks are consecutive monitored steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Vanishing gradients: the first weight's gradient norm below this fraction of the
    /// last weight's (default 1e-3) ...
    pub vanishing_ratio: f64,
    /// ... on this many checks (default 3).
    pub vanishing_checks: u32,
    /// Exploding gradients: the global gradient norm at least this many times the median
    /// of the previous checks (default 100), or non-finite ...
    pub exploding_factor: f64,
    /// ... of this many previous checks (default 5).
    pub exploding_window: usize,
    /// Dead ReLU: more than this fraction of a layer's units dead (default 0.5) ...
    pub dead_fraction: f64,
    /// ... on this many checks (default 3).
    pub dead_checks: u32,
    /// Saturation: more than this fraction of a sigmoid or tanh layer's outputs within 1%
    /// of the bounds (default 0.5) ...
    pub saturated_fraction: f64,
    /// ... on this many checks (default 3).
    pub saturation_checks: u32,
    /// Update ratio: a weight's ‖Δw‖/‖w‖ below this (default 1e-5) ...
    pub update_ratio_low: f64,
    /// ... or above this (default 1e-1) ...
    pub update_ratio_high: f64,
    /// ... on this many checks (default 3).
    pub update_ratio_checks: u32,
    /// Overfitting: validation loss rose in each of this many evaluations in a row while
    /// the training loss fell over them (default 3).
    pub overfitting_evals: usize,
    /// Loss spike: a batch loss above this many times the mean of the previous batch
    /// losses (default 3) ...
    pub loss_spike_factor: f64,
    /// ... of this many previous batches, and only once that many were seen (default 20),
    /// and also more than this many standard deviations of those losses above their mean
    /// (default 6), so the ordinary scatter of small mini-batch losses late in training
    /// does not count ...
    pub loss_spike_window: usize,
    pub loss_spike_sigmas: f64,
    /// ... and rising above that mean by at least this fraction (default 0.1) of the mean
    /// loss of the run's first window, so one hard batch late in training (0.19 against a
    /// mean of 0.04, where training started at 2.3) is not taken for instability.
    pub loss_spike_floor: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            vanishing_ratio: 1e-3,
            vanishing_checks: 3,
            exploding_factor: 100.0,
            exploding_window: 5,
            dead_fraction: 0.5,
            dead_checks: 3,
            saturated_fraction: 0.5,
            saturation_checks: 3,
            update_ratio_low: 1e-5,
            update_ratio_high: 1e-1,
            update_ratio_checks: 3,
            overfitting_evals: 3,
            loss_spike_factor: 3.0,
            loss_spike_window: 20,
            loss_spike_sigmas: 6.0,
            loss_spike_floor: 0.1,
        }
    }
}

/// Vanishing gradients, given the weights' `(name, gradient norm)` in state-dict order:
/// the first's norm is below `t.vanishing_ratio` × the last's. Needs two weights.
pub fn vanishing(weights: &[(&str, f64)], t: &Thresholds) -> Option<String> {
    let (&(first, a), &(last, b)) = (weights.first()?, weights.last()?);
    if weights.len() < 2 || !(a.is_finite() && b > 0.0 && b.is_finite()) {
        return None;
    }
    let ratio = a / b;
    (ratio < t.vanishing_ratio).then(|| {
        format!(
            "vanishing gradients: {first}'s gradient norm {a:.1e} is {ratio:.1e} of {last}'s \
             ({b:.1e}) over {} checks",
            t.vanishing_checks
        )
    })
}

/// Exploding gradients: `norm` is non-finite, or at least `t.exploding_factor` × the
/// median of `previous` (the last few finite global norms). The median, not the smallest:
/// a model that fits its batch perfectly has a near-zero gradient for a step, and the next
/// ordinary one is no explosion.
pub fn exploding(norm: f64, previous: &[f64], t: &Thresholds) -> Option<String> {
    if !norm.is_finite() {
        return Some(format!(
            "exploding gradients: the global gradient norm is {norm} (non-finite)"
        ));
    }
    if previous.is_empty() {
        return None;
    }
    let mut sorted = previous.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    };
    let factor = norm / median;
    (median > 0.0 && factor >= t.exploding_factor).then(|| {
        format!(
            "exploding gradients: the global gradient norm {norm:.1e} is {factor:.0}× the \
             median of the previous {} checks ({median:.1e})",
            previous.len()
        )
    })
}

/// Dead ReLU: more than `t.dead_fraction` of the layer's units are zero for every example.
pub fn dead_relu(layer: &ActivationStats, t: &Thresholds) -> Option<String> {
    let dead = layer.dead_fraction?;
    (dead > t.dead_fraction).then(|| {
        format!(
            "dead ReLU: {:.0}% of {}'s units output zero for every example of the batch, \
             over {} checks",
            100.0 * dead,
            layer.name,
            t.dead_checks
        )
    })
}

/// Saturation: more than `t.saturated_fraction` of a sigmoid or tanh layer's outputs are
/// within 1% of the bounds.
pub fn saturation(layer: &ActivationStats, t: &Thresholds) -> Option<String> {
    let sat = layer.saturated_fraction?;
    (sat > t.saturated_fraction).then(|| {
        format!(
            "saturation: {:.0}% of {}'s outputs ({}) are within 1% of its bounds, where the \
             gradient almost vanishes, over {} checks",
            100.0 * sat,
            layer.name,
            layer.layer_type,
            t.saturation_checks
        )
    })
}

/// Update ratio: a weight's ‖Δw‖/‖w‖ outside `[t.update_ratio_low, t.update_ratio_high]`.
pub fn update_ratio(name: &str, ratio: f64, t: &Thresholds) -> Option<String> {
    let (side, hint) = if ratio < t.update_ratio_low {
        ("below", "the learning rate may be too low")
    } else if ratio > t.update_ratio_high {
        ("above", "the learning rate may be too high")
    } else {
        return None;
    };
    Some(format!(
        "update ratio: {name}'s update is {ratio:.1e} of its norm, {side} [{:.0e}, {:.0e}] \
         over {} checks; {hint}",
        t.update_ratio_low, t.update_ratio_high, t.update_ratio_checks
    ))
}

/// Overfitting, given `(epoch, train loss, val loss)` of every evaluation so far: the
/// validation loss rose at each of the last `t.overfitting_evals` evaluations while the
/// training loss is lower at the last than at the one before the rise.
pub fn overfitting(evals: &[(u64, f64, f64)], t: &Thresholds) -> Option<String> {
    let n = t.overfitting_evals.max(1);
    let window = evals.get(evals.len().checked_sub(n + 1)?..)?;
    let rose = window.windows(2).all(|w| w[1].2 > w[0].2);
    let (first, last) = (window[0], window[n]);
    (rose && last.1 < first.1).then(|| {
        let vals: Vec<String> = window.iter().map(|e| format!("{:.4}", e.2)).collect();
        format!(
            "overfitting: validation loss rose at each of the last {n} evaluations ({}, \
             epochs {}-{}) while training loss fell ({:.4} -> {:.4})",
            vals.join(" -> "),
            first.0,
            last.0,
            first.1,
            last.1
        )
    })
}

/// Loss spike: a finite `loss` above `t.loss_spike_factor` × the mean of `previous` (the
/// last `t.loss_spike_window` batch losses; fewer means no verdict yet), more than
/// `t.loss_spike_sigmas` of their standard deviations above that mean, and above it by at
/// least `t.loss_spike_floor` × `start` (the mean loss of the run's first window).
pub fn loss_spike(loss: f64, previous: &[f64], start: f64, t: &Thresholds) -> Option<String> {
    if previous.len() < t.loss_spike_window.max(1) || !loss.is_finite() {
        return None;
    }
    let n = previous.len() as f64;
    let mean = previous.iter().sum::<f64>() / n;
    let std = (previous.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    let spike = loss > t.loss_spike_factor * mean
        && loss > mean + t.loss_spike_sigmas * std
        && loss - mean >= t.loss_spike_floor * start;
    (mean > 0.0 && spike).then(|| {
        format!(
            "loss spike: batch loss {loss:.4} is {:.1}× the mean of the previous {} ({mean:.4})",
            loss / mean,
            previous.len()
        )
    })
}

/// Consecutive checks on which a condition held, per (kind, subject).
#[derive(Debug, Default)]
pub struct Streaks(HashMap<(WarningKind, String), u32>);

impl Streaks {
    /// Counts one check: the streak length, 0 when the condition did not hold.
    pub fn check(&mut self, kind: WarningKind, subject: &str, holds: bool) -> u32 {
        if !holds {
            self.0.remove(&(kind, subject.to_string()));
            return 0;
        }
        let n = self.0.entry((kind, subject.to_string())).or_insert(0);
        *n += 1;
        *n
    }
}

/// Every warning raised so far, each (kind, subject) at most once.
#[derive(Debug, Default)]
pub struct WarningLog {
    raised: HashSet<(WarningKind, Option<String>)>,
    all: Vec<Warning>,
    taken: usize,
}

impl WarningLog {
    /// Records `warning` unless one of its kind and subject was raised before; true if new.
    pub fn raise(&mut self, warning: Warning) -> bool {
        if !self.raised.insert((warning.kind, warning.subject.clone())) {
            return false;
        }
        self.all.push(warning);
        true
    }

    /// The warnings raised since the last call.
    pub fn take_new(&mut self) -> Vec<Warning> {
        let new = self.all[self.taken..].to_vec();
        self.taken = self.all.len();
        new
    }

    /// All warnings so far.
    pub fn all(&self) -> &[Warning] {
        &self.all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exploding_compares_with_the_median_previous_norm() {
        let t = Thresholds::default();
        assert!(exploding(50.0, &[], &t).is_none());
        assert!(exploding(199.0, &[1.0, 2.0, 5.0], &t).is_none());
        let m = exploding(200.0, &[3.0, 1.5, 2.0], &t).unwrap();
        assert_eq!(
            m,
            "exploding gradients: the global gradient norm 2.0e2 is 100× the median of the \
             previous 3 checks (2.0e0)"
        );
        // A near-zero norm among ordinary ones (a batch fitted perfectly) is no baseline.
        assert!(exploding(1.4e-2, &[2.8e-8, 1e-2, 1.2e-2, 9e-3, 1.1e-2], &t).is_none());
        // An even count: the mean of the middle two, (0.02 + 0.03) / 2.
        assert!(exploding(2.4, &[1e-2, 2e-2, 3e-2, 1.0], &t).is_none());
        let m = exploding(2.5, &[1e-2, 2e-2, 3e-2, 1.0], &t).unwrap();
        assert!(
            m.ends_with("is 100× the median of the previous 4 checks (2.5e-2)"),
            "{m}"
        );
        assert!(exploding(f64::NAN, &[1.0], &t)
            .unwrap()
            .contains("NaN (non-finite)"));
        assert!(exploding(f64::INFINITY, &[], &t).is_some());
    }

    #[test]
    fn vanishing_compares_first_and_last_weight() {
        let t = Thresholds::default();
        let m = vanishing(
            &[
                ("0.weight", 2.1e-9),
                ("2.weight", 1.0),
                ("19.weight", 5.2e-3),
            ],
            &t,
        );
        assert_eq!(
            m.unwrap(),
            "vanishing gradients: 0.weight's gradient norm 2.1e-9 is 4.0e-7 of 19.weight's \
             (5.2e-3) over 3 checks"
        );
        assert!(vanishing(&[("0.weight", 1e-3), ("1.weight", 0.5)], &t).is_none());
        assert!(vanishing(&[("0.weight", 1e-9)], &t).is_none());
        assert!(vanishing(&[("a", 0.0), ("b", 0.0)], &t).is_none());
    }

    #[test]
    fn loss_spike_needs_a_full_window_and_a_finite_loss() {
        let t = Thresholds::default();
        let prev = vec![1.0; 19];
        assert!(loss_spike(10.0, &prev, 1.0, &t).is_none());
        let prev = vec![1.0; 20];
        assert!(loss_spike(3.0, &prev, 1.0, &t).is_none());
        assert!(loss_spike(f64::INFINITY, &prev, 1.0, &t).is_none());
        // Scattered losses (mean 1, standard deviation 0.5): 3.5 is within six deviations.
        let scattered: Vec<f64> = (0..20)
            .map(|i| if i % 2 == 0 { 0.5 } else { 1.5 })
            .collect();
        assert!(loss_spike(3.5, &scattered, 1.0, &t).is_none());
        assert!(loss_spike(4.01, &scattered, 1.0, &t).is_some());
        // A spike small against where training started: 3.5 against a start of 30.
        assert!(loss_spike(3.5, &prev, 30.0, &t).is_none());
        assert!(loss_spike(4.0, &prev, 30.0, &t).is_some());
        let m = loss_spike(3.5, &prev, 1.0, &t).unwrap();
        assert_eq!(
            m,
            "loss spike: batch loss 3.5000 is 3.5× the mean of the previous 20 (1.0000)"
        );
    }

    #[test]
    fn overfitting_needs_rises_at_each_evaluation_and_a_falling_train_loss() {
        let t = Thresholds::default();
        let e = |v: &[(f64, f64)]| -> Vec<(u64, f64, f64)> {
            v.iter()
                .enumerate()
                .map(|(i, &(a, b))| (i as u64 + 1, a, b))
                .collect()
        };
        let over = e(&[(1.0, 0.9), (0.8, 0.5), (0.6, 0.55), (0.5, 0.6), (0.4, 0.7)]);
        let m = overfitting(&over, &t).unwrap();
        assert_eq!(
            m,
            "overfitting: validation loss rose at each of the last 3 evaluations (0.5000 -> \
             0.5500 -> 0.6000 -> 0.7000, epochs 2-5) while training loss fell (0.8000 -> \
             0.4000)"
        );
        // Two rises only, or a dip in between, or train loss not falling: no verdict.
        assert!(overfitting(&over[..4], &t).is_none());
        let dip = e(&[(0.8, 0.5), (0.6, 0.55), (0.5, 0.54), (0.4, 0.7)]);
        assert!(overfitting(&dip, &t).is_none());
        let both = e(&[(0.4, 0.5), (0.5, 0.55), (0.6, 0.6), (0.7, 0.7)]);
        assert!(overfitting(&both, &t).is_none());
    }

    #[test]
    fn update_ratio_bounds_and_streaks() {
        let t = Thresholds::default();
        assert!(update_ratio("w", 1e-3, &t).is_none());
        assert!(update_ratio("w", 2e-6, &t)
            .unwrap()
            .contains("2.0e-6 of its norm, below"));
        assert!(update_ratio("w", 0.5, &t)
            .unwrap()
            .contains("above [1e-5, 1e-1]"));
        let mut s = Streaks::default();
        let k = WarningKind::UpdateRatio;
        assert_eq!(s.check(k, "w", true), 1);
        assert_eq!(s.check(k, "w", true), 2);
        assert_eq!(s.check(k, "v", true), 1);
        assert_eq!(s.check(k, "w", false), 0);
        assert_eq!(s.check(k, "w", true), 1);
    }

    #[test]
    fn the_log_raises_each_kind_and_subject_once() {
        let mut log = WarningLog::default();
        let w = |kind, subject: Option<&str>, step| Warning {
            kind,
            step,
            epoch: 1,
            subject: subject.map(str::to_string),
            message: format!("at {step}"),
        };
        assert!(log.raise(w(WarningKind::DeadRelu, Some("1"), 3)));
        assert!(!log.raise(w(WarningKind::DeadRelu, Some("1"), 4)));
        assert!(log.raise(w(WarningKind::DeadRelu, Some("3"), 4)));
        assert!(log.raise(w(WarningKind::LossSpike, None, 5)));
        assert!(!log.raise(w(WarningKind::LossSpike, None, 6)));
        assert_eq!(log.take_new().len(), 3);
        assert!(log.take_new().is_empty());
        assert!(log.raise(w(WarningKind::Saturation, Some("1"), 7)));
        assert_eq!(log.take_new()[0].message, "at 7");
        assert_eq!(log.all().len(), 4);
    }
}
