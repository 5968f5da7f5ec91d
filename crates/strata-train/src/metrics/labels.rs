//! Turning a batch's outputs and targets into class indices, shared by the accuracy and the
//! confusion matrix so both read a batch the same way.
//!
//! Outputs `[N, C]` (C ≥ 2) are class scores and the predicted class is the argmax (the
//! first maximum on ties, as `Tensor::argmax`). Outputs `[N]` or `[N, 1]` are one binary
//! score per row: probabilities, thresholded at 0.5, unless some value of the batch lies
//! outside [0, 1], in which case they are logits, thresholded at 0; a value strictly above
//! the threshold predicts class 1. The choice is made per batch, so a batch of logits that
//! all happen to lie in [0, 1] is read as probabilities.

use crate::{Result, TrainError};
use strata_core::{DType, Tensor};

/// The predicted classes of one batch, and how many classes the output scores.
pub(crate) struct Predicted {
    pub classes: Vec<i64>,
    pub num_classes: usize,
    /// True for a single binary score per row (`[N]` or `[N, 1]`).
    pub binary: bool,
}

/// The predicted class of every row of `output` (see the module doc).
pub(crate) fn predicted_classes(metric: &str, output: &Tensor) -> Result<Predicted> {
    if !output.dtype().is_float() {
        return Err(TrainError::metric(
            metric,
            format!("output must hold f32 or f64 scores, got {}", output.dtype()),
        ));
    }
    match *output.shape() {
        [_] | [_, 1] => {
            let values = output.to_vec_f64();
            let probabilities = values.iter().all(|v| (0.0..=1.0).contains(v) || v.is_nan());
            let threshold = if probabilities { 0.5 } else { 0.0 };
            Ok(Predicted {
                classes: values.iter().map(|&v| i64::from(v > threshold)).collect(),
                num_classes: 2,
                binary: true,
            })
        }
        [_, c] if c >= 2 => Ok(Predicted {
            classes: output.argmax(1, false)?.to_vec::<i64>()?,
            num_classes: c,
            binary: false,
        }),
        _ => Err(TrainError::metric(
            metric,
            format!(
                "output must be class scores [N, C] with C >= 2, or one binary score per row \
                 [N] or [N, 1]; got shape {:?}",
                output.shape()
            ),
        )),
    }
}

/// The class index of every row of `target`, checked against `rows` outputs and
/// `num_classes` classes. Targets are i64 class indices of shape `[N]` or `[N, 1]`; for a
/// binary output (`binary`), float targets equal to exactly 0 or 1 (what binary
/// cross-entropy takes) are accepted too.
pub(crate) fn class_targets(
    metric: &str,
    target: &Tensor,
    rows: usize,
    num_classes: usize,
    binary: bool,
) -> Result<Vec<i64>> {
    let shape_ok = matches!(*target.shape(), [n] | [n, 1] if n == rows);
    if !shape_ok {
        return Err(TrainError::metric(
            metric,
            format!(
                "target shape {:?} does not match the output's {rows} rows; expected [{rows}] \
                 (or [{rows}, 1])",
                target.shape()
            ),
        ));
    }
    let classes = match target.dtype() {
        DType::I64 => target.to_vec::<i64>()?,
        DType::F32 | DType::F64 if binary => {
            let values = target.to_vec_f64();
            if let Some((i, v)) = values
                .iter()
                .enumerate()
                .find(|&(_, &v)| v != 0.0 && v != 1.0)
            {
                return Err(TrainError::metric(
                    metric,
                    format!("binary float targets must be 0 or 1, got {v} at row {i}"),
                ));
            }
            values.iter().map(|&v| i64::from(v == 1.0)).collect()
        }
        dtype => {
            return Err(TrainError::metric(
                metric,
                format!("targets must be i64 class indices, got {dtype}"),
            ))
        }
    };
    if let Some((i, &t)) = classes
        .iter()
        .enumerate()
        .find(|&(_, &t)| t < 0 || t as u64 >= num_classes as u64)
    {
        let why = if t < 0 {
            "is negative".to_string()
        } else {
            format!("is out of range for {num_classes} classes")
        };
        return Err(TrainError::metric(
            metric,
            format!("target class {t} at row {i} {why}"),
        ));
    }
    Ok(classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t<T: strata_core::Element>(v: Vec<T>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(v, shape).unwrap()
    }

    #[test]
    fn binary_scores_pick_their_threshold_per_batch() {
        // All in [0, 1]: probabilities, threshold 0.5 (0.5 itself is class 0).
        let p = predicted_classes("m", &t(vec![0.2f32, 0.5, 0.7], &[3, 1])).unwrap();
        assert_eq!(
            (p.classes, p.num_classes, p.binary),
            (vec![0, 0, 1], 2, true)
        );
        // One value outside [0, 1]: logits, threshold 0.
        let p = predicted_classes("m", &t(vec![0.2f64, -3.0, 0.0], &[3])).unwrap();
        assert_eq!(p.classes, vec![1, 0, 0]);
    }

    #[test]
    fn scores_take_the_first_argmax() {
        let p = predicted_classes("m", &t(vec![1.0f32, 3.0, 3.0, 5.0, 0.0, 0.0], &[2, 3]));
        let p = p.unwrap();
        assert_eq!((p.classes, p.num_classes, p.binary), (vec![1, 0], 3, false));
    }

    #[test]
    fn bad_outputs_and_targets_are_named() {
        let err = |r: Result<Predicted>| r.err().unwrap().to_string();
        assert!(err(predicted_classes("acc", &t(vec![1i64, 2], &[2]))).contains("f32 or f64"));
        assert!(err(predicted_classes("acc", &Tensor::zeros(&[2, 2, 2]))).contains("[2, 2, 2]"));
        assert!(err(predicted_classes("acc", &Tensor::zeros(&[2, 0]))).contains("C >= 2"));

        let terr = |target: Tensor, binary| {
            class_targets("acc", &target, 2, 3, binary)
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            terr(t(vec![0i64, 3], &[2]), false),
            "metric acc: target class 3 at row 1 is out of range for 3 classes"
        );
        assert!(terr(t(vec![-1i64, 0], &[2]), false).contains("-1 at row 0 is negative"));
        assert!(terr(t(vec![0i64, 1, 2], &[3]), false).contains("[3] does not match"));
        assert!(terr(t(vec![0i64, 1], &[1, 2]), false).contains("[1, 2]"));
        assert!(terr(t(vec![0.0f32, 1.0], &[2]), false).contains("i64 class indices, got f32"));
        assert!(terr(t(vec![0.0f32, 0.5], &[2]), true).contains("0 or 1, got 0.5 at row 1"));
        // Float 0/1 targets are fine for a binary output, and [N, 1] targets for any.
        assert_eq!(
            class_targets("acc", &t(vec![1.0f64, 0.0], &[2, 1]), 2, 2, true).unwrap(),
            vec![1, 0]
        );
    }
}
