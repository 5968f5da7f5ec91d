//! Seeded random splits of a dataset into disjoint subsets.

use crate::{DataError, Dataset, Result, Subset};
use std::sync::Arc;
use strata_core::Generator;

/// Splits `dataset` into disjoint random subsets of the given `lengths` (which must add up
/// to its length), the same for the same `seed`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{random_split, Dataset, TensorDataset};
/// let ds = TensorDataset::new(Tensor::zeros(&[10, 2]), Tensor::zeros(&[10]))?;
/// let parts = random_split(ds, &[7, 2, 1], 42)?;
/// assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![7, 2, 1]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn random_split<D: Dataset>(
    dataset: D,
    lengths: &[usize],
    seed: u64,
) -> Result<Vec<Subset<D>>> {
    let n = dataset.len();
    let total = lengths
        .iter()
        .try_fold(0usize, |acc, &l| acc.checked_add(l))
        .unwrap_or(usize::MAX);
    if total != n {
        return Err(DataError::invalid(
            "random_split",
            format!("lengths {lengths:?} add up to {total}, but the dataset has {n} example(s)"),
        ));
    }
    let dataset = Arc::new(dataset);
    let order = Generator::new(seed).permutation(n);
    let mut start = 0;
    let mut parts = Vec::with_capacity(lengths.len());
    for &len in lengths {
        parts.push(Subset::new(
            dataset.clone(),
            order[start..start + len].to_vec(),
        )?);
        start += len;
    }
    Ok(parts)
}

/// Splits `dataset` into (train, validation) at random, with `round(val_fraction * len)`
/// validation examples, the same for the same `seed`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{train_val_split, Dataset, TensorDataset};
/// let ds = TensorDataset::new(Tensor::zeros(&[100, 4]), Tensor::zeros(&[100]))?;
/// let (train, val) = train_val_split(ds, 0.2, 7)?;
/// assert_eq!((train.len(), val.len()), (80, 20));
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub fn train_val_split<D: Dataset>(
    dataset: D,
    val_fraction: f64,
    seed: u64,
) -> Result<(Subset<D>, Subset<D>)> {
    if !(0.0..=1.0).contains(&val_fraction) {
        return Err(DataError::invalid(
            "train_val_split",
            format!("val_fraction {val_fraction} is not in [0, 1]"),
        ));
    }
    let n = dataset.len();
    let n_val = ((n as f64) * val_fraction).round() as usize;
    let mut parts = random_split(dataset, &[n - n_val.min(n), n_val.min(n)], seed)?.into_iter();
    match (parts.next(), parts.next()) {
        (Some(train), Some(val)) => Ok((train, val)),
        _ => Err(DataError::invalid(
            "train_val_split",
            "internal: expected two parts",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TensorDataset;
    use strata_core::Tensor;

    fn numbers(n: usize) -> TensorDataset {
        let x = Tensor::arange(0.0, n as f64, 1.0).unwrap();
        TensorDataset::new(x.clone(), x).unwrap()
    }

    #[test]
    fn parts_are_disjoint_cover_everything_and_depend_on_seed() {
        let parts = random_split(numbers(50), &[30, 15, 5], 1).unwrap();
        let mut all: Vec<usize> = parts.iter().flat_map(|p| p.indices().to_vec()).collect();
        all.sort();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        let again = random_split(numbers(50), &[30, 15, 5], 1).unwrap();
        assert_eq!(parts[0].indices(), again[0].indices());
        let other = random_split(numbers(50), &[30, 15, 5], 2).unwrap();
        assert_ne!(parts[0].indices(), other[0].indices());
        assert!(random_split(numbers(50), &[30, 15], 1).is_err());
        assert!(random_split(numbers(5), &[usize::MAX, 6], 1).is_err());
        assert!(train_val_split(numbers(5), 1.5, 0).is_err());
        let (t, v) = train_val_split(numbers(5), 1.0, 0).unwrap();
        assert_eq!((t.len(), v.len()), (0, 5));
    }
}
