//! Metrics streamed over batches: each keeps running sums, updated once per batch from the
//! step's outputs, and computes its values at the end of an epoch with no second pass over
//! the data.
//!
//! The trainer keeps one copy of every metric for training and one for validation (made
//! with [`Metric::fresh`]) and prefixes their keys: `train_accuracy`, `val_accuracy`.

mod classification;
mod confusion;
mod labels;
mod language;
mod regression;

pub use classification::{Accuracy, TopKAccuracy};
pub use confusion::{ClassScores, ConfusionMatrix};
pub use language::{BitsPerCharacter, Perplexity};
pub use regression::{Mae, Mse, R2};

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

    /// The running sums behind [`compute`](Metric::compute) as numbers, so that a
    /// data-parallel run can combine every rank's share of the epoch exactly: the trainer
    /// gathers each rank's state, in rank order, and hands them all to
    /// [`merge`](Metric::merge) on every rank. `None` (the default) for a metric that
    /// cannot be rebuilt from such parts; the trainer then takes the example-weighted mean
    /// of its values over the ranks, which is exact only for plain means.
    fn shard_state(&self) -> Option<Vec<f64>> {
        None
    }

    /// Replaces the running state by the combination of `states`: every rank's
    /// [`shard_state`](Metric::shard_state), this rank's included, in rank order.
    /// Afterwards `compute` gives the metric over all ranks' batches.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_train::{metrics::Accuracy, Metric, StepOutput};
    /// let batch = |out: Vec<f32>, t: Vec<i64>| -> strata_train::Result<StepOutput> {
    ///     let n = t.len();
    ///     Ok(StepOutput::new(Tensor::scalar(0.0f32), Tensor::from_vec(out, &[n, 2])?, Tensor::from_vec(t, &[n])?))
    /// };
    /// let (mut rank0, mut rank1) = (Accuracy::new(), Accuracy::new());
    /// rank0.update(&batch(vec![0.9, 0.1, 0.2, 0.8], vec![0, 0])?)?; // 1 of 2 right
    /// rank1.update(&batch(vec![0.9, 0.1], vec![0])?)?; // 1 of 1 right
    /// let states = [rank0.shard_state().unwrap(), rank1.shard_state().unwrap()];
    /// rank0.merge(&states)?;
    /// assert_eq!(rank0.compute()[0].1, 2.0 / 3.0);
    /// # Ok::<(), strata_train::TrainError>(())
    /// ```
    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        let _ = states;
        Err(crate::TrainError::metric(
            self.name(),
            "this metric keeps no shard state to merge",
        ))
    }
}

/// The element-wise sum of `states`, each of which must hold `len` numbers: the merge of
/// metrics whose state is plain sums (counts, totals, a confusion matrix).
pub(crate) fn summed_states(metric: &str, states: &[Vec<f64>], len: usize) -> Result<Vec<f64>> {
    let mut sum = vec![0.0; len];
    for (rank, state) in states.iter().enumerate() {
        if state.len() != len {
            return Err(crate::TrainError::metric(
                metric,
                format!(
                    "rank {rank}'s state holds {} numbers, expected {len}; every rank must \
                     use the same metric settings",
                    state.len()
                ),
            ));
        }
        sum.iter_mut().zip(state).for_each(|(s, v)| *s += v);
    }
    Ok(sum)
}

/// The usual metrics of a classifier of `num_classes` classes: [`Accuracy`], top-5
/// accuracy when there are more than 5 classes, and the [`ConfusionMatrix`] (precision,
/// recall and F1). With `num_classes` below 2 (0 for "unknown") the confusion matrix takes
/// its class count from the first batch, and there is no top-5.
///
/// ```
/// let names: Vec<String> = strata_train::metrics::classification_metrics(10)
///     .iter()
///     .map(|m| m.name())
///     .collect();
/// assert_eq!(names, ["accuracy", "top5_accuracy", "confusion"]);
/// ```
pub fn classification_metrics(num_classes: usize) -> Vec<Box<dyn Metric>> {
    let mut metrics: Vec<Box<dyn Metric>> = vec![Box::new(Accuracy::new())];
    if num_classes > 5 {
        metrics.push(Box::new(TopKAccuracy::with_k(5)));
    }
    // Fewer than 2 classes cannot be a fixed matrix; let the outputs decide.
    let confusion =
        ConfusionMatrix::new(num_classes).unwrap_or_else(|_| ConfusionMatrix::inferred());
    metrics.push(Box::new(confusion));
    metrics
}

/// The usual metrics of a regression: [`Mse`], [`Mae`] and [`R2`].
pub fn regression_metrics() -> Vec<Box<dyn Metric>> {
    vec![
        Box::new(Mse::new()),
        Box::new(Mae::new()),
        Box::new(R2::new()),
    ]
}

/// The usual metrics of a language model: [`Perplexity`] and [`BitsPerCharacter`].
pub fn language_metrics() -> Vec<Box<dyn Metric>> {
    vec![
        Box::new(Perplexity::new()),
        Box::new(BitsPerCharacter::new()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::Tensor;

    fn names(metrics: &[Box<dyn Metric>]) -> Vec<String> {
        metrics.iter().map(|m| m.name()).collect()
    }

    #[test]
    fn presets_hold_the_expected_metrics() {
        assert_eq!(names(&classification_metrics(5)), ["accuracy", "confusion"]);
        assert_eq!(
            names(&classification_metrics(6)),
            ["accuracy", "top5_accuracy", "confusion"]
        );
        assert_eq!(names(&regression_metrics()), ["mse", "mae", "r2"]);
        assert_eq!(names(&language_metrics()), ["perplexity", "bpc"]);

        // The preset confusion matrix has the classes asked for, or infers them at 0.
        let classes = |metrics: &[Box<dyn Metric>]| {
            let any = metrics.last().and_then(|m| m.as_any());
            any.and_then(|a| a.downcast_ref::<ConfusionMatrix>())
                .map(|c| c.num_classes())
        };
        assert_eq!(classes(&classification_metrics(7)), Some(7));
        let mut inferred = classification_metrics(0);
        assert_eq!(classes(&inferred), Some(0));
        let step = StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::zeros(&[2, 3]),
            Tensor::from_vec(vec![0i64, 2], &[2]).unwrap(),
        );
        for m in inferred.iter_mut() {
            m.update(&step).unwrap();
        }
        assert_eq!(classes(&inferred), Some(3));
        // Zero scores: argmax 0 for both rows, one right.
        assert_eq!(inferred[0].compute(), vec![("accuracy".to_string(), 0.5)]);
    }
}
