//! [`Subset`]: a chosen list of examples of another dataset.

use crate::{check_index, DataError, Dataset, Example, Result};
use std::ops::Range;
use std::sync::Arc;
use strata_core::Generator;

/// The examples of a shared dataset at the given indices, in that order.
///
/// The dataset sits behind an `Arc` so that several subsets (a train/validation split) share
/// it without copying.
///
/// ```
/// use std::sync::Arc;
/// use strata_core::Tensor;
/// use strata_data::{Dataset, Subset, TensorDataset};
/// let ds = Arc::new(TensorDataset::new(Tensor::arange(0.0, 10.0, 1.0)?, Tensor::zeros(&[10]))?);
/// let first = Subset::range(ds.clone(), 0..3)?;
/// let picked = Subset::new(ds, vec![9, 5])?;
/// assert_eq!(first.len(), 3);
/// assert_eq!(picked.get(1)?.input.item()?, 5.0);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Debug)]
pub struct Subset<D> {
    dataset: Arc<D>,
    indices: Vec<usize>,
}

impl<D> Clone for Subset<D> {
    fn clone(&self) -> Self {
        Subset {
            dataset: self.dataset.clone(),
            indices: self.indices.clone(),
        }
    }
}

impl<D: Dataset> Subset<D> {
    /// The examples of `dataset` at `indices` (each must be in range; repeats are allowed).
    pub fn new(dataset: Arc<D>, indices: Vec<usize>) -> Result<Self> {
        let len = dataset.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(DataError::invalid(
                "Subset::new",
                format!("index {bad} is out of range for a dataset of {len} example(s)"),
            ));
        }
        Ok(Subset { dataset, indices })
    }

    /// The contiguous slice `range` of `dataset`.
    pub fn range(dataset: Arc<D>, range: Range<usize>) -> Result<Self> {
        let len = dataset.len();
        if range.start > range.end || range.end > len {
            return Err(DataError::invalid(
                "Subset::range",
                format!("range {range:?} does not fit a dataset of {len} example(s)"),
            ));
        }
        Ok(Subset {
            dataset,
            indices: range.collect(),
        })
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &Arc<D> {
        &self.dataset
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Example> {
        check_index(index, self.len())?;
        self.dataset.get(self.indices[index])
    }

    fn get_augmented(&self, index: usize, rng: &mut Generator) -> Result<Example> {
        check_index(index, self.len())?;
        self.dataset.get_augmented(self.indices[index], rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TensorDataset;
    use strata_core::Tensor;

    #[test]
    fn maps_indices_and_rejects_bad_ones() {
        let ds = Arc::new(
            TensorDataset::new(Tensor::arange(0.0, 5.0, 1.0).unwrap(), Tensor::zeros(&[5]))
                .unwrap(),
        );
        let s = Subset::range(ds.clone(), 2..5).unwrap();
        let got: Vec<f64> = (0..3)
            .map(|i| s.get(i).unwrap().input.item().unwrap())
            .collect();
        assert_eq!(got, vec![2.0, 3.0, 4.0]);
        assert!(s.get(3).is_err());
        assert!(Subset::range(ds.clone(), 3..6).is_err());
        assert!(Subset::new(ds, vec![0, 5]).is_err());
    }
}
