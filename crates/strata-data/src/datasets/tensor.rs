//! [`TensorDataset`]: examples are the rows of an input tensor and a target tensor.

use crate::{check_index, DataError, Dataset, Example, Result};
use strata_core::Tensor;

/// An in-memory dataset: example `i` is row `i` of `inputs` and of `targets` (views that
/// share storage, no copy).
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{Dataset, TensorDataset};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
/// let y = Tensor::from_vec(vec![0i64, 1, 0], &[3])?;
/// let ds = TensorDataset::new(x, y)?;
/// assert_eq!(ds.len(), 3);
/// let ex = ds.get(1)?;
/// assert_eq!(ex.input.to_vec::<f32>()?, vec![3.0, 4.0]);
/// assert_eq!(ex.target.item()?, 1.0);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TensorDataset {
    inputs: Tensor,
    targets: Tensor,
}

impl TensorDataset {
    /// Pairs `inputs` `[N, ...]` with `targets` `[N, ...]` (the first dimensions must agree).
    pub fn new(inputs: Tensor, targets: Tensor) -> Result<Self> {
        let (Some(&n), Some(&m)) = (inputs.shape().first(), targets.shape().first()) else {
            return Err(DataError::invalid(
                "TensorDataset::new",
                format!(
                    "inputs {:?} and targets {:?} need a first (example) dimension",
                    inputs.shape(),
                    targets.shape()
                ),
            ));
        };
        if n != m {
            return Err(DataError::invalid(
                "TensorDataset::new",
                format!(
                    "{n} input(s) {:?} but {m} target(s) {:?}",
                    inputs.shape(),
                    targets.shape()
                ),
            ));
        }
        Ok(TensorDataset {
            inputs: inputs.detach(),
            targets: targets.detach(),
        })
    }

    /// All inputs, `[N, ...]`.
    pub fn inputs(&self) -> &Tensor {
        &self.inputs
    }

    /// All targets, `[N, ...]`.
    pub fn targets(&self) -> &Tensor {
        &self.targets
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.inputs.shape()[0]
    }

    fn get(&self, index: usize) -> Result<Example> {
        check_index(index, self.len())?;
        Ok(Example::new(
            self.inputs.select(0, index)?,
            self.targets.select(0, index)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_views_and_bad_shapes_are_errors() {
        let x = Tensor::arange(0.0, 12.0, 1.0)
            .unwrap()
            .reshape(&[4, 3])
            .unwrap();
        let y = Tensor::arange(0.0, 4.0, 1.0).unwrap();
        let ds = TensorDataset::new(x.clone(), y).unwrap();
        let ex = ds.get(3).unwrap();
        assert!(ex.input.shares_storage_with(ds.inputs()));
        assert_eq!(ex.input.to_vec::<f32>().unwrap(), vec![9.0, 10.0, 11.0]);
        assert_eq!(ex.target.shape(), &[] as &[usize]);
        assert!(matches!(
            ds.get(4),
            Err(DataError::Index { index: 4, len: 4 })
        ));
        assert!(TensorDataset::new(x.clone(), Tensor::zeros(&[3])).is_err());
        assert!(TensorDataset::new(Tensor::scalar(1.0f32), Tensor::zeros(&[1])).is_err());
    }
}
