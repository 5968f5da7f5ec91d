//! Stacking examples into a batch.

use crate::{DataError, Example, Result};
use strata_core::{DType, Element, Tensor};

/// Stacks tensors of one shape and dtype along a new first dimension: `B × [...]` → `[B, ...]`.
///
/// ```
/// use strata_core::Tensor;
/// let rows = [Tensor::ones(&[2]), Tensor::zeros(&[2])];
/// let batch = strata_data::stack(&rows)?;
/// assert_eq!(batch.shape(), &[2, 2]);
/// assert_eq!(batch.to_vec::<f32>()?, vec![1.0, 1.0, 0.0, 0.0]);
/// assert!(strata_data::stack(&[Tensor::ones(&[2]), Tensor::ones(&[3])]).is_err());
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn stack(tensors: &[Tensor]) -> Result<Tensor> {
    let Some(first) = tensors.first() else {
        return Err(DataError::invalid("stack", "no tensors to stack"));
    };
    for (i, t) in tensors.iter().enumerate() {
        if t.shape() != first.shape() || t.dtype() != first.dtype() {
            return Err(DataError::Collate {
                position: i,
                detail: format!(
                    "is {} {:?} but example 0 is {} {:?}",
                    t.dtype(),
                    t.shape(),
                    first.dtype(),
                    first.shape()
                ),
            });
        }
    }
    match first.dtype() {
        DType::F32 => stack_as::<f32>(tensors),
        DType::F64 => stack_as::<f64>(tensors),
        DType::I64 => stack_as::<i64>(tensors),
        DType::Bool => stack_as::<bool>(tensors),
    }
}

fn stack_as<T: Element>(tensors: &[Tensor]) -> Result<Tensor> {
    let shape = tensors[0].shape();
    let mut out = Vec::with_capacity(tensors.len() * tensors[0].numel());
    for t in tensors {
        if t.numel() == 0 {
            continue; // nothing to copy (and strata-core calls empty tensors non-contiguous)
        }
        if t.is_contiguous() {
            out.extend_from_slice(&t.read::<T>()?);
        } else {
            out.extend(t.to_vec::<T>()?);
        }
    }
    let mut batch_shape = Vec::with_capacity(shape.len() + 1);
    batch_shape.push(tensors.len());
    batch_shape.extend_from_slice(shape);
    Ok(Tensor::from_vec(out, &batch_shape)?)
}

/// Stacks the inputs and the targets of `examples` into `(inputs [B, ...], targets [B, ...])`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{collate, Example};
/// let ex = |v: f32, y: i64| Example::new(Tensor::full(&[1, 2, 2], v as f64, strata_core::DType::F32), Tensor::scalar(y));
/// let (x, y) = collate(&[ex(0.0, 3), ex(1.0, 5)])?;
/// assert_eq!((x.shape(), y.shape()), (&[2, 1, 2, 2][..], &[2][..]));
/// assert_eq!(y.to_vec::<i64>()?, vec![3, 5]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn collate(examples: &[Example]) -> Result<(Tensor, Tensor)> {
    let inputs: Vec<Tensor> = examples.iter().map(|e| e.input.clone()).collect();
    let targets: Vec<Tensor> = examples.iter().map(|e| e.target.clone()).collect();
    let x = stack(&inputs).map_err(|e| with_part(e, "input"))?;
    let y = stack(&targets).map_err(|e| with_part(e, "target"))?;
    Ok((x, y))
}

fn with_part(e: DataError, part: &str) -> DataError {
    match e {
        DataError::Collate { position, detail } => DataError::Collate {
            position,
            detail: format!("has {part} {}", detail.trim_start_matches("is ")),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatches_name_the_example_and_part() {
        let a = Example::new(Tensor::zeros(&[1, 28, 28]), Tensor::scalar(1i64));
        let b = Example::new(Tensor::zeros(&[1, 27, 28]), Tensor::scalar(1i64));
        let e = collate(&[a.clone(), a.clone(), b]).unwrap_err().to_string();
        assert_eq!(e, "collate: example 2 of the batch has input f32 [1, 27, 28] but example 0 is f32 [1, 28, 28]");
        let c = Example::new(Tensor::zeros(&[1, 28, 28]), Tensor::scalar(1.0f32));
        let e = collate(&[a.clone(), c]).unwrap_err().to_string();
        assert_eq!(
            e,
            "collate: example 1 of the batch has target f32 [] but example 0 is i64 []"
        );
        // Strided views are gathered correctly.
        let m = Tensor::arange(0.0, 6.0, 1.0)
            .unwrap()
            .reshape(&[2, 3])
            .unwrap();
        let cols = [m.select(1, 0).unwrap(), m.select(1, 2).unwrap()];
        assert_eq!(
            stack(&cols).unwrap().to_vec::<f32>().unwrap(),
            vec![0.0, 3.0, 2.0, 5.0]
        );
        assert!(stack(&[]).is_err());
        let empty = stack(&[Tensor::zeros(&[2, 0]), Tensor::zeros(&[2, 0])]).unwrap();
        assert_eq!(empty.shape(), &[2, 2, 0]);
    }
}
