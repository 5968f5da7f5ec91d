//! [`Concat`]: several datasets one after another.

use crate::{check_index, Dataset, Example, Result};
use strata_core::Generator;

/// Several datasets of the same type, one after another. (For datasets of different types,
/// concatenate `Box<dyn Dataset>`s.)
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{Concat, Dataset, TensorDataset};
/// let parts = vec![
///     TensorDataset::new(Tensor::zeros(&[2, 3]), Tensor::zeros(&[2]))?,
///     TensorDataset::new(Tensor::ones(&[4, 3]), Tensor::ones(&[4]))?,
/// ];
/// let all = Concat::new(parts);
/// assert_eq!(all.len(), 6);
/// assert_eq!(all.get(1)?.target.item()?, 0.0);
/// assert_eq!(all.get(2)?.target.item()?, 1.0);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Concat<D> {
    parts: Vec<D>,
    /// `ends[k]` is the number of examples in parts `0..=k`.
    ends: Vec<usize>,
}

impl<D: Dataset> Concat<D> {
    /// Concatenates `parts` in order.
    pub fn new(parts: Vec<D>) -> Self {
        let mut total = 0;
        let ends = parts
            .iter()
            .map(|p| {
                total += p.len();
                total
            })
            .collect();
        Concat { parts, ends }
    }

    /// The concatenated datasets.
    pub fn parts(&self) -> &[D] {
        &self.parts
    }

    /// Which part holds `index`, and the index within it.
    fn locate(&self, index: usize) -> Result<(usize, usize)> {
        check_index(index, self.len())?;
        let part = self.ends.partition_point(|&end| end <= index);
        let start = if part == 0 { 0 } else { self.ends[part - 1] };
        Ok((part, index - start))
    }
}

impl<D: Dataset> Dataset for Concat<D> {
    fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    fn get(&self, index: usize) -> Result<Example> {
        let (part, i) = self.locate(index)?;
        self.parts[part].get(i)
    }

    fn get_augmented(&self, index: usize, rng: &mut Generator) -> Result<Example> {
        let (part, i) = self.locate(index)?;
        self.parts[part].get_augmented(i, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TensorDataset;
    use strata_core::Tensor;

    fn range(a: f64, b: f64) -> TensorDataset {
        let x = Tensor::arange(a, b, 1.0).unwrap();
        TensorDataset::new(x.clone(), x).unwrap()
    }

    #[test]
    fn walks_parts_in_order_including_empty_ones() {
        let c = Concat::new(vec![range(0.0, 2.0), range(2.0, 2.0), range(2.0, 5.0)]);
        assert_eq!(c.len(), 5);
        let got: Vec<f64> = (0..5)
            .map(|i| c.get(i).unwrap().input.item().unwrap())
            .collect();
        assert_eq!(got, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert!(c.get(5).is_err());
        assert!(Concat::<TensorDataset>::new(vec![]).get(0).is_err());
    }
}
