//! Stops training when a monitored metric has stopped improving, optionally restoring the
//! weights of the best epoch.

use super::{Callback, Control, TrainContext};
use crate::records::EpochRecord;
use crate::{Result, TrainError};
use serde_json::json;
use strata_core::Tensor;
use strata_nn::ModuleExt;

/// Whether a monitored value should go down or up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (losses, errors).
    Min,
    /// Higher is better (accuracy, F1, R²).
    Max,
    /// `Max` for keys naming accuracy, precision, recall, F1 or R², `Min` otherwise.
    Auto,
}

impl Mode {
    /// The concrete mode for `key`.
    pub fn resolve(self, key: &str) -> Mode {
        match self {
            Mode::Auto => {
                let higher = ["accuracy", "precision", "recall", "f1", "r2"];
                if higher.iter().any(|h| key.contains(h)) {
                    Mode::Max
                } else {
                    Mode::Min
                }
            }
            m => m,
        }
    }

    /// True when `value` beats `best` by more than `min_delta`.
    pub fn improves(self, value: f64, best: f64, min_delta: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        match self {
            Mode::Max => value - min_delta > best,
            _ => value + min_delta < best,
        }
    }

    /// The starting "best" value.
    pub fn worst(self) -> f64 {
        match self {
            Mode::Max => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        }
    }
}

/// Keras's `EarlyStopping`: after `patience` epochs in which `monitor` did not improve by
/// more than `min_delta`, training stops. With `restore_best_weights`, the model ends
/// training (stopped or not) with the parameters and buffers of its best epoch. Epochs
/// without the key (no validation that epoch) are not counted.
///
/// ```
/// use strata_train::callbacks::{EarlyStopping, Mode};
/// let es = EarlyStopping::new("val_loss").patience(3)?.min_delta(1e-4)?.restore_best_weights(true);
/// assert_eq!(es.mode(), Mode::Min);
/// assert!(EarlyStopping::new("val_accuracy").patience(0).is_err());
/// # Ok::<(), strata_train::TrainError>(())
/// ```
pub struct EarlyStopping {
    monitor: String,
    mode: Mode,
    patience: u64,
    min_delta: f64,
    restore_best_weights: bool,
    best: f64,
    best_epoch: u64,
    wait: u64,
    best_weights: Vec<(String, Tensor)>,
}

impl EarlyStopping {
    /// Watches `monitor` (an epoch metric key such as `"val_loss"`) with patience 5, no
    /// minimum delta, the mode from the key's name, and no restoring.
    pub fn new(monitor: impl Into<String>) -> EarlyStopping {
        let monitor = monitor.into();
        let mode = Mode::Auto.resolve(&monitor);
        EarlyStopping {
            monitor,
            mode,
            patience: 5,
            min_delta: 0.0,
            restore_best_weights: false,
            best: mode.worst(),
            best_epoch: 0,
            wait: 0,
            best_weights: Vec::new(),
        }
    }

    /// Epochs without improvement before stopping (at least 1).
    pub fn patience(mut self, patience: u64) -> Result<EarlyStopping> {
        if patience == 0 {
            return Err(TrainError::config(
                "EarlyStopping",
                "patience must be at least 1, got 0",
            ));
        }
        self.patience = patience;
        Ok(self)
    }

    /// The smallest change that counts as an improvement (≥ 0).
    pub fn min_delta(mut self, min_delta: f64) -> Result<EarlyStopping> {
        if !(min_delta >= 0.0 && min_delta.is_finite()) {
            return Err(TrainError::config(
                "EarlyStopping",
                format!("min_delta must be a finite number >= 0, got {min_delta}"),
            ));
        }
        self.min_delta = min_delta;
        Ok(self)
    }

    /// Sets the mode (default: from the key's name).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Sets whether lower or higher is better.
    pub fn with_mode(mut self, mode: Mode) -> EarlyStopping {
        self.mode = mode.resolve(&self.monitor);
        self.best = self.mode.worst();
        self
    }

    /// Whether to end training with the best epoch's weights.
    pub fn restore_best_weights(mut self, restore: bool) -> EarlyStopping {
        self.restore_best_weights = restore;
        self
    }

    /// The best value seen and the epoch (from 1) it was seen at; epoch 0 before any.
    pub fn best(&self) -> (f64, u64) {
        (self.best, self.best_epoch)
    }
}

impl Callback for EarlyStopping {
    fn name(&self) -> String {
        format!("early_stopping.{}", self.monitor)
    }

    fn on_epoch_end(&mut self, ctx: &TrainContext, record: &EpochRecord) -> Result<Control> {
        let Some(&value) = record.metrics.get(&self.monitor) else {
            return Ok(Control::Continue);
        };
        if self.mode.improves(value, self.best, self.min_delta) {
            self.best = value;
            self.best_epoch = record.epoch;
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights = ctx
                    .model
                    .state_dict()
                    .into_iter()
                    .map(|(n, t)| (n, t.detach().copy()))
                    .collect();
            }
            return Ok(Control::Continue);
        }
        self.wait += 1;
        if self.wait >= self.patience {
            return Ok(Control::Stop(format!(
                "early stopping: {} did not improve for {} epoch(s); best {:.6} at epoch {}",
                self.monitor, self.wait, self.best, self.best_epoch
            )));
        }
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, ctx: &TrainContext) -> Result<()> {
        if self.restore_best_weights && !self.best_weights.is_empty() {
            ctx.model.load_state_dict(&self.best_weights, true)?;
        }
        Ok(())
    }

    fn state(&self) -> (serde_json::Value, Vec<(String, Tensor)>) {
        let state = json!({
            "best": crate::json_f64(self.best),
            "best_epoch": self.best_epoch,
            "wait": self.wait,
        });
        let tensors = self
            .best_weights
            .iter()
            .map(|(n, t)| (format!("best.{n}"), t.clone()))
            .collect();
        (state, tensors)
    }

    fn load_state(
        &mut self,
        state: &serde_json::Value,
        tensors: &[(String, Tensor)],
    ) -> Result<()> {
        let name = self.name();
        let bad = || TrainError::config(name.clone(), format!("cannot restore state {state}"));
        self.best = crate::f64_from_json(&state["best"]).ok_or_else(bad)?;
        self.best_epoch = state["best_epoch"].as_u64().ok_or_else(bad)?;
        self.wait = state["wait"].as_u64().ok_or_else(bad)?;
        self.best_weights = tensors
            .iter()
            .filter_map(|(n, t)| Some((n.strip_prefix("best.")?.to_string(), t.clone())))
            .collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_key_names_and_min_delta() {
        assert_eq!(Mode::Auto.resolve("val_loss"), Mode::Min);
        assert_eq!(Mode::Auto.resolve("val_top5_accuracy"), Mode::Max);
        assert_eq!(Mode::Auto.resolve("val_f1_macro"), Mode::Max);
        assert!(Mode::Min.improves(0.5, 0.6, 0.05));
        assert!(!Mode::Min.improves(0.56, 0.6, 0.05));
        assert!(Mode::Max.improves(0.9, 0.8, 0.0));
        assert!(!Mode::Max.improves(f64::NAN, 0.8, 0.0));
        assert!(EarlyStopping::new("x").min_delta(-1.0).is_err());
    }
}
