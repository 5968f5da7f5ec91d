//! The confusion matrix of a classifier and the precision, recall and F1 derived from it,
//! averaged over classes (macro) and weighted by support, as scikit-learn defines them.

use super::labels::{class_targets, predicted_classes};
use super::{summed_states, Metric};
use crate::{Result, StepOutput, TrainError};
use std::any::Any;

/// The precision, recall and F1 of one class, and its support (items of that true class).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// Counts of (true class, predicted class) pairs, and the scores derived from them.
///
/// Predictions are read as [`Accuracy`](super::Accuracy) reads them: the argmax of scores
/// `[N, C]`, or a thresholded binary score `[N]` / `[N, 1]` (two classes). Targets are i64
/// class indices.
///
/// [`compute`](Metric::compute) reports `precision_macro`, `recall_macro`, `f1_macro`
/// (unweighted means over classes) and `precision_weighted`, `recall_weighted`,
/// `f1_weighted` (means weighted by each class's support), as scikit-learn's
/// `precision_recall_fscore_support` with `zero_division=0`:
/// - a class never predicted has precision 0 (and a class with no support, recall 0);
/// - F1 is `2·tp / (2·tp + fp + fn)`, 0 when the class is neither true nor predicted;
/// - the macro means run over the classes that occur as a target or a prediction (what
///   scikit-learn does without `labels=`), so an unseen class does not drag them down.
///
/// Weighted recall equals the accuracy. Every value is NaN before the first batch.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::ConfusionMatrix, Metric, StepOutput};
/// let mut cm = ConfusionMatrix::new(2)?;
/// let probs = Tensor::from_vec(vec![0.9f32, 0.2, 0.7, 0.1], &[4])?; // predicts 1, 0, 1, 0
/// let target = Tensor::from_vec(vec![1i64, 1, 0, 0], &[4])?;
/// cm.update(&StepOutput::new(Tensor::scalar(0.0f32), probs, target))?;
/// assert_eq!(cm.matrix(), &[vec![1, 1], vec![1, 1]]);
/// assert_eq!(cm.per_class()[1].precision, 0.5);
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConfusionMatrix {
    /// False when the class count comes from the first batch's output.
    fixed: bool,
    /// `matrix[true][predicted]`; empty until the first batch when not fixed.
    matrix: Vec<Vec<u64>>,
}

impl ConfusionMatrix {
    /// A confusion matrix of `num_classes` classes (at least 2; a binary output counts as
    /// 2 classes). Outputs scoring another number of classes are an error.
    pub fn new(num_classes: usize) -> Result<ConfusionMatrix> {
        if num_classes < 2 {
            return Err(TrainError::config(
                "ConfusionMatrix",
                format!("num_classes must be at least 2, got {num_classes}"),
            ));
        }
        Ok(ConfusionMatrix {
            fixed: true,
            matrix: vec![vec![0; num_classes]; num_classes],
        })
    }

    /// A confusion matrix that takes its number of classes from the first batch's output
    /// (after [`reset`](Metric::reset) too); later batches must agree.
    pub fn inferred() -> ConfusionMatrix {
        ConfusionMatrix {
            fixed: false,
            matrix: Vec::new(),
        }
    }

    /// The number of classes (0 for an inferred matrix before its first batch).
    pub fn num_classes(&self) -> usize {
        self.matrix.len()
    }

    /// The counts: row = true class, column = predicted class.
    pub fn matrix(&self) -> &[Vec<u64>] {
        &self.matrix
    }

    /// The scores of every class, in class order (see the type's doc for the zero cases).
    pub fn per_class(&self) -> Vec<ClassScores> {
        self.counts()
            .into_iter()
            .map(|c| ClassScores {
                precision: div_or_zero(c.tp, c.predicted),
                recall: div_or_zero(c.tp, c.support),
                f1: div_or_zero(2 * c.tp, c.predicted + c.support),
                support: c.support,
            })
            .collect()
    }

