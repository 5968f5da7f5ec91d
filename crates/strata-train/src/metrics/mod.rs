//! Metrics streamed over batches: each keeps running sums, updated once per batch from the
//! step's outputs, and computes its values at the end of an epoch with no second pass over
//! the data.
//!
//! The trainer keeps one copy of every metric for training and one for validation (made
//! with [`Metric::fresh`]) and prefixes their keys: `train_accuracy`, `val_accuracy`.

use crate::{Result, StepOutput};
use std::any::Any;

/// A metric computed from a stream of batches. Implement it to add your own:
///
/// ```
/// use strata_train::{Metric, StepOutput};
/// /// The largest absolute output seen.
/// #[derive(Clone, Default)]
/// struct MaxOutput(f64);
/// impl Metric for MaxOutput {
///     fn name(&self) -> String { "max_output".into() }
///     fn reset(&mut self) { self.0 = 0.0 }
///     fn update(&mut self, step: &StepOutput) -> strata_train::Result<()> {
///         for v in step.output.to_vec_f64() { self.0 = self.0.max(v.abs()) }
///         Ok(())
///     }
///     fn compute(&self) -> Vec<(String, f64)> { vec![(self.name(), self.0)] }
///     fn fresh(&self) -> Box<dyn Metric> { Box::new(MaxOutput::default()) }
/// }
/// ```
pub trait Metric: Send {
    /// The metric's name (`"accuracy"`); its keys usually start with it.
    fn name(&self) -> String;

    /// Forgets every batch seen (the trainer calls it at the start of each epoch).
    fn reset(&mut self);

    /// Adds one batch.
    fn update(&mut self, step: &StepOutput) -> Result<()>;

    /// The values over every batch since the last reset, as `(key, value)` pairs
    /// (one metric may report several: `precision_macro`, `recall_macro`, ...). NaN where
    /// a value is undefined (no batch seen, no variance in the targets).
    fn compute(&self) -> Vec<(String, f64)>;

    /// A new, empty metric with the same settings.
    fn fresh(&self) -> Box<dyn Metric>;

    /// The metric as `Any`, so the trainer can find artefacts it knows how to save (the
    /// confusion matrix). `None` by default.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}
