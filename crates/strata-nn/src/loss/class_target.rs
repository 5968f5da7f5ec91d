//! What cross-entropy and NLL share: inputs of shape `[C]`, `[N, C]` or `[N, C, d1, ...]`
//! seen as rows `[R, C]` with the classes last; class-index targets checked against them;
//! class weights; and the denominator of the weighted mean.

use super::common::{expect_float, shape_error, value_error};
use crate::{Error, Result};
use strata_core::{DType, Tensor};

/// PyTorch's default `ignore_index`.
pub(crate) const DEFAULT_IGNORE_INDEX: i64 = -100;

/// An input viewed as rows of class scores.
pub(crate) struct ClassRows {
    /// `[R, C]`, contiguous, connected to the input's graph (so gradients of the rows flow
    /// back through the permute/reshape to the input).
    pub rows: Tensor,
    /// `C`.
    pub classes: usize,
    /// The shape of the per-sample losses: `[]` for a `[C]` input, `[N]`, or `[N, d1, ...]`.
    pub sample_shape: Vec<usize>,
}

/// Moves the class dimension (1) of `t` last and flattens the rest into rows.
fn classes_last(t: &Tensor) -> Result<Tensor> {
    let nd = t.ndim();
    let classes = t.shape()[1];
    let rows = t.numel().checked_div(classes).unwrap_or(0);
    let moved = if nd > 2 {
        let mut perm: Vec<usize> = vec![0];
        perm.extend(2..nd);
        perm.push(1);
        t.permute(&perm)?
    } else {
        t.clone()
    };
    Ok(moved.reshape(&[rows, classes])?.contiguous())
}

/// Views `input` (`[C]`, `[N, C]` or `[N, C, d1, ...]`) as rows.
pub(crate) fn class_rows(op: &'static str, input: &Tensor) -> Result<ClassRows> {
    expect_float(op, "the input (class scores)", input)?;
    let shape = input.shape();
    match shape.len() {
        0 => Err(shape_error(
            op,
            shape,
            "an input of shape [C], [N, C] or [N, C, d1, ...] (classes along dimension 1)".into(),
        )),
        1 => Ok(ClassRows {
            rows: input.reshape(&[1, shape[0]])?.contiguous(),
            classes: shape[0],
            sample_shape: vec![],
        }),
        _ => {
            let mut sample_shape = vec![shape[0]];
            sample_shape.extend_from_slice(&shape[2..]);
            Ok(ClassRows {
                rows: classes_last(input)?,
                classes: shape[1],
                sample_shape,
            })
        }
    }
}

/// Probability targets (same shape as the input) as rows matching [`class_rows`].
pub(crate) fn probability_rows(target: &Tensor) -> Result<Tensor> {
    if target.ndim() == 1 {
        return Ok(target.reshape(&[1, target.numel()])?.contiguous());
    }
    classes_last(target)
}

/// Checks class-index targets against the input and returns them per row: `None` where the
/// target is `ignore_index`, else the class.
pub(crate) fn class_indices(
    op: &'static str,
    target: &Tensor,
    input_shape: &[usize],
    rows: &ClassRows,
    ignore_index: i64,
) -> Result<Vec<Option<usize>>> {
    if target.dtype() != DType::I64 {
        return Err(Error::Tensor(strata_core::Error::DType {
            op,
            expected: format!(
                "i64 for the target (class indices of shape {:?})",
                rows.sample_shape
            ),
            got: target.dtype(),
        }));
    }
    if target.shape() != rows.sample_shape.as_slice() {
        let per = if input_shape.len() > 2 {
            "per position"
        } else {
            "per sample"
        };
        return Err(shape_error(
            op,
            target.shape(),
            format!(
                "a target of shape {:?}: one class index {per} of the input {input_shape:?} \
                 (batch size {})",
                rows.sample_shape,
                if input_shape.len() > 1 {
                    input_shape[0].to_string()
                } else {
                    "none: the input is a single sample".into()
                }
            ),
        ));
    }
    let classes = rows.classes;
    target
        .to_vec::<i64>()?
        .into_iter()
        .enumerate()
        .map(|(i, y)| {
            if y == ignore_index {
                Ok(None)
            } else if y >= 0 && (y as u64) < classes as u64 {
                Ok(Some(y as usize))
            } else {
                Err(value_error(
                    op,
                    "target",
                    format!(
                        "class index {y} (element {i} of the target) is out of range for {classes} \
                         classes: expected a value in 0..={} or the ignore_index {ignore_index}",
                        classes as i64 - 1
                    ),
                ))
            }
        })
        .collect()
}

/// Checks a class weight (`[C]`, floating point) and returns its values.
pub(crate) fn class_weights(
    op: &'static str,
    weight: Option<&Tensor>,
    input_shape: &[usize],
    classes: usize,
) -> Result<Option<Vec<f64>>> {
    let Some(w) = weight else {
        return Ok(None);
    };
    expect_float(op, "the class weight", w)?;
    if w.shape() != [classes] {
        return Err(shape_error(
            op,
            w.shape(),
            format!(
                "a class weight of shape [{classes}]: one per class of the input {input_shape:?}"
            ),
        ));
    }
    Ok(Some(w.to_vec_f64()))
}

/// The denominator of the mean for class-index targets: the summed weight of the targets
/// that are not ignored (their count when there are no weights). 0 when all are ignored,
/// which makes the mean NaN, as in PyTorch.
pub(crate) fn weighted_count(targets: &[Option<usize>], weights: Option<&[f64]>) -> f64 {
    targets
        .iter()
        .flatten()
        .map(|&y| weights.map_or(1.0, |w| w[y]))
        .sum()
}