    /// True positives, predictions and support of every class.
    fn counts(&self) -> Vec<Counts> {
        let n = self.matrix.len();
        let mut counts: Vec<Counts> = (0..n)
            .map(|i| Counts {
                tp: self.matrix[i][i],
                predicted: 0,
                support: self.matrix[i].iter().sum(),
            })
            .collect();
        for row in &self.matrix {
            for (c, &m) in counts.iter_mut().zip(row) {
                c.predicted += m;
            }
        }
        counts
    }
}

struct Counts {
    tp: u64,
    predicted: u64,
    support: u64,
}

fn div_or_zero(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl Metric for ConfusionMatrix {
    fn name(&self) -> String {
        "confusion".into()
    }

    fn reset(&mut self) {
        if self.fixed {
            self.matrix.iter_mut().for_each(|row| row.fill(0));
        } else {
            self.matrix.clear();
        }
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        let name = self.name();
        let predicted = predicted_classes(&name, &step.output)?;
        let c = predicted.num_classes;
        if !self.matrix.is_empty() && c != self.matrix.len() {
            return Err(TrainError::metric(
                name,
                format!(
                    "the output scores {c} classes (a binary score counts as 2) but the \
                     matrix has {} classes",
                    self.matrix.len()
                ),
            ));
        }
        let targets = class_targets(
            &name,
            &step.target,
            predicted.classes.len(),
            c,
            predicted.binary,
        )?;
        if self.matrix.is_empty() {
            self.matrix = vec![vec![0; c]; c];
        }
        // Both indices are checked to lie in 0..c above.
        for (&t, &p) in targets.iter().zip(&predicted.classes) {
            self.matrix[t as usize][p as usize] += 1;
        }
        Ok(())
    }

    fn compute(&self) -> Vec<(String, f64)> {
        let counts = self.counts();
        let scores = self.per_class();
        let present: Vec<&ClassScores> = scores
            .iter()
            .zip(&counts)
            .filter(|(_, c)| c.support + c.predicted > 0)
            .map(|(s, _)| s)
            .collect();
        let total: u64 = counts.iter().map(|c| c.support).sum();
        let macro_mean = |f: fn(&ClassScores) -> f64| {
            present.iter().map(|s| f(s)).sum::<f64>() / present.len() as f64
        };
        let weighted = |f: fn(&ClassScores) -> f64| {
            scores.iter().map(|s| f(s) * s.support as f64).sum::<f64>() / total as f64
        };
        vec![
            ("precision_macro".into(), macro_mean(|s| s.precision)),
            ("recall_macro".into(), macro_mean(|s| s.recall)),
            ("f1_macro".into(), macro_mean(|s| s.f1)),
            ("precision_weighted".into(), weighted(|s| s.precision)),
            ("recall_weighted".into(), weighted(|s| s.recall)),
            ("f1_weighted".into(), weighted(|s| s.f1)),
        ]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        let mut empty = self.clone();
        empty.reset();
        Box::new(empty)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }

    /// The class count, then the matrix row by row.
    fn shard_state(&self) -> Option<Vec<f64>> {
        let mut state = vec![self.matrix.len() as f64];
        state.extend(self.matrix.iter().flatten().map(|&m| m as f64));
        Some(state)
    }

    /// The sum of the ranks' matrices. A rank that saw no batch (an inferred matrix still
    /// empty) adds nothing; the others must agree on the class count.
    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        let name = self.name();
        let mut classes = self.matrix.len();
        for state in states {
            let c = state.first().map_or(0, |&c| c as usize);
            if c > 0 && classes > 0 && c != classes {
                return Err(TrainError::metric(
                    name,
                    format!("ranks count {classes} and {c} classes; every rank must score the same classes"),
                ));
            }
            classes = classes.max(c);
        }
        let seen: Vec<Vec<f64>> = states
            .iter()
            .filter(|s| s.first().is_some_and(|&c| c > 0.0))
            .cloned()
            .collect();
        let sum = summed_states(&name, &seen, 1 + classes * classes)?;
        self.matrix = sum[1..]
            .chunks_exact(classes.max(1))
            .map(|row| row.iter().map(|&m| m as u64).collect())
            .collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::Tensor;

    /// One-hot scores predicting `classes` out of `c`.
    fn step(predicted: &[usize], c: usize, target: &[i64]) -> StepOutput {
        let mut scores = vec![0.0f32; predicted.len() * c];
        for (i, &p) in predicted.iter().enumerate() {
            scores[i * c + p] = 1.0;
        }
        StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::from_vec(scores, &[predicted.len(), c]).unwrap(),
            Tensor::from_vec(target.to_vec(), &[target.len()]).unwrap(),
        )
    }

    fn get(values: &[(String, f64)], key: &str) -> f64 {
        values.iter().find(|(k, _)| k == key).unwrap().1
    }

    fn assert_near(a: f64, b: f64, what: &str) {
        assert!((a - b).abs() < 1e-12, "{what}: {a} vs {b}");
    }

    #[test]
    fn three_classes_match_scikit_learn() {
        // y_true = [0,0,0,0,1,1,1,2,2,2], y_pred = [0,0,1,2,1,1,0,2,2,1]:
        //   matrix [[2,1,1],[1,2,0],[0,1,2]], predicted per class 3,4,3, support 4,3,3.
        //   precision 2/3, 1/2, 2/3   recall 1/2, 2/3, 2/3   F1 4/7, 4/7, 2/3
        //   macro:    P = R = 11/18,  F1 = (4/7 + 4/7 + 2/3)/3 = 38/63
        //   weighted: P = (4·2/3 + 3·1/2 + 3·2/3)/10 = 37/60, R = 6/10 (the accuracy),
        //             F1 = (4·4/7 + 3·4/7 + 3·2/3)/10 = 6/10
        // (checked: scikit-learn 1.x precision_recall_fscore_support(..., zero_division=0)
        // gives the same numbers.)
        let y_pred = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
        let y_true = [0i64, 0, 0, 0, 1, 1, 1, 2, 2, 2];
        let mut cm = ConfusionMatrix::new(3).unwrap();
        cm.update(&step(&y_pred[..3], 3, &y_true[..3])).unwrap();
        cm.update(&step(&y_pred[3..4], 3, &y_true[3..4])).unwrap();
        cm.update(&step(&y_pred[4..], 3, &y_true[4..])).unwrap();
        assert_eq!(cm.matrix(), &[vec![2, 1, 1], vec![1, 2, 0], vec![0, 1, 2]]);

        let values = cm.compute();
        let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "precision_macro",
                "recall_macro",
                "f1_macro",
                "precision_weighted",
                "recall_weighted",
                "f1_weighted"
            ]
        );
        let expected = [11.0 / 18.0, 11.0 / 18.0, 38.0 / 63.0, 37.0 / 60.0, 0.6, 0.6];
        for ((key, v), want) in values.iter().zip(expected) {
            assert_near(*v, want, key);
        }

        let one_batch = {
            let mut m = ConfusionMatrix::inferred();
            m.update(&step(&y_pred, 3, &y_true)).unwrap();
            m
        };
        assert_eq!(one_batch.matrix(), cm.matrix());
        assert_eq!(one_batch.compute(), values);

        let per_class = cm.per_class();
        assert_eq!(per_class[1].support, 3);
        assert_near(per_class[1].precision, 0.5, "precision 1");
        assert_near(per_class[0].recall, 0.5, "recall 0");
        assert_near(per_class[2].f1, 2.0 / 3.0, "f1 2");
    }

    #[test]
    fn unpredicted_classes_score_zero_and_unseen_classes_are_left_out() {
        // 4 classes; y_true = [0,1,2,2], y_pred = [0,0,2,2]. Class 1 is never predicted
        // (precision 0, as zero_division=0), class 3 is neither true nor predicted (left
        // out of the macro means, like scikit-learn without `labels=`).
        //   precision 1/2, 0, 1   recall 1, 0, 1   F1 2/3, 0, 1   support 1, 1, 2
        //   macro P = 1/2, R = 2/3, F1 = 5/9; weighted P = 5/8, R = 3/4, F1 = 2/3.
        let mut cm = ConfusionMatrix::new(4).unwrap();
        cm.update(&step(&[0, 0, 2, 2], 4, &[0, 1, 2, 2])).unwrap();
        let values = cm.compute();
        let expected = [
            ("precision_macro", 0.5),
            ("recall_macro", 2.0 / 3.0),
            ("f1_macro", 5.0 / 9.0),
            ("precision_weighted", 0.625),
            ("recall_weighted", 0.75),
            ("f1_weighted", 2.0 / 3.0),
        ];
        for (key, want) in expected {
            assert_near(get(&values, key), want, key);
        }
        let c3 = cm.per_class()[3];
        assert_eq!(
            (c3.precision, c3.recall, c3.f1, c3.support),
            (0.0, 0.0, 0.0, 0)
        );
    }

    #[test]
    fn binary_outputs_make_two_classes() {
        let mut cm = ConfusionMatrix::inferred();
        let logits = Tensor::from_vec(vec![2.0f32, -1.0, 0.5], &[3, 1]).unwrap();
        let target = Tensor::from_vec(vec![1.0f32, 1.0, 0.0], &[3]).unwrap();
        cm.update(&StepOutput::new(Tensor::scalar(0.0f32), logits, target))
            .unwrap();
        assert_eq!(cm.num_classes(), 2);
        assert_eq!(cm.matrix(), &[vec![0, 1], vec![1, 1]]);
    }

    #[test]
    fn bad_inputs_are_errors_and_leave_the_counts_alone() {
        assert!(ConfusionMatrix::new(1).is_err());
        let mut cm = ConfusionMatrix::new(3).unwrap();
        let err = cm.update(&step(&[0, 1], 4, &[0, 1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metric confusion: the output scores 4 classes (a binary score counts as 2) but \
             the matrix has 3 classes"
        );
        let err = cm.update(&step(&[0, 1], 3, &[0, 3])).unwrap_err();
        assert!(err
            .to_string()
            .contains("target class 3 at row 1 is out of range"));
        let float_targets = StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::zeros(&[2, 3]),
            Tensor::zeros(&[2]),
        );
        assert!(cm.update(&float_targets).is_err());
        assert!(cm.matrix().iter().flatten().all(|&m| m == 0));

        // An inferred matrix stays empty after a bad first batch, then fixes its size.
        let mut inferred = ConfusionMatrix::inferred();
        assert!(inferred.update(&step(&[0], 3, &[5])).is_err());
        assert_eq!(inferred.num_classes(), 0);
        inferred.update(&step(&[0], 3, &[2])).unwrap();
        assert!(inferred.update(&step(&[0], 5, &[2])).is_err());
        assert_eq!(inferred.num_classes(), 3);
    }

    #[test]
    fn reset_fresh_and_downcast() {
        let mut cm = ConfusionMatrix::new(3).unwrap();
        cm.update(&step(&[0, 2], 3, &[0, 1])).unwrap();
        let fresh = cm.fresh();
        let fresh_cm = fresh
            .as_any()
            .and_then(|a| a.downcast_ref::<ConfusionMatrix>())
            .unwrap();
        assert_eq!(fresh_cm.num_classes(), 3);
        assert!(fresh_cm.matrix().iter().flatten().all(|&m| m == 0));
        assert!(fresh.compute().iter().all(|(_, v)| v.is_nan()));

        cm.reset();
        assert_eq!(cm.num_classes(), 3);
        assert!(cm.compute().iter().all(|(_, v)| v.is_nan()));

        let mut inferred = ConfusionMatrix::inferred();
        inferred.update(&step(&[0], 3, &[2])).unwrap();
        inferred.reset();
        assert_eq!(inferred.num_classes(), 0);
        inferred.update(&step(&[0], 4, &[3])).unwrap();
        assert_eq!(inferred.num_classes(), 4);
    }
}
