//! Accuracy and top-k accuracy: the fraction of items whose target class the model
//! predicts (or ranks among its k best).

use super::labels::{class_targets, predicted_classes};
use super::{summed_states, Metric};
use crate::{Result, StepOutput, TrainError};
use strata_core::{DType, Element};

/// The fraction of items whose predicted class equals the target, key `"accuracy"`.
///
/// Outputs `[N, C]` are class scores (logits or probabilities) and the prediction is their
/// argmax, the first maximum on ties. Outputs `[N]` or `[N, 1]` are one binary score per
/// item: probabilities thresholded at 0.5, or, when some value of the batch lies outside
/// [0, 1], logits thresholded at 0 (a score strictly above the threshold predicts class 1).
/// Targets are i64 class indices `[N]` (or `[N, 1]`); for binary outputs float targets of
/// exactly 0 or 1 are accepted too.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::Accuracy, Metric, StepOutput};
/// let mut acc = Accuracy::new();
/// let logits = Tensor::from_vec(vec![2.0f32, 0.0, 0.0, 1.0, 3.0, 0.0], &[3, 2])?;
/// let target = Tensor::from_vec(vec![0i64, 1, 1], &[3])?;
/// acc.update(&StepOutput::new(Tensor::scalar(0.0f32), logits, target))?;
/// assert_eq!(acc.compute(), vec![("accuracy".to_string(), 2.0 / 3.0)]);
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Accuracy {
    correct: u64,
    total: u64,
}

impl Accuracy {
    /// An empty accuracy.
    pub fn new() -> Accuracy {
        Accuracy::default()
    }
}

impl Metric for Accuracy {
    fn name(&self) -> String {
        "accuracy".into()
    }

    fn reset(&mut self) {
        *self = Accuracy::default();
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        let name = self.name();
        let predicted = predicted_classes(&name, &step.output)?;
        let targets = class_targets(
            &name,
            &step.target,
            predicted.classes.len(),
            predicted.num_classes,
            predicted.binary,
        )?;
        let correct = predicted
            .classes
            .iter()
            .zip(&targets)
            .filter(|(p, t)| p == t)
            .count();
        self.correct += correct as u64;
        self.total += targets.len() as u64;
        Ok(())
    }

    fn compute(&self) -> Vec<(String, f64)> {
        vec![(self.name(), ratio(self.correct, self.total))]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        Box::new(Accuracy::new())
    }

    fn shard_state(&self) -> Option<Vec<f64>> {
        Some(vec![self.correct as f64, self.total as f64])
    }

    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        let sum = summed_states(&self.name(), states, 2)?;
        (self.correct, self.total) = (sum[0] as u64, sum[1] as u64);
        Ok(())
    }
}

/// The fraction of items whose target class is among the `k` best-scored, key
/// `"top{k}_accuracy"` (`"top5_accuracy"`).
///
/// Outputs are class scores `[N, C]` with `C >= k`, targets i64 class indices `[N]` (or
/// `[N, 1]`). Ties count in the target's favour: the target is in the top k when fewer than
/// `k` classes score strictly higher than it, so with `k = 1` a target tied for the best
/// score is a hit (where [`Accuracy`] takes the first maximum). A NaN score of the target
/// class is a miss.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::TopKAccuracy, Metric, StepOutput};
/// let mut top2 = TopKAccuracy::new(2)?;
/// let scores = Tensor::from_vec(vec![0.5f32, 0.3, 0.2, 0.1, 0.2, 0.7], &[2, 3])?;
/// let target = Tensor::from_vec(vec![1i64, 0], &[2])?;
/// top2.update(&StepOutput::new(Tensor::scalar(0.0f32), scores, target))?;
/// assert_eq!(top2.compute(), vec![("top2_accuracy".to_string(), 0.5)]);
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TopKAccuracy {
    k: usize,
    hits: u64,
    total: u64,
}

impl TopKAccuracy {
    /// Top-`k` accuracy; `k` must be at least 1.
    pub fn new(k: usize) -> Result<TopKAccuracy> {
        if k == 0 {
            return Err(TrainError::config(
                "TopKAccuracy",
                "k must be at least 1, got 0",
            ));
        }
        Ok(TopKAccuracy::with_k(k))
    }

    /// A top-`k` accuracy with `k >= 1` already known.
    pub(crate) fn with_k(k: usize) -> TopKAccuracy {
        TopKAccuracy {
            k,
            hits: 0,
            total: 0,
        }
    }

    /// The `k` of top-k.
    pub fn k(&self) -> usize {
        self.k
    }
}

impl Metric for TopKAccuracy {
    fn name(&self) -> String {
        format!("top{}_accuracy", self.k)
    }

