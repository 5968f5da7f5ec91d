//! Where the trainer's batches come from: any [`DataLoader`] (or anything else that
//! yields [`Batch`]es epoch by epoch), and a seeded validation split of a loader.

use crate::{Result, TrainError};
use strata_data::{train_val_split, Batch, DataLoader, Dataset, Subset};

/// A source of batches, epoch by epoch. Implemented for every [`DataLoader`].
pub trait Batches {
    /// Batches per epoch.
    fn num_batches(&self) -> usize;
    /// Examples per epoch.
    fn num_examples(&self) -> usize;
    /// The batches of epoch `epoch` (from 0), in order.
    fn batches(&self, epoch: u64) -> Box<dyn Iterator<Item = strata_data::Result<Batch>> + '_>;
}

impl<D: Dataset + 'static> Batches for DataLoader<D> {
    fn num_batches(&self) -> usize {
        self.len()
    }
    fn num_examples(&self) -> usize {
        self.dataset().len()
    }
    fn batches(&self, epoch: u64) -> Box<dyn Iterator<Item = strata_data::Result<Batch>> + '_> {
        Box::new(self.epoch(epoch))
    }
}

/// A loader over part of another loader's dataset (see [`validation_split`]).
pub type SplitLoader<D> = DataLoader<Subset<std::sync::Arc<D>>>;

/// The loader's dataset split into a training part and a validation part of
/// `val_fraction` of its examples, chosen by `seed`; the training loader keeps every
/// setting of `loader`, the validation loader its batch size, in order.
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{DataLoader, TensorDataset};
/// use strata_train::{validation_split, Batches};
/// let ds = TensorDataset::new(Tensor::zeros(&[100, 3]), Tensor::zeros(&[100]))?;
/// let loader = DataLoader::new(ds).batch_size(16).shuffle(1);
/// let (train, val) = validation_split(&loader, 0.2, 7)?;
/// assert_eq!((train.num_examples(), val.num_examples()), (80, 20));
/// # Ok::<(), strata_train::TrainError>(())
/// ```
pub fn validation_split<D: Dataset + 'static>(
    loader: &DataLoader<D>,
    val_fraction: f64,
    seed: u64,
) -> Result<(SplitLoader<D>, SplitLoader<D>)> {
    if !(val_fraction > 0.0 && val_fraction < 1.0) {
        return Err(TrainError::config(
            "validation_split",
            format!(
                "the validation fraction must be between 0 and 1 (exclusive), got {val_fraction}"
            ),
        ));
    }
    let (train, val) = train_val_split(loader.dataset().clone(), val_fraction, seed)?;
    let val_loader = DataLoader::new(val).batch_size(loader.get_batch_size());
    Ok((loader.with_dataset(train), val_loader))
}
