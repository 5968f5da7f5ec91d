//! The records a run writes, one JSON object per line in `metrics.jsonl` (and
//! `histograms.jsonl`, `warnings.json`): the schema shared by the trainer, the monitors,
//! the loggers and the report, which rebuilds itself from these files alone.
//!
//! Non-finite numbers are written as JSON `null` and read back as NaN.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One line of `metrics.jsonl`, tagged by `"kind"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The end of an epoch.
    Epoch(EpochRecord),
    /// Every `log_every_steps` optimiser steps, when asked.
    Step(StepRecord),
    /// The monitors' figures at a monitored step.
    Monitor(MonitorRecord),
}

/// What an epoch ended with: `metrics` holds `train_loss`, `train_<metric>`, and, on
/// epochs with a validation pass, `val_loss`, `val_<metric>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epochs completed, counting from 1.
    pub epoch: u64,
    /// Optimiser steps completed.
    pub step: u64,
    /// The learning rate of the first parameter group at the end of the epoch.
    #[serde(with = "nan_as_null")]
    pub lr: f64,
    /// Seconds since training started (wall clock; the only field that differs between
    /// two identical runs).
    pub seconds: f64,
    /// Training examples per second during this epoch.
    pub samples_per_sec: f64,
    /// Metric values by key.
    #[serde(with = "map_nan_as_null")]
    pub metrics: BTreeMap<String, f64>,
}

/// The loss of one optimiser step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: u64,
    pub epoch: u64,
    #[serde(with = "nan_as_null")]
    pub loss: f64,
    #[serde(with = "nan_as_null")]
    pub lr: f64,
}

/// The health of training at one step: per parameter and per layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorRecord {
    pub step: u64,
    pub epoch: u64,
    /// L2 norm of all gradients together (before clipping).
    #[serde(with = "nan_as_null")]
    pub global_grad_norm: f64,
    /// One entry per trainable parameter, in state-dict order.
    pub params: Vec<ParamStats>,
    /// One entry per layer that reported an output (see `strata_nn::hooks`), in the order
    /// the forward pass reached them.
    pub activations: Vec<ActivationStats>,
}

/// A parameter's figures at a monitored step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamStats {
    /// The state-dict name (`"0.weight"`).
    pub name: String,
    #[serde(with = "nan_as_null")]
    pub grad_norm: f64,
    #[serde(with = "nan_as_null")]
    pub weight_norm: f64,
    /// ‖Δw‖ / ‖w‖ of the optimiser step taken at this step.
    #[serde(with = "opt_nan_as_null")]
    pub update_ratio: Option<f64>,
}

/// A layer's output figures at a monitored step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivationStats {
    /// The layer's state-dict name (`"1"`, `"encoder.relu"`).
    pub name: String,
    /// Its type (`"ReLU"`, `"Linear"`).
    pub layer_type: String,
    #[serde(with = "nan_as_null")]
    pub mean: f64,
    #[serde(with = "nan_as_null")]
    pub std: f64,
    /// For ReLU-family layers: the fraction of units that are zero for every example of
    /// the batch.
    #[serde(with = "opt_nan_as_null")]
    pub dead_fraction: Option<f64>,
    /// For sigmoid and tanh layers: the fraction of outputs within 1% of the bounds.
    #[serde(with = "opt_nan_as_null")]
    pub saturated_fraction: Option<f64>,
}

/// What a histogram describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistogramKind {
    Weight,
    Gradient,
    Activation,
}

/// One line of `histograms.jsonl`, in TensorBoard's `HistogramProto` terms: bucket `i`
/// counts the values in `(bucket_limits[i-1], bucket_limits[i]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramRecord {
    pub step: u64,
    pub epoch: u64,
    /// The parameter's or layer's name.
    pub name: String,
    pub kind: HistogramKind,
    pub min: f64,
    pub max: f64,
    pub num: f64,
    pub sum: f64,
    pub sum_squares: f64,
    pub bucket_limits: Vec<f64>,
    pub counts: Vec<f64>,
}

/// A kind of training-health warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    VanishingGradients,
    ExplodingGradients,
    DeadRelu,
    Saturation,
    UpdateRatio,
    Overfitting,
    LossSpike,
    NonFinite,
}

/// A warning, printed once when it first fires and listed in `warnings.json` and the
/// report, with the numbers behind it in `message`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub step: u64,
    pub epoch: u64,
    /// The parameter or layer it concerns, if one.
    pub subject: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "warning (step {}): {}", self.step, self.message)
    }
}

/// `f64` fields: non-finite values as `null`, `null` as NaN.
pub mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// `Option<f64>` fields: `None` and non-finite values as `null`, `null` as `None`.
pub mod opt_nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if x.is_finite() => s.serialize_some(x),
            _ => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<f64>::deserialize(d)
    }
}

/// Maps of `f64`: non-finite values as `null`, `null` as NaN.
pub mod map_nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;
    pub fn serialize<S: Serializer>(m: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
        let out: BTreeMap<&str, Option<f64>> = m
            .iter()
            .map(|(k, v)| (k.as_str(), v.is_finite().then_some(*v)))
            .collect();
        out.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let m = BTreeMap::<String, Option<f64>>::deserialize(d)?;
        Ok(m.into_iter()
            .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_non_finite_values() {
        let mut metrics = BTreeMap::new();
        metrics.insert("train_loss".to_string(), 0.25);
        metrics.insert("val_r2".to_string(), f64::NAN);
        let rec = Record::Epoch(EpochRecord {
            epoch: 2,
            step: 10,
            lr: 1e-3,
            seconds: 1.5,
            samples_per_sec: 100.0,
            metrics,
        });
        let line = serde_json::to_string(&rec).unwrap();
        assert!(line.starts_with(r#"{"kind":"epoch","epoch":2"#), "{line}");
        assert!(line.contains(r#""val_r2":null"#), "{line}");
        let back: Record = serde_json::from_str(&line).unwrap();
        let Record::Epoch(e) = back else {
            panic!("not an epoch record: {line}")
        };
        assert_eq!(e.metrics["train_loss"], 0.25);
        assert!(e.metrics["val_r2"].is_nan());
    }
}