    fn reset(&mut self) {
        self.hits = 0;
        self.total = 0;
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        let name = self.name();
        let output = &step.output;
        let [rows, classes] = *output.shape() else {
            return Err(TrainError::metric(
                name,
                format!(
                    "output must be class scores [N, C], got shape {:?}",
                    output.shape()
                ),
            ));
        };
        if self.k > classes {
            return Err(TrainError::metric(
                name,
                format!(
                    "k = {} is larger than the output's {classes} classes",
                    self.k
                ),
            ));
        }
        let targets = class_targets(&name, &step.target, rows, classes, false)?;
        // Read the scores in place (a copy only if the output is a strided view).
        let scores = output.contiguous();
        let hits = match scores.dtype() {
            DType::F32 => count_hits(&scores.read::<f32>()?, classes, &targets, self.k),
            DType::F64 => count_hits(&scores.read::<f64>()?, classes, &targets, self.k),
            dtype => {
                return Err(TrainError::metric(
                    name,
                    format!("output must hold f32 or f64 scores, got {dtype}"),
                ))
            }
        };
        self.hits += hits as u64;
        self.total += rows as u64;
        Ok(())
    }

    fn compute(&self) -> Vec<(String, f64)> {
        vec![(self.name(), ratio(self.hits, self.total))]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        Box::new(TopKAccuracy::with_k(self.k))
    }

    fn shard_state(&self) -> Option<Vec<f64>> {
        Some(vec![self.hits as f64, self.total as f64])
    }

    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        let sum = summed_states(&self.name(), states, 2)?;
        (self.hits, self.total) = (sum[0] as u64, sum[1] as u64);
        Ok(())
    }
}

/// How many rows of `scores` (`classes` wide) rank their target among the `k` best.
fn count_hits<T: Element>(scores: &[T], classes: usize, targets: &[i64], k: usize) -> usize {
    scores
        .chunks_exact(classes)
        .zip(targets)
        .filter(|&(row, &t)| {
            let s = row[t as usize];
            // A NaN target score compares with nothing (not even itself): a miss.
            let comparable = s.partial_cmp(&s).is_some();
            // Stop counting at k: the answer is already "no".
            comparable && row.iter().filter(|&&v| v > s).take(k).count() < k
        })
        .count()
}

