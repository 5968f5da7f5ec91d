//! The warning rules applied at each monitored step, with their streaks of consecutive
//! checks; the rules themselves are in [`super::warnings`].

use super::{warnings, Monitor, Pending};
use crate::records::{Warning, WarningKind};

impl Monitor {
    /// Vanishing and exploding gradients (after the backward pass, so a step the NaN guard
    /// skips still warns).
    pub(super) fn gradient_rules(&mut self, p: &Pending) {
        let t = &self.config.thresholds;
        let weights: Vec<(&str, f64)> = p
            .params
            .iter()
            .filter(|e| e.is_weight())
            .filter_map(|e| Some((e.name.as_str(), e.grad_norm?)))
            .collect();
        let (vanishing, checks) = (warnings::vanishing(&weights, t), t.vanishing_checks);
        let first = weights.first().map_or("", |w| w.0).to_string();
        let kind = WarningKind::VanishingGradients;
        self.streak_rule(kind, &first, vanishing, checks, p.step, p.epoch);

        let previous: Vec<f64> = self.grad_norms.iter().copied().collect();
        let t = &self.config.thresholds;
        if let Some(message) = warnings::exploding(p.global_grad_norm, &previous, t) {
            let kind = WarningKind::ExplodingGradients;
            self.log
                .raise(warning(kind, p.step, p.epoch, None, message));
        }
        if p.global_grad_norm.is_finite() {
            self.grad_norms.push_back(p.global_grad_norm);
            while self.grad_norms.len() > t.exploding_window.max(1) {
                self.grad_norms.pop_front();
            }
        }
    }

    /// Dead ReLU units and saturated sigmoid/tanh layers.
    pub(super) fn activation_rules(&mut self, p: &Pending) {
        for layer in &p.activations {
            let t = &self.config.thresholds;
            let rules = [
                (
                    WarningKind::DeadRelu,
                    warnings::dead_relu(layer, t),
                    t.dead_checks,
                ),
                (
                    WarningKind::Saturation,
                    warnings::saturation(layer, t),
                    t.saturation_checks,
                ),
            ];
            for (kind, message, checks) in rules {
                self.streak_rule(kind, &layer.name, message, checks, p.step, p.epoch);
            }
        }
    }

    /// Update ratios of the weights (after the optimiser step).
    pub(super) fn update_rules(&mut self, p: &Pending, epoch: u64) {
        for e in p.params.iter().filter(|e| e.is_weight()) {
            let Some(ratio) = e.update_ratio else {
                continue;
            };
            let t = &self.config.thresholds;
            let (message, checks) = (
                warnings::update_ratio(&e.name, ratio, t),
                t.update_ratio_checks,
            );
            self.streak_rule(
                WarningKind::UpdateRatio,
                &e.name,
                message,
                checks,
                p.step,
                epoch,
            );
        }
    }

    /// Counts a check of a rule that must hold `checks` times in a row; raises its
    /// warning (`message`, present when the rule holds now) when the streak is long enough.
    fn streak_rule(
        &mut self,
        kind: WarningKind,
        subject: &str,
        message: Option<String>,
        checks: u32,
        step: u64,
        epoch: u64,
    ) {
        let streak = self.streaks.check(kind, subject, message.is_some());
        if let (Some(message), true) = (message, streak >= checks) {
            self.log
                .raise(warning(kind, step, epoch, Some(subject), message));
        }
    }
}

/// A warning about `subject` (a parameter or layer name; `None` for the whole model).
pub(super) fn warning(
    kind: WarningKind,
    step: u64,
    epoch: u64,
    subject: Option<&str>,
    message: String,
) -> Warning {
    Warning {
        kind,
        step,
        epoch,
        subject: subject.map(str::to_string),
        message,
    }
}