/// `num / den`, NaN when nothing was counted.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::Tensor;

    fn step<T: Element>(output: Vec<T>, shape: &[usize], target: Vec<i64>) -> StepOutput {
        let n = target.len();
        StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::from_vec(output, shape).unwrap(),
            Tensor::from_vec(target, &[n]).unwrap(),
        )
    }

    fn value(m: &dyn Metric) -> f64 {
        let values = m.compute();
        assert_eq!(values.len(), 1);
        values[0].1
    }

    #[test]
    fn accuracy_streams_over_batches() {
        // Rows' argmax: 0, 2, 1, 1, 0 against targets 0, 2, 2, 1, 1: 3 of 5 right.
        let scores = vec![
            5.0f32, 1.0, 0.0, //
            0.0, 1.0, 2.0, //
            0.1, 0.8, 0.1, //
            -1.0, 3.0, -2.0, //
            4.0, 4.0, 0.0, // tie: the first maximum, class 0
        ];
        let targets = vec![0i64, 2, 2, 1, 1];
        let mut whole = Accuracy::new();
        whole
            .update(&step(scores.clone(), &[5, 3], targets.clone()))
            .unwrap();
        assert_eq!(value(&whole), 0.6);

        let mut parts = Accuracy::new();
        for (rows, t) in [(0..2, 0..2), (2..3, 2..3), (3..5, 3..5)] {
            let n = t.len();
            let s = scores[rows.start * 3..rows.end * 3].to_vec();
            parts
                .update(&step(s, &[n, 3], targets[t].to_vec()))
                .unwrap();
        }
        assert_eq!(value(&parts), value(&whole));
        assert_eq!(parts.compute()[0].0, "accuracy");
    }

    #[test]
    fn binary_accuracy_from_probabilities_and_logits() {
        let mut acc = Accuracy::new();
        // Probabilities: predictions 1, 0, 0 (0.5 is not above 0.5) against 1, 0, 1.
        acc.update(&step(vec![0.9f32, 0.1, 0.5], &[3, 1], vec![1, 0, 1]))
            .unwrap();
        assert_eq!(value(&acc), 2.0 / 3.0);
        // Logits (one value outside [0, 1]): predictions 1, 0, 1, 0 against float targets.
        let logits = Tensor::from_vec(vec![0.3f64, -2.0, 4.0, 0.0], &[4]).unwrap();
        let target = Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 0.0], &[4]).unwrap();
        acc.update(&StepOutput::new(Tensor::scalar(0.0f32), logits, target))
            .unwrap();
        assert_eq!(value(&acc), 5.0 / 7.0);
    }

    #[test]
    fn top_k_counts_ties_for_the_target() {
        // Scores of row 0: class 2 is beaten only by class 0; row 1: three classes tie
        // at 0.3 with the target 3, none above; row 2: target 1 has three classes above.
        let scores = vec![
            0.5f64, 0.1, 0.4, 0.0, //
            0.3, 0.3, 0.1, 0.3, //
            0.2, 0.1, 0.3, 0.4, //
        ];
        let targets = vec![2i64, 3, 1];
        let expected = [(1, 1.0 / 3.0), (2, 2.0 / 3.0), (3, 2.0 / 3.0), (4, 1.0)];
        for (k, want) in expected {
            let mut top = TopKAccuracy::new(k).unwrap();
            top.update(&step(scores.clone(), &[3, 4], targets.clone()))
                .unwrap();
            assert_eq!(value(&top), want, "k = {k}");
            assert_eq!(top.compute()[0].0, format!("top{k}_accuracy"));
        }
        // Streamed in two batches, f32, the same.
        let mut top = TopKAccuracy::new(2).unwrap();
        let s32: Vec<f32> = scores.iter().map(|&v| v as f32).collect();
        top.update(&step(s32[..4].to_vec(), &[1, 4], vec![2]))
            .unwrap();
        top.update(&step(s32[4..].to_vec(), &[2, 4], vec![3, 1]))
            .unwrap();
        assert_eq!(value(&top), 2.0 / 3.0);
    }

    #[test]
    fn top_k_reads_strided_outputs_and_misses_nan_targets() {
        // The transpose of [[1, 9], [5, 0], [2, 3]]: rows (1, 5, 2) and (9, 0, 3).
        let base = Tensor::from_vec(vec![1.0f32, 9.0, 5.0, 0.0, 2.0, 3.0], &[3, 2]).unwrap();
        let scores = base.transpose(0, 1).unwrap();
        let target = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        let mut top = TopKAccuracy::new(1).unwrap();
        top.update(&StepOutput::new(Tensor::scalar(0.0f32), scores, target))
            .unwrap();
        assert_eq!(value(&top), 0.5);

        let mut top = TopKAccuracy::new(3).unwrap();
        top.update(&step(vec![f32::NAN, 0.0, 1.0], &[1, 3], vec![0]))
            .unwrap();
        assert_eq!(value(&top), 0.0);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert!(TopKAccuracy::new(0)
            .unwrap_err()
            .to_string()
            .contains("at least 1"));
        let mut top = TopKAccuracy::new(5).unwrap();
        let err = top
            .update(&step(vec![0.0f32; 8], &[2, 4], vec![0, 1]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "metric top5_accuracy: k = 5 is larger than the output's 4 classes"
        );
        let err = top.update(&step(vec![0.0f32; 4], &[4], vec![0, 1, 0, 1]));
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("[N, C], got shape [4]"));
        let err = top.update(&step(vec![0.0f32; 12], &[2, 6], vec![0, 6]));
        assert!(err.unwrap_err().to_string().contains("class 6 at row 1"));

        let mut acc = Accuracy::new();
        let err = acc.update(&step(vec![0.0f32; 6], &[2, 3], vec![0, -2]));
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("-2 at row 1 is negative"));
        let err = acc.update(&step(vec![0.0f32; 6], &[3, 2], vec![0, 1]));
        assert!(err.unwrap_err().to_string().contains("3 rows"));
        // A failed update leaves the counts alone.
        assert!(value(&acc).is_nan());
        assert!(value(&top).is_nan());
    }

    #[test]
    fn reset_clears_and_fresh_keeps_settings() {
        let mut top = TopKAccuracy::new(2).unwrap();
        top.update(&step(vec![1.0f32, 0.0, 0.0], &[1, 3], vec![0]))
            .unwrap();
        assert_eq!(value(&top), 1.0);
        let fresh = top.fresh();
        assert_eq!(fresh.name(), "top2_accuracy");
        assert!(value(fresh.as_ref()).is_nan());
        top.reset();
        assert!(value(&top).is_nan());
        assert_eq!(top.k(), 2);

        let mut acc = Accuracy::new();
        acc.update(&step(vec![1.0f32, 0.0], &[1, 2], vec![0]))
            .unwrap();
        assert_eq!(value(&acc), 1.0);
        assert!(value(acc.fresh().as_ref()).is_nan());
        acc.reset();
        assert!(value(&acc).is_nan());
    }
}
